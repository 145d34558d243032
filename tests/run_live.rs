//! Running steps against real providers over real sockets: fake OpenAI and Anthropic
//! servers on 127.0.0.1 stand in for them (a policy's `base_url` points at them). The
//! runner falls back through a tier's list after a 503, bills the provider's own usage with
//! cached and cache-write tokens at their prices, and `switchyard run --live` sends a step's
//! `messages`; without `--live` nothing leaves the machine.
#![cfg(feature = "cli")]

#[path = "common/fake_provider.rs"]
mod fake_provider;

use std::path::Path;
use std::sync::Arc;

use fake_provider::{FakeProvider, Reply};
use serde_json::{json, Value};
use switchyard::calllog::TokenSource;
use switchyard::clients::{ChatRequest, Clients};
use switchyard::money::Picos;
use switchyard::runner::{MemorySink, Runner};
use switchyard::{PolicySet, Router, Step};

const KEY_VAR: &str = "SWITCHYARD_TEST_LIVE_KEY";
const KEY: &str = "sk-live-test-42";

/// A policy whose `premium` tier is an OpenAI-format model (no retries) falling back to an
/// Anthropic-format one with cached-token prices.
fn policy(openai: &str, anthropic: &str) -> String {
    format!(
        r#"[policy]
name = "live"
default_tier = "premium"

[models.first]
provider = "openai"
model_id = "gpt-test"
base_url = "{openai}/v1"
api_key_env = "{KEY_VAR}"
input_usd_per_mtok = 2.0
output_usd_per_mtok = 8.0
cached_input_usd_per_mtok = 0.5
max_retries = 0

[models.second]
provider = "anthropic"
model_id = "claude-test"
base_url = "{anthropic}"
api_key_env = "{KEY_VAR}"
input_usd_per_mtok = 3.0
output_usd_per_mtok = 15.0
cached_input_usd_per_mtok = 0.3
cache_write_usd_per_mtok = 3.75
max_output_tokens = 1000

[tiers]
premium = ["first", "second"]
"#
    )
}

fn openai_answer(text: &str, prompt: u64, completion: u64, cached: u64) -> Value {
    json!({
        "id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "gpt-test",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion,
                  "prompt_tokens_details": {"cached_tokens": cached}}
    })
}

fn anthropic_answer(text: &str) -> Value {
    json!({
        "id": "msg_1", "type": "message", "role": "assistant", "model": "claude-test",
        "content": [{"type": "text", "text": text}],
        "stop_reason": "end_turn", "stop_sequence": null,
        "usage": {"input_tokens": 100, "output_tokens": 50,
                  "cache_read_input_tokens": 600, "cache_creation_input_tokens": 300}
    })
}

