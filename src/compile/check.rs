//! The checks that keep a policy from loading, beyond its shape: inside each Rhai expression
//! (on the compiled syntax tree) a `step.FIELD` that does not exist, a literal compared with a
//! field or declared tag of another type, and a function outside the sandbox's allowlist; and
//! a guard escalating to a tier whose model lacks what it requires. Lint reports the same
//! diagnostics (and the warnings found here, such as undeclared tags). Each points at its
//! place in the file.

use rhai::{ASTNode, Expr as Node, FnCallExpr, Position, Scope, Stmt};

use super::expr::{engine, expr_offset};
use crate::diag::{find_in, table_extent, Diagnostic, Severity};
use crate::policy::{Expr, Policy, TagDecl, TagKind};
use crate::suggest::did_you_mean;

/// The fields of `step` an expression can read, with their types.
const STEP_FIELDS: &[(&str, Option<TagKind>)] = &[
    ("role", Some(TagKind::Str)),
    ("input_tokens", Some(TagKind::Num)),
    ("prompt", Some(TagKind::Str)),
    ("expected_output_tokens", Some(TagKind::Num)),
    ("needs_chain_of_thought", Some(TagKind::Bool)),
    ("output_must_be_json", Some(TagKind::Bool)),
    ("untrusted_input", Some(TagKind::Bool)),
    ("dependent_tool_calls", Some(TagKind::Num)),
    ("workload", Some(TagKind::Str)),
    ("trace_id", Some(TagKind::Str)),
    ("tags", None),
];

/// Every function an expression may call: what a test over one step needs (arithmetic and
/// math, string and collection reading, conversions, `in`, which Rhai calls `contains`), and
/// nothing that sleeps, reads the clock, exits, evaluates text, prints, or changes a value in
/// place. Operators are not listed: they are always allowed. Anything else is refused when
/// the policy loads (docs/policy.md lists these for users; a test checks each one exists).
pub(crate) const ALLOWED_FUNCTIONS: &[&str] = &[
    // numbers
    "abs",
    "sign",
    "min",
    "max",
    "floor",
    "ceiling",
    "round",
    "int",
    "fraction",
    "sqrt",
    "exp",
    "ln",
    "log",
    "is_zero",
    "is_odd",
    "is_even",
    "is_nan",
    "is_finite",
    "is_infinite",
    // conversions
    "to_int",
    "to_float",
    "to_string",
    "parse_int",
    "parse_float",
    "type_of",
    // strings, arrays and maps (reading only)
    "len",
    "is_empty",
    "contains",
    "starts_with",
    "ends_with",
    "index_of",
    "sub_string",
    "to_lower",
    "to_upper",
    "get",
    "keys",
    "values",
];

/// What an expression reads and the problems found in it.
#[derive(Debug, Default)]
pub(crate) struct ExprFindings {
    /// Tags the expression names (`step.tags.x`, `step.tags["x"]`, `"x" in step.tags`).
    pub(crate) tags: Vec<String>,
    /// The problems.
    pub(crate) diagnostics: Vec<Diagnostic>,
}

/// Checks one expression against the declared tags (none declared: tags are not checked).
/// An expression that does not compile gives no findings here: compiling reports it.
pub(crate) fn check(expr: &Expr, declared: &[TagDecl]) -> ExprFindings {
    let mut scope = Scope::new();
    scope.push("step", ());
    let Ok(ast) = engine().compile_expression_with_scope(&scope, &expr.text) else {
        return ExprFindings::default();
    };
    let mut cx = Cx {
        expr,
        declared,
        out: ExprFindings::default(),
    };
    ast.walk(&mut |path: &[ASTNode]| {
        match path.last() {
            Some(ASTNode::Expr(e)) => cx.node(e),
            Some(ASTNode::Stmt(Stmt::FnCall(f, pos))) => cx.call(f, *pos, false),
            _ => {}
        }
        true
    });
    cx.out
}

