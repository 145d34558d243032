//! Lowering: an expression that is only comparisons of step fields and tags with constants
//! (and `"k" in step.tags` tests, and bare flags), joined with `&&`, is evaluated in native
//! code instead of by Rhai, with exactly the meaning Rhai gives it: left to right, stopping
//! at the first `false`; a missing tag or field, or a comparison of values of different
//! types, is the same error with the same message. Anything else stays a Rhai expression.
//!
//! A routing expression costs about a microsecond in the sandboxed engine (every operator
//! is a function call there) and a few nanoseconds here.

use rhai::{ASTFlags, Expr as Node, FnCallExpr, Stmt, AST, FLOAT, INT};

use crate::step::{whole_number, Step, TagValue};

/// An expression in native form: its `&&` terms, in order.
#[derive(Debug, Clone)]
pub(crate) struct Lowered {
    terms: Box<[Term]>,
    /// The tag names the terms read, each once: terms name them by index, so two terms
    /// reading one tag are seen to by comparing two numbers.
    keys: Box<[String]>,
}

#[derive(Debug, Clone)]
enum Term {
    /// `"k" in step.tags` (`k` an index into [`Lowered::keys`]).
    HasTag(usize),
    /// A bool field read alone, e.g. `step.untrusted_input`.
    Flag(Field),
    /// `a OP b`, one side a step value, the other a constant, in the order written.
    Compare {
        op: Op,
        value: Value,
        constant: Constant,
        /// The constant is written on the left (`1000 < step.input_tokens`).
        constant_first: bool,
    },
    /// `step.tags.k OP number` (either way round): the common comparison, on the tag's
    /// number as it is, with no conversion to the engine's types (see [`num_holds`]).
    TagNum {
        key: usize,
        /// The operator with the tag on its left (flipped when the constant was written
        /// first: every comparison here reads the same either way round).
        op: Op,
        constant: FLOAT,
        /// The constant was an integer.
        int: bool,
        /// The constant is written on the left (for the error message, which names the
        /// operator and the two sides as written).
        constant_first: bool,
        /// Right after `"k" in step.tags`, folded in (see [`guarded`]): a missing tag is
        /// `false`, not an error.
        missing_is_false: bool,
    },
}

/// A step value an expression reads.
#[derive(Debug, Clone)]
enum Value {
    Field(Field),
    /// An index into [`Lowered::keys`].
    Tag(usize),
}

#[derive(Debug, Clone, Copy)]
enum Field {
    Role,
    InputTokens,
    DependentToolCalls,
    ExpectedOutputTokens,
    ChainOfThought,
    Json,
    Untrusted,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Op {
    fn of(name: &str) -> Option<Op> {
        Some(match name {
            "==" => Op::Eq,
            "!=" => Op::Ne,
            "<" => Op::Lt,
            "<=" => Op::Le,
            ">" => Op::Gt,
            ">=" => Op::Ge,
            _ => return None,
        })
    }

    /// The same comparison with its sides swapped.
    fn flip(self) -> Op {
        match self {
            Op::Lt => Op::Gt,
            Op::Le => Op::Ge,
            Op::Gt => Op::Lt,
            Op::Ge => Op::Le,
            Op::Eq | Op::Ne => self,
        }
    }

    fn symbol(self) -> &'static str {
        match self {
            Op::Eq => "==",
            Op::Ne => "!=",
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
        }
    }

    #[inline]
    fn holds<T: PartialOrd>(self, a: T, b: T) -> bool {
        match self {
            Op::Eq => a == b,
            Op::Ne => a != b,
            Op::Lt => a < b,
            Op::Le => a <= b,
            Op::Gt => a > b,
            Op::Ge => a >= b,
        }
    }
}

/// A literal in an expression.
#[derive(Debug, Clone)]
enum Constant {
    Int(INT),
    Float(FLOAT),
    Str(String),
    Bool(bool),
}

/// A value as the expression sees it (Rhai's types): tag numbers that are whole and small
/// enough are integers, the rest floats, as the engine's view of a step makes them.
enum Seen<'a> {
    Int(INT),
    Float(FLOAT),
    Str(&'a str),
    Bool(bool),
}

