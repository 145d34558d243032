//! Checks inside Rhai expressions: a `step.FIELD` that does not exist, a tag not declared in
//! `[tags]`, a literal compared with a field or tag of another type, and a function the
//! sandbox does not allow. They live in `compile` (their errors keep a policy from loading);
//! lint reports the same diagnostics, warnings included.

pub(crate) use crate::compile::check::check;
