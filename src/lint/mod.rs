//! `switchyard lint`: every problem in a policy as a [`Diagnostic`] with a stable name.
//!
//! Loading is the first check (one source of truth: whatever stops a policy loading is a lint
//! error, and lint errors in expressions stop it loading). A policy that loads is then checked
//! for what loads but is likely wrong: one check per file here, plus the exact analysis of the
//! decision table in [`analysis`]. `allow = ["name", …]` on a rule or in `[policy]` silences a
//! finding there. [`render`] writes the findings for a person, as JSON, as GitHub workflow
//! commands, or as SARIF. [`policy_tests`] runs a policy's `[[tests]]` (what `switchyard
//! test` prints), so a program can run them from its own `cargo test`.

pub mod analysis;
mod context;
mod expr;
mod fallbacks;
mod guards;
mod names;
pub mod policy_tests;
pub mod render;
mod tags;
mod unused;

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::compile::CompiledPolicy;
use crate::diag::{find_in, table_extent, Diagnostic, Severity, Source};
use crate::policy::{self, Policy};
use crate::suggest::did_you_mean;

/// Work the table analysis may do per policy before it stops and says it was partial.
pub const DEFAULT_CELL_BUDGET: u64 = analysis::DEFAULT_BUDGET;

/// Declares [`CheckName`]: one variant per finding and its stable kebab-case name.
macro_rules! check_names {
    ($($variant:ident => $name:literal,)*) => {
        /// The stable name of a kind of finding: what `allow`, `--enable` and every output
        /// format use. [`CheckName::as_str`] gives the kebab-case word.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[non_exhaustive]
        pub enum CheckName {
            $(
                #[doc = concat!("`", $name, "`")]
                $variant,
            )*
        }

        impl CheckName {
            /// Every name, in the order the docs list them.
            pub const ALL: &'static [CheckName] = &[$(CheckName::$variant,)*];

            /// The kebab-case name, as users write it.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(CheckName::$variant => $name,)*
                }
            }

            /// The check with this kebab-case name.
            pub fn from_name(name: &str) -> Option<CheckName> {
                match name {
                    $($name => Some(CheckName::$variant),)*
                    _ => None,
                }
            }
        }
    };
}

check_names! {
    TomlSyntax => "toml-syntax",
    UnknownKey => "unknown-key",
    MissingKey => "missing-key",
    InvalidType => "invalid-type",
    InvalidValue => "invalid-value",
    InvalidName => "invalid-name",
    InvalidPrice => "invalid-price",
    InvalidCondition => "invalid-condition",
    EmptyRange => "empty-range",
    UnknownTier => "unknown-tier",
    UnknownModel => "unknown-model",
    UnknownRule => "unknown-rule",
    UnknownGuard => "unknown-guard",
    DuplicateRule => "duplicate-rule",
    DuplicateGuard => "duplicate-guard",
    DuplicateModel => "duplicate-model",
    DuplicateTest => "duplicate-test",
    DuplicatePolicy => "duplicate-policy",
    NoTiers => "no-tiers",
    MissingPolicyTable => "missing-policy-table",
    IncludeNotFound => "include-not-found",
    IncludeOutside => "include-outside",
    CatalogNotModelsOnly => "catalog-not-models-only",
    InvalidTestStep => "invalid-test-step",
    ExprSyntax => "expr-syntax",
    FileUnreadable => "file-unreadable",
    NoPolicies => "no-policies",
    UnknownStepField => "unknown-step-field",
    UnknownFunction => "unknown-function",
    TypeMismatch => "type-mismatch",
    EscalateLacksCapability => "escalate-lacks-capability",
    FallbackWeakerThanGuard => "fallback-weaker-than-guard",
    RuleExceedsContextWindow => "rule-exceeds-context-window",
    UndeclaredTag => "undeclared-tag",
    TagValueMismatch => "tag-value-mismatch",
    TierUnused => "tier-unused",
    ModelUnused => "model-unused",
    TagUnused => "tag-unused",
    ConfusableName => "confusable-name",
    UnknownLint => "unknown-lint",
    UnreachableRule => "unreachable-rule",
    RuleWithoutEffect => "rule-without-effect",
    GuardRejects => "guard-rejects",
    UntrustedInputUnguarded => "untrusted-input-unguarded",
    ExpressionFailsOpen => "expression-fails-open",
    PartialOverlap => "partial-overlap",
    AnalysisPartial => "analysis-partial",
}

impl std::fmt::Display for CheckName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for CheckName {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        CheckName::from_name(s).ok_or_else(|| format!("`{s}` is not the name of a lint finding"))
    }
}

