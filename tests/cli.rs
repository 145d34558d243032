//! The `switchyard` binary as a user runs it: `route` over JSONL (files, stdin, bad lines,
//! `--explain`), `explain` for a person, every class of policy that will not load (exit 1, a
//! diagnostic naming file:line:col and showing the source line), exit 2 for unreadable files
//! and bad usage, and `--help`. Fixture policies live in `tests/fixtures/cli/`, one defect each.

use std::process::Output;

use assert_cmd::Command;
use serde_json::Value;
use sha2::{Digest, Sha256};

/// Where the one-defect fixture policies live, relative to the crate root.
const FIXTURES: &str = "tests/fixtures/cli";

/// The fields every decision carries, per the policy-format contract.
const DECISION_FIELDS: [&str; 9] = [
    "policy",
    "policy_version",
    "tier",
    "model",
    "rule",
    "via",
    "guard",
    "estimated_usd",
    "trace_id",
];

/// The binary, run from the crate root (so relative paths in diagnostics are stable) and
/// without a log filter from the environment (so stderr holds only what we assert on).
fn switchyard() -> Command {
    let mut cmd = Command::cargo_bin("switchyard").expect("the switchyard binary is built");
    cmd.current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("RUST_LOG");
    cmd
}

fn fixture(name: &str) -> String {
    format!("{FIXTURES}/{name}")
}

fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).expect("stdout is UTF-8")
}

fn stderr(out: &Output) -> String {
    String::from_utf8(out.stderr.clone()).expect("stderr is UTF-8")
}

/// Each stdout line parsed as JSON; a line that is not JSON fails the test.
fn json_lines(out: &Output) -> Vec<Value> {
    stdout(out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

/// Runs `route` over `input` on stdin; asserts exit 0 and a clean stderr.
fn route_stdin(policy: &str, input: &str, extra: &[&str]) -> Vec<Value> {
    let out = switchyard()
        .args(["route", "--policy", policy])
        .args(extra)
        .write_stdin(input)
        .output()
        .unwrap();
    assert_clean(&stderr(&out));
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    json_lines(&out)
}

/// Whatever goes wrong, a user never sees a Rust panic or a Debug dump.
fn assert_clean(stderr: &str) {
    for bad in [
        "panicked",
        "RUST_BACKTRACE",
        "Diagnostic {",
        "LoadError",
        "StepError",
        "Os {",
        "Some(",
        "Custom {",
    ] {
        assert!(!stderr.contains(bad), "stderr holds `{bad}`:\n{stderr}");
    }
}

/// Whitespace collapsed and miette's wrap gutter removed, so a message that the renderer
/// wrapped across lines can still be searched for as one phrase.
fn squash(s: &str) -> String {
    s.replace('│', " ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// Runs `route` with a policy that must not load: exit 1, nothing on stdout, a clean stderr
/// ending with the summary line. Returns stderr.
fn load_fails(policy: &str) -> String {
    let out = switchyard()
        .args(["route", "--policy", policy])
        .write_stdin("{\"role\":\"format\",\"input_tokens\":10}\n")
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "stderr:\n{err}");
    assert!(out.stdout.is_empty(), "stdout: {}", stdout(&out));
    assert_clean(&err);
    assert!(err.contains("the policy did not load"), "{err}");
    err
}

/// The diagnostic names `file:line:col`, and the offending source line is shown with its
/// line number in the gutter.
fn assert_points_at(err: &str, file: &str, line: usize, col: usize, source: &str) {
    let loc = format!("{file}:{line}:{col}");
    assert!(err.contains(&loc), "expected the location {loc} in:\n{err}");
    let gutter = format!("{line} │ ");
    assert!(
        err.lines()
            .any(|l| l.trim_start().starts_with(&gutter) && l.contains(source)),
        "expected source line {line} `{source}` in:\n{err}"
    );
}

fn assert_decision_shape(d: &Value) {
    let obj = d
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {d}"));
    // Exactly the contract's fields (JSON key order carries no meaning, so compare sorted).
    let mut keys: Vec<&str> = obj.keys().map(String::as_str).collect();
    keys.sort_unstable();
    let mut want = DECISION_FIELDS;
    want.sort_unstable();
    assert_eq!(keys, want, "decision fields: {d}");
    assert!(d["policy"].is_string(), "{d}");
    let version = d["policy_version"].as_str().unwrap();
    assert_eq!(version.len(), 12, "{d}");
    assert!(version.chars().all(|c| c.is_ascii_hexdigit()), "{d}");
    assert!(d["tier"].is_string() && d["model"].is_string(), "{d}");
    assert!(d["rule"].is_string() || d["rule"].is_null(), "{d}");
    assert!(
        ["rule", "default", "guard", "expression_error"].contains(&d["via"].as_str().unwrap()),
        "{d}"
    );
    assert!(d["guard"].is_string() || d["guard"].is_null(), "{d}");
    assert!(
        d["estimated_usd"].is_number() || d["estimated_usd"].is_null(),
        "{d}"
    );
    assert!(d["trace_id"].is_string() || d["trace_id"].is_null(), "{d}");
}

/// The error object of an output line, asserting its kind.
fn error_of<'a>(line: &'a Value, kind: &str) -> &'a Value {
    let e = &line["error"];
    assert_eq!(e["kind"], kind, "{line}");
    assert!(
        e["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{line}"
    );
    e
}

fn close(a: &Value, b: f64) -> bool {
    a.as_f64().is_some_and(|a| (a - b).abs() < 1e-9)
}

fn by_trace<'a>(lines: &'a [Value], trace: &str) -> &'a Value {
    lines
        .iter()
        .find(|l| l["trace_id"] == trace)
        .unwrap_or_else(|| panic!("no decision for {trace}"))
}

