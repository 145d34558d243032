//! Reading a call log (JSONL, one [`CallRecord`] per line) as a stream, line by line.
//!
//! A bad line (blank, not JSON, not a call record) never stops a read: it becomes a
//! [`BadLine`] with its line number, and the lines after it are read as usual, so nothing is
//! lost and nothing is dropped without a word. [`RecordView`] is a borrowed reading of the same
//! line for the commands that go over millions of records (`report`, `replay`): it accepts
//! exactly the lines [`CallRecord`] accepts, without copying strings or building a JSON tree.

use std::borrow::Cow;
use std::fmt;
use std::io::{self, BufRead};

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};

use super::record::{CallRecord, TokenSource};
use crate::money::{Picos, PicosPerToken};

/// A log line that was skipped, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BadLine {
    /// 1-based line number in the log.
    pub line: u64,
    /// What is wrong with it, for a person.
    pub message: String,
}

impl fmt::Display for BadLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

/// How many lines a read went over, how many were call records, and every line skipped.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct LogStats {
    /// Lines read.
    pub lines: u64,
    /// Lines that were call records.
    pub records: u64,
    /// Lines skipped, in log order.
    pub bad: Vec<BadLine>,
}

impl LogStats {
    /// Counts a good line.
    pub fn good(&mut self) {
        self.records += 1;
    }

    /// Records a skipped line.
    pub fn skip(&mut self, line: u64, message: impl Into<String>) {
        self.bad.push(BadLine {
            line,
            message: message.into(),
        });
    }
}

/// Reads a log line by line. A line that lies whole in the reader's buffer is handed out in
/// place, without a copy; one that straddles the buffer's end is gathered into one reused
/// buffer. Lines are bytes, so a line that is not UTF-8 is reported like any other bad line
/// instead of ending the read.
#[derive(Debug)]
pub struct LogReader<R> {
    reader: R,
    buf: Vec<u8>,
    line: u64,
    /// Bytes of the reader's buffer handed out last time, consumed on the next call.
    pending: usize,
}

impl<R: BufRead> LogReader<R> {
    /// Reads from `reader` (wrap a file in a `BufReader`).
    pub fn new(reader: R) -> Self {
        LogReader {
            reader,
            buf: Vec::new(),
            line: 0,
            pending: 0,
        }
    }

    /// The next line: its 1-based number and its bytes without the line ending (`\n` or
    /// `\r\n`). `None` at the end of the log.
    pub fn next_line(&mut self) -> io::Result<Option<(u64, &[u8])>> {
        self.reader.consume(std::mem::take(&mut self.pending));
        let newline = loop {
            match self.reader.fill_buf() {
                Ok([]) => return Ok(None),
                Ok(available) => break find_newline(available),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        };
        self.line += 1;
        let line: &[u8] = match newline {
            Some(end) => {
                self.pending = end + 1;
                // The data is already buffered: this fill_buf reads nothing.
                &self.reader.fill_buf()?[..end]
            }
            None => {
                self.buf.clear();
                self.reader.read_until(b'\n', &mut self.buf)?;
                match self.buf.last() {
                    Some(b'\n') => &self.buf[..self.buf.len() - 1],
                    _ => &self.buf[..],
                }
            }
        };
        Ok(Some((self.line, line.strip_suffix(b"\r").unwrap_or(line))))
    }
}

/// The position of the first `\n`, eight bytes at a time.
fn find_newline(bytes: &[u8]) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    const NEWLINES: u64 = ONES * b'\n' as u64;
    let mut chunks = bytes.chunks_exact(8);
    for (i, chunk) in chunks.by_ref().enumerate() {
        let word = u64::from_le_bytes(chunk.try_into().expect("eight bytes")) ^ NEWLINES;
        // A byte of `word` is zero where the input has a newline; the lowest flag is exact.
        let zero = word.wrapping_sub(ONES) & !word & HIGHS;
        if zero != 0 {
            return Some(i * 8 + (zero.trailing_zeros() / 8) as usize);
        }
    }
    let rest = chunks.remainder();
    rest.iter()
        .position(|&b| b == b'\n')
        .map(|p| bytes.len() - rest.len() + p)
}

/// Parses one log line as a [`CallRecord`] (the full, owned form: for re-writing it).
pub fn parse_record(line: &[u8]) -> Result<CallRecord, String> {
    parse(line)
}

