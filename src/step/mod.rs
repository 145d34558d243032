//! `Step`: the features of one agent step that rules can see, and parsing a step from JSON
//! with errors that name the field and say what was expected.

use compact_str::CompactString;
use std::collections::BTreeMap;
use std::fmt;

use serde::Deserialize;
use serde_json::Value;

pub use wire::StepWire;

pub mod tokens;
mod wire;

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
    match whole_number(n) {
        Some(i) => Value::from(i),
        None => serde_json::Number::from_f64(n).map_or(Value::Null, Value::Number),
    }
}

/// A tag number that is whole and below 9e15 in magnitude, as an integer: how tags are
/// written out and how expressions see them (below 2^53, so converting back is exact, and
/// the round trip tests wholeness without a call to `trunc`).
#[inline]
pub(crate) fn whole_number(n: f64) -> Option<i64> {
    let i = n as i64;
    (n.abs() < 9.0e15 && i as f64 == n).then_some(i)
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
// Laid out by hand and aligned to a cache line: what a decision reads of every step sits in
// its first two lines. The first holds what a hand-written if-chain reads too (the role, the
// counts, the flags) and the role id; the second opens with the expected output (does the
// step fit the model?) and the workload (which policy?). Prompt, tags and trace id follow.
#[derive(Debug, Clone, Default, PartialEq)]
#[repr(C, align(64))]
pub struct Step {
    /// What the step does: `format`, `summarize`, `extract`, `plan`, `reason`, …
    ///
    /// Held in the step itself up to 24 bytes (a `String` would put it behind a pointer),
    /// so every decision reads it from the step's first cache line; it derefs to `&str`.
    pub role: CompactString,
    /// Tokens of context sent; when `None`, `prompt` is counted with the policy's tokenizer.
    pub input_tokens: Option<u64>,
    /// Length of the dependent tool-call chain so far (the horizon).
    pub dependent_tool_calls: u64,
    /// The role resolved once against a policy set ([`Step::role_id`]), so routing under that
    /// set never reads the role's text. Not part of the step's JSON.
    pub role_id: Option<RoleId>,
    /// The step asks for chain-of-thought reasoning.
    pub needs_chain_of_thought: bool,
    /// The step's output must be JSON.
    pub output_must_be_json: bool,
    /// The step reads outside text: email, web pages, uploaded files.
    pub untrusted_input: bool,
    /// Expected output tokens: what the step needs of a model's context window beside its
    /// input, and the cost estimate.
    pub expected_output_tokens: Option<u64>,
    /// Picks the policy in a policy set (the policy's `[policy].name`).
    pub workload: Option<String>,
    /// The prompt text, counted when `input_tokens` is not given.
    pub prompt: Option<String>,
    /// Workload-specific features.
    pub tags: BTreeMap<String, TagValue>,
    /// Carried into decisions and call records.
    pub trace_id: Option<String>,
}

/// A role resolved once against a policy set (`PolicySet::role_id`): a step that carries it
/// is routed under that set without hashing or comparing its role's text. Under any other
/// set it is ignored and the text is used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RoleId {
    /// The policy set it was made by.
    pub(crate) set: u32,
    /// The role's index among every role the set's policies name; their number for a role
    /// none names. For a set of one policy, the role's class in that policy's role column.
    pub(crate) index: u32,
}

impl RoleId {
    /// An id made by the set numbered `set`, for role `index` of that set.
    pub(crate) fn new(set: u32, index: u32) -> RoleId {
        RoleId { set, index }
    }
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
    pub fn new(role: impl AsRef<str>) -> Self {
        Step {
            role: CompactString::new(role.as_ref()),
            ..Step::default()
        }
    }

    /// Attaches the id of the step's role in a policy set (from `PolicySet::role_id` for
    /// this step's `role`): routing under that set then reads no text. The id must stand for
    /// the same role as the text, which expressions, explanations and logs still use.
    ///
    /// ```
    /// use switchyard::{PolicySet, Step};
    /// let set = PolicySet::load("policies/contract-review.toml").unwrap();
    /// let format = set.role_id("format");
    /// let step = Step::new("format").role_id(format).input_tokens(1200);
    /// assert_eq!(set.route(&step).unwrap().tier(), "cheap");
    /// ```
    pub fn role_id(mut self, id: RoleId) -> Self {
        self.role_id = Some(id);
        self
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
    /// and so are duplicate fields and tags, a missing role, wrong types, negative counts and
    /// non-scalar tags.
    pub fn from_json(text: &str) -> Result<Step, StepError> {
        if text.trim().is_empty() {
            return Err(StepError::new(
                "expected a step (a JSON object), found a blank line",
            ));
        }
        if !text.trim_start().starts_with('{') {
            return Err(not_an_object(serde_json::from_str(text)));
        }
        serde_json::from_str::<StepWire>(text)
            .map_err(|e| wire::step_error(&e))?
            .into_step()
    }

    /// Parses one step from the bytes of a line: [`Step::from_json`], after checking that
    /// the bytes are UTF-8 (a line that is not is an error, never patched with U+FFFD).
    pub fn from_json_slice(bytes: &[u8]) -> Result<Step, StepError> {
        match std::str::from_utf8(bytes) {
            Ok(text) => Step::from_json(text),
            Err(e) => Err(StepError::new(format!(
                "the line is not UTF-8 (an invalid byte at column {})",
                e.valid_up_to() + 1
            ))),
        }
    }

    /// Builds a step from an already-parsed JSON value (see [`Step::from_json`]).
    pub fn from_value(value: &Value) -> Result<Step, StepError> {
        if !value.is_object() {
            return Err(not_an_object(Ok(value.clone())));
        }
        StepWire::deserialize(value)
            .map_err(|e| wire::step_error(&e))?
            .into_step()
    }

    /// The step as JSON, with only the fields that are set (the inverse of [`Step::from_json`]).
    pub fn to_json(&self) -> Value {
        serde_json::to_value(StepWire::from(self)).unwrap_or(Value::Null)
    }
}

/// The error for a line that is not a JSON object: not JSON at all, or another value.
fn not_an_object(parsed: Result<Value, serde_json::Error>) -> StepError {
    match parsed {
        Ok(v) => StepError::new(format!(
            "expected a step as a JSON object, found {}",
            describe(&v)
        )),
        Err(e) => wire::step_error(&e),
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.to_json())
    }
}

