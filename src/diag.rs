//! Diagnostics: every problem found in a policy, as a value with a stable name, a severity,
//! a location (file, byte span, line:col) and a sentence a person can act on — and the one
//! renderer that shows it with the source line underlined.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use miette::{GraphicalReportHandler, GraphicalTheme, LabeledSpan, SourceSpan};
use serde_json::{json, Value};

/// The text of one file a user wrote, kept so that spans can be shown as file:line:col.
///
/// What a diagnostic may show of it is decided here, once: a value pasted into
/// `api_key_env` that is not a variable's name (likely a real key) is masked in every line
/// shown and in every message, and a file that may not be a policy at all (an include that
/// is not TOML) is never shown, only pointed at.
pub struct Source {
    /// The path as the user gave it (not canonicalised, so messages show what they typed).
    pub path: PathBuf,
    /// The whole file.
    pub text: String,
    line_starts: Vec<usize>,
    /// Byte ranges of secrets in `text`, masked whenever text is shown.
    secrets: Vec<Range<usize>>,
    /// The text as diagnostics show it: `None` shows no text at all.
    shown: Option<String>,
}

/// Short: a source's text can be large and may hold secrets, so `Debug` shows neither.
impl fmt::Debug for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Source")
            .field("path", &self.path)
            .field("bytes", &self.text.len())
            .finish_non_exhaustive()
    }
}

impl Source {
    /// Wraps a file's text.
    pub fn new(path: impl Into<PathBuf>, text: String) -> Arc<Source> {
        let secrets = secret_spans(&text);
        let mut shown = text.clone();
        for r in &secrets {
            // Same length, so spans into the text stay spans into what is shown.
            shown.replace_range(r.clone(), &"*".repeat(r.len()));
        }
        Self::build(path.into(), text, secrets, Some(shown))
    }

    /// Wraps the text of a file that diagnostics may point into (file:line:col) but never
    /// show: one that may not be a policy at all, and may hold anything.
    pub fn hidden(path: impl Into<PathBuf>, text: String) -> Arc<Source> {
        Self::build(path.into(), text, Vec::new(), None)
    }

    fn build(
        path: PathBuf,
        text: String,
        secrets: Vec<Range<usize>>,
        shown: Option<String>,
    ) -> Arc<Source> {
        let line_starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        Arc::new(Source {
            path,
            text,
            line_starts,
            secrets,
            shown,
        })
    }

    /// The text as a diagnostic may show it (secrets masked, same byte offsets), or `None`
    /// when none of it may be shown.
    pub fn shown_text(&self) -> Option<&str> {
        self.shown.as_deref()
    }

    /// `s` with every secret of this file replaced by `[redacted]`, for messages that quote
    /// the file.
    pub fn redact<'a>(&self, s: &'a str) -> std::borrow::Cow<'a, str> {
        let mut out = std::borrow::Cow::Borrowed(s);
        for r in &self.secrets {
            let secret = &self.text[r.clone()];
            if !secret.is_empty() && out.contains(secret) {
                out = std::borrow::Cow::Owned(out.replace(secret, "[redacted]"));
            }
        }
        out
    }

    /// 1-based line and column (in characters) of a byte offset.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let line = self.line_starts.partition_point(|&s| s <= offset) - 1;
        let start = self.line_starts[line];
        let col = self.text[start..floor_char_boundary(&self.text, offset)]
            .chars()
            .count();
        (line + 1, col + 1)
    }
}

/// Whether an `api_key_env` value is what it should be: the name of an environment variable.
pub(crate) fn looks_like_env_name(v: &str) -> bool {
    !v.is_empty()
        && v.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !v.starts_with(|c: char| c.is_ascii_digit())
}

/// The first occurrence of `needle` inside `range` of `text`, as a byte range: where a check
/// points inside a table it only knows the extent of.
pub(crate) fn find_in(text: &str, range: Range<usize>, needle: &str) -> Option<Range<usize>> {
    let hay = text.get(range.clone())?;
    hay.find(needle)
        .map(|i| range.start + i..range.start + i + needle.len())
}

/// The extent of the TOML table holding `at`: up to the next line that opens a table.
pub(crate) fn table_extent(text: &str, at: usize) -> Range<usize> {
    let at = at.min(text.len());
    let mut lines = text[at..].split_inclusive('\n');
    let mut offset = at + lines.next().map_or(0, str::len);
    for line in lines {
        if line.trim_start().starts_with('[') {
            return at..offset;
        }
        offset += line.len();
    }
    at..text.len()
}

