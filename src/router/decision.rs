//! Deciding one step under one compiled policy, and the [`Decision`] / [`RouteError`] types
//! that come out of it.

use std::fmt;
use std::marker::PhantomData;
use std::mem::ManuallyDrop;
use std::ptr::NonNull;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use serde::Serialize;
use serde_json::Value;

use crate::compile::fast::{FastPath, Winner};
use crate::compile::table::{flag_index, Probe};
use crate::compile::{CompiledPolicy, RULE_HAS_EXPR};
use crate::policy::{Model, OnExpressionError, TierId};
use crate::step::{Step, StepError};

use super::Lease;

/// How a decision was reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u64)]
#[non_exhaustive]
pub enum Via {
    /// A rule's conditions held.
    Rule,
    /// No rule matched: the policy's `default_tier`.
    Default,
    /// A guard moved the step to its `escalate_to` tier.
    Guard,
    /// A rule's expression failed and `on_expression_error` names a tier.
    ExpressionError,
    /// The step did not fit the chosen model's context window: the cheapest tier that takes
    /// it (and meets every guard that holds) was chosen instead; the rule is kept.
    ContextWindow,
    /// A budget cap moved the call to a cheaper tier (written by the runner, never by
    /// routing).
    BudgetDowngrade,
}

impl Via {
    /// Every way a decision is made, in the order the docs list them.
    pub const ALL: [Via; 6] = [
        Via::Rule,
        Via::Default,
        Via::Guard,
        Via::ExpressionError,
        Via::ContextWindow,
        Via::BudgetDowngrade,
    ];

    /// The word used in decisions: rule, default, guard, expression_error, context_window,
    /// budget_downgrade.
    pub fn as_str(self) -> &'static str {
        match self {
            Via::Rule => "rule",
            Via::Default => "default",
            Via::Guard => "guard",
            Via::ExpressionError => "expression_error",
            Via::ContextWindow => "context_window",
            Via::BudgetDowngrade => "budget_downgrade",
        }
    }

    /// The way named by a word of [`Via::as_str`].
    pub fn from_name(name: &str) -> Option<Via> {
        Via::ALL.into_iter().find(|v| v.as_str() == name)
    }
}

impl fmt::Display for Via {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where one step goes: the tier and model, the rule and guard that decided it, and the
/// policy version it was made under.
///
/// [`Router::route`](crate::Router::route) gives a `Decision<'static>` that holds its policy
/// alive (counted on its thread's handle on the set: no atomic operation unless it is cloned
/// or dropped on another thread); [`PolicySet::route`](crate::PolicySet::route) gives one
/// that borrows the set and counts nothing (call [`into_owned`](Decision::into_owned), one
/// atomic increment, to keep it longer).
///
/// ```
/// use switchyard::{Router, Step, Via};
///
/// let router = Router::load("policies/contract-review.toml").unwrap();
/// let d = router.route(&Step::new("format").input_tokens(8_000)).unwrap();
/// assert_eq!((d.tier(), d.via(), d.rule()), ("cheap", Via::Rule, Some("cheap-roles")));
/// assert_eq!(d.model().key, "muse-spark");
/// ```
#[derive(Clone)]
pub struct Decision<'p> {
    policy: PolicyRef<'p>,
    // Five words, each written once with one store: a decision is returned through memory,
    // and the caller reading it back over stores of other sizes stalls (store forwarding).
    /// The tier (bits 0..32), the way (`Via::ALL` index, bits 32..40), and whether the step
    /// gave expected output tokens (bit 40).
    tier_via: u64,
    /// The rule + 1 (bits 0..32) and the guard + 1 (bits 32..64); 0 is none.
    rule_guard: u64,
    input_tokens: u64,
    /// Meaningful when bit 40 of `tier_via` is set.
    expected_output_tokens: u64,
}

const HAS_EXPECTED: u64 = 1 << 40;

/// Packs a decision's tier, way and whether it has expected output tokens.
#[inline(always)]
fn tier_via(tier: TierId, via: Via, expected: Option<u64>) -> u64 {
    // `Via` is `repr(u64)` in `Via::ALL` order: its value is its index there.
    let way = via as u64;
    (tier as u32 as u64) | way << 32 | if expected.is_some() { HAS_EXPECTED } else { 0 }
}

/// Packs a rule and a guard index (+ 1, so 0 is none).
#[inline(always)]
fn rule_guard(rule: Option<usize>, guard: Option<usize>) -> u64 {
    let one = |i: Option<usize>| i.map_or(0, |i| i as u32 as u64 + 1);
    one(rule) | one(guard) << 32
}

/// The policy a decision was made under, and what keeps it alive: nothing (a borrow of a
/// held set), a count on the policy's `Arc`, or a count on the [`Lease`] of the thread whose
/// cached set [`Router::route`](crate::Router::route) decided under. Two words, each written
/// with one store, like the rest of a decision.
struct PolicyRef<'p> {
    ptr: NonNull<CompiledPolicy>,
    /// Null: borrowed for `'p`. [`ARC`]: one strong count of the policy's `Arc` is ours.
    /// Otherwise the lease we hold a count on, which holds the set `ptr` is in.
    keep: *const Lease,
    _borrow: PhantomData<&'p CompiledPolicy>,
}

/// [`PolicyRef::keep`] for a count on the policy's own `Arc`: an address no lease has.
const ARC: *const Lease = NonNull::<Lease>::dangling().as_ptr();

// SAFETY: the policy is immutable and `Arc<CompiledPolicy>` is `Send + Sync`; every count is
// taken and given back atomically, except a lease's count on the thread that holds the lease,
// which only that thread touches (see `Lease`).
unsafe impl Send for PolicyRef<'_> {}
unsafe impl Sync for PolicyRef<'_> {}
const _: () = {
    const fn shared<T: Send + Sync>() {}
    shared::<Arc<CompiledPolicy>>();
    shared::<Lease>();
};

impl<'p> PolicyRef<'p> {
    /// Borrows a policy of a set held elsewhere.
    #[inline(always)]
    fn borrowed(cp: &'p Arc<CompiledPolicy>) -> PolicyRef<'p> {
        PolicyRef {
            ptr: NonNull::from(&**cp),
            keep: std::ptr::null(),
            _borrow: PhantomData,
        }
    }

    /// The same policy with a handle of its own: a borrow becomes a count on its `Arc`.
    #[inline(always)]
    fn into_owned(self) -> PolicyRef<'static> {
        let this = ManuallyDrop::new(self);
        let keep = if this.keep.is_null() {
            // SAFETY: a borrowed policy is the contents of an `Arc` the set holds for `'p`.
            unsafe { Arc::increment_strong_count(this.ptr.as_ptr()) };
            ARC
        } else {
            this.keep
        };
        PolicyRef {
            ptr: this.ptr,
            keep,
            _borrow: PhantomData,
        }
    }

