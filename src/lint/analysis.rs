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

use serde_json::Value;

use crate::compile::table::{ColumnKind, Flag};
use crate::compile::CompiledPolicy;
use crate::diag::{Diagnostic, Severity};
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

    /// The two lowest rules without an expression in `acc` that are in `free` (rows no
    /// column left to walk constrains): every cell below holds both.
    fn two_lowest_free(&self, acc: &[u64], free: &[u64]) -> (Option<usize>, Option<usize>) {
        let mut found = [None, None];
        let mut k = 0;
        let masks = self.static_mask.iter().zip(free);
        for (w, (a, (s, f))) in acc.iter().zip(masks).enumerate() {
            let mut b = a & s & f;
            while b != 0 && k < 2 {
                found[k] = Some(w * 64 + b.trailing_zeros() as usize);
                k += 1;
                b &= b - 1;
            }
            if k == 2 {
                break;
            }
        }
        (found[0], found[1])
    }

    fn walk(&mut self, i: usize, unt: Untrusted) {
        if self.partial {
            return;
        }
        self.nodes += 1;
        if self.nodes > self.budget {
            self.partial = true;
            return;
        }
        // Each depth owns its buffers; taking them out lets the children use theirs.
        let mut frame = std::mem::take(&mut self.frames[i]);
        self.node(i, unt, &mut frame);
        self.frames[i] = frame;
    }

    fn node(&mut self, i: usize, unt: Untrusted, f: &mut Frame) {
        let words = self.words;
        // The rows no column left to walk constrains.
        f.free.clear();
        f.free.resize(words, u64::MAX);
        for (c, col) in self.cols.iter().enumerate() {
            if !self.assigned[c] {
                for (fr, cf) in f.free.iter_mut().zip(&col.free) {
                    *fr &= cf;
                }
            }
        }
        let (l1, l2) = self.two_lowest_free(&f.acc, &f.free);
        // Rules past the second rule every cell below holds never win nor stand in for a
        // removed winner: only the rows up to it, and the guards, tell cells apart.
        f.relevant.clear();
        f.relevant.extend(
            (0..words).map(|w| f.acc[w] & ((self.rule_mask[w] & upto(l2, w)) | self.guard_mask[w])),
        );
        if !self.interesting(&f.relevant, l1, &f.free, unt) {
            return;
        }
        // The lowest relevant row some column left to walk still constrains.
        let Some(x) = ones(&f.relevant).find(|&x| !has(&f.free, x)) else {
            self.leaf(&f.relevant, unt);
            return;
        };
        // Walk a column that decides it next: the lowest rows are settled first, so a rule
        // that holds on every cell below appears early and cuts off every rule after it.
        let c = (0..self.cols.len())
            .find(|&c| !self.assigned[c] && !has(&self.cols[c].free, x))
            .expect("a constrained row has a column left that constrains it");
        let col = &self.cols[c];
        let is_untrusted = matches!(
            self.cp.columns.kinds[col.col],
            ColumnKind::Flag(Flag::Untrusted)
        );
        // Classes that admit the same relevant rows are one branch.
        f.keys.clear();
        f.groups.clear();
        for class in 0..col.classes {
            let at = f.keys.len();
            let mut hash = 0u64;
            for (w, b) in col.bits[class * words..(class + 1) * words]
                .iter()
                .enumerate()
            {
                let k = f.relevant[w] & b;
                hash = (hash ^ k).wrapping_mul(0x9e37_79b9_7f4a_7c15);
                f.keys.push(k);
            }
            let flag = Untrusted {
                can_false: class == 0,
                can_true: class == 1,
            };
            // An element-wise compare: short keys are the common case, and a call to
            // memcmp for each costs more than the compare.
            let same = f
                .groups
                .iter()
                .position(|&(_, h, _)| h == hash)
                .filter(|&g| (0..words).all(|w| f.keys[g * words + w] == f.keys[at + w]));
            match same {
                Some(g) => {
                    let u = &mut f.groups[g].2;
                    u.can_false |= flag.can_false;
                    u.can_true |= flag.can_true;
                    f.keys.truncate(at);
                }
                None => f.groups.push((class as u32, hash, flag)),
            }
        }
        self.assigned[c] = true;
        for (g, &(class, _, flag)) in f.groups.iter().enumerate() {
            let child = &mut self.frames[i + 1].acc;
            child.clear();
            child.extend_from_slice(&f.keys[g * words..(g + 1) * words]);
            self.chosen[c] = class;
            self.walk(i + 1, if is_untrusted { flag } else { unt });
            if self.partial {
                break;
            }
        }
        self.assigned[c] = false;
    }

    /// Whether a subtree can still show anything not yet found: a rule that may win it and
    /// has a finding open, a guard that may reject in it, or an untested tier that untrusted
    /// input may reach in it.
    fn interesting(&self, acc: &[u64], l1: Option<usize>, free: &[u64], unt: Untrusted) -> bool {
        let words = self.words;
        if (0..words).any(|w| acc[w] & self.rule_mask[w] & upto(l1, w) & self.open_rows[w] != 0) {
            return true;
        }
        let guards_open = (0..words).any(|w| acc[w] & self.guard_mask[w] & self.open_rows[w] != 0);
        let tiers_open = unt.can_true && self.open_tiers.iter().any(|&o| o);
        if !guards_open && !tiers_open {
            return false;
        }
        let p = &self.cp.policy;
        let nt = p.tiers.len();
        if nt > 128 {
            // Too many tiers for the sets below: keep looking.
            return true;
        }
        // The tiers the rules may choose in this subtree, and where guards may move a step.
        let mut starts = 0u128;
        for t in 0..nt {
            if (0..words).any(|w| acc[w] & self.tier_rules[t][w] & upto(l1, w) != 0) {
                starts |= 1 << t;
            }
        }
        if let Some(t) = self.on_error_tier() {
            if (0..words).any(|w| acc[w] & self.expr_mask[w] & upto(l1, w) != 0) {
                starts |= 1 << t;
            }
        }
        if l1.is_none() {
            starts |= 1 << p.default_tier;
        }
        let guards = || ones(acc).filter(|&r| r >= self.nr).map(|r| r - self.nr);
        let mut targets = 0u128;
        for g in guards() {
            if let Some(t) = p.guards[g].escalate_to {
                targets |= 1 << t;
            }
        }
        if guards_open {
            for g in guards().filter(|&g| has(&self.open_rows, self.nr + g)) {
                let at = if p.guards[g].escalate_to.is_none() {
                    targets | starts
                } else {
                    targets
                };
                if (0..nt).any(|t| at >> t & 1 != 0 && self.cp.unmet(t, g)) {
                    return true;
                }
            }
        }
        if tiers_open {
            // A chosen tier that a guard holding on every cell below moves away from is
            // never where the step ends.
            let sure = |g: &usize| has(&self.static_guards, self.nr + g) && has(free, self.nr + g);
            for t in (0..nt).filter(|&t| self.open_tiers[t]) {
                if targets >> t & 1 != 0
                    || (starts >> t & 1 != 0 && !guards().filter(sure).any(|g| self.cp.unmet(t, g)))
                {
                    return true;
                }
            }
        }
        false
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

    /// Routes a step of a cell: the rule chain and the guards whose static conditions hold,
    /// expressions evaluated on the step.
    fn concrete(
        &self,
        chain: &[usize],
        held: &[usize],
        step: &Step,
    ) -> (Winner, TierId, GuardOutcome) {
        let p = &self.cp.policy;
        let tokens = step.input_tokens.unwrap_or(0);
        let mut chosen = (Winner::Default, p.default_tier);
        for &r in chain {
            let won = match &self.cp.rule_exprs[r] {
                None => Some(self.tier_of(r)),
                Some(e) => match e.eval(step, tokens) {
                    Ok(true) => Some(self.tier_of(r)),
                    Ok(false) => None,
                    Err(_) => self.on_error_tier(),
                },
            };
            if let Some(t) = won {
                chosen = (Winner::Rule(r), t);
                break;
            }
        }
        // A guard whose expression fails holds: guards fail closed.
        let held: Vec<usize> = held
            .iter()
            .copied()
            .filter(|&g| {
                self.cp.guard_exprs[g]
                    .as_ref()
                    .is_none_or(|e| e.eval(step, tokens).unwrap_or(true))
            })
            .collect();
        (chosen.0, chosen.1, self.guard_pass(chosen.1, &held))
    }

    /// A step of the current cell: the chosen class of each column walked so far, a plain
    /// value for the rest.
    fn cell_step(&self, untrusted: bool) -> Step {
        let classes: Vec<u32> = (0..self.cols.len())
            .map(|i| {
                if self.assigned[i] {
                    self.chosen[i]
                } else {
                    self.plain_class(i, None)
                }
            })
            .collect();
        self.build_step(&classes, untrusted)
    }

    /// The class used for a column the walk left open: another role, no tag, the lowest
    /// interval, false — among those admitting `row` when given.
    fn plain_class(&self, i: usize, row: Option<usize>) -> u32 {
        let col = &self.cols[i];
        let admits =
            |c: usize| row.is_none_or(|r| has(&col.bits[c * self.words..(c + 1) * self.words], r));
        let mut order: Vec<usize> = (0..col.classes).collect();
        if matches!(self.cp.columns.kinds[col.col], ColumnKind::Role) {
            order.rotate_right(1);
        }
        order.into_iter().find(|&c| admits(c)).unwrap_or(0) as u32
    }

    /// A step with the given class in each walked column.
    fn build_step(&self, classes: &[u32], untrusted: bool) -> Step {
        let mut step = Step::new(self.other_role.clone());
        step.input_tokens = Some(0);
        for (i, &class) in classes.iter().enumerate() {
            let lo = |bp: &[u64]| {
                if class == 0 {
                    0
                } else {
                    bp[class as usize - 1]
                }
            };
            match &self.cp.columns.kinds[self.cols[i].col] {
                ColumnKind::Role => {
                    if let Some(r) = self.cp.columns.roles.roles().get(class as usize) {
                        step.role = r.clone();
                    }
                }
                ColumnKind::InputTokens(bp) => step.input_tokens = Some(lo(bp)),
                ColumnKind::DependentToolCalls(bp) => step.dependent_tool_calls = lo(bp),
                ColumnKind::Flag(f) => {
                    let on = class == 1;
                    match f {
                        Flag::ChainOfThought => step.needs_chain_of_thought = on,
                        Flag::Json => step.output_must_be_json = on,
                        Flag::Untrusted => step.untrusted_input = on,
                    }
                }
                ColumnKind::Tag(name, part) => {
                    if let Some(v) = part.representative(class) {
                        step.tags.insert(name.clone(), v);
                    }
                }
            }
        }
        if untrusted {
            step.untrusted_input = true;
        }
        step
    }

    /// One cell: every relevant row holds on every step of it.
    fn leaf(&mut self, relevant: &[u64], unt: Untrusted) {
        self.cells += 1;
        let nr = self.nr;
        let mut chain = std::mem::take(&mut self.chain_buf);
        let mut held = std::mem::take(&mut self.held_buf);
        chain.clear();
        held.clear();
        chain.extend(ones(relevant).take_while(|&r| r < nr));
        held.extend(ones(relevant).filter(|&r| r >= nr).map(|r| r - nr));
        let guard_exprs = held.iter().any(|&g| self.cp.guard_exprs[g].is_some());
        let first_static = chain.iter().position(|&r| has(&self.static_mask, r));
        let winners = match first_static {
            Some(k) => &chain[..=k],
            None => &chain[..],
        };
        // One possible winner: the cell's every step goes the same way.
        let sure = match first_static {
            Some(k) => k == 0,
            None => chain.is_empty(),
        };
        let sure_winner = if sure {
            Some(chain.first().map_or(Winner::Default, |&r| Winner::Rule(r)))
        } else {
            None
        };
        let mut plain: Option<Step> = None;
        let base_untrusted = !unt.can_false;

        for (k, &w) in winners.iter().enumerate() {
            self.reachable[w] = true;
            if !self.has_effect[w] {
                // Without the rule the step gets the same tier from the rules after it (or
                // the default), and so the same guard outcome too.
                let mine = self.tier_of(w);
                let same = self
                    .start_tiers(Winner::Rule(w))
                    .chain(
                        self.alternatives(&chain, k)
                            .flat_map(|a| self.start_tiers(a)),
                    )
                    .all(|t| t == mine);
                if same {
                    if self.effect_example[w].is_none() {
                        let step = plain
                            .get_or_insert_with(|| self.cell_step(base_untrusted))
                            .clone();
                        let alt = self
                            .alternatives(&chain, k)
                            .next()
                            .unwrap_or(Winner::Default);
                        self.effect_example[w] = Some((step, alt));
                    }
                } else {
                    self.has_effect[w] = true;
                }
            }
            if self.fails_open[w].is_none()
                && has(&self.expr_mask, w)
                && self.on_error_tier().is_none()
            {
                let mine = self.tier_of(w);
                let lesser = self
                    .alternatives(&chain, k)
                    .flat_map(|a| self.start_tiers(a))
                    .find(|&t| self.more(mine, t));
                if let Some(t) = lesser {
                    let step = plain
                        .get_or_insert_with(|| self.cell_step(base_untrusted))
                        .clone();
                    self.fails_open[w] = Some((step, t));
                }
            }
        }

        // A step each possible winner is shown to win.
        let mut routed: Option<(Winner, TierId, GuardOutcome)> = None;
        match sure_winner {
            Some(Winner::Rule(r)) => {
                if self.witness[r].is_none() {
                    let step = plain
                        .get_or_insert_with(|| self.cell_step(base_untrusted))
                        .clone();
                    self.witness[r] = Some(step);
                }
            }
            Some(Winner::Default) => {}
            None => {
                let wanted: Vec<usize> = winners
                    .iter()
                    .copied()
                    .filter(|&r| self.witness[r].is_none() && self.witness_tries[r] < WITNESS_TRIES)
                    .collect();
                if !wanted.is_empty() {
                    let step = plain
                        .get_or_insert_with(|| self.cell_step(base_untrusted))
                        .clone();
                    let got = self.concrete(&chain, &held, &step);
                    if let Winner::Rule(r) = got.0 {
                        if self.witness[r].is_none() {
                            self.witness[r] = Some(step);
                        }
                    }
                    for r in wanted {
                        self.witness_tries[r] += 1;
                    }
                    routed = Some(got);
                }
            }
        }

        // A guard rejecting a step of the cell.
        let open_guard = |g: &&usize| has(&self.open_rows, nr + **g);
        if held.iter().any(|g| open_guard(&g)) {
            let result = match (sure_winner, guard_exprs) {
                (Some(w), false) => {
                    let start = self.own_tier(w);
                    Some((start, self.guard_pass(start, &held)))
                }
                _ => {
                    if held
                        .iter()
                        .filter(open_guard)
                        .any(|&g| self.guard_tries[g] < GUARD_TRIES)
                    {
                        for &g in &held {
                            if has(&self.open_rows, nr + g) {
                                self.guard_tries[g] += 1;
                            }
                        }
                        if routed.is_none() {
                            let step = plain
                                .get_or_insert_with(|| self.cell_step(base_untrusted))
                                .clone();
                            routed = Some(self.concrete(&chain, &held, &step));
                        }
                        routed.map(|(_, start, out)| (start, out))
                    } else {
                        None
                    }
                }
            };
            if let Some((start, Err((g, at)))) = result {
                if self.rejects[g].is_none() {
                    let step = plain
                        .get_or_insert_with(|| self.cell_step(base_untrusted))
                        .clone();
                    self.rejects[g] = Some((step, start, at));
                }
            }
        }

        // Untrusted input ending at a tier whose model is not injection-tested.
        if unt.can_true && self.open_tiers.iter().any(|&o| o) {
            let end = match (sure_winner, guard_exprs) {
                (Some(w), false) => Some((self.guard_pass(self.own_tier(w), &held), None)),
                _ if self.untrusted_tries < UNTRUSTED_TRIES => {
                    self.untrusted_tries += 1;
                    let step = self.cell_step(true);
                    Some((self.concrete(&chain, &held, &step).2, Some(step)))
                }
                _ => None,
            };
            if let Some((Ok((t, _)), step)) = end {
                if self.open_tiers[t] {
                    self.open_tiers[t] = false;
                    self.untrusted[t] = Some(step.unwrap_or_else(|| self.cell_step(true)));
                }
            }
        }

        for &w in winners {
            self.update_open(w);
        }
        for &g in &held {
            if self.rejects[g].is_some() {
                clear(&mut self.open_rows, nr + g);
            }
        }
        self.chain_buf = chain;
        self.held_buf = held;
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

    // ---- per-rule region arithmetic ----------------------------------------------------

    /// For each rule: the rows whose static region meets its own, and the rows whose static
    /// region contains its own. A condition's static region is a box (a set of classes per
    /// column), so both are per-column tests.
    fn boxes(&self) -> (Vec<Vec<u64>>, Vec<Vec<u64>>) {
        let words = self.words;
        let mut meets = Vec::with_capacity(self.nr);
        let mut contains = Vec::with_capacity(self.nr);
        for r in 0..self.nr {
            let mut m = vec![u64::MAX; words];
            let mut c = vec![u64::MAX; words];
            for col in &self.cols {
                let mut any = vec![0u64; words];
                let mut all = vec![u64::MAX; words];
                for class in 0..col.classes {
                    let b = &col.bits[class * words..(class + 1) * words];
                    if has(b, r) {
                        for w in 0..words {
                            any[w] |= b[w];
                            all[w] &= b[w];
                        }
                    }
                }
                for w in 0..words {
                    m[w] &= any[w];
                    c[w] &= all[w];
                }
            }
            meets.push(m);
            contains.push(c);
        }
        (meets, contains)
    }

    /// The earlier rules without an expression that take the steps of unreachable rule `r`
    /// (each the first such rule on some of its steps), an example step, and whether the
    /// list is complete.
    fn shadowers(&mut self, r: usize, budget: &mut u64) -> (Vec<usize>, Option<Step>, bool) {
        // The rules before `r` without an expression.
        let acc: Vec<u64> = (0..self.words)
            .map(|w| match r.checked_sub(1) {
                Some(last) => self.static_mask[w] & upto(Some(last), w),
                None => 0,
            })
            .collect();
        let mut found = Vec::new();
        let mut example = None;
        let complete = self.shadow_walk(r, 0, acc, budget, &mut found, &mut example);
        found.sort_unstable();
        found.dedup();
        (found, example, complete)
    }

    fn shadow_walk(
        &mut self,
        r: usize,
        i: usize,
        acc: Vec<u64>,
        budget: &mut u64,
        found: &mut Vec<usize>,
        example: &mut Option<Step>,
    ) -> bool {
        if *budget == 0 {
            return false;
        }
        *budget -= 1;
        let Some(s) = ones(&acc).next() else {
            // No earlier rule holds here: the rule is not unreachable after all (cannot
            // happen for a rule the walk never saw win).
            return true;
        };
        if has(&self.free_from[i], s) || i == self.cols.len() {
            if !found.contains(&s) {
                found.push(s);
            }
            if example.is_none() {
                let classes: Vec<u32> = (0..self.cols.len())
                    .map(|j| {
                        if j < i {
                            self.chosen[j]
                        } else {
                            self.plain_class(j, Some(r))
                        }
                    })
                    .collect();
                *example = Some(self.build_step(&classes, false));
            }
            return true;
        }
        let words = self.words;
        // Rules after the first one every cell below holds are never first: drop them.
        let last = ones(&acc).find(|&x| has(&self.free_from[i], x));
        let acc: Vec<u64> = (0..words).map(|w| acc[w] & upto(last, w)).collect();
        let mut groups: Vec<(u32, Vec<u64>)> = Vec::new();
        let col = &self.cols[i];
        for class in 0..col.classes {
            let b = &col.bits[class * words..(class + 1) * words];
            if !has(b, r) {
                continue;
            }
            let key: Vec<u64> = acc.iter().zip(b).map(|(a, b)| a & b).collect();
            if !groups
                .iter()
                .any(|(_, k)| k.iter().zip(&key).all(|(a, b)| a == b))
            {
                groups.push((class as u32, key));
            }
        }
        let mut complete = true;
        for (class, key) in groups {
            self.chosen[i] = class;
            complete &= self.shadow_walk(r, i + 1, key, budget, found, example);
            if !complete {
                break;
            }
        }
        complete
    }

    /// A step in the static regions of rules `a` and `b` (which meet).
    fn meeting_step(&self, a: usize, b: usize) -> Step {
        let words = self.words;
        let classes: Vec<u32> = self
            .cols
            .iter()
            .enumerate()
            .map(|(i, col)| {
                let both = |c: usize| {
                    let bits = &col.bits[c * words..(c + 1) * words];
                    has(bits, a) && has(bits, b)
                };
                let plain = self.plain_class(i, None) as usize;
                if both(plain) {
                    plain as u32
                } else {
                    (0..col.classes).find(|&c| both(c)).unwrap_or(0) as u32
                }
            })
            .collect();
        self.build_step(&classes, false)
    }

    // ---- the report ----------------------------------------------------------------------

    fn report(mut self) -> Analysis {
        let cp = self.cp;
        let p = &cp.policy;
        let (meets, contains) = (
            std::mem::take(&mut self.meets),
            std::mem::take(&mut self.contains),
        );
        let names = |rs: &[usize]| -> String {
            let mut s: Vec<String> = rs
                .iter()
                .take(NAMES_SHOWN)
                .map(|&r| format!("`{}`", p.rules[r].name))
                .collect();
            if rs.len() > NAMES_SHOWN {
                s.push(format!("{} more", rs.len() - NAMES_SHOWN));
            }
            s.join(", ")
        };
        let tier_name = |t: TierId| p.tiers[t].name.as_str();
        let mut diags = Vec::new();
        let mut unreachable = vec![false; self.nr];
        // Naming shadowing rules is worth a quarter of the walk's budget.
        let mut shadow_budget = (self.budget / 4).max(1_000);

        for r in 0..self.nr {
            let rule = &p.rules[r];
            let empty = !has(&meets[r], r);
            // One earlier rule without an expression covering it: exact even when partial.
            let covering: Vec<usize> = (0..r)
                .filter(|&e| has(&self.static_mask, e) && has(&contains[r], e))
                .collect();
            let is_unreachable = if self.partial {
                empty || !covering.is_empty()
            } else {
                !self.reachable[r]
            };
            if is_unreachable {
                unreachable[r] = true;
                if empty {
                    diags.push(diag(
                        "unreachable-rule",
                        Severity::Warning,
                        &rule.loc,
                        format!(
                            "rule `{}` can never match: no step satisfies all of its conditions",
                            rule.name
                        ),
                        "remove the rule, or loosen the conditions that exclude each other",
                        None,
                    ));
                    continue;
                }
                let (found, example, complete) = if self.partial {
                    let classes: Vec<u32> = (0..self.cols.len())
                        .map(|i| self.plain_class(i, Some(r)))
                        .collect();
                    (
                        vec![covering[0]],
                        Some(self.build_step(&classes, false)),
                        false,
                    )
                } else {
                    self.shadowers(r, &mut shadow_budget)
                };
                let why = if self.partial {
                    format!(
                        "earlier rule {} matches every step it matches, so that rule or one before it takes each of them",
                        names(&found)
                    )
                } else if found.len() == 1 && complete {
                    format!("earlier rule {} takes every step it matches", names(&found))
                } else if complete {
                    format!("earlier rules {} take every step it matches", names(&found))
                } else {
                    format!(
                        "earlier rules (among them {}) take every step it matches",
                        names(&found)
                    )
                };
                diags.push(diag(
                    "unreachable-rule",
                    Severity::Warning,
                    &rule.loc,
                    format!("rule `{}` never decides a step: {why}", rule.name),
                    "remove the rule, move it above the rules that shadow it, or narrow those rules",
                    example.map(|s| s.to_json()),
                ));
                continue;
            }
            if !self.partial && self.reachable[r] && !self.has_effect[r] {
                if let Some((step, alt)) = &self.effect_example[r] {
                    let instead = match alt {
                        Winner::Rule(a) => format!("rule `{}`", p.rules[*a].name),
                        Winner::Default => "the default tier".to_string(),
                    };
                    diags.push(diag(
                        "rule-without-effect",
                        Severity::Warning,
                        &rule.loc,
                        format!(
                            "removing rule `{}` changes no decision: every step it takes would get tier `{}` without it too (e.g. from {instead})",
                            rule.name,
                            tier_name(rule.tier)
                        ),
                        "remove the rule, or give it the tier it was meant to choose",
                        Some(step.to_json()),
                    ));
                }
            }
            if let Some((step, lesser)) = &self.fails_open[r] {
                diags.push(diag(
                    "expression-fails-open",
                    Severity::Info,
                    &rule.loc,
                    format!(
                        "rule `{}` routes to tier `{}`, but when its expression fails at run time it is skipped (on_expression_error = \"skip\") and the step can fall through to tier `{}`, which is cheaper or less capable",
                        rule.name,
                        tier_name(rule.tier),
                        tier_name(*lesser)
                    ),
                    "set `on_expression_error` to a tier, or guard the expression (e.g. `\"key\" in step.tags && …`) so it cannot fail",
                    Some(step.to_json()),
                ));
            }
            // Earlier rules whose static region meets this one's without either containing
            // the other, and that route elsewhere.
            let overlaps: Vec<usize> = (0..r)
                .filter(|&e| {
                    !unreachable[e]
                        && p.rules[e].tier != rule.tier
                        && has(&meets[r], e)
                        && !has(&contains[r], e)
                        && !has(&contains[e], r)
                })
                .collect();
            if let Some(&e) = overlaps.first() {
                diags.push(diag(
                    "partial-overlap",
                    Severity::Info,
                    &rule.loc,
                    format!(
                        "rule `{}` (tier `{}`) partly overlaps {} {}, which come{} first and route{} elsewhere: steps matching both never reach this rule",
                        rule.name,
                        tier_name(rule.tier),
                        if overlaps.len() == 1 { "rule" } else { "rules" },
                        names(&overlaps),
                        if overlaps.len() == 1 { "s" } else { "" },
                        if overlaps.len() == 1 { "s" } else { "" },
                    ),
                    format!(
                        "check that steps matching both `{}` and `{}` belong on tier `{}`; if so, add \"partial-overlap\" to the rule's `allow`",
                        p.rules[e].name,
                        rule.name,
                        tier_name(p.rules[e].tier)
                    ),
                    Some(self.meeting_step(e, r).to_json()),
                ));
            }
        }

        for g in 0..self.ng {
            let Some((step, start, at)) = &self.rejects[g] else {
                continue;
            };
            let guard = &p.guards[g];
            let model = p.tier_model(*at);
            let missing: Vec<&str> = guard
                .require
                .iter()
                .filter(|c| !model.capabilities.contains(c))
                .map(String::as_str)
                .collect();
            let (severity, how) = match guard.escalate_to {
                None => (
                    Severity::Info,
                    "and the guard has no `escalate_to`".to_string(),
                ),
                Some(_) => (Severity::Warning, "even after escalation".to_string()),
            };
            let via = if start == at {
                format!("the rules choose tier `{}`", tier_name(*at))
            } else {
                format!(
                    "the rules choose tier `{}` and guards move it to tier `{}`",
                    tier_name(*start),
                    tier_name(*at)
                )
            };
            diags.push(diag(
                "guard-rejects",
                severity,
                &guard.loc,
                format!(
                    "guard `{}` rejects some steps: for this one {via}, whose model `{}` lacks {} {how}",
                    guard.name,
                    model.key,
                    missing.join(", ")
                ),
                if guard.escalate_to.is_none() {
                    "if these steps should run, add `escalate_to` with a tier whose model has what the guard requires"
                } else {
                    "make every tier a step can be escalated to meet every guard that holds for it"
                },
                Some(step.to_json()),
            ));
        }

        for (t, found) in self.untrusted.iter().enumerate() {
            let Some(step) = found else { continue };
            let tier = &p.tiers[t];
            diags.push(diag(
                "untrusted-input-unguarded",
                Severity::Warning,
                &tier.loc,
                format!(
                    "tier `{}` (model `{}`, not `injection_tested`) can receive untrusted input: no rule or guard keeps such steps away from it",
                    tier.name,
                    p.tier_model(t).key
                ),
                "add a guard: `when = { untrusted_input = true }`, `require = [\"injection_tested\"]`, `escalate_to` a tier whose model is tested",
                Some(step.to_json()),
            ));
        }

        Analysis {
            diagnostics: diags,
            partial: self.partial,
            cells: self.cells,
        }
    }
}

fn diag(
    name: &'static str,
    severity: Severity,
    loc: &Loc,
    message: String,
    help: impl Into<String>,
    example: Option<Value>,
) -> Diagnostic {
    Diagnostic {
        name,
        severity,
        message,
        source: Some(loc.source.clone()),
        span: Some(loc.span.clone()),
        path: None,
        help: Some(help.into()),
        example,
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::policy::load_policy_text;

    const MODELS: &str = r#"
[models.small]
provider = "mock"
input_usd_per_mtok = 0.1
output_usd_per_mtok = 0.4

[models.big]
provider = "mock"
input_usd_per_mtok = 10.0
output_usd_per_mtok = 40.0
capabilities = ["injection_tested"]

[tiers]
cheap = "small"
premium = "big"
"#;

    /// Analyses a policy: `head` goes in `[policy]`, `body` holds rules and guards.
    fn analysed(head: &str, body: &str, budget: u64) -> Analysis {
        let text = format!("[policy]\nname = \"t\"\n{head}\n{MODELS}\n{body}");
        let p = load_policy_text(Path::new("t.toml"), text).expect("the policy loads");
        let cp = CompiledPolicy::compile(p).expect("the policy compiles");
        analyze(&cp, budget)
    }

    fn found<'a>(a: &'a Analysis, name: &str) -> Vec<&'a Diagnostic> {
        a.diagnostics.iter().filter(|d| d.name == name).collect()
    }

    /// The findings, one line each, for assertion messages.
    fn listed(a: &Analysis) -> Vec<String> {
        a.diagnostics
            .iter()
            .map(|d| format!("{}: {}", d.name, d.message))
            .collect()
    }

    fn example(d: &Diagnostic) -> Step {
        Step::from_value(d.example.as_ref().expect("an example")).expect("a valid step")
    }

    #[test]
    fn a_rule_covered_by_two_earlier_rules_is_unreachable() {
        let a = analysed(
            "default_tier = \"cheap\"",
            r#"
[[rules]]
name = "format"
when = { role = "format" }
tier = "cheap"

[[rules]]
name = "extract"
when = { role = "extract" }
tier = "premium"

[[rules]]
name = "both"
when = { role = ["format", "extract"], input_tokens = { gt = 100 } }
tier = "premium"
"#,
            DEFAULT_BUDGET,
        );
        assert!(!a.partial);
        let u = found(&a, "unreachable-rule");
        assert_eq!(u.len(), 1, "{:?}", listed(&a));
        assert_eq!(u[0].severity, Severity::Warning);
        assert!(u[0].message.contains("`both`"), "{}", u[0].message);
        assert!(u[0].message.contains("`format`") && u[0].message.contains("`extract`"));
        let s = example(u[0]);
        assert!(s.role == "format" || s.role == "extract");
        assert!(s.input_tokens.unwrap() > 100);
    }

    #[test]
    fn rules_with_expressions_are_shadowed_but_never_shadow() {
        let a = analysed(
            "default_tier = \"premium\"",
            r#"
[[rules]]
name = "everything-maybe"
when = { expr = "step.input_tokens > 5" }
tier = "premium"

[[rules]]
name = "small"
when = { role = "format" }
tier = "cheap"

[[rules]]
name = "catch-all"
tier = "cheap"

[[rules]]
name = "after-catch-all"
when = { expr = "step.input_tokens > 5" }
tier = "premium"
"#,
            DEFAULT_BUDGET,
        );
        let u = found(&a, "unreachable-rule");
        assert_eq!(u.len(), 1, "{:?}", listed(&a));
        assert!(u[0].message.contains("`after-catch-all`"));
        assert!(u[0].message.contains("`catch-all`"));
    }

    #[test]
    fn a_rule_routing_where_the_next_rule_would_is_without_effect() {
        let a = analysed(
            "default_tier = \"cheap\"",
            r#"
[[rules]]
name = "format-cheap"
when = { role = "format" }
tier = "cheap"

[[rules]]
name = "big"
when = { input_tokens = { gt = 1000 } }
tier = "premium"
"#,
            DEFAULT_BUDGET,
        );
        // `format-cheap` decides big format steps too, so it has an effect.
        assert!(
            found(&a, "rule-without-effect").is_empty(),
            "{:?}",
            listed(&a)
        );

        let a = analysed(
            "default_tier = \"cheap\"",
            r#"
[[rules]]
name = "format-cheap"
when = { role = "format" }
tier = "cheap"
"#,
            DEFAULT_BUDGET,
        );
        let w = found(&a, "rule-without-effect");
        assert_eq!(w.len(), 1, "{:?}", listed(&a));
        assert!(
            w[0].message.contains("the default tier"),
            "{}",
            w[0].message
        );
        assert_eq!(example(w[0]).role, "format");
    }

    #[test]
    fn a_guard_without_escalation_rejects_with_an_example() {
        let a = analysed(
            "default_tier = \"cheap\"",
            r#"
[[guards]]
name = "tested-only"
when = { untrusted_input = true }
require = ["injection_tested"]
"#,
            DEFAULT_BUDGET,
        );
        let g = found(&a, "guard-rejects");
        assert_eq!(g.len(), 1, "{:?}", listed(&a));
        assert_eq!(g[0].severity, Severity::Info);
        assert!(example(g[0]).untrusted_input);
        // Rejected steps never reach the untested model.
        assert!(found(&a, "untrusted-input-unguarded").is_empty());
    }

    #[test]
    fn untrusted_input_reaching_an_untested_model_is_found() {
        let a = analysed("default_tier = \"cheap\"", "", DEFAULT_BUDGET);
        let u = found(&a, "untrusted-input-unguarded");
        assert_eq!(u.len(), 1, "{:?}", listed(&a));
        assert!(u[0].message.contains("`cheap`"));
        assert!(example(u[0]).untrusted_input);

        let a = analysed(
            "default_tier = \"cheap\"",
            r#"
[[guards]]
name = "escalate"
when = { untrusted_input = true }
require = ["injection_tested"]
escalate_to = "premium"
"#,
            DEFAULT_BUDGET,
        );
        assert!(
            found(&a, "untrusted-input-unguarded").is_empty(),
            "{:?}",
            listed(&a)
        );
        assert!(found(&a, "guard-rejects").is_empty(), "{:?}", listed(&a));
    }

    #[test]
    fn a_skipped_expression_that_falls_to_a_cheaper_tier_fails_open() {
        let body = r#"
[[rules]]
name = "high-value"
when = { expr = "step.tags.value > 1000" }
tier = "premium"
"#;
        let a = analysed("default_tier = \"cheap\"", body, DEFAULT_BUDGET);
        let f = found(&a, "expression-fails-open");
        assert_eq!(f.len(), 1, "{:?}", listed(&a));
        assert!(f[0].message.contains("`cheap`"));

        let a = analysed(
            "default_tier = \"cheap\"\non_expression_error = \"premium\"",
            body,
            DEFAULT_BUDGET,
        );
        assert!(found(&a, "expression-fails-open").is_empty());
    }

    #[test]
    fn a_partly_overlapping_rule_is_pointed_out_with_a_step_in_both() {
        let a = analysed(
            "default_tier = \"cheap\"",
            r#"
[[rules]]
name = "format"
when = { role = "format" }
tier = "cheap"

[[rules]]
name = "untrusted"
when = { untrusted_input = true }
tier = "premium"
"#,
            DEFAULT_BUDGET,
        );
        let o = found(&a, "partial-overlap");
        assert_eq!(o.len(), 1, "{:?}", listed(&a));
        assert!(o[0].message.contains("`untrusted`") && o[0].message.contains("`format`"));
        let s = example(o[0]);
        assert!(s.role == "format" && s.untrusted_input);
    }

    #[test]
    fn a_small_budget_gives_a_partial_analysis_that_claims_only_what_it_proved() {
        let mut body = String::new();
        for i in 0..40 {
            body.push_str(&format!(
                "[[rules]]\nname = \"r{i}\"\nwhen = {{ input_tokens = {{ ge = {} }}, tags = {{ k{i} = \"v\" }} }}\ntier = \"{}\"\n\n",
                i * 10,
                if i % 2 == 0 { "cheap" } else { "premium" }
            ));
        }
        body.push_str("[[rules]]\nname = \"covered\"\nwhen = { input_tokens = { ge = 10 }, tags = { k1 = \"v\" } }\ntier = \"cheap\"\n");
        let a = analysed("default_tier = \"cheap\"", &body, 50);
        assert!(a.partial);
        assert!(found(&a, "rule-without-effect").is_empty());
        // One earlier rule (r1) covers `covered`: proved without the walk.
        let u = found(&a, "unreachable-rule");
        let names: Vec<&str> = a.diagnostics.iter().map(|d| d.name).collect();
        assert_eq!(u.len(), 1, "{names:?}");
        assert!(u[0].message.contains("`covered`") && u[0].message.contains("`r1`"));

        let whole = analysed("default_tier = \"cheap\"", &body, DEFAULT_BUDGET);
        assert!(!whole.partial);
        assert!(whole.cells > a.cells);
    }
}
