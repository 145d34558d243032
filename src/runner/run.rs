//! Running a step: route it, hold its worst case against the budget, call the chosen model's
//! client, count the tokens, settle the budget at the actual cost and record the call.
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
//! use std::sync::Arc;
//! use switchyard::clients::{ChatRequest, Clients, MockClient};
//! use switchyard::runner::{MemorySink, Runner};
//! use switchyard::{Router, Step};
//!
//! let router = Router::load("policies/contract-review.toml").unwrap();
//! let log = Arc::new(MemorySink::new());
//! let runner = Runner::new(router, Clients::all(Arc::new(MockClient::new())))
//!     .with_sink(log.clone());
//! let step = Step::new("format").input_tokens(8_000).expected_output_tokens(2_000);
//! let out = runner
//!     .run_step(&step, ChatRequest::default().max_output_tokens(2_000))
//!     .await
//!     .unwrap();
//! assert_eq!(out.record.tier, "cheap");
//! assert_eq!(out.record.cost_usd, 0.018); // 8,000 × $1/M + 2,000 × $5/M
//! assert_eq!(log.len(), 1);
//! # });
//! ```

use std::sync::Arc;
use std::time::{Instant, SystemTime};

use serde_json::Value;

use super::budget::{self, BudgetExceeded, BudgetHold, Ledger, Scope, Store, StoreError};
use super::record::{rfc3339_utc, step_features};
use super::sink::{self, CallSink};
use crate::calllog::record::{CallRecord, CallStatus, TokenSource};
use crate::clients::{
    ChatMessage, ChatRequest, ChatResponse, ClientError, Clients, ModelClient, Part, SizeHints,
};
use crate::money::{Picos, PicosPerToken};
use crate::policy::{Model, Policy, TierId, Tokenizer};
use crate::router::{Decision, RouteError, Router};
use crate::step::Step;

/// Text longer than this (in bytes) is counted on tokio's blocking threads, so a large
/// prompt never stalls the runtime's worker threads.
const COUNT_OFF_THREAD_BYTES: usize = 64 * 1024;

/// A step's result: the model's answer and the record of the call.
#[derive(Debug, Clone, PartialEq)]
pub struct StepOutput {
    /// The answer: text, tool calls, why it stopped, the provider's usage.
    pub response: ChatResponse,
    /// The call as logged.
    pub record: CallRecord,
}

impl StepOutput {
    /// The answer's text parts, joined.
    pub fn text(&self) -> String {
        self.response.text()
    }
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
    /// The call is under a shared cap and the budget store cannot be reached (`closed`).
    #[error(transparent)]
    BudgetStoreUnavailable(#[from] StoreError),
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
    /// The call was made and billed, but a sink could not store its record (or an earlier
    /// one): the reply and the record are here, so nothing is lost silently.
    #[error("the call to `{}` was made, but call records are being lost: {error}", output.record.model)]
    NotRecorded {
        /// The call's reply and record.
        output: Box<StepOutput>,
        /// The sink's error.
        error: String,
    },
}

impl RunError {
    /// A stable word for the kind: the routing kinds (guard_rejected, unknown_workload,
    /// workload_required, invalid_step), budget_exceeded, unbounded_output, no_client,
    /// client_error, record_not_written.
    pub fn kind(&self) -> &'static str {
        match self {
            RunError::Route(e) => e.kind(),
            RunError::Budget(_) => "budget_exceeded",
            RunError::BudgetStoreUnavailable(_) => "budget_store_unavailable",
            RunError::Unbounded { .. } => "unbounded_output",
            RunError::NoClient { .. } => "no_client",
            RunError::Client { .. } => "client_error",
            RunError::NotRecorded { .. } => "record_not_written",
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
    ledger: Arc<Ledger>,
    store: Arc<Store>,
    sinks: Vec<Arc<dyn CallSink>>,
}

impl std::fmt::Debug for Runner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runner")
            .field("router", &self.router)
            .field("clients", &self.clients)
            .field("ledger", &self.ledger)
            .field("store", &self.store)
            .field("sinks", &self.sinks.len())
            .finish()
    }
}

