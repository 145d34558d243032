//! Hard budget caps: per trace, per workload per UTC day, and per call, from a policy's
//! `[budget]` table.
//!
//! Before a call the runner reserves its worst case; the reservation either fits under
//! every cap or is refused, and the check and the reservation happen under one short lock,
//! so no number of concurrent calls can push spend past a cap. After the call the
//! reservation is settled at the actual cost (or released when the call failed).
//!
//! A settlement above its reservation (the provider billed more than the worst case held) is
//! still added in full, logged as a warning and counted ([`Ledger::overruns`]); the cap then
//! refuses every later call under it. Traces idle longer than [`Ledger::trace_idle`] (a day by
//! default) are dropped, so a long-lived process does not keep every trace it ever saw.
//!
//! | file | what it does |
//! | --- | --- |
//! | `mod.rs` | caps, scopes, the in-process [`Ledger`], holding a call's worst case on a tier |
//! | `store.rs` | the [`BudgetStore`] trait, [`Store`] (memory or Redis, fail closed or open) |
//! | `redis.rs` | [`RedisStore`]: counters shared by a fleet, in Redis (docs/fleet.md) |
//! | `scripts/*.lua` | the two atomic steps Redis runs: reserve, settle (and release) |

mod redis;
mod store;

pub use redis::{RedisHold, RedisStore};
pub use store::{
    day_date, status_json, BudgetHold, BudgetObserver, BudgetStore, CounterStatus, CounterSubject,
    InvalidStoreUrl, PolicyCaps, ReserveError, ReserveRequest, Settlement, Store, StoreError,
    StoreOptions, StoreReservation, StoreUrl, WhenUnavailable, DEFAULT_LEASE_MARGIN,
    DEFAULT_PREFIX,
};

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

use crate::calllog::report::format_usd;
use crate::compile::CompiledPolicy;
use crate::money::{Picos, PicosPerToken};
use crate::policy::{Budget, Model, OnExceed, TierId};
use crate::router::decision;
use crate::step::Step;

impl CounterSubject {
    /// Orders listings: days, then trace ids.
    fn cmp_key(&self) -> (u64, &str) {
        match self {
            CounterSubject::Day(d) => (*d, ""),
            CounterSubject::Trace(t) => (u64::MAX, t.as_str()),
        }
    }
}

// Loading a policy converts its caps too, so the conversion lives with the money types.
pub use crate::money::usd_to_picos;

/// How long a trace's spend is kept after its last call, unless the runner is told otherwise.
pub const DEFAULT_TRACE_IDLE: Duration = Duration::from_secs(24 * 60 * 60);

/// Days since 1970-01-01 in UTC: the key of a workload's daily cap. A time before 1970 (a
/// clock set wrong) counts as day 0.
pub fn utc_day(now: SystemTime) -> u64 {
    let Ok(t) = jiff::Timestamp::try_from(now) else {
        return 0;
    };
    // Unix time has no leap seconds: every UTC day is 86,400 of its seconds.
    u64::try_from(t.as_second().div_euclid(86_400)).unwrap_or(0)
}

/// Which cap a call would cross.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BudgetScope {
    /// `per_call_usd`: the call's worst case alone is too much.
    Call,
    /// `per_trace_usd`: the trace's spend.
    Trace,
    /// `per_workload_day_usd`: the workload's spend this UTC day.
    WorkloadDay,
}

impl BudgetScope {
    /// The `[budget]` key of the cap.
    pub fn key(self) -> &'static str {
        match self {
            BudgetScope::Call => "per_call_usd",
            BudgetScope::Trace => "per_trace_usd",
            BudgetScope::WorkloadDay => "per_workload_day_usd",
        }
    }

    /// What this cap is on, for a refusal's message: the tier for a call, the trace, or the
    /// workload's day.
    pub(crate) fn subject(self, scope: &Scope<'_>, tier: &str) -> String {
        match self {
            BudgetScope::Call => format!("tier `{tier}`"),
            BudgetScope::Trace => format!("trace `{}`", scope.trace.unwrap_or("")),
            BudgetScope::WorkloadDay => format!("workload `{}` today (UTC)", scope.workload),
        }
    }
}

