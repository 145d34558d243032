//! Steps 4–7 of routing a chat request (serve.md): the budget held for the call's worst case
//! (as `run` holds it, downgrades included), the call through the tier's models in order
//! (fallbacks, clients.md) or the mock, the answer in the caller's format
//! with the `x-switchyard-*` headers, plain or streamed, and the call's record, metrics and
//! settlement. A client that goes away mid-stream cancels the upstream call; it is billed for
//! what was produced and counted as `cancelled`.

use std::convert::Infallible;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value};

use super::error::ApiError;
use super::features::ChatFormat;
use super::{AppState, UpstreamTime};
use crate::calllog::record::{CallRecord, CallStatus, TokenSource};
use crate::calllog::report::format_usd;
use crate::clients::{
    anthropic, chat_stream_with_fallbacks, chat_with_fallbacks, openai, CallError, ChatEvent,
    ChatRequest, ChatResponse, Endpoint, FallbackError, Part, ProviderClient, ResponseBuilder,
    StopReason, TokenUsage,
};
use crate::money::{Picos, PicosPerToken};
use crate::policy::TierId;
use crate::policy::{Model, Provider};
use crate::router::{Decision, Via};
use crate::runner::budget::{self, BudgetHold, Scope};
use crate::runner::rfc3339_utc;
use crate::step::Step;
use std::sync::Arc;

/// Everything the call needs after the decision.
pub(super) struct Call {
    pub decision: Decision<'static>,
    pub step: Step,
    pub body: Map<String, Value>,
    pub format: ChatFormat,
}

fn api_error_format(format: ChatFormat) -> super::Format {
    match format {
        ChatFormat::OpenAi => super::Format::OpenAi,
        ChatFormat::Anthropic => super::Format::Anthropic,
    }
}

/// Makes the call and answers it.
pub(super) async fn forward(state: &AppState, call: Call) -> Response {
    let format = call.format;
    let mut resp = match forward_inner(state, call).await {
        Ok(r) => r,
        Err((e, d)) => {
            let mut r = e.into_response_as(api_error_format(format));
            if let Some(d) = d {
                super::chat::decision_headers(r.headers_mut(), &d);
            }
            r
        }
    };
    if format == ChatFormat::Anthropic {
        // Harmless for others; what the Anthropic SDK reads for its request id.
        resp.headers_mut()
            .entry("request-id")
            .or_insert(HeaderValue::from_static("switchyard"));
    }
    resp
}