impl From<CheckName> for &'static str {
    fn from(name: CheckName) -> &'static str {
        name.as_str()
    }
}

impl PartialEq<str> for CheckName {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for CheckName {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// One kind of finding: its stable name, severity and what it means.
#[derive(Debug, Clone, Copy)]
pub struct Check {
    /// Which finding this is.
    pub id: CheckName,
    /// The stable kebab-case name (`id.as_str()`, kept as a string for output formats).
    pub name: &'static str,
    /// How bad it is.
    pub severity: Severity,
    /// One line: what it means.
    pub summary: &'static str,
    /// Whether `allow` can silence it (load errors cannot: the policy would not load).
    pub allowable: bool,
    /// Whether it is reported only when asked for (`lint --enable NAME`,
    /// [`Options::enable`]): a note for review rather than a likely mistake.
    pub opt_in: bool,
}

const fn check(id: CheckName, severity: Severity, summary: &'static str) -> Check {
    Check {
        id,
        name: id.as_str(),
        severity,
        summary,
        allowable: true,
        opt_in: false,
    }
}

const fn opt_in(id: CheckName, severity: Severity, summary: &'static str) -> Check {
    Check {
        opt_in: true,
        ..check(id, severity, summary)
    }
}

const fn load(id: CheckName, summary: &'static str) -> Check {
    Check {
        allowable: false,
        ..check(id, Severity::Error, summary)
    }
}

/// Every finding lint can report, in the order the docs list them (the order of
/// [`CheckName::ALL`]).
pub const CHECKS: &[Check] = &[
    load(CheckName::TomlSyntax, "the file is not valid TOML"),
    load(CheckName::UnknownKey, "a key the format does not have (with a did-you-mean hint)"),
    load(CheckName::MissingKey, "a required key is missing"),
    load(CheckName::InvalidType, "a value of the wrong type"),
    load(CheckName::InvalidValue, "a value outside what the key accepts (provider, tokenizer, tag type, …)"),
    load(CheckName::InvalidName, "a policy, rule or guard name that is empty or has characters outside a-z, 0-9, - and _"),
    load(CheckName::InvalidPrice, "a price that is negative or not finite"),
    load(CheckName::InvalidCondition, "a `when` value that is not a condition"),
    load(CheckName::EmptyRange, "a range that matches no value"),
    load(CheckName::UnknownTier, "a reference to a tier that is not defined"),
    load(CheckName::UnknownModel, "a reference to a model that is not defined"),
    load(CheckName::UnknownRule, "a test expects a rule that is not defined"),
    load(CheckName::UnknownGuard, "a test expects a guard that is not defined"),
    load(CheckName::DuplicateRule, "two rules with the same name"),
    load(CheckName::DuplicateGuard, "two guards with the same name"),
    load(CheckName::DuplicateModel, "a model defined twice (in the policy and an include, or two includes)"),
    load(CheckName::DuplicateTest, "two tests with the same name"),
    load(CheckName::DuplicatePolicy, "two policies in a set with the same name"),
    load(CheckName::NoTiers, "the policy defines no tiers"),
    load(CheckName::MissingPolicyTable, "a policy file without a [policy] table"),
    load(CheckName::IncludeNotFound, "an included file cannot be read"),
    load(CheckName::IncludeOutside, "an included file lies outside the policy's directory (and any allowed one)"),
    load(CheckName::CatalogNotModelsOnly, "an included catalog holds more than [models]"),
    load(CheckName::InvalidTestStep, "a test's step is not a valid step"),
    load(CheckName::ExprSyntax, "an expression does not compile"),
    load(CheckName::FileUnreadable, "a file or directory cannot be read"),
    load(CheckName::NoPolicies, "a directory holds no policy"),
    check(CheckName::UnknownStepField, Severity::Error, "an expression reads a step field that does not exist (it always fails)"),
    load(CheckName::UnknownFunction, "an expression calls a function the sandbox does not provide (refused at load, whatever `allow` says)"),
    check(CheckName::TypeMismatch, Severity::Error, "an expression compares a field or declared tag with a literal of another type"),
    check(CheckName::EscalateLacksCapability, Severity::Error, "a guard escalates to a tier whose model lacks what the guard requires"),
    check(CheckName::FallbackWeakerThanGuard, Severity::Warning, "a tier's fallback model lacks a capability that a guard requires of the tier"),
    check(CheckName::RuleExceedsContextWindow, Severity::Warning, "a rule admits only steps larger than its tier's model's context window, so none of them stays on that tier"),
    check(CheckName::UndeclaredTag, Severity::Warning, "a condition or expression uses a tag not declared in [tags] (when the policy declares tags)"),
    check(CheckName::TagValueMismatch, Severity::Warning, "a tag condition contradicts the declared type or values, so it never holds"),
    check(CheckName::TierUnused, Severity::Warning, "no rule, default, escalation or on_expression_error chooses the tier"),
    check(CheckName::ModelUnused, Severity::Warning, "no tier routes to a model defined in the policy file"),
    check(CheckName::TagUnused, Severity::Info, "no condition or expression reads a declared tag"),
    check(CheckName::ConfusableName, Severity::Warning, "a name holds bidirectional-control or invisible characters, or mixes look-alike scripts"),
    check(CheckName::UnknownLint, Severity::Warning, "`allow` names something that is not a finding lint can silence"),
    check(CheckName::UnreachableRule, Severity::Warning, "earlier rules take every step the rule matches (names them, with an example step)"),
    check(CheckName::RuleWithoutEffect, Severity::Warning, "removing the rule changes no decision (with an example step)"),
    check(CheckName::GuardRejects, Severity::Warning, "steps exist that a guard rejects even after escalation (info when the guard has no escalate_to: rejecting is its job), with an example step"),
    check(CheckName::UntrustedInputUnguarded, Severity::Warning, "untrusted input can reach a model that is not injection_tested and no guard stops it"),
    check(CheckName::ExpressionFailsOpen, Severity::Info, "with on_expression_error = \"skip\", a failing expression lets a step skip a rule that routes to a costlier or more capable tier"),
    opt_in(CheckName::PartialOverlap, Severity::Info, "a rule partly overlaps an earlier rule that routes to another tier (for review)"),
    check(CheckName::AnalysisPartial, Severity::Info, "the table has more cells than the budget; the analysis looked at part of them"),
];

/// The check with this name.
pub fn check_named(name: &str) -> Option<&'static Check> {
    CheckName::from_name(name).map(CheckName::check)
}

impl CheckName {
    /// This finding's row of [`CHECKS`].
    pub fn check(self) -> &'static Check {
        // CHECKS lists the names in declaration order (a test holds it to that).
        &CHECKS[self as usize]
    }
}

