//! Building a call's record: the step's features as the log keeps them, and the call's time.

use std::time::SystemTime;

use crate::calllog::record::StepJson;
use crate::step::{Step, StepWire};

/// The step as a log keeps it: its features without the prompt text, and its input tokens
/// as counted, so the log can be routed again. Written through the step's one wire type,
/// so it is exactly the text [`Step::to_json`] gives for that step.
pub(crate) fn step_features(step: &Step, input_tokens: u64) -> StepJson {
    let mut wire = StepWire::from(step);
    wire.prompt = None;
    wire.input_tokens = Some(input_tokens);
    // Serializing plain strings, numbers and maps cannot fail; `null` stands in if it ever did.
    StepJson::new(&wire).unwrap_or_else(|_| StepJson::from(&serde_json::Value::Null))
}

/// `2026-11-26T06:19:42.123Z`: RFC 3339 in UTC, to the millisecond (cut, not rounded).
pub fn rfc3339_utc(t: SystemTime) -> String {
    // A reused printer: RFC 3339 with `Z`, always three fractional digits.
    const PRINTER: jiff::fmt::temporal::DateTimePrinter =
        jiff::fmt::temporal::DateTimePrinter::new().precision(Some(3));
    // Only a time past jiff's range (after the year 9999) fails: write the epoch then.
    let ts = jiff::Timestamp::try_from(t).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
    let mut out = String::with_capacity(24);
    // Writing to a String cannot fail.
    let _ = PRINTER.print_timestamp(&ts, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::step::TagValue;
    use proptest::strategy::Strategy;
    use std::time::{Duration, UNIX_EPOCH};

    fn features(step: &Step, input_tokens: u64) -> String {
        step_features(step, input_tokens).as_str().to_string()
    }

    #[test]
    fn tags_are_written_as_to_json_writes_them() {
        let step = Step::new("a \"quoted\"\nrole")
            .tag("whole", 3.0)
            .tag("negative_zero", -0.0)
            .tag("fraction", -2.5)
            .tag("huge", 1e300)
            .tag("not_finite", f64::NAN)
            .tag("inf", f64::INFINITY)
            .tag("on", true)
            .tag("k\u{e9}y \\ \u{1}", "v\u{e9}l\t\"ue\"")
            .workload("w\u{2028}");
        let want = step.clone().input_tokens(0).to_json();
        assert_eq!(features(&step, 0), serde_json::to_string(&want).unwrap());
    }

    proptest::proptest! {
        /// Any step, any strings and numbers: the same text as its `to_json`.
        #[test]
        fn step_features_match_to_json_for_any_step(
            role in ".*",
            tokens in proptest::option::of(proptest::num::u64::ANY),
            flags in proptest::array::uniform3(proptest::bool::ANY),
            calls in 0u64..3,
            tags in proptest::collection::btree_map(
                ".*",
                proptest::prop_oneof![
                    ".*".prop_map(TagValue::Str),
                    proptest::num::f64::ANY.prop_map(TagValue::Num),
                    (-20i64..20).prop_map(|n| TagValue::Num(n as f64 / 4.0)),
                    proptest::bool::ANY.prop_map(TagValue::Bool),
                ],
                0..4,
            ),
            workload in proptest::option::of(".*"),
            input in proptest::num::u64::ANY,
        ) {
            let mut step = Step::new(role)
                .needs_chain_of_thought(flags[0])
                .output_must_be_json(flags[1])
                .untrusted_input(flags[2])
                .dependent_tool_calls(calls);
            step.expected_output_tokens = tokens;
            step.tags = tags;
            step.workload = workload;
            let want = step.clone().input_tokens(input).to_json();
            proptest::prop_assert_eq!(
                features(&step, input),
                serde_json::to_string(&want).unwrap()
            );
        }
    }

    #[test]
    fn step_features_are_the_step_json_without_its_prompt() {
        let step = Step::new("reason")
            .prompt("hello")
            .expected_output_tokens(5)
            .needs_chain_of_thought(true)
            .untrusted_input(true)
            .dependent_tool_calls(3)
            .tag("jurisdiction", "EU")
            .tag("value", 2.5)
            .workload("w")
            .trace_id("t");
        let mut want = step.clone().input_tokens(7).to_json();
        want.as_object_mut().unwrap().shift_remove("prompt");
        // Same fields, same order, same text.
        assert_eq!(features(&step, 7), serde_json::to_string(&want).unwrap());
        let bare = Step::new("format").input_tokens(3);
        assert_eq!(
            features(&bare, 3),
            serde_json::to_string(&bare.to_json()).unwrap()
        );
    }

    #[test]
    fn times_are_rfc3339_utc_to_the_millisecond() {
        let t = UNIX_EPOCH + Duration::from_millis(1_795_674_382_123);
        assert_eq!(rfc3339_utc(t), "2026-11-26T06:26:22.123Z");
        assert_eq!(rfc3339_utc(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        // A leap day; sub-millisecond digits are cut, not rounded.
        let leap = UNIX_EPOCH + Duration::from_secs(951_782_400) + Duration::from_micros(999);
        assert_eq!(rfc3339_utc(leap), "2000-02-29T00:00:00.000Z");
        // A clock set before 1970 is written as it is, never a failed call.
        let before = UNIX_EPOCH - Duration::from_secs(5);
        assert_eq!(rfc3339_utc(before), "1969-12-31T23:59:55.000Z");
    }
}