struct Cx<'a> {
    expr: &'a Expr,
    declared: &'a [TagDecl],
    out: ExprFindings,
}

impl Cx<'_> {
    fn node(&mut self, e: &Node) {
        match e {
            Node::FnCall(f, pos) => self.call(f, *pos, false),
            Node::MethodCall(f, pos) => self.call(f, *pos, true),
            Node::Dot(bin, _, _) if is_step(&bin.lhs) => self.step_path(&bin.rhs),
            _ => {}
        }
    }

    fn at(&self, pos: Position, name: &'static str, severity: Severity, msg: String) -> Diagnostic {
        let at = expr_offset(self.expr, pos);
        let mut d = Diagnostic::error(name, &self.expr.loc.source, at..at + 1, msg);
        d.severity = severity;
        d
    }

    /// `step.` followed by `rhs`: the field must exist; a tag must be declared.
    fn step_path(&mut self, rhs: &Node) {
        let (field, pos, rest) = match rhs {
            Node::Property(p, pos) => (p.2.as_str(), *pos, None),
            Node::Dot(bin, _, _) | Node::Index(bin, _, _) => match &bin.lhs {
                Node::Property(p, pos) => (p.2.as_str(), *pos, Some(rhs)),
                _ => return,
            },
            _ => return,
        };
        if !STEP_FIELDS.iter().any(|(f, _)| *f == field) {
            let hint = did_you_mean(field, STEP_FIELDS.iter().map(|(f, _)| *f));
            let names: Vec<&str> = STEP_FIELDS.iter().map(|(f, _)| *f).collect();
            let d = self
                .at(
                    pos,
                    "unknown-step-field",
                    Severity::Error,
                    format!("a step has no field `{field}`, so this expression always fails"),
                )
                .with_help(match hint {
                    Some(h) => format!("did you mean `step.{h}`?"),
                    None => format!("a step's fields are: {}", names.join(", ")),
                });
            self.out.diagnostics.push(d);
            return;
        }
        if field == "tags" {
            if let Some((tag, tpos)) = rest.and_then(tag_read) {
                self.tag(&tag, tpos);
            }
        }
    }

    fn tag(&mut self, tag: &str, pos: Position) {
        self.out.tags.push(tag.to_string());
        if self.declared.is_empty() || self.declared.iter().any(|d| d.name == tag) {
            return;
        }
        let hint = did_you_mean(tag, self.declared.iter().map(|d| d.name.as_str()));
        let names: Vec<&str> = self.declared.iter().map(|d| d.name.as_str()).collect();
        let d = self
            .at(
                pos,
                "undeclared-tag",
                Severity::Warning,
                format!("the tag `{tag}` is not declared in [tags]"),
            )
            .with_help(match hint {
                Some(h) => format!("did you mean `{h}`?"),
                None => format!("declare it in [tags], or use one of: {}", names.join(", ")),
            });
        self.out.diagnostics.push(d);
    }

    fn call(&mut self, f: &FnCallExpr, pos: Position, method: bool) {
        let name = f.name.as_str();
        if name == "contains" && !method && f.args.len() == 2 {
            // `"k" in step.tags` compiles to `contains(step.tags, "k")`.
            if let (Node::Dot(bin, _, _), Node::StringConstant(k, kpos)) = (&f.args[0], &f.args[1])
            {
                if is_step(&bin.lhs) && matches!(&bin.rhs, Node::Property(p, _) if p.2 == "tags") {
                    self.tag(k.as_str(), *kpos);
                }
            }
        }
        if matches!(name, "==" | "!=" | "<" | ">" | "<=" | ">=") && f.args.len() == 2 {
            self.compare(name, &f.args[0], &f.args[1], pos);
            return;
        }
        if let Some(d) = refused_call(self.expr, f, pos) {
            self.out.diagnostics.push(d);
        }
    }

    fn compare(&mut self, op: &str, a: &Node, b: &Node, pos: Position) {
        let (Some((ka, wa)), Some((kb, wb))) = (self.kind_of(a), self.kind_of(b)) else {
            return;
        };
        if ka == kb {
            return;
        }
        let outcome = if matches!(op, "==" | "!=") {
            "values of different types are never equal"
        } else {
            "the comparison fails when it runs"
        };
        let d = self
            .at(
                pos,
                "type-mismatch",
                Severity::Error,
                format!(
                    "{wa} is {}, compared here with {wb}, which is {}: {outcome}",
                    kind_word(ka),
                    kind_word(kb)
                ),
            )
            .with_help(format!("compare it with {}", kind_word(ka)));
        self.out.diagnostics.push(d);
    }

    /// The type of a literal, a step field or a declared tag, with how to name it.
    fn kind_of(&self, e: &Node) -> Option<(TagKind, String)> {
        match e {
            Node::StringConstant(s, _) => Some((TagKind::Str, format!("\"{s}\""))),
            Node::CharConstant(c, _) => Some((TagKind::Str, format!("'{c}'"))),
            Node::IntegerConstant(i, _) => Some((TagKind::Num, i.to_string())),
            Node::FloatConstant(f, _) => Some((TagKind::Num, f.to_string())),
            Node::BoolConstant(b, _) => Some((TagKind::Bool, b.to_string())),
            Node::Dot(bin, _, _) if is_step(&bin.lhs) => match &bin.rhs {
                Node::Property(p, _) => {
                    let field = p.2.as_str();
                    let kind = STEP_FIELDS.iter().find(|(f, _)| *f == field)?.1?;
                    Some((kind, format!("`step.{field}`")))
                }
                rhs @ (Node::Dot(bin, _, _) | Node::Index(bin, _, _)) => match &bin.lhs {
                    Node::Property(p, _) if p.2 == "tags" => {
                        let (tag, _) = tag_read(rhs)?;
                        let decl = self.declared.iter().find(|d| d.name == tag)?;
                        Some((decl.kind, format!("the tag `{tag}`")))
                    }
                    _ => None,
                },
                _ => None,
            },
            _ => None,
        }
    }
}

