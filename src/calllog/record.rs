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

/// One model call, as written to a call log (JSONL) and emitted as a tracing event.
///
/// The fields' order is the line's: [`CallRecord::write_json`] writes them in the same order
/// by hand (a test holds it to what the derived `Serialize` writes).
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
                Via::ALL
                    .into_iter()
                    .find(|v| v.as_str() == word)
                    .ok_or_else(|| {
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
/// Text rather than a JSON tree: the runner writes it straight from the step, with no map to
/// build on every call, and the sink copies it into the line as it is. Whatever builds one
/// (from a [`Value`], or by reading a record) gets the compact form `serde_json` writes, so a
/// record read and written again comes out as it would from a tree.
#[derive(Debug, Clone)]
pub struct StepJson(String);

impl StepJson {
    /// Serializes `value` compactly.
    pub fn new<T: Serialize + ?Sized>(value: &T) -> serde_json::Result<StepJson> {
        serde_json::to_string(value).map(StepJson)
    }

    /// Text already written as `serde_json` writes JSON compactly (the runner's own writer).
    #[cfg(feature = "cost")]
    pub(crate) fn from_compact(text: String) -> StepJson {
        StepJson(text)
    }

    /// The JSON text, as it appears in the log line.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The step as a JSON tree.
    pub fn to_value(&self) -> Value {
        // Only ever made by serializing, so the text is valid JSON.
        serde_json::from_str(&self.0).unwrap_or(Value::Null)
    }
}

impl From<&Value> for StepJson {
    fn from(value: &Value) -> StepJson {
        StepJson(value.to_string())
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
        self.0 == other.0 || self.to_value() == other.to_value()
    }
}

impl Serialize for StepJson {
    /// The text as it is (checked, not rebuilt). The log's own writer,
    /// [`CallRecord::write_json`], copies it without the check.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let raw: &RawValue = serde_json::from_str(&self.0).map_err(serde::ser::Error::custom)?;
        raw.serialize(s)
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
    /// Appends the record as its log line holds it, without the newline: the same bytes as
    /// `serde_json::to_string(self)`, written field by field (keys as literals, no tree, no
    /// serializer state), since the JSONL sink does this on every call.
    pub fn write_json(&self, out: &mut String) {
        out.push_str("{\"time\":");
        write_str(out, &self.time);
        out.push_str(",\"trace_id\":");
        write_opt_str(out, self.trace_id.as_deref());
        out.push_str(",\"policy\":");
        write_str(out, &self.policy);
        out.push_str(",\"policy_version\":");
        write_str(out, &self.policy_version);
        out.push_str(",\"step\":");
        out.push_str(self.step.as_str());
        out.push_str(",\"tier\":");
        write_str(out, &self.tier);
        out.push_str(",\"model\":");
        write_str(out, &self.model);
        out.push_str(",\"rule\":");
        write_opt_str(out, self.rule.as_deref());
        out.push_str(",\"via\":");
        write_str(out, self.via.as_str());
        out.push_str(",\"guard\":");
        write_opt_str(out, self.guard.as_deref());
        out.push_str(",\"latency_us\":");
        write_u64(out, self.latency_us);
        out.push_str(",\"input_tokens\":");
        write_u64(out, self.input_tokens);
        out.push_str(",\"output_tokens\":");
        write_u64(out, self.output_tokens);
        // Written only when there are some, as serde's skip_serializing_if does.
        if self.cached_input_tokens > 0 {
            out.push_str(",\"cached_input_tokens\":");
            write_u64(out, self.cached_input_tokens);
        }
        if self.cache_write_tokens > 0 {
            out.push_str(",\"cache_write_tokens\":");
            write_u64(out, self.cache_write_tokens);
        }
        if !self.fallback_from.is_empty() {
            out.push_str(",\"fallback_from\":");
            let mut sep = '[';
            for m in &self.fallback_from {
                out.push(sep);
                sep = ',';
                write_str(out, m);
            }
            out.push(']');
        }
        out.push_str(match self.token_source {
            TokenSource::Provider => ",\"token_source\":\"provider\"",
            TokenSource::Tokenizer => ",\"token_source\":\"tokenizer\"",
            TokenSource::Approx => ",\"token_source\":\"approx\"",
        });
        out.push_str(",\"input_price\":");
        write_u64(out, self.input_price.0);
        out.push_str(",\"output_price\":");
        write_u64(out, self.output_price.0);
        out.push_str(",\"cost\":");
        write_u64(out, self.cost.0);
        out.push_str(",\"cost_usd\":");
        write_f64(out, self.cost_usd);
        out.push('}');
    }
}

/// Appends `s` as a JSON string, escaped exactly as `serde_json` escapes it: `"` and `\`,
/// the short escapes `\b` `\t` `\n` `\f` `\r`, `\u00xx` (lowercase hex) for the other control
/// bytes, and nothing else.
pub(crate) fn write_str(out: &mut String, s: &str) {
    out.push('"');
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let short = match b {
            b'"' => '"',
            b'\\' => '\\',
            0x08 => 'b',
            0x09 => 't',
            0x0a => 'n',
            0x0c => 'f',
            0x0d => 'r',
            0..=0x1f => 'u',
            _ => continue,
        };
        // Split only at ASCII bytes, so both slices stay on character boundaries.
        out.push_str(&s[start..i]);
        out.push('\\');
        out.push(short);
        if short == 'u' {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.push_str("00");
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0xf)]));
        }
        start = i + 1;
    }
    out.push_str(&s[start..]);
    out.push('"');
}

