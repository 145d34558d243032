//! The policy file exactly as users write it: plain serde structs with spans, unknown keys
//! refused. Nothing here checks meaning; `validate` turns these into a [`super::Policy`].

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

/// A whole file: a policy, or a catalog holding only `[models]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFile {
    pub policy: Option<Spanned<RawHeader>>,
    #[serde(default)]
    pub models: BTreeMap<Spanned<String>, Spanned<RawModel>>,
    pub tiers: Option<Spanned<BTreeMap<Spanned<String>, Spanned<String>>>>,
    #[serde(default)]
    pub rules: Vec<Spanned<RawRule>>,
    #[serde(default)]
    pub guards: Vec<Spanned<RawGuard>>,
    #[serde(default)]
    pub tests: Vec<Spanned<RawTest>>,
    pub tags: Option<Spanned<BTreeMap<Spanned<String>, Spanned<RawTagDecl>>>>,
}

/// `[policy]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHeader {
    pub name: Spanned<String>,
    pub description: Option<String>,
    pub default_tier: Spanned<String>,
    pub on_expression_error: Option<Spanned<String>>,
    pub include: Option<Vec<Spanned<String>>>,
    pub tokenizer: Option<Spanned<String>>,
}

/// `[models.NAME]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawModel {
    pub provider: Spanned<String>,
    pub model_id: Option<String>,
    pub base_url: Option<String>,
    pub api_key_env: Option<Spanned<String>>,
    pub input_usd_per_mtok: Spanned<f64>,
    pub output_usd_per_mtok: Spanned<f64>,
    pub context_window: Option<Spanned<i64>>,
    pub max_output_tokens: Option<Spanned<i64>>,
    pub tokenizer: Option<Spanned<String>>,
    pub capabilities: Option<Vec<Spanned<String>>>,
    pub description: Option<String>,
}

/// `[[rules]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRule {
    pub name: Spanned<String>,
    pub description: Option<String>,
    pub when: Option<Spanned<RawWhen>>,
    pub tier: Spanned<String>,
}

/// A `when` table: every key given must hold.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawWhen {
    pub role: Option<Spanned<toml::Value>>,
    pub input_tokens: Option<Spanned<RawIntRange>>,
    pub dependent_tool_calls: Option<Spanned<RawIntRange>>,
    pub needs_chain_of_thought: Option<Spanned<bool>>,
    pub output_must_be_json: Option<Spanned<bool>>,
    pub untrusted_input: Option<Spanned<bool>>,
    pub tags: Option<BTreeMap<Spanned<String>, Spanned<toml::Value>>>,
    pub expr: Option<Spanned<String>>,
}

/// `{ gt, ge, lt, le }` over an integer field.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawIntRange {
    pub gt: Option<Spanned<i64>>,
    pub ge: Option<Spanned<i64>>,
    pub lt: Option<Spanned<i64>>,
    pub le: Option<Spanned<i64>>,
}

/// `[[guards]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawGuard {
    pub name: Spanned<String>,
    pub description: Option<String>,
    pub when: Option<Spanned<RawWhen>>,
    pub require: Spanned<Vec<Spanned<String>>>,
    pub escalate_to: Option<Spanned<String>>,
}

/// `[[tests]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTest {
    pub name: Spanned<String>,
    pub step: Spanned<toml::Value>,
    pub expect_tier: Option<Spanned<String>>,
    pub expect_rule: Option<Spanned<String>>,
    pub expect_model: Option<Spanned<String>>,
    pub expect_via: Option<Spanned<String>>,
    pub expect_guard: Option<Spanned<String>>,
    pub expect_rejected: Option<Spanned<bool>>,
}

/// `[tags] NAME = { type = …, values = […] }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTagDecl {
    #[serde(rename = "type")]
    pub kind: Spanned<String>,
    pub values: Option<Vec<Spanned<toml::Value>>>,
    pub description: Option<String>,
}
