//! Property test of the lint analysis (`switchyard::lint::analysis`) on random policies:
//! every rule it calls unreachable never wins a random step, and its example step is one the
//! rule matches that an earlier rule takes; every rule it does not call unreachable has a step
//! that reaches it (the analysis's own, checked by routing it) whenever the rule and the rules
//! before it have no expression; every `guard-rejects` and `untrusted-input-unguarded` example
//! is rejected by that guard, or ends at that tier with untrusted input, when routed; and
//! removing a rule called `rule-without-effect` changes no decision on random steps.
//!
//! The policy generator is tests/common/gen.rs, shared with tests/props.rs: TOML text over small
//! pools of roles, tags, values and breakpoints, so random steps from the same pools hit the
//! boundaries.

mod common;

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use common::gen::*;
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use switchyard::lint::analysis::{self, Analysis};
use switchyard::router::CheckKind;
use switchyard::{CompiledPolicy, PolicySet, RouteFailure, Step};

// ---- the properties ------------------------------------------------------------------------

/// Every name the analysis may use.
const KNOWN: [&str; 6] = [
    "unreachable-rule",
    "rule-without-effect",
    "guard-rejects",
    "untrusted-input-unguarded",
    "expression-fails-open",
    "partial-overlap",
];

/// Small enough that the debug build stays quick; most generated policies fit whole.
const BUDGET: u64 = 60_000;

/// Counts of what the cases reached, to show the properties are not vacuous.
#[derive(Default)]
struct Coverage {
    cases: AtomicU64,
    partial: AtomicU64,
    unreachable: AtomicU64,
    reached: AtomicU64,
    reached_past_expr: AtomicU64,
    without_effect: AtomicU64,
    rejects: AtomicU64,
    untrusted: AtomicU64,
    fails_open: AtomicU64,
    overlap: AtomicU64,
}

fn bump(c: &AtomicU64) {
    c.fetch_add(1, Ordering::Relaxed);
}

fn rule_index(name: &str) -> usize {
    name.trim_start_matches('r')
        .parse()
        .expect("generated rule names are r<i>")
}

/// The rule that decided a step (`None`: the default tier), even when a guard then rejected
/// it: from the explain trace, whose rule checks end at the winner.
fn winner(set: &PolicySet, s: &Step) -> Result<Option<usize>, TestCaseError> {
    let ex = set.explain(s);
    if let Err(e) = &ex.result {
        if matches!(
            e.failure(),
            RouteFailure::InvalidStep(_) | RouteFailure::UnknownWorkload { .. }
        ) {
            return Err(TestCaseError::fail(format!("step {s} not routed: {e}")));
        }
    }
    Ok(ex
        .checks
        .iter()
        .find(|c| c.kind == CheckKind::Rule && c.held)
        .map(|c| rule_index(&c.name)))
}

/// Where a step ends: a tier, or the guard that rejected it.
fn outcome(set: &PolicySet, s: &Step) -> Result<String, String> {
    match set.route(s) {
        Ok(d) => Ok(d.tier().to_string()),
        Err(e) => match e.into_failure() {
            RouteFailure::GuardRejected { guard, .. } => Err(guard),
            e => Err(format!("unexpected: {e}")),
        },
    }
}

fn load(p: &GenPolicy) -> Result<(String, PolicySet), TestCaseError> {
    let text = toml_text(p);
    let set = PolicySet::from_policy_text(Path::new("gen.toml"), text.as_str())
        .map_err(|e| TestCaseError::fail(format!("the policy did not load: {e}\n{text}")))?;
    Ok((text, set))
}

fn example_of(d: &switchyard::Diagnostic) -> Result<Step, TestCaseError> {
    let v = d
        .example
        .as_ref()
        .ok_or_else(|| TestCaseError::fail(format!("{} has no example", d.name)))?;
    Step::from_value(v).map_err(|e| TestCaseError::fail(format!("example {v} is no step: {e}")))
}

