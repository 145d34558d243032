//! `switchyard serve` as a proxy: chat requests routed and sent to fake OpenAI and Anthropic
//! servers on real sockets, plain and streamed, both ways (an OpenAI caller answered by an
//! Anthropic upstream and the reverse), upstream errors, budget refusals and the call log.

#[path = "common/fake_provider.rs"]
#[allow(dead_code)] // the fake records more than these tests read
mod fake_provider;

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::{json, Value};
use tower::ServiceExt;

use fake_provider::{anthropic_event, openai_data, FakeProvider, Reply};
use switchyard::runner::JsonlSink;
use switchyard::server::{app, AppState, ServeOptions};
use switchyard::Router;

/// A policy whose cheap tier is an Anthropic model and premium tier an OpenAI one, both at
/// the fake provider's address; `budget` is added as is.
fn policy(base: &str, budget: &str) -> String {
    format!(
        r#"[policy]
name = "support"
default_tier = "cheap"
tokenizer = "approx"

[models.claude]
provider = "anthropic"
model_id = "claude-up"
base_url = "{base}"
input_usd_per_mtok = 1.0
output_usd_per_mtok = 5.0
max_output_tokens = 1000

[models.gpt]
provider = "openai"
model_id = "gpt-up"
base_url = "{base}/v1"
input_usd_per_mtok = 2.0
output_usd_per_mtok = 8.0
max_output_tokens = 1000

[tiers]
cheap = "claude"
premium = "gpt"

[[rules]]
name = "reasoning"
when = {{ needs_chain_of_thought = true }}
tier = "premium"
{budget}
"#
    )
}

struct Setup {
    app: axum::Router,
    state: AppState,
    _dir: tempfile::TempDir,
    log: std::path::PathBuf,
    sink: Arc<JsonlSink>,
}

fn setup(fake: &FakeProvider, budget: &str) -> Setup {
    setup_with(&policy(&fake.url(""), budget))
}

/// The app on this policy text, with a call log.
fn setup_with(policy_text: &str) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("support.toml");
    std::fs::write(&file, policy_text).unwrap();
    let log = dir.path().join("calls.jsonl");
    let sink = Arc::new(JsonlSink::append(&log).unwrap());
    let state = AppState::new(
        Arc::new(Router::load(&file).unwrap()),
        ServeOptions::default(),
    )
    .with_call_sink(sink.clone());
    Setup {
        app: app(state.clone()),
        state,
        _dir: dir,
        log,
        sink,
    }
}

async fn post(
    app: &axum::Router,
    path: &str,
    body: &Value,
) -> (StatusCode, axum::http::HeaderMap, String) {
    let req = Request::builder()
        .method("POST")
        .uri(path)
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .unwrap();
    let resp = app.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .unwrap();
    (status, headers, String::from_utf8(bytes.to_vec()).unwrap())
}

