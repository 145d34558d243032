//! `switchyard lint` as a user runs it: the fixture corpus (one defect per file, plus clean
//! files) snapshot-tested on the JSON output, every output format, exit codes,
//! `--deny-warnings`, `allow`, policy sets, and the rule that load errors are lint errors.

use std::path::{Path, PathBuf};
use std::process::Output;

use assert_cmd::Command;
use serde_json::Value;
use switchyard::lint::{lint_policy_with_budget, CHECKS};
use switchyard::policy::load_policy_file;
use switchyard::{PolicySet, Severity};

/// The corpus, relative to the crate root.
const CORPUS: &str = "tests/fixtures/lint";

fn switchyard() -> Command {
    let mut cmd = Command::cargo_bin("switchyard").expect("the switchyard binary is built");
    cmd.current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("RUST_LOG");
    cmd
}

fn fixture(name: &str) -> String {
    format!("{CORPUS}/{name}.toml")
}

fn lint(args: &[&str]) -> Output {
    switchyard().arg("lint").args(args).output().unwrap()
}

fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).expect("stdout is UTF-8")
}

fn stderr(out: &Output) -> String {
    String::from_utf8(out.stderr.clone()).expect("stderr is UTF-8")
}

/// `lint --format json` on paths: the parsed document and the exit status.
fn lint_json(paths: &[&str]) -> (Value, i32) {
    let mut args = vec!["--format", "json"];
    args.extend_from_slice(paths);
    let out = lint(&args);
    let doc: Value = serde_json::from_str(&stdout(&out))
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}\nstderr: {}", stdout(&out), stderr(&out)));
    (doc, out.status.code().unwrap())
}

fn names(doc: &Value) -> Vec<String> {
    doc["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["name"].as_str().unwrap().to_string())
        .collect()
}

fn corpus() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(CORPUS);
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    files
}

/// The findings a corpus file is there to show (its name says which), or none for a clean one.
fn expected(stem: &str) -> Vec<&str> {
    match stem {
        s if s.starts_with("clean") || s == "allowed" => vec![],
        "several-shape-errors" => vec!["unknown-key", "invalid-type", "missing-key"],
        "type-mismatch-tag" => vec!["type-mismatch"],
        "bidi-name" => vec!["confusable-name"],
        s => vec![s],
    }
}

#[test]
fn the_corpus_matches_its_snapshots_and_each_file_shows_its_defect() {
    let files = corpus();
    assert!(files.len() >= 25, "the corpus has {} files", files.len());
    for file in files {
        let stem = file.file_stem().unwrap().to_str().unwrap().to_string();
        // With the opt-in findings on, so the snapshots show everything lint can find.
        let (doc, code) = lint_json(&["--enable", "partial-overlap", &fixture(&stem)]);
        let found = names(&doc);
        let want = expected(&stem);
        if want.is_empty() {
            assert!(found.is_empty(), "{stem} should be clean: {doc:#}");
            assert_eq!(code, 0, "{stem}");
        }
        for name in &want {
            assert!(
                found.iter().any(|f| f == name),
                "{stem}: no `{name}` in {doc:#}"
            );
        }
        // Every finding points at a line of the file it names, and uses a documented name.
        for d in doc["diagnostics"].as_array().unwrap() {
            assert_eq!(d["file"], fixture(&stem), "{d}");
            assert!(d["line"].as_u64().is_some_and(|l| l >= 1), "{d}");
            let name = d["name"].as_str().unwrap();
            assert!(
                CHECKS.iter().any(|c| c.name == name),
                "undocumented name {name}"
            );
        }
        let errors = doc["errors"].as_u64().unwrap();
        assert_eq!(code, if errors > 0 { 1 } else { 0 }, "{stem}: {doc:#}");
        insta::assert_json_snapshot!(stem, doc);
    }
}

