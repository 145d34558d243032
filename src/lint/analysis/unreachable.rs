//! `unreachable-rule`: rules that never decide a step. The walk marks every rule that wins
//! some cell; for one that wins none, a second walk names the earlier rules that take its
//! steps and finds an example step.

use super::{diag, has, ones, upto, Walker};
use crate::diag::{Diagnostic, Severity};
use crate::lint::CheckName;
use crate::step::Step;

impl Walker<'_> {
    /// `unreachable-rule`: no step satisfies the rule, or earlier rules take every step it
    /// matches (named, with an example step).
    pub(super) fn unreachable_rule(
        &mut self,
        r: usize,
        meets: &[Vec<u64>],
        contains: &[Vec<u64>],
        shadow_budget: &mut u64,
    ) -> Option<Diagnostic> {
        let cp = self.cp;
        let rule = &cp.policy.rules[r];
        let empty = !has(&meets[r], r);
        // One earlier rule without an expression covering it: exact even when partial.
        let covering: Vec<usize> = (0..r)
            .filter(|&e| has(&self.static_mask, e) && has(&contains[r], e))
            .collect();
        let is_unreachable = if self.partial {
            empty || !covering.is_empty()
        } else {
            !self.reachable[r]
        };
        if !is_unreachable {
            return None;
        }
        if empty {
            return Some(diag(
                CheckName::UnreachableRule,
                Severity::Warning,
                &rule.loc,
                format!(
                    "rule `{}` can never match: no step satisfies all of its conditions",
                    rule.name
                ),
                "remove the rule, or loosen the conditions that exclude each other",
                None,
            ));
        }
        let (found, example, complete) = if self.partial {
            let classes: Vec<u32> = (0..self.cols.len())
                .map(|i| self.plain_class(i, Some(r)))
                .collect();
            (
                vec![covering[0]],
                Some(self.build_step(&classes, false)),
                false,
            )
        } else {
            self.shadowers(r, shadow_budget)
        };
        let names = self.rule_names(&found);
        let why = if self.partial {
            format!(
                "earlier rule {names} matches every step it matches, so that rule or one before it takes each of them"
            )
        } else if found.len() == 1 && complete {
            format!("earlier rule {names} takes every step it matches")
        } else if complete {
            format!("earlier rules {names} take every step it matches")
        } else {
            format!("earlier rules (among them {names}) take every step it matches")
        };
        Some(diag(
            CheckName::UnreachableRule,
            Severity::Warning,
            &rule.loc,
            format!("rule `{}` never decides a step: {why}", rule.name),
            "remove the rule, move it above the rules that shadow it, or narrow those rules",
            example.map(|s| s.to_json()),
        ))
    }

    /// The earlier rules without an expression that take the steps of unreachable rule `r`
    /// (each the first such rule on some of its steps), an example step, and whether the
    /// list is complete.
    pub(super) fn shadowers(
        &mut self,
        r: usize,
        budget: &mut u64,
    ) -> (Vec<usize>, Option<Step>, bool) {
        // The rules before `r` without an expression.
        let acc: Vec<u64> = (0..self.words)
            .map(|w| match r.checked_sub(1) {
                Some(last) => self.static_mask[w] & upto(Some(last), w),
                None => 0,
            })
            .collect();
        let mut found = Vec::new();
        let mut example = None;
        let complete = self.shadow_walk(r, 0, acc, budget, &mut found, &mut example);
        found.sort_unstable();
        found.dedup();
        (found, example, complete)
    }

    pub(super) fn shadow_walk(
        &mut self,
        r: usize,
        i: usize,
        acc: Vec<u64>,
        budget: &mut u64,
        found: &mut Vec<usize>,
        example: &mut Option<Step>,
    ) -> bool {
        if *budget == 0 {
            return false;
        }
        *budget -= 1;
        let Some(s) = ones(&acc).next() else {
            // No earlier rule holds here: the rule is not unreachable after all (cannot
            // happen for a rule the walk never saw win).
            return true;
        };
        if has(&self.free_from[i], s) || i == self.cols.len() {
            if !found.contains(&s) {
                found.push(s);
            }
            if example.is_none() {
                let classes: Vec<u32> = (0..self.cols.len())
                    .map(|j| {
                        if j < i {
                            self.chosen[j]
                        } else {
                            self.plain_class(j, Some(r))
                        }
                    })
                    .collect();
                *example = Some(self.build_step(&classes, false));
            }
            return true;
        }
        let words = self.words;
        // Rules after the first one every cell below holds are never first: drop them.
        let last = ones(&acc).find(|&x| has(&self.free_from[i], x));
        let acc: Vec<u64> = (0..words).map(|w| acc[w] & upto(last, w)).collect();
        let mut groups: Vec<(u32, Vec<u64>)> = Vec::new();
        let col = &self.cols[i];
        for class in 0..col.classes {
            let b = &col.bits[class * words..(class + 1) * words];
            if !has(b, r) {
                continue;
            }
            let key: Vec<u64> = acc.iter().zip(b).map(|(a, b)| a & b).collect();
            if !groups
                .iter()
                .any(|(_, k)| k.iter().zip(&key).all(|(a, b)| a == b))
            {
                groups.push((class as u32, key));
            }
        }
        let mut complete = true;
        for (class, key) in groups {
            self.chosen[i] = class;
            complete &= self.shadow_walk(r, i + 1, key, budget, found, example);
            if !complete {
                break;
            }
        }
        complete
    }
}
