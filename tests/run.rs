//! Running steps, read like a user's session: write a policy, run a step on the mock
//! provider, check the call record's tokens and dollars against hand-computed values; then
//! budgets (refusals, downgrades, settling, 1,000 concurrent calls against a cap), the JSONL
//! sink under concurrent writers, and `switchyard run` on a file with bad lines; then the
//! hardening: worst cases bounded by the model's limit, prompts bigger than stated, overruns,
//! idle traces, cut and unwritable logs, exact dollars, escaped control characters, long and
//! non-UTF-8 lines, and the run's totals against the old every-record summary.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use assert_cmd::Command;
use switchyard::calllog::{CallRecord, TokenSource};
use switchyard::clients::{
    ChatMessage, ChatRequest, ChatResponse, ClientError, Clients, Completion, MockClient,
    MockReply, MockUsage, ModelClient, Part, SizeHints, StopReason, TokenUsage,
};
use switchyard::money::Picos;
use switchyard::policy::{Budget, OnExceed, Tokenizer};
use switchyard::runner::budget::{utc_day, Ledger, Scope, Spend};
use switchyard::runner::{CallSink, JsonlSink, MemorySink, RunError, RunTotals, Runner};
use switchyard::{PolicySet, Router, Step};

/// Three tiers, priced so the issue's examples come out: cheap $1/$5, standard $3/$15,
/// premium $15/$75 per million tokens. Only standard and premium are injection-tested.
const POLICY: &str = r#"
[policy]
name = "billing"
default_tier = "premium"

[models.small]
provider = "mock"
input_usd_per_mtok = 1.0
output_usd_per_mtok = 5.0
max_output_tokens = 4000

[models.mid]
provider = "mock"
input_usd_per_mtok = 3.0
output_usd_per_mtok = 15.0
max_output_tokens = 4000
capabilities = ["injection_tested"]

[models.big]
provider = "mock"
input_usd_per_mtok = 15.0
output_usd_per_mtok = 75.0
max_output_tokens = 4000
tokenizer = "approx"
capabilities = ["injection_tested"]

[tiers]
cheap = "small"
standard = "mid"
premium = "big"

[[rules]]
name = "format-cheap"
when = { role = "format" }
tier = "cheap"

[[guards]]
name = "untrusted-tested"
when = { untrusted_input = true }
require = ["injection_tested"]
escalate_to = "premium"
"#;

const PICOS_PER_USD: u64 = 1_000_000_000_000;

fn router(budget: &str) -> Router {
    let text = format!("{POLICY}\n{budget}");
    let set = PolicySet::from_policy_text(Path::new("inline.toml"), text)
        .unwrap_or_else(|e| panic!("the policy did not load: {e:?}"));
    Router::new(set)
}

fn runner(budget: &str, mock: MockClient) -> (Runner, Arc<MemorySink>) {
    let log = Arc::new(MemorySink::new());
    let r = Runner::new(router(budget), Clients::all(Arc::new(mock))).with_sink(log.clone());
    (r, log)
}

fn usage(input_tokens: u64, output_tokens: u64) -> MockUsage {
    MockUsage::Fixed(TokenUsage {
        input_tokens,
        output_tokens,
        ..TokenUsage::default()
    })
}

fn usd(n: f64) -> Picos {
    Picos((n * PICOS_PER_USD as f64).round() as u64)
}

/// A premium step of 8,000 input tokens, with a 2,000-token output limit.
fn premium_step() -> (Step, ChatRequest) {
    (
        Step::new("reason").input_tokens(8_000),
        ChatRequest::default().max_output_tokens(2_000),
    )
}

// ---- cost arithmetic -------------------------------------------------------------------------

#[tokio::test]
async fn eight_thousand_in_two_thousand_out_at_15_75_is_27_cents() {
    let (r, log) = runner("", MockClient::new().usage(usage(8_000, 2_000)));
    let (step, req) = premium_step();
    let out = r.run_step(&step, req).await.unwrap();
    let rec = &out.record;
    assert_eq!(rec.tier, "premium");
    assert_eq!(rec.model, "big");
    assert_eq!((rec.input_tokens, rec.output_tokens), (8_000, 2_000));
    assert_eq!(rec.token_source, TokenSource::Provider);
    // 8,000 × 15,000,000 + 2,000 × 75,000,000 pico-dollars.
    assert_eq!(rec.input_price.0, 15_000_000);
    assert_eq!(rec.output_price.0, 75_000_000);
    assert_eq!(rec.cost, Picos(270_000_000_000));
    assert_eq!(rec.cost_usd, 0.27);
    assert_eq!(out.text(), "ok");
    assert_eq!(log.records(), vec![rec.clone()]);
}

#[tokio::test]
async fn the_same_tokens_at_1_5_are_1_8_cents() {
    let (r, _) = runner("", MockClient::new().usage(usage(8_000, 2_000)));
    let step = Step::new("format").input_tokens(8_000);
    let out = r.run_step(&step, ChatRequest::default()).await.unwrap();
    assert_eq!(out.record.tier, "cheap");
    assert_eq!(out.record.cost, Picos(18_000_000_000));
    assert_eq!(out.record.cost_usd, 0.018);
}

#[tokio::test]
async fn a_thousand_small_calls_sum_exactly() {
    // 3 input tokens at $1/M is 3,000,000 pico-dollars: a float sum of $0.000003 drifts.
    let (r, log) = runner("", MockClient::new().usage(usage(3, 0)));
    for _ in 0..1_000 {
        r.run_step(&Step::new("format").input_tokens(3), ChatRequest::default())
            .await
            .unwrap();
    }
    let total: u128 = log.records().iter().map(|c| c.cost.0 as u128).sum();
    assert_eq!(total, 3_000_000_000);
}

