//! `switchyard lint`: load and check policy files and directories, and report every finding
//! in the chosen format. Exit 1 on any error (or warning, with `--deny-warnings`), 2 when a
//! path cannot be read.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, ValueEnum};

use crate::diag::Severity;
use crate::lint::render::{render, Format};
use crate::lint::{lint_paths_with, CheckName, Options, Report, CHECKS};

/// Arguments of `switchyard lint`.
#[derive(Debug, Args)]
pub struct LintArgs {
    /// Policy files, or directories of policies (policy sets).
    #[arg(value_name = "PATH", required = true)]
    pub paths: Vec<PathBuf>,
    /// How to write the findings.
    #[arg(long, value_enum, default_value_t = LintFormat::Human)]
    pub format: LintFormat,
    /// Fail (exit 1) on warnings too, not only on errors.
    #[arg(long)]
    pub deny_warnings: bool,
    /// Show only findings at least this severe (hidden ones neither print nor count).
    #[arg(long, value_enum, value_name = "SEVERITY", default_value_t = MinSeverity::Info)]
    pub min_severity: MinSeverity,
    /// Also report an opt-in finding (repeatable): `partial-overlap`, a rule that partly
    /// overlaps an earlier one routing elsewhere, which first-match order makes routine.
    #[arg(long, value_name = "NAME", value_parser = parse_opt_in)]
    pub enable: Vec<CheckName>,
}

/// `--min-severity`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum MinSeverity {
    /// Errors only.
    Error,
    /// Errors and warnings.
    Warning,
    /// Everything (the default).
    Info,
}

impl MinSeverity {
    fn severity(self) -> Severity {
        match self {
            MinSeverity::Error => Severity::Error,
            MinSeverity::Warning => Severity::Warning,
            MinSeverity::Info => Severity::Info,
        }
    }
}

/// `--enable NAME`: the name of an opt-in finding.
fn parse_opt_in(s: &str) -> Result<CheckName, String> {
    let opt_in = || {
        CHECKS
            .iter()
            .filter(|c| c.opt_in)
            .map(|c| c.name)
            .collect::<Vec<_>>()
            .join(", ")
    };
    match CheckName::from_name(s) {
        Some(id) if id.check().opt_in => Ok(id),
        Some(_) => Err(format!(
            "`{s}` is always reported; only these findings are opt-in: {}",
            opt_in()
        )),
        None => Err(format!(
            "`{s}` is not the name of a lint finding; the opt-in ones are: {}",
            opt_in()
        )),
    }
}

/// `--format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LintFormat {
    /// For a person: the source line underlined (on stderr).
    Human,
    /// One JSON document with stable fields (on stdout).
    Json,
    /// GitHub Actions workflow commands: annotations in the pull request's diff (on stdout).
    Github,
    /// SARIF 2.1.0, for code-scanning tools (on stdout).
    Sarif,
}

pub(super) fn run(args: LintArgs) -> ExitCode {
    if args.deny_warnings && args.min_severity == MinSeverity::Error {
        eprintln!(
            "error: --deny-warnings with --min-severity error would fail on warnings it does not show; use --min-severity warning"
        );
        return ExitCode::from(super::USAGE);
    }
    let options = Options {
        enable: args.enable.clone(),
        load: super::load_options(),
        ..Options::default()
    };
    let mut report = lint_paths_with(&args.paths, &options);
    let min = args.min_severity.severity();
    report.diagnostics.retain(|d| d.severity >= min);
    let format = match args.format {
        LintFormat::Human => Format::Human,
        LintFormat::Json => Format::Json,
        LintFormat::Github => Format::Github,
        LintFormat::Sarif => Format::Sarif,
    };
    let written = if format == Format::Human {
        let color = std::io::stderr().is_terminal();
        std::io::stderr().write_all(render(&report, format, color).as_bytes())
    } else {
        std::io::stdout().write_all(render(&report, format, false).as_bytes())
    };
    if let Err(e) = written {
        eprintln!("error: cannot write the findings: {e}");
        return ExitCode::from(super::USAGE);
    }
    ExitCode::from(exit_status(&report, args.deny_warnings))
}

fn exit_status(report: &Report, deny_warnings: bool) -> u8 {
    if report.unreadable() {
        super::USAGE
    } else if report.fails(deny_warnings) {
        super::PROBLEM
    } else {
        0
    }
}
