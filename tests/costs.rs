//! The commands over call logs, as a user runs them: `report` (totals and groups against
//! sums worked out by hand), `rebill` (same prices change nothing, new prices give the
//! hand-computed total, `--out` then `report`), `replay` (a candidate policy with cheap
//! summaries: exact counts, matrix and dollars; steps it will not route; the CI flag), and
//! malformed lines reported with their line numbers and skipped.
//!
//! The fixture `tests/fixtures/logs/calls.jsonl` is 36 calls routed under the bundled
//! policies, with two malformed lines (8 and 23). It is written by
//! `cargo test --test costs -- --ignored write_fixture_log`, and
//! `the_fixture_is_what_the_bundled_policies_decide` keeps it honest.

use std::io::Cursor;
use std::path::Path;
use std::process::Output;

use assert_cmd::Command;
use serde_json::Value;
use switchyard::calllog::{parse_record, LogReader};
use switchyard::calllog::{CallRecord, TokenSource};
use switchyard::money::{Picos, PicosPerToken};
use switchyard::{PolicySet, Step};

const LOG: &str = "tests/fixtures/logs/calls.jsonl";
/// The malformed lines of the fixture.
const BAD_LINES: [u64; 2] = [8, 23];

// Prices of policies/models.toml in pico-dollars per token (USD per Mtok × 1e6).
const MUSE: (u64, u64) = (1_000_000, 5_000_000);
const MINI: (u64, u64) = (2_500_000, 10_000_000);
const OPUS: (u64, u64) = (15_000_000, 75_000_000);

/// The fixture's calls by model: (input tokens, output tokens) summed over its calls, added
/// up by hand from the step list in `write_fixture_log`.
///
/// muse-spark (cheap): 1200/900, 3000/400, 2000/50, 2000/300, 700/500, 1800/100
/// gpt-5.4-mini (standard): 6000/800, 5200/700, 1500/20, 6400/0, 18000/1200, 2500/150,
///   75000/500, 8000/600, 12000/900, 3000/250, 30000/2000, 2500/150, 2600/160, 6000/1800,
///   90000/3000, and the summary whose prompt was counted (38 tokens, o200k) / 120
/// claude-opus-4-6 (premium): 15000/600, 6000/800, 4000/300, 42000/1500, 7500/2000, 900/0,
///   1500/1400, 12000/1500, 9000/3000, 4000/1200, 30001/2000, 2700/170, 5000/400, 3000/200
const MUSE_TOKENS: (u64, u64, u64) = (6, 10_700, 2_250);
const MINI_TOKENS: (u64, u64, u64) = (16, 268_738, 12_350);
const OPUS_TOKENS: (u64, u64, u64) = (14, 142_601, 15_070);

fn cost((input, output): (u64, u64), (i, o): (u64, u64)) -> u128 {
    (input as u128 * i as u128) + (output as u128 * o as u128)
}

fn muse_cost() -> u128 {
    cost((MUSE_TOKENS.1, MUSE_TOKENS.2), MUSE)
}
fn mini_cost() -> u128 {
    cost((MINI_TOKENS.1, MINI_TOKENS.2), MINI)
}
fn opus_cost() -> u128 {
    cost((OPUS_TOKENS.1, OPUS_TOKENS.2), OPUS)
}

/// The binary, run from the crate root without a log filter from the environment.
fn switchyard() -> Command {
    let mut cmd = Command::cargo_bin("switchyard").expect("the switchyard binary is built");
    cmd.current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("RUST_LOG");
    cmd
}

fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).expect("stdout is UTF-8")
}

fn stderr(out: &Output) -> String {
    String::from_utf8(out.stderr.clone()).expect("stderr is UTF-8")
}

/// Runs a command that must exit `code`; returns its output.
fn run(args: &[&str], code: i32) -> Output {
    let out = switchyard().args(args).output().expect("runs");
    assert_eq!(
        out.status.code(),
        Some(code),
        "{args:?}\nstdout:\n{}\nstderr:\n{}",
        stdout(&out),
        stderr(&out)
    );
    out
}

fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", stdout(out)))
}

fn picos(v: &Value) -> u128 {
    v.as_u64().expect("an integer amount") as u128
}

/// The stderr lines naming skipped lines, as `LOG:N`.
fn skipped(err: &str, log: &str) -> Vec<u64> {
    err.lines()
        .filter_map(|l| l.strip_prefix(&format!("warning: {log}:")))
        .filter_map(|l| l.split(':').next()?.parse().ok())
        .collect()
}

/// The group with this key in one of a report's dimensions.
fn group<'a>(report: &'a Value, dimension: &str, key: &str) -> &'a Value {
    report["by"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["name"] == dimension)
        .unwrap_or_else(|| panic!("no dimension {dimension}"))["groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["key"] == key)
        .unwrap_or_else(|| panic!("no {dimension} group {key}"))
}

fn good_records(path: &str) -> Vec<CallRecord> {
    let bytes = std::fs::read(path).unwrap();
    let mut log = LogReader::new(Cursor::new(bytes));
    let mut out = Vec::new();
    while let Some((_, line)) = log.next_line().unwrap() {
        if let Ok(r) = line.and_then(parse_record) {
            out.push(r);
        }
    }
    out
}

// ---- the fixture ----------------------------------------------------------------------