impl Runner {
    /// A runner over a router (its hot reloads apply) and the clients that serve its models.
    pub fn new(router: impl Into<Arc<Router>>, clients: Clients) -> Runner {
        let ledger = Arc::new(Ledger::new());
        Runner {
            router: router.into(),
            clients,
            ledger: ledger.clone(),
            store: Arc::new(Store::memory(ledger)),
            sinks: Vec::new(),
        }
    }

    /// Drops a trace's budget spend once it has been idle this long (default: a day,
    /// [`budget::DEFAULT_TRACE_IDLE`]); see [`Ledger::with_trace_idle`].
    pub fn with_trace_idle(mut self, idle: std::time::Duration) -> Runner {
        self.ledger = Arc::new(Ledger::new().with_trace_idle(idle));
        self.store = Arc::new(Store::memory(self.ledger.clone()));
        self
    }

    /// Holds budgets in `store` (`--budget-store`; a Redis store shares them with every
    /// process given the same URL). A memory store's ledger becomes [`ledger`](Self::ledger).
    pub fn with_budget_store(mut self, store: Arc<Store>) -> Runner {
        if let Some(l) = store.ledger() {
            self.ledger = l.clone();
        }
        self.store = store;
        self
    }

    /// Where budgets are held.
    pub fn budget_store(&self) -> &Arc<Store> {
        &self.store
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

    /// Spend so far, by trace and by workload-day, when budgets are held in the process (with
    /// a shared store it stays empty).
    pub fn ledger(&self) -> &Ledger {
        &self.ledger
    }

    /// Runs one step: routes it, reserves its worst case under the policy's `[budget]`
    /// (downgrading or refusing when a cap would be crossed), calls the chosen model with
    /// `request`, and records the call.
    ///
    /// The runner fills in the request's model name and output limit, turns JSON output on
    /// when the step needs JSON, and sends the step's `prompt` as the user message when the
    /// request has no messages. Tools, tool calls and tool results go to the model as given.
    ///
    /// Under a cap, the worst case is the input (the larger of the step's stated
    /// `input_tokens` and the text sent, counted) plus the output limit: the request's, else
    /// the model's `max_output_tokens`, else what its `context_window` leaves. That limit is
    /// what the model is sent, so the provider enforces the worst case paid for.
    pub async fn run_step(
        &self,
        step: &Step,
        request: ChatRequest,
    ) -> Result<StepOutput, RunError> {
        self.run_step_with(step, request, SizeHints::default())
            .await
    }

    /// [`Runner::run_step`] with the sizes the offline mock bills ([`SizeHints`]; the input
    /// size is the step's when not given). A real provider never sees them.
    pub async fn run_step_with(
        &self,
        step: &Step,
        mut request: ChatRequest,
        hints: SizeHints,
    ) -> Result<StepOutput, RunError> {
        let set = self.router.current();
        let decision = set.route(step)?;
        let policy = &decision.compiled_policy().policy;
        let prompt_only = add_prompt(&mut request, step);
        let time = SystemTime::now();
        let held = self
            .hold_budget(&decision, step, &request, prompt_only, time)
            .await?;
        let hints = SizeHints {
            input_tokens: hints.input_tokens.or(Some(decision.input_tokens())),
            ..hints
        };
        let answered = self
            .call_tier(&decision, step, &held, &mut request, hints)
            .await?;
        let model = answered.model;
        let usage = usage(
            &answered.response,
            &request,
            model,
            policy,
            decision.input_tokens(),
        )
        .await;
        let mut record = record(
            &decision,
            step,
            &held,
            model,
            time,
            answered.latency_us,
            usage,
        );
        record.fallback_from = answered.fallback_from;
        held.hold.settle(record.cost).await;
        self.deliver(StepOutput {
            response: answered.response,
            record,
        })
    }

    /// Calls the held tier's model; when it still fails with a retryable error (after its
    /// client's own retries), the tier's fallbacks in order, passing over any that lacks a
    /// capability a guard that held for the step requires, or whose worst case exceeds what
    /// was held (docs/providers.md). The request is shaped for each model tried.
    async fn call_tier<'p>(
        &self,
        decision: &'p Decision<'_>,
        step: &Step,
        held: &Held,
        request: &mut ChatRequest,
        hints: SizeHints,
    ) -> Result<Answer<'p>, RunError> {
        let cp = decision.compiled_policy();
        let policy = &cp.policy;
        let tier = &policy.tiers[held.tier];
        let asked = request.max_output_tokens;
        let required = if tier.fallbacks.is_empty() {
            Vec::new()
        } else {
            budget::required_capabilities(cp, step, decision.input_tokens())
        };
        let chain = std::iter::once(tier.model).chain(tier.fallbacks.iter().copied());
        let mut fallback_from = Vec::new();
        let mut last = None;
        for (i, m) in chain.enumerate() {
            let model = &policy.models[m];
            if i > 0 {
                let fits = held.limit.is_none_or(|limit| {
                    let worst = WorstCase {
                        requested: asked,
                        input: held.input,
                    };
                    worst.on(model).is_some_and(|c| c <= limit)
                });
                if !model.has_all(&required) || !fits {
                    tracing::debug!(model = %model.key, "fallback passed over (capabilities or budget)");
                    continue;
                }
            }
            let client = self.client(model)?;
            request.max_output_tokens = asked;
            shape_request(request, model, step, held.input);
            match call(client, request, hints, model).await {
                Ok((response, latency_us)) => {
                    return Ok(Answer {
                        response,
                        latency_us,
                        model,
                        fallback_from,
                    })
                }
                Err(RunError::Client { model: key, error }) if error.is_retryable() => {
                    tracing::warn!(model = %key, %error, "model failed with a retryable error");
                    fallback_from.push(key.clone());
                    last = Some(RunError::Client { model: key, error });
                }
                Err(e) => return Err(e),
            }
        }
        Err(last.unwrap_or_else(|| RunError::NoClient {
            model: policy.models[tier.model].key.clone(),
        }))
    }

    /// Holds the call's worst case against the policy's caps, on the decision's tier or (with
    /// `on_exceed = "downgrade"`) a cheaper one. With no cap, holds nothing and counts nothing.
    async fn hold_budget(
        &self,
        decision: &Decision<'_>,
        step: &Step,
        request: &ChatRequest,
        prompt_only: bool,
        time: SystemTime,
    ) -> Result<Held, RunError> {
        let cp = decision.compiled_policy();
        let policy = &cp.policy;
        let mut held = Held {
            tier: decision.tier_id(),
            via: decision.via(),
            input: decision.input_tokens(),
            limit: None,
            hold: BudgetHold::none(self.store.clone()),
        };
        let Some(b) = policy.budget.as_ref().filter(|b| budget::has_caps(b)) else {
            return Ok(held);
        };
        let chosen = policy.tier_model(held.tier);
        // A step that gave only its prompt was counted when it was routed.
        if !prompt_only {
            let counted = count_request(tokenizer(chosen, policy), request).await;
            held.input = held.input.max(counted);
        }
        let scope = Scope::of(&policy.name, step, time);
        let call = budget::CallSize {
            step,
            tier: held.tier,
            routed_input: decision.input_tokens(),
            input: held.input,
            requested: request.max_output_tokens,
        };
        let tier = budget::hold_tier(&self.store, cp, b, scope, call)
            .await
            .map_err(|e| match e {
                budget::HoldError::Unbounded(model) => RunError::Unbounded { model },
                budget::HoldError::Refused(refused) => RunError::Budget(refused),
                budget::HoldError::Unavailable(e) => RunError::BudgetStoreUnavailable(e),
            })?;
        held.tier = tier.tier;
        if tier.downgraded {
            held.via = crate::router::Via::BudgetDowngrade;
        }
        held.limit = Some(tier.limit);
        held.hold.hold(tier.reservation);
        Ok(held)
    }

    /// The client that serves `model`.
    fn client(&self, model: &Model) -> Result<&Arc<dyn ModelClient>, RunError> {
        self.clients.get(model).ok_or_else(|| RunError::NoClient {
            model: model.key.clone(),
        })
    }

    /// Emits the call's event and hands its record to every sink; a sink that cannot store
    /// it turns the result into [`RunError::NotRecorded`], which still carries the output.
    fn deliver(&self, output: StepOutput) -> Result<StepOutput, RunError> {
        sink::emit_event(&output.record);
        let mut failed = None;
        for s in &self.sinks {
            if let Err(e) = s.record(&output.record) {
                tracing::error!(target: "switchyard::call", error = %e, "a call record could not be written");
                failed.get_or_insert(e);
            }
        }
        match failed {
            None => Ok(output),
            Some(e) => Err(RunError::NotRecorded {
                output: Box::new(output),
                error: e.to_string(),
            }),
        }
    }
}