/// A call refused because its worst case would cross a cap.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BudgetExceeded {
    /// The cap crossed.
    pub scope: BudgetScope,
    /// What it is a cap on: the trace id, the workload and day, or the tier for a call.
    pub subject: String,
    /// The cap.
    pub cap: Picos,
    /// Spent and reserved under the cap before this call.
    pub committed: Picos,
    /// The call's worst case.
    pub needed: Picos,
    /// `on_exceed = "downgrade"` was tried, and no tier that meets the step's guards fits.
    pub downgrade_tried: bool,
}

impl fmt::Display for BudgetExceeded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.fmt_cap(f)?;
        if self.downgrade_tried {
            f.write_str("; no tier whose model meets the step's guards fits either")?;
        }
        Ok(())
    }
}

impl BudgetExceeded {
    /// Amounts are exact dollars, as `report` prints them (never a rounded `$0.000000`).
    fn fmt_cap(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let usd = |p: Picos| format_usd(u128::from(p.0));
        match self.scope {
            BudgetScope::Call => write!(
                f,
                "budget exceeded: the call's worst case on {} is {}, over the per-call cap of {} (per_call_usd)",
                self.subject,
                usd(self.needed),
                usd(self.cap)
            ),
            _ => write!(
                f,
                "budget exceeded: {} has {} spent or reserved; the call's worst case of {} would cross its cap of {} ({})",
                self.subject,
                usd(self.committed),
                usd(self.needed),
                usd(self.cap),
                self.scope.key()
            ),
        }
    }
}

impl std::error::Error for BudgetExceeded {}

/// Spend under one cap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Spend {
    /// Settled at actual cost.
    pub settled: Picos,
    /// Reserved by calls still running.
    pub reserved: Picos,
    /// The most that was ever settled plus reserved at once.
    pub peak: Picos,
}

impl Spend {
    /// Settled plus reserved: what a new call's worst case is added to.
    pub fn committed(&self) -> Picos {
        self.settled.saturating_add(self.reserved)
    }

    fn reserve(&mut self, amount: Picos) {
        self.reserved = self.reserved.saturating_add(amount);
        self.peak = self.peak.max(self.committed());
    }

    fn settle(&mut self, reserved: Picos, actual: Picos) {
        self.reserved = self.reserved.saturating_sub(reserved);
        self.settled = self.settled.saturating_add(actual);
        self.peak = self.peak.max(self.committed());
    }
}

/// A worst case held against the caps until the call settles.
#[derive(Debug)]
#[must_use = "a reservation holds budget until it is settled or released"]
pub struct Reservation {
    workload: Option<Arc<str>>,
    trace: Option<Arc<str>>,
    workload_day: Option<(Arc<str>, u64)>,
    amount: Picos,
}

impl Reservation {
    /// The amount held.
    pub fn amount(&self) -> Picos {
        self.amount
    }

    /// The workload, trace and day whose counters it holds.
    pub(crate) fn scope(&self) -> (Option<Arc<str>>, Option<Arc<str>>, Option<u64>) {
        (
            self.workload.clone(),
            self.trace.clone(),
            self.workload_day.as_ref().map(|(_, d)| *d),
        )
    }
}

/// Where a call's spend counts: its workload (policy), trace and UTC day.
#[derive(Debug, Clone, Copy)]
pub struct Scope<'a> {
    /// The policy's name.
    pub workload: &'a str,
    /// The step's trace id, if any (a step without one has no trace cap).
    pub trace: Option<&'a str>,
    /// From [`utc_day`].
    pub day: u64,
}

