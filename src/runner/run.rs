//! Running a step: route it, hold its worst case against the budget, call the chosen model's
//! client, count the tokens, settle the budget at the actual cost and record the call.
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
//! use std::sync::Arc;
//! use switchyard::clients::{Clients, MockClient, ModelRequest};
//! use switchyard::runner::{MemorySink, Runner};
//! use switchyard::{Router, Step};
//!
//! let router = Router::load("policies/contract-review.toml").unwrap();
//! let log = Arc::new(MemorySink::new());
//! let runner = Runner::new(router, Clients::all(Arc::new(MockClient::new())))
//!     .with_sink(log.clone());
//! let step = Step::new("format").input_tokens(8_000).expected_output_tokens(2_000);
//! let out = runner
//!     .run_step(&step, ModelRequest::default().max_output_tokens(2_000))
//!     .await
//!     .unwrap();
//! assert_eq!(out.record.tier, "cheap");
//! assert_eq!(out.record.cost_usd, 0.018); // 8,000 × $1/M + 2,000 × $5/M
//! assert_eq!(log.len(), 1);
//! # });
//! ```

use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;

use super::budget::{self, BudgetExceeded, Ledger, Reservation, Scope};
use super::sink::{self, CallSink};
use crate::calllog::record::{
    write_f64, write_i64, write_str, write_u64, CallRecord, StepJson, TokenSource,
};
use crate::clients::{ClientError, Clients, Message, ModelRequest};
use crate::money::{Picos, PicosPerToken};
use crate::policy::{Model, TierId, Tokenizer};
use crate::router::{RouteError, Router};
use crate::step::{Step, TagValue};

/// A step's result: the model's reply and the record of the call.
#[derive(Debug, Clone, PartialEq)]
pub struct StepOutput {
    /// The reply's text.
    pub text: String,
    /// The call as logged.
    pub record: CallRecord,
}

/// Why a step was not run.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RunError {
    /// The step could not be routed (guard rejection, unknown workload, invalid step).
    #[error(transparent)]
    Route(#[from] RouteError),
    /// The call's worst case would cross a budget cap (and no tier fits, with downgrade).
    #[error(transparent)]
    Budget(#[from] BudgetExceeded),
    /// A cap applies but nothing bounds the call's output, so its worst case is unknown.
    #[error("the policy caps spending but the call to `{model}` has no output limit: give the request max_output_tokens, or the model max_output_tokens or context_window")]
    Unbounded {
        /// The model key.
        model: String,
    },
    /// No client is configured for the chosen model.
    #[error("no client serves the model `{model}`")]
    NoClient {
        /// The model key.
        model: String,
    },
    /// The provider call failed (its reservation was released).
    #[error("the call to `{model}` failed: {error}")]
    Client {
        /// The model key.
        model: String,
        /// What went wrong.
        error: ClientError,
    },
}

impl RunError {
    /// A stable word for the kind: the routing kinds (guard_rejected, unknown_workload,
    /// workload_required, invalid_step), budget_exceeded, unbounded_output, no_client,
    /// client_error.
    pub fn kind(&self) -> &'static str {
        match self {
            RunError::Route(e) => e.kind(),
            RunError::Budget(_) => "budget_exceeded",
            RunError::Unbounded { .. } => "unbounded_output",
            RunError::NoClient { .. } => "no_client",
            RunError::Client { .. } => "client_error",
        }
    }

    /// The error as a JSON line: `{"error":{"kind":…,"message":…},"trace_id":…}`.
    pub fn to_json(&self, trace_id: Option<&str>) -> Value {
        if let RunError::Route(e) = self {
            return e.to_json(trace_id);
        }
        let mut err = serde_json::Map::new();
        err.insert("kind".into(), self.kind().into());
        if let RunError::Budget(b) = self {
            err.insert("cap".into(), b.scope.key().into());
        }
        err.insert("message".into(), self.to_string().into());
        let mut out = serde_json::Map::new();
        out.insert("error".into(), Value::Object(err));
        if let Some(t) = trace_id {
            out.insert("trace_id".into(), t.into());
        }
        Value::Object(out)
    }
}

/// Runs steps: route → budget → client → record. Share one runner between tasks; its
/// budget ledger is what makes the caps hold across them.
pub struct Runner {
    router: Arc<Router>,
    clients: Clients,
    ledger: Ledger,
    sinks: Vec<Arc<dyn CallSink>>,
}

impl std::fmt::Debug for Runner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runner")
            .field("router", &self.router)
            .field("clients", &self.clients)
            .field("ledger", &self.ledger)
            .field("sinks", &self.sinks.len())
            .finish()
    }
}