/// What a call's worst case is computed from: the output limit asked for and the input size.
#[derive(Debug, Clone, Copy)]
struct WorstCase {
    requested: Option<u64>,
    input: u64,
}

impl WorstCase {
    /// The worst case on `model`; `None` when nothing bounds its output.
    fn on(self, model: &Model) -> Option<Picos> {
        budget::output_limit(self.requested, model, self.input)
            .map(|out| budget::worst_case(model, self.input, out))
    }
}

/// A model's answer: which model gave it, after which failed ones, and how long it took.
struct Answer<'p> {
    response: ChatResponse,
    latency_us: u64,
    model: &'p Model,
    fallback_from: Vec<String>,
}

/// The tier a call goes to, why, the input size its worst case was held for, and the hold.
struct Held {
    tier: TierId,
    via: crate::router::Via,
    input: u64,
    /// The worst case held against a cap; `None` when no cap applies (then any fallback fits).
    limit: Option<Picos>,
    hold: BudgetHold,
}

/// Sends the step's prompt as the user message when the request has no messages; says
/// whether the request is now just that prompt.
fn add_prompt(request: &mut ChatRequest, step: &Step) -> bool {
    if !request.messages.is_empty() {
        return false;
    }
    if let Some(p) = &step.prompt {
        request.messages.push(ChatMessage::user(p.clone()));
    }
    step.input_tokens.is_none()
}

