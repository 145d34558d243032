//! Running steps: route → reserve budget → call the model → settle → record.
//!
//! | module | what it does |
//! | --- | --- |
//! | `run` | [`Runner`] and [`Runner::run_step`], in named steps; [`RunError`] |
//! | [`budget`] | the caps: worst cases, reservations, settling, the [`budget::Ledger`] |
//! | `record` | a call's record: the step's features as logged, the time |
//! | [`sink`] | where records go: [`JsonlSink`] (a writer thread), [`MemorySink`], events |
//! | `summary` | [`RunTotals`] of a run and its "all on the most expensive tier" [`Baseline`] |

pub mod budget;
mod record;
mod run;
pub mod sink;
mod summary;

pub use record::rfc3339_utc;
#[cfg(feature = "server")] // serve writes the same step into its records
pub(crate) use record::step_features;
pub use run::{RunError, Runner, StepOutput};
pub use sink::{CallSink, JsonlSink, MemorySink};
pub use summary::{baseline, Baseline, RunTotals};
