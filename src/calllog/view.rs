//! [`RecordView`]: one call-log line read without copying — strings borrowed from the line,
//! the step kept as its raw JSON text and then read into a [`StepView`]. Everything here is
//! serde deserialization; what a line must look like is [`CallRecord`](super::CallRecord)'s
//! wire format, and [`parse_view`](super::read::parse_view) is the one place that decides it.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;

use super::record::{CallStatus, TokenSource};
use crate::money::{Picos, PicosPerToken};
use crate::router::Via;
use crate::step::StepWire;

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
/// [`RecordView::step`], or straight into [`StepWire`] ([`PlainRecord`]).
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

impl<'a, S> Record<'a, S> {
    /// The record as a [`RecordView`] of `line`, its step read by `step`.
    pub(crate) fn into_view(
        self,
        step: impl FnOnce(S) -> StepView<'a>,
        line: &'a str,
    ) -> RecordView<'a> {
        RecordView {
            time: self.time,
            trace_id: self.trace_id,
            policy: self.policy,
            policy_version: self.policy_version,
            step: step(self.step),
            line,
            tier: self.tier,
            model: self.model,
            rule: self.rule,
            via: self.via,
            guard: self.guard,
            status: self.status,
            latency_us: self.latency_us,
            input_tokens: self.input_tokens,
            output_tokens: self.output_tokens,
            cached_input_tokens: self.cached_input_tokens,
            cache_write_tokens: self.cache_write_tokens,
            fallback_from: self.fallback_from,
            token_source: self.token_source,
            input_price: self.input_price,
            output_price: self.output_price,
            cost: self.cost,
            cost_usd: self.cost_usd,
        }
    }
}

/// A record with its step as raw JSON text.
pub(crate) type RawRecord<'a> = Record<'a, &'a RawValue>;

/// The common line, read in one pass: the step read straight into [`StepWire`]. A line it
/// refuses is read again as a [`RawRecord`], which decides.
pub(crate) type PlainRecord<'a> = Record<'a, StepWire<'a>>;

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
    /// Of the input, tokens read from the prompt cache (0 when the line has none).
    pub cached_input_tokens: u64,
    /// Of the input, tokens written to the prompt cache (0 when the line has none).
    pub cache_write_tokens: u64,
    /// The models that failed before `model` answered (empty when the line has none).
    pub fallback_from: Vec<String>,
    /// Where the token counts came from.
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
/// asked); one that reads as the step's own wire type, [`StepWire`], is read borrowed into
/// it, anything else is kept as a JSON tree for [`Step::from_value`](crate::Step::from_value)
/// to judge and explain.
#[derive(Debug, PartialEq)]
pub enum StepView<'a> {
    /// A step as its wire type reads it.
    Plain(StepWire<'a>),
    /// Any other JSON value.
    Other(Value),
}

impl StepView<'_> {
    /// The step's `role`, when it is a string.
    pub fn role(&self) -> Option<&str> {
        match self {
            StepView::Plain(s) => Some(&s.role),
            StepView::Other(v) => v.get("role").and_then(Value::as_str),
        }
    }
}