// ---- where token counts come from ------------------------------------------------------------

#[tokio::test]
async fn without_provider_usage_the_tokenizer_counts_the_text() {
    let reply = "The termination clause allows either party to leave on ninety days' notice.";
    let prompt = "Summarize the termination clause: either party may terminate this Agreement \
                  on ninety (90) days' written notice.";
    let (r, _) = runner(
        "",
        MockClient::new().reply(reply).usage(MockUsage::Unreported),
    );
    // `cheap` (model `small`) has no tokenizer of its own: the policy's o200k_base counts.
    let step = Step::new("format").prompt(prompt);
    let out = r.run_step(&step, ChatRequest::default()).await.unwrap();
    let rec = &out.record;
    assert_eq!(rec.token_source, TokenSource::Tokenizer);
    assert_eq!(rec.input_tokens, Tokenizer::O200kBase.count(prompt));
    assert_eq!(rec.output_tokens, Tokenizer::O200kBase.count(reply));
    assert!(rec.input_tokens > 10 && rec.output_tokens > 10);
    // The log keeps the step's features and its counted size, never the prompt text.
    let logged = rec.step.to_value();
    assert_eq!(logged["input_tokens"], rec.input_tokens);
    assert!(logged.get("prompt").is_none());
}

#[tokio::test]
async fn a_model_with_the_approx_tokenizer_counts_chars_over_four_plus_five_percent() {
    // 400 characters in, 80 out: ceil(400 / 4 × 1.05) = 105 and ceil(80 / 4 × 1.05) = 21.
    let reply = "y".repeat(80);
    let (r, _) = runner(
        "",
        MockClient::new().reply(reply).usage(MockUsage::Unreported),
    );
    let step = Step::new("reason").input_tokens(100);
    let req = ChatRequest::new(vec![ChatMessage::user("u".repeat(300))]).system("s".repeat(100));
    let out = r.run_step(&step, req).await.unwrap();
    let rec = &out.record;
    assert_eq!(rec.model, "big");
    assert_eq!(rec.token_source, TokenSource::Approx);
    // Counted per message: ceil(100 × 21 / 80) + ceil(300 × 21 / 80) = 27 + 79.
    assert_eq!(rec.input_tokens, 27 + 79);
    assert_eq!(rec.output_tokens, 21);
    assert_eq!(rec.cost, Picos(106 * 15_000_000 + 21 * 75_000_000));
}

/// A client that keeps the last request it was sent: any provider fits behind the trait.
#[derive(Debug, Default)]
struct Recorder(std::sync::Mutex<Option<ChatRequest>>);

impl ModelClient for Recorder {
    fn complete<'a>(&'a self, request: &'a ChatRequest, _hints: SizeHints) -> Completion<'a> {
        *self.0.lock().unwrap() = Some(request.clone());
        Box::pin(async {
            Ok(ChatResponse {
                id: "r".into(),
                model: "m".into(),
                content: vec![Part::text("{}")],
                stop_reason: Some(StopReason::EndTurn),
                usage: None,
            })
        })
    }
}

#[tokio::test]
async fn the_runner_fills_in_the_model_name_limit_json_mode_and_prompt() {
    let rec = Arc::new(Recorder::default());
    let r = Runner::new(
        router(""),
        Clients::new()
            .with("mid", rec.clone())
            .with_fallback(rec.clone()),
    );
    let step = Step::new("reason")
        .prompt("Extract the parties.")
        .output_must_be_json(true);
    r.run_step(&step, ChatRequest::default()).await.unwrap();
    let sent = rec.0.lock().unwrap().clone().unwrap();
    assert_eq!(sent.model, "big");
    // No limit asked: the model's max_output_tokens.
    assert_eq!(sent.max_output_tokens, Some(4_000));
    assert!(sent.json_output);
    assert_eq!(
        sent.messages,
        vec![ChatMessage::user("Extract the parties.")]
    );

    // A limit asked is kept, and messages given are sent as they are.
    let req = ChatRequest::new(vec![ChatMessage::user("hi")])
        .system("be brief")
        .max_output_tokens(50);
    r.run_step(&Step::new("reason").input_tokens(5), req.clone())
        .await
        .unwrap();
    let sent = rec.0.lock().unwrap().clone().unwrap();
    assert_eq!(sent.max_output_tokens, Some(50));
    assert_eq!(sent.messages, req.messages);
    assert_eq!(sent.system, req.system);
    assert!(!sent.json_output);
}

#[tokio::test]
async fn the_mock_simulates_a_bill_of_the_request_size() {
    let (r, _) = runner("", MockClient::new().usage(MockUsage::Simulated));
    let step = Step::new("reason").input_tokens(1_234);
    let out = r.run_step(&step, ChatRequest::default()).await.unwrap();
    // Input: the step's size; output: up to the limit sent (the model's 4,000).
    assert_eq!(
        (out.record.input_tokens, out.record.output_tokens),
        (1_234, 4_000)
    );
    assert_eq!(out.record.token_source, TokenSource::Provider);
    // An expected output size is billed instead, never past the limit sent.
    let hint = SizeHints::output_tokens(250);
    let out = r
        .run_step_with(&step, ChatRequest::default(), hint)
        .await
        .unwrap();
    assert_eq!(out.record.output_tokens, 250);
    let req = ChatRequest::default().max_output_tokens(100);
    let out = r.run_step_with(&step, req, hint).await.unwrap();
    assert_eq!(out.record.output_tokens, 100);
}

// ---- budgets ---------------------------------------------------------------------------------

