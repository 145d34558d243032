//! The tag declarations pass: `[tags]`, each a type and (for strings) the allowed values.

use std::collections::BTreeMap;

use toml::Spanned;

use super::Cx;
use crate::policy::raw::RawTagDecl;
use crate::policy::{TagDecl, TagKind};
use crate::step::TagValue;

/// The `[tags]` table as parsed.
type RawTags = Spanned<BTreeMap<Spanned<String>, Spanned<RawTagDecl>>>;

/// Checks `[tags]`, in file order.
pub(super) fn check(cx: &mut Cx, raw_tags: Option<&RawTags>) -> Vec<TagDecl> {
    let mut tags = Vec::new();
    if let Some(decls) = raw_tags {
        let mut entries: Vec<_> = decls.get_ref().iter().collect();
        entries.sort_by_key(|(k, _)| k.span().start);
        for (tname, decl) in entries {
            let decl = decl.get_ref();
            let kind = match decl.kind.get_ref().as_str() {
                "string" => TagKind::Str,
                "number" => TagKind::Num,
                "bool" => TagKind::Bool,
                other => {
                    cx.err_help(
                        "invalid-value",
                        decl.kind.span(),
                        format!("unknown tag type `{other}`"),
                        "a tag's type is \"string\", \"number\" or \"bool\"",
                    );
                    continue;
                }
            };
            let mut values = Vec::new();
            for v in decl.values.iter().flatten() {
                match (kind, v.get_ref()) {
                    (TagKind::Str, toml::Value::String(s)) => values.push(TagValue::Str(s.clone())),
                    _ => cx.err(
                        "invalid-value",
                        v.span(),
                        "`values` lists the allowed values of a string tag, as strings",
                    ),
                }
            }
            tags.push(TagDecl {
                name: tname.get_ref().clone(),
                kind,
                values,
                loc: cx.loc(tname.span()),
            });
        }
    }
    tags
}
