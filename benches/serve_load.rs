//! Open-loop HTTP load against the `switchyard serve` binary, with its baseline in the same
//! run. How to run it and what each column means: `benches/SERVE_LOAD.md`.
//!
//! ```text
//! cargo bench --bench serve_load -- [--duration 10] [--rates 1000,5000] [--connections 16]
//! cargo bench --bench serve_load -- --soak 300
//! ```
//!
//! One run starts, by itself:
//!
//! - a fake OpenAI-compatible upstream on 127.0.0.1 (its own thread, `sy-upstream`) that
//!   answers at once: a plain JSON completion, or an SSE stream of a few chunks, a usage chunk
//!   and `data: [DONE]` when the request asks for a stream;
//! - `switchyard serve` twice, as separate processes: once with a policy whose model points at
//!   the fake upstream (`base_url`), once with `--mock`.
//!
//! Then, for each body kind (plain, streamed) and rate, the same load goes to the upstream
//! directly (the baseline), through serve to the upstream, and to serve `--mock`, one right
//! after the other. Requests leave on a fixed schedule (a pacer thread releases one every
//! 1/rate seconds whatever the replies do) and are spread over N keep-alive HTTP/1.1
//! connections, each carrying one request at a time; a released request waits in a queue for
//! a free connection, and that wait counts in its latency, so a slow server cannot hide its
//! slowness by slowing the generator down (coordinated omission). Latency is measured from
//! the release to the last byte of the body (and to the first body byte, for streams) and
//! recorded per request in an HDR histogram.
//!
//! The generator shares the machine's cores with the upstream and serve, so each cell also
//! reports the CPU each of them used and how late the pacer released requests: a generator
//! near a full core, or a late pacer, means the numbers measure the generator.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::fmt::Write as _;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::response::Response;
use clap::{Parser, ValueEnum};
use hdrhistogram::Histogram;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use serde_json::json;
use tokio::sync::mpsc;

/// Open-loop load on `switchyard serve`, its baseline straight to the upstream in the same run.
#[derive(Parser, Debug)]
#[command(name = "serve_load")]
struct Args {
    /// Seconds of recorded load per cell.
    #[arg(long, default_value_t = 10.0, value_parser = seconds)]
    duration: f64,
    /// Seconds of unrecorded load before each cell, at its rate (opens connections, fills pools).
    #[arg(long, default_value_t = 1.0, value_parser = seconds)]
    warmup: f64,
    /// Request rates, in requests per second.
    #[arg(long, value_delimiter = ',', default_values_t = [1000u64, 5000], value_parser = clap::value_parser!(u64).range(1..))]
    rates: Vec<u64>,
    /// Keep-alive HTTP/1.1 connections the load is spread over.
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u64).range(1..=10_000))]
    connections: u64,
    /// Which targets to load.
    #[arg(long, value_delimiter = ',', default_values = ["direct", "forward", "proxy", "mock"])]
    targets: Vec<Target>,
    /// Which bodies to send.
    #[arg(long, value_delimiter = ',', default_values = ["plain", "stream"])]
    bodies: Vec<Kind>,
    /// A request not answered this many seconds after its release counts as an error.
    #[arg(long, default_value_t = 5.0, value_parser = seconds)]
    timeout: f64,
    /// Give serve a call log (in a temporary directory), as a deployment would.
    #[arg(long)]
    call_log: bool,
    /// Instead of the table: SECS of load on serve → upstream at --soak-rate, plain and
    /// streamed requests alternating, with serve's RSS sampled every 10 s.
    #[arg(long, value_name = "SECS")]
    soak: Option<u64>,
    /// The soak's rate, in requests per second.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..))]
    soak_rate: u64,
    /// Passed by `cargo bench`; ignored.
    #[arg(long, hide = true)]
    bench: bool,
    /// Run as the bare forwarder to this upstream address (the bench starts itself so).
    #[arg(long, hide = true, value_name = "ADDR")]
    forward_to: Option<SocketAddr>,
}

/// A number of seconds: finite, not negative, at most a day.
fn seconds(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(v) if (0.0..=86_400.0).contains(&v) => Ok(v),
        _ => Err(format!(
            "expected seconds between 0 and 86400, got {text:?}"
        )),
    }
}

/// Where the load goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Target {
    /// Straight to the fake upstream: the baseline.
    Direct,
    /// A bare forwarder to the fake upstream (axum + reqwest, as serve is built, and nothing
    /// else): what one proxy hop costs on this machine, before any of switchyard's work.
    Forward,
    /// `switchyard serve`, its model at the fake upstream.
    Proxy,
    /// `switchyard serve --mock`.
    Mock,
}

impl Target {
    fn label(self) -> &'static str {
        match self {
            Target::Direct => "baseline: direct to upstream",
            Target::Forward => "bare forwarder → upstream",
            Target::Proxy => "serve → upstream",
            Target::Mock => "serve --mock",
        }
    }
}

/// What a request asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Kind {
    /// A plain JSON completion.
    Plain,
    /// An SSE stream.
    Stream,
}

impl Kind {
    fn label(self) -> &'static str {
        match self {
            Kind::Plain => "plain",
            Kind::Stream => "streamed",
        }
    }
}