impl Seen<'_> {
    fn kind(&self) -> &'static str {
        match self {
            Seen::Int(_) | Seen::Float(_) => "number",
            Seen::Str(_) => "string",
            Seen::Bool(_) => "bool",
        }
    }
}

impl Constant {
    fn seen(&self) -> Seen<'_> {
        match self {
            Constant::Int(i) => Seen::Int(*i),
            Constant::Float(f) => Seen::Float(*f),
            Constant::Str(s) => Seen::Str(s),
            Constant::Bool(b) => Seen::Bool(*b),
        }
    }
}

/// The largest integer every comparison treats alike as an integer and as a float.
const EXACT_INT: INT = 1 << 53;

/// The native form of an expression, when it has one.
pub(crate) fn lower(ast: &AST) -> Option<Lowered> {
    let [stmt] = ast.statements() else {
        return None;
    };
    let mut terms = Vec::new();
    let mut keys = Vec::new();
    match stmt {
        Stmt::Expr(e) => conjunction(e, &mut terms, &mut keys)?,
        Stmt::FnCall(f, _) => terms.push(call(f, &mut keys)?),
        _ => return None,
    }
    Some(Lowered {
        terms: guarded(terms).into(),
        keys: keys.into(),
    })
}

/// `"k" in step.tags && step.tags.k OP n` as one term: the test's `false` ends the `&&`
/// where the comparison would have found the tag missing, so the comparison reads a missing
/// tag as `false`, and the pair is one step of the loop, not two.
fn guarded(terms: Vec<Term>) -> Vec<Term> {
    let mut out: Vec<Term> = Vec::with_capacity(terms.len());
    for mut t in terms {
        if let Term::TagNum {
            key,
            missing_is_false,
            ..
        } = &mut t
        {
            if matches!(out.last(), Some(Term::HasTag(k)) if k == key) {
                out.pop();
                *missing_is_false = true;
            }
        }
        out.push(t);
    }
    out
}

/// The index of tag name `k` among `keys`, added if new.
fn key(keys: &mut Vec<String>, k: &str) -> usize {
    keys.iter().position(|x| x == k).unwrap_or_else(|| {
        keys.push(k.to_string());
        keys.len() - 1
    })
}

fn conjunction(e: &Node, out: &mut Vec<Term>, keys: &mut Vec<String>) -> Option<()> {
    match e {
        Node::And(parts, _) => {
            for p in parts.iter() {
                conjunction(p, out, keys)?;
            }
        }
        Node::FnCall(f, _) => out.push(call(f, keys)?),
        Node::Dot(..) => match value(e, keys)? {
            Value::Field(f @ (Field::ChainOfThought | Field::Json | Field::Untrusted)) => {
                out.push(Term::Flag(f))
            }
            _ => return None,
        },
        Node::BoolConstant(..) | Node::Stmt(..) => return None,
        _ => return None,
    }
    Some(())
}

/// A comparison or an `in` test.
fn call(f: &FnCallExpr, keys: &mut Vec<String>) -> Option<Term> {
    if !f.namespace.is_empty() {
        return None;
    }
    let [a, b] = f.args.as_slice() else {
        return None;
    };
    let name = f.name.as_str();
    if name == "contains" && !f.is_operator_call() {
        // `"k" in step.tags` compiles to `contains(step.tags, "k")`.
        return match (a, b) {
            (Node::Dot(bin, flags, _), Node::StringConstant(k, _))
                if plain(*flags)
                    && is_step(&bin.lhs)
                    && matches!(&bin.rhs, Node::Property(p, _) if p.2 == "tags") =>
            {
                Some(Term::HasTag(key(keys, k)))
            }
            _ => None,
        };
    }
    if !f.is_operator_call() {
        return None;
    }
    let op = Op::of(name)?;
    let (value, constant, constant_first) = match (constant(a), constant(b)) {
        (None, Some(c)) => (self::value(a, keys)?, c, false),
        (Some(c), None) => (self::value(b, keys)?, c, true),
        _ => return None,
    };
    // Only the comparisons whose meaning is plain: numbers in every way; strings and bools
    // for equality (their ordering is Rhai's business).
    match &constant {
        Constant::Int(i) if i.unsigned_abs() <= EXACT_INT as u64 => {}
        Constant::Float(x) if x.is_finite() => {}
        Constant::Str(_) | Constant::Bool(_) if matches!(op, Op::Eq | Op::Ne) => {}
        _ => return None,
    }
    let number = match constant {
        Constant::Int(i) => Some((i as FLOAT, true)),
        Constant::Float(x) => Some((x, false)),
        _ => None,
    };
    Some(match (value, number) {
        (Value::Tag(key), Some((constant, int))) => Term::TagNum {
            key,
            op: if constant_first { op.flip() } else { op },
            constant,
            int,
            constant_first,
            missing_is_false: false,
        },
        (value, _) => Term::Compare {
            op,
            value,
            constant,
            constant_first,
        },
    })
}

