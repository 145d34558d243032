//! The decision table: each condition column splits its value space into classes, and for
//! every class keeps a bitset of the rows that admit it. A step is routed by finding its
//! class in each column, ANDing the bitsets and taking the lowest set bit.
//!
//! Rules and guards are two tables over the same columns. A step's class in a column is found
//! only when a table needs it (see [`Probe`]).

use std::collections::BTreeSet;

use crate::policy::{Condition, IntRange, TagTest};
use crate::step::{Step, TagValue};

/// What one column looks at.
#[derive(Debug, Clone)]
pub(crate) enum ColumnKind {
    /// The step's role; classes are the interned roles, then "any other role".
    Role,
    /// Input tokens, split at the breakpoints: class k is `[bp[k-1], bp[k])`.
    InputTokens(Vec<u64>),
    /// Dependent tool calls, likewise.
    DependentToolCalls(Vec<u64>),
    /// One of the three flags: class 0 is false, 1 is true.
    Flag(Flag),
    /// One tag, by name.
    Tag(String, TagPartition),
}

/// The three boolean step features.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flag {
    ChainOfThought,
    Json,
    Untrusted,
}

impl Flag {
    fn of(self, step: &Step) -> bool {
        match self {
            Flag::ChainOfThought => step.needs_chain_of_thought,
            Flag::Json => step.output_must_be_json,
            Flag::Untrusted => step.untrusted_input,
        }
    }

    fn of_cond(self, c: &Condition) -> Option<bool> {
        match self {
            Flag::ChainOfThought => c.needs_chain_of_thought,
            Flag::Json => c.output_must_be_json,
            Flag::Untrusted => c.untrusted_input,
        }
    }
}

/// Every byte of a string of up to 16 bytes, in two words: four 4-byte loads whose offsets
/// depend only on the length (so two such strings of one length are equal exactly when their
/// words are); the first and last eight bytes of a longer one. From four bytes on there is no
/// branch on the length: roles of 6, 7 and 9 bytes drawn at random would mispredict one.
#[inline(always)]
pub(crate) fn key_words(b: &[u8]) -> [u64; 2] {
    let n = b.len();
    let w4 = |i: usize| {
        b.get(i..i + 4).map_or(0, |w| {
            u64::from(u32::from_le_bytes([w[0], w[1], w[2], w[3]]))
        })
    };
    match n {
        0 => [0, 0],
        // Bytes 0, n/2 and n-1 are every byte of a string of up to three.
        1..=3 => [
            u64::from(b[0]) | u64::from(b[n / 2]) << 8 | u64::from(b[n - 1]) << 16,
            0,
        ],
        // [0, 4) and [n-4, n) hold a string of up to 8 bytes; [4, 8) and [n-8, n-4) the
        // middle of one of up to 16 (for a shorter one they repeat the ends).
        _ => {
            let mid = (n - 4).min(4);
            let back = n.saturating_sub(8);
            [w4(0) | w4(n - 4) << 32, w4(mid) | w4(back) << 32]
        }
    }
}

/// How a tag's values split into classes: missing (NaN too, which no condition holds for);
/// each named string, then any other string; false, true; and numbers split at every named
/// point (each point its own class, and each open interval between points).
#[derive(Debug, Clone)]
pub(crate) struct TagPartition {
    strings: Vec<String>,
    /// Per string, its length and [`key_words`]: a value is compared with these, its own
    /// words found once, rather than each string's bytes read again.
    keys: Vec<(usize, [u64; 2])>,
    points: Vec<f64>,
    /// The points when there are at most [`FEW_POINTS`], then NaN.
    few: [f64; FEW_POINTS],
}

/// How many points [`TagPartition::class_of_number`] counts with no branch.
const FEW_POINTS: usize = 4;

impl TagPartition {
    /// The class of a missing tag.
    pub(crate) const MISSING: u32 = 0;

    /// The partition at these strings and numbers (any order, repeats allowed; the numbers
    /// finite).
    pub(crate) fn new(
        strings: impl IntoIterator<Item = String>,
        points: impl IntoIterator<Item = f64>,
    ) -> TagPartition {
        let strings: Vec<String> = strings
            .into_iter()
            .collect::<BTreeSet<String>>()
            .into_iter()
            .collect();
        let mut points: Vec<f64> = points.into_iter().collect();
        points.sort_by(f64::total_cmp);
        points.dedup();
        let mut few = [f64::NAN; FEW_POINTS];
        if points.len() <= FEW_POINTS {
            few[..points.len()].copy_from_slice(&points);
        }
        TagPartition {
            few,
            keys: strings
                .iter()
                .map(|s| (s.len(), key_words(s.as_bytes())))
                .collect(),
            strings,
            points,
        }
    }

    pub(crate) fn class_count(&self) -> usize {
        1 + self.strings.len() + 1 + 2 + (2 * self.points.len() + 1)
    }

    /// Whether a class is an open interval of numbers (every other class is one value, or
    /// every string no condition names).
    pub(crate) fn is_interval(&self, class: u32) -> bool {
        let first = 4 + self.strings.len() as u32;
        class >= first && (class - first).is_multiple_of(2)
    }

    /// Out of line: inlined, the classifying of a value grew every decision's inline path
    /// (the fast path's tag is read there), though most decisions never read it.
    #[inline(never)]
    pub(crate) fn class_of(&self, v: Option<&TagValue>) -> u32 {
        match v {
            // No tag condition holds for NaN (it equals nothing and lies in no range), as for
            // a missing tag. Here, not in `class_of_value`, which would count it below every
            // point.
            None => Self::MISSING,
            Some(TagValue::Num(n)) if n.is_nan() => Self::MISSING,
            Some(v) => self.class_of_value(v),
        }
    }

    /// [`TagPartition::class_of`] for a tag the step has, other than NaN (counted here below
    /// every point: callers class it first).
    #[inline(always)]
    pub(crate) fn class_of_value(&self, v: &TagValue) -> u32 {
        match v {
            TagValue::Str(x) => self.class_of_str(x),
            TagValue::Bool(b) => self.class_of_bool(*b),
            TagValue::Num(n) => self.class_of_number(*n),
        }
    }