fn is_step(e: &Node) -> bool {
    matches!(e, Node::Variable(v, _, _) if v.1 == "step")
}

/// The tag read by `tags.x` / `tags["x"]` (the node after `step.`).
fn tag_read(e: &Node) -> Option<(String, Position)> {
    match e {
        Node::Dot(bin, _, _) => match &bin.rhs {
            Node::Property(p, pos) => Some((p.2.to_string(), *pos)),
            Node::Dot(inner, _, _) | Node::Index(inner, _, _) => match &inner.lhs {
                Node::Property(p, pos) => Some((p.2.to_string(), *pos)),
                _ => None,
            },
            _ => None,
        },
        Node::Index(bin, _, _) => match &bin.rhs {
            Node::StringConstant(s, pos) => Some((s.to_string(), *pos)),
            _ => None,
        },
        _ => None,
    }
}

fn kind_word(k: TagKind) -> &'static str {
    match k {
        TagKind::Str => "a string",
        TagKind::Num => "a number",
        TagKind::Bool => "a bool",
    }
}

/// The `unknown-function` error for a call the sandbox refuses, or `None` when it is allowed.
pub(crate) fn refused_call(expr: &Expr, f: &FnCallExpr, pos: Position) -> Option<Diagnostic> {
    let name = f.name.as_str();
    if f.is_operator_call() || ALLOWED_FUNCTIONS.contains(&name) {
        return None;
    }
    let hint = did_you_mean(name, ALLOWED_FUNCTIONS.iter().copied());
    let at = expr_offset(expr, pos);
    Some(
        Diagnostic::error(
            "unknown-function",
            &expr.loc.source,
            at..at + 1,
            format!(
                "the expression sandbox has no function `{name}`, so this expression always fails"
            ),
        )
        .with_help(match hint {
            Some(h) => format!("did you mean `{h}`?"),
            None => "expressions can use Rhai's standard functions on numbers, strings and arrays"
                .into(),
        }),
    )
}

