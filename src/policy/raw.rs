//! The policy file exactly as users write it: plain serde structs with spans, unknown keys
//! refused. Nothing here checks meaning; `validate` turns these into a [`super::Policy`].
//! With the `schema` feature the same structs derive the JSON Schema that `switchyard schema`
//! prints (see `crate::schema`; the hand-written parts are in `schema_names`); the `schemars` attributes say what each spanned or untyped
//! value accepts.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

#[cfg(feature = "schema")]
use super::schema_names::{
    ProviderName, RoleValue, TagConditionValue, TagTypeName, TagValueSchema, TestStep,
    TokenizerName, ViaName,
};

/// A policy file: `[policy]`, `[models.*]`, `[tiers]`, `[[rules]]`, `[[guards]]`, `[[tests]]`
/// and `[tags]`; or a catalog holding only `[models]`.
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "schema", schemars(rename = "PolicyFile"))]
pub(crate) struct RawFile {
    /// The policy's settings; exactly one per policy file (a catalog has none).
    #[cfg_attr(feature = "schema", schemars(with = "Option<RawHeader>"))]
    pub(crate) policy: Option<Spanned<RawHeader>>,
    /// Models and their prices, by model key.
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(with = "BTreeMap<String, RawModel>"))]
    pub(crate) models: BTreeMap<Spanned<String>, Spanned<RawModel>>,
    /// Tier name → model key, or an ordered list of model keys (the first is the tier's
    /// model, the rest its fallbacks).
    #[cfg_attr(
        feature = "schema",
        schemars(with = "Option<BTreeMap<String, TierModelsSchema>>")
    )]
    pub(crate) tiers: Option<Spanned<BTreeMap<Spanned<String>, Spanned<RawTierModels>>>>,
    /// Rules, in order: the first whose `when` holds picks the tier.
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(with = "Vec<RawRule>"))]
    pub(crate) rules: Vec<Spanned<RawRule>>,
    /// Guards, checked after a tier is chosen; no rule can override them.
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(with = "Vec<RawGuard>"))]
    pub(crate) guards: Vec<Spanned<RawGuard>>,
    /// Example steps and where they must go, run by `switchyard test`.
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(with = "Vec<RawTest>"))]
    pub(crate) tests: Vec<Spanned<RawTest>>,
    /// The workload's own step features (`step.tags`), declared with their types.
    #[cfg_attr(
        feature = "schema",
        schemars(with = "Option<BTreeMap<String, RawTagDecl>>")
    )]
    pub(crate) tags: Option<Spanned<BTreeMap<Spanned<String>, Spanned<RawTagDecl>>>>,
    /// Hard spending caps for the calls this policy routes (`switchyard run`, `Runner`).
    #[cfg_attr(feature = "schema", schemars(with = "Option<RawBudget>"))]
    pub(crate) budget: Option<Spanned<RawBudget>>,
}

/// `[policy]`.
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "schema", schemars(rename = "Policy"))]
pub(crate) struct RawHeader {
    /// The workload this policy serves (a step picks it with `workload`).
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    pub(crate) name: Spanned<String>,
    /// Free text.
    pub(crate) description: Option<String>,
    /// The tier when no rule matches.
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    pub(crate) default_tier: Spanned<String>,
    /// What a rule whose expression fails at run time does: "skip" it, or a tier name to route to.
    #[cfg_attr(feature = "schema", schemars(with = "Option<String>"))]
    pub(crate) on_expression_error: Option<Spanned<String>>,
    /// Catalog files (holding only `[models]`), relative to this file.
    #[cfg_attr(feature = "schema", schemars(with = "Option<Vec<String>>"))]
    pub(crate) include: Option<Vec<Spanned<String>>>,
    /// Counts a step's prompt when it gives no input_tokens.
    #[cfg_attr(feature = "schema", schemars(with = "Option<TokenizerName>"))]
    pub(crate) tokenizer: Option<Spanned<String>>,
    /// Lint findings not to report anywhere in this policy, by name (e.g. "tier-unused").
    #[cfg_attr(feature = "schema", schemars(with = "Option<Vec<String>>"))]
    pub(crate) allow: Option<Vec<Spanned<String>>>,
}

