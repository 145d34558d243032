//! Where the counters of the caps live: the [`BudgetStore`] trait (reserve, settle, release,
//! status), its two stores — the in-process [`Ledger`] and [`RedisStore`], shared by every
//! replica of a fleet — and [`Store`], the one a runner or a server holds, which also applies
//! `--budget-store-unavailable` and reports to a [`BudgetObserver`] (the metrics).
//!
//! The contract is docs/fleet.md: a store URL, holds with leases, reserve and settle each one
//! atomic step, fail closed unless told otherwise.

use std::fmt;
use std::future::Future;
use std::str::FromStr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use super::redis::{RedisHold, RedisStore};
use super::{BudgetExceeded, BudgetScope, Ledger, Reservation, Scope, DEFAULT_TRACE_IDLE};
use crate::calllog::report::format_usd;
use crate::money::Picos;
use crate::policy::Budget;

/// `--budget-lease-margin`'s default: added to a call's time limit to make its hold's lease.
pub const DEFAULT_LEASE_MARGIN: Duration = Duration::from_secs(10);

/// The Redis key prefix when the URL gives no `?prefix=`.
pub const DEFAULT_PREFIX: &str = "switchyard";

/// `--budget-store`: where the counters live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreUrl {
    /// `memory`: in the process.
    Memory,
    /// `redis://…` or `rediss://…`: shared by every process given the same URL and prefix.
    Redis {
        /// The URL the client connects to, `prefix` taken out.
        url: String,
        /// The first part of every key.
        prefix: String,
    },
}

/// A `--budget-store` value that is neither `memory` nor a Redis URL.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid budget store `{given}`: {why}; expected `memory`, `redis://HOST:PORT[/DB]` or `rediss://…`, optionally with `?prefix=NAME`")]
pub struct InvalidStoreUrl {
    given: String,
    why: &'static str,
}

impl FromStr for StoreUrl {
    type Err = InvalidStoreUrl;

    fn from_str(s: &str) -> Result<StoreUrl, InvalidStoreUrl> {
        let bad = |why| InvalidStoreUrl {
            given: s.to_string(),
            why,
        };
        if s == "memory" {
            return Ok(StoreUrl::Memory);
        }
        if !(s.starts_with("redis://") || s.starts_with("rediss://")) {
            return Err(bad("unknown scheme"));
        }
        let (base, query) = s.split_once('?').unwrap_or((s, ""));
        let mut prefix = None;
        let mut rest = Vec::new();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            match pair.split_once('=') {
                Some(("prefix", v)) => {
                    if v.is_empty() {
                        return Err(bad("the prefix is empty"));
                    }
                    prefix = Some(v.to_string());
                }
                // Other parameters are the Redis client's (e.g. `protocol=resp3`).
                _ => rest.push(pair),
            }
        }
        let url = if rest.is_empty() {
            base.to_string()
        } else {
            format!("{base}?{}", rest.join("&"))
        };
        // The client checks the rest of the URL (host, port, db) now, not at the first call.
        if ::redis::Client::open(url.as_str()).is_err() {
            return Err(bad("not a Redis URL"));
        }
        Ok(StoreUrl::Redis {
            url,
            prefix: prefix.unwrap_or_else(|| DEFAULT_PREFIX.to_string()),
        })
    }
}

/// `--budget-store-unavailable`: what a call under a cap does when the store cannot be
/// reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WhenUnavailable {
    /// Refused (`serve`: 503 `budget_store_unavailable`; `run`: an error row).
    #[default]
    Closed,
    /// Allowed, with a warning and a counted metric; its cost is still added when the store
    /// can take it.
    Open,
}

impl FromStr for WhenUnavailable {
    type Err = String;

    fn from_str(s: &str) -> Result<WhenUnavailable, String> {
        match s {
            "closed" => Ok(WhenUnavailable::Closed),
            "open" => Ok(WhenUnavailable::Open),
            _ => Err(format!("expected `closed` or `open`, found `{s}`")),
        }
    }
}

/// How a [`Store`] is opened: the four `--budget-*` flags.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// `--budget-store`.
    pub url: StoreUrl,
    /// `--budget-store-unavailable`.
    pub unavailable: WhenUnavailable,
    /// `--budget-lease-margin`.
    pub lease_margin: Duration,
    /// `--budget-trace-idle`.
    pub trace_idle: Duration,
}

impl Default for StoreOptions {
    fn default() -> StoreOptions {
        StoreOptions {
            url: StoreUrl::Memory,
            unavailable: WhenUnavailable::Closed,
            lease_margin: DEFAULT_LEASE_MARGIN,
            trace_idle: DEFAULT_TRACE_IDLE,
        }
    }
}