/// The steps of the fixture, in order: the 21 of examples/steps.jsonl, then 15 more.
const STEPS: &[&str] = &[
    r#"{"workload":"contract-review","role":"extract","input_tokens":15000,"expected_output_tokens":600,"untrusted_input":true,"trace_id":"cr-0001"}"#,
    r#"{"workload":"contract-review","role":"format","input_tokens":1200,"expected_output_tokens":900,"trace_id":"cr-0002"}"#,
    r#"{"workload":"contract-review","role":"summarize","prompt":"Summarize the termination clause: either party may terminate this Agreement on ninety (90) days' written notice, provided that all undisputed fees accrued up to the termination date remain payable.","expected_output_tokens":120,"trace_id":"cr-0003"}"#,
    r#"{"workload":"contract-review","role":"reason","input_tokens":6000,"expected_output_tokens":800,"tags":{"jurisdiction":"EU","contract_value_usd":2500000},"trace_id":"cr-0004"}"#,
    r#"{"workload":"contract-review","role":"reason","input_tokens":6000,"expected_output_tokens":800,"tags":{"jurisdiction":"UK","contract_value_usd":250000},"trace_id":"cr-0005"}"#,
    r#"{"workload":"contract-review","role":"reason","input_tokens":5200,"expected_output_tokens":700,"tags":{"jurisdiction":"US","contract_value_usd":5000000},"trace_id":"cr-0006"}"#,
    r#"{"workload":"contract-review","role":"extract","input_tokens":3000,"expected_output_tokens":400,"output_must_be_json":true,"tags":{"jurisdiction":"US"},"trace_id":"cr-0007"}"#,
    r#"{"workload":"contract-review","role":"plan","input_tokens":4000,"expected_output_tokens":300,"dependent_tool_calls":9,"trace_id":"cr-0008"}"#,
    r#"{"workload":"contract-review","role":"summarize","input_tokens":42000,"expected_output_tokens":1500,"trace_id":"cr-0009"}"#,
    r#"{"workload":"contract-review","role":"reason","input_tokens":7500,"expected_output_tokens":2000,"needs_chain_of_thought":true,"trace_id":"cr-0010"}"#,
    r#"{"workload":"contract-review","role":"classify","input_tokens":1500,"expected_output_tokens":20,"trace_id":"cr-0011"}"#,
    r#"{"workload":"contract-review","role":"reason","input_tokens":6400,"tags":{"jurisdiction":"EU"},"trace_id":"cr-0012"}"#,
    r#"{"workload":"contract-review","role":"compare","input_tokens":18000,"expected_output_tokens":1200,"dependent_tool_calls":3,"tags":{"jurisdiction":"CA","contract_value_usd":80000},"trace_id":"cr-0013"}"#,
    r#"{"workload":"contract-review","role":"format","input_tokens":900,"untrusted_input":true,"trace_id":"cr-0014"}"#,
    r#"{"workload":"code-fix","role":"format","input_tokens":1500,"expected_output_tokens":1400,"untrusted_input":true,"trace_id":"cf-0001"}"#,
    r#"{"workload":"code-fix","role":"plan","input_tokens":12000,"expected_output_tokens":1500,"needs_chain_of_thought":true,"trace_id":"cf-0002"}"#,
    r#"{"workload":"code-fix","role":"edit","input_tokens":9000,"expected_output_tokens":3000,"tags":{"files_touched":14},"trace_id":"cf-0003"}"#,
    r#"{"workload":"code-fix","role":"tool_call","input_tokens":2500,"expected_output_tokens":150,"output_must_be_json":true,"trace_id":"cf-0004"}"#,
    r#"{"workload":"code-fix","role":"summarize","input_tokens":75000,"expected_output_tokens":500,"trace_id":"cf-0005"}"#,
    r#"{"workload":"code-fix","role":"run_tests","input_tokens":2000,"expected_output_tokens":50,"dependent_tool_calls":4,"trace_id":"cf-0006"}"#,
    r#"{"workload":"code-fix","role":"edit","input_tokens":4000,"expected_output_tokens":1200,"tags":{"security":true,"files_touched":2},"trace_id":"cf-0007"}"#,
    r#"{"workload":"contract-review","role":"summarize","input_tokens":8000,"expected_output_tokens":600,"trace_id":"cr-0015"}"#,
    r#"{"workload":"contract-review","role":"summarize","input_tokens":12000,"expected_output_tokens":900,"trace_id":"cr-0016"}"#,
    r#"{"workload":"contract-review","role":"summarize","input_tokens":3000,"expected_output_tokens":250,"trace_id":"cr-0017"}"#,
    r#"{"workload":"contract-review","role":"summarize","input_tokens":30000,"expected_output_tokens":2000,"trace_id":"cr-0018"}"#,
    r#"{"workload":"contract-review","role":"summarize","input_tokens":30001,"expected_output_tokens":2000,"trace_id":"cr-0019"}"#,
    r#"{"workload":"contract-review","role":"tool_call","input_tokens":2500,"expected_output_tokens":150,"dependent_tool_calls":1,"trace_id":"cr-0020"}"#,
    r#"{"workload":"contract-review","role":"tool_call","input_tokens":2600,"expected_output_tokens":160,"dependent_tool_calls":2,"trace_id":"cr-0020"}"#,
    r#"{"workload":"contract-review","role":"tool_call","input_tokens":2700,"expected_output_tokens":170,"dependent_tool_calls":8,"trace_id":"cr-0020"}"#,
    r#"{"workload":"contract-review","role":"extract","input_tokens":2000,"expected_output_tokens":300,"dependent_tool_calls":7,"trace_id":"cr-0021"}"#,
    r#"{"workload":"contract-review","role":"summarize","input_tokens":5000,"expected_output_tokens":400,"untrusted_input":true,"trace_id":"cr-0022"}"#,
    r#"{"workload":"contract-review","role":"format","input_tokens":700,"expected_output_tokens":500,"trace_id":"cr-0023"}"#,
    r#"{"workload":"code-fix","role":"edit","input_tokens":6000,"expected_output_tokens":1800,"tags":{"files_touched":3},"trace_id":"cf-0008"}"#,
    r#"{"workload":"code-fix","role":"read_issue","input_tokens":3000,"expected_output_tokens":200,"untrusted_input":true,"trace_id":"cf-0009"}"#,
    r#"{"workload":"code-fix","role":"tool_call","input_tokens":1800,"expected_output_tokens":100,"trace_id":"cf-0010"}"#,
    r#"{"workload":"code-fix","role":"format","input_tokens":90000,"expected_output_tokens":3000,"trace_id":"cf-0011"}"#,
];

/// A truncated record (line 8) and a record with a misspelt field (line 23).
fn bad_line(line: u64) -> Option<&'static str> {
    match line {
        8 => Some(r#"{"time":"2026-11-20T09:00:07Z","trace_id":"cr-0008","policy":"contract-re"#),
        23 => Some(
            r#"{"time":"2026-11-20T09:00:21Z","trace_id":"cr-0015","policy":"contract-review","policy_version":"0","step":{"role":"summarize","input_tokens":1},"tier":"standard","model":"gpt-5.4-mini","rule":null,"via":"default","guard":null,"latency_us":1,"input_tokens":1,"output_tokens":1,"token_source":"provider","input_price":1,"output_price":1,"cost":2,"costusd":2e-12}"#,
        ),
        _ => None,
    }
}

/// The record a call of `step` makes under the bundled policies; latency depends on the tier
/// and the sizes, so percentiles differ between groups.
fn record_for(set: &PolicySet, i: usize, step_json: &str) -> CallRecord {
    let step = Step::from_json(step_json).unwrap();
    let d = set.route(&step).unwrap();
    let input = d.input_tokens();
    let output = step.expected_output_tokens.unwrap_or(0);
    let m = d.model();
    let (ip, op) = (
        PicosPerToken::from_usd_per_mtok(m.input_usd_per_mtok),
        PicosPerToken::from_usd_per_mtok(m.output_usd_per_mtok),
    );
    let mut logged = step.clone();
    logged.prompt = None;
    logged.input_tokens = Some(input);
    let base = match d.tier() {
        "cheap" => 40_000,
        "standard" => 150_000,
        _ => 600_000,
    };
    let mut r = CallRecord {
        time: format!("2026-11-20T09:{:02}:{:02}Z", i / 60, i % 60),
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
        latency_us: base + input / 10 + output * 20 + i as u64,
        input_tokens: input,
        output_tokens: output,
        cached_input_tokens: 0,
        cache_write_tokens: 0,
        fallback_from: Vec::new(),
        token_source: if step.prompt.is_some() {
            TokenSource::Tokenizer
        } else {
            TokenSource::Provider
        },
        input_price: ip,
        output_price: op,
        cost: Picos(0),
        cost_usd: 0.0,
    };
    r.price(ip, op);
    r
}