/// Parses one log line as a borrowed [`RecordView`] (for reading many records fast).
///
/// Lines as the runner writes them take a fast path that reads the JSON directly; anything
/// it is not sure of (an escape, an odd type, a repeated or unknown key) goes to serde, which
/// decides and explains. Both give the same view for every line the fast path takes.
pub fn parse_view(line: &[u8]) -> Result<RecordView<'_>, String> {
    if let Some(view) = std::str::from_utf8(line).ok().and_then(fast::record) {
        return Ok(view);
    }
    parse(line)
}

fn parse<'a, T: Deserialize<'a>>(line: &'a [u8]) -> Result<T, String> {
    // One UTF-8 check for the whole line is much cheaper than one per string.
    let line = std::str::from_utf8(line).map_err(|e| {
        format!(
            "not UTF-8 (column {}): the bytes are not text",
            e.valid_up_to() + 1
        )
    })?;
    if line.trim().is_empty() {
        return Err("blank line (expected a call record)".into());
    }
    serde_json::from_str(line).map_err(|e| {
        let msg = e.to_string();
        // serde_json appends " at line 1 column N"; a log line is one line, so say the column.
        let msg = msg.find(" at line ").map_or(msg.as_str(), |i| &msg[..i]);
        let what = match e.classify() {
            serde_json::error::Category::Data => "not a call record",
            _ => "not valid JSON",
        };
        format!("{what} (column {}): {msg}", e.column())
    })
}

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

/// A call record read without copying: the same fields as [`CallRecord`], unknown fields
/// refused the same way, and the step read in the same pass into a [`StepView`].
#[derive(Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordView<'a> {
    /// When the call started.
    #[serde(borrow)]
    pub time: Text<'a>,
    /// The step's trace id.
    #[serde(borrow)]
    pub trace_id: Option<Text<'a>>,
    /// The policy (workload) that routed it.
    #[serde(borrow)]
    pub policy: Text<'a>,
    /// The policy's version hash.
    #[serde(borrow)]
    pub policy_version: Text<'a>,
    /// The step's features.
    #[serde(borrow)]
    pub step: StepView<'a>,
    /// The tier chosen.
    #[serde(borrow)]
    pub tier: Text<'a>,
    /// The model key called.
    #[serde(borrow)]
    pub model: Text<'a>,
    /// The rule that chose the tier (`None`: the default).
    #[serde(borrow)]
    pub rule: Option<Text<'a>>,
    /// How the tier was reached.
    #[serde(borrow)]
    pub via: Text<'a>,
    /// The guard that moved the step.
    #[serde(borrow)]
    pub guard: Option<Text<'a>>,
    /// Latency of the model call, in microseconds.
    pub latency_us: u64,
    /// Input tokens billed.
    pub input_tokens: u64,
    /// Output tokens billed.
    pub output_tokens: u64,
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

/// A logged step's fields, read leniently: any JSON value is accepted here (as
/// [`CallRecord::step`] accepts any), and `plain` says whether it is a step object whose
/// fields all have the types a step allows. A step that is not plain is left to
/// [`Step::from_value`](crate::Step::from_value) to judge and explain.
#[derive(Debug, Default, PartialEq)]
pub struct StepView<'a> {
    /// A JSON object with only step fields, each of an accepted type (or null).
    pub plain: bool,
    /// `role`, when it is a string.
    pub role: Option<Text<'a>>,
    /// `input_tokens`.
    pub input_tokens: Option<u64>,
    /// `prompt`.
    pub prompt: Option<Text<'a>>,
    /// `expected_output_tokens`.
    pub expected_output_tokens: Option<u64>,
    /// `needs_chain_of_thought`.
    pub needs_chain_of_thought: bool,
    /// `output_must_be_json`.
    pub output_must_be_json: bool,
    /// `untrusted_input`.
    pub untrusted_input: bool,
    /// `dependent_tool_calls`.
    pub dependent_tool_calls: u64,
    /// `tags`, in the order written (a later duplicate wins, as in a JSON object).
    pub tags: Vec<(Text<'a>, Scalar<'a>)>,
    /// `workload`.
    pub workload: Option<Text<'a>>,
    /// `trace_id`.
    pub trace_id: Option<Text<'a>>,
}

/// One JSON value in a step, with anything that is not a scalar kept only as `Other`.
#[derive(Debug, Clone, PartialEq)]
pub enum Scalar<'a> {
    /// `null`.
    Null,
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
    /// An array or object (skipped).
    Other,
}

