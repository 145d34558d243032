//! Loading grows about linearly with the number of rules: a 20,000-rule policy whose rules
//! each add an `input_tokens` breakpoint loads (parse, check, compile the decision table) in
//! seconds, not the minute it took when the table asked every rule about every class.

// Only the large-policy generator is used here.
#[allow(dead_code)]
mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use switchyard::{PolicySet, Step};

#[test]
fn twenty_thousand_rules_load_and_compile_in_seconds() {
    let text = common::gen::many_rules_policy(20_000);
    let started = Instant::now();
    let set = PolicySet::from_policy_text(Path::new("big.toml"), text).expect("it loads");
    let took = started.elapsed();
    // Unoptimized build on 2 shared cores: 53 s before the fix, about 4 s after.
    assert!(took < Duration::from_secs(25), "loading took {took:?}");
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
