//! The policy model: what a policy file means once it is read and checked. Reading files,
//! includes and policy sets is in `load`; the checks that turn the raw TOML into these types
//! are in `validate`. Nothing here evaluates a step.

mod catalog;
mod load;
pub(crate) mod raw;
mod read;
#[cfg(feature = "schema")]
mod schema_names;
mod validate;

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use catalog::{load_catalog, Catalog};
pub(crate) use load::{load_checked, load_text_checked};
pub use load::{load_path, load_policy_file, load_policy_text, load_with, LoadError, LoadOptions};
#[cfg(feature = "reload")]
pub(crate) use load::{set_files, version_hash};
pub use read::{read_bytes, read_text, ReadError, MAX_POLICY_FILE_BYTES};

use crate::diag::Source;
use crate::step::{Step, TagValue};

/// Index of a tier in [`Policy::tiers`].
pub type TierId = usize;

/// A place in a file a user wrote.
#[derive(Debug, Clone)]
pub struct Loc {
    /// The file.
    pub source: Arc<Source>,
    /// Byte range of the value or table header.
    pub span: Range<usize>,
}

impl Loc {
    /// `file:line:col`.
    pub fn display(&self) -> String {
        let (l, c) = self.source.line_col(self.span.start);
        format!("{}:{l}:{c}", self.source.path.display())
    }
}

/// One checked policy: a workload's models, tiers, rules, guards and tests.
///
/// Read through its accessors. The fields are the crate's own: tiers, rules and guards hold
/// indexes that the compiler and the router trust, so a policy can only come from a file that
/// loaded and passed every check, and cannot be changed after.
///
/// ```
/// let policies = switchyard::policy::load_path("policies/contract-review.toml".as_ref()).unwrap();
/// let p = &policies[0];
/// assert_eq!(p.tier_model(p.default_tier()).key, "gpt-5.4-mini");
/// ```
///
/// ```compile_fail
/// let mut p = switchyard::policy::load_policy_file("policies/contract-review.toml".as_ref()).unwrap();
/// p.tiers[0].model = 99; // refused: the index would point at no model
/// ```
#[derive(Debug, Clone)]
pub struct Policy {
    /// `[policy].name`, the workload it serves.
    pub(crate) name: String,
    /// `[policy].description`.
    pub(crate) description: Option<String>,
    /// The tier when no rule matches.
    pub(crate) default_tier: TierId,
    /// What a failing expression does.
    pub(crate) on_expression_error: OnExpressionError,
    /// Counts a step's prompt when it gives no input_tokens.
    pub(crate) tokenizer: Tokenizer,
    /// Models defined in the file and its includes, in file order.
    pub(crate) models: Vec<Arc<Model>>,
    /// Tiers in file order.
    pub(crate) tiers: Vec<Tier>,
    /// Rules in file order (the first that holds wins).
    pub(crate) rules: Vec<Rule>,
    /// Guards in file order.
    pub(crate) guards: Vec<Guard>,
    /// `[[tests]]`, run by `switchyard test`.
    pub(crate) tests: Vec<PolicyTest>,
    /// `[tags]` declarations.
    pub(crate) tags: Vec<TagDecl>,
    /// `[budget]`: hard spending caps, if the policy sets any.
    pub(crate) budget: Option<Budget>,
    /// First 12 hex digits of SHA-256 over the file's bytes and each include's, in order.
    pub(crate) version: String,
    /// The policy file.
    pub(crate) path: PathBuf,
    /// The policy file first, then each include, in include order.
    pub(crate) sources: Vec<Arc<Source>>,
    /// `[policy].allow`: lint findings not reported anywhere in this policy.
    pub(crate) allow: Vec<String>,
}

impl Policy {
    /// `[policy].name`, the workload it serves.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// `[policy].description`.
    pub fn description(&self) -> Option<&str> {
        self.description.as_deref()
    }

    /// The tier when no rule matches.
    pub fn default_tier(&self) -> TierId {
        self.default_tier
    }

    /// What a failing expression does.
    pub fn on_expression_error(&self) -> OnExpressionError {
        self.on_expression_error
    }

    /// Counts a step's prompt when it gives no input_tokens.
    pub fn tokenizer(&self) -> Tokenizer {
        self.tokenizer
    }

    /// Models defined in the file and its includes, in file order.
    pub fn models(&self) -> &[Arc<Model>] {
        &self.models
    }

