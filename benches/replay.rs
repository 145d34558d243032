//! Speed of the commands over call logs, on a 1,000,000-line log generated in memory:
//! `cargo bench --bench replay`
//!
//! - `replay`: every step routed again under a candidate policy set (the bundled policies
//!   with contract-review's summaries sent cheap), on one thread; the target is ≥ 1M steps/s.
//! - `parse`: reading the lines alone into the borrowed record view, for the split between
//!   reading and routing.
//! - `report`: the sums, groups and exact percentiles of `switchyard report`.
//!
//! Each is measured twice: in wall-clock time (`log_1m`), and in this thread's on-CPU time
//! (`log_1m_cpu`, from Linux's `/proc/thread-self/schedstat`), which other processes competing
//! for the cores do not inflate: the rate per CPU-second is the "one core" figure.
//!
//! `SWITCHYARD_BENCH_LOG=/tmp/calls.jsonl cargo bench --bench replay` also writes the log
//! there, to time `switchyard replay` on it.
//!
//! The log holds random steps of both bundled workloads (a third of them with tags, some with
//! untrusted input), routed under the bundled policies and written as the runner writes
//! records; about one line in 2,000 is malformed, as a real log might be.

#[path = "common/mod.rs"]
mod common;

use std::hint::black_box;
use std::io::Cursor;
use std::path::Path;

use criterion::measurement::{Measurement, ValueFormatter};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use switchyard::calllog::read::parse_view_serde;
use switchyard::calllog::replay::replay;
use switchyard::calllog::report::report;
use switchyard::calllog::view::RecordView;
use switchyard::calllog::{parse_view, LogReader};
use switchyard::calllog::{CallRecord, TokenSource};
use switchyard::money::{Picos, PicosPerToken};
use switchyard::policy::{load_policy_file, load_policy_text};
use switchyard::{CompiledPolicy, PolicySet, Step};

use common::{log_tokens, random_step, FlagChances, Rng, JURISDICTIONS, ROLES};

const LINES: usize = 1_000_000;
/// How often the replayed steps' flags are set.
const FLAGS: FlagChances = FlagChances {
    chain_of_thought: 10,
    json: 20,
    untrusted: 5,
};

/// A step of either bundled workload, a third of them with that workload's tags; the `i`th
/// line of the log shares its trace with its neighbours in eights.
fn random_log_step(rng: &mut Rng, i: usize) -> Step {
    let tokens = log_tokens(rng);
    let contract = rng.chance(70);
    let mut s = random_step(rng, &ROLES, tokens, &FLAGS)
        .workload(if contract {
            "contract-review"
        } else {
            "code-fix"
        })
        .trace_id(format!("t-{:07}", i / 8));
    if contract && rng.chance(33) {
        s = s
            .tag("jurisdiction", JURISDICTIONS[rng.below(4) as usize])
            .tag("contract_value_usd", rng.below(3_000_000) as f64);
    } else if !contract && rng.chance(33) {
        s = s
            .tag("security", rng.chance(10))
            .tag("files_touched", rng.below(20) as f64);
    }
    s
}

/// The log, as bytes: one record per line, in the runner's format.
fn generate_log(set: &PolicySet) -> Vec<u8> {
    let mut rng = Rng(0x10_6106);
    let mut out = Vec::with_capacity(LINES * 480);
    for i in 0..LINES {
        if i % 2_000 == 1_999 {
            out.extend_from_slice(b"{\"time\":\"2026-11-20T09:00:00Z\",\"trace_id\":\n");
            continue;
        }
        let step = random_log_step(&mut rng, i);
        let d = match set.route(&step) {
            Ok(d) => d,
            Err(_) => {
                // Rejected steps are never called, so never logged.
                out.extend_from_slice(b"\n");
                continue;
            }
        };
        let m = d.model();
        let (ip, op) = (
            PicosPerToken::from_usd_per_mtok(m.input_usd_per_mtok),
            PicosPerToken::from_usd_per_mtok(m.output_usd_per_mtok),
        );
        let mut logged = step.clone();
        logged.input_tokens = Some(d.input_tokens());
        let mut r = CallRecord {
            time: format!(
                "2026-11-20T{:02}:{:02}:{:02}.{:03}Z",
                i / 3_600_000 % 24,
                i / 60_000 % 60,
                i / 1000 % 60,
                i % 1000
            ),
            trace_id: step.trace_id.clone(),
            policy: d.policy().to_owned(),
            policy_version: d.policy_version().to_owned(),
            step: logged.to_json().into(),
            tier: d.tier().to_owned(),
            model: m.key.clone(),
            rule: d.rule().map(str::to_owned),
            via: d.via(),
            guard: d.guard().map(str::to_owned),
            status: switchyard::calllog::CallStatus::Ok,
            latency_us: 20_000 + rng.below(800_000),
            input_tokens: d.input_tokens(),
            output_tokens: step.expected_output_tokens.unwrap_or(0),
            cached_input_tokens: 0,
            cache_write_tokens: 0,
            fallback_from: Vec::new(),
            token_source: TokenSource::Provider,
            input_price: ip,
            output_price: op,
            cost: Picos(0),
            cost_usd: 0.0,
        };
        r.price(ip, op);
        serde_json::to_writer(&mut out, &r).expect("a record serializes");
        out.push(b'\n');
    }
    out
}

