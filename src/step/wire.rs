//! The step's one JSON shape: [`StepWire`], a serde type used to read steps (borrowing the
//! line's strings where it can), to write them, and to describe them in the policy schema.
//!
//! serde refuses unknown and duplicate fields; each field's deserializer says what it expected
//! in the step's own words, and [`step_error`] turns serde's remaining messages (unknown,
//! duplicate and missing fields) into the same friendly sentences.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize, Serializer};

use super::{Step, StepError, TagValue, STEP_FIELDS};

/// One step exactly as it is written in JSON. [`StepWire::into_step`] checks what serde
/// cannot (a role that is empty, a step with neither `input_tokens` nor `prompt`).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct StepWire<'a> {
    /// What the step does.
    #[serde(borrow, deserialize_with = "role")]
    #[cfg_attr(feature = "schema", schemars(with = "String", length(min = 1)))]
    pub role: Cow<'a, str>,
    /// Tokens of context sent.
    #[serde(
        default,
        deserialize_with = "input_tokens",
        skip_serializing_if = "Option::is_none"
    )]
    #[cfg_attr(feature = "schema", schemars(with = "Option<u64>"))]
    pub input_tokens: Option<u64>,
    /// The prompt text.
    #[serde(
        borrow,
        default,
        deserialize_with = "prompt",
        skip_serializing_if = "Option::is_none"
    )]
    #[cfg_attr(feature = "schema", schemars(with = "Option<String>"))]
    pub prompt: Option<Cow<'a, str>>,
    /// Expected output tokens.
    #[serde(
        default,
        deserialize_with = "expected_output_tokens",
        skip_serializing_if = "Option::is_none"
    )]
    #[cfg_attr(feature = "schema", schemars(with = "Option<u64>"))]
    pub expected_output_tokens: Option<u64>,
    /// The step asks for chain-of-thought reasoning.
    #[serde(
        default,
        deserialize_with = "needs_chain_of_thought",
        skip_serializing_if = "is_false"
    )]
    #[cfg_attr(feature = "schema", schemars(with = "Option<bool>"))]
    pub needs_chain_of_thought: bool,
    /// The step's output must be JSON.
    #[serde(
        default,
        deserialize_with = "output_must_be_json",
        skip_serializing_if = "is_false"
    )]
    #[cfg_attr(feature = "schema", schemars(with = "Option<bool>"))]
    pub output_must_be_json: bool,
    /// The step reads outside text.
    #[serde(
        default,
        deserialize_with = "untrusted_input",
        skip_serializing_if = "is_false"
    )]
    #[cfg_attr(feature = "schema", schemars(with = "Option<bool>"))]
    pub untrusted_input: bool,
    /// Length of the dependent tool-call chain.
    #[serde(
        default,
        deserialize_with = "dependent_tool_calls",
        skip_serializing_if = "is_zero"
    )]
    #[cfg_attr(feature = "schema", schemars(with = "Option<u64>"))]
    pub dependent_tool_calls: u64,
    /// Workload-specific features.
    #[serde(
        borrow,
        default,
        deserialize_with = "tags",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    #[cfg_attr(
        feature = "schema",
        schemars(with = "Option<BTreeMap<String, TagValueSchema>>")
    )]
    pub tags: BTreeMap<Cow<'a, str>, TagValue>,
    /// Picks the policy in a policy set.
    #[serde(
        borrow,
        default,
        deserialize_with = "workload",
        skip_serializing_if = "Option::is_none"
    )]
    #[cfg_attr(feature = "schema", schemars(with = "Option<String>"))]
    pub workload: Option<Cow<'a, str>>,
    /// Carried into decisions and call records.
    #[serde(
        borrow,
        default,
        deserialize_with = "trace_id",
        skip_serializing_if = "Option::is_none"
    )]
    #[cfg_attr(feature = "schema", schemars(with = "Option<String>"))]
    pub trace_id: Option<Cow<'a, str>>,
}

