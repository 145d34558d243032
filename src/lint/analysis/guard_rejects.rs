//! `guard-rejects`: steps that a guard rejects even after escalation, with the tier the
//! rules chose and the tier the step was rejected at.

use super::cells::Cell;
use super::{diag, has, Walker, GUARD_TRIES};
use crate::diag::{Diagnostic, Severity};
use crate::lint::CheckName;

impl Walker<'_> {
    /// Notes a step of the cell that a guard rejects (after any escalation).
    pub(super) fn note_rejection(&mut self, cell: &mut Cell<'_>) {
        let nr = self.nr;
        let held = cell.held;
        let open_guard = |g: &&usize| has(&self.open_rows, nr + **g);
        if !held.iter().any(|g| open_guard(&g)) {
            return;
        }
        let result = match (cell.sure_winner, cell.guard_exprs) {
            (Some(w), false) => {
                let start = self.own_tier(w);
                Some((start, self.guard_pass(start, held)))
            }
            _ => {
                if held
                    .iter()
                    .filter(open_guard)
                    .any(|&g| self.guard_tries[g] < GUARD_TRIES)
                {
                    for &g in held {
                        if has(&self.open_rows, nr + g) {
                            self.guard_tries[g] += 1;
                        }
                    }
                    if cell.routed.is_none() {
                        let step = self.plain_step(cell);
                        cell.routed = Some(self.concrete(cell.chain, held, &step));
                    }
                    cell.routed.as_ref().map(|(_, start, out)| (*start, *out))
                } else {
                    None
                }
            }
        };
        if let Some((start, Err((g, at)))) = result {
            if self.rejects[g].is_none() {
                let step = self.plain_step(cell);
                self.rejects[g] = Some((step, start, at));
            }
        }
    }

    /// `guard-rejects`: steps a guard rejects even after escalation (an info when the guard
    /// has no `escalate_to`: rejecting is its job).
    pub(super) fn guard_rejects(&self, g: usize) -> Option<Diagnostic> {
        let (step, start, at) = self.rejects[g].as_ref()?;
        let p = &self.cp.policy;
        let guard = &p.guards[g];
        let model = p.tier_model(*at);
        let missing: Vec<&str> = guard
            .require
            .iter()
            .filter(|c| !model.capabilities.contains(c))
            .map(String::as_str)
            .collect();
        let (severity, how) = match guard.escalate_to {
            None => (
                Severity::Info,
                "and the guard has no `escalate_to`".to_string(),
            ),
            Some(_) => (Severity::Warning, "even after escalation".to_string()),
        };
        let via = if start == at {
            format!("the rules choose tier `{}`", self.tier_name(*at))
        } else {
            format!(
                "the rules choose tier `{}` and guards move it to tier `{}`",
                self.tier_name(*start),
                self.tier_name(*at)
            )
        };
        Some(diag(
            CheckName::GuardRejects,
            severity,
            &guard.loc,
            format!(
                "guard `{}` rejects some steps: for this one {via}, whose model `{}` lacks {} {how}",
                guard.name,
                model.key,
                missing.join(", ")
            ),
            if guard.escalate_to.is_none() {
                "if these steps should run, add `escalate_to` with a tier whose model has what the guard requires"
            } else {
                "make every tier a step can be escalated to meet every guard that holds for it"
            },
            Some(step.to_json()),
        ))
    }
}
