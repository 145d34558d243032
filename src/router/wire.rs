//! The JSON a decision or a rejection is written as, one object per step: what
//! `switchyard route` prints for each input line and what `POST /v1/route` answers, so both
//! write exactly the same bytes.

use serde_json::Value;

use super::{PolicySet, RouteError};
use crate::step::{Step, StepError};

/// One step's answer: the JSON object, and the error kind when the step was not routed.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    /// The decision object, or the error object (`{"error": {"kind", …}}`).
    pub json: Value,
    /// The error's kind (`invalid_step`, `guard_rejected`, …), or `None` for a decision.
    pub error_kind: Option<&'static str>,
}

/// Routes a parsed step under `set` and writes the answer; with `explain`, an `explain` array
/// of every rule and guard looked at is added.
pub fn answer_step(set: &PolicySet, step: &Step, explain: bool) -> Answer {
    let trace = step.trace_id.as_deref();
    if !explain {
        return match set.route(step) {
            Ok(d) => Answer {
                json: d.to_json(trace),
                error_kind: None,
            },
            Err(e) => Answer {
                json: e.to_json(trace),
                error_kind: Some(e.kind()),
            },
        };
    }
    let ex = set.explain(step);
    let (mut json, error_kind) = match &ex.result {
        Ok(d) => (d.to_json(trace), None),
        Err(e) => (e.to_json(trace), Some(e.kind())),
    };
    if let Value::Object(m) = &mut json {
        m.insert(
            "explain".into(),
            Value::Array(ex.checks.iter().map(|c| c.to_json()).collect()),
        );
    }
    Answer { json, error_kind }
}

/// Parses one line of a JSONL batch (`line_no` counts from 1) and answers it: a line that is
/// not a valid step becomes an `invalid_step` error naming the line.
pub fn answer_line(set: &PolicySet, line_no: u64, text: &str, explain: bool) -> Answer {
    match Step::from_json(text) {
        Ok(step) => answer_step(set, &step, explain),
        Err(e) => invalid_line(line_no, &e),
    }
}

/// The error object of a line that is not a valid step.
pub fn invalid_line(line_no: u64, e: &StepError) -> Answer {
    Answer {
        json: RouteError::from(StepError {
            message: format!("line {line_no}: {}", e.message),
        })
        .to_json(None),
        error_kind: Some("invalid_step"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn a_bad_line_names_its_number_and_a_good_one_is_decided() {
        let set = PolicySet::load(Path::new("policies/contract-review.toml")).unwrap();
        let bad = answer_line(&set, 7, "{oops", false);
        assert_eq!(bad.error_kind, Some("invalid_step"));
        assert!(bad.json["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("line 7: "));
        let good = answer_line(&set, 1, r#"{"role":"format","input_tokens":5}"#, true);
        assert_eq!(good.error_kind, None);
        assert_eq!(good.json["policy"], "contract-review");
        assert!(good.json["explain"].is_array());
    }
}
