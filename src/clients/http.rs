//! The HTTP side of the provider clients: one shared `reqwest` client (rustls, HTTP/2,
//! connection pooling), a model's [`Endpoint`], and [`ProviderClient`], which sends a
//! canonical request in its provider's wire format with the key, timeout and retries of
//! clients.md.

use std::sync::OnceLock;
use std::time::Duration;

use bytes::Bytes;
use reqwest::header::{HeaderValue, CONTENT_TYPE};
use serde_json::Value;

use super::anthropic;
use super::chat::{ChatRequest, ChatResponse, WireFormat};
use super::error::CallError;
use super::openai;
use super::retry::{self, RetryPolicy};
use super::stream::{ChatStream, Decoder};
use crate::policy::{Model, Provider};

/// The connect timeout of every call (clients.md).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A model's whole-call limit when it sets no `timeout_seconds`.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(600);

/// The public OpenAI endpoint, as the official SDK's `base_url`.
pub const OPENAI_BASE_URL: &str = "https://api.openai.com/v1";

/// The public Anthropic endpoint, as the official SDK's `base_url`.
pub const ANTHROPIC_BASE_URL: &str = "https://api.anthropic.com";

/// An error body longer than this is cut in error messages.
const MAX_ERROR_BODY: usize = 2000;

/// The one `reqwest` client every provider call shares, so that connections (and their TLS
/// and HTTP/2 sessions) are pooled across models and calls.
pub fn shared_http() -> Result<reqwest::Client, CallError> {
    static CLIENT: OnceLock<Result<reqwest::Client, String>> = OnceLock::new();
    CLIENT
        .get_or_init(|| {
            reqwest::Client::builder()
                .connect_timeout(CONNECT_TIMEOUT)
                .pool_idle_timeout(Duration::from_secs(90))
                // Requests go out as headers then body; without it each waits on a delayed ACK.
                .tcp_nodelay(true)
                .user_agent(concat!("switchyard/", env!("CARGO_PKG_VERSION")))
                .build()
                .map_err(|e| error_chain(&e))
        })
        .clone()
        .map_err(|e| CallError::Connect(format!("the HTTP client could not start: {e}")))
}

/// Where and how one model is called: what a policy's `[models.*]` entry says about it.
///
/// Holds the name of the key's environment variable, never the key: the key is read at
/// each call and never kept, logged or shown by `Debug`.
#[derive(Debug, Clone, PartialEq)]
pub struct Endpoint {
    /// The model's key in `[models]`.
    pub key: String,
    /// Its wire format.
    pub format: WireFormat,
    /// The provider's name for the model, sent as `model`.
    pub model_id: String,
    /// The base URL as the provider's SDK takes it; `None` is the provider's public one.
    pub base_url: Option<String>,
    /// The environment variable holding the key; `None` sends no key (local servers).
    pub api_key_env: Option<String>,
    /// The model's `max_output_tokens` (Anthropic's `max_tokens` when the request has none).
    pub max_output_tokens: Option<u64>,
    /// Capabilities guards can require, for fallbacks.
    pub capabilities: Vec<String>,
    /// The whole call's limit, body included (`timeout_seconds`).
    pub timeout: Duration,
    /// Retries and waits.
    pub retry: RetryPolicy,
}

impl Endpoint {
    /// A model of `format` named `model_id`, with every other setting at its default.
    pub fn new(
        key: impl Into<String>,
        format: WireFormat,
        model_id: impl Into<String>,
    ) -> Endpoint {
        Endpoint {
            key: key.into(),
            format,
            model_id: model_id.into(),
            base_url: None,
            api_key_env: None,
            max_output_tokens: None,
            capabilities: Vec::new(),
            timeout: DEFAULT_TIMEOUT,
            retry: RetryPolicy::default(),
        }
    }

