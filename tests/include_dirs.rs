//! `--allow-include-dir DIR`: a policy whose catalog lies outside its own directory loads only
//! when the user allows that directory, in every command that loads policies (route, route
//! --watch, explain, lint, test, run, replay), whichever side of the command the flag is on.

use std::path::Path;
use std::process::Output;

use assert_cmd::Command;

/// A policy in `policies/` that includes `../catalog/models.toml`.
fn layout(root: &Path) {
    let (policies, catalog) = (root.join("policies"), root.join("catalog"));
    std::fs::create_dir_all(&policies).unwrap();
    std::fs::create_dir_all(&catalog).unwrap();
    std::fs::write(
        catalog.join("models.toml"),
        "[models.m]\nprovider = \"mock\"\ninput_usd_per_mtok = 1.0\noutput_usd_per_mtok = 2.0\n",
    )
    .unwrap();
    std::fs::write(
        policies.join("p.toml"),
        "[policy]\nname = \"p\"\ndefault_tier = \"t\"\ninclude = [\"../catalog/models.toml\"]\n\n\
         [tiers]\nt = \"m\"\n\n\
         [[tests]]\nname = \"anything goes to t\"\nstep = { role = \"format\", input_tokens = 10 }\nexpect_tier = \"t\"\n",
    )
    .unwrap();
    std::fs::write(
        root.join("steps.jsonl"),
        "{\"role\":\"format\",\"input_tokens\":10}\n",
    )
    .unwrap();
    std::fs::write(root.join("empty.jsonl"), "").unwrap();
}

fn run(root: &Path, args: &[&str]) -> Output {
    Command::cargo_bin("switchyard")
        .unwrap()
        .current_dir(root)
        .env_remove("RUST_LOG")
        .args(args)
        .output()
        .unwrap()
}

/// Every command that loads policies, as (arguments before the flag, arguments after it).
const COMMANDS: &[&[&str]] = &[
    &["route", "--policy", "policies/p.toml", "steps.jsonl"],
    &[
        "route",
        "--watch",
        "--policy",
        "policies/p.toml",
        "steps.jsonl",
    ],
    &[
        "explain",
        "--policy",
        "policies/p.toml",
        r#"{"role":"format","input_tokens":10}"#,
    ],
    &["lint", "policies/p.toml"],
    &["test", "policies/p.toml"],
    &["test", "policies"],
    &["run", "--policy", "policies/p.toml", "steps.jsonl"],
    &["replay", "empty.jsonl", "--policy", "policies/p.toml"],
];

#[test]
fn an_include_outside_the_policy_directory_is_refused_without_the_flag() {
    let dir = tempfile::tempdir().unwrap();
    layout(dir.path());
    for args in COMMANDS {
        let out = run(dir.path(), args);
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(out.status.code(), Some(1), "{args:?}: {all}");
        assert!(all.contains("include-outside"), "{args:?}: {all}");
    }
}

#[test]
fn every_command_that_loads_policies_takes_allow_include_dir() {
    let dir = tempfile::tempdir().unwrap();
    layout(dir.path());
    for args in COMMANDS {
        // After the subcommand, and before it (the flag is global).
        let after: Vec<&str> = args
            .iter()
            .copied()
            .chain(["--allow-include-dir", "catalog"])
            .collect();
        let before: Vec<&str> = ["--allow-include-dir", "catalog"]
            .into_iter()
            .chain(args.iter().copied())
            .collect();
        for args in [after, before] {
            let out = run(dir.path(), &args);
            assert_eq!(
                out.status.code(),
                Some(0),
                "{args:?}: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
    let out = run(
        dir.path(),
        &[
            "route",
            "--allow-include-dir",
            "catalog",
            "--policy",
            "policies/p.toml",
            "steps.jsonl",
        ],
    );
    let decision: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(decision["model"], "m");
}

#[test]
fn the_flag_is_repeatable_and_allows_only_what_it_names() {
    let dir = tempfile::tempdir().unwrap();
    layout(dir.path());
    std::fs::create_dir(dir.path().join("other")).unwrap();
    let route = |dirs: &[&str]| {
        let mut args = vec!["route", "--policy", "policies/p.toml", "steps.jsonl"];
        for d in dirs {
            args.extend(["--allow-include-dir", d]);
        }
        run(dir.path(), &args).status.code()
    };
    assert_eq!(route(&["other"]), Some(1));
    assert_eq!(route(&["other", "catalog"]), Some(0));
}