/// The store could not be reached (or answered something unexpected).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the budget store cannot be reached: {0}")]
pub struct StoreError(pub String);

/// Why a reservation was not made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReserveError {
    /// A cap refuses the call.
    Exceeded(BudgetExceeded),
    /// The store cannot be reached and the call is under a shared cap (`closed`).
    Unavailable(StoreError),
}

/// What a settlement did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settlement {
    /// The hold was replaced by the cost.
    Settled,
    /// The hold's lease had ended before the cost came; the cost was still added.
    Late,
    /// This reservation was settled before: nothing changed.
    Duplicate,
}

/// A call to reserve: its caps and scope, the tier it goes to (for messages), its worst case
/// and how long the hold lives without a settlement.
#[derive(Debug, Clone, Copy)]
pub struct ReserveRequest<'a> {
    /// The policy's `[budget]`.
    pub budget: &'a Budget,
    /// Where the call's spend counts.
    pub scope: Scope<'a>,
    /// The tier's name.
    pub tier: &'a str,
    /// The call's worst case.
    pub amount: Picos,
    /// The call's time limit plus the lease margin.
    pub lease: Duration,
}

/// A policy's caps, for a status listing.
#[derive(Debug, Clone)]
pub struct PolicyCaps {
    /// The policy's name (the workload).
    pub policy: String,
    /// Its `[budget]`.
    pub budget: Budget,
}

impl PolicyCaps {
    /// The caps of every policy of `set` that has a `[budget]`.
    pub fn of_set(set: &crate::router::PolicySet) -> Vec<PolicyCaps> {
        set.policies()
            .iter()
            .filter_map(|p| {
                p.policy.budget.as_ref().map(|b| PolicyCaps {
                    policy: p.policy.name.clone(),
                    budget: b.clone(),
                })
            })
            .collect()
    }
}

/// Every counter as `GET /v1/budgets` and `budget status --format json` show it.
pub fn status_json(store: &str, counters: &[CounterStatus]) -> serde_json::Value {
    serde_json::json!({
        "store": store,
        "counters": counters.iter().map(CounterStatus::to_json).collect::<Vec<_>>(),
    })
}

/// What a counter is kept for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CounterSubject {
    /// A UTC day (days since 1970-01-01) of the workload.
    Day(u64),
    /// A trace id.
    Trace(String),
}

/// One counter as the store holds it now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CounterStatus {
    /// The policy whose cap it is.
    pub policy: String,
    /// Which cap.
    pub scope: BudgetScope,
    /// The day or trace it counts.
    pub subject: CounterSubject,
    /// The cap.
    pub cap: Picos,
    /// Settled spend.
    pub committed: Picos,
    /// Live holds.
    pub held: Picos,
}

impl CounterStatus {
    /// What a call's worst case may still take.
    pub fn remaining(&self) -> Picos {
        self.cap
            .saturating_sub(self.committed)
            .saturating_sub(self.held)
    }

    /// As JSON, amounts in exact dollars (decimal strings, so no float rounds them).
    pub fn to_json(&self) -> serde_json::Value {
        let usd = |p: Picos| {
            format_usd(u128::from(p.0))
                .trim_start_matches('$')
                .to_string()
        };
        let mut v = serde_json::json!({
            "policy": self.policy,
            "cap": self.scope.key(),
        });
        match &self.subject {
            CounterSubject::Day(d) => v["day"] = day_date(*d).into(),
            CounterSubject::Trace(t) => v["trace_id"] = t.clone().into(),
        }
        v["cap_usd"] = usd(self.cap).into();
        v["committed_usd"] = usd(self.committed).into();
        v["held_usd"] = usd(self.held).into();
        v["remaining_usd"] = usd(self.remaining()).into();
        v
    }
}

/// A UTC day number as `YYYY-MM-DD`.
pub fn day_date(day: u64) -> String {
    let secs = i64::try_from(day.saturating_mul(86_400)).unwrap_or(0);
    jiff::Timestamp::from_second(secs)
        .map(|t| t.strftime("%Y-%m-%d").to_string())
        .unwrap_or_else(|_| day.to_string())
}

/// Told what the store does, for metrics: errors, late settlements, and the totals of a
/// counter each time the store reports them.
pub trait BudgetObserver: Send + Sync {
    /// The store could not be reached.
    fn store_error(&self);
    /// A settlement came after its hold's lease.
    fn late_settlement(&self);
    /// A counter of `policy`'s cap `scope` now holds these totals.
    fn counter(&self, policy: &str, scope: BudgetScope, committed: Picos, held: Picos);
}