#[tokio::test]
async fn a_trace_cap_refuses_the_call_that_would_cross_it_and_settles_at_actual_cost() {
    // Worst case per call: 8,000 × $15/M + 2,000 × $75/M = $0.27. Actual: 500 out, $0.1575.
    let (r, log) = runner(
        "[budget]\nper_trace_usd = 0.5\n",
        MockClient::new().usage(usage(8_000, 500)),
    );
    let step = Step::new("reason").input_tokens(8_000).trace_id("t-1");
    let req = || ChatRequest::default().max_output_tokens(2_000);
    r.run_step(&step, req()).await.unwrap();
    // $0.1575 settled + $0.27 reserved = $0.4275 <= $0.5: admitted only because the first
    // call settled at its actual cost, not its worst case.
    r.run_step(&step, req()).await.unwrap();
    let spend = r.ledger().trace_spend("t-1");
    assert_eq!(spend.settled, usd(0.315));
    assert_eq!(spend.reserved, Picos::ZERO);
    // $0.315 + $0.27 = $0.585 > $0.5.
    let err = r.run_step(&step, req()).await.unwrap_err();
    assert_eq!(err.kind(), "budget_exceeded");
    let msg = err.to_string();
    assert!(
        msg.contains("trace `t-1`") && msg.contains("per_trace_usd"),
        "{msg}"
    );
    // Exact dollars: $0.315 spent, a worst case of $0.27.
    assert!(
        msg.contains("has $0.315 spent") && msg.contains("worst case of $0.27 "),
        "{msg}"
    );
    let json = err.to_json(Some("t-1"));
    assert_eq!(json["error"]["cap"], "per_trace_usd");
    assert_eq!(json["trace_id"], "t-1");
    assert_eq!(log.len(), 2, "a refused call is not a call");
    // Another trace has its own cap.
    r.run_step(&step.clone().trace_id("t-2"), req())
        .await
        .unwrap();
}

#[tokio::test]
async fn a_per_call_cap_rejects_an_expensive_worst_case() {
    let (r, log) = runner(
        "[budget]\nper_call_usd = 0.2\n",
        MockClient::new().usage(usage(8_000, 10)),
    );
    let (step, req) = premium_step();
    let err = r.run_step(&step, req).await.unwrap_err();
    assert!(matches!(err, RunError::Budget(_)));
    assert!(err.to_string().contains("per_call_usd"), "{err}");
    assert!(log.is_empty());
    // A smaller output limit fits: 8,000 × $15/M + 1,000 × $75/M = $0.195.
    let ok = r
        .run_step(&step, ChatRequest::default().max_output_tokens(1_000))
        .await
        .unwrap();
    assert_eq!(ok.record.tier, "premium");
}

#[tokio::test]
async fn downgrade_takes_the_cheapest_tier_that_fits() {
    let (r, _) = runner(
        "[budget]\nper_call_usd = 0.2\non_exceed = \"downgrade\"\n",
        MockClient::new().usage(usage(8_000, 2_000)),
    );
    let (step, req) = premium_step();
    let out = r.run_step(&step, req).await.unwrap();
    let rec = &out.record;
    assert_eq!(rec.tier, "cheap");
    assert_eq!(rec.model, "small");
    assert_eq!(rec.via, "budget_downgrade");
    assert_eq!(rec.rule, None, "the rule (here the default) is kept");
    assert_eq!(rec.cost, Picos(18_000_000_000));
}

#[tokio::test]
async fn downgrade_never_breaks_a_guard() {
    let (r, _) = runner(
        "[budget]\nper_call_usd = 0.2\non_exceed = \"downgrade\"\n",
        MockClient::new().usage(usage(8_000, 2_000)),
    );
    // Untrusted input: `cheap` lacks injection_tested, so `standard` is the cheapest
    // that satisfies the guard: 8,000 × $3/M + 2,000 × $15/M = $0.054.
    let step = Step::new("reason")
        .input_tokens(8_000)
        .untrusted_input(true);
    let req = ChatRequest::default().max_output_tokens(2_000);
    let out = r.run_step(&step, req).await.unwrap();
    assert_eq!(out.record.tier, "standard");
    assert_eq!(out.record.via, "budget_downgrade");
    assert_eq!(out.record.cost, Picos(54_000_000_000));
}

#[tokio::test]
async fn downgrade_refuses_when_no_tier_fits() {
    let (r, _) = runner(
        "[budget]\nper_call_usd = 0.01\non_exceed = \"downgrade\"\n",
        MockClient::new(),
    );
    let (step, req) = premium_step();
    // Even cheap's worst case, $0.018, is over $0.01: the refusal names the chosen tier.
    let err = r.run_step(&step, req).await.unwrap_err();
    assert_eq!(err.kind(), "budget_exceeded");
    let msg = err.to_string();
    assert!(msg.contains("tier `premium`"), "{msg}");
    assert!(
        msg.contains("no tier whose model meets the step's guards fits either"),
        "{msg}"
    );
}

#[tokio::test]
async fn a_workload_day_cap_counts_every_trace() {
    let (r, _) = runner(
        "[budget]\nper_workload_day_usd = 0.05\n",
        MockClient::new().usage(usage(8_000, 2_000)),
    );
    let step = |t: &str| Step::new("format").input_tokens(8_000).trace_id(t);
    let req = || ChatRequest::default().max_output_tokens(2_000);
    // $0.018 each: two fit ($0.036), a third would make $0.054.
    r.run_step(&step("a"), req()).await.unwrap();
    r.run_step(&step("b"), req()).await.unwrap();
    let err = r.run_step(&step("c"), req()).await.unwrap_err();
    assert!(err.to_string().contains("workload `billing`"), "{err}");
    let day = r
        .ledger()
        .workload_day_spend("billing", utc_day(SystemTime::now()));
    assert_eq!(day.settled, usd(0.036));
}

