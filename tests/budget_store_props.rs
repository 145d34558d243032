//! The budget store's two Redis scripts (reserve, settle/release) against a simple model of
//! the ledger, on random interleavings of reserve, settle, release, repeated settlements and
//! lease expiry, run on a real `redis-server` started by the test; and the caps a store can
//! hold (signed 64-bit pico-dollars, refused at load above that).

#[path = "common/redis_server.rs"]
mod redis_server;

use std::path::Path;

use switchyard::router::PolicySet;

const POLICY: &str = r#"[policy]
name = "billing"
default_tier = "cheap"
tokenizer = "approx"

[models.small]
provider = "mock"
input_usd_per_mtok = 1.0
output_usd_per_mtok = 2.0
max_output_tokens = 100

[tiers]
cheap = "small"
"#;

#[test]
fn a_cap_a_shared_store_cannot_hold_is_refused_at_load() {
    // $9,223,372.036854775807 is i64::MAX pico-dollars: the most one counter holds.
    let ok = format!("{POLICY}\n[budget]\nper_workload_day_usd = 9223372.0\n");
    PolicySet::from_policy_text(Path::new("inline.toml"), ok).expect("a cap that fits loads");
    let over = format!("{POLICY}\n[budget]\nper_workload_day_usd = 9223373.0\n");
    let err = PolicySet::from_policy_text(Path::new("inline.toml"), over).unwrap_err();
    let text: Vec<String> = err
        .diagnostics
        .iter()
        .map(|d| format!("{} {} {}", d.name, d.location(), d.message))
        .collect();
    let text = text.join("\n");
    assert!(
        text.contains("invalid-value")
            && text.contains("per_workload_day_usd")
            && text.contains("9223372.036854775807"),
        "{text}"
    );
}
