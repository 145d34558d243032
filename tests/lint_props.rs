//! Property test of the lint analysis (`switchyard::lint::analysis`) on random policies:
//! every rule it calls unreachable never wins a random step, and its example step is one the
//! rule matches that an earlier rule takes; every rule it does not call unreachable has a step
//! that reaches it (the analysis's own, checked by routing it) whenever the rule and the rules
//! before it have no expression; every `guard-rejects` and `untrusted-input-unguarded` example
//! is rejected by that guard, or ends at that tier with untrusted input, when routed; and
//! removing a rule called `rule-without-effect` changes no decision on random steps.
//!
//! The policy generator is adapted from tests/props.rs: TOML text over small pools of roles,
//! tags, values and breakpoints, so random steps from the same pools hit the boundaries.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

use proptest::prelude::*;
use proptest::sample::{select, subsequence};
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use switchyard::lint::analysis::{self, Analysis};
use switchyard::router::CheckKind;
use switchyard::{CompiledPolicy, PolicySet, RouteError, Step, TagValue};

// ---- pools ---------------------------------------------------------------------------------

/// More than the sixteen or so roles a role index scans, so both lookups are exercised.
const ROLES: [&str; 16] = [
    "format",
    "extract",
    "summarize",
    "plan",
    "reason",
    "classify",
    "edit",
    "tool_call",
    "compare",
    "review",
    "translate",
    "search",
    "draft",
    "check",
    "label",
    "route",
];
/// Roles no generated condition names.
const OUTSIDE_ROLES: [&str; 3] = ["other", "Format", "reason2"];
const CAPS: [&str; 4] = ["json_mode", "long_context", "injection_tested", "vision"];
/// Enough tags that a policy can have more columns than a step's classes keep inline.
const TAGS: [&str; 12] = [
    "jurisdiction",
    "value_usd",
    "vip",
    "lang",
    "score",
    "region",
    "priority",
    "pages",
    "urgent",
    "origin",
    "risk",
    "seats",
];
/// Tag names for wide policies: enough that a policy can have more than 64 columns.
fn wide_tags() -> &'static [&'static str] {
    static WIDE: OnceLock<Vec<&'static str>> = OnceLock::new();
    WIDE.get_or_init(|| {
        (0..80)
            .map(|i| &*Box::leak(format!("w{i}").into_boxed_str()))
            .collect()
    })
}

/// The values a generated policy and its steps draw from.
#[derive(Debug, Clone, Copy)]
struct Pools {
    nums: &'static [f64],
    tags: &'static [&'static str],
}

impl Pools {
    fn wide(self) -> bool {
        self.tags.len() > TAGS.len()
    }
}

const STRS: [&str; 4] = ["EU", "UK", "US", "x"];
/// Tag numbers (bounds and values), all small enough to be exact in an f64 with room around.
const NUMS: [f64; 10] = [-2.5, -1.0, 0.0, 0.5, 1.0, 2.5, 10.0, 999.5, 1000.0, 1e6];
/// Numbers beyond 2^53, where `x + 1.0 == x`.
const BIG_NUMS: [f64; 8] = [-1e17, -1e16, -1.0, 0.0, 2.5, 1e16, 2e16, 1e17];
const TOKEN_POINTS: [u64; 12] = [0, 1, 2, 5, 8, 100, 1000, 4000, 8000, 30000, 30001, 60000];
const DEP_POINTS: [u64; 8] = [0, 1, 2, 3, 5, 8, 10, 20];

// ---- the generated policy ------------------------------------------------------------------

#[derive(Debug, Clone, Copy)]
enum Cmp {
    Gt,
    Ge,
    Lt,
    Le,
    Eq,
}