/// `[models.NAME]`.
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "schema", schemars(rename = "Model"))]
pub(crate) struct RawModel {
    /// Which client talks to the model.
    #[cfg_attr(feature = "schema", schemars(with = "ProviderName"))]
    pub(crate) provider: Spanned<String>,
    /// The provider's model id (defaults to the model key).
    pub(crate) model_id: Option<String>,
    /// The API's base URL.
    pub(crate) base_url: Option<String>,
    /// The environment variable holding the API key (its name, never the key).
    #[cfg_attr(feature = "schema", schemars(with = "Option<String>"))]
    pub(crate) api_key_env: Option<Spanned<String>>,
    /// Price of a million input tokens, in USD.
    #[cfg_attr(feature = "schema", schemars(with = "f64"))]
    pub(crate) input_usd_per_mtok: Spanned<f64>,
    /// Price of a million output tokens, in USD.
    #[cfg_attr(feature = "schema", schemars(with = "f64"))]
    pub(crate) output_usd_per_mtok: Spanned<f64>,
    /// Largest context, in tokens.
    #[cfg_attr(feature = "schema", schemars(with = "Option<i64>"))]
    pub(crate) context_window: Option<Spanned<i64>>,
    /// Largest output, in tokens.
    #[cfg_attr(feature = "schema", schemars(with = "Option<i64>"))]
    pub(crate) max_output_tokens: Option<Spanned<i64>>,
    /// Counts prompts for this model.
    #[cfg_attr(feature = "schema", schemars(with = "Option<TokenizerName>"))]
    pub(crate) tokenizer: Option<Spanned<String>>,
    /// What the model can be trusted with, e.g. "injection_tested"; guards require them.
    #[cfg_attr(feature = "schema", schemars(with = "Option<Vec<String>>"))]
    pub(crate) capabilities: Option<Vec<Spanned<String>>>,
    /// Free text.
    // Accepted so a file may describe it; nothing reads it.
    #[allow(dead_code)]
    pub(crate) description: Option<String>,
    /// Retries of a failed call (default 2).
    #[cfg_attr(feature = "schema", schemars(with = "Option<u32>"))]
    pub(crate) max_retries: Option<Spanned<i64>>,
    /// The whole call's time limit, in seconds (default 600).
    #[cfg_attr(feature = "schema", schemars(with = "Option<f64>"))]
    pub(crate) timeout_seconds: Option<Spanned<f64>>,
    /// Price of a million cached input tokens, in USD (else the input price).
    #[cfg_attr(feature = "schema", schemars(with = "Option<f64>"))]
    pub(crate) cached_input_usd_per_mtok: Option<Spanned<f64>>,
    /// Price of a million cache-creation tokens, in USD (else the input price).
    #[cfg_attr(feature = "schema", schemars(with = "Option<f64>"))]
    pub(crate) cache_write_usd_per_mtok: Option<Spanned<f64>>,
}

/// A tier's value: one model key, or an ordered list of them.
#[derive(Debug)]
pub(crate) enum RawTierModels {
    /// `cheap = "muse-spark"` (its span is the tier value's).
    One(String),
    /// `premium = ["claude-opus-4-6", "gpt-5.4"]`.
    List(Vec<Spanned<String>>),
}

impl RawTierModels {
    /// The model keys in order, each with its span; `whole` is the span of the tier's value.
    pub(crate) fn keys(
        &self,
        whole: std::ops::Range<usize>,
    ) -> Vec<(&str, std::ops::Range<usize>)> {
        match self {
            RawTierModels::One(k) => vec![(k.as_str(), whole)],
            RawTierModels::List(ks) => ks
                .iter()
                .map(|k| (k.get_ref().as_str(), k.span()))
                .collect(),
        }
    }
}

// By hand rather than `#[serde(untagged)]`: untagged buffers the value and so loses the
// spans of the list's keys, which errors point at.
impl<'de> Deserialize<'de> for RawTierModels {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = RawTierModels;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a model key or an array of model keys")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<RawTierModels, E> {
                Ok(RawTierModels::One(v.to_string()))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<RawTierModels, A::Error> {
                let mut keys = Vec::new();
                while let Some(k) = seq.next_element::<Spanned<String>>()? {
                    keys.push(k);
                }
                Ok(RawTierModels::List(keys))
            }
        }
        d.deserialize_any(V)
    }
}