    /// A borrow of `lease`'s set become a count on `lease`.
    ///
    /// # Safety
    ///
    /// `self` borrows a policy of `lease`'s set, and this thread's cache holds `lease`.
    #[inline(always)]
    unsafe fn leased(self, lease: NonNull<Lease>) -> PolicyRef<'static> {
        let this = ManuallyDrop::new(self);
        debug_assert!(this.keep.is_null(), "a leased decision borrows its set");
        // SAFETY: this thread holds `lease`, as the caller says.
        unsafe { Lease::acquire_own(lease) };
        PolicyRef {
            ptr: this.ptr,
            keep: lease.as_ptr(),
            _borrow: PhantomData,
        }
    }
}

impl std::ops::Deref for PolicyRef<'_> {
    type Target = CompiledPolicy;
    #[inline(always)]
    fn deref(&self) -> &CompiledPolicy {
        // SAFETY: kept alive by the borrow, the `Arc` count or the lease count `keep` says.
        unsafe { self.ptr.as_ref() }
    }
}

impl Clone for PolicyRef<'_> {
    #[inline]
    fn clone(&self) -> Self {
        if self.keep == ARC {
            // SAFETY: we hold a count, so the `Arc` is alive.
            unsafe { Arc::increment_strong_count(self.ptr.as_ptr()) };
        } else if let Some(lease) = NonNull::new(self.keep.cast_mut()) {
            // SAFETY: we hold a count on the lease, so it is alive.
            unsafe { Lease::acquire(lease) };
        }
        PolicyRef {
            ptr: self.ptr,
            keep: self.keep,
            _borrow: PhantomData,
        }
    }
}

impl Drop for PolicyRef<'_> {
    #[inline(always)]
    fn drop(&mut self) {
        // A borrow first: a held snapshot's decisions, the hot loop's, test one word. Then
        // a count on this thread's lease, `Router::route`'s: one compare and a decrement.
        if !self.keep.is_null() && !Lease::add_own(self.keep, usize::MAX) {
            // SAFETY: a count taken in `into_owned`, `leased` or `clone`, given back once.
            unsafe { Self::release_shared(self.ptr, self.keep) }
        }
    }
}

impl PolicyRef<'_> {
    /// [`Drop`] for a count on the policy's `Arc`, or on a lease this thread does not hold.
    /// It takes the two words by value: given the handle's address, the caller would have
    /// to keep the whole decision in memory, and every decision, this path or not, would
    /// store it and load it back.
    ///
    /// # Safety
    ///
    /// `keep` is not null, and its count is given back once.
    #[cold]
    #[inline(never)]
    unsafe fn release_shared(ptr: NonNull<CompiledPolicy>, keep: *const Lease) {
        if keep == ARC {
            // SAFETY: the count taken in `into_owned` or `clone`, given back once.
            unsafe { Arc::decrement_strong_count(ptr.as_ptr()) };
        } else {
            // SAFETY: the count taken in `leased` or `clone`, given back once; not null.
            unsafe { Lease::take(NonNull::new_unchecked(keep.cast_mut()), 1) };
        }
    }
}

/// Where the step went, by name: the compiled policy it holds would print whole.
impl fmt::Debug for Decision<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Decision")
            .field("policy", &self.policy())
            .field("version", &self.policy_version())
            .field("tier", &self.tier())
            .field("model", &self.model().key)
            .field("rule", &self.rule())
            .field("via", &self.via())
            .field("guard", &self.guard())
            .field("input_tokens", &self.input_tokens)
            .finish()
    }
}

impl Decision<'_> {
    /// The decision with its own handle on the policy, free of any borrow.
    #[inline(always)]
    pub fn into_owned(self) -> Decision<'static> {
        self.with_policy(|p| p.into_owned())
    }

    /// The decision holding a count on `lease` instead of borrowing its set.
    ///
    /// # Safety
    ///
    /// The decision borrows a policy of `lease`'s set, and `lease` is the lease this thread's
    /// cache holds now.
    #[inline(always)]
    pub(super) unsafe fn leased(self, lease: NonNull<Lease>) -> Decision<'static> {
        // SAFETY: as the caller says.
        self.with_policy(|p| unsafe { p.leased(lease) })
    }

    /// The same decision with what keeps its policy alive changed by `f`.
    #[inline(always)]
    fn with_policy(self, f: impl FnOnce(PolicyRef<'_>) -> PolicyRef<'static>) -> Decision<'static> {
        Decision {
            policy: f(self.policy),
            tier_via: self.tier_via,
            rule_guard: self.rule_guard,
            input_tokens: self.input_tokens,
            expected_output_tokens: self.expected_output_tokens,
        }
    }

    /// The compiled policy the decision was made under.
    pub fn compiled_policy(&self) -> &CompiledPolicy {
        &self.policy
    }

    /// The expected output tokens the step gave, if any.
    pub fn expected_output_tokens(&self) -> Option<u64> {
        (self.tier_via & HAS_EXPECTED != 0).then_some(self.expected_output_tokens)
    }

    /// The policy's name (the workload).
    pub fn policy(&self) -> &str {
        &self.policy.policy.name
    }

    /// The policy's version hash.
    pub fn policy_version(&self) -> &str {
        &self.policy.policy.version
    }

    /// The chosen tier's name.
    pub fn tier(&self) -> &str {
        &self.policy.policy.tiers[self.tier_id()].name
    }

    /// The chosen tier's index in the policy.
    pub fn tier_id(&self) -> TierId {
        self.tier_via as u32 as TierId
    }

    /// The model to call: prices, limits, capabilities and provider settings.
    pub fn model(&self) -> &Arc<Model> {
        self.policy.policy.tier_model(self.tier_id())
    }

    /// The rule that chose the tier, or `None` when no rule matched.
    pub fn rule(&self) -> Option<&str> {
        self.rule_index()
            .map(|r| self.policy.policy.rules[r].name.as_str())
    }

    /// The index of the rule that chose the tier.
    pub fn rule_index(&self) -> Option<usize> {
        (self.rule_guard as u32).checked_sub(1).map(|r| r as usize)
    }

    /// How the decision was reached.
    pub fn via(&self) -> Via {
        Via::ALL
            .get((self.tier_via >> 32) as u8 as usize)
            .copied()
            .unwrap_or(Via::Rule)
    }

    /// The guard that moved the step, if one did.
    pub fn guard(&self) -> Option<&str> {
        ((self.rule_guard >> 32) as u32)
            .checked_sub(1)
            .map(|g| self.policy.policy.guards[g as usize].name.as_str())
    }

    /// Input tokens: the step's, or its prompt counted with the policy's tokenizer.
    pub fn input_tokens(&self) -> u64 {
        self.input_tokens
    }

    /// The expected cost in US dollars at the chosen model's prices, when the step gives
    /// its expected output tokens.
    pub fn estimated_usd(&self) -> Option<f64> {
        self.expected_output_tokens()
            .map(|out| self.model().cost_usd(self.input_tokens, out))
    }

    /// The decision as the JSON object `switchyard route` writes.
    pub fn to_json(&self, trace_id: Option<&str>) -> Value {
        serde_json::to_value(DecisionJson {
            policy: self.policy(),
            policy_version: self.policy_version(),
            tier: self.tier(),
            model: &self.model().key,
            rule: self.rule(),
            via: self.via().as_str(),
            guard: self.guard(),
            estimated_usd: self.estimated_usd(),
            trace_id,
        })
        .unwrap_or(Value::Null)
    }
}

