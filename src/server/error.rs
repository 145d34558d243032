//! Errors the server answers with, written in the format of the endpoint that was called:
//! OpenAI's `{"error": {message, type, param, code}}`, Anthropic's
//! `{"type": "error", "error": {type, message}}`, or the decision API's error objects
//! (`{"error": {"kind", "message"}}`, as `switchyard route` writes them). The status says what
//! happened, so the official SDKs raise the right exception.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

/// Which wire format an endpoint speaks, for its answers and its errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `POST /v1/chat/completions` and the other OpenAI-style endpoints.
    OpenAi,
    /// `POST /v1/messages`.
    Anthropic,
    /// `POST /v1/route`: the error objects of the policy format.
    Route,
}

impl Format {
    /// The format of the endpoint at `path`.
    pub fn of_path(path: &str) -> Format {
        match path {
            "/v1/messages" => Format::Anthropic,
            "/v1/route" => Format::Route,
            _ => Format::OpenAi,
        }
    }
}

/// One error answer: its status, its stable code, a sentence, and the request field at fault.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// The stable code: `invalid_request_error`, `invalid_step`, `invalid_api_key`,
    /// `guard_rejected`, `model_not_found`, `unknown_workload`, `request_too_large`, …
    pub code: &'static str,
    /// What went wrong, for a person.
    pub message: String,
    /// The request field at fault (OpenAI's `param`), when there is one.
    pub param: Option<String>,
}

impl ApiError {
    /// An error with no field named.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
            param: None,
        }
    }

    /// Names the request field at fault.
    pub fn param(mut self, param: impl Into<String>) -> ApiError {
        self.param = Some(param.into());
        self
    }

    /// 401: the token is missing or wrong.
    pub fn unauthorized() -> ApiError {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "invalid_api_key",
            "missing or wrong API token: send `Authorization: Bearer TOKEN` or `x-api-key: TOKEN`",
        )
    }

    /// 413: the body is larger than `--max-body-bytes`.
    pub fn too_large(limit: usize) -> ApiError {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "request_too_large",
            format!(
                "the request body is larger than the limit of {limit} bytes (--max-body-bytes)"
            ),
        )
    }

    /// OpenAI's `type` for this error.
    fn openai_type(&self) -> &'static str {
        match self.code {
            "budget_exceeded" => "insufficient_quota",
            _ if self.status.is_server_error() => "server_error",
            _ => "invalid_request_error",
        }
    }

    /// The body in an endpoint's format.
    pub fn body(&self, format: Format) -> Value {
        match format {
            Format::OpenAi => json!({"error": {
                "message": self.message,
                "type": self.openai_type(),
                "param": self.param,
                "code": self.code,
            }}),
            Format::Anthropic => json!({"type": "error", "error": {
                "type": self.code,
                "message": self.message,
            }}),
            Format::Route => json!({"error": {"kind": self.code, "message": self.message}}),
        }
    }

    /// The response in an endpoint's format. A budget refusal tells the SDKs not to retry.
    pub fn into_response_as(self, format: Format) -> Response {
        let mut resp = (self.status, Json(self.body(format))).into_response();
        if self.code == "budget_exceeded" {
            resp.headers_mut()
                .insert("x-should-retry", HeaderValue::from_static("false"));
        }
        resp
    }
}

/// The status `/v1/route` and the proxy answer a routing error's kind with.
pub fn status_of_kind(kind: &str) -> StatusCode {
    match kind {
        "guard_rejected" => StatusCode::FORBIDDEN,
        "unknown_workload" | "model_not_found" => StatusCode::NOT_FOUND,
        "budget_exceeded" => StatusCode::TOO_MANY_REQUESTS,
        // invalid_step, workload_required, context_window_exceeded: the request itself.
        _ => StatusCode::BAD_REQUEST,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_format_has_its_shape() {
        let e = ApiError::unauthorized();
        let o = e.body(Format::OpenAi);
        assert_eq!(o["error"]["code"], "invalid_api_key");
        assert_eq!(o["error"]["type"], "invalid_request_error");
        assert!(o["error"]["param"].is_null());
        let a = e.body(Format::Anthropic);
        assert_eq!(a["type"], "error");
        assert_eq!(a["error"]["type"], "invalid_api_key");
        let r = e.body(Format::Route);
        assert_eq!(r["error"]["kind"], "invalid_api_key");
    }

    #[test]
    fn a_budget_refusal_is_not_retried() {
        let e = ApiError::new(StatusCode::TOO_MANY_REQUESTS, "budget_exceeded", "cap");
        assert_eq!(
            e.body(Format::OpenAi)["error"]["type"],
            "insufficient_quota"
        );
        let resp = e.into_response_as(Format::OpenAi);
        assert_eq!(resp.headers()["x-should-retry"], "false");
    }

    #[test]
    fn kinds_map_to_statuses() {
        assert_eq!(status_of_kind("guard_rejected"), StatusCode::FORBIDDEN);
        assert_eq!(status_of_kind("unknown_workload"), StatusCode::NOT_FOUND);
        assert_eq!(status_of_kind("workload_required"), StatusCode::BAD_REQUEST);
        assert_eq!(status_of_kind("invalid_step"), StatusCode::BAD_REQUEST);
    }
}
