//! The `switchyard` command line: argument parsing with clap, one file per subcommand.
//! `main.rs` only calls [`main`]; everything a command does is reachable from tests here.

mod budget;
mod explain;
mod lint;
mod rebill;
mod replay;
mod report;
mod route;
mod run;
mod schema;
mod serve;
mod test;

use std::fs::File;
use std::io::{self, BufRead, BufReader, IsTerminal};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::OnceLock;

use clap::{Parser, Subcommand, ValueEnum};

use crate::policy::{LoadError, LoadOptions};
use crate::router::{PolicySet, Router};

/// Routes every step of an LLM agent to the right model tier, from a TOML policy.
#[derive(Debug, Parser)]
#[command(name = "switchyard", version, about, long_about = None)]
pub struct Cli {
    /// How logs are written to stderr (filter them with RUST_LOG, e.g. RUST_LOG=debug).
    #[arg(long, value_enum, default_value_t = LogFormat::Human, global = true)]
    pub log_format: LogFormat,
    /// Also let policies `include` catalogs from DIR (and below it), besides each policy's
    /// own directory; repeatable. Applies to every command that loads policies, and to each
    /// reload of `route --watch`.
    #[arg(long, value_name = "DIR", global = true)]
    pub allow_include_dir: Vec<PathBuf>,
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
    /// Check policies: every problem with its name, severity, file:line:col and the source line.
    #[command(
        after_help = "PATH is a policy file or a directory of policies; give as many as you like. Findings are errors (the policy does not load), warnings (it loads, but is likely wrong) and infos; `allow = [\"name\"]` on a rule or in [policy] silences one there; --min-severity hides the less severe; `partial-overlap` is reported only with --enable partial-overlap.\nExit status: 0 no errors (and no warnings, with --deny-warnings); 1 errors found; 2 a path could not be read.\n\nExample:\n  switchyard lint policies/\n  switchyard lint --deny-warnings --format github policies/contract-review.toml\n  switchyard lint --enable partial-overlap --min-severity info policies/"
    )]
    Lint(lint::LintArgs),
    /// Run steps (JSONL) through the agent loop on the offline mock provider: route, hold the
    /// budget, call, log; print each call's cost and the total against the most expensive tier.
    #[command(
        after_help = "Every model is served by the built-in mock provider, whatever its `provider` says: nothing leaves the machine and no API key is read. The mock answers at once and bills each step as if the model read its input_tokens and wrote its expected_output_tokens (none given: no output), at the policy's prices; [budget] caps apply as they would live.\nA line that is not a valid step, or a step that is rejected or over budget, becomes an error row and the run goes on.\nExit status: 0 ran (error rows included); 1 the policy did not load; 2 a file could not be read.\n\nExample:\n  switchyard run --policy policies/ examples/steps.jsonl --log calls.jsonl"
    )]
    Run(run::RunArgs),
    /// Run the policies' `[[tests]]`: one line per test, then `N passed, N failed`.
    #[command(
        after_help = "A failure prints the step, the expected and actual decision, and the explain trace.\nExit status: 0 all passed; 1 a test failed or a policy did not load; 2 a file could not be read.\n\nExample:\n  switchyard test policies/\n  switchyard test --coverage policies/contract-review.toml"
    )]
    Test(test::TestArgs),
    /// Print the policy file's JSON Schema (draft-07), for editors and CI.
    #[command(
        after_help = "Example:\n  switchyard schema > policy.schema.json\n  # then put this line at the top of a policy file, for Taplo / Even Better TOML:\n  #:schema ./policy.schema.json"
    )]
    Schema(schema::SchemaArgs),
    /// Spend, calls and p50/p95 latency over a call log, by policy, tier, rule, role and model.
    #[command(
        after_help = "Lines that are not call records are skipped and listed on stderr with their line numbers; the rest are read.\nExit status: 0 read (skipped lines included); 2 the log could not be read.\n\nExample:\n  switchyard report calls.jsonl\n  switchyard report calls.jsonl --format csv > spend.csv"
    )]
    Report(report::ReportArgs),
    /// Re-price a call log at a catalog's prices: old and new totals, by model; --out writes the re-billed log.
    #[command(
        after_help = "PRICES.toml holds [models.*] tables, like policies/models.toml. A model it does not list keeps its logged price and is reported. With --out, every line is written in order; lines that are not call records are copied unchanged (and listed on stderr).\nExit status: 0 done; 1 the catalog did not load; 2 a file could not be read or written.\n\nExample:\n  switchyard rebill calls.jsonl --models new-prices.toml --out calls.rebilled.jsonl"
    )]
    Rebill(rebill::RebillArgs),
    /// Route every logged step again under a candidate policy: tier changes, cost change, rules that gain and lose traffic.
    #[command(
        after_help = "The cost change uses each call's logged token counts at the candidate model's prices. Steps the candidate would not route (a guard rejects them, an unknown workload) are counted and listed by kind, outside the totals.\nExit status: 0 done; 1 the policy did not load, or --fail-if-cost-increases was exceeded; 2 a file could not be read.\n\nExample:\n  switchyard replay calls.jsonl --policy candidate/ --fail-if-cost-increases 5"
    )]
    Replay(replay::ReplayArgs),
    /// Serve the decision API and an OpenAI- and Anthropic-compatible proxy over HTTP, with hot reload.
    #[command(
        after_help = "Loopback only unless --auth-token-env is given (or --insecure-no-auth). The ready line goes to stderr: `switchyard: serving N policies (a, b) on http://ADDR`. SIGTERM/SIGINT drain and exit 0; SIGHUP reloads the policies at once.\nExit status: 0 stopped by a signal; 1 the policy did not load; 2 bad flags, a missing token, or the address could not be bound.\n\nExample:\n  switchyard serve --policy policies/\n  curl -s localhost:8790/v1/route -d '{\"role\":\"format\",\"input_tokens\":1200,\"workload\":\"contract-review\"}'"
    )]
    Serve(serve::ServeArgs),
    /// Budgets held in a store: `budget status` lists every counter of the policies' caps.
    #[command(
        after_help = "Example:\n  switchyard budget status --policy policies/ --budget-store redis://127.0.0.1:6379"
    )]
    Budget(budget::BudgetArgs),
}