type Failure = (ApiError, Option<Decision<'static>>);

async fn forward_inner(state: &AppState, call: Call) -> Result<Response, Failure> {
    let Call {
        decision,
        step,
        body,
        format,
    } = call;
    let stream = body.get("stream").and_then(Value::as_bool).unwrap_or(false);
    let include_usage = match format {
        ChatFormat::Anthropic => true,
        ChatFormat::OpenAi => body
            .get("stream_options")
            .and_then(|o| o.get("include_usage"))
            .and_then(Value::as_bool)
            .unwrap_or(false),
    };
    let wire = Value::Object(body);
    let parsed = match format {
        ChatFormat::OpenAi => openai::request_from_wire(&wire),
        ChatFormat::Anthropic => anthropic::request_from_wire(&wire),
    };
    let mut request = match parsed {
        Ok(r) => r,
        Err(e) => return Err((call_error(&decision.model().key, &e), Some(decision))),
    };
    let time = SystemTime::now();
    let held = match hold_budget(state, &decision, &step, &mut request, time, format).await {
        Ok(h) => h,
        Err(Refusal::Response(resp)) => return Ok(*resp),
        Err(Refusal::Error(e)) => return Err((e, Some(decision))),
    };
    let policy = &decision.compiled_policy().policy;
    let tier = &policy.tiers[held.tier];
    let chain: Vec<Arc<Model>> = std::iter::once(tier.model)
        .chain(tier.fallbacks.iter().copied())
        .map(|m| policy.models[m].clone())
        .collect();
    let ctx = Ctx {
        state: state.clone(),
        model: chain[0].clone(),
        chain,
        answering: Answering {
            tier: tier.name.clone(),
            via: held.via,
            fallback_from: Vec::new(),
        },
        limit: held.limit,
        requested: held.requested,
        decision,
        step,
        time,
        hold: held.hold,
        format,
    };
    if stream {
        ctx.stream(request, include_usage).await
    } else {
        ctx.plain(request).await
    }
}

/// One call in flight.
struct Ctx {
    state: AppState,
    decision: Decision<'static>,
    step: Step,
    /// The model that answers: the tier's first until a fallback takes the call.
    model: Arc<Model>,
    /// The tier's models in order: its model, then its fallbacks.
    chain: Vec<Arc<Model>>,
    /// Where the call went, for headers and the record.
    answering: Answering,
    /// The worst case held against a cap (`None`: no cap, so any fallback fits).
    limit: Option<Picos>,
    /// The output limit the caller asked for, before the held one replaced it.
    requested: Option<u64>,
    time: SystemTime,
    hold: BudgetHold,
    format: ChatFormat,
}

/// The tier a call went to and how (a budget may have downgraded it), and the models that
/// failed before the one answering.
#[derive(Debug, Clone)]
struct Answering {
    tier: String,
    via: Via,
    fallback_from: Vec<String>,
}

/// What the budget held for a call: its tier (the decision's, or a cheaper one under
/// `on_exceed = "downgrade"`), the worst case held, and the reservation.
struct Held {
    tier: TierId,
    via: Via,
    limit: Option<Picos>,
    requested: Option<u64>,
    hold: BudgetHold,
}

/// Why the budget did not hold a call: an answer to send as is (a 429), or an error.
enum Refusal {
    Response(Box<Response>),
    Error(ApiError),
}

/// Holds the call's worst case against the policy's caps, as `run` does: on the decision's
/// tier, or with `on_exceed = "downgrade"` on the cheapest tier whose model meets the step's
/// guards and fits; the request's output limit becomes the one paid for.
async fn hold_budget(
    state: &AppState,
    decision: &Decision<'static>,
    step: &Step,
    request: &mut ChatRequest,
    time: SystemTime,
    format: ChatFormat,
) -> Result<Held, Refusal> {
    let cp = decision.compiled_policy();
    let policy = &cp.policy;
    let requested = request.max_output_tokens;
    let mut held = Held {
        tier: decision.tier_id(),
        via: decision.via(),
        limit: None,
        requested,
        hold: BudgetHold::none(state.budget_store().clone()),
    };
    let Some(b) = policy.budget.as_ref().filter(|b| budget::has_caps(b)) else {
        return Ok(held);
    };
    let input = decision.input_tokens();
    let scope = Scope::of(&policy.name, step, time);
    let call = budget::CallSize {
        step,
        tier: held.tier,
        routed_input: input,
        input,
        requested,
    };
    let refused = match budget::hold_tier(state.budget_store(), cp, b, scope, call).await {
        Ok(tier) => {
            held.tier = tier.tier;
            if tier.downgraded {
                held.via = Via::BudgetDowngrade;
            }
            held.limit = Some(tier.limit);
            held.hold.hold(tier.reservation);
            // The provider is held to the worst case that was paid for.
            request.max_output_tokens = Some(tier.output_limit);
            return Ok(held);
        }
        Err(budget::HoldError::Unbounded(model)) => {
            let e = ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_request_error",
                format!(
                    "the policy caps spending but the call to `{model}` has no output limit: \
                     give max_tokens (or max_completion_tokens)"
                ),
            )
            .param("max_tokens");
            return Err(Refusal::Error(e));
        }
        Err(budget::HoldError::Refused(refused)) => refused,
        Err(budget::HoldError::Unavailable(e)) => {
            state
                .metrics()
                .route_error(&policy.name, "budget_store_unavailable");
            let e = ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "budget_store_unavailable",
                format!("the call is under a budget cap and {e}; it was not made"),
            );
            return Err(Refusal::Error(e));
        }
    };
    state.metrics().route_error(&policy.name, "budget_exceeded");
    let e = ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "budget_exceeded",
        refused.to_string(),
    );
    let mut resp = e.into_response_as(api_error_format(format));
    resp.headers_mut()
        .insert("x-should-retry", HeaderValue::from_static("false"));
    super::chat::decision_headers(resp.headers_mut(), decision);
    Err(Refusal::Response(Box::new(resp)))
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl Ctx {
    fn uses_mock(&self) -> bool {
        self.state.options().mock || self.model.provider == Provider::Mock
    }

    /// Clients for the tier's models in order (a `mock` model in a list has no endpoint and
    /// is left out), and the capabilities a fallback must have: those the guards holding
    /// for the step require (clients.md "Fallbacks").
    fn clients(&self) -> Result<(Vec<ProviderClient>, Vec<String>), FallbackError> {
        let mut clients = Vec::with_capacity(self.chain.len());
        for m in &self.chain {
            let Some(endpoint) = Endpoint::from_model(m) else {
                continue;
            };
            clients.push(
                ProviderClient::new(endpoint).map_err(|error| FallbackError {
                    model: m.key.clone(),
                    error,
                    trail: Default::default(),
                })?,
            );
        }
        if clients.is_empty() {
            return Err(FallbackError {
                model: self.model.key.clone(),
                error: CallError::InvalidRequest(format!(
                    "the model `{}` has no endpoint",
                    self.model.key
                )),
                trail: Default::default(),
            });
        }
        let required = if self.chain.len() > 1 {
            let cp = self.decision.compiled_policy();
            budget::required_capabilities(cp, &self.step, self.decision.input_tokens())
        } else {
            Vec::new()
        };
        Ok((clients, required))
    }

    /// Whether a fallback's worst case fits what was held (always, with no cap).
    fn fits(&self) -> impl FnMut(&Endpoint, &ChatRequest) -> bool + '_ {
        move |endpoint, _| {
            let Some(limit) = self.limit else {
                return true;
            };
            let input = self.decision.input_tokens();
            self.chain
                .iter()
                .find(|m| m.key == endpoint.key)
                .and_then(|m| {
                    budget::output_limit(self.requested, m, input)
                        .map(|out| budget::worst_case(m, input, out))
                })
                .is_some_and(|worst| worst <= limit)
        }
    }

    /// Counts and logs a call that no model of the tier answered (status `error`, nothing
    /// billed, its reservation given back), and the error the caller gets.
    fn failed(mut self, e: &FallbackError, elapsed: std::time::Duration) -> Failure {
        let mut before = e.trail.fallback_from.clone();
        if before.last() == Some(&e.model) {
            before.pop();
        }
        self.answered_by(&e.model, before);
        let decision = self.decision.clone();
        let nothing = ChatResponse {
            id: String::new(),
            model: String::new(),
            content: Vec::new(),
            stop_reason: None,
            usage: Some(TokenUsage::default()),
        };
        self.finish(&nothing, elapsed, CallStatus::Error);
        (call_error(&e.model, &e.error), Some(decision))
    }

    /// Takes note of the model that answered and the ones that failed before it.
    fn answered_by(&mut self, key: &str, fallback_from: Vec<String>) {
        if let Some(m) = self.chain.iter().find(|m| m.key == key) {
            self.model = m.clone();
        }
        self.answering.fallback_from = fallback_from;
    }

    /// The decision's headers, with the tier, model and via the call actually went to.
    fn headers(&self, h: &mut axum::http::HeaderMap) {
        call_headers(h, &self.decision, &self.answering, &self.model.key);
    }

    async fn plain(mut self, request: ChatRequest) -> Result<Response, Failure> {
        let started = Instant::now();
        let result = if self.uses_mock() {
            Ok(mock_answer(
                &self.model,
                &self.step,
                &request,
                self.decision.input_tokens(),
            ))
        } else {
            match self.clients() {
                Ok((clients, required)) => {
                    chat_with_fallbacks(&clients, &required, &request, self.fits())
                        .await
                        .map(|a| {
                            self.answered_by(&a.model, a.trail.fallback_from);
                            a.answer
                        })
                }
                Err(e) => Err(e),
            }
        };
        let elapsed = started.elapsed();
        let mut answer = match result {
            Ok(a) => a,
            Err(e) => return Err(self.failed(&e, elapsed)),
        };
        answer.model.clone_from(&self.model.model_id);
        let format = self.format;
        let mut headers = axum::http::HeaderMap::new();
        self.headers(&mut headers);
        let record = self.finish(&answer, elapsed, CallStatus::Ok);
        let value = match format {
            ChatFormat::OpenAi => openai::response_to_wire(&answer, unix_now()),
            ChatFormat::Anthropic => anthropic::response_to_wire(&answer),
        };
        let mut resp = axum::Json(value).into_response();
        resp.headers_mut().extend(headers);
        if let Ok(v) = HeaderValue::from_str(usd_decimal(record.cost).as_str()) {
            resp.headers_mut().insert("x-switchyard-cost-usd", v);
        }
        resp.extensions_mut().insert(UpstreamTime(elapsed));
        Ok(resp)
    }

    async fn stream(
        mut self,
        request: ChatRequest,
        include_usage: bool,
    ) -> Result<Response, Failure> {
        let started = Instant::now();
        let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(32);
        let mut resp = if self.uses_mock() {
            let answer = mock_answer(
                &self.model,
                &self.step,
                &request,
                self.decision.input_tokens(),
            );
            let events = answer.events();
            let mut headers = axum::http::HeaderMap::new();
            self.headers(&mut headers);
            tokio::spawn(async move {
                let mut src = futures_util::stream::iter(events.into_iter().map(Ok));
                self.pump(&mut src, tx, include_usage, started).await;
            });
            sse_response(rx, headers)
        } else {
            let (clients, required) = match self.clients() {
                Ok(c) => c,
                Err(e) => return Err(self.failed(&e, started.elapsed())),
            };
            let opened =
                chat_stream_with_fallbacks(&clients, &required, &request, self.fits()).await;
            let mut upstream = match opened {
                Ok(a) => {
                    self.answered_by(&a.model, a.trail.fallback_from);
                    a.answer
                }
                Err(e) => return Err(self.failed(&e, started.elapsed())),
            };
            let mut headers = axum::http::HeaderMap::new();
            self.headers(&mut headers);
            tokio::spawn(async move {
                self.pump(&mut upstream, tx, include_usage, started).await;
            });
            sse_response(rx, headers)
        };
        resp.extensions_mut()
            .insert(UpstreamTime(started.elapsed()));
        Ok(resp)
    }

    /// Passes the events on as they arrive, in the caller's format; stops the upstream when
    /// the caller goes away, and records the call for what was produced.
    async fn pump<S>(
        self,
        src: &mut S,
        tx: tokio::sync::mpsc::Sender<Bytes>,
        include_usage: bool,
        started: Instant,
    ) where
        S: futures_util::Stream<Item = Result<ChatEvent, CallError>> + Unpin,
    {
        use futures_util::{FutureExt, StreamExt};
        let mut built = ResponseBuilder::new();
        let mut oa = openai::StreamEncoder::new(unix_now());
        let mut an = anthropic::StreamEncoder::new();
        let mut status = CallStatus::Ok;
        let mut out: Vec<(&'static str, Value)> = Vec::new();
        let mut ended = false;
        while !ended {
            let mut next = tokio::select! {
                n = src.next() => n,
                () = tx.closed() => { status = CallStatus::Cancelled; break; }
            };
            // The events already here go out as one frame: one write and one wake-up of the
            // caller's connection instead of one per event. Nothing waits for a later event.
            let mut frames = String::new();
            loop {
                match next {
                    None => {
                        ended = true;
                        break;
                    }
                    Some(Ok(mut event)) => {
                        if let ChatEvent::Start { model, .. } = &mut event {
                            model.clone_from(&self.model.model_id);
                        }
                        built.push(&event);
                        match self.format {
                            ChatFormat::OpenAi => {
                                let shown =
                                    include_usage || !matches!(event, ChatEvent::Usage { .. });
                                if shown {
                                    if let Some(v) = oa.encode(&event) {
                                        sse_frame(&mut frames, None, &v);
                                    }
                                }
                            }
                            ChatFormat::Anthropic => {
                                out.clear();
                                an.encode(&event, &mut out);
                                for (name, v) in &out {
                                    sse_frame(&mut frames, Some(name), v);
                                }
                            }
                        }
                    }
                    Some(Err(e)) => {
                        tracing::warn!(model = %self.model.key, error = %e, "the stream broke");
                        status = CallStatus::Error;
                        ended = true;
                        break;
                    }
                }
                if frames.len() >= MAX_FRAME_BYTES {
                    break;
                }
                match src.next().now_or_never() {
                    Some(n) => next = n,
                    None => break,
                }
            }
            if ended {
                // The stream's end, in the same write as its last events.
                match self.format {
                    ChatFormat::OpenAi => frames.push_str("data: [DONE]\n\n"),
                    ChatFormat::Anthropic => {
                        out.clear();
                        an.finish(&mut out);
                        for (name, v) in &out {
                            sse_frame(&mut frames, Some(name), v);
                        }
                    }
                }
            }
            if !frames.is_empty() && tx.send(Bytes::from(frames)).await.is_err() {
                status = CallStatus::Cancelled;
                break;
            }
        }
        let answer = built.finish();
        let _ = self.finish(&answer, started.elapsed(), status);
    }

    fn count_call(&self, status: &str, seconds: f64) {
        let m = self.state.metrics();
        m.call(
            self.decision.policy(),
            &self.answering.tier,
            &self.model.key,
            status,
        );
        m.call_duration(self.decision.policy(), &self.model.key, seconds);
    }

    /// Bills, settles, counts and logs a call that produced `answer` (whole or in part).
    fn finish(
        self,
        answer: &ChatResponse,
        elapsed: std::time::Duration,
        status: CallStatus,
    ) -> CallRecord {
        let (cached, written) = answer
            .usage
            .as_ref()
            .map_or((0, 0), |u| (u.cached_input_tokens, u.cache_write_tokens));
        let (input, output, source) = match answer.usage {
            Some(u) => (u.input_tokens, u.output_tokens, TokenSource::Provider),
            None => {
                // No counts from the provider (a cut stream): the step's input as counted
                // and the text produced, counted.
                let policy = &self.decision.compiled_policy().policy;
                let tok = self.model.tokenizer.unwrap_or(policy.tokenizer);
                (
                    self.decision.input_tokens(),
                    tok.count(&answer.text()),
                    TokenSource::Tokenizer,
                )
            }
        };
        let policy = &self.decision.compiled_policy().policy;
        let mut record = CallRecord {
            time: rfc3339_utc(self.time),
            trace_id: self.step.trace_id.clone(),
            policy: policy.name.clone(),
            policy_version: policy.version.clone(),
            step: crate::runner::step_features(&self.step, self.decision.input_tokens()),
            tier: self.answering.tier.clone(),
            model: self.model.key.clone(),
            rule: self.decision.rule().map(str::to_string),
            via: self.answering.via,
            guard: self.decision.guard().map(str::to_string),
            status,
            latency_us: u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX),
            input_tokens: input,
            output_tokens: output,
            cached_input_tokens: cached,
            cache_write_tokens: written,
            fallback_from: self.answering.fallback_from.clone(),
            token_source: source,
            input_price: PicosPerToken::default(),
            output_price: PicosPerToken::default(),
            cost: Picos::ZERO,
            cost_usd: 0.0,
        };
        let m = &self.model;
        let input_price = m.input_usd_per_mtok;
        record.price_cached(
            PicosPerToken::from_usd_per_mtok(input_price),
            PicosPerToken::from_usd_per_mtok(m.output_usd_per_mtok),
            PicosPerToken::from_usd_per_mtok(m.cached_input_usd_per_mtok.unwrap_or(input_price)),
            PicosPerToken::from_usd_per_mtok(m.cache_write_usd_per_mtok.unwrap_or(input_price)),
        );
        self.count_call(status.as_str(), elapsed.as_secs_f64());
        let m = self.state.metrics();
        m.spend(
            &record.policy,
            &record.tier,
            &record.model,
            record.cost.usd(),
        );
        m.tokens(&record.policy, &record.model, input, output);
        self.state.record_call(&record);
        let Ctx { hold, .. } = self;
        hold.settle_soon(record.cost);
        record
    }
}