fn records(s: &Setup) -> Vec<Value> {
    use switchyard::runner::CallSink;
    s.sink.flush().unwrap();
    std::fs::read_to_string(&s.log)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn anthropic_answer() -> Value {
    json!({
        "id": "msg_1", "type": "message", "role": "assistant", "model": "claude-up-2026",
        "content": [{"type": "text", "text": "hello from claude"}],
        "stop_reason": "end_turn", "stop_sequence": null,
        "usage": {"input_tokens": 1000, "output_tokens": 200}
    })
}

#[tokio::test]
async fn an_openai_caller_is_answered_by_an_anthropic_upstream_in_openai_format() {
    let fake = FakeProvider::start(vec![Reply::Json(200, anthropic_answer(), vec![])]).await;
    let s = setup(&fake, "");
    let body = json!({
        "model": "support",
        "max_tokens": 300,
        "messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}],
        "switchyard": {"role": "summarize", "trace_id": "t-1"}
    });
    let (status, headers, text) = post(&s.app, "/v1/chat/completions", &body).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["object"], "chat.completion");
    assert_eq!(v["model"], "claude-up");
    assert_eq!(v["choices"][0]["message"]["content"], "hello from claude");
    assert_eq!(v["usage"]["prompt_tokens"], 1000);
    assert_eq!(headers["x-switchyard-tier"], "cheap");
    assert_eq!(headers["x-switchyard-model"], "claude");
    // 1,000 × $1/M + 200 × $5/M = $0.002, exactly.
    assert_eq!(headers["x-switchyard-cost-usd"], "0.002");
    let seen = fake.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].path, "/v1/messages");
    assert_eq!(seen[0].body["model"], "claude-up");
    assert_eq!(seen[0].body["system"], "be brief");
    assert!(seen[0].body.get("switchyard").is_none());
    let recs = records(&s);
    assert_eq!(recs.len(), 1);
    assert_eq!(recs[0]["model"], "claude");
    assert_eq!(recs[0]["trace_id"], "t-1");
    assert_eq!(recs[0]["input_tokens"], 1000);
    assert_eq!(recs[0]["output_tokens"], 200);
    assert_eq!(recs[0]["cost_usd"], 0.002);
    // An answered call is `ok`, which a record leaves unwritten.
    assert!(recs[0].get("status").is_none(), "{}", recs[0]);
}