/// The policy serve loads: one model, at the fake upstream.
const POLICY: &str = "bench";
const UPSTREAM_MODEL: &str = "up-model";
const PATH: &str = "/v1/chat/completions";

fn main() {
    let args = Args::parse();
    if let Some(upstream) = args.forward_to {
        if let Err(msg) = forwarder(upstream) {
            eprintln!("serve_load forwarder: {msg}");
            std::process::exit(1);
        }
        return;
    }
    // Everything runs on one named thread (a current-thread runtime), so its CPU time can be
    // told apart from the upstream's in /proc/self/task.
    let worker = std::thread::Builder::new()
        .name("sy-loadgen".into())
        .spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a tokio runtime");
            rt.block_on(run(args))
        })
        .expect("start the generator thread");
    if let Err(msg) = worker.join().expect("the generator thread panicked") {
        eprintln!("serve_load: {msg}");
        std::process::exit(1);
    }
}

async fn run(args: Args) -> Result<(), String> {
    let upstream = start_upstream()?;
    let dir = tempfile::tempdir().map_err(|e| format!("temporary directory: {e}"))?;
    let policy = dir.path().join(format!("{POLICY}.toml"));
    std::fs::write(&policy, policy_text(upstream))
        .map_err(|e| format!("writing {}: {e}", policy.display()))?;
    let log = args.call_log.then(|| dir.path().join("calls.jsonl"));

    println!("# serve_load\n");
    println!("{}\n", machine_note());
    if let Some(secs) = args.soak {
        return soak(&args, secs, &policy, log.as_deref()).await;
    }

    let mut proxy = if args.targets.contains(&Target::Proxy) {
        Some(Serve::start(&policy, false, log.as_deref())?)
    } else {
        None
    };
    let mut mock = if args.targets.contains(&Target::Mock) {
        Some(Serve::start(&policy, true, None)?)
    } else {
        None
    };
    let mut forward = if args.targets.contains(&Target::Forward) {
        Some(Serve::start_forwarder(upstream)?)
    } else {
        None
    };
    println!(
        "{} s per cell after {} s warm-up, {} connections, request timeout {} s, call log {}.\n",
        args.duration,
        args.warmup,
        args.connections,
        args.timeout,
        if args.call_log { "on" } else { "off" }
    );

    let mut cells = Vec::new();
    for &kind in &args.bodies {
        for &rate in &args.rates {
            // The three targets one right after the other, so the baseline sees the same
            // machine as what it is compared with.
            for &target in &args.targets {
                let addr = match target {
                    Target::Direct => upstream,
                    Target::Forward => forward.as_ref().map(|s| s.addr).unwrap_or(upstream),
                    Target::Proxy => proxy.as_ref().map(|s| s.addr).unwrap_or(upstream),
                    Target::Mock => mock.as_ref().map(|s| s.addr).unwrap_or(upstream),
                };
                let serve_pid = match target {
                    Target::Direct => None,
                    Target::Forward => forward.as_ref().map(Serve::pid),
                    Target::Proxy => proxy.as_ref().map(Serve::pid),
                    Target::Mock => mock.as_ref().map(Serve::pid),
                };
                let load = Load {
                    addr,
                    requests: vec![(body(target, kind), kind)],
                    rate,
                    warmup: Duration::from_secs_f64(args.warmup),
                    duration: Duration::from_secs_f64(args.duration),
                    connections: args.connections,
                    timeout: Duration::from_secs_f64(args.timeout),
                    serve_pid,
                };
                eprintln!(
                    "serve_load: {} {} at {rate} rps …",
                    target.label(),
                    kind.label()
                );
                let result = load.run().await;
                for s in [&mut proxy, &mut mock, &mut forward].into_iter().flatten() {
                    s.check_alive()?;
                }
                cells.push(Cell {
                    target,
                    kind,
                    body: kind.label(),
                    rate,
                    result,
                });
            }
        }
    }
    print!("{}", latency_table(&cells));
    print!("{}", generator_table(&cells));
    Ok(())
}

// ---------------------------------------------------------------------------------------
// The fake upstream

static PLAIN_ANSWER: LazyLock<Bytes> = LazyLock::new(|| {
    Bytes::from(
        json!({
            "id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": UPSTREAM_MODEL,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello from upstream."},
                         "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 24, "completion_tokens": 4, "total_tokens": 28,
                      "prompt_tokens_details": {"cached_tokens": 0}}
        })
        .to_string(),
    )
});

/// The SSE answer as separate events, each a frame of its own.
static STREAM_ANSWER: LazyLock<Vec<Bytes>> = LazyLock::new(|| {
    let chunk = |choices: serde_json::Value, usage: serde_json::Value| {
        let mut c = json!({"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1,
                           "model": UPSTREAM_MODEL, "choices": choices});
        if !usage.is_null() {
            c["usage"] = usage;
        }
        Bytes::from(format!("data: {c}\n\n"))
    };
    let delta = |d: serde_json::Value| json!([{"index": 0, "delta": d, "finish_reason": null}]);
    vec![
        chunk(
            delta(json!({"role": "assistant", "content": ""})),
            json!(null),
        ),
        chunk(delta(json!({"content": "Hello"})), json!(null)),
        chunk(delta(json!({"content": " from"})), json!(null)),
        chunk(delta(json!({"content": " upstream."})), json!(null)),
        chunk(
            json!([{"index": 0, "delta": {}, "finish_reason": "stop"}]),
            json!(null),
        ),
        chunk(
            json!([]),
            json!({"prompt_tokens": 24, "completion_tokens": 4, "total_tokens": 28}),
        ),
        Bytes::from_static(b"data: [DONE]\n\n"),
    ]
});