// ---- route: the happy path -------------------------------------------------------------

#[test]
fn route_examples_gives_one_decision_per_input_line_in_order() {
    let input = std::fs::read_to_string("examples/steps.jsonl").unwrap();
    let out = switchyard()
        .args(["route", "--policy", "policies/", "examples/steps.jsonl"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    assert_clean(&stderr(&out));
    let lines = json_lines(&out);
    let inputs: Vec<Value> = input
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), inputs.len());
    for (step, d) in inputs.iter().zip(&lines) {
        assert_decision_shape(d);
        // In order: the n-th output answers the n-th input, under the policy it names.
        assert_eq!(d["trace_id"], step["trace_id"], "{d}");
        assert_eq!(d["policy"], step["workload"], "{d}");
    }
}

#[test]
fn route_examples_decide_as_the_policies_say() {
    let out = switchyard()
        .args(["route", "--policy", "policies/", "examples/steps.jsonl"])
        .output()
        .unwrap();
    let lines = json_lines(&out);

    // Untrusted extraction: the first rule sends it premium; 15000×15 + 600×75 per million.
    let d = by_trace(&lines, "cr-0001");
    assert_eq!(d["tier"], "premium");
    assert_eq!(d["model"], "claude-opus-4-6");
    assert_eq!(d["rule"], "untrusted-input");
    assert_eq!(d["via"], "rule");
    assert!(d["guard"].is_null());
    assert!(close(&d["estimated_usd"], 0.27), "{d}");

    // High-value EU reasoning: the rule with an expression.
    let d = by_trace(&lines, "cr-0004");
    assert_eq!(d["rule"], "high-value-eu-uk");
    assert_eq!(d["tier"], "premium");

    // Low-value UK reasoning: no rule, the default tier, rule null.
    let d = by_trace(&lines, "cr-0005");
    assert_eq!(d["tier"], "standard");
    assert_eq!(d["via"], "default");
    assert!(d["rule"].is_null());

    // No expected_output_tokens: no estimate.
    assert!(by_trace(&lines, "cr-0012")["estimated_usd"].is_null());

    // Untrusted formatting in code-fix: the rule picks cheap, the guard escalates to premium,
    // and the cost is at the premium model's prices (1500×15 + 1400×75 per million).
    let d = by_trace(&lines, "cf-0001");
    assert_eq!(d["tier"], "premium");
    assert_eq!(d["rule"], "formatting-cheap");
    assert_eq!(d["via"], "guard");
    assert_eq!(d["guard"], "untrusted-needs-tested-model");
    assert!(close(&d["estimated_usd"], 0.1275), "{d}");
}

#[test]
fn policy_version_is_sha256_of_the_policy_then_its_includes() {
    let models = std::fs::read("policies/models.toml").unwrap();
    let lines = route_stdin(
        "policies/",
        concat!(
            "{\"workload\":\"contract-review\",\"role\":\"format\",\"input_tokens\":10}\n",
            "{\"workload\":\"code-fix\",\"role\":\"format\",\"input_tokens\":10}\n",
        ),
        &[],
    );
    for (d, file) in lines
        .iter()
        .zip(["policies/contract-review.toml", "policies/code-fix.toml"])
    {
        let mut h = Sha256::new();
        h.update(std::fs::read(file).unwrap());
        h.update(&models);
        let hex: String = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(d["policy_version"], hex[..12], "{file}: {d}");
    }
}

#[test]
fn decision_names_the_model_key_not_its_model_id() {
    let lines = route_stdin(
        &fixture("guard-reject.toml"),
        "{\"role\":\"format\",\"input_tokens\":10}\n",
        &[],
    );
    assert_decision_shape(&lines[0]);
    assert_eq!(lines[0]["model"], "small");
}

#[test]
fn route_reads_stdin_with_dash_and_with_no_input_argument() {
    let input = concat!(
        "{\"role\":\"format\",\"input_tokens\":1200,\"trace_id\":\"a\"}\n",
        "{\"role\":\"summarize\",\"input_tokens\":40000,\"expected_output_tokens\":100,\"trace_id\":\"b\"}\n",
    );
    let policy = "policies/contract-review.toml";
    let dash = route_stdin(policy, input, &["-"]);
    let none = route_stdin(policy, input, &[]);
    assert_eq!(dash, none);
    assert_eq!(dash.len(), 2);
    for d in &dash {
        assert_decision_shape(d);
    }
    assert_eq!(dash[0]["rule"], "cheap-roles");
    assert_eq!(dash[0]["trace_id"], "a");
    assert_eq!(dash[1]["rule"], "big-context");
    assert_eq!(dash[1]["trace_id"], "b");
}