/// Field order of a decision line.
#[derive(Serialize)]
struct DecisionJson<'a> {
    policy: &'a str,
    policy_version: &'a str,
    tier: &'a str,
    model: &'a str,
    rule: Option<&'a str>,
    via: &'static str,
    guard: Option<&'a str>,
    estimated_usd: Option<f64>,
    trace_id: Option<&'a str>,
}

/// Why a step was not routed: a [`RouteFailure`], boxed.
///
/// Boxed because it is rare: a routing `Result` is then no larger than its decision, and
/// dropping one is a test of a word, small enough to inline beside the decision (dropping
/// the unboxed enum, strings and all, was an out-of-line call on every routed step).
///
/// ```
/// use switchyard::{RouteFailure, Router, Step};
///
/// let router = Router::load("policies/contract-review.toml").unwrap();
/// let err = router
///     .route(&Step::new("format").input_tokens(10).workload("billing"))
///     .unwrap_err();
/// assert!(matches!(err.failure(), RouteFailure::UnknownWorkload { .. }));
/// assert_eq!(err.kind(), "unknown_workload");
/// assert_eq!(
///     err.to_string(),
///     "no loaded policy serves the workload `billing` (loaded: contract-review)"
/// );
/// ```
#[derive(Clone, PartialEq)]
pub struct RouteError(ManuallyDrop<Box<RouteFailure>>);

impl Drop for RouteError {
    // The box is freed out of line, so the drop glue of a routing `Result` stays a few
    // instructions; it is handed over by value, so that glue takes no address of the
    // `Result` (which would keep every decision in memory).
    #[inline(always)]
    fn drop(&mut self) {
        #[cold]
        #[inline(never)]
        fn free(failure: Box<RouteFailure>) {
            drop(failure);
        }
        // SAFETY: taken once, here; the box is not used after.
        free(unsafe { ManuallyDrop::take(&mut self.0) })
    }
}

impl RouteError {
    /// What went wrong, with its details.
    pub fn failure(&self) -> &RouteFailure {
        &self.0
    }

    /// What went wrong, owned.
    pub fn into_failure(self) -> RouteFailure {
        let mut this = ManuallyDrop::new(self);
        // SAFETY: `this` is never dropped, so the box is taken exactly once.
        *unsafe { ManuallyDrop::take(&mut this.0) }
    }

    /// The stable kind used in error lines: guard_rejected, unknown_workload,
    /// workload_required, invalid_step, context_window_exceeded.
    pub fn kind(&self) -> &'static str {
        self.0.kind()
    }

    /// The error as the JSON line `switchyard route` writes.
    pub fn to_json(&self, trace_id: Option<&str>) -> Value {
        self.0.to_json(trace_id)
    }
}

impl From<RouteFailure> for RouteError {
    #[cold]
    fn from(f: RouteFailure) -> Self {
        RouteError(ManuallyDrop::new(Box::new(f)))
    }
}

impl From<StepError> for RouteError {
    #[cold]
    fn from(e: StepError) -> Self {
        RouteFailure::InvalidStep(e).into()
    }
}

impl fmt::Debug for RouteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self.0, f)
    }
}

impl fmt::Display for RouteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&**self.0, f)
    }
}

impl std::error::Error for RouteError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
    }
}

/// Why a step was not routed, in detail ([`RouteError::failure`]).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum RouteFailure {
    /// A guard's requirement is unmet and it has no `escalate_to` (or escalation could not
    /// satisfy every guard).
    #[error("{message}")]
    GuardRejected {
        /// The guard's name.
        guard: String,
        /// A sentence saying why.
        message: String,
    },
    /// The step names a workload that no loaded policy serves.
    #[error("no loaded policy serves the workload `{workload}` (loaded: {})", known.join(", "))]
    UnknownWorkload {
        /// The workload the step named.
        workload: String,
        /// The loaded policies.
        known: Vec<String>,
    },
    /// Several policies are loaded and the step names none.
    #[error("several policies are loaded ({}); the step must name one in `workload`", known.join(", "))]
    WorkloadRequired {
        /// The loaded policies.
        known: Vec<String>,
    },
    /// The step itself is not valid.
    #[error("{0}")]
    InvalidStep(#[from] StepError),
    /// No tier's model has a context window the step fits in (with every guard that holds
    /// met).
    #[error("{message}")]
    ContextWindowExceeded {
        /// The step's input tokens plus its expected output tokens.
        tokens: u64,
        /// A sentence saying why.
        message: String,
    },
}