/// The call's cost as an exact decimal number of dollars, no `$`.
pub(super) fn usd_decimal(cost: Picos) -> String {
    format_usd(u128::from(cost.0))
        .trim_start_matches('$')
        .to_string()
}

/// The decision's headers, with the tier, model and via the call actually went to (a
/// budget downgrade, a fallback).
fn call_headers(
    h: &mut axum::http::HeaderMap,
    decision: &Decision<'_>,
    answering: &Answering,
    model: &str,
) {
    super::chat::decision_headers(h, decision);
    let mut put = |name: &'static str, value: &str| {
        if let Ok(v) = HeaderValue::from_str(value) {
            h.insert(name, v);
        }
    };
    put("x-switchyard-tier", &answering.tier);
    put("x-switchyard-model", model);
    put("x-switchyard-via", answering.via.as_str());
}

/// Events already received are sent together up to about this size, so a long answer that
/// arrives at once still streams in pieces.
const MAX_FRAME_BYTES: usize = 64 * 1024;

/// Appends one SSE event (`event:` line if named, one `data:` line of compact JSON).
fn sse_frame(frames: &mut String, name: Option<&str>, data: &Value) {
    use std::fmt::Write as _;
    if let Some(name) = name {
        let _ = writeln!(frames, "event: {name}");
    }
    let _ = write!(frames, "data: {data}\n\n");
}

