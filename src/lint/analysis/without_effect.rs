//! `rule-without-effect`: rules whose removal changes no decision, because every step they
//! take would get the same tier from the rules after them (or the default).

use super::cells::Cell;
use super::{diag, Walker, Winner};
use crate::diag::{Diagnostic, Severity};
use crate::lint::CheckName;

impl Walker<'_> {
    /// Notes whether removing winner `w` (at position `k` of the cell's chain) changes the
    /// cell's tier: without it the step goes to the rules after it, or the default.
    pub(super) fn note_effect(&mut self, cell: &mut Cell<'_>, k: usize, w: usize) {
        if self.has_effect[w] {
            return;
        }
        // Without the rule the step gets the same tier from the rules after it (or the
        // default), and so the same guard outcome too.
        let mine = self.tier_of(w);
        let same = self
            .start_tiers(Winner::Rule(w))
            .chain(
                self.alternatives(cell.chain, k)
                    .flat_map(|a| self.start_tiers(a)),
            )
            .all(|t| t == mine);
        if same {
            if self.effect_example[w].is_none() {
                let step = self.plain_step(cell);
                let alt = self
                    .alternatives(cell.chain, k)
                    .next()
                    .unwrap_or(Winner::Default);
                self.effect_example[w] = Some((step, alt));
            }
        } else {
            self.has_effect[w] = true;
        }
    }

    /// `rule-without-effect`: a reachable rule whose removal changes no decision.
    pub(super) fn rule_without_effect(&self, r: usize) -> Option<Diagnostic> {
        if self.partial || !self.reachable[r] || self.has_effect[r] {
            return None;
        }
        let (step, alt) = self.effect_example[r].as_ref()?;
        let p = &self.cp.policy;
        let rule = &p.rules[r];
        let instead = match alt {
            Winner::Rule(a) => format!("rule `{}`", p.rules[*a].name),
            Winner::Default => "the default tier".to_string(),
        };
        Some(diag(
            CheckName::RuleWithoutEffect,
            Severity::Warning,
            &rule.loc,
            format!(
                "removing rule `{}` changes no decision: every step it takes would get tier `{}` without it too (e.g. from {instead})",
                rule.name,
                self.tier_name(rule.tier)
            ),
            "remove the rule, or give it the tier it was meant to choose",
            Some(step.to_json()),
        ))
    }
}