impl RouteFailure {
    /// The stable kind used in error lines: guard_rejected, unknown_workload,
    /// workload_required, invalid_step, context_window_exceeded.
    pub fn kind(&self) -> &'static str {
        match self {
            RouteFailure::ContextWindowExceeded { .. } => "context_window_exceeded",
            RouteFailure::GuardRejected { .. } => "guard_rejected",
            RouteFailure::UnknownWorkload { .. } => "unknown_workload",
            RouteFailure::WorkloadRequired { .. } => "workload_required",
            RouteFailure::InvalidStep(_) => "invalid_step",
        }
    }

    /// The error as the JSON line `switchyard route` writes.
    pub fn to_json(&self, trace_id: Option<&str>) -> Value {
        let mut err = serde_json::Map::new();
        err.insert("kind".into(), self.kind().into());
        if let RouteFailure::GuardRejected { guard, .. } = self {
            err.insert("guard".into(), guard.as_str().into());
        }
        if let RouteFailure::UnknownWorkload { workload, .. } = self {
            err.insert("workload".into(), workload.as_str().into());
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

/// Input tokens of a step under a policy: given, or its prompt counted; `None` when the step
/// has neither.
#[inline(always)]
pub(crate) fn input_tokens(cp: &CompiledPolicy, step: &Step) -> Option<u64> {
    match (step.input_tokens, &step.prompt) {
        (Some(n), _) => Some(n),
        (None, Some(p)) => Some(cp.policy.tokenizer.count(p)),
        (None, None) => None,
    }
}

/// What the rules picked when the fast path's winner stands: its tier, its rule and how (by
/// the rule, or the default when no rule is a candidate).
#[inline(always)]
fn picked(w: &Winner) -> (TierId, Option<usize>, Via) {
    let rule = w.rule();
    let via = match rule {
        Some(_) => Via::Rule,
        None => Via::Default,
    };
    (w.tier(), rule, via)
}

/// What a step needs of a model's context window: its input tokens plus its expected
/// output.
#[inline(always)]
pub(crate) fn need(step: &Step, tokens: u64) -> u64 {
    tokens.saturating_add(step.expected_output_tokens.unwrap_or(0))
}

/// Decides a step under one policy: rules through the table, then guards.
pub(crate) fn decide<'p>(
    cp: &'p Arc<CompiledPolicy>,
    step: &Step,
) -> Result<Decision<'p>, RouteError> {
    decide_with_role(cp, step, cp.columns.role_class(&step.role))
}

/// [`decide`] for a step whose class in the policy's role column is known: from a role id,
/// or read from its text before the decision (see `PolicySet::role_class`).
///
/// The common case runs straight through [`FastPath`](crate::compile::fast::FastPath): the
/// step's flags, counts and role class give the candidate rules and guards; the lowest
/// candidate rule gives the winner (or the default) with no branch on which; and the
/// decision is made when that rule needs nothing the fast path leaves out (an expression, a
/// tag), no candidate guard could act on its tier, and the step fits the tier's model.
/// Everything else takes the general path, out of line, so the common case stays small
/// enough to inline into the caller, which then reads the decision from registers.
#[inline(always)]
pub(crate) fn decide_with_role<'p>(
    cp: &'p Arc<CompiledPolicy>,
    step: &Step,
    role: u32,
) -> Result<Decision<'p>, RouteError> {
    if let (Some(fast), Some(tokens)) = (&cp.fast, step.input_tokens) {
        let [mut rules, mut guards] =
            fast.rows(flag_index(step), tokens, step.dependent_tool_calls, role);
        // The fast path's tag is read only when the lowest candidate has a condition on it.
        let mut tag_read = false;
        read_as_needed(fast, cp, step, &mut tag_read, &mut rules, &mut guards);
        if let Some(w) = standing(fast, step, tokens, [rules, guards]) {
            return Ok(made_by(cp, step, tokens, w));
        }
        return unspill(decide_by_tags(
            cp,
            fast,
            step,
            tokens,
            (role, tag_read),
            [rules, guards],
        ));
    }
    decide_general(cp, step, role, 0)
}

/// The fast path's winner for these candidate rules and guards, when it stands as it is: the
/// lowest candidate (or, with none, the default) needs nothing the fast path leaves out, no
/// candidate guard can act on its tier, and the step fits the tier's model.
#[inline(always)]
fn standing<'f>(
    fast: &'f FastPath,
    step: &Step,
    tokens: u64,
    [rules, guards]: [u64; 2],
) -> Option<&'f Winner> {
    let lowest = rules & rules.wrapping_neg();
    // 64 (no candidate) is the default's entry.
    let w = &fast.winners[rules.trailing_zeros() as usize];
    ((lowest & fast.slow) | (guards & w.guard_stop) == 0 && w.fits(need(step, tokens))).then_some(w)
}

/// Reads the fast path's tag when the lowest candidate rule has a condition on it and it
/// has not been read yet, and applies it to the candidates; after it, the lowest candidate
/// does not need it. Straight-line rather than a loop, so a policy without such a tag pays
/// one test.
#[inline(always)]
fn read_as_needed(
    fast: &FastPath,
    cp: &CompiledPolicy,
    step: &Step,
    tag_read: &mut bool,
    rules: &mut u64,
    guards: &mut u64,
) {
    if !*tag_read && *rules & rules.wrapping_neg() & fast.tag_rows != 0 {
        *tag_read = true;
        if let Some(t) = &fast.tag {
            let [r, g] = t.rows_of(cp.columns.tag_class(t.col, step));
            *rules &= r;
            *guards &= g;
        }
    }
}

/// A decision an out-of-line call returned through memory, rebuilt field by field: the
/// caller's own `Result` then stays in registers. Had the call written straight into it,
/// every decision, the inlined common case too, would go through that memory, and a copy of
/// it (`into_owned`) would read back with wide loads what was written with narrow stores,
/// stalling on store forwarding.
#[inline(always)]
pub(crate) fn unspill(r: Result<Decision<'_>, RouteError>) -> Result<Decision<'_>, RouteError> {
    match r {
        Ok(d) => Ok(Decision {
            policy: d.policy,
            tier_via: d.tier_via,
            rule_guard: d.rule_guard,
            input_tokens: d.input_tokens,
            expected_output_tokens: d.expected_output_tokens,
        }),
        Err(e) => Err(e),
    }
}

/// The rest of a decision the fast path started, first for a lowest candidate its tags
/// settle ([`FastPath::settle`]: an expression of tag terms among them): they are read, and
/// when they admit it and leave it sure, and it stands as the fast path's winner would, it
/// wins with no evaluation. What they read goes on to [`decide_after_tags`] with the rest.
/// Out of line, so [`decide_with_role`]'s inline path keeps one call for every slow
/// candidate: a second branch there cost every decision a few instructions.
#[inline(never)]
fn decide_by_tags<'p>(
    cp: &'p Arc<CompiledPolicy>,
    fast: &FastPath,
    step: &Step,
    tokens: u64,
    read: (u32, bool),
    [mut rules, guards]: [u64; 2],
) -> Result<Decision<'p>, RouteError> {
    let lowest = rules & rules.wrapping_neg();
    let mut tags = (0, 0);
    if lowest & fast.settle != 0 && settled_by_tags(fast, step, lowest, &mut rules, &mut tags) {
        let w = &fast.winners[lowest.trailing_zeros() as usize];
        if guards & w.guard_stop == 0 && w.fits(need(step, tokens)) {
            return Ok(made_by(cp, step, tokens, w));
        }
    }
    decide_after_tags(cp, fast, step, tokens, read, [rules, guards], tags)
}

