//! `CallRecord`: one model call as it is logged — what was asked, where it went, what it
//! cost and why — one JSON object per line in a call log.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::value::RawValue;
use serde_json::Value;

use crate::money::{Picos, PicosPerToken};
use crate::router::Via;

/// Where a call's token counts came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenSource {
    /// The provider reported its usage.
    Provider,
    /// Counted here with the model's (or policy's) tokenizer.
    Tokenizer,
    /// Estimated as chars / 4 + 5% (no tokenizer for the model).
    Approx,
}

/// How a call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CallStatus {
    /// The model answered in full. Logs written before records had a status read as this.
    #[default]
    Ok,
    /// The call failed (an upstream error, a stream that broke); billed for what was produced.
    Error,
    /// The caller went away mid-call; billed for what was produced.
    Cancelled,
}

impl CallStatus {
    /// Whether the call was answered in full.
    pub fn is_ok(&self) -> bool {
        *self == CallStatus::Ok
    }

    /// The word a log and the metrics use: `ok`, `error`, `cancelled`.
    pub fn as_str(self) -> &'static str {
        match self {
            CallStatus::Ok => "ok",
            CallStatus::Error => "error",
            CallStatus::Cancelled => "cancelled",
        }
    }
}

/// One model call, as written to a call log (JSONL) and emitted as a tracing event.
///
/// The fields' order is the line's: [`CallRecord::write_json`] writes the derived
/// `Serialize` (a test pins the line byte for byte).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CallRecord {
    /// When the call started, RFC 3339 in UTC (e.g. `2026-11-26T06:19:42.123Z`).
    pub time: String,
    /// The step's trace id.
    pub trace_id: Option<String>,
    /// The policy (workload) that routed it.
    pub policy: String,
    /// The policy's version hash at the time.
    pub policy_version: String,
    /// The step's features as a step JSON object (no prompt text; `input_tokens` as counted),
    /// so a log can be routed again under another policy.
    pub step: StepJson,
    /// The tier chosen.
    pub tier: String,
    /// The model key called.
    pub model: String,
    /// The rule that chose the tier (`null`: the default).
    pub rule: Option<String>,
    /// How the tier was reached; written as its word (`rule`, `budget_downgrade`, …).
    pub via: Via,
    /// The guard that moved the step, if any.
    pub guard: Option<String>,
    /// How the call ended. Written only when it is not `ok`, so a log of answered calls
    /// reads (and `rebill` rewrites) as it always has; absent means `ok`.
    #[serde(default, skip_serializing_if = "CallStatus::is_ok")]
    pub status: CallStatus,
    /// Wall-clock time of the model call, in microseconds.
    pub latency_us: u64,
    /// Input tokens billed.
    pub input_tokens: u64,
    /// Output tokens billed.
    pub output_tokens: u64,
    /// Of the input, tokens read from the provider's prompt cache (absent in a log: 0).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub cached_input_tokens: u64,
    /// Of the input, tokens written to the provider's prompt cache (absent in a log: 0).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub cache_write_tokens: u64,
    /// The models of the tier that failed before `model` answered, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fallback_from: Vec<String>,
    /// Where the token counts came from.
    pub token_source: TokenSource,
    /// Input price used, pico-dollars per token.
    pub input_price: PicosPerToken,
    /// Output price used, pico-dollars per token.
    pub output_price: PicosPerToken,
    /// What the call cost, in pico-dollars (exact).
    pub cost: Picos,
    /// The same in dollars, for people and dashboards (derived from `cost`).
    pub cost_usd: f64,
}

impl CallRecord {
    /// Recomputes `cost` and `cost_usd` from the token counts and prices.
    pub fn price(&mut self, input_price: PicosPerToken, output_price: PicosPerToken) {
        self.price_cached(input_price, output_price, input_price, input_price);
    }

    /// Prices the record with cached input at `cached_price` and cache-creation input at
    /// `write_price`; the rest of the input at `input_price`.
    pub fn price_cached(
        &mut self,
        input_price: PicosPerToken,
        output_price: PicosPerToken,
        cached_price: PicosPerToken,
        write_price: PicosPerToken,
    ) {
        self.input_price = input_price;
        self.output_price = output_price;
        // A provider's parts can exceed its total only if it misreports: bill no less.
        let uncached = self
            .input_tokens
            .saturating_sub(self.cached_input_tokens)
            .saturating_sub(self.cache_write_tokens);
        self.cost = input_price
            .cost(uncached)
            .saturating_add(cached_price.cost(self.cached_input_tokens))
            .saturating_add(write_price.cost(self.cache_write_tokens))
            .saturating_add(output_price.cost(self.output_tokens));
        self.cost_usd = self.cost.usd();
    }
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

// Via is written in call records as its word; the router's own decisions write it the
// same way through `Via::as_str`.
impl Serialize for Via {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Via {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Via, D::Error> {
        // A visitor, so the word is compared where it lies, never copied.
        struct Word;
        impl serde::de::Visitor<'_> for Word {
            type Value = Via;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("how the tier was reached, as a word")
            }
            fn visit_str<E: serde::de::Error>(self, word: &str) -> Result<Via, E> {
                Via::from_name(word).ok_or_else(|| {
                    let words: Vec<&str> = Via::ALL.iter().map(|v| v.as_str()).collect();
                    E::custom(format!(
                        "unknown via `{word}`, expected one of {}",
                        words.join(", ")
                    ))
                })
            }
        }
        d.deserialize_str(Word)
    }
}

