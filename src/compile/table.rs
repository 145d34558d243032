//! The decision table: each condition column splits its value space into classes, and for
//! every class keeps a bitset of the rows that admit it. A step is routed by finding its
//! class in each column, ANDing the bitsets and taking the lowest set bit.
//!
//! Rules and guards are two tables over the same columns, so a step's classes are found once.

use std::collections::{BTreeSet, HashMap};

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

/// How a tag's values split into classes: missing; each named string, then any other string;
/// false, true; and numbers split at every named point (each point its own class, and each
/// open interval between points).
#[derive(Debug, Clone)]
pub(crate) struct TagPartition {
    strings: Vec<String>,
    points: Vec<f64>,
}

impl TagPartition {
    const MISSING: u32 = 0;

    fn class_count(&self) -> usize {
        1 + self.strings.len() + 1 + 2 + (2 * self.points.len() + 1)
    }

    fn class_of(&self, v: Option<&TagValue>) -> u32 {
        let s = self.strings.len() as u32;
        match v {
            None => Self::MISSING,
            Some(TagValue::Str(x)) => match self.strings.iter().position(|y| y == x) {
                Some(i) => 1 + i as u32,
                None => 1 + s,
            },
            Some(TagValue::Bool(b)) => 2 + s + u32::from(*b),
            Some(TagValue::Num(n)) => {
                let i = self.points.partition_point(|p| p < n);
                let k = if i < self.points.len() && self.points[i] == *n {
                    2 * i + 1
                } else {
                    2 * i
                };
                4 + s + k as u32
            }
        }
    }

    /// A value of each class, to ask each row's condition about the class.
    fn representative(&self, class: u32) -> Option<TagValue> {
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
        Some(TagValue::Num(if k % 2 == 1 {
            p[k / 2]
        } else {
            let i = k / 2;
            match (i.checked_sub(1).map(|j| p[j]), p.get(i)) {
                (None, None) => 0.0,
                (None, Some(hi)) => hi - 1.0,
                (Some(lo), None) => lo + 1.0,
                (Some(lo), Some(hi)) => lo + (hi - lo) / 2.0,
            }
        }))
    }
}

/// A role string → class lookup, done once per step. A handful of roles is faster to scan
/// than to hash; more go through a map.
#[derive(Debug, Clone, Default)]
pub(crate) struct RoleIndex {
    roles: Vec<String>,
    map: Option<HashMap<String, u32>>,
}

impl RoleIndex {
    const SCAN_LIMIT: usize = 12;

    fn new(roles: Vec<String>) -> Self {
        let map = (roles.len() > Self::SCAN_LIMIT).then(|| {
            roles
                .iter()
                .enumerate()
                .map(|(i, r)| (r.clone(), i as u32))
                .collect()
        });
        RoleIndex { roles, map }
    }

    #[inline]
    fn class_of(&self, role: &str) -> u32 {
        if let Some(map) = &self.map {
            return map.get(role).copied().unwrap_or(self.roles.len() as u32);
        }
        for (i, r) in self.roles.iter().enumerate() {
            if r.len() == role.len() && r.as_bytes() == role.as_bytes() {
                return i as u32;
            }
        }
        self.roles.len() as u32
    }