    /// Tiers in file order.
    pub fn tiers(&self) -> &[Tier] {
        &self.tiers
    }

    /// Rules in file order (the first that holds wins).
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// Guards in file order.
    pub fn guards(&self) -> &[Guard] {
        &self.guards
    }

    /// `[[tests]]`, run by `switchyard test`.
    pub fn tests(&self) -> &[PolicyTest] {
        &self.tests
    }

    /// `[tags]` declarations.
    pub fn tags(&self) -> &[TagDecl] {
        &self.tags
    }

    /// `[budget]`: hard spending caps, if the policy sets any.
    pub fn budget(&self) -> Option<&Budget> {
        self.budget.as_ref()
    }

    /// First 12 hex digits of SHA-256 over the file's bytes and each include's, in order.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// The policy file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The policy file first, then each include, in include order.
    pub fn sources(&self) -> &[Arc<Source>] {
        &self.sources
    }

    /// `[policy].allow`: lint findings not reported anywhere in this policy.
    pub fn allow(&self) -> &[String] {
        &self.allow
    }

    /// Looks a tier up by name.
    pub fn tier_id(&self, name: &str) -> Option<TierId> {
        self.tiers.iter().position(|t| t.name == name)
    }

    /// The model a tier routes to.
    pub fn tier_model(&self, tier: TierId) -> &Arc<Model> {
        &self.models[self.tiers[tier].model]
    }
}

/// `on_expression_error`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnExpressionError {
    /// The rule does not match.
    Skip,
    /// Route to this tier (`via = "expression_error"`).
    Tier(TierId),
}

/// `[budget]`: hard caps on what the calls a policy routes may cost, in pico-dollars.
#[derive(Debug, Clone, PartialEq)]
pub struct Budget {
    /// `per_trace_usd`: all calls of one trace together.
    pub per_trace: Option<crate::money::Picos>,
    /// `per_workload_day_usd`: all calls of this workload in one UTC day.
    pub per_workload_day: Option<crate::money::Picos>,
    /// `per_call_usd`: one call's worst case.
    pub per_call: Option<crate::money::Picos>,
    /// What a call that would cross a cap does.
    pub on_exceed: OnExceed,
}

/// `on_exceed` in `[budget]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnExceed {
    /// Refuse the call with an error (the default).
    #[default]
    Reject,
    /// Route it to the cheapest tier that fits under the caps and satisfies the guards.
    Downgrade,
}

impl OnExceed {
    /// The names accepted in policy files.
    pub const NAMES: &'static [&'static str] = &["reject", "downgrade"];
}

/// How a prompt's tokens are counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Tokenizer {
    /// OpenAI's o200k_base encoding (the default).
    #[default]
    O200kBase,
    /// OpenAI's cl100k_base encoding.
    Cl100kBase,
    /// ceil(chars / 4 × 1.05): no table to load, for models with no public tokenizer.
    Approx,
}

impl Tokenizer {
    /// The names accepted in policy files.
    pub const NAMES: &'static [&'static str] = &["o200k_base", "cl100k_base", "approx"];

    /// Parses a tokenizer name.
    pub fn from_name(name: &str) -> Option<Tokenizer> {
        match name {
            "o200k_base" => Some(Tokenizer::O200kBase),
            "cl100k_base" => Some(Tokenizer::Cl100kBase),
            "approx" => Some(Tokenizer::Approx),
            _ => None,
        }
    }

    /// Counts the tokens of a text.
    pub fn count(self, text: &str) -> u64 {
        match self {
            // Bounded in time and memory whatever the text (see step::tokens).
            Tokenizer::O200kBase => {
                crate::step::tokens::count(tiktoken_rs::o200k_base_singleton(), text)
            }
            Tokenizer::Cl100kBase => {
                crate::step::tokens::count(tiktoken_rs::cl100k_base_singleton(), text)
            }
            Tokenizer::Approx => crate::step::tokens::approx(text),
        }
    }
}

/// Which client talks to a model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provider {
    /// Any OpenAI-compatible endpoint.
    OpenAi,
    /// Anthropic's messages API.
    Anthropic,
    /// The offline, deterministic mock.
    Mock,
}

