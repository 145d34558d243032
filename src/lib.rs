//! switchyard routes every step of an LLM agent to the right model tier, from a declarative
//! TOML policy compiled into a decision table.
//!
//! The data flow, one module per stage:
//!
//! | module | what it does |
//! | --- | --- |
//! | [`step`] | [`Step`], the features a rule can see; parsing a step from JSON |
//! | [`policy`] | reading policy files, includes and sets; checking them into a [`Policy`] |
//! | [`compile`] | turning a policy into a [`CompiledPolicy`]: decision tables, expressions, guards |
//! | [`router`] | [`Router`]: the policy set behind an atomic pointer; [`Decision`]s and explanations |
//! | `reload` | hot reload: watching policy files, swapping in each settled valid change, keeping the last good set (feature `reload`) |
//! | [`money`] | exact money: pico-dollar amounts and per-token prices |
//! | `calllog` | call records, reading call logs, `report`, `rebill`, `replay` — data only (feature `calllog`) |
//! | `clients` | the `ModelClient` trait, requests and responses; the offline mock provider (feature `cost`) |
//! | `runner` | route → budget → call → settle → record; the budget ledger and call sinks (feature `cost`) |
//! | `schema` | the policy file's JSON Schema, generated from the types the parser reads into (feature `schema`) |
//! | [`lines`] | reading JSON lines with a maximum length: a longer line is one error, the read goes on |
//! | [`diag`] | [`Diagnostic`]s with file:line:col, rendered with the source line underlined |
//! | `lint` | `switchyard lint`: the checks (one file each), the exact table analysis, `allow`, and human/JSON/GitHub/SARIF output (feature `lint`) |
//! | `server` | `switchyard serve`: the HTTP decision API and chat proxy on axum, auth, limits, metrics (feature `server`) |
//! | `cli` | the `switchyard` command's subcommands (feature `cli`) |
//!
//! # Cargo features
//!
//! All are on by default. A program that only routes can depend on
//! `switchyard = { version = "0.1", default-features = false }` and compile just the core
//! (step, money, diag, policy, compile, router).
//!
//! | feature | enables | pulls in |
//! | --- | --- | --- |
//! | `lint` | `lint`: the checks, the table analysis and the renderers | – |
//! | `reload` | `reload`: `Router::watch`, hot reload of policy files | notify, signal-hook |
//! | `calllog` | `calllog`: call records, reading call logs, report, rebill, replay | – |
//! | `cost` | `clients` and `runner`: running steps, budget caps, call sinks (implies `calllog`) | tokio |
//! | `schema` | `schema`: the policy file's JSON Schema | schemars |
//! | `server` | `server`: `switchyard serve` (implies `reload` and `cost`) | axum, tokio, prometheus-client, subtle, humantime |
//! | `cli` | `cli` and the `switchyard` binary (implies the others) | clap, tracing-subscriber |
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
pub mod cli;
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

pub use compile::CompiledPolicy;
pub use diag::{Diagnostic, Severity};
pub use policy::{LoadError, Model, Policy};
pub use router::{Decision, Explanation, PolicySet, RouteError, Router, Via};
pub use step::{Step, StepError, TagValue};
