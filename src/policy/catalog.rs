//! Price catalogs: a file of `[models.*]` tables only (like `policies/models.toml`), loaded on
//! its own — for `switchyard rebill` — with the policy loader's own parsing and model checks,
//! so every problem is reported at the catalog's file:line:col exactly as in an include.

use std::path::Path;
use std::sync::Arc;

use super::load::{catalog_only, parse, read_source};
use super::{validate, LoadError, Model};
use crate::diag::Diagnostic;
use crate::money::PicosPerToken;

/// The models of a price catalog file, checked.
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

/// Loads a price catalog: only `[models.*]` tables, each checked as a policy's model is
/// (unknown keys, prices, providers, a model defined twice), with the same diagnostics.
pub fn load_catalog(path: &Path) -> Result<Catalog, LoadError> {
    let src = read_source(path)?;
    let raw = parse(&src)?;
    catalog_only(&src, &raw).map_err(LoadError::one)?;
    if raw.models.is_empty() {
        return Err(LoadError::one(
            Diagnostic::error(
                "catalog-not-models-only",
                &src,
                0..0,
                "this price catalog defines no models",
            )
            .with_help("a catalog holds [models.NAME] tables with input_usd_per_mtok and output_usd_per_mtok, like policies/models.toml"),
        ));
    }
    let models =
        validate::models::catalog(&src, raw.models).map_err(|diagnostics| LoadError { diagnostics })?;
    Ok(Catalog { models })
}
