//! Loading speed: reading, parsing and checking a policy of many rules
//! (`cargo bench --bench load`).
//!
//! - `load/1000 rules`, `load/10000 rules`, `load/20000 rules`: a generated policy whose rules
//!   each name a role and an input-token bound, with one `[[tests]]` entry per 100 rules.
//!   Loading must grow about linearly: 20,000 rules take about twice as long as 10,000 (it
//!   was quadratic, 2.5 s and 25 s, when each rule's name was compared with every other's).
//! - `load+compile/500 rules`, `…/1000 rules`, `…/10000 rules`, `…/20000 rules`: `Router::load`'s work end to
//!   end (read, check, compile the decision table) on a policy whose rules each add their own
//!   `input_tokens` breakpoint, so the table has about one class per rule. Building the table
//!   asked every rule about every class (quadratic); it now sweeps each column once.

use std::fmt::Write;
use std::hint::black_box;
use std::path::Path;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use switchyard::policy::load_policy_text;
use switchyard::PolicySet;

fn policy_text(rules: usize) -> String {
    let mut s = String::from(
        "[policy]\nname = \"big\"\ndefault_tier = \"cheap\"\n\n\
         [models.small]\nprovider = \"mock\"\ninput_usd_per_mtok = 1.0\noutput_usd_per_mtok = 2.0\n\n\
         [models.large]\nprovider = \"mock\"\ninput_usd_per_mtok = 10.0\noutput_usd_per_mtok = 20.0\n\n\
         [tiers]\ncheap = \"small\"\npremium = \"large\"\n",
    );
    for i in 0..rules {
        let tier = if i % 3 == 0 { "premium" } else { "cheap" };
        writeln!(
            s,
            "\n[[rules]]\nname = \"rule-{i}\"\nwhen = {{ role = \"role{}\", input_tokens = {{ gt = {} }} }}\ntier = \"{tier}\"",
            i % 40,
            (i % 500) * 100
        )
        .unwrap();
    }
    for i in (0..rules).step_by(100) {
        writeln!(
            s,
            "\n[[tests]]\nname = \"test-{i}\"\nstep = {{ role = \"role{}\", input_tokens = 1 }}\nexpect_rule = \"rule-{i}\"",
            i % 40
        )
        .unwrap();
    }
    s
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("load");
    g.sample_size(10).measurement_time(Duration::from_secs(5));
    for rules in [1_000, 10_000, 20_000] {
        let text = policy_text(rules);
        g.bench_function(format!("{rules} rules"), |b| {
            b.iter(|| {
                let p = load_policy_text(Path::new("big.toml"), black_box(text.clone()))
                    .expect("the generated policy loads");
                black_box(p.rules().len())
            })
        });
    }
    g.finish();
    let mut g = c.benchmark_group("load+compile");
    g.sample_size(10).measurement_time(Duration::from_secs(5));
    for rules in [500, 1_000, 10_000, 20_000] {
        let text = distinct_bounds_text(rules);
        g.bench_function(format!("{rules} rules"), |b| {
            b.iter(|| {
                let set =
                    PolicySet::from_policy_text(Path::new("big.toml"), black_box(text.clone()))
                        .expect("the generated policy loads");
                black_box(set.policies().len())
            })
        });
    }
    g.finish();
}

/// Rules over 500 roles, each with its own `input_tokens` bound (the same shape as
/// `tests/common/gen.rs`'s `many_rules_policy`).
fn distinct_bounds_text(rules: usize) -> String {
    let mut s = String::from(
        "[policy]\nname = \"big\"\ndefault_tier = \"cheap\"\n\n\
         [models.small]\nprovider = \"mock\"\ninput_usd_per_mtok = 1.0\noutput_usd_per_mtok = 2.0\n\n\
         [models.large]\nprovider = \"mock\"\ninput_usd_per_mtok = 10.0\noutput_usd_per_mtok = 20.0\n\n\
         [tiers]\ncheap = \"small\"\npremium = \"large\"\n",
    );
    for i in 0..rules {
        let tier = if i % 2 == 0 { "premium" } else { "cheap" };
        writeln!(
            s,
            "\n[[rules]]\nname = \"r{i}\"\nwhen = {{ role = \"role{}\", input_tokens = {{ gt = {} }} }}\ntier = \"{tier}\"",
            i % 500,
            i * 10
        )
        .unwrap();
    }
    s
}

criterion_group!(benches, bench);
criterion_main!(benches);
