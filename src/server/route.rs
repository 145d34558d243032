//! `POST /v1/route`: the decision API. One JSON step in, the decision object out exactly as
//! `switchyard route` prints it (or its error object, with the status of the error); with
//! `Content-Type: application/x-ndjson`, a batch of steps in, one line out per line in, in
//! order, 200. A batch is decided wholly under one policy set.

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;

use super::error::{status_of_kind, ApiError, Format};
use super::AppState;
use crate::router::wire::{self, Answer};
use crate::router::PolicySet;
use crate::step::{Step, StepError};

/// `?explain=true` adds the `explain` array, as `route --explain` does.
#[derive(Debug, Default, Deserialize)]
pub(super) struct RouteQuery {
    #[serde(default)]
    explain: bool,
}

/// The NDJSON content type of a batch.
const NDJSON: &str = "application/x-ndjson";

pub(super) async fn route(
    State(state): State<AppState>,
    query: Result<Query<RouteQuery>, QueryRejection>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let explain = match query {
        Ok(q) => q.explain,
        Err(e) => {
            return ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_request_error",
                format!("bad query string: {e}; the only parameter is explain=true|false"),
            )
            .into_response_as(Format::Route)
        }
    };
    let body = match body {
        Ok(b) => b,
        Err(e) => return body_error(&state, &e).into_response_as(Format::Route),
    };
    let set = state.policies();
    if is_ndjson(&headers) {
        return batch(&state, &set, &body, explain);
    }
    let answer = match std::str::from_utf8(&body) {
        Ok(text) => match Step::from_json(text) {
            Ok(step) => wire::answer_step(&set, &step, explain),
            Err(e) => invalid(&e.message),
        },
        Err(_) => invalid("the body is not UTF-8 text"),
    };
    count(&state, &answer);
    record_in_span(&answer);
    let status = answer.error_kind.map_or(StatusCode::OK, status_of_kind);
    (status, Json(answer.json)).into_response()
}

/// The error answer for a body that could not be read: too large (413) or cut off (400).
pub(super) fn body_error(state: &AppState, e: &BytesRejection) -> ApiError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        state.metrics().route_error("", "request_too_large");
        ApiError::too_large(state.options().max_body_bytes)
    } else {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            format!("the request body could not be read: {e}"),
        )
    }
}

fn is_ndjson(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|t| t.trim().eq_ignore_ascii_case(NDJSON))
}

fn invalid(message: &str) -> Answer {
    let e = crate::router::RouteError::from(StepError {
        message: message.to_owned(),
    });
    Answer {
        json: e.to_json(None),
        error_kind: Some("invalid_step"),
    }
}

/// One output line per input line, as `switchyard route` writes them.
fn batch(state: &AppState, set: &PolicySet, body: &[u8], explain: bool) -> Response {
    let mut out = Vec::with_capacity(body.len().min(1 << 20) + 256);
    // A final newline ends the last line; it does not start an empty one.
    let body = body.strip_suffix(b"\n").unwrap_or(body);
    if !body.is_empty() {
        for (i, line) in body.split(|&b| b == b'\n').enumerate() {
            let n = i as u64 + 1;
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            let answer = match std::str::from_utf8(line) {
                Ok(text) => wire::answer_line(set, n, text, explain),
                Err(_) => wire::invalid_line(
                    n,
                    &StepError {
                        message: "the line is not UTF-8 text".into(),
                    },
                ),
            };
            count(state, &answer);
            // Writing JSON to a Vec cannot fail.
            let _ = serde_json::to_writer(&mut out, &answer.json);
            out.push(b'\n');
        }
    }
    ([(header::CONTENT_TYPE, NDJSON)], out).into_response()
}

/// Puts the decision's policy, tier and model on the request's span.
fn record_in_span(answer: &Answer) {
    let span = tracing::Span::current();
    for field in ["policy", "tier", "model"] {
        if let Some(v) = answer.json.get(field).and_then(|v| v.as_str()) {
            span.record(field, v);
        }
    }
}

/// Counts a decision or a routing error into the metrics.
fn count(state: &AppState, answer: &Answer) {
    let j = &answer.json;
    let s = |k: &str| j.get(k).and_then(|v| v.as_str());
    match answer.error_kind {
        None => state.metrics().decision(
            s("policy").unwrap_or_default(),
            s("tier").unwrap_or_default(),
            s("rule"),
            s("via").unwrap_or_default(),
        ),
        // The error object does not name the policy; a step that did not route has none yet.
        Some(kind) => state.metrics().route_error("", kind),
    }
}