    /// The endpoint of a policy's model; `None` for the offline mock, which has none.
    pub fn from_model(model: &Model) -> Option<Endpoint> {
        let format = match model.provider {
            Provider::OpenAi => WireFormat::Openai,
            Provider::Anthropic => WireFormat::Anthropic,
            Provider::Mock => return None,
        };
        Some(Endpoint {
            base_url: model.base_url.clone(),
            api_key_env: model.api_key_env.clone(),
            max_output_tokens: model.max_output_tokens,
            capabilities: model.capabilities.clone(),
            timeout: model
                .timeout_seconds
                .and_then(|s| Duration::try_from_secs_f64(s).ok())
                .unwrap_or(DEFAULT_TIMEOUT),
            retry: RetryPolicy {
                max_retries: model
                    .max_retries
                    .unwrap_or(RetryPolicy::default().max_retries),
                ..RetryPolicy::default()
            },
            ..Endpoint::new(model.key.clone(), format, model.model_id.clone())
        })
    }

    /// Sets the base URL.
    pub fn base_url(mut self, url: impl Into<String>) -> Endpoint {
        self.base_url = Some(url.into());
        self
    }

    /// Sets the key's environment variable.
    pub fn api_key_env(mut self, var: impl Into<String>) -> Endpoint {
        self.api_key_env = Some(var.into());
        self
    }

    /// Sets the whole-call limit.
    pub fn timeout(mut self, timeout: Duration) -> Endpoint {
        self.timeout = timeout;
        self
    }

    /// Sets retries and waits.
    pub fn retry(mut self, retry: RetryPolicy) -> Endpoint {
        self.retry = retry;
        self
    }

    /// Sets the capabilities.
    pub fn capabilities(mut self, capabilities: &[&str]) -> Endpoint {
        self.capabilities = capabilities.iter().map(|c| (*c).to_owned()).collect();
        self
    }

    /// Whether the model has every capability in `required`.
    pub fn has_all(&self, required: &[String]) -> bool {
        required.iter().all(|r| self.capabilities.contains(r))
    }

    /// The URL a call goes to: the base URL (a trailing `/` ignored) plus
    /// `/chat/completions` (OpenAI) or `/v1/messages` (Anthropic), as the official SDKs do.
    pub fn url(&self) -> String {
        let (default, path) = match self.format {
            WireFormat::Openai => (OPENAI_BASE_URL, "/chat/completions"),
            WireFormat::Anthropic => (ANTHROPIC_BASE_URL, "/v1/messages"),
        };
        let base = self.base_url.as_deref().unwrap_or(default);
        format!("{}{path}", base.trim_end_matches('/'))
    }

    /// The key from the environment, or `missing_api_key` naming the variable.
    fn api_key(&self) -> Result<Option<HeaderValue>, CallError> {
        let Some(var) = &self.api_key_env else {
            return Ok(None);
        };
        let missing = || CallError::MissingApiKey { var: var.clone() };
        let key = std::env::var(var).map_err(|_| missing())?;
        if key.trim().is_empty() {
            return Err(missing());
        }
        let value = match self.format {
            WireFormat::Openai => format!("Bearer {key}"),
            WireFormat::Anthropic => key,
        };
        // The key is not echoed: a bad byte in it would otherwise surface in an error message.
        let mut header = HeaderValue::from_str(&value).map_err(|_| {
            CallError::InvalidRequest(format!("the key in {var} is not a valid header value"))
        })?;
        header.set_sensitive(true);
        Ok(Some(header))
    }
}

/// A provider client for one model: translates canonical requests to its wire format,
/// sends them with the key, timeout and retries of its [`Endpoint`], and translates the
/// answers back, plain or streamed.
#[derive(Debug, Clone)]
pub struct ProviderClient {
    endpoint: Endpoint,
    url: String,
    http: reqwest::Client,
}

impl ProviderClient {
    /// A client on the shared HTTP client.
    pub fn new(endpoint: Endpoint) -> Result<ProviderClient, CallError> {
        Ok(ProviderClient::with_http(endpoint, shared_http()?))
    }