/// The byte ranges of `api_key_env` string values that are not a variable's name, found in
/// the text itself so that a file that does not parse (an unterminated string) is covered:
/// the value runs to its closing quote, or to the end of the line when there is none.
fn secret_spans(text: &str) -> Vec<Range<usize>> {
    const KEY: &str = "api_key_env";
    let mut out = Vec::new();
    for (at, _) in text.match_indices(KEY) {
        let rest = &text[at + KEY.len()..];
        // The key may be quoted: `"api_key_env" = …`.
        let rest = rest.strip_prefix(['"', '\'']).unwrap_or(rest);
        let after_ws = rest.trim_start_matches([' ', '\t']);
        let Some(after_eq) = after_ws.strip_prefix('=') else {
            continue;
        };
        let value = after_eq.trim_start_matches([' ', '\t']);
        let value_at = text.len() - value.len();
        let (quote, multi) = if value.starts_with("\"\"\"") {
            ("\"\"\"", true)
        } else if value.starts_with("\'\'\'") {
            ("\'\'\'", true)
        } else if value.starts_with('"') {
            ("\"", false)
        } else if value.starts_with('\'') {
            ("\'", false)
        } else {
            continue;
        };
        let body_at = value_at + quote.len();
        let body = &text[body_at..];
        let limit = if multi {
            body.len()
        } else {
            body.find('\n').unwrap_or(body.len())
        };
        let end = body[..limit].find(quote).unwrap_or(limit);
        // An unterminated value's line may end in `\r`.
        let inner = body[..end].trim_end_matches('\r');
        if !looks_like_env_name(inner) && !inner.is_empty() {
            out.push(body_at..body_at + inner.len());
        }
    }
    out
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// Worth knowing; never fails a run.
    Info,
    /// Fails a run only with `--deny-warnings`.
    Warning,
    /// The policy does not load.
    Error,
}

impl Severity {
    /// The lower-case word used in every output format.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

/// One problem found in a policy (or in reading it).
///
/// A library user renders one as the CLI does, with miette, or as plain text:
///
/// ```
/// let err = switchyard::policy::load_policy_text(
///     "p.toml".as_ref(),
///     "[policy]\nname = \"p\"\ndefault_tier = \"t\"\n",
/// )
/// .unwrap_err();
/// let d = &err.diagnostics[0];
/// assert!(d.render(false).contains("p.toml:1:1"), "{}", d.render(false));
/// let _report = miette::Report::new(d.clone()); // as the CLI renders it
/// ```
#[derive(Debug, Clone)]
pub struct Diagnostic {
    /// A stable kebab-case name, such as `unknown-tier` or `toml-syntax`.
    pub name: &'static str,
    /// How bad it is.
    pub severity: Severity,
    /// What is wrong, in a sentence.
    pub message: String,
    /// The file and byte span it is about, when it is about a place in a file.
    pub source: Option<Arc<Source>>,
    /// Byte range inside `source`.
    pub span: Option<Range<usize>>,
    /// A path when there is no source text (a file that could not be read).
    pub path: Option<PathBuf>,
    /// What to do about it.
    pub help: Option<String>,
    /// A step that shows the finding, for findings about behaviour.
    pub example: Option<Value>,
}

impl Diagnostic {
    /// An error at a span of a source file.
    pub fn error(
        name: &'static str,
        source: &Arc<Source>,
        span: Range<usize>,
        message: impl Into<String>,
    ) -> Self {
        Diagnostic {
            name,
            severity: Severity::Error,
            message: message.into(),
            source: Some(source.clone()),
            span: Some(span),
            path: None,
            help: None,
            example: None,
        }
    }

    /// An error about a file as a whole, with no text to point into.
    pub fn file_error(name: &'static str, path: &Path, message: impl Into<String>) -> Self {
        Diagnostic {
            name,
            severity: Severity::Error,
            message: message.into(),
            source: None,
            span: None,
            path: Some(path.to_path_buf()),
            help: None,
            example: None,
        }
    }

    /// Adds help text.
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// The file this is about.
    pub fn file(&self) -> Option<&Path> {
        self.source
            .as_ref()
            .map(|s| s.path.as_path())
            .or(self.path.as_deref())
    }

    /// 1-based line and column of the start of the span.
    pub fn line_col(&self) -> Option<(usize, usize)> {
        match (&self.source, &self.span) {
            (Some(src), Some(span)) => Some(src.line_col(span.start)),
            _ => None,
        }
    }

    /// `file:line:col` (or just the file), as editors and terminals link it.
    pub fn location(&self) -> String {
        let file = self
            .file()
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        match self.line_col() {
            Some((l, c)) => format!("{file}:{l}:{c}"),
            None => file,
        }
    }

    /// The message as it may be shown: any secret of its file masked.
    pub fn shown_message(&self) -> std::borrow::Cow<'_, str> {
        match &self.source {
            Some(src) => src.redact(&self.message),
            None => std::borrow::Cow::Borrowed(&self.message),
        }
    }