impl Provider {
    /// The names accepted in policy files.
    pub const NAMES: &'static [&'static str] = &["openai", "anthropic", "mock"];

    /// Parses a provider name.
    pub fn from_name(name: &str) -> Option<Provider> {
        match name {
            "openai" => Some(Provider::OpenAi),
            "anthropic" => Some(Provider::Anthropic),
            "mock" => Some(Provider::Mock),
            _ => None,
        }
    }

    /// The name used in policy files.
    pub fn name(self) -> &'static str {
        match self {
            Provider::OpenAi => "openai",
            Provider::Anthropic => "anthropic",
            Provider::Mock => "mock",
        }
    }
}

/// A model: prices, limits, capabilities and how to reach it.
#[derive(Debug, Clone, PartialEq)]
pub struct Model {
    /// Its key in `[models]`.
    pub key: String,
    /// Which client talks to it.
    pub provider: Provider,
    /// The provider's model name (defaults to the key).
    pub model_id: String,
    /// Endpoint override; `None` means the provider's public default.
    pub base_url: Option<String>,
    /// Name of the environment variable holding the API key.
    pub api_key_env: Option<String>,
    /// USD per million input tokens.
    pub input_usd_per_mtok: f64,
    /// USD per million output tokens.
    pub output_usd_per_mtok: f64,
    /// Context window in tokens.
    pub context_window: Option<u64>,
    /// Largest output in tokens.
    pub max_output_tokens: Option<u64>,
    /// Tokenizer override for this model.
    pub tokenizer: Option<Tokenizer>,
    /// Free-form words that guards can require, such as `injection_tested`.
    pub capabilities: Vec<String>,
    /// Retries of a failed call; `None` is the default (2).
    pub max_retries: Option<u32>,
    /// The whole call's time limit in seconds; `None` is the default (600).
    pub timeout_seconds: Option<f64>,
    /// USD per million cached input tokens; `None` bills them at the input price.
    pub cached_input_usd_per_mtok: Option<f64>,
    /// USD per million cache-creation tokens; `None` bills them at the input price.
    pub cache_write_usd_per_mtok: Option<f64>,
}

impl Model {
    /// Dollars for a call with these token counts, at this model's prices.
    pub fn cost_usd(&self, input_tokens: u64, output_tokens: u64) -> f64 {
        (input_tokens as f64 * self.input_usd_per_mtok
            + output_tokens as f64 * self.output_usd_per_mtok)
            / 1_000_000.0
    }

    /// Whether the model has every capability in `require`.
    pub fn has_all(&self, require: &[String]) -> bool {
        require.iter().all(|r| self.capabilities.contains(r))
    }
}

/// A tier: a name that rules route to, bound to one model.
#[derive(Debug, Clone)]
pub struct Tier {
    /// The tier's name.
    pub(crate) name: String,
    /// Index into [`Policy::models`]: the tier's model, which decisions, estimates, guards
    /// and lint use.
    pub(crate) model: usize,
    /// Indexes into [`Policy::models`] of the models tried, in order, when `model` still
    /// fails with a retryable error after its retries (docs/providers.md).
    pub(crate) fallbacks: Vec<usize>,
    /// Where it is defined.
    pub(crate) loc: Loc,
}

impl Tier {
    /// The tier's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Index into [`Policy::models`]: the tier's model, which decisions, estimates, guards
    /// and lint use.
    pub fn model(&self) -> usize {
        self.model
    }

    /// Indexes into [`Policy::models`] of the models tried, in order, when `model` still
    /// fails with a retryable error after its retries (docs/providers.md).
    pub fn fallbacks(&self) -> &[usize] {
        &self.fallbacks
    }

    /// Where it is defined.
    pub fn loc(&self) -> &Loc {
        &self.loc
    }
}

/// One `[[rules]]` entry.
#[derive(Debug, Clone)]
pub struct Rule {
    /// Unique in the policy.
    pub(crate) name: String,
    /// What it is for.
    pub(crate) description: Option<String>,
    /// Conditions that must all hold.
    pub(crate) when: Condition,
    /// The tier it routes to.
    pub(crate) tier: TierId,
    /// Where it is defined (the `name` value).
    pub(crate) loc: Loc,
    /// Byte range of the whole `[[rules]]` entry, in the policy file.
    pub(crate) extent: Range<usize>,
    /// `allow`: lint findings not reported about this rule.
    pub(crate) allow: Vec<String>,
}

impl Rule {
    /// Unique in the policy.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// What it is for.
    pub fn description(&self) -> Option<&str> {
        self.description.as_deref()
    }

