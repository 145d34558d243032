//! [`RecordView`]: one call-log line read without copying — strings borrowed from the line,
//! the step kept as its raw JSON text and then read into a [`StepView`]. Everything here is
//! serde deserialization; what a line must look like is [`CallRecord`](super::CallRecord)'s
//! wire format, and [`parse_view`](super::read::parse_view) is the one place that decides it.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;

use super::record::{CallStatus, TokenSource};
use crate::money::{Picos, PicosPerToken};
use crate::router::Via;

/// A string from a log line, borrowed when it has no escapes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Text<'a>(pub Cow<'a, str>);

impl Text<'_> {
    /// The string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // `Cow<str>` alone always copies inside an `Option`; this borrows whenever it can.
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Text<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, s: &'de str) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Borrowed(s)))
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Owned(s.to_owned())))
            }
            fn visit_string<E: de::Error>(self, s: String) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Owned(s)))
            }
        }
        d.deserialize_str(V)
    }
}

/// A call record read without copying: the fields of [`CallRecord`](super::CallRecord), with
/// unknown and repeated fields refused the same way. `S` is how the step is read: its raw
/// text ([`RawRecord`]), which [`parse_view`](super::read::parse_view) then reads into
/// [`RecordView::step`], or straight into [`StepFields`] ([`PlainRecord`]).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Record<'a, S> {
    #[serde(borrow)]
    pub time: Text<'a>,
    #[serde(borrow)]
    pub trace_id: Option<Text<'a>>,
    #[serde(borrow)]
    pub policy: Text<'a>,
    #[serde(borrow)]
    pub policy_version: Text<'a>,
    pub step: S,
    #[serde(borrow)]
    pub tier: Text<'a>,
    #[serde(borrow)]
    pub model: Text<'a>,
    #[serde(borrow)]
    pub rule: Option<Text<'a>>,
    pub via: Via,
    #[serde(borrow)]
    pub guard: Option<Text<'a>>,
    #[serde(default)]
    pub status: CallStatus,
    pub latency_us: u64,
    pub input_tokens: u64,
    pub output_tokens: u64,
    #[serde(default)]
    pub cached_input_tokens: u64,
    #[serde(default)]
    pub cache_write_tokens: u64,
    #[serde(default)]
    pub fallback_from: Vec<String>,
    pub token_source: TokenSource,
    pub input_price: PicosPerToken,
    pub output_price: PicosPerToken,
    pub cost: Picos,
    pub cost_usd: f64,
}

/// A record with its step as raw JSON text.
pub(crate) type RawRecord<'a> = Record<'a, &'a RawValue>;

/// The common line, read in one pass: the step read straight into [`StepFields`]. A line it
/// refuses is read again as a [`RawRecord`], which decides.
pub(crate) type PlainRecord<'a> = Record<'a, StepFields<'a>>;

/// A call record read without copying strings: what `report` and `replay` go over.
#[derive(Debug, PartialEq)]
pub struct RecordView<'a> {
    /// When the call started.
    pub time: Text<'a>,
    /// The step's trace id.
    pub trace_id: Option<Text<'a>>,
    /// The policy (workload) that routed it.
    pub policy: Text<'a>,
    /// The policy's version hash.
    pub policy_version: Text<'a>,
    /// The step, read.
    pub step: StepView<'a>,
    /// The whole line, for [`RecordView::step_text`].
    pub(crate) line: &'a str,
    /// The tier chosen.
    pub tier: Text<'a>,
    /// The model key called.
    pub model: Text<'a>,
    /// The rule that chose the tier (`None`: the default).
    pub rule: Option<Text<'a>>,
    /// How the tier was reached.
    pub via: Via,
    /// The guard that moved the step.
    pub guard: Option<Text<'a>>,
    /// How the call ended (`ok` when the line has none).
    pub status: CallStatus,
    /// Latency of the model call, in microseconds.
    pub latency_us: u64,
    /// Input tokens billed.
    pub input_tokens: u64,
    /// Output tokens billed.
    pub output_tokens: u64,
    /// Where the token counts came from.
    /// Of the input, tokens read from the prompt cache (0 when the line has none).
    pub cached_input_tokens: u64,
    /// Of the input, tokens written to the prompt cache (0 when the line has none).
    pub cache_write_tokens: u64,
    /// The models that failed before `model` answered (empty when the line has none).
    pub fallback_from: Vec<String>,
    pub token_source: TokenSource,
    /// Input price used.
    pub input_price: PicosPerToken,
    /// Output price used.
    pub output_price: PicosPerToken,
    /// What the call cost.
    pub cost: Picos,
    /// The same in dollars.
    pub cost_usd: f64,
}

