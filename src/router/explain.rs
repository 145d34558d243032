//! `explain`: the decision, plus every rule and guard looked at, whether it held, and which
//! condition failed. Slow on purpose: it walks conditions one by one, in words a person reads.

use std::sync::Arc;

use serde_json::{json, Value};

use super::decision::{decide, input_tokens, need, Decision, RouteError, RouteFailure};
use crate::compile::{CompiledExpr, CompiledPolicy};
use crate::policy::{Condition, OnExpressionError, TagTest};
use crate::step::{Step, TagValue};

/// Whether a check was about a rule, a guard, the default or the context window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CheckKind {
    /// A `[[rules]]` entry.
    Rule,
    /// A `[[guards]]` entry.
    Guard,
    /// No rule matched: the policy's `default_tier` (named "default").
    Default,
    /// The step did not fit the tier's model (named "context_window"): where it went instead.
    ContextWindow,
}

/// One rule or guard looked at while deciding.
#[derive(Debug, Clone, PartialEq)]
pub struct Check {
    /// Rule or guard.
    pub kind: CheckKind,
    /// Its name.
    pub name: String,
    /// Whether its `when` held.
    pub held: bool,
    /// Why not (the first condition that failed), or what it did.
    pub detail: String,
}

impl Check {
    /// The check as one element of the `explain` array.
    pub fn to_json(&self) -> Value {
        json!({
            "kind": match self.kind {
                CheckKind::Rule => "rule",
                CheckKind::Guard => "guard",
                CheckKind::Default => "default",
                CheckKind::ContextWindow => "context_window",
            },
            "name": self.name,
            "held": self.held,
            "detail": self.detail,
        })
    }
}

/// A decision with its trace.
#[derive(Debug, Clone)]
pub struct Explanation {
    /// The decision, or why there is none.
    pub result: Result<Decision<'static>, RouteError>,
    /// Input tokens as counted for the decision (None when no policy was selected).
    pub input_tokens: Option<u64>,
    /// Each rule looked at, in order, up to the one that won; then each guard.
    pub checks: Vec<Check>,
    /// The estimated cost of the step on each tier of the policy: (tier, model, dollars).
    pub tier_costs: Vec<(String, String, Option<f64>)>,
}

impl Explanation {
    pub(super) fn failed(e: RouteError) -> Explanation {
        Explanation {
            result: Err(e),
            input_tokens: None,
            checks: Vec::new(),
            tier_costs: Vec::new(),
        }
    }
}

pub(super) fn explain(cp: &Arc<CompiledPolicy>, step: &Step) -> Explanation {
    let p = &cp.policy;
    // A step with nothing to count fails to decide; its checks are shown at 0 tokens.
    let tokens = input_tokens(cp, step).unwrap_or(0);
    let result = decide(cp, step).map(Decision::into_owned);
    let mut checks = Vec::new();

    let mut tier = p.default_tier;
    for (i, rule) in p.rules.iter().enumerate() {
        let (held, detail) = match why_not(&rule.when, step, tokens) {
            Some(why) => (false, why),
            None => match &rule.when.expr {
                None => (true, format!("every condition holds: tier `{}`", p.tiers[rule.tier].name)),
                Some(e) => match eval(&cp.rule_exprs[i], step, tokens) {
                    Ok(true) => (true, format!("every condition holds and `{}` is true: tier `{}`", e.text, p.tiers[rule.tier].name)),
                    Ok(false) => (false, format!("`{}` is false", e.text)),
                    Err(msg) => match p.on_expression_error {
                        OnExpressionError::Skip => (false, format!("the expression failed ({msg}); on_expression_error = \"skip\" skips the rule")),
                        OnExpressionError::Tier(t) => {
                            tier = t;
                            checks.push(Check {
                                kind: CheckKind::Rule,
                                name: rule.name.clone(),
                                held: true,
                                detail: format!("the expression failed ({msg}); on_expression_error routes to tier `{}`", p.tiers[t].name),
                            });
                            break;
                        }
                    },
                },
            },
        };
        checks.push(Check {
            kind: CheckKind::Rule,
            name: rule.name.clone(),
            held,
            detail,
        });
        if held {
            tier = rule.tier;
            break;
        }
    }
    if !checks.iter().any(|c| c.held) {
        checks.push(Check {
            kind: CheckKind::Default,
            name: "default".into(),
            held: true,
            detail: format!(
                "no rule matched: default_tier `{}`",
                p.tiers[p.default_tier].name
            ),
        });
    }

    let mut held_guards = Vec::new();
    for (g, guard) in p.guards.iter().enumerate() {
        let holds = match why_not(&guard.when, step, tokens) {
            Some(why) => Err(why),
            None => match &guard.when.expr {
                None => Ok(()),
                Some(e) => match eval(&cp.guard_exprs[g], step, tokens) {
                    Ok(true) | Err(_) => Ok(()),
                    Ok(false) => Err(format!("`{}` is false", e.text)),
                },
            },
        };
        let detail = match holds {
            Err(why) => {
                checks.push(Check {
                    kind: CheckKind::Guard,
                    name: guard.name.clone(),
                    held: false,
                    detail: why,
                });
                continue;
            }
            Ok(()) => {
                held_guards.push(g);
                let model = p.tier_model(tier);
                if model.has_all(&guard.require) {
                    format!(
                        "applies; model `{}` of tier `{}` has {}",
                        model.key,
                        p.tiers[tier].name,
                        guard.require.join(", ")
                    )
                } else if let Some(to) = guard.escalate_to {
                    let from = tier;
                    tier = to;
                    format!(
                        "applies; model `{}` of tier `{}` lacks {}: escalated to tier `{}`",
                        model.key,
                        p.tiers[from].name,
                        guard.require.join(", "),
                        p.tiers[to].name
                    )
                } else {
                    format!(
                        "applies; model `{}` of tier `{}` lacks {}: the step is rejected",
                        model.key,
                        p.tiers[tier].name,
                        guard.require.join(", ")
                    )
                }
            }
        };
        checks.push(Check {
            kind: CheckKind::Guard,
            name: guard.name.clone(),
            held: true,
            detail,
        });
    }

    // Step 5, when it acted: the window the step overflowed and where it went.
    let need = need(step, tokens);
    let moved = match &result {
        Ok(d) if d.via() == super::Via::ContextWindow => Some(Ok(d.tier_id())),
        Err(e) if matches!(e.failure(), RouteFailure::ContextWindowExceeded { .. }) => {
            Some(Err(e.to_string()))
        }
        _ => None,
    };
    if let Some(moved) = moved {
        let model = p.tier_model(tier);
        let window = model.context_window.unwrap_or(u64::MAX);
        let detail = match moved {
            Ok(to) => format!(
                "the step needs {need} tokens (input plus expected output); model `{}` of tier `{}` takes {window}: moved to tier `{}` (model `{}`), the cheapest that fits and meets every guard that holds",
                model.key, p.tiers[tier].name, p.tiers[to].name, p.tier_model(to).key
            ),
            Err(why) => format!("{why}: the step is rejected"),
        };
        checks.push(Check {
            kind: CheckKind::ContextWindow,
            name: "context_window".into(),
            held: true,
            detail,
        });
    }

    let tier_costs = p
        .tiers
        .iter()
        .map(|t| {
            let m = &p.models[t.model];
            (
                t.name.clone(),
                m.key.clone(),
                step.expected_output_tokens.map(|o| m.cost_usd(tokens, o)),
            )
        })
        .collect();
    Explanation {
        result,
        input_tokens: Some(tokens),
        checks,
        tier_costs,
    }
}