/// Fills in what the runner decides: the model's name, the output limit held for, and JSON
/// output when the step needs it.
fn shape_request(request: &mut ChatRequest, model: &Model, step: &Step, held_input: u64) {
    request.model.clone_from(&model.model_id);
    request.max_output_tokens = budget::output_limit(request.max_output_tokens, model, held_input);
    request.json_output |= step.output_must_be_json;
}

/// Calls the model, timing the call.
async fn call(
    client: &Arc<dyn ModelClient>,
    request: &ChatRequest,
    hints: SizeHints,
    model: &Model,
) -> Result<(ChatResponse, u64), RunError> {
    let started = Instant::now();
    let result = client.complete(request, hints).await;
    let latency_us = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
    match result {
        Ok(r) => Ok((r, latency_us)),
        Err(error) => Err(RunError::Client {
            model: model.key.clone(),
            error,
        }),
    }
}

/// The tokenizer that counts for `model`: its own, else its policy's.
fn tokenizer(model: &Model, policy: &Policy) -> Tokenizer {
    model.tokenizer.unwrap_or(policy.tokenizer)
}

/// Tokens billed: the provider's counts, else the text sent and received, counted. With no
/// text sent (a step that gives only its size), its size stands.
async fn usage(
    response: &ChatResponse,
    request: &ChatRequest,
    model: &Model,
    policy: &Policy,
    stated_input: u64,
) -> Billed {
    if let Some(u) = response.usage {
        return Billed {
            input: u.input_tokens,
            output: u.output_tokens,
            cached: u.cached_input_tokens,
            written: u.cache_write_tokens,
            source: TokenSource::Provider,
        };
    }
    let tokenizer = tokenizer(model, policy);
    let source = match tokenizer {
        Tokenizer::Approx => TokenSource::Approx,
        _ => TokenSource::Tokenizer,
    };
    let sent_nothing =
        request.tools.is_empty() && request_texts(request).iter().all(|t| t.is_empty());
    let input = if sent_nothing {
        stated_input
    } else {
        count_request(tokenizer, request).await
    };
    let output = count_texts(tokenizer, parts_texts(&response.content)).await;
    Billed {
        input,
        output,
        cached: 0,
        written: 0,
        source,
    }
}

/// The tokens a call is billed for, and where the counts came from.
struct Billed {
    input: u64,
    output: u64,
    cached: u64,
    written: u64,
    source: TokenSource,
}

