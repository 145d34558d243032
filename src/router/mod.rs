//! The [`Router`]: the loaded policy set behind one atomic pointer. Routing reads the
//! current set without a lock and decides wholly under it; [`Router::replace`] swaps in a new
//! set, and steps already being decided finish under the old one.

pub(crate) mod decision;
mod explain;
pub mod wire;

use std::cell::Cell;
use std::collections::HashMap;
use std::path::Path;
use std::ptr::NonNull;
use std::sync::atomic::{fence, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use arc_swap::ArcSwap;

pub use decision::{Decision, RouteError, RouteFailure, Via};
pub use explain::{Check, CheckKind, Explanation};

use crate::compile::{self, CompiledPolicy};
use crate::policy::{self, LoadError};
use crate::step::{RoleId, Step};

/// Numbers policy sets, so a [`RoleId`] is only ever read by the set that made it.
static NEXT_SET_ID: AtomicU32 = AtomicU32::new(1);

/// Every loaded policy, by workload. Immutable once built; replaced as a whole.
///
/// ```
/// use switchyard::{PolicySet, Step};
///
/// // A directory loads every policy in it; a step names its workload.
/// let set = PolicySet::load("policies").unwrap();
/// let step = Step::new("format").input_tokens(800).workload("code-fix");
/// let d = set.route(&step).unwrap();
/// assert_eq!(d.policy(), "code-fix");
/// ```
#[derive(Debug)]
pub struct PolicySet {
    policies: Vec<Arc<CompiledPolicy>>,
    /// This set's number, carried by the role ids it makes.
    id: u32,
    /// Every role some policy of the set names, numbered: the index of a [`RoleId`].
    roles: HashMap<String, u32>,
    /// Per policy, the class in its role column of each numbered role, then of "any other
    /// role" (the last entry).
    role_classes: Vec<Box<[u32]>>,
}

impl PolicySet {
    /// A set of compiled policies. Names must be unique (loading a directory checks that).
    pub fn new(policies: Vec<CompiledPolicy>) -> PolicySet {
        Self::from_shared(policies.into_iter().map(Arc::new).collect())
    }

    /// A set of policies already compiled and shared, e.g. kept from an earlier set by a
    /// reload. Names must be unique.
    pub fn from_shared(policies: Vec<Arc<CompiledPolicy>>) -> PolicySet {
        let mut roles: HashMap<String, u32> = HashMap::new();
        let mut names: Vec<&str> = Vec::new();
        for p in &policies {
            for r in p.columns.roles.roles() {
                if !roles.contains_key(r) {
                    roles.insert(r.clone(), names.len() as u32);
                    names.push(r);
                }
            }
        }
        let role_classes = policies
            .iter()
            .map(|p| {
                names
                    .iter()
                    .map(|r| p.columns.role_class(r))
                    .chain([p.columns.role_class_other()])
                    .collect()
            })
            .collect();
        PolicySet {
            id: NEXT_SET_ID.fetch_add(1, Ordering::Relaxed),
            policies,
            roles,
            role_classes,
        }
    }

    /// Resolves a role once, for steps that will be routed under this set many times:
    /// attach it with [`Step::role_id`] and routing reads no text for the role. A role no
    /// policy names gets an id too (it routes as "any other role").
    ///
    /// ```
    /// use switchyard::{PolicySet, Step};
    /// let set = PolicySet::load("policies/contract-review.toml").unwrap();
    /// let summarize = set.role_id("summarize");
    /// for tokens in [1_000, 50_000] {
    ///     let step = Step::new("summarize").role_id(summarize).input_tokens(tokens);
    ///     let by_text = Step::new("summarize").input_tokens(tokens);
    ///     assert_eq!(set.route(&step).unwrap().rule(), set.route(&by_text).unwrap().rule());
    /// }
    /// ```
    pub fn role_id(&self, role: &str) -> RoleId {
        // A role no policy names takes the index past the named ones: each policy's
        // "any other role" entry, so the lookup in `role_class` never misses.
        let other = self.roles.len() as u32;
        let index = self.roles.get(role).copied().unwrap_or(other);
        match &self.policies[..] {
            // With one policy the id is the role's class in it, so routing reads no table.
            [_] => RoleId::new(self.id, self.role_classes[0][index as usize]),
            _ => RoleId::new(self.id, index),
        }
    }

    /// The step's role id, when this set made it.
    #[inline(always)]
    fn own_role_id(&self, step: &Step) -> Option<RoleId> {
        let id = step.role_id.filter(|id| id.set == self.id)?;
        debug_assert_eq!(
            Some(id),
            Some(self.role_id(&step.role)),
            "a step's role_id must be its role's"
        );
        Some(id)
    }

    /// The class of the step's role in policy `p`'s role column: from the role id the step
    /// carries when this set made it, else from the role's text.
    ///
    /// Read before the decision, whether or not a rule it reaches names a role: a role of up
    /// to 24 bytes is held in the step itself, so reading it costs no cache miss, and
    /// reading it only when needed cost a branch as random as the steps.
    #[inline]
    fn role_class(&self, p: usize, step: &Step) -> u32 {
        let by_id = self
            .own_role_id(step)
            .and_then(|id| match &self.role_classes[..] {
                // One policy: the id is the class (see [`PolicySet::role_id`]).
                [_] => Some(id.index),
                classes => classes.get(p)?.get(id.index as usize).copied(),
            });
        by_id.unwrap_or_else(|| self.policies[p].columns.role_class(&step.role))
    }

    /// [`PolicySet::role_class`] in a set known to hold one policy, `only`: the id itself,
    /// when this set made it.
    #[inline(always)]
    fn only_role_class(&self, only: &CompiledPolicy, step: &Step) -> u32 {
        match self.own_role_id(step) {
            Some(id) => id.index,
            None => only.columns.role_class(&step.role),
        }
    }

    /// Loads, checks and compiles a policy file or a policy-set directory.
    pub fn load(path: impl AsRef<Path>) -> Result<PolicySet, LoadError> {
        Self::load_with(path, &policy::LoadOptions::default())
    }

    /// [`PolicySet::load`] with load options (such as directories includes may come from).
    pub fn load_with(
        path: impl AsRef<Path>,
        options: &policy::LoadOptions,
    ) -> Result<PolicySet, LoadError> {
        let mut compiled = Vec::new();
        let mut diagnostics = Vec::new();
        for p in compile::load_with(path.as_ref(), options)? {
            match CompiledPolicy::compile_checked(p) {
                Ok(c) => compiled.push(c),
                Err(d) => diagnostics.extend(d),
            }
        }
        if !diagnostics.is_empty() {
            return Err(LoadError { diagnostics });
        }
        Ok(PolicySet::new(compiled))
    }

    /// Checks and compiles one policy from text (includes are read relative to `path`).
    pub fn from_policy_text(path: &Path, text: impl Into<String>) -> Result<PolicySet, LoadError> {
        let p = compile::load_policy_text(path, text.into())?;
        let c =
            CompiledPolicy::compile_checked(p).map_err(|diagnostics| LoadError { diagnostics })?;
        Ok(PolicySet::new(vec![c]))
    }

    /// The policies, in load order.
    pub fn policies(&self) -> &[Arc<CompiledPolicy>] {
        &self.policies
    }

    /// The policy serving a workload.
    pub fn get(&self, workload: &str) -> Option<&Arc<CompiledPolicy>> {
        self.index_of(workload).map(|i| &self.policies[i])
    }

    /// Where the policy named `workload` is in [`PolicySet::policies`].
    #[inline]
    fn index_of(&self, workload: &str) -> Option<usize> {
        self.policies.iter().position(|p| p.policy.name == workload)
    }

    /// The policy a step is for: the one its `workload` names; with no workload, the only
    /// policy loaded.
    #[inline]
    pub fn select(&self, step: &Step) -> Result<&Arc<CompiledPolicy>, RouteError> {
        self.select_index(step).map(|i| &self.policies[i])
    }

    /// [`PolicySet::select`], as an index into [`PolicySet::policies`].
    #[inline]
    fn select_index(&self, step: &Step) -> Result<usize, RouteError> {
        match &step.workload {
            None if self.policies.len() == 1 => Ok(0),
            Some(w) => self.index_of(w).ok_or_else(|| self.unknown_workload(w)),
            None => Err(self.workload_required()),
        }
    }

    #[cold]
    fn unknown_workload(&self, workload: &str) -> RouteError {
        RouteFailure::UnknownWorkload {
            workload: workload.to_string(),
            known: self.names(),
        }
        .into()
    }

    #[cold]
    fn workload_required(&self) -> RouteError {
        RouteFailure::WorkloadRequired {
            known: self.names(),
        }
        .into()
    }

    fn names(&self) -> Vec<String> {
        self.policies
            .iter()
            .map(|p| p.policy.name.clone())
            .collect()
    }

    /// Routes a step under this set. The decision borrows the set; hold an `Arc<PolicySet>`
    /// from [`Router::current`] to route a batch under one version with no atomic operations.
    #[inline(always)]
    pub fn route(&self, step: &Step) -> Result<Decision<'_>, RouteError> {
        // The common set, one policy and a step naming no workload, selects nothing: kept
        // apart so its decision is inlined with no index to merge and check.
        if let ([only], None) = (&self.policies[..], &step.workload) {
            let role = self.only_role_class(only, step);
            return decision::decide_with_role(only, step, role);
        }
        decision::unspill(self.route_selected(step))
    }

    /// [`PolicySet::route`] for a set of several policies, or a step naming its workload.
    #[inline(never)]
    fn route_selected(&self, step: &Step) -> Result<Decision<'_>, RouteError> {
        let p = self.select_index(step)?;
        decision::decide_with_role(&self.policies[p], step, self.role_class(p, step))
    }

    /// Routes a step and records every rule and guard looked at, and why each held or not.
    pub fn explain(&self, step: &Step) -> Explanation {
        match self.select(step) {
            Ok(cp) => explain::explain(cp, step),
            Err(e) => Explanation::failed(e),
        }
    }
}