    /// A client on this HTTP client.
    pub fn with_http(endpoint: Endpoint, http: reqwest::Client) -> ProviderClient {
        ProviderClient {
            url: endpoint.url(),
            endpoint,
            http,
        }
    }

    /// The model this client calls.
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// The request body this client sends for `request`: its wire format, with the model's
    /// `model_id` as `model` (whatever `request.model` says, so a fallback sends its own).
    pub fn wire_body(&self, request: &ChatRequest, stream: bool) -> Result<Value, CallError> {
        let model = &self.endpoint.model_id;
        match self.endpoint.format {
            WireFormat::Openai => openai::request_to_wire(request, model, stream),
            WireFormat::Anthropic => {
                anthropic::request_to_wire(request, model, stream, self.endpoint.max_output_tokens)
            }
        }
    }

    fn encode(&self, request: &ChatRequest, stream: bool) -> Result<Bytes, CallError> {
        let body = self.wire_body(request, stream)?;
        serde_json::to_vec(&body)
            .map(Bytes::from)
            .map_err(|e| CallError::InvalidRequest(e.to_string()))
    }

    /// The assistant prefill the Anthropic translation added for JSON output.
    fn prefill(&self, request: &ChatRequest) -> Option<&'static str> {
        let prefilled = self.endpoint.format == WireFormat::Anthropic
            && request.json_output
            && request.messages.last().map(|m| m.role) != Some(super::chat::ChatRole::Assistant);
        prefilled.then_some(anthropic::JSON_PREFILL)
    }

    /// Sends the request and returns the answer, retrying as clients.md says.
    pub async fn chat(&self, request: &ChatRequest) -> Result<ChatResponse, CallError> {
        let body = self.encode(request, false)?;
        let prefill = self.prefill(request);
        let policy = self.endpoint.retry;
        let mut retry = 0;
        loop {
            let result = async {
                let response = self.send(&body).await?;
                let bytes = response.bytes().await.map_err(|e| self.transport(&e))?;
                let value: Value = serde_json::from_slice(&bytes)
                    .map_err(|e| CallError::InvalidResponse(format!("not JSON: {e}")))?;
                match self.endpoint.format {
                    WireFormat::Openai => openai::response_from_wire(&value),
                    WireFormat::Anthropic => anthropic::response_from_wire(&value, prefill),
                }
            }
            .await;
            match result {
                Err(e) if e.is_retryable() && retry < policy.max_retries => {
                    let wait = policy.wait(retry, e.retry_after());
                    tracing::debug!(model = %self.endpoint.key, error = %e, ?wait, "retrying");
                    tokio::time::sleep(wait).await;
                    retry += 1;
                }
                other => return other,
            }
        }
    }

    /// Sends the request as a stream and returns it once its first event has arrived. Until
    /// then a retryable failure is retried; after it, the stream is the caller's and a
    /// failure ends it with [`CallError::StreamCut`].
    pub async fn chat_stream(&self, request: &ChatRequest) -> Result<ChatStream, CallError> {
        let body = self.encode(request, true)?;
        let prefill = self.prefill(request);
        let policy = self.endpoint.retry;
        let mut retry = 0;
        loop {
            let result = async {
                let response = self.send(&body).await?;
                let decoder = match self.endpoint.format {
                    WireFormat::Openai => Decoder::Openai(openai::StreamDecoder::new()),
                    WireFormat::Anthropic => {
                        Decoder::Anthropic(anthropic::StreamDecoder::with_prefill(prefill))
                    }
                };
                let mut stream = ChatStream::new(response, decoder, self.endpoint.timeout);
                stream.first_event().await?;
                Ok::<_, CallError>(stream)
            }
            .await;
            match result {
                Err(e) if e.is_retryable() && retry < policy.max_retries => {
                    let wait = policy.wait(retry, e.retry_after());
                    tracing::debug!(model = %self.endpoint.key, error = %e, ?wait, "retrying stream");
                    tokio::time::sleep(wait).await;
                    retry += 1;
                }
                other => return other,
            }
        }
    }

    /// One try: the POST, up to the response headers. A non-2xx answer is an error carrying
    /// the provider's message and the wait it asked for.
    async fn send(&self, body: &Bytes) -> Result<reqwest::Response, CallError> {
        let mut builder = self
            .http
            .post(&self.url)
            .timeout(self.endpoint.timeout)
            .header(CONTENT_TYPE, "application/json")
            .body(body.clone());
        let key = self.endpoint.api_key()?;
        match self.endpoint.format {
            WireFormat::Openai => {
                if let Some(key) = key {
                    builder = builder.header(reqwest::header::AUTHORIZATION, key);
                }
            }
            WireFormat::Anthropic => {
                builder = builder.header("anthropic-version", anthropic::API_VERSION);
                if let Some(key) = key {
                    builder = builder.header("x-api-key", key);
                }
            }
        }
        let response = builder.send().await.map_err(|e| self.transport(&e))?;
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let retry_after = retry::retry_after(response.headers());
        let text = response.text().await.unwrap_or_default();
        Err(CallError::Status {
            status: status.as_u16(),
            message: error_message(&text),
            retry_after,
        })
    }

    /// A transport failure as a call error: a timeout, or a connection that failed or broke.
    pub(crate) fn transport(&self, e: &reqwest::Error) -> CallError {
        transport_error(e, self.endpoint.timeout)
    }
}