#[tokio::test]
async fn a_cap_with_no_output_limit_is_refused_as_unbounded() {
    let text = POLICY.replace("max_output_tokens = 4000\ntokenizer", "tokenizer");
    let set = PolicySet::from_policy_text(
        Path::new("inline.toml"),
        format!("{text}\n[budget]\nper_call_usd = 5.0\n"),
    )
    .unwrap();
    let r = Runner::new(Router::new(set), Clients::all(Arc::new(MockClient::new())));
    let err = r
        .run_step(
            &Step::new("reason").input_tokens(10),
            ChatRequest::default(),
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind(), "unbounded_output");
    assert!(err.to_string().contains("`big`"), "{err}");
}

#[tokio::test]
async fn a_failed_call_gives_its_reservation_back() {
    let fail = MockClient::new().replying(MockReply::Fail(ClientError::Transport(
        "connection refused".into(),
    )));
    let (r, log) = runner("[budget]\nper_trace_usd = 1.0\n", fail);
    let (step, req) = premium_step();
    let err = r.run_step(&step.trace_id("t"), req).await.unwrap_err();
    assert_eq!(err.kind(), "client_error");
    assert!(err.to_string().contains("connection refused"));
    assert_eq!(r.ledger().trace_spend("t").committed(), Picos::ZERO);
    assert!(log.is_empty());
}

#[tokio::test]
async fn a_call_dropped_midway_gives_its_reservation_back() {
    let slow = MockClient::new().latency(Duration::from_secs(60));
    let (r, log) = runner("[budget]\nper_trace_usd = 1.0\n", slow);
    let (step, req) = premium_step();
    let step = step.trace_id("t");
    let call = r.run_step(&step, req);
    // The caller gives up on the call: its worst case must not stay held.
    assert!(tokio::time::timeout(Duration::from_millis(20), call)
        .await
        .is_err());
    assert_eq!(r.ledger().trace_spend("t").committed(), Picos::ZERO);
    assert_eq!(r.ledger().trace_spend("t").peak, usd(0.27));
    assert!(log.is_empty());
}

#[tokio::test]
async fn a_model_without_a_client_is_an_error() {
    let r = Runner::new(router(""), Clients::new());
    let err = r
        .run_step(
            &Step::new("format").input_tokens(10),
            ChatRequest::default(),
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind(), "no_client");
    assert!(err.to_string().contains("`small`"));
}

#[tokio::test]
async fn routing_errors_come_through() {
    let (r, _) = runner("", MockClient::new());
    let err = r
        .run_step(&Step::new("format"), ChatRequest::default())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), "invalid_step");
}

#[test]
fn each_utc_day_has_its_own_cap() {
    let budget = Budget {
        per_trace: None,
        per_workload_day: Some(usd(1.0)),
        per_call: None,
        on_exceed: OnExceed::Reject,
    };
    let ledger = Ledger::new();
    let on = |day| Scope {
        workload: "billing",
        trace: None,
        day,
    };
    let r = ledger
        .reserve(&budget, on(100), "premium", usd(0.8))
        .unwrap();
    ledger.settle(r, usd(0.7));
    let refused = ledger
        .reserve(&budget, on(100), "premium", usd(0.5))
        .unwrap_err();
    assert_eq!(refused.committed, usd(0.7));
    // The next day starts from zero; the day before is kept while calls may still settle.
    let r = ledger
        .reserve(&budget, on(101), "premium", usd(0.5))
        .unwrap();
    ledger.settle(r, usd(0.5));
    assert_eq!(ledger.workload_day_spend("billing", 100).settled, usd(0.7));
    let r = ledger
        .reserve(&budget, on(102), "premium", usd(0.1))
        .unwrap();
    ledger.release(r);
    assert_eq!(ledger.workload_day_spend("billing", 100), Spend::default());
    assert_eq!(ledger.workload_day_spend("billing", 101).settled, usd(0.5));
    assert_eq!(
        ledger.workload_day_spend("billing", 102).committed(),
        Picos::ZERO
    );
}

/// 1,000 calls at once on 4 worker threads, each held for a millisecond inside the mock
/// so many overlap, against a per-trace and a per-workload-day cap.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_thousand_concurrent_calls_never_cross_a_cap() {
    // Worst case $0.27, actual $0.1575 per call.
    let cap_trace = usd(20.0);
    let cap_day = usd(30.0);
    let mock = MockClient::new()
        .latency(Duration::from_millis(1))
        .usage(usage(8_000, 500));
    let (r, log) = runner(
        "[budget]\nper_trace_usd = 20.0\nper_workload_day_usd = 30.0\n",
        mock,
    );
    let r = Arc::new(r);
    let mut tasks = Vec::new();
    for i in 0..1_000 {
        let r = r.clone();
        tasks.push(tokio::spawn(async move {
            // Two traces: the first 700 calls share one, the rest another.
            let trace = if i < 700 { "hot" } else { "cool" };
            let step = Step::new("reason").input_tokens(8_000).trace_id(trace);
            r.run_step(&step, ChatRequest::default().max_output_tokens(2_000))
                .await
        }));
    }
    let (mut ok, mut refused) = (0u64, 0u64);
    for t in tasks {
        match t.await.unwrap() {
            Ok(_) => ok += 1,
            Err(e) => {
                assert_eq!(e.kind(), "budget_exceeded", "{e}");
                refused += 1;
            }
        }
    }
    assert_eq!(ok + refused, 1_000);
    assert!(refused > 0, "the caps must bind in this test");

    let records = log.records();
    assert_eq!(records.len() as u64, ok);
    let actual = |trace: &str| -> u128 {
        records
            .iter()
            .filter(|c| c.trace_id.as_deref() == Some(trace))
            .map(|c| c.cost.0 as u128)
            .sum()
    };
    let day = r
        .ledger()
        .workload_day_spend("billing", utc_day(SystemTime::now()));
    let hot = r.ledger().trace_spend("hot");
    let cool = r.ledger().trace_spend("cool");
    for (spend, cap) in [(hot, cap_trace), (cool, cap_trace), (day, cap_day)] {
        // Never past the cap, not even for an instant with reservations counted.
        assert!(
            spend.peak <= cap,
            "peak {:?} over cap {:?}",
            spend.peak,
            cap
        );
        assert_eq!(spend.reserved, Picos::ZERO, "every reservation settled");
    }
    // Settled exactly at the calls' actual costs.
    assert_eq!(hot.settled.0 as u128, actual("hot"));
    assert_eq!(cool.settled.0 as u128, actual("cool"));
    assert_eq!(day.settled.0 as u128, actual("hot") + actual("cool"));
    assert_eq!(day.settled, Picos(ok * 157_500_000_000));
}

