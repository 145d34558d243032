//! `switchyard test` as a user runs it: a passing suite, a failing one with its printout,
//! `--coverage`, a policy with no tests, a policy that does not load, and the exit codes.
//! Fixtures are in `tests/fixtures/test_cmd/`.

use assert_cmd::Command;
use predicates::prelude::*;

fn switchyard() -> Command {
    let mut cmd = Command::cargo_bin("switchyard").unwrap();
    cmd.current_dir(env!("CARGO_MANIFEST_DIR"));
    cmd
}

const FIXTURES: &str = "tests/fixtures/test_cmd";

/// Runs `switchyard test ARGS`; returns (exit code, stdout, stderr).
fn run_test(args: &[&str]) -> (i32, String, String) {
    let out = switchyard().arg("test").args(args).output().unwrap();
    (
        out.status.code().expect("exited"),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

fn last_line(s: &str) -> &str {
    s.lines().last().unwrap_or("")
}

#[test]
fn the_bundled_policies_pass() {
    let (code, out, _) = run_test(&["policies/"]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("ok   contract-review › formatting is cheap"),
        "{out}"
    );
    assert!(out.contains("ok   code-fix › "), "{out}");
    assert!(!out.contains("FAIL"), "{out}");
    let n = out.lines().filter(|l| l.starts_with("ok   ")).count();
    assert!(n >= 20, "{out}");
    assert_eq!(last_line(&out), format!("{n} passed, 0 failed"));
}

#[test]
fn every_kind_of_expectation_can_pass() {
    let (code, out, _) = run_test(&[&format!("{FIXTURES}/passing.toml")]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(
        out,
        "ok   passing › formatting is cheap\n\
         ok   passing › anything else is standard\n\
         ok   passing › untrusted formatting is escalated\n\
         ok   passing › secrets are rejected\n\
         4 passed, 0 failed\n"
    );
}

#[test]
fn a_failure_prints_the_step_expected_actual_and_trace() {
    let (code, out, _) = run_test(&[&format!("{FIXTURES}/failing.toml")]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("FAIL failing › summaries are cheap\n"),
        "{out}"
    );
    assert!(
        out.contains("ok   failing › formatting is cheap\n"),
        "{out}"
    );
    assert!(
        out.contains("FAIL failing › planning is rejected\n"),
        "{out}"
    );
    assert_eq!(last_line(&out), "1 passed, 2 failed");

    // The first failure's block, up to the next test line.
    let block: String = out
        .split("FAIL failing › summaries are cheap\n")
        .nth(1)
        .unwrap()
        .split("\nok   ")
        .next()
        .unwrap()
        .to_string();
    assert!(
        block.contains("at        tests/fixtures/test_cmd/failing.toml:38:8"),
        "{block}"
    );
    assert!(
        block.contains(r#"step      {"role":"summarize","input_tokens":5000}"#),
        "{block}"
    );
    assert!(block.contains("expected  tier `cheap`\n"), "{block}");
    assert!(
        block.contains(
            "actual    tier `standard`, model `medium`, rule default (no rule matched), via default"
        ),
        "{block}"
    );
    assert!(block.contains("differs   tier\n"), "{block}");
    // The explain trace: every rule checked and why it did not hold.
    assert!(
        block.contains("✗ formatting-cheap  role `summarize` is not `format`"),
        "{block}"
    );
    assert!(block.contains("✗ huge-context"), "{block}");
    assert!(
        block.contains("decision tier `standard` → model `medium`"),
        "{block}"
    );

    // A rejection that does not happen.
    let block = out
        .split("FAIL failing › planning is rejected\n")
        .nth(1)
        .unwrap();
    assert!(block.contains("expected  rejected by a guard"), "{block}");
    assert!(block.contains("differs   rejected"), "{block}");
}

#[test]
fn an_unexpected_rejection_and_a_wrong_guard_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(format!(
        "{}/{FIXTURES}/passing.toml",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
    // The secrets test now expects a decision, the escalation test another guard.
    .replace("expect_rejected = true\n", "expect_tier = \"standard\"\n")
    .replace(
        "expect_guard = \"untrusted-needs-tested-model\"",
        "expect_guard = \"no-secrets\"",
    );
    let path = dir.path().join("edited.toml");
    std::fs::write(&path, text).unwrap();
    let (code, out, _) = run_test(&[path.to_str().unwrap()]);
    assert_eq!(code, 1, "{out}");
    assert_eq!(last_line(&out), "2 passed, 2 failed");
    let rejected = out
        .split("FAIL passing › secrets are rejected\n")
        .nth(1)
        .unwrap();
    assert!(
        rejected.contains("actual    rejected (guard_rejected): "),
        "{rejected}"
    );
    assert!(
        rejected.contains("the tier was chosen by rule default"),
        "{rejected}"
    );
    assert!(rejected.contains("differs   rejected, tier"), "{rejected}");
    assert!(rejected.contains("no-secrets"), "{rejected}");
    let escalated = out
        .split("FAIL passing › untrusted formatting is escalated\n")
        .nth(1)
        .unwrap();
    assert!(
        escalated.contains("guard `untrusted-needs-tested-model`"),
        "{escalated}"
    );
    assert!(escalated.contains("differs   guard\n"), "{escalated}");
}

#[test]
fn coverage_lists_rules_and_tiers_no_test_reaches() {
    let (code, out, _) = run_test(&["--coverage", &format!("{FIXTURES}/failing.toml")]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("coverage failing: 1 of 2 rules and 2 of 3 tiers reached by a test\n"),
        "{out}"
    );
    assert!(
        out.contains(
            "  rule `huge-context` (tests/fixtures/test_cmd/failing.toml:33:8): no test's decision names it\n"
        ),
        "{out}"
    );
    assert!(out.contains("  tier `premium` ("), "{out}");
    assert!(!out.contains("rule `formatting-cheap` ("), "{out}");
    assert!(!out.contains("tier `cheap` ("), "{out}");
    assert_eq!(last_line(&out), "1 passed, 2 failed");

    let (code, out, _) = run_test(&["--coverage", &format!("{FIXTURES}/passing.toml")]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("coverage passing: every rule (1) and tier (2) is reached by a test"),
        "{out}"
    );
    // Without the flag, no coverage.
    let (_, out, _) = run_test(&[&format!("{FIXTURES}/failing.toml")]);
    assert!(!out.contains("coverage"), "{out}");
}

#[test]
fn a_policy_without_tests_is_said_so_and_passes() {
    let (code, out, _) = run_test(&[&format!("{FIXTURES}/no-tests.toml")]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(out, "--   no-tests: no tests\n0 passed, 0 failed\n");
}

#[test]
fn several_paths_add_up() {
    let (code, out, _) = run_test(&[
        &format!("{FIXTURES}/passing.toml"),
        &format!("{FIXTURES}/no-tests.toml"),
        &format!("{FIXTURES}/failing.toml"),
    ]);
    assert_eq!(code, 1, "{out}");
    assert_eq!(last_line(&out), "5 passed, 2 failed");
}

#[test]
fn a_policy_that_does_not_load_exits_1_with_diagnostics() {
    let (code, out, err) = run_test(&[
        &format!("{FIXTURES}/broken.toml"),
        &format!("{FIXTURES}/passing.toml"),
    ]);
    assert_eq!(code, 1, "{out}");
    assert!(err.contains("unknown-tier"), "{err}");
    assert!(err.contains("broken.toml:4:16"), "{err}");
    assert!(out.contains("did not load"), "{out}");
    // The other policy still ran.
    assert_eq!(last_line(&out), "4 passed, 0 failed");
}

#[test]
fn a_missing_file_exits_2() {
    let (code, out, err) = run_test(&[&format!("{FIXTURES}/no-such-file.toml")]);
    assert_eq!(code, 2, "{out}");
    assert!(err.contains("no-such-file.toml"), "{err}");
    assert_eq!(last_line(&out), "0 passed, 0 failed");
}

#[test]
fn usage_errors_exit_2() {
    switchyard().arg("test").assert().code(2);
    switchyard()
        .args(["test", "--no-such-flag", "policies/"])
        .assert()
        .code(2);
}

#[test]
fn help_shows_an_example() {
    switchyard()
        .args(["test", "--help"])
        .assert()
        .success()
        .stdout(predicate::str::contains("switchyard test policies/"))
        .stdout(predicate::str::contains("--coverage"));
}