/// What to lint beyond the defaults.
#[derive(Debug, Clone)]
pub struct Options {
    /// Work the table analysis may do per policy (see [`DEFAULT_CELL_BUDGET`]).
    pub budget_cells: u64,
    /// Opt-in findings to report (see [`Check::opt_in`]), e.g. [`CheckName::PartialOverlap`].
    pub enable: Vec<CheckName>,
    /// How the policies are loaded (e.g. directories includes may come from).
    pub load: policy::LoadOptions,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            budget_cells: DEFAULT_CELL_BUDGET,
            enable: Vec::new(),
            load: policy::LoadOptions::default(),
        }
    }
}

impl Options {
    /// Whether a finding with this name is reported.
    fn reports(&self, name: &str) -> bool {
        check_named(name).is_none_or(|c| !c.opt_in || self.enable.contains(&c.id))
    }
}

/// A diagnostic and the rule it is about (so the rule's `allow` can silence it).
#[derive(Debug, Clone)]
pub(crate) struct Finding {
    pub(crate) diagnostic: Diagnostic,
    pub(crate) rule: Option<usize>,
}

impl Finding {
    /// A finding about the policy as a whole (only `[policy].allow` silences it).
    fn policy(diagnostic: Diagnostic) -> Finding {
        Finding {
            diagnostic,
            rule: None,
        }
    }
}

/// A diagnostic of any severity at a span.
fn finding(
    name: impl Into<&'static str>,
    severity: Severity,
    src: &Arc<Source>,
    span: Range<usize>,
    message: String,
) -> Diagnostic {
    let mut d = Diagnostic::error(name.into(), src, span, message);
    d.severity = severity;
    d
}

/// The byte range of rule `i`'s entry. serde's span of a `[[rules]]` table is its header
/// only, so the entry runs on to the next table.
fn rule_extent(p: &Policy, i: usize) -> Range<usize> {
    let r = &p.rules[i];
    let text = &p.sources[0].text;
    if text[r.extent.clone()].starts_with("[[") {
        table_extent(text, r.extent.start)
    } else {
        r.extent.clone()
    }
}

/// What linting found in some paths.
#[derive(Debug, Default)]
pub struct Report {
    /// Every finding, by file then position.
    pub diagnostics: Vec<Diagnostic>,
    /// Policies linted (those that loaded).
    pub policies: usize,
}

