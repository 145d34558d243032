//! Checking a `when` table: roles, integer ranges, flags, tag conditions and the expression
//! text (compiling it is `compile`'s job).

use toml::Spanned;

use super::{known_help, Cx};
use crate::policy::raw::{RawIntRange, RawWhen};
use crate::policy::{Condition, Expr, IntRange, NumBound, NumRange, TagCondition, TagTest};
use crate::step::TagValue;
use crate::suggest::did_you_mean;

impl Cx {
    fn int_range(&mut self, r: &Spanned<RawIntRange>, field: &str) -> Option<IntRange> {
        let raw = r.get_ref();
        let mut lo: u64 = 0;
        let mut hi: u64 = u64::MAX;
        let mut empty = false;
        if let Some(v) = &raw.gt {
            let v = *v.get_ref();
            if v >= 0 {
                lo = lo.max(v as u64 + 1);
            }
        }
        if let Some(v) = &raw.ge {
            let v = *v.get_ref();
            if v > 0 {
                lo = lo.max(v as u64);
            }
        }
        if let Some(v) = &raw.lt {
            let v = *v.get_ref();
            if v <= 0 {
                empty = true;
            } else {
                hi = hi.min(v as u64 - 1);
            }
        }
        if let Some(v) = &raw.le {
            let v = *v.get_ref();
            if v < 0 {
                empty = true;
            } else {
                hi = hi.min(v as u64);
            }
        }
        if empty || lo > hi {
            self.err_help(
                "empty-range",
                r.span(),
                format!("this range matches no value of `{field}`"),
                format!(
                    "`{field}` is a count >= 0; check that the lower bound is below the upper one"
                ),
            );
            return None;
        }
        let strict_lo = raw
            .gt
            .as_ref()
            .is_some_and(|v| *v.get_ref() >= 0 && *v.get_ref() as u64 + 1 == lo);
        let strict_hi = raw
            .lt
            .as_ref()
            .is_some_and(|v| *v.get_ref() > 0 && *v.get_ref() as u64 - 1 == hi);
        Some(IntRange {
            lo,
            hi,
            strict_lo,
            strict_hi,
        })
    }

    pub(super) fn condition(&mut self, when: Option<&Spanned<RawWhen>>) -> Option<Condition> {
        let Some(when) = when else {
            return Some(Condition::default());
        };
        let before = self.diags.len();
        let w = when.get_ref();
        let mut c = Condition::default();
        if let Some(role) = &w.role {
            let roles: Option<Vec<String>> = match role.get_ref() {
                toml::Value::String(s) if !s.is_empty() => Some(vec![s.clone()]),
                toml::Value::Array(items) if !items.is_empty() => items
                    .iter()
                    .map(|i| match i {
                        toml::Value::String(s) if !s.is_empty() => Some(s.clone()),
                        _ => None,
                    })
                    .collect(),
                _ => None,
            };
            if roles.is_none() {
                self.err_help(
                    "invalid-condition",
                    role.span(),
                    "`role` is a role name or a non-empty list of role names",
                    "e.g. role = \"format\" or role = [\"format\", \"extract\"]",
                );
            }
            c.roles = roles;
        }
        if let Some(r) = &w.input_tokens {
            c.input_tokens = self.int_range(r, "input_tokens");
        }
        if let Some(r) = &w.dependent_tool_calls {
            c.dependent_tool_calls = self.int_range(r, "dependent_tool_calls");
        }
        c.needs_chain_of_thought = w.needs_chain_of_thought.as_ref().map(|b| *b.get_ref());
        c.output_must_be_json = w.output_must_be_json.as_ref().map(|b| *b.get_ref());
        c.untrusted_input = w.untrusted_input.as_ref().map(|b| *b.get_ref());
        if let Some(tags) = &w.tags {
            let mut entries: Vec<_> = tags.iter().collect();
            entries.sort_by_key(|(k, _)| k.span().start);
            for (name, v) in entries {
                if let Some(test) = self.tag_test(v) {
                    c.tags.push(TagCondition {
                        name: name.get_ref().clone(),
                        test,
                    });
                }
            }
        }
        if let Some(e) = &w.expr {
            if e.get_ref().trim().is_empty() {
                self.err("expr-syntax", e.span(), "the expression is empty");
            }
            c.expr = Some(Expr {
                text: e.get_ref().clone(),
                loc: self.loc(e.span()),
            });
        }
        (self.diags.len() == before).then_some(c)
    }

