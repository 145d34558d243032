//! A reader for the common call-log line, kept beside serde because serde_json alone misses
//! the replay target (BENCHMARKS.md, "Replay": ≥ 1M lines per second on one core).
//!
//! It takes only what the runner writes: the record's fields and a step's, each once, strings
//! without escapes, counts as plain digits, single spaces or tabs between tokens. Anything
//! else (an escape, an unknown or repeated key, a number serde would read another way, a
//! missing field) gives `None`, and serde reads the line and decides; so this reader can make
//! a read faster but never changes what a line means. A test holds it to that: every line it
//! takes, serde takes too and reads the same (`calllog::read` tests).

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde::de::{self, value::StrDeserializer, IntoDeserializer};
use serde::Deserialize;

use super::record::CallStatus;
use super::view::{RecordView, StepView, Text};
use crate::money::{Picos, PicosPerToken};
use crate::router::Via;
use crate::step::{StepWire, TagValue};

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

    /// The next byte after spaces, consumed.
    fn next(&mut self) -> Option<u8> {
        self.skip_ws();
        let b = self.peek()?;
        self.i += 1;
        Some(b)
    }

    fn eat(&mut self, b: u8) -> Option<()> {
        (self.next()? == b).then_some(())
    }

    /// Whether `word` comes next (after spaces); consumed when it does.
    fn word(&mut self, word: &str) -> bool {
        self.skip_ws();
        let hit = self.s.as_bytes()[self.i..].starts_with(word.as_bytes());
        if hit {
            self.i += word.len();
        }
        hit
    }

    /// A string with no escapes and no control characters, borrowed.
    fn string(&mut self) -> Option<&'a str> {
        self.eat(b'"')?;
        let bytes = self.s.as_bytes();
        let start = self.i;
        // A plain loop: keys and values here are short, where memchr's setup costs more
        // than the scan (measured with `cargo bench --bench replay`).
        let len = bytes[start..]
            .iter()
            .position(|&b| b == b'"' || b == b'\\' || b < 0x20)?;
        if bytes[start + len] != b'"' {
            return None;
        }
        self.i = start + len + 1;
        Some(&self.s[start..start + len])
    }

    fn text(&mut self) -> Option<Text<'a>> {
        self.string().map(|s| Text(Cow::Borrowed(s)))
    }

    fn opt_text(&mut self) -> Option<Option<Text<'a>>> {
        if self.word("null") {
            Some(None)
        } else {
            self.text().map(Some)
        }
    }

    fn opt_cow(&mut self) -> Option<Option<Cow<'a, str>>> {
        if self.word("null") {
            Some(None)
        } else {
            self.string().map(|s| Some(Cow::Borrowed(s)))
        }
    }

    fn boolean(&mut self) -> Option<bool> {
        if self.word("true") {
            Some(true)
        } else if self.word("false") {
            Some(false)
        } else {
            None
        }
    }

    /// A flag as a step reads it: null is false.
    fn flag(&mut self) -> Option<bool> {
        if self.word("null") {
            Some(false)
        } else {
            self.boolean()
        }
    }

    /// The text of a JSON number, checked against the grammar.
    fn number_text(&mut self) -> Option<&'a str> {
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
        if self.peek() == Some(b'.') {
            self.i += 1;
            if digits(self) == 0 {
                return None;
            }
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.i += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.i += 1;
            }
            if digits(self) == 0 {
                return None;
            }
        }
        Some(&self.s[start..self.i])
    }

    /// An unsigned integer written as plain digits (serde reads anything else another way).
    fn u64(&mut self) -> Option<u64> {
        self.number_text()?.bytes().try_fold(0u64, |n, b| {
            if b.is_ascii_digit() {
                n.checked_mul(10)?.checked_add(u64::from(b - b'0'))
            } else {
                None
            }
        })
    }

    fn opt_u64(&mut self) -> Option<Option<u64>> {
        if self.word("null") {
            Some(None)
        } else {
            self.u64().map(Some)
        }
    }

    /// A finite number, read by serde_json's own float reading so both paths get the same bits.
    fn f64(&mut self) -> Option<f64> {
        serde_json::from_str::<f64>(self.number_text()?)
            .ok()
            .filter(|f| f.is_finite())
    }

    /// `{ "k": v, ... }`: calls `field` for each key; `None` from it gives up.
    fn object(&mut self, mut field: impl FnMut(&mut Self, &'a str) -> Option<()>) -> Option<()> {
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

    /// `[ "a", "b" ]`: strings only.
    fn strings(&mut self) -> Option<Vec<String>> {
        self.eat(b'[')?;
        let mut out = Vec::new();
        self.skip_ws();
        if self.peek() == Some(b']') {
            self.i += 1;
            return Some(out);
        }
        loop {
            out.push(self.string()?.to_owned());
            match self.next()? {
                b',' => continue,
                b']' => return Some(out),
                _ => return None,
            }
        }
    }
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

fn tags<'a>(r: &mut Reader<'a>) -> Option<BTreeMap<Cow<'a, str>, TagValue>> {
    let mut tags = BTreeMap::new();
    if r.word("null") {
        return Some(tags);
    }
    r.object(|r, name| {
        r.skip_ws();
        let value = match r.peek()? {
            b'"' => TagValue::Str(r.string()?.to_owned()),
            b't' | b'f' => TagValue::Bool(r.boolean()?),
            _ => TagValue::Num(r.f64()?),
        };
        // A repeated tag is an error for the wire type: serde says so.
        tags.insert(Cow::Borrowed(name), value)
            .is_none()
            .then_some(())
    })?;
    Some(tags)
}