impl<'a> Scope<'a> {
    /// The scope of a call of `step` under the workload `workload`, started at `time`.
    pub fn of(workload: &'a str, step: &'a Step, time: SystemTime) -> Scope<'a> {
        Scope {
            workload,
            trace: step.trace_id.as_deref(),
            day: utc_day(time),
        }
    }
}

/// Spend by trace and by workload-day, shared by every call of a runner.
#[derive(Debug)]
pub struct Ledger {
    state: Mutex<State>,
    trace_idle: Duration,
    overruns: AtomicU64,
}

impl Default for Ledger {
    fn default() -> Ledger {
        Ledger {
            state: Mutex::default(),
            trace_idle: DEFAULT_TRACE_IDLE,
            overruns: AtomicU64::new(0),
        }
    }
}

/// Keys are shared with the reservations that point at them, so a call allocates only the
/// first time it sees a trace or a workload.
#[derive(Debug, Default)]
struct State {
    traces: HashMap<Arc<str>, TraceSpend>,
    /// Workload → UTC day → spend; only today and yesterday are kept.
    days: HashMap<Arc<str>, BTreeMap<u64, Spend>>,
    /// Workload names, shared by the reservations and traces that name them.
    workloads: HashMap<Arc<str>, ()>,
    /// When idle traces were last looked for (none yet: the first reserve looks).
    swept: Option<Instant>,
}

/// A trace's spend and when a call last touched it.
#[derive(Debug, Clone)]
struct TraceSpend {
    spend: Spend,
    last_used: Instant,
    /// The workload of its last call (whose cap a status listing shows).
    workload: Option<Arc<str>>,
}

impl Default for TraceSpend {
    fn default() -> TraceSpend {
        TraceSpend {
            spend: Spend::default(),
            last_used: Instant::now(),
            workload: None,
        }
    }
}

/// The entry for `key`, created if needed, with its shared key.
fn entry<'m, V: Default>(map: &'m mut HashMap<Arc<str>, V>, key: &str) -> (Arc<str>, &'m mut V) {
    let k = match map.get_key_value(key) {
        Some((k, _)) => k.clone(),
        None => {
            let k: Arc<str> = Arc::from(key);
            map.insert(k.clone(), V::default());
            k
        }
    };
    let v = map.get_mut(&*k).expect("present: found or inserted above");
    (k, v)
}

impl Ledger {
    /// An empty ledger that drops traces idle for [`DEFAULT_TRACE_IDLE`].
    pub fn new() -> Ledger {
        Ledger::default()
    }

    /// Drops a trace's spend once no call has touched it for `idle` (a trace with a call
    /// still running is kept). A call of a dropped trace starts it again from zero, so pick
    /// a time longer than any trace lives.
    pub fn with_trace_idle(mut self, idle: Duration) -> Ledger {
        self.trace_idle = idle;
        self
    }

    /// How long an idle trace is kept.
    pub fn trace_idle(&self) -> Duration {
        self.trace_idle
    }

    /// How many traces the ledger holds now.
    pub fn traces(&self) -> usize {
        self.lock().traces.len()
    }

    /// How many settlements came to more than their reservation (each also logged as a
    /// warning): a provider billed past the worst case held for the call.
    pub fn overruns(&self) -> u64 {
        self.overruns.load(Ordering::Relaxed)
    }

