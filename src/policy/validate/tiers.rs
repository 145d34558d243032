//! The tiers pass: `[tiers]` in file order, each naming a checked model.

use std::collections::{BTreeMap, HashMap};
use std::ops::Range;
use std::sync::Arc;

use toml::Spanned;

use super::{known_help, Cx};
use crate::diag::Diagnostic;
use crate::policy::load::Broken;
use crate::policy::raw::RawTierModels;
use crate::policy::{Loc, Model, Tier};
use crate::suggest::did_you_mean;

/// The `[tiers]` table as parsed.
type RawTiers = Spanned<BTreeMap<Spanned<String>, Spanned<RawTierModels>>>;

/// Checks `[tiers]`; returns the tiers and every tier name written (checked or not).
pub(super) fn check(
    cx: &mut Cx,
    raw_tiers: Option<&RawTiers>,
    header_span: Range<usize>,
    models: &[Arc<Model>],
    model_locs: &HashMap<String, Loc>,
    broken: &Broken,
) -> (Vec<Tier>, Vec<String>) {
    let mut tiers: Vec<Tier> = Vec::new();
    match raw_tiers {
        None => cx.err_help(
            "no-tiers",
            header_span,
            "the policy defines no tiers",
            "add a [tiers] table mapping tier names to model keys, e.g. cheap = \"muse-spark\"",
        ),
        Some(t) if t.get_ref().is_empty() => cx.err_help(
            "no-tiers",
            t.span(),
            "the [tiers] table is empty",
            "map at least one tier name to a model key, e.g. cheap = \"muse-spark\"",
        ),
        Some(t) => {
            let mut entries: Vec<_> = t.get_ref().iter().collect();
            entries.sort_by_key(|(k, _)| k.span().start);
            for (tname, value) in entries {
                let keys = value.get_ref().keys(value.span());
                if keys.is_empty() {
                    cx.err_help(
                        "invalid-value",
                        value.span(),
                        format!("the tier `{}` names no model", tname.get_ref()),
                        "give a model key, or a list of them: the tier's model first, then its fallbacks",
                    );
                    continue;
                }
                let mut found: Vec<usize> = Vec::new();
                let mut complete = true;
                for (key, span) in keys {
                    match models.iter().position(|m| m.key == key) {
                        Some(i) if found.contains(&i) => {
                            cx.err(
                                "invalid-value",
                                span,
                                format!(
                                    "the tier `{}` names the model `{key}` twice",
                                    tname.get_ref()
                                ),
                            );
                            complete = false;
                        }
                        Some(i) => found.push(i),
                        // Defined, but its own checks failed: that is already reported.
                        None if model_locs.contains_key(key)
                            || broken.models.iter().any(|b| b == key) =>
                        {
                            complete = false;
                        }
                        None => {
                            complete = false;
                            let hint = did_you_mean(key, models.iter().map(|m| m.key.as_str()));
                            cx.diags.push(
                                Diagnostic::error(
                                    "unknown-model",
                                    &cx.src,
                                    span,
                                    format!(
                                        "the tier `{}` names the model `{key}`, which is not defined",
                                        tname.get_ref(),
                                    ),
                                )
                                .with_help(known_help(
                                    hint,
                                    "models",
                                    models.iter().map(|m| m.key.as_str()),
                                )),
                            );
                        }
                    }
                }
                if complete {
                    tiers.push(Tier {
                        name: tname.get_ref().clone(),
                        model: found[0],
                        fallbacks: found[1..].to_vec(),
                        loc: cx.loc(tname.span()),
                    });
                }
            }
        }
    }
    let mut tier_names: Vec<String> = raw_tiers
        .map(|t| t.get_ref().keys().map(|k| k.get_ref().clone()).collect())
        .unwrap_or_default();
    // A tier dropped for its shape is reported already; naming it is not a second error.
    tier_names.extend(broken.tiers.iter().cloned());
    (tiers, tier_names)
}
