//! The exact analysis behind `switchyard lint`: it enumerates the cells of a compiled policy's
//! decision table (every distinct step the static conditions can tell apart) and finds rules
//! that never win (`unreachable-rule`), rules whose removal changes nothing
//! (`rule-without-effect`), guards that reject steps (`guard-rejects`), untrusted input that
//! reaches a model not tested against prompt injection (`untrusted-input-unguarded`), rules
//! whose failing expression lets a step fall to a cheaper tier (`expression-fails-open`) and
//! rules that partly overlap an earlier one (`partial-overlap`). Every finding about behaviour
//! carries an example step.
//!
//! Static conditions are exact on cells. Expressions are not: a rule with an `expr` may hold
//! or not in any cell, so it can be shadowed but never shadows, and it is a possible winner
//! wherever its static part holds. Examples that depend on an expression are evaluated on the
//! cell's representative step, so an example always shows what it claims.
//!
//! The walk is a product over the columns, depth first, carrying the bitset of rows still
//! admitted. It next splits on a column that constrains the lowest row still undecided, so
//! a rule holding on a whole subtree appears early and every rule after it drops out. At each
//! column, classes that admit the same *relevant* rows are one branch; a subtree whose
//! relevant rows no column left constrains is one cell; a subtree where no finding is still
//! open is skipped. A budget bounds the work, so it never hangs.
//!
//! One file per job: `walk` walks the table, `cells` builds and routes a cell's step and
//! hands each cell to the findings; `regions` compares rules' static regions; then one file
//! per finding, each noting what a cell shows and turning it into diagnostics:
//! `unreachable`, `without_effect`, `fails_open`, `guard_rejects`, `untrusted`, `overlap`.

mod cells;
mod fails_open;
mod guard_rejects;
mod overlap;
mod regions;
#[cfg(test)]
mod tests;
mod unreachable;
mod untrusted;
mod walk;
mod without_effect;

use serde_json::Value;

use crate::compile::CompiledPolicy;
use crate::diag::{Diagnostic, Severity};
use crate::lint::CheckName;
use crate::policy::{Condition, Loc, OnExpressionError, TierId};
use crate::step::Step;

/// The default work budget, in table nodes visited (cells included): every cell of a typical
/// policy. In release builds on generated policies it keeps a 50-rule policy under about
/// 30 ms and a 500-rule one under about 100 ms (see `time_analysis` in `tests/lint_props.rs`).
pub const DEFAULT_BUDGET: u64 = 300_000;

/// What the analysis found.
#[derive(Debug, Default)]
pub struct Analysis {
    /// The findings, rule by rule, then guards, then tiers.
    pub diagnostics: Vec<Diagnostic>,
    /// Whether the budget ran out before every cell was looked at. A partial analysis only
    /// reports findings it proved: an unreachable rule only when one earlier rule covers it,
    /// and no `rule-without-effect`.
    pub partial: bool,
    /// Cells looked at (each one class of steps the static conditions cannot tell apart).
    pub cells: u64,
}

/// Analyses a compiled policy, visiting at most about `budget_cells` table nodes.
pub fn analyze(cp: &CompiledPolicy, budget_cells: u64) -> Analysis {
    let mut w = Walker::new(cp, budget_cells);
    w.run();
    w.report()
}

/// For each rule, a step that the rule wins (its conditions hold and no earlier rule takes
/// the step), found by the same walk; `None` when the analysis found none (the rule is
/// unreachable, its expression never held on the steps tried, or the budget ran out). Each
/// step is checked by evaluating the rules on it, expressions included.
pub fn reaching_steps(cp: &CompiledPolicy, budget_cells: u64) -> Vec<Option<Step>> {
    let mut w = Walker::new(cp, budget_cells);
    w.run();
    w.witness
}