/// What a tier accepts, for the schema.
#[cfg(feature = "schema")]
#[derive(schemars::JsonSchema)]
#[serde(untagged)]
#[allow(dead_code)] // only its schema is used
pub(crate) enum TierModelsSchema {
    /// One model key.
    One(String),
    /// Model keys in order: the tier's model, then its fallbacks.
    List(Vec<String>),
}

/// `[[rules]]`.
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "schema", schemars(rename = "Rule"))]
pub(crate) struct RawRule {
    /// Unique within the policy; decisions report it.
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    pub(crate) name: Spanned<String>,
    /// Free text.
    pub(crate) description: Option<String>,
    /// The condition; missing or `{}` matches every step.
    #[cfg_attr(feature = "schema", schemars(with = "Option<RawWhen>"))]
    pub(crate) when: Option<Spanned<RawWhen>>,
    /// The tier a matching step goes to.
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    pub(crate) tier: Spanned<String>,
    /// Lint findings not to report about this rule, by name (e.g. "unreachable-rule").
    #[cfg_attr(feature = "schema", schemars(with = "Option<Vec<String>>"))]
    pub(crate) allow: Option<Vec<Spanned<String>>>,
}

/// A `when` table: every key given must hold.
#[derive(Debug, Default, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "schema", schemars(rename = "Condition"))]
pub(crate) struct RawWhen {
    /// The step's role is this one, or one of these.
    #[cfg_attr(feature = "schema", schemars(with = "Option<RoleValue>"))]
    pub(crate) role: Option<Spanned<toml::Value>>,
    /// Bounds on the step's input tokens.
    #[cfg_attr(feature = "schema", schemars(with = "Option<RawIntRange>"))]
    pub(crate) input_tokens: Option<Spanned<RawIntRange>>,
    /// Bounds on the length of the dependent tool-call chain.
    #[cfg_attr(feature = "schema", schemars(with = "Option<RawIntRange>"))]
    pub(crate) dependent_tool_calls: Option<Spanned<RawIntRange>>,
    /// The step's flag equals this.
    #[cfg_attr(feature = "schema", schemars(with = "Option<bool>"))]
    pub(crate) needs_chain_of_thought: Option<Spanned<bool>>,
    /// The step's flag equals this.
    #[cfg_attr(feature = "schema", schemars(with = "Option<bool>"))]
    pub(crate) output_must_be_json: Option<Spanned<bool>>,
    /// The step's flag equals this.
    #[cfg_attr(feature = "schema", schemars(with = "Option<bool>"))]
    pub(crate) untrusted_input: Option<Spanned<bool>>,
    /// Tag name → the value (or values, or numeric bounds) the step's tag must match.
    #[cfg_attr(
        feature = "schema",
        schemars(with = "Option<BTreeMap<String, TagConditionValue>>")
    )]
    pub(crate) tags: Option<BTreeMap<Spanned<String>, Spanned<toml::Value>>>,
    /// A Rhai expression over `step` that must return true.
    #[cfg_attr(feature = "schema", schemars(with = "Option<String>"))]
    pub(crate) expr: Option<Spanned<String>>,
}

/// `{ gt, ge, lt, le }` over an integer field.
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "schema", schemars(rename = "IntRange"))]
pub(crate) struct RawIntRange {
    /// Greater than.
    #[cfg_attr(feature = "schema", schemars(with = "Option<i64>"))]
    pub(crate) gt: Option<Spanned<i64>>,
    /// Greater than or equal.
    #[cfg_attr(feature = "schema", schemars(with = "Option<i64>"))]
    pub(crate) ge: Option<Spanned<i64>>,
    /// Less than.
    #[cfg_attr(feature = "schema", schemars(with = "Option<i64>"))]
    pub(crate) lt: Option<Spanned<i64>>,
    /// Less than or equal.
    #[cfg_attr(feature = "schema", schemars(with = "Option<i64>"))]
    pub(crate) le: Option<Spanned<i64>>,
}

