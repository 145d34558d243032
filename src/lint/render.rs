//! Writing lint findings: for a person (miette, the source line underlined), as JSON with
//! stable fields, as GitHub Actions workflow commands (annotations in the diff), and as
//! SARIF 2.1.0 (code-scanning tools).

use serde_json::{json, Value};

use super::{Report, CHECKS};
use crate::diag::{Diagnostic, Severity};

/// The output formats of `switchyard lint`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// For a person: each finding with its source line underlined, then a summary.
    Human,
    /// One JSON document: the findings and the counts.
    Json,
    /// GitHub Actions workflow commands, one line per finding.
    Github,
    /// SARIF 2.1.0.
    Sarif,
}

/// Renders a report. `color` applies to the human format only.
pub fn render(report: &Report, format: Format, color: bool) -> String {
    match format {
        Format::Human => human(report, color),
        Format::Json => {
            let mut s =
                serde_json::to_string_pretty(&json_report(report)).expect("JSON values serialize");
            s.push('\n');
            s
        }
        Format::Github => github(report),
        Format::Sarif => {
            let mut s =
                serde_json::to_string_pretty(&sarif(report)).expect("JSON values serialize");
            s.push('\n');
            s
        }
    }
}

fn plural(n: usize, word: &str) -> String {
    format!("{n} {word}{}", if n == 1 { "" } else { "s" })
}

/// The closing line: counts by severity.
pub fn summary(report: &Report) -> String {
    format!(
        "{}, {}, {} ({} linted)",
        plural(report.count(Severity::Error), "error"),
        plural(report.count(Severity::Warning), "warning"),
        plural(report.count(Severity::Info), "info"),
        if report.policies == 1 {
            "1 policy".to_string()
        } else {
            format!("{} policies", report.policies)
        },
    )
}

fn human(report: &Report, color: bool) -> String {
    let mut out = String::new();
    for d in &report.diagnostics {
        out.push_str(&d.render(color));
    }
    out.push_str(&summary(report));
    out.push('\n');
    out
}

/// `{"diagnostics": [...], "errors": n, "warnings": n, "infos": n, "policies": n}`; each
/// diagnostic has the fields of [`Diagnostic::to_json`].
pub fn json_report(report: &Report) -> Value {
    json!({
        "diagnostics": report.diagnostics.iter().map(Diagnostic::to_json).collect::<Vec<_>>(),
        "errors": report.count(Severity::Error),
        "warnings": report.count(Severity::Warning),
        "infos": report.count(Severity::Info),
        "policies": report.policies,
    })
}

/// Escapes a workflow command's message (`%`, CR, LF).
fn escape_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Escapes a workflow command's property value (also `:` and `,`).
fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

fn github(report: &Report) -> String {
    let mut out = String::new();
    for d in &report.diagnostics {
        let level = match d.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "notice",
        };
        let mut props = Vec::new();
        if let Some(file) = d.file() {
            props.push(format!(
                "file={}",
                escape_property(&file.display().to_string())
            ));
        }
        if let (Some(src), Some(span)) = (&d.source, &d.span) {
            let (line, col) = src.line_col(span.start);
            let (end_line, end_col) = src.line_col(span.end);
            props.push(format!("line={line}"));
            props.push(format!("col={col}"));
            props.push(format!("endLine={end_line}"));
            props.push(format!("endColumn={end_col}"));
        }
        props.push(format!("title={}", escape_property(d.name)));
        let mut message = d.shown_message().into_owned();
        if let Some(h) = d.shown_help() {
            message.push_str(&format!("\nhelp: {h}"));
        }
        if let Some(e) = &d.example {
            message.push_str(&format!("\nfor example, the step {e}"));
        }
        out.push_str(&format!(
            "::{level} {}::{}\n",
            props.join(","),
            escape_data(&message)
        ));
    }
    out
}

fn sarif_level(s: Severity) -> &'static str {
    match s {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Info => "note",
    }
}

fn sarif(report: &Report) -> Value {
    // Every known check is a rule; a name lint does not know (none today) is added too.
    let mut names: Vec<&str> = CHECKS.iter().map(|c| c.name).collect();
    for d in &report.diagnostics {
        if !names.contains(&d.name) {
            names.push(d.name);
        }
    }
    let rules: Vec<Value> = names
        .iter()
        .map(|n| {
            let c = super::check_named(n);
            json!({
                "id": n,
                "shortDescription": { "text": c.map_or(*n, |c| c.summary) },
                "defaultConfiguration": { "level": sarif_level(c.map_or(Severity::Warning, |c| c.severity)) },
            })
        })
        .collect();
    let results: Vec<Value> = report
        .diagnostics
        .iter()
        .map(|d| {
            let mut text = d.shown_message().into_owned();
            if let Some(h) = d.shown_help() {
                text.push_str(&format!(" (help: {h})"));
            }
            if let Some(e) = &d.example {
                text.push_str(&format!(" For example, the step {e}."));
            }
            let mut physical = json!({});
            if let Some(file) = d.file() {
                physical["artifactLocation"] =
                    json!({ "uri": file.display().to_string().replace('\\', "/") });
            }
            if let (Some(src), Some(span)) = (&d.source, &d.span) {
                let (line, col) = src.line_col(span.start);
                let (end_line, end_col) = src.line_col(span.end);
                physical["region"] = json!({
                    "startLine": line, "startColumn": col,
                    "endLine": end_line, "endColumn": end_col,
                });
            }
            let mut r = json!({
                "ruleId": d.name,
                "ruleIndex": names.iter().position(|n| *n == d.name),
                "level": sarif_level(d.severity),
                "message": { "text": text },
                "locations": [ { "physicalLocation": physical } ],
            });
            if let Some(e) = &d.example {
                r["properties"] = json!({ "example": e });
            }
            r
        })
        .collect();
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": { "driver": {
                "name": "switchyard",
                "version": env!("CARGO_PKG_VERSION"),
                "rules": rules,
            }},
            "results": results,
        }],
    })
}