impl Report {
    /// How many findings have this severity.
    pub fn count(&self, severity: Severity) -> usize {
        self.diagnostics
            .iter()
            .filter(|d| d.severity == severity)
            .count()
    }

    /// Whether the run fails: any error, or any warning when warnings are denied.
    pub fn fails(&self, deny_warnings: bool) -> bool {
        self.count(Severity::Error) > 0 || deny_warnings && self.count(Severity::Warning) > 0
    }

    /// Whether a file or directory could not be read.
    pub fn unreadable(&self) -> bool {
        self.diagnostics
            .iter()
            .any(|d| CheckName::FileUnreadable == d.name)
    }
}

/// Lints files and directories (a directory is a policy set).
///
/// ```
/// use switchyard::lint::lint_paths;
///
/// // What `switchyard lint --deny-warnings policies/` checks, from a program's own tests.
/// let report = lint_paths(&["policies".into()]);
/// assert_eq!(report.policies, 2);
/// assert!(!report.fails(true), "{:#?}", report.diagnostics);
/// ```
pub fn lint_paths(paths: &[PathBuf]) -> Report {
    lint_paths_with(paths, &Options::default())
}

/// [`lint_paths`] with chosen [`Options`].
pub fn lint_paths_with(paths: &[PathBuf], options: &Options) -> Report {
    let mut report = Report::default();
    for path in paths {
        lint_path(path, options, &mut report);
    }
    report
}

fn lint_path(path: &Path, options: &Options, report: &mut Report) {
    match crate::compile::load_with(path, &options.load) {
        Ok(policies) => {
            for p in policies {
                report.policies += 1;
                report.diagnostics.extend(lint_policy_with(p, options));
            }
        }
        Err(e) => {
            report.diagnostics.extend(e.diagnostics);
            // In a set, one bad file keeps the set from loading, but every other policy
            // is still worth its warnings.
            if path.is_dir() {
                for file in policy_files(path) {
                    for p in crate::compile::load_with(&file, &options.load)
                        .into_iter()
                        .flatten()
                    {
                        report.policies += 1;
                        report.diagnostics.extend(lint_policy_with(p, options));
                    }
                }
            }
        }
    }
}

fn policy_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml") && p.is_file())
        .collect();
    files.sort();
    files
}

/// Lints a policy that loaded: the checks here, then the table analysis with the default
/// cell budget. Findings silenced by `allow` are left out.
pub fn lint_policy(policy: Policy) -> Vec<Diagnostic> {
    lint_policy_with_budget(policy, DEFAULT_CELL_BUDGET)
}

/// [`lint_policy`] with a chosen cell budget for the analysis.
pub fn lint_policy_with_budget(policy: Policy, budget_cells: u64) -> Vec<Diagnostic> {
    let options = Options {
        budget_cells,
        ..Options::default()
    };
    lint_policy_with(policy, &options)
}

/// [`lint_policy`] with chosen [`Options`]: the cell budget, and the opt-in findings to report.
pub fn lint_policy_with(policy: Policy, options: &Options) -> Vec<Diagnostic> {
    let budget_cells = options.budget_cells;
    let mut findings = checks(&policy);
    findings.extend(allow_lists(&policy));
    let mut out: Vec<Diagnostic> = Vec::new();
    match CompiledPolicy::compile(policy.clone()) {
        Ok(cp) => {
            let a = analysis::analyze(&cp, budget_cells);
            for d in a.diagnostics {
                let rule = rule_at(&policy, &d);
                findings.push(Finding {
                    diagnostic: d,
                    rule,
                });
            }
            if a.partial {
                let src = &policy.sources[0];
                findings.push(Finding::policy(
                    finding(
                        CheckName::AnalysisPartial,
                        Severity::Info,
                        src,
                        0..0,
                        format!(
                            "the decision table has more cells than the budget of {budget_cells}; the analysis looked at {} of them, so some findings may be missing",
                            a.cells
                        ),
                    )
                    .with_help("split the policy, or use fewer distinct breakpoints in conditions"),
                ));
            }
        }
        // Loading compiles too, so this only happens for a policy built by hand.
        Err(diags) => out.extend(diags),
    }
    out.extend(
        findings
            .into_iter()
            .filter(|f| options.reports(f.diagnostic.name) && !silenced(&policy, f))
            .map(|f| f.diagnostic),
    );
    out.sort_by(|a, b| {
        (a.file(), a.span.as_ref().map(|s| s.start))
            .cmp(&(b.file(), b.span.as_ref().map(|s| s.start)))
    });
    out
}