/// Routes steps under the current policy set; safe to share between threads.
///
/// ```
/// use switchyard::{Router, Step};
/// let router = Router::load("policies/contract-review.toml").unwrap();
/// let d = router.route(&Step::new("format").input_tokens(1200)).unwrap();
/// println!("{} via {} -> {} (${:?})", d.tier(), d.via(), d.model().model_id, d.estimated_usd());
/// ```
#[derive(Debug)]
pub struct Router {
    current: ArcSwap<PolicySet>,
    /// Names this router and the set it serves, for the per-thread cache: a stamp no other
    /// router or earlier set of this one ever had, taken anew after every swap. One word, so
    /// a thread checks its cached set with one compare.
    stamp: AtomicU64,
}

/// The stamps of every router's sets: even and never 0, so a slot's 0 (nothing cached) and
/// its in-use bit ([`IN_USE`]) name no set.
static NEXT_STAMP: AtomicU64 = AtomicU64::new(2);

/// A new stamp for a router's set (see [`Router::stamp`]).
fn next_stamp() -> u64 {
    NEXT_STAMP.fetch_add(2, Ordering::Relaxed)
}

/// The bit of [`Slot::stamp`] set while a step is routed under the cached set: a nested
/// call (from a logging subscriber, say) must not replace the set being used, and with the
/// bit set the slot's stamp is no router's, so a nested call goes to [`Router::recache`],
/// which sees the bit and routes without the cache.
const IN_USE: u64 = 1;