/// Writes the fixture log: `cargo test --test costs -- --ignored write_fixture_log`.
#[test]
#[ignore = "writes tests/fixtures/logs/calls.jsonl"]
fn write_fixture_log() {
    let set = PolicySet::load("policies").unwrap();
    let mut out = String::new();
    let mut steps = STEPS.iter().enumerate();
    let mut line = 1;
    loop {
        if let Some(bad) = bad_line(line) {
            out += bad;
        } else if let Some((i, s)) = steps.next() {
            out += &serde_json::to_string(&record_for(&set, i, s)).unwrap();
        } else {
            break;
        }
        out.push('\n');
        line += 1;
    }
    std::fs::create_dir_all("tests/fixtures/logs").unwrap();
    std::fs::write(LOG, out).unwrap();
}

/// Every good line of the fixture is what the bundled policies decide for its step, at the
/// catalog's prices; the bad lines are where the tests expect them.
#[test]
fn the_fixture_is_what_the_bundled_policies_decide() {
    let set = PolicySet::load("policies").unwrap();
    let text = std::fs::read_to_string(LOG).unwrap();
    let mut steps = STEPS.iter().enumerate();
    for (n, line) in text.lines().enumerate() {
        let n = n as u64 + 1;
        if BAD_LINES.contains(&n) {
            assert!(
                parse_record(line.as_bytes()).is_err(),
                "line {n} should be bad"
            );
            continue;
        }
        let (i, s) = steps.next().expect("no more lines than steps");
        let mut got = parse_record(line.as_bytes()).unwrap();
        let want = record_for(&set, i, s);
        // The fixture predates any policy edit only if the versions still match.
        got.policy_version = want.policy_version.clone();
        assert_eq!(got, want, "line {n}");
    }
    assert!(steps.next().is_none(), "every step is in the log");
    assert_eq!(text.lines().count(), 38);
}

// ---- report ---------------------------------------------------------------------------

#[test]
fn report_totals_match_hand_computed_sums() {
    let out = run(&["report", LOG, "--format", "json"], 0);
    let r = json(&out);
    assert_eq!(r["lines"]["lines"], 38);
    assert_eq!(r["lines"]["records"], 36);
    let bad: Vec<u64> = r["lines"]["bad"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["line"].as_u64().unwrap())
        .collect();
    assert_eq!(bad, BAD_LINES);
    assert_eq!(skipped(&stderr(&out), LOG), BAD_LINES);

    let total = muse_cost() + mini_cost() + opus_cost();
    assert_eq!(picos(&r["total"]["calls"]), 36);
    assert_eq!(picos(&r["total"]["spend_picos"]), total);
    // The products, spelled out once: $0.02195 + $0.795345 + $3.269265.
    assert_eq!(muse_cost(), 21_950_000_000);
    assert_eq!(mini_cost(), 795_345_000_000);
    assert_eq!(opus_cost(), 3_269_265_000_000);
    assert_eq!(total, 4_086_560_000_000);
    assert_eq!(
        r["total"]["input_tokens"],
        MUSE_TOKENS.1 + MINI_TOKENS.1 + OPUS_TOKENS.1
    );

    for (tier, model, (calls, input, output), spend) in [
        ("cheap", "muse-spark", MUSE_TOKENS, muse_cost()),
        ("standard", "gpt-5.4-mini", MINI_TOKENS, mini_cost()),
        ("premium", "claude-opus-4-6", OPUS_TOKENS, opus_cost()),
    ] {
        for g in [group(&r, "tier", tier), group(&r, "model", model)] {
            assert_eq!(g["calls"], calls, "{tier}");
            assert_eq!(picos(&g["spend_picos"]), spend, "{tier}");
            assert_eq!(g["input_tokens"], input, "{tier}");
            assert_eq!(g["output_tokens"], output, "{tier}");
        }
    }

    // Rules are per policy; `default` is no rule. contract-review's summaries-standard won
    // five summaries: the prompt one (38 in / 120 out), 8000/600, 12000/900, 3000/250,
    // 30000/2000.
    let g = group(&r, "rule", "contract-review/summaries-standard");
    assert_eq!(g["calls"], 5);
    assert_eq!(
        picos(&g["spend_picos"]),
        cost(
            (
                38 + 8_000 + 12_000 + 3_000 + 30_000,
                120 + 600 + 900 + 250 + 2_000
            ),
            MINI
        )
    );
    // Their latencies are 150,000 + in/10 + out×20 + index: +2,403+2, +12,800+21,
    // +19,200+22, +5,300+23, +43,000+24. Sorted: 152,405, 155,323, 162,821, 169,222, 193,024;
    // the median is the third, p95 the fifth (nearest rank).
    assert_eq!(g["p50_latency_us"], 162_821);
    assert_eq!(g["p95_latency_us"], 193_024);
    assert_eq!(group(&r, "rule", "code-fix/default")["calls"], 3);
    assert_eq!(group(&r, "role", "summarize")["calls"], 9);
    assert_eq!(group(&r, "policy", "code-fix")["calls"], 11);
    assert_eq!(group(&r, "policy", "contract-review")["calls"], 25);
}

#[test]
fn report_as_a_table_and_as_csv() {
    let out = run(&["report", LOG], 0);
    let text = stdout(&out);
    assert!(
        text.starts_with(&format!(
            "{LOG}: 38 lines, 36 call records, 2 bad lines skipped (listed on stderr)\n"
        )),
        "{text}"
    );
    assert!(
        text.contains("total: 36 calls, $4.086560 ($4.08656 exactly)"),
        "{text}"
    );
    for heading in ["by policy", "by tier", "by rule", "by role", "by model"] {
        assert!(text.contains(heading), "{heading}: {text}");
    }
    let premium = text
        .lines()
        .find(|l| l.trim_start().starts_with("premium "))
        .unwrap();
    let cells: Vec<&str> = premium.split_whitespace().collect();
    assert_eq!(
        &cells[..4],
        ["premium", "14", "$3.269265", "80.0%"],
        "{premium}"
    );

    let out = run(&["report", LOG, "--format", "csv"], 0);
    let csv = stdout(&out);
    let mut rows = csv.lines();
    assert_eq!(
        rows.next().unwrap(),
        "dimension,key,calls,spend_usd,spend_picos,input_tokens,output_tokens,p50_latency_us,p95_latency_us"
    );
    assert!(rows
        .next()
        .unwrap()
        .starts_with("total,total,36,4.08656,4086560000000,"));
    assert!(
        csv.contains("\nmodel,muse-spark,6,0.02195,21950000000,10700,2250,"),
        "{csv}"
    );
    assert_eq!(csv.lines().filter(|l| l.starts_with("tier,")).count(), 3);
}

