//! The mock provider: offline and deterministic, with a configurable reply, latency and
//! usage. Examples, tests and `switchyard run` use it, so everything works without a network
//! or a key.

use std::time::Duration;

use super::chat::{ChatRequest, ChatResponse, Part, StopReason, TokenUsage, ToolChoice};
use super::{ClientError, Completion, ModelClient, SizeHints};

/// What the mock replies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MockReply {
    /// Always this text.
    Text(String),
    /// The last message's text, unchanged.
    Echo,
    /// Always this error (to test failure paths).
    Fail(ClientError),
}

/// What usage the mock reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MockUsage {
    /// None: the runner counts the tokens itself, as with a provider that reports nothing.
    Unreported,
    /// Always these counts.
    Fixed(TokenUsage),
    /// The bill of a call of the request's size: input = the hinted input size (or the
    /// request's text's characters / 4); output = the hinted output size (at most the
    /// request's `max_output_tokens`), else its `max_output_tokens`, as if the model wrote up
    /// to its limit, else the reply's characters / 4.
    Simulated,
}

/// An offline model client. `MockClient::default()` replies `"ok"` at once and reports
/// [`MockUsage::Simulated`] usage.
///
/// ```
/// use std::time::Duration;
/// use switchyard::clients::{MockClient, MockUsage, TokenUsage};
/// let mock = MockClient::new()
///     .reply("{\"answer\": 42}")
///     .latency(Duration::from_millis(5))
///     .usage(MockUsage::Fixed(TokenUsage { input_tokens: 100, output_tokens: 7, ..TokenUsage::default() }));
/// # let _ = mock;
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MockClient {
    reply: MockReply,
    latency: Duration,
    usage: MockUsage,
}

impl Default for MockClient {
    fn default() -> MockClient {
        MockClient {
            reply: MockReply::Text("ok".into()),
            latency: Duration::ZERO,
            usage: MockUsage::Simulated,
        }
    }
}

impl MockClient {
    /// The default mock.
    pub fn new() -> MockClient {
        MockClient::default()
    }

    /// Replies with this text.
    pub fn reply(mut self, text: impl Into<String>) -> MockClient {
        self.reply = MockReply::Text(text.into());
        self
    }

    /// Sets what it replies.
    pub fn replying(mut self, reply: MockReply) -> MockClient {
        self.reply = reply;
        self
    }

    /// Waits this long before replying (on the tokio timer; zero answers at once).
    pub fn latency(mut self, latency: Duration) -> MockClient {
        self.latency = latency;
        self
    }

    /// Sets the usage it reports.
    pub fn usage(mut self, usage: MockUsage) -> MockClient {
        self.usage = usage;
        self
    }

    fn answer(&self, request: &ChatRequest, hints: SizeHints) -> Result<ChatResponse, ClientError> {
        let text = match &self.reply {
            MockReply::Text(t) => t.clone(),
            MockReply::Echo => request
                .messages
                .last()
                .map(|m| text_of(&m.content))
                .unwrap_or_default(),
            MockReply::Fail(e) => return Err(e.clone()),
        };
        let usage = match self.usage {
            MockUsage::Unreported => None,
            MockUsage::Fixed(u) => Some(u),
            MockUsage::Simulated => Some(TokenUsage {
                input_tokens: hints.input_tokens.unwrap_or_else(|| {
                    let system = request.system.as_deref().map_or(0, |s| s.chars().count());
                    let messages: usize = request
                        .messages
                        .iter()
                        .map(|m| text_of(&m.content).chars().count())
                        .sum();
                    quarter(system + messages)
                }),
                output_tokens: match (hints.output_tokens, request.max_output_tokens) {
                    (Some(hint), Some(limit)) => hint.min(limit),
                    (Some(n), None) | (None, Some(n)) => n,
                    (None, None) => quarter(text.chars().count()),
                },
                ..TokenUsage::default()
            }),
        };
        let (content, stop) = match mock_tool_call(request) {
            Some(call) => (vec![call], StopReason::ToolUse),
            None => (vec![Part::text(text)], StopReason::EndTurn),
        };
        Ok(ChatResponse {
            id: "mock".into(),
            model: request.model.clone(),
            content,
            stop_reason: Some(stop),
            usage,
        })
    }
}

/// The tool call the offline mock answers with, so that an agent's tool loop can be tried
/// offline: when the request offers tools, its last message is not a tool result, and its
/// tool choice is not `none`, a call of the tool it names (`tool_choice`), else of the first
/// tool, with `{}` as arguments. `None` otherwise: the mock answers with text.
pub fn mock_tool_call(request: &ChatRequest) -> Option<Part> {
    let first = request.tools.first()?;
    let answered = request.messages.last().is_some_and(|m| {
        m.content
            .iter()
            .any(|p| matches!(p, Part::ToolResult { .. }))
    });
    let name = match &request.tool_choice {
        Some(ToolChoice::None) => return None,
        Some(ToolChoice::Tool(name)) => name.clone(),
        _ => first.name.clone(),
    };
    if answered {
        return None;
    }
    Some(Part::ToolCall {
        id: format!("call_mock_{}", request.messages.len()),
        name,
        arguments: "{}".into(),
    })
}

/// The text parts of a message, joined.
fn text_of(parts: &[Part]) -> String {
    parts
        .iter()
        .filter_map(|p| match p {
            Part::Text { text } => Some(text.as_str()),
            _ => None,
        })
        .collect()
}

/// Characters / 4, rounded up: a rough token count for simulated usage.
fn quarter(chars: usize) -> u64 {
    (chars as u64).div_ceil(4)
}

impl ModelClient for MockClient {
    fn complete<'a>(&'a self, request: &'a ChatRequest, hints: SizeHints) -> Completion<'a> {
        Box::pin(async move {
            // No timer at zero latency, so the mock works outside a tokio runtime too.
            if !self.latency.is_zero() {
                tokio::time::sleep(self.latency).await;
            }
            self.answer(request, hints)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clients::chat::{ChatMessage, ToolDefinition};

    fn tool(name: &str) -> ToolDefinition {
        ToolDefinition {
            name: name.into(),
            description: None,
            parameters: serde_json::json!({"type": "object"}),
        }
    }

    #[test]
    fn offered_tools_get_a_call_until_a_result_comes_back() {
        let mut request = ChatRequest::new(vec![ChatMessage::user("Weather?")]);
        assert_eq!(mock_tool_call(&request), None, "no tools, no call");
        request.tools = vec![tool("get_weather"), tool("other")];
        let Some(Part::ToolCall {
            name, arguments, ..
        }) = mock_tool_call(&request)
        else {
            panic!("a call of the first tool")
        };
        assert_eq!((name.as_str(), arguments.as_str()), ("get_weather", "{}"));
        request.tool_choice = Some(ToolChoice::Tool("other".into()));
        assert!(matches!(
            mock_tool_call(&request),
            Some(Part::ToolCall { name, .. }) if name == "other"
        ));
        request.tool_choice = Some(ToolChoice::None);
        assert_eq!(mock_tool_call(&request), None);
        request.tool_choice = None;
        request
            .messages
            .push(ChatMessage::tool_result("call_mock_1", "sunny"));
        assert_eq!(
            mock_tool_call(&request),
            None,
            "the result is answered in text"
        );
        let answer = MockClient::new()
            .answer(&request, SizeHints::default())
            .unwrap();
        assert_eq!(answer.text(), "ok");
    }
}