    /// The help as it may be shown: any secret of its file masked.
    pub fn shown_help(&self) -> Option<std::borrow::Cow<'_, str>> {
        let h = self.help.as_deref()?;
        Some(match &self.source {
            Some(src) => src.redact(h),
            None => std::borrow::Cow::Borrowed(h),
        })
    }

    /// Whether rendering may show the source line (there is a span into text that may be shown).
    fn shows_text(&self) -> bool {
        self.span.is_some()
            && self
                .source
                .as_ref()
                .is_some_and(|s| s.shown_text().is_some())
    }

    /// The diagnostic as a JSON object with stable field names.
    pub fn to_json(&self) -> Value {
        let (line, col) = self
            .line_col()
            .map_or((None, None), |(l, c)| (Some(l), Some(c)));
        let (end_line, end_col) = match (&self.source, &self.span) {
            (Some(src), Some(span)) => {
                let (l, c) = src.line_col(span.end);
                (Some(l), Some(c))
            }
            _ => (None, None),
        };
        json!({
            "name": self.name,
            "severity": self.severity.as_str(),
            "message": self.shown_message(),
            "file": self.file().map(|p| p.display().to_string()),
            "line": line,
            "col": col,
            "end_line": end_line,
            "end_col": end_col,
            "help": self.shown_help(),
            "example": self.example,
        })
    }

    /// Renders the diagnostic for a person: the message, file:line:col and the source line
    /// with the span underlined. `color` picks ANSI colours (for a terminal).
    pub fn render(&self, color: bool) -> String {
        let theme = if color {
            GraphicalTheme::unicode()
        } else {
            GraphicalTheme::unicode_nocolor()
        };
        let handler = GraphicalReportHandler::new_themed(theme).with_context_lines(1);
        let mut out = String::new();
        if handler.render_report(&mut out, self).is_err() {
            out = format!("{}\n", self.one_line());
        }
        out
    }
}

impl Diagnostic {
    /// The diagnostic on one line: `error[name]: file:line:col: message (help: …)`.
    pub fn one_line(&self) -> String {
        let mut s = format!(
            "{}[{}]: {}: {}",
            self.severity.as_str(),
            self.name,
            self.location(),
            self.shown_message()
        );
        if let Some(h) = self.shown_help() {
            s.push_str(&format!(" (help: {h})"));
        }
        s
    }
}

/// The headline miette shows above the source line: the message, after the location when
/// there is no source line to carry it.
impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let message = self.shown_message();
        match (self.shows_text(), self.file()) {
            // The snippet header shows file:line:col when there is a snippet.
            (true, _) | (false, None) => write!(f, "{message}"),
            (false, Some(_)) => write!(f, "{}: {message}", self.location()),
        }
    }
}

impl std::error::Error for Diagnostic {}

impl miette::Diagnostic for Diagnostic {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new(self.name))
    }
    fn severity(&self) -> Option<miette::Severity> {
        Some(match self.severity {
            Severity::Error => miette::Severity::Error,
            Severity::Warning => miette::Severity::Warning,
            Severity::Info => miette::Severity::Advice,
        })
    }
    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        match (self.shown_help(), &self.example) {
            (None, None) => None,
            (Some(h), None) => Some(Box::new(h.into_owned())),
            (None, Some(e)) => Some(Box::new(format!("for example, the step {e}"))),
            (Some(h), Some(e)) => Some(Box::new(format!("{h}\nfor example, the step {e}"))),
        }
    }
    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        self.shows_text().then_some(self as &dyn miette::SourceCode)
    }
    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        if !self.shows_text() {
            return None;
        }
        let span = self.span.clone()?;
        let len = span.end.saturating_sub(span.start);
        Some(Box::new(std::iter::once(LabeledSpan::new_with_span(
            Some("here".into()),
            SourceSpan::new(span.start.into(), len),
        ))))
    }
}

/// The shown text of the diagnostic's file (secrets masked), named by its path.
impl miette::SourceCode for Diagnostic {
    fn read_span<'a>(
        &'a self,
        span: &SourceSpan,
        context_lines_before: usize,
        context_lines_after: usize,
    ) -> Result<Box<dyn miette::SpanContents<'a> + 'a>, miette::MietteError> {
        let src = self
            .source
            .as_ref()
            .ok_or(miette::MietteError::OutOfBounds)?;
        let inner = src
            .shown_text()
            .ok_or(miette::MietteError::OutOfBounds)?
            .read_span(span, context_lines_before, context_lines_after)?;
        Ok(Box::new(miette::MietteSpanContents::new_named(
            src.path.display().to_string(),
            inner.data(),
            *inner.span(),
            inner.line(),
            inner.column(),
            inner.line_count(),
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_and_column_are_one_based_chars() {
        let src = Source::new("p.toml", "a = 1\nné = 2\n".to_string());
        assert_eq!(src.line_col(0), (1, 1));
        assert_eq!(src.line_col(6), (2, 1));
        assert_eq!(src.line_col(9), (2, 3));
    }

    #[test]
    fn renders_the_line_with_location() {
        let src = Source::new("p.toml", "[policy]\nname = 3\n".to_string());
        let d = Diagnostic::error("bad-type", &src, 16..17, "expected a string");
        let text = d.render(false);
        assert!(text.contains("p.toml:2:8"), "{text}");
        assert!(text.contains("name = 3"), "{text}");
        assert_eq!(d.location(), "p.toml:2:8");
    }
}
