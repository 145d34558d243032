//! `switchyard serve`: every endpoint and error row (the proxy's upstream calls are in
//! tests/serve_proxy.rs), driven
//! two ways — through `app(state)` with `oneshot` (no socket), and against the real binary
//! on a free port (ready line, auth at start, reload while serving, drain on SIGTERM).
//! Waits poll with a generous deadline; nothing asserts on how long anything took.

#[path = "common/serve_http.rs"]
mod serve_http;
#[path = "common/serve_proc.rs"]
mod serve_proc;

use std::fs;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::{json, Value};
use tower::ServiceExt;

use switchyard::server::{app, AppState, ServeOptions, Token};
use switchyard::Router;

use serve_http::request;
use serve_proc::{start, DEADLINE};

/// A policy with a rule, a default and a guard that rejects tool output (no escalate_to);
/// `tag` only changes the bytes, so the version.
fn policy(name: &str, tag: &str) -> String {
    format!(
        r#"# {tag}
[policy]
name = "{name}"
default_tier = "cheap"
tokenizer = "approx"

[models.small]
provider = "mock"
model_id = "vendor-small"
input_usd_per_mtok = 1.0
output_usd_per_mtok = 2.0

[models.big]
provider = "mock"
input_usd_per_mtok = 10.0
output_usd_per_mtok = 20.0

[tiers]
cheap = "small"
premium = "big"

[[rules]]
name = "reasoning"
when = {{ needs_chain_of_thought = true }}
tier = "premium"

[[guards]]
name = "no-tool-output"
when = {{ untrusted_input = true }}
require = ["injection_tested"]
"#
    )
}

/// A directory holding one policy file per name.
fn policy_dir(names: &[&str]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for n in names {
        fs::write(dir.path().join(format!("{n}.toml")), policy(n, "v1")).unwrap();
    }
    dir
}

fn state_for(path: &Path, options: ServeOptions) -> AppState {
    AppState::new(Arc::new(Router::load(path).unwrap()), options)
}

/// One request through the app, no socket: status, headers, body.
async fn call(
    app: &axum::Router,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (StatusCode, axum::http::HeaderMap, String) {
    let mut req = Request::builder().method(method).uri(path);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = app
        .clone()
        .oneshot(req.body(Body::from(body.to_owned())).unwrap())
        .await
        .unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .unwrap();
    (status, headers, String::from_utf8(bytes.to_vec()).unwrap())
}

fn json_of(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"))
}

/// What `switchyard route` prints for these lines.
fn route_cli(policy: &Path, input: &str) -> String {
    let mut child = Command::new(env!("CARGO_BIN_EXE_switchyard"))
        .args(["route", "--policy"])
        .arg(policy)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    String::from_utf8(out.stdout).unwrap()
}

// ---- the decision API, no socket ----

#[tokio::test]
async fn route_answers_exactly_as_the_route_command_prints() {
    let dir = policy_dir(&["support"]);
    let app = app(state_for(dir.path(), ServeOptions::default()));
    let step = r#"{"role":"plan","input_tokens":1200,"expected_output_tokens":100,"needs_chain_of_thought":true,"trace_id":"t-1"}"#;
    let (status, headers, body) = call(&app, "POST", "/v1/route", &[], step).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(headers["content-type"], "application/json");
    assert_eq!(
        format!("{body}\n"),
        route_cli(dir.path(), &format!("{step}\n"))
    );
    let d = json_of(&body);
    assert_eq!(d["tier"], "premium");
    assert_eq!(d["rule"], "reasoning");
    assert_eq!(d["trace_id"], "t-1");
}

#[tokio::test]
async fn an_ndjson_batch_gets_one_line_per_line_exactly_as_route_writes_them() {
    let dir = policy_dir(&["support", "billing"]);
    let app = app(state_for(dir.path(), ServeOptions::default()));
    let input = concat!(
        r#"{"role":"format","input_tokens":10,"workload":"support"}"#,
        "\n\n",
        r#"{"role":"format","input_tokens":10}"#,
        "\n",
        r#"{"role":"format","input_tokens":10,"workload":"nope"}"#,
        "\nnot json\n",
        r#"{"role":"x","input_tokens":1,"untrusted_input":true,"workload":"billing"}"#,
        "\n",
        r#"{"role":"format","needs_cot":true,"input_tokens":1,"workload":"billing"}"#,
        "\n",
    );
    let (status, headers, body) = call(
        &app,
        "POST",
        "/v1/route",
        &[("content-type", "application/x-ndjson")],
        input,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["content-type"], "application/x-ndjson");
    assert_eq!(body, route_cli(dir.path(), input));
    let kinds: Vec<Value> = body
        .lines()
        .map(|l| json_of(l)["error"]["kind"].clone())
        .collect();
    assert_eq!(
        kinds,
        [
            Value::Null,
            json!("invalid_step"),
            json!("workload_required"),
            json!("unknown_workload"),
            json!("invalid_step"),
            json!("guard_rejected"),
            json!("invalid_step"),
        ]
    );
    // An empty batch is an empty answer.
    let (status, _, body) = call(
        &app,
        "POST",
        "/v1/route",
        &[("content-type", "application/x-ndjson; charset=utf-8")],
        "",
    )
    .await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, ""));
}

