//! `untrusted-input-unguarded`: tiers whose model is not `injection_tested` that a step with
//! untrusted input can end at, after every guard.

use super::cells::Cell;
use super::{diag, Walker, UNTRUSTED_TRIES};
use crate::diag::{Diagnostic, Severity};
use crate::lint::CheckName;

impl Walker<'_> {
    /// Notes untrusted input of the cell ending at a tier whose model is not
    /// injection-tested.
    pub(super) fn note_untrusted(&mut self, cell: &Cell<'_>) {
        if !cell.unt.can_true || !self.open_tiers.iter().any(|&o| o) {
            return;
        }
        let end = match (cell.sure_winner, cell.guard_exprs) {
            (Some(w), false) => Some((self.guard_pass(self.own_tier(w), cell.held), None)),
            _ if self.untrusted_tries < UNTRUSTED_TRIES => {
                self.untrusted_tries += 1;
                let step = self.cell_step(true);
                Some((self.concrete(cell.chain, cell.held, &step).2, Some(step)))
            }
            _ => None,
        };
        if let Some((Ok((t, _)), step)) = end {
            if self.open_tiers[t] {
                self.open_tiers[t] = false;
                self.untrusted[t] = Some(step.unwrap_or_else(|| self.cell_step(true)));
            }
        }
    }

    /// `untrusted-input-unguarded`: each tier whose model is not `injection_tested` that
    /// untrusted input can reach.
    pub(super) fn untrusted_input_unguarded(&self) -> Vec<Diagnostic> {
        let p = &self.cp.policy;
        let mut out = Vec::new();
        for (t, found) in self.untrusted.iter().enumerate() {
            let Some(step) = found else { continue };
            let tier = &p.tiers[t];
            out.push(diag(
                CheckName::UntrustedInputUnguarded,
                Severity::Warning,
                &tier.loc,
                format!(
                    "tier `{}` (model `{}`, not `injection_tested`) can receive untrusted input: no rule or guard keeps such steps away from it",
                    tier.name,
                    p.tier_model(t).key
                ),
                "add a guard: `when = { untrusted_input = true }`, `require = [\"injection_tested\"]`, `escalate_to` a tier whose model is tested",
                Some(step.to_json()),
            ));
        }
        out
    }
}
