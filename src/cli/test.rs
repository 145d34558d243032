//! `switchyard test`: runs every `[[tests]]` entry of the policies given — one line per test,
//! a failure's step, expected and actual decision and explain trace, optional coverage of
//! rules and tiers, and `N passed, N failed` alone on the last line.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Args;

use crate::compile::CompiledPolicy;
use crate::policy::PolicyTest;
use crate::router::{CheckKind, Explanation, PolicySet, RouteError};

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
        let set = match PolicySet::load(path) {
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
        for cp in set.policies() {
            let report = run_policy(cp);
            print!("{}", report.lines);
            passed += report.passed;
            failed += report.failed;
            if args.coverage {
                coverage.push_str(&report.coverage);
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

/// What running one policy's tests printed and counted.
struct PolicyReport {
    lines: String,
    coverage: String,
    passed: usize,
    failed: usize,
}

fn run_policy(cp: &Arc<CompiledPolicy>) -> PolicyReport {
    let p = &cp.policy;
    // The policy alone, so a step needs no `workload` even when it came from a set.
    let set = PolicySet::from_shared(vec![Arc::clone(cp)]);
    let mut report = PolicyReport {
        lines: String::new(),
        coverage: String::new(),
        passed: 0,
        failed: 0,
    };
    let mut rules_hit = BTreeSet::new();
    let mut tiers_hit = BTreeSet::new();
    if p.tests.is_empty() {
        let _ = writeln!(report.lines, "--   {}: no tests", p.name);
    }
    for test in &p.tests {
        let ex = set.explain(&test.step);
        let outcome = Outcome::of(cp, &ex);
        if let Ok(d) = &ex.result {
            if let Some(r) = d.rule_index() {
                rules_hit.insert(r);
            }
            tiers_hit.insert(d.tier_id());
        }
        let wrong = mismatches(test, &outcome);
        if wrong.is_empty() {
            report.passed += 1;
            let _ = writeln!(report.lines, "ok   {} › {}", p.name, test.name);
        } else {
            report.failed += 1;
            let _ = writeln!(report.lines, "FAIL {} › {}", p.name, test.name);
            report
                .lines
                .push_str(&failure(cp, test, &outcome, &wrong, &ex));
        }
    }
    report.coverage = coverage(cp, &rules_hit, &tiers_hit);
    report
}

/// What a test's step actually got, in the terms a test can expect.
struct Outcome {
    /// `None` when the step was not routed.
    tier: Option<usize>,
    model: Option<String>,
    /// The rule that chose the tier (`Some(None)`: the default); taken from the trace when a
    /// guard rejected the step, since the rejection does not carry it.
    rule: Option<Option<usize>>,
    via: Option<&'static str>,
    guard: Option<String>,
    rejected: bool,
    /// Why the step was not routed, for the report.
    error: Option<RouteError>,
}

impl Outcome {
    fn of(cp: &CompiledPolicy, ex: &Explanation) -> Outcome {
        match &ex.result {
            Ok(d) => Outcome {
                tier: Some(d.tier_id()),
                model: Some(d.model().key.clone()),
                rule: Some(d.rule_index()),
                via: Some(d.via().as_str()),
                guard: d.guard().map(str::to_string),
                rejected: false,
                error: None,
            },
            Err(e) => {
                let rule = ex.checks.iter().find_map(|c| match c.kind {
                    CheckKind::Rule if c.held => {
                        Some(cp.policy.rules.iter().position(|r| r.name == c.name))
                    }
                    CheckKind::Default => Some(None),
                    _ => None,
                });
                let (guard, rejected, via) = match e {
                    // A guard made this outcome, so it counts as the guard's doing.
                    RouteError::GuardRejected { guard, .. } => {
                        (Some(guard.clone()), true, Some("guard"))
                    }
                    _ => (None, false, None),
                };
                Outcome {
                    tier: None,
                    model: None,
                    rule,
                    via,
                    guard,
                    rejected,
                    error: Some(e.clone()),
                }
            }
        }
    }
}

/// What the outcome gets wrong of what the test expects: tier, rule, model, via, guard,
/// rejected.
fn mismatches(t: &PolicyTest, o: &Outcome) -> Vec<&'static str> {
    let mut wrong = Vec::new();
    // Only a test that says so may be rejected; any other error fails it too.
    let want_rejected = t.expect_rejected == Some(true);
    if want_rejected != o.rejected || (o.error.is_some() && !o.rejected) {
        wrong.push("rejected");
    }
    if let Some(tier) = t.expect_tier {
        if o.tier != Some(tier) {
            wrong.push("tier");
        }
    }
    if let Some(rule) = t.expect_rule {
        if o.rule != Some(rule) {
            wrong.push("rule");
        }
    }
    if let Some(m) = &t.expect_model {
        if o.model.as_deref() != Some(m.as_str()) {
            wrong.push("model");
        }
    }
    if let Some(v) = &t.expect_via {
        if o.via != Some(v.as_str()) {
            wrong.push("via");
        }
    }
    if let Some(g) = &t.expect_guard {
        if o.guard.as_deref() != Some(g.as_str()) {
            wrong.push("guard");
        }
    }
    wrong
}

fn rule_name(cp: &CompiledPolicy, rule: Option<usize>) -> String {
    match rule {
        Some(i) => format!("`{}`", cp.policy.rules[i].name),
        None => "default (no rule matched)".into(),
    }
}

/// The decision the test expects, in its own keys.
fn expected(cp: &CompiledPolicy, t: &PolicyTest) -> String {
    let p = &cp.policy;
    let mut parts = Vec::new();
    if t.expect_rejected == Some(true) {
        parts.push("rejected by a guard".to_string());
    }
    if let Some(tier) = t.expect_tier {
        parts.push(format!("tier `{}`", p.tiers[tier].name));
    }
    if let Some(m) = &t.expect_model {
        parts.push(format!("model `{m}`"));
    }
    if let Some(rule) = t.expect_rule {
        parts.push(format!("rule {}", rule_name(cp, rule)));
    }
    if let Some(v) = &t.expect_via {
        parts.push(format!("via {v}"));
    }
    if let Some(g) = &t.expect_guard {
        parts.push(format!("guard `{g}`"));
    }
    if t.expect_rejected == Some(false) || parts.is_empty() {
        parts.push("not rejected".to_string());
    }
    parts.join(", ")
}

/// The decision the step got, in full.
fn actual(cp: &CompiledPolicy, o: &Outcome) -> String {
    let p = &cp.policy;
    match (&o.error, o.tier) {
        (Some(e), _) => {
            let mut s = format!("rejected ({}): {e}", e.kind());
            if let Some(rule) = o.rule {
                let _ = write!(s, "; the tier was chosen by rule {}", rule_name(cp, rule));
            }
            s
        }
        (None, Some(tier)) => {
            let mut s = format!(
                "tier `{}`, model `{}`, rule {}, via {}",
                p.tiers[tier].name,
                o.model.as_deref().unwrap_or("?"),
                rule_name(cp, o.rule.flatten()),
                o.via.unwrap_or("?"),
            );
            if let Some(g) = &o.guard {
                let _ = write!(s, ", guard `{g}`");
            }
            s
        }
        (None, None) => "no decision".into(),
    }
}

/// The report for a failed test: where it is, its step, expected and actual, and the trace.
fn failure(
    cp: &CompiledPolicy,
    t: &PolicyTest,
    o: &Outcome,
    wrong: &[&str],
    ex: &Explanation,
) -> String {
    let mut out = String::new();
    let pad = "       ";
    let _ = writeln!(out, "{pad}at        {}", t.loc.display());
    let _ = writeln!(out, "{pad}step      {}", t.step);
    let _ = writeln!(out, "{pad}expected  {}", expected(cp, t));
    let _ = writeln!(out, "{pad}actual    {}", actual(cp, o));
    let _ = writeln!(out, "{pad}differs   {}", wrong.join(", "));
    let _ = writeln!(out, "{pad}trace:");
    let trace = super::explain::render(&t.step, ex);
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

/// The rules and tiers no test reaches, for `--coverage`.
fn coverage(cp: &CompiledPolicy, rules: &BTreeSet<usize>, tiers: &BTreeSet<usize>) -> String {
    let p = &cp.policy;
    let mut out = String::new();
    let missed_rules: Vec<_> = (0..p.rules.len()).filter(|i| !rules.contains(i)).collect();
    let missed_tiers: Vec<_> = (0..p.tiers.len()).filter(|i| !tiers.contains(i)).collect();
    if missed_rules.is_empty() && missed_tiers.is_empty() {
        let _ = writeln!(
            out,
            "coverage {}: every rule ({}) and tier ({}) is reached by a test",
            p.name,
            p.rules.len(),
            p.tiers.len()
        );
        return out;
    }
    let _ = writeln!(
        out,
        "coverage {}: {} of {} rules and {} of {} tiers reached by a test",
        p.name,
        p.rules.len() - missed_rules.len(),
        p.rules.len(),
        p.tiers.len() - missed_tiers.len(),
        p.tiers.len()
    );
    for i in missed_rules {
        let r = &p.rules[i];
        let _ = writeln!(
            out,
            "  rule `{}` ({}): no test's decision names it",
            r.name,
            r.loc.display()
        );
    }
    for i in missed_tiers {
        let t = &p.tiers[i];
        let _ = writeln!(
            out,
            "  tier `{}` ({}): no test's decision lands on it",
            t.name,
            t.loc.display()
        );
    }
    out
}
