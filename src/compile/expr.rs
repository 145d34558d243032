//! Rhai expressions: one locked-down engine per process, compiling a rule's `expr` once at
//! load, and evaluating it against a step with `step` bound to a read-only view.
//!
//! The view is a custom type with a getter per step field, so reading a field or tag the
//! step does not have is an error rather than a silent `()` that compares as `false`.

use std::cell::RefCell;
use std::ptr::NonNull;
use std::sync::OnceLock;

use rhai::packages::{Package, StandardPackage};
use rhai::{Dynamic, Engine, EvalAltResult, ImmutableString, Position, Scope, AST, INT};

use crate::diag::Diagnostic;
use crate::policy::Expr;
use crate::step::{Step, TagValue};

/// Sandbox limits. An expression is a one-line test over a step: these are generous for that
/// and small enough that a runaway expression stops in microseconds.
pub const MAX_OPERATIONS: u64 = 10_000;
/// Deepest nesting of function calls.
pub const MAX_CALL_LEVELS: usize = 8;
/// Deepest nesting of an expression.
pub const MAX_EXPR_DEPTH: usize = 32;
/// Longest string an expression may build, in bytes.
pub const MAX_STRING_SIZE: usize = 4096;
/// Largest array or map an expression may build.
pub const MAX_COLLECTION_SIZE: usize = 256;

/// The process's one expression engine (building one costs ~100 µs, so it is shared).
pub fn engine() -> &'static Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    ENGINE.get_or_init(build_engine)
}

fn build_engine() -> Engine {
    // new_raw: no module resolver (so no file access) and print/debug go nowhere.
    let mut e = Engine::new_raw();
    e.register_global_module(StandardPackage::new().as_shared_module());
    e.set_max_operations(MAX_OPERATIONS)
        .set_max_call_levels(MAX_CALL_LEVELS)
        .set_max_expr_depths(MAX_EXPR_DEPTH, MAX_EXPR_DEPTH)
        .set_max_string_size(MAX_STRING_SIZE)
        .set_max_array_size(MAX_COLLECTION_SIZE)
        .set_max_map_size(MAX_COLLECTION_SIZE)
        .set_max_modules(0)
        .set_strict_variables(true)
        .set_allow_looping(false)
        .set_allow_anonymous_fn(false)
        .set_allow_shadowing(false);
    e.disable_symbol("eval");
    e.disable_symbol("print");
    e.disable_symbol("debug");
    e.register_type_with_name::<StepView>("Step");
    e.register_type_with_name::<TagsView>("Tags");
    e.register_get("role", |s: &mut StepView| -> ImmutableString {
        s.step().role.as_str().into()
    });
    e.register_get("input_tokens", |s: &mut StepView| -> INT {
        clamp(s.input_tokens)
    });
    e.register_get(
        "prompt",
        |s: &mut StepView| -> Result<ImmutableString, Box<EvalAltResult>> {
            s.step()
                .prompt
                .as_deref()
                .map(Into::into)
                .ok_or_else(|| missing("prompt"))
        },
    );
    e.register_get(
        "expected_output_tokens",
        |s: &mut StepView| -> Result<INT, Box<EvalAltResult>> {
            s.step()
                .expected_output_tokens
                .map(clamp)
                .ok_or_else(|| missing("expected_output_tokens"))
        },
    );
    e.register_get("needs_chain_of_thought", |s: &mut StepView| {
        s.step().needs_chain_of_thought
    });
    e.register_get("output_must_be_json", |s: &mut StepView| {
        s.step().output_must_be_json
    });
    e.register_get("untrusted_input", |s: &mut StepView| {
        s.step().untrusted_input
    });
    e.register_get("dependent_tool_calls", |s: &mut StepView| -> INT {
        clamp(s.step().dependent_tool_calls)
    });
    e.register_get(
        "workload",
        |s: &mut StepView| -> Result<ImmutableString, Box<EvalAltResult>> {
            s.step()
                .workload
                .as_deref()
                .map(Into::into)
                .ok_or_else(|| missing("workload"))
        },
    );
    e.register_get(
        "trace_id",
        |s: &mut StepView| -> Result<ImmutableString, Box<EvalAltResult>> {
            s.step()
                .trace_id
                .as_deref()
                .map(Into::into)
                .ok_or_else(|| missing("trace_id"))
        },
    );
    e.register_get("tags", |s: &mut StepView| TagsView { step: s.step });
    // `step.tags.name` falls back to this indexer when no getter has that name.
    e.register_indexer_get(
        |t: &mut TagsView, key: ImmutableString| -> Result<Dynamic, Box<EvalAltResult>> {
            match t.step().tags.get(key.as_str()) {
                Some(v) => Ok(tag_to_dynamic(v)),
                None => Err(format!(
                    "the step has no tag `{key}` (test for it first with `\"{key}\" in step.tags`)"
                )
                .into()),
            }
        },
    );
    // `"name" in step.tags`.
    e.register_fn("contains", |t: &mut TagsView, key: ImmutableString| {
        t.step().tags.contains_key(key.as_str())
    });
    e
}