/// Cells with an expression tried per rule before giving up on finding a step it wins.
const WITNESS_TRIES: u32 = 16;
/// Cells with an expression tried per guard before giving up on finding a rejection.
const GUARD_TRIES: u32 = 64;
/// Cells with an expression tried in all for untrusted input reaching an untested model.
const UNTRUSTED_TRIES: u32 = 256;
/// At most this many rules named in one message.
const NAMES_SHOWN: usize = 4;

// ---- bitsets -------------------------------------------------------------------------------

fn has(bits: &[u64], i: usize) -> bool {
    bits[i / 64] >> (i % 64) & 1 != 0
}

fn set(bits: &mut [u64], i: usize) {
    bits[i / 64] |= 1 << (i % 64);
}

fn clear(bits: &mut [u64], i: usize) {
    bits[i / 64] &= !(1 << (i % 64));
}

/// The rows of word `w` numbered at most `i` (every row when `i` is `None`).
fn upto(i: Option<usize>, w: usize) -> u64 {
    match i {
        None => u64::MAX,
        Some(i) => {
            let base = w * 64;
            if i < base {
                0
            } else if i - base >= 63 {
                u64::MAX
            } else {
                (1u64 << (i - base + 1)) - 1
            }
        }
    }
}

fn ones(bits: &[u64]) -> impl Iterator<Item = usize> + '_ {
    bits.iter().enumerate().flat_map(|(w, &word)| {
        let mut b = word;
        std::iter::from_fn(move || {
            if b == 0 {
                return None;
            }
            let i = b.trailing_zeros() as usize;
            b &= b - 1;
            Some(w * 64 + i)
        })
    })
}

// ---- the walk ------------------------------------------------------------------------------

/// One column as the walk sees it: its classes' row bitsets (rules, then guards).
struct Col {
    /// Index into `Columns::kinds`.
    col: usize,
    classes: usize,
    /// `classes × words` words.
    bits: Vec<u64>,
    /// Rows that admit every class.
    free: Vec<u64>,
}

/// The buffers of one depth of the walk, reused from node to node.
#[derive(Default)]
struct Frame {
    /// The rows admitted on the path to this node.
    acc: Vec<u64>,
    relevant: Vec<u64>,
    /// The rows no column left to walk constrains.
    free: Vec<u64>,
    /// One key (relevant rows) per branch.
    keys: Vec<u64>,
    /// Per branch: its first class, the key's hash, and the untrusted values it covers.
    groups: Vec<(u32, u64, Untrusted)>,
}

/// Which values of `untrusted_input` a cell holds.
#[derive(Clone, Copy)]
struct Untrusted {
    can_false: bool,
    can_true: bool,
}

/// How a step ends after the guards: a tier (and the guard that last moved it), or a
/// rejection by a guard at a tier.
type GuardOutcome = Result<(TierId, Option<usize>), (usize, TierId)>;

/// Who wins a cell's step, when the rules are walked.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Winner {
    Rule(usize),
    Default,
}