#[test]
fn route_accepts_crlf_lines_and_a_last_line_without_newline() {
    let lines = route_stdin(
        "policies/contract-review.toml",
        "{\"role\":\"format\",\"input_tokens\":1}\r\n{\"role\":\"extract\",\"input_tokens\":2}",
        &[],
    );
    assert_eq!(lines.len(), 2);
    for d in &lines {
        assert_decision_shape(d);
        assert_eq!(d["rule"], "cheap-roles");
    }
}

#[test]
fn route_explain_adds_every_check_with_held_and_detail() {
    // A UK reasoning step: every rule fails, so the default wins and the guard is looked at.
    let step = "{\"role\":\"reason\",\"input_tokens\":6000,\"tags\":{\"jurisdiction\":\"UK\",\"contract_value_usd\":250000}}\n";
    let plain = route_stdin("policies/contract-review.toml", step, &[]);
    assert!(plain[0].get("explain").is_none(), "{}", plain[0]);

    let lines = route_stdin("policies/contract-review.toml", step, &["--explain"]);
    let d = &lines[0];
    for f in DECISION_FIELDS {
        assert!(d.get(f).is_some(), "missing {f}: {d}");
    }
    assert_eq!(d["via"], "default");
    let checks = d["explain"].as_array().expect("an explain array");
    for c in checks {
        assert!(
            ["rule", "guard", "default"].contains(&c["kind"].as_str().unwrap_or("")),
            "{c}"
        );
        assert!(c["name"].is_string(), "{c}");
        assert!(c["held"].is_boolean(), "{c}");
        assert!(c["detail"].as_str().is_some_and(|s| !s.is_empty()), "{c}");
    }
    let find = |name: &str| {
        checks
            .iter()
            .find(|c| c["name"] == name)
            .unwrap_or_else(|| panic!("no check `{name}` in {d}"))
    };
    // Every rule of the policy was looked at, in file order, and none held.
    let rules: Vec<&str> = checks
        .iter()
        .filter(|c| c["kind"] == "rule")
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        rules,
        [
            "untrusted-input",
            "long-chain",
            "big-context",
            "chain-of-thought",
            "high-value-eu-uk",
            "summaries-standard",
            "cheap-roles"
        ]
    );
    for r in &rules {
        assert_eq!(find(r)["held"], false, "{r}");
    }
    // The detail says which condition failed.
    assert!(find("untrusted-input")["detail"]
        .as_str()
        .unwrap()
        .contains("untrusted_input"));
    assert!(find("big-context")["detail"]
        .as_str()
        .unwrap()
        .contains("6000"));
    assert!(find("cheap-roles")["detail"]
        .as_str()
        .unwrap()
        .contains("reason"));
    let guard = find("untrusted-needs-tested-model");
    assert_eq!(guard["kind"], "guard");
    assert_eq!(guard["held"], false);
}

#[test]
fn route_explain_marks_the_winning_rule_and_a_firing_guard() {
    let lines = route_stdin(
        "policies/code-fix.toml",
        "{\"role\":\"format\",\"input_tokens\":1500,\"untrusted_input\":true}\n",
        &["--explain"],
    );
    let d = &lines[0];
    assert_eq!(d["via"], "guard");
    let checks = d["explain"].as_array().unwrap();
    let winner = checks
        .iter()
        .find(|c| c["name"] == "formatting-cheap")
        .unwrap();
    assert_eq!(winner["held"], true);
    let guard = checks
        .iter()
        .find(|c| c["name"] == "untrusted-needs-tested-model")
        .unwrap();
    assert_eq!(guard["kind"], "guard");
    assert_eq!(guard["held"], true);
    assert!(
        guard["detail"]
            .as_str()
            .unwrap()
            .contains("injection_tested"),
        "{guard}"
    );
}

// ---- route: bad lines never abort a batch ----------------------------------------------

#[test]
fn bad_lines_become_invalid_step_errors_and_the_batch_goes_on() {
    let input = [
        r#"{"role":"format","input_tokens":1200,"trace_id":"good-1"}"#,
        "",
        "not json at all",
        r#"{"input_tokens":5}"#,
        r#"{"role":"format","input_tokens":5,"needs_cot":true}"#,
        r#"{"role":"format","input_tokens":-3}"#,
        r#"{"role":"format","input_tokens":5,"tags":{"parties":["a","b"]}}"#,
        r#"{"role":"format","input_tokens":"many"}"#,
        r#"{"role":"extract","input_tokens":10,"trace_id":"good-9"}"#,
        r#"{"role":7,"input_tokens":5}"#,
        "   ",
        r#"{"role":"format","input_tokens":5,"untrusted_input":"yes"}"#,
        r#"{"role":"format","input_tokens":30,"trace_id":"good-13"}"#,
    ]
    .join("\n")
        + "\n";
    let lines = route_stdin("policies/contract-review.toml", &input, &[]);
    assert_eq!(lines.len(), 13, "one output line per input line");

    for (n, trace) in [(1, "good-1"), (9, "good-9"), (13, "good-13")] {
        let d = &lines[n - 1];
        assert_decision_shape(d);
        assert_eq!(d["trace_id"], trace);
    }
    // (line number, what the message must name)
    let bad: [(usize, &str); 10] = [
        (2, "blank"),
        (3, "JSON"),
        (4, "`role`"),
        (5, "`needs_cot`"),
        (6, "`input_tokens`"),
        (7, "`parties`"),
        (8, "`input_tokens`"),
        (10, "`role`"),
        (11, "blank"),
        (12, "`untrusted_input`"),
    ];
    for (n, names) in bad {
        let line = &lines[n - 1];
        let obj = line.as_object().unwrap();
        assert_eq!(obj.len(), 1, "only an error object: {line}");
        let msg = error_of(line, "invalid_step")["message"].as_str().unwrap();
        assert!(
            msg.starts_with(&format!("line {n}: ")),
            "names line {n}: {msg}"
        );
        assert!(msg.contains(names), "line {n} names {names}: {msg}");
    }
    // The negative count and the wrong type say what was expected.
    let neg = lines[5]["error"]["message"].as_str().unwrap();
    assert!(neg.contains(">= 0") && neg.contains("-3"), "{neg}");
    let wrong = lines[7]["error"]["message"].as_str().unwrap();
    assert!(
        wrong.contains("integer") && wrong.contains("many"),
        "{wrong}"
    );
}