#[test]
fn every_shape_error_in_a_file_is_reported_at_once() {
    let (doc, code) = lint_json(&[&fixture("several-shape-errors")]);
    assert_eq!(code, 1);
    let lines: Vec<u64> = doc["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["line"].as_u64().unwrap())
        .collect();
    assert_eq!(lines, [5, 11, 28], "{doc:#}");
}

#[test]
fn expression_findings_point_inside_the_expression() {
    // `step.input_tokenz` on line 28: the column is that of `input_tokenz` in the file.
    let (doc, _) = lint_json(&[&fixture("unknown-step-field")]);
    let d = &doc["diagnostics"][0];
    let text = std::fs::read_to_string(fixture("unknown-step-field")).unwrap();
    let line = text.lines().nth(27).unwrap();
    let col = d["col"].as_u64().unwrap() as usize;
    assert!(line[col - 1..].starts_with("input_tokenz"), "{line} / {d}");
    assert!(
        d["help"].as_str().unwrap().contains("step.input_tokens"),
        "{d}"
    );
}

#[test]
fn load_errors_are_lint_errors_and_lint_errors_stop_loading() {
    for stem in [
        "unknown-step-field",
        "unknown-function",
        "type-mismatch",
        "unknown-tier",
    ] {
        let err = PolicySet::load(fixture(stem)).expect_err(stem);
        let (doc, code) = lint_json(&[&fixture(stem)]);
        assert_eq!(code, 1);
        let loaded: Vec<&str> = err.diagnostics.iter().map(|d| d.name).collect();
        assert_eq!(loaded, names(&doc), "{stem}");
    }
    // Warnings never block.
    assert!(PolicySet::load(fixture("tier-unused")).is_ok());
}

#[test]
fn warnings_fail_only_with_deny_warnings_and_infos_never() {
    assert_eq!(lint(&[&fixture("tier-unused")]).status.code(), Some(0));
    assert_eq!(
        lint(&["--deny-warnings", &fixture("tier-unused")])
            .status
            .code(),
        Some(1)
    );
    let (doc, _) = lint_json(&[&fixture("tag-unused")]);
    assert_eq!(doc["warnings"], 0, "{doc:#}");
    assert!(doc["infos"].as_u64().unwrap() > 0, "{doc:#}");
    assert_eq!(
        lint(&["--deny-warnings", &fixture("tag-unused")])
            .status
            .code(),
        Some(0)
    );
    assert_eq!(
        lint(&["--deny-warnings", &fixture("clean")]).status.code(),
        Some(0)
    );
}

#[test]
fn unreadable_paths_and_bad_usage_exit_2() {
    let out = lint(&["no/such/policy.toml"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("file-unreadable"), "{}", stderr(&out));
    assert_eq!(lint(&[]).status.code(), Some(2));
    assert_eq!(
        lint(&["--format", "xml", &fixture("clean")]).status.code(),
        Some(2)
    );
}

#[test]
fn human_output_underlines_the_source_line() {
    let out = lint(&[&fixture("tier-unused")]);
    let err = stderr(&out);
    assert!(out.stdout.is_empty());
    assert!(
        err.contains(&format!("{}:20:1", fixture("tier-unused"))),
        "{err}"
    );
    assert!(err.contains("spare = \"small\""), "{err}");
    assert!(err.contains("tier-unused"), "{err}");
    assert!(
        err.trim_end()
            .ends_with("0 errors, 1 warning, 0 infos (1 policy linted)"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
}

/// Splits `::level k=v,k=v::message` into its parts.
fn workflow_command(line: &str) -> (String, Vec<(String, String)>, String) {
    let rest = line.strip_prefix("::").expect("starts with ::");
    let (head, message) = rest.split_once("::").expect("has a message");
    let (level, props) = head.split_once(' ').expect("has properties");
    let props = props
        .split(',')
        .map(|kv| {
            let (k, v) = kv.split_once('=').expect("key=value");
            (k.to_string(), v.to_string())
        })
        .collect();
    (level.to_string(), props, message.to_string())
}

#[test]
fn github_format_is_one_workflow_command_per_finding() {
    let out = lint(&[
        "--format",
        "github",
        &fixture("unknown-tier"),
        &fixture("tier-unused"),
        &fixture("tag-unused"),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines.len() >= 3, "{text}");
    let mut levels = Vec::new();
    for line in &lines {
        let (level, props, message) = workflow_command(line);
        let keys: Vec<&str> = props.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            keys,
            ["file", "line", "col", "endLine", "endColumn", "title"],
            "{line}"
        );
        for (k, v) in &props[1..5] {
            assert!(v.parse::<u32>().is_ok(), "{k}={v} in {line}");
        }
        assert!(!message.contains('\n') && !message.is_empty(), "{line}");
        levels.push(level);
    }
    assert!(levels.contains(&"error".to_string()), "{text}");
    assert!(levels.contains(&"warning".to_string()), "{text}");
    assert!(levels.contains(&"notice".to_string()), "{text}");
    let (_, props, message) = workflow_command(lines[0]);
    assert_eq!(props[0].1, fixture("unknown-tier"));
    assert_eq!((props[1].1.as_str(), props[2].1.as_str()), ("29", "8"));
    assert_eq!(props[5].1, "unknown-tier");
    // A line break in the message (before the help) is escaped, as GitHub requires.
    assert!(message.contains("%0Ahelp: "), "{message}");
}

#[test]
fn sarif_is_2_1_0_with_rules_and_located_results() {
    let out = lint(&[
        "--format",
        "sarif",
        &fixture("unknown-step-field"),
        &fixture("unreachable-rule"),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let doc: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(doc["version"], "2.1.0");
    assert!(doc["$schema"].as_str().unwrap().contains("sarif"));
    let run = &doc["runs"][0];
    assert_eq!(run["tool"]["driver"]["name"], "switchyard");
    let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
    let ids: Vec<&str> = rules.iter().map(|r| r["id"].as_str().unwrap()).collect();
    for r in rules {
        assert!(r["shortDescription"]["text"].is_string(), "{r}");
        let level = r["defaultConfiguration"]["level"].as_str().unwrap();
        assert!(["error", "warning", "note"].contains(&level), "{r}");
    }
    let results = run["results"].as_array().unwrap();
    assert!(results.len() >= 2, "{doc:#}");
    for res in results {
        let id = res["ruleId"].as_str().unwrap();
        let index = res["ruleIndex"].as_u64().unwrap() as usize;
        assert_eq!(ids[index], id);
        assert!(res["message"]["text"].is_string());
        let loc = &res["locations"][0]["physicalLocation"];
        assert!(loc["artifactLocation"]["uri"]
            .as_str()
            .unwrap()
            .starts_with(CORPUS));
        assert!(loc["region"]["startLine"].as_u64().unwrap() >= 1);
        assert!(loc["region"]["startColumn"].as_u64().unwrap() >= 1);
    }
    let unreachable = results
        .iter()
        .find(|r| r["ruleId"] == "unreachable-rule")
        .expect("the unreachable rule is reported");
    assert_eq!(unreachable["level"], "warning");
}

#[test]
fn allow_silences_a_finding_on_its_rule_or_in_the_policy() {
    let (doc, code) = lint_json(&[&fixture("allowed")]);
    assert_eq!((names(&doc).len(), code), (0, 0), "{doc:#}");
    // The same file without the `allow` lists shows what they silence.
    let text = std::fs::read_to_string(fixture("allowed")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let bare = dir.path().join("allowed.toml");
    let stripped: String = text
        .lines()
        .filter(|l| !l.starts_with("allow"))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(&bare, stripped).unwrap();
    let (doc, _) = lint_json(&["--enable", "partial-overlap", bare.to_str().unwrap()]);
    let found = names(&doc);
    for name in ["tier-unused", "rule-without-effect", "partial-overlap"] {
        assert!(found.iter().any(|f| f == name), "{name}: {doc:#}");
    }
    // A rule's `allow` covers that rule only; the policy's covers every rule.
    let rule_only = text.replace("allow = [\"tier-unused\"]\n", "");
    std::fs::write(&bare, rule_only).unwrap();
    let (doc, _) = lint_json(&[bare.to_str().unwrap()]);
    assert_eq!(names(&doc), ["tier-unused"], "{doc:#}");
}

#[test]
fn a_directory_is_linted_as_a_set_and_every_policy_in_it_is_checked() {
    let dir = tempfile::tempdir().unwrap();
    for stem in ["clean", "tier-unused", "model-unused"] {
        std::fs::copy(fixture(stem), dir.path().join(format!("{stem}.toml"))).unwrap();
    }
    let (doc, code) = lint_json(&[dir.path().to_str().unwrap()]);
    assert_eq!(code, 0);
    assert_eq!(doc["policies"], 3);
    assert_eq!(names(&doc), ["model-unused", "tier-unused"], "{doc:#}");
    // One policy that does not load fails the set, but the others still get their warnings.
    std::fs::copy(
        fixture("unknown-tier"),
        dir.path().join("unknown-tier.toml"),
    )
    .unwrap();
    let (doc, code) = lint_json(&[dir.path().to_str().unwrap()]);
    assert_eq!(code, 1);
    let found = names(&doc);
    for name in ["unknown-tier", "model-unused", "tier-unused"] {
        assert!(found.iter().any(|f| f == name), "{name}: {doc:#}");
    }
}

#[test]
fn a_partial_analysis_says_so() {
    let p = load_policy_file(Path::new(&fixture("partial-overlap"))).unwrap();
    let diags = lint_policy_with_budget(p, 1);
    let partial = diags
        .iter()
        .find(|d| d.name == "analysis-partial")
        .unwrap_or_else(|| panic!("no analysis-partial in {diags:?}"));
    assert_eq!(partial.severity, Severity::Info);
}

#[test]
fn help_has_an_example() {
    let out = lint(&["--help"]);
    assert_eq!(out.status.code(), Some(0));
    let text = stdout(&out);
    assert!(text.contains("Example:"), "{text}");
    assert!(text.contains("switchyard lint policies/"), "{text}");
    assert!(
        text.contains("--deny-warnings") && text.contains("sarif"),
        "{text}"
    );
}

#[test]
fn the_docs_list_every_finding_with_its_severity() {
    let docs =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/policy.md"))
            .unwrap();
    let linting = &docs[docs.find("## Linting").expect("a Linting section")..];
    for c in CHECKS {
        let row = format!("| `{}` | {} |", c.name, c.severity.as_str());
        assert!(linting.contains(&row), "docs/policy.md lacks the row {row}");
    }
}

#[test]
fn partial_overlap_is_reported_only_when_enabled() {
    let (doc, code) = lint_json(&[&fixture("partial-overlap")]);
    assert_eq!((names(&doc).len(), code), (0, 0), "{doc:#}");
    let (doc, _) = lint_json(&["--enable", "partial-overlap", &fixture("partial-overlap")]);
    assert_eq!(names(&doc), ["partial-overlap"], "{doc:#}");
    // Only opt-in findings can be enabled.
    let out = lint(&["--enable", "tier-unused", &fixture("clean")]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("partial-overlap"), "{}", stderr(&out));
}

#[test]
fn the_bundled_policies_lint_clean_of_overlap_notes() {
    let (doc, code) = lint_json(&["policies/"]);
    assert_eq!(code, 0);
    assert!(
        !names(&doc).iter().any(|n| n == "partial-overlap"),
        "{doc:#}"
    );
}

#[test]
fn min_severity_hides_the_findings_below_it() {
    let (doc, _) = lint_json(&["--min-severity", "warning", &fixture("tag-unused")]);
    assert_eq!(
        (doc["infos"].as_u64(), names(&doc).len()),
        (Some(0), 0),
        "{doc:#}"
    );
    let (doc, code) = lint_json(&["--min-severity", "error", &fixture("tier-unused")]);
    assert_eq!((names(&doc).len(), code), (0, 0), "{doc:#}");
    let (doc, _) = lint_json(&["--min-severity", "info", &fixture("tag-unused")]);
    assert!(names(&doc).iter().any(|n| n == "tag-unused"), "{doc:#}");
    let (doc, code) = lint_json(&["--min-severity", "error", &fixture("unknown-tier")]);
    assert_eq!((names(&doc), code), (vec!["unknown-tier".to_string()], 1));
    // Hiding warnings while failing on them would fail with nothing shown.
    let out = lint(&[
        "--min-severity",
        "error",
        "--deny-warnings",
        &fixture("tier-unused"),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--min-severity"), "{}", stderr(&out));
}

#[test]
fn a_refused_function_is_a_load_error_that_allow_cannot_silence() {
    let row = CHECKS
        .iter()
        .find(|c| c.name == "unknown-function")
        .unwrap();
    assert!(!row.allowable, "loading refuses it whatever `allow` says");
    assert_eq!(row.severity, Severity::Error);
    let dir = tempfile::tempdir().unwrap();
    let policy = |expr: &str| {
        format!(
            "[policy]\nname = \"p\"\ndefault_tier = \"t\"\nallow = [\"unknown-function\"]\n\n\
             [models.m]\nprovider = \"mock\"\ninput_usd_per_mtok = 1.0\noutput_usd_per_mtok = 1.0\n\n\
             [tiers]\nt = \"m\"\n\n[[rules]]\nname = \"r\"\nwhen = {{ expr = \"{expr}\" }}\ntier = \"t\"\n"
        )
    };
    let refused = dir.path().join("refused.toml");
    std::fs::write(&refused, policy("sleep(1.0) == ()")).unwrap();
    assert!(
        PolicySet::load(&refused).is_err(),
        "the policy must not load"
    );
    let (doc, code) = lint_json(&[refused.to_str().unwrap()]);
    assert_eq!(
        (names(&doc), code),
        (vec!["unknown-function".to_string()], 1)
    );
    // On a policy that loads, the `allow` entry is pointed out: it names a load error.
    let fine = dir.path().join("fine.toml");
    std::fs::write(&fine, policy("step.input_tokens > 5")).unwrap();
    let (doc, _) = lint_json(&[fine.to_str().unwrap()]);
    let unknown_lint = doc["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["name"] == "unknown-lint")
        .unwrap_or_else(|| panic!("no unknown-lint: {doc:#}"));
    let message = unknown_lint["message"].as_str().unwrap();
    assert!(message.contains("is a load error"), "{message}");
}
