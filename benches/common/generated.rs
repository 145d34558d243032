//! The `route` bench's generated policies (50 and 500 rules over roles, token ranges, flags and
//! a tag, with a guard), their steps, and each policy written out as the if-chain a developer
//! would hand-write for it: the baseline the decision table is measured against.
//!
//! The if-chains live in `chains.rs`, written by [`chain_source`]; `tests/bench_chains.rs`
//! checks that file is what this module writes today (`SWITCHYARD_BLESS=1` rewrites it) and
//! that each chain decides every step as its policy does.

use switchyard::Step;

use crate::common::{log_tokens, random_step, FlagChances, Rng, JURISDICTIONS, ROLES};

/// How many random steps the bench routes.
pub const STEPS: usize = 10_000;
/// The roles this bench's steps and policies draw from: the first seven of [`ROLES`].
pub const ROLE_COUNT: usize = 7;
/// How often the routed steps' flags are set.
pub const FLAGS: FlagChances = FlagChances {
    chain_of_thought: 15,
    json: 20,
    untrusted: 10,
};
/// The generated policies' tiers, by the index a rule draws.
const TIERS: [&str; 3] = ["cheap", "standard", "premium"];

/// The bench's 10,000 steps: half tagged with a jurisdiction, half with a contract value.
pub fn random_steps(seed: u64) -> Vec<Step> {
    let mut rng = Rng(seed);
    (0..STEPS)
        .map(|_| {
            let tokens = log_tokens(&mut rng);
            let mut s = random_step(&mut rng, &ROLES[..ROLE_COUNT], tokens, &FLAGS);
            if rng.chance(50) {
                let j = JURISDICTIONS[rng.below(4) as usize];
                s = s.tag("jurisdiction", j);
            }
            if rng.chance(50) {
                s = s.tag("contract_value_usd", (rng.below(3_000_000)) as f64);
            }
            s
        })
        .collect()
}

