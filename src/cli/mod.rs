//! The `switchyard` command line: argument parsing with clap, one file per subcommand.
//! `main.rs` only calls [`main`]; everything a command does is reachable from tests here.

mod explain;
mod route;

use std::io::IsTerminal;
use std::path::Path;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use crate::policy::LoadError;
use crate::router::Router;

/// Routes every step of an LLM agent to the right model tier, from a TOML policy.
#[derive(Debug, Parser)]
#[command(name = "switchyard", version, about, long_about = None)]
pub struct Cli {
    /// How logs are written to stderr (filter them with RUST_LOG, e.g. RUST_LOG=debug).
    #[arg(long, value_enum, default_value_t = LogFormat::Human, global = true)]
    pub log_format: LogFormat,
    /// The command to run.
    #[command(subcommand)]
    pub command: Command,
}

/// Log output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Lines for a person.
    Human,
    /// One JSON object per event.
    Json,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Route steps (JSONL) to tiers: one decision or error object per input line.
    #[command(
        after_help = "Example:\n  switchyard route --policy policies/ examples/steps.jsonl\n  echo '{\"role\":\"format\",\"input_tokens\":1200}' | switchyard route --policy policies/contract-review.toml"
    )]
    Route(route::RouteArgs),
    /// Explain one step's decision for a person: every rule and guard checked, and the cost on each tier.
    #[command(
        after_help = "Example:\n  switchyard explain --policy policies/contract-review.toml '{\"role\":\"summarize\",\"input_tokens\":12000,\"expected_output_tokens\":800}'"
    )]
    Explain(explain::ExplainArgs),
}

/// Runs the command line with the process's arguments.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.log_format);
    match cli.command {
        Command::Route(args) => route::run(args),
        Command::Explain(args) => explain::run(args),
    }
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Human => builder
            .with_ansi(std::io::stderr().is_terminal())
            .try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}

/// Exit status: the work found a problem (lint errors, failed tests, a policy that won't load).
pub(crate) const PROBLEM: u8 = 1;
/// Exit status: the command was used wrongly or a file could not be read.
pub(crate) const USAGE: u8 = 2;

/// Loads the router, or prints every diagnostic to stderr and returns the exit status.
pub(crate) fn load_router(path: &Path) -> Result<Router, ExitCode> {
    Router::load(path).map_err(|e| {
        report_load_error(&e);
        ExitCode::from(if e.is_io() { USAGE } else { PROBLEM })
    })
}

/// Prints a load error's diagnostics to stderr, with the source lines underlined.
pub(crate) fn report_load_error(e: &LoadError) {
    let color = std::io::stderr().is_terminal();
    for d in &e.diagnostics {
        eprint!("{}", d.render(color));
    }
    let n = e.diagnostics.len();
    eprintln!(
        "error: the policy did not load ({n} problem{})",
        if n == 1 { "" } else { "s" }
    );
}