fn is_false(b: &bool) -> bool {
    !*b
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl<'a> StepWire<'a> {
    /// The step, once the checks serde cannot make hold.
    pub fn into_step(self) -> Result<Step, StepError> {
        if self.input_tokens.is_none() && self.prompt.is_none() {
            return Err(StepError::new(
                "missing field `input_tokens`: give the token count, or a `prompt` to count",
            ));
        }
        Ok(Step {
            role: self.role.as_ref().into(),
            input_tokens: self.input_tokens,
            prompt: self.prompt.map(Cow::into_owned),
            expected_output_tokens: self.expected_output_tokens,
            needs_chain_of_thought: self.needs_chain_of_thought,
            output_must_be_json: self.output_must_be_json,
            untrusted_input: self.untrusted_input,
            dependent_tool_calls: self.dependent_tool_calls,
            tags: self
                .tags
                .into_iter()
                .map(|(k, v)| (k.into_owned(), v))
                .collect(),
            workload: self.workload.map(Cow::into_owned),
            trace_id: self.trace_id.map(Cow::into_owned),
            role_id: None,
        })
    }
}

impl<'a> From<&'a Step> for StepWire<'a> {
    fn from(s: &'a Step) -> Self {
        StepWire {
            role: Cow::Borrowed(&s.role),
            input_tokens: s.input_tokens,
            prompt: s.prompt.as_deref().map(Cow::Borrowed),
            expected_output_tokens: s.expected_output_tokens,
            needs_chain_of_thought: s.needs_chain_of_thought,
            output_must_be_json: s.output_must_be_json,
            untrusted_input: s.untrusted_input,
            dependent_tool_calls: s.dependent_tool_calls,
            tags: s
                .tags
                .iter()
                .map(|(k, v)| (Cow::Borrowed(k.as_str()), v.clone()))
                .collect(),
            workload: s.workload.as_deref().map(Cow::Borrowed),
            trace_id: s.trace_id.as_deref().map(Cow::Borrowed),
        }
    }
}

/// Whole numbers are written as integers, as a person would write them.
impl Serialize for TagValue {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            TagValue::Str(v) => s.serialize_str(v),
            TagValue::Bool(b) => s.serialize_bool(*b),
            TagValue::Num(n) => match super::whole_number(*n) {
                Some(i) => s.serialize_i64(i),
                None => s.serialize_f64(*n),
            },
        }
    }
}

/// The schema of a tag's value: a string, a number or a bool.
#[cfg(feature = "schema")]
struct TagValueSchema;

#[cfg(feature = "schema")]
impl schemars::JsonSchema for TagValueSchema {
    fn inline_schema() -> bool {
        true
    }
    fn schema_name() -> Cow<'static, str> {
        Cow::Borrowed("TagValue")
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({ "type": ["string", "number", "boolean"] })
    }
}

/// Turns a serde error about a step into the sentence a person reads. `column` is where
/// serde stopped, when it read text.
pub(super) fn step_error(e: &serde_json::Error) -> StepError {
    let full = e.to_string();
    let msg = full.find(" at line ").map_or(full.as_str(), |i| &full[..i]);
    if e.is_syntax() || e.is_eof() {
        return StepError::new(format!("not valid JSON at column {}: {msg}", e.column()));
    }
    if let Some(field) = quoted_after(msg, "unknown field `") {
        let hint = crate::suggest::did_you_mean(field, STEP_FIELDS.iter().copied())
            .map(|s| format!(" (did you mean `{s}`?)"))
            .unwrap_or_default();
        return StepError::new(format!(
            "unknown field `{field}`{hint}; a step has the fields {}",
            STEP_FIELDS.join(", ")
        ));
    }
    if let Some(field) = quoted_after(msg, "duplicate field `") {
        return StepError::new(format!(
            "duplicate field `{field}`: a step gives each field once"
        ));
    }
    if msg.starts_with("missing field `role`") {
        return StepError::new(
            "missing field `role`: every step needs a role, such as \"format\" or \"reason\"",
        );
    }
    StepError::new(msg)
}

/// The name between `prefix` and the next backquote, when `msg` starts with `prefix`.
fn quoted_after<'m>(msg: &'m str, prefix: &str) -> Option<&'m str> {
    let rest = msg.strip_prefix(prefix)?;
    rest.find('`').map(|i| &rest[..i])
}

/// What a field's value turned out to be, in an error message's words.
enum Found {
    Bool(bool),
    Int(i64),
    Uint(u64),
    Float(f64),
    Str(String),
    Null,
    Array,
    Object,
}