impl<'a> RecordView<'a> {
    /// The step's JSON text as the line holds it. Read again from the line on demand: the
    /// common line is read in one pass with its step, which keeps no text.
    pub fn step_text(&self) -> Result<&'a str, String> {
        serde_json::from_str::<RawRecord<'a>>(self.line)
            .map(|r| r.step.get())
            .map_err(|e| e.to_string())
    }
}

/// A logged step. A record may carry any JSON value as its step (a log keeps what was
/// asked); one made only of step fields of the right types is read borrowed into
/// [`StepFields`], anything else is kept as a JSON tree for
/// [`Step::from_value`](crate::Step::from_value) to judge and explain.
#[derive(Debug, PartialEq)]
pub enum StepView<'a> {
    /// Only step fields, each of a type a step allows (or null).
    Plain(StepFields<'a>),
    /// Any other JSON value.
    Other(Value),
}

impl StepView<'_> {
    /// The step's `role`, when it is a string.
    pub fn role(&self) -> Option<&str> {
        match self {
            StepView::Plain(s) => s.role.as_ref().map(Text::as_str),
            StepView::Other(v) => v.get("role").and_then(Value::as_str),
        }
    }
}

/// A step's fields, borrowed from the line. Unknown and repeated fields, and values of
/// other types, are refused here (the step is then [`StepView::Other`]).
#[derive(Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepFields<'a> {
    /// `role`.
    #[serde(borrow)]
    pub role: Option<Text<'a>>,
    /// `input_tokens`.
    pub input_tokens: Option<u64>,
    /// `prompt`.
    #[serde(borrow)]
    pub prompt: Option<Text<'a>>,
    /// `expected_output_tokens`.
    pub expected_output_tokens: Option<u64>,
    /// `needs_chain_of_thought` (null is false).
    pub needs_chain_of_thought: Option<bool>,
    /// `output_must_be_json` (null is false).
    pub output_must_be_json: Option<bool>,
    /// `untrusted_input` (null is false).
    pub untrusted_input: Option<bool>,
    /// `dependent_tool_calls` (null is 0).
    pub dependent_tool_calls: Option<u64>,
    /// `tags`.
    #[serde(borrow)]
    pub tags: Option<Tags<'a>>,
    /// `workload`.
    #[serde(borrow)]
    pub workload: Option<Text<'a>>,
    /// `trace_id`.
    #[serde(borrow)]
    pub trace_id: Option<Text<'a>>,
}

/// A step's `tags`: names and scalar values in the order written; a repeated name keeps its
/// last value in its first place, as a JSON object read into a map does.
#[derive(Debug, Default, PartialEq)]
pub struct Tags<'a>(pub Vec<(Text<'a>, Scalar<'a>)>);

impl<'de: 'a, 'a> Deserialize<'de> for Tags<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // A map into a Vec: serde has no derive for that, and a step has few tags.
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Tags<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object of tags")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Tags<'de>, A::Error> {
                let mut tags: Vec<(Text<'de>, Scalar<'de>)> = Vec::new();
                while let Some((k, v)) = map.next_entry::<Text<'de>, Scalar<'de>>()? {
                    match tags.iter_mut().find(|(name, _)| *name == k) {
                        Some(slot) => slot.1 = v,
                        None => tags.push((k, v)),
                    }
                }
                Ok(Tags(tags))
            }
        }
        d.deserialize_map(V)
    }
}

/// A tag's value: a string, a number or a bool (null, arrays and objects are refused).
#[derive(Debug, Clone, PartialEq)]
pub enum Scalar<'a> {
    /// A bool.
    Bool(bool),
    /// A non-negative integer.
    U64(u64),
    /// A negative integer.
    I64(i64),
    /// A number with a fraction or exponent.
    F64(f64),
    /// A string.
    Str(Text<'a>),
}

impl<'de: 'a, 'a> Deserialize<'de> for Scalar<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // By hand rather than `untagged`, which would buffer every value first.
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Scalar<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string, a number or a bool")
            }
            fn visit_bool<E: de::Error>(self, b: bool) -> Result<Scalar<'de>, E> {
                Ok(Scalar::Bool(b))
            }
            fn visit_u64<E: de::Error>(self, n: u64) -> Result<Scalar<'de>, E> {
                Ok(Scalar::U64(n))
            }
            fn visit_i64<E: de::Error>(self, n: i64) -> Result<Scalar<'de>, E> {
                Ok(u64::try_from(n).map_or(Scalar::I64(n), Scalar::U64))
            }
            fn visit_f64<E: de::Error>(self, n: f64) -> Result<Scalar<'de>, E> {
                Ok(Scalar::F64(n))
            }
            fn visit_borrowed_str<E: de::Error>(self, s: &'de str) -> Result<Scalar<'de>, E> {
                Ok(Scalar::Str(Text(Cow::Borrowed(s))))
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Scalar<'de>, E> {
                Ok(Scalar::Str(Text(Cow::Owned(s.to_owned()))))
            }
        }
        d.deserialize_any(V)
    }
}
