//! A guard's `escalate_to` tier whose model lacks what the guard requires: every step the
//! guard escalates is then rejected after all. The check lives in `compile` (it keeps a
//! policy from loading); lint reports the same diagnostic.

use super::Finding;
use crate::policy::Policy;

/// `escalate-lacks-capability`.
pub(super) fn escalations(p: &Policy) -> Vec<Finding> {
    crate::compile::check::escalations(p)
        .into_iter()
        .map(Finding::policy)
        .collect()
}