/// Runs the command line with the process's arguments.
pub fn main() -> ExitCode {
    quiet_panics();
    let cli = Cli::parse();
    init_logging(cli.log_format);
    let options = cli
        .allow_include_dir
        .iter()
        .fold(LoadOptions::default(), |o, dir| o.allow_include_dir(dir));
    let _ = LOAD_OPTIONS.set(options);
    match cli.command {
        Command::Route(args) => route::run(args),
        Command::Explain(args) => explain::run(args),
        Command::Lint(args) => lint::run(args),
        Command::Run(args) => run::run(args),
        Command::Test(args) => test::run(args),
        Command::Schema(args) => schema::run(args),
        Command::Report(args) => report::run(args),
        Command::Rebill(args) => rebill::run(args),
        Command::Replay(args) => replay::run(args),
        Command::Serve(args) => serve::run(args),
        Command::Budget(args) => budget::run(args),
    }
}

/// A reader that goes away (`switchyard test policies/ | head`) ends the command quietly, as
/// it does for other command-line tools; any other panic is a bug, reported in one line
/// rather than as a Rust backtrace.
fn quiet_panics() {
    std::panic::set_hook(Box::new(|info| {
        let payload = info.payload();
        let msg = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied())
            .unwrap_or("unknown cause");
        if msg.contains("Broken pipe") {
            std::process::exit(0);
        }
        let at = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        eprintln!("switchyard: internal error: {msg}{at}; please report it");
    }));
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