/// Which set a thread last routed under, read on every route: plain cells with no
/// destructor, so reading them is one thread-relative load each, with no check of whether the
/// thread is being torn down.
struct Slot {
    /// The [`Router::stamp`] of the cached set (0: nothing cached), with [`IN_USE`] while a
    /// step is routed under it.
    stamp: Cell<u64>,
    /// The set, kept alive by [`Slot::lease`] for as long as `stamp` is not 0.
    set: Cell<*const PolicySet>,
    /// This thread's lease on the set (null: none), let go by [`HELD`] when the thread exits.
    lease: Cell<*const Lease>,
    /// The counts this thread holds on that lease for its decisions, kept here rather than
    /// in the lease: see [`Lease`]. Wrapping: a decision cloned on another thread and
    /// dropped on this one takes one away that was never added here.
    count: Cell<usize>,
}

/// A thread's hold on the set it caches, shared with the decisions [`Router::route`] made
/// under it, so an owned decision costs no atomic operation on the thread that made it: the
/// lease and its set are freed once the thread has let go (routed under a newer set, or
/// exited) and the last of those decisions is gone.
///
/// The count is biased towards the thread holding the lease, as in Swift's and CPython's
/// biased reference counting: that thread counts its decisions with plain arithmetic in
/// [`Slot::count`]; a count taken or given back anywhere else, or after the thread has let
/// go, goes to [`Lease::count`], atomically. While the thread holds the lease, `count` carries
/// [`BIAS`] for it, so other threads giving back counts never bring it to zero; letting go
/// moves the thread's own counts in and takes the bias out.
struct Lease {
    /// Read by no one: held, so the set outlives the decisions that borrow from it.
    _set: Arc<PolicySet>,
    count: AtomicUsize,
}

