//! The common case of a decision, for a policy of at most 64 guards: every column a step is
//! classed in from its own fields (the flags, the two counts, the role) folded into pairs of
//! row masks — the first 64 rules' and the guards' side by side, so one lookup per column
//! serves both tables; the flags and count columns of one point share one lookup — and the
//! winning row read from a table indexed by the lowest set bit, so the default needs no
//! branch.
//!
//! A policy of more rules keeps the same path over its first 64: their lowest candidate is
//! the lowest of all, and in a real policy (general rules late, a catch-all somewhere) one
//! is almost always there. Only a step none of them admits goes on to the table's later
//! words; the entry past the 64th rule then stands for "not settled here", not the default.
//!
//! The role's class is known before the path starts (from a role id, or read from the
//! step's role, held inline). One tag column, the one that settles most of the first 64
//! rules, is read only when the lowest candidate has a condition on it (and nothing else this
//! path leaves out), and then for every row at once, the guards' too.
//!
//! Rules this cannot settle inline (with an expression, or a condition on another tag) are
//! marked `slow`. Those whose expression, if any, is only terms that each read one tag
//! ([`TagTerm`]) are also `settle`d from tags: for such a lowest candidate the tags it reads
//! are found out of line, in one pass over the step's tags, each in classes of its own that
//! split where the rules' conditions and the terms' constants do. A class admits or rules
//! out each rule, and leaves a rule's expression unsure where the engine could answer other
//! than `true`: a term fails (a missing tag, a value of another type), a `false` follows a
//! term that could have failed first, or a number lies within the engine's float tolerance
//! of a constant. A candidate its tags admit and leave sure wins with no evaluation: its
//! expression is compiled into these masks. Any other slow candidate is asked its own tag
//! conditions and expression, and wins or drops out for the next candidate.
//!
//! A winner that a guard among the candidates might act on, or whose model the step
//! overflows (the tier's `guard_stop` and context window are copied into its entry), goes on
//! to the guards' [`Table`]. The guards' mask ignores their tag columns (but the one read),
//! so it is a superset of the guards that hold: when none of it can act, none that holds
//! can.

use super::lower::{Outcome, TagTerm};
use super::table::{key_words, split_points, ColumnKind, Columns, Flag, Table, TagPartition};
use super::{TierFast, RULE_HAS_EXPR};
use crate::policy::{Condition, TierId};
use crate::step::{Step, TagValue};

/// The rules' rows (`[0]`) and the guards' rows (`[1]`) one class of a column admits.
pub(crate) type Pair = [u64; 2];

/// Two tag reads' answers as one: the rules both admit, and those either leaves unsure.
#[inline(always)]
fn meet(a: Pair, b: Pair) -> Pair {
    [a[0] & b[0], a[1] | b[1]]
}

/// Both tables' rows, before any condition.
const ALL: Pair = [u64::MAX, u64::MAX];