    /// Conditions that must all hold.
    pub fn when(&self) -> &Condition {
        &self.when
    }

    /// The tier it routes to.
    pub fn tier(&self) -> TierId {
        self.tier
    }

    /// Where it is defined (the `name` value).
    pub fn loc(&self) -> &Loc {
        &self.loc
    }

    /// Byte range of the whole `[[rules]]` entry, in the policy file.
    pub fn extent(&self) -> Range<usize> {
        self.extent.clone()
    }

    /// `allow`: lint findings not reported about this rule.
    pub fn allow(&self) -> &[String] {
        &self.allow
    }
}

/// One `[[guards]]` entry.
#[derive(Debug, Clone)]
pub struct Guard {
    /// Unique among guards.
    pub(crate) name: String,
    /// What it is for.
    pub(crate) description: Option<String>,
    /// When the guard applies.
    pub(crate) when: Condition,
    /// Capabilities the chosen tier's model must have.
    pub(crate) require: Vec<String>,
    /// Where to move the step; `None` rejects it.
    pub(crate) escalate_to: Option<TierId>,
    /// Where it is defined.
    pub(crate) loc: Loc,
}

impl Guard {
    /// Unique among guards.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// What it is for.
    pub fn description(&self) -> Option<&str> {
        self.description.as_deref()
    }

    /// When the guard applies.
    pub fn when(&self) -> &Condition {
        &self.when
    }

    /// Capabilities the chosen tier's model must have.
    pub fn require(&self) -> &[String] {
        &self.require
    }

    /// Where to move the step; `None` rejects it.
    pub fn escalate_to(&self) -> Option<TierId> {
        self.escalate_to
    }

    /// Where it is defined.
    pub fn loc(&self) -> &Loc {
        &self.loc
    }
}

/// A `when` table: every condition given must hold.
#[derive(Debug, Clone, Default)]
pub struct Condition {
    /// The step's role is one of these.
    pub roles: Option<Vec<String>>,
    /// Bounds on input tokens.
    pub input_tokens: Option<IntRange>,
    /// Bounds on the dependent tool-call chain.
    pub dependent_tool_calls: Option<IntRange>,
    /// Required value of the chain-of-thought flag.
    pub needs_chain_of_thought: Option<bool>,
    /// Required value of the JSON-output flag.
    pub output_must_be_json: Option<bool>,
    /// Required value of the untrusted-input flag.
    pub untrusted_input: Option<bool>,
    /// Tag conditions, each on one tag.
    pub tags: Vec<TagCondition>,
    /// A Rhai expression, evaluated only when everything else holds.
    pub expr: Option<Expr>,
}

/// An inclusive range over a non-negative integer field, from `{ gt, ge, lt, le }`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IntRange {
    /// Smallest value that holds.
    pub lo: u64,
    /// Largest value that holds.
    pub hi: u64,
    /// The lower bound was written `gt` (so it reads `> lo - 1`), for messages.
    pub strict_lo: bool,
    /// The upper bound was written `lt` (so it reads `< hi + 1`), for messages.
    pub strict_hi: bool,
}

impl IntRange {
    /// Whether `v` is inside.
    pub fn contains(&self, v: u64) -> bool {
        self.lo <= v && v <= self.hi
    }

    /// The range as a person reads it: `>= 8`, `< 30001`, `between 5 and 9`.
    /// The range as a person reads it, with the bounds as they were written: `> 30000`,
    /// `>= 8`, `>= 5 and < 10`.
    pub fn describe(&self) -> String {
        let lower = match self.lo {
            0 => None,
            lo if self.strict_lo => Some(format!("> {}", lo - 1)),
            lo => Some(format!(">= {lo}")),
        };
        let upper = match self.hi {
            u64::MAX => None,
            hi if self.strict_hi => Some(format!("< {}", hi + 1)),
            hi => Some(format!("<= {hi}")),
        };
        match (lower, upper) {
            (None, None) => "any value".into(),
            _ if self.lo == self.hi => format!("= {}", self.lo),
            (Some(l), None) => l,
            (None, Some(u)) => u,
            (Some(l), Some(u)) => format!("{l} and {u}"),
        }
    }
}

/// One bound of a numeric tag range.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NumBound {
    /// The bound.
    pub value: f64,
    /// Whether the bound itself holds (`ge`/`le`) or not (`gt`/`lt`).
    pub inclusive: bool,
}

