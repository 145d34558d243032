//! Tests of the analysis on small policies: each finding, with its example step, and a
//! partial analysis that claims only what it proved.

use std::path::Path;

use super::*;
use crate::policy::load_policy_text;

const MODELS: &str = r#"
[models.small]
provider = "mock"
input_usd_per_mtok = 0.1
output_usd_per_mtok = 0.4

[models.big]
provider = "mock"
input_usd_per_mtok = 10.0
output_usd_per_mtok = 40.0
capabilities = ["injection_tested"]

[tiers]
cheap = "small"
premium = "big"
"#;

/// Analyses a policy: `head` goes in `[policy]`, `body` holds rules and guards.
fn analysed(head: &str, body: &str, budget: u64) -> Analysis {
    let text = format!("[policy]\nname = \"t\"\n{head}\n{MODELS}\n{body}");
    let p = load_policy_text(Path::new("t.toml"), text).expect("the policy loads");
    let cp = CompiledPolicy::compile(p).expect("the policy compiles");
    analyze(&cp, budget)
}

fn found<'a>(a: &'a Analysis, name: &str) -> Vec<&'a Diagnostic> {
    a.diagnostics.iter().filter(|d| d.name == name).collect()
}

/// The findings, one line each, for assertion messages.
fn listed(a: &Analysis) -> Vec<String> {
    a.diagnostics
        .iter()
        .map(|d| format!("{}: {}", d.name, d.message))
        .collect()
}

fn example(d: &Diagnostic) -> Step {
    Step::from_value(d.example.as_ref().expect("an example")).expect("a valid step")
}

#[test]
fn a_rule_covered_by_two_earlier_rules_is_unreachable() {
    let a = analysed(
        "default_tier = \"cheap\"",
        r#"
[[rules]]
name = "format"
when = { role = "format" }
tier = "cheap"

[[rules]]
name = "extract"
when = { role = "extract" }
tier = "premium"

[[rules]]
name = "both"
when = { role = ["format", "extract"], input_tokens = { gt = 100 } }
tier = "premium"
"#,
        DEFAULT_BUDGET,
    );
    assert!(!a.partial);
    let u = found(&a, "unreachable-rule");
    assert_eq!(u.len(), 1, "{:?}", listed(&a));
    assert_eq!(u[0].severity, Severity::Warning);
    assert!(u[0].message.contains("`both`"), "{}", u[0].message);
    assert!(u[0].message.contains("`format`") && u[0].message.contains("`extract`"));
    let s = example(u[0]);
    assert!(s.role == "format" || s.role == "extract");
    assert!(s.input_tokens.unwrap() > 100);
}

#[test]
fn rules_with_expressions_are_shadowed_but_never_shadow() {
    let a = analysed(
        "default_tier = \"premium\"",
        r#"
[[rules]]
name = "everything-maybe"
when = { expr = "step.input_tokens > 5" }
tier = "premium"

[[rules]]
name = "small"
when = { role = "format" }
tier = "cheap"

[[rules]]
name = "catch-all"
tier = "cheap"

[[rules]]
name = "after-catch-all"
when = { expr = "step.input_tokens > 5" }
tier = "premium"
"#,
        DEFAULT_BUDGET,
    );
    let u = found(&a, "unreachable-rule");
    assert_eq!(u.len(), 1, "{:?}", listed(&a));
    assert!(u[0].message.contains("`after-catch-all`"));
    assert!(u[0].message.contains("`catch-all`"));
}

#[test]
fn a_rule_routing_where_the_next_rule_would_is_without_effect() {
    let a = analysed(
        "default_tier = \"cheap\"",
        r#"
[[rules]]
name = "format-cheap"
when = { role = "format" }
tier = "cheap"

[[rules]]
name = "big"
when = { input_tokens = { gt = 1000 } }
tier = "premium"
"#,
        DEFAULT_BUDGET,
    );
    // `format-cheap` decides big format steps too, so it has an effect.
    assert!(
        found(&a, "rule-without-effect").is_empty(),
        "{:?}",
        listed(&a)
    );

    let a = analysed(
        "default_tier = \"cheap\"",
        r#"
[[rules]]
name = "format-cheap"
when = { role = "format" }
tier = "cheap"
"#,
        DEFAULT_BUDGET,
    );
    let w = found(&a, "rule-without-effect");
    assert_eq!(w.len(), 1, "{:?}", listed(&a));
    assert!(
        w[0].message.contains("the default tier"),
        "{}",
        w[0].message
    );
    assert_eq!(example(w[0]).role, "format");
}