/// Starts the fake upstream on its own thread and current-thread runtime.
fn start_upstream() -> Result<SocketAddr, String> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name("sy-upstream".into())
        .spawn(move || {
            let rt = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => return drop(tx.send(Err(format!("upstream runtime: {e}")))),
            };
            rt.block_on(async move {
                let listener = match tokio::net::TcpListener::bind("127.0.0.1:0").await {
                    Ok(l) => l,
                    Err(e) => return drop(tx.send(Err(format!("upstream bind: {e}")))),
                };
                let _ = tx.send(listener.local_addr().map_err(|e| e.to_string()));
                use axum::serve::ListenerExt;
                // Without TCP_NODELAY a keep-alive answer can wait ~40 ms on a delayed ACK.
                let listener = listener.tap_io(|tcp| {
                    let _ = tcp.set_nodelay(true);
                });
                let app = axum::Router::new().fallback(upstream_answer);
                if let Err(e) = axum::serve(listener, app).await {
                    eprintln!("serve_load: the fake upstream stopped: {e}");
                }
            });
        })
        .map_err(|e| format!("upstream thread: {e}"))?;
    rx.recv()
        .map_err(|_| "the fake upstream did not start".to_owned())?
}

async fn upstream_answer(body: Bytes) -> Response {
    // serve's client and the baseline both write compact JSON.
    let stream = memchr::memmem::find(&body, b"\"stream\":true").is_some();
    let builder = Response::builder().status(200);
    let built = if stream {
        let frames = STREAM_ANSWER.iter().cloned().map(Ok::<_, Infallible>);
        builder
            .header("content-type", "text/event-stream")
            .body(Body::from_stream(futures_util::stream::iter(frames)))
    } else {
        builder
            .header("content-type", "application/json")
            .body(Body::from(PLAIN_ANSWER.clone()))
    };
    built.unwrap_or_else(|_| Response::new(Body::empty()))
}

fn policy_text(upstream: SocketAddr) -> String {
    format!(
        r#"[policy]
name = "{POLICY}"
default_tier = "cheap"

[models.up]
provider = "openai"
model_id = "{UPSTREAM_MODEL}"
base_url = "http://{upstream}/v1"
input_usd_per_mtok = 1.0
output_usd_per_mtok = 4.0
max_output_tokens = 1000

[models.up-large]
provider = "openai"
model_id = "{UPSTREAM_MODEL}"
base_url = "http://{upstream}/v1"
input_usd_per_mtok = 5.0
output_usd_per_mtok = 20.0
max_output_tokens = 1000

[tiers]
cheap = "up"
premium = "up-large"

[[rules]]
name = "reasoning"
when = {{ needs_chain_of_thought = true }}
tier = "premium"

[[rules]]
name = "big-context"
when = {{ input_tokens = {{ gt = 30000 }} }}
tier = "premium"
"#
    )
}

/// The request body for a target: the baseline sends the upstream what serve would send it
/// (its model id, no `switchyard` object); serve gets the workload as `model` and the step.
fn body(target: Target, kind: Kind) -> Bytes {
    // The forwarder passes the body on as it is, so it gets what the upstream gets.
    let upstream_body = matches!(target, Target::Direct | Target::Forward);
    let mut v = json!({
        "model": if upstream_body { UPSTREAM_MODEL } else { POLICY },
        "max_tokens": 16,
        "messages": [
            {"role": "system", "content": "You summarize contracts. Be brief."},
            {"role": "user", "content": "Summarize the indemnity clause in two sentences."}
        ]
    });
    if kind == Kind::Stream {
        v["stream"] = json!(true);
        v["stream_options"] = json!({"include_usage": true});
    }
    if !upstream_body {
        v["switchyard"] = json!({"role": "summarize", "trace_id": "load"});
    }
    Bytes::from(v.to_string())
}

// ---------------------------------------------------------------------------------------
// The bare forwarder, as a separate process

/// What serve prints once it listens, and what the forwarder prints.
const READY_LINE: &str = "switchyard: serving ";
const FORWARDER_READY_LINE: &str = "serve_load forwarder: serving ";

/// The forwarder's state: the upstream URL and one pooled client.
#[derive(Clone)]
struct Forwarder {
    url: Arc<str>,
    client: reqwest::Client,
}

