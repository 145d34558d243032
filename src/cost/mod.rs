//! The cost side: exact money, call records, and (built on them) running steps through model
//! clients, budgets, and reports over call logs.

pub mod budget;
pub mod log;
pub mod money;
pub mod rebill;
pub mod record;
pub mod replay;
pub mod report;
pub mod runner;
pub mod sink;

pub use money::{Picos, PicosPerToken, PICOS_PER_USD};
pub use record::{CallRecord, StepJson, TokenSource};
pub use runner::{RunError, Runner, StepOutput};
pub use sink::{CallSink, JsonlSink, MemorySink};