/// A transport failure as a call error.
pub(crate) fn transport_error(e: &reqwest::Error, timeout: Duration) -> CallError {
    if e.is_timeout() {
        CallError::Timeout(timeout)
    } else {
        CallError::Connect(error_chain(e))
    }
}

/// An error and its causes, joined: reqwest's own message alone rarely says what broke.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

/// The provider's error message: `error.message` of its JSON error body when there is one,
/// else the body itself, shortened.
fn error_message(body: &str) -> String {
    let from_json = serde_json::from_str::<Value>(body).ok().and_then(|v| {
        v.get("error")
            .and_then(|e| e.get("message").or(Some(e)))
            .and_then(|m| m.as_str().map(str::to_owned))
    });
    let mut message = from_json.unwrap_or_else(|| body.trim().to_owned());
    if message.len() > MAX_ERROR_BODY {
        let mut cut = MAX_ERROR_BODY;
        while !message.is_char_boundary(cut) {
            cut -= 1;
        }
        message.truncate(cut);
        message.push('…');
    }
    message
}

/// The runner's view of a provider client: one plain call, its errors as [`ClientError`]s.
/// The size hints are the mock's only; a real provider counts for itself.
///
/// [`ClientError`]: super::ClientError
impl super::ModelClient for ProviderClient {
    fn complete<'a>(
        &'a self,
        request: &'a ChatRequest,
        _hints: super::SizeHints,
    ) -> super::Completion<'a> {
        Box::pin(async move { self.chat(request).await.map_err(super::ClientError::from) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_url_is_the_sdk_base_url_plus_the_path_and_a_trailing_slash_is_ignored() {
        let openai = Endpoint::new("m", WireFormat::Openai, "m");
        assert_eq!(openai.url(), "https://api.openai.com/v1/chat/completions");
        let local = openai.clone().base_url("http://127.0.0.1:8000/v1/");
        assert_eq!(local.url(), "http://127.0.0.1:8000/v1/chat/completions");
        let claude = Endpoint::new("c", WireFormat::Anthropic, "c");
        assert_eq!(claude.url(), "https://api.anthropic.com/v1/messages");
        assert_eq!(
            claude.base_url("http://127.0.0.1:9/").url(),
            "http://127.0.0.1:9/v1/messages"
        );
    }

    #[test]
    fn error_messages_come_from_the_json_error_body() {
        assert_eq!(
            error_message(r#"{"error":{"message":"slow down","type":"rate_limit_error"}}"#),
            "slow down"
        );
        assert_eq!(error_message(" plain text \n"), "plain text");
        assert!(error_message(&"é".repeat(5000)).len() <= MAX_ERROR_BODY + 3);
    }
}