#[test]
fn bad_lines_in_an_input_file_are_numbered_from_one() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("steps.jsonl");
    std::fs::write(
        &file,
        "{\"role\":\"format\",\"input_tokens\":1}\n{\"role\":\"format\"}\n\n",
    )
    .unwrap();
    let out = switchyard()
        .args(["route", "--policy", "policies/contract-review.toml"])
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let lines = json_lines(&out);
    assert_eq!(lines.len(), 3);
    assert_decision_shape(&lines[0]);
    let m = error_of(&lines[1], "invalid_step")["message"]
        .as_str()
        .unwrap();
    assert!(
        m.starts_with("line 2: ") && m.contains("input_tokens"),
        "{m}"
    );
    let m = error_of(&lines[2], "invalid_step")["message"]
        .as_str()
        .unwrap();
    assert!(m.starts_with("line 3: "), "{m}");
}

// ---- route: steps no policy can take ---------------------------------------------------

#[test]
fn unknown_workload_is_rejected_even_with_one_policy_loaded() {
    let lines = route_stdin(
        "policies/contract-review.toml",
        "{\"workload\":\"contract-reveiw\",\"role\":\"format\",\"input_tokens\":10}\n",
        &[],
    );
    let e = error_of(&lines[0], "unknown_workload");
    assert_eq!(e["workload"], "contract-reveiw");
    let msg = e["message"].as_str().unwrap();
    assert!(
        msg.contains("contract-reveiw") && msg.contains("contract-review"),
        "{msg}"
    );
}

#[test]
fn a_policy_set_requires_a_workload() {
    let lines = route_stdin(
        "policies/",
        "{\"role\":\"format\",\"input_tokens\":10}\n",
        &[],
    );
    let msg = error_of(&lines[0], "workload_required")["message"]
        .as_str()
        .unwrap();
    assert!(
        msg.contains("code-fix") && msg.contains("contract-review"),
        "{msg}"
    );
}

#[test]
fn a_guard_without_escalation_rejects_the_step() {
    let lines = route_stdin(
        &fixture("guard-reject.toml"),
        "{\"role\":\"format\",\"input_tokens\":10,\"untrusted_input\":true}\n",
        &[],
    );
    let e = error_of(&lines[0], "guard_rejected");
    assert_eq!(e["guard"], "untrusted-needs-tested-model");
    assert!(
        e["message"].as_str().unwrap().contains("injection_tested"),
        "{e}"
    );
}

#[test]
fn error_kinds_mix_with_decisions_one_line_each() {
    let input = concat!(
        "{\"workload\":\"code-fix\",\"role\":\"format\",\"input_tokens\":10}\n",
        "{\"role\":\"format\",\"input_tokens\":10}\n",
        "{\"workload\":\"nope\",\"role\":\"format\",\"input_tokens\":10}\n",
        "{\"workload\":\"code-fix\",\"role\":\"format\"}\n",
        "{\"workload\":\"contract-review\",\"role\":\"format\",\"input_tokens\":10}\n",
    );
    let lines = route_stdin("policies/", input, &[]);
    assert_eq!(lines.len(), 5);
    assert_eq!(lines[0]["policy"], "code-fix");
    error_of(&lines[1], "workload_required");
    error_of(&lines[2], "unknown_workload");
    error_of(&lines[3], "invalid_step");
    assert_eq!(lines[4]["policy"], "contract-review");
}

// ---- policies that will not load: exit 1, file:line:col, the source line ---------------

#[test]
fn toml_syntax_error() {
    let f = fixture("toml-syntax.toml");
    let err = load_fails(&f);
    assert!(err.contains("toml-syntax"), "{err}");
    assert_points_at(&err, &f, 4, 22, "default_tier = \"cheap");
}

#[test]
fn unknown_key_with_did_you_mean() {
    let f = fixture("unknown-key.toml");
    let err = load_fails(&f);
    assert!(err.contains("unknown-key"), "{err}");
    assert!(err.contains("`defualt_tier`"), "{err}");
    assert!(
        squash(&err).contains("did you mean `default_tier`?"),
        "{err}"
    );
    assert_points_at(&err, &f, 4, 1, "defualt_tier = \"cheap\"");
}