#[tokio::test]
async fn an_anthropic_caller_streams_from_an_openai_upstream() {
    let chunk = |delta: Value, finish: Value| {
        openai_data(
            &json!({"id": "c1", "object": "chat.completion.chunk", "created": 1,
            "model": "gpt-up-x", "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}),
        )
    };
    let pieces = vec![
        chunk(json!({"role": "assistant", "content": ""}), Value::Null),
        chunk(json!({"content": "hel"}), Value::Null),
        chunk(json!({"content": "lo"}), Value::Null),
        chunk(json!({}), json!("stop")),
        openai_data(
            &json!({"id": "c1", "object": "chat.completion.chunk", "created": 1,
            "model": "gpt-up-x", "choices": [],
            "usage": {"prompt_tokens": 50, "completion_tokens": 2, "total_tokens": 52}}),
        ),
        "data: [DONE]\n\n".to_string(),
    ];
    let fake = FakeProvider::start(vec![Reply::Sse {
        pieces,
        gap: Duration::from_millis(1),
        cut: false,
    }])
    .await;
    let s = setup(&fake, "");
    let body = json!({
        "model": "support", "max_tokens": 100, "stream": true,
        "thinking": {"type": "enabled", "budget_tokens": 50},
        "messages": [{"role": "user", "content": "hi"}],
        "switchyard": {"role": "plan"}
    });
    let (status, headers, text) = post(&s.app, "/v1/messages", &body).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert_eq!(headers["x-switchyard-tier"], "premium");
    assert!(headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/event-stream"));
    assert!(text.contains("event: message_start"), "{text}");
    assert!(text.contains("\"model\":\"gpt-up\""), "{text}");
    assert!(text.contains("\"text\":\"hel\""), "{text}");
    assert!(text.contains("event: message_stop"), "{text}");
    // Usage was asked of the upstream, and Anthropic callers always see it.
    let seen = fake.seen();
    assert_eq!(seen[0].path, "/v1/chat/completions");
    assert_eq!(seen[0].body["stream_options"]["include_usage"], true);
    assert!(text.contains("\"output_tokens\":2"), "{text}");
    let recs = records(&s);
    assert_eq!(recs.len(), 1);
    assert_eq!(recs[0]["input_tokens"], 50);
    assert_eq!(recs[0]["model"], "gpt");
}

#[tokio::test]
async fn an_upstream_error_keeps_its_status_and_names_the_model() {
    let err = json!({"type": "error", "error": {"type": "invalid_request_error", "message": "bad thing"}});
    let fake = FakeProvider::start(vec![Reply::Json(400, err, vec![])]).await;
    let s = setup(&fake, "");
    let body = json!({"model": "support", "max_tokens": 10,
        "messages": [{"role": "user", "content": "hi"}], "switchyard": {"role": "x"}});
    let (status, headers, text) = post(&s.app, "/v1/chat/completions", &body).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{text}");
    let v: Value = serde_json::from_str(&text).unwrap();
    let msg = v["error"]["message"].as_str().unwrap();
    assert!(
        msg.starts_with("claude: ") && msg.contains("bad thing"),
        "{msg}"
    );
    assert_eq!(headers["x-switchyard-model"], "claude");
    // One record per routed request: the failed call too, with status error and nothing billed.
    let recs = records(&s);
    assert_eq!(recs.len(), 1, "{recs:?}");
    assert_eq!(recs[0]["status"], "error");
    assert_eq!(recs[0]["model"], "claude");
    assert_eq!(recs[0]["cost"], 0);
}

#[tokio::test]
async fn an_unreachable_upstream_is_a_502() {
    // A port nothing listens on: bind one, then let it go.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("support.toml");
    let p = policy(&format!("http://127.0.0.1:{port}"), "")
        .replace("[models.gpt]", "[models.gpt]\nmax_retries = 0");
    std::fs::write(
        &file,
        p.replace(
            "output_usd_per_mtok = 5.0",
            "output_usd_per_mtok = 5.0\nmax_retries = 0",
        ),
    )
    .unwrap();
    let router = match Router::load(&file) {
        Ok(r) => r,
        // The retries key is not known to this build: the default retries still end in 502.
        Err(_) => {
            std::fs::write(&file, policy(&format!("http://127.0.0.1:{port}"), "")).unwrap();
            Router::load(&file).unwrap()
        }
    };
    let app = app(AppState::new(Arc::new(router), ServeOptions::default()));
    let body = json!({"model": "support", "max_tokens": 10,
        "messages": [{"role": "user", "content": "hi"}], "switchyard": {"role": "x"}});
    let (status, _, text) = post(&app, "/v1/messages", &body).await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{text}");
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["error"]["type"], "upstream_unavailable", "{text}");
}

#[tokio::test]
async fn a_budget_refusal_is_a_429_the_sdks_do_not_retry() {
    let fake = FakeProvider::start(vec![]).await;
    // The worst case: 1,000 output tokens × $5/M = $0.005, over a $0.001 per-call cap.
    let s = setup(&fake, "[budget]\nper_call_usd = 0.001\n");
    let body = json!({"model": "support", "max_tokens": 1000,
        "messages": [{"role": "user", "content": "hi"}], "switchyard": {"role": "x"}});
    let (status, headers, text) = post(&s.app, "/v1/chat/completions", &body).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{text}");
    assert_eq!(headers["x-should-retry"], "false");
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["error"]["code"], "budget_exceeded");
    assert_eq!(v["error"]["type"], "insufficient_quota");
    assert!(fake.seen().is_empty());
    assert!(records(&s).is_empty());
}

#[tokio::test]
async fn tool_calls_cross_formats_both_ways() {
    let tool_use = json!({
        "id": "msg_2", "type": "message", "role": "assistant", "model": "claude-up",
        "content": [{"type": "tool_use", "id": "toolu_1", "name": "lookup", "input": {"q": "clause 4"}}],
        "stop_reason": "tool_use", "stop_sequence": null,
        "usage": {"input_tokens": 30, "output_tokens": 10}
    });
    let fake = FakeProvider::start(vec![Reply::Json(200, tool_use, vec![])]).await;
    let s = setup(&fake, "");
    let body = json!({
        "model": "support", "max_tokens": 100,
        "messages": [{"role": "user", "content": "find clause 4"}],
        "tools": [{"type": "function", "function": {"name": "lookup", "description": "search",
            "parameters": {"type": "object", "properties": {"q": {"type": "string"}}}}}],
        "switchyard": {"role": "x"}
    });
    let (status, _, text) = post(&s.app, "/v1/chat/completions", &body).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["choices"][0]["finish_reason"], "tool_calls", "{text}");
    let call = &v["choices"][0]["message"]["tool_calls"][0];
    assert_eq!(call["id"], "toolu_1");
    assert_eq!(call["function"]["name"], "lookup");
    let args: Value =
        serde_json::from_str(call["function"]["arguments"].as_str().unwrap()).unwrap();
    assert_eq!(args["q"], "clause 4");
    // The tool definition went upstream in Anthropic's shape.
    let seen = fake.seen();
    assert_eq!(seen[0].body["tools"][0]["name"], "lookup");
    assert!(
        seen[0].body["tools"][0].get("input_schema").is_some(),
        "{}",
        seen[0].body
    );
}