#[tokio::test]
async fn each_routing_error_has_its_status_and_error_object() {
    let dir = policy_dir(&["support", "billing"]);
    let app = app(state_for(dir.path(), ServeOptions::default()));
    let cases = [
        ("{not json", StatusCode::BAD_REQUEST, "invalid_step"),
        (
            r#"{"input_tokens":1,"workload":"support"}"#,
            StatusCode::BAD_REQUEST,
            "invalid_step",
        ),
        (
            r#"{"role":"x","input_tokens":1}"#,
            StatusCode::BAD_REQUEST,
            "workload_required",
        ),
        (
            r#"{"role":"x","input_tokens":1,"workload":"nope"}"#,
            StatusCode::NOT_FOUND,
            "unknown_workload",
        ),
        (
            r#"{"role":"x","input_tokens":1,"workload":"support","untrusted_input":true}"#,
            StatusCode::FORBIDDEN,
            "guard_rejected",
        ),
    ];
    for (step, want_status, want_kind) in cases {
        let (status, _, body) = call(&app, "POST", "/v1/route", &[], step).await;
        assert_eq!(status, want_status, "{step}: {body}");
        let v = json_of(&body);
        assert_eq!(v["error"]["kind"], want_kind, "{step}: {body}");
        assert!(v["error"]["message"].as_str().unwrap().len() > 10, "{body}");
    }
    // The guard's error object names the guard, as `route` writes it.
    let (_, _, body) = call(&app, "POST", "/v1/route", &[], cases[4].0).await;
    assert_eq!(json_of(&body)["error"]["guard"], "no-tool-output");
}

