//! Reading a call log (JSONL, one [`CallRecord`] per line) as a stream, line by line, and
//! deciding what a line is: [`parse_view`] is the one reading every command shares, so
//! `report`, `rebill` and `replay` accept exactly the same lines.
//!
//! A bad line (blank, too long, not UTF-8, not JSON, not a call record) never stops a read:
//! it becomes a [`BadLine`] with its line number, and the lines after it are read as usual,
//! so nothing is dropped without a word.

use std::fmt;
use std::io::{self, BufRead};

use serde::Serialize;
use serde_json::Value;

use super::record::{CallRecord, StepJson};
use super::view::{PlainRecord, RawRecord, RecordView, StepView};
use crate::lines::{Line, Lines, DEFAULT_MAX_LINE_BYTES};
use crate::step::StepWire;

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

/// One line of a log: its bytes without the line ending, or why they were not kept.
pub type LogLine<'a> = Result<&'a [u8], String>;

/// Reads a log line by line through [`Lines`], so memory stays bounded: a line longer than
/// the maximum comes out as an error message, and reading goes on at the next line.
#[derive(Debug)]
pub struct LogReader<R> {
    lines: Lines<R>,
}

impl<R: BufRead> LogReader<R> {
    /// Reads from `reader` (wrap a file in a `BufReader`), with lines of up to
    /// [`DEFAULT_MAX_LINE_BYTES`].
    pub fn new(reader: R) -> Self {
        Self::with_max(reader, DEFAULT_MAX_LINE_BYTES)
    }

    /// Reads from `reader`, with lines of up to `max` bytes.
    pub fn with_max(reader: R, max: usize) -> Self {
        LogReader {
            lines: Lines::with_max(reader, max),
        }
    }

    /// The next line: its 1-based number and its bytes without the line ending, or why it
    /// was not kept (too long). `None` at the end of the log.
    pub fn next_line(&mut self) -> io::Result<Option<(u64, LogLine<'_>)>> {
        let max = self.lines.max_line_bytes();
        Ok(self.lines.next_line()?.map(|(n, line)| match line {
            Line::Text(bytes) => (n, Ok(bytes)),
            Line::TooLong { len } => (n, Err(too_long(len, max))),
        }))
    }
}

/// What a line over the limit is told.
fn too_long(len: u64, max: usize) -> String {
    format!("the line is {len} bytes, longer than the {max} bytes allowed (--max-line-bytes)")
}

/// Parses one log line as a borrowed [`RecordView`]: the reading every command shares.
///
/// The record is deserialized with its step as raw JSON text; the step is then read into
/// borrowed [`StepWire`] when it has only step fields of the right types, and into a JSON
/// tree otherwise. Either way every value in the line is read and checked, so a number out
/// of range or a lone surrogate anywhere makes the line bad for every command alike.
pub fn parse_view(line: &[u8]) -> Result<RecordView<'_>, String> {
    let text = line_text(line)?;
    // The runner's own lines, read without serde when they are written as it writes them
    // (BENCHMARKS.md, "Replay"); anything else, serde reads and decides.
    if let Some(view) = super::fast::record(text) {
        return Ok(view);
    }
    serde_view(text)
}

/// [`parse_view`] without its fast reader: serde reads every line. The same result for
/// every line (tested); here as the baseline the replay benchmark measures the fast reader
/// against.
#[doc(hidden)]
pub fn parse_view_serde(line: &[u8]) -> Result<RecordView<'_>, String> {
    serde_view(line_text(line)?)
}

/// The line as text, refused when it is not UTF-8 or is blank.
fn line_text(line: &[u8]) -> Result<&str, String> {
    // One UTF-8 check for the whole line is much cheaper than one per string.
    let text = std::str::from_utf8(line).map_err(|e| {
        format!(
            "not UTF-8 (column {}): the bytes are not text",
            e.valid_up_to() + 1
        )
    })?;
    if text.trim().is_empty() {
        return Err("blank line (expected a call record)".into());
    }
    Ok(text)
}