/// See the module docs.
#[derive(Debug, Clone)]
pub(crate) struct FastPath {
    /// Per flag combination (chain of thought, JSON, untrusted: bits 0, 1, 2) and class of
    /// each count column of one point (input tokens: bit 3, dependent tool calls: bit 4),
    /// the rows whose flag and count conditions hold, ANDed with each table's rows: the
    /// common policy's counts cost a comparison each and share the flags' lookup.
    flags: [Pair; 32],
    /// The points of the count columns folded into [`FastPath::flags`]: a count at or past
    /// its point sets the column's bit.
    points: [u64; 2],
    /// The count columns, read apart when [`FastPath::wide`] (else folded into
    /// [`FastPath::flags`], and no rows left out here).
    tokens: Counts,
    calls: Counts,
    /// Some count column has more than one point: the flags' lookup holds the flags only.
    wide: bool,
    /// Per role class (empty when no row names a role).
    roles: Box<[Pair]>,
    /// Rules the general path must settle: those with an expression or a condition on a tag
    /// other than [`FastPath::tag`]'s.
    pub(crate) slow: u64,
    /// The tag column read when the lowest candidate needs it (see the module docs), if any
    /// rule it would settle depends on one.
    pub(crate) tag: Option<FastTag>,
    /// The rules whose only condition the flag, count and role columns leave out is one on
    /// [`FastPath::tag`]: when the lowest candidate is among them, the tag is read (0 without
    /// such a tag).
    pub(crate) tag_rows: u64,
    /// Guards decided by the flag, count and role columns alone (no tag condition): when
    /// such a guard is in a step's guard rows, it holds (its expression aside).
    pub(crate) guard_sure: u64,
    /// Where the guard table's tag columns start among its active columns: where the guards'
    /// columns go on from when the fast path has left some guard unsettled.
    pub(crate) from_tags: usize,
    /// Indexed by the lowest candidate rule (64: none): what a decision reads of it.
    pub(crate) winners: [Winner; 65],
    /// The policy has more than 64 rules: with no candidate among the first 64, the rest of
    /// the table decides (the last entry of `winners` never fits a step).
    pub(crate) more_rules: bool,
    /// Every tag the rules of [`FastPath::settle`] read, by condition or by a lowered
    /// expression's term, read out of line for such a candidate (at most 64).
    more: Box<[MoreTag]>,
    /// Finds a step's tag among [`FastPath::more`] by its name.
    names: TagNames,
    /// Per rule, the tags of [`FastPath::more`] it reads (a bit each).
    more_of: Box<[u64]>,
    /// The `slow` rules the tags of [`FastPath::more`] settle: those with no expression, or
    /// with one whose every term reads one tag ([`TagTerm`]), where a step whose tags leave
    /// no term unsure needs no evaluation.
    pub(crate) settle: u64,
}

/// A tag read out of line (see [`FastPath::more`]), with classes of its own: the table's
/// tag columns leave out the points and strings expressions compare with, and a number that
/// is not finite (which a step built in Rust may carry) is its own class here.
#[derive(Debug, Clone)]
pub(crate) struct MoreTag {
    name: String,
    part: TagPartition,
    /// Per class (then NaN, +infinity, -infinity): the rules it admits, and among them those
    /// whose lowered expression it leaves unsure (a term fails, or `false` comes after a
    /// term that can fail, or the engine's float tolerance decides), so the expression runs.
    masks: Box<[Pair]>,
    /// The rules that depend on the tag.
    rows: u64,
}

impl MoreTag {
    /// What a value of the tag admits, and leaves unsure, among the rules.
    #[inline(always)]
    fn of_value(&self, v: &TagValue) -> Pair {
        // One match on the value's kind (each `match` decodes it again).
        let class = match v {
            TagValue::Num(n) if n.is_finite() => self.part.class_of_number(*n) as usize,
            TagValue::Num(n) => self.part.class_count() + non_finite(*n) as usize,
            TagValue::Str(x) => self.part.class_of_str(x) as usize,
            TagValue::Bool(b) => self.part.class_of_bool(*b) as usize,
        };
        // Every rule, none unsure, for a class that cannot be (there is none).
        self.masks.get(class).copied().unwrap_or([u64::MAX, 0])
    }

    /// What a step without the tag admits and leaves unsure.
    #[inline]
    fn of_missing(&self) -> Pair {
        self.masks[TagPartition::MISSING as usize]
    }