fn sse_response(
    rx: tokio::sync::mpsc::Receiver<Bytes>,
    headers: axum::http::HeaderMap,
) -> Response {
    let body = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|b| (Ok::<_, Infallible>(b), rx))
    });
    let mut resp = Response::new(Body::from_stream(body));
    let h = resp.headers_mut();
    h.insert(
        "content-type",
        HeaderValue::from_static("text/event-stream; charset=utf-8"),
    );
    h.insert("cache-control", HeaderValue::from_static("no-cache"));
    h.extend(headers);
    resp
}

/// The offline answer of `--mock` (and of `provider = "mock"` models): a short text, with
/// the step's size as its usage (the output at most the limit sent).
fn mock_answer(model: &Model, step: &Step, request: &ChatRequest, input: u64) -> ChatResponse {
    let text = "This is a mock answer from switchyard.".to_string();
    let wanted = step.expected_output_tokens.unwrap_or(8);
    let output = request.max_output_tokens.map_or(wanted, |l| wanted.min(l));
    // Tools offered and not yet answered: a call of one, as the library's mock does.
    let (content, stop) = match crate::clients::mock::mock_tool_call(request) {
        Some(call) => (vec![call], StopReason::ToolUse),
        None => (vec![Part::text(text)], StopReason::EndTurn),
    };
    ChatResponse {
        id: format!("mock-{}", unix_now()),
        model: model.model_id.clone(),
        content,
        stop_reason: Some(stop),
        usage: Some(TokenUsage {
            input_tokens: input,
            output_tokens: output,
            ..TokenUsage::default()
        }),
    }
}