/// `[[guards]]`.
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "schema", schemars(rename = "Guard"))]
pub(crate) struct RawGuard {
    /// Unique within the policy; decisions report it.
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    pub(crate) name: Spanned<String>,
    /// Free text.
    pub(crate) description: Option<String>,
    /// The steps the guard looks at; missing matches every step.
    #[cfg_attr(feature = "schema", schemars(with = "Option<RawWhen>"))]
    pub(crate) when: Option<Spanned<RawWhen>>,
    /// Capabilities the chosen tier's model must have.
    #[cfg_attr(feature = "schema", schemars(with = "Vec<String>"))]
    pub(crate) require: Spanned<Vec<Spanned<String>>>,
    /// The tier to move the step to when the model lacks them; without it the step is rejected.
    #[cfg_attr(feature = "schema", schemars(with = "Option<String>"))]
    pub(crate) escalate_to: Option<Spanned<String>>,
}

/// `[[tests]]`.
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "schema", schemars(rename = "Test"))]
pub(crate) struct RawTest {
    /// Free text, shown in the report.
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    pub(crate) name: Spanned<String>,
    /// The step to route.
    #[cfg_attr(feature = "schema", schemars(with = "TestStep"))]
    pub(crate) step: Spanned<toml::Value>,
    /// The tier of the final decision (after guards).
    #[cfg_attr(feature = "schema", schemars(with = "Option<String>"))]
    pub(crate) expect_tier: Option<Spanned<String>>,
    /// The rule reported in the decision; "default" means no rule matched.
    #[cfg_attr(feature = "schema", schemars(with = "Option<String>"))]
    pub(crate) expect_rule: Option<Spanned<String>>,
    /// The model key of the final decision.
    #[cfg_attr(feature = "schema", schemars(with = "Option<String>"))]
    pub(crate) expect_model: Option<Spanned<String>>,
    /// How the decision was made: "rule", "default", "guard" or "expression_error".
    #[cfg_attr(feature = "schema", schemars(with = "Option<ViaName>"))]
    pub(crate) expect_via: Option<Spanned<String>>,
    /// The guard that escalated or rejected the step.
    #[cfg_attr(feature = "schema", schemars(with = "Option<String>"))]
    pub(crate) expect_guard: Option<Spanned<String>>,
    /// Whether a guard rejects the step.
    #[cfg_attr(feature = "schema", schemars(with = "Option<bool>"))]
    pub(crate) expect_rejected: Option<Spanned<bool>>,
}

/// `[tags] NAME = { type = …, values = […] }`.
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "schema", schemars(rename = "TagDeclaration"))]
pub(crate) struct RawTagDecl {
    /// The tag's type: "string", "number" or "bool".
    #[serde(rename = "type")]
    #[cfg_attr(feature = "schema", schemars(with = "TagTypeName"))]
    pub(crate) kind: Spanned<String>,
    /// The values the tag may take.
    #[cfg_attr(feature = "schema", schemars(with = "Option<Vec<TagValueSchema>>"))]
    pub(crate) values: Option<Vec<Spanned<toml::Value>>>,
    /// Free text.
    // Accepted so a file may describe it; nothing reads it.
    #[allow(dead_code)]
    pub(crate) description: Option<String>,
}

/// `[budget]`: hard caps on what calls may cost, in USD.
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "schema", schemars(rename = "Budget"))]
pub(crate) struct RawBudget {
    /// Cap on the calls of one trace (steps with the same `trace_id`), in USD.
    #[cfg_attr(feature = "schema", schemars(with = "Option<f64>"))]
    pub(crate) per_trace_usd: Option<Spanned<f64>>,
    /// Cap on the calls of this workload per UTC day, in USD.
    #[cfg_attr(feature = "schema", schemars(with = "Option<f64>"))]
    pub(crate) per_workload_day_usd: Option<Spanned<f64>>,
    /// Cap on one call's worst case, in USD.
    #[cfg_attr(feature = "schema", schemars(with = "Option<f64>"))]
    pub(crate) per_call_usd: Option<Spanned<f64>>,
    /// What a call that would cross a cap does: "reject" it (the default), or "downgrade"
    /// to the cheapest tier that fits and satisfies the guards.
    #[cfg_attr(feature = "schema", schemars(with = "Option<OnExceedName>"))]
    pub(crate) on_exceed: Option<Spanned<String>>,
}

/// The values `on_exceed` accepts.
#[cfg(feature = "schema")]
#[derive(schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
#[allow(dead_code)] // only its schema is used
pub(crate) enum OnExceedName {
    /// Refuse the call with an error.
    Reject,
    /// Route it to the cheapest tier that fits and satisfies the guards.
    Downgrade,
}
