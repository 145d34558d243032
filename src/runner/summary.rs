//! What a run of many steps adds up to, kept as running totals (memory flat in the number of
//! calls), and the "all on the most expensive tier" baseline it is compared with.
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
//! use std::sync::Arc;
//! use switchyard::clients::{ChatRequest, Clients, MockClient};
//! use switchyard::runner::{RunTotals, Runner};
//! use switchyard::{Router, Step};
//!
//! let router = Router::load("policies/contract-review.toml").unwrap();
//! let runner = Runner::new(router, Clients::all(Arc::new(MockClient::new())));
//! let mut totals = RunTotals::new();
//! let step = Step::new("format").input_tokens(8_000);
//! let out = runner
//!     .run_step(&step, ChatRequest::default().max_output_tokens(2_000))
//!     .await
//!     .unwrap();
//! totals.add(&out.record);
//! let baseline = totals.baseline(&runner.router().current());
//! assert_eq!(totals.cost_picos(), 18_000_000_000); // on the cheap tier
//! assert_eq!(baseline.cost_picos, 270_000_000_000); // the same call on premium
//! assert_eq!(baseline.tiers, vec![("contract-review".to_string(), "premium".to_string())]);
//! # });
//! ```

use std::collections::BTreeMap;

use crate::calllog::record::CallRecord;
use crate::money::PicosPerToken;
use crate::router::PolicySet;

/// Running totals of the calls of a run: their number and exact cost, and per policy the
/// tokens billed, which is all the baseline needs (a call's cost is linear in its tokens).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunTotals {
    calls: u64,
    cost: u128,
    by_policy: BTreeMap<String, Tokens>,
}

/// Tokens billed under one policy.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Tokens {
    input: u128,
    output: u128,
}

/// What the calls would have cost with every call on its policy's most expensive tier.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Baseline {
    /// The total, in pico-dollars (exact).
    pub cost_picos: u128,
    /// For each policy (by name, in name order), its most expensive tier for these calls.
    pub tiers: Vec<(String, String)>,
}

impl RunTotals {
    /// No calls yet.
    pub fn new() -> RunTotals {
        RunTotals::default()
    }

    /// Adds one call.
    pub fn add(&mut self, record: &CallRecord) {
        self.calls += 1;
        self.cost += u128::from(record.cost.0);
        // The policy's name is cloned once per policy, not per call.
        let tokens = match self.by_policy.get_mut(&record.policy) {
            Some(t) => t,
            None => self.by_policy.entry(record.policy.clone()).or_default(),
        };
        tokens.input += u128::from(record.input_tokens);
        tokens.output += u128::from(record.output_tokens);
    }

    /// Calls added.
    pub fn calls(&self) -> u64 {
        self.calls
    }

    /// Their cost as run, in pico-dollars (exact).
    pub fn cost_picos(&self) -> u128 {
        self.cost
    }

    /// The cost of the same calls (same token counts) with each on its policy's most
    /// expensive tier: the tier whose prices cost the most for that policy's calls. Policies
    /// `set` does not hold are left out.
    pub fn baseline(&self, set: &PolicySet) -> Baseline {
        let mut out = Baseline::default();
        for (name, tokens) in &self.by_policy {
            let Some(cp) = set.get(name) else { continue };
            let p = &cp.policy;
            let most = (0..p.tiers.len())
                .map(|t| {
                    let m = p.tier_model(t);
                    let input = PicosPerToken::from_usd_per_mtok(m.input_usd_per_mtok).0;
                    let output = PicosPerToken::from_usd_per_mtok(m.output_usd_per_mtok).0;
                    let cost = u128::from(input)
                        .saturating_mul(tokens.input)
                        .saturating_add(u128::from(output).saturating_mul(tokens.output));
                    (cost, t)
                })
                .max();
            if let Some((cost, t)) = most {
                out.cost_picos = out.cost_picos.saturating_add(cost);
                out.tiers.push((name.clone(), p.tiers[t].name.clone()));
            }
        }
        out
    }
}

/// The baseline of a set of calls (a call log, say): [`RunTotals::baseline`] over them.
pub fn baseline<'a>(
    set: &PolicySet,
    records: impl IntoIterator<Item = &'a CallRecord>,
) -> Baseline {
    let mut totals = RunTotals::new();
    records.into_iter().for_each(|r| totals.add(r));
    totals.baseline(set)
}