impl PartialEq<&str> for Via {
    /// Compares with the word, as a record's JSON holds it.
    fn eq(&self, word: &&str) -> bool {
        self.as_str() == *word
    }
}

/// A logged step's JSON, held as the compact text the log line carries.
///
/// Raw JSON text rather than a tree: the runner writes it once per call and the record's
/// serializer copies it into the line as it is. Whatever builds one (from a [`Value`], or by
/// reading a record) gets the compact form `serde_json` writes, so a record read and written
/// again comes out as it would from a tree.
#[derive(Debug, Clone)]
pub struct StepJson(Box<RawValue>);

impl StepJson {
    /// Serializes `value` compactly (the text is kept as written, not checked again).
    pub fn new<T: Serialize + ?Sized>(value: &T) -> serde_json::Result<StepJson> {
        serde_json::value::to_raw_value(value).map(StepJson)
    }

    /// The JSON text, as it appears in the log line.
    pub fn as_str(&self) -> &str {
        self.0.get()
    }

    /// The step as a JSON tree.
    pub fn to_value(&self) -> Value {
        // Only ever made from checked JSON text, so this parses.
        serde_json::from_str(self.0.get()).unwrap_or(Value::Null)
    }
}

impl From<&Value> for StepJson {
    fn from(value: &Value) -> StepJson {
        // A tree always serializes (its keys are strings, its numbers finite).
        StepJson::new(value).unwrap_or_else(|_| StepJson(RawValue::NULL.to_owned()))
    }
}

impl From<Value> for StepJson {
    fn from(value: Value) -> StepJson {
        StepJson::from(&value)
    }
}

impl PartialEq for StepJson {
    /// Equal as JSON (as two trees would be), not only as text: key order aside, say.
    fn eq(&self, other: &StepJson) -> bool {
        self.as_str() == other.as_str() || self.to_value() == other.to_value()
    }
}