    /// [`TagPartition::class_of_value`] for a string.
    #[inline(always)]
    pub(crate) fn class_of_str(&self, x: &str) -> u32 {
        let (n, words) = (x.len(), key_words(x.as_bytes()));
        // A loop rather than `position`, which was left a call. The words are every byte of
        // a string of up to 16; a longer one is compared in full.
        let mut i = 0;
        while let Some(&(len, w)) = self.keys.get(i) {
            if len == n && w == words && (n <= 16 || self.strings[i] == *x) {
                break;
            }
            i += 1;
        }
        1 + i as u32
    }

    /// [`TagPartition::class_of_value`] for a boolean.
    #[inline(always)]
    pub(crate) fn class_of_bool(&self, b: bool) -> u32 {
        2 + self.strings.len() as u32 + u32::from(b)
    }

    /// [`TagPartition::class_of_value`] for a number other than NaN.
    #[inline(always)]
    pub(crate) fn class_of_number(&self, n: f64) -> u32 {
        // 2i between points i-1 and i, 2i+1 on point i: the points below, plus those not
        // above. Up to four, counted over `few` (NaN past the points, below and above no
        // number) with no branch and no length to test.
        let k = if self.points.len() <= FEW_POINTS {
            self.few
                .iter()
                .map(|&q| usize::from(q < n) + usize::from(q <= n))
                .sum::<usize>()
        } else {
            let p = &self.points[..];
            let i = p.partition_point(|&q| q < n);
            2 * i + usize::from(i < p.len() && p[i] == n)
        };
        4 + self.strings.len() as u32 + k as u32
    }

    /// A value of each class, to ask each row's condition about the class.
    pub(crate) fn representative(&self, class: u32) -> Option<TagValue> {
        let s = self.strings.len() as u32;
        if class == Self::MISSING {
            return None;
        }
        if class <= s {
            return Some(TagValue::Str(self.strings[class as usize - 1].clone()));
        }
        if class == 1 + s {
            // A string no condition names.
            let mut other = String::from("other");
            while self.strings.contains(&other) {
                other.push('_');
            }
            return Some(TagValue::Str(other));
        }
        if class == 2 + s || class == 3 + s {
            return Some(TagValue::Bool(class == 3 + s));
        }
        let k = (class - 4 - s) as usize;
        let p = &self.points;
        // Points are their own classes; an open interval is sampled strictly inside it
        // (next_up/next_down, not ±1, which is lost on numbers past 2^53).
        Some(TagValue::Num(if k % 2 == 1 {
            p[k / 2]
        } else {
            let i = k / 2;
            match (i.checked_sub(1).map(|j| p[j]), p.get(i).copied()) {
                (None, None) => 0.0,
                (None, Some(hi)) => hi.next_down(),
                (Some(lo), None) => lo.next_up(),
                (Some(lo), Some(hi)) => {
                    let mid = lo / 2.0 + hi / 2.0;
                    if mid > lo && mid < hi {
                        mid
                    } else {
                        lo.next_up()
                    }
                }
            }
        }))
    }
}

/// A role string → class lookup, done once per step: a table keyed by the role's length and
/// [`key_words`], which are the whole text of a role of up to 16 bytes. No hashing of the
/// text, and no reading of the named roles' text: a slot holds its role's key, so a short
/// role is found with one probe and one comparison of words. The table's multiplier is
/// chosen at load so that no two named roles share a slot; long roles whose keys coincide
/// (same length, first and last eight bytes) fall back to linear probing.
#[derive(Debug, Clone, Default)]
pub(crate) struct RoleIndex {
    roles: Vec<String>,
    /// Per slot, the role in it (or [`RoleKey::EMPTY`]).
    slots: Vec<RoleKey>,
    shift: u32,
    multiplier: u64,
    /// No two named roles share a slot: a lookup probes once.
    perfect: bool,
}

/// A slot of a [`RoleIndex`]: its role's key and index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct RoleKey {
    words: [u64; 2],
    /// The role's length; `u32::MAX` for an empty slot, which no role's length matches.
    len: u32,
    index: u32,
}

impl RoleKey {
    const EMPTY: RoleKey = RoleKey {
        words: [0, 0],
        len: u32::MAX,
        index: u32::MAX,
    };

    fn is_empty(&self) -> bool {
        self.len == u32::MAX
    }

    /// Zero exactly when the slot's key is this one (`words` of a role of `len` bytes): a
    /// number rather than a bool, so the common lookup can select on it without a branch.
    #[inline(always)]
    fn key_diff(&self, words: [u64; 2], len: usize) -> u64 {
        (self.words[0] ^ words[0]) | (self.words[1] ^ words[1]) | (self.len as usize ^ len) as u64
    }
}

/// Odd multipliers tried, in turn, for a table where no two named roles share a slot.
const MULTIPLIERS: [u64; 8] = [
    0x9e37_79b9_7f4a_7c15,
    0xc2b2_ae3d_27d4_eb4f,
    0x1656_67b1_9e37_79f9,
    0xd6e8_feb8_6659_fd93,
    0xa076_1d64_78bd_642f,
    0xe703_7ed1_a0b4_28db,
    0x8ebc_6af0_9c88_c6e3,
    0x5899_65cc_7537_4cc3,
];

impl RoleIndex {
    fn new(roles: Vec<String>) -> Self {
        let base = (roles.len() * 4).next_power_of_two().max(8);
        // Look for a collision-free table, growing it up to 64 slots per role.
        for size in (0..5).map(|k| base << k) {
            for multiplier in MULTIPLIERS {
                let mut idx = RoleIndex::empty(size, multiplier, true);
                let free = roles.iter().all(|r| {
                    let b = r.as_bytes();
                    let slot = idx.slot_of(key_words(b), b.len());
                    let empty = idx.slots[slot].is_empty();
                    idx.slots[slot].len = 0;
                    empty
                });
                if free {
                    idx.roles = roles;
                    idx.fill();
                    return idx;
                }
            }
        }
        let mut idx = RoleIndex::empty(base, MULTIPLIERS[0], false);
        idx.roles = roles;
        idx.fill();
        idx
    }

    /// A table of `size` (a power of two) empty slots.
    fn empty(size: usize, multiplier: u64, perfect: bool) -> RoleIndex {
        RoleIndex {
            roles: Vec::new(),
            slots: vec![RoleKey::EMPTY; size],
            shift: 64 - size.trailing_zeros(),
            multiplier,
            perfect,
        }
    }

