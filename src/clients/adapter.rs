//! The provider clients behind the runner's [`ModelClient`] trait: a [`ProviderClient`]
//! takes the runner's request, sends it in its provider's wire format (with the model's
//! retries and timeout), and hands back the reply's text with the provider's own usage,
//! cached and cache-write tokens included.

use super::chat::{ChatMessage, ChatRequest, ChatResponse, Part};
use super::error::CallError;
use super::http::ProviderClient;
use super::{ClientError, Completion, ModelClient, ModelRequest, ModelResponse, Role, Usage};

/// The canonical request for a runner request: system messages become the system text (in
/// order, blank-line separated), the rest the conversation.
pub fn chat_request(request: &ModelRequest) -> ChatRequest {
    let system: Vec<&str> = request
        .messages
        .iter()
        .filter(|m| m.role == Role::System)
        .map(|m| m.content.as_str())
        .collect();
    let messages = request
        .messages
        .iter()
        .filter_map(|m| match m.role {
            Role::System => None,
            Role::User => Some(ChatMessage::user(m.content.clone())),
            Role::Assistant => Some(ChatMessage::assistant(m.content.clone())),
        })
        .collect();
    ChatRequest {
        model: request.model.clone(),
        system: (!system.is_empty()).then(|| system.join("\n\n")),
        messages,
        max_output_tokens: request.max_output_tokens,
        json_output: request.json_mode,
        ..ChatRequest::default()
    }
}

/// The runner's response for a canonical one: its text parts joined, its usage as reported.
pub fn model_response(response: ChatResponse) -> ModelResponse {
    let text = response
        .content
        .iter()
        .filter_map(|p| match p {
            Part::Text { text } => Some(text.as_str()),
            _ => None,
        })
        .collect();
    ModelResponse {
        text,
        usage: response.usage.map(|u| Usage {
            input_tokens: u.input_tokens,
            output_tokens: u.output_tokens,
            cached_input_tokens: u.cached_input_tokens,
            cache_write_tokens: u.cache_write_tokens,
        }),
    }
}

impl From<CallError> for ClientError {
    fn from(e: CallError) -> ClientError {
        match e {
            // Transport's own message already says the provider could not be reached.
            CallError::Connect(m) => ClientError::Transport(m),
            CallError::Timeout(_) => ClientError::Transport(e.to_string()),
            CallError::Status {
                status, message, ..
            } => ClientError::Provider { status, message },
            CallError::InvalidResponse(_) | CallError::StreamCut(_) => {
                ClientError::InvalidResponse(e.to_string())
            }
            // Refused before anything was sent: no status, the reason in the message.
            CallError::MissingApiKey { .. }
            | CallError::UnsupportedParameter { .. }
            | CallError::InvalidRequest(_) => ClientError::Provider {
                status: 0,
                message: format!("{} ({})", e, e.kind()),
            },
        }
    }
}

impl ModelClient for ProviderClient {
    fn complete<'a>(&'a self, request: &'a ModelRequest) -> Completion<'a> {
        Box::pin(async move {
            let chat = chat_request(request);
            self.chat(&chat)
                .await
                .map(model_response)
                .map_err(ClientError::from)
        })
    }
}