fn write_opt_str(out: &mut String, s: Option<&str>) {
    match s {
        Some(s) => write_str(out, s),
        None => out.push_str("null"),
    }
}

/// Appends `n` in decimal.
pub(crate) fn write_u64(out: &mut String, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend(digits[i..].iter().map(|&d| char::from(d)));
}

/// Appends `n` in decimal.
#[cfg_attr(not(feature = "cost"), allow(dead_code))] // only the runner writes signed tags
pub(crate) fn write_i64(out: &mut String, n: i64) {
    if n < 0 {
        out.push('-');
    }
    write_u64(out, n.unsigned_abs());
}

/// Appends `x` as `serde_json` writes an `f64` (its shortest form; `null` if not finite).
pub(crate) fn write_f64(out: &mut String, x: f64) {
    // serde_json's own number formatting, so the digits are the same; into the stack, since
    // the longest it writes is 24 bytes (`-1.2345678901234567e-308`).
    let mut buf = [0u8; 32];
    let mut cursor = std::io::Cursor::new(&mut buf[..]);
    if serde_json::to_writer(&mut cursor, &x).is_ok() {
        let len = cursor.position() as usize;
        if let Ok(text) = std::str::from_utf8(&buf[..len]) {
            out.push_str(text);
            return;
        }
    }
    // Not reached (the buffer is large enough); the same digits, allocated.
    out.push_str(&Value::from(x).to_string());
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
                let mut line = String::from("kept ");
                r.write_json(&mut line);
                assert_eq!(line, format!("kept {}", serde_json::to_string(&r).unwrap()));
            }
        }
    }

    proptest::proptest! {
        /// Any string and any `f64` come out as serde_json writes them.
        #[test]
        fn strings_and_floats_are_written_as_serde_writes_them(
            s in ".*",
            bytes in proptest::collection::vec(0u8..0x80, 0..16),
            x in proptest::num::f64::ANY,
        ) {
            let ascii = String::from_utf8(bytes).unwrap();
            for s in [&s, &ascii] {
                let mut out = String::new();
                write_str(&mut out, s);
                proptest::prop_assert_eq!(out, serde_json::to_string(s).unwrap());
            }
            let mut out = String::new();
            write_f64(&mut out, x);
            proptest::prop_assert_eq!(out, serde_json::to_string(&x).unwrap());
        }
    }

    #[test]
    fn numbers_are_written_as_serde_writes_them() {
        let mut out = String::new();
        for n in [0, 7, 10, 99, 100, 1_000_000_007, u64::MAX] {
            out.clear();
            write_u64(&mut out, n);
            assert_eq!(out, serde_json::to_string(&n).unwrap());
        }
        for n in [0, -1, -10, i64::MIN, i64::MAX, 9_000_000_000_000_000] {
            out.clear();
            write_i64(&mut out, n);
            assert_eq!(out, serde_json::to_string(&n).unwrap());
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