fn runner(text: &str) -> (Runner, Arc<MemorySink>) {
    std::env::set_var(KEY_VAR, KEY);
    let set = PolicySet::from_policy_text(Path::new("live.toml"), text).unwrap();
    let clients = Clients::live(&set).unwrap();
    let log = Arc::new(MemorySink::new());
    let r = Runner::new(Router::new(set), clients).with_sink(log.clone());
    (r, log)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_503_falls_back_to_the_next_model_and_bills_its_cached_tokens() {
    let openai = FakeProvider::start(vec![Reply::Json(
        503,
        json!({"error": {"message": "overloaded"}}),
        vec![],
    )])
    .await;
    let anthropic =
        FakeProvider::start(vec![Reply::Json(200, anthropic_answer("done"), vec![])]).await;
    let (r, log) = runner(&policy(&openai.url(""), &anthropic.url("")));
    let out = r
        .run_step(
            &Step::new("plan").prompt("Plan it."),
            ChatRequest::default(),
        )
        .await
        .unwrap();
    assert_eq!(out.text(), "done");
    let rec = &log.records()[0];
    assert_eq!(rec.model, "second");
    assert_eq!(rec.tier, "premium");
    assert_eq!(rec.fallback_from, ["first"]);
    assert_eq!(rec.token_source, TokenSource::Provider);
    // Anthropic's input excludes the cache: the record holds the total, parts beside it.
    assert_eq!(
        (
            rec.input_tokens,
            rec.cached_input_tokens,
            rec.cache_write_tokens,
            rec.output_tokens
        ),
        (1000, 600, 300, 50)
    );
    // 100 × $3 + 600 × $0.30 + 300 × $3.75 + 50 × $15, per million tokens.
    assert_eq!(
        rec.cost,
        Picos(300_000_000 + 180_000_000 + 1_125_000_000 + 750_000_000)
    );
    // One try each (max_retries = 0 on the first), each in its own wire format and key header.
    let (a, b) = (openai.seen(), anthropic.seen());
    assert_eq!(a.len(), 1);
    assert_eq!(a[0].path, "/v1/chat/completions");
    assert_eq!(a[0].headers["authorization"], format!("Bearer {KEY}"));
    assert_eq!(a[0].body["model"], "gpt-test");
    assert_eq!(b.len(), 1);
    assert_eq!(b[0].path, "/v1/messages");
    assert_eq!(b[0].headers["x-api-key"], KEY);
    assert_eq!(b[0].body["model"], "claude-test");
    assert_eq!(
        b[0].body["messages"],
        json!([{"role": "user", "content": "Plan it."}])
    );
    // The fallback is sent the output limit its own worst case allows.
    assert_eq!(b[0].body["max_tokens"], 1000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusal_that_another_model_would_not_fix_does_not_fall_back() {
    let openai = FakeProvider::start(vec![Reply::Json(
        400,
        json!({"error": {"message": "bad request"}}),
        vec![],
    )])
    .await;
    let anthropic =
        FakeProvider::start(vec![Reply::Json(200, anthropic_answer("x"), vec![])]).await;
    let (r, log) = runner(&policy(&openai.url(""), &anthropic.url("")));
    let err = r
        .run_step(
            &Step::new("plan").prompt("Plan it."),
            ChatRequest::default(),
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind(), "client_error", "{err}");
    assert!(anthropic.seen().is_empty());
    assert!(log.records().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openai_cached_tokens_are_billed_at_the_cached_price() {
    let openai = FakeProvider::start(vec![Reply::Json(
        200,
        openai_answer("ok", 1000, 200, 600),
        vec![],
    )])
    .await;
    let (r, log) = runner(&policy(&openai.url(""), "http://127.0.0.1:9"));
    r.run_step(&Step::new("plan").prompt("hi"), ChatRequest::default())
        .await
        .unwrap();
    let rec = &log.records()[0];
    assert_eq!(rec.model, "first");
    assert!(rec.fallback_from.is_empty());
    assert_eq!((rec.input_tokens, rec.cached_input_tokens), (1000, 600));
    // 400 × $2 + 600 × $0.50 + 200 × $8, per million tokens.
    assert_eq!(rec.cost, Picos(800_000_000 + 300_000_000 + 1_600_000_000));
}

/// `switchyard run --live` against the fake: the step's `messages` go up, the log holds the
/// provider's usage and exact cost; without `--live` the fake sees nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_live_calls_the_policys_providers_and_logs_exact_costs() {
    let openai = FakeProvider::start(vec![Reply::Json(
        200,
        openai_answer("ok", 1000, 200, 600),
        vec![],
    )])
    .await;
    let dir = tempfile::tempdir().unwrap();
    let policy_path = dir.path().join("live.toml");
    std::fs::write(&policy_path, policy(&openai.url(""), "http://127.0.0.1:9")).unwrap();
    let steps = dir.path().join("steps.jsonl");
    std::fs::write(
        &steps,
        r#"{"role":"plan","messages":[{"role":"system","content":"be brief"},{"role":"user","content":"hello"}]}
"#,
    )
    .unwrap();
    let log = dir.path().join("calls.jsonl");
    let run = |live: bool| {
        let (p, s, l) = (policy_path.clone(), steps.clone(), log.clone());
        tokio::task::spawn_blocking(move || {
            let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_switchyard"));
            cmd.arg("run").arg("-p").arg(p).arg(s).arg("--log").arg(l);
            if live {
                cmd.arg("--live");
            }
            cmd.env(KEY_VAR, KEY).output().unwrap()
        })
    };
    let offline = run(false).await.unwrap();
    assert!(offline.status.success(), "{offline:?}");
    assert!(openai.seen().is_empty(), "without --live nothing is sent");
    std::fs::remove_file(&log).unwrap();

    let out = run(true).await.unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let seen = openai.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(
        seen[0].body["messages"],
        json!([{"role": "system", "content": "be brief"}, {"role": "user", "content": "hello"}])
    );
    let line = std::fs::read_to_string(&log).unwrap();
    let rec: Value = serde_json::from_str(line.trim()).unwrap();
    assert_eq!(rec["model"], "first");
    assert_eq!(rec["token_source"], "provider");
    assert_eq!(rec["input_tokens"], 1000);
    assert_eq!(rec["cached_input_tokens"], 600);
    assert_eq!(rec["cost"], 2_700_000_000u64);
}

#[test]
fn a_step_line_with_bad_messages_is_an_error_row_and_the_run_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let policy_path = dir.path().join("p.toml");
    std::fs::write(
        &policy_path,
        policy("http://127.0.0.1:9", "http://127.0.0.1:9"),
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_switchyard"))
        .args(["run", "-p"])
        .arg(&policy_path)
        .arg("-")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin
                .take()
                .unwrap()
                .write_all(b"{\"role\":\"plan\",\"messages\":[{\"role\":\"robot\",\"content\":\"x\"}]}\n{\"role\":\"plan\",\"prompt\":\"ok\"}\n")?;
            c.wait_with_output()
        })
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("line 1: `messages`"), "{text}");
    assert!(
        text.lines()
            .any(|l| l.trim_start().starts_with('2') && l.contains("first")),
        "{text}"
    );
}

/// A fallback lacking a capability that a guard holding for the step requires is passed
/// over, even though it is next in the list.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fallback_without_a_guards_capability_is_passed_over() {
    let first = FakeProvider::start(vec![Reply::Json(
        503,
        json!({"error": {"message": "overloaded"}}),
        vec![],
    )])
    .await;
    let weak = FakeProvider::start(vec![Reply::Json(200, anthropic_answer("weak"), vec![])]).await;
    let third = FakeProvider::start(vec![Reply::Json(
        200,
        openai_answer("safe", 10, 2, 0),
        vec![],
    )])
    .await;
    let text = policy(&first.url(""), &weak.url("")).replace(
        "premium = [\"first\", \"second\"]",
        &format!(
            r#"premium = ["first", "second", "third"]

[models.third]
provider = "openai"
base_url = "{}/v1"
input_usd_per_mtok = 1.0
output_usd_per_mtok = 1.0
capabilities = ["injection_tested"]

[[guards]]
name = "untrusted-needs-tested"
when = {{ untrusted_input = true }}
require = ["injection_tested"]"#,
            third.url("")
        ),
    );
    let text = text.replace(
        "cached_input_usd_per_mtok = 0.5\n",
        "cached_input_usd_per_mtok = 0.5\ncapabilities = [\"injection_tested\"]\n",
    );
    let (r, log) = runner(&text);
    let step = Step::new("plan").prompt("hi").untrusted_input(true);
    let out = r.run_step(&step, ChatRequest::default()).await.unwrap();
    assert_eq!(out.text(), "safe");
    let rec = &log.records()[0];
    assert_eq!(rec.model, "third");
    assert_eq!(rec.fallback_from, ["first"]);
    assert!(weak.seen().is_empty(), "the weaker fallback was called");
}