fn missing(field: &str) -> Box<EvalAltResult> {
    format!("the step has no `{field}`").into()
}

fn clamp(n: u64) -> INT {
    INT::try_from(n).unwrap_or(INT::MAX)
}

fn tag_to_dynamic(v: &TagValue) -> Dynamic {
    match v {
        TagValue::Str(s) => Dynamic::from(ImmutableString::from(s.as_str())),
        TagValue::Bool(b) => Dynamic::from(*b),
        TagValue::Num(n) if n.fract() == 0.0 && n.abs() < 9.0e15 => Dynamic::from(*n as INT),
        TagValue::Num(n) => Dynamic::from(*n),
    }
}

/// `step` as an expression sees it: a pointer to the step being routed.
///
/// Copying the step into the script for every evaluation would cost more than evaluating
/// most expressions, so the view borrows it instead.
#[derive(Clone, Copy)]
struct StepView {
    step: NonNull<Step>,
    input_tokens: u64,
}

/// `step.tags`.
#[derive(Clone, Copy)]
struct TagsView {
    step: NonNull<Step>,
}

// SAFETY: a view is made only by `CompiledExpr::eval` from a `&Step` and lives only in that
// call's scope, which is emptied before the call returns; an expression cannot keep a value
// anywhere else (no statements, no variables, no globals), and the result is dropped inside
// the call. So the pointer is never read after the borrow ends, and `Step` is `Sync`.
unsafe impl Send for StepView {}
unsafe impl Sync for StepView {}
unsafe impl Send for TagsView {}
unsafe impl Sync for TagsView {}

impl StepView {
    fn step(&self) -> &Step {
        // SAFETY: see the `Send`/`Sync` impls: the step outlives every use of the view.
        unsafe { self.step.as_ref() }
    }
}

impl TagsView {
    fn step(&self) -> &Step {
        // SAFETY: as for `StepView`.
        unsafe { self.step.as_ref() }
    }
}

/// A compiled expression, ready to evaluate against any step.
#[derive(Debug, Clone)]
pub struct CompiledExpr {
    ast: AST,
}

thread_local! {
    /// One scope per thread, reused: a fresh scope per call allocates.
    static SCOPE: RefCell<Scope<'static>> = RefCell::new(Scope::new());
}

impl CompiledExpr {
    /// Compiles an expression; a syntax error points at its place inside the policy file.
    #[allow(clippy::result_large_err)] // load time only; the error is the product
    pub fn compile(expr: &Expr) -> Result<CompiledExpr, Diagnostic> {
        let mut scope = Scope::new();
        scope.push("step", ());
        let compile = |text: &str| engine().compile_expression_with_scope(&scope, text);
        // Errors are reported against the text as written; what runs is the same expression
        // with `step.tags.name` spelled `step.tags["name"]` (see `index_tag_reads`).
        compile(&expr.text)
            .and_then(|_| compile(&index_tag_reads(&expr.text)))
            .map(|ast| CompiledExpr { ast })
            .map_err(|e| {
                let at = expr_offset(expr, e.position());
                Diagnostic::error(
                    "expr-syntax",
                    &expr.loc.source,
                    at..at + 1,
                    format!("the expression does not compile: {}", e.err_type()),
                )
                .with_help(
                    "an expression is one Rhai expression over `step` (e.g. `step.tags.value_usd > 1000`); no statements, loops or functions",
                )
            })
    }