// ---- the JSONL sink --------------------------------------------------------------------------

fn record(n: usize, writer: usize) -> CallRecord {
    let mut r: CallRecord = serde_json::from_value(serde_json::json!({
        "time": "2026-11-26T06:19:42.123Z", "trace_id": format!("w{writer}-{n}"),
        "policy": "billing", "policy_version": "0123456789ab",
        "step": {"role": "reason", "input_tokens": 8000, "tags": {"note": "x".repeat(n % 300)}},
        "tier": "premium", "model": "big", "rule": null, "via": "default", "guard": null,
        "latency_us": 1, "input_tokens": 8000, "output_tokens": 2000,
        "token_source": "provider", "input_price": 0, "output_price": 0,
        "cost": 0, "cost_usd": 0.0
    }))
    .unwrap();
    r.price(
        switchyard::money::PicosPerToken(15_000_000),
        switchyard::money::PicosPerToken(75_000_000),
    );
    r
}

#[test]
fn concurrent_writers_leave_whole_parseable_lines() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("calls.jsonl");
    // Two sinks on one file, as two processes would have, each shared by four threads.
    let sinks = [
        Arc::new(JsonlSink::append(&path).unwrap()),
        Arc::new(JsonlSink::append(&path).unwrap()),
    ];
    std::thread::scope(|s| {
        for w in 0..8 {
            let sink = sinks[w % 2].clone();
            s.spawn(move || {
                for n in 0..500 {
                    sink.record(&record(n, w)).unwrap();
                }
            });
        }
    });
    for sink in &sinks {
        sink.flush().unwrap();
    }
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.ends_with('\n'));
    let mut seen = std::collections::HashSet::new();
    for (i, line) in text.lines().enumerate() {
        let r: CallRecord = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("line {} is not a whole record: {e}", i + 1));
        assert_eq!(r.cost, Picos(270_000_000_000));
        assert!(seen.insert(r.trace_id.unwrap()), "a line was written twice");
    }
    assert_eq!(seen.len(), 8 * 500);
}

#[test]
fn a_buffered_log_writes_whole_lines_when_full_on_flush_and_on_drop() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("calls.jsonl");
    let lines = || std::fs::read_to_string(&path).unwrap().lines().count();
    // A buffer of ~3 lines, shared by four threads: every write is of whole lines.
    let line_len = serde_json::to_vec(&record(0, 0)).unwrap().len() + 1;
    let sink =
        Arc::new(JsonlSink::buffered(&path, 3 * line_len, Duration::from_secs(3600)).unwrap());
    std::thread::scope(|s| {
        for w in 0..4 {
            let sink = sink.clone();
            s.spawn(move || {
                for n in 0..250 {
                    sink.record(&record(n, w)).unwrap();
                }
            });
        }
    });
    // The writer thread writes a full buffer on its own, without a flush.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while lines() == 0 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(
        lines() > 0,
        "a full buffer is written without waiting for a flush"
    );
    sink.flush().unwrap();
    assert_eq!(lines(), 1_000);
    for line in std::fs::read_to_string(&path).unwrap().lines() {
        serde_json::from_str::<CallRecord>(line).unwrap();
    }
    // Held in memory until dropped.
    sink.record(&record(1, 9)).unwrap();
    assert_eq!(lines(), 1_000);
    drop(sink);
    assert_eq!(lines(), 1_001);
}

#[tokio::test]
async fn the_runner_appends_to_a_jsonl_log() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("calls.jsonl");
    let r = Runner::new(router(""), Clients::all(Arc::new(MockClient::new())))
        .with_sink(Arc::new(JsonlSink::append(&path).unwrap()));
    let (step, req) = premium_step();
    let out = r.run_step(&step.trace_id("t-9"), req).await.unwrap();
    // The sink's writer thread writes the line; flush waits for it.
    r.flush().unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    let back: CallRecord = serde_json::from_str(text.trim_end()).unwrap();
    assert_eq!(back, out.record);
    assert_eq!(back.trace_id.as_deref(), Some("t-9"));
    assert!(
        back.time.ends_with('Z') && back.time.len() == 24,
        "{}",
        back.time
    );
}

