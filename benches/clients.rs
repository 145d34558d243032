//! Provider client overhead and stream translation throughput.
//!
//! `cargo bench --bench clients -- --warm-up-time 1 --measurement-time 3`
//!
//! - `call/*`: one call to a local fake OpenAI-compatible upstream that answers at once, made
//!   with plain `reqwest` (a JSON body already encoded, the answer's bytes), through
//!   `ProviderClient::chat` (translation both ways, usage, retries armed) and through
//!   `Runner::run_step` (route, budget, the same call, price, record), in the same run, all
//!   on the one shared `reqwest` client; the differences are the client's and the runner's
//!   overhead.
//! - `concurrent/*`: the same, 1,000 calls at once.
//! - `stream/*`: translating a 1,000-event stream, provider → canonical (decode) and
//!   canonical → provider (encode), for each format.

use std::hint::black_box;
use std::net::SocketAddr;
use std::time::Duration;

use axum::routing::post;
use axum::Router;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use serde_json::{json, Value};
use switchyard::clients::{
    anthropic, http::shared_http, openai, ChatEvent, ChatMessage, ChatRequest, Endpoint,
    ProviderClient, StopReason, TokenUsage, WireFormat,
};

fn answer() -> Value {
    json!({
        "id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "bench",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"},
                     "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 12, "completion_tokens": 1, "total_tokens": 13,
                  "prompt_tokens_details": {"cached_tokens": 0}}
    })
}

/// A fake upstream on 127.0.0.1 that answers every POST at once.
fn upstream(rt: &tokio::runtime::Runtime) -> SocketAddr {
    rt.block_on(async {
        let body = answer().to_string();
        let app = Router::new().route(
            "/v1/chat/completions",
            post(move || {
                let body = body.clone();
                async move { ([("content-type", "application/json")], body) }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            use axum::serve::ListenerExt;
            let listener = listener.tap_io(|tcp| {
                let _ = tcp.set_nodelay(true);
            });
            axum::serve(listener, app).await.unwrap();
        });
        addr
    })
}

fn request() -> ChatRequest {
    ChatRequest {
        system: Some("Be brief.".into()),
        max_output_tokens: Some(16),
        ..ChatRequest::new(vec![ChatMessage::user("Say ok.")])
    }
}

fn calls(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let addr = upstream(&rt);
    let url = format!("http://{addr}/v1/chat/completions");
    // The client every provider call uses, so the direct calls share its settings and pool.
    let http = shared_http().unwrap();
    let endpoint =
        Endpoint::new("bench", WireFormat::Openai, "bench").base_url(format!("http://{addr}/v1"));
    let client = ProviderClient::with_http(endpoint, http.clone());
    let runner = run_step::runner(addr);
    let req = request();
    let raw_body = openai::request_to_wire(&req, "bench", false)
        .unwrap()
        .to_string();

    let direct = |http: reqwest::Client, url: String, body: String| async move {
        let response = http
            .post(url)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        response.bytes().await.unwrap()
    };

    let mut group = c.benchmark_group("call");
    group.bench_function("reqwest_direct", |b| {
        b.iter(|| rt.block_on(direct(http.clone(), url.clone(), raw_body.clone())))
    });
    group.bench_function("provider_client", |b| {
        b.iter(|| rt.block_on(client.chat(black_box(&req))).unwrap())
    });
    group.bench_function("run_step", |b| {
        b.iter(|| rt.block_on(run_step::call(&runner)))
    });
    group.finish();

    let mut group = c.benchmark_group("concurrent");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(5));
    group.throughput(Throughput::Elements(1000));
    group.bench_function("reqwest_direct_1000", |b| {
        b.iter(|| {
            rt.block_on(async {
                let tasks: Vec<_> = (0..1000)
                    .map(|_| tokio::spawn(direct(http.clone(), url.clone(), raw_body.clone())))
                    .collect();
                for t in tasks {
                    t.await.unwrap();
                }
            })
        })
    });
    group.bench_function("provider_client_1000", |b| {
        b.iter(|| {
            rt.block_on(async {
                let tasks: Vec<_> = (0..1000)
                    .map(|_| {
                        let client = client.clone();
                        let req = req.clone();
                        tokio::spawn(async move { client.chat(&req).await.unwrap() })
                    })
                    .collect();
                for t in tasks {
                    t.await.unwrap();
                }
            })
        })
    });
    group.bench_function("run_step_1000", |b| {
        b.iter(|| {
            rt.block_on(async {
                let tasks: Vec<_> = (0..1000)
                    .map(|_| {
                        let runner = runner.clone();
                        tokio::spawn(async move { run_step::call(&runner).await })
                    })
                    .collect();
                for t in tasks {
                    t.await.unwrap();
                }
            })
        })
    });
    group.finish();
}

