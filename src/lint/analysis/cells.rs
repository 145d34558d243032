//! One cell of the table: building a step of it, routing that step exactly (expressions
//! evaluated), and handing the cell to each finding; also the step each rule is shown to win.

use super::{clear, has, ones, GuardOutcome, Untrusted, Walker, Winner, WITNESS_TRIES};
use crate::compile::table::{ColumnKind, Flag};
use crate::policy::TierId;
use crate::step::Step;

/// What the walk knows of one cell, shared by the findings that look at it.
pub(super) struct Cell<'c> {
    /// The rules whose static conditions hold on the cell, in order (up to the second that
    /// holds on all of it).
    pub(super) chain: &'c [usize],
    /// The guards whose static conditions hold on the cell.
    pub(super) held: &'c [usize],
    /// The rules that may win the cell's steps: the chain up to its first rule without an
    /// expression.
    pub(super) winners: &'c [usize],
    /// The winner of every step of the cell, when there is only one possible.
    pub(super) sure_winner: Option<Winner>,
    /// Whether a held guard has an expression.
    pub(super) guard_exprs: bool,
    /// Which values of `untrusted_input` the cell holds.
    pub(super) unt: Untrusted,
    /// The cell's plain step, once built.
    pub(super) plain: Option<Step>,
    /// How the plain step was routed, once it was.
    pub(super) routed: Option<(Winner, TierId, GuardOutcome)>,
}

impl Walker<'_> {
    /// Routes a step of a cell: the rule chain and the guards whose static conditions hold,
    /// expressions evaluated on the step.
    pub(super) fn concrete(
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
    pub(super) fn cell_step(&self, untrusted: bool) -> Step {
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
    pub(super) fn plain_class(&self, i: usize, row: Option<usize>) -> u32 {
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
    pub(super) fn build_step(&self, classes: &[u32], untrusted: bool) -> Step {
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
                        step.role = r.as_str().into();
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

    /// One cell: every relevant row holds on every step of it. Each finding notes what the
    /// cell shows it.
    pub(super) fn leaf(&mut self, relevant: &[u64], unt: Untrusted) {
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
        let mut cell = Cell {
            chain: &chain,
            held: &held,
            winners,
            sure_winner,
            guard_exprs,
            unt,
            plain: None,
            routed: None,
        };

        for (k, &w) in winners.iter().enumerate() {
            self.reachable[w] = true;
            self.note_effect(&mut cell, k, w);
            self.note_fails_open(&mut cell, k, w);
        }
        self.note_witness(&mut cell);
        self.note_rejection(&mut cell);
        self.note_untrusted(&cell);

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

    /// The cell's plain step (built once per cell).
    pub(super) fn plain_step(&self, cell: &mut Cell<'_>) -> Step {
        let untrusted = !cell.unt.can_false;
        cell.plain
            .get_or_insert_with(|| self.cell_step(untrusted))
            .clone()
    }

    /// A step each possible winner is shown to win (what [`super::reaching_steps`] gives).
    pub(super) fn note_witness(&mut self, cell: &mut Cell<'_>) {
        match cell.sure_winner {
            Some(Winner::Rule(r)) => {
                if self.witness[r].is_none() {
                    let step = self.plain_step(cell);
                    self.witness[r] = Some(step);
                }
            }
            Some(Winner::Default) => {}
            None => {
                let wanted: Vec<usize> = cell
                    .winners
                    .iter()
                    .copied()
                    .filter(|&r| self.witness[r].is_none() && self.witness_tries[r] < WITNESS_TRIES)
                    .collect();
                if !wanted.is_empty() {
                    let step = self.plain_step(cell);
                    let got = self.concrete(cell.chain, cell.held, &step);
                    if let Winner::Rule(r) = got.0 {
                        if self.witness[r].is_none() {
                            self.witness[r] = Some(step);
                        }
                    }
                    for r in wanted {
                        self.witness_tries[r] += 1;
                    }
                    cell.routed = Some(got);
                }
            }
        }
    }
}
