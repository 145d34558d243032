//! `POST /v1/chat/completions` (OpenAI) and `POST /v1/messages` (Anthropic): a chat request
//! routed. The body is read (within the size limit) and parsed, its `model` names the policy,
//! the step is built from the caller's features and the derived ones, and the policy decides.
//! [`forward`] then makes the upstream call (`proxy.rs`).

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::Response;
use serde_json::{Map, Value};

use super::error::{status_of_kind, ApiError, Format};
use super::features::{self, ChatFormat, Source};
use super::AppState;
use crate::router::{Decision, PolicySet};

/// `POST /v1/chat/completions`.
pub(super) async fn chat_completions(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    handle(state, headers, body, ChatFormat::OpenAi).await
}

/// `POST /v1/messages`.
pub(super) async fn messages(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    handle(state, headers, body, ChatFormat::Anthropic).await
}

fn error_format(format: ChatFormat) -> Format {
    match format {
        ChatFormat::OpenAi => Format::OpenAi,
        ChatFormat::Anthropic => Format::Anthropic,
    }
}

/// Bodies larger than this are turned into a step on the blocking pool: counting the tokens
/// of a few megabytes takes long enough to stall the other requests on a runtime worker.
const COUNT_OFF_RUNTIME_ABOVE: usize = 256 * 1024;

async fn handle(
    state: AppState,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
    format: ChatFormat,
) -> Response {
    let bytes = match body {
        Ok(b) => b,
        Err(e) => {
            return super::route::body_error(&state, &e).into_response_as(error_format(format))
        }
    };
    // The set is held for the whole request: the decision and the call are made under it.
    let set = state.policies();
    let prepared = if bytes.len() > COUNT_OFF_RUNTIME_ABOVE {
        let (st, span) = (state.clone(), tracing::Span::current());
        tokio::task::spawn_blocking(move || {
            span.in_scope(|| prepare(&st, &set, &headers, &bytes, format))
        })
        .await
        .unwrap_or_else(|e| {
            Err(ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal_error",
                format!("deciding the request failed: {e}"),
            ))
        })
    } else {
        prepare(&state, &set, &headers, &bytes, format)
    };
    match prepared {
        Ok(routed) => forward(&state, routed, format).await,
        Err(e) => e.into_response_as(error_format(format)),
    }
}

/// A chat request that has been decided, ready to go upstream.
pub(super) struct Routed {
    /// The decision; it holds its policy alive for the whole call.
    pub decision: Decision<'static>,
    /// The step the request became (for the call record).
    pub step: crate::step::Step,
    /// The request body with the `switchyard` object taken out.
    pub body: Map<String, Value>,
}

/// Steps 1–4 of routing a chat request: body, workload, step features, decision.
fn prepare(
    state: &AppState,
    set: &PolicySet,
    headers: &HeaderMap,
    bytes: &[u8],
    format: ChatFormat,
) -> Result<Routed, ApiError> {
    let mut body = match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(m)) => m,
        Ok(_) => return Err(bad_request("the body must be a JSON object", None, state)),
        Err(e) => {
            return Err(bad_request(
                &format!(
                    "the body is not valid JSON (line {}, column {}): {e}",
                    e.line(),
                    e.column()
                ),
                None,
                state,
            ))
        }
    };
    let model = match body.get("model") {
        Some(Value::String(m)) => m.clone(),
        Some(_) => {
            return Err(bad_request(
                "`model` must be a string: the name of a policy",
                Some("model"),
                state,
            ))
        }
        None => {
            return Err(bad_request(
                "missing `model`: name the policy (the workload) to route under",
                Some("model"),
                state,
            ))
        }
    };
    let Some(cp) = set.get(&model) else {
        state.metrics().route_error("", "model_not_found");
        let known: Vec<&str> = set.policies().iter().map(|p| p.name()).collect();
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "model_not_found",
            format!(
                "no loaded policy is named `{model}`; `model` must name one of: {}",
                known.join(", ")
            ),
        )
        .param("model"));
    };
    tracing::Span::current().record("policy", cp.name());
    // `"switchyard": null` is the same as no object (some SDK wrappers send unset fields).
    let given = body.remove("switchyard").filter(|v| !v.is_null());
    let source = match (&given, headers.get("x-switchyard-step")) {
        (Some(v), _) => Source::Body(v),
        (None, Some(h)) => Source::Header(h.as_bytes()),
        (None, None) => Source::None,
    };
    let step = features::step_for_request(source, &body, format, &model, cp.policy.tokenizer)
        .map_err(|e| {
            state.metrics().route_error(cp.name(), "invalid_step");
            ApiError::new(StatusCode::BAD_REQUEST, "invalid_request_error", e.message)
                .param(e.param)
        })?;
    match set.route(&step) {
        Ok(decision) => {
            state.metrics().decision(
                decision.policy(),
                decision.tier(),
                decision.rule(),
                decision.via().as_str(),
            );
            let span = tracing::Span::current();
            span.record("tier", decision.tier());
            span.record("model", decision.model().key.as_str());
            Ok(Routed {
                decision: decision.into_owned(),
                step,
                body,
            })
        }
        Err(e) => {
            let kind = e.kind();
            state.metrics().route_error(cp.name(), kind);
            let code = match kind {
                "guard_rejected" => "guard_rejected",
                "invalid_step" => "invalid_request_error",
                _ => kind,
            };
            Err(ApiError::new(status_of_kind(kind), code, e.to_string()))
        }
    }
}

fn bad_request(message: &str, param: Option<&str>, state: &AppState) -> ApiError {
    state.metrics().route_error("", "invalid_step");
    let e = ApiError::new(StatusCode::BAD_REQUEST, "invalid_request_error", message);
    match param {
        Some(p) => e.param(p),
        None => e,
    }
}

/// Steps 5–7: the upstream call and the answer in the caller's format (`proxy.rs`).
async fn forward(state: &AppState, routed: Routed, format: ChatFormat) -> Response {
    let Routed {
        decision,
        step,
        body,
    } = routed;
    super::proxy::forward(
        state,
        super::proxy::Call {
            decision,
            step,
            body,
            format,
        },
    )
    .await
}

/// The `x-switchyard-*` headers of a routed answer: policy, version, tier, model, via, and
/// rule / guard when they are not null.
pub(super) fn decision_headers(h: &mut HeaderMap, d: &Decision<'_>) {
    let mut put = |name: &'static str, value: &str| {
        if let Ok(v) = HeaderValue::from_str(value) {
            h.insert(HeaderName::from_static(name), v);
        }
    };
    put("x-switchyard-policy", d.policy());
    put("x-switchyard-policy-version", d.policy_version());
    put("x-switchyard-tier", d.tier());
    put("x-switchyard-model", &d.model().key);
    put("x-switchyard-via", d.via().as_str());
    if let Some(rule) = d.rule() {
        put("x-switchyard-rule", rule);
    }
    if let Some(guard) = d.guard() {
        put("x-switchyard-guard", guard);
    }
}
