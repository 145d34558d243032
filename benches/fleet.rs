//! What a shared budget store costs a call: `switchyard serve --mock` on a capped policy
//! (a daily and a per-trace cap, so each call reserves and settles two counters), once with
//! `--budget-store memory` and once with `--budget-store redis://…` on a `redis-server` on
//! loopback started by the bench, in the same run, cell after cell.
//!
//! - latency: open-loop load at `--rate` requests per second (a request is sent at its
//!   scheduled time whatever the others do, each from its own task; its latency counts from
//!   when it was sent), p50 / p90 / p99 per store and the difference;
//! - throughput: `--connections` clients sending back to back for `--duration` seconds;
//! - the store alone: `--pairs` reserve + settle pairs one after the other through the
//!   library's `Store` (memory, then Redis), no HTTP: what one call's two round trips cost;
//! - the scripts inside Redis: `--pairs` reserves, then their settlements, each batch timed by
//!   Redis itself (`INFO commandstats`, µs per `EVALSHA`), the cost the server's CPU pays.
//!
//! `--switchyard PATH` runs the serve cells with another build of the binary (an older commit's,
//! to compare in one run); `--store-only` skips the serve cells.
//!
//! ```text
//! cargo bench --bench fleet
//! cargo bench --bench fleet -- --rate 1000 --duration 5 --rounds 2
//! ```
//!
//! It asserts no speed: numbers on a busy machine show that the bench works, not the cost.

#[path = "../tests/common/redis_server.rs"]
mod redis_server;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::Parser;
use hdrhistogram::Histogram;
use serde_json::json;
use switchyard::money::Picos;
use switchyard::policy::{Budget, OnExceed};
use switchyard::runner::budget::{
    utc_day, BudgetStore, ReserveRequest, Scope, Store, StoreOptions, StoreUrl,
};

/// The bench's flags.
#[derive(Debug, Parser)]
struct Args {
    /// Requests per second of the latency cells.
    #[arg(long, default_value_t = 1000)]
    rate: u64,
    /// Seconds each cell is measured.
    #[arg(long, default_value_t = 5)]
    duration: u64,
    /// Seconds each cell runs unrecorded first.
    #[arg(long, default_value_t = 1)]
    warmup: u64,
    /// Cells per store, alternating memory and redis.
    #[arg(long, default_value_t = 2)]
    rounds: u32,
    /// Clients of the throughput cells.
    #[arg(long, default_value_t = 16)]
    connections: usize,
    /// Reserve + settle pairs timed through the store alone.
    #[arg(long, default_value_t = 5000)]
    pairs: u64,
    /// The `switchyard` binary the serve cells run (default: this build's).
    #[arg(long)]
    switchyard: Option<std::path::PathBuf>,
    /// Only the store alone and the scripts inside Redis, no serve cells.
    #[arg(long)]
    store_only: bool,
    /// Passed by `cargo bench`.
    #[arg(long, hide = true)]
    bench: bool,
}

const POLICY: &str = r#"[policy]
name = "bench"
default_tier = "cheap"
tokenizer = "approx"

[models.small]
provider = "mock"
input_usd_per_mtok = 1.0
output_usd_per_mtok = 2.0
max_output_tokens = 1000

[tiers]
cheap = "small"

[budget]
per_workload_day_usd = 9000000.0
per_trace_usd = 9000000.0
"#;

struct Serve {
    child: Child,
    addr: SocketAddr,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(bin: &std::path::Path, policy: &std::path::Path, store: &str) -> Serve {
    let mut child = Command::new(bin)
        .args(["serve", "--mock", "--listen", "127.0.0.1:0", "--policy"])
        .arg(policy)
        .args(["--budget-store", store])
        .env("RUST_LOG", "error")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start switchyard serve");
    let pipe = child.stderr.take().expect("stderr");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut tx = Some(tx);
        for line in BufReader::new(pipe).lines().map_while(Result::ok) {
            if line.starts_with("switchyard: serving ") {
                if let Some(tx) = tx.take() {
                    let _ = tx.send(line);
                }
            }
        }
    });
    let ready = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("serve's ready line");
    let addr = ready
        .rsplit_once("http://")
        .and_then(|(_, a)| a.trim().parse().ok())
        .expect("an address in the ready line");
    Serve { child, addr }
}

fn body(i: u64) -> String {
    json!({
        "model": "bench",
        "max_tokens": 16,
        "messages": [{"role": "user", "content": "Summarize the indemnity clause."}],
        "switchyard": {"role": "summarize", "trace_id": format!("trace-{}", i % 64)},
    })
    .to_string()
}

async fn send(client: &reqwest::Client, url: &str, i: u64) -> bool {
    match client
        .post(url)
        .header("content-type", "application/json")
        .body(body(i))
        .send()
        .await
    {
        Ok(r) => r.status().is_success() && r.bytes().await.is_ok(),
        Err(_) => false,
    }
}

