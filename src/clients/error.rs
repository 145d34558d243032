//! Why a provider call failed, with a stable kind name and whether trying again may help.

use std::time::Duration;

/// Why a provider call, or the translation before or after it, failed.
///
/// The API key never appears here: errors name the environment variable, not its value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    /// The environment variable that `api_key_env` names is not set or is empty.
    #[error("the API key variable {var} is not set or is empty")]
    MissingApiKey {
        /// The variable's name.
        var: String,
    },
    /// The request has a field the target format cannot express.
    #[error("{format} cannot express the request field `{field}`")]
    UnsupportedParameter {
        /// The field, as the caller wrote it.
        field: String,
        /// The target format.
        format: &'static str,
    },
    /// The request, as the caller wrote it, is not valid.
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// No connection could be made, or it broke before an answer.
    #[error("could not reach the provider: {0}")]
    Connect(String),
    /// The call took longer than the model's `timeout_seconds`.
    #[error("the provider did not answer within {0:?}")]
    Timeout(Duration),
    /// The provider answered with an HTTP error.
    #[error("the provider refused the call (status {status}): {message}")]
    Status {
        /// The HTTP status.
        status: u16,
        /// The provider's message (the body, shortened).
        message: String,
        /// How long the provider asked us to wait (`retry-after`, `retry-after-ms`).
        retry_after: Option<Duration>,
    },
    /// The provider's answer could not be read.
    #[error("the provider's answer could not be read: {0}")]
    InvalidResponse(String),
    /// A stream broke after some of it had reached the caller.
    #[error("the stream was cut: {0}")]
    StreamCut(String),
}

impl CallError {
    /// The stable kind name, as written in error lines and call records.
    pub fn kind(&self) -> &'static str {
        match self {
            CallError::MissingApiKey { .. } => "missing_api_key",
            CallError::UnsupportedParameter { .. } => "unsupported_parameter",
            CallError::InvalidRequest(_) => "invalid_request",
            CallError::Connect(_) => "provider_unreachable",
            CallError::Timeout(_) => "provider_timeout",
            CallError::Status { .. } => "provider_error",
            CallError::InvalidResponse(_) => "invalid_response",
            CallError::StreamCut(_) => "stream_cut",
        }
    }

    /// Whether another try (or a fallback model) may succeed: a connection error, a
    /// timeout, HTTP 408, 409, 429 and 5xx except 501 (clients.md).
    pub fn is_retryable(&self) -> bool {
        match self {
            CallError::Connect(_) | CallError::Timeout(_) => true,
            CallError::Status { status, .. } => is_retryable_status(*status),
            _ => false,
        }
    }

    /// The wait the provider asked for, if any.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            CallError::Status { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

/// Whether an HTTP status is worth another try.
pub fn is_retryable_status(status: u16) -> bool {
    matches!(status, 408 | 409 | 429) || (500..600).contains(&status) && status != 501
}

impl From<CallError> for super::ClientError {
    fn from(e: CallError) -> super::ClientError {
        use super::ClientError;
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
