//! A guard's `escalate_to` tier whose model lacks what the guard requires: every step the
//! guard escalates is then rejected after all, which is never what the author meant.

use super::{find_in, finding, Finding};
use crate::diag::Severity;
use crate::policy::Policy;

/// `escalate-lacks-capability`.
pub(super) fn escalations(p: &Policy) -> Vec<Finding> {
    let src = &p.sources[0];
    let mut out = Vec::new();
    for g in &p.guards {
        let Some(t) = g.escalate_to else { continue };
        let model = p.tier_model(t);
        let missing: Vec<&str> = g
            .require
            .iter()
            .filter(|r| !model.capabilities.contains(r))
            .map(String::as_str)
            .collect();
        if missing.is_empty() {
            continue;
        }
        let extent = super::table_extent(&src.text, g.loc.span.start);
        let span = find_in(&src.text, extent, "escalate_to").unwrap_or(g.loc.span.clone());
        out.push(Finding::policy(
            finding(
                "escalate-lacks-capability",
                Severity::Error,
                src,
                span,
                format!(
                    "the guard `{}` escalates to the tier `{}`, whose model `{}` lacks {}; every step it escalates is rejected",
                    g.name,
                    p.tiers[t].name,
                    model.key,
                    missing.iter().map(|m| format!("`{m}`")).collect::<Vec<_>>().join(", ")
                ),
            )
            .with_help("escalate to a tier whose model has every capability in `require`, or add the capability to that model"),
        ));
    }
    out
}
