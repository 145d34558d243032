//! Running steps: route → reserve budget → call the model → settle → record. The
//! [`Runner`], the budget ledger and the sinks that call records are written to.

pub mod budget;
mod run;
pub mod sink;

pub use run::{RunError, Runner, StepOutput};
pub use sink::{CallSink, JsonlSink, MemorySink};
