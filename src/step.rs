//! `Step`: the features of one agent step that rules can see, and parsing a step from JSON
//! with errors that name the field and say what was expected.

use std::collections::BTreeMap;
use std::fmt;

use serde_json::{Map, Value};

/// The value of one workload-specific tag: a string, a number or a bool.
///
/// A value only ever matches a condition of its own type: `1` is not `true`, `"1"` is not `1`.
#[derive(Debug, Clone, PartialEq)]
pub enum TagValue {
    /// A string tag, such as `jurisdiction = "EU"`.
    Str(String),
    /// A number tag (integers and floats are both numbers).
    Num(f64),
    /// A boolean tag.
    Bool(bool),
}

impl From<&str> for TagValue {
    fn from(s: &str) -> Self {
        TagValue::Str(s.to_owned())
    }
}
impl From<String> for TagValue {
    fn from(s: String) -> Self {
        TagValue::Str(s)
    }
}
impl From<f64> for TagValue {
    fn from(n: f64) -> Self {
        TagValue::Num(n)
    }
}
impl From<i64> for TagValue {
    fn from(n: i64) -> Self {
        TagValue::Num(n as f64)
    }
}
impl From<bool> for TagValue {
    fn from(b: bool) -> Self {
        TagValue::Bool(b)
    }
}

impl TagValue {
    /// The tag as JSON, with whole numbers written as integers.
    pub fn to_json(&self) -> Value {
        match self {
            TagValue::Str(s) => Value::String(s.clone()),
            TagValue::Bool(b) => Value::Bool(*b),
            TagValue::Num(n) => number_to_json(*n),
        }
    }
}

pub(crate) fn number_to_json(n: f64) -> Value {
    if n.fract() == 0.0 && n.abs() < 9.0e15 {
        Value::from(n as i64)
    } else {
        serde_json::Number::from_f64(n).map_or(Value::Null, Value::Number)
    }
}

/// One agent step: what it does and the features a rule can look at.
///
/// Build one with [`Step::new`] and the builder methods, or parse it from JSON with
/// [`Step::from_json`].
///
/// ```
/// use switchyard::Step;
/// let step = Step::new("summarize").input_tokens(12_000).tag("jurisdiction", "EU");
/// assert_eq!(step.role, "summarize");
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Step {
    /// What the step does: `format`, `summarize`, `extract`, `plan`, `reason`, …
    pub role: String,
    /// Tokens of context sent; when `None`, `prompt` is counted with the policy's tokenizer.
    pub input_tokens: Option<u64>,
    /// The prompt text, counted when `input_tokens` is not given.
    pub prompt: Option<String>,
    /// Expected output tokens, used only for the cost estimate.
    pub expected_output_tokens: Option<u64>,
    /// The step asks for chain-of-thought reasoning.
    pub needs_chain_of_thought: bool,
    /// The step's output must be JSON.
    pub output_must_be_json: bool,
    /// The step reads outside text: email, web pages, uploaded files.
    pub untrusted_input: bool,
    /// Length of the dependent tool-call chain so far (the horizon).
    pub dependent_tool_calls: u64,
    /// Workload-specific features.
    pub tags: BTreeMap<String, TagValue>,
    /// Picks the policy in a policy set (the policy's `[policy].name`).
    pub workload: Option<String>,
    /// Carried into decisions and call records.
    pub trace_id: Option<String>,
}

/// Why a step could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct StepError {
    /// A sentence a person can act on, naming the field and what was expected.
    pub message: String,
}

impl StepError {
    fn new(message: impl Into<String>) -> Self {
        StepError {
            message: message.into(),
        }
    }
}

/// Every top-level field a step may have, in the order of the format's table.
pub const STEP_FIELDS: &[&str] = &[
    "role",
    "input_tokens",
    "prompt",
    "expected_output_tokens",
    "needs_chain_of_thought",
    "output_must_be_json",
    "untrusted_input",
    "dependent_tool_calls",
    "tags",
    "workload",
    "trace_id",
];

impl Step {
    /// A step with the given role and every other feature at its default.
    pub fn new(role: impl Into<String>) -> Self {
        Step {
            role: role.into(),
            ..Step::default()
        }
    }

    /// Sets the input token count.
    pub fn input_tokens(mut self, n: u64) -> Self {
        self.input_tokens = Some(n);
        self
    }

    /// Sets the prompt text (counted when no input token count is given).
    pub fn prompt(mut self, text: impl Into<String>) -> Self {
        self.prompt = Some(text.into());
        self
    }

    /// Sets the expected output tokens, for the cost estimate.
    pub fn expected_output_tokens(mut self, n: u64) -> Self {
        self.expected_output_tokens = Some(n);
        self
    }

    /// Sets the chain-of-thought flag.
    pub fn needs_chain_of_thought(mut self, yes: bool) -> Self {
        self.needs_chain_of_thought = yes;
        self
    }