    /// The tag's column: its classes from the rules' conditions and terms on it, and per
    /// class the rules it admits and leaves unsure. `terms[r]`: rule `r`'s lowered terms,
    /// when it has an expression made only of them.
    fn build(name: &str, conds: &[&Condition], terms: &[Option<Vec<TagTerm>>]) -> MoreTag {
        let tests = |r: usize| conds[r].tags.iter().filter(move |t| t.name == name);
        let on_tag = |r: usize| {
            terms[r]
                .iter()
                .flatten()
                .enumerate()
                .filter(move |(_, t)| t.tag == name)
        };
        let mut strings = Vec::new();
        let mut points = Vec::new();
        for r in 0..conds.len() {
            for t in tests(r) {
                split_points(&t.test, &mut strings, &mut points);
            }
            for (_, t) in on_tag(r) {
                strings.extend(t.strings.iter().cloned());
                points.extend(t.points.iter().copied());
            }
        }
        let part = TagPartition::new(strings, points.into_iter().filter(|p| p.is_finite()));
        let count = part.class_count();
        let sample = |k: usize| -> (Option<TagValue>, bool) {
            match k.checked_sub(count) {
                None => (part.representative(k as u32), part.is_interval(k as u32)),
                Some(j) => (
                    Some(TagValue::Num(
                        [f64::NAN, f64::INFINITY, f64::NEG_INFINITY][j],
                    )),
                    false,
                ),
            }
        };
        let per_rule: Vec<_> = (0..conds.len())
            .map(|r| (tests(r).collect::<Vec<_>>(), on_tag(r).collect::<Vec<_>>()))
            .collect();
        let rows = (0..conds.len())
            .filter(|&r| !(per_rule[r].0.is_empty() && per_rule[r].1.is_empty()))
            .fold(0u64, |m, r| m | 1 << r);
        let masks = (0..count + 3)
            .map(|k| {
                let (v, interval) = sample(k);
                // Rules that read no such tag admit every value.
                let mut admit = !rows;
                let mut unsure = 0u64;
                for (r, (statics, mine)) in per_rule.iter().enumerate() {
                    if rows & 1 << r == 0 {
                        continue;
                    }
                    if !statics
                        .iter()
                        .all(|t| v.as_ref().is_some_and(|v| t.test.matches(v)))
                    {
                        continue;
                    }
                    let all = terms[r].as_deref().unwrap_or(&[]);
                    let mut sure = true;
                    let mut out = false;
                    for &(i, t) in mine {
                        let o = match &v {
                            Some(TagValue::Num(x)) if interval && t.near(*x) => None,
                            _ => Some(t.outcome(v.as_ref())),
                        };
                        // A `false` settles the expression only when no term before it
                        // can fail first.
                        if o == Some(Outcome::False) && !all[..i].iter().any(TagTerm::can_fail) {
                            out = true;
                        }
                        sure &= o == Some(Outcome::True);
                    }
                    if !out {
                        admit |= 1 << r;
                        if !sure {
                            unsure |= 1 << r;
                        }
                    }
                }
                [admit, unsure]
            })
            .collect();
        MoreTag {
            name: name.to_string(),
            part,
            masks,
            rows,
        }
    }
}

/// The names of [`FastPath::more`]'s tags, looked up by a step's tag name with one load for
/// its length and a compare of three words, instead of the name compared with each wanted
/// tag's in turn (a loop that cost a tag read more than finding it in the map).
#[derive(Debug, Clone)]
struct TagNames {
    /// Per name length up to [`NAME_WORDS_HOLD`], the first tag with a name that long
    /// ([`NO_TAG`]: none).
    first: [u8; NAME_WORDS_HOLD + 1],
    /// Per tag: its name's [`name_words`] and the next tag with a name as long.
    keys: Box<[([u64; 3], u8)]>,
    /// The tags whose names are longer, each with its index, compared in full.
    long: Box<[(String, usize)]>,
}

/// No tag (see [`TagNames`]).
const NO_TAG: u8 = u8::MAX;

/// The longest name [`name_words`] holds every byte of.
const NAME_WORDS_HOLD: usize = 24;

/// Three words that hold every byte of a name of up to [`NAME_WORDS_HOLD`] bytes, so that
/// two names of one length are equal when their words are: bytes [0, 8), [8, 16) and
/// [n-8, n), the middle one moved back to overlap for a name under 16; a name under 8 is
/// its [`key_words`], then zeros.
#[inline(always)]
fn name_words(b: &[u8]) -> [u64; 3] {
    let n = b.len();
    let word = |at: usize| {
        b.get(at..at + 8).map_or(0, |w| {
            u64::from_le_bytes(w.try_into().expect("eight bytes"))
        })
    };
    if n >= 8 {
        [word(0), word((n - 8).min(8)), word(n - 8)]
    } else {
        // Read in place: the bytes copied into a word on the stack and loaded back would
        // stall as the array compare did.
        [key_words(b)[0], 0, 0]
    }
}

