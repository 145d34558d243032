//! The `route` bench's baselines are honest: `benches/common/chains.rs`, the generated
//! policies written by hand as if-chains, is what `benches/common/generated.rs` writes today,
//! and each chain decides every one of the bench's steps as the compiled policy does.

#[path = "../benches/common/mod.rs"]
#[allow(dead_code)]
mod common;

#[path = "../benches/common/generated.rs"]
#[allow(dead_code)]
mod generated;

#[path = "../benches/common/chains.rs"]
mod chains;

use std::path::Path;

use switchyard::{PolicySet, Step};

const CHAINS: &str = "benches/common/chains.rs";

#[test]
fn the_committed_chains_are_the_generated_ones() {
    let want = generated::chains_file();
    if std::env::var_os("SWITCHYARD_BLESS").is_some() {
        std::fs::write(CHAINS, &want).expect("write chains.rs");
        return;
    }
    let have = std::fs::read_to_string(CHAINS).expect("read chains.rs");
    assert!(
        have == want,
        "{CHAINS} is not what benches/common/generated.rs writes; \
         rerun with SWITCHYARD_BLESS=1 to rewrite it"
    );
}

#[test]
fn each_chain_decides_as_its_policy() {
    type Chain = fn(&Step) -> (&'static str, Option<&'static str>);
    let steps = generated::random_steps(42);
    for (n, chain) in [
        (50, chains::generated_50 as Chain),
        (500, chains::generated_500 as Chain),
    ] {
        let text = generated::policy_text(&generated::rules(n));
        let set = PolicySet::from_policy_text(Path::new("generated.toml"), text).unwrap();
        let mut by_rule = 0;
        for s in &steps {
            let d = set.route(s).unwrap();
            assert_eq!((d.tier(), d.rule()), chain(s), "{n} rules, step {s}");
            by_rule += usize::from(d.rule().is_some());
        }
        // Not vacuous: most steps are won by a rule, some by the default or the guard.
        assert!(
            by_rule > steps.len() / 2,
            "{n} rules: {by_rule} won by a rule"
        );
    }
}
