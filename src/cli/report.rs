//! `switchyard report LOG`: spend, calls, tokens and p50/p95 latency over a call log, in
//! total and by policy, tier, rule, role and model — a table for people, or JSON / CSV.
//! Also the pieces the other log commands share: opening a log, and reporting skipped lines.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::io::{self, BufRead, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, ValueEnum};

use crate::calllog::report::{format_usd, format_usd_fixed, report, Group, Report};
use crate::calllog::{LogReader, LogStats};
use crate::lines::DEFAULT_MAX_LINE_BYTES;

/// Arguments of `switchyard report`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// A call log (JSON lines, as `switchyard run --log` writes); `-` reads stdin.
    #[arg(value_name = "LOG")]
    pub log: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ReportFormat::Table)]
    pub format: ReportFormat,
    /// The longest log line read, in bytes; a longer line is skipped as a bad line.
    #[arg(long, value_name = "BYTES", default_value_t = DEFAULT_MAX_LINE_BYTES as u64, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_line_bytes: u64,
}

/// The log reader every log command uses: `input` with lines of up to `max` bytes.
pub(super) fn log_reader(input: Box<dyn BufRead>, max: u64) -> LogReader<Box<dyn BufRead>> {
    LogReader::with_max(input, usize::try_from(max).unwrap_or(usize::MAX))
}

/// `s` with every control character (ESC, BEL, C1 codes, line breaks…) written as a
/// visible escape such as `\u{1b}`, so a name taken from a log cannot drive the terminal.
pub(super) fn visible(s: &str) -> Cow<'_, str> {
    if !s.chars().any(char::is_control) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if c.is_control() {
            let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// A path for a message, made visible as [`visible`] does.
pub(super) fn shown(path: &Path) -> String {
    visible(&path.display().to_string()).into_owned()
}

/// Output formats of `report`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    /// Aligned tables for a person.
    Table,
    /// One JSON object (exact pico-dollar sums beside the dollars).
    Json,
    /// One row per group: dimension,key,calls,spend_usd,spend_picos,…
    Csv,
}

pub(super) fn run(args: ReportArgs) -> ExitCode {
    let input = match super::open_input(Some(&args.log), "a call log") {
        Ok(i) => i,
        Err(code) => return code,
    };
    let r = match report(log_reader(input, args.max_line_bytes)) {
        Ok(r) => r,
        Err(e) => return read_failed(&args.log, &e),
    };
    report_bad_lines(&args.log, &r.lines);
    let text = match args.format {
        ReportFormat::Table => table_text(&args.log, &r),
        ReportFormat::Json => serde_json::to_string_pretty(&r).expect("a report serializes") + "\n",
        ReportFormat::Csv => csv_text(&r),
    };
    print_out(&text)
}

/// A read that failed part-way (exit 2).
pub(super) fn read_failed(path: &Path, e: &io::Error) -> ExitCode {
    eprintln!(
        "error: cannot read {}: {}",
        shown(path),
        visible(&e.to_string())
    );
    ExitCode::from(super::USAGE)
}

/// Lines listed one by one on stderr before the rest are only counted.
const BAD_LINES_LISTED: usize = 100;

/// Every skipped line on stderr as `LOG:LINE: skipped: why` (the first hundred; then how many
/// more), and a count, so a bad line is never dropped without a word.
pub(super) fn report_bad_lines(path: &Path, lines: &LogStats) {
    if lines.bad.is_empty() {
        return;
    }
    let mut err = io::stderr().lock();
    for b in lines.bad.iter().take(BAD_LINES_LISTED) {
        let _ = writeln!(
            err,
            "warning: {}:{}: skipped: {}",
            shown(path),
            b.line,
            visible(&b.message)
        );
    }
    if lines.bad.len() > BAD_LINES_LISTED {
        let _ = writeln!(
            err,
            "warning: … and {} more skipped lines",
            lines.bad.len() - BAD_LINES_LISTED
        );
    }
    let _ = writeln!(
        err,
        "warning: {} of {} lines skipped (not call records); the other {} were read",
        lines.bad.len(),
        lines.lines,
        lines.records
    );
}

/// Writes the result to stdout; a closed pipe is not an error worth a message.
pub(super) fn print_out(text: &str) -> ExitCode {
    let mut out = io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|_| out.flush()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: cannot write the output: {e}");
            ExitCode::from(super::USAGE)
        }
    }
}