    /// Sets the JSON-output flag.
    pub fn output_must_be_json(mut self, yes: bool) -> Self {
        self.output_must_be_json = yes;
        self
    }

    /// Marks the step as reading untrusted outside text.
    pub fn untrusted_input(mut self, yes: bool) -> Self {
        self.untrusted_input = yes;
        self
    }

    /// Sets the length of the dependent tool-call chain.
    pub fn dependent_tool_calls(mut self, n: u64) -> Self {
        self.dependent_tool_calls = n;
        self
    }

    /// Adds a tag.
    pub fn tag(mut self, key: impl Into<String>, value: impl Into<TagValue>) -> Self {
        self.tags.insert(key.into(), value.into());
        self
    }

    /// Names the workload (the policy) in a policy set.
    pub fn workload(mut self, name: impl Into<String>) -> Self {
        self.workload = Some(name.into());
        self
    }

    /// Sets the trace id carried into the decision.
    pub fn trace_id(mut self, id: impl Into<String>) -> Self {
        self.trace_id = Some(id.into());
        self
    }

    /// Parses one step from a JSON object.
    ///
    /// Unknown fields are errors (a typo such as `needs_cot` must not silently route cheap),
    /// and so are a missing role, wrong types, negative counts and non-scalar tags.
    pub fn from_json(text: &str) -> Result<Step, StepError> {
        if text.trim().is_empty() {
            return Err(StepError::new(
                "expected a step (a JSON object), found a blank line",
            ));
        }
        let value: Value = serde_json::from_str(text).map_err(|e| {
            StepError::new(format!(
                "not valid JSON at column {}: {}",
                e.column(),
                strip_position(&e.to_string())
            ))
        })?;
        Step::from_value(&value)
    }

    /// Builds a step from an already-parsed JSON value (see [`Step::from_json`]).
    pub fn from_value(value: &Value) -> Result<Step, StepError> {
        let Value::Object(map) = value else {
            return Err(StepError::new(format!(
                "expected a step as a JSON object, found {}",
                describe(value)
            )));
        };
        let mut step = Step::default();
        for key in map.keys() {
            if !STEP_FIELDS.contains(&key.as_str()) {
                let hint = crate::suggest::did_you_mean(key, STEP_FIELDS.iter().copied())
                    .map(|s| format!(" (did you mean `{s}`?)"))
                    .unwrap_or_default();
                return Err(StepError::new(format!(
                    "unknown field `{key}`{hint}; a step has the fields {}",
                    STEP_FIELDS.join(", ")
                )));
            }
        }
        step.role = match map.get("role") {
            None => return Err(StepError::new(
                "missing field `role`: every step needs a role, such as \"format\" or \"reason\"",
            )),
            Some(Value::String(s)) if !s.is_empty() => s.clone(),
            Some(Value::String(_)) => {
                return Err(StepError::new("field `role`: expected a non-empty string"))
            }
            Some(other) => {
                return Err(StepError::new(format!(
                    "field `role`: expected a string, found {}",
                    describe(other)
                )))
            }
        };
        step.input_tokens = count(map, "input_tokens")?;
        step.prompt = string(map, "prompt")?;
        step.expected_output_tokens = count(map, "expected_output_tokens")?;
        step.needs_chain_of_thought = flag(map, "needs_chain_of_thought")?;
        step.output_must_be_json = flag(map, "output_must_be_json")?;
        step.untrusted_input = flag(map, "untrusted_input")?;
        step.dependent_tool_calls = count(map, "dependent_tool_calls")?.unwrap_or(0);
        step.workload = string(map, "workload")?;
        step.trace_id = string(map, "trace_id")?;
        if step.input_tokens.is_none() && step.prompt.is_none() {
            return Err(StepError::new(
                "missing field `input_tokens`: give the token count, or a `prompt` to count",
            ));
        }
        match map.get("tags") {
            None | Some(Value::Null) => {}
            Some(Value::Object(tags)) => {
                for (k, v) in tags {
                    let tv = match v {
                        Value::String(s) => TagValue::Str(s.clone()),
                        Value::Bool(b) => TagValue::Bool(*b),
                        Value::Number(n) => match n.as_f64() {
                            Some(f) if f.is_finite() => TagValue::Num(f),
                            _ => {
                                return Err(StepError::new(format!(
                                    "tag `{k}`: the number {n} is out of range"
                                )))
                            }
                        },
                        other => {
                            return Err(StepError::new(format!(
                                "tag `{k}`: expected a string, number or bool, found {}",
                                describe(other)
                            )))
                        }
                    };
                    step.tags.insert(k.clone(), tv);
                }
            }
            Some(other) => {
                return Err(StepError::new(format!(
                    "field `tags`: expected an object of tag names to values, found {}",
                    describe(other)
                )))
            }
        }
        Ok(step)
    }