/// Where budget counters live. Reserve and settle are each one atomic step over every counter
/// of a call: the hold is added to all of them or to none.
pub trait BudgetStore: Send + Sync {
    /// A hold, to settle or release.
    type Reservation: Send + 'static;

    /// Holds the call's worst case under every cap, or says which cap refuses it.
    fn reserve(
        &self,
        request: ReserveRequest<'_>,
    ) -> impl Future<Output = Result<Self::Reservation, ReserveError>> + Send;

    /// Replaces the hold by the call's actual cost (idempotent).
    fn settle(
        &self,
        reservation: Self::Reservation,
        actual: Picos,
    ) -> impl Future<Output = Result<Settlement, StoreError>> + Send;

    /// Gives the hold back unspent (the call failed).
    fn release(
        &self,
        reservation: Self::Reservation,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Every counter of these policies' caps, with its totals now.
    fn status(
        &self,
        policies: &[PolicyCaps],
    ) -> impl Future<Output = Result<Vec<CounterStatus>, StoreError>> + Send;
}

impl BudgetStore for Ledger {
    type Reservation = Reservation;

    async fn reserve(&self, r: ReserveRequest<'_>) -> Result<Reservation, ReserveError> {
        Ledger::reserve(self, r.budget, r.scope, r.tier, r.amount).map_err(ReserveError::Exceeded)
    }

    async fn settle(&self, r: Reservation, actual: Picos) -> Result<Settlement, StoreError> {
        Ledger::settle(self, r, actual);
        Ok(Settlement::Settled)
    }

    async fn release(&self, r: Reservation) -> Result<(), StoreError> {
        Ledger::release(self, r);
        Ok(())
    }

    async fn status(&self, policies: &[PolicyCaps]) -> Result<Vec<CounterStatus>, StoreError> {
        Ok(self.counters(policies))
    }
}

/// A hold made by a [`Store`].
#[derive(Debug)]
#[must_use = "a reservation holds budget until it is settled or released"]
pub enum StoreReservation {
    /// In the process.
    Memory(Reservation),
    /// In Redis (or, with `open`, promised to it: the store was down at reserve time).
    Redis(RedisHold),
}

enum Kind {
    Memory(Arc<Ledger>),
    Redis(RedisStore),
}

/// The store a runner or server holds: memory or Redis, with the unavailable mode applied and
/// its events reported to the observer.
pub struct Store {
    kind: Kind,
    unavailable: WhenUnavailable,
    lease_margin: Duration,
    observer: OnceLock<Arc<dyn BudgetObserver>>,
    /// Settlements and releases running in spawned tasks.
    pending: AtomicUsize,
}

impl fmt::Debug for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Store")
            .field("kind", &self.kind_name())
            .field("unavailable", &self.unavailable)
            .field("lease_margin", &self.lease_margin)
            .finish()
    }
}

impl Store {
    /// The in-process store over `ledger`.
    pub fn memory(ledger: Arc<Ledger>) -> Store {
        Store {
            kind: Kind::Memory(ledger),
            unavailable: WhenUnavailable::Closed,
            lease_margin: DEFAULT_LEASE_MARGIN,
            observer: OnceLock::new(),
            pending: AtomicUsize::new(0),
        }
    }

    /// Opens the store `options` name. A Redis store connects lazily (and reconnects by
    /// itself), so a process starts while Redis is down; it must be called in a Tokio runtime.
    pub fn open(options: &StoreOptions) -> Result<Store, StoreError> {
        let kind = match &options.url {
            StoreUrl::Memory => {
                Kind::Memory(Arc::new(Ledger::new().with_trace_idle(options.trace_idle)))
            }
            StoreUrl::Redis { url, prefix } => {
                Kind::Redis(RedisStore::open(url, prefix, options.trace_idle)?)
            }
        };
        Ok(Store {
            kind,
            unavailable: options.unavailable,
            lease_margin: options.lease_margin,
            observer: OnceLock::new(),
            pending: AtomicUsize::new(0),
        })
    }

