//! The rules and guards passes: unique names, conditions, and the tiers they name.

use std::collections::HashMap;

use toml::Spanned;

use super::{allow_list, Cx, Known};
use crate::policy::raw::{RawGuard, RawRule};
use crate::policy::{Guard, Rule};

/// Checks `[[rules]]`, in order; returns the rules and, for each name, the first rule with it.
pub(super) fn check_rules(
    cx: &mut Cx,
    raw_rules: &[Spanned<RawRule>],
    known: &Known<'_>,
) -> (Vec<Rule>, HashMap<String, usize>) {
    let mut rules: Vec<Rule> = Vec::new();
    // Name -> index of the first checked rule with it: lookups stay linear in the rules.
    let mut rule_index: HashMap<String, usize> = HashMap::new();
    for r in raw_rules {
        let extent = r.span();
        let r = r.get_ref();
        let rname = r.name.get_ref();
        if rname.trim().is_empty() {
            cx.err(
                "invalid-name",
                r.name.span(),
                "a rule needs a non-empty name",
            );
        }
        if let Some(first) = rule_index.get(rname).map(|&i| &rules[i]) {
            cx.err_help(
                "duplicate-rule",
                r.name.span(),
                format!("a rule named `{rname}` already exists"),
                format!(
                    "rule names are unique in a policy; the first is at {}",
                    first.loc.display()
                ),
            );
        }
        let when = cx.condition(r.when.as_ref());
        let tier = cx.tier_ref(known.tiers, known.tier_names, &r.tier, "tier");
        if let (Some(when), Some(tier)) = (when, tier) {
            rule_index.entry(rname.clone()).or_insert(rules.len());
            rules.push(Rule {
                name: rname.clone(),
                description: r.description.clone(),
                when,
                tier,
                loc: cx.loc(r.name.span()),
                extent,
                allow: allow_list(r.allow.as_ref()),
            });
        }
    }
    (rules, rule_index)
}

/// Checks `[[guards]]`, in order.
pub(super) fn check_guards(
    cx: &mut Cx,
    raw_guards: &[Spanned<RawGuard>],
    known: &Known<'_>,
) -> Vec<Guard> {
    let mut guards: Vec<Guard> = Vec::new();
    let mut guard_index: HashMap<String, usize> = HashMap::new();
    for g in raw_guards {
        let g = g.get_ref();
        let gname = g.name.get_ref();
        if gname.trim().is_empty() {
            cx.err(
                "invalid-name",
                g.name.span(),
                "a guard needs a non-empty name",
            );
        }
        if let Some(first) = guard_index.get(gname).map(|&i| &guards[i]) {
            cx.err_help(
                "duplicate-guard",
                g.name.span(),
                format!("a guard named `{gname}` already exists"),
                format!(
                    "guard names are unique in a policy; the first is at {}",
                    first.loc.display()
                ),
            );
        }
        let when = cx.condition(g.when.as_ref());
        let escalate_to = match &g.escalate_to {
            None => Some(None),
            Some(t) => cx
                .tier_ref(known.tiers, known.tier_names, t, "escalate_to")
                .map(Some),
        };
        let require: Vec<String> = g
            .require
            .get_ref()
            .iter()
            .map(|s| s.get_ref().clone())
            .collect();
        if let (Some(when), Some(escalate_to)) = (when, escalate_to) {
            guard_index.entry(gname.clone()).or_insert(guards.len());
            guards.push(Guard {
                name: gname.clone(),
                description: g.description.clone(),
                when,
                require,
                escalate_to,
                loc: cx.loc(g.name.span()),
            });
        }
    }
    guards
}
