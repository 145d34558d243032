//! The model keys for calling providers (`max_retries`, `timeout_seconds`, cached-token
//! prices) and tiers as ordered model lists: what loads, and where a wrong value is reported.

use std::path::Path;

use switchyard::policy::load_policy_text;

const HEAD: &str = r#"[policy]
name = "p"
default_tier = "cheap"

[models.a]
provider = "mock"
input_usd_per_mtok = 1.0
output_usd_per_mtok = 2.0
"#;

fn load(rest: &str) -> Result<switchyard::Policy, String> {
    load_policy_text(Path::new("p.toml"), format!("{HEAD}{rest}")).map_err(|e| {
        e.diagnostics
            .iter()
            .map(|d| d.one_line())
            .collect::<Vec<_>>()
            .join("\n")
    })
}

#[test]
fn the_new_model_keys_load() {
    let p = load(
        r#"max_retries = 5
timeout_seconds = 2.5
cached_input_usd_per_mtok = 0.1
cache_write_usd_per_mtok = 1.25

[tiers]
cheap = "a"
"#,
    )
    .unwrap();
    let m = &p.models()[0];
    assert_eq!(m.max_retries, Some(5));
    assert_eq!(m.timeout_seconds, Some(2.5));
    assert_eq!(m.cached_input_usd_per_mtok, Some(0.1));
    assert_eq!(m.cache_write_usd_per_mtok, Some(1.25));
}

#[test]
fn the_new_model_keys_default_to_none() {
    let p = load("\n[tiers]\ncheap = \"a\"\n").unwrap();
    let m = &p.models()[0];
    assert_eq!(m.max_retries, None);
    assert_eq!(m.timeout_seconds, None);
    assert_eq!(m.cached_input_usd_per_mtok, None);
    assert!(p.tiers()[0].fallbacks().is_empty());
}

#[test]
fn wrong_values_are_reported_at_their_line_and_column() {
    let e = load("max_retries = -1\n\n[tiers]\ncheap = \"a\"\n").unwrap_err();
    assert!(e.contains("p.toml:9:15"), "{e}");
    assert!(e.contains("max_retries"), "{e}");
    let e = load("timeout_seconds = 0\n\n[tiers]\ncheap = \"a\"\n").unwrap_err();
    assert!(e.contains("p.toml:9:19"), "{e}");
    assert!(e.contains("timeout_seconds"), "{e}");
    let e = load("cached_input_usd_per_mtok = -0.5\n\n[tiers]\ncheap = \"a\"\n").unwrap_err();
    assert!(e.contains("p.toml:9:29"), "{e}");
    assert!(e.contains("finite number >= 0"), "{e}");
}

#[test]
fn a_tier_may_be_an_ordered_list_of_models() {
    let p = load(
        r#"
[models.b]
provider = "mock"
input_usd_per_mtok = 1.0
output_usd_per_mtok = 2.0

[models.c]
provider = "mock"
input_usd_per_mtok = 1.0
output_usd_per_mtok = 2.0

[tiers]
cheap = ["b", "c", "a"]
"#,
    )
    .unwrap();
    let keys = |i: usize| p.models()[i].key.as_str();
    assert_eq!(keys(p.tiers()[0].model()), "b");
    let fallbacks: Vec<&str> = p.tiers()[0].fallbacks().iter().map(|&i| keys(i)).collect();
    assert_eq!(fallbacks, ["c", "a"]);
}

#[test]
fn a_wrong_tier_list_is_reported_at_the_entry() {
    let e = load("\n[tiers]\ncheap = [\"a\", \"nope\"]\n").unwrap_err();
    assert!(e.contains("p.toml:11:15"), "{e}");
    assert!(e.contains("`nope`, which is not defined"), "{e}");
    let e = load("\n[tiers]\ncheap = [\"a\", \"a\"]\n").unwrap_err();
    assert!(e.contains("p.toml:11:15"), "{e}");
    assert!(e.contains("twice"), "{e}");
    let e = load("\n[tiers]\ncheap = []\n").unwrap_err();
    assert!(e.contains("p.toml:11:9"), "{e}");
    assert!(e.contains("names no model"), "{e}");
    let e = load("\n[tiers]\ncheap = 3\n").unwrap_err();
    assert!(e.contains("p.toml:11:9"), "{e}");
    assert!(e.contains("model key or an array of model keys"), "{e}");
}