    /// The roles named by any condition.
    #[allow(dead_code)] // used by lint (enumerating cells)
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

/// Most policies have fewer columns than this; a step's classes then live on the stack.
const INLINE_COLUMNS: usize = 16;

/// The class of each column for one step.
pub(crate) struct Classes {
    inline: [u32; INLINE_COLUMNS],
    spill: Vec<u32>,
}

impl Classes {
    #[inline]
    fn get(&self, col: usize) -> u32 {
        if col < INLINE_COLUMNS {
            self.inline[col]
        } else {
            self.spill[col - INLINE_COLUMNS]
        }
    }
}

impl Columns {
    /// The columns that the given conditions need, each split by every value they name.
    pub(crate) fn build<'a>(conds: impl Iterator<Item = &'a Condition> + Clone) -> Columns {
        let mut roles: Vec<String> = Vec::new();
        let mut tok_bp = BTreeSet::new();
        let mut dep_bp = BTreeSet::new();
        let mut flags = [false; 3];
        let mut tags: Vec<(String, BTreeSet<String>, Vec<f64>)> = Vec::new();
        for c in conds {
            for r in c.roles.iter().flatten() {
                if !roles.contains(r) {
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
                match &t.test {
                    TagTest::OneOf(vals) => {
                        for v in vals {
                            match v {
                                TagValue::Str(s) => {
                                    strings.insert(s.clone());
                                }
                                TagValue::Num(n) => points.push(*n),
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
        }
        let mut kinds = Vec::new();
        if !roles.is_empty() {
            kinds.push(ColumnKind::Role);
        }
        if !tok_bp.is_empty() {
            kinds.push(ColumnKind::InputTokens(tok_bp.into_iter().collect()));
        }
        if !dep_bp.is_empty() {
            kinds.push(ColumnKind::DependentToolCalls(dep_bp.into_iter().collect()));
        }
        for (i, f) in [Flag::ChainOfThought, Flag::Json, Flag::Untrusted]
            .into_iter()
            .enumerate()
        {
            if flags[i] {
                kinds.push(ColumnKind::Flag(f));
            }
        }
        for (name, strings, mut points) in tags {
            points.sort_by(f64::total_cmp);
            points.dedup();
            kinds.push(ColumnKind::Tag(
                name,
                TagPartition {
                    strings: strings.into_iter().collect(),
                    points,
                },
            ));
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

    /// Finds the class of every column for a step.
    #[inline]
    pub(crate) fn classify(&self, step: &Step, input_tokens: u64) -> Classes {
        let mut out = Classes {
            inline: [0; INLINE_COLUMNS],
            spill: Vec::new(),
        };
        for (i, kind) in self.kinds.iter().enumerate() {
            let class = match kind {
                ColumnKind::Role => self.roles.class_of(&step.role),
                ColumnKind::InputTokens(bp) => bp.partition_point(|&b| b <= input_tokens) as u32,
                ColumnKind::DependentToolCalls(bp) => {
                    bp.partition_point(|&b| b <= step.dependent_tool_calls) as u32
                }
                ColumnKind::Flag(f) => u32::from(f.of(step)),
                ColumnKind::Tag(name, p) => p.class_of(step.tags.get(name.as_str())),
            };
            if i < INLINE_COLUMNS {
                out.inline[i] = class;
            } else {
                out.spill.push(class);
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
}

impl Table {
    pub(crate) fn build<'a>(cols: &Columns, rows: impl Iterator<Item = &'a Condition>) -> Table {
        let rows: Vec<&Condition> = rows.collect();
        let words = rows.len().div_ceil(64).max(1);
        let mut active = Vec::new();
        let mut bits = Vec::new();
        for col in 0..cols.kinds.len() {
            let classes = cols.class_count(col);
            let base = bits.len();
            let mut all_admit = true;
            for class in 0..classes as u32 {
                let mut w = vec![0u64; words];
                for (r, cond) in rows.iter().enumerate() {
                    if cols.admits(cond, col, class) {
                        w[r / 64] |= 1 << (r % 64);
                    } else {
                        all_admit = false;
                    }
                }
                bits.extend(w);
            }
            if all_admit {
                bits.truncate(base);
            } else {
                active.push((col, base));
            }
        }
        Table {
            rows: rows.len(),
            words,
            active,
            bits,
        }
    }

    /// Number of 64-bit words per bitset.
    #[inline]
    pub(crate) fn words(&self) -> usize {
        self.words
    }

    /// The rows of word `w` whose static conditions hold for the step.
    #[inline]
    pub(crate) fn candidates(&self, classes: &Classes, w: usize) -> u64 {
        let mut acc = if (w + 1) * 64 <= self.rows {
            u64::MAX
        } else {
            let tail = self.rows - w * 64;
            if tail == 0 {
                0
            } else {
                u64::MAX >> (64 - tail)
            }
        };
        for &(col, base) in &self.active {
            acc &= self.bits[base + classes.get(col) as usize * self.words + w];
            if acc == 0 {
                break;
            }
        }
        acc
    }

    /// Calls `f` on each candidate row in order until it returns `Some`.
    #[inline]
    pub(crate) fn first<T>(
        &self,
        classes: &Classes,
        mut f: impl FnMut(usize) -> Option<T>,
    ) -> Option<T> {
        for w in 0..self.words {
            let mut acc = self.candidates(classes, w);
            while acc != 0 {
                let row = w * 64 + acc.trailing_zeros() as usize;
                if let Some(t) = f(row) {
                    return Some(t);
                }
                acc &= acc - 1;
            }
        }
        None
    }
}