    /// Puts every role in its slot (the next free one after it, when taken).
    fn fill(&mut self) {
        self.slots.fill(RoleKey::EMPTY);
        let mask = self.slots.len() - 1;
        for (i, r) in self.roles.iter().enumerate() {
            let b = r.as_bytes();
            let words = key_words(b);
            let mut slot = self.slot_of(words, b.len());
            while !self.slots[slot].is_empty() {
                slot = (slot + 1) & mask;
            }
            self.slots[slot] = RoleKey {
                words,
                len: b.len() as u32,
                index: i as u32,
            };
        }
    }

    #[inline(always)]
    fn slot_of(&self, [a, b]: [u64; 2], len: usize) -> usize {
        let key = a ^ b.rotate_left(29) ^ (len as u64).rotate_right(7);
        (key.wrapping_mul(self.multiplier) >> self.shift) as usize
    }

    /// Whether slot `k` holds `role` (whose key is `words`).
    #[inline(always)]
    fn holds(&self, k: &RoleKey, role: &str, words: [u64; 2]) -> bool {
        let n = role.len();
        k.key_diff(words, n) == 0
            && (n <= 16 || self.roles.get(k.index as usize).is_some_and(|r| r == role))
    }

    // Inlined into a decision: the call's register saves cost a third of the lookup.
    #[inline(always)]
    fn class_of(&self, role: &str) -> u32 {
        let n = role.len();
        let words = key_words(role.as_bytes());
        let slot = self.slot_of(words, n);
        if !self.perfect || n > 16 {
            return self.probe_from(slot, role, words);
        }
        // The one named role that can be this one, if any: a select, not a branch, since
        // whether a step's role is named is as random as the steps.
        let other = self.roles.len() as u32;
        match self.slots.get(slot) {
            Some(k) => std::hint::select_unpredictable(k.key_diff(words, n) == 0, k.index, other),
            None => other,
        }
    }

    /// [`RoleIndex::class_of`] for a table where named roles share slots, or a role longer
    /// than its key.
    #[cold]
    #[inline(never)]
    fn probe_from(&self, mut slot: usize, role: &str, words: [u64; 2]) -> u32 {
        let mask = self.slots.len() - 1;
        loop {
            let k = &self.slots[slot];
            if k.is_empty() {
                return self.roles.len() as u32;
            }
            if self.holds(k, role, words) {
                return k.index;
            }
            slot = (slot + 1) & mask;
        }
    }

    /// The roles named by any condition (lint's analysis names them in examples; a policy
    /// set numbers them for role ids).
    pub(crate) fn roles(&self) -> &[String] {
        &self.roles
    }
}

/// The columns shared by the rule and guard tables.
#[derive(Debug, Clone)]
pub(crate) struct Columns {
    pub(crate) kinds: Vec<ColumnKind>,
    pub(crate) roles: RoleIndex,
}

/// A step seen through the columns: the class of any column, found when asked. Finding a
/// class is a flag read, a short probe or a binary search — cheaper than remembering it —
/// so a table that never reaches the tag columns never looks a tag up.
#[derive(Clone, Copy)]
pub(crate) struct Probe<'a> {
    columns: &'a Columns,
    step: &'a Step,
    input_tokens: u64,
    /// The step's role class when already known (a role id resolved by the policy set).
    role: Option<u32>,
}

impl Probe<'_> {
    #[inline(always)]
    fn class(&self, col: usize) -> u32 {
        match (&self.columns.kinds[col], self.role) {
            (ColumnKind::Role, Some(class)) => class,
            _ => self.columns.class_of(col, self.step, self.input_tokens),
        }
    }

    /// The three flags as one index: chain of thought, JSON, untrusted (bits 0, 1, 2).
    #[inline(always)]
    fn flags(&self) -> usize {
        flag_index(self.step)
    }
}

/// A step's three flags as one index: chain of thought, JSON, untrusted (bits 0, 1, 2).
#[inline(always)]
pub(crate) fn flag_index(step: &Step) -> usize {
    usize::from(step.needs_chain_of_thought)
        | usize::from(step.output_must_be_json) << 1
        | usize::from(step.untrusted_input) << 2
}