/// Every check that needs no table: expressions, tags, unused things, guards, names.
fn checks(p: &Policy) -> Vec<Finding> {
    let (mut out, read) = expr_findings(p);
    out.extend(tags::conditions(p));
    out.extend(unused::tiers_and_models(p));
    out.extend(unused::tags(p, &read));
    out.extend(guards::escalations(p));
    out.extend(fallbacks::weaker_than_guards(p));
    out.extend(context::rules_over_window(p));
    out.extend(names::confusables(p));
    out
}

/// The expression checks of every rule and guard, and the tags the expressions read.
fn expr_findings(p: &Policy) -> (Vec<Finding>, Vec<String>) {
    let mut out = Vec::new();
    let mut read = Vec::new();
    let rules = p.rules.iter().enumerate().map(|(i, r)| (&r.when, Some(i)));
    let guards = p.guards.iter().map(|g| (&g.when, None));
    for (when, rule) in rules.chain(guards) {
        if let Some(e) = &when.expr {
            let f = expr::check(e, &p.tags);
            read.extend(f.tags);
            out.extend(
                f.diagnostics
                    .into_iter()
                    .map(|diagnostic| Finding { diagnostic, rule }),
            );
        }
    }
    (out, read)
}

/// The rule whose `[[rules]]` entry holds a diagnostic's span.
fn rule_at(p: &Policy, d: &Diagnostic) -> Option<usize> {
    let (src, span) = (d.source.as_ref()?, d.span.as_ref()?);
    if !Arc::ptr_eq(src, &p.sources[0]) {
        return None;
    }
    (0..p.rules.len()).find(|&i| rule_extent(p, i).contains(&span.start))
}

fn silenced(p: &Policy, f: &Finding) -> bool {
    let Some(check) = check_named(f.diagnostic.name).filter(|c| c.allowable) else {
        return false;
    };
    let names = |list: &[String]| list.iter().any(|a| check.id == a.as_str());
    names(&p.allow) || f.rule.is_some_and(|i| names(&p.rules[i].allow))
}

/// `unknown-lint`: an `allow` entry that names no finding `allow` can silence.
fn allow_lists(p: &Policy) -> Vec<Finding> {
    let src = &p.sources[0];
    let allowable = || CHECKS.iter().filter(|c| c.allowable).map(|c| c.name);
    let mut out = Vec::new();
    let header = find_in(&src.text, 0..src.text.len(), "[policy]").map_or(0, |s| s.start);
    let lists = std::iter::once((&p.allow, table_extent(&src.text, header), None)).chain(
        p.rules
            .iter()
            .enumerate()
            .map(|(i, r)| (&r.allow, rule_extent(p, i), Some(i))),
    );
    for (list, extent, rule) in lists {
        for name in list {
            if allowable().any(|c| c == name) {
                continue;
            }
            let span = find_in(&src.text, extent.clone(), &format!("\"{name}\""))
                .unwrap_or(extent.start..extent.start);
            let why = if check_named(name).is_some() {
                "is a load error, which `allow` cannot silence"
            } else {
                "is not the name of a lint finding"
            };
            let hint = did_you_mean(name, allowable());
            out.push(Finding {
                diagnostic: finding(
                    CheckName::UnknownLint,
                    Severity::Warning,
                    src,
                    span,
                    format!("`{name}` {why}"),
                )
                .with_help(match hint {
                    Some(h) => format!("did you mean `{h}`?"),
                    None => "the names are listed in docs/policy.md, under Linting".into(),
                }),
                rule,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_check_name_has_its_row_in_order() {
        assert_eq!(CHECKS.len(), CheckName::ALL.len());
        for (c, &id) in CHECKS.iter().zip(CheckName::ALL) {
            assert_eq!(c.id, id);
            assert_eq!(c.name, id.as_str());
            assert_eq!(id.check().name, c.name);
            assert_eq!(CheckName::from_name(c.name), Some(id));
            assert_eq!(c.name.parse::<CheckName>(), Ok(id));
        }
        assert_eq!(CheckName::from_name("no-such-check"), None);
    }

    #[test]
    fn only_opt_in_findings_need_enabling() {
        let defaults = Options::default();
        assert!(!defaults.reports("partial-overlap"));
        assert!(defaults.reports("unreachable-rule"));
        let on = Options {
            enable: vec![CheckName::PartialOverlap],
            ..Options::default()
        };
        assert!(on.reports("partial-overlap"));
    }
}
