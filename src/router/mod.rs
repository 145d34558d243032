//! The [`Router`]: the loaded policy set behind one atomic pointer. Routing reads the
//! current set without a lock and decides wholly under it; [`Router::replace`] swaps in a new
//! set, and steps already being decided finish under the old one.

pub(crate) mod decision;
mod explain;
pub mod wire;

use std::path::Path;
use std::sync::Arc;

use arc_swap::ArcSwap;

pub use decision::{Decision, RouteError, Via};
pub use explain::{Check, CheckKind, Explanation};

use crate::compile::{self, CompiledPolicy};
use crate::policy::{self, LoadError};
use crate::step::Step;

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
}

impl PolicySet {
    /// A set of compiled policies. Names must be unique (loading a directory checks that).
    pub fn new(policies: Vec<CompiledPolicy>) -> PolicySet {
        PolicySet {
            policies: policies.into_iter().map(Arc::new).collect(),
        }
    }

    /// A set of policies already compiled and shared, e.g. kept from an earlier set by a
    /// reload. Names must be unique.
    pub fn from_shared(policies: Vec<Arc<CompiledPolicy>>) -> PolicySet {
        PolicySet { policies }
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
        self.policies.iter().find(|p| p.policy.name == workload)
    }

    /// The policy a step is for: the one its `workload` names; with no workload, the only
    /// policy loaded.
    pub fn select(&self, step: &Step) -> Result<&Arc<CompiledPolicy>, RouteError> {
        match &step.workload {
            Some(w) => self.get(w).ok_or_else(|| RouteError::UnknownWorkload {
                workload: w.clone(),
                known: self.names(),
            }),
            None if self.policies.len() == 1 => Ok(&self.policies[0]),
            None => Err(RouteError::WorkloadRequired {
                known: self.names(),
            }),
        }
    }

    fn names(&self) -> Vec<String> {
        self.policies
            .iter()
            .map(|p| p.policy.name.clone())
            .collect()
    }

    /// Routes a step under this set. The decision borrows the set; hold an `Arc<PolicySet>`
    /// from [`Router::current`] to route a batch under one version with no atomic operations.
    pub fn route(&self, step: &Step) -> Result<Decision<'_>, RouteError> {
        decision::decide(self.select(step)?, step)
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
}

impl Router {
    /// A router serving this set.
    pub fn new(set: PolicySet) -> Router {
        Router {
            current: ArcSwap::from_pointee(set),
        }
    }

    /// Loads a policy file or directory and serves it.
    pub fn load(path: impl AsRef<Path>) -> Result<Router, LoadError> {
        PolicySet::load(path).map(Router::new)
    }

    /// Decides where a step goes. Never blocks; a decision is made wholly under one policy
    /// set, even when a replace happens at the same time.
    pub fn route(&self, step: &Step) -> Result<Decision<'static>, RouteError> {
        self.current.load().route(step).map(Decision::into_owned)
    }

    /// The same decision, with the trace of every rule and guard looked at.
    pub fn explain(&self, step: &Step) -> Explanation {
        self.current.load().explain(step)
    }

    /// Swaps in a new policy set atomically and returns the old one.
    pub fn replace(&self, set: PolicySet) -> Arc<PolicySet> {
        self.current.swap(Arc::new(set))
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
