//! Rules on tags, under guards that move the step: the rule that wins is the first whose
//! conditions hold, whichever way the decision reads the tags (the tag most rules test read
//! with the flags, the others out of line, one rule at a time after a candidate drops), and a
//! guard that escalates (on every step, on a flag, or on a role) keeps that rule. Checked
//! against a plain reading of the policy on random policies and steps.

use std::path::Path;

use proptest::prelude::*;
use switchyard::{PolicySet, Step, Via};

/// Names a step's tag is found by among the policy's: short, long, two of one length that
/// differ only at the end, and one past the 24 bytes held as words.
const TAGS: [&str; 4] = [
    "a",
    "deal_band_eu",
    "deal_band_uk",
    "counterparty_jurisdiction_code",
];
const ROLES: [&str; 3] = ["r1", "r2", "r3"];

/// A rule: a role condition (one or two roles), tag conditions (tag, allowed values), and
/// whether it routes to the premium tier.
#[derive(Debug, Clone)]
struct Rule {
    roles: Option<Vec<&'static str>>,
    tags: Vec<(&'static str, Vec<&'static str>)>,
    premium: bool,
}

/// What the guard does: nothing, or move to premium every step, untrusted steps, or steps
/// of role `r1`.
#[derive(Debug, Clone, Copy)]
enum Guard {
    None,
    Always,
    Untrusted,
    Role,
}

fn rule() -> impl Strategy<Value = Rule> {
    let values = prop::sample::subsequence(vec!["x", "y"], 1..=2);
    (
        prop::option::weighted(0.3, prop::sample::subsequence(ROLES[..2].to_vec(), 1..=2)),
        prop::sample::subsequence(TAGS.to_vec(), 0..=2),
        prop::collection::vec(values, 2),
        any::<bool>(),
    )
        .prop_map(|(roles, tags, values, premium)| Rule {
            roles,
            tags: tags.into_iter().zip(values).collect(),
            premium,
        })
}

fn step() -> impl Strategy<Value = Step> {
    (
        prop::sample::select(ROLES.to_vec()),
        prop::collection::vec(
            prop::option::weighted(0.7, prop::sample::select(vec!["x", "y", "z"])),
            TAGS.len(),
        ),
        any::<bool>(),
    )
        .prop_map(|(role, values, untrusted)| {
            let mut s = Step::new(role).input_tokens(100).untrusted_input(untrusted);
            for (tag, v) in TAGS.iter().zip(values) {
                if let Some(v) = v {
                    s = s.tag(*tag, v);
                }
            }
            s
        })
}

fn policy_text(rules: &[Rule], guard: Guard) -> String {
    let mut t = String::from(
        "[policy]\nname = \"p\"\ndefault_tier = \"cheap\"\n\
         [models.small]\nprovider = \"mock\"\ninput_usd_per_mtok = 1.0\noutput_usd_per_mtok = 1.0\n\
         [models.tested]\nprovider = \"mock\"\ninput_usd_per_mtok = 2.0\noutput_usd_per_mtok = 2.0\n\
         capabilities = [\"injection_tested\"]\n\
         [tiers]\ncheap = \"small\"\npremium = \"tested\"\n",
    );
    for (i, r) in rules.iter().enumerate() {
        let mut when = Vec::new();
        if let Some(roles) = &r.roles {
            when.push(format!("role = {roles:?}"));
        }
        if !r.tags.is_empty() {
            let tags: Vec<String> = r.tags.iter().map(|(k, v)| format!("{k} = {v:?}")).collect();
            when.push(format!("tags = {{ {} }}", tags.join(", ")));
        }
        let tier = if r.premium { "premium" } else { "cheap" };
        t += &format!(
            "[[rules]]\nname = \"r{i}\"\nwhen = {{ {} }}\ntier = \"{tier}\"\n",
            when.join(", ")
        );
    }
    let when = match guard {
        Guard::None => return t,
        Guard::Always => "",
        Guard::Untrusted => "when = { untrusted_input = true }\n",
        Guard::Role => "when = { role = \"r1\" }\n",
    };
    t + "[[guards]]\nname = \"g\"\n"
        + when
        + "require = [\"injection_tested\"]\nescalate_to = \"premium\"\n"
}

/// The policy read plainly: the first rule whose conditions hold (a missing tag fails its
/// condition), then the guard, which moves a step off the untested tier.
fn expected(rules: &[Rule], guard: Guard, s: &Step) -> (Option<String>, &'static str, Via) {
    let holds = |r: &Rule| {
        r.roles
            .as_ref()
            .is_none_or(|roles| roles.iter().any(|x| s.role == *x))
            && r.tags.iter().all(|(k, vals)| {
                s.tags
                    .get(*k)
                    .is_some_and(|v| vals.iter().any(|x| *v == switchyard::TagValue::from(*x)))
            })
    };
    let (rule, premium) = match rules.iter().position(holds) {
        Some(i) => (Some(format!("r{i}")), rules[i].premium),
        None => (None, false),
    };
    let acts = match guard {
        Guard::None => false,
        Guard::Always => true,
        Guard::Untrusted => s.untrusted_input,
        Guard::Role => s.role == "r1",
    };
    if acts && !premium {
        return (rule, "premium", Via::Guard);
    }
    let via = if rule.is_some() {
        Via::Rule
    } else {
        Via::Default
    };
    (rule, if premium { "premium" } else { "cheap" }, via)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn the_first_rule_whose_tags_hold_wins_and_a_guard_keeps_it(
        rules in prop::collection::vec(rule(), 1..10),
        guard in prop_oneof![Just(Guard::None), Just(Guard::Always), Just(Guard::Untrusted), Just(Guard::Role)],
        steps in prop::collection::vec(step(), 24),
    ) {
        let text = policy_text(&rules, guard);
        let set = PolicySet::from_policy_text(Path::new("p.toml"), text.clone())
            .map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        for s in &steps {
            let d = set.route(s).map_err(|e| TestCaseError::fail(format!("{e}")))?;
            let got = (d.rule().map(String::from), d.tier(), d.via());
            let want = expected(&rules, guard, s);
            prop_assert_eq!(
                (got.0, got.1.to_string(), got.2),
                (want.0, want.1.to_string(), want.2),
                "step {:?}\npolicy:\n{}", s, text
            );
        }
    }
}