fn step<'a>(r: &mut Reader<'a>) -> Option<StepWire<'a>> {
    let mut role = None;
    let mut s = StepWire {
        role: Cow::Borrowed(""),
        input_tokens: None,
        prompt: None,
        expected_output_tokens: None,
        needs_chain_of_thought: false,
        output_must_be_json: false,
        untrusted_input: false,
        dependent_tool_calls: 0,
        tags: BTreeMap::new(),
        workload: None,
        trace_id: None,
    };
    let mut seen = 0u32;
    r.object(|r, key| {
        match key {
            "role" => {
                once(&mut seen, 0)?;
                role = Some(r.string().filter(|s| !s.is_empty())?);
            }
            "input_tokens" => {
                once(&mut seen, 1)?;
                s.input_tokens = r.opt_u64()?;
            }
            "prompt" => {
                once(&mut seen, 2)?;
                s.prompt = r.opt_cow()?;
            }
            "expected_output_tokens" => {
                once(&mut seen, 3)?;
                s.expected_output_tokens = r.opt_u64()?;
            }
            "needs_chain_of_thought" => {
                once(&mut seen, 4)?;
                s.needs_chain_of_thought = r.flag()?;
            }
            "output_must_be_json" => {
                once(&mut seen, 5)?;
                s.output_must_be_json = r.flag()?;
            }
            "untrusted_input" => {
                once(&mut seen, 6)?;
                s.untrusted_input = r.flag()?;
            }
            "dependent_tool_calls" => {
                once(&mut seen, 7)?;
                s.dependent_tool_calls = r.opt_u64()?.unwrap_or(0);
            }
            "tags" => {
                once(&mut seen, 8)?;
                s.tags = tags(r)?;
            }
            "workload" => {
                once(&mut seen, 9)?;
                s.workload = r.opt_cow()?;
            }
            "trace_id" => {
                once(&mut seen, 10)?;
                s.trace_id = r.opt_cow()?;
            }
            _ => return None,
        }
        Some(())
    })?;
    s.role = Cow::Borrowed(role?);
    Some(s)
}

/// A word of an enum written by its derived `Serialize` (`token_source`, `status`), read by
/// its derived `Deserialize`, so the words are listed once.
fn word<'de, T: Deserialize<'de>>(text: &'de str) -> Option<T> {
    T::deserialize(text.into_deserializer() as StrDeserializer<'de, de::value::Error>).ok()
}

/// Reads a record line, or `None` when serde must decide.
pub(crate) fn record(line: &str) -> Option<RecordView<'_>> {
    let r = &mut Reader { s: line, i: 0 };
    let mut seen = 0u32;
    let mut time = None;
    let mut trace_id = None;
    let mut policy = None;
    let mut policy_version = None;
    let mut step_wire = None;
    let mut tier = None;
    let mut model = None;
    let mut rule = None;
    let mut via = None;
    let mut guard = None;
    let mut status = CallStatus::Ok;
    let (mut latency_us, mut input_tokens, mut output_tokens) = (0, 0, 0);
    let (mut cached_input_tokens, mut cache_write_tokens) = (0, 0);
    let mut fallback_from = Vec::new();
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
                step_wire = Some(step(r)?);
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
                via = Some(Via::from_name(r.string()?)?);
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
                token_source = Some(word(r.string()?)?);
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
            "cached_input_tokens" => {
                once(&mut seen, 18)?;
                cached_input_tokens = r.u64()?;
            }
            "cache_write_tokens" => {
                once(&mut seen, 19)?;
                cache_write_tokens = r.u64()?;
            }
            "fallback_from" => {
                once(&mut seen, 20)?;
                fallback_from = r.strings()?;
            }
            "status" => {
                once(&mut seen, 21)?;
                status = word(r.string()?)?;
            }
            _ => return None,
        }
        Some(())
    })?;
    r.skip_ws();
    // Every required key (bits 0-17 but trace_id, rule and guard) and nothing after the object.
    let required = ((1u32 << 18) - 1) & !((1 << 1) | (1 << 7) | (1 << 9));
    if r.i != line.len() || seen & required != required {
        return None;
    }
    Some(RecordView {
        time: time?,
        trace_id,
        policy: policy?,
        policy_version: policy_version?,
        step: StepView::Plain(step_wire?),
        line,
        tier: tier?,
        model: model?,
        rule,
        via: via?,
        guard,
        status,
        latency_us,
        input_tokens,
        output_tokens,
        cached_input_tokens,
        cache_write_tokens,
        fallback_from,
        token_source: token_source?,
        input_price: PicosPerToken(input_price),
        output_price: PicosPerToken(output_price),
        cost: Picos(cost),
        cost_usd,
    })
}
