//! Reading policy files from disk: one policy file with its includes, or a policy-set
//! directory; the version hash; TOML errors turned into diagnostics with file:line:col.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use sha2::{Digest, Sha256};

use super::raw::RawFile;
use super::read::{self, ReadError};
use super::{validate, Policy};
use crate::diag::{Diagnostic, Source};

/// Why a policy (or policy set) did not load: every problem found, each with its location.
///
/// `Display` gives one line per problem (`error[name]: file:line:col: message`); as a
/// [`miette::Diagnostic`] each problem is a related diagnostic with its source line, so a
/// library user renders it as the CLI does:
///
/// ```
/// let err = switchyard::policy::load_policy_text(
///     "p.toml".as_ref(),
///     "[policy]\nname = \"p\"\ndefault_tier = \"t\"\n",
/// )
/// .unwrap_err();
/// let report = miette::Report::new(err);
/// assert!(format!("{report:?}").contains("p.toml:1:1"));
/// ```
#[derive(Clone, thiserror::Error, miette::Diagnostic)]
#[error("{}", one_lines(.diagnostics))]
#[diagnostic(code(switchyard::load))]
pub struct LoadError {
    /// The problems, in file order.
    #[related]
    pub diagnostics: Vec<Diagnostic>,
}

fn one_lines(diagnostics: &[Diagnostic]) -> String {
    diagnostics
        .iter()
        .map(Diagnostic::one_line)
        .collect::<Vec<_>>()
        .join("\n")
}

/// Short: one line per problem, never the policy's text (which `Box<dyn Error>` in `main`
/// would otherwise print whole).
impl fmt::Debug for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("LoadError")
            .field(
                &self
                    .diagnostics
                    .iter()
                    .map(Diagnostic::one_line)
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl LoadError {
    pub(crate) fn one(d: Diagnostic) -> Self {
        LoadError {
            diagnostics: vec![d],
        }
    }

    /// Whether a file could not be read at all (the CLI exits 2 for that, 1 otherwise).
    pub fn is_io(&self) -> bool {
        self.diagnostics.iter().any(|d| d.name == "file-unreadable")
    }
}

/// How to load: what a policy may include beyond its own directory.
///
/// ```
/// use switchyard::policy::{load_with, LoadOptions};
/// let options = LoadOptions::default().allow_include_dir("policies");
/// let policies = load_with("policies/contract-review.toml".as_ref(), &options).unwrap();
/// assert_eq!(policies[0].name(), "contract-review");
/// ```
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct LoadOptions {
    /// Directories whose files any policy may `include`, besides the policy's own directory
    /// (which is always allowed). A path that cannot be resolved allows nothing.
    pub allowed_include_dirs: Vec<PathBuf>,
}

impl LoadOptions {
    /// Also allows includes from `dir` (and the directories below it).
    pub fn allow_include_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.allowed_include_dirs.push(dir.into());
        self
    }
}

/// A check run on each policy that passed this layer's checks, whose errors make it fail to
/// load as if found here (in file order, and a set goes on to its other files). The layers
/// above pass theirs in (compile's expression checks), so this layer never names them.
pub(crate) type ExtraCheck<'a> = &'a dyn Fn(&Policy) -> Vec<Diagnostic>;

/// No check beyond this layer's own.
fn no_extra_check(_: &Policy) -> Vec<Diagnostic> {
    Vec::new()
}

/// Loads a policy file, or every policy in a directory (a policy set).
///
/// This checks what the policy layer knows (shape, names, references, ranges, prices); what
/// only compiling finds (an expression reading an unknown field, a refused function, a guard
/// escalating to a tier that lacks a capability) is reported by
/// [`CompiledPolicy::compile`](crate::CompiledPolicy::compile) and by
/// [`PolicySet::load`](crate::PolicySet::load), which load and compile in one go.
pub fn load_path(path: &Path) -> Result<Vec<Policy>, LoadError> {
    load_with(path, &LoadOptions::default())
}

/// [`load_path`] with options: a policy file, or every policy in a directory.
pub fn load_with(path: &Path, options: &LoadOptions) -> Result<Vec<Policy>, LoadError> {
    load_checked(path, options, &no_extra_check)
}

/// [`load_with`], with `extra` run on each policy as part of loading it.
pub(crate) fn load_checked(
    path: &Path,
    options: &LoadOptions,
    extra: ExtraCheck<'_>,
) -> Result<Vec<Policy>, LoadError> {
    if path.is_dir() {
        load_set(path, options, extra)
    } else {
        let src = read_source(path)?;
        load_source(path, src, options, extra).map(|p| vec![p])
    }
}