// ---- rebill ---------------------------------------------------------------------------

#[test]
fn rebill_at_the_same_prices_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out_path = dir.path().join("rebilled.jsonl");
    let out = run(
        &[
            "rebill",
            LOG,
            "--models",
            "policies/models.toml",
            "--format",
            "json",
            "--out",
            out_path.to_str().unwrap(),
        ],
        0,
    );
    let r = json(&out);
    assert_eq!(r["repriced"], 36);
    assert_eq!(picos(&r["old_picos"]), 4_086_560_000_000);
    assert_eq!(r["old_picos"], r["new_picos"]);
    assert_eq!(skipped(&stderr(&out), LOG), BAD_LINES);
    // Every line, in order, byte for byte: records are written the way the runner writes them.
    assert_eq!(
        std::fs::read_to_string(&out_path).unwrap(),
        std::fs::read_to_string(LOG).unwrap()
    );
}

/// A catalog that halves muse-spark, raises gpt-5.4-mini's output price and leaves out
/// claude-opus-4-6.
const NEW_PRICES: &str = r#"
[models.muse-spark]
provider = "openai"
input_usd_per_mtok = 0.5
output_usd_per_mtok = 2.5

[models."gpt-5.4-mini"]
provider = "openai"
input_usd_per_mtok = 2.5
output_usd_per_mtok = 12.0
"#;

#[test]
fn rebill_at_new_prices_is_hand_computed_and_reports_the_missing_model() {
    let dir = tempfile::tempdir().unwrap();
    let prices = dir.path().join("prices.toml");
    std::fs::write(&prices, NEW_PRICES).unwrap();
    let out_path = dir.path().join("rebilled.jsonl");
    let out = run(
        &[
            "rebill",
            LOG,
            "--models",
            prices.to_str().unwrap(),
            "--format",
            "json",
            "--out",
            out_path.to_str().unwrap(),
        ],
        0,
    );
    let r = json(&out);
    // muse-spark: 10,700 × 500,000 + 2,250 × 2,500,000 = 10,975,000,000 (half of before).
    // gpt-5.4-mini: 268,738 × 2,500,000 + 12,350 × 12,000,000 = 820,045,000,000.
    // claude-opus-4-6 keeps its logged 3,269,265,000,000.
    let new = 10_975_000_000u128 + 820_045_000_000 + 3_269_265_000_000;
    assert_eq!(picos(&r["new_picos"]), new);
    assert_eq!(picos(&r["old_picos"]), 4_086_560_000_000);
    assert_eq!(r["repriced"], 22);
    let opus = r["models"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["model"] == "claude-opus-4-6")
        .unwrap();
    assert_eq!(opus["new_prices"], Value::Null);
    assert_eq!(opus["calls"], 14);
    let err = stderr(&out);
    assert!(
        err.contains("the model `claude-opus-4-6` is not in")
            && err.contains("its 14 calls keep their logged prices"),
        "{err}"
    );

    // The text form says the same for a person.
    let out = run(&["rebill", LOG, "--models", prices.to_str().unwrap()], 0);
    let text = stdout(&out);
    assert!(text.contains("re-billed 22 of 36 calls"), "{text}");
    assert!(text.contains("logged total  $4.08656"), "{text}");
    assert!(text.contains("new total     $4.100285"), "{text}");
    assert!(
        text.contains("not in the catalog: logged prices kept"),
        "{text}"
    );

    // --out then report: the re-billed log adds up to the new total, its bad lines are still
    // bad at the same line numbers, and each record's cost matches its new prices.
    let out = run(
        &["report", out_path.to_str().unwrap(), "--format", "json"],
        0,
    );
    let rep = json(&out);
    assert_eq!(picos(&rep["total"]["spend_picos"]), new);
    assert_eq!(rep["lines"]["lines"], 38);
    assert_eq!(
        skipped(&stderr(&out), out_path.to_str().unwrap()),
        BAD_LINES
    );
    for rec in good_records(out_path.to_str().unwrap()) {
        let want = rec
            .input_price
            .cost(rec.input_tokens)
            .saturating_add(rec.output_price.cost(rec.output_tokens));
        assert_eq!(rec.cost, want);
        if rec.model == "muse-spark" {
            assert_eq!(rec.input_price, PicosPerToken(500_000));
        }
    }
}

#[test]
fn rebill_refuses_a_bad_catalog_with_its_location() {
    let dir = tempfile::tempdir().unwrap();
    let prices = dir.path().join("prices.toml");
    std::fs::write(
        &prices,
        "[models.muse-spark]\nprovider = \"openai\"\ninput_usd_per_mtok = -1.0\noutput_usd_per_mtok = 5.0\n",
    )
    .unwrap();
    let out = run(&["rebill", LOG, "--models", prices.to_str().unwrap()], 1);
    let err = stderr(&out);
    assert!(
        err.contains("invalid-price") && err.contains("prices.toml:3:"),
        "{err}"
    );

    std::fs::write(&prices, "[policy]\nname = \"x\"\ndefault_tier = \"t\"\n").unwrap();
    let err = stderr(&run(
        &["rebill", LOG, "--models", prices.to_str().unwrap()],
        1,
    ));
    assert!(err.contains("catalog-not-models-only"), "{err}");

    let missing = dir.path().join("nope.toml");
    run(&["rebill", LOG, "--models", missing.to_str().unwrap()], 2);
    // Writing over the log being read is refused.
    run(
        &[
            "rebill",
            LOG,
            "--models",
            "policies/models.toml",
            "--out",
            LOG,
        ],
        2,
    );
}

// ---- replay ---------------------------------------------------------------------------

/// A copy of the bundled policies in a temp dir, with contract-review edited.
fn candidate(edit: impl Fn(String) -> String) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for f in ["models.toml", "code-fix.toml"] {
        std::fs::copy(Path::new("policies").join(f), dir.path().join(f)).unwrap();
    }
    let cr = std::fs::read_to_string("policies/contract-review.toml").unwrap();
    let edited = edit(cr.clone());
    assert_ne!(edited, cr, "the edit applies");
    std::fs::write(dir.path().join("contract-review.toml"), edited).unwrap();
    dir
}

fn cheap_summaries(text: String) -> String {
    text.replace(
        "when = { role = \"summarize\" }\ntier = \"standard\"",
        "when = { role = \"summarize\" }\ntier = \"cheap\"",
    )
}

fn cell(r: &Value, from: &str, to: &str) -> u64 {
    r["matrix"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["from"] == from && m["to"] == to)
        .map_or(0, |m| m["steps"].as_u64().unwrap())
}

fn rule<'a>(r: &'a Value, policy: &str, name: &str) -> &'a Value {
    r["rules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["policy"] == policy && t["rule"] == name)
        .unwrap_or_else(|| panic!("no rule {policy}/{name}"))
}