fn constant(e: &Node) -> Option<Constant> {
    Some(match e {
        Node::IntegerConstant(i, _) => Constant::Int(*i),
        Node::FloatConstant(x, _) => Constant::Float(**x),
        Node::StringConstant(s, _) => Constant::Str(s.to_string()),
        Node::BoolConstant(b, _) => Constant::Bool(*b),
        _ => return None,
    })
}

/// `step.FIELD`, `step.tags.k` or `step.tags["k"]`.
fn value(e: &Node, keys: &mut Vec<String>) -> Option<Value> {
    let Node::Dot(bin, flags, _) = e else {
        return None;
    };
    if !plain(*flags) || !is_step(&bin.lhs) {
        return None;
    }
    match &bin.rhs {
        Node::Property(p, _) => Some(Value::Field(match p.2.as_str() {
            "role" => Field::Role,
            "input_tokens" => Field::InputTokens,
            "dependent_tool_calls" => Field::DependentToolCalls,
            "expected_output_tokens" => Field::ExpectedOutputTokens,
            "needs_chain_of_thought" => Field::ChainOfThought,
            "output_must_be_json" => Field::Json,
            "untrusted_input" => Field::Untrusted,
            _ => return None,
        })),
        Node::Dot(inner, flags, _) if plain(*flags) => match (&inner.lhs, &inner.rhs) {
            (Node::Property(t, _), Node::Property(k, _)) if t.2 == "tags" => {
                Some(Value::Tag(key(keys, &k.2)))
            }
            _ => None,
        },
        _ => None,
    }
}

fn plain(flags: ASTFlags) -> bool {
    !flags.intersects(ASTFlags::NEGATED)
}

fn is_step(e: &Node) -> bool {
    matches!(e, Node::Variable(v, _, _) if v.1 == "step" && v.2.is_empty())
}

fn clamp(n: u64) -> INT {
    INT::try_from(n).unwrap_or(INT::MAX)
}

impl Lowered {
    /// The expression's value for a step whose input tokens are counted, or the error
    /// message the engine would give.
    #[inline]
    pub(crate) fn eval(&self, step: &Step, input_tokens: u64) -> Result<bool, String> {
        let mut tags = TagReads {
            step,
            keys: &self.keys,
            last: (usize::MAX, None),
        };
        for t in self.terms.iter() {
            if !t.holds(step, input_tokens, &mut tags)? {
                return Ok(false);
            }
        }
        Ok(true)
    }
}

/// What one `&&` term makes of one value of its tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    True,
    False,
    /// A run-time error (a missing tag, a value of another type).
    Fails,
}

/// One `&&` term of a lowered expression that reads one tag and nothing else, for the fast
/// path to fold into its masks per class of that tag's value (see
/// `compile::fast::MoreTag`).
#[derive(Debug, Clone)]
pub(crate) struct TagTerm {
    /// The tag it reads.
    pub(crate) tag: String,
    /// The strings and numbers its outcome changes at: a partition of the tag's values
    /// that holds them all is split where the term's outcome is.
    pub(crate) strings: Vec<String>,
    pub(crate) points: Vec<FLOAT>,
    /// Around a number compared with, the numbers the engine's tolerant float comparison
    /// may decide differently from an exact one ([`float_holds`]): a class inside it is not
    /// settled by a sample value.
    band: Option<(FLOAT, FLOAT)>,
    /// The term alone, to ask about a sample value.
    alone: Lowered,
}

