//! The models pass: the policy's own `[models]`, then each include's, each in file order;
//! a key defined twice is an error at the second definition.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use toml::Spanned;

use super::{known_help, Cx};
use crate::diag::{Diagnostic, Source};
use crate::policy::raw::{RawFile, RawModel};
use crate::policy::{Loc, Model, Provider};
use crate::suggest::did_you_mean;

/// The checked models, where each key was first defined, and the files they came from.
pub(super) struct Models {
    pub(super) models: Vec<Arc<Model>>,
    pub(super) model_locs: HashMap<String, Loc>,
    /// The policy file first, then each include, in include order.
    pub(super) sources: Vec<Arc<Source>>,
}

/// Checks the policy's models (`own`) and its includes'.
pub(super) fn check(
    cx: &mut Cx,
    src: &Arc<Source>,
    own: BTreeMap<Spanned<String>, Spanned<RawModel>>,
    includes: Vec<(Arc<Source>, RawFile)>,
) -> Models {
    let mut models: Vec<Arc<Model>> = Vec::new();
    let mut model_locs: HashMap<String, Loc> = HashMap::new();
    let mut sources = vec![src.clone()];
    let mut model_groups = vec![(src.clone(), own)];
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
    Models {
        models,
        model_locs,
        sources,
    }
}

/// Checks the `[models]` of a price catalog file on its own, as a policy's and its includes'
/// are checked (the same diagnostics), and builds them in file order.
pub(in crate::policy) fn catalog(
    src: &Arc<Source>,
    group: BTreeMap<Spanned<String>, Spanned<RawModel>>,
) -> Result<Vec<Arc<Model>>, Vec<Diagnostic>> {
    let mut cx = Cx {
        src: src.clone(),
        diags: Vec::new(),
    };
    let mut entries: Vec<_> = group.into_iter().collect();
    entries.sort_by_key(|(k, _)| k.span().start);
    let mut models: Vec<Arc<Model>> = Vec::new();
    for (key, model) in entries {
        // A TOML table cannot repeat a key, so a catalog alone has no duplicate models.
        if let Some(m) = cx.model(key.get_ref(), model.into_inner()) {
            models.push(Arc::new(m));
        }
    }
    if cx.diags.is_empty() {
        Ok(models)
    } else {
        Err(cx.diags)
    }
}

impl Cx {
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
        let optional_prices = [&m.cached_input_usd_per_mtok, &m.cache_write_usd_per_mtok];
        for price in [&m.input_usd_per_mtok, &m.output_usd_per_mtok]
            .into_iter()
            .chain(optional_prices.into_iter().flatten())
        {
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
            if !crate::diag::looks_like_env_name(e) {
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
        let max_retries = match &m.max_retries {
            Some(r) if !(0..=u32::MAX as i64).contains(r.get_ref()) => {
                self.err_help(
                    "invalid-value",
                    r.span(),
                    format!(
                        "`max_retries` must be a whole number >= 0, found {}",
                        r.get_ref()
                    ),
                    "the number of tries after the first, e.g. 2",
                );
                None
            }
            r => r.as_ref().map(|r| *r.get_ref() as u32),
        };
        if let Some(t) = &m.timeout_seconds {
            let v = *t.get_ref();
            if !v.is_finite() || v <= 0.0 {
                self.err_help(
                    "invalid-value",
                    t.span(),
                    format!("`timeout_seconds` must be a finite number > 0, found {v}"),
                    "the whole call's time limit in seconds, e.g. 600",
                );
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
            max_retries,
            timeout_seconds: m.timeout_seconds.map(|t| *t.get_ref()),
            cached_input_usd_per_mtok: m.cached_input_usd_per_mtok.map(|p| *p.get_ref()),
            cache_write_usd_per_mtok: m.cache_write_usd_per_mtok.map(|p| *p.get_ref()),
        })
    }
}