impl Runner {
    /// A runner over a router (its hot reloads apply) and the clients that serve its models.
    pub fn new(router: impl Into<Arc<Router>>, clients: Clients) -> Runner {
        Runner {
            router: router.into(),
            clients,
            ledger: Ledger::new(),
            sinks: Vec::new(),
        }
    }

    /// Also sends every call record to `sink`.
    pub fn with_sink(mut self, sink: Arc<dyn CallSink>) -> Runner {
        self.sinks.push(sink);
        self
    }

    /// The router.
    pub fn router(&self) -> &Arc<Router> {
        &self.router
    }

    /// Writes out whatever the sinks still hold (buffered JSONL sinks also do so on drop).
    pub fn flush(&self) -> std::io::Result<()> {
        self.sinks.iter().try_for_each(|s| s.flush())
    }

    /// Spend so far, by trace and by workload-day.
    pub fn ledger(&self) -> &Ledger {
        &self.ledger
    }

    /// Runs one step: routes it, reserves its worst case under the policy's `[budget]`
    /// (downgrading or refusing when a cap would be crossed), calls the chosen model with
    /// `request`, and records the call.
    ///
    /// The runner fills in the request's model name and output limit, turns JSON mode on
    /// when the step needs JSON, and sends the step's `prompt` as the user message when the
    /// request has no messages.
    pub async fn run_step(
        &self,
        step: &Step,
        mut request: ModelRequest,
    ) -> Result<StepOutput, RunError> {
        let set = self.router.current();
        let decision = set.route(step)?;
        let cp = decision.compiled_policy();
        let policy = &cp.policy;
        let input = decision.input_tokens();
        let asked_max = request.max_output_tokens;
        // The most the call can write: the request's limit, else the model's, else what the
        // context window leaves.
        let output_bound = |m: &Model| {
            asked_max
                .or(m.max_output_tokens)
                .or(m.context_window.map(|w| w.saturating_sub(input)))
        };
        let worst_case = |m: &Model| {
            output_bound(m).map(|out| {
                PicosPerToken::from_usd_per_mtok(m.input_usd_per_mtok)
                    .cost(input)
                    .saturating_add(
                        PicosPerToken::from_usd_per_mtok(m.output_usd_per_mtok).cost(out),
                    )
            })
        };

        let time = SystemTime::now();
        let mut tier = decision.tier_id();
        let mut via = decision.via();
        let mut hold = Hold {
            ledger: &self.ledger,
            reservation: None,
        };
        if let Some(b) = policy.budget.as_ref().filter(|b| budget::has_caps(b)) {
            let chosen = policy.tier_model(tier);
            let amount = worst_case(chosen).ok_or_else(|| RunError::Unbounded {
                model: chosen.key.clone(),
            })?;
            let scope = Scope {
                workload: &policy.name,
                trace: step.trace_id.as_deref(),
                day: budget::utc_day(time),
            };
            let name = |t: TierId| policy.tiers[t].name.as_str();
            let r = match self.ledger.reserve(b, scope, name(tier), amount) {
                Ok(r) => r,
                Err(mut refused) if budget::downgrades(b) => {
                    refused.downgrade_tried = true;
                    // Only now look for a cheaper tier: the common case never pays for it.
                    let cheapest = budget::downgrade_candidates(cp, step, input, |t| {
                        worst_case(policy.tier_model(t))
                    })
                    .into_iter()
                    .next()
                    .filter(|&(t, c)| t != tier && c < amount);
                    let Some((cheaper, cost)) = cheapest else {
                        return Err(refused.into());
                    };
                    match self.ledger.reserve(b, scope, name(cheaper), cost) {
                        Ok(r) => {
                            tier = cheaper;
                            via = crate::router::Via::BudgetDowngrade;
                            r
                        }
                        Err(_) => return Err(refused.into()),
                    }
                }
                Err(refused) => return Err(refused.into()),
            };
            hold.reservation = Some(r);
        }

        let model = policy.tier_model(tier);
        let Some(client) = self.clients.get(model) else {
            return Err(RunError::NoClient {
                model: model.key.clone(),
            });
        };
        request.model.clone_from(&model.model_id);
        request.max_output_tokens = output_bound(model);
        request.json_mode |= step.output_must_be_json;
        request.input_tokens_hint = Some(input);
        if request.messages.is_empty() {
            if let Some(p) = &step.prompt {
                request.messages.push(Message::user(p.clone()));
            }
        }

        let started = Instant::now();
        let result = client.complete(&request).await;
        let latency_us = started.elapsed().as_micros() as u64;
        let response = match result {
            Ok(r) => r,
            Err(error) => {
                return Err(RunError::Client {
                    model: model.key.clone(),
                    error,
                });
            }
        };

        let (input_tokens, output_tokens, token_source) = match response.usage {
            Some(u) => (u.input_tokens, u.output_tokens, TokenSource::Provider),
            None => {
                let tokenizer = model.tokenizer.unwrap_or(policy.tokenizer);
                let source = match tokenizer {
                    Tokenizer::Approx => TokenSource::Approx,
                    _ => TokenSource::Tokenizer,
                };
                // With no text to count (a step that gives only its size), its size stands.
                let counted_input = if request.messages.iter().all(|m| m.content.is_empty()) {
                    input
                } else {
                    request
                        .messages
                        .iter()
                        .map(|m| tokenizer.count(&m.content))
                        .sum()
                };
                (counted_input, tokenizer.count(&response.text), source)
            }
        };

        let mut record = CallRecord {
            time: rfc3339_utc(time),
            trace_id: step.trace_id.clone(),
            policy: policy.name.clone(),
            policy_version: policy.version.clone(),
            step: step_features(step, input),
            tier: policy.tiers[tier].name.clone(),
            model: model.key.clone(),
            rule: decision.rule().map(str::to_string),
            via,
            guard: decision.guard().map(str::to_string),
            latency_us,
            input_tokens,
            output_tokens,
            token_source,
            input_price: PicosPerToken::default(),
            output_price: PicosPerToken::default(),
            cost: Picos::ZERO,
            cost_usd: 0.0,
        };
        record.price(
            PicosPerToken::from_usd_per_mtok(model.input_usd_per_mtok),
            PicosPerToken::from_usd_per_mtok(model.output_usd_per_mtok),
        );
        hold.settle(record.cost);

        sink::emit_event(&record);
        for s in &self.sinks {
            if let Err(e) = s.record(&record) {
                tracing::error!(target: "switchyard::call", error = %e, "a call record could not be written");
            }
        }
        Ok(StepOutput {
            text: response.text,
            record,
        })
    }
}