/// Loads one policy file and its includes (checked as [`load_path`] says).
pub fn load_policy_file(path: &Path) -> Result<Policy, LoadError> {
    load_file_checked(path, &no_extra_check)
}

/// [`load_policy_file`], with `extra` run on the policy as part of loading it.
fn load_file_checked(path: &Path, extra: ExtraCheck<'_>) -> Result<Policy, LoadError> {
    let src = read_source(path)?;
    load_source(path, src, &LoadOptions::default(), extra)
}

/// Loads a policy from text already in memory; `path` names it in diagnostics, and its
/// includes are read relative to it (checked as [`load_path`] says).
pub fn load_policy_text(path: &Path, text: impl Into<String>) -> Result<Policy, LoadError> {
    load_text_checked(path, text.into(), &no_extra_check)
}

/// [`load_policy_text`], with `extra` run on the policy as part of loading it.
pub(crate) fn load_text_checked(
    path: &Path,
    text: String,
    extra: ExtraCheck<'_>,
) -> Result<Policy, LoadError> {
    load_source(
        path,
        Source::new(path, text),
        &LoadOptions::default(),
        extra,
    )
}

fn load_source(
    path: &Path,
    src: Arc<Source>,
    options: &LoadOptions,
    extra: ExtraCheck<'_>,
) -> Result<Policy, LoadError> {
    let Parsed {
        raw,
        errors: shape_errors,
        broken,
    } = parse_lenient(&src)?;
    if broken.header {
        // Without its [policy] table nothing else can be checked meaningfully.
        return Err(LoadError {
            diagnostics: shape_errors,
        });
    }
    if raw.policy.is_none() {
        let mut diagnostics = shape_errors;
        diagnostics.push(
            Diagnostic::error(
                "missing-policy-table",
                &src,
                0..0,
                "this file has no [policy] table, so it is not a policy",
            )
            .with_help("a policy starts with [policy] name = \"…\" default_tier = \"…\"; a file with only [models] is a catalog for `include`"),
        );
        return Err(LoadError { diagnostics });
    }
    let mut includes = Vec::new();
    let mut diags = Vec::new();
    let base = path.parent().unwrap_or(Path::new("."));
    let include_list = raw
        .policy
        .as_ref()
        .and_then(|p| p.get_ref().include.as_ref())
        .map(|v| v.as_slice())
        .unwrap_or(&[]);
    let allowed = if include_list.is_empty() {
        Vec::new()
    } else {
        allowed_dirs(base, options)
    };
    for inc in include_list {
        match read_include(&src, base, inc, &allowed) {
            Ok((inc_src, raw_inc)) => includes.push((inc_src, raw_inc)),
            Err(d) => diags.extend(d),
        }
    }
    if !diags.is_empty() {
        diags.splice(0..0, shape_errors);
        return Err(LoadError { diagnostics: diags });
    }
    let version = version_hash(
        std::iter::once(src.text.as_bytes()).chain(includes.iter().map(|(s, _)| s.text.as_bytes())),
    );
    let checked = validate::policy(raw, &src, includes, version, path.to_path_buf(), &broken)
        .and_then(|policy| {
            let errors = extra(&policy);
            if errors.is_empty() {
                Ok(policy)
            } else {
                Err(errors)
            }
        });
    match (checked, shape_errors.is_empty()) {
        (Ok(policy), true) => Ok(policy),
        (checked, _) => {
            // Shape errors and the checks of what did parse, in file order.
            let mut all = shape_errors;
            all.extend(checked.err().unwrap_or_default());
            all.sort_by_key(|d| {
                let same_file = d.source.as_ref().is_some_and(|s| Arc::ptr_eq(s, &src));
                (!same_file, d.span.as_ref().map_or(0, |s| s.start))
            });
            Err(LoadError { diagnostics: all })
        }
    }
}

/// The directories includes may come from, resolved: the policy's own, then the allowed ones.
fn allowed_dirs(base: &Path, options: &LoadOptions) -> Vec<PathBuf> {
    let own = if base.as_os_str().is_empty() {
        Path::new(".")
    } else {
        base
    };
    std::iter::once(own)
        .chain(options.allowed_include_dirs.iter().map(PathBuf::as_path))
        .filter_map(|d| d.canonicalize().ok())
        .collect()
}

