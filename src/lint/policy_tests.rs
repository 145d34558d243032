//! The `[[tests]]` runner: routes each test's step through its own policy, compares the
//! decision with what the test expects, and finds the rules and tiers no test reaches.
//!
//! `switchyard test` prints these results; a program runs the same tests from its own
//! `cargo test`:
//!
//! ```
//! use switchyard::lint::policy_tests;
//!
//! let results = policy_tests::run_path("policies/")?;
//! for policy in &results {
//!     // Display gives the `ok` / `FAIL` lines, with each failure's details.
//!     assert!(policy.passed(), "{policy}");
//! }
//! # Ok::<(), switchyard::LoadError>(())
//! ```

use std::collections::BTreeSet;
use std::fmt::{self, Write as _};
use std::path::Path;
use std::sync::Arc;

use crate::compile::CompiledPolicy;
use crate::policy::{LoadError, PolicyTest};
use crate::router::{CheckKind, Explanation, PolicySet, RouteError, RouteFailure, Via};

/// Runs the tests of every policy a path holds (a policy file or a policy-set directory).
pub fn run_path(path: impl AsRef<Path>) -> Result<Vec<PolicyResults>, LoadError> {
    let set = PolicySet::load(path)?;
    Ok(run_set(&set))
}

/// Runs the tests of every policy in a set, in the set's order.
pub fn run_set(set: &PolicySet) -> Vec<PolicyResults> {
    set.policies().iter().map(run_policy).collect()
}

/// Runs one policy's tests. Each step is routed by this policy alone, so a test's step needs
/// no `workload` even when the policy came from a set.
pub fn run_policy(cp: &Arc<CompiledPolicy>) -> PolicyResults {
    let set = PolicySet::from_shared(vec![Arc::clone(cp)]);
    let p = &cp.policy;
    let mut rules_hit = BTreeSet::new();
    let mut tiers_hit = BTreeSet::new();
    let mut tests = Vec::with_capacity(p.tests.len());
    for test in &p.tests {
        let explanation = set.explain(&test.step);
        let outcome = Outcome::of(cp, &explanation);
        if let Ok(d) = &explanation.result {
            if let Some(r) = d.rule_index() {
                rules_hit.insert(r);
            }
            tiers_hit.insert(d.tier_id());
        }
        let differs = mismatches(test, &outcome);
        tests.push(TestResult {
            test: test.clone(),
            expected: expected(cp, test),
            actual: actual(cp, &outcome),
            differs,
            explanation,
        });
    }
    PolicyResults {
        coverage: Coverage {
            rules: p.rules.len(),
            tiers: p.tiers.len(),
            missed_rules: (0..p.rules.len())
                .filter(|i| !rules_hit.contains(i))
                .collect(),
            missed_tiers: (0..p.tiers.len())
                .filter(|i| !tiers_hit.contains(i))
                .collect(),
        },
        policy: Arc::clone(cp),
        tests,
    }
}

/// One policy's test results, in file order, and its coverage.
#[derive(Debug, Clone)]
pub struct PolicyResults {
    /// The policy the tests belong to.
    pub policy: Arc<CompiledPolicy>,
    /// One result per `[[tests]]` entry, in file order.
    pub tests: Vec<TestResult>,
    /// The rules and tiers no test's decision reaches.
    pub coverage: Coverage,
}

impl PolicyResults {
    /// Whether every test passed (a policy without tests passes).
    pub fn passed(&self) -> bool {
        self.tests.iter().all(TestResult::passed)
    }

    /// How many tests passed and failed.
    pub fn counts(&self) -> (usize, usize) {
        let passed = self.tests.iter().filter(|t| t.passed()).count();
        (passed, self.tests.len() - passed)
    }

    /// The coverage lines `switchyard test --coverage` prints for this policy.
    pub fn coverage_report(&self) -> String {
        let p = &self.policy.policy;
        let c = &self.coverage;
        let mut out = String::new();
        if c.missed_rules.is_empty() && c.missed_tiers.is_empty() {
            let _ = writeln!(
                out,
                "coverage {}: every rule ({}) and tier ({}) is reached by a test",
                p.name, c.rules, c.tiers
            );
            return out;
        }
        let _ = writeln!(
            out,
            "coverage {}: {} of {} rules and {} of {} tiers reached by a test",
            p.name,
            c.rules - c.missed_rules.len(),
            c.rules,
            c.tiers - c.missed_tiers.len(),
            c.tiers
        );
        for &i in &c.missed_rules {
            let r = &p.rules[i];
            let _ = writeln!(
                out,
                "  rule `{}` ({}): no test's decision names it",
                r.name,
                r.loc.display()
            );
        }
        for &i in &c.missed_tiers {
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
}

/// The `ok` / `FAIL` line of each test, each failure followed by its details
/// ([`TestResult::details`]); `--   NAME: no tests` for a policy without tests.
impl fmt::Display for PolicyResults {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = &self.policy.policy.name;
        if self.tests.is_empty() {
            writeln!(f, "--   {name}: no tests")?;
        }
        for t in &self.tests {
            writeln!(f, "{}", t.headline(name))?;
            if !t.passed() {
                f.write_str(&t.details())?;
            }
        }
        Ok(())
    }
}

/// Which rules and tiers the tests reach.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Coverage {
    /// How many rules the policy has.
    pub rules: usize,
    /// How many tiers the policy has.
    pub tiers: usize,
    /// Indices of the rules no test's decision names.
    pub missed_rules: Vec<usize>,
    /// Indices of the tiers no test's decision lands on.
    pub missed_tiers: Vec<usize>,
}

