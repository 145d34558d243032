//! Call logs as data: the call record, reading log lines, and the tools over them —
//! `report` (spend by group), `rebill` (re-price at other prices) and `replay` (route the
//! logged steps again under a candidate policy). Nothing here calls a model.

pub mod log;
pub mod rebill;
pub mod record;
pub mod replay;
pub mod report;

pub use record::{CallRecord, StepJson, TokenSource};