/// Reads and parses one include: a catalog inside an allowed directory. Every problem is a
/// diagnostic; one about the include itself points at its entry in the policy.
fn read_include(
    src: &Arc<Source>,
    base: &Path,
    inc: &toml::Spanned<String>,
    allowed: &[PathBuf],
) -> Result<(Arc<Source>, RawFile), Vec<Diagnostic>> {
    let inc_path = base.join(inc.get_ref());
    let at_entry = |name: &'static str, msg: String, help: &str| {
        vec![Diagnostic::error(name, src, inc.span(), msg).with_help(help)]
    };
    // Resolved through symlinks, so a link inside the directory cannot lead out of it.
    let real = match inc_path.canonicalize() {
        Ok(real) => real,
        Err(e) => {
            return Err(at_entry(
                "include-not-found",
                format!(
                    "cannot read the included file {}: {}",
                    inc_path.display(),
                    ReadError::from(e)
                ),
                "include paths are relative to the policy file",
            ))
        }
    };
    if !allowed.iter().any(|d| real.starts_with(d)) {
        return Err(at_entry(
            "include-outside",
            format!(
                "the included file {} is outside the policy's directory",
                inc_path.display()
            ),
            "a policy includes only catalogs in its own directory (or one the loader is told to allow)",
        ));
    }
    let text = match read::read_text(&real) {
        Ok(text) => text,
        Err(e) => {
            return Err(at_entry(
                "include-not-found",
                format!("cannot read the included file {}: {e}", inc_path.display()),
                "include paths are relative to the policy file",
            ))
        }
    };
    let inc_src = Source::new(inc_path.clone(), text);
    if let Some(d) = not_a_catalog(src, inc, &inc_src) {
        return Err(vec![d]);
    }
    match parse(&inc_src) {
        Ok(raw_inc) => match catalog_only(&inc_src, &raw_inc) {
            Ok(()) => Ok((inc_src, raw_inc)),
            Err(d) => Err(vec![d]),
        },
        Err(e) => Err(e.diagnostics),
    }
}

/// The keys a policy or catalog file may hold at its top level.
const FILE_KEYS: [&str; 8] = [
    "policy", "models", "tiers", "rules", "guards", "tests", "tags", "budget",
];

/// An include that is not TOML, or whose top level is not that of a policy file, is not a
/// catalog at all (a `.env`, `/proc/self/environ`): it is reported by where it stops being a
/// catalog, and none of its text (which may hold secrets) is shown or quoted.
fn not_a_catalog(
    src: &Arc<Source>,
    inc: &toml::Spanned<String>,
    inc_src: &Arc<Source>,
) -> Option<Diagnostic> {
    match toml::from_str::<toml::Table>(&inc_src.text) {
        Err(e) => {
            let hidden = Source::hidden(inc_src.path.clone(), inc_src.text.clone());
            let span = e.span().unwrap_or(0..0);
            Some(
                Diagnostic::error(
                    "toml-syntax",
                    &hidden,
                    span,
                    "this included file is not valid TOML here, so it is not a price catalog",
                )
                .with_help("an included file holds only [models.NAME] tables; its text is not shown, since it may not be a policy file at all"),
            )
        }
        Ok(table) => table
            .keys()
            .any(|k| !FILE_KEYS.contains(&k.as_str()))
            .then(|| {
                Diagnostic::error(
                    "catalog-not-models-only",
                    src,
                    inc.span(),
                    format!(
                        "the included file {} is not a price catalog: it has top-level keys a catalog cannot have",
                        inc_src.path.display()
                    ),
                )
                .with_help("an included file holds only [models.NAME] tables; its text is not shown, since it may not be a policy file at all")
            }),
    }
}

/// A policy's version: the first 12 hex digits of SHA-256 over the policy file's bytes
/// followed by each include's, in include order.
pub(crate) fn version_hash<'a>(files: impl Iterator<Item = &'a [u8]>) -> String {
    let mut hasher = Sha256::new();
    for bytes in files {
        hasher.update(bytes);
    }
    hasher
        .finalize()
        .iter()
        .take(6)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The files of a policy-set directory that loading looks at: every `*.toml` file, in name
/// order so the result is stable.
pub(crate) fn set_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml") && p.is_file())
        .collect();
    files.sort();
    Ok(files)
}

