//! `CallRecord`: one model call as it is logged — what was asked, where it went, what it
//! cost and why — one JSON object per line in a call log.

use serde::{Deserialize, Serialize};

use super::money::{Picos, PicosPerToken};

/// Where a call's token counts came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenSource {
    /// The provider reported its usage.
    Provider,
    /// Counted here with the model's (or policy's) tokenizer.
    Tokenizer,
    /// Estimated as chars / 4 + 5% (no tokenizer for the model).
    Approx,
}

/// One model call, as written to a call log (JSONL) and emitted as a tracing event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CallRecord {
    /// When the call started, RFC 3339 in UTC (e.g. `2026-11-26T06:19:42.123Z`).
    pub time: String,
    /// The step's trace id.
    pub trace_id: Option<String>,
    /// The policy (workload) that routed it.
    pub policy: String,
    /// The policy's version hash at the time.
    pub policy_version: String,
    /// The step's features as a step JSON object (no prompt text; `input_tokens` as counted),
    /// so a log can be routed again under another policy.
    pub step: serde_json::Value,
    /// The tier chosen.
    pub tier: String,
    /// The model key called.
    pub model: String,
    /// The rule that chose the tier (`null`: the default).
    pub rule: Option<String>,
    /// rule, default, guard, expression_error, or budget_downgrade.
    pub via: String,
    /// The guard that moved the step, if any.
    pub guard: Option<String>,
    /// Wall-clock time of the model call, in microseconds.
    pub latency_us: u64,
    /// Input tokens billed.
    pub input_tokens: u64,
    /// Output tokens billed.
    pub output_tokens: u64,
    /// Where the token counts came from.
    pub token_source: TokenSource,
    /// Input price used, pico-dollars per token.
    pub input_price: PicosPerToken,
    /// Output price used, pico-dollars per token.
    pub output_price: PicosPerToken,
    /// What the call cost, in pico-dollars (exact).
    pub cost: Picos,
    /// The same in dollars, for people and dashboards (derived from `cost`).
    pub cost_usd: f64,
}

impl CallRecord {
    /// Recomputes `cost` and `cost_usd` from the token counts and prices.
    pub fn price(&mut self, input_price: PicosPerToken, output_price: PicosPerToken) {
        self.input_price = input_price;
        self.output_price = output_price;
        self.cost = input_price
            .cost(self.input_tokens)
            .saturating_add(output_price.cost(self.output_tokens));
        self.cost_usd = self.cost.usd();
    }
}