    fn tag_test(&mut self, v: &Spanned<toml::Value>) -> Option<TagTest> {
        const HELP: &str = "a tag condition is a value (\"EU\", 3, true), a list of values, or a range { gt, ge, lt, le }";
        let scalar = |x: &toml::Value| -> Option<TagValue> {
            match x {
                toml::Value::String(s) => Some(TagValue::Str(s.clone())),
                toml::Value::Integer(i) => Some(TagValue::Num(*i as f64)),
                toml::Value::Float(f) if f.is_finite() => Some(TagValue::Num(*f)),
                toml::Value::Boolean(b) => Some(TagValue::Bool(*b)),
                _ => None,
            }
        };
        match v.get_ref() {
            toml::Value::Array(items) if !items.is_empty() => {
                let vals: Option<Vec<TagValue>> = items.iter().map(scalar).collect();
                if vals.is_none() {
                    self.err_help(
                        "invalid-condition",
                        v.span(),
                        "a tag's list holds only strings, numbers and bools",
                        HELP,
                    );
                }
                vals.map(TagTest::OneOf)
            }
            toml::Value::Table(t) => {
                let mut range = NumRange::default();
                let mut ok = !t.is_empty();
                for (k, x) in t {
                    let num = match x {
                        toml::Value::Integer(i) => Some(*i as f64),
                        toml::Value::Float(f) if f.is_finite() => Some(*f),
                        _ => None,
                    };
                    let Some(num) = num else {
                        ok = false;
                        continue;
                    };
                    match k.as_str() {
                        "gt" | "ge" => {
                            let b = NumBound {
                                value: num,
                                inclusive: k == "ge",
                            };
                            range.lower = Some(match range.lower {
                                Some(old) if tighter_lower(old, b) => old,
                                _ => b,
                            });
                        }
                        "lt" | "le" => {
                            let b = NumBound {
                                value: num,
                                inclusive: k == "le",
                            };
                            range.upper = Some(match range.upper {
                                Some(old) if tighter_upper(old, b) => old,
                                _ => b,
                            });
                        }
                        other => {
                            let hint = did_you_mean(other, ["gt", "ge", "lt", "le"]);
                            self.err_help(
                                "unknown-key",
                                v.span(),
                                format!("unknown key `{other}` in a tag range"),
                                known_help(
                                    hint,
                                    "range keys",
                                    ["gt", "ge", "lt", "le"].into_iter(),
                                ),
                            );
                            return None;
                        }
                    }
                }
                if !ok {
                    self.err_help(
                        "invalid-condition",
                        v.span(),
                        "a tag range needs numeric bounds",
                        HELP,
                    );
                    return None;
                }
                if let (Some(lo), Some(hi)) = (range.lower, range.upper) {
                    if lo.value > hi.value
                        || (lo.value == hi.value && !(lo.inclusive && hi.inclusive))
                    {
                        self.err("empty-range", v.span(), "this tag range matches no value");
                        return None;
                    }
                }
                Some(TagTest::Range(range))
            }
            other => match scalar(other) {
                Some(s) => Some(TagTest::OneOf(vec![s])),
                None => {
                    self.err_help(
                        "invalid-condition",
                        v.span(),
                        "this is not a tag condition",
                        HELP,
                    );
                    None
                }
            },
        }
    }
}

fn tighter_lower(old: NumBound, new: NumBound) -> bool {
    old.value > new.value || (old.value == new.value && !old.inclusive)
}

fn tighter_upper(old: NumBound, new: NumBound) -> bool {
    old.value < new.value || (old.value == new.value && !old.inclusive)
}
