//! The random policies (and steps) of the property tests `props` and `lint_props`.
//!
//! Policies are generated as TOML text over small pools of roles, tags, values and token
//! breakpoints, so that random steps drawn from the same pools (and just outside them) land on
//! the boundaries where a table goes wrong. Expressions come from a small grammar that
//! `props` also evaluates, including the run-time errors Rhai raises for a missing tag.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::OnceLock;

use proptest::prelude::*;
use proptest::sample::{select, subsequence};
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use switchyard::{Step, TagValue};

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
pub const TAGS: [&str; 12] = [
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
pub struct Pools {
    pub nums: &'static [f64],
    pub tags: &'static [&'static str],
}

impl Pools {
    fn wide(self) -> bool {
        self.tags.len() > TAGS.len()
    }
}

const STRS: [&str; 4] = ["EU", "UK", "US", "x"];
/// Tag numbers (bounds and values), all small enough to be exact in an f64 with room around.
pub const NUMS: [f64; 10] = [-2.5, -1.0, 0.0, 0.5, 1.0, 2.5, 10.0, 999.5, 1000.0, 1e6];
/// Numbers beyond 2^53, where `x + 1.0 == x`.
pub const BIG_NUMS: [f64; 8] = [-1e17, -1e16, -1.0, 0.0, 2.5, 1e16, 2e16, 1e17];
const TOKEN_POINTS: [u64; 12] = [0, 1, 2, 5, 8, 100, 1000, 4000, 8000, 30000, 30001, 60000];
const DEP_POINTS: [u64; 8] = [0, 1, 2, 3, 5, 8, 10, 20];

// ---- the generated policy ------------------------------------------------------------------

#[derive(Debug, Clone, Copy)]
pub enum Cmp {
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
pub enum Flag {
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