    /// Drops idle traces, at most a few times per idle period so a busy ledger does not scan
    /// its map on every call.
    fn sweep(&self, st: &mut State, now: Instant) {
        let due = st
            .swept
            .is_none_or(|t| now.saturating_duration_since(t) >= self.trace_idle / 4);
        if !due {
            return;
        }
        st.swept = Some(now);
        let idle = self.trace_idle;
        st.traces.retain(|_, t| {
            t.spend.reserved > Picos::ZERO || now.saturating_duration_since(t.last_used) < idle
        });
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // The arithmetic under the lock cannot panic halfway, so a poisoned lock's state is
        // still consistent.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Reserves `amount`, a call's worst case on `tier`, if it fits under every cap; or
    /// says which cap it would cross. The check and the reservation happen under one lock,
    /// so concurrent calls can never overshoot a cap together.
    pub fn reserve(
        &self,
        budget: &Budget,
        scope: Scope<'_>,
        tier: &str,
        amount: Picos,
    ) -> Result<Reservation, BudgetExceeded> {
        let mut st = self.lock();
        let now = Instant::now();
        if budget.per_trace.is_some() {
            self.sweep(&mut st, now);
        }
        let trace_spend = match (budget.per_trace, scope.trace) {
            (Some(_), Some(t)) => st.traces.get(t).map(|t| t.spend).unwrap_or_default(),
            _ => Spend::default(),
        };
        let day_spend = match budget.per_workload_day {
            Some(_) => st
                .days
                .get(scope.workload)
                .and_then(|d| d.get(&scope.day))
                .copied()
                .unwrap_or_default(),
            None => Spend::default(),
        };
        if let Some(refused) = check(budget, scope, tier, amount, &trace_spend, &day_spend) {
            return Err(refused);
        }
        let (workload, _) = entry(&mut st.workloads, scope.workload);
        let trace = match (budget.per_trace, scope.trace) {
            (Some(_), Some(t)) => {
                let (key, trace) = entry(&mut st.traces, t);
                trace.spend.reserve(amount);
                trace.last_used = now;
                if trace.workload.as_deref() != Some(scope.workload) {
                    trace.workload = Some(workload.clone());
                }
                Some(key)
            }
            _ => None,
        };
        let workload_day = match budget.per_workload_day {
            Some(_) => {
                let (key, days) = entry(&mut st.days, scope.workload);
                if !days.contains_key(&scope.day) {
                    // A new UTC day: earlier days are done (yesterday stays for calls still
                    // settling across midnight).
                    days.retain(|&d, _| d + 1 >= scope.day);
                }
                days.entry(scope.day).or_default().reserve(amount);
                Some((key, scope.day))
            }
            None => None,
        };
        Ok(Reservation {
            workload: Some(workload),
            trace,
            workload_day,
            amount,
        })
    }

    /// Replaces the reservation with the call's actual cost. A cost above the reservation is
    /// added in full (money spent is spent), logged as a warning and counted in
    /// [`overruns`](Ledger::overruns); the caps it pushed spend past then refuse every later
    /// call.
    pub fn settle(&self, reservation: Reservation, actual: Picos) {
        if actual > reservation.amount {
            self.overruns.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(
                target: "switchyard::budget",
                trace_id = reservation.trace.as_deref(),
                reserved_usd = reservation.amount.usd(),
                actual_usd = actual.usd(),
                reserved_picos = reservation.amount.0,
                actual_picos = actual.0,
                "a call cost more than the worst case reserved for it"
            );
        }
        let mut st = self.lock();
        if let Some(t) = &reservation.trace {
            if let Some(s) = st.traces.get_mut(t) {
                s.spend.settle(reservation.amount, actual);
                s.last_used = Instant::now();
            }
        }
        if let Some((w, day)) = &reservation.workload_day {
            if let Some(s) = st.days.get_mut(w).and_then(|d| d.get_mut(day)) {
                s.settle(reservation.amount, actual);
            }
        }
    }

    /// Gives a reservation back unspent (the call failed before it was billed).
    pub fn release(&self, reservation: Reservation) {
        self.settle(reservation, Picos::ZERO);
    }

    /// Every counter of `policies`' caps: today's day counter of each daily cap (empty if
    /// nothing was spent), and each trace last used under a policy with a trace cap.
    pub fn counters(&self, policies: &[PolicyCaps]) -> Vec<CounterStatus> {
        let today = utc_day(SystemTime::now());
        let st = self.lock();
        let mut out = Vec::new();
        for p in policies {
            if let Some(cap) = p.budget.per_workload_day {
                let s = st
                    .days
                    .get(p.policy.as_str())
                    .and_then(|d| d.get(&today))
                    .copied()
                    .unwrap_or_default();
                out.push(CounterStatus {
                    policy: p.policy.clone(),
                    scope: BudgetScope::WorkloadDay,
                    subject: CounterSubject::Day(today),
                    cap,
                    committed: s.settled,
                    held: s.reserved,
                });
            }
            if let Some(cap) = p.budget.per_trace {
                let mut traces: Vec<_> = st
                    .traces
                    .iter()
                    .filter(|(_, t)| t.workload.as_deref() == Some(p.policy.as_str()))
                    .map(|(id, t)| CounterStatus {
                        policy: p.policy.clone(),
                        scope: BudgetScope::Trace,
                        subject: CounterSubject::Trace(id.to_string()),
                        cap,
                        committed: t.spend.settled,
                        held: t.spend.reserved,
                    })
                    .collect();
                traces.sort_by(|a, b| a.subject.cmp_key().cmp(&b.subject.cmp_key()));
                out.extend(traces);
            }
        }
        out
    }

    /// A trace's spend so far (zero if it has none or no trace cap applies).
    pub fn trace_spend(&self, trace: &str) -> Spend {
        self.lock()
            .traces
            .get(trace)
            .map(|t| t.spend)
            .unwrap_or_default()
    }

    /// A workload's spend on a UTC day (zero if it has none or no daily cap applies).
    pub fn workload_day_spend(&self, workload: &str, day: u64) -> Spend {
        self.lock()
            .days
            .get(workload)
            .and_then(|d| d.get(&day))
            .copied()
            .unwrap_or_default()
    }
}

/// The first cap `amount` would cross, if any.
fn check(
    budget: &Budget,
    scope: Scope<'_>,
    tier: &str,
    amount: Picos,
    trace: &Spend,
    day: &Spend,
) -> Option<BudgetExceeded> {
    if let Some(cap) = budget.per_call {
        if amount > cap {
            return Some(BudgetExceeded {
                scope: BudgetScope::Call,
                subject: BudgetScope::Call.subject(&scope, tier),
                cap,
                committed: Picos::ZERO,
                needed: amount,
                downgrade_tried: false,
            });
        }
    }
    if let (Some(cap), Some(_)) = (budget.per_trace, scope.trace) {
        if trace.committed().0 as u128 + amount.0 as u128 > cap.0 as u128 {
            return Some(BudgetExceeded {
                scope: BudgetScope::Trace,
                subject: BudgetScope::Trace.subject(&scope, tier),
                cap,
                committed: trace.committed(),
                needed: amount,
                downgrade_tried: false,
            });
        }
    }
    if let Some(cap) = budget.per_workload_day {
        if day.committed().0 as u128 + amount.0 as u128 > cap.0 as u128 {
            return Some(BudgetExceeded {
                scope: BudgetScope::WorkloadDay,
                subject: BudgetScope::WorkloadDay.subject(&scope, tier),
                cap,
                committed: day.committed(),
                needed: amount,
                downgrade_tried: false,
            });
        }
    }
    None
}

/// A call's worst case held against the caps: on the tier it was routed to, or on a cheaper one
/// when `on_exceed = "downgrade"`.
#[derive(Debug)]
pub(crate) struct TierHold {
    /// The tier the call goes to.
    pub tier: TierId,
    /// Whether a budget downgrade chose that tier.
    pub downgraded: bool,
    /// The worst case held: what any fallback of the tier must fit under.
    pub limit: Picos,
    /// The output limit the worst case was priced at, to send to the model (the runner
    /// works it out per model of the tier instead; serve sends this one).
    #[cfg_attr(not(feature = "server"), allow(dead_code))]
    pub output_limit: u64,
    /// The reservation, to settle or release.
    pub reservation: StoreReservation,
}

/// Why no worst case could be held.
#[derive(Debug)]
pub(crate) enum HoldError {
    /// Nothing bounds the output of a call to this model (key), so its worst case is unknown.
    Unbounded(String),
    /// A cap refuses the call (and every tier a downgrade could take, if tried).
    Refused(BudgetExceeded),
    /// The budget store cannot be reached, and the call is under a shared cap (`closed`).
    Unavailable(StoreError),
}

/// What a call asks of the budget: its step and routed tier, its size and output limit.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CallSize<'a> {
    /// The step, whose guards a downgraded tier must still meet.
    pub step: &'a Step,
    /// The tier the step was routed to.
    pub tier: TierId,
    /// The input tokens the step was routed with (what its guards see).
    pub routed_input: u64,
    /// The input tokens the worst case is priced at (at least the routed ones).
    pub input: u64,
    /// The output limit the caller asked for.
    pub requested: Option<u64>,
}