impl Columns {
    /// The columns that the given conditions need, each split by every value they name.
    pub(crate) fn build<'a>(conds: impl Iterator<Item = &'a Condition> + Clone) -> Columns {
        let mut roles: Vec<String> = Vec::new();
        // Seen roles, so collecting them stays linear in the number of rules.
        let mut seen_roles = std::collections::HashSet::new();
        let mut tok_bp = BTreeSet::new();
        let mut dep_bp = BTreeSet::new();
        let mut flags = [false; 3];
        let mut tags: Vec<(String, BTreeSet<String>, Vec<f64>)> = Vec::new();
        for c in conds {
            for r in c.roles.iter().flatten() {
                if seen_roles.insert(r.as_str()) {
                    roles.push(r.clone());
                }
            }
            add_breakpoints(&mut tok_bp, c.input_tokens);
            add_breakpoints(&mut dep_bp, c.dependent_tool_calls);
            for (i, f) in [Flag::ChainOfThought, Flag::Json, Flag::Untrusted]
                .iter()
                .enumerate()
            {
                flags[i] |= f.of_cond(c).is_some();
            }
            for t in &c.tags {
                let idx = match tags.iter().position(|(n, _, _)| n == &t.name) {
                    Some(i) => i,
                    None => {
                        tags.push((t.name.clone(), BTreeSet::new(), Vec::new()));
                        tags.len() - 1
                    }
                };
                let (_, strings, points) = &mut tags[idx];
                split_points(&t.test, strings, points);
            }
        }
        // Cheapest lookups first: a step's winner is often settled before the costly
        // columns (role text, tag lookups) are looked at.
        let mut kinds = Vec::new();
        for (i, f) in [Flag::ChainOfThought, Flag::Json, Flag::Untrusted]
            .into_iter()
            .enumerate()
        {
            if flags[i] {
                kinds.push(ColumnKind::Flag(f));
            }
        }
        if !tok_bp.is_empty() {
            kinds.push(ColumnKind::InputTokens(tok_bp.into_iter().collect()));
        }
        if !dep_bp.is_empty() {
            kinds.push(ColumnKind::DependentToolCalls(dep_bp.into_iter().collect()));
        }
        // The role's text lives in the step's own heap allocation: often the one cache miss
        // of a decision, so it comes after every column read from the step itself.
        if !roles.is_empty() {
            kinds.push(ColumnKind::Role);
        }
        for (name, strings, points) in tags {
            kinds.push(ColumnKind::Tag(name, TagPartition::new(strings, points)));
        }
        Columns {
            kinds,
            roles: RoleIndex::new(roles),
        }
    }

    /// How many classes a column has.
    pub(crate) fn class_count(&self, col: usize) -> usize {
        match &self.kinds[col] {
            ColumnKind::Role => self.roles.roles.len() + 1,
            ColumnKind::InputTokens(bp) | ColumnKind::DependentToolCalls(bp) => bp.len() + 1,
            ColumnKind::Flag(_) => 2,
            ColumnKind::Tag(_, p) => p.class_count(),
        }
    }

    /// Looks at a step through these columns.
    // Only the budget's downgrade search (feature `cost`) looks at a step without a role class.
    #[cfg_attr(not(feature = "cost"), allow(dead_code))]
    #[inline]
    pub(crate) fn probe<'a>(&'a self, step: &'a Step, input_tokens: u64) -> Probe<'a> {
        self.probe_with_role(step, input_tokens, None)
    }

    /// [`Columns::probe`] for a step whose role class is already known (`None`: look it up
    /// from the role's text when a table needs it).
    #[inline]
    pub(crate) fn probe_with_role<'a>(
        &'a self,
        step: &'a Step,
        input_tokens: u64,
        role: Option<u32>,
    ) -> Probe<'a> {
        Probe {
            columns: self,
            step,
            input_tokens,
            role,
        }
    }

    /// The class of a role in the role column ("any other role" for one no rule names).
    #[inline(always)]
    pub(crate) fn role_class(&self, role: &str) -> u32 {
        self.roles.class_of(role)
    }

    /// The class of a step's value of the tag that column `col` reads (`col` must be a tag
    /// column).
    #[inline(always)]
    pub(crate) fn tag_class(&self, col: usize, step: &Step) -> u32 {
        match &self.kinds[col] {
            ColumnKind::Tag(name, p) => p.class_of(step.tags.get(name.as_str())),
            _ => 0,
        }
    }

    /// The class of "any other role".
    pub(crate) fn role_class_other(&self) -> u32 {
        self.roles.roles.len() as u32
    }

    // Out of line: a decision inlines into its caller, and most decisions are settled by
    // the flag and count columns before any other class is asked for.
    #[inline(never)]
    fn class_of(&self, col: usize, step: &Step, input_tokens: u64) -> u32 {
        match &self.kinds[col] {
            ColumnKind::Role => self.roles.class_of(&step.role),
            ColumnKind::InputTokens(bp) => bp.partition_point(|&b| b <= input_tokens) as u32,
            ColumnKind::DependentToolCalls(bp) => {
                bp.partition_point(|&b| b <= step.dependent_tool_calls) as u32
            }
            ColumnKind::Flag(f) => u32::from(f.of(step)),
            ColumnKind::Tag(name, p) => p.class_of(step.tags.get(name.as_str())),
        }
    }

    /// The row bits of every class of column `col`, `words` words per class, class after
    /// class. Linear in rows plus the table's size: a row that does not constrain the column
    /// is set in every class at once (one shared base), a range row adds its interval in a
    /// sweep over the classes, a role row only its roles' classes. Asking [`Columns::admits`]
    /// for every row and class instead made loading quadratic in the number of rules.
    fn column_bits(&self, col: usize, rows: &[&Condition], words: usize) -> Vec<u64> {
        let classes = self.class_count(col);
        let set = |w: &mut [u64], r: usize| w[r / 64] |= 1 << (r % 64);
        let constrains = |c: &Condition| match &self.kinds[col] {
            ColumnKind::Role => c.roles.is_some(),
            ColumnKind::InputTokens(_) => c.input_tokens.is_some(),
            ColumnKind::DependentToolCalls(_) => c.dependent_tool_calls.is_some(),
            ColumnKind::Flag(f) => f.of_cond(c).is_some(),
            ColumnKind::Tag(name, _) => c.tags.iter().any(|t| &t.name == name),
        };
        let mut base = vec![0u64; words];
        for (r, c) in rows.iter().enumerate() {
            if !constrains(c) {
                set(&mut base, r);
            }
        }
        let mut out: Vec<u64> = Vec::with_capacity(classes * words);
        for _ in 0..classes {
            out.extend_from_slice(&base);
        }
        match &self.kinds[col] {
            ColumnKind::InputTokens(bp) | ColumnKind::DependentToolCalls(bp) => {
                // Each range covers a run of whole classes (its bounds are breakpoints):
                // rows enter the running set at their first class and leave after their last.
                let mut enter: Vec<Vec<usize>> = vec![Vec::new(); classes + 1];
                let mut leave: Vec<Vec<usize>> = vec![Vec::new(); classes + 1];
                for (r, c) in rows.iter().enumerate() {
                    let range = match &self.kinds[col] {
                        ColumnKind::InputTokens(_) => c.input_tokens,
                        _ => c.dependent_tool_calls,
                    };
                    let Some(range) = range.filter(|x| x.lo <= x.hi) else {
                        continue;
                    };
                    let first = bp.partition_point(|&b| b <= range.lo);
                    let last = bp.partition_point(|&b| b <= range.hi);
                    enter[first].push(r);
                    leave[last + 1].push(r);
                }
                let mut running = vec![0u64; words];
                for k in 0..classes {
                    for &r in &leave[k] {
                        running[r / 64] &= !(1 << (r % 64));
                    }
                    for &r in &enter[k] {
                        set(&mut running, r);
                    }
                    for (w, x) in out[k * words..(k + 1) * words].iter_mut().zip(&running) {
                        *w |= x;
                    }
                }
                return out;
            }
            ColumnKind::Role => {
                let other = self.roles.roles.len();
                for (r, c) in rows.iter().enumerate() {
                    for role in c.roles.iter().flatten() {
                        let k = self.roles.class_of(role) as usize;
                        // A role no column class names falls in "any other role", which a
                        // role list never admits.
                        if k != other {
                            set(&mut out[k * words..(k + 1) * words], r);
                        }
                    }
                }
            }
            ColumnKind::Flag(_) | ColumnKind::Tag(..) => {
                for (r, c) in rows.iter().enumerate().filter(|(_, c)| constrains(c)) {
                    for k in 0..classes {
                        if self.admits(c, col, k as u32) {
                            set(&mut out[k * words..(k + 1) * words], r);
                        }
                    }
                }
            }
        }
        out
    }

    /// Whether a condition's static part admits every value in a class of a column.
    pub(crate) fn admits(&self, cond: &Condition, col: usize, class: u32) -> bool {
        match &self.kinds[col] {
            ColumnKind::Role => match &cond.roles {
                None => true,
                Some(rs) => self
                    .roles
                    .roles
                    .get(class as usize)
                    .is_some_and(|r| rs.contains(r)),
            },
            ColumnKind::InputTokens(bp) => range_admits(cond.input_tokens, bp, class),
            ColumnKind::DependentToolCalls(bp) => {
                range_admits(cond.dependent_tool_calls, bp, class)
            }
            ColumnKind::Flag(f) => f.of_cond(cond).is_none_or(|want| want == (class == 1)),
            ColumnKind::Tag(name, p) => cond
                .tags
                .iter()
                .filter(|t| &t.name == name)
                .all(|t| p.representative(class).is_some_and(|v| t.test.matches(&v))),
        }
    }
}