/// Loads a directory: every `*.toml` with a `[policy]` table is a policy; the others must be
/// catalogs (only `[models]`). Files are taken in name order so the result is stable.
fn load_set(
    dir: &Path,
    options: &LoadOptions,
    extra: ExtraCheck<'_>,
) -> Result<Vec<Policy>, LoadError> {
    let files = set_files(dir).map_err(|e| {
        LoadError::one(Diagnostic::file_error(
            "file-unreadable",
            dir,
            format!("cannot read the policy directory: {e}"),
        ))
    })?;
    let mut policies: Vec<Policy> = Vec::new();
    let mut diags = Vec::new();
    for file in &files {
        let src = match read_source(file) {
            Ok(s) => s,
            Err(e) => {
                diags.extend(e.diagnostics);
                continue;
            }
        };
        let raw = match parse_lenient(&src) {
            Ok(p) if p.raw.policy.is_none() && !p.broken.header => {
                diags.extend(p.errors);
                if let Err(d) = catalog_only(&src, &p.raw) {
                    diags.push(d);
                }
                continue;
            }
            Ok(p) => p.raw,
            Err(e) => {
                diags.extend(e.diagnostics);
                continue;
            }
        };
        match load_source(file, src.clone(), options, extra) {
            Ok(p) => {
                if let Some(first) = policies.iter().find(|q| q.name == p.name) {
                    let name_span = raw
                        .policy
                        .as_ref()
                        .map(|h| h.get_ref().name.span())
                        .unwrap_or(0..0);
                    diags.push(
                        Diagnostic::error(
                            "duplicate-policy",
                            &src,
                            name_span,
                            format!("a policy named `{}` is already loaded", p.name),
                        )
                        .with_help(format!(
                            "it is defined in {}; each policy in a set needs its own name",
                            first.path.display()
                        )),
                    );
                } else {
                    policies.push(p);
                }
            }
            Err(e) => diags.extend(e.diagnostics),
        }
    }
    if !diags.is_empty() {
        return Err(LoadError { diagnostics: diags });
    }
    if policies.is_empty() {
        return Err(LoadError::one(Diagnostic::file_error(
            "no-policies",
            dir,
            "the directory holds no policy (no *.toml file with a [policy] table)",
        )));
    }
    Ok(policies)
}

pub(super) fn read_source(path: &Path) -> Result<Arc<Source>, LoadError> {
    match read::read_text(path) {
        Ok(text) => Ok(Source::new(path, text)),
        Err(e) => {
            let what = match e {
                ReadError::NotFound => "the policy path",
                _ => "the policy file",
            };
            Err(LoadError::one(Diagnostic::file_error(
                "file-unreadable",
                path,
                format!("cannot read {what}: {e}"),
            )))
        }
    }
}

/// Parses TOML into the raw model, mapping serde's errors to named diagnostics; every shape
/// error in the file is reported, not only the first.
pub(crate) fn parse(src: &Arc<Source>) -> Result<RawFile, LoadError> {
    let parsed = parse_lenient(src)?;
    if parsed.errors.is_empty() {
        Ok(parsed.raw)
    } else {
        Err(LoadError {
            diagnostics: parsed.errors,
        })
    }
}

/// A file read as far as its shape allows: the raw model without the entries that did not
/// fit it, the errors they gave, and the names of what was dropped (so references to a
/// dropped model or rule are not reported a second time as unknown).
pub(crate) struct Parsed {
    pub(crate) raw: RawFile,
    pub(crate) errors: Vec<Diagnostic>,
    pub(crate) broken: Broken,
}

/// The named entries dropped because their shape was wrong.
#[derive(Debug, Default)]
pub(crate) struct Broken {
    /// `[policy]` itself.
    pub(crate) header: bool,
    pub(crate) models: Vec<String>,
    pub(crate) tiers: Vec<String>,
    pub(crate) rules: Vec<String>,
    pub(crate) guards: Vec<String>,
}