impl fmt::Display for Found {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Found::Bool(b) => write!(f, "the bool {b}"),
            Found::Int(n) => write!(f, "the number {n}"),
            Found::Uint(n) => write!(f, "the number {n}"),
            Found::Float(n) => write!(f, "the number {}", float(*n)),
            Found::Str(s) => write!(f, "the string {s:?}"),
            Found::Null => f.write_str("null"),
            Found::Array => f.write_str("an array"),
            Found::Object => f.write_str("an object"),
        }
    }
}

/// A float as JSON writes it (`2.0`, not Rust's `2`).
fn float(n: f64) -> String {
    serde_json::Number::from_f64(n).map_or_else(|| n.to_string(), |x| x.to_string())
}

/// One JSON value of a field, borrowed when the text allows.
enum Scalar<'de> {
    Found(Found),
    Str(Cow<'de, str>),
}

struct ScalarVisitor;

impl<'de> Visitor<'de> for ScalarVisitor {
    type Value = Scalar<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Self::Value, E> {
        Ok(Scalar::Found(Found::Bool(v)))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Scalar::Found(Found::Int(v)))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Scalar::Found(Found::Uint(v)))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Self::Value, E> {
        Ok(Scalar::Found(Found::Float(v)))
    }
    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Scalar::Str(Cow::Borrowed(v)))
    }
    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Scalar::Str(Cow::Owned(v.to_owned())))
    }
    fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
        Ok(Scalar::Str(Cow::Owned(v)))
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(Scalar::Found(Found::Null))
    }
    fn visit_none<E>(self) -> Result<Self::Value, E> {
        Ok(Scalar::Found(Found::Null))
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
    // An array or object is only described in the error that follows; it is read through
    // (serde_json refuses a collection left half-read) but not kept.
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<de::IgnoredAny>()?.is_some() {}
        Ok(Scalar::Found(Found::Array))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map
            .next_entry::<de::IgnoredAny, de::IgnoredAny>()?
            .is_some()
        {}
        Ok(Scalar::Found(Found::Object))
    }
}

fn scalar<'de, D: Deserializer<'de>>(d: D) -> Result<Scalar<'de>, D::Error> {
    d.deserialize_any(ScalarVisitor)
}

fn found(s: Scalar<'_>) -> Found {
    match s {
        Scalar::Found(f) => f,
        Scalar::Str(s) => Found::Str(s.into_owned()),
    }
}

fn count<'de, D: Deserializer<'de>>(d: D, field: &str) -> Result<Option<u64>, D::Error> {
    let bad = |what: String| {
        de::Error::custom(format!(
            "field `{field}`: expected an integer >= 0, found {what}"
        ))
    };
    match scalar(d)? {
        Scalar::Found(Found::Null) => Ok(None),
        Scalar::Found(Found::Uint(n)) => Ok(Some(n)),
        Scalar::Found(Found::Int(n)) if n < 0 => Err(bad(format!("the negative number {n}"))),
        Scalar::Found(Found::Float(n)) if n < 0.0 => {
            Err(bad(format!("the negative number {}", float(n))))
        }
        Scalar::Found(Found::Float(n)) => Err(bad(float(n))),
        other => Err(bad(found(other).to_string())),
    }
}

fn flag<'de, D: Deserializer<'de>>(d: D, field: &str) -> Result<bool, D::Error> {
    match scalar(d)? {
        Scalar::Found(Found::Null) => Ok(false),
        Scalar::Found(Found::Bool(b)) => Ok(b),
        other => Err(de::Error::custom(format!(
            "field `{field}`: expected true or false, found {}",
            found(other)
        ))),
    }
}

fn text<'de, D: Deserializer<'de>>(d: D, field: &str) -> Result<Option<Cow<'de, str>>, D::Error> {
    match scalar(d)? {
        Scalar::Found(Found::Null) => Ok(None),
        Scalar::Str(s) => Ok(Some(s)),
        Scalar::Found(other) => Err(de::Error::custom(format!(
            "field `{field}`: expected a string, found {other}"
        ))),
    }
}