/// [`parse_view`]'s serde reading of a line that is UTF-8 and not blank.
fn serde_view(text: &str) -> Result<RecordView<'_>, String> {
    // The common line in one pass (no second reading of the step); any other line is read
    // again below, which decides what it is and says why.
    if let Ok(r) = serde_json::from_str::<PlainRecord<'_>>(text) {
        return Ok(r.into_view(StepView::Plain, text));
    }
    let raw: RawRecord<'_> = serde_json::from_str(text).map_err(|e| json_error(&e, 0))?;
    let step_text = raw.step.get();
    let step = match serde_json::from_str::<StepWire<'_>>(step_text) {
        Ok(fields) => StepView::Plain(fields),
        Err(_) => {
            let value: Value = serde_json::from_str(step_text).map_err(|e| {
                // The step is a slice of the line: its errors are placed in the line.
                json_error(
                    &e,
                    (step_text.as_ptr() as usize).saturating_sub(text.as_ptr() as usize),
                )
            })?;
            StepView::Other(value)
        }
    };
    Ok(raw.into_view(|_| step, text))
}

/// Parses one log line as a [`CallRecord`] (the full, owned form: for re-writing it). It
/// accepts exactly the lines [`parse_view`] accepts, since it reads through it.
pub fn parse_record(line: &[u8]) -> Result<CallRecord, String> {
    let v = parse_view(line)?;
    let step = match &v.step {
        StepView::Other(value) => StepJson::from(value),
        // Re-read as a tree so the record's step is in the compact form a tree writes.
        StepView::Plain(_) => StepJson::from(
            &serde_json::from_str::<Value>(v.step_text()?).map_err(|e| json_error(&e, 0))?,
        ),
    };
    let owned = |t: super::view::Text<'_>| t.0.into_owned();
    Ok(CallRecord {
        time: owned(v.time),
        trace_id: v.trace_id.map(owned),
        policy: owned(v.policy),
        policy_version: owned(v.policy_version),
        step,
        tier: owned(v.tier),
        model: owned(v.model),
        rule: v.rule.map(owned),
        via: v.via,
        guard: v.guard.map(owned),
        status: v.status,
        latency_us: v.latency_us,
        input_tokens: v.input_tokens,
        output_tokens: v.output_tokens,
        cached_input_tokens: v.cached_input_tokens,
        cache_write_tokens: v.cache_write_tokens,
        fallback_from: v.fallback_from,
        token_source: v.token_source,
        input_price: v.input_price,
        output_price: v.output_price,
        cost: v.cost,
        cost_usd: v.cost_usd,
    })
}

