//! `switchyard test`: prints what the library's `[[tests]]` runner
//! ([`crate::lint::policy_tests`]) finds — one line per test, a failure's step, expected and
//! actual decision and explain trace, optional coverage of rules and tiers, and
//! `N passed, N failed` alone on the last line.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use crate::lint::policy_tests::{self, PolicyResults, TestResult};

/// Arguments of `switchyard test`.
#[derive(Debug, Args)]
pub struct TestArgs {
    /// Policy files, or directories of policies (policy sets).
    #[arg(value_name = "PATH", required = true)]
    pub paths: Vec<PathBuf>,
    /// Also list the rules and tiers that no test reaches.
    #[arg(long)]
    pub coverage: bool,
}

pub(super) fn run(args: TestArgs) -> ExitCode {
    let mut passed = 0usize;
    let mut failed = 0usize;
    let mut exit = 0u8;
    let mut coverage = String::new();
    for path in &args.paths {
        let set = match super::load_set(path) {
            Ok(set) => set,
            Err(e) => {
                super::report_load_error(&e);
                println!(
                    "error {}: the policy did not load (the problems are above, on stderr)",
                    path.display()
                );
                exit = exit.max(super::load_status(&e));
                continue;
            }
        };
        for results in policy_tests::run_set(&set) {
            print!("{}", lines(&results));
            let (p, f) = results.counts();
            passed += p;
            failed += f;
            if args.coverage {
                coverage.push_str(&results.coverage_report());
            }
        }
    }
    if args.coverage {
        print!("{coverage}");
    }
    if failed > 0 {
        exit = exit.max(super::PROBLEM);
    }
    println!("{passed} passed, {failed} failed");
    ExitCode::from(exit)
}

/// One policy's lines: `ok` / `FAIL` per test, each failure with its details and trace.
fn lines(results: &PolicyResults) -> String {
    let name = &results.policy.policy.name;
    let mut out = String::new();
    if results.tests.is_empty() {
        let _ = writeln!(out, "--   {name}: no tests");
    }
    for t in &results.tests {
        let _ = writeln!(out, "{}", t.headline(name));
        if !t.passed() {
            out.push_str(&failure(t));
        }
    }
    out
}

/// The report for a failed test: the library's details, then the explain trace.
fn failure(t: &TestResult) -> String {
    let mut out = t.details();
    let pad = "       ";
    let _ = writeln!(out, "{pad}trace:");
    let trace = super::explain::render(&t.test.step, &t.explanation);
    // The step is already shown above, and a test's step rarely gives output tokens.
    let lines = trace
        .lines()
        .skip(1)
        .filter(|l| !l.starts_with("(give expected_output_tokens"));
    for line in lines {
        if line.is_empty() {
            let _ = writeln!(out);
        } else {
            let _ = writeln!(out, "{pad}  {line}");
        }
    }
    let _ = writeln!(out);
    out
}
