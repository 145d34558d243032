//! Rhai expressions: one locked-down engine per process, compiling a rule's `expr` once at
//! load, and evaluating it against a step with `step` bound to a read-only view.
//!
//! The view is a custom type with a getter per step field, and `step.tags` is a map bound
//! beside it; reading a field or tag the step does not have is an error rather than a silent
//! `()` that compares as `false`.

use std::any::TypeId;
use std::cell::RefCell;
use std::ptr::NonNull;
use std::sync::OnceLock;

use rhai::packages::{Package, StandardPackage};
use rhai::{
    Array, Caches, Dynamic, Engine, EvalAltResult, GlobalRuntimeState, ImmutableString, Map,
    Position, Scope, Variant, AST, FLOAT, INT,
};

use super::lower::{lower, Lowered};
use crate::diag::Diagnostic;
use crate::policy::Expr;
use crate::step::{whole_number, Step, TagValue};

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
        .set_allow_shadowing(false)
        // Reading a tag the step does not have is an error, never a silent `()`.
        .set_fail_on_invalid_map_property(true);
    e.disable_symbol("eval");
    e.disable_symbol("print");
    e.disable_symbol("debug");
    refuse_mixed_comparisons(&mut e);
    e.register_type_with_name::<StepView>("Step");
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
    // Expressions read `step.tags` through a map bound beside `step` (see `bind_tags`); this
    // getter only serves a spelling the rewrite does not see, at the cost of building the map.
    e.register_get("tags", |s: &mut StepView| tags_map(s.step()));
    e
}

/// The kinds of value a comparison may meet; two values compare only within a kind (an
/// integer with a float, a string with a character).
fn kind_of<T: 'static>() -> &'static str {
    let t = TypeId::of::<T>();
    if t == TypeId::of::<INT>() || t == TypeId::of::<FLOAT>() {
        "number"
    } else if t == TypeId::of::<ImmutableString>() || t == TypeId::of::<char>() {
        "string"
    } else if t == TypeId::of::<bool>() {
        "bool"
    } else if t == TypeId::of::<Array>() {
        "array"
    } else if t == TypeId::of::<Map>() {
        "map"
    } else {
        "()"
    }
}

/// Registers, for every comparison operator and every pair of values of different kinds, a
/// function that fails: Rhai's own answer is a silent `false` (or `true` for `!=`), which
/// would let a wrong type skip a rule instead of reaching `on_expression_error`.
/// Registered functions come before Rhai's built-in fallback once fast operators are off.
fn refuse_mixed_comparisons(e: &mut Engine) {
    fn pair<A: Variant + Clone, B: Variant + Clone>(e: &mut Engine) {
        let (a, b) = (kind_of::<A>(), kind_of::<B>());
        if a == b {
            return;
        }
        for op in ["==", "!=", "<", "<=", ">", ">="] {
            e.register_fn(op, move |_: A, _: B| -> Result<bool, Box<EvalAltResult>> {
                Err(format!(
                    "cannot compare a {a} with a {b} (`{op}`): values of different types never compare"
                )
                .into())
            });
        }
    }
    fn row<A: Variant + Clone>(e: &mut Engine) {
        pair::<A, INT>(e);
        pair::<A, FLOAT>(e);
        pair::<A, bool>(e);
        pair::<A, ImmutableString>(e);
        pair::<A, char>(e);
        pair::<A, ()>(e);
        pair::<A, Array>(e);
        pair::<A, Map>(e);
    }
    row::<INT>(e);
    row::<FLOAT>(e);
    row::<bool>(e);
    row::<ImmutableString>(e);
    row::<char>(e);
    row::<()>(e);
    row::<Array>(e);
    row::<Map>(e);
    // Fast operators call the built-in comparison for standard types without looking for a
    // registered one; off, the functions above are found first.
    e.set_fast_operators(false);
}

fn missing(field: &str) -> Box<EvalAltResult> {
    format!("the step has no `{field}`").into()
}

fn clamp(n: u64) -> INT {
    INT::try_from(n).unwrap_or(INT::MAX)
}

fn tags_map(step: &Step) -> Map {
    let mut m = Map::new();
    fill_tags(&mut m, step);
    m
}

