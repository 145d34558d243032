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
#[derive(Debug)]
pub struct Source {
    /// The path as the user gave it (not canonicalised, so messages show what they typed).
    pub path: PathBuf,
    /// The whole file.
    pub text: String,
    line_starts: Vec<usize>,
}

impl Source {
    /// Wraps a file's text.
    pub fn new(path: impl Into<PathBuf>, text: String) -> Arc<Source> {
        let line_starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        Arc::new(Source {
            path: path.into(),
            text,
            line_starts,
        })
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
            "message": self.message,
            "file": self.file().map(|p| p.display().to_string()),
            "line": line,
            "col": col,
            "end_line": end_line,
            "end_col": end_col,
            "help": self.help,
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
        if handler.render_report(&mut out, &Report(self)).is_err() {
            out = format!("{self}\n");
        }
        out
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}[{}]: {}: {}",
            self.severity.as_str(),
            self.name,
            self.location(),
            self.message
        )?;
        if let Some(h) = &self.help {
            write!(f, " (help: {h})")?;
        }
        Ok(())
    }
}

/// Adapter that lets miette render a [`Diagnostic`].
struct Report<'a>(&'a Diagnostic);

impl fmt::Debug for Report<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.0, f)
    }
}

impl fmt::Display for Report<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.0.span.is_some(), self.0.file()) {
            // The snippet header shows file:line:col when there is a span.
            (true, _) | (false, None) => write!(f, "{}", self.0.message),
            (false, Some(p)) => write!(f, "{}: {}", p.display(), self.0.message),
        }
    }
}

impl std::error::Error for Report<'_> {}

impl miette::Diagnostic for Report<'_> {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new(self.0.name))
    }
    fn severity(&self) -> Option<miette::Severity> {
        Some(match self.0.severity {
            Severity::Error => miette::Severity::Error,
            Severity::Warning => miette::Severity::Warning,
            Severity::Info => miette::Severity::Advice,
        })
    }
    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        let d = self.0;
        match (&d.help, &d.example) {
            (None, None) => None,
            (Some(h), None) => Some(Box::new(h.clone())),
            (None, Some(e)) => Some(Box::new(format!("for example, the step {e}"))),
            (Some(h), Some(e)) => Some(Box::new(format!("{h}\nfor example, the step {e}"))),
        }
    }
    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        self.0
            .source
            .as_ref()
            .map(|_| self as &dyn miette::SourceCode)
    }
    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        let span = self.0.span.clone()?;
        let len = span.end.saturating_sub(span.start);
        Some(Box::new(std::iter::once(LabeledSpan::new_with_span(
            Some("here".into()),
            SourceSpan::new(span.start.into(), len),
        ))))
    }
}

impl miette::SourceCode for Report<'_> {
    fn read_span<'a>(
        &'a self,
        span: &SourceSpan,
        context_lines_before: usize,
        context_lines_after: usize,
    ) -> Result<Box<dyn miette::SpanContents<'a> + 'a>, miette::MietteError> {
        let src = self
            .0
            .source
            .as_ref()
            .ok_or(miette::MietteError::OutOfBounds)?;
        let inner = src
            .text
            .as_str()
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
