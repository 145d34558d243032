//! A policy with thousands of rules, each adding an `input_tokens` breakpoint, loads and
//! decides as its rules say. How fast it loads is measured in `benches/load.rs` (load+compile
//! at 1k, 10k and 20k rules), never asserted here.

// Only the large-policy generator is used here.
#[allow(dead_code)]
mod common;

use std::path::Path;

use switchyard::{PolicySet, Step};

#[test]
fn thousands_of_rules_load_and_decide_as_written() {
    let text = common::gen::many_rules_policy(3_000);
    let set = PolicySet::from_policy_text(Path::new("big.toml"), text).expect("it loads");
    // The table still decides as the rules say: the first rule whose role and bound hold.
    let d = set
        .route(&Step::new("role3").input_tokens(100))
        .expect("routed");
    assert_eq!(d.rule(), Some("r3"));
    let d = set
        .route(&Step::new("role3").input_tokens(30))
        .expect("routed");
    assert_eq!(
        d.rule(),
        None,
        "30 is not above r3's bound, and later role3 rules ask more"
    );
}