struct Walker<'a> {
    cp: &'a CompiledPolicy,
    nr: usize,
    ng: usize,
    words: usize,
    cols: Vec<Col>,
    /// For each column position (and one past the end), the rows no column from there on
    /// constrains: the shadow walk takes the columns in order.
    free_from: Vec<Vec<u64>>,
    rule_mask: Vec<u64>,
    guard_mask: Vec<u64>,
    /// Rules without an expression: they hold on every step of a cell they admit.
    static_mask: Vec<u64>,
    /// Rules with an expression.
    expr_mask: Vec<u64>,
    /// For each tier, the rules routing to it.
    tier_rules: Vec<Vec<u64>>,
    /// Guards without an expression (as rows).
    static_guards: Vec<u64>,
    other_role: String,
    budget: u64,
    nodes: u64,
    cells: u64,
    partial: bool,
    /// The class chosen for each column on the current path, and which columns are on it.
    chosen: Vec<u32>,
    assigned: Vec<bool>,
    frames: Vec<Frame>,
    chain_buf: Vec<usize>,
    held_buf: Vec<usize>,
    /// Per rule, the rows whose static region meets its own (see `boxes`).
    meets: Vec<Vec<u64>>,
    /// Per rule, the rows whose static region contains its own.
    contains: Vec<Vec<u64>>,

    reachable: Vec<bool>,
    has_effect: Vec<bool>,
    /// A step a rule wins, with the alternative that would take it without the rule.
    effect_example: Vec<Option<(Step, Winner)>>,
    witness: Vec<Option<Step>>,
    witness_tries: Vec<u32>,
    /// A step whose failing expression falls through to a lesser tier, and that tier.
    fails_open: Vec<Option<(Step, TierId)>>,
    /// A step a guard rejects, the tier chosen by the rules and the tier it is rejected at.
    rejects: Vec<Option<(Step, TierId, TierId)>>,
    guard_tries: Vec<u32>,
    /// A step with untrusted input that ends at the tier, and the guards it passed.
    untrusted: Vec<Option<Step>>,
    untrusted_tries: u32,
    /// Rules, guards (as rows) and tiers with a finding still open.
    open_rows: Vec<u64>,
    open_tiers: Vec<bool>,
}