#[test]
fn wrong_type() {
    let f = fixture("wrong-type.toml");
    let err = load_fails(&f);
    assert!(err.contains("invalid-type"), "{err}");
    assert_points_at(&err, &f, 8, 22, "input_usd_per_mtok = \"one dollar\"");
}

#[test]
fn wrong_type_says_what_was_expected_in_plain_words() {
    let err = load_fails(&fixture("wrong-type.toml"));
    assert!(!err.contains("f64"), "{err}");
    assert!(err.contains("number"), "{err}");
}

#[test]
fn unknown_tier_in_a_rule_with_did_you_mean() {
    let f = fixture("unknown-tier.toml");
    let err = load_fails(&f);
    assert!(err.contains("unknown-tier"), "{err}");
    assert!(err.contains("`premum`"), "{err}");
    assert!(squash(&err).contains("did you mean `premium`?"), "{err}");
    assert_points_at(&err, &f, 23, 8, "tier = \"premum\"");
}

#[test]
fn unknown_model_in_tiers() {
    let f = fixture("unknown-model.toml");
    let err = load_fails(&f);
    assert!(err.contains("unknown-model"), "{err}");
    assert!(err.contains("`smal`"), "{err}");
    assert!(squash(&err).contains("did you mean `small`?"), "{err}");
    assert_points_at(&err, &f, 12, 9, "cheap = \"smal\"");
}

#[test]
fn duplicate_rule_name_points_at_both() {
    let f = fixture("duplicate-rule.toml");
    let err = load_fails(&f);
    assert!(err.contains("duplicate-rule"), "{err}");
    assert_points_at(&err, &f, 20, 8, "name = \"big\"");
    // The help names where the first one is.
    assert!(squash(&err).contains(&format!("{f}:15:8")), "{err}");
}

#[test]
fn empty_range() {
    let f = fixture("empty-range.toml");
    let err = load_fails(&f);
    assert!(err.contains("empty-range"), "{err}");
    assert_points_at(
        &err,
        &f,
        16,
        25,
        "when = { input_tokens = { gt = 100, lt = 50 } }",
    );
}

#[test]
fn negative_price() {
    let f = fixture("negative-price.toml");
    let err = load_fails(&f);
    assert!(err.contains("invalid-price"), "{err}");
    assert!(err.contains("-2"), "{err}");
    assert_points_at(&err, &f, 9, 23, "output_usd_per_mtok = -2.0");
}

#[test]
fn non_finite_price() {
    let f = fixture("nan-price.toml");
    let err = load_fails(&f);
    assert!(err.contains("invalid-price"), "{err}");
    assert!(err.contains("finite"), "{err}");
    assert_points_at(&err, &f, 8, 22, "input_usd_per_mtok = nan");
}

#[test]
fn a_bad_price_does_not_also_claim_the_model_is_undefined() {
    for f in ["negative-price.toml", "nan-price.toml"] {
        let err = load_fails(&fixture(f));
        assert!(!err.contains("is not defined"), "{f}:\n{err}");
        assert!(err.contains("(1 problem)"), "{f}:\n{err}");
    }
}

#[test]
fn missing_default_tier() {
    let f = fixture("missing-default-tier.toml");
    let err = load_fails(&f);
    assert!(err.contains("missing-key"), "{err}");
    assert!(err.contains("`default_tier`"), "{err}");
    // There is no key to point at: it points at the table that needs it.
    assert_points_at(&err, &f, 2, 1, "[policy]");
}

#[test]
fn no_tiers() {
    let f = fixture("no-tiers.toml");
    let err = load_fails(&f);
    assert!(err.contains("no-tiers"), "{err}");
    assert!(err.contains("defines no tiers"), "{err}");
    assert_points_at(&err, &f, 2, 1, "[policy]");
}

#[test]
fn duplicate_model_between_a_policy_and_its_include() {
    let dir = fixture("duplicate-model-include");
    let err = load_fails(&format!("{dir}/policy.toml"));
    assert!(err.contains("duplicate-model"), "{err}");
    assert!(err.contains("`small`"), "{err}");
    assert_points_at(&err, &format!("{dir}/catalog.toml"), 2, 9, "[models.small]");
    assert!(
        squash(&err).contains(&format!("{dir}/policy.toml:7:9")),
        "the other definition is named too:\n{err}"
    );
}

#[test]
fn an_include_holding_rules() {
    let dir = fixture("include-with-rules");
    let err = load_fails(&format!("{dir}/policy.toml"));
    assert!(err.contains("catalog-not-models-only"), "{err}");
    assert_points_at(&err, &format!("{dir}/catalog.toml"), 7, 1, "[[rules]]");
}

#[test]
fn invalid_policy_name() {
    let f = fixture("invalid-name.toml");
    let err = load_fails(&f);
    assert!(err.contains("invalid-name"), "{err}");
    assert!(err.contains("a-z, 0-9"), "{err}");
    assert_points_at(&err, &f, 3, 8, "name = \"Contract Review\"");
}