impl TagTerm {
    /// Whether the term can fail at all (a presence test cannot): a `false` after it does
    /// not end the `&&` before an error does.
    pub(crate) fn can_fail(&self) -> bool {
        !matches!(self.alone.terms[0], Term::HasTag(_))
    }

    /// Whether `x` lies strictly inside the band where the engine's tolerance matters.
    pub(crate) fn near(&self, x: FLOAT) -> bool {
        self.band.is_some_and(|(lo, hi)| lo < x && x < hi)
    }

    /// The term's outcome for a step whose tag has this value (`None`: no such tag).
    pub(crate) fn outcome(&self, v: Option<&TagValue>) -> Outcome {
        let mut step = Step::new("");
        if let Some(v) = v {
            step.tags.insert(self.tag.clone(), v.clone());
        }
        match self.alone.eval(&step, 0) {
            Ok(true) => Outcome::True,
            Ok(false) => Outcome::False,
            Err(_) => Outcome::Fails,
        }
    }
}

impl Lowered {
    /// The terms, in order, when every one reads one tag and nothing else (no step field):
    /// then the fast path can settle the expression from its tag classes.
    pub(crate) fn tag_terms(&self) -> Option<Vec<TagTerm>> {
        self.terms
            .iter()
            .map(|t| {
                let (key, strings, points, band) = match t {
                    Term::HasTag(k) => (*k, vec![], vec![], None),
                    Term::TagNum { key, constant, .. } => {
                        // Past 16 epsilons of the larger magnitude (or of 1), the engine's
                        // relative tolerance and an exact comparison agree.
                        let w = 16.0 * FLOAT::EPSILON * constant.abs().max(1.0);
                        let (lo, hi) = (constant - w, constant + w);
                        if !(lo.is_finite() && hi.is_finite()) {
                            return None;
                        }
                        (*key, vec![], vec![lo, *constant, hi], Some((lo, hi)))
                    }
                    Term::Compare {
                        value: Value::Tag(k),
                        constant,
                        ..
                    } => match constant {
                        Constant::Str(s) => (*k, vec![s.clone()], vec![], None),
                        Constant::Bool(_) => (*k, vec![], vec![], None),
                        // Numbers against a tag are `TagNum`s.
                        Constant::Int(_) | Constant::Float(_) => return None,
                    },
                    Term::Flag(_) | Term::Compare { .. } => return None,
                };
                Some(TagTerm {
                    tag: self.keys[key].clone(),
                    strings,
                    points,
                    band,
                    alone: Lowered {
                        terms: Box::new([t.clone()]),
                        keys: self.keys.clone(),
                    },
                })
            })
            .collect()
    }
}

/// Tag reads of one evaluation: `"k" in step.tags && step.tags.k > …` reads one tag twice,
/// and looks it up once.
struct TagReads<'a, 's> {
    step: &'s Step,
    keys: &'a [String],
    /// The key last read, and what it found.
    last: (usize, Option<&'s TagValue>),
}

impl<'s> TagReads<'_, 's> {
    #[inline]
    fn get(&mut self, k: usize) -> Option<&'s TagValue> {
        if self.last.0 != k {
            self.last = (k, self.step.tags.get(&self.keys[k]));
        }
        self.last.1
    }
}

