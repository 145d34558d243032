//! `partial-overlap`: a rule whose static region partly overlaps an earlier rule's that
//! routes elsewhere, with a step in both. First-match order makes this routine, so lint
//! reports it only when enabled.

use super::{diag, has, Walker};
use crate::diag::{Diagnostic, Severity};
use crate::lint::CheckName;
use crate::step::Step;

impl Walker<'_> {
    /// `partial-overlap`: earlier rules whose static region meets this one's without either
    /// containing the other, and that route elsewhere (reported only when enabled).
    pub(super) fn partial_overlap(
        &self,
        r: usize,
        meets: &[Vec<u64>],
        contains: &[Vec<u64>],
        unreachable: &[bool],
    ) -> Option<Diagnostic> {
        let p = &self.cp.policy;
        let rule = &p.rules[r];
        let overlaps: Vec<usize> = (0..r)
            .filter(|&e| {
                !unreachable[e]
                    && p.rules[e].tier != rule.tier
                    && has(&meets[r], e)
                    && !has(&contains[r], e)
                    && !has(&contains[e], r)
            })
            .collect();
        let &e = overlaps.first()?;
        Some(diag(
            CheckName::PartialOverlap,
            Severity::Info,
            &rule.loc,
            format!(
                "rule `{}` (tier `{}`) partly overlaps {} {}, which come{} first and route{} elsewhere: steps matching both never reach this rule",
                rule.name,
                self.tier_name(rule.tier),
                if overlaps.len() == 1 { "rule" } else { "rules" },
                self.rule_names(&overlaps),
                if overlaps.len() == 1 { "s" } else { "" },
                if overlaps.len() == 1 { "s" } else { "" },
            ),
            format!(
                "check that steps matching both `{}` and `{}` belong on tier `{}`; if so, add \"partial-overlap\" to the rule's `allow`",
                p.rules[e].name,
                rule.name,
                self.tier_name(p.rules[e].tier)
            ),
            Some(self.meeting_step(e, r).to_json()),
        ))
    }

    /// A step in the static regions of rules `a` and `b` (which meet).
    pub(super) fn meeting_step(&self, a: usize, b: usize) -> Step {
        let words = self.words;
        let classes: Vec<u32> = self
            .cols
            .iter()
            .enumerate()
            .map(|(i, col)| {
                let both = |c: usize| {
                    let bits = &col.bits[c * words..(c + 1) * words];
                    has(bits, a) && has(bits, b)
                };
                let plain = self.plain_class(i, None) as usize;
                if both(plain) {
                    plain as u32
                } else {
                    (0..col.classes).find(|&c| both(c)).unwrap_or(0) as u32
                }
            })
            .collect();
        self.build_step(&classes, false)
    }
}