impl TagNames {
    /// The index of names, numbered in order (at most 64).
    fn new<'a>(names: impl IntoIterator<Item = &'a str>) -> TagNames {
        let mut first = [NO_TAG; NAME_WORDS_HOLD + 1];
        let mut last = [NO_TAG; NAME_WORDS_HOLD + 1];
        let mut keys: Vec<([u64; 3], u8)> = Vec::new();
        let mut long = Vec::new();
        for (i, name) in names.into_iter().enumerate() {
            let n = name.len();
            keys.push((name_words(name.as_bytes()), NO_TAG));
            if n > NAME_WORDS_HOLD {
                long.push((name.to_string(), i));
                continue;
            }
            // Appended to its length's list.
            match last[n] {
                NO_TAG => first[n] = i as u8,
                j => keys[j as usize].1 = i as u8,
            }
            last[n] = i as u8;
        }
        TagNames {
            first,
            keys: keys.into_boxed_slice(),
            long: long.into_boxed_slice(),
        }
    }

    /// The index of the name `k`, if it is one of these.
    #[inline(always)]
    fn find(&self, k: &[u8]) -> Option<usize> {
        let Some(&start) = self.first.get(k.len()) else {
            return self.find_long(k);
        };
        let words = name_words(k);
        let mut i = start;
        while let Some(&(w, next)) = self.keys.get(i as usize) {
            // Word by word: `==` on the arrays compared 16 bytes at once, a load from the
            // words just stored that the stores cannot forward to (it tripled the time of
            // a tag read).
            if (w[0] ^ words[0]) | (w[1] ^ words[1]) | (w[2] ^ words[2]) == 0 {
                return Some(i as usize);
            }
            i = next;
        }
        None
    }

    /// [`TagNames::find`] for a name longer than the words hold.
    #[cold]
    #[inline(never)]
    fn find_long(&self, k: &[u8]) -> Option<usize> {
        self.long
            .iter()
            .find(|(name, _)| name.as_bytes() == k)
            .map(|&(_, i)| i)
    }
}

/// The tags the first 64 rules read ([`FastPath::more`]) and the `slow` rules they settle
/// ([`FastPath::settle`]). `exprs`: the rules with an expression.
fn more_tags(
    conds: &[&Condition],
    terms: &[Option<Vec<TagTerm>>],
    exprs: u64,
    slow: u64,
) -> (Box<[MoreTag]>, u64) {
    let settle = (0..conds.len())
        .filter(|&r| exprs & 1 << r == 0 || terms[r].is_some())
        .fold(0u64, |m, r| m | 1 << r)
        & slow;
    let mut names: Vec<&str> = Vec::new();
    for r in (0..conds.len()).filter(|&r| settle & 1 << r != 0) {
        let read = conds[r].tags.iter().map(|t| t.name.as_str());
        for name in read.chain(terms[r].iter().flatten().map(|t| t.tag.as_str())) {
            if !names.contains(&name) {
                names.push(name);
            }
        }
    }
    if settle == 0 || names.len() > 64 {
        return (Box::new([]), 0);
    }
    let more = names
        .iter()
        .map(|name| MoreTag::build(name, conds, terms))
        .collect();
    (more, settle)
}

/// A number that is not finite: its class past the partition's (NaN, +inf, -inf).
#[inline]
fn non_finite(n: f64) -> u32 {
    if n.is_nan() {
        0
    } else if n > 0.0 {
        1
    } else {
        2
    }
}

/// The tag column a decision reads only when its lowest candidate needs it (the rules it
/// settles are [`FastPath::tag_rows`]).
#[derive(Debug, Clone)]
pub(crate) struct FastTag {
    /// The column's index among the policy's columns.
    pub(crate) col: usize,
    /// Per class of the tag's value, the rules and guards it admits.
    masks: Box<[Pair]>,
}

impl FastTag {
    /// The rules and guards a class of the tag's value admits.
    #[inline(always)]
    pub(crate) fn rows_of(&self, class: u32) -> Pair {
        self.masks.get(class as usize).copied().unwrap_or(ALL)
    }
}

/// What a decision reads of a winning rule row (or, past the rules, of the default).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Winner {
    /// The rule + 1; 0 for the default.
    pub(crate) rule: u32,
    /// The tier (bits 0..32), and bit 32 when the default wins: a decision's packed tier
    /// and way, found with one load.
    pub(crate) tier_default: u64,
    /// The tier's [`TierFast::guard_stop`], copied so the decision reads one entry.
    pub(crate) guard_stop: u64,
    /// The tier's context window plus one (saturating): a step fits when what it needs is
    /// below it. 0, which nothing is below, for the entry that stands for "not settled".
    pub(crate) fits_below: u64,
}

