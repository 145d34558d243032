//! Budgets shared by a fleet, end to end: a real `redis-server` started by the test (random
//! port, no persistence) and real `switchyard serve` replicas sharing it. Three replicas under
//! hundreds of concurrent calls spend a cap exactly; a replica killed with SIGKILL gives its
//! holds back by their leases; Redis stopped and started again mid-run (closed and open); a
//! settlement sent twice counts once and a late one still counts; `GET /v1/budgets` and
//! `switchyard budget status` show the counters.

#[path = "common/fake_provider.rs"]
#[allow(dead_code)]
mod fake_provider;
#[path = "common/redis_server.rs"]
mod redis_server;
#[path = "common/serve_http.rs"]
mod serve_http;
#[path = "common/serve_proc.rs"]
mod serve_proc;

use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use serde_json::{json, Value};

use fake_provider::{FakeProvider, Reply};
use redis_server::RedisServer;
use serve_proc::Served;
use switchyard::money::Picos;
use switchyard::policy::{Budget, OnExceed};
use switchyard::runner::budget::{
    utc_day, BudgetObserver, BudgetScope, BudgetStore, ReserveRequest, Scope, Settlement, Store,
    StoreOptions, StoreUrl,
};

/// What one call costs and reserves: 100 input tokens at $1/M and 50 output tokens at $2/M.
const CALL: Picos = Picos(200_000_000);

/// A policy `name` whose one model is at `base` (never called under `--mock`), with `budget`.
fn policy(name: &str, base: &str, budget: &str) -> String {
    format!(
        r#"[policy]
name = "{name}"
default_tier = "cheap"
tokenizer = "approx"

[models.small]
provider = "openai"
model_id = "small-up"
base_url = "{base}/v1"
input_usd_per_mtok = 1.0
output_usd_per_mtok = 2.0
max_output_tokens = 1000
timeout_seconds = 2
max_retries = 0

[tiers]
cheap = "small"

{budget}
"#
    )
}

/// A policy set: `daily` (100 calls a day), `traced` (10 calls a trace) and `free` (no cap).
fn policies(dir: &Path, base: &str) {
    let write = |file: &str, text: String| std::fs::write(dir.join(file), text).unwrap();
    write(
        "daily.toml",
        policy("daily", base, "[budget]\nper_workload_day_usd = 0.02\n"),
    );
    write(
        "traced.toml",
        policy("traced", base, "[budget]\nper_trace_usd = 0.002\n"),
    );
    write("free.toml", policy("free", base, ""));
}

/// A chat request to `model` that costs exactly [`CALL`] (its worst case).
fn chat(model: &str, trace: Option<&str>) -> Vec<u8> {
    let mut step = json!({"role": "chat", "input_tokens": 100, "expected_output_tokens": 50});
    if let Some(t) = trace {
        step["trace_id"] = t.into();
    }
    serde_json::to_vec(&json!({
        "model": model,
        "max_tokens": 50,
        "messages": [{"role": "user", "content": "hi"}],
        "switchyard": step,
    }))
    .unwrap()
}

fn post(addr: SocketAddr, body: &[u8]) -> serve_http::Reply {
    serve_http::request(
        addr,
        "POST",
        "/v1/chat/completions",
        &[("content-type", "application/json")],
        body,
    )
}

fn get(addr: SocketAddr, path: &str) -> serve_http::Reply {
    serve_http::request(addr, "GET", path, &[], b"")
}

/// `serve --policy DIR --budget-store URL ARGS…`.
fn replica(dir: &Path, store: &str, args: &[&str], log: Option<&Path>) -> Served {
    let dir = dir.to_str().unwrap();
    let mut all = vec!["--policy", dir, "--budget-store", store];
    let log_arg;
    if let Some(l) = log {
        log_arg = l.to_str().unwrap().to_string();
        all.extend(["--call-log", log_arg.as_str()]);
    }
    all.extend(args);
    serve_proc::start(&all, &[])
}