#[tokio::test]
async fn a_client_that_goes_away_cancels_the_upstream_and_is_billed_and_logged_as_cancelled() {
    use futures_util::StreamExt;
    let start = anthropic_event(&json!({"type": "message_start", "message": {
        "id": "m1", "type": "message", "role": "assistant", "model": "claude-up",
        "content": [], "stop_reason": null, "stop_sequence": null,
        "usage": {"input_tokens": 40, "output_tokens": 1}}}));
    let block = anthropic_event(&json!({"type": "content_block_start", "index": 0,
        "content_block": {"type": "text", "text": ""}}));
    let delta = anthropic_event(&json!({"type": "content_block_delta", "index": 0,
        "delta": {"type": "text_delta", "text": "partial answer"}}));
    let fake = FakeProvider::start(vec![Reply::SseThenHang(vec![start, block, delta])]).await;
    let s = setup(&fake, "");
    let body = json!({"model": "support", "max_tokens": 100, "stream": true,
        "messages": [{"role": "user", "content": "hi"}], "switchyard": {"role": "x"}});
    let req = Request::builder()
        .method("POST")
        .uri("/v1/chat/completions")
        .body(Body::from(body.to_string()))
        .unwrap();
    let resp = s.app.clone().oneshot(req).await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let mut frames = resp.into_body().into_data_stream();
    let first = frames.next().await.unwrap().unwrap();
    assert!(String::from_utf8_lossy(&first).starts_with("data: "));
    drop(frames);
    assert!(
        fake.wait_dropped(1, Duration::from_secs(10)).await,
        "the upstream request was not cancelled"
    );
    // The record is written, and the call counted, once the call's task sees the caller gone.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let rec = loop {
        if let Some(r) = records(&s).pop() {
            break r;
        }
        assert!(std::time::Instant::now() < deadline, "no call record");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(rec["status"], "cancelled", "{rec}");
    assert_eq!(rec["model"], "claude");
    // Billed for what was produced: the partial text, counted.
    assert!(rec["output_tokens"].as_u64().unwrap() > 0, "{rec}");
    let text = s.state.metrics().render(&s.state.policies());
    assert!(text.contains("status=\"cancelled\""), "{text}");
}

/// A tier of two models at two fakes: `first` (OpenAI format, no retries) falls back to
/// `second` (Anthropic format).
fn fallback_policy(first: &str, second: &str) -> String {
    format!(
        r#"[policy]
name = "support"
default_tier = "premium"
tokenizer = "approx"

[models.first]
provider = "openai"
model_id = "gpt-up"
base_url = "{first}/v1"
input_usd_per_mtok = 2.0
output_usd_per_mtok = 8.0
max_output_tokens = 1000
max_retries = 0

[models.second]
provider = "anthropic"
model_id = "claude-up"
base_url = "{second}"
input_usd_per_mtok = 1.0
output_usd_per_mtok = 5.0
max_output_tokens = 1000

[tiers]
premium = ["first", "second"]
"#
    )
}