#[test]
fn rhai_syntax_error_points_inside_the_expression() {
    let f = fixture("expr-syntax.toml");
    let err = load_fails(&f);
    assert!(err.contains("expr-syntax"), "{err}");
    // The expression is cut short after `>`: the error is where the operand should be.
    assert_points_at(&err, &f, 16, 55, "expr = \"step.input_tokens > \"");
}

#[test]
fn rhai_syntax_error_column_counts_string_escapes() {
    let f = fixture("expr-syntax-escaped.toml");
    let err = load_fails(&f);
    assert!(err.contains("expr-syntax"), "{err}");
    assert_points_at(&err, &f, 16, 39, "&&& true");
}

#[test]
fn invalid_test_step() {
    let f = fixture("invalid-test-step.toml");
    let err = load_fails(&f);
    assert!(err.contains("invalid-test-step"), "{err}");
    assert!(err.contains("`needs_cot`"), "{err}");
    assert_points_at(&err, &f, 16, 8, "step = { role = \"reason\"");
}

#[test]
fn two_policies_with_one_name_in_a_set() {
    let dir = fixture("duplicate-policy-name");
    let err = load_fails(&dir);
    assert!(err.contains("duplicate-policy"), "{err}");
    assert!(err.contains("`same`"), "{err}");
    assert_points_at(&err, &format!("{dir}/b.toml"), 3, 8, "name = \"same\"");
    assert!(squash(&err).contains(&format!("{dir}/a.toml")), "{err}");
}

#[test]
fn several_errors_in_one_file_are_all_reported() {
    let f = fixture("several-errors.toml");
    let err = load_fails(&f);
    assert_points_at(&err, &f, 8, 22, "input_usd_per_mtok = -1.0");
    assert_points_at(&err, &f, 17, 8, "tier = \"premium\"");
    assert!(
        err.contains("invalid-price") && err.contains("unknown-tier"),
        "{err}"
    );
    assert!(err.contains("problems)"), "{err}");
}

#[test]
fn a_parse_error_does_not_hide_the_others() {
    let f = fixture("several-parse-errors.toml");
    let err = load_fails(&f);
    assert_points_at(&err, &f, 5, 1, "colour = \"blue\"");
    assert_points_at(&err, &f, 10, 22, "input_usd_per_mtok = \"one dollar\"");
    assert_points_at(&err, &f, 19, 8, "tier = \"premium\"");
}

