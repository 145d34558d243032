//! What `Runner::run_step` adds to a model call: `cargo bench --bench run_step`
//!
//! - `run_step/bare_mock`: the mock client's call alone (a boxed future polled once).
//! - `run_step/jsonl`: route → call the same mock → price → record, with the JSONL sink on
//!   (each line queued for the sink's writer thread, which appends it to a real file) and no
//!   budget.
//! - `run_step/jsonl_budget`: the same under a `[budget]` with trace and daily caps, so each
//!   call also reserves and settles under the ledger's lock.
//! - `run_step/jsonl_buffered[_budget]`: the same with `JsonlSink::buffered` (64 KiB or
//!   100 ms), whose writer thread writes whole lines in batches.
//! - `run_step/no_sink`, `run_step/serialize_only`: no sink; a sink that serializes each
//!   record and drops it — to split the overhead into routing and pricing, JSON, and handing
//!   the line to the writer.
//!
//! The overhead of `run_step` is `jsonl` minus `bare_mock`. The mock answers at once with
//! provider usage, so each future completes on its first poll and no runtime is involved.
//! No tracing subscriber is installed, so the per-call event costs only its level check.

use std::future::Future;
use std::hint::black_box;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use switchyard::calllog::CallRecord;
use switchyard::clients::{
    ChatRequest, Clients, MockClient, MockUsage, ModelClient, SizeHints, TokenUsage,
};
use switchyard::runner::{CallSink, JsonlSink, Runner};
use switchyard::{PolicySet, Router, Step};

/// Polls a future that is ready at once (the zero-latency mock never waits).
fn ready<F: Future>(f: F) -> F::Output {
    let mut f = std::pin::pin!(f);
    match f.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(v) => v,
        Poll::Pending => panic!("the zero-latency mock never waits"),
    }
}

/// Serializes each record as the JSONL sink does (into a reused buffer, under a lock), and
/// writes it nowhere.
#[derive(Default)]
struct SerializeOnly(Mutex<Vec<u8>>);

impl CallSink for SerializeOnly {
    fn record(&self, record: &CallRecord) -> std::io::Result<()> {
        let mut line = self.0.lock().unwrap();
        line.clear();
        record.write_json(&mut line)?;
        line.push(b'\n');
        black_box(&line[..]);
        Ok(())
    }
}

fn mock() -> MockClient {
    MockClient::new().usage(MockUsage::Fixed(TokenUsage {
        input_tokens: 6_000,
        output_tokens: 800,
        ..TokenUsage::default()
    }))
}

fn router(budget: bool) -> Router {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("policies/contract-review.toml");
    let mut text = std::fs::read_to_string(&path).unwrap();
    if budget {
        // Caps far above what the bench spends, so no call is refused.
        text.push_str(
            "\n[budget]\nper_trace_usd = 1e9\nper_workload_day_usd = 1e12\nper_call_usd = 100.0\n",
        );
    }
    Router::new(PolicySet::from_policy_text(&path, text).unwrap())
}

fn step() -> Step {
    Step::new("reason")
        .workload("contract-review")
        .input_tokens(6_000)
        .expected_output_tokens(800)
        .tag("jurisdiction", "US")
        .trace_id("bench-trace")
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let mut g = c.benchmark_group("run_step");
    g.measurement_time(Duration::from_secs(4));

    let client = mock();
    let request = ChatRequest::default().max_output_tokens(800);
    g.bench_function("bare_mock", |b| {
        b.iter(|| ready(client.complete(black_box(&request), SizeHints::default())).unwrap())
    });

    for (name, budget, buffered) in [
        ("jsonl", false, false),
        ("jsonl_budget", true, false),
        ("jsonl_buffered", false, true),
        ("jsonl_buffered_budget", true, true),
    ] {
        let path = dir.path().join(format!("{name}.jsonl"));
        let sink = if buffered {
            JsonlSink::buffered(&path, 64 * 1024, Duration::from_millis(100))
        } else {
            JsonlSink::append(&path)
        };
        let runner = Runner::new(router(budget), Clients::all(Arc::new(mock())))
            .with_sink(Arc::new(sink.unwrap()));
        let step = step();
        g.bench_function(name, |b| {
            b.iter_custom(|iters| {
                // Empty the log between samples (untimed) so the file stays small.
                std::fs::OpenOptions::new()
                    .write(true)
                    .open(&path)
                    .unwrap()
                    .set_len(0)
                    .unwrap();
                let start = Instant::now();
                for _ in 0..iters {
                    let out = ready(runner.run_step(
                        black_box(&step),
                        ChatRequest::default().max_output_tokens(800),
                    ))
                    .unwrap();
                    black_box(out);
                }
                start.elapsed()
            })
        });
    }

    // The same without the file: no sink at all, and a sink that serializes each record
    // and drops it, to split the overhead into routing/pricing, JSON, and the write.
    for (name, sink) in [
        ("no_sink", None),
        (
            "serialize_only",
            Some(Arc::new(SerializeOnly::default()) as Arc<dyn CallSink>),
        ),
    ] {
        let mut runner = Runner::new(router(false), Clients::all(Arc::new(mock())));
        if let Some(s) = sink {
            runner = runner.with_sink(s);
        }
        let step = step();
        g.bench_function(name, |b| {
            b.iter(|| {
                ready(runner.run_step(
                    black_box(&step),
                    ChatRequest::default().max_output_tokens(800),
                ))
                .unwrap()
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