impl<'a> Walker<'a> {
    fn new(cp: &'a CompiledPolicy, budget: u64) -> Walker<'a> {
        let p = &cp.policy;
        let nr = p.rules.len();
        let ng = p.guards.len();
        let n = nr + ng;
        let words = n.div_ceil(64).max(1);
        let conds: Vec<&Condition> = p
            .rules
            .iter()
            .map(|r| &r.when)
            .chain(p.guards.iter().map(|g| &g.when))
            .collect();
        let mut rows = vec![0u64; words];
        (0..n).for_each(|r| set(&mut rows, r));

        let mut cols: Vec<(usize, Col)> = Vec::new();
        for col in 0..cp.columns.kinds.len() {
            let classes = cp.columns.class_count(col);
            let mut bits = vec![0u64; classes * words];
            for class in 0..classes {
                for (r, cond) in conds.iter().enumerate() {
                    if cp.columns.admits(cond, col, class as u32) {
                        set(&mut bits[class * words..(class + 1) * words], r);
                    }
                }
            }
            let mut free = rows.clone();
            for class in 0..classes {
                for (f, b) in free.iter_mut().zip(&bits[class * words..]) {
                    *f &= b;
                }
            }
            let constrained = n - ones(&free).count();
            if constrained > 0 {
                cols.push((
                    constrained,
                    Col {
                        col,
                        classes,
                        bits,
                        free,
                    },
                ));
            }
        }
        // Columns that split many rows first: the order of the shadow walk, and the main
        // walk's preference among the columns that decide a row.
        cols.sort_by_key(|(c, _)| std::cmp::Reverse(*c));
        let cols: Vec<Col> = cols.into_iter().map(|(_, c)| c).collect();
        let mut free_from = vec![vec![u64::MAX; words]; cols.len() + 1];
        for i in (0..cols.len()).rev() {
            let next: Vec<u64> = free_from[i + 1]
                .iter()
                .zip(&cols[i].free)
                .map(|(a, b)| a & b)
                .collect();
            free_from[i] = next;
        }

        let mut rule_mask = vec![0u64; words];
        let mut guard_mask = vec![0u64; words];
        let mut static_mask = vec![0u64; words];
        let mut expr_mask = vec![0u64; words];
        let mut static_guards = vec![0u64; words];
        let mut tier_rules = vec![vec![0u64; words]; p.tiers.len()];
        for (r, rule) in p.rules.iter().enumerate() {
            set(&mut rule_mask, r);
            set(&mut tier_rules[rule.tier], r);
            if cp.rule_exprs[r].is_some() {
                set(&mut expr_mask, r);
            } else {
                set(&mut static_mask, r);
            }
        }
        for g in 0..ng {
            set(&mut guard_mask, nr + g);
            if cp.guard_exprs[g].is_none() {
                set(&mut static_guards, nr + g);
            }
        }
        let untested: Vec<bool> = (0..p.tiers.len())
            .map(|t| {
                !p.tier_model(t)
                    .capabilities
                    .iter()
                    .any(|c| c == "injection_tested")
            })
            .collect();
        let roles = cp.columns.roles.roles();
        let mut other_role = String::from("other");
        while roles.contains(&other_role) {
            other_role.push('_');
        }
        let mut open_rows = rows;
        // A guard that no tier fails can never reject.
        for g in 0..ng {
            if !(0..p.tiers.len()).any(|t| cp.unmet(t, g)) {
                clear(&mut open_rows, nr + g);
            }
        }
        let open_tiers = untested;
        Walker {
            cp,
            nr,
            ng,
            words,
            free_from,
            rule_mask,
            guard_mask,
            static_mask,
            expr_mask,
            tier_rules,
            static_guards,
            other_role,
            budget,
            nodes: 0,
            cells: 0,
            partial: false,
            chosen: vec![0; cols.len()],
            assigned: vec![false; cols.len()],
            frames: (0..=cols.len()).map(|_| Frame::default()).collect(),
            chain_buf: Vec::new(),
            held_buf: Vec::new(),
            meets: Vec::new(),
            contains: Vec::new(),
            cols,
            reachable: vec![false; nr],
            has_effect: vec![false; nr],
            effect_example: vec![None; nr],
            witness: vec![None; nr],
            witness_tries: vec![0; nr],
            fails_open: vec![None; nr],
            rejects: vec![None; ng],
            guard_tries: vec![0; ng],
            untrusted: vec![None; p.tiers.len()],
            untrusted_tries: 0,
            open_rows,
            open_tiers,
        }
    }

    fn run(&mut self) {
        let (meets, contains) = self.boxes();
        // A rule no step satisfies, or one that an earlier rule without an expression
        // contains, is known unreachable: the walk need not look for cells it wins.
        for r in 0..self.nr {
            let covered = (0..r).any(|e| has(&self.static_mask, e) && has(&contains[r], e));
            if covered || !has(&meets[r], r) {
                clear(&mut self.open_rows, r);
            }
        }
        self.meets = meets;
        self.contains = contains;
        let mut acc = vec![0u64; self.words];
        for (a, (r, g)) in acc
            .iter_mut()
            .zip(self.rule_mask.iter().zip(&self.guard_mask))
        {
            *a = r | g;
        }
        let unt = Untrusted {
            can_false: true,
            can_true: true,
        };
        self.frames[0].acc = acc;
        self.walk(0, unt);
    }

    fn tier_of(&self, r: usize) -> TierId {
        self.cp.policy.rules[r].tier
    }

    fn on_error_tier(&self) -> Option<TierId> {
        match self.cp.policy.on_expression_error {
            OnExpressionError::Skip => None,
            OnExpressionError::Tier(t) => Some(t),
        }
    }

    /// The rules after position `k` of a cell's rule chain that would take its step if the
    /// rule at `k` were gone: rules with an expression up to the next one without, or the
    /// default.
    fn alternatives<'c>(
        &'c self,
        chain: &'c [usize],
        k: usize,
    ) -> impl Iterator<Item = Winner> + 'c {
        let rest = &chain[k + 1..];
        let end = rest.iter().position(|&r| has(&self.static_mask, r));
        rest[..end.map_or(rest.len(), |e| e + 1)]
            .iter()
            .map(|&r| Winner::Rule(r))
            .chain(end.is_none().then_some(Winner::Default))
    }

    /// The tiers a possible winner may choose: its own, and for a rule with an expression
    /// the `on_expression_error` tier.
    fn start_tiers(&self, w: Winner) -> impl Iterator<Item = TierId> {
        let (own, on_error) = match w {
            Winner::Default => (self.cp.policy.default_tier, None),
            Winner::Rule(r) => (
                self.tier_of(r),
                if has(&self.expr_mask, r) {
                    self.on_error_tier()
                } else {
                    None
                },
            ),
        };
        std::iter::once(own).chain(on_error)
    }

    /// The tier a possible winner chooses when its expression holds.
    fn own_tier(&self, w: Winner) -> TierId {
        match w {
            Winner::Default => self.cp.policy.default_tier,
            Winner::Rule(r) => self.tier_of(r),
        }
    }

    /// The guard pass of the contract, for a step whose held guards are known.
    fn guard_pass(&self, start: TierId, held: &[usize]) -> GuardOutcome {
        self.cp.guard_pass(start, || held.iter().copied())
    }

    fn update_open(&mut self, r: usize) {
        let open = !self.reachable[r]
            || !self.has_effect[r]
            || (self.fails_open[r].is_none()
                && has(&self.expr_mask, r)
                && self.on_error_tier().is_none())
            || (self.witness[r].is_none() && self.witness_tries[r] < WITNESS_TRIES);
        if !open {
            clear(&mut self.open_rows, r);
        }
    }

    /// Whether tier `a`'s model costs more or can do something tier `b`'s cannot.
    fn more(&self, a: TierId, b: TierId) -> bool {
        let p = &self.cp.policy;
        let (ma, mb) = (p.tier_model(a), p.tier_model(b));
        if p.tiers[a].model == p.tiers[b].model {
            return false;
        }
        let price = |m: &crate::policy::Model| m.input_usd_per_mtok + m.output_usd_per_mtok;
        price(ma) > price(mb) || ma.capabilities.iter().any(|c| !mb.capabilities.contains(c))
    }

    /// Every finding, rule by rule (in the order lint has always given them), then the
    /// guards and the tiers.
    fn report(mut self) -> Analysis {
        let (meets, contains) = (
            std::mem::take(&mut self.meets),
            std::mem::take(&mut self.contains),
        );
        let mut diags = Vec::new();
        let mut unreachable = vec![false; self.nr];
        // Naming shadowing rules is worth a quarter of the walk's budget.
        let mut shadow_budget = (self.budget / 4).max(1_000);
        for r in 0..self.nr {
            if let Some(d) = self.unreachable_rule(r, &meets, &contains, &mut shadow_budget) {
                unreachable[r] = true;
                diags.push(d);
                continue;
            }
            diags.extend(self.rule_without_effect(r));
            diags.extend(self.expression_fails_open(r));
            diags.extend(self.partial_overlap(r, &meets, &contains, &unreachable));
        }
        diags.extend((0..self.ng).filter_map(|g| self.guard_rejects(g)));
        diags.extend(self.untrusted_input_unguarded());
        Analysis {
            diagnostics: diags,
            partial: self.partial,
            cells: self.cells,
        }
    }

    /// Rule names in backticks, at most [`NAMES_SHOWN`] of them.
    fn rule_names(&self, rs: &[usize]) -> String {
        let p = &self.cp.policy;
        let mut s: Vec<String> = rs
            .iter()
            .take(NAMES_SHOWN)
            .map(|&r| format!("`{}`", p.rules[r].name))
            .collect();
        if rs.len() > NAMES_SHOWN {
            s.push(format!("{} more", rs.len() - NAMES_SHOWN));
        }
        s.join(", ")
    }

    fn tier_name(&self, t: TierId) -> &str {
        self.cp.policy.tiers[t].name.as_str()
    }
}

/// A finding about behaviour: its name, severity, place, message, help and example step.
fn diag(
    name: CheckName,
    severity: Severity,
    loc: &Loc,
    message: String,
    help: impl Into<String>,
    example: Option<Value>,
) -> Diagnostic {
    Diagnostic {
        name: name.as_str(),
        severity,
        message,
        source: Some(loc.source.clone()),
        span: Some(loc.span.clone()),
        path: None,
        help: Some(help.into()),
        example,
    }
}
