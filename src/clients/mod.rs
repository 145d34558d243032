//! Model clients: the [`ModelClient`] trait every provider implements (over the canonical
//! [`ChatRequest`] and [`ChatResponse`]), and [`Clients`], which picks the client for a model.
//!
//! The trait is async and object-safe, so a runner holds `Arc<dyn ModelClient>` values and
//! does not care which provider is behind each: [`ProviderClient`] over HTTP, or the offline
//! [`mock`].
//!
//! The HTTP side (docs/providers.md): the canonical chat shape ([`chat`]), translation to and
//! from the OpenAI ([`openai`]) and Anthropic ([`anthropic`]) wire formats, [`ProviderClient`]
//! with its key, timeouts and retries ([`http`], [`retry`]), streams ([`stream`]) and
//! fallbacks over a tier's models ([`fallback`]).

pub mod anthropic;
pub mod chat;
pub mod error;
pub mod fallback;
pub mod http;
mod json;
pub mod mock;
pub mod openai;
pub mod retry;
pub mod stream;

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

pub use chat::{
    ChatEvent, ChatMessage, ChatRequest, ChatResponse, ChatRole, ExtraFields, Part, Reasoning,
    ResponseBuilder, StopReason, TokenUsage, ToolChoice, ToolDefinition, WireFormat,
};
pub use error::CallError;
pub use fallback::{chat_stream_with_fallbacks, chat_with_fallbacks, Answered, FallbackError};
pub use http::{Endpoint, ProviderClient};
pub use mock::{MockClient, MockReply, MockUsage};
pub use retry::RetryPolicy;
pub use stream::ChatStream;

use crate::policy::Model;

/// What the caller knows of a call's size besides its messages. Never sent to a provider:
/// the offline mock bills these sizes ([`MockUsage::Simulated`]), to stand in for a call of
/// that size.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SizeHints {
    /// The input size (the step's token count). The runner fills it in.
    pub input_tokens: Option<u64>,
    /// The output size expected (a step's `expected_output_tokens`); the mock bills it, at
    /// most the request's output limit.
    pub output_tokens: Option<u64>,
}

impl SizeHints {
    /// Hints with this expected output size.
    pub fn output_tokens(n: u64) -> SizeHints {
        SizeHints {
            output_tokens: Some(n),
            ..SizeHints::default()
        }
    }
}

/// Why a call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClientError {
    /// The request never got an answer: connection, DNS, TLS, timeout.
    #[error("could not reach the provider: {0}")]
    Transport(String),
    /// The provider answered with an error.
    #[error("the provider refused the call (status {status}): {message}")]
    Provider {
        /// HTTP status, or 0 when there is none.
        status: u16,
        /// The provider's message.
        message: String,
    },
    /// The provider's answer could not be understood.
    #[error("the provider's answer could not be read: {0}")]
    InvalidResponse(String),
}

impl ClientError {
    /// Whether another try (or another model) may succeed: a transport failure, or HTTP
    /// 408, 409, 429 and 5xx other than 501 (clients.md).
    pub fn is_retryable(&self) -> bool {
        match self {
            ClientError::Transport(_) => true,
            ClientError::Provider { status, .. } => error::is_retryable_status(*status),
            ClientError::InvalidResponse(_) => false,
        }
    }
}

/// The future a client returns: boxed, so the trait stays object-safe.
pub type Completion<'a> =
    Pin<Box<dyn Future<Output = Result<ChatResponse, ClientError>> + Send + 'a>>;

/// A model provider: sends one canonical request and returns the canonical answer (text,
/// tool calls, stop reason, the provider's usage).
///
/// Object-safe and `Send + Sync`: runners share clients as `Arc<dyn ModelClient>` across
/// tasks and threads. One client may serve several models of the same provider; the
/// request names the model.
pub trait ModelClient: Send + Sync + fmt::Debug {
    /// Sends the request. `hints` are the call's known sizes, for the offline mock only.
    fn complete<'a>(&'a self, request: &'a ChatRequest, hints: SizeHints) -> Completion<'a>;
}

/// Which client serves each model: one per model key, and a fallback for every other model.
#[derive(Debug, Clone, Default)]
pub struct Clients {
    by_model: HashMap<String, Arc<dyn ModelClient>>,
    fallback: Option<Arc<dyn ModelClient>>,
}

impl Clients {
    /// No clients: every call fails with "no client" until some are added.
    pub fn new() -> Clients {
        Clients::default()
    }

    /// One client for every model (e.g. the mock, for offline runs).
    pub fn all(client: Arc<dyn ModelClient>) -> Clients {
        Clients {
            by_model: HashMap::new(),
            fallback: Some(client),
        }
    }

    /// Serves the model with this key (in `[models]`) with `client`.
    pub fn with(mut self, model_key: impl Into<String>, client: Arc<dyn ModelClient>) -> Clients {
        self.by_model.insert(model_key.into(), client);
        self
    }

    /// Serves every model without its own client with `client`.
    pub fn with_fallback(mut self, client: Arc<dyn ModelClient>) -> Clients {
        self.fallback = Some(client);
        self
    }

    /// The client for a model.
    pub fn get(&self, model: &Model) -> Option<&Arc<dyn ModelClient>> {
        self.by_model.get(&model.key).or(self.fallback.as_ref())
    }

    /// Live clients for every model of every policy in `set`: each `openai` or `anthropic`
    /// model gets a [`ProviderClient`] with its base URL, key variable, `max_retries` and
    /// `timeout_seconds`; `mock` models are served by the offline mock.
    pub fn live(set: &crate::PolicySet) -> Result<Clients, CallError> {
        let mut clients = Clients::all(Arc::new(MockClient::new()));
        for cp in set.policies() {
            for model in &cp.policy.models {
                if let Some(client) = Clients::for_model(model)? {
                    clients = clients.with(model.key.clone(), Arc::new(client));
                }
            }
        }
        Ok(clients)
    }

    /// The HTTP client for one policy model, ready to call; `None` for a `mock` model.
    pub fn for_model(model: &Model) -> Result<Option<ProviderClient>, CallError> {
        Endpoint::from_model(model)
            .map(ProviderClient::new)
            .transpose()
    }

    /// The HTTP client for the model a decision chose, ready to call; `None` when that
    /// model is a `mock`.
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
    /// use switchyard::clients::{ChatMessage, ChatRequest, Clients};
    /// use switchyard::{Router, Step};
    ///
    /// let router = Router::load("policies/")?;
    /// let decision = router.route(&Step::new("plan").prompt("Plan the trip."))?;
    /// if let Some(client) = Clients::for_decision(&decision)? {
    ///     let request = ChatRequest {
    ///         model: decision.model().model_id.clone(),
    ///         ..ChatRequest::new(vec![ChatMessage::user("Plan the trip.")])
    ///     };
    ///     let answer = client.chat(&request).await?;
    ///     println!("{:?} {:?}", answer.content, answer.usage);
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub fn for_decision(
        decision: &crate::Decision<'_>,
    ) -> Result<Option<ProviderClient>, CallError> {
        Clients::for_model(decision.model())
    }
}
