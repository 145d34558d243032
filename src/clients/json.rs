//! Small helpers for reading wire JSON with errors that name the path of the bad field.

use serde_json::{Map, Value};

use super::error::CallError;

/// Which side of a call is being read: a caller's request or a provider's answer. It picks
/// the error kind for a malformed field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Side {
    /// A request in a provider's format (as a proxy receives it).
    Request,
    /// A provider's answer.
    Response,
}

impl Side {
    /// The error for a field that is there but malformed.
    pub(crate) fn bad(self, path: &str, expected: &str) -> CallError {
        let message = format!("`{path}`: expected {expected}");
        match self {
            Side::Request => CallError::InvalidRequest(message),
            Side::Response => CallError::InvalidResponse(message),
        }
    }
}

/// The value as an object.
pub(crate) fn object<'a>(
    side: Side,
    value: &'a Value,
    path: &str,
) -> Result<&'a Map<String, Value>, CallError> {
    value.as_object().ok_or_else(|| side.bad(path, "an object"))
}

/// The value as an array.
pub(crate) fn array<'a>(
    side: Side,
    value: &'a Value,
    path: &str,
) -> Result<&'a [Value], CallError> {
    value
        .as_array()
        .map(Vec::as_slice)
        .ok_or_else(|| side.bad(path, "an array"))
}

/// A required string field.
pub(crate) fn string(
    side: Side,
    obj: &Map<String, Value>,
    key: &str,
    path: &str,
) -> Result<String, CallError> {
    match obj.get(key) {
        Some(Value::String(s)) => Ok(s.clone()),
        _ => Err(side.bad(&format!("{path}.{key}"), "a string")),
    }
}

/// An optional string field (`null` counts as absent).
pub(crate) fn opt_string(
    side: Side,
    obj: &Map<String, Value>,
    key: &str,
    path: &str,
) -> Result<Option<String>, CallError> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(side.bad(&format!("{path}.{key}"), "a string")),
    }
}

/// An optional unsigned integer field (`null` counts as absent).
pub(crate) fn opt_u64(
    side: Side,
    obj: &Map<String, Value>,
    key: &str,
    path: &str,
) -> Result<Option<u64>, CallError> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_u64()
            .map(Some)
            .ok_or_else(|| side.bad(&format!("{path}.{key}"), "an integer >= 0")),
    }
}

/// An optional number field (`null` counts as absent).
pub(crate) fn opt_f64(
    side: Side,
    obj: &Map<String, Value>,
    key: &str,
    path: &str,
) -> Result<Option<f64>, CallError> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_f64()
            .map(Some)
            .ok_or_else(|| side.bad(&format!("{path}.{key}"), "a number")),
    }
}

/// Refuses any non-null key of `obj` outside `known`: a field the canonical shape cannot
/// carry is an error naming it, never silently dropped.
pub(crate) fn only_keys(
    obj: &Map<String, Value>,
    known: &[&str],
    path: &str,
    format: &'static str,
) -> Result<(), CallError> {
    for (key, value) in obj {
        if !value.is_null() && !known.contains(&key.as_str()) {
            return Err(CallError::UnsupportedParameter {
                field: format!("{path}.{key}"),
                format,
            });
        }
    }
    Ok(())
}

/// Text content: a string, or an array of `{"type": "text", "text": …}` parts.
pub(crate) fn text_parts(
    side: Side,
    value: &Value,
    path: &str,
    format: &'static str,
) -> Result<Vec<String>, CallError> {
    match value {
        Value::Null => Ok(Vec::new()),
        Value::String(s) => Ok(vec![s.clone()]),
        Value::Array(items) => {
            let mut out = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                let p = format!("{path}[{i}]");
                let obj = object(side, item, &p)?;
                let kind = string(side, obj, "type", &p)?;
                if kind != "text" {
                    return Err(CallError::UnsupportedParameter {
                        field: format!("{p} ({kind})"),
                        format,
                    });
                }
                only_keys(obj, &["type", "text"], &p, format)?;
                out.push(string(side, obj, "text", &p)?);
            }
            Ok(out)
        }
        _ => Err(side.bad(path, "a string or an array of text parts")),
    }
}

/// Text as a string when there is one part, an array of text parts otherwise, so that the
/// canonical parts come back unchanged.
pub(crate) fn text_value(texts: &[&str]) -> Value {
    if texts.len() == 1 {
        Value::String(texts[0].to_owned())
    } else {
        Value::Array(
            texts
                .iter()
                .map(|t| serde_json::json!({"type": "text", "text": t}))
                .collect(),
        )
    }
}
