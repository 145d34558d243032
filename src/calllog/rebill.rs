//! `switchyard rebill`: a call log's dollars recomputed at new prices, from a price catalog
//! (a file of `[models.*]` tables, like `policies/models.toml`, loaded by [`load_catalog`]).
//! Token counts stay as logged; each record's prices and cost are replaced. A model the
//! catalog does not list keeps its logged price and is reported, so a total never silently
//! mixes in a zero.

use std::collections::HashMap;
use std::io::{self, BufRead, Write};

use serde::Serialize;

use super::read::{parse_record, LogReader, LogStats};
use super::report::usd;
use crate::money::PicosPerToken;
pub use crate::policy::{load_catalog, Catalog};

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
    mut log: LogReader<impl BufRead>,
    catalog: &Catalog,
    mut out: Option<&mut dyn Write>,
) -> io::Result<Rebill> {
    let mut lines = LogStats::default();
    let mut models: HashMap<String, ModelRebill> = HashMap::new();
    let (mut old_picos, mut new_picos, mut repriced) = (0u128, 0u128, 0u64);
    while let Some((n, line)) = log.next_line()? {
        lines.lines = n;
        let line = match line {
            Ok(line) => line,
            // Its bytes were not kept, so a re-billed log would lose it: refuse to write one.
            Err(message) if out.is_some() => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("line {n}: {message}; the re-billed log would lose it"),
                ));
            }
            Err(message) => {
                lines.skip(n, message);
                continue;
            }
        };
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
            // Cached and cache-write tokens at the catalog's prices for them, else as input.
            let model = catalog.models.iter().find(|m| m.key == record.model);
            let cache_price = |p: Option<f64>| p.map_or(input, PicosPerToken::from_usd_per_mtok);
            record.price_cached(
                input,
                output,
                cache_price(model.and_then(|m| m.cached_input_usd_per_mtok)),
                cache_price(model.and_then(|m| m.cache_write_usd_per_mtok)),
            );
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