    /// `memory` or `redis`.
    pub fn kind_name(&self) -> &'static str {
        match self.kind {
            Kind::Memory(_) => "memory",
            Kind::Redis(_) => "redis",
        }
    }

    /// The in-process ledger, when that is the store.
    pub fn ledger(&self) -> Option<&Arc<Ledger>> {
        match &self.kind {
            Kind::Memory(l) => Some(l),
            Kind::Redis(_) => None,
        }
    }

    /// The Redis store, when that is the store.
    pub fn redis(&self) -> Option<&RedisStore> {
        match &self.kind {
            Kind::Redis(r) => Some(r),
            Kind::Memory(_) => None,
        }
    }

    /// `--budget-lease-margin`.
    pub fn lease_margin(&self) -> Duration {
        self.lease_margin
    }

    /// Reports errors, late settlements and counter totals to `observer` (set once; later
    /// calls are ignored).
    pub fn observe(&self, observer: Arc<dyn BudgetObserver>) {
        let _ = self.observer.set(observer);
    }

    /// Waits (up to `limit`) for the settlements and releases still running in spawned tasks,
    /// so a process that exits has counted what its calls spent.
    pub async fn wait_settled(&self, limit: Duration) {
        let start = std::time::Instant::now();
        while self.pending.load(Ordering::Acquire) > 0 && start.elapsed() < limit {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    fn observer(&self) -> Option<&Arc<dyn BudgetObserver>> {
        self.observer.get()
    }

    /// Logs and counts a store error.
    fn store_error(&self, e: &StoreError, what: &str) {
        tracing::warn!(target: "switchyard::budget", error = %e, "{what}");
        self.count_store_error();
    }

    /// Counts a store error its caller reports.
    fn count_store_error(&self) {
        if let Some(o) = self.observer() {
            o.store_error();
        }
    }

    /// Reports the memory ledger's counters of a scope after a change.
    fn report_memory(&self, ledger: &Ledger, policy: &str, trace: Option<&str>, day: Option<u64>) {
        let Some(o) = self.observer() else { return };
        if let Some(d) = day {
            let s = ledger.workload_day_spend(policy, d);
            o.counter(policy, BudgetScope::WorkloadDay, s.settled, s.reserved);
        }
        if let Some(t) = trace {
            let s = ledger.trace_spend(t);
            o.counter(policy, BudgetScope::Trace, s.settled, s.reserved);
        }
    }

    /// Settles (at `actual`) or releases (`None`) an in-process reservation, at once.
    fn finish_memory(&self, res: Reservation, actual: Option<Picos>) {
        let Kind::Memory(l) = &self.kind else {
            // A memory reservation given to a Redis store: nothing of it is held there.
            return;
        };
        let (policy, trace, day) = res.scope();
        match actual {
            Some(a) => Ledger::settle(l, res, a),
            None => Ledger::release(l, res),
        }
        if let Some(policy) = policy {
            self.report_memory(l, &policy, trace.as_deref(), day);
        }
    }

    fn report_redis(&self, hold: &RedisHold, totals: &[(Picos, Picos)]) {
        let Some(o) = self.observer() else { return };
        for (c, (committed, held)) in hold.counters().iter().zip(totals) {
            o.counter(hold.policy(), c.scope(), *committed, *held);
        }
    }
}

impl BudgetStore for Store {
    type Reservation = StoreReservation;

    async fn reserve(&self, r: ReserveRequest<'_>) -> Result<StoreReservation, ReserveError> {
        match &self.kind {
            Kind::Memory(l) => {
                let res = Ledger::reserve(l, r.budget, r.scope, r.tier, r.amount)
                    .map_err(ReserveError::Exceeded)?;
                let day = r.budget.per_workload_day.map(|_| r.scope.day);
                let trace = r.budget.per_trace.and(r.scope.trace);
                self.report_memory(l, r.scope.workload, trace, day);
                Ok(StoreReservation::Memory(res))
            }
            Kind::Redis(s) => match s.reserve_hold(r).await {
                Ok((hold, totals)) => {
                    self.report_redis(&hold, &totals);
                    Ok(StoreReservation::Redis(hold))
                }
                Err(ReserveError::Unavailable(e)) => match self.unavailable {
                    WhenUnavailable::Closed => {
                        self.store_error(&e, "a capped call refused: the budget store is down");
                        Err(ReserveError::Unavailable(e))
                    }
                    WhenUnavailable::Open => {
                        self.store_error(
                            &e,
                            "a capped call allowed unchecked: the budget store is down (open)",
                        );
                        Ok(StoreReservation::Redis(s.unchecked_hold(r)))
                    }
                },
                Err(e) => Err(e),
            },
        }
    }

    async fn settle(&self, r: StoreReservation, actual: Picos) -> Result<Settlement, StoreError> {
        match (&self.kind, r) {
            (Kind::Memory(_), StoreReservation::Memory(res)) => {
                self.finish_memory(res, Some(actual));
                Ok(Settlement::Settled)
            }
            (Kind::Redis(s), StoreReservation::Redis(hold)) => {
                match s.finish_hold(&hold, actual, false).await {
                    Ok((settlement, totals)) => {
                        self.report_redis(&hold, &totals);
                        if settlement == Settlement::Late {
                            tracing::warn!(
                                target: "switchyard::budget",
                                reservation = hold.id(),
                                actual_usd = actual.usd(),
                                "a call settled after its hold's lease ended; its cost still counts"
                            );
                            if let Some(o) = self.observer() {
                                o.late_settlement();
                            }
                        }
                        Ok(settlement)
                    }
                    Err(e) => {
                        self.store_error(&e, "a call's cost could not be settled");
                        Err(e)
                    }
                }
            }
            _ => Err(StoreError("a reservation of another store".into())),
        }
    }

    async fn release(&self, r: StoreReservation) -> Result<(), StoreError> {
        match (&self.kind, r) {
            (Kind::Memory(_), StoreReservation::Memory(res)) => {
                self.finish_memory(res, None);
                Ok(())
            }
            (Kind::Redis(s), StoreReservation::Redis(hold)) => {
                match s.finish_hold(&hold, Picos::ZERO, true).await {
                    Ok((_, totals)) => {
                        self.report_redis(&hold, &totals);
                        Ok(())
                    }
                    Err(e) => {
                        self.store_error(&e, "a hold could not be released (its lease ends it)");
                        Err(e)
                    }
                }
            }
            _ => Err(StoreError("a reservation of another store".into())),
        }
    }

    async fn status(&self, policies: &[PolicyCaps]) -> Result<Vec<CounterStatus>, StoreError> {
        match &self.kind {
            Kind::Memory(l) => Ok(l.counters(policies)),
            Kind::Redis(s) => s
                .read_counters(policies)
                .await
                // Counted, not logged: a status read's caller reports the error itself (the
                // CLI's error line, serve's 503 and its log line), so it is said once.
                .inspect_err(|_| self.count_store_error()),
        }
    }
}

/// A hold owned by one call: settled at the actual cost, or released when the call fails or
/// is dropped midway (a timeout, a client gone), so no budget leaks. Dropped without either,
/// a Redis hold is released by a spawned task (its lease is the backstop).
#[derive(Debug)]
pub struct BudgetHold {
    store: Arc<Store>,
    reservation: Option<StoreReservation>,
}

impl BudgetHold {
    /// Nothing held yet (a call under no cap keeps it so).
    pub fn none(store: Arc<Store>) -> BudgetHold {
        BudgetHold {
            store,
            reservation: None,
        }
    }

    /// Holds `reservation` for the call.
    pub fn hold(&mut self, reservation: StoreReservation) {
        self.reservation = Some(reservation);
    }

    /// Settles the hold at `actual` and waits for the store's answer.
    pub async fn settle(mut self, actual: Picos) {
        if let Some(r) = self.reservation.take() {
            let _ = self.store.settle(r, actual).await;
        }
    }

    /// Settles the hold at `actual` without waiting: at once for memory, in a spawned task for
    /// Redis (the caller's answer does not wait for the store; [`Store::wait_settled`] waits
    /// for such tasks before a process exits).
    pub fn settle_soon(mut self, actual: Picos) {
        match self.reservation.take() {
            None => {}
            Some(StoreReservation::Memory(r)) => self.store.finish_memory(r, Some(actual)),
            Some(r) => {
                let store = self.store.clone();
                spawn_counted(&self.store, async move {
                    let _ = store.settle(r, actual).await;
                });
            }
        }
    }
}

impl Drop for BudgetHold {
    fn drop(&mut self) {
        match self.reservation.take() {
            None => {}
            Some(StoreReservation::Memory(r)) => self.store.finish_memory(r, None),
            Some(r) => {
                let store = self.store.clone();
                spawn_counted(&self.store, async move {
                    let _ = store.release(r).await;
                });
            }
        }
    }
}

/// Runs `f` (a Redis round trip) on the Tokio runtime, counted until done. With no runtime
/// left (a process ending), the hold is left to its lease.
fn spawn_counted(store: &Arc<Store>, f: impl Future<Output = ()> + Send + 'static) {
    if let Ok(rt) = tokio::runtime::Handle::try_current() {
        let store = store.clone();
        store.pending.fetch_add(1, Ordering::AcqRel);
        rt.spawn(async move {
            f.await;
            store.pending.fetch_sub(1, Ordering::AcqRel);
        });
    }
}