/// Parses TOML, collecting every shape error (unknown key, wrong type, missing key).
///
/// serde stops at the first error, so on one this drops the entry it points at and tries
/// again, until what is left deserializes. A syntax error is the one error reported: the
/// document has no structure to recover.
pub(crate) fn parse_lenient(src: &Arc<Source>) -> Result<Parsed, LoadError> {
    use serde::Deserialize;
    use toml::de::{DeTable, DeValue, ValueDeserializer};

    let first = match toml::from_str::<RawFile>(&src.text) {
        Ok(raw) => {
            return Ok(Parsed {
                raw,
                errors: Vec::new(),
                broken: Broken::default(),
            })
        }
        Err(e) => e,
    };
    let Ok(doc) = DeTable::parse(&src.text) else {
        return Err(LoadError::one(toml_error(src, &first)));
    };
    let doc_span = doc.span();
    let mut root = doc.into_inner();
    let mut errors = Vec::new();
    let mut broken = Broken::default();
    // (span of the table, key) for every key dropped, so that the "missing key" this causes
    // is not reported as a second problem.
    let mut dropped: Vec<(std::ops::Range<usize>, String)> = Vec::new();
    // Each round drops one entry, so this bounds the work on a pathological file.
    for _ in 0..500 {
        let value = toml::Spanned::new(doc_span.clone(), DeValue::Table(root.clone()));
        let e = match RawFile::deserialize(ValueDeserializer::from(value)) {
            Ok(raw) => {
                errors.sort_by_key(|d: &Diagnostic| d.span.as_ref().map_or(0, |s| s.start));
                return Ok(Parsed {
                    raw,
                    errors,
                    broken,
                });
            }
            Err(e) => e,
        };
        let d = toml_error(src, &e);
        let Some(span) = e.span() else {
            errors.push(d);
            break;
        };
        let Some(removed) = shape::drop_entry(&mut root, span.start) else {
            errors.push(d);
            break;
        };
        let caused_by_us = e.message().starts_with("missing field")
            && dropped
                .iter()
                .any(|(s, k)| *s == span && e.message().contains(&format!("`{k}`")));
        if !caused_by_us {
            errors.push(d);
        }
        match removed.path.as_slice() {
            [top] if top == "policy" => broken.header = true,
            [top, key] if top == "models" => broken.models.push(key.clone()),
            [top, key] if top == "tiers" => broken.tiers.push(key.clone()),
            [top, _] if top == "rules" => broken.rules.extend(removed.name.clone()),
            [top, _] if top == "guards" => broken.guards.extend(removed.name.clone()),
            _ => {}
        }
        dropped.push((removed.container, removed.key));
    }
    errors.sort_by_key(|d: &Diagnostic| d.span.as_ref().map_or(0, |s| s.start));
    Err(LoadError {
        diagnostics: errors,
    })
}

/// Finding and dropping the entry of a parsed document that a shape error points at.
mod shape {
    use std::ops::Range;

    use toml::de::{DeArray, DeTable, DeValue};
    use toml::Spanned;

    /// What was dropped.
    pub(super) struct Removed {
        /// Keys (array elements as their index) from the root to the dropped entry.
        pub(super) path: Vec<String>,
        /// The dropped entry's key (or index).
        pub(super) key: String,
        /// The span of the table or array that held it.
        pub(super) container: Range<usize>,
        /// The dropped table's `name`, when it had one.
        pub(super) name: Option<String>,
    }

    fn contains(span: &Range<usize>, at: usize) -> bool {
        span.start <= at && (at < span.end || span.is_empty() && at == span.start)
    }

    /// Drops the deepest entry whose key or value holds the byte offset `at`.
    pub(super) fn drop_entry(root: &mut DeTable<'_>, at: usize) -> Option<Removed> {
        let mut path = Vec::new();
        drop_in_table(root, at, &mut path, 0..0)
    }

    fn drop_in_table(
        table: &mut DeTable<'_>,
        at: usize,
        path: &mut Vec<String>,
        span: Range<usize>,
    ) -> Option<Removed> {
        // Children first: a standard table's span is only its header, so its entries lie
        // outside it and must be searched whatever the span says.
        let keys: Vec<Spanned<toml::de::DeString<'_>>> = table.keys().cloned().collect();
        for k in &keys {
            let value = table.get_mut(k).expect("the key was just listed");
            path.push(k.get_ref().to_string());
            let vspan = value.span();
            let found = match value.get_mut() {
                DeValue::Table(t) => drop_in_table(t, at, path, vspan),
                DeValue::Array(a) => drop_in_array(a, at, path, vspan),
                _ => None,
            };
            if found.is_some() {
                return found;
            }
            path.pop();
        }
        for k in keys {
            let value = table.get(&k).expect("the key was just listed");
            if contains(&k.span(), at) || contains(&value.span(), at) {
                let name = value
                    .get_ref()
                    .as_table()
                    .and_then(|t| t.get("name"))
                    .and_then(|n| n.get_ref().as_str())
                    .map(str::to_string);
                table.remove(&k);
                let key = k.get_ref().to_string();
                let mut full = path.clone();
                full.push(key.clone());
                return Some(Removed {
                    path: full,
                    key,
                    container: span,
                    name,
                });
            }
        }
        None
    }

