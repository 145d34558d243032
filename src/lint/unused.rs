//! Things defined and never used: a tier no rule, default, escalation or
//! `on_expression_error` ever chooses; a model (defined in the policy file itself) no tier
//! routes to; a declared tag no condition or expression reads.

use super::{find_in, finding, CheckName, Finding};
use crate::diag::Severity;
use crate::policy::{OnExpressionError, Policy};

/// `tier-unused` and `model-unused`.
pub(super) fn tiers_and_models(p: &Policy) -> Vec<Finding> {
    let mut out = Vec::new();
    let mut chosen = vec![false; p.tiers.len()];
    chosen[p.default_tier] = true;
    if let OnExpressionError::Tier(t) = p.on_expression_error {
        chosen[t] = true;
    }
    for r in &p.rules {
        chosen[r.tier] = true;
    }
    for g in &p.guards {
        if let Some(t) = g.escalate_to {
            chosen[t] = true;
        }
    }
    for (tier, used) in p.tiers.iter().zip(&chosen) {
        if !used {
            out.push(Finding::policy(
                finding(
                    CheckName::TierUnused,
                    Severity::Warning,
                    &tier.loc.source,
                    tier.loc.span.clone(),
                    format!(
                        "no rule, default, escalation or on_expression_error chooses the tier `{}`",
                        tier.name
                    ),
                )
                .with_help("route a rule to it, or remove it"),
            ));
        }
    }
    // Models from an included catalog are shared by many policies: only the policy's own
    // `[models.*]` tables are expected to be used here.
    let src = &p.sources[0];
    for (i, m) in p.models.iter().enumerate() {
        if p.tiers
            .iter()
            .any(|t| t.model == i || t.fallbacks.contains(&i))
        {
            continue;
        }
        let header = format!("[models.{}]", m.key);
        let quoted = format!("[models.\"{}\"]", m.key);
        let Some(span) = find_in(&src.text, 0..src.text.len(), &header)
            .or_else(|| find_in(&src.text, 0..src.text.len(), &quoted))
        else {
            continue;
        };
        out.push(Finding::policy(
            finding(
                CheckName::ModelUnused,
                Severity::Warning,
                src,
                span,
                format!("no tier routes to the model `{}`", m.key),
            )
            .with_help("map a tier to it in [tiers], or remove it (shared models belong in an included catalog)"),
        ));
    }
    out
}

/// `tag-unused`: a declared tag that no condition or expression reads.
pub(super) fn tags(p: &Policy, read_in_exprs: &[String]) -> Vec<Finding> {
    let conds = p
        .rules
        .iter()
        .map(|r| &r.when)
        .chain(p.guards.iter().map(|g| &g.when));
    let mut read: Vec<&str> = read_in_exprs.iter().map(String::as_str).collect();
    for c in conds {
        read.extend(c.tags.iter().map(|t| t.name.as_str()));
    }
    p.tags
        .iter()
        .filter(|d| !read.contains(&d.name.as_str()))
        .map(|d| {
            Finding::policy(
                finding(
                    CheckName::TagUnused,
                    Severity::Info,
                    &d.loc.source,
                    d.loc.span.clone(),
                    format!(
                        "no condition or expression reads the declared tag `{}`",
                        d.name
                    ),
                )
                .with_help("declaring a tag is harmless; remove it if no step carries it"),
            )
        })
        .collect()
}