#[test]
fn a_guard_without_escalation_rejects_with_an_example() {
    let a = analysed(
        "default_tier = \"cheap\"",
        r#"
[[guards]]
name = "tested-only"
when = { untrusted_input = true }
require = ["injection_tested"]
"#,
        DEFAULT_BUDGET,
    );
    let g = found(&a, "guard-rejects");
    assert_eq!(g.len(), 1, "{:?}", listed(&a));
    assert_eq!(g[0].severity, Severity::Info);
    assert!(example(g[0]).untrusted_input);
    // Rejected steps never reach the untested model.
    assert!(found(&a, "untrusted-input-unguarded").is_empty());
}

#[test]
fn untrusted_input_reaching_an_untested_model_is_found() {
    let a = analysed("default_tier = \"cheap\"", "", DEFAULT_BUDGET);
    let u = found(&a, "untrusted-input-unguarded");
    assert_eq!(u.len(), 1, "{:?}", listed(&a));
    assert!(u[0].message.contains("`cheap`"));
    assert!(example(u[0]).untrusted_input);

    let a = analysed(
        "default_tier = \"cheap\"",
        r#"
[[guards]]
name = "escalate"
when = { untrusted_input = true }
require = ["injection_tested"]
escalate_to = "premium"
"#,
        DEFAULT_BUDGET,
    );
    assert!(
        found(&a, "untrusted-input-unguarded").is_empty(),
        "{:?}",
        listed(&a)
    );
    assert!(found(&a, "guard-rejects").is_empty(), "{:?}", listed(&a));
}

#[test]
fn a_skipped_expression_that_falls_to_a_cheaper_tier_fails_open() {
    let body = r#"
[[rules]]
name = "high-value"
when = { expr = "step.tags.value > 1000" }
tier = "premium"
"#;
    let a = analysed("default_tier = \"cheap\"", body, DEFAULT_BUDGET);
    let f = found(&a, "expression-fails-open");
    assert_eq!(f.len(), 1, "{:?}", listed(&a));
    assert!(f[0].message.contains("`cheap`"));

    let a = analysed(
        "default_tier = \"cheap\"\non_expression_error = \"premium\"",
        body,
        DEFAULT_BUDGET,
    );
    assert!(found(&a, "expression-fails-open").is_empty());
}

#[test]
fn a_partly_overlapping_rule_is_pointed_out_with_a_step_in_both() {
    let a = analysed(
        "default_tier = \"cheap\"",
        r#"
[[rules]]
name = "format"
when = { role = "format" }
tier = "cheap"

[[rules]]
name = "untrusted"
when = { untrusted_input = true }
tier = "premium"
"#,
        DEFAULT_BUDGET,
    );
    let o = found(&a, "partial-overlap");
    assert_eq!(o.len(), 1, "{:?}", listed(&a));
    assert!(o[0].message.contains("`untrusted`") && o[0].message.contains("`format`"));
    let s = example(o[0]);
    assert!(s.role == "format" && s.untrusted_input);
}

#[test]
fn a_small_budget_gives_a_partial_analysis_that_claims_only_what_it_proved() {
    let mut body = String::new();
    for i in 0..40 {
        body.push_str(&format!(
            "[[rules]]\nname = \"r{i}\"\nwhen = {{ input_tokens = {{ ge = {} }}, tags = {{ k{i} = \"v\" }} }}\ntier = \"{}\"\n\n",
            i * 10,
            if i % 2 == 0 { "cheap" } else { "premium" }
        ));
    }
    body.push_str("[[rules]]\nname = \"covered\"\nwhen = { input_tokens = { ge = 10 }, tags = { k1 = \"v\" } }\ntier = \"cheap\"\n");
    let a = analysed("default_tier = \"cheap\"", &body, 50);
    assert!(a.partial);
    assert!(found(&a, "rule-without-effect").is_empty());
    // One earlier rule (r1) covers `covered`: proved without the walk.
    let u = found(&a, "unreachable-rule");
    let names: Vec<&str> = a.diagnostics.iter().map(|d| d.name).collect();
    assert_eq!(u.len(), 1, "{names:?}");
    assert!(u[0].message.contains("`covered`") && u[0].message.contains("`r1`"));

    let whole = analysed("default_tier = \"cheap\"", &body, DEFAULT_BUDGET);
    assert!(!whole.partial);
    assert!(whole.cells > a.cells);
}
