//! The cost side: exact money, call records, and (built on them) running steps through model
//! clients, budgets, and reports over call logs.
//!
//! Money, records, call logs, reports, rebilling and replay need nothing extra; running steps
//! (the runner, the budget ledger and the call sinks) is behind the `cost` feature, with the
//! model clients it calls.

#[cfg(feature = "cost")]
pub mod budget;
pub mod log;
pub mod money;
pub mod rebill;
pub mod record;
pub mod replay;
pub mod report;
#[cfg(feature = "cost")]
pub mod runner;
#[cfg(feature = "cost")]
pub mod sink;

pub use money::{Picos, PicosPerToken, PICOS_PER_USD};
pub use record::{CallRecord, StepJson, TokenSource};
#[cfg(feature = "cost")]
pub use runner::{RunError, Runner, StepOutput};
#[cfg(feature = "cost")]
pub use sink::{CallSink, JsonlSink, MemorySink};