impl Cmp {
    fn op(self) -> &'static str {
        match self {
            Cmp::Gt => ">",
            Cmp::Ge => ">=",
            Cmp::Lt => "<",
            Cmp::Le => "<=",
            Cmp::Eq => "==",
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Flag {
    ChainOfThought,
    Json,
    Untrusted,
}

impl Flag {
    fn name(self) -> &'static str {
        match self {
            Flag::ChainOfThought => "needs_chain_of_thought",
            Flag::Json => "output_must_be_json",
            Flag::Untrusted => "untrusted_input",
        }
    }

    fn of(self, s: &Step) -> bool {
        match self {
            Flag::ChainOfThought => s.needs_chain_of_thought,
            Flag::Json => s.output_must_be_json,
            Flag::Untrusted => s.untrusted_input,
        }
    }
}

/// An expression from the grammar this file can evaluate.
#[derive(Debug, Clone)]
enum Ex {
    /// `step.input_tokens OP N`
    Tokens(Cmp, u64),
    /// `step.dependent_tool_calls OP N`
    Dep(Cmp, u64),
    /// `step.role == "r"`
    Role(&'static str),
    /// `step.FLAG`
    Flag(Flag),
    /// `"k" in step.tags`
    Has(&'static str),
    /// `step.tags.k == "v"`: an error when the tag is missing; false for another type.
    TagStr(&'static str, &'static str),
    /// `step.tags.k OP x`: an error when missing; false when the tag is not a number.
    TagNum(&'static str, Cmp, f64),
    /// `step.tags.k == true`
    TagTrue(&'static str),
    /// `step.dependent_tool_calls + 1`: not a bool, so an error wherever it is evaluated.
    NotBool,
    Not(Box<Ex>),
    And(Box<Ex>, Box<Ex>),
    Or(Box<Ex>, Box<Ex>),
}

/// A number as the generator writes it: as an integer (when whole) or as a float.
#[derive(Debug, Clone, Copy)]
struct Num {
    value: f64,
    as_int: bool,
}

#[derive(Debug, Clone)]
enum Scalar {
    Str(&'static str),
    Num(Num),
    Bool(bool),
}

#[derive(Debug, Clone)]
enum TagCond {
    One(Scalar),
    List(Vec<Scalar>),
    Range(FloatRange),
}

#[derive(Debug, Clone, Default)]
struct FloatRange {
    gt: Option<f64>,
    ge: Option<f64>,
    lt: Option<f64>,
    le: Option<f64>,
}

#[derive(Debug, Clone, Default)]
struct IntRange {
    gt: Option<i64>,
    ge: Option<i64>,
    lt: Option<i64>,
    le: Option<i64>,
}

#[derive(Debug, Clone, Default)]
struct When {
    /// `false`: no `when` key at all.
    written: bool,
    roles: Option<Vec<&'static str>>,
    /// Write a one-role list as a plain string.
    role_as_string: bool,
    input_tokens: Option<IntRange>,
    dependent_tool_calls: Option<IntRange>,
    flags: Vec<(Flag, bool)>,
    tags: BTreeMap<&'static str, TagCond>,
    expr: Option<Ex>,
}

#[derive(Debug, Clone)]
struct GenRule {
    when: When,
    tier: usize,
}

#[derive(Debug, Clone)]
struct GenGuard {
    when: When,
    require: Vec<&'static str>,
    escalate_to: Option<usize>,
}

#[derive(Debug, Clone, Copy)]
enum OnError {
    Unset,
    Skip,
    Tier(usize),
}

#[derive(Debug, Clone)]
struct GenPolicy {
    /// Each model's capabilities.
    models: Vec<Vec<&'static str>>,
    /// Each tier's model.
    tiers: Vec<usize>,
    default_tier: usize,
    on_error: OnError,
    rules: Vec<GenRule>,
    guards: Vec<GenGuard>,
}

// ---- strategies ----------------------------------------------------------------------------

fn cmp() -> impl Strategy<Value = Cmp> {
    select(vec![Cmp::Gt, Cmp::Ge, Cmp::Lt, Cmp::Le, Cmp::Eq])
}

fn flag() -> impl Strategy<Value = Flag> {
    select(vec![Flag::ChainOfThought, Flag::Json, Flag::Untrusted])
}

fn expr(pools: Pools) -> impl Strategy<Value = Ex> {
    let Pools { nums, tags } = pools;
    let leaf = prop_oneof![
        3 => (cmp(), select(&TOKEN_POINTS[..])).prop_map(|(c, n)| Ex::Tokens(c, n)),
        1 => (cmp(), select(&DEP_POINTS[..])).prop_map(|(c, n)| Ex::Dep(c, n)),
        2 => select(&ROLES[..]).prop_map(Ex::Role),
        1 => flag().prop_map(Ex::Flag),
        2 => select(tags).prop_map(Ex::Has),
        2 => (select(tags), select(&STRS[..])).prop_map(|(k, v)| Ex::TagStr(k, v)),
        2 => (select(tags), cmp(), select(nums)).prop_map(|(k, c, x)| Ex::TagNum(k, c, x)),
        1 => select(tags).prop_map(Ex::TagTrue),
        1 => Just(Ex::NotBool),
    ];
    leaf.prop_recursive(3, 8, 2, |inner| {
        prop_oneof![
            1 => inner.clone().prop_map(|e| Ex::Not(Box::new(e))),
            2 => (inner.clone(), inner.clone()).prop_map(|(a, b)| Ex::And(Box::new(a), Box::new(b))),
            2 => (inner.clone(), inner).prop_map(|(a, b)| Ex::Or(Box::new(a), Box::new(b))),
        ]
    })
}

fn num(nums: &'static [f64]) -> impl Strategy<Value = Num> {
    (select(nums), any::<bool>()).prop_map(|(value, as_int)| Num {
        value,
        as_int: as_int && value.fract() == 0.0,
    })
}

fn scalar(nums: &'static [f64]) -> impl Strategy<Value = Scalar> {
    prop_oneof![
        2 => select(&STRS[..]).prop_map(Scalar::Str),
        2 => num(nums).prop_map(Scalar::Num),
        1 => any::<bool>().prop_map(Scalar::Bool),
    ]
}

fn float_range(nums: &'static [f64]) -> impl Strategy<Value = FloatRange> {
    let bound = move || proptest::option::weighted(0.4, select(nums));
    (bound(), bound(), bound(), bound()).prop_map(|(gt, ge, lt, le)| {
        let mut r = FloatRange { gt, ge, lt, le };
        if r.gt.is_none() && r.ge.is_none() && r.lt.is_none() && r.le.is_none() {
            r.ge = Some(0.0);
        }
        if float_range_is_empty(&r) {
            // A range that holds for no number is refused at load; keep the lower bounds.
            r.lt = None;
            r.le = None;
        }
        r
    })
}

/// Whether no number satisfies every bound.
fn float_range_is_empty(r: &FloatRange) -> bool {
    let lower = [(r.gt, true), (r.ge, false)]
        .into_iter()
        .filter_map(|(b, strict)| b.map(|v| (v, strict)))
        .reduce(|a, b| {
            if b.0 > a.0 || (b.0 == a.0 && b.1) {
                b
            } else {
                a
            }
        });
    let upper = [(r.lt, true), (r.le, false)]
        .into_iter()
        .filter_map(|(b, strict)| b.map(|v| (v, strict)))
        .reduce(|a, b| {
            if b.0 < a.0 || (b.0 == a.0 && b.1) {
                b
            } else {
                a
            }
        });
    match (lower, upper) {
        (Some((lo, ls)), Some((hi, hs))) => lo > hi || (lo == hi && (ls || hs)),
        _ => false,
    }
}

fn tag_cond(nums: &'static [f64]) -> impl Strategy<Value = TagCond> {
    prop_oneof![
        3 => scalar(nums).prop_map(TagCond::One),
        2 => proptest::collection::vec(scalar(nums), 1..4).prop_map(TagCond::List),
        3 => float_range(nums).prop_map(TagCond::Range),
    ]
}

fn int_range(points: &'static [u64]) -> impl Strategy<Value = IntRange> {
    // -1 is a bound a user may write (`gt = -1` holds for every count).
    let values: Vec<i64> = std::iter::once(-1)
        .chain(points.iter().map(|&p| p as i64))
        .collect();
    let bound = move || proptest::option::weighted(0.4, select(values.clone()));
    (bound(), bound(), bound(), bound()).prop_map(|(gt, ge, lt, le)| {
        let mut r = IntRange { gt, ge, lt, le };
        if r.gt.is_none() && r.ge.is_none() && r.lt.is_none() && r.le.is_none() {
            r.ge = Some(0);
        }
        // The counts are >= 0: an upper bound below 0 (or `lt = 0`) holds for none.
        let lo = [r.gt.map(|v| v + 1), r.ge, Some(0)]
            .into_iter()
            .flatten()
            .max()
            .unwrap_or(0);
        let hi = [r.lt.map(|v| v - 1), r.le]
            .into_iter()
            .flatten()
            .min()
            .unwrap_or(i64::MAX);
        if lo > hi {
            r.lt = None;
            r.le = None;
            if r.gt.is_none() && r.ge.is_none() {
                r.le = Some(0);
            }
        }
        r
    })
}

/// A `when` whose keys are each present with probability `density`.
fn when(density: f64, pools: Pools) -> impl Strategy<Value = When> {
    let max_tags = if pools.wide() {
        2 + (8.0 * density) as usize
    } else {
        1 + (4.0 * density) as usize
    };
    let p = move || density;
    (
        // A rule with no `when` matches everything; dense policies never have one, so
        // their steps reach deep into the rule list.
        proptest::bool::weighted(if density > 0.5 { 1.0 } else { 0.9 }),
        proptest::option::weighted(p(), subsequence(&ROLES[..], 1..4)),
        any::<bool>(),
        proptest::option::weighted(p() * 0.7, int_range(&TOKEN_POINTS)),
        proptest::option::weighted(p() * 0.4, int_range(&DEP_POINTS)),
        proptest::collection::vec(
            (proptest::bool::weighted(p() * 0.4), flag(), any::<bool>()),
            0..3,
        ),
        proptest::collection::btree_map(select(pools.tags), tag_cond(pools.nums), 0..max_tags),
        proptest::option::weighted(0.25, expr(pools)),
    )
        .prop_map(
            |(
                written,
                roles,
                role_as_string,
                input_tokens,
                dependent_tool_calls,
                flags,
                tags,
                expr,
            )| {
                if !written {
                    return When::default();
                }
                let mut seen = Vec::new();
                let flags = flags
                    .into_iter()
                    .filter(|(on, f, _)| {
                        let fresh = *on && !seen.iter().any(|g: &&str| *g == f.name());
                        seen.push(f.name());
                        fresh
                    })
                    .map(|(_, f, v)| (f, v))
                    .collect();
                When {
                    written,
                    roles,
                    role_as_string,
                    input_tokens,
                    dependent_tool_calls,
                    flags,
                    tags,
                    expr,
                }
            },
        )
}

/// A policy; `size` fixes the number of rules (for timing), else it is drawn.
fn policy(pools: Pools, size: Option<usize>) -> impl Strategy<Value = GenPolicy> {
    // How often a condition key is present: sparse rules match most steps, dense ones few,
    // which is how a step gets past the first 64 rows now and then.
    let density = select(vec![0.15, 0.45, 0.85]);
    density.prop_flat_map(move |d| {
        let rule = (when(d, pools), any::<usize>())
            .prop_map(|(when, tier)| GenRule { when, tier })
            .boxed();
        let guard = (
            when(d * 0.6, pools),
            subsequence(&CAPS[..], 0..3),
            proptest::option::weighted(0.75, any::<usize>()),
        )
            .prop_map(|(when, require, escalate_to)| GenGuard {
                when,
                require,
                escalate_to,
            });
        let on_error = prop_oneof![
            Just(OnError::Unset),
            Just(OnError::Skip),
            any::<usize>().prop_map(OnError::Tier),
        ];
        (
            proptest::collection::vec(subsequence(&CAPS[..], 0..=4), 1..=4),
            proptest::collection::vec(any::<usize>(), 1..=4),
            any::<usize>(),
            on_error,
            // Mostly short lists or lists longer than 64, so bitsets of two words are common.
            match size {
                Some(n) => proptest::collection::vec(rule, n..=n).boxed(),
                None => prop_oneof![
                    3 => proptest::collection::vec(rule.clone(), 0..=12),
                    1 => proptest::collection::vec(rule.clone(), 13..60),
                    1 => proptest::collection::vec(rule, 60..=70),
                ]
                .boxed(),
            },
            proptest::collection::vec(guard, 0..=4),
        )
            .prop_map(
                |(models, tiers, default_tier, on_error, mut rules, mut guards)| {
                    // Indices are drawn freely and folded into range here so they shrink well.
                    let nt = tiers.len();
                    let tiers: Vec<usize> = tiers.into_iter().map(|m| m % models.len()).collect();
                    for r in &mut rules {
                        r.tier %= nt;
                    }
                    for g in &mut guards {
                        g.escalate_to = g.escalate_to.map(|t| t % nt);
                    }
                    GenPolicy {
                        models,
                        tiers,
                        default_tier: default_tier % nt,
                        on_error: match on_error {
                            OnError::Tier(t) => OnError::Tier(t % nt),
                            other => other,
                        },
                        rules,
                        guards,
                    }
                },
            )
    })
}

fn step(pools: Pools) -> impl Strategy<Value = Step> {
    let Pools { nums, tags } = pools;
    let role = prop_oneof![
        6 => select(&ROLES[..]),
        1 => select(&OUTSIDE_ROLES[..]),
    ];
    let near = |points: &'static [u64]| {
        (select(points), -1i64..=1).prop_map(|(p, d)| p.saturating_add_signed(d))
    };
    let tokens = prop_oneof![
        6 => near(&TOKEN_POINTS).prop_map(Some),
        2 => (0u64..100_000).prop_map(Some),
        1 => select(vec![i64::MAX as u64, i64::MAX as u64 + 1, u64::MAX]).prop_map(Some),
        // No count: the prompt is counted (the generated policies use the approx tokenizer).
        1 => Just(None),
    ];
    let dep = prop_oneof![4 => near(&DEP_POINTS), 1 => 0u64..100];
    let tag_value = prop_oneof![
        3 => prop_oneof![select(&STRS[..]), Just("other")].prop_map(TagValue::from),
        3 => (select(nums), select(vec![-0.5, 0.0, 0.0, 0.0, 0.5]))
            .prop_map(|(n, d)| TagValue::Num(n + d)),
        2 => any::<bool>().prop_map(TagValue::Bool),
    ];
    (
        role,
        tokens,
        0usize..420,
        dep,
        any::<[bool; 3]>(),
        proptest::collection::btree_map(
            select(tags),
            tag_value,
            0..if pools.wide() { 40 } else { 7 },
        ),
    )
        .prop_map(|(role, tokens, prompt_chars, dep, flags, tags)| {
            let mut s = Step::new(role);
            match tokens {
                Some(n) => s.input_tokens = Some(n),
                // Mixed widths, so counting bytes instead of characters shows.
                None => s.prompt = Some("ab é ".chars().cycle().take(prompt_chars).collect()),
            }
            s.dependent_tool_calls = dep;
            s.needs_chain_of_thought = flags[0];
            s.output_must_be_json = flags[1];
            s.untrusted_input = flags[2];
            s.tags = tags.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
            s
        })
}

// ---- TOML text -----------------------------------------------------------------------------

fn toml_num(n: Num) -> String {
    if n.as_int {
        format!("{}", n.value as i64)
    } else {
        format!("{:?}", n.value)
    }
}

fn toml_scalar(s: &Scalar) -> String {
    match s {
        Scalar::Str(v) => format!("\"{v}\""),
        Scalar::Num(n) => toml_num(*n),
        Scalar::Bool(b) => b.to_string(),
    }
}

fn bounds<T: std::fmt::Debug>(parts: [(&str, Option<T>); 4]) -> String {
    let written: Vec<String> = parts
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| format!("{k} = {v:?}")))
        .collect();
    format!("{{ {} }}", written.join(", "))
}

fn rhai(e: &Ex) -> String {
    match e {
        Ex::Tokens(c, n) => format!("step.input_tokens {} {n}", c.op()),
        Ex::Dep(c, n) => format!("step.dependent_tool_calls {} {n}", c.op()),
        Ex::Role(r) => format!("step.role == \"{r}\""),
        Ex::Flag(f) => format!("step.{}", f.name()),
        Ex::Has(k) => format!("\"{k}\" in step.tags"),
        Ex::TagStr(k, v) => format!("step.tags.{k} == \"{v}\""),
        Ex::TagNum(k, c, x) => format!("step.tags.{k} {} {}", c.op(), rhai_float(*x)),
        Ex::TagTrue(k) => format!("step.tags.{k} == true"),
        Ex::NotBool => "step.dependent_tool_calls + 1".into(),
        Ex::Not(a) => format!("!({})", rhai(a)),
        Ex::And(a, b) => format!("({}) && ({})", rhai(a), rhai(b)),
        Ex::Or(a, b) => format!("({}) || ({})", rhai(a), rhai(b)),
    }
}

/// A float literal Rhai reads: `1e16` is written `1.0e16`.
fn rhai_float(x: f64) -> String {
    let s = format!("{x:?}");
    if s.contains('e') && !s.contains('.') {
        s.replacen('e', ".0e", 1)
    } else {
        s
    }
}

fn toml_when(w: &When) -> Option<String> {
    if !w.written {
        return None;
    }
    let mut keys = Vec::new();
    if let Some(roles) = &w.roles {
        if roles.len() == 1 && w.role_as_string {
            keys.push(format!("role = \"{}\"", roles[0]));
        } else {
            let q: Vec<String> = roles.iter().map(|r| format!("\"{r}\"")).collect();
            keys.push(format!("role = [{}]", q.join(", ")));
        }
    }
    for (name, r) in [
        ("input_tokens", &w.input_tokens),
        ("dependent_tool_calls", &w.dependent_tool_calls),
    ] {
        if let Some(r) = r {
            keys.push(format!(
                "{name} = {}",
                bounds([("gt", r.gt), ("ge", r.ge), ("lt", r.lt), ("le", r.le)])
            ));
        }
    }
    for (f, v) in &w.flags {
        keys.push(format!("{} = {v}", f.name()));
    }
    if !w.tags.is_empty() {
        let tags: Vec<String> = w
            .tags
            .iter()
            .map(|(k, c)| {
                let v = match c {
                    TagCond::One(s) => toml_scalar(s),
                    TagCond::List(l) => {
                        let items: Vec<String> = l.iter().map(toml_scalar).collect();
                        format!("[{}]", items.join(", "))
                    }
                    TagCond::Range(r) => {
                        bounds([("gt", r.gt), ("ge", r.ge), ("lt", r.lt), ("le", r.le)])
                    }
                };
                format!("{k} = {v}")
            })
            .collect();
        keys.push(format!("tags = {{ {} }}", tags.join(", ")));
    }
    if let Some(e) = &w.expr {
        // A literal string: the expression holds double quotes but never a single one.
        keys.push(format!("expr = '{}'", rhai(e)));
    }
    Some(format!("when = {{ {} }}", keys.join(", ")))
}

fn toml_text(p: &GenPolicy) -> String {
    let mut s = String::new();
    writeln!(
        s,
        "[policy]\nname = \"gen\"\ndefault_tier = \"t{}\"",
        p.default_tier
    )
    .unwrap();
    match p.on_error {
        OnError::Unset => {}
        OnError::Skip => writeln!(s, "on_expression_error = \"skip\"").unwrap(),
        OnError::Tier(t) => writeln!(s, "on_expression_error = \"t{t}\"").unwrap(),
    }
    writeln!(s, "tokenizer = \"approx\"\n").unwrap();
    for (i, caps) in p.models.iter().enumerate() {
        let q: Vec<String> = caps.iter().map(|c| format!("\"{c}\"")).collect();
        writeln!(
            s,
            "[models.m{i}]\nprovider = \"mock\"\ninput_usd_per_mtok = {}.5\noutput_usd_per_mtok = 3.0\ncapabilities = [{}]\n",
            i + 1,
            q.join(", ")
        )
        .unwrap();
    }
    writeln!(s, "[tiers]").unwrap();
    for (i, m) in p.tiers.iter().enumerate() {
        writeln!(s, "t{i} = \"m{m}\"").unwrap();
    }
    for (i, r) in p.rules.iter().enumerate() {
        writeln!(s, "\n[[rules]]\nname = \"r{i}\"").unwrap();
        if let Some(w) = toml_when(&r.when) {
            writeln!(s, "{w}").unwrap();
        }
        writeln!(s, "tier = \"t{}\"", r.tier).unwrap();
    }
    for (i, g) in p.guards.iter().enumerate() {
        writeln!(s, "\n[[guards]]\nname = \"g{i}\"").unwrap();
        if let Some(w) = toml_when(&g.when) {
            writeln!(s, "{w}").unwrap();
        }
        let q: Vec<String> = g.require.iter().map(|c| format!("\"{c}\"")).collect();
        writeln!(s, "require = [{}]", q.join(", ")).unwrap();
        if let Some(t) = g.escalate_to {
            writeln!(s, "escalate_to = \"t{t}\"").unwrap();
        }
    }
    s
}

// ---- static conditions, from the contract ------------------------------------------------

/// `ceil(chars / 4 × 1.05)`, in exact integer arithmetic.
fn approx_tokens(text: &str) -> u64 {
    let chars = text.chars().count() as u64;
    (chars * 105).div_ceil(400)
}

fn tokens_of(s: &Step) -> u64 {
    s.input_tokens
        .unwrap_or_else(|| s.prompt.as_deref().map_or(0, approx_tokens))
}

fn int_range_holds(r: &IntRange, v: u64) -> bool {
    let v = i128::from(v);
    r.gt.is_none_or(|b| v > i128::from(b))
        && r.ge.is_none_or(|b| v >= i128::from(b))
        && r.lt.is_none_or(|b| v < i128::from(b))
        && r.le.is_none_or(|b| v <= i128::from(b))
}

fn scalar_matches(want: &Scalar, have: &TagValue) -> bool {
    match (want, have) {
        (Scalar::Str(a), TagValue::Str(b)) => a == b,
        (Scalar::Num(a), TagValue::Num(b)) => a.value == *b,
        (Scalar::Bool(a), TagValue::Bool(b)) => a == b,
        _ => false,
    }
}

fn tag_holds(c: &TagCond, have: Option<&TagValue>) -> bool {
    let Some(have) = have else { return false };
    match c {
        TagCond::One(s) => scalar_matches(s, have),
        TagCond::List(l) => l.iter().any(|s| scalar_matches(s, have)),
        TagCond::Range(r) => match have {
            TagValue::Num(v) => {
                r.gt.is_none_or(|b| *v > b)
                    && r.ge.is_none_or(|b| *v >= b)
                    && r.lt.is_none_or(|b| *v < b)
                    && r.le.is_none_or(|b| *v <= b)
            }
            _ => false,
        },
    }
}

/// Whether every static key of a `when` holds (the expression is not looked at).
fn static_holds(w: &When, s: &Step, tokens: u64) -> bool {
    w.roles
        .as_ref()
        .is_none_or(|rs| rs.iter().any(|r| *r == s.role))
        && w.input_tokens
            .as_ref()
            .is_none_or(|r| int_range_holds(r, tokens))
        && w.dependent_tool_calls
            .as_ref()
            .is_none_or(|r| int_range_holds(r, s.dependent_tool_calls))
        && w.flags.iter().all(|(f, v)| f.of(s) == *v)
        && w.tags.iter().all(|(k, c)| tag_holds(c, s.tags.get(*k)))
}

// ---- the properties ------------------------------------------------------------------------

/// Every name the analysis may use.
const KNOWN: [&str; 6] = [
    "unreachable-rule",
    "rule-without-effect",
    "guard-rejects",
    "untrusted-input-unguarded",
    "expression-fails-open",
    "partial-overlap",
];

/// Small enough that the debug build stays quick; most generated policies fit whole.
const BUDGET: u64 = 60_000;

/// Counts of what the cases reached, to show the properties are not vacuous.
#[derive(Default)]
struct Coverage {
    cases: AtomicU64,
    partial: AtomicU64,
    unreachable: AtomicU64,
    reached: AtomicU64,
    reached_past_expr: AtomicU64,
    without_effect: AtomicU64,
    rejects: AtomicU64,
    untrusted: AtomicU64,
    fails_open: AtomicU64,
    overlap: AtomicU64,
}

fn bump(c: &AtomicU64) {
    c.fetch_add(1, Ordering::Relaxed);
}

fn rule_index(name: &str) -> usize {
    name.trim_start_matches('r')
        .parse()
        .expect("generated rule names are r<i>")
}

/// The rule that decided a step (`None`: the default tier), even when a guard then rejected
/// it: from the explain trace, whose rule checks end at the winner.
fn winner(set: &PolicySet, s: &Step) -> Result<Option<usize>, TestCaseError> {
    let ex = set.explain(s);
    if let Err(e @ (RouteError::InvalidStep(_) | RouteError::UnknownWorkload { .. })) = &ex.result {
        return Err(TestCaseError::fail(format!("step {s} not routed: {e}")));
    }
    Ok(ex
        .checks
        .iter()
        .find(|c| c.kind == CheckKind::Rule && c.held)
        .map(|c| rule_index(&c.name)))
}

/// Where a step ends: a tier, or the guard that rejected it.
fn outcome(set: &PolicySet, s: &Step) -> Result<String, String> {
    match set.route(s) {
        Ok(d) => Ok(d.tier().to_string()),
        Err(RouteError::GuardRejected { guard, .. }) => Err(guard),
        Err(e) => Err(format!("unexpected: {e}")),
    }
}

fn load(p: &GenPolicy) -> Result<(String, PolicySet), TestCaseError> {
    let text = toml_text(p);
    let set = PolicySet::from_policy_text(Path::new("gen.toml"), text.as_str())
        .map_err(|e| TestCaseError::fail(format!("the policy did not load: {e}\n{text}")))?;
    Ok((text, set))
}

fn example_of(d: &switchyard::Diagnostic) -> Result<Step, TestCaseError> {
    let v = d
        .example
        .as_ref()
        .ok_or_else(|| TestCaseError::fail(format!("{} has no example", d.name)))?;
    Step::from_value(v).map_err(|e| TestCaseError::fail(format!("example {v} is no step: {e}")))
}

fn check_case(p: &GenPolicy, steps: &[Step], cov: &Coverage) -> Result<(), TestCaseError> {
    let (text, set) = load(p)?;
    let cp: &CompiledPolicy = &set.policies()[0];
    let a: Analysis = analysis::analyze(cp, BUDGET);
    bump(&cov.cases);
    if a.partial {
        bump(&cov.partial);
    }
    let pol = &cp.policy;
    let rule_at = |d: &switchyard::Diagnostic| {
        pol.rules
            .iter()
            .position(|r| Some(&r.loc.span) == d.span.as_ref())
    };
    let mut unreachable = Vec::new();
    for d in &a.diagnostics {
        prop_assert!(KNOWN.contains(&d.name), "unknown name {}", d.name);
        prop_assert!(
            d.span.is_some() && d.source.is_some(),
            "{} has no place",
            d.name
        );
        if d.example.is_some() {
            example_of(d)?;
        }
        match d.name {
            "unreachable-rule" => {
                let r = rule_at(d).expect("an unreachable-rule is at a rule");
                unreachable.push(r);
                bump(&cov.unreachable);
                // An example the rule matches, that an earlier rule decides.
                if let Some(v) = &d.example {
                    let s = Step::from_value(v).unwrap();
                    prop_assert!(
                        static_holds(&p.rules[r].when, &s, tokens_of(&s)),
                        "r{} does not match its own example {}\n{}",
                        r,
                        s,
                        text
                    );
                    let w = winner(&set, &s)?;
                    prop_assert!(
                        w.is_some_and(|w| w < r),
                        "the example {} of unreachable r{} is decided by {:?}\n{}",
                        s,
                        r,
                        w,
                        text
                    );
                }
            }
            "guard-rejects" => {
                let g = pol
                    .guards
                    .iter()
                    .position(|g| Some(&g.loc.span) == d.span.as_ref())
                    .expect("a guard-rejects is at a guard");
                let s = example_of(d)?;
                prop_assert_eq!(
                    outcome(&set, &s),
                    Err(format!("g{g}")),
                    "example {} of guard-rejects\n{}",
                    s,
                    text
                );
                bump(&cov.rejects);
            }
            "untrusted-input-unguarded" => {
                let t = pol
                    .tiers
                    .iter()
                    .position(|t| Some(&t.loc.span) == d.span.as_ref())
                    .expect("an untrusted-input-unguarded is at a tier");
                let s = example_of(d)?;
                prop_assert!(s.untrusted_input);
                prop_assert_eq!(
                    outcome(&set, &s),
                    Ok(format!("t{t}")),
                    "example {}\n{}",
                    s,
                    text
                );
                prop_assert!(!p.models[p.tiers[t]].contains(&"injection_tested"));
                bump(&cov.untrusted);
            }
            "expression-fails-open" | "partial-overlap" => {
                let r = rule_at(d).expect("at a rule");
                let s = example_of(d)?;
                prop_assert!(static_holds(&p.rules[r].when, &s, tokens_of(&s)));
                if d.name == "partial-overlap" {
                    bump(&cov.overlap);
                } else {
                    prop_assert!(p.rules[r].when.expr.is_some());
                    bump(&cov.fails_open);
                }
            }
            "rule-without-effect" => {
                prop_assert!(!a.partial, "rule-without-effect from a partial analysis");
                let r = rule_at(d).expect("at a rule");
                bump(&cov.without_effect);
                // Without the rule, every step ends where it ended with it.
                let mut fewer = p.clone();
                fewer.rules.remove(r);
                let (_, set2) = load(&fewer)?;
                let s = example_of(d)?;
                for s in steps.iter().chain(std::iter::once(&s)) {
                    prop_assert_eq!(
                        outcome(&set, s),
                        outcome(&set2, s),
                        "removing r{} (called without effect) changes step {}\n{}",
                        r,
                        s,
                        text
                    );
                }
            }
            _ => unreachable!(),
        }
    }

    // No random step is decided by a rule called unreachable.
    for s in steps {
        if let Some(w) = winner(&set, s)? {
            prop_assert!(
                !unreachable.contains(&w),
                "r{} is called unreachable but decides {}\n{}",
                w,
                s,
                text
            );
        }
    }

    // Every other rule has a step that reaches it, when expressions do not stand in the way.
    let reaching = analysis::reaching_steps(cp, BUDGET);
    for (r, found) in reaching.iter().enumerate() {
        match found {
            Some(s) => {
                prop_assert!(!unreachable.contains(&r));
                prop_assert_eq!(
                    winner(&set, s)?,
                    Some(r),
                    "the step {} said to reach r{} does not\n{}",
                    s,
                    r,
                    text
                );
                bump(&cov.reached);
                if p.rules[..=r].iter().any(|x| x.when.expr.is_some()) {
                    bump(&cov.reached_past_expr);
                }
            }
            None => {
                let plain = p.rules[..=r].iter().all(|x| x.when.expr.is_none());
                prop_assert!(
                    a.partial || unreachable.contains(&r) || !plain,
                    "r{} is not called unreachable, yet no step reaches it\n{}",
                    r,
                    text
                );
            }
        }
    }
    Ok(())
}

fn run(nums: &'static [f64], cases: u32) -> Coverage {
    let config = Config {
        cases,
        failure_persistence: None,
        max_shrink_iters: 2048,
        ..Config::default()
    };
    let cov = Coverage::default();
    let narrow = Pools { nums, tags: &TAGS };
    let wide = Pools {
        nums,
        tags: wide_tags(),
    };
    let strategy = prop_oneof![4 => Just(narrow), 1 => Just(wide)].prop_flat_map(|pools| {
        (
            policy(pools, None),
            proptest::collection::vec(step(pools), 48),
        )
    });
    let result = TestRunner::new(config).run(&strategy, |(p, steps)| check_case(&p, &steps, &cov));
    if let Err(e) = result {
        panic!("{e}");
    }
    cov
}

#[test]
fn lint_findings_hold_when_routed() {
    let cov = run(&NUMS, 160);
    let n = |c: &AtomicU64| c.load(Ordering::Relaxed);
    eprintln!(
        "cases {}, partial {}, unreachable {}, reached {} (past an expression {}), without effect {}, guard rejects {}, untrusted {}, fails open {}, overlaps {}",
        n(&cov.cases),
        n(&cov.partial),
        n(&cov.unreachable),
        n(&cov.reached),
        n(&cov.reached_past_expr),
        n(&cov.without_effect),
        n(&cov.rejects),
        n(&cov.untrusted),
        n(&cov.fails_open),
        n(&cov.overlap),
    );
    // Zero would mean the generator stopped producing the case and the property went vacuous.
    for (what, c) in [
        ("an unreachable rule", &cov.unreachable),
        ("a reached rule", &cov.reached),
        ("a rule reached past an expression", &cov.reached_past_expr),
        ("a rule without effect", &cov.without_effect),
        ("a guard rejection", &cov.rejects),
        ("untrusted input unguarded", &cov.untrusted),
        ("an expression failing open", &cov.fails_open),
        ("a partial overlap", &cov.overlap),
    ] {
        assert!(n(c) > 0, "no generated policy showed {what}");
    }
}

/// The same properties over tag numbers beyond 2^53.
#[test]
fn lint_findings_hold_with_big_tag_numbers() {
    run(&BIG_NUMS, 48);
}

/// Times the analysis of generated 50- and 500-rule policies (run in release with
/// `--ignored --nocapture`); prints the numbers, asserts nothing about time.
#[test]
#[ignore]
fn time_analysis() {
    let pools = Pools {
        nums: &NUMS,
        tags: &TAGS,
    };
    for size in [50, 500] {
        let mut runner = TestRunner::deterministic();
        let mut worst = std::time::Duration::ZERO;
        let mut total = std::time::Duration::ZERO;
        let mut partial = 0;
        let samples: u32 = std::env::var("LINT_TIME_SAMPLES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(12);
        for _ in 0..samples {
            let p = policy(pools, Some(size))
                .new_tree(&mut runner)
                .unwrap()
                .current();
            let (_, set) = load(&p).unwrap();
            let cp = &set.policies()[0];
            let t = std::time::Instant::now();
            let a = analysis::analyze(cp, analysis::DEFAULT_BUDGET);
            let el = t.elapsed();
            worst = worst.max(el);
            total += el;
            partial += usize::from(a.partial);
            eprintln!(
                "{size} rules: {:?}, cells {}, partial {}, findings {}",
                el,
                a.cells,
                a.partial,
                a.diagnostics.len()
            );
        }
        eprintln!(
            "{size} rules: mean {:?}, worst {:?}, partial {partial}/{samples}",
            total / samples,
            worst
        );
    }
}