/// `rebill` prices a record's cached and cache-write tokens at the catalog's prices for them.
#[test]
fn rebill_prices_cached_and_cache_write_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("calls.jsonl");
    let line = r#"{"time":"2026-11-30T10:00:00.000Z","trace_id":null,"policy":"live","policy_version":"x","step":{"role":"plan","input_tokens":1000},"tier":"premium","model":"second","rule":null,"via":"default","guard":null,"latency_us":5,"input_tokens":1000,"output_tokens":50,"cached_input_tokens":600,"cache_write_tokens":300,"fallback_from":["first"],"token_source":"provider","input_price":1,"output_price":1,"cost":1050,"cost_usd":0.00000000105}"#;
    std::fs::write(&log, format!("{line}\n")).unwrap();
    let catalog = dir.path().join("prices.toml");
    std::fs::write(
        &catalog,
        r#"[models.second]
provider = "anthropic"
input_usd_per_mtok = 3.0
output_usd_per_mtok = 15.0
cached_input_usd_per_mtok = 0.3
cache_write_usd_per_mtok = 3.75
"#,
    )
    .unwrap();
    let out_path = dir.path().join("out.jsonl");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_switchyard"))
        .arg("rebill")
        .arg(&log)
        .arg("--models")
        .arg(&catalog)
        .arg("--out")
        .arg(&out_path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rec: Value =
        serde_json::from_str(std::fs::read_to_string(&out_path).unwrap().trim()).unwrap();
    assert_eq!(rec["cached_input_tokens"], 600);
    assert_eq!(rec["fallback_from"], json!(["first"]));
    assert_eq!(
        rec["cost"],
        300_000_000u64 + 180_000_000 + 1_125_000_000 + 750_000_000
    );
}