/// Names a JSON value's type and shows it, for error messages.
fn describe(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => format!("the bool {b}"),
        Value::Number(n) => format!("the number {n}"),
        Value::String(s) => format!("the string {s:?}"),
        Value::Array(_) => "an array".into(),
        Value::Object(_) => "an object".into(),
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
            (
                r#"{"role":"x","input_tokens":1,"untrusted_input":true,"untrusted_input":false}"#,
                "duplicate field `untrusted_input`",
            ),
            (
                r#"{"role":"x","input_tokens":1,"tags":{"a":1,"a":2}}"#,
                "tag `a` is given twice",
            ),
        ] {
            let e = Step::from_json(text).unwrap_err();
            assert!(e.message.contains(want), "{text}: {e}");
        }
    }

    #[test]
    fn a_line_that_is_not_utf8_is_refused_not_patched() {
        let line = b"{\"role\":\"x\",\"input_tokens\":1,\"trace_id\":\"a\xffb\"}";
        let e = Step::from_json_slice(line).unwrap_err();
        assert!(e.message.contains("the line is not UTF-8"), "{e}");
        let ok = Step::from_json_slice(br#"{"role":"x","input_tokens":1}"#).unwrap();
        assert_eq!(ok, Step::new("x").input_tokens(1));
    }

    #[test]
    fn messages_name_the_field_and_what_was_found() {
        for (text, want) in [
            (
                r#"{"role":"plan","input_tokens":1,"needs_cot":true}"#,
                "unknown field `needs_cot` (did you mean `needs_chain_of_thought`?); a step has the fields role, input_tokens,",
            ),
            (r#"{"role":"x","input_tokens":-5}"#, "field `input_tokens`: expected an integer >= 0, found the negative number -5"),
            (r#"{"role":"x","input_tokens":1.5}"#, "field `input_tokens`: expected an integer >= 0, found 1.5"),
            (r#"{"role":"x","input_tokens":1,"untrusted_input":"yes"}"#, "field `untrusted_input`: expected true or false, found the string \"yes\""),
            (r#"{"role":"","input_tokens":1}"#, "field `role`: expected a non-empty string"),
            (r#"{"role":3,"input_tokens":1}"#, "field `role`: expected a string, found the number 3"),
            (r#"{"role":"x","input_tokens":1,"tags":{"a":{"b":1}}}"#, "tag `a`: expected a string, number or bool, found an object"),
            (r#"{"role":"x","input_tokens":1,"tags":[1]}"#, "field `tags`: expected an object of tag names to values, found an array"),
            (r#"{"role":"x","input_tokens":1,"workload":true}"#, "field `workload`: expected a string, found the bool true"),
            ("\"x\"", "expected a step as a JSON object, found the string \"x\""),
        ] {
            let e = Step::from_json(text).unwrap_err();
            assert!(e.message.starts_with(want), "{text}: {e}");
            assert!(!e.message.contains(" at line "), "{text}: {e}");
            assert_eq!(Step::from_value(&serde_json::from_str(text).unwrap()).map_err(|e| e.message.starts_with(want)), Err(true), "{text}");
        }
        let e = Step::from_json(r#"{"role":"x","input_tokens":1,"role":"y"}"#).unwrap_err();
        assert_eq!(
            e.message,
            "duplicate field `role`: a step gives each field once"
        );
    }

    #[test]
    fn nulls_are_absent_fields() {
        let s = Step::from_json(
            r#"{"role":"x","input_tokens":1,"prompt":null,"untrusted_input":null,"tags":null}"#,
        )
        .unwrap();
        assert_eq!(s, Step::new("x").input_tokens(1));
    }

    #[test]
    fn the_wire_type_writes_every_field_and_reads_it_back() {
        let s = Step::new("reason")
            .input_tokens(1)
            .prompt("p \"q\"")
            .expected_output_tokens(2)
            .needs_chain_of_thought(true)
            .output_must_be_json(true)
            .untrusted_input(true)
            .dependent_tool_calls(3)
            .tag("n", 2i64)
            .tag("f", 2.5)
            .workload("w")
            .trace_id("t");
        let json = s.to_json();
        let keys: Vec<&str> = json
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(keys, STEP_FIELDS);
        assert_eq!(json["tags"]["n"], serde_json::json!(2));
        assert_eq!(Step::from_json(&json.to_string()).unwrap(), s);
        assert_eq!(Step::from_value(&json).unwrap(), s);
    }

    #[test]
    fn strings_without_escapes_are_borrowed_from_the_line() {
        let line = r#"{"role":"reason","prompt":"hello","tags":{"j":"EU"}}"#;
        let w: StepWire = serde_json::from_str(line).unwrap();
        assert!(matches!(w.role, std::borrow::Cow::Borrowed(_)));
        assert!(matches!(w.prompt, Some(std::borrow::Cow::Borrowed(_))));
    }
}