/// The line that says what was read.
pub(super) fn lines_summary(path: &Path, lines: &LogStats) -> String {
    let mut s = format!(
        "{}: {} line{}, {} call record{}",
        shown(path),
        lines.lines,
        plural(lines.lines),
        lines.records,
        plural(lines.records)
    );
    if !lines.bad.is_empty() {
        s += &format!(
            ", {} bad line{} skipped (listed on stderr)",
            lines.bad.len(),
            plural(lines.bad.len() as u64)
        );
    }
    s
}

pub(super) fn plural(n: u64) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// Columns aligned, each as `align` says: `l` left (names), `r` right (numbers). Cells are
/// shown with their control characters escaped ([`visible`]).
pub(super) fn table(headers: &[&str], rows: &[Vec<String>], align: &[u8], indent: &str) -> String {
    let rows: Vec<Vec<Cow<'_, str>>> = rows
        .iter()
        .map(|row| row.iter().map(|cell| visible(cell)).collect())
        .collect();
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let header_row: Vec<Cow<'_, str>> = headers.iter().map(|h| visible(h)).collect();
    for row in std::iter::once(&header_row).chain(&rows) {
        let mut line = String::from(indent);
        for (i, (cell, w)) in row.iter().zip(&widths).enumerate() {
            if i > 0 {
                line.push_str("  ");
            }
            let pad = w - cell.chars().count();
            if align.get(i) == Some(&b'l') {
                line.push_str(cell);
                line.extend(std::iter::repeat_n(' ', pad));
            } else {
                line.extend(std::iter::repeat_n(' ', pad));
                line.push_str(cell);
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

fn ms(us: u64) -> String {
    format!("{:.1}", us as f64 / 1000.0)
}

fn share(part: u128, whole: u128) -> String {
    if whole == 0 {
        "-".into()
    } else {
        format!("{:.1}%", part as f64 * 100.0 / whole as f64)
    }
}

fn table_text(path: &Path, r: &Report) -> String {
    let mut out = lines_summary(path, &r.lines) + "\n";
    let t = &r.total;
    out += &format!(
        "total: {} call{}, {} ({} exactly), p50 {} ms, p95 {} ms, {} input / {} output tokens\n",
        t.calls,
        plural(t.calls),
        format_usd_fixed(t.spend_picos),
        format_usd(t.spend_picos),
        ms(t.p50_latency_us),
        ms(t.p95_latency_us),
        t.input_tokens,
        t.output_tokens
    );
    for d in &r.by {
        out += &format!("\nby {}\n", d.name);
        let rows: Vec<Vec<String>> = d
            .groups
            .iter()
            .map(|g| {
                vec![
                    g.key.clone(),
                    g.calls.to_string(),
                    format_usd_fixed(g.spend_picos),
                    share(g.spend_picos, t.spend_picos),
                    ms(g.p50_latency_us),
                    ms(g.p95_latency_us),
                    g.input_tokens.to_string(),
                    g.output_tokens.to_string(),
                ]
            })
            .collect();
        out += &table(
            &[
                d.name,
                "calls",
                "spend",
                "share",
                "p50 ms",
                "p95 ms",
                "input tok",
                "output tok",
            ],
            &rows,
            b"lrrrrrrr",
            "  ",
        );
    }
    out
}

fn csv_text(r: &Report) -> String {
    // Written to memory, so the only errors csv could give are I/O ones that cannot happen.
    let mut w = csv::Writer::from_writer(Vec::new());
    let _ = w.write_record([
        "dimension",
        "key",
        "calls",
        "spend_usd",
        "spend_picos",
        "input_tokens",
        "output_tokens",
        "p50_latency_us",
        "p95_latency_us",
    ]);
    let mut row = |dimension: &str, g: &Group| {
        let usd = format_usd(g.spend_picos);
        let _ = w.write_record([
            dimension,
            &g.key,
            &g.calls.to_string(),
            &usd[1..],
            &g.spend_picos.to_string(),
            &g.input_tokens.to_string(),
            &g.output_tokens.to_string(),
            &g.p50_latency_us.to_string(),
            &g.p95_latency_us.to_string(),
        ]);
    };
    row("total", &r.total);
    for d in &r.by {
        for g in &d.groups {
            row(d.name, g);
        }
    }
    let bytes = w.into_inner().unwrap_or_default();
    // Every field written is a Rust string, so the bytes are UTF-8.
    String::from_utf8(bytes).unwrap_or_default()
}