impl<'de: 'a, 'a> Deserialize<'de> for Scalar<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Scalar<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_unit<E: de::Error>(self) -> Result<Scalar<'de>, E> {
                Ok(Scalar::Null)
            }
            fn visit_none<E: de::Error>(self) -> Result<Scalar<'de>, E> {
                Ok(Scalar::Null)
            }
            fn visit_bool<E: de::Error>(self, b: bool) -> Result<Scalar<'de>, E> {
                Ok(Scalar::Bool(b))
            }
            fn visit_u64<E: de::Error>(self, n: u64) -> Result<Scalar<'de>, E> {
                Ok(Scalar::U64(n))
            }
            fn visit_i64<E: de::Error>(self, n: i64) -> Result<Scalar<'de>, E> {
                Ok(if n >= 0 {
                    Scalar::U64(n as u64)
                } else {
                    Scalar::I64(n)
                })
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
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Scalar<'de>, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Scalar::Other)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Scalar<'de>, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Scalar::Other)
            }
        }
        d.deserialize_any(V)
    }
}

/// `tags`: an object of scalars, or anything else (then the step is not plain).
struct TagsView<'a>(Option<Vec<(Text<'a>, Scalar<'a>)>>, bool);

impl<'de: 'a, 'a> Deserialize<'de> for TagsView<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = TagsView<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<TagsView<'de>, A::Error> {
                let mut tags: Vec<(Text<'de>, Scalar<'de>)> = Vec::new();
                while let Some((k, v)) = map.next_entry::<Text<'de>, Scalar<'de>>()? {
                    match tags.iter_mut().find(|(name, _)| *name == k) {
                        Some(slot) => slot.1 = v,
                        None => tags.push((k, v)),
                    }
                }
                Ok(TagsView(Some(tags), true))
            }
            fn visit_unit<E: de::Error>(self) -> Result<TagsView<'de>, E> {
                Ok(TagsView(None, true))
            }
            fn visit_none<E: de::Error>(self) -> Result<TagsView<'de>, E> {
                Ok(TagsView(None, true))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<TagsView<'de>, E> {
                Ok(TagsView(None, false))
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<TagsView<'de>, E> {
                Ok(TagsView(None, false))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<TagsView<'de>, E> {
                Ok(TagsView(None, false))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<TagsView<'de>, E> {
                Ok(TagsView(None, false))
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<TagsView<'de>, E> {
                Ok(TagsView(None, false))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<TagsView<'de>, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(TagsView(None, false))
            }
        }
        d.deserialize_any(V)
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for StepView<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = StepView<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<StepView<'de>, A::Error> {
                let mut s = StepView {
                    plain: true,
                    ..StepView::default()
                };
                while let Some(key) = map.next_key::<Text<'de>>()? {
                    if key.as_str() == "tags" {
                        let TagsView(tags, ok) = map.next_value()?;
                        s.tags = tags.unwrap_or_default();
                        s.plain &= ok;
                        continue;
                    }
                    let v: Scalar<'de> = map.next_value()?;
                    let ok = match key.as_str() {
                        "role" => text(v, &mut s.role),
                        "prompt" => text(v, &mut s.prompt),
                        "workload" => text(v, &mut s.workload),
                        "trace_id" => text(v, &mut s.trace_id),
                        "input_tokens" => count(v, &mut s.input_tokens),
                        "expected_output_tokens" => count(v, &mut s.expected_output_tokens),
                        "dependent_tool_calls" => {
                            let mut n = None;
                            let ok = count(v, &mut n);
                            s.dependent_tool_calls = n.unwrap_or(0);
                            ok
                        }
                        "needs_chain_of_thought" => flag(v, &mut s.needs_chain_of_thought),
                        "output_must_be_json" => flag(v, &mut s.output_must_be_json),
                        "untrusted_input" => flag(v, &mut s.untrusted_input),
                        _ => false,
                    };
                    s.plain &= ok;
                }
                Ok(s)
            }
            fn visit_unit<E: de::Error>(self) -> Result<StepView<'de>, E> {
                Ok(StepView::default())
            }
            fn visit_none<E: de::Error>(self) -> Result<StepView<'de>, E> {
                Ok(StepView::default())
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<StepView<'de>, E> {
                Ok(StepView::default())
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<StepView<'de>, E> {
                Ok(StepView::default())
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<StepView<'de>, E> {
                Ok(StepView::default())
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<StepView<'de>, E> {
                Ok(StepView::default())
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<StepView<'de>, E> {
                Ok(StepView::default())
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<StepView<'de>, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(StepView::default())
            }
        }
        d.deserialize_any(V)
    }
}

/// A string field (null is absent); false when the value has another type.
fn text<'a>(v: Scalar<'a>, slot: &mut Option<Text<'a>>) -> bool {
    match v {
        Scalar::Str(t) => {
            *slot = Some(t);
            true
        }
        Scalar::Null => {
            *slot = None;
            true
        }
        _ => false,
    }
}