/// [`decide_from_fast`] for candidates the lowest one's tags narrowed, first for what
/// often follows when they ruled it out: the next candidate stands as the fast path's
/// winner would (the default, say), decided with no more than that test. Apart from
/// [`decide_from_fast`] so that the test pays for no more of a setup than its own.
#[inline(never)]
fn decide_after_tags<'p>(
    cp: &'p Arc<CompiledPolicy>,
    fast: &FastPath,
    step: &Step,
    tokens: u64,
    (role, mut tag_read): (u32, bool),
    [mut rules, mut guards]: [u64; 2],
    tags: (u64, u64),
) -> Result<Decision<'p>, RouteError> {
    // Tags read on the way here may have dropped the lowest candidate the fast path looked
    // at: the next one may need the fast path's tag before it can stand.
    read_as_needed(fast, cp, step, &mut tag_read, &mut rules, &mut guards);
    if let Some(w) = standing(fast, step, tokens, [rules, guards]) {
        return Ok(made_by(cp, step, tokens, w));
    }
    decide_from_fast(
        cp,
        fast,
        step,
        tokens,
        (role, tag_read),
        [rules, guards],
        tags,
    )
}

/// For a lowest candidate among [`FastPath::settle`] (`lowest`, its bit): reads the tags it
/// reads that `tags_read` does not mark yet (the masks of a tag read serve every rule),
/// narrowing the candidates and adding to `unsure` the rules they leave to their expression;
/// whether it is then settled: admitted, and sure.
#[inline(always)]
fn settled_by_tags(
    fast: &FastPath,
    step: &Step,
    lowest: u64,
    rules: &mut u64,
    (tags_read, unsure): &mut (u64, u64),
) -> bool {
    let wanted = fast.tags_of(lowest) & !*tags_read;
    if wanted != 0 {
        let [admit, u] = fast.read_tags(step, wanted);
        *tags_read |= wanted;
        *unsure |= u;
        *rules &= admit;
    }
    *rules & lowest & !*unsure != 0
}

/// The rest of a decision the fast path started, after [`decide_after_tags`]. The candidate
/// rules are taken in order, as the table would: a rule the fast path settles wins at once;
/// a slow one its tags settle ([`FastPath::settle`]) has them read (`tags`: those read
/// already, and the rules they leave to their expression; see [`settled_by_tags`]) and wins
/// unless they rule it out or leave it unsure; any other slow one (tag conditions, an
/// expression) is asked its own conditions, tags first, and wins or drops out. Only when a
/// guard that may hold could act on the winner's tier, or the step overflows its model, are
/// the guards' remaining columns read and the guard pass settled in full.
#[inline(never)]
fn decide_from_fast<'p>(
    cp: &'p Arc<CompiledPolicy>,
    fast: &FastPath,
    step: &Step,
    tokens: u64,
    (role, mut tag_read): (u32, bool),
    [mut rules, mut guards]: [u64; 2],
    mut tags: (u64, u64),
) -> Result<Decision<'p>, RouteError> {
    // [`decide_after_tags`] has read the fast path's tag if the lowest candidate needs it.
    if let Some(d) = escalated(cp, fast, step, tokens, [rules, guards]) {
        return Ok(d);
    }
    let picked = loop {
        read_as_needed(fast, cp, step, &mut tag_read, &mut rules, &mut guards);
        let lowest = rules & rules.wrapping_neg();
        if lowest & fast.slow == 0 {
            if rules == 0 && fast.more_rules {
                // None of the first 64 rules holds: the rest of the table decides, from the
                // 65th rule on (the first 64 were settled here, expressions included).
                return decide_past_64(cp, step, role);
            }
            break picked(&fast.winners[rules.trailing_zeros() as usize]);
        }
        let row = lowest.trailing_zeros() as usize;
        if lowest & fast.settle != 0 {
            // Its tag conditions hold, and any expression's terms are all true.
            if settled_by_tags(fast, step, lowest, &mut rules, &mut tags) {
                break picked(&fast.winners[row]);
            }
            // Its tags ruled it out (else it is unsure, and asked below).
            if rules & lowest == 0 {
                continue;
            }
        }
        if tags_hold(cp, step, row) {
            if let Some((tier, via)) = rule_at(cp, step, tokens, row) {
                break (tier, Some(row), via);
            }
        }
        rules &= !lowest;
    };
    // As in the fast path: no guard that may hold can act on the tier, and the step fits.
    let (tier, rule, via) = picked;
    let t = &cp.tier_fast[tier];
    let need = need(step, tokens);
    if guards & t.guard_stop == 0 && need <= t.context_window {
        return Ok(made(cp, step, tokens, tier, via, rule, None));
    }
    // The guards' columns the fast path left out (the tags'), then the guard pass.
    let probe = cp.columns.probe_with_role(step, tokens, Some(role));
    let held = cp.guards.candidates_from(probe, guards, fast.from_tags);
    if held & t.guard_stop == 0 && need <= t.context_window {
        return Ok(made(cp, step, tokens, tier, via, rule, None));
    }
    settle_guards(cp, step, tokens, picked, &mut [held])
}

/// [`decide_general`] from the 65th rule on, for a step none of a policy's first 64 rules
/// admits: out of line, so the loop that hands over to it stays small.
#[cold]
#[inline(never)]
fn decide_past_64<'p>(
    cp: &'p Arc<CompiledPolicy>,
    step: &Step,
    role: u32,
) -> Result<Decision<'p>, RouteError> {
    decide_general(cp, step, role, 64)
}

/// Whether a rule's tag conditions hold for the step: a missing tag never matches, and a
/// value only matches its own type (the meaning the table's tag columns have too).
#[inline]
fn tags_hold(cp: &CompiledPolicy, step: &Step, row: usize) -> bool {
    cp.policy.rules[row]
        .when
        .tags
        .iter()
        .all(|t| step.tags.get(&t.name).is_some_and(|v| t.test.matches(v)))
}

/// The guard pass's answer when the fast path settled the rule and one guard acts: the
/// guard surely holds (no tag or expression in it), escalates, and every guard that
/// may hold accepts the tier it escalates to, which the step fits. In the guard pass that
/// guard moves the step there and no other guard moves or rejects it. `None` for anything
/// else, which the general path settles.
#[inline]
fn escalated<'p>(
    cp: &'p Arc<CompiledPolicy>,
    fast: &FastPath,
    step: &Step,
    tokens: u64,
    [rules, guards]: [u64; 2],
) -> Option<Decision<'p>> {
    if rules & rules.wrapping_neg() & fast.slow != 0 {
        return None;
    }
    let w = &fast.winners[rules.trailing_zeros() as usize];
    let acting = guards & w.guard_stop;
    if acting == 0 || acting & (acting - 1) != 0 || acting & fast.guard_sure == 0 {
        return None;
    }
    let g = acting.trailing_zeros() as usize;
    if cp.guard_exprs.get(g)?.is_some() {
        return None;
    }
    let to = cp.policy.guards.get(g)?.escalate_to?;
    let t = cp.tier_fast.get(to)?;
    if guards & t.guard_stop != 0 || need(step, tokens) > t.context_window {
        return None;
    }
    Some(made(cp, step, tokens, to, Via::Guard, w.rule(), Some(g)))
}

