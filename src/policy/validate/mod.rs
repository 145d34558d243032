//! Checking a raw policy and turning it into a [`Policy`]: names, references, ranges,
//! prices, conditions and tests. Every problem becomes a diagnostic at the exact value;
//! checking goes on after the first one so a user sees them all at once.
//!
//! [`policy`] runs the passes in order, each in its own file and each reading only what the
//! earlier ones built: `models` (the policy's and its includes'), `tiers`, the header's tier
//! references, `tags` (declarations), `budget`, `rules` (rules and guards, with their
//! `conditions`), then `policy_tests`.

mod budget;
mod conditions;
pub(super) mod models;
mod policy_tests;
mod rules;
mod tags;
mod tiers;

use std::ops::Range;
use std::path::PathBuf;
use std::sync::Arc;

use toml::Spanned;

use super::load::Broken;
use super::raw::{RawFile, RawHeader};
use super::{Loc, Model, OnExpressionError, Policy, Tier, Tokenizer};
use crate::diag::{Diagnostic, Source};
use crate::suggest::did_you_mean;

/// What the passes after `models` and `tiers` resolve names against.
struct Known<'a> {
    /// The checked models, in file order.
    models: &'a [Arc<Model>],
    /// The checked tiers, in file order.
    tiers: &'a [Tier],
    /// Every tier name written, checked or not (naming a broken tier is not a second error).
    tier_names: &'a [String],
}

/// Checks a parsed policy file (and its parsed includes) and builds the [`Policy`].
pub(super) fn policy(
    mut raw: RawFile,
    src: &Arc<Source>,
    includes: Vec<(Arc<Source>, RawFile)>,
    version: String,
    path: PathBuf,
    broken: &Broken,
) -> Result<Policy, Vec<Diagnostic>> {
    let mut cx = Cx {
        src: src.clone(),
        diags: Vec::new(),
    };
    let header_spanned = raw.policy.take().expect("caller checks for [policy]");
    let header_span = header_spanned.span();
    let header = header_spanned.into_inner();
    let name = policy_name(&mut cx, &header);

    let models::Models {
        models,
        model_locs,
        sources,
    } = models::check(&mut cx, src, std::mem::take(&mut raw.models), includes);
    let (tiers, tier_names) = tiers::check(
        &mut cx,
        raw.tiers.as_ref(),
        header_span,
        &models,
        &model_locs,
        broken,
    );
    let default_tier = cx.tier_ref(&tiers, &tier_names, &header.default_tier, "default_tier");

    let on_expression_error = match &header.on_expression_error {
        None => OnExpressionError::Skip,
        Some(v) if v.get_ref() == "skip" => OnExpressionError::Skip,
        Some(v) => cx
            .tier_ref(&tiers, &tier_names, v, "on_expression_error")
            .map(OnExpressionError::Tier)
            .unwrap_or(OnExpressionError::Skip),
    };

    let tokenizer = header
        .tokenizer
        .as_ref()
        .and_then(|t| cx.tokenizer(t))
        .unwrap_or_default();
    let tags = tags::check(&mut cx, raw.tags.as_ref());
    let budget = raw.budget.as_ref().map(|b| cx.budget(b.get_ref()));

    let known = Known {
        models: &models,
        tiers: &tiers,
        tier_names: &tier_names,
    };
    let (rules, rule_index) = rules::check_rules(&mut cx, &raw.rules, &known);
    let guards = rules::check_guards(&mut cx, &raw.guards, &known);
    let tests = policy_tests::check(&mut cx, &raw, &known, &rules, &rule_index, broken);

    // No tier without a diagnostic here means it names a tier dropped for its shape, which
    // the caller reports.
    if !cx.diags.is_empty() || default_tier.is_none() {
        return Err(cx.diags);
    }
    let policy = Policy {
        name,
        description: header.description,
        default_tier: default_tier.expect("no diagnostics, so the tier resolved"),
        on_expression_error,
        tokenizer,
        models,
        tiers,
        rules,
        guards,
        tests,
        tags,
        budget,
        version,
        path,
        sources,
        allow: allow_list(header.allow.as_ref()),
    };
    Ok(policy)
}

/// An `allow` list's names (whether each names a known finding is lint's to check).
fn allow_list(v: Option<&Vec<Spanned<String>>>) -> Vec<String> {
    v.map(|v| v.iter().map(|s| s.get_ref().clone()).collect())
        .unwrap_or_default()
}

/// The file being checked and the problems found so far.
struct Cx {
    src: Arc<Source>,
    diags: Vec<Diagnostic>,
}

fn known_help<'a>(hint: Option<&str>, what: &str, all: impl Iterator<Item = &'a str>) -> String {
    match hint {
        Some(h) => format!("did you mean `{h}`?"),
        None => {
            let all: Vec<&str> = all.collect();
            if all.is_empty() {
                format!("there are no {what}")
            } else {
                format!("the {what} are: {}", all.join(", "))
            }
        }
    }
}

impl Cx {
    fn loc(&self, span: Range<usize>) -> Loc {
        Loc {
            source: self.src.clone(),
            span,
        }
    }

    fn err(&mut self, name: &'static str, span: Range<usize>, msg: impl Into<String>) {
        self.diags
            .push(Diagnostic::error(name, &self.src, span, msg));
    }

    fn err_help(
        &mut self,
        name: &'static str,
        span: Range<usize>,
        msg: impl Into<String>,
        help: impl Into<String>,
    ) {
        self.diags
            .push(Diagnostic::error(name, &self.src, span, msg).with_help(help));
    }

    fn tier_ref(
        &mut self,
        tiers: &[Tier],
        all_names: &[String],
        v: &Spanned<String>,
        key: &str,
    ) -> Option<usize> {
        if let Some(i) = tiers.iter().position(|t| &t.name == v.get_ref()) {
            return Some(i);
        }
        // A tier that exists but failed its own check was already reported.
        if all_names.contains(v.get_ref()) {
            return None;
        }
        let hint = did_you_mean(v.get_ref(), all_names.iter().map(|s| s.as_str()));
        let extra = if key == "on_expression_error" {
            " (or \"skip\")"
        } else {
            ""
        };
        self.err_help(
            "unknown-tier",
            v.span(),
            format!(
                "`{key}` names the tier `{}`, which is not defined{extra}",
                v.get_ref()
            ),
            known_help(hint, "tiers", all_names.iter().map(|s| s.as_str())),
        );
        None
    }
    fn tokenizer(&mut self, t: &Spanned<String>) -> Option<Tokenizer> {
        let found = Tokenizer::from_name(t.get_ref());
        if found.is_none() {
            let hint = did_you_mean(t.get_ref(), Tokenizer::NAMES.iter().copied());
            self.err_help(
                "invalid-value",
                t.span(),
                format!("unknown tokenizer `{}`", t.get_ref()),
                known_help(hint, "tokenizers", Tokenizer::NAMES.iter().copied()),
            );
        }
        found
    }
}

/// `[policy].name`: a-z, 0-9, `-` and `_`.
fn policy_name(cx: &mut Cx, header: &RawHeader) -> String {
    let name = header.name.get_ref().clone();
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
    {
        cx.err(
            "invalid-name",
            header.name.span(),
            format!("the policy name `{name}` may hold only a-z, 0-9, `-` and `_`"),
        );
    }
    name
}