    /// The step as JSON, with only the fields that are set (the inverse of [`Step::from_json`]).
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("role".into(), Value::String(self.role.clone()));
        if let Some(n) = self.input_tokens {
            m.insert("input_tokens".into(), n.into());
        }
        if let Some(p) = &self.prompt {
            m.insert("prompt".into(), Value::String(p.clone()));
        }
        if let Some(n) = self.expected_output_tokens {
            m.insert("expected_output_tokens".into(), n.into());
        }
        for (name, on) in [
            ("needs_chain_of_thought", self.needs_chain_of_thought),
            ("output_must_be_json", self.output_must_be_json),
            ("untrusted_input", self.untrusted_input),
        ] {
            if on {
                m.insert(name.into(), Value::Bool(true));
            }
        }
        if self.dependent_tool_calls > 0 {
            m.insert(
                "dependent_tool_calls".into(),
                self.dependent_tool_calls.into(),
            );
        }
        if !self.tags.is_empty() {
            let tags = self
                .tags
                .iter()
                .map(|(k, v)| (k.clone(), v.to_json()))
                .collect();
            m.insert("tags".into(), Value::Object(tags));
        }
        if let Some(w) = &self.workload {
            m.insert("workload".into(), Value::String(w.clone()));
        }
        if let Some(t) = &self.trace_id {
            m.insert("trace_id".into(), Value::String(t.clone()));
        }
        Value::Object(m)
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.to_json())
    }
}

/// serde_json appends " at line L column C"; we report the column ourselves.
fn strip_position(msg: &str) -> &str {
    msg.find(" at line ").map_or(msg, |i| &msg[..i])
}

/// Names a JSON value's type and shows it, for error messages.
pub(crate) fn describe(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => format!("the bool {b}"),
        Value::Number(n) => format!("the number {n}"),
        Value::String(s) => format!("the string {s:?}"),
        Value::Array(_) => "an array".into(),
        Value::Object(_) => "an object".into(),
    }
}

fn count(map: &Map<String, Value>, field: &str) -> Result<Option<u64>, StepError> {
    match map.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => {
            if let Some(u) = n.as_u64() {
                Ok(Some(u))
            } else if n.as_i64().is_some_and(|i| i < 0) || n.as_f64().is_some_and(|f| f < 0.0) {
                Err(StepError::new(format!(
                    "field `{field}`: expected an integer >= 0, found the negative number {n}"
                )))
            } else {
                Err(StepError::new(format!(
                    "field `{field}`: expected an integer >= 0, found {n}"
                )))
            }
        }
        Some(other) => Err(StepError::new(format!(
            "field `{field}`: expected an integer >= 0, found {}",
            describe(other)
        ))),
    }
}

fn flag(map: &Map<String, Value>, field: &str) -> Result<bool, StepError> {
    match map.get(field) {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(other) => Err(StepError::new(format!(
            "field `{field}`: expected true or false, found {}",
            describe(other)
        ))),
    }
}

fn string(map: &Map<String, Value>, field: &str) -> Result<Option<String>, StepError> {
    match map.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(StepError::new(format!(
            "field `{field}`: expected a string, found {}",
            describe(other)
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_full_step() {
        let s = Step::from_json(
            r#"{"role":"reason","input_tokens":9000,"expected_output_tokens":100,
                "needs_chain_of_thought":true,"untrusted_input":true,"dependent_tool_calls":3,
                "tags":{"j":"EU","v":2.5,"vip":true},"workload":"w","trace_id":"t1"}"#,
        )
        .unwrap();
        assert_eq!(s.role, "reason");
        assert_eq!(s.input_tokens, Some(9000));
        assert_eq!(s.tags["v"], TagValue::Num(2.5));
        assert_eq!(Step::from_value(&s.to_json()).unwrap(), s);
    }

    #[test]
    fn rejects_typos_with_a_hint() {
        let e =
            Step::from_json(r#"{"role":"plan","input_tokens":1,"needs_cot":true}"#).unwrap_err();
        assert!(e.message.contains("unknown field `needs_cot`"), "{e}");
    }

    #[test]
    fn rejects_bad_values() {
        for (text, want) in [
            (r#"{"input_tokens":1}"#, "missing field `role`"),
            (r#"{"role":"x","input_tokens":-5}"#, "negative"),
            (r#"{"role":"x","input_tokens":1.5}"#, "integer >= 0"),
            (r#"{"role":"x"}"#, "input_tokens"),
            (
                r#"{"role":"x","input_tokens":1,"tags":{"a":[1]}}"#,
                "tag `a`",
            ),
            (
                r#"{"role":"x","input_tokens":1,"untrusted_input":"yes"}"#,
                "true or false",
            ),
            ("", "blank line"),
            ("{", "not valid JSON"),
            ("[1]", "JSON object"),
        ] {
            let e = Step::from_json(text).unwrap_err();
            assert!(e.message.contains(want), "{text}: {e}");
        }
    }
}
