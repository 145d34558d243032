//! The `[[tests]]` pass: each test's step parses, and what it expects names a tier, rule,
//! model, guard or way of deciding that exists.

use std::collections::{HashMap, HashSet};

use super::{known_help, Cx, Known};
use crate::policy::load::Broken;
use crate::policy::raw::RawFile;
use crate::policy::{PolicyTest, Rule, EXPECT_VIA_NAMES};
use crate::step::Step;
use crate::suggest::did_you_mean;

/// Checks `[[tests]]`, in order, against the checked rules (`rule_index`: name -> first rule).
pub(super) fn check(
    cx: &mut Cx,
    raw: &RawFile,
    known: &Known<'_>,
    rules: &[Rule],
    rule_index: &HashMap<String, usize>,
    broken: &Broken,
) -> Vec<PolicyTest> {
    let mut tests: Vec<PolicyTest> = Vec::new();
    let mut test_names: HashSet<String> = HashSet::new();
    // Every rule and guard name written, checked or not (a name that failed its own checks
    // is reported already, not again as unknown).
    let raw_rule_names: HashSet<&str> = raw
        .rules
        .iter()
        .map(|r| r.get_ref().name.get_ref().as_str())
        .collect();
    let raw_guard_names: HashSet<&str> = raw
        .guards
        .iter()
        .map(|g| g.get_ref().name.get_ref().as_str())
        .collect();
    let model_keys: HashSet<&str> = known.models.iter().map(|m| m.key.as_str()).collect();
    for t in &raw.tests {
        let t = t.get_ref();
        let tname = t.name.get_ref();
        if test_names.contains(tname) {
            cx.err(
                "duplicate-test",
                t.name.span(),
                format!("a test named `{tname}` already exists"),
            );
        }
        let step = match toml_to_json(t.step.get_ref())
            .and_then(|v| Step::from_value(&v).map_err(|e| e.message))
        {
            Ok(s) => Some(s),
            Err(msg) => {
                cx.err(
                    "invalid-test-step",
                    t.step.span(),
                    format!("this test's step is not valid: {msg}"),
                );
                None
            }
        };
        let expect_tier = t
            .expect_tier
            .as_ref()
            .map(|v| cx.tier_ref(known.tiers, known.tier_names, v, "expect_tier"));
        let expect_rule = match &t.expect_rule {
            None => Some(None),
            Some(v) if v.get_ref() == "default" => Some(Some(None)),
            Some(v) => match rule_index.get(v.get_ref()) {
                Some(&i) => Some(Some(Some(i))),
                // The rule exists but failed its own checks: that is already reported.
                None if broken.rules.contains(v.get_ref())
                    || raw_rule_names.contains(v.get_ref().as_str()) =>
                {
                    None
                }
                None => {
                    let hint = did_you_mean(v.get_ref(), rules.iter().map(|r| r.name.as_str()));
                    cx.err_help(
                        "unknown-rule",
                        v.span(),
                        format!("no rule is named `{}`", v.get_ref()),
                        known_help(
                            hint,
                            "rules (or \"default\")",
                            rules.iter().map(|r| r.name.as_str()),
                        ),
                    );
                    None
                }
            },
        };
        if let Some(m) = &t.expect_model {
            if !model_keys.contains(m.get_ref().as_str()) {
                cx.err(
                    "unknown-model",
                    m.span(),
                    format!("no model is named `{}`", m.get_ref()),
                );
            }
        }
        if let Some(v) = &t.expect_via {
            if !EXPECT_VIA_NAMES.contains(&v.get_ref().as_str()) {
                cx.err_help(
                    "invalid-value",
                    v.span(),
                    format!("`{}` is not a way a decision is made", v.get_ref()),
                    "expect_via is one of \"rule\", \"default\", \"guard\", \"expression_error\"",
                );
            }
        }
        if let Some(g) = &t.expect_guard {
            let defined = broken.guards.contains(g.get_ref())
                || raw_guard_names.contains(g.get_ref().as_str());
            if !defined {
                cx.err(
                    "unknown-guard",
                    g.span(),
                    format!("no guard is named `{}`", g.get_ref()),
                );
            }
        }
        if let (Some(step), Some(expect_rule)) = (step, expect_rule) {
            test_names.insert(tname.clone());
            tests.push(PolicyTest {
                name: tname.clone(),
                step,
                expect_tier: expect_tier.flatten(),
                expect_rule,
                expect_model: t.expect_model.as_ref().map(|m| m.get_ref().clone()),
                expect_via: t.expect_via.as_ref().map(|m| m.get_ref().clone()),
                expect_guard: t.expect_guard.as_ref().map(|m| m.get_ref().clone()),
                expect_rejected: t.expect_rejected.as_ref().map(|m| *m.get_ref()),
                loc: cx.loc(t.name.span()),
            });
        }
    }
    tests
}

/// A test's inline step table as JSON, for the step parser.
fn toml_to_json(v: &toml::Value) -> Result<serde_json::Value, String> {
    use serde_json::Value as J;
    Ok(match v {
        toml::Value::String(s) => J::String(s.clone()),
        toml::Value::Integer(i) => J::from(*i),
        toml::Value::Float(f) => serde_json::Number::from_f64(*f)
            .map(J::Number)
            .ok_or_else(|| format!("the number {f} is not finite"))?,
        toml::Value::Boolean(b) => J::Bool(*b),
        toml::Value::Datetime(d) => return Err(format!("a date ({d}) is not a step value")),
        toml::Value::Array(a) => J::Array(a.iter().map(toml_to_json).collect::<Result<_, _>>()?),
        toml::Value::Table(t) => J::Object(
            t.iter()
                .map(|(k, v)| Ok((k.clone(), toml_to_json(v)?)))
                .collect::<Result<_, String>>()?,
        ),
    })
}
