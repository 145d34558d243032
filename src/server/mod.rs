//! `switchyard serve`: the HTTP server. [`app`] builds the axum [`Router`](axum::Router) from
//! an [`AppState`], so tests drive it with `oneshot` and no socket, and the command serves it
//! on a listener.
//!
//! | file | what it does |
//! | --- | --- |
//! | `status.rs` | `/healthz`, `/readyz`, `/v1/status`, `/v1/models`, `/metrics` |
//! | `route.rs` | `POST /v1/route`: the decision API, one step or an NDJSON batch |
//! | `chat.rs` | `POST /v1/chat/completions` and `POST /v1/messages`: a chat request routed |
//! | `features.rs` | how a chat request becomes a step (given and derived features) |
//! | `auth.rs` | the API token, compared in constant time |
//! | `budgets.rs` | `GET /v1/budgets`: every counter of the policies' caps, from the store |
//! | `error.rs` | error answers in each endpoint's format, and their statuses |
//! | `metrics.rs` | the Prometheus metrics |
//! | `shutdown.rs` | SIGTERM/SIGINT drain, SIGHUP reload |
//!
//! Every request reads the policy set once (`load_full`, safe across `.await`) and is
//! decided wholly under it, while reloads swap new sets in underneath.

pub mod auth;
mod budgets;
mod chat;
pub mod error;
pub mod features;
pub mod metrics;
mod proxy;
mod route;
pub mod shutdown;
mod status;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::HeaderValue;
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};
use tracing::Instrument;

use crate::reload::{Outcome, ReloadReport, Reloader};
use crate::router::{PolicySet, Router};
use crate::runner::budget::{Ledger, Store};
use crate::runner::sink::CallSink;
pub use auth::Token;
pub use error::{ApiError, Format};
pub use metrics::Metrics;

/// The default `--max-body-bytes`: 8 MiB.
pub const DEFAULT_MAX_BODY_BYTES: usize = 8 * 1024 * 1024;

/// How the server behaves: limits, auth, the mock provider.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// Bodies larger than this get 413.
    pub max_body_bytes: usize,
    /// The token every endpoint but `/healthz` and `/readyz` requires; `None`: no auth.
    pub auth_token: Option<Token>,
    /// Answer every model with the built-in mock provider.
    pub mock: bool,
}

impl Default for ServeOptions {
    fn default() -> Self {
        ServeOptions {
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            auth_token: None,
            mock: false,
        }
    }
}

/// Everything the handlers share: the hot-reloaded router, the reloader (when watching),
/// metrics and options. Cheap to clone.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

struct Inner {
    router: Arc<Router>,
    reloader: Option<Reloader>,
    metrics: Arc<Metrics>,
    options: ServeOptions,
    started: SystemTime,
    draining: AtomicBool,
    next_request: AtomicU64,
    ledger: Arc<Ledger>,
    budgets: Arc<Store>,
    calls: Option<Arc<dyn CallSink>>,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("options", &self.0.options)
            .finish_non_exhaustive()
    }
}

impl AppState {
    /// A state serving `router` (fixed, or kept up to date by a watcher whose [`Reloader`] is
    /// given with [`with_reloader`](Self::with_reloader)).
    pub fn new(router: Arc<Router>, options: ServeOptions) -> AppState {
        AppState::with_metrics(router, options, Arc::new(Metrics::new()))
    }

    /// The same, counting into `metrics` (created before the watcher, so reloads are counted
    /// from the first one; see [`count_reload`]).
    pub fn with_metrics(
        router: Arc<Router>,
        options: ServeOptions,
        metrics: Arc<Metrics>,
    ) -> AppState {
        let ledger = Arc::new(Ledger::new());
        let budgets = Arc::new(Store::memory(ledger.clone()));
        budgets.observe(metrics.clone());
        AppState(Arc::new(Inner {
            router,
            reloader: None,
            metrics,
            options,
            started: SystemTime::now(),
            draining: AtomicBool::new(false),
            next_request: AtomicU64::new(1),
            ledger,
            budgets,
            calls: None,
        }))
    }

    /// The watcher's reloader, for `/v1/status` and SIGHUP. Call before sharing the state.
    pub fn with_reloader(self, reloader: Reloader) -> AppState {
        match Arc::try_unwrap(self.0) {
            Ok(mut inner) => {
                inner.reloader = Some(reloader);
                AppState(Arc::new(inner))
            }
            // Already shared: keep it as it is rather than fail.
            Err(shared) => AppState(shared),
        }
    }

    /// Also writes one call record per routed chat request to `sink` (`--call-log`). Call
    /// before sharing the state.
    pub fn with_call_sink(self, sink: Arc<dyn CallSink>) -> AppState {
        match Arc::try_unwrap(self.0) {
            Ok(mut inner) => {
                inner.calls = Some(sink);
                AppState(Arc::new(inner))
            }
            Err(shared) => AppState(shared),
        }
    }

    /// Holds budgets in `store` (`--budget-store`), its events counted in the metrics. Call
    /// before sharing the state.
    pub fn with_budget_store(self, store: Arc<Store>) -> AppState {
        match Arc::try_unwrap(self.0) {
            Ok(mut inner) => {
                store.observe(inner.metrics.clone());
                if let Some(l) = store.ledger() {
                    inner.ledger = l.clone();
                }
                inner.budgets = store;
                AppState(Arc::new(inner))
            }
            Err(shared) => AppState(shared),
        }
    }