impl Term {
    #[inline]
    fn holds(
        &self,
        step: &Step,
        input_tokens: u64,
        tags: &mut TagReads<'_, '_>,
    ) -> Result<bool, String> {
        match self {
            Term::HasTag(k) => Ok(tags.get(*k).is_some()),
            Term::TagNum {
                key,
                op,
                constant,
                int,
                constant_first,
                missing_is_false,
            } => match tags.get(*key) {
                Some(TagValue::Num(n)) => Ok(num_holds(*op, *n, *constant, *int)),
                Some(v) => {
                    let (v, c) = (seen_tag(v), Seen::Float(*constant));
                    // As written: the flipped operator flips back.
                    Err(if *constant_first {
                        mixed(op.flip(), &c, &v)
                    } else {
                        mixed(*op, &v, &c)
                    })
                }
                None if *missing_is_false => Ok(false),
                None => Err(missing_tag(&tags.keys[*key])),
            },
            Term::Flag(f) => match read_field(*f, step, input_tokens)? {
                Seen::Bool(b) => Ok(b),
                _ => Ok(false),
            },
            Term::Compare {
                op,
                value,
                constant,
                constant_first,
            } => {
                let v = match value {
                    Value::Field(f) => read_field(*f, step, input_tokens)?,
                    Value::Tag(k) => match tags.get(*k) {
                        Some(v) => seen_tag(v),
                        None => return Err(missing_tag(&tags.keys[*k])),
                    },
                };
                let c = constant.seen();
                // Swapped by reference: moving the two enums by value copied them as raw
                // bytes, reads that straddled the writes just made and stalled (`perf`).
                let (a, b) = if *constant_first { (&c, &v) } else { (&v, &c) };
                compare(*op, a, b)
            }
        }
    }
}

/// A tag's value as the engine sees it: whole numbers below 9e15 are integers.
#[inline]
fn seen_tag(v: &TagValue) -> Seen<'_> {
    match v {
        TagValue::Str(s) => Seen::Str(s),
        TagValue::Bool(b) => Seen::Bool(*b),
        TagValue::Num(n) => match whole_number(*n) {
            Some(i) => Seen::Int(i),
            None => Seen::Float(*n),
        },
    }
}

/// `n OP constant` with the engine's meaning, `n` a tag's number. A whole `n` is an integer
/// to the engine, and so is an integer constant; both are below 2^53, where comparing them
/// as floats is exact, so no conversion is needed. Any other pair compares as floats, with
/// the engine's tolerance ([`float_holds`]).
#[inline]
fn num_holds(op: Op, n: FLOAT, constant: FLOAT, int: bool) -> bool {
    if int && whole_number(n).is_some() {
        op.holds(n, constant)
    } else {
        float_holds(op, n, constant)
    }
}

/// Out of line: inlined, LLVM read every field a term might ask for ahead of the loop over
/// the terms, on every evaluation, though most expressions here read only tags (a field
/// alone is a table condition).
#[inline(never)]
fn read_field(f: Field, step: &Step, input_tokens: u64) -> Result<Seen<'_>, String> {
    Ok(match f {
        Field::Role => Seen::Str(&step.role),
        Field::InputTokens => Seen::Int(clamp(input_tokens)),
        Field::DependentToolCalls => Seen::Int(clamp(step.dependent_tool_calls)),
        Field::ExpectedOutputTokens => match step.expected_output_tokens {
            Some(n) => Seen::Int(clamp(n)),
            None => return Err("the step has no `expected_output_tokens`".into()),
        },
        Field::ChainOfThought => Seen::Bool(step.needs_chain_of_thought),
        Field::Json => Seen::Bool(step.output_must_be_json),
        Field::Untrusted => Seen::Bool(step.untrusted_input),
    })
}

#[inline]
fn compare(op: Op, a: &Seen<'_>, b: &Seen<'_>) -> Result<bool, String> {
    Ok(match (a, b) {
        (Seen::Int(x), Seen::Int(y)) => op.holds(x, y),
        // An integer meeting a float compares as a float, as in the engine.
        (Seen::Int(x), Seen::Float(y)) => float_holds(op, *x as FLOAT, *y),
        (Seen::Float(x), Seen::Int(y)) => float_holds(op, *x, *y as FLOAT),
        (Seen::Float(x), Seen::Float(y)) => float_holds(op, *x, *y),
        (Seen::Str(x), Seen::Str(y)) => op.holds(x, y),
        (Seen::Bool(x), Seen::Bool(y)) => op.holds(x, y),
        _ => return Err(mixed(op, a, b)),
    })
}