fn check_case(p: &GenPolicy, steps: &[Step], cov: &Coverage) -> Result<(), TestCaseError> {
    let (text, set) = load(p)?;
    let cp: &CompiledPolicy = &set.policies()[0];
    let a: Analysis = analysis::analyze(cp, BUDGET);
    bump(&cov.cases);
    if a.partial {
        bump(&cov.partial);
    }
    let pol = &cp.policy();
    let rule_at = |d: &switchyard::Diagnostic| {
        pol.rules()
            .iter()
            .position(|r| Some(&r.loc().span) == d.span.as_ref())
    };
    let mut unreachable = Vec::new();
    for d in &a.diagnostics {
        prop_assert!(KNOWN.contains(&d.name), "unknown name {}", d.name);
        prop_assert!(
            d.span.is_some() && d.source.is_some(),
            "{} has no place",
            d.name
        );
        if d.example.is_some() {
            example_of(d)?;
        }
        match d.name {
            "unreachable-rule" => {
                let r = rule_at(d).expect("an unreachable-rule is at a rule");
                unreachable.push(r);
                bump(&cov.unreachable);
                // An example the rule matches, that an earlier rule decides.
                if let Some(v) = &d.example {
                    let s = Step::from_value(v).unwrap();
                    prop_assert!(
                        static_holds(&p.rules[r].when, &s, tokens_of(&s)),
                        "r{} does not match its own example {}\n{}",
                        r,
                        s,
                        text
                    );
                    let w = winner(&set, &s)?;
                    prop_assert!(
                        w.is_some_and(|w| w < r),
                        "the example {} of unreachable r{} is decided by {:?}\n{}",
                        s,
                        r,
                        w,
                        text
                    );
                }
            }
            "guard-rejects" => {
                let g = pol
                    .guards()
                    .iter()
                    .position(|g| Some(&g.loc().span) == d.span.as_ref())
                    .expect("a guard-rejects is at a guard");
                let s = example_of(d)?;
                prop_assert_eq!(
                    outcome(&set, &s),
                    Err(format!("g{g}")),
                    "example {} of guard-rejects\n{}",
                    s,
                    text
                );
                bump(&cov.rejects);
            }
            "untrusted-input-unguarded" => {
                let t = pol
                    .tiers()
                    .iter()
                    .position(|t| Some(&t.loc().span) == d.span.as_ref())
                    .expect("an untrusted-input-unguarded is at a tier");
                let s = example_of(d)?;
                prop_assert!(s.untrusted_input);
                prop_assert_eq!(
                    outcome(&set, &s),
                    Ok(format!("t{t}")),
                    "example {}\n{}",
                    s,
                    text
                );
                prop_assert!(!p.models[p.tiers[t]].contains(&"injection_tested"));
                bump(&cov.untrusted);
            }
            "expression-fails-open" | "partial-overlap" => {
                let r = rule_at(d).expect("at a rule");
                let s = example_of(d)?;
                prop_assert!(static_holds(&p.rules[r].when, &s, tokens_of(&s)));
                if d.name == "partial-overlap" {
                    bump(&cov.overlap);
                } else {
                    prop_assert!(p.rules[r].when.expr.is_some());
                    bump(&cov.fails_open);
                }
            }
            "rule-without-effect" => {
                prop_assert!(!a.partial, "rule-without-effect from a partial analysis");
                let r = rule_at(d).expect("at a rule");
                bump(&cov.without_effect);
                // Without the rule, every step ends where it ended with it.
                let mut fewer = p.clone();
                fewer.rules.remove(r);
                let (_, set2) = load(&fewer)?;
                let s = example_of(d)?;
                for s in steps.iter().chain(std::iter::once(&s)) {
                    prop_assert_eq!(
                        outcome(&set, s),
                        outcome(&set2, s),
                        "removing r{} (called without effect) changes step {}\n{}",
                        r,
                        s,
                        text
                    );
                }
            }
            _ => unreachable!(),
        }
    }

    // No random step is decided by a rule called unreachable.
    for s in steps {
        if let Some(w) = winner(&set, s)? {
            prop_assert!(
                !unreachable.contains(&w),
                "r{} is called unreachable but decides {}\n{}",
                w,
                s,
                text
            );
        }
    }

    // Every other rule has a step that reaches it, when expressions do not stand in the way.
    let reaching = analysis::reaching_steps(cp, BUDGET);
    for (r, found) in reaching.iter().enumerate() {
        match found {
            Some(s) => {
                prop_assert!(!unreachable.contains(&r));
                prop_assert_eq!(
                    winner(&set, s)?,
                    Some(r),
                    "the step {} said to reach r{} does not\n{}",
                    s,
                    r,
                    text
                );
                bump(&cov.reached);
                if p.rules[..=r].iter().any(|x| x.when.expr.is_some()) {
                    bump(&cov.reached_past_expr);
                }
            }
            None => {
                let plain = p.rules[..=r].iter().all(|x| x.when.expr.is_none());
                prop_assert!(
                    a.partial || unreachable.contains(&r) || !plain,
                    "r{} is not called unreachable, yet no step reaches it\n{}",
                    r,
                    text
                );
            }
        }
    }
    Ok(())
}