/// What [`Lease::count`] carries for the thread holding the lease: far above any number of
/// decisions alive at once.
const BIAS: usize = 1 << (usize::BITS - 2);

impl Lease {
    /// A new lease on `set`, held by the calling thread.
    fn new(set: Arc<PolicySet>) -> NonNull<Lease> {
        NonNull::from(Box::leak(Box::new(Lease {
            _set: set,
            count: AtomicUsize::new(BIAS),
        })))
    }

    /// When `keep` is the lease this thread holds (both alive, so equal addresses are one
    /// lease; any other address, `decision::ARC` included, is not), adds `delta` (wrapping:
    /// `usize::MAX` takes one away) to its plain count, and says so.
    #[inline(always)]
    fn add_own(keep: *const Lease, delta: usize) -> bool {
        SLOT.with(|s| {
            let own = s.lease.get() == keep;
            if own {
                s.count.set(s.count.get().wrapping_add(delta));
            }
            own
        })
    }

    /// Takes a count, on the thread holding the lease.
    ///
    /// # Safety
    ///
    /// This thread's cache holds `lease`.
    #[inline(always)]
    unsafe fn acquire_own(lease: NonNull<Lease>) {
        SLOT.with(|s| {
            debug_assert_eq!(
                s.lease.get(),
                lease.as_ptr().cast_const(),
                "the cache's lease"
            );
            s.count.set(s.count.get().wrapping_add(1));
        })
    }