#[tokio::test]
async fn a_model_that_still_fails_after_its_retries_falls_back_to_the_next_in_its_tier() {
    let overloaded = || Reply::Json(503, json!({"error": {"message": "overloaded"}}), vec![]);
    let first = FakeProvider::start(vec![overloaded(), overloaded()]).await;
    let stream = vec![
        anthropic_event(&json!({"type": "message_start", "message": {
            "id": "m1", "type": "message", "role": "assistant", "model": "claude-up",
            "content": [], "stop_reason": null, "stop_sequence": null,
            "usage": {"input_tokens": 10, "output_tokens": 1}}})),
        anthropic_event(&json!({"type": "content_block_start", "index": 0,
            "content_block": {"type": "text", "text": ""}})),
        anthropic_event(&json!({"type": "content_block_delta", "index": 0,
            "delta": {"type": "text_delta", "text": "streamed"}})),
        anthropic_event(&json!({"type": "content_block_stop", "index": 0})),
        anthropic_event(&json!({"type": "message_delta",
            "delta": {"stop_reason": "end_turn", "stop_sequence": null},
            "usage": {"output_tokens": 3}})),
        anthropic_event(&json!({"type": "message_stop"})),
    ];
    let second = FakeProvider::start(vec![
        Reply::Json(200, anthropic_answer(), vec![]),
        Reply::Sse {
            pieces: stream,
            gap: Duration::ZERO,
            cut: false,
        },
    ])
    .await;
    let s = setup_with(&fallback_policy(&first.url(""), &second.url("")));
    let body = json!({"model": "support", "max_tokens": 300,
        "messages": [{"role": "user", "content": "hi"}], "switchyard": {"role": "x"}});
    let (status, headers, text) = post(&s.app, "/v1/chat/completions", &body).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert_eq!(headers["x-switchyard-model"], "second");
    assert_eq!(headers["x-switchyard-tier"], "premium");
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["model"], "claude-up");
    assert_eq!(v["choices"][0]["message"]["content"], "hello from claude");
    // Priced at the model that answered: 1,000 × $1/M + 200 × $5/M.
    assert_eq!(headers["x-switchyard-cost-usd"], "0.002");

    // A stream falls back the same way before its first event.
    let mut streamed = body.clone();
    streamed["stream"] = json!(true);
    let (status, headers, text) = post(&s.app, "/v1/chat/completions", &streamed).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert_eq!(headers["x-switchyard-model"], "second");
    assert!(text.contains("streamed"), "{text}");
    assert_eq!(first.seen().len(), 2);

    let recs = records(&s);
    assert_eq!(recs.len(), 2, "{recs:?}");
    for rec in &recs {
        assert_eq!(rec["model"], "second", "{rec}");
        assert_eq!(rec["fallback_from"], json!(["first"]), "{rec}");
    }
}

#[tokio::test]
async fn a_budget_that_downgrades_sends_the_call_to_a_cheaper_tier() {
    let fake = FakeProvider::start(vec![Reply::Json(200, anthropic_answer(), vec![])]).await;
    // Worst cases at 500 output tokens: premium (gpt) ≈ $0.004, cheap (claude) ≈ $0.0025.
    let s = setup(
        &fake,
        "[budget]\nper_call_usd = 0.003\non_exceed = \"downgrade\"\n",
    );
    let body = json!({"model": "support", "max_tokens": 500,
        "messages": [{"role": "user", "content": "think"}],
        "switchyard": {"role": "x", "needs_chain_of_thought": true}});
    let (status, headers, text) = post(&s.app, "/v1/chat/completions", &body).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert_eq!(headers["x-switchyard-tier"], "cheap");
    assert_eq!(headers["x-switchyard-model"], "claude");
    assert_eq!(headers["x-switchyard-via"], "budget_downgrade");
    assert_eq!(fake.seen()[0].path, "/v1/messages");
    let recs = records(&s);
    assert_eq!(recs[0]["tier"], "cheap");
    assert_eq!(recs[0]["via"], "budget_downgrade");
}