/// A candidate row's answer: its tier, or its expression's (see [`rule_with_expression`]).
#[inline(always)]
fn rule_at(cp: &CompiledPolicy, step: &Step, tokens: u64, row: usize) -> Option<(TierId, Via)> {
    let packed = cp.rule_rows[row];
    if packed & RULE_HAS_EXPR == 0 {
        Some((packed as TierId, Via::Rule))
    } else {
        rule_with_expression(cp, step, tokens, row)
    }
}

/// Every decision the fast path leaves: rules through the table (expressions and tags
/// included) from row `from_row` on, then guards, then the context window. Inlined where a
/// policy of over 64 guards is decided (it has no fast path), so such a decision makes no
/// extra call.
#[inline(always)]
fn decide_general<'p>(
    cp: &'p Arc<CompiledPolicy>,
    step: &Step,
    role: u32,
    from_row: usize,
) -> Result<Decision<'p>, RouteError> {
    let Some(tokens) = input_tokens(cp, step) else {
        return Err(no_tokens());
    };
    let probe = cp.columns.probe_with_role(step, tokens, Some(role));
    let (tier, rule, via) = cp
        .rules
        .first(probe, |row| {
            if row < from_row {
                return None;
            }
            rule_at(cp, step, tokens, row).map(|(t, via)| (t, Some(row), via))
        })
        .unwrap_or((cp.policy.default_tier, None, Via::Default));
    let need = need(step, tokens);
    if cp.guards.words() == 1 {
        let held = if cp.policy.guards.is_empty() {
            0
        } else {
            cp.guards.candidates_one_word(probe)
        };
        // No guard that holds reads an expression or finds the tier's model lacking: the
        // guard pass leaves the tier as it is.
        let fast = &cp.tier_fast[tier];
        if held & fast.guard_stop == 0 && need <= fast.context_window {
            return Ok(made(cp, step, tokens, tier, via, rule, None));
        }
    }
    unspill(guard_and_fit(cp, step, probe, tokens, (tier, rule, via)))
}

/// [`made`] for the fast path's winner `w`, by rule or by default with no guard: its tier
/// and way come packed ([`Winner::tier_default`]), so only whether the step gave expected
/// output is added.
#[inline(always)]
fn made_by<'p>(cp: &'p Arc<CompiledPolicy>, step: &Step, tokens: u64, w: &Winner) -> Decision<'p> {
    // The winner's bit 32 is the way, as `tier_via` packs it.
    const _: () = assert!(Via::Rule as u64 == 0 && Via::Default as u64 == 1);
    let expected = step.expected_output_tokens;
    let d = Decision {
        policy: PolicyRef::borrowed(cp),
        tier_via: w.tier_default | if expected.is_some() { HAS_EXPECTED } else { 0 },
        rule_guard: u64::from(w.rule),
        input_tokens: tokens,
        expected_output_tokens: expected.unwrap_or(0),
    };
    debug_assert!({
        let (tier, rule, via) = picked(w);
        let m = made(cp, step, tokens, tier, via, rule, None);
        (m.tier_via, m.rule_guard) == (d.tier_via, d.rule_guard)
    });
    d
}

/// A decision under `cp` for `step`, packed: every way of deciding builds it here, but the
/// fast path's winner ([`made_by`]).
#[inline(always)]
fn made<'p>(
    cp: &'p Arc<CompiledPolicy>,
    step: &Step,
    tokens: u64,
    tier: TierId,
    via: Via,
    rule: Option<usize>,
    guard: Option<usize>,
) -> Decision<'p> {
    let expected = step.expected_output_tokens;
    Decision {
        policy: PolicyRef::borrowed(cp),
        tier_via: tier_via(tier, via, expected),
        rule_guard: rule_guard(rule, guard),
        input_tokens: tokens,
        expected_output_tokens: expected.unwrap_or(0),
    }
}

/// A winning row with an expression: its value decides, and an error is counted, logged and
/// handled as the policy's `on_expression_error` says. The answer is two words, so it comes
/// back in registers (a larger one, returned through memory and read back at once, stalled).
#[inline(never)]
fn rule_with_expression(
    cp: &CompiledPolicy,
    step: &Step,
    tokens: u64,
    row: usize,
) -> Option<(TierId, Via)> {
    let policy = &cp.policy;
    let expr = cp.rule_exprs[row].as_ref()?;
    match expr.eval(step, tokens) {
        Ok(true) => Some((policy.rules[row].tier, Via::Rule)),
        Ok(false) => None,
        Err(msg) => {
            cp.expression_errors.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(
                policy = %policy.name,
                rule = %policy.rules[row].name,
                error = %msg,
                "rule expression failed"
            );
            match policy.on_expression_error {
                OnExpressionError::Skip => None,
                OnExpressionError::Tier(t) => Some((t, Via::ExpressionError)),
            }
        }
    }
}

/// Steps 4 and 5 of a decision in full, once the rules have picked `(tier, rule, via)`: the
/// guards that hold (expressions included) may move or reject the step, and a step too big
/// for its tier's model goes to the cheapest tier whose model takes it.
#[inline(never)]
fn guard_and_fit<'p>(
    cp: &'p Arc<CompiledPolicy>,
    step: &Step,
    probe: Probe<'_>,
    tokens: u64,
    picked: (TierId, Option<usize>, Via),
) -> Result<Decision<'p>, RouteError> {
    if cp.policy.guards.is_empty() {
        return settle_guards(cp, step, tokens, picked, &mut []);
    }
    // Which guards hold: static conditions from the table (expressions are settled next).
    let words = cp.guards.words();
    if words == 1 {
        let mut one = [cp.guards.candidates_one_word(probe)];
        settle_guards(cp, step, tokens, picked, &mut one)
    } else {
        let mut many = vec![0; words];
        cp.guards.all_candidates(probe, &mut many);
        settle_guards(cp, step, tokens, picked, &mut many)
    }
}