impl Winner {
    /// Whether a step needing `need` tokens of context fits the winner's model (always
    /// false for the entry that stands for "not settled"; also false, though the model
    /// would take it, for a need of `u64::MAX` under an unlimited window, which the slower
    /// path then decides the same).
    #[inline(always)]
    pub(crate) fn fits(&self, need: u64) -> bool {
        need < self.fits_below
    }

    /// The winner's tier.
    #[inline(always)]
    pub(crate) fn tier(&self) -> TierId {
        self.tier_default as u32 as TierId
    }

    /// The winning rule's row; `None` for the default.
    #[inline(always)]
    pub(crate) fn rule(&self) -> Option<usize> {
        (self.rule as usize).checked_sub(1)
    }
}

/// A count column: its class found without a branch on the count, and the rows per class.
#[derive(Debug, Clone)]
enum Counts {
    /// One point (or none: `u64::MAX`, which no real count passes, both classes every row),
    /// the common column, found with one comparison.
    One { point: u64, masks: [Pair; 2] },
    /// Two or three points (padded with `u64::MAX`), compared all at once; a class past the
    /// real points (only `u64::MAX` reaches it) repeats the last real one.
    Few { points: [u64; 3], masks: [Pair; 4] },
    /// More: the bucket search of the table's breakpoints.
    Many {
        points: super::table::Breakpoints,
        masks: Box<[Pair]>,
    },
}

impl Counts {
    /// A column no row constrains.
    const NONE: Counts = Counts::One {
        point: u64::MAX,
        masks: [ALL; 2],
    };

    /// The column of these points and per-class rows. Neighbouring classes that admit the
    /// same rows are one class here: a policy of more than 64 rules has points of rules this
    /// path does not look at, and fewer points are found faster.
    fn new(all_points: &[u64], all_masks: Vec<Pair>) -> Counts {
        debug_assert_eq!(all_masks.len(), all_points.len() + 1);
        let mut points = Vec::with_capacity(all_points.len());
        let mut masks = Vec::with_capacity(all_masks.len());
        masks.push(all_masks[0]);
        for (&p, &m) in all_points.iter().zip(&all_masks[1..]) {
            if masks.last() != Some(&m) {
                points.push(p);
                masks.push(m);
            }
        }
        let points = &points[..];
        if let [point] = points {
            Counts::One {
                point: *point,
                masks: [masks[0], masks[1]],
            }
        } else if points.len() <= 3 {
            let mut padded = [u64::MAX; 3];
            padded[..points.len()].copy_from_slice(points);
            let last = points.len();
            Counts::Few {
                points: padded,
                masks: std::array::from_fn(|k| masks[k.min(last)]),
            }
        } else {
            Counts::Many {
                points: super::table::Breakpoints::classes_only(points),
                masks: masks.into(),
            }
        }
    }

    /// The column's one point and rows per class, when it has one point (or none).
    fn one(&self) -> Option<(u64, [Pair; 2])> {
        match self {
            Counts::One { point, masks } => Some((*point, *masks)),
            _ => None,
        }
    }

    #[inline(always)]
    fn rows(&self, x: u64) -> Pair {
        match self {
            Counts::One { point, masks } => masks[usize::from(*point <= x)],
            Counts::Few { points, masks } => {
                let k = points.iter().map(|&p| usize::from(p <= x)).sum::<usize>();
                masks[k & 3]
            }
            Counts::Many { points, masks } => masks.get(points.class(x)).copied().unwrap_or(ALL),
        }
    }
}

