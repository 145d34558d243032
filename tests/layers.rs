//! The layers point one way (docs: architecture, "The layers never point up"): the code of
//! `step`, money, diagnostics and the line reader names no other part of the crate but the
//! `suggest` helper; `policy` names only those; `compile` only `policy` and below; `router`
//! only `compile` and below. Checked by reading the sources, so a `use` that reaches up fails
//! here before it becomes a loop. Comments are skipped: a doc link upward is not a dependency.

use std::path::{Path, PathBuf};

/// What the lowest layers may name besides themselves.
const LEAVES: &[&str] = &["step", "money", "diag", "lines", "suggest"];

/// Each layer, its files, and the modules it may name (`crate::NAME`).
fn layers() -> Vec<(&'static str, Vec<PathBuf>, Vec<&'static str>)> {
    let with = |extra: &[&'static str]| {
        let mut v = LEAVES.to_vec();
        v.extend_from_slice(extra);
        v
    };
    vec![
        ("step", rust_files("src/step"), with(&[])),
        ("money", vec!["src/money.rs".into()], with(&[])),
        ("diag", vec!["src/diag.rs".into()], with(&[])),
        ("lines", vec!["src/lines.rs".into()], with(&[])),
        ("suggest", vec!["src/suggest.rs".into()], with(&[])),
        ("policy", rust_files("src/policy"), with(&["policy"])),
        (
            "compile",
            rust_files("src/compile"),
            with(&["policy", "compile"]),
        ),
        (
            "router",
            rust_files("src/router"),
            with(&["policy", "compile", "router"]),
        ),
    ]
}

fn rust_files(dir: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![PathBuf::from(dir)];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap_or_else(|e| panic!("{}: {e}", d.display())) {
            let p = e.unwrap().path();
            if p.is_dir() {
                todo.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }
    assert!(!out.is_empty(), "no sources under {dir}");
    out
}

/// Every `crate::NAME` in a line of code, with `crate::{a, b::c}` groups split.
fn named_modules(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = line;
    while let Some(i) = rest.find("crate::") {
        rest = &rest[i + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let end = group.find('}').unwrap_or(group.len());
            for part in group[..end].split(',') {
                let name: String = part
                    .trim()
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if !name.is_empty() {
                    out.push(name);
                }
            }
        } else {
            out.push(
                rest.chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect(),
            );
        }
    }
    out
}

fn upward_names(file: &Path, allowed: &[&str]) -> Vec<String> {
    let text = std::fs::read_to_string(file).unwrap();
    let mut found = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim_start().starts_with("//") {
            continue;
        }
        for name in named_modules(line) {
            if !allowed.contains(&name.as_str()) {
                found.push(format!(
                    "{}:{}: names `crate::{name}`",
                    file.display(),
                    n + 1
                ));
            }
        }
    }
    found
}

#[test]
fn the_core_layers_name_nothing_above_them() {
    let mut found = Vec::new();
    for (_, files, allowed) in layers() {
        for f in files {
            found.extend(upward_names(&f, &allowed));
        }
    }
    assert!(found.is_empty(), "{}", found.join("\n"));
}

#[test]
fn an_upward_name_is_found() {
    assert_eq!(named_modules("use crate::lint::checks;"), ["lint"]);
    assert_eq!(
        named_modules("use crate::{policy::Policy, router::Via};"),
        ["policy", "router"]
    );
    assert_eq!(named_modules("let r = crate::Router::load(p);"), ["Router"]);
    assert!(named_modules("use super::load;").is_empty());
}