fn run(nums: &'static [f64], cases: u32) -> Coverage {
    let config = Config {
        cases,
        failure_persistence: None,
        max_shrink_iters: 2048,
        ..Config::default()
    };
    let cov = Coverage::default();
    let cases = Cases {
        narrow: 4,
        wide: 1,
        rules: RuleCount::Weighted {
            short: 3,
            medium: 1,
            long: 1,
        },
        steps: 48,
    };
    run_cases(config, nums, cases, |p, steps| check_case(p, steps, &cov));
    cov
}

#[test]
fn lint_findings_hold_when_routed() {
    let cov = run(&NUMS, 160);
    let n = |c: &AtomicU64| c.load(Ordering::Relaxed);
    eprintln!(
        "cases {}, partial {}, unreachable {}, reached {} (past an expression {}), without effect {}, guard rejects {}, untrusted {}, fails open {}, overlaps {}",
        n(&cov.cases),
        n(&cov.partial),
        n(&cov.unreachable),
        n(&cov.reached),
        n(&cov.reached_past_expr),
        n(&cov.without_effect),
        n(&cov.rejects),
        n(&cov.untrusted),
        n(&cov.fails_open),
        n(&cov.overlap),
    );
    // Zero would mean the generator stopped producing the case and the property went vacuous.
    for (what, c) in [
        ("an unreachable rule", &cov.unreachable),
        ("a reached rule", &cov.reached),
        ("a rule reached past an expression", &cov.reached_past_expr),
        ("a rule without effect", &cov.without_effect),
        ("a guard rejection", &cov.rejects),
        ("untrusted input unguarded", &cov.untrusted),
        ("an expression failing open", &cov.fails_open),
        ("a partial overlap", &cov.overlap),
    ] {
        assert!(n(c) > 0, "no generated policy showed {what}");
    }
}

/// The same properties over tag numbers beyond 2^53.
#[test]
fn lint_findings_hold_with_big_tag_numbers() {
    run(&BIG_NUMS, 48);
}

/// Times the analysis of generated 50- and 500-rule policies (run in release with
/// `--ignored --nocapture`); prints the numbers, asserts nothing about time.
#[test]
#[ignore]
fn time_analysis() {
    let pools = Pools {
        nums: &NUMS,
        tags: &TAGS,
    };
    for size in [50, 500] {
        let mut runner = TestRunner::deterministic();
        let mut worst = std::time::Duration::ZERO;
        let mut total = std::time::Duration::ZERO;
        let mut partial = 0;
        let samples: u32 = std::env::var("LINT_TIME_SAMPLES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(12);
        for _ in 0..samples {
            let p = policy(pools, RuleCount::Exactly(size))
                .new_tree(&mut runner)
                .unwrap()
                .current();
            let (_, set) = load(&p).unwrap();
            let cp = &set.policies()[0];
            let t = std::time::Instant::now();
            let a = analysis::analyze(cp, analysis::DEFAULT_BUDGET);
            let el = t.elapsed();
            worst = worst.max(el);
            total += el;
            partial += usize::from(a.partial);
            eprintln!(
                "{size} rules: {:?}, cells {}, partial {}, findings {}",
                el,
                a.cells,
                a.partial,
                a.diagnostics.len()
            );
        }
        eprintln!(
            "{size} rules: mean {:?}, worst {:?}, partial {partial}/{samples}",
            total / samples,
            worst
        );
    }
}
