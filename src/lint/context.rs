//! `rule-exceeds-context-window`: a rule that only admits steps larger than its tier's model
//! can take. Routing never sends a step to a model it does not fit (the decision moves to the
//! cheapest tier that fits, or the step is rejected with `context_window_exceeded`), so such a
//! rule never routes to the tier it names: every step it matches ends up elsewhere.

use super::{finding, CheckName, Finding};
use crate::diag::Severity;
use crate::policy::Policy;

/// `rule-exceeds-context-window`.
pub(super) fn rules_over_window(p: &Policy) -> Vec<Finding> {
    let mut out = Vec::new();
    for (i, rule) in p.rules.iter().enumerate() {
        let Some(range) = rule.when.input_tokens else {
            continue;
        };
        let model = p.tier_model(rule.tier);
        let Some(window) = model.context_window else {
            continue;
        };
        // The smallest step the rule admits already overflows the window (expected output
        // only adds to it).
        if range.lo <= window {
            continue;
        }
        let tier = &p.tiers[rule.tier];
        out.push(Finding {
            diagnostic: finding(
                CheckName::RuleExceedsContextWindow,
                Severity::Warning,
                &rule.loc.source,
                rule.loc.span.clone(),
                format!(
                    "the rule `{}` sends steps of at least {} input tokens to the tier `{}`, whose model `{}` takes at most {} tokens: none of them stays there",
                    rule.name, range.lo, tier.name, model.key, window
                ),
            )
            .with_help("each such step moves to the cheapest tier whose model fits (via = \"context_window\") or is rejected with context_window_exceeded; route the rule to a tier with a larger context_window"),
            rule: Some(i),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::lint::{lint_policy_with, CheckName, Options};

    fn findings(text: &str) -> Vec<String> {
        let p = crate::compile::load_policy_text(Path::new("p.toml"), text.to_string())
            .expect("the policy loads");
        lint_policy_with(p, &Options::default())
            .into_iter()
            .filter(|d| d.name == CheckName::RuleExceedsContextWindow.as_str())
            .map(|d| d.message)
            .collect()
    }

    const POLICY: &str = r#"
[policy]
name = "p"
default_tier = "small"

[models.s]
provider = "mock"
input_usd_per_mtok = 1.0
output_usd_per_mtok = 5.0
context_window = 8000

[models.l]
provider = "mock"
input_usd_per_mtok = 3.0
output_usd_per_mtok = 15.0
context_window = 200000

[tiers]
small = "s"
large = "l"

[[rules]]
name = "huge"
when = { input_tokens = { gt = LOWER } }
tier = "small"

[[rules]]
name = "fits"
when = { input_tokens = { gt = 100 } }
tier = "large"
"#;

    #[test]
    fn a_rule_whose_smallest_step_overflows_its_tier_is_reported() {
        let found = findings(&POLICY.replace("LOWER", "10000"));
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].contains("`huge`"), "{}", found[0]);
        assert!(
            found[0].contains("at least 10001 input tokens"),
            "{}",
            found[0]
        );
        assert!(found[0].contains("at most 8000 tokens"), "{}", found[0]);
    }

    #[test]
    fn a_rule_some_of_whose_steps_fit_is_not() {
        assert!(findings(&POLICY.replace("LOWER", "7999")).is_empty());
    }
}