/// The texts a request sends, one by one: the system text, every part of every message
/// (text, tool call arguments, tool results, thinking), and the tool definitions.
fn request_texts(request: &ChatRequest) -> Vec<&str> {
    let mut out: Vec<&str> = request.system.as_deref().into_iter().collect();
    for m in &request.messages {
        out.extend(parts_texts(&m.content));
    }
    for t in &request.tools {
        out.push(&t.name);
        out.extend(t.description.as_deref());
    }
    out
}

/// The texts of answer or message parts: text, tool names and arguments, results, thinking.
fn parts_texts(parts: &[Part]) -> Vec<&str> {
    let mut out = Vec::with_capacity(parts.len());
    for p in parts {
        match p {
            Part::Text { text } | Part::Thinking { text, .. } | Part::Refusal { text } => {
                out.push(text.as_str())
            }
            Part::ToolCall {
                name, arguments, ..
            } => {
                out.push(name);
                out.push(arguments);
            }
            Part::ToolResult { content, .. } => out.push(content),
        }
    }
    out
}

/// The tokens of every text a request sends, counted one by one.
async fn count_request(tokenizer: Tokenizer, request: &ChatRequest) -> u64 {
    let texts = request_texts(request);
    let mut n = count_texts(tokenizer, texts).await;
    // Tool schemas are JSON the model reads too.
    for t in &request.tools {
        n += count_texts(tokenizer, vec![&t.parameters.to_string()]).await;
    }
    n
}

/// The tokens of some texts, counted one by one (large ones off the runtime's threads).
async fn count_texts(tokenizer: Tokenizer, texts: Vec<&str>) -> u64 {
    let bytes: usize = texts.iter().map(|t| t.len()).sum();
    if bytes == 0 {
        return 0;
    }
    if bytes < COUNT_OFF_THREAD_BYTES {
        return texts.iter().map(|t| tokenizer.count(t)).sum();
    }
    count_off_thread(tokenizer, texts.iter().map(|t| t.to_string()).collect()).await
}

/// Counts large texts on tokio's blocking threads when inside a runtime (else right here).
async fn count_off_thread(tokenizer: Tokenizer, texts: Vec<String>) -> u64 {
    fn sum(tokenizer: Tokenizer, texts: &[String]) -> u64 {
        texts.iter().map(|t| tokenizer.count(t)).sum()
    }
    let texts: Arc<[String]> = texts.into();
    let Ok(rt) = tokio::runtime::Handle::try_current() else {
        return sum(tokenizer, &texts);
    };
    let shared = texts.clone();
    match rt.spawn_blocking(move || sum(tokenizer, &shared)).await {
        Ok(n) => n,
        // The tokenizer panicked: bill the documented approximation rather than nothing.
        Err(_) => sum(Tokenizer::Approx, &texts),
    }
}

/// The call's record, priced at its model's prices.
fn record(
    decision: &Decision<'_>,
    step: &Step,
    held: &Held,
    model: &Model,
    time: SystemTime,
    latency_us: u64,
    billed: Billed,
) -> CallRecord {
    let policy = &decision.compiled_policy().policy;
    let mut record = CallRecord {
        time: rfc3339_utc(time),
        trace_id: step.trace_id.clone(),
        policy: policy.name.clone(),
        policy_version: policy.version.clone(),
        step: step_features(step, decision.input_tokens()),
        tier: policy.tiers[held.tier].name.clone(),
        model: model.key.clone(),
        rule: decision.rule().map(str::to_string),
        via: held.via,
        guard: decision.guard().map(str::to_string),
        status: CallStatus::Ok,
        latency_us,
        input_tokens: billed.input,
        output_tokens: billed.output,
        cached_input_tokens: billed.cached,
        cache_write_tokens: billed.written,
        fallback_from: Vec::new(),
        token_source: billed.source,
        input_price: PicosPerToken::default(),
        output_price: PicosPerToken::default(),
        cost: Picos::ZERO,
        cost_usd: 0.0,
    };
    let input = model.input_usd_per_mtok;
    record.price_cached(
        PicosPerToken::from_usd_per_mtok(input),
        PicosPerToken::from_usd_per_mtok(model.output_usd_per_mtok),
        PicosPerToken::from_usd_per_mtok(model.cached_input_usd_per_mtok.unwrap_or(input)),
        PicosPerToken::from_usd_per_mtok(model.cache_write_usd_per_mtok.unwrap_or(input)),
    );
    record
}