/// Open loop at `rate` for `secs`: latency (µs) of each request from when its task sent it
/// (tokio's timer wakes the pacer up to a millisecond late; counted from the schedule, that
/// lag would hide the difference measured), and the pacer's lag behind its schedule.
async fn open_loop(url: &str, rate: u64, secs: u64, record: bool) -> (Histogram<u64>, u64) {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .tcp_nodelay(true)
        .build()
        .unwrap();
    let hist = Arc::new(Mutex::new(histogram()));
    let errors = Arc::new(AtomicU64::new(0));
    let total = rate * secs;
    let start = tokio::time::Instant::now();
    let mut tasks = Vec::with_capacity(total as usize);
    for i in 0..total {
        let due = start + Duration::from_nanos(i * 1_000_000_000 / rate);
        tokio::time::sleep_until(due).await;
        let (client, url, hist, errors) = (
            client.clone(),
            url.to_string(),
            hist.clone(),
            errors.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let sent = Instant::now();
            let ok = send(&client, &url, i).await;
            let took = sent.elapsed().as_micros() as u64;
            if !ok {
                errors.fetch_add(1, Ordering::Relaxed);
            } else if record {
                hist.lock().unwrap().saturating_record(took);
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    let h = hist.lock().unwrap().clone();
    (h, errors.load(Ordering::Relaxed))
}

/// `clients` clients back to back for `secs`: answers per second.
async fn closed_loop(url: &str, clients: usize, secs: u64) -> f64 {
    let client = reqwest::Client::builder()
        .tcp_nodelay(true)
        .build()
        .unwrap();
    let done = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let end = start + Duration::from_secs(secs);
    let tasks: Vec<_> = (0..clients)
        .map(|c| {
            let (client, url, done) = (client.clone(), url.to_string(), done.clone());
            tokio::spawn(async move {
                let mut i = c as u64;
                while Instant::now() < end {
                    if send(&client, &url, i).await {
                        done.fetch_add(1, Ordering::Relaxed);
                    }
                    i += clients as u64;
                }
            })
        })
        .collect();
    for t in tasks {
        let _ = t.await;
    }
    done.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64()
}

/// An empty histogram from 1 to 60 s in ns (wide enough for µs and ns alike), 3 digits.
fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000_000, 3).expect("valid bounds")
}

/// Caps no call reaches, so the store's own timing sections never see a refusal.
fn uncapped() -> Budget {
    Budget {
        per_trace: Some(Picos(i64::MAX as u64)),
        per_workload_day: Some(Picos(i64::MAX as u64)),
        per_call: None,
        on_exceed: OnExceed::Reject,
    }
}

/// The timing sections' reserve: $0.000001 worst case under trace `trace`, a minute's lease.
fn request<'a>(budget: &'a Budget, trace: &'a str, day: u64) -> ReserveRequest<'a> {
    ReserveRequest {
        budget,
        scope: Scope {
            workload: "bench",
            trace: Some(trace),
            day,
        },
        tier: "cheap",
        amount: Picos(1_000_000),
        lease: Duration::from_secs(60),
    }
}

/// `pairs` reserve + settle pairs on `store`, one after the other: ns per pair.
async fn pairs(store: &Store, pairs: u64) -> Histogram<u64> {
    let budget = uncapped();
    let day = utc_day(std::time::SystemTime::now());
    let mut h = histogram();
    for i in 0..pairs {
        let trace = format!("trace-{}", i % 64);
        let start = Instant::now();
        let hold = store
            .reserve(request(&budget, &trace, day))
            .await
            .expect("a hold");
        store.settle(hold, Picos(900_000)).await.expect("settled");
        h.saturating_record(start.elapsed().as_nanos() as u64);
    }
    h
}

/// The serve cells: latency at `--rate` and throughput, memory against Redis.
fn serve_cells(args: &Args, rt: &tokio::runtime::Runtime, redis: &redis_server::RedisServer) {
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("bench.toml");
    std::fs::write(&policy, POLICY).unwrap();
    let bin = args
        .switchyard
        .clone()
        .unwrap_or_else(|| env!("CARGO_BIN_EXE_switchyard").into());
    let memory = serve(&bin, &policy, "memory");
    let shared = serve(&bin, &policy, &format!("{}?prefix=bench", redis.url()));
    let targets = [("memory", memory.addr), ("redis", shared.addr)];

    let mut hists: Vec<Histogram<u64>> = vec![histogram(); 2];
    let mut errors = [0u64; 2];
    for _ in 0..args.rounds {
        for (k, (_, addr)) in targets.iter().enumerate() {
            let url = format!("http://{addr}/v1/chat/completions");
            rt.block_on(open_loop(&url, args.rate, args.warmup, false));
            let (h, e) = rt.block_on(open_loop(&url, args.rate, args.duration, true));
            hists[k].add(&h).unwrap();
            errors[k] += e;
        }
    }
    println!(
        "\nlatency at {} rps, {} s x {} rounds per store (µs, from each request's sending):\n",
        args.rate, args.duration, args.rounds
    );
    println!(
        "| store | requests | errors | p50 | p90 | p99 | max |\n| --- | --- | --- | --- | --- | --- | --- |"
    );
    for (k, (name, _)) in targets.iter().enumerate() {
        let h = &hists[k];
        println!(
            "| {name} | {} | {} | {} | {} | {} | {} |",
            h.len(),
            errors[k],
            h.value_at_quantile(0.5),
            h.value_at_quantile(0.9),
            h.value_at_quantile(0.99),
            h.max()
        );
    }
    let q = |k: usize, p: f64| hists[k].value_at_quantile(p) as i64;
    println!(
        "\nadded by redis over memory: p50 {} µs, p99 {} µs",
        q(1, 0.5) - q(0, 0.5),
        q(1, 0.99) - q(0, 0.99)
    );

    println!(
        "\nthroughput, {} clients back to back, {} s per store:\n",
        args.connections, args.duration
    );
    println!("| store | answers/s |\n| --- | --- |");
    for (name, addr) in targets {
        let url = format!("http://{addr}/v1/chat/completions");
        let rps = rt.block_on(closed_loop(&url, args.connections, args.duration));
        println!("| {name} | {rps:.0} |");
    }
}

/// `INFO commandstats`' µs per `EVALSHA` since the last `CONFIG RESETSTAT`.
async fn evalsha_usec(con: &mut redis::aio::MultiplexedConnection) -> (u64, f64) {
    let info: String = redis::cmd("INFO")
        .arg("commandstats")
        .query_async(con)
        .await
        .unwrap();
    let line = info
        .lines()
        .find(|l| l.starts_with("cmdstat_evalsha:"))
        .unwrap_or("");
    let field = |name: &str| {
        line.split([':', ','])
            .find_map(|kv| kv.strip_prefix(name))
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (field("calls=") as u64, field("usec_per_call="))
}

/// The scripts' cost inside Redis: `n` reserves of a call under a daily and a trace cap, then
/// their `n` settlements, each batch timed by Redis.
async fn script_cost(url: &str, n: u64) -> [(u64, f64); 2] {
    let options = StoreOptions {
        url: format!("{url}?prefix=cost").parse::<StoreUrl>().unwrap(),
        ..StoreOptions::default()
    };
    let store = Store::open(&options).unwrap();
    let budget = uncapped();
    let day = utc_day(std::time::SystemTime::now());
    let mut con = redis::Client::open(url)
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let reset = |con: &mut redis::aio::MultiplexedConnection| {
        let mut con = con.clone();
        async move {
            let () = redis::cmd("CONFIG")
                .arg("RESETSTAT")
                .query_async(&mut con)
                .await
                .unwrap();
        }
    };
    let traces: Vec<String> = (0..64).map(|i| format!("trace-{i}")).collect();
    let mut holds = Vec::with_capacity(n as usize);
    // One untimed pair first: the scripts are loaded, the counters made.
    for round in 0..2 {
        reset(&mut con).await;
        let count = if round == 0 { 64 } else { n };
        for i in 0..count {
            let hold = store
                .reserve(request(&budget, &traces[(i % 64) as usize], day))
                .await
                .expect("a hold");
            holds.push(hold);
        }
        if round == 0 {
            for h in holds.drain(..) {
                store.settle(h, Picos(900_000)).await.expect("settled");
            }
        }
    }
    let reserve = evalsha_usec(&mut con).await;
    reset(&mut con).await;
    for h in holds {
        store.settle(h, Picos(900_000)).await.expect("settled");
    }
    let settle = evalsha_usec(&mut con).await;
    [reserve, settle]
}

fn main() {
    let args = Args::parse();
    let redis = redis_server::RedisServer::start();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    if !args.store_only {
        serve_cells(&args, &rt, &redis);
    }
    println!(
        "\nthe store alone, {} reserve + settle pairs one after the other (µs per pair):\n",
        args.pairs
    );
    println!("| store | p50 | p90 | p99 | max |\n| --- | --- | --- | --- | --- |");
    for (name, url) in [
        ("memory", "memory".to_string()),
        ("redis", format!("{}?prefix=pairs", redis.url())),
    ] {
        let h = rt.block_on(async {
            let options = StoreOptions {
                url: url.parse::<StoreUrl>().unwrap(),
                ..StoreOptions::default()
            };
            let store = Store::open(&options).unwrap();
            pairs(&store, args.pairs / 10).await; // warm-up
            pairs(&store, args.pairs).await
        });
        let us = |ns: u64| ns as f64 / 1000.0;
        println!(
            "| {name} | {:.1} | {:.1} | {:.1} | {:.1} |",
            us(h.value_at_quantile(0.5)),
            us(h.value_at_quantile(0.9)),
            us(h.value_at_quantile(0.99)),
            us(h.max())
        );
    }

    println!(
        "\nthe scripts inside Redis, {} calls each (INFO commandstats):\n",
        args.pairs
    );
    println!("| script | calls | µs per call |\n| --- | --- | --- |");
    let cost = rt.block_on(script_cost(&redis.url(), args.pairs));
    for (name, (calls, us)) in ["reserve", "settle"].iter().zip(cost) {
        println!("| {name} | {calls} | {us:.2} |");
    }
}
