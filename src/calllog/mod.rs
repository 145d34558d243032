//! Call logs as data: the call record, reading log lines, and the tools over them —
//! `report` (spend by group), `rebill` (re-price at other prices) and `replay` (route the
//! logged steps again under a candidate policy). Nothing here calls a model.
//!
//! | module | job |
//! | --- | --- |
//! | [`record`] | [`CallRecord`], the line's wire format, and writing it |
//! | [`read`] | reading a log line by line and deciding what each line is (one reading for every command) |
//! | [`view`] | the borrowed form a line is read into |
//! | [`report`], [`rebill`], [`replay`] | the three commands' work |

mod fast;
pub mod read;
pub mod rebill;
pub mod record;
pub mod replay;
pub mod report;
pub mod view;

pub use read::{parse_record, parse_view, BadLine, LogLine, LogReader, LogStats};
pub use record::{CallRecord, CallStatus, StepJson, TokenSource};