    /// Evaluates against a step whose input tokens are already counted. An error, a result
    /// that is not a bool, or a sandbox limit is an `Err` with a sentence.
    pub fn eval(&self, step: &Step, input_tokens: u64) -> Result<bool, String> {
        let view = StepView {
            step: NonNull::from(step),
            input_tokens,
        };
        SCOPE.with(|cell| {
            // A re-entrant call (an expression evaluated from inside another one's callback)
            // cannot happen, but fall back to a fresh scope rather than panic if it ever did.
            let mut fresh;
            let mut guard = cell.try_borrow_mut();
            let scope: &mut Scope<'static> = match guard.as_deref_mut() {
                Ok(s) => s,
                Err(_) => {
                    fresh = Scope::new();
                    &mut fresh
                }
            };
            scope.push("step", view);
            let result = engine().eval_ast_with_scope::<Dynamic>(scope, &self.ast);
            scope.rewind(0);
            match result {
                Ok(v) => match v.as_bool() {
                    Ok(b) => Ok(b),
                    Err(t) => Err(format!("the expression gave a {t}, not a bool")),
                },
                Err(e) => Err(describe_error(&e)),
            }
        })
    }
}

/// Rewrites `step.tags.name` to `step.tags["name"]`, outside string literals.
///
/// Both read the same tag, but Rhai resolves a property on a custom type by first looking for
/// a getter named after it, and only when that fails (building an error, formatting a
/// signature) falls back to the indexer: three times the cost of the expression itself.
fn index_tag_reads(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = String::with_capacity(text.len() + 8);
    let mut i = 0;
    let ident = |j: usize| j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'_');
    let skip_ws = |mut j: usize| {
        while j < b.len() && b[j].is_ascii_whitespace() {
            j += 1;
        }
        j
    };
    while i < b.len() {
        let c = b[i];
        if c == b'"' || c == b'`' || c == b'\'' {
            // Copy a string or character literal whole, escapes included.
            let start = i;
            i += 1;
            while i < b.len() && b[i] != c {
                i += if b[i] == b'\\' { 2 } else { 1 };
            }
            i = (i + 1).min(b.len());
            out.push_str(&text[start..i]);
            continue;
        }
        let at_word_start = i == 0 || !ident(i - 1) && b[i - 1] != b'.';
        if at_word_start && text[i..].starts_with("step") && !ident(i + 4) {
            let j = skip_ws(i + 4);
            if j < b.len() && b[j] == b'.' {
                let k = skip_ws(j + 1);
                if text[k..].starts_with("tags") && !ident(k + 4) {
                    let m = skip_ws(k + 4);
                    if m < b.len() && b[m] == b'.' {
                        let n = skip_ws(m + 1);
                        let mut e = n;
                        while ident(e) {
                            e += 1;
                        }
                        if e > n && !b[n].is_ascii_digit() {
                            out.push_str("step.tags[\"");
                            out.push_str(&text[n..e]);
                            out.push_str("\"]");
                            i = e;
                            continue;
                        }
                    }
                }
            }
        }
        let ch = text[i..].chars().next().unwrap_or(' ');
        out.push(ch);
        i += ch.len_utf8();
    }
    out
}

fn describe_error(e: &EvalAltResult) -> String {
    match e {
        EvalAltResult::ErrorRuntime(v, _) => v.to_string(),
        EvalAltResult::ErrorTooManyOperations(_) => {
            format!("the expression ran past the sandbox limit of {MAX_OPERATIONS} operations")
        }
        other => {
            let mut s = other.to_string();
            if let Some(i) = s.find(" (line ") {
                s.truncate(i);
            }
            s
        }
    }
}

