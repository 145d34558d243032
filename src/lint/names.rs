//! Names that do not read as what they are: bidirectional-control or invisible characters
//! (which make text display in a different order than it is read), and names mixing Latin
//! letters with look-alike Cyrillic or Greek ones (`cheap` with a Cyrillic `е`).

use std::ops::Range;
use std::sync::Arc;

use super::{finding, CheckName, Finding};
use crate::diag::{Severity, Source};
use crate::policy::Policy;

/// `confusable-name` for every name a policy defines.
pub(super) fn confusables(p: &Policy) -> Vec<Finding> {
    let mut out = Vec::new();
    let mut check = |what: &str, name: &str, src: &Arc<Source>, span: Range<usize>, rule| {
        if let Some(why) = problem(name) {
            out.push(Finding {
                diagnostic: finding(
                    CheckName::ConfusableName,
                    Severity::Warning,
                    src,
                    span,
                    format!("the {what} name {name:?} {why}"),
                )
                .with_help("use plain ASCII letters, digits, `-` and `_` in names"),
                rule,
            });
        }
    };
    let src = &p.sources[0];
    for t in &p.tiers {
        check("tier", &t.name, &t.loc.source, t.loc.span.clone(), None);
    }
    for (i, r) in p.rules.iter().enumerate() {
        check("rule", &r.name, &r.loc.source, r.loc.span.clone(), Some(i));
    }
    for g in &p.guards {
        check("guard", &g.name, &g.loc.source, g.loc.span.clone(), None);
    }
    for t in &p.tags {
        check("tag", &t.name, &t.loc.source, t.loc.span.clone(), None);
    }
    for t in &p.tests {
        check("test", &t.name, &t.loc.source, t.loc.span.clone(), None);
    }
    for m in &p.models {
        let header = format!("[models.{}]", m.key);
        if let Some(span) = super::find_in(&src.text, 0..src.text.len(), &header) {
            check("model", &m.key, src, span, None);
        } else if problem(&m.key).is_some() {
            check("model", &m.key, src, 0..0, None);
        }
    }
    out
}

/// What is wrong with a name, if anything.
fn problem(name: &str) -> Option<&'static str> {
    if name.chars().any(is_bidi_or_invisible) {
        return Some("holds a bidirectional-control or invisible character");
    }
    let latin = name.chars().any(|c| c.is_ascii_alphabetic());
    // Greek (U+0370–U+03FF) and Cyrillic (U+0400–U+04FF) hold most Latin look-alikes.
    let lookalike = name.chars().any(|c| matches!(c as u32, 0x0370..=0x04FF));
    if latin && lookalike {
        return Some("mixes Latin letters with Greek or Cyrillic look-alikes");
    }
    None
}

fn is_bidi_or_invisible(c: char) -> bool {
    matches!(
        c as u32,
        0x061C | 0x200B..=0x200F | 0x202A..=0x202E | 0x2060..=0x2064 | 0x2066..=0x2069 | 0xFEFF
    )
}

#[cfg(test)]
mod tests {
    use super::problem;

    #[test]
    fn plain_names_pass_and_tricky_ones_do_not() {
        assert_eq!(problem("cheap-roles"), None);
        assert_eq!(problem("coût"), None);
        assert!(problem("ch\u{0435}ap").is_some());
        assert!(problem("admin\u{202E}gnp").is_some());
        assert!(problem("a\u{200B}b").is_some());
    }
}
