//! The cost side: exact money, call records, and (built on them) running steps through model
//! clients, budgets, and reports over call logs.

pub mod money;
pub mod record;

pub use money::{Picos, PicosPerToken, PICOS_PER_USD};
pub use record::{CallRecord, TokenSource};