/// A reservation held for one call: settled at the actual cost, or given back when the call
/// fails — or when the caller drops the call midway (a timeout), so no budget leaks.
struct Hold<'a> {
    ledger: &'a Ledger,
    reservation: Option<Reservation>,
}

impl Hold<'_> {
    fn settle(mut self, actual: Picos) {
        if let Some(r) = self.reservation.take() {
            self.ledger.settle(r, actual);
        }
    }
}

impl Drop for Hold<'_> {
    fn drop(&mut self) {
        if let Some(r) = self.reservation.take() {
            self.ledger.release(r);
        }
    }
}

/// The step as a log keeps it: its features without the prompt text, and its input tokens
/// as counted, so the log can be routed again. The text [`Step::to_json`] would serialize to
/// (same fields, order and digits), written straight from the step since it runs on every call.
fn step_features(step: &Step, input_tokens: u64) -> StepJson {
    let strings = step.role.len()
        + step.workload.as_ref().map_or(0, String::len)
        + step.trace_id.as_ref().map_or(0, String::len)
        + step.tags.keys().map(|k| k.len() + 16).sum::<usize>();
    let mut out = String::with_capacity(160 + strings);
    out.push_str("{\"role\":");
    write_str(&mut out, &step.role);
    out.push_str(",\"input_tokens\":");
    write_u64(&mut out, input_tokens);
    if let Some(n) = step.expected_output_tokens {
        out.push_str(",\"expected_output_tokens\":");
        write_u64(&mut out, n);
    }
    if step.needs_chain_of_thought {
        out.push_str(",\"needs_chain_of_thought\":true");
    }
    if step.output_must_be_json {
        out.push_str(",\"output_must_be_json\":true");
    }
    if step.untrusted_input {
        out.push_str(",\"untrusted_input\":true");
    }
    if step.dependent_tool_calls > 0 {
        out.push_str(",\"dependent_tool_calls\":");
        write_u64(&mut out, step.dependent_tool_calls);
    }
    if !step.tags.is_empty() {
        out.push_str(",\"tags\":");
        let mut sep = '{';
        for (k, v) in &step.tags {
            out.push(sep);
            sep = ',';
            write_str(&mut out, k);
            out.push(':');
            match *v {
                TagValue::Str(ref t) => write_str(&mut out, t),
                TagValue::Bool(b) => out.push_str(if b { "true" } else { "false" }),
                // Whole numbers as integers, as `TagValue::to_json` has them.
                TagValue::Num(n) if n.fract() == 0.0 && n.abs() < 9.0e15 => {
                    write_i64(&mut out, n as i64)
                }
                TagValue::Num(n) => write_f64(&mut out, n),
            }
        }
        out.push('}');
    }
    if let Some(w) = &step.workload {
        out.push_str(",\"workload\":");
        write_str(&mut out, w);
    }
    if let Some(t) = &step.trace_id {
        out.push_str(",\"trace_id\":");
        write_str(&mut out, t);
    }
    out.push('}');
    StepJson::from_compact(out)
}