/// The tool the step lines below offer the model.
fn weather_tool() -> Value {
    json!({"type": "function", "function": {"name": "get_weather", "description": "Weather in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}})
}

/// An OpenAI answer asking for one call of `get_weather`.
fn openai_tool_call() -> Value {
    json!({
        "id": "chatcmpl-2", "object": "chat.completion", "created": 1, "model": "gpt-test",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": null,
            "tool_calls": [{"id": "call_9", "type": "function",
                "function": {"name": "get_weather", "arguments": "{\"city\":\"Rome\"}"}}]},
            "finish_reason": "tool_calls"}],
        "usage": {"prompt_tokens": 40, "completion_tokens": 9, "total_tokens": 49}
    })
}

/// The runner hands back the canonical answer: a tool call comes back as one, with its stop
/// reason, not flattened to text.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_runner_returns_the_models_tool_calls() {
    let openai = FakeProvider::start(vec![Reply::Json(200, openai_tool_call(), vec![])]).await;
    let (r, log) = runner(&policy(&openai.url(""), "http://127.0.0.1:9"));
    let request = switchyard::clients::openai::request_from_wire(&json!({
        "messages": [{"role": "user", "content": "Weather in Rome?"}],
        "tools": [weather_tool()],
    }))
    .unwrap();
    let out = r
        .run_step(&Step::new("plan").input_tokens(40), request)
        .await
        .unwrap();
    let calls: Vec<_> = out.response.tool_calls().cloned().collect();
    assert_eq!(
        calls,
        vec![switchyard::clients::Part::ToolCall {
            id: "call_9".into(),
            name: "get_weather".into(),
            arguments: "{\"city\":\"Rome\"}".into(),
        }]
    );
    assert_eq!(
        out.response.stop_reason,
        Some(switchyard::clients::StopReason::ToolUse)
    );
    assert_eq!(out.text(), "");
    assert_eq!(openai.seen()[0].body["tools"], json!([weather_tool()]));
    assert_eq!(log.records()[0].output_tokens, 9);
}

/// `switchyard run --live`: a step line's `tools`, its assistant tool call and the tool's
/// result all go upstream in the provider's format.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_live_sends_a_step_lines_tools_tool_calls_and_tool_results() {
    let openai = FakeProvider::start(vec![Reply::Json(
        200,
        openai_answer("It is sunny.", 60, 5, 0),
        vec![],
    )])
    .await;
    let dir = tempfile::tempdir().unwrap();
    let policy_path = dir.path().join("live.toml");
    std::fs::write(&policy_path, policy(&openai.url(""), "http://127.0.0.1:9")).unwrap();
    let messages = json!([
        {"role": "user", "content": "Weather in Rome?"},
        {"role": "assistant", "content": null, "tool_calls": [{"id": "call_9", "type": "function",
            "function": {"name": "get_weather", "arguments": "{\"city\":\"Rome\"}"}}]},
        {"role": "tool", "tool_call_id": "call_9", "content": "sunny, 24C"}
    ]);
    let line = json!({"role": "plan", "messages": messages, "tools": [weather_tool()]});
    let steps = dir.path().join("steps.jsonl");
    std::fs::write(&steps, format!("{line}\n")).unwrap();
    let (p, s) = (policy_path.clone(), steps.clone());
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_switchyard"))
            .args(["run", "--live", "-p"])
            .arg(p)
            .arg(s)
            .env(KEY_VAR, KEY)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(stdout.contains("ran 1 of 1 steps"), "{stdout}");
    let seen = openai.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].body["tools"], json!([weather_tool()]));
    let sent = &seen[0].body["messages"];
    assert_eq!(sent[1]["tool_calls"][0]["function"]["name"], "get_weather");
    assert_eq!(
        sent[2],
        json!({"role": "tool", "tool_call_id": "call_9", "content": "sunny, 24C"})
    );
}