/// Byte offset in the policy file of a position inside the expression's string.
///
/// Walks the string as written in the file, so escapes in a basic string (`\"`, `\u00e9`)
/// and a line-ending backslash in a multi-line one are counted as the text they stand for.
fn expr_offset(expr: &Expr, pos: Position) -> usize {
    let file = &expr.loc.source.text;
    let span = expr.loc.span.clone();
    let raw = &file[span.clone()];
    let (quote_len, escapes) = if raw.starts_with("\"\"\"") {
        (3, true)
    } else if raw.starts_with("'''") {
        (3, false)
    } else {
        (1, raw.starts_with('"'))
    };
    let mut start = span.start + quote_len;
    if quote_len == 3 {
        // A newline right after the opening quotes is not part of the string.
        if file[start..].starts_with('\n') {
            start += 1;
        } else if file[start..].starts_with("\r\n") {
            start += 2;
        }
    }
    let end = span.end.saturating_sub(quote_len).max(start);
    let (Some(line), Some(col)) = (pos.line(), pos.position()) else {
        return start;
    };
    // Walk the written text, tracking the (line, column) of the string's value.
    let body = &file[start..end];
    let (mut l, mut c) = (1, 1);
    let mut chars = body.char_indices().peekable();
    while let Some((i, ch)) = chars.next() {
        if l == line && c >= col {
            return start + i;
        }
        if escapes && ch == '\\' {
            match chars.peek().map(|&(_, n)| n) {
                Some('u') | Some('U') => {
                    let digits = if chars.peek().map(|&(_, n)| n) == Some('u') {
                        4
                    } else {
                        8
                    };
                    for _ in 0..=digits {
                        chars.next();
                    }
                }
                Some('\n') | Some('\r') | Some(' ') | Some('\t') => {
                    // A line-ending backslash: the newline and the blanks after it vanish.
                    while chars.peek().is_some_and(|&(_, n)| n.is_whitespace()) {
                        chars.next();
                    }
                    continue;
                }
                _ => {
                    chars.next();
                }
            }
            c += 1;
            continue;
        }
        if ch == '\n' {
            l += 1;
            c = 1;
        } else {
            c += 1;
        }
    }
    // Past the end (an unfinished expression): point at the closing quote.
    end
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diag::Source;
    use crate::policy::Loc;

    fn expr(text: &str) -> Expr {
        let file = format!("expr = {text:?}\n");
        let src = Source::new("p.toml", file.clone());
        Expr {
            text: text.to_string(),
            loc: Loc {
                source: src,
                span: 7..file.len() - 1,
            },
        }
    }

    fn eval(text: &str, step: &Step) -> Result<bool, String> {
        CompiledExpr::compile(&expr(text))
            .unwrap()
            .eval(step, step.input_tokens.unwrap_or(0))
    }

    #[test]
    fn reads_fields_and_tags() {
        let s = Step::new("reason")
            .input_tokens(5000)
            .tag("value", 2_000_000i64)
            .tag("j", "EU");
        assert_eq!(
            eval("step.input_tokens > 4000 && step.role == \"reason\"", &s),
            Ok(true)
        );
        assert_eq!(eval("step.tags.value > 1000000", &s), Ok(true));
        assert_eq!(eval("step.tags[\"j\"] == \"EU\"", &s), Ok(true));
        assert_eq!(eval("\"j\" in step.tags", &s), Ok(true));
        assert_eq!(eval("\"k\" in step.tags", &s), Ok(false));
    }

    #[test]
    fn missing_things_are_errors_not_false() {
        let s = Step::new("reason").input_tokens(1);
        let e = eval("step.tags.nope > 5", &s).unwrap_err();
        assert!(e.contains("no tag `nope`"), "{e}");
        assert!(eval("step.input_tokenz > 5", &s).is_err());
        assert!(eval("step.expected_output_tokens > 5", &s).is_err());
        let e = eval("step.input_tokens + 1", &s).unwrap_err();
        assert!(e.contains("not a bool"), "{e}");
    }

    #[test]
    fn the_sandbox_refuses_scripts() {
        for text in [
            "let x = 1; x",
            "while true {}",
            "fn f() { 1 }",
            "import \"x\" as y",
            "other > 1",
        ] {
            assert!(CompiledExpr::compile(&expr(text)).is_err(), "{text}");
        }
        let s = Step::new("reason").input_tokens(1);
        let e = eval("\"ab\".pad(100000, \"x\") == \"\"", &s).unwrap_err();
        assert!(!e.is_empty());
    }

    #[test]
    fn tag_reads_become_index_reads_outside_strings() {
        assert_eq!(
            index_tag_reads(
                "step.tags.a > 1 && step . tags . b_2 == \"step.tags.c\" && xstep.tags.d"
            ),
            "step.tags[\"a\"] > 1 && step.tags[\"b_2\"] == \"step.tags.c\" && xstep.tags.d"
        );
        assert_eq!(index_tag_reads("\"k\" in step.tags"), "\"k\" in step.tags");
        assert_eq!(index_tag_reads("step.tags.é"), "step.tags.é");
    }

    #[test]
    fn syntax_errors_point_into_the_file() {
        let d = CompiledExpr::compile(&expr("step.role == ")).unwrap_err();
        let (line, col) = d.line_col().unwrap();
        assert_eq!(line, 1);
        assert!(col > 8, "{col}");
    }
}