impl FastPath {
    /// The fast path of a policy whose guard table is one word (over its first 64 rules);
    /// `None` for more guards.
    ///
    /// `conds` and `terms` are the rules' conditions and, for a rule whose expression is
    /// made of [`TagTerm`]s only, those terms.
    #[allow(clippy::too_many_arguments)] // one call, at load
    pub(crate) fn build(
        columns: &Columns,
        rules: &Table,
        guards: &Table,
        rule_rows: &[u32],
        default_tier: TierId,
        tier_fast: &[TierFast],
        conds: &[&Condition],
        terms: &[Option<Vec<TagTerm>>],
    ) -> Option<FastPath> {
        if guards.words() != 1 {
            return None;
        }
        let more_rules = rules.words() > 1;
        let both = |col: usize, class: usize| -> Pair {
            [rules.class_rows(col, class), guards.class_rows(col, class)]
        };
        let and = |a: Pair, b: Pair| [a[0] & b[0], a[1] & b[1]];
        let mut flags = [[rules.all_rows(0), guards.all_rows(0)]; 32];
        let mut tokens = Counts::NONE;
        let mut calls = Counts::NONE;
        let mut roles: Box<[Pair]> = Box::new([]);
        // Rules with an expression, then (below) those with a tag condition.
        let mut slow = rule_rows
            .iter()
            .take(64)
            .enumerate()
            .filter(|(_, &packed)| packed & RULE_HAS_EXPR != 0)
            .fold(0u64, |m, (r, _)| m | 1 << r);
        let mut guard_sure = guards.all_rows(0);
        // Each tag column, and the rules that depend on it.
        let mut tags: Vec<(FastTag, u64)> = Vec::new();
        let first = |f: fn(&ColumnKind) -> bool| {
            let col = columns
                .kinds
                .iter()
                .position(f)
                .unwrap_or(columns.kinds.len());
            guards.active_from_column(col)
        };
        // Columns are ordered flags, counts, role, tags.
        let from_tags = first(|k| matches!(k, ColumnKind::Tag(..)));
        for (col, kind) in columns.kinds.iter().enumerate() {
            let classes = columns.class_count(col);
            let per_class = || (0..classes).map(|k| both(col, k)).collect::<Vec<_>>();
            match kind {
                ColumnKind::Flag(f) => {
                    let bit = match f {
                        Flag::ChainOfThought => 1,
                        Flag::Json => 2,
                        Flag::Untrusted => 4,
                    };
                    for (i, m) in flags.iter_mut().enumerate() {
                        *m = and(*m, both(col, usize::from(i & bit != 0)));
                    }
                }
                ColumnKind::InputTokens(bp) => tokens = Counts::new(bp, per_class()),
                ColumnKind::DependentToolCalls(bp) => calls = Counts::new(bp, per_class()),
                // The role's class is applied to every decision's rows, so a role condition
                // leaves a guard sure.
                ColumnKind::Role => roles = per_class().into(),
                ColumnKind::Tag(..) => {
                    // A rule some class of the tag does not admit depends on the tag.
                    let masks = per_class();
                    let every = masks.iter().copied().fold(ALL, and);
                    let rows = rules.all_rows(0) & !every[0];
                    guard_sure &= every[1];
                    tags.push((
                        FastTag {
                            col,
                            masks: masks.into(),
                        },
                        rows,
                    ));
                }
            }
        }
        // The tag that settles most rules (those with no expression) is read like the role;
        // the others leave their rows to the general path. Reading it pays only for rows it
        // settles: a row still slow for another reason does not ask for it.
        let exprs = slow;
        let tag = tags
            .iter()
            .enumerate()
            .map(|(i, (_, rows))| (i, (rows & !exprs).count_ones()))
            .filter(|&(_, settled)| settled != 0)
            .max_by_key(|&(i, settled)| (settled, std::cmp::Reverse(i)))
            .map(|(i, _)| i);
        for (i, (_, rows)) in tags.iter().enumerate() {
            if Some(i) != tag {
                slow |= rows;
            }
        }
        let (tag, tag_rows) = match tag {
            Some(i) => {
                let (t, rows) = tags.swap_remove(i);
                (Some(t), rows & !slow)
            }
            None => (None, 0),
        };
        let (more, settle) = more_tags(
            &conds[..conds.len().min(64)],
            &terms[..terms.len().min(64)],
            exprs,
            slow,
        );
        let winners = std::array::from_fn(|i| {
            let (tier, rule) = match rule_rows.get(i).filter(|_| i < 64) {
                Some(&packed) => ((packed & !RULE_HAS_EXPR) as TierId, i as u32 + 1),
                None => (default_tier, 0),
            };
            let t = tier_fast[tier];
            let settled = i < 64 || !more_rules;
            Winner {
                rule,
                tier_default: tier as u32 as u64 | u64::from(rule == 0) << 32,
                guard_stop: if settled { t.guard_stop } else { 0 },
                fits_below: if settled {
                    t.context_window.saturating_add(1)
                } else {
                    0
                },
            }
        });
        // Count columns of one point each join the flags' lookup; with a wider one, both
        // are read apart.
        let mut points = [u64::MAX; 2];
        let wide = match (tokens.one(), calls.one()) {
            (Some(t), Some(c)) => {
                for (k, (point, masks)) in [t, c].into_iter().enumerate() {
                    points[k] = point;
                    for (i, m) in flags.iter_mut().enumerate() {
                        *m = and(*m, masks[i >> (3 + k) & 1]);
                    }
                }
                (tokens, calls) = (Counts::NONE, Counts::NONE);
                false
            }
            _ => true,
        };
        Some(FastPath {
            flags,
            points,
            tokens,
            calls,
            wide,
            roles,
            slow,
            tag,
            tag_rows,
            guard_sure,
            from_tags,
            winners,
            more_rules,
            more_of: (0..64)
                .map(|r| {
                    more.iter()
                        .enumerate()
                        .filter(|(_, t)| t.rows & 1 << r != 0)
                        .fold(0u64, |m, (i, _)| m | 1 << i)
                })
                .collect(),
            names: TagNames::new(more.iter().map(|t| t.name.as_str())),
            more,
            settle,
        })
    }