/// A comparison where a float takes part, with the engine's meaning: not IEEE comparison but
/// the difference relative to the larger magnitude (1 when either side is 0) against
/// `FLOAT::EPSILON`, so values within a relative epsilon are equal, and a NaN beside a 0
/// compares as equal to it.
#[inline]
fn float_holds(op: Op, x: FLOAT, y: FLOAT) -> bool {
    let scale = if x * y == 0.0 {
        1.0
    } else {
        x.abs().max(y.abs())
    };
    if scale == 0.0 {
        return matches!(op, Op::Eq | Op::Le | Op::Ge);
    }
    match op {
        Op::Eq => (x - y).abs() / scale <= FLOAT::EPSILON,
        Op::Ne => (x - y).abs() / scale > FLOAT::EPSILON,
        Op::Gt => (x - y) / scale > FLOAT::EPSILON,
        Op::Ge => (x - y) / scale > -FLOAT::EPSILON,
        Op::Lt => (y - x) / scale > FLOAT::EPSILON,
        Op::Le => (y - x) / scale > -FLOAT::EPSILON,
    }
}

#[cold]
fn missing_tag(k: &str) -> String {
    format!("the step has no tag `{k}` (test for it first with `\"{k}\" in step.tags`)")
}

#[cold]
fn mixed(op: Op, a: &Seen<'_>, b: &Seen<'_>) -> String {
    format!(
        "cannot compare a {} with a {} (`{}`): values of different types never compare",
        a.kind(),
        b.kind(),
        op.symbol()
    )
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use crate::compile::expr::{test_expr, CompiledExpr};
    use crate::step::{Step, TagValue};

    const TAGS: [&str; 3] = ["v", "j", "vip"];
    const OPS: [&str; 6] = ["==", "!=", "<", "<=", ">", ">="];

    /// A constant as written: numbers near the values steps carry, strings, bools.
    fn constant() -> impl Strategy<Value = String> {
        prop_oneof![
            prop_oneof![
                Just(0i64),
                Just(5),
                Just(1_000_000),
                Just(-3),
                Just(1 << 53)
            ]
            .prop_map(|n| n.to_string()),
            prop_oneof![Just(2.5f64), Just(1_000_000.0), Just(-0.5), Just(5.0)]
                .prop_map(|x| format!("{x:?}")),
            prop_oneof![Just("\"EU\""), Just("\"reason\""), Just("\"\"")].prop_map(String::from),
            prop_oneof![Just("true"), Just("false")].prop_map(String::from),
        ]
    }

    /// A step value as written.
    fn value() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("step.role".to_string()),
            Just("step.input_tokens".to_string()),
            Just("step.dependent_tool_calls".to_string()),
            Just("step.expected_output_tokens".to_string()),
            Just("step.untrusted_input".to_string()),
            proptest::sample::select(&TAGS[..]).prop_map(|k| format!("step.tags.{k}")),
        ]
    }

    /// One `&&` term: a comparison either way round, an `in` test or a bare flag; and
    /// whether it has a native form (strings and bools are not ordered natively).
    fn term() -> impl Strategy<Value = (String, bool)> {
        prop_oneof![
            4 => (value(), proptest::sample::select(&OPS[..]), constant(), any::<bool>())
                .prop_map(|(v, op, c, flip)| {
                    let ordered = !matches!(op, "==" | "!=");
                    let native = !(ordered && (c.starts_with('"') || c.starts_with(['t', 'f'])));
                    let text = if flip { format!("{c} {op} {v}") } else { format!("{v} {op} {c}") };
                    (text, native)
                }),
            2 => proptest::sample::select(&TAGS[..])
                .prop_map(|k| (format!("\"{k}\" in step.tags"), true)),
            1 => Just(("step.needs_chain_of_thought".to_string(), true)),
        ]
    }

    fn expression() -> impl Strategy<Value = (String, bool)> {
        proptest::collection::vec(term(), 1..4).prop_map(|t| {
            let native = t.iter().all(|(_, n)| *n);
            let text: Vec<String> = t.into_iter().map(|(t, _)| t).collect();
            (text.join(" && "), native)
        })
    }

    fn tag_value() -> impl Strategy<Value = Option<TagValue>> {
        prop_oneof![
            Just(None),
            prop_oneof![
                Just(5.0),
                Just(2.5),
                Just(1_000_000.0),
                Just(2_500_000.0),
                Just(9.1e15),
                Just(-3.0),
                Just((1u64 << 53) as f64),
                Just(f64::NAN),
                Just(1_000_000.000_000_1),
                Just(2.500_000_000_000_001),
                Just(f64::INFINITY),
                Just(0.0),
                Just(-0.0),
            ]
            .prop_map(|n| Some(TagValue::Num(n))),
            prop_oneof![Just("EU"), Just("US"), Just("")]
                .prop_map(|s| Some(TagValue::Str(s.into()))),
            any::<bool>().prop_map(|b| Some(TagValue::Bool(b))),
        ]
    }

    fn step() -> impl Strategy<Value = (Step, u64)> {
        (
            prop_oneof![Just("reason"), Just("format"), Just("")],
            prop_oneof![Just(0u64), Just(5), Just(1_000_000), Just(u64::MAX)],
            0..12u64,
            proptest::option::of(prop_oneof![Just(0u64), Just(5), Just(1_000_001)]),
            any::<(bool, bool)>(),
            proptest::collection::vec(tag_value(), 3),
        )
            .prop_map(|(role, tokens, dep, out, (cot, untrusted), tags)| {
                let mut s = Step::new(role)
                    .input_tokens(tokens)
                    .dependent_tool_calls(dep)
                    .needs_chain_of_thought(cot)
                    .untrusted_input(untrusted);
                s.expected_output_tokens = out;
                for (k, v) in TAGS.iter().zip(tags) {
                    if let Some(v) = v {
                        s.tags.insert(k.to_string(), v);
                    }
                }
                (s, tokens)
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(10000))]

        /// The native form gives what the engine gives: the same bool, or the same error
        /// (a missing tag or field, a comparison of different types), on every step.
        #[test]
        fn the_native_form_evaluates_as_the_engine_does((text, native) in expression(), (s, tokens) in step()) {
            let e = CompiledExpr::compile(&test_expr(&text)).unwrap();
            prop_assert_eq!(e.is_lowered(), native, "{}", text);
            prop_assert_eq!(e.eval(&s, tokens), e.eval_interpreted(&s, tokens), "{} on {}", text, s);
        }
    }

    /// A presence test right before a number comparison of the same tag is folded into it;
    /// any other pairing stays two terms.
    #[test]
    fn a_presence_test_folds_into_the_comparison_it_guards() {
        let terms = |text: &str| {
            let mut scope = rhai::Scope::new();
            scope.push("step", ());
            let ast = crate::compile::expr::engine()
                .compile_expression_with_scope(&scope, text)
                .unwrap();
            super::lower(&ast).unwrap().terms.len()
        };
        assert_eq!(terms(r#""v" in step.tags && step.tags.v > 3"#), 1);
        assert_eq!(
            terms(r#""v" in step.tags && 3 < step.tags.v && step.role == "r""#),
            2
        );
        assert_eq!(terms(r#""v" in step.tags && step.tags.w > 3"#), 2);
        assert_eq!(terms(r#"step.tags.v > 3 && "v" in step.tags"#), 2);
        assert_eq!(terms(r#""v" in step.tags && step.tags.v == "x""#), 2);
    }

    #[test]
    fn only_comparisons_joined_by_and_are_lowered() {
        for text in [
            r#""contract_value_usd" in step.tags && step.tags.contract_value_usd > 1000000"#,
            "step.input_tokens > 5000 && step.role == \"summarize\"",
            "(step.untrusted_input) && (5 < step.dependent_tool_calls)",
            "step.tags.j != \"EU\"",
        ] {
            assert!(
                CompiledExpr::compile(&test_expr(text))
                    .unwrap()
                    .is_lowered(),
                "{text}"
            );
        }
        for text in [
            "step.input_tokens > 5000 || step.role == \"summarize\"",
            "!(step.input_tokens > 5000)",
            "step.input_tokens + 1 > 5000",
            "step.tags[\"j\"] == \"EU\"",
            "step.role < \"m\"",
            "step.tags.vip",
            "step.role.len() > 3",
            "step.dependent_tool_calls + 1",
            "step.input_tokens > 9007199254740993",
            "true",
        ] {
            assert!(
                !CompiledExpr::compile(&test_expr(text))
                    .unwrap()
                    .is_lowered(),
                "{text}"
            );
        }
    }
}
