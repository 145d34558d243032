//! `fallback-weaker-than-guard`: a tier whose model has what a guard requires, so the guard
//! lets steps stay on it, but whose fallback lacks it. When the tier's model fails, the
//! runner passes over such a fallback, so the tier has fewer fallbacks than it seems to.

use super::{finding, CheckName, Finding};
use crate::diag::Severity;
use crate::policy::Policy;

/// `fallback-weaker-than-guard`.
pub(super) fn weaker_than_guards(p: &Policy) -> Vec<Finding> {
    let mut out = Vec::new();
    for tier in &p.tiers {
        let first = &p.models[tier.model];
        for &f in &tier.fallbacks {
            let fallback = &p.models[f];
            for g in &p.guards {
                // A guard the tier's model fails moves the step away: its fallbacks never
                // serve those steps.
                if !first.has_all(&g.require) {
                    continue;
                }
                let missing: Vec<&str> = g
                    .require
                    .iter()
                    .filter(|r| !fallback.capabilities.contains(r))
                    .map(String::as_str)
                    .collect();
                if missing.is_empty() {
                    continue;
                }
                out.push(Finding::policy(
                    finding(
                        CheckName::FallbackWeakerThanGuard,
                        Severity::Warning,
                        &tier.loc.source,
                        tier.loc.span.clone(),
                        format!(
                            "the tier `{}` falls back to the model `{}`, which lacks `{}` that the guard `{}` requires",
                            tier.name,
                            fallback.key,
                            missing.join("`, `"),
                            g.name
                        ),
                    )
                    .with_help("steps the guard holds for never fall back to it; give it the capability, or drop it from the tier's list"),
                ));
            }
        }
    }
    out
}