    fn drop_in_array(
        array: &mut DeArray<'_>,
        at: usize,
        path: &mut Vec<String>,
        span: Range<usize>,
    ) -> Option<Removed> {
        let items: &mut [Spanned<DeValue<'_>>] = array;
        for (i, item) in items.iter_mut().enumerate() {
            path.push(i.to_string());
            let ispan = item.span();
            let found = match item.get_mut() {
                DeValue::Table(t) => drop_in_table(t, at, path, ispan),
                DeValue::Array(a) => drop_in_array(a, at, path, ispan),
                _ => None,
            };
            if found.is_some() {
                return found;
            }
            path.pop();
        }
        let i = array.iter().position(|item| contains(&item.span(), at))?;
        let name = array[i]
            .get_ref()
            .as_table()
            .and_then(|t| t.get("name"))
            .and_then(|n| n.get_ref().as_str())
            .map(str::to_string);
        // DeArray has no `remove`: rebuild it without the element.
        let mut kept = DeArray::new();
        for (j, item) in array.iter().enumerate() {
            if j != i {
                kept.push(item.clone());
            }
        }
        *array = kept;
        let mut full = path.clone();
        full.push(i.to_string());
        Some(Removed {
            path: full,
            key: i.to_string(),
            container: span,
            name,
        })
    }
}

fn toml_error(src: &Arc<Source>, e: &toml::de::Error) -> Diagnostic {
    let msg = e.message().trim().to_string();
    let span = e.span().unwrap_or(0..0);
    let quoted: Vec<&str> = msg.split('`').skip(1).step_by(2).collect();
    if msg.starts_with("unknown field") {
        let (unknown, expected) = quoted.split_first().map_or(("", &[][..]), |(u, r)| (*u, r));
        let mut d = Diagnostic::error("unknown-key", src, span, format!("unknown key `{unknown}`"));
        let hint = crate::suggest::did_you_mean(unknown, expected.iter().copied());
        d.help = Some(match hint {
            Some(h) => format!("did you mean `{h}`?"),
            None => format!("expected one of: {}", expected.join(", ")),
        });
        d
    } else if msg.starts_with("missing field") {
        let field = quoted.first().copied().unwrap_or("?");
        Diagnostic::error(
            "missing-key",
            src,
            span,
            format!("this table needs the key `{field}`"),
        )
    } else if msg.starts_with("invalid type") || msg.starts_with("invalid value") {
        Diagnostic::error("invalid-type", src, span, plain_types(&msg))
    } else {
        Diagnostic::error("toml-syntax", src, span, msg)
    }
}

/// serde names Rust types ("expected f64"); say what a policy author writes instead.
fn plain_types(msg: &str) -> String {
    let mut out = msg.to_string();
    for (rust, plain) in [
        ("expected f64", "expected a number"),
        ("expected f32", "expected a number"),
        ("expected i64", "expected an integer"),
        ("expected u64", "expected an integer >= 0"),
        ("expected a sequence", "expected a list"),
        ("expected a boolean", "expected true or false"),
        ("expected a map", "expected a table"),
        (": floating point `", ": the number `"),
        (": integer `", ": the integer `"),
        (": sequence,", ": a list,"),
        (": map,", ": a table,"),
    ] {
        out = out.replace(rust, plain);
    }
    if let Some(i) = out.find("expected struct ") {
        out.replace_range(i.., "expected a table");
    }
    out
}

/// An included file (or a set's non-policy file) holds only `[models]`.
#[allow(clippy::result_large_err)] // load time only; the error is the product
pub(super) fn catalog_only(src: &Arc<Source>, raw: &RawFile) -> Result<(), Diagnostic> {
    let extra = if let Some(p) = &raw.policy {
        Some(("[policy]", p.span()))
    } else if let Some(t) = &raw.tiers {
        Some(("[tiers]", t.span()))
    } else if let Some(t) = &raw.tags {
        Some(("[tags]", t.span()))
    } else if let Some(r) = raw.rules.first() {
        Some(("[[rules]]", r.span()))
    } else if let Some(g) = raw.guards.first() {
        Some(("[[guards]]", g.span()))
    } else {
        raw.tests.first().map(|t| ("[[tests]]", t.span()))
    };
    match extra {
        None => Ok(()),
        Some((what, span)) => Err(Diagnostic::error(
            "catalog-not-models-only",
            src,
            span,
            format!("a catalog file holds only [models] tables, but this one has {what}"),
        )
        .with_help("move it into the policy that includes this file, or add a [policy] table to make this file a policy")),
    }
}