/// The strings and numbers a tag test names, where a partition of the tag's values splits
/// for it (see [`TagPartition`]).
pub(crate) fn split_points(
    test: &TagTest,
    strings: &mut impl Extend<String>,
    points: &mut impl Extend<f64>,
) {
    match test {
        TagTest::OneOf(vals) => {
            for v in vals {
                match v {
                    TagValue::Str(s) => strings.extend([s.clone()]),
                    TagValue::Num(n) => points.extend([*n]),
                    TagValue::Bool(_) => {}
                }
            }
        }
        TagTest::Range(r) => {
            points.extend(r.lower.map(|b| b.value));
            points.extend(r.upper.map(|b| b.value));
        }
    }
}

fn add_breakpoints(set: &mut BTreeSet<u64>, r: Option<IntRange>) {
    if let Some(r) = r {
        if r.lo > 0 {
            set.insert(r.lo);
        }
        if r.hi < u64::MAX {
            set.insert(r.hi + 1);
        }
    }
}

fn range_admits(r: Option<IntRange>, bp: &[u64], class: u32) -> bool {
    let Some(r) = r else { return true };
    let lo = if class == 0 {
        0
    } else {
        bp[class as usize - 1]
    };
    r.contains(lo)
}

/// Rows (rules or guards) as bitsets per column class.
#[derive(Debug, Clone)]
pub(crate) struct Table {
    rows: usize,
    words: usize,
    /// Columns some row constrains, with the offset of their class 0 in `bits`.
    active: Vec<(usize, usize)>,
    /// For each active column and class, `words` words of row bits.
    bits: Vec<u64>,
    /// For each position i in `active` (and one past the end), the rows that no column from
    /// i on constrains: once the lowest candidate is among them, it has won.
    free_from: Vec<u64>,
    /// The flag and count columns of a one-word table, folded together (see [`Fast`]).
    fast: Option<Fast>,
    /// The same for a table of more than 64 rows (see [`WideFast`]).
    wide: Option<WideFast>,
}

/// [`Fast`] for a table of more than 64 rows: the flag and count columns folded together,
/// each count's class found once per decision, and one mask per word.
#[derive(Debug, Clone)]
struct WideFast {
    words: usize,
    /// For each flag combination, `words` words of the rows whose flag conditions hold.
    flags: Box<[u64]>,
    /// Input-token breakpoints (their class only) and, per class, `words` words of rows.
    tokens: Option<(Breakpoints, Box<[u64]>)>,
    /// Dependent-tool-call breakpoints and masks, likewise.
    calls: Option<(Breakpoints, Box<[u64]>)>,
    /// The position in `active` of the first column not folded in here.
    rest: usize,
}

impl WideFast {
    /// The [`Fast`] of a one-word table.
    fn one_word(self) -> Fast {
        debug_assert_eq!(self.words, 1);
        let mut flags = [0; 8];
        flags.copy_from_slice(&self.flags);
        Fast {
            flags,
            tokens: self.tokens.map(|(b, _)| b),
            calls: self.calls.map(|(b, _)| b),
            rest: self.rest,
        }
    }

    /// The step's flag combination and count classes.
    #[inline(always)]
    fn classes(&self, probe: &Probe<'_>) -> (usize, usize, usize) {
        (
            probe.flags(),
            self.tokens
                .as_ref()
                .map_or(0, |(b, _)| b.class(probe.input_tokens)),
            self.calls
                .as_ref()
                .map_or(0, |(b, _)| b.class(probe.step.dependent_tool_calls)),
        )
    }

    /// The rows of word `w` whose flag and count conditions hold for those classes.
    #[inline(always)]
    fn rows(&self, (f, t, c): (usize, usize, usize), w: usize) -> u64 {
        let mut acc = self.flags[f * self.words + w];
        if let Some((_, m)) = &self.tokens {
            acc &= m[t * self.words + w];
        }
        if let Some((_, m)) = &self.calls {
            acc &= m[c * self.words + w];
        }
        acc
    }
}

/// The columns every step can be looked up in without reading past its first cache line
/// (the three flags and the two counts), for a table of at most 64 rows: one mask per
/// combination of the flags, and each count's breakpoints searched without branches. The
/// role and tag columns come after, through the general path, only when the lowest
/// candidate row still depends on them.
#[derive(Debug, Clone)]
struct Fast {
    /// For each flag combination (see [`Probe::flags`]), the rows whose flag conditions
    /// hold, ANDed with the rows of the table.
    flags: [u64; 8],
    /// Input-token breakpoints and one row mask per class (`None`: the table does not
    /// constrain the count).
    tokens: Option<Breakpoints>,
    /// Dependent-tool-call breakpoints and masks.
    calls: Option<Breakpoints>,
    /// The position in `active` of the first column not folded in here.
    rest: usize,
}

impl Fast {
    /// The rows whose flag and count conditions hold for the step. A count the table does
    /// not constrain is not looked at (the same branch every step, so it is predicted).
    #[inline(always)]
    fn rows(&self, probe: &Probe<'_>) -> u64 {
        let mut acc = self.flags[probe.flags()];
        if let Some(t) = &self.tokens {
            acc &= t.rows(probe.input_tokens);
        }
        if let Some(c) = &self.calls {
            acc &= c.rows(probe.step.dependent_tool_calls);
        }
        acc
    }
}