/// An upstream failure as the caller sees it (serve.md, Errors).
fn call_error(model: &str, e: &CallError) -> ApiError {
    let msg = format!("{model}: {e}");
    match e {
        CallError::Status {
            status, message, ..
        } => {
            let status = StatusCode::from_u16(*status).unwrap_or(StatusCode::BAD_GATEWAY);
            ApiError::new(status, "upstream_error", format!("{model}: {message}"))
        }
        CallError::Connect(_) | CallError::StreamCut(_) | CallError::InvalidResponse(_) => {
            ApiError::new(StatusCode::BAD_GATEWAY, "upstream_unavailable", msg)
        }
        CallError::Timeout(_) => {
            ApiError::new(StatusCode::GATEWAY_TIMEOUT, "upstream_timeout", msg)
        }
        CallError::MissingApiKey { .. } => {
            ApiError::new(StatusCode::BAD_GATEWAY, "missing_api_key", msg)
        }
        CallError::UnsupportedParameter { field, .. } => {
            let field = field.clone();
            ApiError::new(StatusCode::BAD_REQUEST, "unsupported_parameter", msg).param(field)
        }
        CallError::InvalidRequest(_) => {
            ApiError::new(StatusCode::BAD_REQUEST, "invalid_request_error", msg)
        }
    }
}
