//! The server's own cost per request, with no socket: `cargo bench --bench serve`
//!
//! - `serve/route_single`: one `POST /v1/route` step through `app(state)` (`oneshot`),
//!   beside `route_direct`, the same step through `Router::route` and the decision's JSON,
//!   so the difference is what HTTP handling, auth, metrics and the span add.
//! - `serve/route_batch_100`: a 100-line NDJSON batch in one request.
//! - `serve/chat_mock_plain`, `serve/chat_mock_stream`: the same Chat Completions body through
//!   a server started with `--mock`, answered whole or as a stream: everything serve does for
//!   a chat request (parse, features, tokens, decision, budget, translation, answer, metrics,
//!   span, call record) but the upstream's network hop.
//! - `serve/chat_decide`: a Chat Completions body decided up to the upstream call (today's
//!   501), with its features derived from the messages.

use std::hint::black_box;
use std::sync::Arc;

use axum::body::Body;
use axum::http::Request;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use tower::ServiceExt;

use switchyard::server::{app, AppState, ServeOptions, Token};
use switchyard::{Router, Step};

const STEP: &str = r#"{"role":"summarize","input_tokens":12000,"expected_output_tokens":800,"workload":"contract-review"}"#;

fn bench(c: &mut Criterion) {
    let router = Arc::new(Router::load("policies/").expect("the bundled policies load"));
    let options = ServeOptions {
        auth_token: Token::new("bench-token"),
        ..ServeOptions::default()
    };
    let service = app(AppState::new(router.clone(), options));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let send = |path: &str, content_type: &str, body: String| {
        let req = Request::post(path)
            .header("authorization", "Bearer bench-token")
            .header("content-type", content_type)
            .body(Body::from(body))
            .unwrap();
        rt.block_on(async {
            let resp = service.clone().oneshot(req).await.unwrap();
            axum::body::to_bytes(resp.into_body(), usize::MAX)
                .await
                .unwrap()
        })
    };

    let mut g = c.benchmark_group("serve");
    g.throughput(Throughput::Elements(1));
    g.bench_function("route_direct", |b| {
        b.iter(|| {
            let step = Step::from_json(black_box(STEP)).unwrap();
            let d = router.route(&step).unwrap();
            black_box(d.to_json(None).to_string())
        })
    });
    g.bench_function("route_single", |b| {
        b.iter(|| black_box(send("/v1/route", "application/json", STEP.to_owned())))
    });
    let chat = serde_json::json!({
        "model": "contract-review",
        "max_tokens": 800,
        "messages": [
            {"role": "system", "content": "You summarize contracts."},
            {"role": "user", "content": "Summarize the indemnity clause in two sentences."}
        ],
        "switchyard": {"role": "summarize"}
    })
    .to_string();
    g.bench_function("chat_decide", |b| {
        b.iter(|| {
            black_box(send(
                "/v1/chat/completions",
                "application/json",
                chat.clone(),
            ))
        })
    });
    let mock = app(AppState::new(
        router.clone(),
        ServeOptions {
            mock: true,
            ..ServeOptions::default()
        },
    ));
    let send_mock = |body: String| {
        let req = Request::post("/v1/chat/completions")
            .header("content-type", "application/json")
            .body(Body::from(body))
            .unwrap();
        rt.block_on(async {
            let resp = mock.clone().oneshot(req).await.unwrap();
            assert!(resp.status().is_success());
            axum::body::to_bytes(resp.into_body(), usize::MAX)
                .await
                .unwrap()
        })
    };
    g.bench_function("chat_mock_plain", |b| {
        b.iter(|| black_box(send_mock(chat.clone())))
    });
    let chat_stream = {
        let mut v: serde_json::Value = serde_json::from_str(&chat).unwrap();
        v["stream"] = true.into();
        v.to_string()
    };
    g.bench_function("chat_mock_stream", |b| {
        b.iter(|| black_box(send_mock(chat_stream.clone())))
    });
    let batch: String = (0..100).map(|_| format!("{STEP}\n")).collect();
    g.throughput(Throughput::Elements(100));
    g.bench_function("route_batch_100", |b| {
        b.iter(|| black_box(send("/v1/route", "application/x-ndjson", batch.clone())))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