    /// Takes one more count.
    ///
    /// # Safety
    ///
    /// A count is held on `lease`, so it is alive.
    #[inline]
    unsafe fn acquire(lease: NonNull<Lease>) {
        if !Lease::add_own(lease.as_ptr(), 1) {
            // SAFETY: alive, as the caller says. Relaxed, as for `Arc`: taking a count from
            // one already held needs no ordering.
            unsafe { lease.as_ref() }
                .count
                .fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The holding thread lets go: its `own` counts (taken from [`Slot::count`]) move to
    /// the lease, and the bias goes.
    ///
    /// # Safety
    ///
    /// Called once, by the thread that held `lease`, after clearing its slot.
    unsafe fn let_go(lease: NonNull<Lease>, own: usize) {
        // SAFETY: the bias is still in the count, as the caller says.
        unsafe { Lease::take(lease, BIAS.wrapping_sub(own)) }
    }

    /// Subtracts `n` from the shared count, and frees the lease (and with it, perhaps, the
    /// set) when that leaves nothing.
    ///
    /// # Safety
    ///
    /// `n` counts are held on `lease`.
    unsafe fn take(lease: NonNull<Lease>, n: usize) {
        // As `Arc`'s drop: release our uses of the set, and the thread that frees it
        // acquires everyone's.
        // SAFETY: alive while we hold counts.
        if unsafe { lease.as_ref() }
            .count
            .fetch_sub(n, Ordering::Release)
            == n
        {
            fence(Ordering::Acquire);
            // SAFETY: no count is left, so nothing else refers to it.
            drop(unsafe { Box::from_raw(lease.as_ptr()) });
        }
    }
}

/// Lets go of this thread's lease when the thread exits: a thread-local with a destructor,
/// touched by [`Router::recache`] so that it is registered. It empties the slot first, so a
/// route made while the thread is being torn down never reads a freed set.
struct Held;

impl Drop for Held {
    fn drop(&mut self) {
        let (lease, own) = SLOT.with(|s| {
            s.stamp.set(0);
            (s.lease.replace(std::ptr::null()), s.count.replace(0))
        });
        if let Some(lease) = NonNull::new(lease.cast_mut()) {
            // SAFETY: this thread held it, and the slot no longer names it.
            unsafe { Lease::let_go(lease, own) };
        }
    }
}

thread_local! {
    static SLOT: Slot = const {
        Slot {
            stamp: Cell::new(0),
            set: Cell::new(std::ptr::null()),
            lease: Cell::new(std::ptr::null()),
            count: Cell::new(0),
        }
    };
    static HELD: Held = const { Held };
}

/// Marks the cached set in use until dropped (on unwinding too).
struct InUse;

impl Drop for InUse {
    #[inline(always)]
    fn drop(&mut self) {
        SLOT.with(|s| s.stamp.set(s.stamp.get() & !IN_USE));
    }
}

/// A hit in this thread's cache: the set and the lease that holds it, in use until dropped.
type Cached = (*const PolicySet, NonNull<Lease>, InUse);

impl Router {
    /// A router serving this set.
    pub fn new(set: PolicySet) -> Router {
        Router {
            current: ArcSwap::from_pointee(set),
            stamp: AtomicU64::new(next_stamp()),
        }
    }

    /// The set being served, from this thread's cache, marked in use; `None` when the
    /// cache is in use already (a nested call) or gone (the thread is exiting). The common
    /// case, the same set as last time, is a few loads and compares, inlined.
    #[inline(always)]
    fn cached(&self) -> Option<Cached> {
        // Read before loading the set: a swap in between leaves a newer set cached under an
        // older stamp, which costs one more load later and nothing else.
        let stamp = self.stamp.load(Ordering::Acquire);
        let hit = SLOT.with(|s| {
            let hit = s.stamp.get() == stamp;
            if hit {
                s.stamp.set(stamp | IN_USE);
            }
            hit.then(|| (s.set.get(), s.lease.get()))
        });
        match hit {
            Some((set, lease)) => {
                // SAFETY: a slot naming a router's set holds a lease on it.
                let lease = unsafe { NonNull::new_unchecked(lease.cast_mut()) };
                Some((set, lease, InUse))
            }
            None => self.recache(stamp),
        }
    }

    /// [`Router::cached`] when this thread's cache holds another set (or none): caches the
    /// current one.
    #[cold]
    #[inline(never)]
    fn recache(&self, stamp: u64) -> Option<Cached> {
        if SLOT.with(|s| s.stamp.replace(s.stamp.get() | IN_USE) & IN_USE != 0) {
            return None;
        }
        let in_use = InUse;
        // Registers the let-go at thread exit; fails while the thread is torn down, which
        // then routes without the cache.
        HELD.try_with(|_| ()).ok()?;
        let set = self.current.load_full();
        let ptr = Arc::as_ptr(&set);
        let lease = Lease::new(set);
        let (old, own) = SLOT.with(|s| {
            s.set.set(ptr);
            s.stamp.set(stamp | IN_USE);
            (s.lease.replace(lease.as_ptr()), s.count.replace(0))
        });
        // Let go last, with the slot naming the new lease: the old set's drop may run code
        // that routes.
        if let Some(old) = NonNull::new(old.cast_mut()) {
            // SAFETY: this thread held `old`, and the slot no longer names it.
            unsafe { Lease::let_go(old, own) };
        }
        Some((ptr, lease, in_use))
    }

    /// Loads a policy file or directory and serves it.
    pub fn load(path: impl AsRef<Path>) -> Result<Router, LoadError> {
        PolicySet::load(path).map(Router::new)
    }

    /// Decides where a step goes. Never blocks; a decision is made wholly under one policy
    /// set, even when a replace happens at the same time.
    ///
    /// Each thread keeps a handle on the set it last routed under, so routing costs no
    /// atomic read-modify-write of the shared pointer; a replaced set is freed once every
    /// thread that used it has routed again (or exited) and the decisions made under it are
    /// gone. The decision counts itself on its thread's handle with plain arithmetic; only a
    /// decision cloned or dropped on another thread, or outliving its thread's handle, counts
    /// atomically.
    #[inline(always)]
    pub fn route(&self, step: &Step) -> Result<Decision<'static>, RouteError> {
        match self.cached() {
            Some((set, lease, _in_use)) => {
                // SAFETY: the set is held by `lease`, which this thread's cache holds until
                // `recache` on this thread replaces it, never while in use (`_in_use`); the
                // decision borrows the set and then counts itself on `lease`.
                let set = unsafe { &*set };
                set.route(step).map(|d| unsafe { d.leased(lease) })
            }
            None => decision::unspill(Self::route_with_uncached(&self.current.load(), step, |r| {
                r.map(Decision::into_owned)
            })),
        }
    }

    /// Decides where a step goes and hands the decision to `f`, borrowed from this thread's
    /// cached set: the same decision as [`Router::route`] without counting it on the
    /// thread's handle, for a hot loop that reads the decision and moves on. Call
    /// [`Decision::into_owned`] inside `f` to keep it longer (one atomic increment).
    ///
    /// ```
    /// use switchyard::{Router, Step};
    /// let router = Router::load("policies/contract-review.toml").unwrap();
    /// let tier = router.route_with(&Step::new("format").input_tokens(1200), |d| {
    ///     d.map(|d| d.tier_id())
    /// });
    /// assert_eq!(tier.unwrap(), router.route(&Step::new("format").input_tokens(1200)).unwrap().tier_id());
    /// ```
    #[inline(always)]
    pub fn route_with<R>(
        &self,
        step: &Step,
        f: impl FnOnce(Result<Decision<'_>, RouteError>) -> R,
    ) -> R {
        match self.cached() {
            Some((set, _, _in_use)) => {
                // SAFETY: the set is held by this thread's cache, which is replaced only by
                // `recache` on this thread and only while not in use; `_in_use` marks it in
                // use until `f` has returned, and `f` cannot keep the borrow past that.
                let set = unsafe { &*set };
                f(set.route(step))
            }
            None => Self::route_with_uncached(&self.current.load(), step, f),
        }
    }

    /// [`Router::route_with`] without the cache.
    #[cold]
    #[inline(never)]
    fn route_with_uncached<R>(
        set: &PolicySet,
        step: &Step,
        f: impl FnOnce(Result<Decision<'_>, RouteError>) -> R,
    ) -> R {
        f(set.route(step))
    }

    /// The same decision, with the trace of every rule and guard looked at.
    pub fn explain(&self, step: &Step) -> Explanation {
        self.current.load().explain(step)
    }

    /// Swaps in a new policy set atomically and returns the old one.
    pub fn replace(&self, set: PolicySet) -> Arc<PolicySet> {
        let old = self.current.swap(Arc::new(set));
        // A read-modify-write, not a store: a thread that reads the last of two racing
        // replaces' stamps then sees both swaps (its release sequence holds the other's).
        self.stamp.swap(next_stamp(), Ordering::Release);
        old
    }

    /// The set being served now. Hold it to route many steps under one version.
    pub fn current(&self) -> Arc<PolicySet> {
        self.current.load_full()
    }
}

#[cfg(test)]
mod tests {
    use super::Via;
    use crate::policy::EXPECT_VIA_NAMES;

    /// `expect_via` accepts exactly the words decisions use; the exhaustive match makes a new
    /// `Via` fail to compile here until the list is updated. (Here, not in `policy`, because
    /// `Via` is the router's and the policy layer names nothing above it.)
    #[test]
    fn expect_via_names_are_the_vias() {
        // Every way routing decides; `budget_downgrade` is the runner's.
        let all: Vec<&str> = Via::ALL
            .into_iter()
            .filter(|v| *v != Via::BudgetDowngrade)
            .map(Via::as_str)
            .collect();
        assert_eq!(all, EXPECT_VIA_NAMES);
    }

    /// A decision printed with `{:?}` says where the step went, not the whole compiled
    /// policy it holds (which ran to tens of kilobytes).
    #[test]
    fn a_decision_debugs_in_a_line() {
        let router = super::Router::load("policies/contract-review.toml").unwrap();
        let d = router
            .route(&crate::step::Step::new("format").input_tokens(8_000))
            .unwrap();
        let text = format!("{d:?}");
        assert!(text.len() < 300, "{} bytes: {text}", text.len());
        assert!(
            text.contains("contract-review") && text.contains("cheap-roles"),
            "{text}"
        );
    }
}