    pub fn of(self, s: &Step) -> bool {
        match self {
            Flag::ChainOfThought => s.needs_chain_of_thought,
            Flag::Json => s.output_must_be_json,
            Flag::Untrusted => s.untrusted_input,
        }
    }
}

/// An expression from the grammar this file can evaluate.
#[derive(Debug, Clone)]
pub enum Ex {
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
    /// `step.tags.k == "v"`: an error when the tag is missing or is not a string (a
    /// comparison across types is a run-time expression error, never `false`).
    TagStr(&'static str, &'static str),
    /// `step.tags.k OP x`: an error when the tag is missing or is not a number (a run-time
    /// expression error, handled by `on_expression_error`).
    TagNum(&'static str, Cmp, f64),
    /// `step.tags.k == true`: an error when the tag is missing or is not a bool.
    TagTrue(&'static str),
    /// `step.dependent_tool_calls + 1`: not a bool, so an error wherever it is evaluated.
    NotBool,
    Not(Box<Ex>),
    And(Box<Ex>, Box<Ex>),
    Or(Box<Ex>, Box<Ex>),
}

/// A number as the generator writes it: as an integer (when whole) or as a float.
#[derive(Debug, Clone, Copy)]
pub struct Num {
    pub value: f64,
    pub as_int: bool,
}

#[derive(Debug, Clone)]
pub enum Scalar {
    Str(&'static str),
    Num(Num),
    Bool(bool),
}

#[derive(Debug, Clone)]
pub enum TagCond {
    One(Scalar),
    List(Vec<Scalar>),
    Range(FloatRange),
}

#[derive(Debug, Clone, Default)]
pub struct FloatRange {
    pub gt: Option<f64>,
    pub ge: Option<f64>,
    pub lt: Option<f64>,
    pub le: Option<f64>,
}

#[derive(Debug, Clone, Default)]
pub struct IntRange {
    pub gt: Option<i64>,
    pub ge: Option<i64>,
    pub lt: Option<i64>,
    pub le: Option<i64>,
}

#[derive(Debug, Clone, Default)]
pub struct When {
    /// `false`: no `when` key at all.
    pub written: bool,
    pub roles: Option<Vec<&'static str>>,
    /// Write a one-role list as a plain string.
    pub role_as_string: bool,
    pub input_tokens: Option<IntRange>,
    pub dependent_tool_calls: Option<IntRange>,
    pub flags: Vec<(Flag, bool)>,
    pub tags: BTreeMap<&'static str, TagCond>,
    pub expr: Option<Ex>,
}

#[derive(Debug, Clone)]
pub struct GenRule {
    pub when: When,
    pub tier: usize,
}

#[derive(Debug, Clone)]
pub struct GenGuard {
    pub when: When,
    pub require: Vec<&'static str>,
    pub escalate_to: Option<usize>,
}

#[derive(Debug, Clone, Copy)]
pub enum OnError {
    Unset,
    Skip,
    Tier(usize),
}

#[derive(Debug, Clone)]
pub struct GenPolicy {
    /// Each model's capabilities.
    pub models: Vec<Vec<&'static str>>,
    /// Each tier's model.
    pub tiers: Vec<usize>,
    pub default_tier: usize,
    pub on_error: OnError,
    pub rules: Vec<GenRule>,
    pub guards: Vec<GenGuard>,
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

/// How many rules a generated policy has.
#[derive(Debug, Clone, Copy)]
pub enum RuleCount {
    /// Exactly this many (for timing).
    // Only lint_props times fixed sizes, so props never builds this.
    #[allow(dead_code)]
    Exactly(usize),
    /// A list of 0..=12, 13..60 or 60..=70 rules, drawn with these weights.
    Weighted { short: u32, medium: u32, long: u32 },
}

/// A policy over `pools`, with as many rules as `rules` says.
pub fn policy(pools: Pools, rules: RuleCount) -> impl Strategy<Value = GenPolicy> {
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
            match rules {
                RuleCount::Exactly(n) => proptest::collection::vec(rule, n..=n).boxed(),
                RuleCount::Weighted {
                    short,
                    medium,
                    long,
                } => prop_oneof![
                    short => proptest::collection::vec(rule.clone(), 0..=12),
                    medium => proptest::collection::vec(rule.clone(), 13..60),
                    long => proptest::collection::vec(rule, 60..=70),
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
                    // An escalation to a tier whose model lacks what the guard requires is
                    // a load error: escalate to the next tier that has it, or to none.
                    for g in &mut guards {
                        let has_all =
                            |t: usize| g.require.iter().all(|c| models[tiers[t]].contains(c));
                        g.escalate_to = g
                            .escalate_to
                            .and_then(|t| (0..nt).map(|k| (t + k) % nt).find(|&t| has_all(t)));
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

pub fn step(pools: Pools) -> impl Strategy<Value = Step> {
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

pub fn toml_text(p: &GenPolicy) -> String {
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

/// The input tokens a step is routed with: its count, else its prompt counted as the
/// policies' `approx` tokenizer counts it.
pub fn tokens_of(s: &Step) -> u64 {
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
pub fn static_holds(w: &When, s: &Step, tokens: u64) -> bool {
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

// ---- running a property --------------------------------------------------------------------

/// What a property's cases are drawn from.
#[derive(Debug, Clone, Copy)]
pub struct Cases {
    /// The weight of the narrow tag pool, [`TAGS`], against the wide one's.
    pub narrow: u32,
    /// The weight of the wide tag pool, [`wide_tags`]: enough tags for over 64 columns.
    pub wide: u32,
    /// How many rules each policy has.
    pub rules: RuleCount,
    /// How many random steps go with each policy.
    pub steps: usize,
}

/// Runs `check` on `config.cases` random policies over the tag numbers `nums`, each with
/// its random steps; panics with the (shrunk) failing case.
pub fn run_cases(
    config: Config,
    nums: &'static [f64],
    cases: Cases,
    check: impl Fn(&GenPolicy, &[Step]) -> Result<(), TestCaseError>,
) {
    let narrow = Pools { nums, tags: &TAGS };
    let wide = Pools {
        nums,
        tags: wide_tags(),
    };
    let strategy = prop_oneof![cases.narrow => Just(narrow), cases.wide => Just(wide)]
        .prop_flat_map(move |pools| {
            (
                policy(pools, cases.rules),
                proptest::collection::vec(step(pools), cases.steps),
            )
        });
    let result = TestRunner::new(config).run(&strategy, |(p, steps)| check(&p, &steps));
    if let Err(e) = result {
        panic!("{e}");
    }
}

// ---- large policies ------------------------------------------------------------------------

/// A policy of `rules` rules for measuring load time: each rule names one of 500 roles and its
/// own `input_tokens` bound, so the decision table has about as many classes as rules (the
/// case where building it was quadratic in the number of rules).
#[allow(dead_code)] // used by tests/load_scale.rs, not by every test that shares this module
pub fn many_rules_policy(rules: usize) -> String {
    use std::fmt::Write;
    let mut s = String::from(
        "[policy]\nname = \"big\"\ndefault_tier = \"cheap\"\n\n\
         [models.small]\nprovider = \"mock\"\ninput_usd_per_mtok = 1.0\noutput_usd_per_mtok = 2.0\n\n\
         [models.large]\nprovider = \"mock\"\ninput_usd_per_mtok = 10.0\noutput_usd_per_mtok = 20.0\n\n\
         [tiers]\ncheap = \"small\"\npremium = \"large\"\n",
    );
    for i in 0..rules {
        let tier = if i % 2 == 0 { "premium" } else { "cheap" };
        let _ = writeln!(
            s,
            "\n[[rules]]\nname = \"r{i}\"\nwhen = {{ role = \"role{}\", input_tokens = {{ gt = {} }} }}\ntier = \"{tier}\"",
            i % 500,
            i * 10
        );
    }
    s
}