/// One test's result.
#[derive(Debug, Clone)]
pub struct TestResult {
    /// The test as written.
    pub test: PolicyTest,
    /// What the test got wrong: any of `rejected`, `tier`, `rule`, `model`, `via`, `guard`;
    /// empty when it passed.
    pub differs: Vec<&'static str>,
    /// The decision the test expects, in its own keys.
    pub expected: String,
    /// The decision the step got, in full.
    pub actual: String,
    /// The trace of the step's routing: every rule and guard looked at, and why.
    pub explanation: Explanation,
}

impl TestResult {
    /// Whether the decision was what the test expects.
    pub fn passed(&self) -> bool {
        self.differs.is_empty()
    }

    /// `ok   POLICY › TEST` or `FAIL POLICY › TEST`.
    pub fn headline(&self, policy: &str) -> String {
        let mark = if self.passed() { "ok  " } else { "FAIL" };
        format!("{mark} {policy} › {}", self.test.name)
    }

    /// Where the test is, its step, the expected and actual decision and what differs, one
    /// indented line each.
    pub fn details(&self) -> String {
        let mut out = String::new();
        let pad = "       ";
        let _ = writeln!(out, "{pad}at        {}", self.test.loc.display());
        let _ = writeln!(out, "{pad}step      {}", self.test.step);
        let _ = writeln!(out, "{pad}expected  {}", self.expected);
        let _ = writeln!(out, "{pad}actual    {}", self.actual);
        let _ = writeln!(out, "{pad}differs   {}", self.differs.join(", "));
        out
    }
}

/// The way a decision is made, from the word a test writes (`expect_via`); `None` for a word
/// that names no way routing decides (`budget_downgrade` is the runner's, never routing's).
pub fn parse_via(word: &str) -> Option<Via> {
    Via::from_name(word).filter(|v| *v != Via::BudgetDowngrade)
}

/// What a test's step actually got, in the terms a test can expect.
struct Outcome {
    /// `None` when the step was not routed.
    tier: Option<usize>,
    model: Option<String>,
    /// The rule that chose the tier (`Some(None)`: the default); taken from the trace when a
    /// guard rejected the step, since the rejection does not carry it.
    rule: Option<Option<usize>>,
    via: Option<Via>,
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
                via: Some(d.via()),
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
                let (guard, rejected, via) = match e.failure() {
                    // A guard made this outcome, so it counts as the guard's doing.
                    RouteFailure::GuardRejected { guard, .. } => {
                        (Some(guard.clone()), true, Some(Via::Guard))
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
        // Loading refuses a word that names no way; should one get here, it matches none.
        if parse_via(v).is_none() || o.via != parse_via(v) {
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
                o.via.map_or("?", Via::as_str),
            );
            if let Some(g) = &o.guard {
                let _ = write!(s, ", guard `{g}`");
            }
            s
        }
        (None, None) => "no decision".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_via_word_parses_back() {
        for v in Via::ALL.into_iter().filter(|v| *v != Via::BudgetDowngrade) {
            assert_eq!(parse_via(v.as_str()), Some(v));
        }
        assert_eq!(parse_via("budget_downgrade"), None);
        assert_eq!(parse_via("rules"), None);
        assert_eq!(parse_via("Rule"), None);
    }

    #[test]
    fn the_bundled_policies_pass_their_tests_from_the_library() {
        let results = run_path("policies/").expect("the bundled policies load");
        assert_eq!(results.len(), 2);
        for r in &results {
            assert!(r.passed(), "{r}");
            assert!(r.counts().0 > 0);
        }
    }

    #[test]
    fn a_failing_test_says_what_differs() {
        let results = run_path("tests/fixtures/test_cmd/failing.toml").expect("loads");
        let r = &results[0];
        assert!(!r.passed());
        let failed: Vec<&TestResult> = r.tests.iter().filter(|t| !t.passed()).collect();
        assert!(!failed.is_empty());
        let text = r.to_string();
        assert!(text.contains("FAIL ") && text.contains("differs"), "{text}");
    }
}
