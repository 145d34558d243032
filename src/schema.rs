//! The JSON Schema (draft-07) of a policy file, printed by `switchyard schema` for editors
//! (Taplo / Even Better TOML) and CI. It is generated from the serde types the loader parses
//! with (`policy::raw`), so a key the parser takes is a key the schema takes; the values those
//! types keep as untyped TOML (roles, tag conditions, test steps) are described by the marker
//! types of `policy::schema_names`, and names the loader checks against a list (providers,
//! tokenizers) reuse that list.

use schemars::generate::SchemaSettings;
use serde_json::{Map, Value};

use crate::policy::raw::RawFile;

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