#[test]
fn replay_under_the_logged_policies_changes_nothing() {
    let r = json(&run(
        &["replay", LOG, "--policy", "policies", "--format", "json"],
        0,
    ));
    assert_eq!(r["steps"], 36);
    assert_eq!(r["routed"], 36);
    assert_eq!(r["changed_tier"], 0);
    assert_eq!(r["changed_model"], 0);
    assert_eq!(picos(&r["logged_picos"]), 4_086_560_000_000);
    assert_eq!(r["logged_picos"], r["candidate_picos"]);
    assert_eq!(r["not_routed"], Value::Array(vec![]));
    assert!(r["rules"]
        .as_array()
        .unwrap()
        .iter()
        .all(|t| t["logged"] == t["candidate"]));
    assert_eq!(cell(&r, "premium", "premium"), 14);
}

#[test]
fn replay_with_cheap_summaries_moves_exactly_the_summaries() {
    let dir = candidate(cheap_summaries);
    let policy = dir.path().to_str().unwrap();
    let out = run(&["replay", LOG, "--policy", policy, "--format", "json"], 0);
    let r = json(&out);
    assert_eq!(skipped(&stderr(&out), LOG), BAD_LINES);
    assert_eq!(r["steps"], 36);
    assert_eq!(r["routed"], 36);
    // The five summaries summaries-standard won go cheap; nothing else moves.
    assert_eq!(r["changed_tier"], 5);
    assert_eq!(r["changed_model"], 5);
    assert_eq!(cell(&r, "standard", "cheap"), 5);
    assert_eq!(cell(&r, "standard", "standard"), 11);
    assert_eq!(cell(&r, "cheap", "cheap"), 6);
    assert_eq!(cell(&r, "premium", "premium"), 14);
    assert_eq!(r["matrix"].as_array().unwrap().len(), 4);
    // The rule keeps its traffic (only its tier changed).
    let t = rule(&r, "contract-review", "summaries-standard");
    assert_eq!(
        (t["logged"].as_u64(), t["candidate"].as_u64()),
        (Some(5), Some(5))
    );
    // Their tokens: 53,038 in / 3,870 out, from $2.5/$10 to $1/$5 per Mtok.
    let before = cost((53_038, 3_870), MINI);
    let after = cost((53_038, 3_870), MUSE);
    assert_eq!(before - after, 98_907_000_000);
    assert_eq!(
        picos(&r["candidate_picos"]),
        4_086_560_000_000 - (before - after)
    );
    assert!((r["change_percent"].as_f64().unwrap() - -2.4203).abs() < 1e-3);

    let text = stdout(&run(&["replay", LOG, "--policy", policy], 0));
    assert!(
        text.contains("replayed 36 steps: 36 routed, 0 not routed; 5 changed tier"),
        "{text}"
    );
    assert!(
        text.contains("change           -$0.098907 (-2.4%)"),
        "{text}"
    );
    assert!(text.contains("no rule gains or loses traffic"), "{text}");
    let row = text
        .lines()
        .find(|l| l.trim_start().starts_with("standard "))
        .unwrap();
    assert_eq!(
        row.split_whitespace().collect::<Vec<_>>(),
        ["standard", "5", "11", "0"]
    );
}

#[test]
fn replay_shows_rules_gaining_and_losing_traffic() {
    // A new first rule sends every tool call in a chain of 2 or more premium.
    let dir = candidate(|t| {
        t.replacen(
            "[[rules]]\nname = \"untrusted-input\"",
            "[[rules]]\nname = \"chains-premium\"\nwhen = { role = \"tool_call\", dependent_tool_calls = { ge = 2 } }\ntier = \"premium\"\n\n[[rules]]\nname = \"untrusted-input\"",
            1,
        )
    });
    let r = json(&run(
        &[
            "replay",
            LOG,
            "--policy",
            dir.path().to_str().unwrap(),
            "--format",
            "json",
        ],
        0,
    ));
    // The tool calls at chain 2 (default, standard) and 8 (long-chain, premium) move to the
    // new rule; only the first changes tier.
    let t = rule(&r, "contract-review", "chains-premium");
    assert_eq!(
        (t["logged"].as_u64(), t["candidate"].as_u64()),
        (Some(0), Some(2))
    );
    let t = rule(&r, "contract-review", "default");
    assert_eq!(
        (t["logged"].as_u64(), t["candidate"].as_u64()),
        (Some(7), Some(6))
    );
    let t = rule(&r, "contract-review", "long-chain");
    assert_eq!(
        (t["logged"].as_u64(), t["candidate"].as_u64()),
        (Some(2), Some(1))
    );
    assert_eq!(r["changed_tier"], 1);
    assert_eq!(cell(&r, "standard", "premium"), 1);
    // 2,600 in / 160 out from gpt-5.4-mini to claude-opus-4-6.
    assert_eq!(
        picos(&r["candidate_picos"]) - picos(&r["logged_picos"]),
        cost((2_600, 160), OPUS) - cost((2_600, 160), MINI)
    );
}

