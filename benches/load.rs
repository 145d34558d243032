//! Loading speed: reading, parsing and checking a policy of many rules
//! (`cargo bench --bench load`).
//!
//! - `load/1000 rules`, `load/10000 rules`, `load/20000 rules`: a generated policy whose rules
//!   each name a role and an input-token bound, with one `[[tests]]` entry per 100 rules.
//!   Loading must grow about linearly: 20,000 rules take about twice as long as 10,000 (it
//!   was quadratic, 2.5 s and 25 s, when each rule's name was compared with every other's).

use std::fmt::Write;
use std::hint::black_box;
use std::path::Path;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use switchyard::policy::load_policy_text;

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
                black_box(p.rules.len())
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
