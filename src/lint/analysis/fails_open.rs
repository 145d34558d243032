//! `expression-fails-open`: with `on_expression_error = "skip"`, a rule whose expression
//! fails at run time is skipped, and the step can fall through to a cheaper or less capable
//! tier.

use super::cells::Cell;
use super::{diag, has, Walker};
use crate::diag::{Diagnostic, Severity};
use crate::lint::CheckName;

impl Walker<'_> {
    /// Notes a step on which winner `w`, failing its expression under
    /// `on_expression_error = "skip"`, falls through to a lesser tier.
    pub(super) fn note_fails_open(&mut self, cell: &mut Cell<'_>, k: usize, w: usize) {
        if self.fails_open[w].is_some()
            || !has(&self.expr_mask, w)
            || self.on_error_tier().is_some()
        {
            return;
        }
        let mine = self.tier_of(w);
        let lesser = self
            .alternatives(cell.chain, k)
            .flat_map(|a| self.start_tiers(a))
            .find(|&t| self.more(mine, t));
        if let Some(t) = lesser {
            let step = self.plain_step(cell);
            self.fails_open[w] = Some((step, t));
        }
    }

    /// `expression-fails-open`: a rule whose failing expression lets a step fall through to
    /// a cheaper or less capable tier.
    pub(super) fn expression_fails_open(&self, r: usize) -> Option<Diagnostic> {
        let (step, lesser) = self.fails_open[r].as_ref()?;
        let rule = &self.cp.policy.rules[r];
        Some(diag(
            CheckName::ExpressionFailsOpen,
            Severity::Info,
            &rule.loc,
            format!(
                "rule `{}` routes to tier `{}`, but when its expression fails at run time it is skipped (on_expression_error = \"skip\") and the step can fall through to tier `{}`, which is cheaper or less capable",
                rule.name,
                self.tier_name(rule.tier),
                self.tier_name(*lesser)
            ),
            "set `on_expression_error` to a tier, or guard the expression (e.g. `\"key\" in step.tags && …`) so it cannot fail",
            Some(step.to_json()),
        ))
    }
}