#[test]
fn replay_counts_the_steps_a_candidate_will_not_route() {
    // One policy only: the code-fix calls name a workload it does not serve.
    let out = run(
        &[
            "replay",
            LOG,
            "--policy",
            "policies/contract-review.toml",
            "--format",
            "json",
        ],
        0,
    );
    let r = json(&out);
    assert_eq!(r["steps"], 36);
    assert_eq!(r["routed"], 25);
    let nr = r["not_routed"].as_array().unwrap();
    assert_eq!(nr.len(), 1);
    assert_eq!(nr[0]["kind"], "unknown_workload");
    assert_eq!(nr[0]["detail"], "code-fix");
    assert_eq!(nr[0]["steps"], 11);
    let lines: Vec<u64> = nr[0]["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_u64().unwrap())
        .collect();
    // Lines 16-22 are the first seven code-fix calls, 35-38 the other four; ten are kept.
    assert_eq!(lines, [16, 17, 18, 19, 20, 21, 22, 35, 36, 37]);
    // Totals cover the routed steps only; the others are listed with their logged cost.
    let routed_cost: u128 = good_records(LOG)
        .iter()
        .filter(|c| c.policy == "contract-review")
        .map(|c| c.cost.0 as u128)
        .sum();
    assert_eq!(picos(&r["logged_picos"]), routed_cost);
    assert_eq!(
        picos(&nr[0]["logged_picos"]) + routed_cost,
        4_086_560_000_000
    );

    // A guard with nowhere to escalate rejects untrusted steps sent cheap.
    let dir = candidate(|t| {
        t.replace(
            "when = { untrusted_input = true }\ntier = \"premium\"",
            "when = { untrusted_input = true }\ntier = \"cheap\"",
        )
        .replace("escalate_to = \"premium\"\n", "")
    });
    let out = run(
        &["replay", LOG, "--policy", dir.path().to_str().unwrap()],
        0,
    );
    let text = stdout(&out);
    assert!(
        text.contains("not routed under the candidate: 3 steps"),
        "{text}"
    );
    let row = text
        .lines()
        .find(|l| l.trim_start().starts_with("guard_rejected"))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(
        row.contains("untrusted-needs-tested-model") && row.ends_with("1, 15, 33"),
        "{row}"
    );
}

#[test]
fn fail_if_cost_increases_is_a_ci_gate() {
    // Everything summarized goes premium: dearer.
    let dir = candidate(|t| {
        t.replace(
            "when = { role = \"summarize\" }\ntier = \"standard\"",
            "when = { role = \"summarize\" }\ntier = \"premium\"",
        )
    });
    let dear = dir.path().to_str().unwrap();
    let out = run(
        &[
            "replay",
            LOG,
            "--policy",
            dear,
            "--fail-if-cost-increases",
            "5",
        ],
        1,
    );
    let err = stderr(&out);
    assert!(err.contains("more than the 5% allowed"), "{err}");
    assert!(
        stdout(&out).contains("replayed 36 steps"),
        "the report is still printed"
    );
    // The increase is (53,038 × 12.5e6 + 3,870 × 65e6) picos on $4.08656: about 22.4%.
    run(
        &[
            "replay",
            LOG,
            "--policy",
            dear,
            "--fail-if-cost-increases",
            "23",
        ],
        0,
    );
    run(
        &[
            "replay",
            LOG,
            "--policy",
            dear,
            "--fail-if-cost-increases",
            "22",
        ],
        1,
    );

    // Cheaper passes even at 0%; the logged policies cost exactly the same, which passes too.
    let cheap = candidate(cheap_summaries);
    run(
        &[
            "replay",
            LOG,
            "--policy",
            cheap.path().to_str().unwrap(),
            "--fail-if-cost-increases",
            "0",
        ],
        0,
    );
    run(
        &[
            "replay",
            LOG,
            "--policy",
            "policies",
            "--fail-if-cost-increases",
            "0",
        ],
        0,
    );
    // A negative or non-numeric limit is a usage error.
    run(
        &[
            "replay",
            LOG,
            "--policy",
            "policies",
            "--fail-if-cost-increases",
            "-1",
        ],
        2,
    );
    run(
        &[
            "replay",
            LOG,
            "--policy",
            "policies",
            "--fail-if-cost-increases",
            "lots",
        ],
        2,
    );
}

// ---- malformed lines ------------------------------------------------------------------

#[test]
fn malformed_lines_are_reported_with_their_numbers_and_skipped() {
    let good: Vec<String> = std::fs::read_to_string(LOG)
        .unwrap()
        .lines()
        .take(3)
        .map(str::to_owned)
        .collect();
    let input = format!(
        "{}\nnot json\n\n{}\n{{\"time\":1}}\n{}\n[1,2]\r\n{}",
        good[0],
        good[1],
        good[2].replace("\"tier\"", "\"teir\""),
        good[2]
    );
    for cmd in [
        vec!["report", "-", "--format", "json"],
        vec!["replay", "-", "--policy", "policies", "--format", "json"],
        vec![
            "rebill",
            "-",
            "--models",
            "policies/models.toml",
            "--format",
            "json",
        ],
    ] {
        let out = switchyard()
            .args(&cmd)
            .write_stdin(input.clone())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{cmd:?}: {}", stderr(&out));
        let err = stderr(&out);
        assert_eq!(skipped(&err, "-"), [2, 3, 5, 6, 7], "{cmd:?}: {err}");
        assert!(
            err.contains("-:2: skipped: not valid JSON (column 2)"),
            "{err}"
        );
        assert!(err.contains("-:3: skipped: blank line"), "{err}");
        assert!(err.contains("-:5: skipped: not a call record"), "{err}");
        assert!(
            err.contains("-:6: skipped: not a call record") && err.contains("`teir`"),
            "{err}"
        );
        assert!(err.contains("5 of 8 lines skipped"), "{err}");
        let v = json(&out);
        assert_eq!(v["lines"]["lines"], 8, "{cmd:?}");
        assert_eq!(v["lines"]["records"], 3, "{cmd:?}");
    }
    // The good lines around them are all counted.
    let out = switchyard()
        .args(["report", "-", "--format", "json"])
        .write_stdin(input)
        .output()
        .unwrap();
    assert_eq!(json(&out)["total"]["calls"], 3);

    // A log that cannot be read is a usage error (exit 2), not an empty report.
    run(&["report", "tests/fixtures/logs/missing.jsonl"], 2);
    run(&["report", "tests/fixtures/logs"], 2);
}

// ---- a log written by the runner --------------------------------------------------------

/// The contract with `switchyard run`: its log reads back with no bad line, replays under the
/// same policies unchanged, and re-bills at the same prices byte for byte.
#[test]
fn a_log_written_by_run_reads_back_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("calls.jsonl");
    let log = log.to_str().unwrap();
    run(
        &[
            "run",
            "--policy",
            "policies",
            "examples/steps.jsonl",
            "--log",
            log,
        ],
        0,
    );
    let steps = std::fs::read_to_string("examples/steps.jsonl")
        .unwrap()
        .lines()
        .count();

    let out = run(&["report", log, "--format", "json"], 0);
    assert_eq!(stderr(&out), "");
    let r = json(&out);
    assert_eq!(r["lines"]["records"], steps);
    assert_eq!(r["lines"]["lines"], steps);
    let total = picos(&r["total"]["spend_picos"]);
    let summed: u128 = good_records(log).iter().map(|c| c.cost.0 as u128).sum();
    assert_eq!(total, summed);

    let r = json(&run(
        &["replay", log, "--policy", "policies", "--format", "json"],
        0,
    ));
    assert_eq!(r["routed"], steps);
    assert_eq!(r["changed_tier"], 0);
    assert_eq!(picos(&r["logged_picos"]), total);
    assert_eq!(r["candidate_picos"], r["logged_picos"]);

    let rebilled = dir.path().join("rebilled.jsonl");
    run(
        &[
            "rebill",
            log,
            "--models",
            "policies/models.toml",
            "--out",
            rebilled.to_str().unwrap(),
        ],
        0,
    );
    assert_eq!(
        std::fs::read_to_string(&rebilled).unwrap(),
        std::fs::read_to_string(log).unwrap()
    );
}

