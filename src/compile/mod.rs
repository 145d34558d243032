//! Turning a checked [`Policy`] into a [`CompiledPolicy`]: the decision tables for rules and
//! guards, every expression compiled once, and each guard resolved against each tier's model
//! capabilities. Nothing here reads files.

pub(crate) mod check;
pub(crate) mod expr;
pub(crate) mod table;

pub use expr::CompiledExpr;

use std::sync::atomic::{AtomicU64, Ordering};

use crate::diag::Diagnostic;
use crate::policy::{Policy, TierId};
use table::{Columns, Table};

/// A policy ready to route: immutable, shared between threads, swapped as a whole.
#[derive(Debug)]
pub struct CompiledPolicy {
    /// The checked policy it was built from (names, models, conditions for `explain`).
    pub policy: Policy,
    pub(crate) columns: Columns,
    pub(crate) rules: Table,
    pub(crate) guards: Table,
    pub(crate) rule_exprs: Vec<Option<CompiledExpr>>,
    pub(crate) guard_exprs: Vec<Option<CompiledExpr>>,
    /// For each tier, the guards whose `require` its model does not meet, as a bitset.
    pub(crate) unmet: Vec<Vec<u64>>,
    /// For each tier, its model's context window (`u64::MAX` when it declares none).
    pub(crate) context_window: Vec<u64>,
    /// The tiers from cheapest to dearest (input price, then output price, then `[tiers]`
    /// order): where a step too big for its tier's model goes.
    pub(crate) by_price: Vec<TierId>,
    /// Expressions that failed at run time under this policy (each is also logged).
    pub(crate) expression_errors: AtomicU64,
}

impl CompiledPolicy {
    /// Compiles a policy. Expression syntax errors are reported with their place in the file.
    pub fn compile(policy: Policy) -> Result<CompiledPolicy, Vec<Diagnostic>> {
        let mut diags = Vec::new();
        let mut compile_all = |conds: Vec<&crate::policy::Condition>| -> Vec<Option<CompiledExpr>> {
            conds
                .into_iter()
                .map(|c| {
                    c.expr
                        .as_ref()
                        .and_then(|e| match CompiledExpr::compile(e) {
                            Ok(x) => Some(x),
                            Err(d) => {
                                diags.push(d);
                                None
                            }
                        })
                })
                .collect()
        };
        let rule_exprs = compile_all(policy.rules.iter().map(|r| &r.when).collect());
        let guard_exprs = compile_all(policy.guards.iter().map(|g| &g.when).collect());
        if !diags.is_empty() {
            return Err(diags);
        }
        let conds = policy
            .rules
            .iter()
            .map(|r| &r.when)
            .chain(policy.guards.iter().map(|g| &g.when));
        let columns = Columns::build(conds);
        let rules = Table::build(&columns, policy.rules.iter().map(|r| &r.when));
        let guards = Table::build(&columns, policy.guards.iter().map(|g| &g.when));
        let unmet = (0..policy.tiers.len())
            .map(|tier| {
                let model = policy.tier_model(tier);
                let mut bits = vec![0u64; guards.words()];
                for (g, guard) in policy.guards.iter().enumerate() {
                    if !model.has_all(&guard.require) {
                        bits[g / 64] |= 1 << (g % 64);
                    }
                }
                bits
            })
            .collect();
        let context_window = (0..policy.tiers.len())
            .map(|t| policy.tier_model(t).context_window.unwrap_or(u64::MAX))
            .collect();
        let mut by_price: Vec<TierId> = (0..policy.tiers.len()).collect();
        by_price.sort_by(|&a, &b| {
            let (ma, mb) = (policy.tier_model(a), policy.tier_model(b));
            ma.input_usd_per_mtok
                .total_cmp(&mb.input_usd_per_mtok)
                .then(ma.output_usd_per_mtok.total_cmp(&mb.output_usd_per_mtok))
                .then(a.cmp(&b))
        });
        Ok(CompiledPolicy {
            policy,
            context_window,
            by_price,
            columns,
            rules,
            guards,
            rule_exprs,
            guard_exprs,
            unmet,
            expression_errors: AtomicU64::new(0),
        })
    }

    /// The policy's name.
    pub fn name(&self) -> &str {
        &self.policy.name
    }

    /// The policy's version hash.
    pub fn version(&self) -> &str {
        &self.policy.version
    }

    /// How many expressions have failed at run time under this policy.
    pub fn expression_errors(&self) -> u64 {
        self.expression_errors.load(Ordering::Relaxed)
    }

    /// The guard pass of the contract, over the guards that hold for a step (in file order):
    /// each one whose requirement the current tier's model lacks moves the step to its
    /// `escalate_to`, or rejects it; after the pass, the first one still unmet rejects it.
    /// `Ok((tier, guard that last moved it))` or `Err((rejecting guard, tier at that point))`.
    /// `held` is called once per pass.
    #[inline]
    pub(crate) fn guard_pass<I: Iterator<Item = usize>>(
        &self,
        start: TierId,
        held: impl Fn() -> I,
    ) -> Result<(TierId, Option<usize>), (usize, TierId)> {
        let mut tier = start;
        let mut moved_by = None;
        for g in held() {
            if self.unmet(tier, g) {
                match self.policy.guards[g].escalate_to {
                    Some(to) => {
                        tier = to;
                        moved_by = Some(g);
                    }
                    None => return Err((g, tier)),
                }
            }
        }
        // Untrusted input never reaches a model that lacks what its guard requires.
        match held().find(|&g| self.unmet(tier, g)) {
            Some(g) => Err((g, tier)),
            None => Ok((tier, moved_by)),
        }
    }

    /// Whether `tier`'s model can take a step of `tokens` (input plus expected output).
    #[inline]
    pub(crate) fn fits(&self, tier: TierId, tokens: u64) -> bool {
        tokens <= self.context_window[tier]
    }

    /// Evaluation step 5: the cheapest tier whose model takes `tokens` and meets every guard
    /// in `held` (the guards that hold for the step), or `None` when no tier does.
    pub(crate) fn cheapest_fitting(&self, tokens: u64, held: &[u64]) -> Option<TierId> {
        self.by_price.iter().copied().find(|&t| {
            self.fits(t, tokens)
                && held
                    .iter()
                    .zip(&self.unmet[t])
                    .all(|(held, unmet)| held & unmet == 0)
        })
    }

    /// Whether guard `g` is unmet by `tier`'s model.
    #[inline]
    pub(crate) fn unmet(&self, tier: TierId, g: usize) -> bool {
        self.unmet[tier][g / 64] & (1 << (g % 64)) != 0
    }
}
