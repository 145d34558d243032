//! The read-only endpoints: liveness, readiness, the status of the policies and their
//! reloads, the model list the OpenAI SDKs ask for, and the Prometheus metrics.

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use super::AppState;

/// `GET /healthz`: 200 while the process runs.
pub(super) async fn healthz() -> &'static str {
    "ok\n"
}

/// `GET /readyz`: 200 once a policy set is loaded; 503 while draining, so load balancers
/// stop sending before the process exits.
pub(super) async fn readyz(State(state): State<AppState>) -> Response {
    if state.is_draining() {
        return (StatusCode::SERVICE_UNAVAILABLE, "draining\n").into_response();
    }
    if state.policies().policies().is_empty() {
        return (StatusCode::SERVICE_UNAVAILABLE, "no policy loaded\n").into_response();
    }
    "ready\n".into_response()
}

/// `GET /v1/models`: one entry per loaded policy, in OpenAI's list format.
pub(super) async fn models(State(state): State<AppState>) -> Json<Value> {
    let set = state.policies();
    let data: Vec<Value> = set
        .policies()
        .iter()
        .map(|p| json!({"id": p.policy.name, "object": "model", "owned_by": "switchyard"}))
        .collect();
    Json(json!({"object": "list", "data": data}))
}

/// `GET /v1/status`: each policy's name, version and files; the last reload (`at`, `ok`,
/// `error`, with the diagnostics of a failure). Before any reload, the start-up load.
pub(super) async fn status(State(state): State<AppState>) -> Json<Value> {
    let set = state.policies();
    let policies: Vec<Value> = set
        .policies()
        .iter()
        .map(|p| {
            json!({
                "name": p.policy.name,
                "version": p.policy.version,
                "files": p.policy.sources.iter().map(|s| s.path.display().to_string()).collect::<Vec<_>>(),
            })
        })
        .collect();
    let watched = state.reloader().map(|r| r.status());
    let last = watched.as_ref().and_then(|s| s.last.as_ref());
    let last_reload = match last {
        Some(r) => {
            let ok = r.outcome == crate::reload::Outcome::Reloaded;
            json!({
                "at": rfc3339(r.at),
                "ok": ok,
                "outcome": r.outcome.as_str(),
                "summary": r.summary,
                "error": if ok { Value::Null } else { r.summary.clone().into() },
                "diagnostics": r.diagnostics.iter().map(|d| json!({
                    "name": d.name,
                    "location": d.location(),
                    "message": d.message,
                })).collect::<Vec<_>>(),
            })
        }
        None => json!({
            "at": rfc3339(state.started()),
            "ok": true,
            "outcome": "loaded",
            "summary": "loaded at start",
            "error": null,
            "diagnostics": [],
        }),
    };
    let mut out = json!({
        "policies": policies,
        "last_reload": last_reload,
        "watching": watched.is_some(),
    });
    if let Some(s) = &watched {
        out["reloads_ok"] = s.reloads_ok.into();
        out["reloads_failed"] = s.reloads_failed.into();
        out["missing"] = s
            .missing
            .iter()
            .map(|p| Value::from(p.display().to_string()))
            .collect();
    }
    Json(out)
}

/// `GET /metrics`: the Prometheus text exposition.
pub(super) async fn metrics(State(state): State<AppState>) -> Response {
    let text = state.metrics().render(&state.policies());
    ([(header::CONTENT_TYPE, super::metrics::CONTENT_TYPE)], text).into_response()
}

/// A time as RFC 3339 in UTC, to the millisecond.
fn rfc3339(t: std::time::SystemTime) -> String {
    humantime::format_rfc3339_millis(t).to_string()
}