/// A record whose step no longer reads as a step is not routed, and says why; it is not a
/// bad line (the record itself is whole).
#[test]
fn replay_lists_a_logged_step_that_is_not_a_valid_step() {
    let first = std::fs::read_to_string(LOG)
        .unwrap()
        .lines()
        .next()
        .unwrap()
        .to_owned();
    let odd = first.replacen("\"untrusted_input\":true", "\"untrusted\":true", 1);
    assert_ne!(odd, first);
    let out = switchyard()
        .args(["replay", "-", "--policy", "policies", "--format", "json"])
        .write_stdin(format!("{first}\n{odd}\n"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let r = json(&out);
    assert_eq!(r["lines"]["records"], 2);
    assert_eq!(r["routed"], 1);
    let nr = &r["not_routed"][0];
    assert_eq!(nr["kind"], "invalid_step");
    assert_eq!(nr["lines"], serde_json::json!([2]));
    let detail = nr["detail"].as_str().unwrap();
    assert!(detail.contains("unknown field `untrusted`"), "{detail}");
}

// ---- one reading for every command --------------------------------------------------------

/// The fixture's first line with `from` replaced by `to` (the edit must apply).
fn edited(first: &str, from: &str, to: &str) -> String {
    let line = first.replacen(from, to, 1);
    assert_ne!(line, first, "{from} is in the line");
    line
}

/// The skipped line numbers each command reports for `input` (given on stdin), with any
/// extra arguments.
fn skipped_by_each_command(input: &str, extra: &[&str]) -> Vec<(String, Vec<u64>)> {
    let commands: [&[&str]; 3] = [
        &["report", "-", "--format", "json"],
        &["replay", "-", "--policy", "policies", "--format", "json"],
        &[
            "rebill",
            "-",
            "--models",
            "policies/models.toml",
            "--format",
            "json",
        ],
    ];
    commands
        .iter()
        .map(|cmd| {
            let out = switchyard()
                .args(cmd.iter().chain(extra))
                .write_stdin(input.to_owned())
                .output()
                .unwrap();
            assert_eq!(out.status.code(), Some(0), "{cmd:?}: {}", stderr(&out));
            let bad: Vec<u64> = json(&out)["lines"]["bad"]
                .as_array()
                .unwrap()
                .iter()
                .map(|b| b["line"].as_u64().unwrap())
                .collect();
            (cmd[0].to_owned(), bad)
        })
        .collect()
}

/// `report`, `replay` and `rebill` accept exactly the same lines: numbers out of range and
/// lone surrogates anywhere in a record (in the step, in a tag, nested in an unknown field)
/// are refused by all three, and odd but valid JSON is taken by all three.
#[test]
fn every_command_accepts_exactly_the_same_lines() {
    let first = std::fs::read_to_string(LOG)
        .unwrap()
        .lines()
        .next()
        .unwrap()
        .to_owned();
    let step = r#""step":{"#;
    // (line, refused?)
    let corpus: Vec<(String, bool)> = vec![
        (first.clone(), false),
        (edited(&first, step, r#""step":{"tags":{"x":1e400},"#), true),
        (edited(&first, step, r#""step":{"zz":1e400,"#), true),
        (
            edited(&first, step, r#""step":{"tags":{"x":[1e400]},"#),
            true,
        ),
        (
            edited(&first, step, r#""step":{"zz":[{"a":-1e999}],"#),
            true,
        ),
        (
            edited(&first, "\"cost_usd\":0.27", "\"cost_usd\":1e400"),
            true,
        ),
        (
            edited(&first, "\"role\":\"extract\"", r#""role":"\ud800""#),
            true,
        ),
        (
            edited(&first, step, r#""step":{"tags":{"x":"\ud800"},"#),
            true,
        ),
        (
            edited(&first, step, r#""step":{"tags":{"x":["\udc00"]},"#),
            true,
        ),
        (
            edited(&first, step, r#""step":{"zz":{"q":"a\ud800b"},"#),
            true,
        ),
        (
            edited(&first, step, r#""step":{"tags":{"\ud800":1},"#),
            true,
        ),
        (
            edited(&first, "\"trace_id\":\"cr-0001\"", r#""trace_id":"\ud800""#),
            true,
        ),
        (
            edited(
                &first,
                "\"input_tokens\":15000,\"output",
                "\"input_tokens\":1.5e4,\"output",
            ),
            true,
        ),
        // Valid JSON, odd but a record: every command takes it.
        (
            edited(&first, "\"role\":\"extract\"", r#""role":"ex\u0074ract""#),
            false,
        ),
        (
            edited(&first, "\"role\":\"extract\"", r#""role":"\ud83d\ude00""#),
            false,
        ),
        (
            edited(
                &first,
                step,
                r#""step":{"tags":{"x":1e300,"y":-0,"z":[1,{"a":null}]},"#,
            ),
            false,
        ),
        (edited(&first, step, r#""step":{"zz":[1e10,"ok"],"#), false),
        (edited(&first, step, r#""step": { "#), false),
        (
            edited(&first, "\"cost_usd\":0.27", "\"cost_usd\":2.7e-1"),
            false,
        ),
        (first.replace(':', " : "), false),
    ];
    let input: String = corpus.iter().map(|(l, _)| format!("{l}\n")).collect();
    let want: Vec<u64> = corpus
        .iter()
        .enumerate()
        .filter(|(_, (_, refused))| *refused)
        .map(|(i, _)| i as u64 + 1)
        .collect();
    for (cmd, bad) in skipped_by_each_command(&input, &[]) {
        assert_eq!(bad, want, "{cmd}");
    }
}

/// A line longer than `--max-line-bytes` is one bad line, and the lines after it are read.
#[test]
fn an_overlong_line_is_one_bad_line_and_reading_goes_on() {
    let text = std::fs::read_to_string(LOG).unwrap();
    let first = text.lines().next().unwrap();
    let long = edited(
        first,
        "\"trace_id\":\"cr-0001\"",
        &format!("\"trace_id\":\"{}\"", "x".repeat(5_000)),
    );
    let input = format!("{first}\n{long}\n{first}\n");
    for (cmd, bad) in skipped_by_each_command(&input, &["--max-line-bytes", "2000"]) {
        assert_eq!(bad, [2], "{cmd}");
    }
    // Under the default limit, the same line is a record.
    for (cmd, bad) in skipped_by_each_command(&input, &[]) {
        assert_eq!(bad, Vec::<u64>::new(), "{cmd}");
    }
    // rebill --out would lose the line: it stops, and writes nothing.
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("out.jsonl");
    let out = switchyard()
        .args([
            "rebill",
            "-",
            "--models",
            "policies/models.toml",
            "--max-line-bytes",
            "2000",
        ])
        .arg("--out")
        .arg(&target)
        .write_stdin(input.clone())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("would lose it"), "{}", stderr(&out));
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    let out = switchyard()
        .args(["report", "-", "--max-line-bytes", "2000"])
        .write_stdin(input)
        .output()
        .unwrap();
    let err = stderr(&out);
    assert!(
        err.contains("-:2: skipped: the line is 5") && err.contains("longer than the 2000 bytes"),
        "{err}"
    );
}

// ---- nothing lost -------------------------------------------------------------------------

/// `rebill --out` never writes over the log it reads: not through a hard link, not when the
/// log comes in on stdin; and a refused run leaves the log as it was.
#[cfg(unix)]
#[test]
fn rebill_never_truncates_the_log_it_reads() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("calls.jsonl");
    std::fs::copy(LOG, &log).unwrap();
    let before = std::fs::read(&log).unwrap();
    let link = dir.path().join("link.jsonl");
    std::fs::hard_link(&log, &link).unwrap();
    let (log_s, link_s) = (log.to_str().unwrap(), link.to_str().unwrap());

    let out = run(
        &[
            "rebill",
            log_s,
            "--models",
            "policies/models.toml",
            "--out",
            link_s,
        ],
        2,
    );
    assert!(
        stderr(&out).contains("is the log being read"),
        "{}",
        stderr(&out)
    );
    assert_eq!(std::fs::read(&log).unwrap(), before);

    // The log itself on stdin, as a shell gives it: `rebill - --out LOG < LOG`.
    let out = std::process::Command::new(assert_cmd::cargo::cargo_bin("switchyard"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args([
            "rebill",
            "-",
            "--models",
            "policies/models.toml",
            "--out",
            log_s,
        ])
        .stdin(std::fs::File::open(&log).unwrap())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("is the log being read"),
        "{}",
        stderr(&out)
    );
    assert_eq!(std::fs::read(&log).unwrap(), before);

    // Another file is written whole, and nothing else is left in the directory.
    let other = dir.path().join("rebilled.jsonl");
    run(
        &[
            "rebill",
            log_s,
            "--models",
            "policies/models.toml",
            "--out",
            other.to_str().unwrap(),
        ],
        0,
    );
    assert_eq!(std::fs::read(&other).unwrap(), before);
    let mut names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["calls.jsonl", "link.jsonl", "rebilled.jsonl"]);
}

// ---- the CI gate and steps the candidate cannot route ---------------------------------

/// A candidate that routes none of the logged steps does not pass the cost gate: steps it
/// cannot route are limited by `--max-unroutable` (0 by default).
#[test]
fn a_candidate_that_routes_nothing_fails_the_gate() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy("policies/models.toml", dir.path().join("models.toml")).unwrap();
    let renamed = std::fs::read_to_string("policies/code-fix.toml")
        .unwrap()
        .replacen("name = \"code-fix\"", "name = \"other-work\"", 1);
    std::fs::write(dir.path().join("other.toml"), renamed).unwrap();
    let p = dir.path().to_str().unwrap();
    let out = run(
        &[
            "replay",
            LOG,
            "--policy",
            p,
            "--fail-if-cost-increases",
            "5",
        ],
        1,
    );
    let err = stderr(&out);
    assert!(err.contains("36 steps the candidate cannot route"), "{err}");
    assert!(err.contains("--max-unroutable"), "{err}");
    // Allowed explicitly, it passes.
    run(
        &[
            "replay",
            LOG,
            "--policy",
            p,
            "--fail-if-cost-increases",
            "5",
            "--max-unroutable",
            "36",
        ],
        0,
    );
    // A partial candidate fails too, unless its unroutable steps are allowed.
    let one = "policies/contract-review.toml";
    run(
        &[
            "replay",
            LOG,
            "--policy",
            one,
            "--fail-if-cost-increases",
            "5",
        ],
        1,
    );
    run(
        &[
            "replay",
            LOG,
            "--policy",
            one,
            "--fail-if-cost-increases",
            "5",
            "--max-unroutable",
            "11",
        ],
        0,
    );
    run(
        &[
            "replay",
            LOG,
            "--policy",
            one,
            "--fail-if-cost-increases",
            "5",
            "--max-unroutable",
            "10",
        ],
        1,
    );
}

// ---- what reaches the terminal ----------------------------------------------------------

/// Control characters in logged names (a role, a trace's workload, a model) are shown
/// escaped in the tables, never sent to the terminal raw.
#[test]
fn control_characters_in_logged_names_are_escaped() {
    let first = std::fs::read_to_string(LOG)
        .unwrap()
        .lines()
        .next()
        .unwrap()
        .to_owned();
    let line = edited(
        &first,
        "\"role\":\"extract\"",
        r#""role":"ex\u001b[31mtract\u0007""#,
    );
    let line = edited(
        &line,
        "\"workload\":\"contract-review\"",
        r#""workload":"w\u001b]0;x""#,
    );
    let line = edited(
        &line,
        "\"model\":\"claude-opus-4-6\"",
        r#""model":"m\u001b[2J""#,
    );
    let line = edited(&line, "\"tier\":\"premium\"", r#""tier":"t\u009b1m""#);
    let input = format!("{line}\n{{\"time\":\"\u{1b}[5m\"}}\n");
    for cmd in [
        vec!["report", "-"],
        vec!["replay", "-", "--policy", "policies"],
        vec!["rebill", "-", "--models", "policies/models.toml"],
    ] {
        let out = switchyard()
            .args(&cmd)
            .write_stdin(input.clone())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{cmd:?}: {}", stderr(&out));
        for (name, bytes) in [("stdout", &out.stdout), ("stderr", &out.stderr)] {
            let text = String::from_utf8_lossy(bytes);
            assert!(
                !text.chars().any(|c| c.is_control() && c != '\n'),
                "{cmd:?} {name} has a raw control character:\n{text}"
            );
        }
        let all = stdout(&out) + stderr(&out).as_str();
        assert!(all.contains("\\u{1b}"), "{cmd:?}: {all}");
    }
    let out = switchyard()
        .args(["report", "-"])
        .write_stdin(input)
        .output()
        .unwrap();
    assert!(
        stdout(&out).contains("ex\\u{1b}[31mtract\\u{7}"),
        "{}",
        stdout(&out)
    );
}

/// A price catalog is checked as the policy loader checks models, at the catalog's own
/// file:line:col, and must define at least one model.
#[test]
fn a_catalog_is_checked_where_it_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let prices = dir.path().join("prices.toml");
    std::fs::write(
        &prices,
        "# new prices\n[models.muse-spark]\nprovider = \"openai\"\ninput_usd_per_mtok = 1.0\noutptu_usd_per_mtok = 5.0\n",
    )
    .unwrap();
    let err = stderr(&run(
        &["rebill", LOG, "--models", prices.to_str().unwrap()],
        1,
    ));
    assert!(
        err.contains("prices.toml:5:1") && err.contains("outptu_usd_per_mtok"),
        "{err}"
    );
    std::fs::write(&prices, "# nothing yet\n").unwrap();
    let err = stderr(&run(
        &["rebill", LOG, "--models", prices.to_str().unwrap()],
        1,
    ));
    assert!(err.contains("defines no models"), "{err}");
    // The catalog's own directory holds no policy for it: nothing is written beside it.
    let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(names.len(), 1);
}

/// CSV keys taken from a log are quoted as CSV requires.
#[test]
fn csv_keys_are_quoted() {
    let first = std::fs::read_to_string(LOG)
        .unwrap()
        .lines()
        .next()
        .unwrap()
        .to_owned();
    let line = edited(&first, "\"role\":\"extract\"", r#""role":"a,\"b\"\nc""#);
    let out = switchyard()
        .args(["report", "-", "--format", "csv"])
        .write_stdin(line)
        .output()
        .unwrap();
    let text = stdout(&out);
    assert!(text.contains("role,\"a,\"\"b\"\"\nc\",1,"), "{text}");
}
