//! Turning a checked [`Policy`] into a [`CompiledPolicy`]: the decision tables for rules and
//! guards, every expression compiled once, and each guard resolved against each tier's model
//! capabilities; and the checks whose errors keep a policy from loading (`check`), run as
//! part of loading by `load_with`. Reading files is the policy layer's.

pub(crate) mod check;
pub(crate) mod expr;
pub(crate) mod fast;
mod lower;
pub(crate) mod table;

pub use expr::CompiledExpr;

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::diag::Diagnostic;
use crate::policy::{self, LoadError, LoadOptions, Policy, TierId};
use table::{Columns, Table};

/// A policy ready to route: immutable, shared between threads, swapped as a whole.
#[derive(Debug)]
pub struct CompiledPolicy {
    /// The checked policy it was built from (names, models, conditions for `explain`).
    pub(crate) policy: Policy,
    pub(crate) columns: Columns,
    pub(crate) rules: Table,
    pub(crate) guards: Table,
    pub(crate) rule_exprs: Vec<Option<CompiledExpr>>,
    pub(crate) guard_exprs: Vec<Option<CompiledExpr>>,
    /// For each tier, the guards whose `require` its model does not meet, as a bitset.
    pub(crate) unmet: Vec<Vec<u64>>,
    /// The tiers from cheapest to dearest (input price, then output price, then `[tiers]`
    /// order): where a step too big for its tier's model goes.
    pub(crate) by_price: Vec<TierId>,
    /// Expressions that failed at run time under this policy (each is also logged).
    pub(crate) expression_errors: AtomicU64,
    /// Per rule, what a decision reads of a row that wins, packed in four bytes so the rows
    /// share a cache line or two: its tier, with [`RULE_HAS_EXPR`] set when the rule has an
    /// expression (then [`CompiledPolicy::rule_exprs`] is read too).
    pub(crate) rule_rows: Box<[u32]>,
    /// Per tier, what the common case of a decision reads, side by side: the guards that stop
    /// it and the tier's model's context window.
    pub(crate) tier_fast: Box<[TierFast]>,
    /// The common case of a decision, for a policy of at most 64 guards (over its first 64
    /// rules).
    pub(crate) fast: Option<fast::FastPath>,
}

/// What a decision's common case reads of the tier the rules picked.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TierFast {
    /// The guards of a one-word guard table that, when they hold, need the full guard pass:
    /// those with an expression and those the tier's model does not meet. (Every guard, for
    /// a larger table.)
    pub(crate) guard_stop: u64,
    /// The tier's model's context window (`u64::MAX` when it declares none).
    pub(crate) context_window: u64,
}

/// Set in a [`CompiledPolicy::rule_rows`] entry for a rule with an expression.
pub(crate) const RULE_HAS_EXPR: u32 = 1 << 31;

/// Loads a policy file or a policy-set directory with compile's checks as part of loading:
/// a policy whose expressions read unknown fields, call refused functions or compare mixed
/// types, or whose guard escalates to a tier lacking a capability, fails to load with the
/// other problems of its file, in file order.
pub(crate) fn load_with(path: &Path, options: &LoadOptions) -> Result<Vec<Policy>, LoadError> {
    policy::load_checked(path, options, &check::load_errors)
}

/// [`load_with`] for a policy's text already in memory.
pub(crate) fn load_policy_text(path: &Path, text: String) -> Result<Policy, LoadError> {
    policy::load_text_checked(path, text, &check::load_errors)
}

impl CompiledPolicy {
    /// The policy this table was compiled from.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Compiles a policy. Expression syntax errors, and the errors of the checks that keep a
    /// policy from loading (unknown fields, refused functions, mixed-type comparisons,
    /// escalations to a tier lacking a capability), are reported with their place in the file.
    pub fn compile(policy: Policy) -> Result<CompiledPolicy, Vec<Diagnostic>> {
        let errors = check::load_errors(&policy);
        if !errors.is_empty() {
            return Err(errors);
        }
        Self::compile_checked(policy)
    }

    /// [`CompiledPolicy::compile`] of a policy loaded with compile's checks already run.
    pub(crate) fn compile_checked(policy: Policy) -> Result<CompiledPolicy, Vec<Diagnostic>> {
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
        let unmet: Vec<Vec<u64>> = (0..policy.tiers.len())
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
        let guards_with_expr = guard_exprs
            .iter()
            .take(64)
            .enumerate()
            .filter(|(_, e)| e.is_some())
            .fold(0u64, |m, (g, _)| m | 1 << g);
        let tier_fast: Box<[TierFast]> = unmet
            .iter()
            .enumerate()
            .map(|(tier, u): (TierId, &Vec<u64>)| TierFast {
                guard_stop: match u.as_slice() {
                    [one] => one | guards_with_expr,
                    _ => u64::MAX,
                },
                context_window: policy.tier_model(tier).context_window.unwrap_or(u64::MAX),
            })
            .collect();
        let mut by_price: Vec<TierId> = (0..policy.tiers.len()).collect();
        by_price.sort_by(|&a, &b| {
            let (ma, mb) = (policy.tier_model(a), policy.tier_model(b));
            ma.input_usd_per_mtok
                .total_cmp(&mb.input_usd_per_mtok)
                .then(ma.output_usd_per_mtok.total_cmp(&mb.output_usd_per_mtok))
                .then(a.cmp(&b))
        });
        let rule_rows: Box<[u32]> = policy
            .rules
            .iter()
            .zip(&rule_exprs)
            .map(|(r, e)| r.tier as u32 | if e.is_some() { RULE_HAS_EXPR } else { 0 })
            .collect();

        let conds: Vec<&crate::policy::Condition> = policy.rules.iter().map(|r| &r.when).collect();
        let terms: Vec<_> = rule_exprs
            .iter()
            .map(|e| e.as_ref().and_then(CompiledExpr::tag_terms))
            .collect();
        let fast = fast::FastPath::build(
            &columns,
            &rules,
            &guards,
            &rule_rows,
            policy.default_tier,
            &tier_fast,
            &conds,
            &terms,
        );
        Ok(CompiledPolicy {
            fast,
            rule_rows,
            tier_fast,
            policy,
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
        tokens <= self.tier_fast[tier].context_window
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

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::CompiledPolicy;
    use crate::policy::load_policy_text;

    const SLEEPS: &str = "[policy]\nname = \"p\"\ndefault_tier = \"t\"\n[models.m]\nprovider = \"mock\"\ninput_usd_per_mtok = 1.0\noutput_usd_per_mtok = 1.0\n[tiers]\nt = \"m\"\n[[rules]]\nname = \"r\"\nwhen = { expr = \"sleep(1.0) == ()\" }\ntier = \"t\"\n";

    /// The policy layer checks what it knows and hands the policy on; compiling is where a
    /// refused function stops it, with the diagnostic loading gives.
    #[test]
    fn compile_refuses_what_the_policy_layer_leaves_to_it() {
        let p =
            load_policy_text(Path::new("p.toml"), SLEEPS).expect("the policy layer's checks pass");
        let direct = CompiledPolicy::compile(p).expect_err("sleep is refused");
        let loaded = super::load_policy_text(Path::new("p.toml"), SLEEPS.to_string())
            .expect_err("loading with compile's checks fails");
        let one =
            |d: &[crate::diag::Diagnostic]| d.iter().map(|d| d.one_line()).collect::<Vec<_>>();
        assert_eq!(one(&direct), one(&loaded.diagnostics));
        assert_eq!(direct[0].name, "unknown-function");
        assert_eq!(direct[0].line_col(), Some((12, 18)));
    }
}