/// The call records of logs `paths`: (policy, trace id, cost in picos).
fn logged(paths: &[&Path]) -> Vec<(String, Option<String>, u64)> {
    let mut out = Vec::new();
    for p in paths {
        let text = std::fs::read_to_string(p).unwrap_or_default();
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let v: Value = serde_json::from_str(line).unwrap();
            out.push((
                v["policy"].as_str().unwrap().to_string(),
                v["trace_id"].as_str().map(str::to_string),
                v["cost"].as_u64().unwrap(),
            ));
        }
    }
    out
}

/// Waits until `f` holds (checking every 50 ms), up to `limit`.
fn eventually(limit: Duration, mut f: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

/// Sends `bodies` from `threads` threads, each request to the next replica in turn; returns
/// the statuses.
fn fire(replicas: &[SocketAddr], bodies: Vec<Vec<u8>>, threads: usize) -> Vec<u16> {
    let work = Arc::new(Mutex::new(
        bodies.into_iter().enumerate().collect::<Vec<_>>(),
    ));
    let statuses = Arc::new(Mutex::new(Vec::new()));
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let work = work.clone();
            let statuses = statuses.clone();
            let replicas = replicas.to_vec();
            std::thread::spawn(move || loop {
                let Some((i, body)) = work.lock().unwrap().pop() else {
                    break;
                };
                let r = post(replicas[i % replicas.len()], &body);
                assert!(
                    r.status == 200 || r.status == 429,
                    "{} {}",
                    r.status,
                    r.body
                );
                statuses.lock().unwrap().push(r.status);
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let s = statuses.lock().unwrap().clone();
    s
}

#[test]
fn three_replicas_spend_a_shared_cap_exactly_and_never_past_it() {
    let redis = RedisServer::start();
    let dir = tempfile::tempdir().unwrap();
    policies(dir.path(), "http://127.0.0.1:9");
    let logs: Vec<_> = (0..3)
        .map(|i| dir.path().join(format!("calls-{i}.jsonl")))
        .collect();
    let url = format!("{}?prefix=exact", redis.url());
    let replicas: Vec<Served> = logs
        .iter()
        .map(|l| replica(dir.path(), &url, &["--mock"], Some(l)))
        .collect();
    let addrs: Vec<SocketAddr> = replicas.iter().map(|r| r.addr).collect();

    // 300 calls of the daily workload against a cap of 100 calls, 48 at a time over 3
    // replicas; and 6 traces × 30 calls against a trace cap of 10 calls.
    let mut bodies: Vec<Vec<u8>> = (0..300).map(|_| chat("daily", None)).collect();
    let traces = ["t-0", "t-1", "t-2", "t-3", "t-4", "t-5"];
    for i in 0..180 {
        bodies.push(chat("traced", Some(traces[i % traces.len()])));
    }
    // Mixed, so both workloads race at once.
    fastrand::shuffle(&mut bodies);
    let statuses = fire(&addrs, bodies, 48);
    let ok = statuses.iter().filter(|&&s| s == 200).count();
    assert_eq!(ok, 100 + 6 * 10, "{statuses:?}");

    drop(replicas); // the call logs are flushed per record; the processes end here
    let records = logged(&logs.iter().map(|p| p.as_path()).collect::<Vec<_>>());
    let daily: u64 = records.iter().filter(|r| r.0 == "daily").map(|r| r.2).sum();
    assert_eq!(
        daily, 20_000_000_000,
        "the daily spend in all the logs is the cap, $0.02"
    );
    for t in traces {
        let spent: u64 = records
            .iter()
            .filter(|r| r.1.as_deref() == Some(t))
            .map(|r| r.2)
            .sum();
        assert_eq!(spent, 2_000_000_000, "trace {t} spent its cap, $0.002");
    }

    // What every replica shows, and the command a person runs, agree with the logs.
    let budgets = replica(dir.path(), &url, &["--mock"], None);
    let shown = get(budgets.addr, "/v1/budgets").json();
    assert_eq!(shown["store"], "redis");
    let counters = shown["counters"].as_array().unwrap();
    let day = counters
        .iter()
        .find(|c| c["policy"] == "daily")
        .expect("the daily counter");
    assert_eq!(day["cap"], "per_workload_day_usd");
    assert_eq!(day["committed_usd"], "0.02");
    assert_eq!(day["held_usd"], "0.00");
    assert_eq!(day["remaining_usd"], "0.00");
    let traced: Vec<&Value> = counters
        .iter()
        .filter(|c| c["cap"] == "per_trace_usd")
        .collect();
    assert_eq!(traced.len(), 6, "{shown}");
    assert!(traced.iter().all(|c| c["committed_usd"] == "0.002"));
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_switchyard"))
        .args(["budget", "status", "--format", "json", "--policy"])
        .arg(dir.path())
        .args(["--budget-store", &url])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let cli: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(cli, shown, "budget status shows what /v1/budgets shows");
}

/// Opens `n` chat requests on `addr` and leaves them waiting for their answers.
fn open_calls(addr: SocketAddr, body: &[u8], n: usize) -> Vec<TcpStream> {
    (0..n)
        .map(|_| {
            let mut s = TcpStream::connect(addr).unwrap();
            let head = serve_http::head(
                addr,
                "POST",
                "/v1/chat/completions",
                &[("content-type", "application/json")],
                body.len(),
            );
            s.write_all(&head).unwrap();
            s.write_all(body).unwrap();
            s
        })
        .collect()
}

fn held_usd(addr: SocketAddr, policy: &str) -> String {
    let v = get(addr, "/v1/budgets").json();
    v["counters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["policy"] == policy)
        .map(|c| c["held_usd"].as_str().unwrap().to_string())
        .unwrap_or_default()
}

#[test]
fn a_replica_killed_mid_call_gives_its_holds_back_when_their_leases_end() {
    let redis = RedisServer::start();
    let rt = tokio::runtime::Runtime::new().unwrap();
    // The upstream never answers: the calls hold their worst case until the replica dies.
    let fake = rt.block_on(FakeProvider::start(vec![Reply::Hang; 200]));
    let dir = tempfile::tempdir().unwrap();
    policies(dir.path(), &fake.url(""));
    let url = format!("{}?prefix=kill", redis.url());
    // Lease: a 2 s time limit (timeout_seconds = 2, no retries) + a 3 s margin.
    let mut doomed = replica(dir.path(), &url, &["--budget-lease-margin", "3s"], None);
    let survivor = replica(
        dir.path(),
        &url,
        &["--mock", "--budget-lease-margin", "3s"],
        None,
    );
    let _calls = open_calls(doomed.addr, &chat("daily", None), 95);
    assert!(
        eventually(Duration::from_secs(20), || held_usd(survivor.addr, "daily")
            == "0.019"),
        "95 calls hold $0.019: {}",
        held_usd(survivor.addr, "daily")
    );
    let held_at = Instant::now();
    doomed.signal("KILL");
    doomed.wait();

    // While the dead replica's holds live, the survivor cannot fit 10 more calls.
    let ten: Vec<Vec<u8>> = (0..10).map(|_| chat("daily", None)).collect();
    let statuses = fire(&[survivor.addr], ten.clone(), 10);
    let ok = statuses.iter().filter(|&&s| s == 200).count();
    assert_eq!(ok, 5, "only the $0.001 not held fits: {statuses:?}");
    assert!(
        held_at.elapsed() < Duration::from_secs(4),
        "the check ran inside the leases; the machine was too slow to tell"
    );

    // Nobody cleans up: once the leases end, the holds are gone and the cap is free again.
    let freed = eventually(Duration::from_secs(15), || {
        post(survivor.addr, &chat("daily", None)).status == 200
    });
    assert!(freed, "the survivor was refused after the leases ended");
    // The holds were made at most a moment before `held_at`; their 5 s leases end after it.
    assert!(
        held_at.elapsed() >= Duration::from_secs(4),
        "served before the leases could have ended ({:?})",
        held_at.elapsed()
    );
    // The rest end within moments of the first (the calls were held within moments).
    assert!(
        eventually(Duration::from_secs(5), || held_usd(survivor.addr, "daily")
            == "0.00"),
        "every hold of the dead replica ended: {}",
        held_usd(survivor.addr, "daily")
    );
    drop(rt);
}

fn metric(addr: SocketAddr, name: &str) -> f64 {
    let text = get(addr, "/metrics").body;
    text.lines()
        .find(|l| l.starts_with(name) && !l.starts_with('#'))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}

#[test]
fn redis_stopped_mid_run_refuses_capped_calls_until_it_is_back() {
    let mut redis = RedisServer::start();
    let dir = tempfile::tempdir().unwrap();
    policies(dir.path(), "http://127.0.0.1:9");
    let url = redis.url();
    let closed = replica(dir.path(), &url, &["--mock"], None);
    let open = replica(
        dir.path(),
        &url,
        &["--mock", "--budget-store-unavailable", "open"],
        None,
    );
    assert_eq!(post(closed.addr, &chat("daily", None)).status, 200);
    assert_eq!(post(open.addr, &chat("daily", None)).status, 200);

    redis.stop();
    let refused = post(closed.addr, &chat("daily", None));
    assert_eq!(refused.status, 503, "{}", refused.body);
    let body = refused.json();
    assert_eq!(body["error"]["code"], "budget_store_unavailable");
    assert_eq!(body["error"]["type"], "server_error");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("budget store"));
    assert_eq!(
        post(closed.addr, &chat("traced", Some("t"))).status,
        503,
        "a trace cap needs the store too"
    );
    // Calls under no cap, and routing, never need the store.
    assert_eq!(post(closed.addr, &chat("free", None)).status, 200);
    let routed = serve_http::request(
        closed.addr,
        "POST",
        "/v1/route",
        &[],
        br#"{"role":"chat","workload":"daily","input_tokens":10}"#,
    );
    assert_eq!(routed.status, 200, "{}", routed.body);
    assert!(metric(closed.addr, "switchyard_budget_store_errors_total") >= 2.0);
    assert_eq!(get(closed.addr, "/v1/budgets").status, 503);

    // `open`: let through, with a warning and the metric counted.
    assert_eq!(post(open.addr, &chat("daily", None)).status, 200);
    assert!(metric(open.addr, "switchyard_budget_store_errors_total") >= 1.0);
    // The warning reaches the test through a thread reading serve's stderr: wait for it.
    assert!(
        eventually(Duration::from_secs(5), || open
            .stderr_text()
            .contains("budget store is down")),
        "{}",
        open.stderr_text()
    );

    // Back on the same address, empty (no persistence): calls work again, no restart.
    redis.restart();
    assert!(
        eventually(Duration::from_secs(15), || post(
            closed.addr,
            &chat("daily", None)
        )
        .status
            == 200),
        "the closed replica did not recover"
    );
    assert_eq!(post(open.addr, &chat("daily", None)).status, 200);
}

/// Counts what a [`Store`] reports.
#[derive(Default)]
struct Counted {
    late: AtomicUsize,
    errors: AtomicUsize,
}

impl BudgetObserver for Counted {
    fn store_error(&self) {
        self.errors.fetch_add(1, Ordering::SeqCst);
    }
    fn late_settlement(&self) {
        self.late.fetch_add(1, Ordering::SeqCst);
    }
    fn counter(&self, _: &str, _: BudgetScope, _: Picos, _: Picos) {}
}

#[test]
fn a_settlement_sent_twice_counts_once_and_a_late_one_still_counts() {
    let redis = RedisServer::start();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let options = StoreOptions {
            url: format!("{}?prefix=settle", redis.url())
                .parse::<StoreUrl>()
                .unwrap(),
            ..StoreOptions::default()
        };
        let store = Store::open(&options).unwrap();
        let counted = Arc::new(Counted::default());
        store.observe(counted.clone());
        let budget = Budget {
            per_trace: Some(Picos(10 * CALL.0)),
            per_workload_day: None,
            per_call: None,
            on_exceed: OnExceed::Reject,
        };
        let scope = Scope {
            workload: "traced",
            trace: Some("t"),
            day: utc_day(SystemTime::now()),
        };
        let request = |lease| ReserveRequest {
            budget: &budget,
            scope,
            tier: "cheap",
            amount: CALL,
            lease,
        };
        let caps = [switchyard::runner::budget::PolicyCaps {
            policy: "traced".into(),
            budget: budget.clone(),
        }];

        // Twice: the second settlement changes nothing.
        let hold = store
            .reserve(request(Duration::from_secs(60)))
            .await
            .unwrap();
        let switchyard::runner::budget::StoreReservation::Redis(h) = &hold else {
            panic!("a Redis hold")
        };
        let again = switchyard::runner::budget::StoreReservation::Redis(h.clone());
        assert_eq!(store.settle(hold, CALL).await, Ok(Settlement::Settled));
        assert_eq!(store.settle(again, CALL).await, Ok(Settlement::Duplicate));
        assert_eq!(store.status(&caps).await.unwrap()[0].committed, CALL);

        // After its lease: still counted, and counted as late.
        let hold = store
            .reserve(request(Duration::from_millis(50)))
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(120)).await;
        assert_eq!(store.settle(hold, CALL).await, Ok(Settlement::Late));
        assert_eq!(
            store.status(&caps).await.unwrap()[0].committed,
            Picos(2 * CALL.0)
        );
        assert_eq!(counted.late.load(Ordering::SeqCst), 1);

        // Dropped by a later reserve before it settles: late all the same.
        let hold = store
            .reserve(request(Duration::from_millis(50)))
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(120)).await;
        let other = store
            .reserve(request(Duration::from_secs(60)))
            .await
            .unwrap();
        assert_eq!(store.settle(hold, CALL).await, Ok(Settlement::Late));
        store.release(other).await.unwrap();
        assert_eq!(
            store.status(&caps).await.unwrap()[0].committed,
            Picos(3 * CALL.0)
        );
        assert_eq!(counted.late.load(Ordering::SeqCst), 2);
        assert_eq!(counted.errors.load(Ordering::SeqCst), 0);
    });
}