    /// The tags of [`FastPath::more`] a rule reads (a bit each), for a candidate rule's bit.
    #[inline(always)]
    pub(crate) fn tags_of(&self, rule: u64) -> u64 {
        self.more_of
            .get(rule.trailing_zeros() as usize)
            .copied()
            .unwrap_or(0)
    }

    /// Reads the `wanted` tags of [`FastPath::more`] (bits from [`FastPath::tags_of`]): the
    /// rules their values admit, and those they leave unsure. One pass over the step's tags
    /// (a map of few entries, whose walk costs less than a search per name), each looked up
    /// among the names of [`FastPath::more`] ([`TagNames`]), until every one wanted is found;
    /// a tag the step does not carry is missing. Out of line.
    #[inline(never)]
    pub(crate) fn read_tags(&self, step: &Step, wanted: u64) -> Pair {
        let mut acc = [u64::MAX, 0];
        let mut seen = 0;
        let tags = &step.tags;
        // One or two tags are the first and the last, found with no iterator to set up, and
        // looked at side by side (a name is in a map once, so each may be any wanted one).
        if tags.len() <= 2 {
            if let Some((k, v)) = tags.first_key_value() {
                let (bit, m) = self.entry(k, v, wanted);
                seen = bit;
                acc = m;
            }
            if tags.len() == 2 {
                if let Some((k, v)) = tags.last_key_value() {
                    let (bit, m) = self.entry(k, v, wanted);
                    seen |= bit;
                    acc = meet(acc, m);
                }
            }
        } else {
            (seen, acc) = self.walk_tags(step, wanted);
        }
        let mut left = wanted & !seen;
        while left != 0 {
            let i = left.trailing_zeros() as usize;
            left &= left - 1;
            acc = meet(acc, self.more[i].of_missing());
        }
        acc
    }

    /// [`FastPath::read_tags`] for a step of three tags or more, apart so that the common
    /// case keeps fewer registers: the tags found, and what they admit and leave unsure.
    #[inline(never)]
    fn walk_tags(&self, step: &Step, wanted: u64) -> (u64, Pair) {
        let mut acc = [u64::MAX, 0];
        let mut seen = 0;
        for (k, v) in &step.tags {
            let (bit, m) = self.entry(k, v, wanted & !seen);
            seen |= bit;
            acc = meet(acc, m);
            if seen == wanted {
                break;
            }
        }
        (seen, acc)
    }