/// Holds a call's worst case under the policy's caps `budget`, as `run` and `serve` both do:
/// on the routed tier, or — refused there, with `on_exceed = "downgrade"` — on the cheapest
/// tier whose model meets the step's guards and whose worst case fits. The downgrade is
/// looked for only once a cap refused the routed tier: the common case never pays for it.
pub(crate) async fn hold_tier(
    store: &Store,
    cp: &CompiledPolicy,
    budget: &Budget,
    scope: Scope<'_>,
    call: CallSize<'_>,
) -> Result<TierHold, HoldError> {
    let policy = &cp.policy;
    let worst = |t: TierId| {
        let m = policy.tier_model(t);
        output_limit(call.requested, m, call.input).map(|out| (out, worst_case(m, call.input, out)))
    };
    let Some((out, amount)) = worst(call.tier) else {
        return Err(HoldError::Unbounded(
            policy.tier_model(call.tier).key.clone(),
        ));
    };
    let request = |tier: TierId, amount: Picos| ReserveRequest {
        budget,
        scope,
        tier: &policy.tiers[tier].name,
        amount,
        lease: call_time_limit(policy, tier) + store.lease_margin(),
    };
    let mut refused = match store.reserve(request(call.tier, amount)).await {
        Ok(reservation) => {
            return Ok(TierHold {
                tier: call.tier,
                downgraded: false,
                limit: amount,
                output_limit: out,
                reservation,
            })
        }
        Err(ReserveError::Exceeded(refused)) => refused,
        Err(ReserveError::Unavailable(e)) => return Err(HoldError::Unavailable(e)),
    };
    if downgrades(budget) {
        refused.downgrade_tried = true;
        let cheapest =
            downgrade_candidates(cp, call.step, call.routed_input, |t| worst(t).map(|w| w.1))
                .into_iter()
                .next()
                .filter(|&(t, cost)| t != call.tier && cost < amount);
        if let Some((t, cost)) = cheapest {
            match store.reserve(request(t, cost)).await {
                Ok(reservation) => {
                    return Ok(TierHold {
                        tier: t,
                        downgraded: true,
                        limit: cost,
                        output_limit: worst(t).map_or(out, |w| w.0),
                        reservation,
                    })
                }
                Err(ReserveError::Unavailable(e)) => return Err(HoldError::Unavailable(e)),
                Err(ReserveError::Exceeded(_)) => {}
            }
        }
    }
    Err(HoldError::Refused(refused))
}