/// A numeric column: sorted breakpoints and, per class, the rows it admits.
///
/// A count's class is found without a branch on the count: one load from a bucket table
/// gives the class at the start of the count's bucket, and the (at most
/// [`BUCKET_POINTS`]) points from there on are compared all at once. Random counts make any
/// branch on them a coin toss for the predictor.
#[derive(Debug, Clone)]
pub(crate) struct Breakpoints {
    /// The points, then [`BUCKET_POINTS`] copies of `u64::MAX`, so the compares after a
    /// bucket's start never run off the end.
    points: Box<[u64]>,
    /// How many points there are (without the padding).
    len: usize,
    /// `len + 1` masks: the rows each class admits.
    masks: Box<[u64]>,
    /// The class of the start of each bucket of `1 << shift` values; every point lies below
    /// the end of the last bucket. Empty when the points crowd into a few buckets: then the
    /// search is a binary search.
    buckets: Box<[u32]>,
    shift: u32,
}

/// Buckets per numeric column: 4 KiB, so the table stays in L1.
const BUCKETS: usize = 1024;
/// The most points one bucket may hold before bucketing gives way to a binary search.
const BUCKET_POINTS: usize = 3;

impl Breakpoints {
    fn new(points: &[u64], masks: &[u64]) -> Breakpoints {
        debug_assert_eq!(masks.len(), points.len() + 1);
        let mut padded = points.to_vec();
        padded.extend([u64::MAX; BUCKET_POINTS]);
        let mut bp = Breakpoints {
            points: padded.into(),
            len: points.len(),
            masks: masks.into(),
            buckets: Box::new([0]),
            shift: 63,
        };
        let Some(&max) = points.last() else {
            // One bucket of class 0 and no points: every count is class 0.
            return bp;
        };
        // The smallest bucket width with every point below the last bucket's end.
        let shift = (0..64u32)
            .find(|&s| (max >> s) < BUCKETS as u64)
            .unwrap_or(63);
        let count = ((max >> shift) + 1) as usize;
        let width_less_one = (1u64 << shift) - 1;
        let mut buckets = Vec::with_capacity(count);
        let mut crowded = false;
        // One sweep: `i` is the first point at or past the bucket's start.
        let mut i = 0;
        for b in 0..count as u64 {
            let start = b << shift;
            while points.get(i).is_some_and(|&p| p < start) {
                i += 1;
            }
            let mut j = i;
            while points.get(j).is_some_and(|&p| p <= start | width_less_one) {
                j += 1;
            }
            crowded |= j - i > BUCKET_POINTS;
            buckets.push(i as u32);
        }
        if crowded {
            bp.buckets = Box::new([]);
        } else {
            bp.buckets = buckets.into();
            bp.shift = shift;
        }
        bp
    }

    /// Breakpoints searched only for a count's class (their masks kept elsewhere).
    pub(crate) fn classes_only(points: &[u64]) -> Breakpoints {
        Breakpoints::new(points, &vec![0; points.len() + 1])
    }

    /// The class of `x`: how many points are `<= x`.
    #[inline(always)]
    pub(crate) fn class(&self, x: u64) -> usize {
        // A few points (the usual case) are compared at once, with no bucket to load.
        let start = if self.len <= BUCKET_POINTS {
            0
        } else if self.buckets.is_empty() {
            return count_at_most(&self.points[..self.len], x);
        } else {
            // A count past the last bucket is read in the last one: every point from its
            // start on is `<= x`, and it holds at most BUCKET_POINTS of them, so the compares
            // below count them all.
            let b = ((x >> self.shift) as usize).min(self.buckets.len() - 1);
            self.buckets[b] as usize
        };
        // The points of this bucket (at most BUCKET_POINTS) that are `<= x`; points of later
        // buckets and the padding are above `x`, except the padding when `x` is `u64::MAX`,
        // which the cap at `len` puts right (every point is `<= u64::MAX`).
        let window = &self.points[start..start + BUCKET_POINTS];
        let at_most = window.iter().map(|&p| usize::from(p <= x)).sum::<usize>();
        (start + at_most).min(self.len)
    }

    /// The rows the class of `x` admits (every row when the column is not constrained).
    #[inline(always)]
    fn rows(&self, x: u64) -> u64 {
        self.masks[self.class(x)]
    }
}

/// How many of the sorted `points` are `<= x` (the class of `x`). The standard library's
/// binary search compiles to conditional moves, not branches: a branch on a random token
/// count is a coin toss a predictor loses half the time (a hand-written search with
/// checked reads compiled to branches and cost the 50-rule policy ~25 ns a step).
#[inline(always)]
fn count_at_most(points: &[u64], x: u64) -> usize {
    points.partition_point(|&p| p <= x)
}

