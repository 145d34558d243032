//! Lint speed, end to end (load, check, compile, analyse): `cargo bench --bench lint`
//!
//! - `lint/50 rules`: a generated 50-rule policy over roles, input_tokens, flags, a declared
//!   tag and a few expressions, with a guard; the target is ≤ 50 ms.
//! - `lint/500 rules`: the same shape with 500 rules; the target is that it finishes
//!   (a partial analysis is allowed) within 2 s.
//!
//! Before measuring, each size is linted once and its findings, and whether the analysis was
//! partial, are printed, so the numbers can be read against what was done.

use std::fmt::Write;
use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use switchyard::lint::lint_policy;
use switchyard::policy::load_policy_text;

const ROLES: [&str; 12] = [
    "format",
    "extract",
    "summarize",
    "plan",
    "reason",
    "edit",
    "review",
    "classify",
    "translate",
    "search",
    "tool_call",
    "answer",
];
const TIERS: [&str; 3] = ["cheap", "standard", "premium"];

/// A small deterministic generator (no dependency, the same policy every run).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
}

fn policy_text(rules: usize) -> String {
    let mut s = String::from(
        r#"[policy]
name = "bench"
default_tier = "standard"

[models.small]
provider = "mock"
input_usd_per_mtok = 0.5
output_usd_per_mtok = 1.5

[models.mid]
provider = "mock"
input_usd_per_mtok = 3.0
output_usd_per_mtok = 9.0
capabilities = ["json_mode"]

[models.large]
provider = "mock"
input_usd_per_mtok = 15.0
output_usd_per_mtok = 75.0
capabilities = ["json_mode", "injection_tested"]

[tiers]
cheap = "small"
standard = "mid"
premium = "large"

[tags]
jurisdiction = { type = "string", values = ["EU", "UK", "US", "CH"] }
value_usd = { type = "number" }
"#,
    );
    let mut rng = Lcg(7);
    for i in 0..rules {
        let mut when = Vec::new();
        let role = ROLES[rng.next(ROLES.len() as u64) as usize];
        if rng.next(3) == 0 {
            let other = ROLES[rng.next(ROLES.len() as u64) as usize];
            when.push(format!("role = [\"{role}\", \"{other}\"]"));
        } else {
            when.push(format!("role = \"{role}\""));
        }
        if rng.next(2) == 0 {
            let lo = 1000 * (1 + rng.next(60));
            when.push(format!("input_tokens = {{ gt = {lo} }}"));
        }
        match rng.next(4) {
            0 => when.push("needs_chain_of_thought = true".into()),
            1 => when.push("output_must_be_json = true".into()),
            _ => {}
        }
        if rng.next(5) == 0 {
            when.push("tags = { jurisdiction = [\"EU\", \"UK\"] }".into());
        }
        if i % 10 == 9 {
            when.push("expr = '\"value_usd\" in step.tags && step.tags.value_usd > 100000'".into());
        }
        let tier = TIERS[rng.next(3) as usize];
        writeln!(
            s,
            "\n[[rules]]\nname = \"r{i}\"\nwhen = {{ {} }}\ntier = \"{tier}\"",
            when.join(", ")
        )
        .unwrap();
    }
    s.push_str(
        r#"
[[guards]]
name = "untrusted-needs-tested-model"
when = { untrusted_input = true }
require = ["injection_tested"]
escalate_to = "premium"
"#,
    );
    s
}

fn lint_text(text: &str) -> usize {
    let path = Path::new("bench.toml");
    let policy = load_policy_text(path, text.to_string()).expect("the generated policy loads");
    lint_policy(policy).len()
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("lint");
    for rules in [50, 500] {
        let text = policy_text(rules);
        let start = Instant::now();
        let policy = load_policy_text(Path::new("bench.toml"), text.clone()).unwrap();
        let found = lint_policy(policy);
        let partial = found.iter().any(|d| d.name == "analysis-partial");
        eprintln!(
            "lint/{rules} rules: one run {:?}, {} findings, analysis {}",
            start.elapsed(),
            found.len(),
            if partial { "partial" } else { "complete" }
        );
        if rules > 50 {
            g.sample_size(10).measurement_time(Duration::from_secs(10));
        }
        g.bench_function(format!("{rules} rules"), |b| {
            b.iter(|| black_box(lint_text(black_box(&text))))
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
