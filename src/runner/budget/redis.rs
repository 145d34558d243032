//! [`RedisStore`]: budget counters kept in Redis, so every replica given the same URL and
//! prefix holds every cap together (docs/fleet.md).
//!
//! Each counter — a workload's UTC day, a trace — is one hash: `committed`, `held`,
//! `workload`, `next` (the earliest a live hold's lease can end) and a field per live hold
//! (`h:ID` → amount and lease end on the Redis server's clock, so replicas' clocks never
//! matter). One hash keeps the usual reserve to two commands per counter inside Redis.
//! Reserve and settle are each one Lua script (`scripts/`) over all the counters of a call,
//! loaded once and called by SHA (`EVALSHA`, loaded again on `NOSCRIPT`). A settled
//! reservation leaves a marker key for [`SETTLED_MARKER_TTL`], which makes a repeated
//! settlement count once.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use ::redis::aio::{ConnectionManager, ConnectionManagerConfig};
use ::redis::io::tcp::TcpSettings;
use ::redis::Script;

use super::store::{
    BudgetStore, CounterStatus, CounterSubject, PolicyCaps, ReserveError, ReserveRequest,
    Settlement, StoreError,
};
use super::{check, utc_day, BudgetExceeded, BudgetScope, Spend};
use crate::money::Picos;

/// How long a settled reservation's marker is kept: a settlement repeated within this time
/// (a retry after a lost answer) counts once.
pub const SETTLED_MARKER_TTL: Duration = Duration::from_secs(10 * 60);

/// Day counters are kept this long after their UTC day ends.
pub const DAY_KEY_GRACE: Duration = Duration::from_secs(48 * 3600);

/// A round trip slower than this counts as the store being unavailable.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(2);

/// Tries of a settlement or release (each idempotent) before its error is reported.
const FINISH_TRIES: u32 = 3;

/// Counters in Redis. Cheap to share: one multiplexed connection, reconnected by itself.
pub struct RedisStore {
    manager: ConnectionManager,
    prefix: String,
    trace_idle: Duration,
    reserve: Script,
    settle: Script,
    /// Whether both scripts were loaded on the current server (`EVALSHA` loads them again
    /// after a restart that lost them).
    loaded: AtomicBool,
    /// Reservation ids: this process's random tag and a sequence number.
    tag: String,
    next_id: AtomicU64,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

/// When a counter's keys expire.
#[derive(Debug, Clone, Copy)]
enum Expiry {
    /// At this Unix time in ms (a day counter: 48 hours after its day ends).
    At(u64),
    /// This many ms after the last reserve or settle (a trace counter: its idle time).
    In(u64),
}

impl Expiry {
    fn args(self) -> (&'static str, u64) {
        match self {
            Expiry::At(ms) => ("at", ms),
            Expiry::In(ms) => ("in", ms),
        }
    }
}

/// One counter a hold is on.
#[derive(Debug, Clone)]
pub struct Counter {
    scope: BudgetScope,
    cap: Picos,
    key: String,
    expiry: Expiry,
}

impl Counter {
    /// Which cap it counts for.
    pub fn scope(&self) -> BudgetScope {
        self.scope
    }
}

/// A hold in Redis: its id and the counters it is on. A clone settles the same reservation
/// (a settlement sent twice counts once).
#[derive(Debug, Clone)]
#[must_use = "a reservation holds budget until it is settled or released"]
pub struct RedisHold {
    id: String,
    policy: Arc<str>,
    counters: Vec<Counter>,
    amount: Picos,
    /// Made while the store was down (`open`): nothing is held, the cost is added later.
    unchecked: bool,
}

impl RedisHold {
    /// The reservation id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The policy (workload) it was made under.
    pub fn policy(&self) -> &str {
        &self.policy
    }

    /// The counters it is on (none: the call is under no shared cap).
    pub fn counters(&self) -> &[Counter] {
        &self.counters
    }

