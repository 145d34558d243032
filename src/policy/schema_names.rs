//! JSON Schema for the values the raw policy model keeps untyped (roles, tag conditions, test
//! steps) or checks against a list (providers, tokenizers, `expect_via`): marker types whose
//! schema is written by hand. They live beside `raw` so the policy layer never names the
//! `schema` module above it; `crate::schema` only assembles the document.

use std::borrow::Cow;

use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde_json::Value;

use super::{Provider, Tokenizer, EXPECT_VIA_NAMES};
use crate::step::StepWire;

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

marker! {
    /// `expect_via`: the ways a decision is made.
    ViaName => serde_json::json!({ "type": "string", "enum": EXPECT_VIA_NAMES })
}

marker! {
    /// `[tags].NAME.type`.
    TagTypeName => serde_json::json!({ "type": "string", "enum": ["string", "number", "bool"] })
}

/// The step object, generated from the step's wire type (the type steps are read with), plus
/// what serde cannot say: a step gives `input_tokens`, or a `prompt` to count.
fn test_step() -> Value {
    let mut step = schemars::generate::SchemaSettings::draft07()
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
