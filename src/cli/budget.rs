//! The `--budget-*` flags that `serve` and `run` share (where budgets are held, docs/fleet.md),
//! and `switchyard budget status`: every counter of a policy set's caps, read from a store.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Subcommand, ValueEnum};

use crate::calllog::report::format_usd;
use crate::runner::budget::{
    self, BudgetStore, CounterSubject, PolicyCaps, Store, StoreOptions, StoreUrl, WhenUnavailable,
};

/// Where budgets are held: `--budget-store` and its companions.
#[derive(Debug, Clone, Args)]
pub struct BudgetStoreArgs {
    /// Where budget counters live: `memory` (this process), or `redis://HOST:PORT[/DB]` /
    /// `rediss://…` (TLS), optionally `?prefix=NAME`, shared by every process given the same
    /// URL and prefix.
    #[arg(long, value_name = "URL", default_value = "memory", value_parser = parse_url)]
    pub budget_store: StoreUrl,
    /// When the store cannot be reached: `closed` refuses calls under a cap, `open` lets them
    /// through with a warning and a counted metric.
    #[arg(long, value_name = "MODE", value_enum, default_value_t = Unavailable::Closed)]
    pub budget_store_unavailable: Unavailable,
    /// Added to a call's time limit to make its hold's lease: a process that dies mid-call
    /// gives its holds back this long after the call could have ended.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = humantime::parse_duration)]
    pub budget_lease_margin: Duration,
    /// A trace's counter is dropped after this long without a call.
    #[arg(long, value_name = "DURATION", default_value = "24h", value_parser = humantime::parse_duration)]
    pub budget_trace_idle: Duration,
}

/// `--budget-store-unavailable`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Unavailable {
    /// Refuse calls under a cap.
    Closed,
    /// Allow them, with a warning and a counted metric.
    Open,
}

fn parse_url(s: &str) -> Result<StoreUrl, String> {
    s.parse()
        .map_err(|e: budget::InvalidStoreUrl| e.to_string())
}

impl BudgetStoreArgs {
    /// The store's options.
    pub fn options(&self) -> StoreOptions {
        StoreOptions {
            url: self.budget_store.clone(),
            unavailable: match self.budget_store_unavailable {
                Unavailable::Closed => WhenUnavailable::Closed,
                Unavailable::Open => WhenUnavailable::Open,
            },
            lease_margin: self.budget_lease_margin,
            trace_idle: self.budget_trace_idle,
        }
    }
}

/// Arguments of `switchyard budget`.
#[derive(Debug, Args)]
pub struct BudgetArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: BudgetCommand,
}

/// `switchyard budget` subcommands.
#[derive(Debug, Subcommand)]
pub enum BudgetCommand {
    /// Every counter of the policies' caps: cap, committed, held and remaining, in exact dollars.
    #[command(
        after_help = "Exit status: 0 shown; 1 the policy did not load or the store cannot be reached; 2 bad flags or a file could not be read.\n\nExample:\n  switchyard budget status --policy policies/ --budget-store redis://redis:6379\n  switchyard budget status --policy policies/ --budget-store redis://127.0.0.1:6379?prefix=staging --format json"
    )]
    Status(StatusArgs),
}

/// Arguments of `switchyard budget status`.
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// A policy file, or a directory of policies (a policy set).
    #[arg(long, short = 'p', value_name = "PATH")]
    pub policy: PathBuf,
    /// The store to read (as given to `serve`).
    #[arg(long, value_name = "URL", default_value = "memory", value_parser = parse_url)]
    pub budget_store: StoreUrl,
    /// `human` (a table) or `json` (as `GET /v1/budgets` answers).
    #[arg(long, value_enum, default_value_t = StatusFormat::Human)]
    pub format: StatusFormat,
}

/// Output formats of `budget status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StatusFormat {
    /// A table for a person.
    Human,
    /// One JSON object.
    Json,
}

pub(super) fn run(args: BudgetArgs) -> ExitCode {
    match args.command {
        BudgetCommand::Status(a) => status(a),
    }
}

fn status(args: StatusArgs) -> ExitCode {
    let router = match super::load_router(&args.policy) {
        Ok(r) => r,
        Err(code) => return code,
    };
    let caps = PolicyCaps::of_set(&router.current());
    let rt = match super::current_thread_runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    let options = StoreOptions {
        url: args.budget_store,
        ..StoreOptions::default()
    };
    let read = rt.block_on(async {
        let store = Store::open(&options)?;
        let counters = store.status(&caps).await?;
        Ok::<_, budget::StoreError>((store.kind_name(), counters))
    });
    let (kind, counters) = match read {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(super::PROBLEM);
        }
    };
    match args.format {
        StatusFormat::Json => println!("{}", budget::status_json(kind, &counters)),
        StatusFormat::Human => {
            if counters.is_empty() {
                println!("no capped counters in these policies");
                return ExitCode::SUCCESS;
            }
            let usd = |p: crate::money::Picos| format_usd(u128::from(p.0));
            println!(
                "{:<20} {:<22} {:<24} {:>14} {:>14} {:>14} {:>14}",
                "policy", "cap", "counter", "cap_usd", "committed", "held", "remaining"
            );
            for c in &counters {
                let subject = match &c.subject {
                    CounterSubject::Day(d) => budget::day_date(*d),
                    CounterSubject::Trace(t) => format!("trace {t}"),
                };
                println!(
                    "{:<20} {:<22} {:<24} {:>14} {:>14} {:>14} {:>14}",
                    c.policy,
                    c.scope.key(),
                    subject,
                    usd(c.cap),
                    usd(c.committed),
                    usd(c.held),
                    usd(c.remaining())
                );
            }
        }
    }
    ExitCode::SUCCESS
}