fn role<'de, D: Deserializer<'de>>(d: D) -> Result<Cow<'de, str>, D::Error> {
    match scalar(d)? {
        Scalar::Str(s) if !s.is_empty() => Ok(s),
        Scalar::Str(_) => Err(de::Error::custom(
            "field `role`: expected a non-empty string",
        )),
        Scalar::Found(other) => Err(de::Error::custom(format!(
            "field `role`: expected a string, found {other}"
        ))),
    }
}

/// One deserializer per field, so each error names its field.
macro_rules! fields {
    ($($name:ident: $kind:ident -> $ty:ty;)*) => {$(
        fn $name<'de, D: Deserializer<'de>>(d: D) -> Result<$ty, D::Error> {
            $kind(d, stringify!($name))
        }
    )*};
}

fields! {
    input_tokens: count -> Option<u64>;
    expected_output_tokens: count -> Option<u64>;
    needs_chain_of_thought: flag -> bool;
    output_must_be_json: flag -> bool;
    untrusted_input: flag -> bool;
    prompt: text -> Option<Cow<'de, str>>;
    workload: text -> Option<Cow<'de, str>>;
    trace_id: text -> Option<Cow<'de, str>>;
}

fn dependent_tool_calls<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    Ok(count(d, "dependent_tool_calls")?.unwrap_or(0))
}

type Tags<'de> = BTreeMap<Cow<'de, str>, TagValue>;

fn tags<'de, D: Deserializer<'de>>(d: D) -> Result<Tags<'de>, D::Error> {
    d.deserialize_any(TagsVisitor)
}

struct TagsVisitor;

impl<'de> Visitor<'de> for TagsVisitor {
    type Value = Tags<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object of tag names to values")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut tags = Tags::new();
        while let Some(key) = map.next_key::<TagName<'de>>()? {
            let key = key.0;
            let value = match map.next_value::<TagSeed>()?.0 {
                Scalar::Str(s) => TagValue::Str(s.into_owned()),
                Scalar::Found(Found::Bool(b)) => TagValue::Bool(b),
                Scalar::Found(Found::Uint(n)) => TagValue::Num(n as f64),
                Scalar::Found(Found::Int(n)) => TagValue::Num(n as f64),
                Scalar::Found(Found::Float(n)) if n.is_finite() => TagValue::Num(n),
                Scalar::Found(Found::Float(n)) => {
                    return Err(de::Error::custom(format!(
                        "tag `{key}`: the number {n} is out of range"
                    )))
                }
                Scalar::Found(other) => {
                    return Err(de::Error::custom(format!(
                        "tag `{key}`: expected a string, number or bool, found {other}"
                    )))
                }
            };
            // The last of two values silently winning would let a step say both.
            if tags.contains_key(&key) {
                return Err(de::Error::custom(format!(
                    "tag `{key}` is given twice: a step gives each tag once"
                )));
            }
            tags.insert(key, value);
        }
        Ok(tags)
    }

    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(Tags::new())
    }
    fn visit_none<E>(self) -> Result<Self::Value, E> {
        Ok(Tags::new())
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Err(not_tags(Found::Bool(v)))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Err(not_tags(Found::Int(v)))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Err(not_tags(Found::Uint(v)))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Err(not_tags(Found::Float(v)))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Err(not_tags(Found::Str(v.to_owned())))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, _: A) -> Result<Self::Value, A::Error> {
        Err(not_tags(Found::Array))
    }
}

fn not_tags<E: de::Error>(f: Found) -> E {
    E::custom(format!(
        "field `tags`: expected an object of tag names to values, found {f}"
    ))
}

/// A tag's name, borrowed from the line when it has no escapes.
struct TagName<'de>(Cow<'de, str>);

impl<'de> Deserialize<'de> for TagName<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match scalar(d)? {
            Scalar::Str(s) => Ok(TagName(s)),
            Scalar::Found(other) => Err(de::Error::custom(format!(
                "a tag name must be a string, found {other}"
            ))),
        }
    }
}

/// A tag's value, read as a scalar so the error can name the tag.
struct TagSeed<'de>(Scalar<'de>);

impl<'de> Deserialize<'de> for TagSeed<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        scalar(d).map(TagSeed)
    }
}