#[tokio::test]
async fn explain_adds_the_trace() {
    let dir = policy_dir(&["support"]);
    let app = app(state_for(dir.path(), ServeOptions::default()));
    let (status, _, body) = call(
        &app,
        "POST",
        "/v1/route?explain=true",
        &[],
        r#"{"role":"x","input_tokens":1}"#,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(json_of(&body)["explain"].is_array(), "{body}");
}

#[tokio::test]
async fn health_readiness_models_and_status() {
    let dir = policy_dir(&["support", "billing"]);
    let state = state_for(dir.path(), ServeOptions::default());
    let app = app(state.clone());
    assert_eq!(
        call(&app, "GET", "/healthz", &[], "").await.0,
        StatusCode::OK
    );
    assert_eq!(
        call(&app, "GET", "/readyz", &[], "").await.0,
        StatusCode::OK
    );

    let (status, _, body) = call(&app, "GET", "/v1/models", &[], "").await;
    assert_eq!(status, StatusCode::OK);
    let v = json_of(&body);
    assert_eq!(v["object"], "list");
    let mut ids: Vec<&str> = v["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    ids.sort_unstable();
    assert_eq!(ids, ["billing", "support"]);
    assert_eq!(v["data"][0]["object"], "model");
    assert_eq!(v["data"][0]["owned_by"], "switchyard");

    let (status, _, body) = call(&app, "GET", "/v1/status", &[], "").await;
    assert_eq!(status, StatusCode::OK);
    let v = json_of(&body);
    let support = v["policies"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "support")
        .unwrap();
    assert_eq!(support["version"].as_str().unwrap().len(), 12);
    assert!(support["files"][0]
        .as_str()
        .unwrap()
        .ends_with("support.toml"));
    assert_eq!(v["last_reload"]["ok"], true);
    assert!(v["last_reload"]["error"].is_null());
    assert!(v["last_reload"]["at"].as_str().unwrap().ends_with('Z'));

    // Draining takes the server out of rotation; liveness stays.
    state.start_draining();
    assert_eq!(
        call(&app, "GET", "/readyz", &[], "").await.0,
        StatusCode::SERVICE_UNAVAILABLE
    );
    assert_eq!(
        call(&app, "GET", "/healthz", &[], "").await.0,
        StatusCode::OK
    );
}

#[tokio::test]
async fn metrics_name_every_family_and_count_decisions() {
    let dir = policy_dir(&["support"]);
    let app = app(state_for(dir.path(), ServeOptions::default()));
    call(
        &app,
        "POST",
        "/v1/route",
        &[],
        r#"{"role":"x","input_tokens":1}"#,
    )
    .await;
    call(&app, "POST", "/v1/route", &[], r#"{"role":"x"}"#).await;
    let (status, headers, text) = call(&app, "GET", "/metrics", &[], "").await;
    assert_eq!(status, StatusCode::OK);
    assert!(headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    for name in [
        "switchyard_decisions_total",
        "switchyard_route_errors_total",
        "switchyard_calls_total",
        "switchyard_spend_usd_total",
        "switchyard_tokens_total",
        "switchyard_call_duration_seconds",
        "switchyard_overhead_seconds",
        "switchyard_policy_reloads_total",
        "switchyard_policy_info",
        "switchyard_budget_spent_usd",
    ] {
        assert!(
            text.contains(&format!("# TYPE {name} ")),
            "{name} missing:\n{text}"
        );
    }
    assert!(
        text.contains(
            r#"switchyard_decisions_total{policy="support",tier="cheap",rule="",via="default"} 1"#
        ),
        "{text}"
    );
    assert!(text.contains(r#"kind="invalid_step"} 1"#), "{text}");
    assert!(
        text.contains(r#"switchyard_policy_info{policy="support",version=""#),
        "{text}"
    );
    assert!(
        text.contains(r#"switchyard_overhead_seconds_count{endpoint="/v1/route"} 2"#),
        "{text}"
    );
}

// ---- auth and limits ----

#[tokio::test]
async fn every_endpoint_but_health_needs_the_token() {
    let dir = policy_dir(&["support"]);
    let options = ServeOptions {
        auth_token: Token::new("s3cret"),
        ..ServeOptions::default()
    };
    let app = app(state_for(dir.path(), options));
    for path in ["/healthz", "/readyz"] {
        assert_eq!(
            call(&app, "GET", path, &[], "").await.0,
            StatusCode::OK,
            "{path}"
        );
    }
    let step = r#"{"role":"x","input_tokens":1}"#;
    let chat = r#"{"model":"support","messages":[],"switchyard":{"role":"x"}}"#;
    let cases = [
        ("GET", "/metrics", ""),
        ("GET", "/v1/status", ""),
        ("GET", "/v1/models", ""),
        ("POST", "/v1/route", step),
        ("POST", "/v1/chat/completions", chat),
        ("POST", "/v1/messages", chat),
    ];
    for (method, path, body) in cases {
        for wrong in [
            vec![],
            vec![("authorization", "Bearer nope")],
            vec![("x-api-key", "s3cre")],
        ] {
            let (status, _, text) = call(&app, method, path, &wrong, body).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{path} {wrong:?}");
            let v = json_of(&text);
            let code = match path {
                "/v1/messages" => {
                    assert_eq!(v["type"], "error");
                    &v["error"]["type"]
                }
                "/v1/route" => &v["error"]["kind"],
                _ => &v["error"]["code"],
            };
            assert_eq!(code, "invalid_api_key", "{path}: {text}");
        }
        for right in [("authorization", "Bearer s3cret"), ("x-api-key", "s3cret")] {
            let (status, _, text) = call(&app, method, path, &[right], body).await;
            assert_ne!(status, StatusCode::UNAUTHORIZED, "{path} {right:?}: {text}");
        }
    }
}

#[tokio::test]
async fn a_body_over_the_limit_gets_413_in_the_endpoints_format() {
    let dir = policy_dir(&["support"]);
    let options = ServeOptions {
        max_body_bytes: 64,
        ..ServeOptions::default()
    };
    let app = app(state_for(dir.path(), options));
    let big = format!(
        r#"{{"role":"x","input_tokens":1,"trace_id":"{}"}}"#,
        "a".repeat(100)
    );
    let (status, _, body) = call(&app, "POST", "/v1/route", &[], &big).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(json_of(&body)["error"]["kind"], "request_too_large");
    let (status, _, body) = call(&app, "POST", "/v1/chat/completions", &[], &big).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(json_of(&body)["error"]["code"], "request_too_large");
    let (status, _, body) = call(&app, "POST", "/v1/messages", &[], &big).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(json_of(&body)["error"]["type"], "request_too_large");
    // Within the limit, the same endpoint answers.
    let (status, _, _) = call(
        &app,
        "POST",
        "/v1/route",
        &[],
        r#"{"role":"x","input_tokens":1}"#,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
}

// ---- the chat endpoints, up to the decision ----

#[tokio::test]
async fn a_chat_request_is_decided_and_answers_with_the_decision_headers() {
    let dir = policy_dir(&["support"]);
    let app = app(state_for(dir.path(), ServeOptions::default()));
    let body = json!({
        "model": "support",
        "reasoning_effort": "high",
        "messages": [{"role": "user", "content": "think hard"}],
        "switchyard": {"role": "plan"}
    });
    let (status, headers, text) =
        call(&app, "POST", "/v1/chat/completions", &[], &body.to_string()).await;
    // The mock models answer, in OpenAI's format, with the decision's headers.
    assert_eq!(status, StatusCode::OK, "{text}");
    assert_eq!(json_of(&text)["object"], "chat.completion");
    assert!(headers.get("x-switchyard-cost-usd").is_some());
    assert_eq!(headers["x-switchyard-policy"], "support");
    assert_eq!(headers["x-switchyard-policy-version"].len(), 12);
    assert_eq!(headers["x-switchyard-tier"], "premium");
    assert_eq!(headers["x-switchyard-model"], "big");
    assert_eq!(headers["x-switchyard-via"], "rule");
    assert_eq!(headers["x-switchyard-rule"], "reasoning");
    assert!(headers.get("x-switchyard-guard").is_none());

    // Anthropic: features from the header; no rule matched, so no rule header.
    let body = json!({"model": "support", "max_tokens": 100, "messages": [{"role": "user", "content": "hi"}]});
    let (status, headers, text) = call(
        &app,
        "POST",
        "/v1/messages",
        &[("x-switchyard-step", r#"{"role":"summarize"}"#)],
        &body.to_string(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert_eq!(json_of(&text)["type"], "message");
    assert_eq!(json_of(&text)["model"], "vendor-small");
    assert_eq!(headers["x-switchyard-tier"], "cheap");
    assert_eq!(headers["x-switchyard-via"], "default");
    assert!(headers.get("x-switchyard-rule").is_none());
}

/// The body frames of a response, in order.
async fn frames(resp: axum::response::Response) -> Vec<String> {
    use http_body_util::BodyExt;
    let mut body = resp.into_body();
    let mut out = Vec::new();
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame.unwrap().into_data() {
            out.push(String::from_utf8(data.to_vec()).unwrap());
        }
    }
    out
}

#[tokio::test]
async fn stream_events_that_are_already_here_go_out_in_one_frame() {
    // The mock's answer is all there at once: one write to the caller, not one per event.
    let dir = policy_dir(&["support"]);
    let app = app(state_for(dir.path(), ServeOptions::default()));
    for (path, body, last) in [
        (
            "/v1/chat/completions",
            json!({"model": "support", "stream": true, "switchyard": {"role": "chat"},
                   "messages": [{"role": "user", "content": "hi"}]}),
            "data: [DONE]\n\n",
        ),
        (
            "/v1/messages",
            json!({"model": "support", "stream": true, "max_tokens": 50,
                   "switchyard": {"role": "chat"},
                   "messages": [{"role": "user", "content": "hi"}]}),
            "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n",
        ),
    ] {
        let req = Request::builder()
            .method("POST")
            .uri(path)
            .body(Body::from(body.to_string()))
            .unwrap();
        let resp = app.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let frames = frames(resp).await;
        assert_eq!(status, StatusCode::OK, "{path}: {frames:?}");
        assert_eq!(frames.len(), 1, "{path}: {frames:#?}");
        let events = frames[0].matches("data: ").count();
        assert!(events >= 4, "{path}: {}", frames[0]);
        assert!(frames[0].ends_with(last), "{path}: {}", frames[0]);
    }
}

#[tokio::test]
async fn chat_errors_have_the_status_and_shape_the_sdks_expect() {
    let dir = policy_dir(&["support", "billing"]);
    let app = app(state_for(dir.path(), ServeOptions::default()));
    let user = json!([{"role": "user", "content": "hi"}]);
    // Tool output in both formats' shapes: an OpenAI `tool` message, an Anthropic `tool_result` block.
    let tool = json!([
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "c", "content": "page"}]},
        {"role": "tool", "tool_call_id": "c", "content": "page"}
    ]);
    let cases: Vec<(Value, StatusCode, &str, &str)> = vec![
        (
            json!({"model": "nope", "messages": user, "switchyard": {"role": "x"}}),
            StatusCode::NOT_FOUND,
            "model_not_found",
            "billing, support",
        ),
        (
            json!({"model": "support", "messages": user}),
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            "`role`",
        ),
        (
            json!({"model": "support", "messages": user, "switchyard": {"role": "x", "needs_cot": true}}),
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            "`needs_cot`",
        ),
        (
            json!({"model": "support", "messages": user, "switchyard": {"role": "x", "workload": "billing"}}),
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            "`workload`",
        ),
        (
            json!({"model": "support", "messages": user, "switchyard": {"role": "x", "prompt": "p"}}),
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            "`prompt`",
        ),
        (
            json!({"model": "support", "messages": user, "switchyard": {"role": "x", "input_tokens": "many"}}),
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            "`input_tokens`",
        ),
        (
            json!({"model": "support", "messages": tool, "switchyard": {"role": "x"}}),
            StatusCode::FORBIDDEN,
            "guard_rejected",
            "no-tool-output",
        ),
    ];
    for (body, want_status, want_code, mentions) in &cases {
        let (status, _, text) =
            call(&app, "POST", "/v1/chat/completions", &[], &body.to_string()).await;
        assert_eq!(status, *want_status, "{body}: {text}");
        let v = json_of(&text);
        assert_eq!(v["error"]["code"], *want_code, "{text}");
        assert!(
            v["error"]["message"].as_str().unwrap().contains(mentions),
            "{mentions}: {text}"
        );
        assert!(
            v["error"]["type"].is_string() && v["error"].get("param").is_some(),
            "{text}"
        );

        let (status, _, text) = call(&app, "POST", "/v1/messages", &[], &body.to_string()).await;
        assert_eq!(status, *want_status, "{body}: {text}");
        let v = json_of(&text);
        assert_eq!(v["type"], "error");
        assert_eq!(v["error"]["type"], *want_code, "{text}");
        assert!(
            v["error"]["message"].as_str().unwrap().contains(mentions),
            "{text}"
        );
    }
    // A caller who vouches for the tool output is routed.
    let trusted = json!({"model": "support", "messages": tool, "switchyard": {"role": "x", "untrusted_input": false}});
    let (status, headers, text) = call(
        &app,
        "POST",
        "/v1/chat/completions",
        &[],
        &trusted.to_string(),
    )
    .await;
    // Decided (the guard let it through); the mixed-format body cannot then go upstream as
    // OpenAI, which is a 400 naming the block.
    assert_ne!(status, StatusCode::FORBIDDEN, "{text}");
    assert_eq!(headers["x-switchyard-tier"], "cheap", "{text}");
    // Bodies that are not a JSON object.
    for bad in ["{nope", "[1,2]", r#"{"model": 5}"#] {
        let (status, _, text) = call(&app, "POST", "/v1/chat/completions", &[], bad).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {text}");
        assert_eq!(json_of(&text)["error"]["type"], "invalid_request_error");
    }
    // A broken header names the header.
    let body = json!({"model": "support", "messages": user});
    let (status, _, text) = call(
        &app,
        "POST",
        "/v1/chat/completions",
        &[("x-switchyard-step", "{role")],
        &body.to_string(),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(json_of(&text)["error"]["param"], "x-switchyard-step");
}

// ---- the real binary, over sockets ----

#[test]
fn the_binary_serves_on_a_socket_and_stops_on_sigterm() {
    let dir = policy_dir(&["support", "billing"]);
    let mut s = start(&["--policy", dir.path().to_str().unwrap()], &[]);
    assert_eq!(
        s.ready_line,
        format!(
            "switchyard: serving 2 policies (billing, support) on http://{}",
            s.addr
        )
    );
    let r = request(s.addr, "GET", "/healthz", &[], b"");
    assert_eq!(r.status, 200);
    let r = request(s.addr, "GET", "/readyz", &[], b"");
    assert_eq!(r.status, 200);
    let r = request(
        s.addr,
        "POST",
        "/v1/route",
        &[("content-type", "application/json")],
        br#"{"role":"x","input_tokens":5,"workload":"support"}"#,
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["policy"], "support");
    let r = request(s.addr, "GET", "/v1/models", &[], b"");
    assert_eq!(r.json()["data"].as_array().unwrap().len(), 2);
    let r = request(s.addr, "GET", "/metrics", &[], b"");
    assert!(
        r.body
            .contains("switchyard_decisions_total{policy=\"support\""),
        "{}",
        r.body
    );
    assert!(r.header("x-request-id").is_some());

    s.signal("TERM");
    let status = s.wait();
    assert_eq!(status.code(), Some(0), "{}", s.stderr_text());
}

#[test]
fn auth_is_required_off_loopback_and_the_token_must_be_set() {
    let dir = policy_dir(&["support"]);
    let p = dir.path().to_str().unwrap();
    let run = |args: &[&str], env: &[(&str, &str)]| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_switchyard"));
        cmd.arg("serve")
            .args(["--policy", p])
            .args(args)
            .stdin(Stdio::null());
        cmd.env_remove("SY_TEST_TOKEN");
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.output().unwrap()
    };
    let out = run(&["--listen", "0.0.0.0:0"], &[]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("without auth") && err.contains("--auth-token-env"),
        "{err}"
    );

    let out = run(&["--auth-token-env", "SY_TEST_TOKEN"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("SY_TEST_TOKEN is not set"));

    let out = run(
        &["--auth-token-env", "SY_TEST_TOKEN"],
        &[("SY_TEST_TOKEN", "")],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("SY_TEST_TOKEN is empty"));

    let out = run(&["--listen", "not an address"], &[]);
    assert_eq!(out.status.code(), Some(2));

    // A policy that does not load: 1, with its diagnostics.
    let bad = tempfile::tempdir().unwrap();
    fs::write(bad.path().join("p.toml"), "[policy]\nname = 3\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_switchyard"))
        .args(["serve", "--policy"])
        .arg(bad.path().join("p.toml"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn with_a_token_every_call_but_health_must_carry_it() {
    let dir = policy_dir(&["support"]);
    let mut s = start(
        &[
            "--policy",
            dir.path().to_str().unwrap(),
            "--auth-token-env",
            "SY_TOKEN",
        ],
        &[("SY_TOKEN", "tok-123")],
    );
    assert_eq!(request(s.addr, "GET", "/v1/models", &[], b"").status, 401);
    assert_eq!(
        request(
            s.addr,
            "GET",
            "/v1/models",
            &[("authorization", "Bearer tok-123")],
            b""
        )
        .status,
        200
    );
    assert_eq!(request(s.addr, "GET", "/healthz", &[], b"").status, 200);
    s.signal("INT");
    assert_eq!(s.wait().code(), Some(0));
}

/// Polls until `f` holds (a passing test never waits the whole deadline).
fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(start.elapsed() < DEADLINE, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn reload_while_serving_changes_the_version_and_a_broken_save_keeps_the_old_set() {
    let dir = policy_dir(&["support"]);
    let file = dir.path().join("support.toml");
    let s = start(&["--policy", file.to_str().unwrap()], &[]);
    let step = br#"{"role":"x","input_tokens":5}"#;
    let version = |s: &serve_proc::Served| {
        let r = request(s.addr, "POST", "/v1/route", &[], step);
        assert_eq!(r.status, 200, "{}", r.body);
        r.json()["policy_version"].as_str().unwrap().to_owned()
    };
    let v1 = version(&s);

    // An editor's save: write a new file and rename it over the old one.
    let tmp = dir.path().join(".support.toml.swp");
    fs::write(&tmp, policy("support", "v2")).unwrap();
    fs::rename(&tmp, &file).unwrap();
    eventually("the new version", || version(&s) != v1);
    let v2 = version(&s);
    let status = request(s.addr, "GET", "/v1/status", &[], b"").json();
    assert_eq!(status["policies"][0]["version"], v2.as_str());
    assert_eq!(status["last_reload"]["ok"], true);

    // A broken save: the old set keeps serving, and the status says why.
    fs::write(&tmp, "[policy]\nname = \"support\"\ndefault_tier = 3\n").unwrap();
    fs::rename(&tmp, &file).unwrap();
    eventually("the failed reload in /v1/status", || {
        request(s.addr, "GET", "/v1/status", &[], b"").json()["last_reload"]["ok"] == false
    });
    let status = request(s.addr, "GET", "/v1/status", &[], b"").json();
    assert!(
        status["last_reload"]["error"].as_str().unwrap().len() > 5,
        "{status}"
    );
    assert!(
        !status["last_reload"]["diagnostics"]
            .as_array()
            .unwrap()
            .is_empty(),
        "{status}"
    );
    assert_eq!(version(&s), v2);
    let metrics = request(s.addr, "GET", "/metrics", &[], b"").body;
    assert!(
        metrics.contains("switchyard_policy_reloads_total{result=\"ok\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("switchyard_policy_reloads_total{result=\"error\"} 1"),
        "{metrics}"
    );
}

#[test]
fn sighup_reloads_at_once() {
    let dir = policy_dir(&["support"]);
    let file = dir.path().join("support.toml");
    let s = start(&["--policy", file.to_str().unwrap()], &[]);
    let reloads_ok = |s: &serve_proc::Served| {
        request(s.addr, "GET", "/v1/status", &[], b"").json()["reloads_ok"]
            .as_u64()
            .unwrap()
    };
    assert_eq!(reloads_ok(&s), 0);
    s.signal("HUP");
    eventually("the SIGHUP reload", || reloads_ok(&s) >= 1);
}

#[test]
fn sigterm_lets_a_request_in_flight_finish() {
    let dir = policy_dir(&["support"]);
    let mut s = start(&["--policy", dir.path().to_str().unwrap()], &[]);
    let step = br#"{"role":"x","input_tokens":5}"#;
    // A slow client: the headers and half the body now, the rest after SIGTERM.
    let mut conn = std::net::TcpStream::connect(s.addr).unwrap();
    conn.write_all(&serve_http::head(
        s.addr,
        "POST",
        "/v1/route",
        &[],
        step.len(),
    ))
    .unwrap();
    conn.write_all(&step[..10]).unwrap();
    conn.flush().unwrap();
    // Make sure the server has the request before the signal (no timing is asserted).
    eventually("the request to be in flight", || {
        request(s.addr, "GET", "/healthz", &[], b"").status == 200
    });
    std::thread::sleep(Duration::from_millis(200));
    s.signal("TERM");
    std::thread::sleep(Duration::from_millis(200));
    conn.write_all(&step[10..]).unwrap();
    let r = serve_http::read_reply(&mut conn);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["policy"], "support");
    assert_eq!(s.wait().code(), Some(0), "{}", s.stderr_text());
}

#[tokio::test]
async fn a_large_chat_body_is_counted_off_the_runtime_and_decided_the_same_way() {
    let dir = policy_dir(&["support"]);
    let app = app(state_for(dir.path(), ServeOptions::default()));
    // 400,000 characters: about 105,000 tokens with the approx tokenizer.
    let text = "word ".repeat(80_000);
    let body = json!({
        "model": "support",
        "messages": [{"role": "user", "content": text}],
        "switchyard": {"role": "x"}
    });
    let (status, headers, out) =
        call(&app, "POST", "/v1/chat/completions", &[], &body.to_string()).await;
    assert_eq!(status, StatusCode::OK, "{out}");
    assert_eq!(headers["x-switchyard-tier"], "cheap");
    // The same request through the decision API, with the count made here, agrees.
    let tokens = (400_000u64 * 21).div_ceil(80);
    let step = json!({"role": "x", "input_tokens": tokens}).to_string();
    let (_, _, decided) = call(&app, "POST", "/v1/route", &[], &step).await;
    assert_eq!(json_of(&decided)["tier"], "cheap");
}