/// Makes `m` the step's tags as the engine sees them.
///
/// Steps of one agent carry the same tag names, so when `m` already holds exactly those
/// names (left by the previous evaluation on this thread) only the values are replaced, and
/// a string equal to the one held is kept: no tree node, key or unchanged string is freed
/// and allocated again. Any other map is rebuilt.
fn fill_tags(m: &mut Map, step: &Step) {
    if m.len() == step.tags.len() {
        let mut same = true;
        for ((key, slot), (name, v)) in m.iter_mut().zip(&step.tags) {
            if key.as_str() != name.as_str() {
                same = false;
                break;
            }
            set_tag(slot, v);
        }
        if same {
            return;
        }
    }
    m.clear();
    for (k, v) in &step.tags {
        m.insert(k.as_str().into(), tag_to_dynamic(v));
    }
}

/// Replaces a tag's value in the engine's map, keeping a string equal to the new one.
fn set_tag(slot: &mut Dynamic, v: &TagValue) {
    if let TagValue::Str(s) = v {
        if slot
            .read_lock::<ImmutableString>()
            .is_some_and(|held| held.as_str() == s.as_str())
        {
            return;
        }
    }
    *slot = tag_to_dynamic(v);
}

fn tag_to_dynamic(v: &TagValue) -> Dynamic {
    match v {
        TagValue::Str(s) => Dynamic::from(ImmutableString::from(s.as_str())),
        TagValue::Bool(b) => Dynamic::from(*b),
        TagValue::Num(n) => match whole_number(*n) {
            Some(i) => Dynamic::from(i),
            None => Dynamic::from(*n),
        },
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

// SAFETY: the pointer is set by `CompiledExpr::eval` from a `&Step` right before an
// evaluation and read only by getters during it; between evaluations the view sits unread in
// its thread's scope. An expression cannot keep a value anywhere else (no statements,
// variables or globals), and its result is dropped inside the call. So the pointer is never
// read after the borrow ends, and `Step` is `Sync`.
unsafe impl Send for StepView {}
unsafe impl Sync for StepView {}

impl StepView {
    fn step(&self) -> &Step {
        // SAFETY: see the `Send`/`Sync` impls: the step outlives every use of the view.
        unsafe { self.step.as_ref() }
    }
}

/// A compiled expression, ready to evaluate against any step.
#[derive(Debug, Clone)]
pub struct CompiledExpr {
    ast: AST,
    /// Whether it reads `step.tags` (then the tags map is filled before each evaluation).
    reads_tags: bool,
    /// The same expression in native code, when it is only comparisons with constants
    /// joined by `&&` (see `lower`): what runs instead of the engine.
    lowered: Option<Lowered>,
}

/// The variable `step.tags` is rewritten to: a plain Rhai map, so tag reads and `in` take
/// Rhai's built-in map paths instead of resolving registered functions on every read.
/// Users cannot name it: their text is compiled with only `step` in scope first.
const TAGS_VAR: &str = "step_tags__";

thread_local! {
    /// One scope per thread holding `step` and the tags map, updated in place per
    /// evaluation: pushing fresh values allocates.
    static SCOPE: RefCell<Scope<'static>> = RefCell::new(fresh_scope());
    /// The engine's run state and function-resolution cache, kept per thread across
    /// evaluations (see [`CompiledExpr::eval_interpreted`]).
    static RUN: RefCell<Run> = RefCell::new(Run::new());
}

/// What the engine keeps while it evaluates: its run state (the operation count among it)
/// and the cache of which function each operator and call resolved to.
///
/// `Engine::eval_ast_with_scope` makes both afresh for every evaluation, so every `>`, `==`
/// and `in` of every evaluation is resolved again by searching the engine's functions (with
/// fast operators off, which the refusal of mixed comparisons needs): most of an
/// evaluation's time. The functions never change after the engine is built, and an
/// expression defines none, so a resolution found once holds for every later evaluation.
struct Run {
    global: GlobalRuntimeState,
    caches: Caches,
}

impl Run {
    fn new() -> Run {
        Run {
            global: engine().new_global_runtime_state(),
            caches: Caches::new(),
        }
    }

    /// Evaluates `ast` as `eval_ast_with_scope` would, with the operation count starting
    /// from zero (the sandbox's limit is per evaluation).
    #[allow(deprecated)] // `eval_statements_raw` is the engine's one entry taking caches
    fn eval(
        &mut self,
        scope: &mut Scope<'static>,
        ast: &AST,
    ) -> Result<Dynamic, Box<EvalAltResult>> {
        self.global.num_operations = Default::default();
        self.global.level = 0;
        self.global.scope_level = 0;
        engine().eval_statements_raw(&mut self.global, &mut self.caches, scope, ast.statements())
    }
}

fn fresh_scope() -> Scope<'static> {
    let mut scope = Scope::new();
    scope.push(
        "step",
        StepView {
            step: NonNull::dangling(),
            input_tokens: 0,
        },
    );
    scope.push(TAGS_VAR, Map::new());
    scope
}

impl CompiledExpr {
    /// Compiles an expression; a syntax error points at its place inside the policy file.
    #[allow(clippy::result_large_err)] // load time only; the error is the product
    pub fn compile(expr: &Expr) -> Result<CompiledExpr, Diagnostic> {
        let mut as_written = Scope::new();
        as_written.push("step", ());
        let mut bound = as_written.clone();
        bound.push(TAGS_VAR, ());
        let (rewritten, reads_tags) = bind_tags(&expr.text);
        // Errors are reported against the text as written (where only `step` exists); what
        // runs is the same expression with `step.tags` bound to the tags map.
        let written = engine().compile_expression_with_scope(&as_written, &expr.text);
        // Only the functions on the allowlist ever run: a call to any other is refused here.
        if let Some(d) = written
            .as_ref()
            .ok()
            .and_then(|ast| super::check::first_refused_call(expr, ast))
        {
            return Err(d);
        }
        let lowered = written.as_ref().ok().and_then(lower);
        written
            .and_then(|_| engine().compile_expression_with_scope(&bound, &rewritten))
            .map(|ast| CompiledExpr {
                ast,
                reads_tags,
                lowered,
            })
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
    #[inline]
    pub fn eval(&self, step: &Step, input_tokens: u64) -> Result<bool, String> {
        match &self.lowered {
            Some(native) => native.eval(step, input_tokens),
            None => self.eval_interpreted(step, input_tokens),
        }
    }

    /// The native form's terms, when each reads one tag and nothing else: what the fast path
    /// settles from tag classes, with no evaluation (see `compile::fast::MoreTag`).
    pub(crate) fn tag_terms(&self) -> Option<Vec<super::lower::TagTerm>> {
        self.lowered.as_ref()?.tag_terms()
    }

    /// Whether the expression runs as native code rather than in the engine.
    pub fn is_lowered(&self) -> bool {
        self.lowered.is_some()
    }

    /// [`CompiledExpr::eval`] by the engine even when a native form exists: what the native
    /// form is checked against.
    pub fn eval_interpreted(&self, step: &Step, input_tokens: u64) -> Result<bool, String> {
        SCOPE.with(|cell| {
            // A re-entrant call (an expression evaluated from inside another one's callback)
            // cannot happen, but use a fresh scope rather than panic if it ever did.
            let mut fresh;
            let mut guard = cell.try_borrow_mut();
            let scope: &mut Scope<'static> = match guard.as_deref_mut() {
                Ok(s) => s,
                Err(_) => {
                    fresh = fresh_scope();
                    &mut fresh
                }
            };
            if let Some(mut view) = scope
                .get_mut("step")
                .and_then(|d| d.write_lock::<StepView>())
            {
                view.step = NonNull::from(step);
                view.input_tokens = input_tokens;
            }
            if self.reads_tags {
                if let Some(mut map) = scope.get_mut(TAGS_VAR).and_then(|d| d.write_lock::<Map>()) {
                    fill_tags(&mut map, step);
                }
            }
            // A nested evaluation, or one while the thread exits, runs in a fresh state.
            let kept = RUN.try_with(|run| {
                let mut run = run.try_borrow_mut().ok()?;
                Some(run.eval(scope, &self.ast))
            });
            let result = kept
                .ok()
                .flatten()
                .unwrap_or_else(|| Run::new().eval(scope, &self.ast));
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

/// Rewrites `step.tags` to the tags variable, outside string literals; says whether it
/// occurred.
fn bind_tags(text: &str) -> (String, bool) {
    let b = text.as_bytes();
    let mut out = String::with_capacity(text.len() + 8);
    let mut found = false;
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
        let at_word_start = i == 0 || (!ident(i - 1) && b[i - 1] != b'.');
        if at_word_start && text[i..].starts_with("step") && !ident(i + 4) {
            let j = skip_ws(i + 4);
            if j < b.len() && b[j] == b'.' {
                let k = skip_ws(j + 1);
                if text[k..].starts_with("tags") && !ident(k + 4) {
                    out.push_str(TAGS_VAR);
                    found = true;
                    i = k + 4;
                    continue;
                }
            }
        }
        let ch = text[i..].chars().next().unwrap_or(' ');
        out.push(ch);
        i += ch.len_utf8();
    }
    (out, found)
}

fn describe_error(e: &EvalAltResult) -> String {
    match e {
        EvalAltResult::ErrorPropertyNotFound(name, _) => format!(
            "the step has no tag `{name}` (test for it first with `\"{name}\" in step.tags`)"
        ),
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
pub(crate) fn expr_offset(expr: &Expr, pos: Position) -> usize {
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

/// An expression as it stands alone in a one-line policy file, `expr = "TEXT"`, its span on
/// the quoted string: what the unit tests here and in `lint::expr` compile and check.
#[cfg(test)]
pub(crate) fn test_expr(text: &str) -> Expr {
    let file = format!("expr = {text:?}\n");
    let src = crate::diag::Source::new("p.toml", file.clone());
    Expr {
        text: text.to_string(),
        loc: crate::policy::Loc {
            source: src,
            span: 7..file.len() - 1,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eval(text: &str, step: &Step) -> Result<bool, String> {
        CompiledExpr::compile(&test_expr(text))
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

    /// The sandbox's operation limit counts each evaluation alone: the engine's run state,
    /// kept between evaluations on a thread, starts every one from zero.
    #[test]
    fn the_operation_limit_is_per_evaluation() {
        let terms: Vec<String> = (0..200)
            .map(|i| format!("step.input_tokens + {i}"))
            .collect();
        let text = format!("[{}].len() == 200", terms.join(", "));
        let e = CompiledExpr::compile(&test_expr(&text)).unwrap();
        assert!(!e.is_lowered());
        let s = Step::new("x").input_tokens(1_000);
        // Each evaluation takes several hundred operations; together, far past the limit.
        for i in 0..100 {
            assert_eq!(e.eval(&s, 1_000), Ok(true), "evaluation {i}");
        }
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
            assert!(CompiledExpr::compile(&test_expr(text)).is_err(), "{text}");
        }
        // A string longer than the sandbox allows stops the expression.
        let s = Step::new("reason").input_tokens(1);
        let long = "x".repeat(MAX_STRING_SIZE / 2 + 1);
        let e = eval(&format!("\"{long}\" + \"{long}\" == \"\""), &s).unwrap_err();
        assert!(!e.is_empty());
    }

    #[test]
    fn tag_reads_are_bound_outside_strings() {
        let (text, found) =
            bind_tags("step.tags.a > 1 && step . tags . b == \"step.tags.c\" && xstep.tags.d");
        assert!(found);
        assert_eq!(
            text,
            format!("{TAGS_VAR}.a > 1 && {TAGS_VAR} . b == \"step.tags.c\" && xstep.tags.d")
        );
        assert_eq!(
            bind_tags("\"k\" in step.tags").0,
            format!("\"k\" in {TAGS_VAR}")
        );
        assert!(!bind_tags("step.role == \"step.tags\"").1);
    }

    #[test]
    fn a_step_is_never_seen_by_the_next_evaluation() {
        let with = Step::new("reason").input_tokens(1).tag("v", 5i64);
        let without = Step::new("reason").input_tokens(1);
        let e = CompiledExpr::compile(&test_expr("step.tags.v == 5")).unwrap();
        assert_eq!(e.eval(&with, 1), Ok(true));
        assert!(e.eval(&without, 1).is_err());
        assert_eq!(e.eval(&with, 1), Ok(true));
    }

    /// The engine's tags map is reused from one evaluation to the next: whatever the
    /// previous step carried (the same names with other values or types, fewer, more or
    /// other names), an evaluation sees only its own step's tags.
    #[test]
    fn the_reused_tags_map_holds_only_this_steps_tags() {
        let e = CompiledExpr::compile(&test_expr(
            r#"("j" in step.tags && step.tags.j == "EU") || ("v" in step.tags && step.tags.v > 5) || "w" in step.tags"#,
        ))
        .unwrap();
        assert!(!e.is_lowered());
        let s = |tags: &[(&str, TagValue)]| {
            let mut s = Step::new("reason").input_tokens(1);
            for (k, v) in tags {
                s.tags.insert(k.to_string(), v.clone());
            }
            s
        };
        let str_ = |x: &str| TagValue::Str(x.into());
        let cases = [
            (s(&[("j", str_("EU")), ("v", TagValue::Num(1.0))]), Ok(true)),
            (s(&[("j", str_("EU")), ("v", TagValue::Num(1.0))]), Ok(true)),
            (
                s(&[("j", str_("US")), ("v", TagValue::Num(1.0))]),
                Ok(false),
            ),
            (s(&[("j", str_("US")), ("v", TagValue::Num(9.0))]), Ok(true)),
            (s(&[("j", str_("EU")), ("v", str_("x"))]), Ok(true)),
            (
                s(&[("j", TagValue::Bool(true)), ("v", TagValue::Num(1.0))]),
                Err(()),
            ),
            (s(&[("j", str_("US"))]), Ok(false)),
            (
                s(&[("k", str_("EU")), ("v", TagValue::Num(1.0))]),
                Ok(false),
            ),
            (s(&[("j", str_("US")), ("w", TagValue::Num(1.0))]), Ok(true)),
            (s(&[]), Ok(false)),
            (s(&[("j", str_("EU")), ("v", TagValue::Num(1.0))]), Ok(true)),
        ];
        for (step, want) in cases {
            assert_eq!(e.eval_interpreted(&step, 1).map_err(|_| ()), want, "{step}");
        }
    }

    #[test]
    fn syntax_errors_point_into_the_file() {
        let d = CompiledExpr::compile(&test_expr("step.role == ")).unwrap_err();
        let (line, col) = d.line_col().unwrap();
        assert_eq!(line, 1);
        assert!(col > 8, "{col}");
    }

    #[test]
    fn functions_outside_the_allowlist_are_refused_at_compile() {
        for (text, name) in [
            ("sleep(1000000000.0) == ()", "sleep"),
            ("timestamp() == ()", "timestamp"),
            ("exit(1) == ()", "exit"),
            ("is_def_var(\"step\")", "is_def_var"),
            ("eval(\"1\") == 1", "eval"),
            ("print(\"x\") == ()", "print"),
            ("debug(\"x\") == ()", "debug"),
            ("Fn(\"sleep\").call(1.0) == ()", "call"),
            ("step.role.len() > 1 && 2.0.sleep() == ()", "sleep"),
            ("\"ab\".pad(100000, \"x\") == \"\"", "pad"),
        ] {
            let expr = test_expr(text);
            let Err(d) = CompiledExpr::compile(&expr) else {
                panic!("{text} compiled");
            };
            assert!(
                d.message.contains(&format!("`{name}`")) || d.name == "expr-syntax",
                "{text}: {}",
                d.message
            );
            assert!(d.line_col().is_some(), "{text}");
        }
    }

    #[test]
    fn mixed_type_comparisons_are_errors_not_false() {
        let s = Step::new("reason")
            .input_tokens(1)
            .tag("s", "2500000")
            .tag("b", true)
            .tag("n", 5i64)
            .tag("f", 2.5);
        for text in [
            "step.tags.s > 1000000",
            "step.tags.b > 1000000",
            "step.tags.s == 2500000",
            "step.tags.s != 2500000",
            "step.tags.b == 1",
            "step.tags.n < \"9\"",
            "step.tags.f >= true",
            "step.role == 3",
            "step.tags.n <= 'x'",
        ] {
            let e = eval(text, &s).unwrap_err();
            assert!(e.contains("cannot compare"), "{text}: {e}");
        }
        // Numbers of either kind compare with each other, strings with chars.
        assert_eq!(eval("step.tags.n > 2.5 && step.tags.f < 5", &s), Ok(true));
        assert_eq!(eval("step.tags.n == 5.0", &s), Ok(true));
        assert_eq!(
            eval("step.tags.s == \"2500000\" && 'r' < step.role", &s),
            Ok(true)
        );
        assert_eq!(
            eval("step.tags.b == true && step.tags.b != false", &s),
            Ok(true)
        );
    }
}
