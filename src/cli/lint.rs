//! `switchyard lint`: load and check policy files and directories, and report every finding
//! in the chosen format. Exit 1 on any error (or warning, with `--deny-warnings`), 2 when a
//! path cannot be read.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, ValueEnum};

use crate::lint::render::{render, Format};
use crate::lint::{lint_paths, Report};

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
    let report = lint_paths(&args.paths);
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
