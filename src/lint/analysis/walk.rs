//! The walk over the decision table: a product over the columns, depth first, carrying the
//! rows still admitted, grouping classes that admit the same relevant rows, and skipping
//! subtrees where no finding is still open. Each cell it reaches goes to [`Walker::leaf`].

use super::{has, ones, upto, Frame, Untrusted, Walker};
use crate::compile::table::{ColumnKind, Flag};

impl Walker<'_> {
    /// The two lowest rules without an expression in `acc` that are in `free` (rows no
    /// column left to walk constrains): every cell below holds both.
    pub(super) fn two_lowest_free(
        &self,
        acc: &[u64],
        free: &[u64],
    ) -> (Option<usize>, Option<usize>) {
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

    pub(super) fn walk(&mut self, i: usize, unt: Untrusted) {
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

    pub(super) fn node(&mut self, i: usize, unt: Untrusted, f: &mut Frame) {
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
    pub(super) fn interesting(
        &self,
        acc: &[u64],
        l1: Option<usize>,
        free: &[u64],
        unt: Untrusted,
    ) -> bool {
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
}