/// The first call in a compiled expression that the sandbox refuses.
pub(crate) fn first_refused_call(expr: &Expr, ast: &rhai::AST) -> Option<Diagnostic> {
    let mut found = None;
    ast.walk(&mut |path: &[ASTNode]| {
        let call = match path.last() {
            Some(ASTNode::Expr(Node::FnCall(f, pos))) => Some((&**f, *pos)),
            Some(ASTNode::Expr(Node::MethodCall(f, pos))) => Some((&**f, *pos)),
            Some(ASTNode::Stmt(Stmt::FnCall(f, pos))) => Some((&**f, *pos)),
            _ => None,
        };
        if let Some((f, pos)) = call {
            found = found.take().or_else(|| refused_call(expr, f, pos));
        }
        found.is_none()
    });
    found
}

/// `escalate-lacks-capability`: a guard's `escalate_to` tier whose model lacks what the guard
/// requires, so every step the guard escalates is rejected after all, which is never what
/// the author meant.
pub(crate) fn escalations(p: &Policy) -> Vec<Diagnostic> {
    let src = &p.sources[0];
    let mut out = Vec::new();
    for g in &p.guards {
        let Some(t) = g.escalate_to else { continue };
        let model = p.tier_model(t);
        let missing: Vec<&str> = g
            .require
            .iter()
            .filter(|r| !model.capabilities.contains(r))
            .map(String::as_str)
            .collect();
        if missing.is_empty() {
            continue;
        }
        let extent = table_extent(&src.text, g.loc.span.start);
        let span = find_in(&src.text, extent, "escalate_to").unwrap_or(g.loc.span.clone());
        out.push(
            Diagnostic::error(
                "escalate-lacks-capability",
                src,
                span,
                format!(
                    "the guard `{}` escalates to the tier `{}`, whose model `{}` lacks {}; every step it escalates is rejected",
                    g.name,
                    p.tiers[t].name,
                    model.key,
                    missing.iter().map(|m| format!("`{m}`")).collect::<Vec<_>>().join(", ")
                ),
            )
            .with_help("escalate to a tier whose model has every capability in `require`, or add the capability to that model"),
        );
    }
    out
}