    /// The budget ledger every proxied call reserves against, when budgets are held in the
    /// process (with a shared store it stays empty).
    pub fn ledger(&self) -> &Ledger {
        &self.0.ledger
    }

    /// Where budgets are held.
    pub fn budget_store(&self) -> &Arc<Store> {
        &self.0.budgets
    }

    /// Writes out what the call log still holds.
    pub fn flush_calls(&self) -> std::io::Result<()> {
        self.0.calls.as_ref().map_or(Ok(()), |s| s.flush())
    }

    /// Emits a proxied call's event and appends its record to the call log.
    fn record_call(&self, record: &crate::calllog::record::CallRecord) {
        crate::runner::sink::emit_event(record);
        if record.status != crate::calllog::CallStatus::Ok {
            tracing::info!(status = record.status.as_str(), model = %record.model, "call ended early");
        }
        if let Some(s) = &self.0.calls {
            if let Err(e) = s.record(record) {
                tracing::error!(error = %e, "a call record could not be written");
            }
        }
    }

    /// The policy set served now; hold it for the whole request.
    pub fn policies(&self) -> Arc<PolicySet> {
        self.0.router.current()
    }

    /// The router.
    pub fn router(&self) -> &Arc<Router> {
        &self.0.router
    }

    /// The reloader, when the files are watched.
    pub fn reloader(&self) -> Option<&Reloader> {
        self.0.reloader.as_ref()
    }

    /// The metrics.
    pub fn metrics(&self) -> &Metrics {
        &self.0.metrics
    }

    /// The options.
    pub fn options(&self) -> &ServeOptions {
        &self.0.options
    }

    /// The token, when auth is on.
    pub fn auth_token(&self) -> Option<&Token> {
        self.0.options.auth_token.as_ref()
    }

    /// When the server started (the first load).
    pub fn started(&self) -> SystemTime {
        self.0.started
    }

    /// Marks the server as draining: `/readyz` answers 503 so load balancers stop sending.
    pub fn start_draining(&self) {
        self.0.draining.store(true, Ordering::Relaxed);
    }

    /// Whether the server is draining.
    pub fn is_draining(&self) -> bool {
        self.0.draining.load(Ordering::Relaxed)
    }

    fn next_request_id(&self) -> u64 {
        self.0.next_request.fetch_add(1, Ordering::Relaxed)
    }
}

/// Counts a reload attempt into the metrics (for [`WatchOptions::on_reload`](crate::reload::WatchOptions::on_reload)).
pub fn count_reload(metrics: &Metrics, report: &ReloadReport) {
    match report.outcome {
        Outcome::Reloaded => metrics.reloaded(true),
        Outcome::Failed | Outcome::Missing => metrics.reloaded(false),
        Outcome::Superseded => {}
    }
}

/// The whole HTTP API over `state`.
pub fn app(state: AppState) -> axum::Router {
    let limit = state.options().max_body_bytes;
    let guarded = axum::Router::new()
        .route("/metrics", get(status::metrics))
        .route("/v1/status", get(status::status))
        .route("/v1/models", get(status::models))
        .route("/v1/budgets", get(budgets::budgets))
        .route("/v1/route", post(route::route))
        .route("/v1/chat/completions", post(chat::chat_completions))
        .route("/v1/messages", post(chat::messages))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            auth::require_token,
        ));
    axum::Router::new()
        .route("/healthz", get(status::healthz))
        .route("/readyz", get(status::readyz))
        .merge(guarded)
        .layer(DefaultBodyLimit::max(limit))
        .layer(middleware::from_fn_with_state(state.clone(), observe))
        .with_state(state)
}

/// Time the upstream call took, put in a response's extensions by the proxy so the overhead
/// histogram counts only switchyard's own time.
#[derive(Debug, Clone, Copy)]
pub struct UpstreamTime(pub std::time::Duration);

/// One span per request with its id (the caller's `x-request-id`, or a new one, echoed back);
/// the handlers add policy, tier and model to it. Records the overhead histogram.
async fn observe(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let start = Instant::now();
    let endpoint = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned());
    let id = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 128)
        .map(str::to_owned)
        .unwrap_or_else(|| format!("{:016x}", state.next_request_id()));
    let span = tracing::info_span!(
        "request",
        id = %id,
        method = %req.method(),
        path = %req.uri().path(),
        policy = tracing::field::Empty,
        tier = tracing::field::Empty,
        model = tracing::field::Empty,
        status = tracing::field::Empty,
    );
    let mut resp = next.run(req).instrument(span.clone()).await;
    span.record("status", resp.status().as_u16());
    let mut spent = start.elapsed();
    if let Some(UpstreamTime(t)) = resp.extensions().get::<UpstreamTime>() {
        spent = spent.saturating_sub(*t);
    }
    if let Some(endpoint) = endpoint {
        state.metrics().overhead(&endpoint, spent.as_secs_f64());
    }
    span.in_scope(|| tracing::info!(elapsed_us = spent.as_micros() as u64, "answered"));
    if let Ok(v) = HeaderValue::from_str(&id) {
        resp.headers_mut().insert("x-request-id", v);
    }
    resp
}