/// A writer the test can read back: what the tracing subscriber printed.
#[derive(Clone, Default)]
struct Captured(Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn every_call_is_a_tracing_event() {
    let out = Captured::default();
    let writer = out.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .with_max_level(tracing::Level::INFO)
        .finish();
    tracing::subscriber::with_default(subscriber, || {
        let (r, _) = runner("", MockClient::new().usage(usage(8_000, 2_000)));
        let (step, req) = premium_step();
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(r.run_step(&step.trace_id("t-ev"), req))
            .unwrap();
    });
    let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
    assert!(
        text.contains("switchyard::call") && text.contains("model call"),
        "{text}"
    );
    for field in [
        "trace_id=\"t-ev\"",
        "tier=premium",
        "model=big",
        "cost_picos=270000000000",
    ] {
        assert!(text.contains(field), "{field} missing from {text}");
    }
}

// ---- the policy's [budget] table -------------------------------------------------------------

fn load_error(budget: &str) -> String {
    let text = format!("{POLICY}\n{budget}");
    let err = PolicySet::from_policy_text(Path::new("inline.toml"), text).unwrap_err();
    err.diagnostics
        .iter()
        .map(|d| {
            format!(
                "{} {} {}: {}",
                d.name,
                d.location(),
                d.message,
                d.help.clone().unwrap_or_default()
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn budget_table_errors_point_at_the_value() {
    let e = load_error("[budget]\non_exceed = \"downgrad\"\n");
    assert!(
        e.contains("invalid-value") && e.contains("did you mean `downgrade`"),
        "{e}"
    );
    let e = load_error("[budget]\nper_trace_usd = -1.0\n");
    assert!(
        e.contains("invalid-value") && e.contains("per_trace_usd"),
        "{e}"
    );
    let e = load_error("[budget]\nper_day_usd = 1.0\n");
    assert!(
        e.contains("unknown-key") || e.contains("per_day_usd"),
        "{e}"
    );
}

// ---- switchyard run --------------------------------------------------------------------------

#[test]
fn run_prints_each_call_and_keeps_going_past_bad_lines() {
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("billing.toml");
    std::fs::write(
        &policy,
        format!("{POLICY}\n[budget]\nper_trace_usd = 0.3\n"),
    )
    .unwrap();
    let steps = dir.path().join("steps.jsonl");
    std::fs::write(
        &steps,
        [
            r#"{"role":"reason","input_tokens":8000,"expected_output_tokens":2000,"trace_id":"t1"}"#,
            r#"{"role":"reason","input_tokens":"lots"}"#,
            "not json at all",
            r#"{"role":"format","input_tokens":8000,"expected_output_tokens":2000,"trace_id":"t1"}"#,
            r#"{"role":"reason","input_tokens":8000,"expected_output_tokens":2000,"trace_id":"t1"}"#,
        ]
        .join("\n"),
    )
    .unwrap();
    let log = dir.path().join("calls.jsonl");
    let out = Command::cargo_bin("switchyard")
        .unwrap()
        .args(["run", "--policy"])
        .arg(&policy)
        .arg(&steps)
        .arg("--log")
        .arg(&log)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let stdout = String::from_utf8(out.stdout).unwrap();
    let rows: Vec<&str> = stdout.lines().collect();
    // A header, then one row per line, in order.
    assert!(
        rows[1].contains("premium") && rows[1].contains("$0.27 "),
        "{stdout}"
    );
    assert!(
        rows[2].contains("invalid_step") && rows[2].contains("line 2"),
        "{stdout}"
    );
    assert!(
        rows[3].contains("invalid_step") && rows[3].contains("line 3"),
        "{stdout}"
    );
    assert!(
        rows[4].contains("cheap") && rows[4].contains("$0.018 "),
        "{stdout}"
    );
    // $0.288 spent on t1; another $0.27 would cross $0.3.
    assert!(
        rows[5].contains("budget_exceeded") && rows[5].contains("t1"),
        "{stdout}"
    );
    assert!(stdout.contains("ran 2 of 5 steps"), "{stdout}");
    // As routed $0.288; all on premium: 2 × $0.27. Exact dollars, as `report` prints them.
    assert!(
        stdout.contains("$0.288\n") && stdout.contains("$0.54 "),
        "{stdout}"
    );
    let logged = std::fs::read_to_string(&log).unwrap();
    let records: Vec<CallRecord> = logged
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(records.len(), 2);
    assert_eq!(records[1].cost, Picos(18_000_000_000));
}

#[test]
fn run_on_a_missing_steps_file_is_a_usage_error() {
    Command::cargo_bin("switchyard")
        .unwrap()
        .args(["run", "--policy", "policies/", "no-such-steps.jsonl"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .assert()
        .code(2);
}

// ---- hardening: worst cases, overruns, lost records, hostile input ---------------------------

/// `switchyard run` on one policy text and one steps text; returns (status, stdout, stderr).
fn run_cli(policy: &str, steps: &[u8], extra: &[&str]) -> (std::process::Output, String) {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("billing.toml");
    std::fs::write(&p, policy).unwrap();
    let s = dir.path().join("steps.jsonl");
    std::fs::write(&s, steps).unwrap();
    let out = Command::cargo_bin("switchyard")
        .unwrap()
        .args(["run", "--policy"])
        .arg(&p)
        .arg(&s)
        .args(extra)
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout.clone()).unwrap();
    (out, stdout)
}

#[test]
fn run_holds_the_models_output_limit_against_a_per_call_cap() {
    // `small` may write 8,192 tokens at $5/M: 100 × $1/M + 8,192 × $5/M = $0.04106 > $0.01.
    let policy = format!(
        "{}\n[budget]\nper_call_usd = 0.01\n",
        POLICY.replacen("max_output_tokens = 4000", "max_output_tokens = 8192", 1)
    );
    let steps = [
        r#"{"role":"format","input_tokens":100}"#,
        // An output limit given: 100 × $1/M + 100 × $5/M = $0.0006 fits.
        r#"{"role":"format","input_tokens":100,"expected_output_tokens":100}"#,
    ]
    .join("\n");
    let (out, stdout) = run_cli(&policy, steps.as_bytes(), &[]);
    assert!(out.status.success(), "{out:?}");
    let rows: Vec<&str> = stdout.lines().collect();
    assert!(
        rows[1].contains("budget_exceeded") && rows[1].contains("per_call_usd"),
        "{stdout}"
    );
    assert!(
        rows[2].contains("cheap") && rows[2].contains("$0.0006"),
        "{stdout}"
    );
    assert!(stdout.contains("ran 1 of 2 steps"), "{stdout}");
}

#[tokio::test]
async fn a_prompt_bigger_than_its_stated_size_is_reserved_at_its_counted_size() {
    // The step says 1 input token but carries ~100k (approx tokenizer: 381,000 chars × 21 / 80
    // = 100,013 tokens), $1.50 at $15/M on `big`: over the $1.00 trace cap.
    let (r, log) = runner(
        "[budget]\nper_trace_usd = 1.0\n",
        MockClient::new().usage(MockUsage::Unreported),
    );
    let step = Step::new("reason")
        .input_tokens(1)
        .prompt("word ".repeat(76_200))
        .trace_id("t");
    let err = r
        .run_step(&step, ChatRequest::default().max_output_tokens(100))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), "budget_exceeded", "{err}");
    assert_eq!(r.ledger().trace_spend("t").settled, Picos::ZERO);
    assert!(log.is_empty());
}

#[tokio::test]
async fn a_settlement_above_its_reservation_is_counted_and_the_cap_still_holds() {
    // Reserved: 1 × $15/M + 2,000 × $75/M = $0.150015; the provider bills 100,000 input
    // tokens: $1.50, over the $1.00 cap.
    let (r, _) = runner(
        "[budget]\nper_trace_usd = 1.0\n",
        MockClient::new().usage(usage(100_000, 0)),
    );
    let step = Step::new("reason").input_tokens(1).trace_id("t");
    let req = || ChatRequest::default().max_output_tokens(2_000);
    r.run_step(&step, req()).await.unwrap();
    assert_eq!(r.ledger().overruns(), 1);
    assert_eq!(r.ledger().trace_spend("t").settled, usd(1.5));
    // The cap refuses every later call, however small.
    let small = ChatRequest::default().max_output_tokens(0);
    let err = r.run_step(&step, small).await.unwrap_err();
    assert_eq!(err.kind(), "budget_exceeded");
    assert_eq!(r.ledger().overruns(), 1);
}

#[test]
fn idle_traces_are_dropped_from_the_ledger() {
    let budget = Budget {
        per_trace: Some(usd(1.0)),
        per_workload_day: None,
        per_call: None,
        on_exceed: OnExceed::Reject,
    };
    let ledger = Ledger::new().with_trace_idle(Duration::from_millis(50));
    let on = |trace| Scope {
        workload: "billing",
        trace: Some(trace),
        day: 1,
    };
    let r = ledger
        .reserve(&budget, on("old"), "cheap", usd(0.5))
        .unwrap();
    ledger.settle(r, usd(0.5));
    // A trace with a call still running is kept however long it runs.
    let running = ledger
        .reserve(&budget, on("busy"), "cheap", usd(0.5))
        .unwrap();
    std::thread::sleep(Duration::from_millis(120));
    let r = ledger
        .reserve(&budget, on("new"), "cheap", usd(0.1))
        .unwrap();
    ledger.settle(r, usd(0.1));
    assert_eq!(ledger.trace_spend("old"), Spend::default());
    assert_eq!(ledger.trace_spend("busy").reserved, usd(0.5));
    assert_eq!(ledger.traces(), 2);
    ledger.settle(running, usd(0.5));
    assert_eq!(ledger.trace_spend("busy").settled, usd(0.5));
    // The default keeps a trace for a day.
    assert_eq!(Ledger::new().trace_idle(), Duration::from_secs(24 * 3600));
}

#[test]
fn run_appends_on_a_fresh_line_after_a_cut_line() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("calls.jsonl");
    std::fs::write(&log, "{\"time\":\"2026-11-").unwrap();
    let (out, _) = run_cli(
        POLICY,
        br#"{"role":"format","input_tokens":10,"trace_id":"after-cut"}"#,
        &["--log", log.to_str().unwrap()],
    );
    assert!(out.status.success(), "{out:?}");
    let text = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert_eq!(lines[0], "{\"time\":\"2026-11-");
    let rec: CallRecord = serde_json::from_str(lines[1]).unwrap();
    assert_eq!(rec.trace_id.as_deref(), Some("after-cut"));
}

#[test]
fn run_with_a_log_that_cannot_be_written_fails() {
    if !Path::new("/dev/full").exists() {
        return;
    }
    let (out, _) = run_cli(
        POLICY,
        br#"{"role":"format","input_tokens":10}"#,
        &["--log", "/dev/full"],
    );
    assert!(!out.status.success(), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("/dev/full") && stderr.contains("could not be written"),
        "{stderr}"
    );
}

#[tokio::test]
async fn a_sink_that_cannot_write_is_reported_to_the_caller() {
    if !Path::new("/dev/full").exists() {
        return;
    }
    let sink = Arc::new(JsonlSink::append("/dev/full").unwrap());
    let r =
        Runner::new(router(""), Clients::all(Arc::new(MockClient::new()))).with_sink(sink.clone());
    let step = Step::new("format").input_tokens(10);
    // The first record may be queued before its write fails; the failure is reported by
    // flush and by every record after it.
    let _ = r.run_step(&step, ChatRequest::default()).await;
    let err = r.flush().unwrap_err();
    assert!(err.to_string().contains("/dev/full"), "{err}");
    let err = r.run_step(&step, ChatRequest::default()).await.unwrap_err();
    assert_eq!(err.kind(), "record_not_written", "{err}");
    // The call was made: its reply and record come back with the error.
    let RunError::NotRecorded { output, .. } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(output.record.tier, "cheap");
    assert!(sink.record(&output.record).is_err());
}

#[test]
fn run_prints_exact_dollars_and_escapes_control_characters() {
    // Half a micro-dollar: 1 token at $0.50/M.
    let policy = POLICY.replacen("input_usd_per_mtok = 1.0", "input_usd_per_mtok = 0.5", 1);
    let steps = r#"{"role":"format","input_tokens":1,"trace_id":"\u001b[31mred"}"#;
    let (out, stdout) = run_cli(&policy, steps.as_bytes(), &[]);
    assert!(out.status.success(), "{out:?}");
    assert!(stdout.contains("$0.0000005"), "{stdout}");
    assert!(!stdout.contains('\u{1b}'), "{stdout:?}");
    assert!(stdout.contains("\\u{1b}[31mred"), "{stdout}");
}

#[test]
fn run_reports_long_and_non_utf8_lines_and_goes_on() {
    let mut steps = Vec::new();
    steps.extend_from_slice(
        format!(
            "{{\"role\":\"format\",\"input_tokens\":1,\"trace_id\":\"{}\"}}\n",
            "x".repeat(300)
        )
        .as_bytes(),
    );
    steps.extend_from_slice(b"{\"role\":\"format\",\"input_tokens\":1,\"trace_id\":\"\xff\"}\n");
    steps.extend_from_slice(b"{\"role\":\"format\",\"input_tokens\":1}\n");
    let (out, stdout) = run_cli(POLICY, &steps, &["--max-line-bytes", "200"]);
    assert!(out.status.success(), "{out:?}");
    let rows: Vec<&str> = stdout.lines().collect();
    assert!(
        rows[1].contains("invalid_step") && rows[1].contains("longer than 200 bytes"),
        "{stdout}"
    );
    assert!(
        rows[2].contains("invalid_step") && rows[2].contains("not UTF-8"),
        "{stdout}"
    );
    assert!(rows[3].contains("cheap"), "{stdout}");
    assert!(stdout.contains("ran 1 of 3 steps"), "{stdout}");
}

/// The closing summary of `run`, as it was computed from every record kept in memory: per
/// policy, the largest sum over its tiers of each call's tokens at that tier's prices.
fn old_baseline(set: &PolicySet, records: &[CallRecord]) -> (u128, Vec<(String, String)>) {
    use switchyard::money::PicosPerToken;
    let mut by_policy: std::collections::BTreeMap<&str, Vec<&CallRecord>> = Default::default();
    for r in records {
        by_policy.entry(&r.policy).or_default().push(r);
    }
    let (mut total, mut tops) = (0u128, Vec::new());
    for (name, calls) in &by_policy {
        let Some(cp) = set.get(name) else { continue };
        let p = &cp.policy();
        let best = (0..p.tiers().len())
            .map(|t| {
                let m = p.tier_model(t);
                let i = PicosPerToken::from_usd_per_mtok(m.input_usd_per_mtok);
                let o = PicosPerToken::from_usd_per_mtok(m.output_usd_per_mtok);
                let sum: u128 = calls
                    .iter()
                    .map(|r| {
                        i.cost(r.input_tokens)
                            .saturating_add(o.cost(r.output_tokens))
                            .0 as u128
                    })
                    .sum();
                (sum, t)
            })
            .max();
        if let Some((sum, t)) = best {
            total += sum;
            tops.push((name.to_string(), p.tiers()[t].name().to_owned()));
        }
    }
    (total, tops)
}

#[tokio::test]
async fn running_totals_give_the_summary_every_record_gave() {
    let set = PolicySet::load(Path::new(env!("CARGO_MANIFEST_DIR")).join("policies")).unwrap();
    let log = Arc::new(MemorySink::new());
    let r = Runner::new(Router::new(set), Clients::all(Arc::new(MockClient::new())))
        .with_sink(log.clone());
    let steps =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/steps.jsonl"))
            .unwrap();
    let mut totals = RunTotals::new();
    // Every example step three times, with varied sizes so the tiers' order can change.
    for round in 0..3u64 {
        for line in steps.lines() {
            let mut step = Step::from_json(line).unwrap();
            if let Some(n) = step.input_tokens {
                step.input_tokens = Some(n * (round + 1) / 2 + 1);
            }
            let req = ChatRequest::default()
                .max_output_tokens(step.expected_output_tokens.unwrap_or(0) * round);
            if let Ok(out) = r.run_step(&step, req).await {
                totals.add(&out.record);
            }
        }
    }
    let records = log.records();
    assert!(records.len() > 40, "{}", records.len());
    let set = r.router().current();
    let (total, tops) = old_baseline(&set, &records);
    let now = totals.baseline(&set);
    assert_eq!(now.cost_picos, total);
    assert_eq!(now.tiers, tops);
    assert_eq!(totals.calls(), records.len() as u64);
    let cost: u128 = records.iter().map(|c| c.cost.0 as u128).sum();
    assert_eq!(totals.cost_picos(), cost);
    // The free function over records agrees.
    assert_eq!(switchyard::runner::baseline(&set, &records), now);
}

#[tokio::test]
async fn a_large_prompt_is_counted_off_the_runtime_threads_to_the_same_count() {
    // Over 64 KiB: counted on tokio's blocking threads, same result as counting in place.
    let prompt = "The parties agree to the terms below. ".repeat(4_000);
    let (r, _) = runner(
        "",
        MockClient::new().reply("ok").usage(MockUsage::Unreported),
    );
    let out = r
        .run_step(
            &Step::new("format").prompt(prompt.clone()),
            ChatRequest::default(),
        )
        .await
        .unwrap();
    assert_eq!(out.record.input_tokens, Tokenizer::O200kBase.count(&prompt));
}