impl Serialize for StepJson {
    /// The text as it is, copied into the line.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

impl<'de> Deserialize<'de> for StepJson {
    /// Read as a tree and written again, so what is kept is compact and canonical (as a
    /// tree would be when the record is written out), whatever spacing the input had.
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<StepJson, D::Error> {
        Value::deserialize(d).map(StepJson::from)
    }
}

impl CallRecord {
    /// Appends the record as its log line holds it, without the newline: the derived
    /// `Serialize`, written by `serde_json` into the caller's reused buffer (no tree, no
    /// allocation once the buffer has grown). Only a serializer error fails it, and a
    /// record has nothing that can fail (its step is already JSON text).
    pub fn write_json(&self, out: &mut Vec<u8>) -> serde_json::Result<()> {
        serde_json::to_writer(out, self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(text: &str, source: TokenSource, usd: f64, some: bool) -> CallRecord {
        let opt = |s: &str| some.then(|| s.to_string());
        let step = serde_json::json!({"role": text, "input_tokens": 5, "tags": {"k": 2.5}});
        CallRecord {
            time: "2026-11-26T06:19:42.123Z".into(),
            trace_id: opt(text),
            policy: format!("p{text}"),
            policy_version: "0a1b2c".into(),
            step: StepJson::from(step),
            tier: text.into(),
            model: "m".into(),
            rule: opt("r"),
            via: Via::Rule,
            guard: opt(text),
            status: CallStatus::Ok,
            latency_us: u64::MAX,
            input_tokens: 0,
            output_tokens: 1_234_567,
            cached_input_tokens: if some { 3 } else { 0 },
            cache_write_tokens: if some { 2 } else { 0 },
            fallback_from: if some {
                vec![text.to_string(), "b".into()]
            } else {
                Vec::new()
            },
            token_source: source,
            input_price: PicosPerToken(1_000_000),
            output_price: PicosPerToken(5),
            cost: Picos(18_000_000_000),
            cost_usd: usd,
        }
    }

    #[test]
    fn the_line_writer_writes_what_serde_writes() {
        let texts = [
            "",
            "plain",
            "a \"quote\" and a \\ backslash",
            "\u{0}\u{1}\u{8}\t\n\u{b}\u{c}\r\u{1f} \u{7f}/",
            "é ü \u{2028} 😀 \"\n",
        ];
        let sources = [
            TokenSource::Provider,
            TokenSource::Tokenizer,
            TokenSource::Approx,
        ];
        let usds = [
            0.0,
            -0.0,
            0.018,
            0.1 + 0.2,
            1e-7,
            123_456.789,
            1e21,
            -2.5e-308,
            f64::MAX,
            f64::NAN,
            f64::INFINITY,
        ];
        for (i, text) in texts.iter().enumerate() {
            for (j, usd) in usds.iter().enumerate() {
                let r = record(text, sources[(i + j) % 3], *usd, (i + j) % 2 == 0);
                let mut line = b"kept ".to_vec();
                r.write_json(&mut line).unwrap();
                let want = format!("kept {}", serde_json::to_string(&r).unwrap());
                assert_eq!(String::from_utf8(line).unwrap(), want);
            }
        }
    }

    /// The line's bytes, pinned: field order, `null`s, escapes and number forms as logs
    /// written so far have them, whatever writes the line.
    #[test]
    fn the_line_is_byte_for_byte_as_logs_have_it() {
        let mut r = record("a\"b\u{1}é", TokenSource::Tokenizer, 0.018, false);
        r.via = Via::BudgetDowngrade;
        let mut line = Vec::new();
        r.write_json(&mut line).unwrap();
        let want = concat!(
            r#"{"time":"2026-11-26T06:19:42.123Z","trace_id":null,"policy":"pa\"b\u0001é","#,
            r#""policy_version":"0a1b2c","step":{"role":"a\"b\u0001é","input_tokens":5,"#,
            r#""tags":{"k":2.5}},"tier":"a\"b\u0001é","model":"m","rule":null,"#,
            r#""via":"budget_downgrade","guard":null,"latency_us":18446744073709551615,"#,
            r#""input_tokens":0,"output_tokens":1234567,"token_source":"tokenizer","#,
            r#""input_price":1000000,"output_price":5,"cost":18000000000,"cost_usd":0.018}"#
        );
        assert_eq!(String::from_utf8(line).unwrap(), want);
    }

    #[test]
    fn a_status_other_than_ok_is_written_and_a_line_without_one_reads_as_ok() {
        let mut r = record("x", TokenSource::Provider, 1.0, false);
        let mut line = Vec::new();
        r.write_json(&mut line).unwrap();
        let text = String::from_utf8(line).unwrap();
        assert!(!text.contains("status"), "{text}");
        let back: CallRecord = serde_json::from_str(&text).unwrap();
        assert_eq!(back.status, CallStatus::Ok);
        for status in [CallStatus::Cancelled, CallStatus::Error] {
            r.status = status;
            let mut line = Vec::new();
            r.write_json(&mut line).unwrap();
            let text = String::from_utf8(line).unwrap();
            let want = format!(r#""guard":null,"status":"{}","#, status.as_str());
            assert!(text.contains(&want), "{text}");
            let back = crate::calllog::parse_record(text.as_bytes()).unwrap();
            assert_eq!(back.status, status);
        }
    }

    #[test]
    fn a_step_read_back_is_compact_and_equal_as_json() {
        let spaced: CallRecord = serde_json::from_str(
            &serde_json::to_string(&record("x", TokenSource::Approx, 1.0, true))
                .unwrap()
                .replace(
                    r#""step":{"role":"x","input_tokens":5,"tags":{"k":2.5}}"#,
                    r#""step": { "input_tokens" : 5.0e0, "role" : "x", "tags":{"k":25e-1} }"#,
                ),
        )
        .unwrap();
        assert_eq!(
            spaced.step.as_str(),
            r#"{"input_tokens":5.0,"role":"x","tags":{"k":2.5}}"#
        );
        let reordered: StepJson =
            serde_json::from_str(r#"{"tags":{"k":2.5},"input_tokens":5,"role":"x"}"#).unwrap();
        assert_eq!(reordered, record("x", TokenSource::Approx, 1.0, true).step);
        assert_ne!(reordered, StepJson::from(serde_json::json!({"role": "x"})));
    }

    #[test]
    fn via_is_written_and_read_as_its_word() {
        for via in Via::ALL {
            let mut r = record("x", TokenSource::Approx, 1.0, true);
            r.via = via;
            let line = serde_json::to_string(&r).unwrap();
            assert!(
                line.contains(&format!(r#""via":"{}""#, via.as_str())),
                "{line}"
            );
            assert_eq!(serde_json::from_str::<CallRecord>(&line).unwrap().via, via);
        }
        let line = serde_json::to_string(&record("x", TokenSource::Approx, 1.0, true))
            .unwrap()
            .replace(r#""via":"rule""#, r#""via":"hunch""#);
        let e = serde_json::from_str::<CallRecord>(&line)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("unknown via `hunch`, expected one of rule,"),
            "{e}"
        );
    }
}
