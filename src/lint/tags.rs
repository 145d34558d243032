//! Tag conditions (`when = { tags = { … } }`) checked against the `[tags]` declarations: a tag
//! not declared, and a condition that contradicts the declared type or values (it can never
//! hold for a step that follows the declarations).

use std::ops::Range;

use super::{find_in, finding, CheckName, Finding};
use crate::diag::Severity;
use crate::policy::{Condition, Policy, TagDecl, TagKind, TagTest};
use crate::step::TagValue;
use crate::suggest::did_you_mean;

/// `undeclared-tag` and `tag-value-mismatch` for every rule's and guard's tag conditions.
pub(super) fn conditions(p: &Policy) -> Vec<Finding> {
    let mut out = Vec::new();
    if p.tags.is_empty() {
        return out;
    }
    let text = &p.sources[0].text;
    for (i, r) in p.rules.iter().enumerate() {
        check(p, &r.when, super::rule_extent(p, i), Some(i), &mut out);
    }
    for g in &p.guards {
        let extent = super::table_extent(text, g.loc.span.start);
        check(p, &g.when, extent, None, &mut out);
    }
    out
}

fn check(
    p: &Policy,
    when: &Condition,
    extent: Range<usize>,
    rule: Option<usize>,
    out: &mut Vec<Finding>,
) {
    let src = &p.sources[0];
    for t in &when.tags {
        let span = tag_span(&src.text, extent.clone(), &t.name);
        let Some(decl) = p.tags.iter().find(|d| d.name == t.name) else {
            let hint = did_you_mean(&t.name, p.tags.iter().map(|d| d.name.as_str()));
            out.push(Finding {
                diagnostic: finding(
                    CheckName::UndeclaredTag,
                    Severity::Warning,
                    src,
                    span,
                    format!("the tag `{}` is not declared in [tags]", t.name),
                )
                .with_help(match hint {
                    Some(h) => format!("did you mean `{h}`?"),
                    None => "declare it in [tags] with its type".into(),
                }),
                rule,
            });
            continue;
        };
        if let Some(why) = contradiction(decl, &t.test) {
            out.push(Finding {
                diagnostic: finding(
                    CheckName::TagValueMismatch,
                    Severity::Warning,
                    src,
                    span,
                    format!("this condition on `{}` can never hold: {why}", t.name),
                )
                .with_help(format!("the declaration is at {}", decl.loc.display())),
                rule,
            });
        }
    }
}

/// Why a test can never pass for a value that follows the declaration, if it cannot.
fn contradiction(decl: &TagDecl, test: &TagTest) -> Option<String> {
    let kind_name = match decl.kind {
        TagKind::Str => "string",
        TagKind::Num => "number",
        TagKind::Bool => "bool",
    };
    match test {
        TagTest::Range(_) if decl.kind != TagKind::Num => Some(format!(
            "a range needs a number, and the tag is declared a {kind_name}"
        )),
        TagTest::Range(_) => None,
        TagTest::OneOf(vals) => {
            let fits = |v: &TagValue| match (decl.kind, v) {
                (TagKind::Str, TagValue::Str(s)) => {
                    decl.values.is_empty()
                        || decl
                            .values
                            .iter()
                            .any(|d| matches!(d, TagValue::Str(x) if x == s))
                }
                (TagKind::Num, TagValue::Num(_)) | (TagKind::Bool, TagValue::Bool(_)) => true,
                _ => false,
            };
            if vals.iter().any(fits) {
                return None;
            }
            let typed = vals.iter().any(|v| {
                matches!(
                    (decl.kind, v),
                    (TagKind::Str, TagValue::Str(_))
                        | (TagKind::Num, TagValue::Num(_))
                        | (TagKind::Bool, TagValue::Bool(_))
                )
            });
            Some(if typed {
                let allowed: Vec<String> = decl
                    .values
                    .iter()
                    .map(|v| v.to_json().to_string())
                    .collect();
                format!("the declared values are {}", allowed.join(", "))
            } else {
                format!("the tag is declared a {kind_name}")
            })
        }
    }
}

/// Where a tag condition is written: the tag's name after `tags` inside the entry.
fn tag_span(text: &str, extent: Range<usize>, name: &str) -> Range<usize> {
    let from = find_in(text, extent.clone(), "tags")
        .map_or(extent.start, |s| s.end)
        .min(extent.end);
    find_in(text, from..extent.end, name).unwrap_or(extent.start..extent.start)
}