#[test]
fn keys_expire_as_the_contract_says() {
    let redis = RedisServer::start();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let client = ::redis::Client::open(redis.url()).unwrap();
    rt.block_on(async {
        let options = StoreOptions {
            url: format!("{}?prefix=ttl", redis.url())
                .parse::<StoreUrl>()
                .unwrap(),
            trace_idle: Duration::from_secs(3600),
            ..StoreOptions::default()
        };
        let store = Store::open(&options).unwrap();
        let budget = Budget {
            per_trace: Some(Picos(10 * CALL.0)),
            per_workload_day: Some(Picos(10 * CALL.0)),
            per_call: None,
            on_exceed: OnExceed::Reject,
        };
        let day = utc_day(SystemTime::now());
        let reserve = || {
            store.reserve(ReserveRequest {
                budget: &budget,
                scope: Scope {
                    workload: "w",
                    trace: Some("t"),
                    day,
                },
                tier: "cheap",
                amount: CALL,
                lease: Duration::from_secs(60),
            })
        };
        let mut con = client.get_multiplexed_async_connection().await.unwrap();
        let day_end_ms = (day as i64 + 1) * 86_400_000;
        // The day counter is one hash (totals and holds): it expires 48 h after its day
        // ends whether made by a reserve or kept through settlements.
        let mut day_keys_expire = async |which: &[&str], when: &str| {
            for k in which {
                let pexpiretime: i64 = ::redis::cmd("PEXPIRETIME")
                    .arg(format!("ttl:{k}:day:{day}:w"))
                    .query_async(&mut con)
                    .await
                    .unwrap();
                assert_eq!(
                    pexpiretime,
                    day_end_ms + 48 * 3_600_000,
                    "key {k}, {when}: 48 h after the day ends"
                );
            }
        };
        let first = reserve().await.unwrap();
        day_keys_expire(&["c"], "one hold").await;
        let second = reserve().await.unwrap();
        day_keys_expire(&["c"], "two holds").await;
        store.settle(first, CALL).await.unwrap();
        store.settle(second, CALL).await.unwrap();
        day_keys_expire(&["c"], "settled").await;
        let third = reserve().await.unwrap();
        day_keys_expire(&["c"], "holds made again").await;
        store.settle(third, CALL).await.unwrap();
        let pttl: i64 = ::redis::cmd("PTTL")
            .arg("ttl:c:trace:t")
            .query_async(&mut con)
            .await
            .unwrap();
        assert!(
            pttl > 3_590_000 && pttl <= 3_600_000,
            "a trace idles out after --budget-trace-idle: {pttl}"
        );
    });
}