    /// A step's tag `k` with value `v`, if it is one of the `wanted` tags of
    /// [`FastPath::more`]: its bit, and what its value admits and leaves unsure (no bit, and
    /// every rule, for any other).
    #[inline(always)]
    fn entry(&self, k: &str, v: &TagValue, wanted: u64) -> (u64, Pair) {
        match self.names.find(k.as_bytes()) {
            Some(i) if wanted >> i & 1 != 0 => (1 << i, self.more[i].of_value(v)),
            _ => (0, [u64::MAX, 0]),
        }
    }

    /// The rules and guards whose flag, count and role conditions hold for a step with these
    /// flags (see [`FastPath::flags`]), counts and role class.
    #[inline(always)]
    pub(crate) fn rows(&self, flags: usize, input_tokens: u64, calls: u64, role: u32) -> Pair {
        let f = if self.wide {
            let f = self.flags[flags & 7];
            let t = self.tokens.rows(input_tokens);
            let c = self.calls.rows(calls);
            [f[0] & t[0] & c[0], f[1] & t[1] & c[1]]
        } else {
            let t = usize::from(self.points[0] <= input_tokens);
            let c = usize::from(self.points[1] <= calls);
            self.flags[(flags & 7) | t << 3 | c << 4]
        };
        let r = self.role(role);
        [f[0] & r[0], f[1] & r[1]]
    }

    /// The rules and guards a role class admits (every row when no row names a role).
    #[inline(always)]
    pub(crate) fn role(&self, class: u32) -> Pair {
        self.roles.get(class as usize).copied().unwrap_or(ALL)
    }
}

#[cfg(test)]
mod tests {
    use super::{Counts, Pair, TagNames};
    use proptest::prelude::*;

    /// A count's rows for each class, and for `u64::MAX`, which passes the padding too.
    #[test]
    fn counts_class_every_count_like_the_points_say() {
        for points in [
            vec![],
            vec![10],
            vec![10, 20],
            vec![10, 20, 30],
            vec![1, 5, 9, 1_000, 70_000],
        ] {
            // Every class its own rows, and neighbours sharing rows (merged into one class).
            let distinct = |k: u64| [k, 100 + k];
            let shared = |k: u64| [k / 2, 100 + (k % 5) / 3];
            for rows_of in [&distinct as &dyn Fn(u64) -> Pair, &shared] {
                let masks: Vec<Pair> = (0..=points.len() as u64).map(rows_of).collect();
                let c = Counts::new(&points, masks.clone());
                let mut xs = vec![0, u64::MAX, u64::MAX - 1];
                xs.extend(points.iter().flat_map(|&p| [p - 1, p, p + 1]));
                for x in xs {
                    let class = points.iter().filter(|&&p| p <= x).count();
                    assert_eq!(c.rows(x), masks[class], "points {points:?}, x = {x}");
                }
            }
        }
        // A column no row constrains admits every row, whatever the count.
        for x in [0, 1, u64::MAX] {
            assert_eq!(Counts::NONE.rows(x), super::ALL);
        }
    }

    proptest! {
        /// The name index finds each of its names at its place, and nothing for a name one
        /// byte off, one byte shorter or longer: names of every length around the words'
        /// edges (8, 16, 24), several of one length, sharing their starts and ends.
        #[test]
        fn tag_names_find_exactly_their_names(
            names in prop::collection::btree_set("[ab_]{0,3}|[ab_]{5,9}|[ab_]{14,18}|[ab_]{22,30}", 0..12),
            at in any::<usize>(),
            flip in 1u8..,
        ) {
            let names: Vec<String> = names.into_iter().collect();
            let index = TagNames::new(names.iter().map(String::as_str));
            let place = |k: &[u8]| names.iter().position(|n| n.as_bytes() == k);
            for (i, name) in names.iter().enumerate() {
                prop_assert_eq!(index.find(name.as_bytes()), Some(i), "{:?}", name);
                let mut near = vec![name.clone().into_bytes()];
                if !name.is_empty() {
                    let mut b = name.clone().into_bytes();
                    b[at % name.len()] ^= flip;
                    near.push(b);
                    near.push(name.as_bytes()[..name.len() - 1].to_vec());
                }
                near.push(format!("{name}a").into_bytes());
                for k in near {
                    prop_assert_eq!(index.find(&k), place(&k), "{:?}", String::from_utf8_lossy(&k));
                }
            }
        }
    }
}