impl Table {
    pub(crate) fn build<'a>(cols: &Columns, rows: impl Iterator<Item = &'a Condition>) -> Table {
        let rows: Vec<&Condition> = rows.collect();
        let words = rows.len().div_ceil(64).max(1);
        let mut active = Vec::new();
        let mut bits = Vec::new();
        let mut free: Vec<Vec<u64>> = Vec::new();
        for col in 0..cols.kinds.len() {
            let classes = cols.class_count(col);
            let base = bits.len();
            let mut unconstrained = vec![u64::MAX; words];
            let column = cols.column_bits(col, &rows, words);
            for w in column.chunks_exact(words).take(classes) {
                for (u, x) in unconstrained.iter_mut().zip(w) {
                    *u &= x;
                }
            }
            bits.extend(column);
            if (0..rows.len()).all(|r| unconstrained[r / 64] & (1 << (r % 64)) != 0) {
                bits.truncate(base);
            } else {
                active.push((col, base));
                free.push(unconstrained);
            }
        }
        let mut free_from = vec![u64::MAX; (active.len() + 1) * words];
        for i in (0..active.len()).rev() {
            for w in 0..words {
                free_from[i * words + w] = free_from[(i + 1) * words + w] & free[i][w];
            }
        }
        let mut table = Table {
            rows: rows.len(),
            words,
            active,
            bits,
            free_from,
            fast: None,
            wide: None,
        };
        let folded = table.fold_fast_columns(cols);
        if words == 1 {
            table.fast = Some(folded.one_word());
        } else {
            table.wide = Some(folded);
        }
        table
    }

    /// Folds the leading flag and count columns into a [`WideFast`] (of one word, for a
    /// one-word table's [`Fast`]).
    fn fold_fast_columns(&self, cols: &Columns) -> WideFast {
        let words = self.words;
        let mut wide = WideFast {
            words,
            flags: (0..8)
                .flat_map(|_| (0..words).map(|w| self.all_rows(w)))
                .collect(),
            tokens: None,
            calls: None,
            rest: 0,
        };
        for &(col, base) in &self.active {
            let classes = cols.class_count(col);
            let masks = &self.bits[base..base + classes * words];
            // A count's class is searched on its breakpoints, which carry word 0's masks:
            // for a one-word table, all of them.
            let counts = |bp: &[u64]| {
                let first: Vec<u64> = (0..classes).map(|k| masks[k * words]).collect();
                Some((Breakpoints::new(bp, &first), masks.into()))
            };
            match &cols.kinds[col] {
                ColumnKind::Flag(f) => {
                    let bit = match f {
                        Flag::ChainOfThought => 1,
                        Flag::Json => 2,
                        Flag::Untrusted => 4,
                    };
                    for i in 0..8 {
                        let k = usize::from(i & bit != 0);
                        for w in 0..words {
                            wide.flags[i * words + w] &= masks[k * words + w];
                        }
                    }
                }
                ColumnKind::InputTokens(bp) => wide.tokens = counts(bp),
                ColumnKind::DependentToolCalls(bp) => wide.calls = counts(bp),
                // Columns are ordered flags, counts, then the rest.
                ColumnKind::Role | ColumnKind::Tag(..) => break,
            }
            wide.rest += 1;
        }
        wide
    }

    /// Number of 64-bit words per bitset.
    #[inline]
    pub(crate) fn words(&self) -> usize {
        self.words
    }

    /// The rows of the first word (the first 64 rows) that admit class `class` of column
    /// `col` (every row, when no row constrains the column).
    pub(crate) fn class_rows(&self, col: usize, class: usize) -> u64 {
        match self.active.iter().find(|&&(c, _)| c == col) {
            Some(&(_, base)) => self.bits[base + class * self.words],
            None => self.all_rows(0),
        }
    }

    /// The rows of word `w`, before any condition is applied.
    #[inline]
    pub(crate) fn all_rows(&self, w: usize) -> u64 {
        let tail = self.rows.saturating_sub(w * 64);
        if tail >= 64 {
            u64::MAX
        } else if tail == 0 {
            0
        } else {
            u64::MAX >> (64 - tail)
        }
    }

    /// Calls `f` on each row whose static conditions hold, in order, until it returns
    /// `Some`.
    #[inline(always)]
    pub(crate) fn first<T>(
        &self,
        probe: Probe<'_>,
        mut f: impl FnMut(usize) -> Option<T>,
    ) -> Option<T> {
        match &self.fast {
            Some(fast) => {
                let mut acc = fast.rows(&probe);
                let mut i = fast.rest;
                // `first_in_word_from` for the one word: no word offsets to compute.
                while acc != 0 {
                    let lowest = acc & acc.wrapping_neg();
                    if lowest & self.free_from[i] != 0 {
                        if let Some(t) = f(lowest.trailing_zeros() as usize) {
                            return Some(t);
                        }
                        acc &= !lowest;
                        continue;
                    }
                    let (col, base) = self.active[i];
                    acc &= self.bits[base + probe.class(col) as usize];
                    i += 1;
                }
                None
            }
            None => self.first_in_words(probe, f),
        }
    }

    /// [`Table::first`] for a table of more than 64 rows.
    #[inline(never)]
    fn first_in_words<T>(
        &self,
        probe: Probe<'_>,
        mut f: impl FnMut(usize) -> Option<T>,
    ) -> Option<T> {
        // Each word starts from its rows that the folded flag and count columns admit, the
        // classes found once for all words.
        let start = self.wide.as_ref().map(|wide| (wide, wide.classes(&probe)));
        let start = |w: usize| match start {
            Some((wide, classes)) => (wide.rows(classes, w), wide.rest),
            None => (self.all_rows(w), 0),
        };
        // Several words: a column's class is needed once per word, so remember it once found
        // (still lazily, so columns no word reaches are never looked at).
        if self.active.len() <= 64 {
            let memo = std::cell::Cell::new(0u64);
            let classes: [std::cell::Cell<u32>; 64] =
                std::array::from_fn(|_| std::cell::Cell::new(0));
            let class = |i: usize| {
                if memo.get() & (1 << i) == 0 {
                    classes[i].set(probe.class(self.active[i].0));
                    memo.set(memo.get() | 1 << i);
                }
                classes[i].get()
            };
            (0..self.words).find_map(|w| {
                let (acc, i) = start(w);
                self.first_in_word_from(w, acc, i, class, &mut f)
            })
        } else {
            let classes: Vec<u32> = self
                .active
                .iter()
                .map(|&(col, _)| probe.class(col))
                .collect();
            (0..self.words).find_map(|w| {
                let (acc, i) = start(w);
                self.first_in_word_from(w, acc, i, |i| classes[i], &mut f)
            })
        }
    }

    /// `first` over the rows of word `w`, once the candidates `acc` have passed the first `i`
    /// active columns; `class(i)` is the step's class in the i-th active column. Columns are
    /// applied in order only until the lowest remaining row is settled: often the winner is
    /// known before the costlier columns are looked at.
    #[inline(always)]
    fn first_in_word_from<T>(
        &self,
        w: usize,
        mut acc: u64,
        mut i: usize,
        class: impl Fn(usize) -> u32,
        f: &mut impl FnMut(usize) -> Option<T>,
    ) -> Option<T> {
        while acc != 0 {
            let lowest = acc & acc.wrapping_neg();
            if lowest & self.free_from[i * self.words + w] != 0 {
                // Every column not yet applied admits this row: it is a candidate, and every
                // lower row has been ruled out.
                if let Some(t) = f(w * 64 + lowest.trailing_zeros() as usize) {
                    return Some(t);
                }
                acc &= !lowest;
                continue;
            }
            let base = self.active[i].1;
            acc &= self.bits[base + class(i) as usize * self.words + w];
            i += 1;
        }
        None
    }

    /// The rows of a one-word table among `acc` (which have passed the first `rest` active
    /// columns) whose static conditions hold for the step.
    #[inline(always)]
    pub(crate) fn candidates_from(&self, probe: Probe<'_>, mut acc: u64, rest: usize) -> u64 {
        for &(col, base) in self.active.get(rest..).unwrap_or(&[]) {
            if acc == 0 {
                break;
            }
            acc &= self.bits[base + probe.class(col) as usize];
        }
        acc
    }

    /// Where column `col` or the first active column after it is in the active columns.
    pub(crate) fn active_from_column(&self, col: usize) -> usize {
        self.active
            .iter()
            .position(|&(c, _)| c >= col)
            .unwrap_or(self.active.len())
    }

    /// The rows of a one-word table whose static conditions hold for the step: the common
    /// case of `all_candidates`, kept apart because the general loop costs ~3 ns more per
    /// decision (`cargo bench --bench route`).
    #[inline(always)]
    pub(crate) fn candidates_one_word(&self, probe: Probe<'_>) -> u64 {
        debug_assert_eq!(self.words, 1);
        let (acc, rest) = match &self.fast {
            Some(fast) => (fast.rows(&probe), fast.rest),
            None => (self.all_rows(0), 0),
        };
        self.candidates_from(probe, acc, rest)
    }

    /// The rows whose static conditions hold, as one bitset word per 64 rows.
    pub(crate) fn all_candidates(&self, probe: Probe<'_>, out: &mut [u64]) {
        for (w, slot) in out.iter_mut().enumerate() {
            let mut acc = self.all_rows(w);
            for &(col, base) in &self.active {
                if acc == 0 {
                    break;
                }
                acc &= self.bits[base + probe.class(col) as usize * self.words + w];
            }
            *slot = acc;
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::{count_at_most, Breakpoints, RoleIndex, TagPartition};
    use crate::policy::{NumBound, NumRange, TagTest};
    use crate::step::TagValue;

    proptest! {
        /// A number's class answers every tag condition on the partition's points as the
        /// number itself does: the class's representative meets exactly the conditions the
        /// number meets, for numbers on, beside and between the points, the infinities, and
        /// NaN (which meets none).
        #[test]
        fn a_numbers_class_meets_the_conditions_the_number_meets(
            points in prop::collection::vec(prop_oneof![-3..3i32, -1000..1000i32], 0..12),
            bounds in prop::collection::vec((0usize..8, any::<bool>(), any::<bool>()), 1..6),
            extra in prop::collection::vec(-2000.0..2000.0f64, 0..4),
        ) {
            let points: Vec<f64> = points.into_iter().map(|p| f64::from(p) / 2.0).collect();
            let part = TagPartition::new([], points.iter().copied());
            let at = |i: usize| points.get(i).copied();
            // Ranges and lists over the points (a bound past them is open).
            let mut tests: Vec<TagTest> = bounds
                .iter()
                .map(|&(i, inclusive, upper)| {
                    let b = at(i).map(|value| NumBound { value, inclusive });
                    TagTest::Range(if upper {
                        NumRange { lower: None, upper: b }
                    } else {
                        NumRange { lower: b, upper: at(i + 1).map(|value| NumBound { value, inclusive: !inclusive }) }
                    })
                })
                .collect();
            tests.push(TagTest::OneOf(points.iter().map(|&p| TagValue::Num(p)).collect()));
            let mut values = vec![f64::NAN, f64::INFINITY, f64::NEG_INFINITY, 0.0, -0.0];
            values.extend(extra);
            for &p in &points {
                values.extend([p, p.next_up(), p.next_down(), p + 0.25, p - 0.25]);
            }
            for v in values {
                let class = part.class_of(Some(&TagValue::Num(v)));
                let rep = part.representative(class);
                for t in &tests {
                    prop_assert_eq!(
                        rep.as_ref().is_some_and(|r| t.matches(r)),
                        t.matches(&TagValue::Num(v)),
                        "{:?} of class {} ({:?}) under {:?}", v, class, rep, t
                    );
                }
            }
        }

        /// The bucketed search finds the class the binary search finds, for spread points,
        /// crowded ones (where it gives way to the binary search) and huge ones.
        #[test]
        fn buckets_find_the_class_binary_search_finds(
            mut points in prop::collection::vec(prop_oneof![0..200_000u64, 0..64u64, any::<u64>()], 0..120),
            xs in prop::collection::vec(prop_oneof![0..250_000u64, any::<u64>()], 1..50),
        ) {
            points.sort_unstable();
            points.dedup();
            let masks: Vec<u64> = (0..=points.len() as u64).collect();
            let bp = Breakpoints::new(&points, &masks);
            prop_assert_eq!(bp.rows(0), bp.masks[bp.class(0)]);
            for x in xs.into_iter().chain(points.iter().flat_map(|&p| [p.saturating_sub(1), p, p.saturating_add(1)])) {
                prop_assert_eq!(bp.class(x), count_at_most(&points, x), "x = {}", x);
            }
        }
    }

    /// Every named role finds its class and any other role the last class, with one probe
    /// when the roles' keys differ, and by probing when two share a key (long roles of one
    /// length with the same first and last eight bytes), which no multiplier can separate.
    #[test]
    fn roles_find_their_class_with_or_without_a_perfect_table() {
        let usual = [
            "format",
            "extract",
            "summarize",
            "plan",
            "reason",
            "tool_call",
            "edit",
            // Longer than a key: found by probing from its slot, in a perfect table too.
            "summarize-whole-contract",
        ];
        let many: Vec<String> = (0..300).map(|i| format!("role-{i}")).collect();
        // Long roles alike in length and in their first and last eight bytes.
        let twins = [
            "review-the-contract-clause",
            "review-the-kontract-clause",
            "review-the-contract-clausf",
            "plan",
            "format",
            "",
        ];
        for (roles, perfect) in [
            (usual.map(String::from).to_vec(), Some(true)),
            (many, None),
            (twins.map(String::from).to_vec(), Some(false)),
        ] {
            let idx = RoleIndex::new(roles.clone());
            if let Some(p) = perfect {
                assert_eq!(idx.perfect, p, "{roles:?}");
            }
            for (i, r) in roles.iter().enumerate() {
                assert_eq!(idx.class_of(r), i as u32, "{r}");
            }
            for other in [
                "reaxon",
                "role-300",
                "x",
                "plans",
                "classify",
                "review-the-contract-clauze",
                "review-the-xontract-clause",
                "summarize-whole-kontract",
            ] {
                assert_eq!(idx.class_of(other), roles.len() as u32, "{other}");
            }
        }
    }
}