/// Runs the bare forwarder until killed: a multi-threaded runtime (as serve's), axum taking the
/// body, a reqwest client built as serve's shared client is (pooled, `TCP_NODELAY`), the
/// answer passed back whole, or frame by frame for a stream. Nothing is parsed, routed,
/// counted or logged: the cell measures the hop, not switchyard.
fn forwarder(upstream: SocketAddr) -> Result<(), String> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("sy-forwarder")
        .build()
        .map_err(|e| format!("runtime: {e}"))?;
    rt.block_on(async move {
        let client = reqwest::Client::builder()
            .pool_idle_timeout(Duration::from_secs(90))
            .tcp_nodelay(true)
            .build()
            .map_err(|e| format!("client: {e}"))?;
        let state = Forwarder {
            url: format!("http://{upstream}{PATH}").into(),
            client,
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| format!("bind: {e}"))?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        eprintln!("{FORWARDER_READY_LINE}http://{addr}");
        use axum::serve::ListenerExt;
        let listener = listener.tap_io(|tcp| {
            let _ = tcp.set_nodelay(true);
        });
        let app = axum::Router::new()
            .route(PATH, axum::routing::post(forward_one))
            .with_state(state);
        axum::serve(listener, app).await.map_err(|e| e.to_string())
    })
}

async fn forward_one(
    axum::extract::State(fw): axum::extract::State<Forwarder>,
    body: Bytes,
) -> Response {
    let sent = fw
        .client
        .post(&*fw.url)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await;
    let answer = match sent {
        Ok(a) => a,
        Err(e) => {
            let mut r = Response::new(Body::from(e.to_string()));
            *r.status_mut() = axum::http::StatusCode::BAD_GATEWAY;
            return r;
        }
    };
    let status = answer.status();
    let content_type = answer.headers().get("content-type").cloned();
    let streamed = content_type
        .as_ref()
        .is_some_and(|v| v.as_bytes().starts_with(b"text/event-stream"));
    let body = if streamed {
        Body::from_stream(answer.bytes_stream())
    } else {
        match answer.bytes().await {
            Ok(b) => Body::from(b),
            Err(e) => {
                let mut r = Response::new(Body::from(e.to_string()));
                *r.status_mut() = axum::http::StatusCode::BAD_GATEWAY;
                return r;
            }
        }
    };
    let mut r = Response::new(body);
    *r.status_mut() = status;
    if let Some(ct) = content_type {
        r.headers_mut().insert("content-type", ct);
    }
    r
}

// ---------------------------------------------------------------------------------------
// serve, as a separate process

struct Serve {
    child: Child,
    addr: SocketAddr,
    stderr: Arc<Mutex<Vec<String>>>,
}

impl Serve {
    /// Starts the binary cargo built beside this bench, on a free port, and waits for its
    /// ready line.
    fn start(policy: &Path, mock: bool, call_log: Option<&Path>) -> Result<Serve, String> {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_switchyard"));
        cmd.arg("serve")
            .arg("--policy")
            .arg(policy)
            .args(["--listen", "127.0.0.1:0"]);
        if mock {
            cmd.arg("--mock");
        }
        if let Some(log) = call_log {
            cmd.arg("--call-log").arg(log);
        }
        Serve::spawn(cmd, "switchyard serve")
    }

    /// Starts this bench's own binary as the bare forwarder to `upstream`.
    fn start_forwarder(upstream: SocketAddr) -> Result<Serve, String> {
        let exe = std::env::current_exe().map_err(|e| format!("this bench's path: {e}"))?;
        let mut cmd = Command::new(exe);
        cmd.arg("--forward-to").arg(upstream.to_string());
        Serve::spawn(cmd, "the bare forwarder")
    }