#[test]
fn a_policy_that_will_not_load_fails_explain_too() {
    let out = switchyard()
        .args([
            "explain",
            "--policy",
            &fixture("unknown-tier.toml"),
            "{\"role\":\"format\",\"input_tokens\":1}",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let err = stderr(&out);
    assert_clean(&err);
    assert!(
        err.contains(&format!("{}:23:8", fixture("unknown-tier.toml"))),
        "{err}"
    );
}

// ---- exit 2: files that cannot be read, commands used wrongly --------------------------

#[test]
fn a_policy_path_that_does_not_exist_exits_2() {
    for cmd in [
        vec!["route", "--policy", "no/such/policies/"],
        vec![
            "explain",
            "--policy",
            "no/such/policies/",
            "{\"role\":\"x\",\"input_tokens\":1}",
        ],
    ] {
        let out = switchyard().args(&cmd).write_stdin("").output().unwrap();
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{cmd:?}: {err}");
        assert!(out.stdout.is_empty());
        assert_clean(&err);
        assert!(err.contains("no/such/policies"), "names the path: {err}");
    }
}

#[test]
fn an_input_file_that_does_not_exist_exits_2() {
    let out = switchyard()
        .args(["route", "--policy", "policies/", "no-such-steps.jsonl"])
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(out.stdout.is_empty());
    assert_clean(&err);
    assert!(err.contains("no-such-steps.jsonl"), "names the file: {err}");
}

#[test]
fn an_input_that_is_a_directory_exits_2() {
    let out = switchyard()
        .args(["route", "--policy", "policies/", "examples/"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert_clean(&stderr(&out));
}

#[test]
fn an_input_that_is_a_directory_is_named() {
    let out = switchyard()
        .args(["route", "--policy", "policies/", "examples/"])
        .output()
        .unwrap();
    assert!(stderr(&out).contains("examples/"), "{}", stderr(&out));
}

#[test]
fn bad_usage_exits_2_with_usage_and_no_panic() {
    let cases: [&[&str]; 7] = [
        &[],
        &["frobnicate"],
        &["route"],
        &["route", "--policy"],
        &["route", "--policy", "policies/", "--bogus"],
        &["explain", "--policy", "policies/contract-review.toml"],
        &["route", "--policy", "policies/", "a.jsonl", "b.jsonl"],
    ];
    for args in cases {
        let out = switchyard().args(args).write_stdin("").output().unwrap();
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(out.stdout.is_empty(), "{args:?}");
        assert_clean(&err);
        // clap's usage error (or the help, for no subcommand) points at --help.
        assert!(err.contains("--help"), "{args:?}: {err}");
    }
}

// ---- explain: the decision written for a person ----------------------------------------

#[test]
fn explain_prints_checks_winner_decision_and_cost_per_tier() {
    let out = switchyard()
        .args([
            "explain",
            "--policy",
            "policies/contract-review.toml",
            r#"{"role":"summarize","input_tokens":12000,"expected_output_tokens":800}"#,
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_clean(&stderr(&out));
    let text = stdout(&out);
    let line_of = |needle: &str| {
        text.lines()
            .find(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("no line with `{needle}`:\n{text}"))
    };
    assert!(text.contains("contract-review"), "{text}");
    // Each failing rule, with the condition that failed.
    assert!(
        line_of("untrusted-input").contains("untrusted_input is false"),
        "{text}"
    );
    assert!(
        line_of("long-chain").contains("dependent_tool_calls"),
        "{text}"
    );
    assert!(line_of("big-context").contains("12000"), "{text}");
    assert!(line_of("high-value-eu-uk").contains("summarize"), "{text}");
    for r in [
        "untrusted-input",
        "long-chain",
        "big-context",
        "high-value-eu-uk",
    ] {
        assert!(line_of(r).contains('✗'), "{r} failed:\n{text}");
    }
    // The winner, and the rule after it is not checked.
    assert!(line_of("summaries-standard").contains('✓'), "{text}");
    assert!(!text.contains("cheap-roles"), "{text}");
    // The decision.
    let decision = line_of("decision");
    assert!(
        decision.contains("standard")
            && decision.contains("gpt-5.4-mini")
            && decision.contains("summaries-standard"),
        "{text}"
    );
    // The cost on each tier: 12000 in and 800 out at each model's prices.
    for (tier, model, usd) in [
        ("cheap ", "muse-spark", "0.016"),
        ("standard ", "gpt-5.4-mini", "0.038"),
        ("premium ", "claude-opus-4-6", "0.24"),
    ] {
        let l = text
            .lines()
            .find(|l| l.trim_start().starts_with(tier) && l.contains(model))
            .unwrap_or_else(|| panic!("no cost line for {tier}:\n{text}"));
        assert!(l.contains(usd), "{tier} costs {usd}: {l}");
    }
    assert!(line_of("← chosen").contains("standard"), "{text}");
}

#[test]
fn explain_shows_a_guard_that_escalates() {
    let out = switchyard()
        .args([
            "explain",
            "--policy",
            "policies/code-fix.toml",
            r#"{"role":"format","input_tokens":1500,"untrusted_input":true}"#,
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = stdout(&out);
    let guard = text
        .lines()
        .find(|l| l.contains("untrusted-needs-tested-model") && !l.contains("decision"))
        .unwrap_or_else(|| panic!("no guard line:\n{text}"));
    assert!(guard.contains("injection_tested"), "{text}");
    assert!(guard.contains("premium"), "{text}");
    let decision = text.lines().find(|l| l.starts_with("decision")).unwrap();
    assert!(
        decision.contains("premium") && decision.contains("guard"),
        "{text}"
    );
}

#[test]
fn explain_reads_the_step_from_stdin_with_dash() {
    let out = switchyard()
        .args(["explain", "--policy", "policies/code-fix.toml", "-"])
        .write_stdin("{\"role\":\"format\",\"input_tokens\":1500}\n")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains("formatting-cheap"));
}

#[test]
fn explain_with_an_invalid_step_exits_2_with_a_clear_message() {
    for (step, names) in [
        (r#"{"role":"#, "JSON"),
        (
            r#"{"role":"format","input_tokens":1,"needs_cot":true}"#,
            "`needs_cot`",
        ),
        (r#"{"role":"format","input_tokens":-1}"#, "`input_tokens`"),
        ("", "blank"),
    ] {
        let out = switchyard()
            .args(["explain", "--policy", "policies/contract-review.toml", step])
            .output()
            .unwrap();
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{step}: {err}");
        assert!(out.stdout.is_empty(), "{step}");
        assert_clean(&err);
        assert!(err.contains("not valid"), "{step}: {err}");
        assert!(err.contains(names), "{step}: {err}");
    }
}

// ---- help ------------------------------------------------------------------------------

#[test]
fn each_subcommand_help_has_an_example() {
    for (sub, example) in [
        ("route", "switchyard route --policy"),
        ("explain", "switchyard explain --policy"),
    ] {
        for flag in ["--help", "-h"] {
            let out = switchyard().args([sub, flag]).output().unwrap();
            assert_eq!(out.status.code(), Some(0), "{sub} {flag}");
            let text = stdout(&out);
            assert!(text.contains("Example"), "{sub} {flag}:\n{text}");
            assert!(text.contains(example), "{sub} {flag}:\n{text}");
        }
    }
}

// ---- route: line limits, bytes that are not UTF-8 ----------------------------------------

#[test]
fn a_line_longer_than_max_line_bytes_is_one_error_and_the_batch_goes_on() {
    let long = format!(
        r#"{{"role":"format","input_tokens":1,"trace_id":"{}"}}"#,
        "x".repeat(200)
    );
    let input = format!(
        "{{\"role\":\"format\",\"input_tokens\":1}}\n{long}\n{{\"role\":\"extract\",\"input_tokens\":2}}\n"
    );
    let lines = route_stdin(
        "policies/contract-review.toml",
        &input,
        &["--max-line-bytes", "100"],
    );
    assert_eq!(lines.len(), 3, "one output line per input line");
    assert_decision_shape(&lines[0]);
    let m = error_of(&lines[1], "invalid_step")["message"]
        .as_str()
        .unwrap();
    assert!(
        m.starts_with("line 2: ") && m.contains("longer than 100 bytes"),
        "{m}"
    );
    assert_decision_shape(&lines[2]);
}

#[test]
fn a_line_that_is_not_utf8_is_an_invalid_step() {
    let mut input = b"{\"role\":\"format\",\"input_tokens\":1,\"trace_id\":\"a\xff\"}\n".to_vec();
    input.extend_from_slice(b"{\"role\":\"format\",\"input_tokens\":1}\n");
    let out = switchyard()
        .args(["route", "--policy", "policies/contract-review.toml"])
        .write_stdin(input)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let lines = json_lines(&out);
    assert_eq!(lines.len(), 2);
    let m = error_of(&lines[0], "invalid_step")["message"]
        .as_str()
        .unwrap();
    assert!(m.starts_with("line 1: ") && m.contains("not UTF-8"), "{m}");
    assert_decision_shape(&lines[1]);
}

#[test]
fn max_line_bytes_must_be_a_positive_number() {
    for bad in ["0", "-1", "lots"] {
        let out = switchyard()
            .args(["route", "--policy", "policies/"])
            .arg(format!("--max-line-bytes={bad}"))
            .write_stdin("")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{bad}");
        assert!(
            stderr(&out).contains("--max-line-bytes"),
            "{}",
            stderr(&out)
        );
    }
}

// ---- route --watch: durations -----------------------------------------------------------

#[test]
fn watch_durations_out_of_range_are_usage_errors_that_say_the_range() {
    for (flag, bad) in [
        ("--debounce-ms", "18446744073709551615"),
        ("--debounce-ms", "1000d"),
        ("--debounce-ms", "0"),
        ("--poll-interval", "18446744073709551615s"),
        ("--poll-interval", "2h"),
        ("--poll-interval", "1ms"),
        ("--poll-interval", "soon"),
    ] {
        let out = switchyard()
            .args(["route", "--watch", "--policy", "policies/", flag, bad])
            .write_stdin("")
            .output()
            .unwrap();
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{flag} {bad}: {err}");
        assert!(
            err.contains(flag) && err.contains("between"),
            "{flag} {bad}: {err}"
        );
        assert_clean(&err);
    }
}

#[test]
fn watch_durations_take_the_same_syntax_in_both_flags() {
    for (debounce, poll) in [("150ms", "2s"), ("1s", "1m"), ("150", "0"), ("2s", "500ms")] {
        let out = switchyard()
            .args([
                "route",
                "--watch",
                "--policy",
                "policies/contract-review.toml",
            ])
            .args(["--debounce-ms", debounce, "--poll-interval", poll])
            .write_stdin("{\"role\":\"format\",\"input_tokens\":1}\n")
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{debounce} {poll}: {}",
            stderr(&out)
        );
        assert_decision_shape(&json_lines(&out)[0]);
    }
}

// ---- stdin on a terminal ---------------------------------------------------------------

/// Runs `switchyard ARGS` with a terminal as its stdin (through util-linux `script`) and
/// returns what reached the terminal; `None` where `script` is not available.
fn on_a_terminal(args: &str) -> Option<String> {
    let bin = env!("CARGO_BIN_EXE_switchyard");
    let out = std::process::Command::new("script")
        .args(["-qec", &format!("{bin} {args}"), "/dev/null"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("RUST_LOG")
        .stdin(std::process::Stdio::null())
        .output()
        .ok()?;
    out.status.success().then(|| stdout(&out))
}

#[test]
fn reading_stdin_from_a_terminal_says_what_it_waits_for() {
    let cases = [
        ("route --policy policies/contract-review.toml", "steps"),
        ("run --policy policies/contract-review.toml", "steps"),
        ("explain --policy policies/contract-review.toml -", "a step"),
        ("report -", "a call log"),
    ];
    for (args, what) in cases {
        let Some(seen) = on_a_terminal(args) else {
            eprintln!("skipped: `script` is not available to give the command a terminal");
            return;
        };
        assert!(
            seen.contains(&format!("waiting for {what} on stdin")) && seen.contains("Ctrl-D"),
            "{args}: {seen}"
        );
    }
}

#[test]
fn reading_stdin_from_a_pipe_prints_no_notice() {
    let out = switchyard()
        .args(["route", "--policy", "policies/contract-review.toml"])
        .write_stdin("")
        .output()
        .unwrap();
    assert_eq!(stderr(&out), "");
}

/// A budget store that cannot be reached is reported once, as the command's error line, not
/// also as a log warning before it.
#[test]
fn budget_status_reports_an_unreachable_store_once() {
    // Nothing listens on port 1 of the loopback address.
    let out = switchyard()
        .args([
            "budget",
            "status",
            "--policy",
            "policies/contract-review.toml",
            "--budget-store",
            "redis://127.0.0.1:1",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.matches("cannot be reached").count(), 1, "{err}");
    assert!(err.starts_with("error: "), "{err}");
}