/// How long a call on `tier` may run: each model of the tier (its model, then its fallbacks)
/// tried once plus its retries, each try up to its `timeout_seconds` (600 s by default). A
/// hold's lease is this plus the lease margin, which covers the waits between retries.
pub fn call_time_limit(policy: &crate::policy::Policy, tier: TierId) -> Duration {
    let t = &policy.tiers[tier];
    std::iter::once(t.model)
        .chain(t.fallbacks.iter().copied())
        .map(|m| {
            let m = &policy.models[m];
            let each = m
                .timeout_seconds
                .filter(|s| s.is_finite() && *s > 0.0)
                .map_or(Duration::from_secs(600), |s| {
                    Duration::try_from_secs_f64(s).unwrap_or(Duration::from_secs(600))
                });
            each.saturating_mul(m.max_retries.unwrap_or(2).saturating_add(1))
        })
        .fold(Duration::ZERO, Duration::saturating_add)
}

/// The tiers a step may be downgraded to: those whose model meets every guard that holds
/// for the step, cheapest worst case first. `worst_case` prices a tier for this call.
pub(crate) fn downgrade_candidates(
    cp: &CompiledPolicy,
    step: &Step,
    input_tokens: u64,
    mut worst_case: impl FnMut(TierId) -> Option<Picos>,
) -> Vec<(TierId, Picos)> {
    let held = holding_guards(cp, step, input_tokens);
    let mut tiers: Vec<(TierId, Picos)> = (0..cp.policy.tiers.len())
        .filter(|&t| held.iter().all(|&g| !cp.unmet(t, g)))
        .filter_map(|t| worst_case(t).map(|c| (t, c)))
        .collect();
    tiers.sort_by_key(|&(t, c)| (c, t));
    tiers
}