/// `2026-11-26T06:19:42.123Z`, written digit by digit (it runs on every call).
pub fn rfc3339_utc(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs();
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, day) = civil_from_days(days as i64);
    let mut out = String::with_capacity(24);
    let mut digits = |n: u64, width: u32, sep: Option<char>| {
        for i in (0..width).rev() {
            out.push(char::from(b'0' + (n / 10u64.pow(i) % 10) as u8));
        }
        if let Some(c) = sep {
            out.push(c);
        }
    };
    digits(y.clamp(0, 9999) as u64, 4, Some('-'));
    digits(u64::from(m), 2, Some('-'));
    digits(u64::from(day), 2, Some('T'));
    digits(rem / 3600, 2, Some(':'));
    digits(rem % 3600 / 60, 2, Some(':'));
    digits(rem % 60, 2, Some('.'));
    digits(u64::from(d.subsec_millis()), 3, Some('Z'));
    out
}

/// Days since 1970-01-01 to (year, month, day) in the proleptic Gregorian calendar
/// (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::strategy::Strategy;
    use std::time::Duration;

    fn features(step: &Step, input_tokens: u64) -> String {
        step_features(step, input_tokens).as_str().to_string()
    }

    #[test]
    fn tags_are_written_as_to_json_writes_them() {
        let step = Step::new("a \"quoted\"\nrole")
            .tag("whole", 3.0)
            .tag("negative_zero", -0.0)
            .tag("fraction", -2.5)
            .tag("huge", 1e300)
            .tag("not_finite", f64::NAN)
            .tag("inf", f64::INFINITY)
            .tag("on", true)
            .tag("k\u{e9}y \\ \u{1}", "v\u{e9}l\t\"ue\"")
            .workload("w\u{2028}");
        let want = step.clone().input_tokens(0).to_json();
        assert_eq!(features(&step, 0), serde_json::to_string(&want).unwrap());
    }

    proptest::proptest! {
        /// Any step, any strings and numbers: the same text as its `to_json`.
        #[test]
        fn step_features_match_to_json_for_any_step(
            role in ".*",
            tokens in proptest::option::of(proptest::num::u64::ANY),
            flags in proptest::array::uniform3(proptest::bool::ANY),
            calls in 0u64..3,
            tags in proptest::collection::btree_map(
                ".*",
                proptest::prop_oneof![
                    ".*".prop_map(TagValue::Str),
                    proptest::num::f64::ANY.prop_map(TagValue::Num),
                    (-20i64..20).prop_map(|n| TagValue::Num(n as f64 / 4.0)),
                    proptest::bool::ANY.prop_map(TagValue::Bool),
                ],
                0..4,
            ),
            workload in proptest::option::of(".*"),
            input in proptest::num::u64::ANY,
        ) {
            let mut step = Step::new(role)
                .needs_chain_of_thought(flags[0])
                .output_must_be_json(flags[1])
                .untrusted_input(flags[2])
                .dependent_tool_calls(calls);
            step.expected_output_tokens = tokens;
            step.tags = tags;
            step.workload = workload;
            let want = step.clone().input_tokens(input).to_json();
            proptest::prop_assert_eq!(
                features(&step, input),
                serde_json::to_string(&want).unwrap()
            );
        }
    }

    #[test]
    fn step_features_are_the_step_json_without_its_prompt() {
        let step = Step::new("reason")
            .prompt("hello")
            .expected_output_tokens(5)
            .needs_chain_of_thought(true)
            .untrusted_input(true)
            .dependent_tool_calls(3)
            .tag("jurisdiction", "EU")
            .tag("value", 2.5)
            .workload("w")
            .trace_id("t");
        let mut want = step.clone().input_tokens(7).to_json();
        want.as_object_mut().unwrap().shift_remove("prompt");
        // Same fields, same order, same text.
        assert_eq!(features(&step, 7), serde_json::to_string(&want).unwrap());
        let bare = Step::new("format").input_tokens(3);
        assert_eq!(
            features(&bare, 3),
            serde_json::to_string(&bare.to_json()).unwrap()
        );
    }

    #[test]
    fn times_are_rfc3339_utc() {
        let t = UNIX_EPOCH + Duration::from_millis(1_795_674_382_123);
        assert_eq!(rfc3339_utc(t), "2026-11-26T06:26:22.123Z");
        assert_eq!(rfc3339_utc(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        // A leap day.
        let leap = UNIX_EPOCH + Duration::from_secs(951_782_400);
        assert_eq!(rfc3339_utc(leap), "2000-02-29T00:00:00.000Z");
    }
}