/// A serde_json error as a bad-line message; `offset` is where the parsed text starts in
/// the line, in bytes.
fn json_error(e: &serde_json::Error, offset: usize) -> String {
    let msg = e.to_string();
    // serde_json appends " at line 1 column N"; a log line is one line, so say the column.
    let msg = msg.find(" at line ").map_or(msg.as_str(), |i| &msg[..i]);
    let what = match e.classify() {
        serde_json::error::Category::Data => "not a call record",
        _ => "not valid JSON",
    };
    format!("{what} (column {}): {msg}", offset + e.column())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::step::TagValue;

    const GOOD: &str = r#"{"time":"2026-11-26T06:00:00Z","trace_id":"t\u00e9","policy":"contract-review","policy_version":"abc","step":{"role":"format","input_tokens":10,"tags":{"j":"EU","j":"UK"}},"tier":"cheap","model":"muse-spark","rule":null,"via":"default","guard":null,"latency_us":5,"input_tokens":10,"output_tokens":2,"token_source":"provider","input_price":1000000,"output_price":5000000,"cost":20000000,"cost_usd":0.00002}"#;

    fn read_all(text: &[u8], cap: usize, max: usize) -> Vec<(u64, Result<Vec<u8>, String>)> {
        let mut r = LogReader::with_max(io::BufReader::with_capacity(cap, text), max);
        let mut got = Vec::new();
        while let Some((n, line)) = r.next_line().unwrap() {
            got.push((n, line.map(<[u8]>::to_vec)));
        }
        got
    }

    #[test]
    fn lines_are_numbered_and_endings_stripped() {
        let got = read_all(b"a\r\n\nb\nlast", 3, 100);
        let want: Vec<(u64, Result<Vec<u8>, String>)> = vec![
            (1, Ok(b"a".to_vec())),
            (2, Ok(vec![])),
            (3, Ok(b"b".to_vec())),
            (4, Ok(b"last".to_vec())),
        ];
        assert_eq!(got, want);
    }

    #[test]
    fn lines_straddling_the_buffer_are_whole() {
        let text: Vec<u8> = (0..200)
            .flat_map(|i| format!("line {i} {}\n", "x".repeat(i % 37)).into_bytes())
            .collect();
        let got = read_all(&text, 16, 1000);
        assert_eq!(got.len(), 200);
        for (i, (number, line)) in got.into_iter().enumerate() {
            let want = format!("line {i} {}", "x".repeat(i % 37));
            assert_eq!(line.unwrap(), want.as_bytes());
            assert_eq!(number, i as u64 + 1);
        }
    }

    #[test]
    fn a_line_over_the_limit_is_an_error_and_the_next_is_read() {
        let got = read_all(b"ok\n0123456789\nnext", 4, 5);
        assert_eq!(got[0], (1, Ok(b"ok".to_vec())));
        let (n, e) = &got[1];
        assert_eq!(*n, 2);
        let e = e.as_ref().unwrap_err();
        assert!(e.contains("10 bytes, longer than the 5 bytes"), "{e}");
        assert_eq!(got[2], (3, Ok(b"next".to_vec())));
    }

    #[test]
    fn the_view_reads_what_the_record_reads() {
        let view = parse_view(GOOD.as_bytes()).unwrap();
        let rec = parse_record(GOOD.as_bytes()).unwrap();
        assert_eq!(
            view.trace_id.as_ref().unwrap().as_str(),
            rec.trace_id.unwrap()
        );
        // A tag given twice is not a step the wire type takes: the step is kept as a tree,
        // which holds the last value, as a JSON object read into a map does.
        let StepView::Other(step) = &view.step else {
            panic!("a step with a repeated tag read as a tree: {:?}", view.step)
        };
        assert_eq!(step["tags"]["j"], "UK");
        let single = GOOD.replace(r#""j":"EU","#, "");
        let plain = parse_view(single.as_bytes()).unwrap();
        let StepView::Plain(wire) = &plain.step else {
            panic!("a plain step: {:?}", plain.step)
        };
        assert_eq!(wire.tags.len(), 1);
        assert_eq!(wire.tags["j"], TagValue::Str("UK".into()));
        assert_eq!(view.cost, rec.cost);
        // Read in one pass, the step's text is still there to be had.
        assert_eq!(
            view.step_text().unwrap(),
            r#"{"role":"format","input_tokens":10,"tags":{"j":"EU","j":"UK"}}"#
        );
        assert_eq!(
            rec.step.as_str(),
            r#"{"role":"format","input_tokens":10,"tags":{"j":"UK"}}"#
        );
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
            GOOD.replace(r#""step":{"#, r#""step":{"extra":[1,{"a":2e999}],"#),
            GOOD.replace(r#""step":{"#, r#""step":{"extra":"\udfff","#),
            GOOD.replace(
                r#""step":{"role":"format","input_tokens":10,"tags":{"j":"EU","j":"UK"}}"#,
                r#""step":[1,2]"#,
            ),
            GOOD.replace(
                r#""step":{"role":"format","input_tokens":10,"tags":{"j":"EU","j":"UK"}}"#,
                r#""step":null"#,
            ),
            GOOD.replace(r#""tags":{"j":"EU","j":"UK"}"#, r#""tags":7"#),
            GOOD.replace(r#""via":"default","#, r#""via":"default","via":"rule","#),
            GOOD[..40].to_string(),
            String::new(),
            "   ".into(),
            "[]".into(),
        ];
        for line in &cases {
            let v = parse_view(line.as_bytes()).map(|_| ());
            let r = parse_record(line.as_bytes()).map(|_| ());
            let tree = serde_json::from_str::<CallRecord>(line).map(|_| ());
            assert_eq!(v.is_ok(), r.is_ok(), "{line}: view {v:?} record {r:?}");
            assert_eq!(v.is_ok(), tree.is_ok(), "{line}: view {v:?} serde {tree:?}");
        }
        let odd = parse_view(cases[5].as_bytes()).unwrap();
        assert!(matches!(odd.step, StepView::Other(_)));
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
        // An error inside the step is placed in the line, where serde puts it in the line.
        let line = GOOD.replace(
            r#""input_tokens":10,"tags""#,
            r#""input_tokens":1e999,"tags""#,
        );
        let e = parse_record(line.as_bytes()).unwrap_err();
        let whole = serde_json::from_str::<Value>(&line).unwrap_err();
        assert!(e.contains(&format!("(column {})", whole.column())), "{e}");
        assert!(e.contains("number out of range"), "{e}");
    }

    /// Lines as the runner writes them, which the fast reader must take.
    fn runner_lines() -> Vec<String> {
        vec![
            GOOD.replace(r#"\u00e9"#, "é").replace(r#""j":"EU","#, ""),
            r#"{"time":"2026-11-20T09:00:03Z","trace_id":"cr-0004","policy":"contract-review","policy_version":"ea0ed85fd2c7","step":{"role":"reason","input_tokens":6000,"expected_output_tokens":800,"needs_chain_of_thought":true,"output_must_be_json":false,"untrusted_input":true,"dependent_tool_calls":3,"tags":{"jurisdiction":"EU","contract_value_usd":2500000,"ratio":-2.5e-3,"neg":-7,"vip":false},"workload":"contract-review","trace_id":"cr-0004","prompt":null},"tier":"premium","model":"claude-opus-4-6","rule":"high-value-eu-uk","via":"guard","guard":"g","latency_us":616603,"input_tokens":6000,"output_tokens":800,"cached_input_tokens":1000,"cache_write_tokens":20,"fallback_from":["a","b"],"status":"cancelled","token_source":"approx","input_price":15000000,"output_price":75000000,"cost":150000000000,"cost_usd":0.15}"#.to_string(),
            r#" { "time" : "t" , "policy":"p","policy_version":"v","step":{"role":"r","prompt":"hi"},"tier":"t","model":"m","via":"default","latency_us":0,"input_tokens":0,"output_tokens":0,"fallback_from":[],"token_source":"tokenizer","input_price":0,"output_price":0,"cost":0,"cost_usd":0 } "#.to_string(),
        ]
    }

    #[test]
    fn the_fast_reader_takes_runner_lines_and_reads_them_as_serde_does() {
        for line in runner_lines() {
            let fast = super::super::fast::record(&line)
                .unwrap_or_else(|| panic!("the fast reader refused {line}"));
            assert_eq!(fast, serde_view(&line).unwrap(), "{line}");
        }
    }

    /// Every one-byte change to those lines: whatever the fast reader takes, serde takes
    /// too, and reads the same.
    #[test]
    fn the_fast_reader_never_takes_what_serde_refuses() {
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
                    if let Some(fast) = super::super::fast::record(text) {
                        taken += 1;
                        let slow = serde_view(text).unwrap_or_else(|e| {
                            panic!("the fast reader took what serde refuses ({e}): {text}")
                        });
                        assert_eq!(fast, slow, "{text}");
                    }
                }
            }
        }
        assert!(taken > 1000, "the fast reader took only {taken} variants");
    }
}
