//! `switchyard report LOG`: spend, calls, tokens and p50/p95 latency over a call log, in
//! total and by policy, tier, rule, role and model — a table for people, or JSON / CSV.
//! Also the pieces the other log commands share: opening a log, and reporting skipped lines.

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, ValueEnum};

use crate::calllog::log::LogStats;
use crate::calllog::report::{format_usd, format_usd_fixed, report, Group, Report};

/// Arguments of `switchyard report`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// A call log (JSON lines, as `switchyard run --log` writes); `-` reads stdin.
    #[arg(value_name = "LOG")]
    pub log: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ReportFormat::Table)]
    pub format: ReportFormat,
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
    let r = match report(input) {
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
    eprintln!("error: cannot read {}: {e}", path.display());
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
            path.display(),
            b.line,
            b.message
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
        path.display(),
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

/// Columns aligned, each as `align` says: `l` left (names), `r` right (numbers).
pub(super) fn table(headers: &[&str], rows: &[Vec<String>], align: &[u8], indent: &str) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let header_row: Vec<String> = headers.iter().map(|h| h.to_string()).collect();
    for row in std::iter::once(&header_row).chain(rows) {
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
    let mut out = String::from(
        "dimension,key,calls,spend_usd,spend_picos,input_tokens,output_tokens,p50_latency_us,p95_latency_us\n",
    );
    let mut row = |dimension: &str, g: &Group| {
        let usd = format_usd(g.spend_picos);
        out += &format!(
            "{},{},{},{},{},{},{},{},{}\n",
            dimension,
            csv_field(&g.key),
            g.calls,
            &usd[1..],
            g.spend_picos,
            g.input_tokens,
            g.output_tokens,
            g.p50_latency_us,
            g.p95_latency_us
        );
    };
    row("total", &r.total);
    for d in &r.by {
        for g in &d.groups {
            row(d.name, g);
        }
    }
    out
}

/// A CSV field, quoted when it holds a comma, a quote or a line break.
fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}