/// Steps 4 and 5 once the guards whose static conditions hold are known (`held`): their
/// expressions, the guard pass, and the context window.
fn settle_guards<'p>(
    cp: &'p Arc<CompiledPolicy>,
    step: &Step,
    tokens: u64,
    (tier, rule, via): (TierId, Option<usize>, Via),
    held: &mut [u64],
) -> Result<Decision<'p>, RouteError> {
    let decided = |tier, via, guard| made(cp, step, tokens, tier, via, rule, guard);
    // Step 5: a decision never names a model whose context window the step overflows.
    let need = need(step, tokens);
    let fitted = |tier, via, guard, held: &[u64]| {
        if cp.fits(tier, need) {
            return Ok(decided(tier, via, guard));
        }
        match cp.cheapest_fitting(need, held) {
            Some(t) => Ok(decided(t, Via::ContextWindow, guard)),
            None => Err(too_big(cp, tier, need)),
        }
    };
    if held.iter().all(|&w| w == 0) {
        return fitted(tier, via, None, held);
    }
    drop_guards_whose_expression_is_false(cp, step, tokens, held);
    match cp.guard_pass(tier, || set_bits(held)) {
        Ok((tier, None)) => fitted(tier, via, None, held),
        Ok((tier, moved_by)) => fitted(tier, Via::Guard, moved_by, held),
        Err((g, tier)) => Err(reject(cp, g, tier)),
    }
}

/// The error for a step with no token count and nothing to count.
#[cold]
fn no_tokens() -> RouteError {
    RouteFailure::InvalidStep(StepError {
        message: "the step has neither `input_tokens` nor a `prompt` to count".into(),
    })
    .into()
}

/// The error for a step no tier's model can take.
#[cold]
fn too_big(cp: &CompiledPolicy, tier: TierId, need: u64) -> RouteError {
    let p = &cp.policy;
    let largest = cp
        .tier_fast
        .iter()
        .map(|t| t.context_window)
        .max()
        .unwrap_or(0);
    RouteFailure::ContextWindowExceeded {
        tokens: need,
        message: format!(
            "the step needs {need} tokens (input plus expected output), more than the context window of tier `{}` (model `{}`, {} tokens), and no tier whose model meets every guard that holds takes it (the largest window is {largest})",
            p.tiers[tier].name,
            p.tier_model(tier).key,
            cp.tier_fast[tier].context_window,
        ),
    }
    .into()
}

/// Clears, from the guards whose static conditions hold, those whose expression is false. An
/// expression that fails counts as holding (guards fail closed); it is counted and logged.
pub(crate) fn drop_guards_whose_expression_is_false(
    cp: &CompiledPolicy,
    step: &Step,
    tokens: u64,
    held: &mut [u64],
) {
    for (w, word) in held.iter_mut().enumerate() {
        let mut bits = *word;
        while bits != 0 {
            let g = w * 64 + bits.trailing_zeros() as usize;
            bits &= bits - 1;
            let Some(expr) = &cp.guard_exprs[g] else {
                continue;
            };
            let holds = expr.eval(step, tokens).unwrap_or_else(|msg| {
                cp.expression_errors.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(policy = %cp.policy.name, guard = %cp.policy.guards[g].name,
                    error = %msg, "guard expression failed; the guard applies");
                true
            });
            if !holds {
                *word &= !(1 << (g % 64));
            }
        }
    }
}

/// The indices of the set bits, lowest first.
pub(crate) fn set_bits(words: &[u64]) -> impl Iterator<Item = usize> + '_ {
    words.iter().enumerate().flat_map(|(w, &word)| {
        let mut bits = word;
        std::iter::from_fn(move || {
            if bits == 0 {
                return None;
            }
            let b = bits.trailing_zeros() as usize;
            bits &= bits - 1;
            Some(w * 64 + b)
        })
    })
}

fn reject(cp: &CompiledPolicy, g: usize, tier: TierId) -> RouteError {
    let p = &cp.policy;
    let guard = &p.guards[g];
    let model = p.tier_model(tier);
    let missing: Vec<&str> = guard
        .require
        .iter()
        .filter(|r| !model.capabilities.contains(r))
        .map(|s| s.as_str())
        .collect();
    RouteFailure::GuardRejected {
        guard: guard.name.clone(),
        message: format!(
            "guard `{}` rejected the step: tier `{}` (model `{}`) lacks {}{}",
            guard.name,
            p.tiers[tier].name,
            model.key,
            missing.join(", "),
            if guard.escalate_to.is_none() {
                " and the guard has no escalate_to"
            } else {
                ""
            }
        ),
    }
    .into()
}

#[cfg(test)]
mod tests {
    use super::{Decision, RouteError, RouteFailure, Via};

    /// The error is one pointer: a routing `Result` is the size of its decision, and an
    /// error taken apart and cloned keeps what it says.
    #[test]
    fn a_routing_result_is_the_size_of_its_decision() {
        use std::mem::size_of;
        assert_eq!(size_of::<RouteError>(), size_of::<usize>());
        assert_eq!(
            size_of::<Result<Decision<'static>, RouteError>>(),
            size_of::<Decision<'static>>()
        );
        let e = RouteError::from(RouteFailure::WorkloadRequired {
            known: vec!["a".into(), "b".into()],
        });
        let copy = e.clone();
        assert_eq!(copy, e);
        assert_eq!(e.kind(), "workload_required");
        let f = e.into_failure();
        assert_eq!(copy.failure(), &f);
        assert_eq!(copy.to_string(), f.to_string());
    }

    /// A decision packs its way as the `Via`'s value, read back as an index of `Via::ALL`.
    #[test]
    fn every_way_is_its_index() {
        for (i, v) in Via::ALL.into_iter().enumerate() {
            assert_eq!(v as u64, i as u64, "{v}");
        }
    }