/// How this process loads policies, from the global flags (`--allow-include-dir`). Set once
/// in [`main`], before any command runs, so every command loads the same way without each
/// one threading the flags through.
static LOAD_OPTIONS: OnceLock<LoadOptions> = OnceLock::new();

/// The load options of the command line (the defaults when [`main`] did not set them).
pub(crate) fn load_options() -> LoadOptions {
    LOAD_OPTIONS.get().cloned().unwrap_or_default()
}

/// Loads a policy file or policy-set directory with the command line's load options.
pub(crate) fn load_set(path: &Path) -> Result<PolicySet, LoadError> {
    PolicySet::load_with(path, &load_options())
}

/// A current-thread tokio runtime (time and I/O), or the error printed and the exit status.
pub(crate) fn current_thread_runtime() -> Result<tokio::runtime::Runtime, ExitCode> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| {
            eprintln!("error: cannot start the async runtime: {e}");
            ExitCode::from(PROBLEM)
        })
}

/// Loads the router, or prints every diagnostic to stderr and returns the exit status.
pub(crate) fn load_router(path: &Path) -> Result<Router, ExitCode> {
    load_set(path).map(Router::new).map_err(|e| load_failed(&e))
}

/// Prints a load error's diagnostics and gives its exit status: 2 when a file could not be
/// read, 1 when a policy is wrong.
pub(crate) fn load_failed(e: &LoadError) -> ExitCode {
    report_load_error(e);
    ExitCode::from(load_status(e))
}

/// The exit status of a load error, without printing it.
pub(crate) fn load_status(e: &LoadError) -> u8 {
    if e.is_io() {
        USAGE
    } else {
        PROBLEM
    }
}

/// Opens an input file line by line, or stdin for `-` or no path; `what` names what the
/// file should hold ("a file of steps", "a call log") for the error when it is a directory.
/// A file that cannot be read is reported, with exit status 2.
pub(crate) fn open_input(path: Option<&Path>, what: &str) -> Result<Box<dyn BufRead>, ExitCode> {
    let path = match path {
        Some(p) if p.as_os_str() != "-" => p,
        _ => {
            let stdin = io::stdin();
            notice_if_terminal(stdin.is_terminal(), what);
            return Ok(Box::new(stdin.lock()));
        }
    };
    if path.is_dir() {
        eprintln!(
            "error: cannot read {}: it is a directory, not {what}",
            path.display()
        );
        return Err(ExitCode::from(USAGE));
    }
    match File::open(path) {
        Ok(f) => Ok(Box::new(BufReader::with_capacity(1 << 16, f))),
        Err(e) => {
            eprintln!("error: cannot read {}: {e}", path.display());
            Err(ExitCode::from(USAGE))
        }
    }
}

/// Says on stderr what a command waits for when stdin is a terminal (as ripgrep does), so a
/// user who forgot the file name is not left looking at a silent prompt. A pipe or a file on
/// stdin gets no notice: its output stays clean.
pub(crate) fn notice_if_terminal(is_terminal: bool, what: &str) {
    if let Some(text) = stdin_notice(is_terminal, what) {
        eprintln!("{text}");
    }
}

/// The notice for [`notice_if_terminal`]; `what` is "a file of steps", "a call log", "a step".
fn stdin_notice(is_terminal: bool, what: &str) -> Option<String> {
    let what = what.strip_prefix("a file of ").unwrap_or(what);
    is_terminal.then(|| {
        format!("switchyard: waiting for {what} on stdin (type or paste, then press Ctrl-D)")
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

#[cfg(test)]
mod tests {
    use super::stdin_notice;

    #[test]
    fn the_stdin_notice_shows_only_on_a_terminal_and_names_what_is_awaited() {
        assert_eq!(stdin_notice(false, "a file of steps"), None);
        let n = stdin_notice(true, "a file of steps").unwrap();
        assert!(n.contains("waiting for steps on stdin"), "{n}");
        let n = stdin_notice(true, "a call log").unwrap();
        assert!(n.contains("waiting for a call log on stdin"), "{n}");
    }
}