    /// Spawns `cmd` and waits for its ready line on stderr, which ends with the address.
    fn spawn(mut cmd: Command, what: &str) -> Result<Serve, String> {
        cmd.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().map_err(|e| format!("starting {what}: {e}"))?;
        let pipe = child.stderr.take().ok_or("no stderr pipe")?;
        let lines = Arc::new(Mutex::new(Vec::new()));
        let kept = lines.clone();
        let (tx, rx) = std::sync::mpsc::channel();
        // Drains stderr for the whole run, so a chatty server never blocks on a full pipe.
        std::thread::spawn(move || {
            let mut tx = Some(tx);
            for line in BufReader::new(pipe).lines() {
                let Ok(line) = line else { break };
                if line.starts_with(READY_LINE) || line.starts_with(FORWARDER_READY_LINE) {
                    if let Some(tx) = tx.take() {
                        let _ = tx.send(line.clone());
                    }
                }
                let mut kept = kept.lock().unwrap_or_else(|e| e.into_inner());
                if kept.len() < 1000 {
                    kept.push(line);
                }
            }
        });
        let mut serve = Serve {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            stderr: lines,
        };
        let ready = rx
            .recv_timeout(Duration::from_secs(60))
            .map_err(|_| format!("{what} did not start:\n{}", serve.stderr_text()))?;
        serve.addr = ready
            .rsplit_once("http://")
            .and_then(|(_, a)| a.trim().parse().ok())
            .ok_or_else(|| format!("no address in the ready line {ready:?}"))?;
        Ok(serve)
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn stderr_text(&self) -> String {
        self.stderr
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .join("\n")
    }

    /// An error with serve's stderr if the process has exited.
    fn check_alive(&mut self) -> Result<(), String> {
        match self.child.try_wait() {
            Ok(None) => Ok(()),
            Ok(Some(status)) => Err(format!(
                "serve (pid {}) exited during the run ({status}):\n{}",
                self.pid(),
                self.stderr_text()
            )),
            Err(e) => Err(format!("cannot check on serve: {e}")),
        }
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---------------------------------------------------------------------------------------
// One cell of load

/// One cell: a fixed rate to one address for a while.
struct Load {
    addr: SocketAddr,
    /// Request `i` sends `requests[i % len]`.
    requests: Vec<(Bytes, Kind)>,
    rate: u64,
    warmup: Duration,
    duration: Duration,
    connections: u64,
    timeout: Duration,
    /// serve's process, whose CPU time the cell reports.
    serve_pid: Option<u32>,
}

/// A request released by the pacer.
struct Job {
    index: u64,
    release: Instant,
    recorded: bool,
}

/// What a cell measured.
struct Outcome {
    sent: u64,
    ok: u64,
    errors: u64,
    error_kinds: BTreeMap<String, u64>,
    /// From the first recorded release to the last recorded answer.
    span: Duration,
    latency: Histogram<u64>,
    first_byte: Histogram<u64>,
    pacer_lag: Histogram<u64>,
    cpu: CpuShare,
}

/// Each party's CPU time over the cell, as a share of one core.
#[derive(Default, Clone, Copy)]
struct CpuShare {
    generator: f64,
    pacer: f64,
    upstream: f64,
    serve: Option<f64>,
}

#[derive(Default)]
struct Tally {
    ok: u64,
    errors: u64,
    error_kinds: BTreeMap<String, u64>,
    first_release: Option<Instant>,
    last_done: Option<Instant>,
    latency: Option<Histogram<u64>>,
    first_byte: Option<Histogram<u64>>,
}

fn histogram() -> Histogram<u64> {
    // 1 ns .. 100 s at 3 significant digits.
    Histogram::new_with_bounds(1, 100_000_000_000, 3).expect("valid histogram bounds")
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

impl Tally {
    fn error(&mut self, kind: String) {
        self.errors += 1;
        *self.error_kinds.entry(kind).or_default() += 1;
    }
}

impl Load {
    async fn run(&self) -> Outcome {
        let warm_n = (self.warmup.as_secs_f64() * self.rate as f64).round() as u64;
        let total = warm_n + (self.duration.as_secs_f64() * self.rate as f64).round() as u64;
        let tally = Arc::new(Mutex::new(Tally {
            latency: Some(histogram()),
            first_byte: Some(histogram()),
            ..Tally::default()
        }));
        let (tx, rx) = mpsc::unbounded_channel::<Job>();
        let rx = Arc::new(tokio::sync::Mutex::new(rx));
        let requests: Arc<[(Bytes, Kind)]> = self.requests.clone().into();
        let before = cpu_ticks(self.serve_pid);
        let started = Instant::now();

        let mut workers = Vec::new();
        for _ in 0..self.connections.max(1) {
            let worker = Worker {
                addr: self.addr,
                requests: requests.clone(),
                rx: rx.clone(),
                tally: tally.clone(),
                timeout: self.timeout,
            };
            workers.push(tokio::spawn(worker.run()));
        }
        let rate = self.rate.max(1);
        let pacer = std::thread::Builder::new()
            .name("sy-pacer".into())
            .spawn(move || pace(rate, warm_n, total, tx))
            .expect("start the pacer thread");
        for w in workers {
            let _ = w.await;
        }
        let (pacer_lag, pacer_ticks) = pacer.join().expect("the pacer panicked");
        let elapsed = started.elapsed();
        let after = cpu_ticks(self.serve_pid);

        let mut tally = tally.lock().unwrap_or_else(|e| e.into_inner());
        let recorded = total - warm_n;
        let span = match (tally.first_release, tally.last_done) {
            (Some(a), Some(b)) => b.saturating_duration_since(a),
            _ => Duration::ZERO,
        };
        let share = |ticks: u64| ticks as f64 / CLOCK_TICKS / elapsed.as_secs_f64();
        Outcome {
            sent: recorded,
            ok: tally.ok,
            errors: tally.errors,
            error_kinds: std::mem::take(&mut tally.error_kinds),
            span,
            latency: tally.latency.take().unwrap_or_else(histogram),
            first_byte: tally.first_byte.take().unwrap_or_else(histogram),
            pacer_lag,
            cpu: CpuShare {
                generator: share(after.thread("sy-loadgen") - before.thread("sy-loadgen")),
                pacer: share(pacer_ticks),
                upstream: share(after.thread("sy-upstream") - before.thread("sy-upstream")),
                serve: match (before.serve, after.serve) {
                    (Some(a), Some(b)) => Some(share(b.saturating_sub(a))),
                    _ => None,
                },
            },
        }
    }
}

/// Releases request `i` at `start + i / rate`, whatever the replies do; returns how late each
/// recorded release was against its schedule, and the pacer's own CPU ticks.
fn pace(
    rate: u64,
    warm_n: u64,
    total: u64,
    tx: mpsc::UnboundedSender<Job>,
) -> (Histogram<u64>, u64) {
    let mut lag = histogram();
    let start = Instant::now() + Duration::from_millis(5);
    for index in 0..total {
        let due = start + Duration::from_nanos(index * 1_000_000_000 / rate);
        let now = Instant::now();
        if due > now {
            std::thread::sleep(due - now);
        }
        let release = Instant::now();
        let recorded = index >= warm_n;
        if recorded {
            lag.saturating_record(nanos(release.saturating_duration_since(due)));
        }
        if tx
            .send(Job {
                index,
                release,
                recorded,
            })
            .is_err()
        {
            break;
        }
    }
    let ticks = std::fs::read_to_string("/proc/thread-self/stat")
        .ok()
        .and_then(|s| stat_ticks(&s).map(|(_, t)| t))
        .unwrap_or(0);
    (lag, ticks)
}

/// One keep-alive connection: takes the next released request, sends it, reads the whole
/// answer, records it; reconnects after an error.
struct Worker {
    addr: SocketAddr,
    requests: Arc<[(Bytes, Kind)]>,
    rx: Arc<tokio::sync::Mutex<mpsc::UnboundedReceiver<Job>>>,
    tally: Arc<Mutex<Tally>>,
    timeout: Duration,
}

/// What one answer looked like.
struct Answer {
    ok: bool,
    status: u16,
    first_byte: Option<Instant>,
    done: Instant,
}

impl Worker {
    async fn run(self) {
        let mut conn: Option<SendRequest<Full<Bytes>>> = None;
        loop {
            let job = { self.rx.lock().await.recv().await };
            let Some(job) = job else { break };
            let (body, kind) = &self.requests[(job.index % self.requests.len() as u64) as usize];
            let left = self.timeout.saturating_sub(job.release.elapsed());
            let answer = if left.is_zero() {
                // Waited its whole timeout for a connection: the target fell behind.
                Err("not sent in time (every connection busy)".to_owned())
            } else {
                match tokio::time::timeout(left, send(&mut conn, self.addr, body.clone(), *kind))
                    .await
                {
                    Ok(r) => r,
                    Err(_) => Err("timed out".to_owned()),
                }
            };
            if answer.is_err() {
                // The connection's state is unknown after an error: start a new one.
                conn = None;
            }
            if !job.recorded {
                continue;
            }
            let mut t = self.tally.lock().unwrap_or_else(|e| e.into_inner());
            t.first_release = Some(t.first_release.map_or(job.release, |f| f.min(job.release)));
            match answer {
                Ok(a) if a.ok => {
                    t.ok += 1;
                    t.last_done = Some(t.last_done.map_or(a.done, |l| l.max(a.done)));
                    let took = a.done.saturating_duration_since(job.release);
                    if let Some(h) = t.latency.as_mut() {
                        h.saturating_record(nanos(took));
                    }
                    if let (Some(first), Some(h)) = (a.first_byte, t.first_byte.as_mut()) {
                        h.saturating_record(nanos(first.saturating_duration_since(job.release)));
                    }
                }
                Ok(a) => t.error(format!("status {} or a malformed body", a.status)),
                Err(e) => t.error(e),
            }
        }
    }
}

async fn connect(addr: SocketAddr) -> Result<SendRequest<Full<Bytes>>, String> {
    let tcp = tokio::net::TcpStream::connect(addr)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    let _ = tcp.set_nodelay(true);
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
        .await
        .map_err(|e| format!("handshake: {e}"))?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(sender)
}

async fn send(
    conn: &mut Option<SendRequest<Full<Bytes>>>,
    addr: SocketAddr,
    body: Bytes,
    kind: Kind,
) -> Result<Answer, String> {
    if conn.as_ref().is_none_or(|c| c.is_closed()) {
        *conn = Some(connect(addr).await?);
    }
    let Some(sender) = conn.as_mut() else {
        return Err("no connection".to_owned());
    };
    sender
        .ready()
        .await
        .map_err(|e| format!("connection: {e}"))?;
    let request = hyper::Request::post(PATH)
        .header(hyper::header::HOST, "127.0.0.1")
        .header(hyper::header::CONTENT_TYPE, "application/json")
        .body(Full::new(body))
        .map_err(|e| format!("request: {e}"))?;
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| format!("request: {e}"))?;
    let status = response.status().as_u16();
    let mut body = response.into_body();
    let mut first_byte = None;
    let mut all = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| format!("body: {e}"))?;
        if let Some(data) = frame.data_ref() {
            if first_byte.is_none() && !data.is_empty() {
                first_byte = Some(Instant::now());
            }
            all.extend_from_slice(data);
        }
    }
    let done = Instant::now();
    let ok = status == 200
        && match kind {
            Kind::Plain => memchr::memmem::find(&all, b"\"choices\"").is_some(),
            Kind::Stream => all.trim_ascii_end().ends_with(b"data: [DONE]"),
        };
    Ok(Answer {
        ok,
        status,
        first_byte: (kind == Kind::Stream).then_some(first_byte).flatten(),
        done,
    })
}

// ---------------------------------------------------------------------------------------
// CPU and memory from /proc

/// `/proc/*/stat` counts CPU time in clock ticks of 1/100 s on Linux.
const CLOCK_TICKS: f64 = 100.0;

struct Ticks {
    /// This process's threads by name.
    threads: BTreeMap<String, u64>,
    serve: Option<u64>,
}

impl Ticks {
    fn thread(&self, name: &str) -> u64 {
        self.threads.get(name).copied().unwrap_or(0)
    }
}

fn cpu_ticks(serve: Option<u32>) -> Ticks {
    let mut threads = BTreeMap::new();
    if let Ok(dir) = std::fs::read_dir("/proc/self/task") {
        for entry in dir.flatten() {
            let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
            if let Some((name, ticks)) = stat_ticks(&stat) {
                *threads.entry(name).or_default() += ticks;
            }
        }
    }
    let serve = serve.and_then(|pid| {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        stat_ticks(&stat).map(|(_, t)| t)
    });
    Ticks { threads, serve }
}

/// The name and user + system ticks from a `/proc/…/stat` line.
fn stat_ticks(stat: &str) -> Option<(String, u64)> {
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let name = stat.get(open + 1..close)?.to_owned();
    // After the name: state is field 3, utime 14 and stime 15.
    let fields: Vec<&str> = stat.get(close + 1..)?.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some((name, utime + stime))
}

/// A process's resident set size in KiB, from `/proc/PID/status`.
fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn machine_note() -> String {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let load: Vec<&str> = load.split_whitespace().take(3).collect();
    format!(
        "{cores} cores, load average {} at start. The generator (one thread, `sy-loadgen`, plus \
         the pacer thread), the fake upstream (one thread) and serve share these cores: read \
         the generator table before trusting a latency.",
        load.join(" ")
    )
}

// ---------------------------------------------------------------------------------------
// Output

struct Cell {
    target: Target,
    kind: Kind,
    /// The body column: the kind's name, or "mixed" for the soak.
    body: &'static str,
    rate: u64,
    result: Outcome,
}

fn us(ns: u64) -> String {
    format!("{:.0}", ns as f64 / 1000.0)
}

fn signed_us(ns: i128) -> String {
    let v = ns as f64 / 1000.0;
    if v >= 0.0 {
        format!("+{v:.0}")
    } else {
        format!("−{:.0}", -v)
    }
}

fn achieved(o: &Outcome) -> f64 {
    if o.span.is_zero() {
        0.0
    } else {
        o.ok as f64 / o.span.as_secs_f64()
    }
}

fn latency_table(cells: &[Cell]) -> String {
    let mut out = String::new();
    out.push_str(
        "| target | body | rate (rps) | achieved (rps) | errors | p50 µs | p90 µs | p99 µs | max µs \
         | added p50 µs | added p99 µs | first byte p50 / p99 µs |\n",
    );
    out.push_str(
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n",
    );
    for c in cells {
        let o = &c.result;
        let q = |h: &Histogram<u64>, p: f64| {
            if h.is_empty() {
                0
            } else {
                h.value_at_quantile(p)
            }
        };
        let baseline = cells
            .iter()
            .find(|b| b.target == Target::Direct && b.kind == c.kind && b.rate == c.rate);
        let (added50, added99) = match (c.target, baseline) {
            (Target::Proxy | Target::Forward, Some(b))
                if !o.latency.is_empty() && !b.result.latency.is_empty() =>
            {
                (
                    signed_us(q(&o.latency, 0.5) as i128 - q(&b.result.latency, 0.5) as i128),
                    signed_us(q(&o.latency, 0.99) as i128 - q(&b.result.latency, 0.99) as i128),
                )
            }
            _ => ("".to_owned(), "".to_owned()),
        };
        let first = if !o.first_byte.is_empty() {
            format!(
                "{} / {}",
                us(q(&o.first_byte, 0.5)),
                us(q(&o.first_byte, 0.99))
            )
        } else {
            String::new()
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {:.0} | {} | {} | {} | {} | {} | {} | {} | {} |",
            c.target.label(),
            c.body,
            c.rate,
            achieved(o),
            errors_cell(o),
            us(q(&o.latency, 0.5)),
            us(q(&o.latency, 0.9)),
            us(q(&o.latency, 0.99)),
            us(if o.latency.is_empty() {
                0
            } else {
                o.latency.max()
            }),
            added50,
            added99,
            first,
        );
    }
    out.push('\n');
    out
}

fn errors_cell(o: &Outcome) -> String {
    if o.errors == 0 {
        return format!("0 of {}", o.sent);
    }
    let kinds: Vec<String> = o
        .error_kinds
        .iter()
        .map(|(k, n)| format!("{n} {k}"))
        .collect();
    format!("{} of {} ({})", o.errors, o.sent, kinds.join("; "))
}

fn generator_table(cells: &[Cell]) -> String {
    let mut out = String::new();
    out.push_str(
        "Is the generator the bottleneck? CPU of each party over the cell (100% = one core) and \
         how late the pacer released requests against their schedule (excluded from latency):\n\n",
    );
    out.push_str("| target | body | rate (rps) | generator | pacer | upstream | serve | pacer late p99 / max µs | verdict |\n");
    out.push_str("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |\n");
    for c in cells {
        let o = &c.result;
        let lag99 = if o.pacer_lag.is_empty() {
            0
        } else {
            o.pacer_lag.value_at_quantile(0.99)
        };
        let lag_max = if o.pacer_lag.is_empty() {
            0
        } else {
            o.pacer_lag.max()
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {:.0}% | {:.0}% | {:.0}% | {} | {} / {} | {} |",
            c.target.label(),
            c.body,
            c.rate,
            o.cpu.generator * 100.0,
            o.cpu.pacer * 100.0,
            o.cpu.upstream * 100.0,
            o.cpu
                .serve
                .map_or("".to_owned(), |s| format!("{:.0}%", s * 100.0)),
            us(lag99),
            us(lag_max),
            verdict(o),
        );
    }
    out.push('\n');
    out
}

/// Whether the generator could have distorted the cell.
fn verdict(o: &Outcome) -> String {
    let mut doubts = Vec::new();
    if o.cpu.generator > 0.8 {
        doubts.push("generator near a full core");
    }
    if !o.pacer_lag.is_empty() && o.pacer_lag.value_at_quantile(0.99) > 1_000_000 {
        doubts.push("pacer late by over 1 ms");
    }
    if doubts.is_empty() {
        "generator kept up".to_owned()
    } else {
        doubts.join("; ")
    }
}

// ---------------------------------------------------------------------------------------
// Soak

async fn soak(args: &Args, secs: u64, policy: &Path, log: Option<&Path>) -> Result<(), String> {
    let mut serve = Serve::start(policy, false, log)?;
    let pid = serve.pid();
    println!(
        "Soak: serve → upstream at {} rps for {secs} s, plain and streamed requests \
         alternating, {} connections; serve's RSS every 10 s.\n",
        args.soak_rate, args.connections
    );
    let stop = Arc::new(AtomicBool::new(false));
    let sampler = {
        let stop = stop.clone();
        std::thread::spawn(move || sample_rss(pid, &stop))
    };
    let load = Load {
        addr: serve.addr,
        requests: vec![
            (body(Target::Proxy, Kind::Plain), Kind::Plain),
            (body(Target::Proxy, Kind::Stream), Kind::Stream),
        ],
        rate: args.soak_rate,
        // The start-up (connections, the tokenizer's first use) stays out of the latencies.
        warmup: Duration::from_secs_f64(args.warmup),
        duration: Duration::from_secs(secs),
        connections: args.connections,
        timeout: Duration::from_secs_f64(args.timeout),
        serve_pid: Some(pid),
    };
    let result = load.run().await;
    stop.store(true, Ordering::SeqCst);
    let samples = sampler.join().unwrap_or_default();
    serve.check_alive()?;
    let cell = Cell {
        target: Target::Proxy,
        kind: Kind::Plain,
        body: "mixed",
        rate: args.soak_rate,
        result,
    };
    print!("{}", rss_report(&samples));
    println!("Latency over the soak (plain and streamed together):\n");
    print!("{}", latency_table(std::slice::from_ref(&cell)));
    print!("{}", generator_table(std::slice::from_ref(&cell)));
    Ok(())
}

/// (seconds since start, RSS KiB), every 10 s until `stop`.
fn sample_rss(pid: u32, stop: &AtomicBool) -> Vec<(u64, u64)> {
    let start = Instant::now();
    let mut samples = Vec::new();
    let mut next = 0u64;
    while !stop.load(Ordering::SeqCst) {
        if start.elapsed() >= Duration::from_secs(next) {
            if let Some(kib) = rss_kib(pid) {
                samples.push((next, kib));
            }
            next += 10;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    if let Some(kib) = rss_kib(pid) {
        samples.push((start.elapsed().as_secs(), kib));
    }
    samples
}

fn rss_report(samples: &[(u64, u64)]) -> String {
    let mut out = String::from("| t (s) | serve RSS (MiB) |\n| ---: | ---: |\n");
    for (t, kib) in samples {
        let _ = writeln!(out, "| {t} | {:.1} |", *kib as f64 / 1024.0);
    }
    out.push('\n');
    // Drift from the first sample under load (10 s), so start-up growth is not counted.
    let under_load: Vec<&(u64, u64)> = samples.iter().filter(|(t, _)| *t >= 10).collect();
    if let (Some(first), Some(last)) = (under_load.first(), under_load.last()) {
        let drift = last.1 as f64 - first.1 as f64;
        let max = under_load.iter().map(|s| s.1).max().unwrap_or(0);
        let min = under_load.iter().map(|s| s.1).min().unwrap_or(0);
        let _ =
            writeln!(
            out,
            "RSS drift from {} s to {} s: {:+.1} MiB ({:+.1}%); range under load {:.1}–{:.1} MiB; \
             slope {:+.2} MiB/min (least squares).\n",
            first.0,
            last.0,
            drift / 1024.0,
            if first.1 == 0 { 0.0 } else { drift / first.1 as f64 * 100.0 },
            min as f64 / 1024.0,
            max as f64 / 1024.0,
            slope_per_min(&under_load) / 1024.0,
        );
    } else {
        out.push_str("Too short for a drift (the first sample under load is at 10 s).\n\n");
    }
    out
}

/// Least-squares slope of KiB over time, in KiB per minute.
fn slope_per_min(samples: &[&(u64, u64)]) -> f64 {
    let n = samples.len() as f64;
    if n < 2.0 {
        return 0.0;
    }
    let mx = samples.iter().map(|s| s.0 as f64).sum::<f64>() / n;
    let my = samples.iter().map(|s| s.1 as f64).sum::<f64>() / n;
    let sxy: f64 = samples
        .iter()
        .map(|s| (s.0 as f64 - mx) * (s.1 as f64 - my))
        .sum();
    let sxx: f64 = samples.iter().map(|s| (s.0 as f64 - mx).powi(2)).sum();
    if sxx == 0.0 {
        0.0
    } else {
        sxy / sxx * 60.0
    }
}