    /// The amount held.
    pub fn amount(&self) -> Picos {
        self.amount
    }
}

fn unavailable(e: ::redis::RedisError) -> StoreError {
    StoreError(e.to_string())
}

/// An amount as Redis stores it: signed 64-bit (caps are at most `i64::MAX` picos, checked at
/// load; a larger actual cost is clamped, which no provider bill reaches).
fn arg(p: Picos) -> i64 {
    i64::try_from(p.0).unwrap_or(i64::MAX)
}

fn picos(s: &str) -> Result<Picos, StoreError> {
    let v: i64 = s
        .parse()
        .map_err(|_| StoreError(format!("the store answered `{s}` for an amount")))?;
    // A negative total would be a broken store; shown as zero rather than wrapped.
    Ok(Picos(u64::try_from(v).unwrap_or(0)))
}

/// `[committed_1, held_1, committed_2, …]` as pairs.
fn totals(values: &[String]) -> Result<Vec<(Picos, Picos)>, StoreError> {
    values
        .chunks(2)
        .map(|c| match c {
            [a, b] => Ok((picos(a)?, picos(b)?)),
            _ => Err(StoreError("the store answered an odd list".into())),
        })
        .collect()
}

/// Escapes a literal for a `SCAN MATCH` pattern.
fn glob_literal(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

impl RedisStore {
    /// A store at `url` whose keys start with `prefix`. Connects on first use and reconnects
    /// by itself; must be called inside a Tokio runtime.
    pub fn open(url: &str, prefix: &str, trace_idle: Duration) -> Result<RedisStore, StoreError> {
        // Nagle's algorithm would hold a reserve written right behind a settlement on the
        // shared connection until Redis acknowledges the settlement: a round trip more,
        // on the request's path. The replies are small; send every command at once.
        let info = ::redis::IntoConnectionInfo::into_connection_info(url)
            .map_err(unavailable)?
            .set_tcp_settings(TcpSettings::default().set_nodelay(true));
        let client = ::redis::Client::open(info).map_err(unavailable)?;
        let config = ConnectionManagerConfig::new()
            .set_response_timeout(Some(RESPONSE_TIMEOUT))
            .set_connection_timeout(Some(Duration::from_secs(1)))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_millis(500));
        let manager =
            ConnectionManager::new_lazy_with_config(client, config).map_err(unavailable)?;
        Ok(RedisStore {
            manager,
            prefix: prefix.to_string(),
            trace_idle,
            // Each script is its arithmetic prelude, then its own body.
            reserve: Script::new(concat!(
                include_str!("scripts/limbs.lua"),
                include_str!("scripts/reserve.lua")
            )),
            settle: Script::new(concat!(
                include_str!("scripts/limbs.lua"),
                include_str!("scripts/settle.lua")
            )),
            loaded: AtomicBool::new(false),
            tag: format!("{:016x}", fastrand::u64(..)),
            next_id: AtomicU64::new(1),
        })
    }

    /// The key prefix.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The connection, with both scripts loaded once per server.
    async fn connection(&self) -> Result<ConnectionManager, StoreError> {
        let mut con = self.manager.clone();
        if !self.loaded.load(Ordering::Acquire) {
            self.reserve
                .prepare_invoke()
                .load_async(&mut con)
                .await
                .map_err(unavailable)?;
            self.settle
                .prepare_invoke()
                .load_async(&mut con)
                .await
                .map_err(unavailable)?;
            self.loaded.store(true, Ordering::Release);
        }
        Ok(con)
    }

    fn key(&self, kind: &str, subject: &str) -> String {
        format!("{}:c:{kind}:{subject}", self.prefix)
    }

    fn day_counter(&self, workload: &str, day: u64, cap: Picos) -> Counter {
        let end_ms = day.saturating_add(1).saturating_mul(86_400_000);
        Counter {
            scope: BudgetScope::WorkloadDay,
            cap,
            // The day comes first: a workload name may hold any character.
            key: self.key("day", &format!("{day}:{workload}")),
            expiry: Expiry::At(end_ms.saturating_add(DAY_KEY_GRACE.as_millis() as u64)),
        }
    }

    fn trace_counter(&self, trace: &str, cap: Picos, lease: Duration) -> Counter {
        let idle = self.trace_idle.max(lease);
        Counter {
            scope: BudgetScope::Trace,
            cap,
            key: self.key("trace", trace),
            expiry: Expiry::In(u64::try_from(idle.as_millis()).unwrap_or(u64::MAX).max(1)),
        }
    }

    /// The shared counters a call falls under (`per_call_usd` needs none).
    fn counters(&self, r: &ReserveRequest<'_>) -> Vec<Counter> {
        let mut out = Vec::with_capacity(2);
        if let (Some(cap), Some(t)) = (r.budget.per_trace, r.scope.trace) {
            out.push(self.trace_counter(t, cap, r.lease));
        }
        if let Some(cap) = r.budget.per_workload_day {
            out.push(self.day_counter(r.scope.workload, r.scope.day, cap));
        }
        out
    }

    fn hold(&self, r: &ReserveRequest<'_>, counters: Vec<Counter>, unchecked: bool) -> RedisHold {
        RedisHold {
            id: format!(
                "{}-{}",
                self.tag,
                self.next_id.fetch_add(1, Ordering::Relaxed)
            ),
            policy: Arc::from(r.scope.workload),
            counters,
            amount: r.amount,
            unchecked,
        }
    }

    /// A hold for a call let through while the store was down (`open`): nothing is held; its
    /// cost is added at settlement if the store is back.
    pub fn unchecked_hold(&self, r: ReserveRequest<'_>) -> RedisHold {
        let counters = self.counters(&r);
        self.hold(&r, counters, true)
    }

    /// Runs the reserve script: the hold on every counter of the call, or the cap refusing
    /// it. Returns the counters' totals after the hold.
    pub async fn reserve_hold(
        &self,
        r: ReserveRequest<'_>,
    ) -> Result<(RedisHold, Vec<(Picos, Picos)>), ReserveError> {
        // A worst case over a cap by itself (always the per-call cap) needs no round trip.
        let zero = Spend::default();
        if let Some(refused) = check(r.budget, r.scope, r.tier, r.amount, &zero, &zero) {
            return Err(ReserveError::Exceeded(refused));
        }
        let counters = self.counters(&r);
        let hold = self.hold(&r, counters, false);
        if hold.counters.is_empty() {
            return Ok((hold, Vec::new()));
        }
        let lease_ms = u64::try_from(r.lease.as_millis()).unwrap_or(u64::MAX);
        let mut call = self.reserve.prepare_invoke();
        for c in &hold.counters {
            call.key(&c.key);
        }
        call.arg(&hold.id).arg(arg(r.amount)).arg(lease_ms);
        for c in &hold.counters {
            let (kind, ms) = c.expiry.args();
            call.arg(arg(c.cap)).arg(kind).arg(ms).arg(r.scope.workload);
        }
        let mut con = self.connection().await.map_err(ReserveError::Unavailable)?;
        let reply: Vec<String> = call
            .invoke_async(&mut con)
            .await
            .map_err(|e| ReserveError::Unavailable(unavailable(e)))?;
        match reply.split_first() {
            Some((ok, rest)) if ok == "1" => {
                let t = totals(rest).map_err(ReserveError::Unavailable)?;
                Ok((hold, t))
            }
            Some((no, rest)) if no == "0" && rest.len() == 3 => {
                let i: usize = rest[0].parse().unwrap_or(1);
                let c = hold
                    .counters
                    .get(i.saturating_sub(1))
                    .ok_or_else(|| ReserveError::Unavailable(StoreError("bad counter".into())))?;
                let committed = picos(&rest[1]).map_err(ReserveError::Unavailable)?;
                let held = picos(&rest[2]).map_err(ReserveError::Unavailable)?;
                Err(ReserveError::Exceeded(BudgetExceeded {
                    scope: c.scope,
                    // Named only when refused: a reserve that passes formats nothing more.
                    subject: c.scope.subject(&r.scope, r.tier),
                    cap: c.cap,
                    committed: committed.saturating_add(held),
                    needed: r.amount,
                    downgrade_tried: false,
                }))
            }
            _ => Err(ReserveError::Unavailable(StoreError(format!(
                "the reserve script answered {reply:?}"
            )))),
        }
    }

    /// Runs the settle script: the hold replaced by `actual` (or, `release`, given back).
    /// Retried on errors (the script is idempotent). Returns the counters' totals after it.
    pub async fn finish_hold(
        &self,
        hold: &RedisHold,
        actual: Picos,
        release: bool,
    ) -> Result<(Settlement, Vec<(Picos, Picos)>), StoreError> {
        if hold.counters.is_empty() || (release && hold.unchecked) {
            return Ok((Settlement::Settled, Vec::new()));
        }
        let mode = match (release, hold.unchecked) {
            (true, _) => "release",
            (false, true) => "open",
            (false, false) => "settle",
        };
        let mut call = self.settle.prepare_invoke();
        call.key(format!("{}:r:{}", self.prefix, hold.id));
        for c in &hold.counters {
            call.key(&c.key);
        }
        let marker_ms = SETTLED_MARKER_TTL.as_millis() as u64;
        call.arg(&hold.id).arg(arg(actual)).arg(mode).arg(marker_ms);
        for c in &hold.counters {
            let (kind, ms) = c.expiry.args();
            call.arg(kind).arg(ms);
        }
        let mut last = StoreError("not tried".into());
        for attempt in 0..FINISH_TRIES {
            if attempt > 0 {
                tokio::time::sleep(Duration::from_millis(50 << (2 * attempt))).await;
            }
            let mut con = match self.connection().await {
                Ok(c) => c,
                Err(e) => {
                    last = e;
                    continue;
                }
            };
            match call.invoke_async::<Vec<String>>(&mut con).await {
                Ok(reply) => {
                    let Some((status, rest)) = reply.split_first() else {
                        return Err(StoreError("the settle script answered nothing".into()));
                    };
                    let settlement = match status.as_str() {
                        "0" => Settlement::Settled,
                        "1" => Settlement::Late,
                        _ => Settlement::Duplicate,
                    };
                    return Ok((settlement, totals(rest)?));
                }
                Err(e) => last = unavailable(e),
            }
        }
        Err(last)
    }

    /// Drops expired holds of a counter and reads its totals.
    async fn peek(
        &self,
        con: &mut ConnectionManager,
        key: &str,
    ) -> Result<(Picos, Picos), StoreError> {
        let mut call = self.reserve.prepare_invoke();
        call.key(key);
        call.arg("").arg(0).arg(0).arg(0).arg("in").arg(0).arg("");
        let reply: Vec<String> = call.invoke_async(con).await.map_err(unavailable)?;
        let t = totals(reply.get(1..).unwrap_or_default())?;
        t.first()
            .copied()
            .ok_or_else(|| StoreError("the reserve script answered no totals".into()))
    }

    /// Every counter of `policies`: today's day counter of each daily cap, and every trace
    /// counter last used under a policy with a trace cap.
    pub async fn read_counters(
        &self,
        policies: &[PolicyCaps],
    ) -> Result<Vec<CounterStatus>, StoreError> {
        let mut con = self.connection().await?;
        let today = utc_day(SystemTime::now());
        let mut out = Vec::new();
        let traced: Vec<&PolicyCaps> = policies
            .iter()
            .filter(|p| p.budget.per_trace.is_some())
            .collect();
        let mut traces: Vec<(String, String)> = Vec::new();
        if !traced.is_empty() {
            let head = format!("{}:c:trace:", self.prefix);
            let pattern = format!("{}*", glob_literal(&head));
            let mut cursor: u64 = 0;
            loop {
                let (next, keys): (u64, Vec<String>) = ::redis::cmd("SCAN")
                    .arg(cursor)
                    .arg("MATCH")
                    .arg(&pattern)
                    .arg("COUNT")
                    .arg(1000)
                    .query_async(&mut con)
                    .await
                    .map_err(unavailable)?;
                for k in keys {
                    let workload: Option<String> = ::redis::cmd("HGET")
                        .arg(&k)
                        .arg("workload")
                        .query_async(&mut con)
                        .await
                        .map_err(unavailable)?;
                    if let (Some(w), Some(id)) = (workload, k.strip_prefix(&head)) {
                        traces.push((w, id.to_string()));
                    }
                }
                cursor = next;
                if cursor == 0 {
                    break;
                }
            }
            traces.sort();
            traces.dedup();
        }
        for p in policies {
            if let Some(cap) = p.budget.per_workload_day {
                let c = self.day_counter(&p.policy, today, cap);
                let (committed, held) = self.peek(&mut con, &c.key).await?;
                out.push(CounterStatus {
                    policy: p.policy.clone(),
                    scope: BudgetScope::WorkloadDay,
                    subject: CounterSubject::Day(today),
                    cap,
                    committed,
                    held,
                });
            }
            if let Some(cap) = p.budget.per_trace {
                for (_, id) in traces.iter().filter(|(w, _)| *w == p.policy) {
                    let key = self.key("trace", id);
                    let (committed, held) = self.peek(&mut con, &key).await?;
                    out.push(CounterStatus {
                        policy: p.policy.clone(),
                        scope: BudgetScope::Trace,
                        subject: CounterSubject::Trace(id.clone()),
                        cap,
                        committed,
                        held,
                    });
                }
            }
        }
        Ok(out)
    }
}

/// The Redis store alone: no unavailable mode, no observer (that is [`Store`](super::Store)).
impl BudgetStore for RedisStore {
    type Reservation = RedisHold;

    async fn reserve(&self, r: ReserveRequest<'_>) -> Result<RedisHold, ReserveError> {
        self.reserve_hold(r).await.map(|(hold, _)| hold)
    }

    async fn settle(&self, hold: RedisHold, actual: Picos) -> Result<Settlement, StoreError> {
        self.finish_hold(&hold, actual, false).await.map(|(s, _)| s)
    }

    async fn release(&self, hold: RedisHold) -> Result<(), StoreError> {
        self.finish_hold(&hold, Picos::ZERO, true).await.map(|_| ())
    }

    async fn status(&self, policies: &[PolicyCaps]) -> Result<Vec<CounterStatus>, StoreError> {
        self.read_counters(policies).await
    }
}