/// The runner's side of the bench, kept apart: the only code here that knows how a step and
/// its request are given to `Runner::run_step`.
mod run_step {
    use std::net::SocketAddr;
    use std::path::Path;
    use std::sync::Arc;

    use switchyard::clients::chat::{ChatMessage, ChatRequest};
    use switchyard::clients::Clients;
    use switchyard::runner::Runner;
    use switchyard::{PolicySet, Router, Step};

    /// A runner over a one-model policy at the fake upstream, with the live clients (the
    /// shared `reqwest` client) and no sink: the record is built, not written.
    pub fn runner(addr: SocketAddr) -> Arc<Runner> {
        let text = format!(
            r#"[policy]
name = "bench"
default_tier = "cheap"
tokenizer = "approx"

[models.bench]
provider = "openai"
base_url = "http://{addr}/v1"
input_usd_per_mtok = 1.0
output_usd_per_mtok = 4.0
max_output_tokens = 16

[tiers]
cheap = "bench"
"#
        );
        let set = PolicySet::from_policy_text(Path::new("bench.toml"), text).unwrap();
        let clients = Clients::live(&set).unwrap();
        Arc::new(Runner::new(Router::new(set), clients))
    }

    /// One step through route → budget → call → price → record.
    pub async fn call(runner: &Runner) {
        let step = Step::new("summarize")
            .workload("bench")
            .input_tokens(12)
            .expected_output_tokens(16);
        let request = ChatRequest::new(vec![ChatMessage::user("Say ok.")])
            .system("Be brief.")
            .max_output_tokens(16);
        runner.run_step(&step, request).await.unwrap();
    }
}

/// A canonical stream of `n` events: start, text pieces, stop, usage.
fn canonical_events(n: usize) -> Vec<ChatEvent> {
    let mut events = vec![ChatEvent::Start {
        id: "id-1".into(),
        model: "bench".into(),
    }];
    for i in 0..n.saturating_sub(3) {
        events.push(ChatEvent::Text {
            index: 0,
            text: format!("token{i} "),
        });
    }
    events.push(ChatEvent::Stop {
        reason: StopReason::EndTurn,
    });
    events.push(ChatEvent::Usage {
        usage: TokenUsage {
            input_tokens: 100,
            output_tokens: n as u64,
            ..TokenUsage::default()
        },
    });
    events
}

fn streams(c: &mut Criterion) {
    const N: usize = 1000;
    let events = canonical_events(N);
    let mut encoder = openai::StreamEncoder::new(0);
    let openai_wire: Vec<String> = events
        .iter()
        .filter_map(|e| encoder.encode(e))
        .map(|v| v.to_string())
        .collect();
    let mut encoder = anthropic::StreamEncoder::new();
    let mut pairs = Vec::new();
    for e in &events {
        encoder.encode(e, &mut pairs);
    }
    encoder.finish(&mut pairs);
    let anthropic_wire: Vec<String> = pairs.iter().map(|(_, v)| v.to_string()).collect();

    let mut group = c.benchmark_group("stream");
    group.throughput(Throughput::Elements(N as u64));
    group.bench_function("openai_decode", |b| {
        b.iter(|| {
            let mut decoder = openai::StreamDecoder::new();
            let mut out = Vec::with_capacity(N);
            for data in &openai_wire {
                decoder.decode(data, &mut out).unwrap();
            }
            black_box(out)
        })
    });
    group.bench_function("anthropic_decode", |b| {
        b.iter(|| {
            let mut decoder = anthropic::StreamDecoder::new();
            let mut out = Vec::with_capacity(N);
            for data in &anthropic_wire {
                decoder.decode(data, &mut out).unwrap();
            }
            black_box(out)
        })
    });
    group.bench_function("openai_encode", |b| {
        b.iter(|| {
            let mut encoder = openai::StreamEncoder::new(0);
            let out: Vec<String> = events
                .iter()
                .filter_map(|e| encoder.encode(e))
                .map(|v| v.to_string())
                .collect();
            black_box(out)
        })
    });
    group.bench_function("anthropic_encode", |b| {
        b.iter(|| {
            let mut encoder = anthropic::StreamEncoder::new();
            let mut pairs = Vec::with_capacity(N + 4);
            for e in &events {
                encoder.encode(e, &mut pairs);
            }
            encoder.finish(&mut pairs);
            let out: Vec<String> = pairs.iter().map(|(_, v)| v.to_string()).collect();
            black_box(out)
        })
    });
    group.finish();
}

criterion_group!(benches, calls, streams);
criterion_main!(benches);