/// The checks whose errors keep a policy from loading: the expression errors (unknown fields
/// and functions, type mismatches) and escalations to a tier lacking what the guard requires.
/// `allow` on the policy or the rule silences a check's errors, except a function the sandbox
/// refuses: that one never runs, whatever the policy says.
pub(crate) fn load_errors(p: &Policy) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let rules = p.rules.iter().map(|r| (&r.when, Some(&r.allow)));
    let guards = p.guards.iter().map(|g| (&g.when, None));
    for (when, rule_allow) in rules.chain(guards) {
        let Some(e) = &when.expr else { continue };
        for d in check(e, &p.tags).diagnostics {
            let silenced = d.name != "unknown-function"
                && (p.allow.iter().any(|a| a == d.name)
                    || rule_allow.is_some_and(|l| l.iter().any(|a| a == d.name)));
            if d.severity == Severity::Error && !silenced {
                out.push(d);
            }
        }
    }
    if !p.allow.iter().any(|a| a == "escalate-lacks-capability") {
        out.extend(escalations(p));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compile::expr::test_expr;
    use crate::diag::Source;
    use crate::policy::Loc;
    use crate::step::TagValue;

    fn decl(name: &str, kind: TagKind) -> TagDecl {
        TagDecl {
            name: name.into(),
            kind,
            values: Vec::<TagValue>::new(),
            loc: Loc {
                source: Source::new("p.toml", String::new()),
                span: 0..0,
            },
        }
    }

    fn names(text: &str, tags: &[TagDecl]) -> Vec<&'static str> {
        check(&test_expr(text), tags)
            .diagnostics
            .iter()
            .map(|d| d.name)
            .collect()
    }

    #[test]
    fn the_fields_checked_are_the_fields_a_step_has() {
        let mut here: Vec<&str> = STEP_FIELDS.iter().map(|(n, _)| *n).collect();
        let mut step: Vec<&str> = crate::step::STEP_FIELDS.to_vec();
        here.sort_unstable();
        step.sort_unstable();
        assert_eq!(here, step);
    }

    #[test]
    fn valid_expressions_have_no_findings() {
        let tags = [decl("value", TagKind::Num), decl("vip", TagKind::Bool)];
        for text in [
            "step.input_tokens > 4000 && step.role == \"reason\"",
            "\"value\" in step.tags && step.tags.value > 1000000",
            "step.tags[\"vip\"] == true || !(step.untrusted_input)",
            "step.role.len() > 3 && step.prompt.contains(\"x\")",
            "step.role in [\"plan\", \"reason\"] && abs(step.dependent_tool_calls - 3) < 2",
            "step.dependent_tool_calls + 1",
        ] {
            assert_eq!(names(text, &tags), Vec::<&str>::new(), "{text}");
        }
    }

    #[test]
    fn each_kind_of_mistake_is_found() {
        let tags = [decl("value", TagKind::Num)];
        assert_eq!(names("step.input_tokenz > 5", &[]), ["unknown-step-field"]);
        assert_eq!(names("lenght(step.role) > 3", &[]), ["unknown-function"]);
        assert_eq!(names("step.role == 3", &[]), ["type-mismatch"]);
        assert_eq!(names("\"5\" < step.input_tokens", &[]), ["type-mismatch"]);
        assert_eq!(
            names("step.tags.value == \"high\"", &tags),
            ["type-mismatch"]
        );
        assert_eq!(names("step.tags.valeu > 5", &tags), ["undeclared-tag"]);
        assert_eq!(names("step.tags[\"valeu\"] > 5", &tags), ["undeclared-tag"]);
        assert_eq!(names("\"valeu\" in step.tags", &tags), ["undeclared-tag"]);
        // With no declarations, tags are not checked.
        assert_eq!(
            names("step.tags.anything == \"x\"", &[]),
            Vec::<&str>::new()
        );
    }

    #[test]
    fn tags_read_are_collected() {
        let f = check(
            &test_expr("\"a\" in step.tags && step.tags.b > 1 && step.tags[\"c\"] == 2"),
            &[],
        );
        assert_eq!(f.tags, ["a", "b", "c"]);
    }

    #[test]
    fn findings_point_at_the_name_in_the_file() {
        let e = test_expr("step.input_tokenz > 5");
        let d = &check(&e, &[]).diagnostics[0];
        let at = d.span.as_ref().unwrap().start;
        assert!(e.loc.source.text[at..].starts_with("input_tokenz"));
    }

    #[test]
    fn every_allowed_function_exists_in_the_engine() {
        let sigs = engine().gen_fn_signatures(true);
        for name in ALLOWED_FUNCTIONS {
            let exists = *name == "type_of"
                || sigs
                    .iter()
                    .any(|s| s.trim_start_matches("fn ").starts_with(&format!("{name}(")));
            assert!(exists, "{name}");
        }
    }

    #[test]
    fn every_other_function_is_refused() {
        for name in [
            "sleep",
            "timestamp",
            "exit",
            "is_def_var",
            "is_def_fn",
            "pad",
            "push",
            "Fn",
            "call",
            "parse_json",
            "lenght",
        ] {
            let text = format!("{name}(step.role) == ()");
            assert_eq!(names(&text, &[]), ["unknown-function"], "{text}");
        }
    }
}