/// The bundled policies with contract-review's summaries sent to the cheap tier.
fn candidate() -> PolicySet {
    let path = Path::new("policies/contract-review.toml");
    let text = std::fs::read_to_string(path)
        .expect("run from the crate root")
        .replace(
            "when = { role = \"summarize\" }\ntier = \"standard\"",
            "when = { role = \"summarize\" }\ntier = \"cheap\"",
        );
    let cr = load_policy_text(path, text).expect("the candidate loads");
    let cf = load_policy_file(Path::new("policies/code-fix.toml")).expect("code-fix loads");
    PolicySet::new(vec![
        CompiledPolicy::compile(cr).expect("compiles"),
        CompiledPolicy::compile(cf).expect("compiles"),
    ])
}

/// This thread's time on a CPU, in nanoseconds (`None` where the kernel does not say).
fn thread_cpu_ns() -> Option<u64> {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// A criterion measurement of on-CPU time instead of wall-clock time.
struct ThreadCpu;

impl Measurement for ThreadCpu {
    type Intermediate = u64;
    type Value = u64;
    fn start(&self) -> u64 {
        thread_cpu_ns().unwrap_or(0)
    }
    fn end(&self, start: u64) -> u64 {
        thread_cpu_ns().unwrap_or(0).saturating_sub(start)
    }
    fn add(&self, a: &u64, b: &u64) -> u64 {
        a + b
    }
    fn zero(&self) -> u64 {
        0
    }
    fn to_f64(&self, v: &u64) -> f64 {
        *v as f64
    }
    fn formatter(&self) -> &dyn ValueFormatter {
        &CpuFormatter
    }
}

/// Shows CPU nanoseconds as milliseconds, and throughput per CPU-second.
struct CpuFormatter;

impl ValueFormatter for CpuFormatter {
    fn scale_values(&self, _typical: f64, values: &mut [f64]) -> &'static str {
        for v in values {
            *v /= 1e6;
        }
        "ms cpu"
    }
    fn scale_throughputs(&self, _typical: f64, t: &Throughput, values: &mut [f64]) -> &'static str {
        let per = match *t {
            Throughput::Elements(n)
            | Throughput::Bytes(n)
            | Throughput::BytesDecimal(n)
            | Throughput::Bits(n) => n,
            _ => 1,
        } as f64;
        for v in values {
            *v = per * 1e9 / *v / 1e6;
        }
        "M/cpu-s"
    }
    fn scale_for_machines(&self, _values: &mut [f64]) -> &'static str {
        "ns"
    }
}

/// The log, the candidate, and a first replay outside any timer, shared by both groups.
struct Setup {
    log: Vec<u8>,
    set: PolicySet,
}

fn setup() -> &'static Setup {
    static SETUP: std::sync::OnceLock<Setup> = std::sync::OnceLock::new();
    SETUP.get_or_init(|| {
        let logged_under = PolicySet::load("policies").expect("the bundled policies load");
        let log = generate_log(&logged_under);
        let set = candidate();
        // To time the command itself on the same log: SWITCHYARD_BENCH_LOG=/tmp/calls.jsonl.
        if let Some(path) = std::env::var_os("SWITCHYARD_BENCH_LOG") {
            std::fs::write(&path, &log).expect("the log is written");
        }
        let r = replay(LogReader::new(Cursor::new(&log[..])), &set).expect("in memory");
        eprintln!(
            "log: {} lines, {} MB, {} records, {} bad; replay: {} routed, {} changed tier, {} not routed",
            r.lines.lines,
            log.len() / 1_000_000,
            r.lines.records,
            r.lines.bad.len(),
            r.routed,
            r.changed_tier,
            r.not_routed_steps()
        );
        Setup { log, set }
    })
}

fn bench_wall(c: &mut Criterion) {
    bench(c, "log_1m");
}

fn bench_cpu(c: &mut Criterion<ThreadCpu>) {
    if thread_cpu_ns().is_none() {
        eprintln!("log_1m_cpu: skipped, /proc/thread-self/schedstat is not available");
        return;
    }
    bench(c, "log_1m_cpu");
}

/// Reads every line of the log with `parse`, counting the records.
fn count_good(log: &[u8], parse: fn(&[u8]) -> Result<RecordView<'_>, String>) -> u64 {
    let mut reader = LogReader::new(Cursor::new(black_box(log)));
    let mut good = 0u64;
    while let Some((_, line)) = reader.next_line().expect("in memory") {
        good += u64::from(line.and_then(parse).is_ok());
    }
    good
}

fn bench<M: Measurement>(c: &mut Criterion<M>, name: &str) {
    let Setup { log, set } = setup();
    let mut g = c.benchmark_group(name);
    g.sample_size(10);
    g.throughput(Throughput::Elements(LINES as u64));
    g.bench_function("replay", |b| {
        b.iter(|| replay(LogReader::new(Cursor::new(black_box(&log[..]))), set).expect("in memory"))
    });
    g.bench_function("parse", |b| b.iter(|| count_good(log, parse_view)));
    // The same reading with serde alone: the baseline for the fast reader (BENCHMARKS.md).
    g.bench_function("parse_serde", |b| {
        b.iter(|| count_good(log, parse_view_serde))
    });
    g.bench_function("report", |b| {
        b.iter(|| report(LogReader::new(Cursor::new(black_box(&log[..])))).expect("in memory"))
    });
    g.finish();
}

criterion_group!(wall, bench_wall);
criterion_group! {
    name = cpu;
    config = Criterion::default().with_measurement(ThreadCpu);
    targets = bench_cpu
}
criterion_main!(wall, cpu);
