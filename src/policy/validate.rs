//! Checking a raw policy and turning it into a [`Policy`]: names, references, ranges,
//! prices, conditions and tests. Every problem becomes a diagnostic at the exact value;
//! checking goes on after the first one so a user sees them all at once.

use std::collections::HashMap;
use std::ops::Range;
use std::path::PathBuf;
use std::sync::Arc;

use toml::Spanned;

use super::load::Broken;
use super::raw::{RawBudget, RawFile, RawIntRange, RawModel, RawWhen};
use super::{
    Budget, Condition, Expr, Guard, IntRange, Loc, Model, NumBound, NumRange, OnExceed,
    OnExpressionError, Policy, PolicyTest, Provider, Rule, TagCondition, TagDecl, TagKind, TagTest,
    Tier, Tokenizer,
};
use crate::diag::{Diagnostic, Source};
use crate::step::{Step, TagValue};
use crate::suggest::did_you_mean;

/// Checks a parsed policy file (and its parsed includes) and builds the [`Policy`].
pub(super) fn policy(
    raw: RawFile,
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
    let header_spanned = raw.policy.expect("caller checks for [policy]");
    let header_span = header_spanned.span();
    let header = header_spanned.into_inner();

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

    // Models: the policy's own, then each include's, each in file order.
    let mut models: Vec<Arc<Model>> = Vec::new();
    let mut model_locs: HashMap<String, Loc> = HashMap::new();
    let mut sources = vec![src.clone()];
    let mut model_groups = vec![(src.clone(), raw.models)];
    for (inc_src, inc_raw) in includes {
        sources.push(inc_src.clone());
        model_groups.push((inc_src, inc_raw.models));
    }
    for (msrc, group) in model_groups {
        let mut entries: Vec<_> = group.into_iter().collect();
        entries.sort_by_key(|(k, _)| k.span().start);
        let mut mcx = Cx {
            src: msrc.clone(),
            diags: Vec::new(),
        };
        for (key, model) in entries {
            let loc = Loc {
                source: msrc.clone(),
                span: key.span(),
            };
            if let Some(first) = model_locs.get(key.get_ref()) {
                mcx.diags.push(
                    Diagnostic::error(
                        "duplicate-model",
                        &msrc,
                        key.span(),
                        format!("the model `{}` is defined twice", key.get_ref()),
                    )
                    .with_help(format!("it is first defined at {}", first.display())),
                );
                continue;
            }
            model_locs.insert(key.get_ref().clone(), loc);
            if let Some(m) = mcx.model(key.get_ref(), model.into_inner()) {
                models.push(Arc::new(m));
            }
        }
        cx.diags.extend(mcx.diags);
    }

    // Tiers, in file order.
    let mut tiers: Vec<Tier> = Vec::new();
    match &raw.tiers {
        None => cx.err_help(
            "no-tiers",
            header_span.clone(),
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
            for (tname, model_key) in entries {
                match models.iter().position(|m| &m.key == model_key.get_ref()) {
                    Some(model) => tiers.push(Tier {
                        name: tname.get_ref().clone(),
                        model,
                        loc: cx.loc(tname.span()),
                    }),
                    // Defined, but its own checks failed: that is already reported.
                    None if model_locs.contains_key(model_key.get_ref())
                        || broken.models.contains(model_key.get_ref()) => {}
                    None => {
                        let hint = did_you_mean(
                            model_key.get_ref(),
                            models.iter().map(|m| m.key.as_str()),
                        );
                        cx.diags.push(
                            Diagnostic::error(
                                "unknown-model",
                                &cx.src,
                                model_key.span(),
                                format!(
                                    "the tier `{}` names the model `{}`, which is not defined",
                                    tname.get_ref(),
                                    model_key.get_ref()
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
        }
    }
    let mut tier_names: Vec<String> = raw
        .tiers
        .as_ref()
        .map(|t| t.get_ref().keys().map(|k| k.get_ref().clone()).collect())
        .unwrap_or_default();
    // A tier dropped for its shape is reported already; naming it is not a second error.
    tier_names.extend(broken.tiers.iter().cloned());

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

    // Tag declarations.
    let mut tags = Vec::new();
    if let Some(decls) = &raw.tags {
        let mut entries: Vec<_> = decls.get_ref().iter().collect();
        entries.sort_by_key(|(k, _)| k.span().start);
        for (tname, decl) in entries {
            let decl = decl.get_ref();
            let kind = match decl.kind.get_ref().as_str() {
                "string" => TagKind::Str,
                "number" => TagKind::Num,
                "bool" => TagKind::Bool,
                other => {
                    cx.err_help(
                        "invalid-value",
                        decl.kind.span(),
                        format!("unknown tag type `{other}`"),
                        "a tag's type is \"string\", \"number\" or \"bool\"",
                    );
                    continue;
                }
            };
            let mut values = Vec::new();
            for v in decl.values.iter().flatten() {
                match (kind, v.get_ref()) {
                    (TagKind::Str, toml::Value::String(s)) => values.push(TagValue::Str(s.clone())),
                    _ => cx.err(
                        "invalid-value",
                        v.span(),
                        "`values` lists the allowed values of a string tag, as strings",
                    ),
                }
            }
            tags.push(TagDecl {
                name: tname.get_ref().clone(),
                kind,
                values,
                loc: cx.loc(tname.span()),
            });
        }
    }

    let budget = raw.budget.as_ref().map(|b| cx.budget(b.get_ref()));

    // Rules.
    let mut rules: Vec<Rule> = Vec::new();
    for r in &raw.rules {
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
        if let Some(first) = rules.iter().find(|x| &x.name == rname) {
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
        let tier = cx.tier_ref(&tiers, &tier_names, &r.tier, "tier");
        if let (Some(when), Some(tier)) = (when, tier) {
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

    // Guards.
    let mut guards: Vec<Guard> = Vec::new();
    for g in &raw.guards {
        let g = g.get_ref();
        let gname = g.name.get_ref();
        if gname.trim().is_empty() {
            cx.err(
                "invalid-name",
                g.name.span(),
                "a guard needs a non-empty name",
            );
        }
        if let Some(first) = guards.iter().find(|x| &x.name == gname) {
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
            Some(t) => cx.tier_ref(&tiers, &tier_names, t, "escalate_to").map(Some),
        };
        let require: Vec<String> = g
            .require
            .get_ref()
            .iter()
            .map(|s| s.get_ref().clone())
            .collect();
        if let (Some(when), Some(escalate_to)) = (when, escalate_to) {
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

    // Tests.
    let mut tests: Vec<PolicyTest> = Vec::new();
    for t in &raw.tests {
        let t = t.get_ref();
        let tname = t.name.get_ref();
        if tests.iter().any(|x| &x.name == tname) {
            cx.err(
                "duplicate-test",
                t.name.span(),
                format!("a test named `{tname}` already exists"),
            );
        }
        let step = match toml_to_json(t.step.get_ref())
            .and_then(|v| Step::from_value(&v).map_err(|e| e.message))
        {
            Ok(s) => Some(s),
            Err(msg) => {
                cx.err(
                    "invalid-test-step",
                    t.step.span(),
                    format!("this test's step is not valid: {msg}"),
                );
                None
            }
        };
        let expect_tier = t
            .expect_tier
            .as_ref()
            .map(|v| cx.tier_ref(&tiers, &tier_names, v, "expect_tier"));
        let expect_rule = match &t.expect_rule {
            None => Some(None),
            Some(v) if v.get_ref() == "default" => Some(Some(None)),
            Some(v) => match rules.iter().position(|r| &r.name == v.get_ref()) {
                Some(i) => Some(Some(Some(i))),
                // The rule exists but failed its own checks: that is already reported.
                None if broken.rules.contains(v.get_ref())
                    || raw
                        .rules
                        .iter()
                        .any(|r| r.get_ref().name.get_ref() == v.get_ref()) =>
                {
                    None
                }
                None => {
                    let hint = did_you_mean(v.get_ref(), rules.iter().map(|r| r.name.as_str()));
                    cx.err_help(
                        "unknown-rule",
                        v.span(),
                        format!("no rule is named `{}`", v.get_ref()),
                        known_help(
                            hint,
                            "rules (or \"default\")",
                            rules.iter().map(|r| r.name.as_str()),
                        ),
                    );
                    None
                }
            },
        };
        if let Some(m) = &t.expect_model {
            if !models.iter().any(|x| &x.key == m.get_ref()) {
                cx.err(
                    "unknown-model",
                    m.span(),
                    format!("no model is named `{}`", m.get_ref()),
                );
            }
        }
        if let Some(v) = &t.expect_via {
            if !["rule", "default", "guard", "expression_error"].contains(&v.get_ref().as_str()) {
                cx.err_help(
                    "invalid-value",
                    v.span(),
                    format!("`{}` is not a way a decision is made", v.get_ref()),
                    "expect_via is one of \"rule\", \"default\", \"guard\", \"expression_error\"",
                );
            }
        }
        if let Some(g) = &t.expect_guard {
            let defined = broken.guards.contains(g.get_ref())
                || raw
                    .guards
                    .iter()
                    .any(|x| x.get_ref().name.get_ref() == g.get_ref());
            if !defined {
                cx.err(
                    "unknown-guard",
                    g.span(),
                    format!("no guard is named `{}`", g.get_ref()),
                );
            }
        }
        if let (Some(step), Some(expect_rule)) = (step, expect_rule) {
            tests.push(PolicyTest {
                name: tname.clone(),
                step,
                expect_tier: expect_tier.flatten(),
                expect_rule,
                expect_model: t.expect_model.as_ref().map(|m| m.get_ref().clone()),
                expect_via: t.expect_via.as_ref().map(|m| m.get_ref().clone()),
                expect_guard: t.expect_guard.as_ref().map(|m| m.get_ref().clone()),
                expect_rejected: t.expect_rejected.as_ref().map(|m| *m.get_ref()),
                loc: cx.loc(t.name.span()),
            });
        }
    }

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
    // Lint's errors in expressions (unknown fields and functions, type mismatches) always
    // fail at run time: a policy holding one does not load.
    let lint_errors = crate::compile::check::load_errors(&policy);
    if !lint_errors.is_empty() {
        return Err(lint_errors);
    }
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

    /// `[budget]`: each cap a finite amount >= 0, `on_exceed` one of its two words.
    fn budget(&mut self, b: &RawBudget) -> Budget {
        let mut cap = |v: &Option<Spanned<f64>>, key: &str| {
            let v = v.as_ref()?;
            let usd = *v.get_ref();
            if !usd.is_finite() || usd < 0.0 {
                self.err_help(
                    "invalid-value",
                    v.span(),
                    format!("`{key}` must be a finite amount of USD, 0 or more; found {usd}"),
                    format!("e.g. {key} = 2.5"),
                );
                return None;
            }
            Some(crate::money::usd_to_picos(usd))
        };
        let per_trace = cap(&b.per_trace_usd, "per_trace_usd");
        let per_workload_day = cap(&b.per_workload_day_usd, "per_workload_day_usd");
        let per_call = cap(&b.per_call_usd, "per_call_usd");
        let on_exceed = match &b.on_exceed {
            None => OnExceed::Reject,
            Some(v) if v.get_ref() == "reject" => OnExceed::Reject,
            Some(v) if v.get_ref() == "downgrade" => OnExceed::Downgrade,
            Some(v) => {
                let hint = did_you_mean(v.get_ref(), OnExceed::NAMES.iter().copied());
                self.err_help(
                    "invalid-value",
                    v.span(),
                    format!("`on_exceed` cannot be `{}`", v.get_ref()),
                    known_help(hint, "choices", OnExceed::NAMES.iter().copied()),
                );
                OnExceed::Reject
            }
        };
        Budget {
            per_trace,
            per_workload_day,
            per_call,
            on_exceed,
        }
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

    fn model(&mut self, key: &str, m: RawModel) -> Option<Model> {
        let before = self.diags.len();
        let provider = Provider::from_name(m.provider.get_ref());
        if provider.is_none() {
            let hint = did_you_mean(m.provider.get_ref(), Provider::NAMES.iter().copied());
            self.err_help(
                "invalid-value",
                m.provider.span(),
                format!("unknown provider `{}`", m.provider.get_ref()),
                known_help(hint, "providers", Provider::NAMES.iter().copied()),
            );
        }
        for price in [&m.input_usd_per_mtok, &m.output_usd_per_mtok] {
            let p = *price.get_ref();
            if !p.is_finite() || p < 0.0 {
                self.err_help(
                    "invalid-price",
                    price.span(),
                    format!("a price must be a finite number >= 0, found {p}"),
                    "prices are US dollars per million tokens, e.g. 15.0",
                );
            }
        }
        let mut positive = |v: &Option<Spanned<i64>>, what: &str| -> Option<u64> {
            let v = v.as_ref()?;
            if *v.get_ref() <= 0 {
                self.err(
                    "invalid-value",
                    v.span(),
                    format!("`{what}` must be a positive number of tokens"),
                );
                return None;
            }
            Some(*v.get_ref() as u64)
        };
        let context_window = positive(&m.context_window, "context_window");
        let max_output_tokens = positive(&m.max_output_tokens, "max_output_tokens");
        if let Some(env) = &m.api_key_env {
            let e = env.get_ref();
            let looks_like_name = !e.is_empty()
                && e.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                && !e.starts_with(|c: char| c.is_ascii_digit());
            if !looks_like_name {
                // This may be a real key: say where it is, but never echo the line.
                let (line, col) = self.src.line_col(env.span().start);
                let mut d = Diagnostic::file_error(
                    "invalid-value",
                    &self.src.path,
                    format!("line {line}, column {col}: `api_key_env` names an environment variable (such as MUSE_API_KEY), never the key itself"),
                );
                d.help = Some("put the key in that variable's value, outside the policy file (and rotate it if it was a real key)".into());
                self.diags.push(d);
            }
        }
        let tokenizer = m.tokenizer.as_ref().and_then(|t| self.tokenizer(t));
        if self.diags.len() > before {
            return None;
        }
        Some(Model {
            key: key.to_string(),
            provider: provider?,
            model_id: m.model_id.unwrap_or_else(|| key.to_string()),
            base_url: m.base_url,
            api_key_env: m.api_key_env.map(|s| s.into_inner()),
            input_usd_per_mtok: *m.input_usd_per_mtok.get_ref(),
            output_usd_per_mtok: *m.output_usd_per_mtok.get_ref(),
            context_window,
            max_output_tokens,
            tokenizer,
            capabilities: m
                .capabilities
                .unwrap_or_default()
                .into_iter()
                .map(|c| c.into_inner())
                .collect(),
        })
    }

    fn int_range(&mut self, r: &Spanned<RawIntRange>, field: &str) -> Option<IntRange> {
        let raw = r.get_ref();
        let mut lo: u64 = 0;
        let mut hi: u64 = u64::MAX;
        let mut empty = false;
        if let Some(v) = &raw.gt {
            let v = *v.get_ref();
            if v >= 0 {
                lo = lo.max(v as u64 + 1);
            }
        }
        if let Some(v) = &raw.ge {
            let v = *v.get_ref();
            if v > 0 {
                lo = lo.max(v as u64);
            }
        }
        if let Some(v) = &raw.lt {
            let v = *v.get_ref();
            if v <= 0 {
                empty = true;
            } else {
                hi = hi.min(v as u64 - 1);
            }
        }
        if let Some(v) = &raw.le {
            let v = *v.get_ref();
            if v < 0 {
                empty = true;
            } else {
                hi = hi.min(v as u64);
            }
        }
        if empty || lo > hi {
            self.err_help(
                "empty-range",
                r.span(),
                format!("this range matches no value of `{field}`"),
                format!(
                    "`{field}` is a count >= 0; check that the lower bound is below the upper one"
                ),
            );
            return None;
        }
        let strict_lo = raw
            .gt
            .as_ref()
            .is_some_and(|v| *v.get_ref() >= 0 && *v.get_ref() as u64 + 1 == lo);
        let strict_hi = raw
            .lt
            .as_ref()
            .is_some_and(|v| *v.get_ref() > 0 && *v.get_ref() as u64 - 1 == hi);
        Some(IntRange {
            lo,
            hi,
            strict_lo,
            strict_hi,
        })
    }

    fn condition(&mut self, when: Option<&Spanned<RawWhen>>) -> Option<Condition> {
        let Some(when) = when else {
            return Some(Condition::default());
        };
        let before = self.diags.len();
        let w = when.get_ref();
        let mut c = Condition::default();
        if let Some(role) = &w.role {
            let roles: Option<Vec<String>> = match role.get_ref() {
                toml::Value::String(s) if !s.is_empty() => Some(vec![s.clone()]),
                toml::Value::Array(items) if !items.is_empty() => items
                    .iter()
                    .map(|i| match i {
                        toml::Value::String(s) if !s.is_empty() => Some(s.clone()),
                        _ => None,
                    })
                    .collect(),
                _ => None,
            };
            if roles.is_none() {
                self.err_help(
                    "invalid-condition",
                    role.span(),
                    "`role` is a role name or a non-empty list of role names",
                    "e.g. role = \"format\" or role = [\"format\", \"extract\"]",
                );
            }
            c.roles = roles;
        }
        if let Some(r) = &w.input_tokens {
            c.input_tokens = self.int_range(r, "input_tokens");
        }
        if let Some(r) = &w.dependent_tool_calls {
            c.dependent_tool_calls = self.int_range(r, "dependent_tool_calls");
        }
        c.needs_chain_of_thought = w.needs_chain_of_thought.as_ref().map(|b| *b.get_ref());
        c.output_must_be_json = w.output_must_be_json.as_ref().map(|b| *b.get_ref());
        c.untrusted_input = w.untrusted_input.as_ref().map(|b| *b.get_ref());
        if let Some(tags) = &w.tags {
            let mut entries: Vec<_> = tags.iter().collect();
            entries.sort_by_key(|(k, _)| k.span().start);
            for (name, v) in entries {
                if let Some(test) = self.tag_test(v) {
                    c.tags.push(TagCondition {
                        name: name.get_ref().clone(),
                        test,
                    });
                }
            }
        }
        if let Some(e) = &w.expr {
            if e.get_ref().trim().is_empty() {
                self.err("expr-syntax", e.span(), "the expression is empty");
            }
            c.expr = Some(Expr {
                text: e.get_ref().clone(),
                loc: self.loc(e.span()),
            });
        }
        (self.diags.len() == before).then_some(c)
    }

    fn tag_test(&mut self, v: &Spanned<toml::Value>) -> Option<TagTest> {
        const HELP: &str = "a tag condition is a value (\"EU\", 3, true), a list of values, or a range { gt, ge, lt, le }";
        let scalar = |x: &toml::Value| -> Option<TagValue> {
            match x {
                toml::Value::String(s) => Some(TagValue::Str(s.clone())),
                toml::Value::Integer(i) => Some(TagValue::Num(*i as f64)),
                toml::Value::Float(f) if f.is_finite() => Some(TagValue::Num(*f)),
                toml::Value::Boolean(b) => Some(TagValue::Bool(*b)),
                _ => None,
            }
        };
        match v.get_ref() {
            toml::Value::Array(items) if !items.is_empty() => {
                let vals: Option<Vec<TagValue>> = items.iter().map(scalar).collect();
                if vals.is_none() {
                    self.err_help(
                        "invalid-condition",
                        v.span(),
                        "a tag's list holds only strings, numbers and bools",
                        HELP,
                    );
                }
                vals.map(TagTest::OneOf)
            }
            toml::Value::Table(t) => {
                let mut range = NumRange::default();
                let mut ok = !t.is_empty();
                for (k, x) in t {
                    let num = match x {
                        toml::Value::Integer(i) => Some(*i as f64),
                        toml::Value::Float(f) if f.is_finite() => Some(*f),
                        _ => None,
                    };
                    let Some(num) = num else {
                        ok = false;
                        continue;
                    };
                    match k.as_str() {
                        "gt" | "ge" => {
                            let b = NumBound {
                                value: num,
                                inclusive: k == "ge",
                            };
                            range.lower = Some(match range.lower {
                                Some(old) if tighter_lower(old, b) => old,
                                _ => b,
                            });
                        }
                        "lt" | "le" => {
                            let b = NumBound {
                                value: num,
                                inclusive: k == "le",
                            };
                            range.upper = Some(match range.upper {
                                Some(old) if tighter_upper(old, b) => old,
                                _ => b,
                            });
                        }
                        other => {
                            let hint = did_you_mean(other, ["gt", "ge", "lt", "le"]);
                            self.err_help(
                                "unknown-key",
                                v.span(),
                                format!("unknown key `{other}` in a tag range"),
                                known_help(
                                    hint,
                                    "range keys",
                                    ["gt", "ge", "lt", "le"].into_iter(),
                                ),
                            );
                            return None;
                        }
                    }
                }
                if !ok {
                    self.err_help(
                        "invalid-condition",
                        v.span(),
                        "a tag range needs numeric bounds",
                        HELP,
                    );
                    return None;
                }
                if let (Some(lo), Some(hi)) = (range.lower, range.upper) {
                    if lo.value > hi.value
                        || (lo.value == hi.value && !(lo.inclusive && hi.inclusive))
                    {
                        self.err("empty-range", v.span(), "this tag range matches no value");
                        return None;
                    }
                }
                Some(TagTest::Range(range))
            }
            other => match scalar(other) {
                Some(s) => Some(TagTest::OneOf(vec![s])),
                None => {
                    self.err_help(
                        "invalid-condition",
                        v.span(),
                        "this is not a tag condition",
                        HELP,
                    );
                    None
                }
            },
        }
    }
}

fn tighter_lower(old: NumBound, new: NumBound) -> bool {
    old.value > new.value || (old.value == new.value && !old.inclusive)
}

fn tighter_upper(old: NumBound, new: NumBound) -> bool {
    old.value < new.value || (old.value == new.value && !old.inclusive)
}

/// A test's inline step table as JSON, for the step parser.
fn toml_to_json(v: &toml::Value) -> Result<serde_json::Value, String> {
    use serde_json::Value as J;
    Ok(match v {
        toml::Value::String(s) => J::String(s.clone()),
        toml::Value::Integer(i) => J::from(*i),
        toml::Value::Float(f) => serde_json::Number::from_f64(*f)
            .map(J::Number)
            .ok_or_else(|| format!("the number {f} is not finite"))?,
        toml::Value::Boolean(b) => J::Bool(*b),
        toml::Value::Datetime(d) => return Err(format!("a date ({d}) is not a step value")),
        toml::Value::Array(a) => J::Array(a.iter().map(toml_to_json).collect::<Result<_, _>>()?),
        toml::Value::Table(t) => J::Object(
            t.iter()
                .map(|(k, v)| Ok((k.clone(), toml_to_json(v)?)))
                .collect::<Result<_, String>>()?,
        ),
    })
}