/// A range over a number tag.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct NumRange {
    /// From `gt` / `ge`.
    pub lower: Option<NumBound>,
    /// From `lt` / `le`.
    pub upper: Option<NumBound>,
}

impl NumRange {
    /// Whether `v` is inside. NaN is in no range, one without bounds too (a policy file
    /// cannot write that one): no tag condition holds for NaN, as for a missing tag.
    pub fn contains(&self, v: f64) -> bool {
        if v.is_nan() {
            return false;
        }
        let lower_ok = self.lower.is_none_or(|b| {
            if b.inclusive {
                v >= b.value
            } else {
                v > b.value
            }
        });
        let upper_ok = self.upper.is_none_or(|b| {
            if b.inclusive {
                v <= b.value
            } else {
                v < b.value
            }
        });
        lower_ok && upper_ok
    }

    /// The range as a person reads it.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(b) = self.lower {
            parts.push(format!(
                "{} {}",
                if b.inclusive { ">=" } else { ">" },
                b.value
            ));
        }
        if let Some(b) = self.upper {
            parts.push(format!(
                "{} {}",
                if b.inclusive { "<=" } else { "<" },
                b.value
            ));
        }
        parts.join(" and ")
    }
}

/// A condition on one tag. A missing tag never matches.
#[derive(Debug, Clone)]
pub struct TagCondition {
    /// The tag's name.
    pub name: String,
    /// What its value must be.
    pub test: TagTest,
}

/// What a tag's value must be.
#[derive(Debug, Clone)]
pub enum TagTest {
    /// Equal to one of these (of the same type).
    OneOf(Vec<TagValue>),
    /// A number inside the range.
    Range(NumRange),
}

impl TagTest {
    /// Whether a tag value passes (values only match their own type).
    pub fn matches(&self, v: &TagValue) -> bool {
        match (self, v) {
            (TagTest::OneOf(vals), v) => vals.iter().any(|w| tag_eq(w, v)),
            (TagTest::Range(r), TagValue::Num(n)) => r.contains(*n),
            (TagTest::Range(_), _) => false,
        }
    }
}

/// Tag equality where values of different types never match.
pub fn tag_eq(a: &TagValue, b: &TagValue) -> bool {
    match (a, b) {
        (TagValue::Str(x), TagValue::Str(y)) => x == y,
        (TagValue::Num(x), TagValue::Num(y)) => x == y,
        (TagValue::Bool(x), TagValue::Bool(y)) => x == y,
        _ => false,
    }
}

/// A Rhai expression as written, with where it stands in the file.
#[derive(Debug, Clone)]
pub struct Expr {
    /// The expression text.
    pub text: String,
    /// The TOML string's span (quotes included).
    pub loc: Loc,
}

/// The type of a declared tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TagKind {
    /// Strings.
    Str,
    /// Numbers.
    Num,
    /// Bools.
    Bool,
}

/// A `[tags]` declaration.
#[derive(Debug, Clone)]
pub struct TagDecl {
    /// The tag's name.
    pub name: String,
    /// Its type.
    pub kind: TagKind,
    /// The values it may take (strings only); empty means any.
    pub values: Vec<TagValue>,
    /// Where it is declared.
    pub loc: Loc,
}

/// The words `expect_via` accepts: each way a decision is made (`Via::as_str`).
pub(crate) const EXPECT_VIA_NAMES: [&str; 5] = [
    "rule",
    "default",
    "guard",
    "expression_error",
    "context_window",
];

/// One `[[tests]]` entry.
#[derive(Debug, Clone)]
pub struct PolicyTest {
    /// The test's name.
    pub name: String,
    /// The step to route.
    pub step: Step,
    /// Expected tier.
    pub expect_tier: Option<TierId>,
    /// Expected rule: `Some(None)` is "default" (no rule matched).
    pub expect_rule: Option<Option<usize>>,
    /// Expected model key.
    pub expect_model: Option<String>,
    /// Expected `via`: rule, default, guard, expression_error.
    pub expect_via: Option<String>,
    /// Expected guard that fired (escalated or rejected).
    pub expect_guard: Option<String>,
    /// Whether the step is expected to be rejected.
    pub expect_rejected: Option<bool>,
    /// Where it is defined.
    pub loc: Loc,
}