/// The capabilities that the guards holding for the step require: what a fallback model
/// must have to take the step.
pub(crate) fn required_capabilities(
    cp: &CompiledPolicy,
    step: &Step,
    input_tokens: u64,
) -> Vec<String> {
    let mut required: Vec<String> = Vec::new();
    for g in holding_guards(cp, step, input_tokens) {
        for r in &cp.policy.guards[g].require {
            if !required.contains(r) {
                required.push(r.clone());
            }
        }
    }
    required
}

/// The guards whose `when` holds for the step (an expression that fails counts as holding:
/// guards fail closed, as in routing).
fn holding_guards(cp: &CompiledPolicy, step: &Step, input_tokens: u64) -> Vec<usize> {
    if cp.policy.guards.is_empty() {
        return Vec::new();
    }
    let probe = cp.columns.probe(step, input_tokens);
    let mut words = vec![0u64; cp.guards.words()];
    cp.guards.all_candidates(probe, &mut words);
    decision::drop_guards_whose_expression_is_false(cp, step, input_tokens, &mut words);
    decision::set_bits(&words).collect()
}

/// Whether a policy's budget downgrades instead of rejecting.
pub(crate) fn downgrades(budget: &Budget) -> bool {
    budget.on_exceed == OnExceed::Downgrade
}

/// Whether a budget sets any cap at all (an empty `[budget]` table caps nothing).
pub(crate) fn has_caps(budget: &Budget) -> bool {
    budget.per_trace.is_some() || budget.per_workload_day.is_some() || budget.per_call.is_some()
}

/// The most output a call to `model` can be billed for: the request's limit, else the model's
/// `max_output_tokens`, else what its `context_window` leaves after `input_tokens`; `None`
/// when nothing bounds it (a cap then refuses the call as `unbounded_output`).
pub fn output_limit(requested: Option<u64>, model: &Model, input_tokens: u64) -> Option<u64> {
    requested
        .or(model.max_output_tokens)
        .or(model.context_window.map(|w| w.saturating_sub(input_tokens)))
}

/// A call's worst case on `model`: `input_tokens` at its input price plus `output_tokens` (the
/// [`output_limit`]) at its output price.
pub fn worst_case(model: &Model, input_tokens: u64, output_tokens: u64) -> Picos {
    PicosPerToken::from_usd_per_mtok(model.input_usd_per_mtok)
        .cost(input_tokens)
        .saturating_add(
            PicosPerToken::from_usd_per_mtok(model.output_usd_per_mtok).cost(output_tokens),
        )
}