fn eval(expr: &Option<CompiledExpr>, step: &Step, tokens: u64) -> Result<bool, String> {
    match expr {
        Some(e) => e.eval(step, tokens),
        None => Ok(true),
    }
}

/// The first static condition that fails, in words; `None` when all hold (the expression is
/// not looked at here).
pub(crate) fn why_not(c: &Condition, step: &Step, tokens: u64) -> Option<String> {
    if let Some(roles) = &c.roles {
        if !roles.iter().any(|r| *r == step.role) {
            return Some(format!(
                "role `{}` is not {}",
                step.role,
                quoted_list(roles)
            ));
        }
    }
    if let Some(r) = c.input_tokens {
        if !r.contains(tokens) {
            return Some(format!("input_tokens {tokens} is not {}", r.describe()));
        }
    }
    if let Some(r) = c.dependent_tool_calls {
        if !r.contains(step.dependent_tool_calls) {
            return Some(format!(
                "dependent_tool_calls {} is not {}",
                step.dependent_tool_calls,
                r.describe()
            ));
        }
    }
    for (name, want, have) in [
        (
            "needs_chain_of_thought",
            c.needs_chain_of_thought,
            step.needs_chain_of_thought,
        ),
        (
            "output_must_be_json",
            c.output_must_be_json,
            step.output_must_be_json,
        ),
        ("untrusted_input", c.untrusted_input, step.untrusted_input),
    ] {
        if want.is_some_and(|w| w != have) {
            return Some(format!("{name} is {have}"));
        }
    }
    for t in &c.tags {
        match step.tags.get(&t.name) {
            None => return Some(format!("tag `{}` is missing", t.name)),
            Some(v) if !t.test.matches(v) => {
                let want = match &t.test {
                    TagTest::OneOf(vals) => {
                        let shown: Vec<String> =
                            vals.iter().map(|v| v.to_json().to_string()).collect();
                        format!("one of [{}]", shown.join(", "))
                    }
                    TagTest::Range(r) => r.describe(),
                };
                let shown = match v {
                    TagValue::Str(_) | TagValue::Num(_) | TagValue::Bool(_) => {
                        v.to_json().to_string()
                    }
                };
                return Some(format!("tag `{}` = {shown} is not {want}", t.name));
            }
            Some(_) => {}
        }
    }
    None
}

fn quoted_list(items: &[String]) -> String {
    if items.len() == 1 {
        format!("`{}`", items[0])
    } else {
        let q: Vec<String> = items.iter().map(|s| format!("`{s}`")).collect();
        format!("one of {}", q.join(", "))
    }
}