/// A count field: an integer >= 0 (null is absent).
fn count(v: Scalar<'_>, slot: &mut Option<u64>) -> bool {
    match v {
        Scalar::U64(n) => {
            *slot = Some(n);
            true
        }
        Scalar::Null => {
            *slot = None;
            true
        }
        _ => false,
    }
}

/// A flag field: true or false (null is false).
fn flag(v: Scalar<'_>, slot: &mut bool) -> bool {
    match v {
        Scalar::Bool(b) => {
            *slot = b;
            true
        }
        Scalar::Null => {
            *slot = false;
            true
        }
        _ => false,
    }
}

/// The fast path of [`parse_view`]: a reader for the strict subset of JSON that call logs are
/// written in. It answers `None` whenever it is not certain (escapes, whitespace other than
/// spaces and tabs, a key twice, an unknown key, a value of another type), and serde then reads
/// the line; so it never accepts a line serde would refuse, and reads the same values.
mod fast {
    use std::borrow::Cow;

    use super::{RecordView, Scalar, StepView, Text};
    use crate::calllog::record::TokenSource;
    use crate::money::{Picos, PicosPerToken};

    struct Reader<'a> {
        s: &'a str,
        i: usize,
    }

    impl<'a> Reader<'a> {
        fn peek(&self) -> Option<u8> {
            self.s.as_bytes().get(self.i).copied()
        }

        fn skip_ws(&mut self) {
            while matches!(self.peek(), Some(b' ' | b'\t')) {
                self.i += 1;
            }
        }

        /// The next non-space byte, consumed.
        fn next(&mut self) -> Option<u8> {
            self.skip_ws();
            let b = self.peek()?;
            self.i += 1;
            Some(b)
        }

        fn eat(&mut self, b: u8) -> Option<()> {
            (self.next()? == b).then_some(())
        }

        /// A string with no escapes and no control characters.
        fn string(&mut self) -> Option<&'a str> {
            self.eat(b'"')?;
            let bytes = self.s.as_bytes();
            let start = self.i;
            self.i = string_end(bytes, start);
            if *bytes.get(self.i)? != b'"' {
                return None;
            }
            let out = &self.s[start..self.i];
            self.i += 1;
            Some(out)
        }

        fn text(&mut self) -> Option<Text<'a>> {
            self.string().map(|s| Text(Cow::Borrowed(s)))
        }

        /// `null`, consumed, or false with nothing consumed.
        fn null(&mut self) -> bool {
            self.skip_ws();
            if self.s.as_bytes()[self.i..].starts_with(b"null") {
                self.i += 4;
                true
            } else {
                false
            }
        }

        fn opt_text(&mut self) -> Option<Option<Text<'a>>> {
            if self.null() {
                Some(None)
            } else {
                self.text().map(Some)
            }
        }

        fn boolean(&mut self) -> Option<bool> {
            self.skip_ws();
            let rest = &self.s.as_bytes()[self.i..];
            if rest.starts_with(b"true") {
                self.i += 4;
                Some(true)
            } else if rest.starts_with(b"false") {
                self.i += 5;
                Some(false)
            } else {
                None
            }
        }

        /// The text of a JSON number, checked against the grammar.
        fn number_text(&mut self) -> Option<(&'a str, bool)> {
            self.skip_ws();
            let bytes = self.s.as_bytes();
            let start = self.i;
            let digits = |r: &mut Self| {
                let from = r.i;
                while bytes.get(r.i).is_some_and(u8::is_ascii_digit) {
                    r.i += 1;
                }
                r.i - from
            };
            if self.peek() == Some(b'-') {
                self.i += 1;
            }
            let int_start = self.i;
            let n = digits(self);
            if n == 0 || (n > 1 && bytes[int_start] == b'0') {
                return None;
            }
            let mut integer = true;
            if self.peek() == Some(b'.') {
                self.i += 1;
                integer = false;
                if digits(self) == 0 {
                    return None;
                }
            }
            if matches!(self.peek(), Some(b'e' | b'E')) {
                self.i += 1;
                integer = false;
                if matches!(self.peek(), Some(b'+' | b'-')) {
                    self.i += 1;
                }
                if digits(self) == 0 {
                    return None;
                }
            }
            Some((&self.s[start..self.i], integer))
        }

        /// A JSON number as a scalar, typed the way serde_json types it (`-0` and integers
        /// beyond 64 bits are floats there: left to serde).
        fn number(&mut self) -> Option<Scalar<'a>> {
            let (text, integer) = self.number_text()?;
            if integer {
                if let Some(n) = digits_u64(text) {
                    return Some(Scalar::U64(n));
                }
                return match text.parse::<u64>() {
                    Ok(n) => Some(Scalar::U64(n)),
                    Err(_) => text.parse::<i64>().ok().filter(|&n| n < 0).map(Scalar::I64),
                };
            }
            // serde_json's own float reading, so both paths read the same bits.
            serde_json::from_str::<f64>(text).ok().map(Scalar::F64)
        }

        fn u64(&mut self) -> Option<u64> {
            match self.number()? {
                Scalar::U64(n) => Some(n),
                _ => None,
            }
        }

        fn f64(&mut self) -> Option<f64> {
            match self.number()? {
                Scalar::U64(n) => Some(n as f64),
                Scalar::I64(n) => Some(n as f64),
                Scalar::F64(f) => Some(f),
                _ => None,
            }
        }

        /// `{ "k": v, ... }`: calls `field` for each key; `None` from it gives up.
        fn object(
            &mut self,
            mut field: impl FnMut(&mut Self, &'a str) -> Option<()>,
        ) -> Option<()> {
            self.eat(b'{')?;
            self.skip_ws();
            if self.peek() == Some(b'}') {
                self.i += 1;
                return Some(());
            }
            loop {
                let key = self.string()?;
                self.eat(b':')?;
                field(self, key)?;
                match self.next()? {
                    b',' => continue,
                    b'}' => return Some(()),
                    _ => return None,
                }
            }
        }
    }

    /// The first byte at or after `from` that ends a plain string: a quote, a backslash or a
    /// control character (or the end), eight bytes at a time.
    pub(super) fn string_end(bytes: &[u8], from: usize) -> usize {
        const ONES: u64 = 0x0101_0101_0101_0101;
        const HIGHS: u64 = 0x8080_8080_8080_8080;
        let mut i = from;
        while let Some(chunk) = bytes.get(i..i + 8) {
            let w = u64::from_le_bytes(chunk.try_into().expect("eight bytes"));
            let quote = w ^ (ONES * b'"' as u64);
            let backslash = w ^ (ONES * b'\\' as u64);
            // A flag at each byte that is zero (quote, backslash) or below 0x20; the lowest
            // flag of each term is exact, so the lowest of all is the first such byte.
            let hits = (quote.wrapping_sub(ONES) & !quote)
                | (backslash.wrapping_sub(ONES) & !backslash)
                | (w.wrapping_sub(ONES * 0x20) & !w);
            let hits = hits & HIGHS;
            if hits != 0 {
                return i + (hits.trailing_zeros() / 8) as usize;
            }
            i += 8;
        }
        while i < bytes.len() && !matches!(bytes[i], b'"' | b'\\' | 0..=0x1f) {
            i += 1;
        }
        i
    }

    /// Plain digits as a u64 (`None` on a sign or overflow).
    fn digits_u64(text: &str) -> Option<u64> {
        text.bytes().try_fold(0u64, |n, b| {
            if b.is_ascii_digit() {
                n.checked_mul(10)?.checked_add(u64::from(b - b'0'))
            } else {
                None
            }
        })
    }

    /// Sets bit `bit` of `seen`; `None` if it was set (a key given twice).
    fn once(seen: &mut u32, bit: u32) -> Option<()> {
        let mask = 1 << bit;
        if *seen & mask != 0 {
            return None;
        }
        *seen |= mask;
        Some(())
    }

    fn step<'a>(r: &mut Reader<'a>) -> Option<StepView<'a>> {
        let mut s = StepView {
            plain: true,
            ..StepView::default()
        };
        let mut seen = 0u32;
        r.object(|r, key| {
            let opt_u64 = |r: &mut Reader<'a>| {
                if r.null() {
                    Some(None)
                } else {
                    r.u64().map(Some)
                }
            };
            let flag = |r: &mut Reader<'a>| if r.null() { Some(false) } else { r.boolean() };
            match key {
                "role" => {
                    once(&mut seen, 0)?;
                    s.role = Some(r.text()?);
                }
                "input_tokens" => {
                    once(&mut seen, 1)?;
                    s.input_tokens = opt_u64(r)?;
                }
                "prompt" => {
                    once(&mut seen, 2)?;
                    s.prompt = r.opt_text()?;
                }
                "expected_output_tokens" => {
                    once(&mut seen, 3)?;
                    s.expected_output_tokens = opt_u64(r)?;
                }
                "needs_chain_of_thought" => {
                    once(&mut seen, 4)?;
                    s.needs_chain_of_thought = flag(r)?;
                }
                "output_must_be_json" => {
                    once(&mut seen, 5)?;
                    s.output_must_be_json = flag(r)?;
                }
                "untrusted_input" => {
                    once(&mut seen, 6)?;
                    s.untrusted_input = flag(r)?;
                }
                "dependent_tool_calls" => {
                    once(&mut seen, 7)?;
                    s.dependent_tool_calls = opt_u64(r)?.unwrap_or(0);
                }
                "tags" => {
                    once(&mut seen, 8)?;
                    if !r.null() {
                        let tags = &mut s.tags;
                        r.object(|r, k| {
                            if tags.iter().any(|(name, _)| name.as_str() == k) {
                                return None;
                            }
                            let v = match r.peek_value()? {
                                b'"' => Scalar::Str(r.text()?),
                                b't' | b'f' => Scalar::Bool(r.boolean()?),
                                _ => r.number()?,
                            };
                            tags.push((Text(Cow::Borrowed(k)), v));
                            Some(())
                        })?;
                    }
                }
                "workload" => {
                    once(&mut seen, 9)?;
                    s.workload = r.opt_text()?;
                }
                "trace_id" => {
                    once(&mut seen, 10)?;
                    s.trace_id = r.opt_text()?;
                }
                _ => return None,
            }
            Some(())
        })?;
        Some(s)
    }

    impl Reader<'_> {
        /// The first byte of the next value, not consumed.
        fn peek_value(&mut self) -> Option<u8> {
            self.skip_ws();
            self.peek()
        }
    }

    /// Reads a record line, or `None` when serde must decide.
    pub(super) fn record(line: &str) -> Option<RecordView<'_>> {
        let r = &mut Reader { s: line, i: 0 };
        let mut seen = 0u32;
        let mut time = None;
        let mut trace_id = None;
        let mut policy = None;
        let mut policy_version = None;
        let mut step_view = None;
        let mut tier = None;
        let mut model = None;
        let mut rule = None;
        let mut via = None;
        let mut guard = None;
        let (mut latency_us, mut input_tokens, mut output_tokens) = (0, 0, 0);
        let mut token_source = None;
        let (mut input_price, mut output_price, mut cost) = (0, 0, 0);
        let mut cost_usd = 0.0;
        r.object(|r, key| {
            match key {
                "time" => {
                    once(&mut seen, 0)?;
                    time = Some(r.text()?);
                }
                "trace_id" => {
                    once(&mut seen, 1)?;
                    trace_id = r.opt_text()?;
                }
                "policy" => {
                    once(&mut seen, 2)?;
                    policy = Some(r.text()?);
                }
                "policy_version" => {
                    once(&mut seen, 3)?;
                    policy_version = Some(r.text()?);
                }
                "step" => {
                    once(&mut seen, 4)?;
                    step_view = Some(step(r)?);
                }
                "tier" => {
                    once(&mut seen, 5)?;
                    tier = Some(r.text()?);
                }
                "model" => {
                    once(&mut seen, 6)?;
                    model = Some(r.text()?);
                }
                "rule" => {
                    once(&mut seen, 7)?;
                    rule = r.opt_text()?;
                }
                "via" => {
                    once(&mut seen, 8)?;
                    via = Some(r.text()?);
                }
                "guard" => {
                    once(&mut seen, 9)?;
                    guard = r.opt_text()?;
                }
                "latency_us" => {
                    once(&mut seen, 10)?;
                    latency_us = r.u64()?;
                }
                "input_tokens" => {
                    once(&mut seen, 11)?;
                    input_tokens = r.u64()?;
                }
                "output_tokens" => {
                    once(&mut seen, 12)?;
                    output_tokens = r.u64()?;
                }
                "token_source" => {
                    once(&mut seen, 13)?;
                    token_source = Some(match r.string()? {
                        "provider" => TokenSource::Provider,
                        "tokenizer" => TokenSource::Tokenizer,
                        "approx" => TokenSource::Approx,
                        _ => return None,
                    });
                }
                "input_price" => {
                    once(&mut seen, 14)?;
                    input_price = r.u64()?;
                }
                "output_price" => {
                    once(&mut seen, 15)?;
                    output_price = r.u64()?;
                }
                "cost" => {
                    once(&mut seen, 16)?;
                    cost = r.u64()?;
                }
                "cost_usd" => {
                    once(&mut seen, 17)?;
                    cost_usd = r.f64()?;
                }
                _ => return None,
            }
            Some(())
        })?;
        r.skip_ws();
        // Every required key (all but trace_id, rule and guard) and nothing after the object.
        let required = ((1u32 << 18) - 1) & !((1 << 1) | (1 << 7) | (1 << 9));
        if r.i != line.len() || seen & required != required {
            return None;
        }
        Some(RecordView {
            time: time?,
            trace_id,
            policy: policy?,
            policy_version: policy_version?,
            step: step_view?,
            tier: tier?,
            model: model?,
            rule,
            via: via?,
            guard,
            latency_us,
            input_tokens,
            output_tokens,
            token_source: token_source?,
            input_price: PicosPerToken(input_price),
            output_price: PicosPerToken(output_price),
            cost: Picos(cost),
            cost_usd,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"{"time":"2026-11-26T06:00:00Z","trace_id":"t\u00e9","policy":"contract-review","policy_version":"abc","step":{"role":"format","input_tokens":10,"tags":{"j":"EU","j":"UK"}},"tier":"cheap","model":"muse-spark","rule":null,"via":"default","guard":null,"latency_us":5,"input_tokens":10,"output_tokens":2,"token_source":"provider","input_price":1000000,"output_price":5000000,"cost":20000000,"cost_usd":0.00002}"#;

    #[test]
    fn lines_are_numbered_and_endings_stripped() {
        let text = b"a\r\n\nb\nlast";
        let mut r = LogReader::new(&text[..]);
        let mut got = Vec::new();
        while let Some((n, line)) = r.next_line().unwrap() {
            got.push((n, String::from_utf8(line.to_vec()).unwrap()));
        }
        let want: Vec<(u64, String)> = vec![
            (1, "a".into()),
            (2, "".into()),
            (3, "b".into()),
            (4, "last".into()),
        ];
        assert_eq!(got, want);
    }

    #[test]
    fn lines_straddling_the_buffer_are_whole() {
        let text: Vec<u8> = (0..200)
            .flat_map(|i| format!("line {i} {}\n", "x".repeat(i % 37)).into_bytes())
            .collect();
        let mut r = LogReader::new(io::BufReader::with_capacity(16, &text[..]));
        let mut n = 0;
        while let Some((number, line)) = r.next_line().unwrap() {
            let want = format!("line {n} {}", "x".repeat(n % 37));
            assert_eq!(line, want.as_bytes());
            assert_eq!(number, n as u64 + 1);
            n += 1;
        }
        assert_eq!(n, 200);
    }

    #[test]
    fn newlines_are_found_anywhere_in_a_word() {
        for len in 0..40 {
            for at in 0..len {
                let mut v = vec![b'a'; len];
                v[at] = b'\n';
                if at + 1 < len {
                    v[len - 1] = b'\n';
                }
                assert_eq!(find_newline(&v), Some(at), "{len} {at}");
            }
            assert_eq!(find_newline(&vec![0x8a; len]), None);
        }
    }

    #[test]
    fn the_view_reads_what_the_record_reads() {
        let view = parse_view(GOOD.as_bytes()).unwrap();
        let rec = parse_record(GOOD.as_bytes()).unwrap();
        assert_eq!(view.trace_id.unwrap().as_str(), rec.trace_id.unwrap());
        assert!(view.step.plain);
        assert_eq!(
            view.step.tags.len(),
            1,
            "a repeated tag keeps its last value"
        );
        assert_eq!(view.step.tags[0].1, Scalar::Str(Text("UK".into())));
        assert_eq!(view.cost, rec.cost);
    }

    #[test]
    fn the_view_and_the_record_refuse_the_same_lines() {
        let cases = [
            GOOD.replace("\"via\"", "\"vai\""),
            GOOD.replace(r#","cost_usd":0.00002"#, ""),
            GOOD.replace(r#""latency_us":5"#, r#""latency_us":-5"#),
            GOOD.replace(r#""token_source":"provider""#, r#""token_source":"guess""#),
            GOOD.replace(r#""rule":null,"#, ""),
            GOOD.replace(r#""step":{"#, r#""step":{"extra":[1,{"a":2}],"#),
            GOOD.replace(
                r#""step":{"role":"format","input_tokens":10,"tags":{"j":"EU","j":"UK"}}"#,
                r#""step":[1,2]"#,
            ),
            GOOD.replace(
                r#""step":{"role":"format","input_tokens":10,"tags":{"j":"EU","j":"UK"}}"#,
                r#""step":null"#,
            ),
            GOOD.replace(r#""tags":{"j":"EU","j":"UK"}"#, r#""tags":7"#),
            GOOD[..40].to_string(),
            String::new(),
            "   ".into(),
            "[]".into(),
        ];
        for line in &cases {
            let v = parse_view(line.as_bytes()).map(|_| ());
            let r = parse_record(line.as_bytes()).map(|_| ());
            assert_eq!(v.is_ok(), r.is_ok(), "{line}: view {v:?} record {r:?}");
        }
        let odd = parse_view(cases[5].as_bytes()).unwrap();
        assert!(!odd.step.plain);
    }

    /// Lines the fast path must take, as the runner writes them.
    fn runner_lines() -> Vec<String> {
        vec![
            GOOD.replace(r#"\u00e9"#, "é").replace(r#","j":"UK""#, ""),
            r#"{"time":"2026-11-20T09:00:03Z","trace_id":"cr-0004","policy":"contract-review","policy_version":"ea0ed85fd2c7","step":{"role":"reason","input_tokens":6000,"expected_output_tokens":800,"needs_chain_of_thought":true,"output_must_be_json":false,"untrusted_input":true,"dependent_tool_calls":3,"tags":{"jurisdiction":"EU","contract_value_usd":2500000,"ratio":-2.5e-3,"neg":-7,"vip":false},"workload":"contract-review","trace_id":"cr-0004","prompt":null},"tier":"premium","model":"claude-opus-4-6","rule":"high-value-eu-uk","via":"guard","guard":"g","latency_us":616603,"input_tokens":6000,"output_tokens":800,"token_source":"approx","input_price":15000000,"output_price":75000000,"cost":150000000000,"cost_usd":0.15}"#.to_string(),
            r#" { "time" : "t" , "policy":"p","policy_version":"v","step":{},"tier":"t","model":"m","via":"default","latency_us":0,"input_tokens":0,"output_tokens":0,"token_source":"tokenizer","input_price":0,"output_price":0,"cost":0,"cost_usd":0 } "#.to_string(),
        ]
    }

    #[test]
    fn the_fast_path_takes_runner_lines_and_reads_them_as_serde_does() {
        for line in runner_lines() {
            let fast = fast::record(&line).unwrap_or_else(|| panic!("fast path refused {line}"));
            assert_eq!(
                fast,
                parse::<RecordView<'_>>(line.as_bytes()).unwrap(),
                "{line}"
            );
        }
    }

    /// Every one-byte change to those lines: whatever the fast path accepts, serde accepts
    /// too, with the same reading.
    #[test]
    fn the_fast_path_never_accepts_what_serde_refuses() {
        let edits = b" \"\\0123-+.eE,:{}[]ntfx\t\r";
        let mut taken = 0;
        for line in runner_lines() {
            let bytes = line.as_bytes();
            for at in 0..bytes.len() {
                let mut variants: Vec<Vec<u8>> = Vec::new();
                let mut v = bytes.to_vec();
                v.remove(at);
                variants.push(v);
                for &c in edits {
                    let mut v = bytes.to_vec();
                    v[at] = c;
                    variants.push(v);
                    let mut v = bytes.to_vec();
                    v.insert(at, c);
                    variants.push(v);
                }
                for v in variants {
                    let Ok(text) = std::str::from_utf8(&v) else {
                        continue;
                    };
                    if let Some(fast) = fast::record(text) {
                        taken += 1;
                        let slow = parse::<RecordView<'_>>(&v).unwrap_or_else(|e| {
                            panic!("fast took what serde refuses ({e}): {text}")
                        });
                        assert_eq!(fast, slow, "{text}");
                    }
                }
            }
        }
        assert!(taken > 1000, "the fast path took only {taken} variants");
    }

    #[test]
    fn string_ends_are_found_anywhere_in_a_word() {
        for len in 0..30 {
            for at in 0..len {
                for c in [b'"', b'\\', 0x00, 0x1f, b'\n'] {
                    let mut v = vec![b'a'; len];
                    v[at] = c;
                    if at + 1 < len {
                        v[len - 1] = b'"';
                    }
                    assert_eq!(fast::string_end(&v, 0), at, "{len} {at} {c}");
                }
            }
            let plain: Vec<u8> = (0..len)
                .map(|i| [b'a', 0x20, 0x7f, 0xc3, 0xff][i % 5])
                .collect();
            assert_eq!(fast::string_end(&plain, 0), len);
        }
    }

    #[test]
    fn bad_lines_say_what_is_wrong() {
        let e = parse_record(b"{\"time\":").unwrap_err();
        assert!(e.starts_with("not valid JSON"), "{e}");
        let e = parse_record(GOOD.replace("\"via\"", "\"vai\"").as_bytes()).unwrap_err();
        assert!(e.contains("unknown field `vai`"), "{e}");
        assert!(parse_record(b"").unwrap_err().contains("blank line"));
        let e = parse_record(b"{\"time\":\"\xff\"}").unwrap_err();
        assert!(e.starts_with("not UTF-8 (column 10)"), "{e}");
    }
}
