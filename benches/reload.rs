//! Hot-reload costs, in one run: `cargo bench --bench reload`
//!
//! - `reload/route/*`: `Router::route` over 10,000 generated steps on a 50-rule policy, with
//!   no swaps, and with a writer thread replacing the policy set every millisecond
//!   (alternating two versions), to show that routing does not notice swaps.
//! - `reload latency`: a 50-rule policy watched with the default 150 ms quiet period; the
//!   file is saved 100 times by renaming a new version over it, and each time the wait until
//!   that version is served is measured. Printed as median / p90 / min / max, minus the
//!   quiet period (what remains is event delivery, the second read, load, compile, swap).

use std::fs;
use std::hint::black_box;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput};
use switchyard::reload::WatchOptions;
use switchyard::{PolicySet, Router, Step};

const STEPS: usize = 10_000;
const RULES: usize = 50;
const ROLES: usize = 10;
const TIERS: [&str; 3] = ["cheap", "standard", "premium"];
const DEBOUNCE: Duration = Duration::from_millis(150);

/// A policy with `RULES` rules over role and input_tokens; `tag` changes only its bytes.
fn policy_text(tag: usize) -> String {
    let mut s = format!(
        r#"# save {tag}
[policy]
name = "bench"
default_tier = "standard"

[models.small]
provider = "mock"
input_usd_per_mtok = 1.0
output_usd_per_mtok = 2.0

[models.mid]
provider = "mock"
input_usd_per_mtok = 3.0
output_usd_per_mtok = 9.0

[models.big]
provider = "mock"
input_usd_per_mtok = 10.0
output_usd_per_mtok = 20.0

[tiers]
cheap = "small"
standard = "mid"
premium = "big"
"#
    );
    for i in 0..RULES {
        s.push_str(&format!(
            "\n[[rules]]\nname = \"r{i}\"\nwhen = {{ role = \"role{}\", input_tokens = {{ gt = {} }} }}\ntier = \"{}\"\n",
            i % ROLES,
            (i / ROLES) * 8000 + 500,
            TIERS[i % 3]
        ));
    }
    s
}

/// Deterministic steps (xorshift), so every run routes the same ones.
fn steps() -> Vec<Step> {
    let mut x = 0x2545_f491_4f6c_dd1du64;
    let mut next = move |n: u64| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x % n
    };
    (0..STEPS)
        .map(|_| {
            Step::new(format!("role{}", next(ROLES as u64 + 2)))
                .input_tokens(100 + next(60_000))
                .expected_output_tokens(next(2000))
        })
        .collect()
}

fn compiled(tag: usize) -> PolicySet {
    PolicySet::from_policy_text(Path::new("bench.toml"), policy_text(tag)).expect("bench policy")
}

fn route_under_swaps(c: &mut Criterion) {
    let steps = steps();
    let router = Arc::new(Router::new(compiled(0)));
    let alternates: Vec<_> = [compiled(1), compiled(2)]
        .iter()
        .map(|s| s.policies()[0].clone())
        .collect();
    let mut g = c.benchmark_group("reload/route");
    g.throughput(Throughput::Elements(STEPS as u64));
    let run = |router: &Router| {
        for s in &steps {
            let _ = black_box(router.route(black_box(s)));
        }
    };
    g.bench_function("no_swaps", |b| b.iter(|| run(&router)));
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (router, stop) = (router.clone(), stop.clone());
        thread::spawn(move || {
            let mut swaps = 0u64;
            let start = Instant::now();
            let mut next = start;
            while !stop.load(Ordering::Relaxed) {
                let p = alternates[(swaps % 2) as usize].clone();
                router.replace(PolicySet::from_shared(vec![p]));
                swaps += 1;
                // Sleep to the next millisecond mark, so oversleeping does not lower the rate.
                next += Duration::from_millis(1);
                thread::sleep(next.saturating_duration_since(Instant::now()));
            }
            (swaps, start.elapsed())
        })
    };
    g.bench_function("swap_every_ms", |b| b.iter(|| run(&router)));
    stop.store(true, Ordering::Relaxed);
    let (swaps, took) = writer.join().unwrap();
    g.finish();
    println!(
        "reload/route/swap_every_ms: {swaps} swaps in {:.1} s ({:.0} per second)",
        took.as_secs_f64(),
        swaps as f64 / took.as_secs_f64()
    );
}

fn reload_latency(saves: usize) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bench.toml");
    fs::write(&path, policy_text(0)).unwrap();
    let handle = Router::watch(
        &path,
        WatchOptions::default()
            .debounce(DEBOUNCE)
            .poll_interval(None),
    )
    .expect("bench policy loads");
    let tmp = dir.path().join("bench.toml.tmp");
    let mut after_quiet = Vec::with_capacity(saves);
    for i in 1..=saves {
        let text = policy_text(i);
        let want = switchyard::policy::load_policy_text(&path, text.clone())
            .unwrap()
            .version()
            .to_owned();
        fs::write(&tmp, &text).unwrap();
        let t0 = Instant::now();
        fs::rename(&tmp, &path).unwrap();
        while handle.current().policies()[0].policy().version() != want {
            assert!(
                t0.elapsed() < Duration::from_secs(30),
                "save {i} never went live"
            );
            thread::sleep(Duration::from_micros(100));
        }
        after_quiet.push(t0.elapsed().saturating_sub(DEBOUNCE));
    }
    after_quiet.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let n = after_quiet.len();
    println!(
        "reload latency, 50-rule policy, rename-over, {n} saves, minus the {} ms quiet period: \
         median {:.2} ms, p90 {:.2} ms, min {:.2} ms, max {:.2} ms",
        DEBOUNCE.as_millis(),
        ms(after_quiet[n / 2]),
        ms(after_quiet[n * 9 / 10]),
        ms(after_quiet[0]),
        ms(after_quiet[n - 1]),
    );
    let st = handle.status();
    println!(
        "reload latency: {} reloads ok, {} failed",
        st.reloads_ok, st.reloads_failed
    );
}

fn main() {
    // `cargo test --benches` runs each benchmark once in test mode: keep it short there.
    let quick = std::env::args().any(|a| a == "--test" || a == "--list");
    let mut c = Criterion::default().configure_from_args();
    route_under_swaps(&mut c);
    c.final_summary();
    if !std::env::args().any(|a| a == "--list") {
        reload_latency(if quick { 3 } else { 100 });
    }
}