    /// Small enough to return cheaply: five words.
    #[test]
    fn a_decision_is_five_words() {
        assert_eq!(std::mem::size_of::<Decision<'static>>(), 48);
    }

    /// A rule whose expression is tag terms only is settled from the fast path's tag
    /// classes, with no evaluation, and decides exactly as the engine does: the same policy
    /// with each expression kept in the engine (`|| step.input_tokens < 0` stops lowering
    /// and changes no answer) gives the same tier, rule and way on every step, and counts
    /// the same expression errors. Tag values sit on, beside and within the engine's float
    /// tolerance of every constant, and are missing, of other types, and not finite.
    mod lowered_tags {
        use std::path::Path;

        use proptest::prelude::*;

        use crate::router::PolicySet;
        use crate::step::{Step, TagValue};

        const NUMS: [&str; 7] = ["0", "5", "1000000", "-3", "2.5", "0.1", "9007199254740992"];
        const OPS: [&str; 6] = ["==", "!=", "<", "<=", ">", ">="];

        /// One term reading one tag.
        fn term() -> impl Strategy<Value = String> {
            let tag = prop_oneof![Just("v"), Just("j")];
            prop_oneof![
                3 => (tag.clone(), proptest::sample::select(&OPS[..]), proptest::sample::select(&NUMS[..]), any::<bool>())
                    .prop_map(|(k, op, c, flip)| if flip {
                        format!("{c} {op} step.tags.{k}")
                    } else {
                        format!("step.tags.{k} {op} {c}")
                    }),
                2 => (tag.clone(), proptest::sample::select(&OPS[..]), proptest::sample::select(&NUMS[..]))
                    .prop_map(|(k, op, c)| format!("\"{k}\" in step.tags && step.tags.{k} {op} {c}")),
                2 => tag.clone().prop_map(|k| format!("\"{k}\" in step.tags")),
                2 => (tag.clone(), prop_oneof![Just("EU"), Just("UK")], prop_oneof![Just("=="), Just("!=")])
                    .prop_map(|(k, v, op)| format!("step.tags.{k} {op} \"{v}\"")),
                1 => (tag, any::<bool>()).prop_map(|(k, b)| format!("step.tags.{k} == {b}")),
            ]
        }

        fn expression() -> impl Strategy<Value = String> {
            proptest::collection::vec(term(), 1..4).prop_map(|t| t.join(" && "))
        }

        /// A rule's static conditions besides its expression.
        fn statics() -> impl Strategy<Value = String> {
            prop_oneof![
                Just(String::new()),
                Just("role = \"r\", ".to_string()),
                Just("tags = { j = [\"EU\", \"UK\"] }, ".to_string()),
                Just("tags = { v = { gt = 4, le = 1000000 } }, ".to_string()),
            ]
        }

        fn policy(rules: &[(String, String)], on_error: &str, keep: bool) -> String {
            let mut text = format!(
                "[policy]\nname = \"p\"\ndefault_tier = \"mid\"\non_expression_error = \"{on_error}\"\n\
                 [models.m]\nprovider = \"mock\"\ninput_usd_per_mtok = 1.0\noutput_usd_per_mtok = 1.0\n\
                 [tiers]\nlo = \"m\"\nmid = \"m\"\nhi = \"m\"\n"
            );
            for (i, (st, ex)) in rules.iter().enumerate() {
                let ex = if keep {
                    format!("({ex}) || step.input_tokens < 0")
                } else {
                    ex.clone()
                };
                let tier = ["hi", "lo", "mid"][i % 3];
                text += &format!(
                    "[[rules]]\nname = \"r{i}\"\nwhen = {{ {st}expr = '{ex}' }}\ntier = \"{tier}\"\n"
                );
            }
            // A rule with no expression after them, so a step some expression drops lands
            // on a rule, not only on the default.
            text += "[[rules]]\nname = \"plain\"\nwhen = { role = \"x\" }\ntier = \"lo\"\n";
            text
        }

        /// Numbers on, beside and within the engine's tolerance of each constant.
        fn numbers() -> Vec<f64> {
            let mut out = vec![
                f64::NAN,
                f64::INFINITY,
                f64::NEG_INFINITY,
                0.0,
                -0.0,
                1e-300,
            ];
            for c in [
                0.0,
                5.0,
                1_000_000.0,
                -3.0,
                2.5,
                0.1,
                9_007_199_254_740_992.0,
            ] {
                let e = f64::EPSILON * f64::abs(c).max(1.0);
                out.extend([c, c.next_up(), c.next_down(), c + 1.0, c - 1.0, c + 0.5]);
                for k in [0.5, 1.0, 2.0, 8.0, 16.0, 17.0, 40.0] {
                    out.extend([c + k * e, c - k * e]);
                }
            }
            out
        }

        fn tag_value() -> impl Strategy<Value = Option<TagValue>> {
            prop_oneof![
                1 => Just(None),
                4 => proptest::sample::select(numbers()).prop_map(|n| Some(TagValue::Num(n))),
                2 => prop_oneof![Just("EU"), Just("UK"), Just("US"), Just("")]
                    .prop_map(|s| Some(TagValue::Str(s.into()))),
                1 => any::<bool>().prop_map(|b| Some(TagValue::Bool(b))),
            ]
        }

        fn step() -> impl Strategy<Value = Step> {
            (
                prop_oneof![Just("r"), Just("x"), Just("q")],
                tag_value(),
                tag_value(),
                any::<bool>(),
            )
                .prop_map(|(role, v, j, extra)| {
                    let mut s = Step::new(role).input_tokens(100);
                    for (k, x) in [("v", v), ("j", j)] {
                        if let Some(x) = x {
                            s.tags.insert(k.into(), x);
                        }
                    }
                    // A third tag, so the walk over more than two tags runs too.
                    if extra {
                        s.tags.insert("a".into(), TagValue::Num(1.0));
                    }
                    s
                })
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(400))]

            #[test]
            fn a_lowered_expression_decides_as_the_engine_does(
                rules in proptest::collection::vec((statics(), expression()), 1..4),
                on_error in prop_oneof![Just("skip"), Just("hi"), Just("lo")],
                steps in proptest::collection::vec(step(), 64),
            ) {
                let load = |keep| {
                    PolicySet::from_policy_text(Path::new("p.toml"), policy(&rules, on_error, keep))
                        .expect("the generated policy loads")
                };
                let (lowered, kept) = (load(false), load(true));
                let fast = lowered.policies()[0].fast.as_ref().expect("a fast path");
                let n = rules.len() as u32;
                // Every generated expression is settled from tag classes.
                prop_assert_eq!(fast.settle & ((1u64 << n) - 1), (1u64 << n) - 1);
                prop_assert_eq!(kept.policies()[0].fast.as_ref().unwrap().settle & ((1u64 << n) - 1), 0);
                for s in &steps {
                    let errors = |set: &PolicySet| set.policies()[0].expression_errors();
                    let (a0, b0) = (errors(&lowered), errors(&kept));
                    let answer = |set: &PolicySet| match set.route(s) {
                        Ok(d) => Ok((d.tier().to_string(), d.rule().map(str::to_string), d.via())),
                        Err(e) => Err(e.kind()),
                    };
                    let (a, b) = (answer(&lowered), answer(&kept));
                    prop_assert_eq!(&a, &b, "step {}", s);
                    prop_assert_eq!(errors(&lowered) - a0, errors(&kept) - b0, "errors, step {}", s);
                }
            }
        }
    }
}
