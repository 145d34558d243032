//! switchyard routes every step of an LLM agent to the right model tier, from a declarative
//! TOML policy compiled into a decision table.
//!
//! # Module map
//!
//! The layers run one way: each module names only the ones listed above it (a test,
//! `tests/layers.rs`, holds the core to that).
//!
//! | module | what it does |
//! | --- | --- |
//! | [`step`] | [`Step`], the features a rule can see; the one step wire type (`StepWire`) for parsing, call logs and the schema |
//! | [`money`] | exact money: pico-dollar amounts and per-token prices, formatted exactly |
//! | [`diag`] | [`Diagnostic`]s with file:line:col, rendered with the source line underlined |
//! | [`lines`] | reading JSON lines with a maximum length: a longer line is one error, the read goes on |
//! | [`policy`] | reading policy files, includes and sets; checking names, references and ranges into a [`Policy`] |
//! | [`compile`] | turning a policy into a [`CompiledPolicy`]: decision tables, sandboxed expressions, guards; the expression checks that keep a policy from loading |
//! | [`router`] | [`Router`] and [`PolicySet`]: the policy set behind an atomic pointer; [`Decision`]s and [`Explanation`]s |
//! | `reload` | hot reload: watching policy files, swapping in each settled valid change, keeping the last good set (feature `reload`) |
//! | `lint` | `switchyard lint`: the checks (one file each), the exact table analysis, `allow`, the `[[tests]]` runner, human/JSON/GitHub/SARIF output (feature `lint`) |
//! | `schema` | the policy file's JSON Schema, generated from the types the parser reads into (feature `schema`) |
//! | `calllog` | call records and reading call logs; `report`, `rebill`, `replay` — data only (feature `calllog`) |
//! | `clients` | the `ModelClient` trait, the canonical chat request and response, the OpenAI-compatible and Anthropic HTTP clients, the mock, retries and fallbacks (feature `clients`) |
//! | `runner` | route → budget → call → settle → record: the `Runner`, the budget ledger, call sinks (feature `cost`) |
//! | `server` | `switchyard serve`: the HTTP decision API and chat proxy on axum, auth, limits, metrics (feature `server`) |
//! | `cli` | the `switchyard` command, one file per subcommand; private, reached through `main.rs` (feature `cli`) |
//!
//! # Cargo features
//!
//! All are on by default. A program that only routes can depend on
//! `switchyard = { version = "0.1", default-features = false }` and compile just the core
//! (step, money, diag, lines, policy, compile, router).
//!
//! | feature | enables | pulls in |
//! | --- | --- | --- |
//! | `lint` | `lint`: the checks, the table analysis, the policy test runner, the renderers | – |
//! | `reload` | `reload`: `Router::watch`, hot reload of policy files | notify, signal-hook |
//! | `calllog` | `calllog`: call records, reading call logs, report, rebill, replay | – |
//! | `clients` | `clients`: model clients over HTTP (OpenAI-compatible, Anthropic), SSE streams, retries, fallbacks | tokio, reqwest (rustls), eventsource-stream, futures-util, httpdate, fastrand, bytes |
//! | `cost` | `runner`: running steps, budget caps, call sinks (implies `calllog` and `clients`) | tokio, jiff |
//! | `schema` | `schema`: the policy file's JSON Schema | schemars |
//! | `server` | `server`: `switchyard serve` (implies `reload` and `cost`) | axum, tokio, prometheus-client, subtle, humantime |
//! | `cli` | the `switchyard` binary (implies `lint`, `reload`, `calllog`, `cost`, `schema`, `server`) | clap, tracing-subscriber, humantime, tempfile, csv |
//!
//! ```
//! use switchyard::{Router, Step};
//!
//! let router = Router::load("policies/contract-review.toml")?;
//! let step = Step::new("format").input_tokens(1200).expected_output_tokens(300);
//! let decision = router.route(&step)?;
//! assert_eq!(decision.tier(), "cheap");
//! println!("{} -> {} ({:?} USD)", decision.rule().unwrap_or("default"),
//!          decision.model().model_id, decision.estimated_usd());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#[cfg(feature = "calllog")]
pub mod calllog;
#[cfg(feature = "cli")]
mod cli;
#[cfg(feature = "clients")]
pub mod clients;
pub mod compile;
pub mod diag;
pub mod lines;
#[cfg(feature = "lint")]
pub mod lint;
pub mod money;
pub mod policy;
#[cfg(feature = "reload")]
pub mod reload;
pub mod router;
#[cfg(feature = "cost")]
pub mod runner;
#[cfg(feature = "schema")]
pub mod schema;
#[cfg(feature = "server")]
pub mod server;
pub mod step;
mod suggest;

/// Runs the `switchyard` command on the process's arguments (what `main.rs` calls; the
/// subcommands are the library's functions behind a command line, not an API of their own).
#[cfg(feature = "cli")]
#[doc(hidden)]
pub fn cli_main() -> std::process::ExitCode {
    cli::main()
}

/// The type of [`Step::role`]: a string held inline up to 24 bytes.
pub use compact_str::CompactString;
pub use compile::CompiledPolicy;
pub use diag::{Diagnostic, Severity};
pub use policy::{LoadError, Model, Policy};
pub use router::{Decision, Explanation, PolicySet, RouteError, RouteFailure, Router, Via};
pub use step::{RoleId, Step, StepError, TagValue};