/// One generated rule: each condition present or not.
pub struct Rule {
    pub roles: Option<[&'static str; 2]>,
    /// `ge`, `lt`.
    pub input_tokens: Option<(u64, u64)>,
    /// `gt`.
    pub dependent_tool_calls: Option<u64>,
    pub needs_chain_of_thought: Option<bool>,
    pub output_must_be_json: Option<bool>,
    pub jurisdiction: Option<&'static str>,
    pub tier: &'static str,
}

/// The `n` rules of the generated policy of that size (the same every run). Each has at
/// least two conditions, so no rule takes every step and a step meets a spread of rules
/// before its winner (a rule with one or none is drawn again).
pub fn rules(n: usize) -> Vec<Rule> {
    let mut rng = Rng(0x5eed + n as u64);
    std::iter::repeat_with(|| {
        let roles = rng.chance(60).then(|| {
            let a = ROLES[rng.below(ROLE_COUNT as u64) as usize];
            let b = ROLES[rng.below(ROLE_COUNT as u64) as usize];
            [a, b]
        });
        let input_tokens = rng.chance(50).then(|| {
            let lo = rng.below(60_000);
            (lo, lo + 1 + rng.below(60_000))
        });
        let dependent_tool_calls = rng.chance(25).then(|| rng.below(10));
        let needs_chain_of_thought = rng.chance(25).then(|| rng.chance(50));
        let output_must_be_json = rng.chance(20).then(|| rng.chance(50));
        let jurisdiction = rng.chance(20).then(|| JURISDICTIONS[rng.below(4) as usize]);
        Rule {
            roles,
            input_tokens,
            dependent_tool_calls,
            needs_chain_of_thought,
            output_must_be_json,
            jurisdiction,
            tier: TIERS[rng.below(3) as usize],
        }
    })
    .filter(|r| r.conditions().len() >= 2)
    .take(n)
    .collect()
}

impl Rule {
    /// Each condition the rule has, in the policy's order (the tag last): as the policy
    /// file writes it, and as an if-chain tests it.
    fn conditions(&self) -> Vec<(String, String)> {
        let not = |b: bool| if b { "" } else { "!" };
        let mut c = Vec::new();
        if let Some([a, b]) = self.roles {
            let test = if a == b {
                format!("role == \"{a}\"")
            } else {
                format!("(role == \"{a}\" || role == \"{b}\")")
            };
            c.push((format!("role = [\"{a}\", \"{b}\"]"), test));
        }
        if let Some((lo, hi)) = self.input_tokens {
            c.push((
                format!("input_tokens = {{ ge = {lo}, lt = {hi} }}"),
                format!("({lo}..{hi}).contains(&tokens)"),
            ));
        }
        if let Some(k) = self.dependent_tool_calls {
            c.push((
                format!("dependent_tool_calls = {{ gt = {k} }}"),
                format!("s.dependent_tool_calls > {k}"),
            ));
        }
        if let Some(b) = self.needs_chain_of_thought {
            c.push((
                format!("needs_chain_of_thought = {b}"),
                format!("{}s.needs_chain_of_thought", not(b)),
            ));
        }
        if let Some(b) = self.output_must_be_json {
            c.push((
                format!("output_must_be_json = {b}"),
                format!("{}s.output_must_be_json", not(b)),
            ));
        }
        if let Some(j) = self.jurisdiction {
            c.push((
                format!("tags = {{ jurisdiction = \"{j}\" }}"),
                format!(
                    "matches!(s.tags.get(\"jurisdiction\"), Some(TagValue::Str(j)) if j == \"{j}\")"
                ),
            ));
        }
        c
    }
}

/// The policy file of these rules: three tiers, default `standard`, and a guard sending
/// untrusted input to `premium` (the only injection-tested model).
pub fn policy_text(rules: &[Rule]) -> String {
    let mut t = String::from(
        "[policy]\nname = \"generated\"\ndefault_tier = \"standard\"\n\n\
         [models.cheap-model]\nprovider = \"mock\"\ninput_usd_per_mtok = 1.0\noutput_usd_per_mtok = 5.0\n\n\
         [models.mid-model]\nprovider = \"mock\"\ninput_usd_per_mtok = 3.0\noutput_usd_per_mtok = 15.0\n\n\
         [models.top-model]\nprovider = \"mock\"\ninput_usd_per_mtok = 15.0\noutput_usd_per_mtok = 75.0\ncapabilities = [\"injection_tested\"]\n\n\
         [tiers]\ncheap = \"cheap-model\"\nstandard = \"mid-model\"\npremium = \"top-model\"\n\n",
    );
    for (i, r) in rules.iter().enumerate() {
        let when: Vec<String> = r.conditions().into_iter().map(|(toml, _)| toml).collect();
        t.push_str(&format!(
            "[[rules]]\nname = \"r{i}\"\nwhen = {{ {} }}\ntier = \"{}\"\n\n",
            when.join(", "),
            r.tier
        ));
    }
    t.push_str(
        "[[guards]]\nname = \"untrusted\"\nwhen = { untrusted_input = true }\n\
         require = [\"injection_tested\"]\nescalate_to = \"premium\"\n",
    );
    t
}

/// The Rust source of `fn <name>(s: &Step) -> (tier, rule)` deciding as the policy of
/// these rules does, written as by hand: one `if` per rule in file order, its conditions
/// in the order the policy gives them (the tag looked up last), then the guard.
pub fn chain_source(name: &str, rules: &[Rule]) -> String {
    let mut src = format!(
        "/// The generated policy of {} rules, written by hand as an if-chain.\n\
         pub fn {name}(s: &Step) -> (&'static str, Option<&'static str>) {{\n\
         \x20   let tokens = s.input_tokens.unwrap_or(0);\n\
         \x20   let role = s.role.as_str();\n",
        rules.len()
    );
    for (i, r) in rules.iter().enumerate() {
        let conds: Vec<String> = r.conditions().into_iter().map(|(_, test)| test).collect();
        // Every generated rule has conditions (see [`rules`]), so no `if` is empty.
        assert!(!conds.is_empty(), "rule r{i} has no condition");
        let answer = format!("guarded(s, \"{}\", Some(\"r{i}\"))", r.tier);
        // Laid out as rustfmt would: one line when it fits in 100 columns, the brace on
        // the next when only it does not, else one condition a line.
        let head = format!("    if {}", conds.join(" && "));
        if head.len() + 2 <= 100 {
            src.push_str(&format!("{head} {{\n"));
        } else if head.len() <= 100 {
            src.push_str(&format!("{head}\n    {{\n"));
        } else {
            let conds = conds.join("\n        && ");
            src.push_str(&format!("    if {conds}\n    {{\n"));
        }
        src.push_str(&format!("        return {answer};\n    }}\n"));
    }
    src.push_str("    guarded(s, \"standard\", None)\n}\n");
    src
}

/// The whole of `chains.rs`: the 50- and 500-rule chains and the guard they share.
pub fn chains_file() -> String {
    let mut src = String::from(
        "//! Written by `benches/common/generated.rs` (`chain_source`); do not edit:\n\
         //! `SWITCHYARD_BLESS=1 cargo test --test bench_chains` rewrites it.\n\n\
         use switchyard::{Step, TagValue};\n\n\
         /// The generated policies' guard: untrusted input needs an injection-tested model,\n\
         /// which only `premium` has.\n\
         #[inline(always)]\n\
         fn guarded(\n\
         \x20   s: &Step,\n\
         \x20   tier: &'static str,\n\
         \x20   rule: Option<&'static str>,\n\
         ) -> (&'static str, Option<&'static str>) {\n\
         \x20   if s.untrusted_input && tier != \"premium\" {\n\
         \x20       (\"premium\", rule)\n\
         \x20   } else {\n\
         \x20       (tier, rule)\n\
         \x20   }\n\
         }\n",
    );
    for n in [50, 500] {
        src.push('\n');
        src.push_str(&chain_source(&format!("generated_{n}"), &rules(n)));
    }
    src
}
