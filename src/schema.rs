//! The JSON Schema (draft-07) of a policy file, printed by `switchyard schema` for editors
//! (Taplo / Even Better TOML) and CI. It is generated from the serde types the loader parses
//! with (`policy::raw`), so a key the parser takes is a key the schema takes; the values those
//! types keep as untyped TOML (roles, tag conditions, test steps) are described by the marker
//! types here, and names the loader checks against a list (providers, tokenizers) reuse that list.

use std::borrow::Cow;

use schemars::generate::SchemaSettings;
use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde_json::{Map, Value};

use crate::policy::raw::RawFile;
use crate::policy::{Provider, Tokenizer};
use crate::router::Via;
use crate::step::StepWire;

/// The policy file's JSON Schema (draft-07).
///
/// ```
/// let schema = switchyard::schema::policy_schema();
/// assert_eq!(schema["$schema"], "http://json-schema.org/draft-07/schema#");
/// assert_eq!(schema["additionalProperties"], false);
/// ```
pub fn policy_schema() -> Value {
    let schema = SchemaSettings::draft07()
        .into_generator()
        .into_root_schema_for::<RawFile>();
    let mut value = schema.to_value();
    // TOML has no null: an optional key is one left out, never one set to null.
    strip_null(&mut value);
    if let Value::Object(root) = &mut value {
        root.insert("title".into(), "switchyard policy".into());
    }
    value
}

/// The schema as pretty-printed JSON, ending in a newline.
pub fn policy_schema_text() -> String {
    let mut text =
        serde_json::to_string_pretty(&policy_schema()).expect("a JSON value always serializes");
    text.push('\n');
    text
}

/// Removes what `Option<T>` adds for JSON's null: `null` in a `type` list or an `enum`, and
/// a `{"type": "null"}` branch of an `anyOf`.
fn strip_null(v: &mut Value) {
    match v {
        Value::Object(map) => {
            if let Some(Value::Array(types)) = map.get_mut("type") {
                types.retain(|t| t != "null");
                if types.len() == 1 {
                    let only = types.remove(0);
                    map.insert("type".into(), only);
                }
            }
            if let Some(Value::Array(values)) = map.get_mut("enum") {
                values.retain(|v| !v.is_null());
            }
            if let Some(Value::Array(branches)) = map.get_mut("anyOf") {
                branches.retain(|b| b.get("type").and_then(Value::as_str) != Some("null"));
                if branches.len() == 1 {
                    // One branch left: it is the schema itself.
                    let only = branches.remove(0);
                    map.remove("anyOf");
                    merge_into(map, only);
                }
            }
            for child in map.values_mut() {
                strip_null(child);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(strip_null),
        _ => {}
    }
}

/// Merges the keys of `branch` into `map`. A `$ref` is wrapped in `allOf`, because draft-07
/// ignores the keys beside a `$ref` (such as a field's description).
fn merge_into(map: &mut Map<String, Value>, branch: Value) {
    let Value::Object(branch) = branch else {
        return;
    };
    if branch.contains_key("$ref") && !map.is_empty() {
        map.insert("allOf".into(), Value::Array(vec![Value::Object(branch)]));
    } else {
        for (k, val) in branch {
            map.entry(k).or_insert(val);
        }
    }
}

/// Declares a marker type whose schema is written by hand (inline, not a definition).
macro_rules! marker {
    ($(#[$doc:meta])* $name:ident => $schema:expr) => {
        $(#[$doc])*
        pub(crate) struct $name;

        impl JsonSchema for $name {
            fn inline_schema() -> bool {
                true
            }
            fn schema_name() -> Cow<'static, str> {
                Cow::Borrowed(stringify!($name))
            }
            fn json_schema(_: &mut SchemaGenerator) -> Schema {
                Schema::try_from($schema).expect("a marker's schema is an object")
            }
        }
    };
}

/// A tag value: a string, a number or a bool.
fn scalar() -> Value {
    serde_json::json!({ "type": ["string", "number", "boolean"] })
}

marker! {
    /// `when.role`: one role, or a list of them.
    RoleValue => serde_json::json!({
        "anyOf": [
            { "type": "string" },
            { "type": "array", "items": { "type": "string" } }
        ]
    })
}

marker! {
    /// A tag's value in `[tags].values`.
    TagValueSchema => scalar()
}

marker! {
    /// `when.tags.NAME`: a value, a list of values, or numeric bounds.
    TagConditionValue => serde_json::json!({
        "anyOf": [
            scalar(),
            { "type": "array", "items": scalar() },
            {
                "type": "object",
                "properties": {
                    "gt": { "type": "number" },
                    "ge": { "type": "number" },
                    "lt": { "type": "number" },
                    "le": { "type": "number" }
                },
                "additionalProperties": false
            }
        ]
    })
}

marker! {
    /// `[[tests]].step`: a step, with the fields `Step::from_value` takes.
    TestStep => test_step()
}

marker! {
    /// A tokenizer name, from the list the loader checks against.
    TokenizerName => serde_json::json!({ "type": "string", "enum": Tokenizer::NAMES })
}

marker! {
    /// A provider name, from the list the loader checks against.
    ProviderName => serde_json::json!({ "type": "string", "enum": Provider::NAMES })
}

/// Every way a decision is made.
const VIAS: [Via; 4] = [Via::Rule, Via::Default, Via::Guard, Via::ExpressionError];

marker! {
    /// `expect_via`: the ways a decision is made.
    ViaName => serde_json::json!({
        "type": "string",
        "enum": VIAS.map(Via::as_str)
    })
}

marker! {
    /// `[tags].NAME.type`.
    TagTypeName => serde_json::json!({ "type": "string", "enum": ["string", "number", "bool"] })
}

/// The step object, generated from the step's wire type (the type steps are read with), plus
/// what serde cannot say: a step gives `input_tokens`, or a `prompt` to count.
fn test_step() -> Value {
    let mut step = SchemaSettings::draft07()
        .into_generator()
        .into_root_schema_for::<StepWire>()
        .to_value();
    if let Value::Object(map) = &mut step {
        map.remove("$schema");
        map.remove("title");
        map.insert(
            "anyOf".into(),
            serde_json::json!([{ "required": ["input_tokens"] }, { "required": ["prompt"] }]),
        );
    }
    step
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn optional_keys_do_not_accept_null() {
        let text = policy_schema_text();
        assert!(!text.contains("\"null\""), "{text}");
    }

    #[test]
    fn markers_are_inline() {
        let schema = policy_schema();
        let defs = schema["definitions"].as_object().unwrap();
        assert!(defs.contains_key("Rule"));
        assert!(!defs.contains_key("RoleValue"));
    }
}
