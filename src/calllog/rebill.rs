//! `switchyard rebill`: a call log's dollars recomputed at new prices, from a price catalog
//! (a file of `[models.*]` tables, like `policies/models.toml`). Token counts stay as
//! logged; each record's prices and cost are replaced. A model the catalog does not list
//! keeps its logged price and is reported, so a total never silently mixes in a zero.

use std::collections::HashMap;
use std::io::{self, BufRead, Write};
use std::path::Path;
use std::sync::Arc;

use serde::Serialize;

use super::log::{parse_record, LogReader, LogStats};
use super::report::usd;
use crate::diag::{Diagnostic, Source};
use crate::money::PicosPerToken;
use crate::policy::raw::RawFile;
use crate::policy::{load_policy_text, LoadError, Model};

/// Prices from a catalog file, by model key.
#[derive(Debug, Clone)]
pub struct Catalog {
    /// The models, in file order.
    pub models: Vec<Arc<Model>>,
}

impl Catalog {
    /// A model's prices in pico-dollars per token (input, output).
    pub fn prices(&self, key: &str) -> Option<(PicosPerToken, PicosPerToken)> {
        self.models.iter().find(|m| m.key == key).map(|m| {
            (
                PicosPerToken::from_usd_per_mtok(m.input_usd_per_mtok),
                PicosPerToken::from_usd_per_mtok(m.output_usd_per_mtok),
            )
        })
    }
}

/// Loads a price catalog: only `[models.*]` tables, checked exactly as a policy's include is
/// (unknown keys, prices, providers), with the same diagnostics.
pub fn load_catalog(path: &Path) -> Result<Catalog, LoadError> {
    let text = std::fs::read_to_string(path).map_err(|e| LoadError {
        diagnostics: vec![Diagnostic::file_error(
            "file-unreadable",
            path,
            format!("cannot read the price catalog: {e}"),
        )],
    })?;
    // The policy loader checks catalogs only as includes, so the catalog is included from a
    // one-tier policy written here; every problem is then reported in the catalog's own text.
    let first_model = toml::from_str::<RawFile>(&text).ok().and_then(|raw| {
        raw.models
            .keys()
            .min_by_key(|k| k.span().start)
            .map(|k| k.get_ref().clone())
    });
    let first_model = match first_model {
        Some(k) => k,
        None if toml::from_str::<RawFile>(&text).is_ok() => {
            let src = Source::new(path, text);
            return Err(LoadError {
                diagnostics: vec![Diagnostic::error(
                    "catalog-not-models-only",
                    &src,
                    0..0,
                    "this price catalog defines no models",
                )
                .with_help("a catalog holds [models.NAME] tables with input_usd_per_mtok and output_usd_per_mtok, like policies/models.toml")],
            });
        }
        // It does not parse: the include below reports the syntax error in place.
        None => "unparsed".to_owned(),
    };
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let dir = path.parent().unwrap_or(Path::new(""));
    let wrapper = format!(
        "[policy]\nname = \"price-catalog\"\ndefault_tier = \"t\"\ninclude = [{}]\n[tiers]\nt = {}\n",
        toml::Value::String(file_name),
        toml::Value::String(first_model),
    );
    let policy = load_policy_text(&dir.join("(price catalog)"), wrapper)?;
    Ok(Catalog {
        models: policy.models,
    })
}

/// What re-billing a log came to.
#[derive(Debug, Clone, Serialize)]
pub struct Rebill {
    /// Lines read, records, and every line skipped.
    pub lines: LogStats,
    /// Calls re-billed (records whose model the catalog lists).
    pub repriced: u64,
    /// Spend as logged, pico-dollars.
    pub old_picos: u128,
    /// Spend at the catalog's prices (a model the catalog lacks counts at its logged cost).
    pub new_picos: u128,
    /// `old_picos` in dollars, for people and dashboards.
    pub old_usd: f64,
    /// `new_picos` in dollars.
    pub new_usd: f64,
    /// By model key, in key order.
    pub models: Vec<ModelRebill>,
}

/// One model's calls, before and after.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ModelRebill {
    /// The model key as logged.
    pub model: String,
    /// Calls.
    pub calls: u64,
    /// Spend as logged.
    pub old_picos: u128,
    /// Spend at the new prices.
    pub new_picos: u128,
    /// The catalog's prices (input, output), pico-dollars per token; `None` when the catalog
    /// does not list the model and its calls kept their logged prices.
    pub new_prices: Option<(PicosPerToken, PicosPerToken)>,
}

/// Re-prices every record of a log. With `out`, writes the re-billed log: every line in
/// order, each record at its new price, and lines that are not records copied unchanged.
pub fn rebill(
    reader: impl BufRead,
    catalog: &Catalog,
    mut out: Option<&mut dyn Write>,
) -> io::Result<Rebill> {
    let mut lines = LogStats::default();
    let mut models: HashMap<String, ModelRebill> = HashMap::new();
    let (mut old_picos, mut new_picos, mut repriced) = (0u128, 0u128, 0u64);
    let mut log = LogReader::new(reader);
    while let Some((n, line)) = log.next_line()? {
        lines.lines = n;
        let mut record = match parse_record(line) {
            Ok(r) => r,
            Err(message) => {
                lines.skip(n, message);
                if let Some(w) = out.as_deref_mut() {
                    w.write_all(line)?;
                    w.write_all(b"\n")?;
                }
                continue;
            }
        };
        lines.good();
        let old = record.cost;
        let new_prices = catalog.prices(&record.model);
        if let Some((input, output)) = new_prices {
            record.price(input, output);
            repriced += 1;
        }
        old_picos += old.0 as u128;
        new_picos += record.cost.0 as u128;
        let m = models
            .entry(record.model.clone())
            .or_insert_with(|| ModelRebill {
                model: record.model.clone(),
                calls: 0,
                old_picos: 0,
                new_picos: 0,
                new_prices,
            });
        m.calls += 1;
        m.old_picos += old.0 as u128;
        m.new_picos += record.cost.0 as u128;
        if let Some(w) = out.as_deref_mut() {
            if new_prices.is_some() {
                serde_json::to_writer(&mut *w, &record)?;
            } else {
                w.write_all(line)?;
            }
            w.write_all(b"\n")?;
        }
    }
    let mut models: Vec<ModelRebill> = models.into_values().collect();
    models.sort_by(|a, b| a.model.cmp(&b.model));
    Ok(Rebill {
        lines,
        repriced,
        old_picos,
        new_picos,
        old_usd: usd(old_picos),
        new_usd: usd(new_picos),
        models,
    })
}
