//! Routing scenarios, read like a user's session: load the bundled policies (or a small one
//! written inline), route a step, and check every field of the decision against the policy
//! format contract — version hash, cost estimate, prompt counting, workload selection, guards,
//! expression errors, hot replacement and `explain`.

use std::path::{Path, PathBuf};

use serde_json::json;
use sha2::{Digest, Sha256};
use switchyard::router::CheckKind;
use switchyard::{PolicySet, RouteFailure, Router, Step, Via};

fn policies_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("policies")
}

fn bundled(file: &str) -> PathBuf {
    policies_dir().join(file)
}

/// First 12 hex digits of SHA-256 over the files' bytes, in order.
fn version_of(files: &[&Path]) -> String {
    let mut h = Sha256::new();
    for f in files {
        h.update(std::fs::read(f).unwrap());
    }
    h.finalize()
        .iter()
        .take(6)
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn version_of_text(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .take(6)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A policy from text, named in diagnostics as `inline.toml`.
fn inline(text: &str) -> PolicySet {
    PolicySet::from_policy_text(Path::new("inline.toml"), text)
        .unwrap_or_else(|e| panic!("the inline policy did not load:\n{e}"))
}

fn contract_review() -> Router {
    Router::load(bundled("contract-review.toml")).unwrap()
}

fn assert_usd(got: Option<f64>, want: f64) {
    let got = got.expect("a cost estimate");
    assert!(
        (got - want).abs() < 1e-12,
        "estimated_usd {got}, expected {want}"
    );
}

// ---- the decision ----------------------------------------------------------------------------

#[test]
fn a_decision_carries_every_field() {
    let router = contract_review();
    let step = Step::new("extract")
        .input_tokens(8000)
        .expected_output_tokens(2000)
        .untrusted_input(true)
        .trace_id("cr-1");
    let d = router.route(&step).unwrap();
    let version = version_of(&[&bundled("contract-review.toml"), &bundled("models.toml")]);

    assert_eq!(d.policy(), "contract-review");
    assert_eq!(d.policy_version(), version);
    assert_eq!(d.policy_version().len(), 12);
    assert_eq!(d.tier(), "premium");
    assert_eq!(d.tier_id(), 2);
    assert_eq!(d.model().key, "claude-opus-4-6");
    assert_eq!(d.rule(), Some("untrusted-input"));
    assert_eq!(d.rule_index(), Some(0));
    assert_eq!(d.via(), Via::Rule);
    assert_eq!(d.guard(), None);
    assert_eq!(d.input_tokens(), 8000);
    // 8,000 in and 2,000 out at $15 / $75 per million.
    assert_eq!(d.estimated_usd(), Some(0.27));

    // The line `switchyard route` writes, fields in the contract's order.
    let line = serde_json::to_string(&d.to_json(step.trace_id.as_deref())).unwrap();
    assert_eq!(
        line,
        format!(
            r#"{{"policy":"contract-review","policy_version":"{version}","tier":"premium","model":"claude-opus-4-6","rule":"untrusted-input","via":"rule","guard":null,"estimated_usd":0.27,"trace_id":"cr-1"}}"#
        )
    );
}

#[test]
fn the_cost_is_at_the_chosen_models_prices() {
    let router = contract_review();
    let d = router
        .route(
            &Step::new("format")
                .input_tokens(8000)
                .expected_output_tokens(2000),
        )
        .unwrap();
    assert_eq!((d.tier(), d.rule()), ("cheap", Some("cheap-roles")));
    // $1 / $5 per million.
    assert_eq!(d.estimated_usd(), Some(0.018));
}

#[test]
fn no_expected_output_means_no_estimate() {
    let router = contract_review();
    let d = router
        .route(&Step::new("format").input_tokens(8000))
        .unwrap();
    assert_eq!(d.estimated_usd(), None);
    assert_eq!(d.to_json(None)["estimated_usd"], serde_json::Value::Null);
    assert_eq!(d.to_json(None)["trace_id"], serde_json::Value::Null);
    // Zero output tokens is an estimate: the input alone.
    let d = router
        .route(
            &Step::new("format")
                .input_tokens(8000)
                .expected_output_tokens(0),
        )
        .unwrap();
    assert_usd(d.estimated_usd(), 0.008);
}

#[test]
fn no_rule_matching_gives_the_default_tier() {
    let router = contract_review();
    let d = router
        .route(&Step::new("classify").input_tokens(1500))
        .unwrap();
    assert_eq!(d.tier(), "standard");
    assert_eq!(d.model().key, "gpt-5.4-mini");
    assert_eq!((d.rule(), d.rule_index()), (None, None));
    assert_eq!(d.via(), Via::Default);
    assert_eq!(d.to_json(None)["rule"], serde_json::Value::Null);
    assert_eq!(d.to_json(None)["via"], "default");
}

#[test]
fn rules_are_tried_in_file_order() {
    let router = contract_review();
    // Untrusted (rule 1) and a long chain (rule 2) and big context (rule 3): the first wins.
    let step = Step::new("summarize")
        .input_tokens(40_000)
        .dependent_tool_calls(9)
        .untrusted_input(true);
    assert_eq!(router.route(&step).unwrap().rule(), Some("untrusted-input"));
    let step = step.untrusted_input(false);
    assert_eq!(router.route(&step).unwrap().rule(), Some("long-chain"));
    let step = step.dependent_tool_calls(7);
    assert_eq!(router.route(&step).unwrap().rule(), Some("big-context"));
    // Boundaries: gt = 30000 and ge = 8.
    let d = router
        .route(&Step::new("summarize").input_tokens(30_000))
        .unwrap();
    assert_eq!(d.rule(), Some("summaries-standard"));
    let d = router
        .route(&Step::new("summarize").input_tokens(30_001))
        .unwrap();
    assert_eq!(d.rule(), Some("big-context"));
    let d = router
        .route(
            &Step::new("extract")
                .input_tokens(10)
                .dependent_tool_calls(8),
        )
        .unwrap();
    assert_eq!(d.rule(), Some("long-chain"));
}

#[test]
fn tags_match_only_values_of_their_own_type() {
    let set = inline(
        r#"
[policy]
name = "tags"
default_tier = "low"
[models.m]
provider = "mock"
input_usd_per_mtok = 1.0
output_usd_per_mtok = 1.0
[tiers]
low = "m"
high = "m"
[[rules]]
name = "vip"
when = { tags = { vip = true } }
tier = "high"
[[rules]]
name = "one"
when = { tags = { n = 1 } }
tier = "high"
[[rules]]
name = "eu"
when = { tags = { region = ["EU", "UK"] } }
tier = "high"
[[rules]]
name = "score"
when = { tags = { score = { gt = 0.5, le = 2.5 } } }
tier = "high"
"#,
    );
    let rule = |s: Step| {
        set.route(&s.input_tokens(1))
            .unwrap()
            .rule()
            .map(String::from)
    };
    assert_eq!(rule(Step::new("r").tag("vip", true)), Some("vip".into()));
    assert_eq!(rule(Step::new("r").tag("vip", 1i64)), None);
    assert_eq!(rule(Step::new("r").tag("vip", "true")), None);
    assert_eq!(rule(Step::new("r").tag("n", 1i64)), Some("one".into()));
    assert_eq!(rule(Step::new("r").tag("n", 1.0)), Some("one".into()));
    assert_eq!(rule(Step::new("r").tag("n", true)), None);
    assert_eq!(rule(Step::new("r").tag("n", "1")), None);
    assert_eq!(rule(Step::new("r").tag("region", "UK")), Some("eu".into()));
    assert_eq!(rule(Step::new("r").tag("region", "US")), None);
    assert_eq!(rule(Step::new("r").tag("score", 0.5)), None);
    assert_eq!(
        rule(Step::new("r").tag("score", 0.75)),
        Some("score".into())
    );
    assert_eq!(rule(Step::new("r").tag("score", 2.5)), Some("score".into()));
    assert_eq!(rule(Step::new("r").tag("score", 2.51)), None);
    assert_eq!(rule(Step::new("r").tag("score", "1")), None);
    // A missing tag never matches.
    assert_eq!(rule(Step::new("r")), None);
}

/// A tag range bound far from zero must split numbers exactly where it says.
#[test]
fn big_tag_bounds() {
    let set = inline(
        r#"
[policy]
name = "big"
default_tier = "low"
[models.m]
provider = "mock"
input_usd_per_mtok = 1.0
output_usd_per_mtok = 1.0
[tiers]
low = "m"
high = "m"
[[rules]]
name = "below"
when = { tags = { a = { lt = 1e17 } } }
tier = "high"
[[rules]]
name = "at-least"
when = { tags = { b = { ge = 1e16 } } }
tier = "high"
"#,
    );
    let rule = |s: Step| {
        set.route(&s.input_tokens(1))
            .unwrap()
            .rule()
            .map(String::from)
    };
    // 5 < 1e17, so the rule holds.
    assert_eq!(rule(Step::new("r").tag("a", 5i64)), Some("below".into()));
    // 5 is not >= 1e16, so the rule does not.
    assert_eq!(rule(Step::new("r").tag("b", 5i64)), None);
}

/// A number that is not a number lies in no range: every comparison with NaN is false, so
/// `lt`, `ge` and a two-sided range all fail, whichever path (one tag read first, or the
/// general table walk with several tags) decides the step.
#[test]
fn a_nan_tag_is_in_no_range() {
    let set = inline(
        r#"
[policy]
name = "nan"
default_tier = "low"
[models.m]
provider = "mock"
input_usd_per_mtok = 1.0
output_usd_per_mtok = 1.0
[tiers]
low = "m"
high = "m"
[[rules]]
name = "below"
when = { tags = { a = { lt = 5 } } }
tier = "high"
[[rules]]
name = "at-least"
when = { tags = { a = { ge = 1 } } }
tier = "high"
[[rules]]
name = "between"
when = { tags = { b = { gt = -1, le = 2.5 } } }
tier = "high"
[[rules]]
name = "b-low"
when = { tags = { b = { lt = 100 } }, role = "r" }
tier = "high"
"#,
    );
    let rule = |s: Step| {
        let s = s.input_tokens(1);
        let d = set.route(&s).unwrap();
        // explain walks the rules' conditions one by one, not through the table.
        let walked = set
            .explain(&s)
            .checks
            .into_iter()
            .find(|c| c.kind == CheckKind::Rule && c.held)
            .map(|c| c.name);
        assert_eq!(
            walked.as_deref(),
            d.rule(),
            "explain and route disagree on {s:?}"
        );
        d.rule().map(String::from)
    };
    assert_eq!(rule(Step::new("r").tag("a", f64::NAN)), None);
    assert_eq!(rule(Step::new("r").tag("b", f64::NAN)), None);
    assert_eq!(
        rule(Step::new("r").tag("a", f64::NAN).tag("b", f64::NAN)),
        None
    );
    // Beside it, numbers still split where the bounds say.
    assert_eq!(rule(Step::new("r").tag("a", 3.0)), Some("below".into()));
    assert_eq!(rule(Step::new("r").tag("a", 7.0)), Some("at-least".into()));
    assert_eq!(
        rule(Step::new("r").tag("a", f64::NAN).tag("b", 0.0)),
        Some("between".into())
    );
    assert_eq!(
        rule(Step::new("r").tag("a", f64::NEG_INFINITY)),
        Some("below".into())
    );
    assert_eq!(rule(Step::new("r").tag("b", f64::INFINITY)), None);
}

#[test]
fn the_model_is_named_by_its_key_not_its_model_id() {
    let set = inline(
        r#"
[policy]
name = "ids"
default_tier = "fast"
[models.quick]
provider = "openai"
model_id = "vendor/quick-2025-01"
input_usd_per_mtok = 0.5
output_usd_per_mtok = 1.5
[tiers]
fast = "quick"
"#,
    );
    let d = set.route(&Step::new("x").input_tokens(10)).unwrap();
    assert_eq!(d.model().key, "quick");
    assert_eq!(d.model().model_id, "vendor/quick-2025-01");
    assert_eq!(d.to_json(None)["model"], "quick");
}

// ---- policy_version ----------------------------------------------------------------------

#[test]
fn the_version_hashes_the_policy_then_its_includes() {
    let set = PolicySet::load(policies_dir()).unwrap();
    for (workload, file) in [
        ("contract-review", "contract-review.toml"),
        ("code-fix", "code-fix.toml"),
    ] {
        let d = set
            .route(&Step::new("format").input_tokens(10).workload(workload))
            .unwrap();
        let want = version_of(&[&bundled(file), &bundled("models.toml")]);
        assert_eq!(d.policy_version(), want, "{workload}");
        assert_eq!(set.get(workload).unwrap().version(), want);
    }
}

#[test]
fn the_version_follows_include_order_and_every_byte() {
    let dir = tempfile::tempdir().unwrap();
    let model = |key: &str| {
        format!(
            "[models.{key}]\nprovider = \"mock\"\ninput_usd_per_mtok = 1.0\noutput_usd_per_mtok = 2.0\n"
        )
    };
    std::fs::write(dir.path().join("a.toml"), model("ma")).unwrap();
    std::fs::write(dir.path().join("b.toml"), model("mb")).unwrap();
    let policy = |includes: &str| {
        format!(
            "[policy]\nname = \"p\"\ndefault_tier = \"t\"\ninclude = [{includes}]\n[tiers]\nt = \"ma\"\n"
        )
    };
    let version = |text: &str| {
        let path = dir.path().join("p.toml");
        std::fs::write(&path, text).unwrap();
        let set = PolicySet::load(&path).unwrap();
        let d = set.route(&Step::new("x").input_tokens(1)).unwrap();
        d.policy_version().to_string()
    };
    let ab = policy(r#""a.toml", "b.toml""#);
    let ba = policy(r#""b.toml", "a.toml""#);
    let a = dir.path().join("a.toml");
    let b = dir.path().join("b.toml");
    let p = dir.path().join("p.toml");

    let v_ab = version(&ab);
    assert_eq!(v_ab, version_of(&[&p, &a, &b]));
    let v_ba = version(&ba);
    assert_eq!(v_ba, version_of(&[&p, &b, &a]));
    assert_ne!(v_ab, v_ba);

    // A policy with no includes hashes its own bytes; a comment changes the version.
    let own = "[policy]\nname = \"p\"\ndefault_tier = \"t\"\n[models.m]\nprovider = \"mock\"\ninput_usd_per_mtok = 1.0\noutput_usd_per_mtok = 2.0\n[tiers]\nt = \"m\"\n";
    let d = inline(own)
        .route(&Step::new("x").input_tokens(1))
        .unwrap()
        .into_owned();
    assert_eq!(d.policy_version(), version_of_text(own));
    let commented = format!("{own}# a comment\n");
    let d2 = inline(&commented)
        .route(&Step::new("x").input_tokens(1))
        .unwrap()
        .into_owned();
    assert_eq!(d2.policy_version(), version_of_text(&commented));
    assert_ne!(d.policy_version(), d2.policy_version());
}

// ---- counting a prompt ---------------------------------------------------------------------

fn tokenizer_policy(tokenizer: Option<&str>) -> PolicySet {
    let line = tokenizer.map_or(String::new(), |t| format!("tokenizer = \"{t}\"\n"));
    inline(&format!(
        r#"
[policy]
name = "tok"
default_tier = "t"
{line}
[models.m]
provider = "mock"
input_usd_per_mtok = 1.0
output_usd_per_mtok = 1.0
[tiers]
t = "m"
"#
    ))
}

/// Text that the two OpenAI encodings count differently.
const MIXED_TEXT: &str = "Résumé of the naïve café's contract — 東京の契約書、第十二条 ½ price, \
                          effective 2025-01-01; see §4.2(b) and Schedule ☂.";

#[test]
fn a_prompt_is_counted_with_o200k_base_by_default() {
    let o200k = tiktoken_rs::o200k_base_singleton()
        .encode_ordinary(MIXED_TEXT)
        .len() as u64;
    let cl100k = tiktoken_rs::cl100k_base_singleton()
        .encode_ordinary(MIXED_TEXT)
        .len() as u64;
    assert_ne!(o200k, cl100k, "the text must tell the encodings apart");

    for (tokenizer, want) in [
        (None, o200k),
        (Some("o200k_base"), o200k),
        (Some("cl100k_base"), cl100k),
    ] {
        let set = tokenizer_policy(tokenizer);
        let d = set
            .route(&Step::new("x").prompt(MIXED_TEXT).expected_output_tokens(0))
            .unwrap();
        assert_eq!(d.input_tokens(), want, "{tokenizer:?}");
        assert_usd(d.estimated_usd(), want as f64 / 1e6);
    }
}

#[test]
fn approx_counts_characters_not_bytes() {
    let set = tokenizer_policy(Some("approx"));
    let count = |text: &str| {
        set.route(&Step::new("x").prompt(text))
            .unwrap()
            .input_tokens()
    };
    // ceil(chars / 4 × 1.05): 80 chars are exactly 21 tokens, 81 are 21.2625 → 22.
    assert_eq!(count(&"é".repeat(80)), 21);
    assert_eq!(count(&"é".repeat(81)), 22);
    assert_eq!(count("a"), 1);
    assert_eq!(count(""), 0);
    assert_eq!(count(&"x".repeat(4000)), 1050);
}

#[test]
fn given_input_tokens_win_over_the_prompt() {
    let set = tokenizer_policy(Some("approx"));
    let d = set
        .route(&Step::new("x").input_tokens(7).prompt("a".repeat(400)))
        .unwrap();
    assert_eq!(d.input_tokens(), 7);
}

#[test]
fn rules_see_the_counted_prompt() {
    let set = inline(
        r#"
[policy]
name = "tok"
default_tier = "small"
tokenizer = "approx"
[models.m]
provider = "mock"
input_usd_per_mtok = 1.0
output_usd_per_mtok = 1.0
[tiers]
small = "m"
large = "m"
[[rules]]
name = "long-prompt"
when = { input_tokens = { ge = 21 } }
tier = "large"
[[rules]]
name = "long-prompt-expr"
when = { expr = "step.input_tokens == 20" }
tier = "large"
"#,
    );
    let rule = |chars: usize| {
        set.route(&Step::new("x").prompt("é".repeat(chars)))
            .unwrap()
            .rule()
            .map(String::from)
    };
    assert_eq!(rule(80), Some("long-prompt".into()));
    assert_eq!(rule(76), Some("long-prompt-expr".into())); // 19.95 → 20
    assert_eq!(rule(72), None); // 18.9 → 19
}

// ---- choosing the policy -------------------------------------------------------------------

#[test]
fn a_workload_no_policy_serves_is_rejected_even_with_one_policy() {
    let router = contract_review();
    let step = Step::new("format").input_tokens(10).workload("code-fix");
    let err = router.route(&step).unwrap_err();
    assert_eq!(
        err.failure(),
        &RouteFailure::UnknownWorkload {
            workload: "code-fix".into(),
            known: vec!["contract-review".into()],
        }
    );
    assert_eq!(err.kind(), "unknown_workload");
    let line = err.to_json(Some("t-9"));
    assert_eq!(line["error"]["kind"], "unknown_workload");
    assert_eq!(line["error"]["workload"], "code-fix");
    assert_eq!(line["trace_id"], "t-9");
    // Naming the one loaded policy, or naming none, routes.
    assert!(router
        .route(&step.clone().workload("contract-review"))
        .is_ok());
    assert!(router.route(&Step::new("format").input_tokens(10)).is_ok());
}

#[test]
fn several_policies_need_a_workload() {
    let router = Router::load(policies_dir()).unwrap();
    let set = router.current();
    let names: Vec<&str> = set.policies().iter().map(|p| p.name()).collect();
    assert_eq!(names, ["code-fix", "contract-review"]);

    let err = router
        .route(&Step::new("format").input_tokens(10))
        .unwrap_err();
    assert_eq!(
        err.failure(),
        &RouteFailure::WorkloadRequired {
            known: vec!["code-fix".into(), "contract-review".into()],
        }
    );
    assert_eq!(err.kind(), "workload_required");
    assert_eq!(err.to_json(None)["error"]["kind"], "workload_required");

    let err = router
        .route(&Step::new("format").input_tokens(10).workload("billing"))
        .unwrap_err();
    assert_eq!(err.kind(), "unknown_workload");

    // The same step goes to different tiers under each workload.
    let step = Step::new("format").input_tokens(90_000);
    let cf = router.route(&step.clone().workload("code-fix")).unwrap();
    assert_eq!(
        (cf.policy(), cf.tier(), cf.rule()),
        ("code-fix", "standard", Some("large-diff"))
    );
    let cr = router.route(&step.workload("contract-review")).unwrap();
    assert_eq!(
        (cr.policy(), cr.tier(), cr.rule()),
        ("contract-review", "premium", Some("big-context"))
    );
}

#[test]
fn the_bundled_policies_pass_their_own_tests() {
    let set = PolicySet::load(policies_dir()).unwrap();
    let mut checked = 0;
    for cp in set.policies() {
        let p = &cp.policy();
        for t in p.tests() {
            let step = t.step.clone().workload(p.name());
            let got = set.route(&step);
            let what = format!("{}: {}", p.name(), t.name);
            if t.expect_rejected == Some(true) {
                assert!(got.is_err(), "{what}");
                continue;
            }
            let d = got.unwrap_or_else(|e| panic!("{what}: {e}"));
            if let Some(tier) = t.expect_tier {
                assert_eq!(d.tier_id(), tier, "{what}");
            }
            if let Some(rule) = t.expect_rule {
                assert_eq!(d.rule_index(), rule, "{what}");
            }
            checked += 1;
        }
    }
    assert!(checked >= 20, "only {checked} bundled tests");
}

// ---- guards --------------------------------------------------------------------------------

#[test]
fn a_guard_escalates_and_keeps_the_rule() {
    let router = Router::load(bundled("code-fix.toml")).unwrap();
    let step = Step::new("format")
        .input_tokens(1500)
        .expected_output_tokens(1400)
        .untrusted_input(true);
    let d = router.route(&step).unwrap();
    assert_eq!(d.tier(), "premium");
    assert_eq!(d.model().key, "claude-opus-4-6");
    assert_eq!(d.rule(), Some("formatting-cheap"));
    assert_eq!(d.via(), Via::Guard);
    assert_eq!(d.guard(), Some("untrusted-needs-tested-model"));
    // The estimate is at the escalated model's prices: 1,500 × $15 + 1,400 × $75.
    assert_usd(d.estimated_usd(), 0.1275);
    let j = d.to_json(None);
    assert_eq!(j["via"], "guard");
    assert_eq!(j["guard"], "untrusted-needs-tested-model");
    assert_eq!(j["rule"], "formatting-cheap");

    // With no rule matching, the rule stays null.
    let d = router
        .route(
            &Step::new("read_issue")
                .input_tokens(3000)
                .untrusted_input(true),
        )
        .unwrap();
    assert_eq!((d.tier(), d.rule(), d.via()), ("premium", None, Via::Guard));

    // A guard whose tier already qualifies changes nothing.
    let d = router
        .route(
            &Step::new("plan")
                .input_tokens(3000)
                .needs_chain_of_thought(true)
                .untrusted_input(true),
        )
        .unwrap();
    assert_eq!((d.tier(), d.via(), d.guard()), ("premium", Via::Rule, None));
}

const GUARDED: &str = r#"
[policy]
name = "guarded"
default_tier = "cheap"

[models.small]
provider = "mock"
input_usd_per_mtok = 1.0
output_usd_per_mtok = 2.0
capabilities = ["json_mode"]

[models.wide]
provider = "mock"
input_usd_per_mtok = 2.0
output_usd_per_mtok = 4.0
capabilities = ["long_context"]

[models.tested]
provider = "mock"
input_usd_per_mtok = 10.0
output_usd_per_mtok = 20.0
capabilities = ["json_mode", "long_context", "injection_tested"]

[tiers]
cheap = "small"
wide = "wide"
premium = "tested"

[[rules]]
name = "long"
when = { input_tokens = { gt = 10000 } }
tier = "wide"

[[guards]]
name = "json-needs-json-mode"
when = { output_must_be_json = true }
require = ["json_mode"]

[[guards]]
name = "untrusted-needs-tested-model"
when = { untrusted_input = true }
require = ["injection_tested"]
escalate_to = "premium"
"#;

#[test]
fn a_guard_without_escalate_to_rejects() {
    let set = inline(GUARDED);
    // The cheap model has json_mode: nothing to do.
    let d = set
        .route(&Step::new("x").input_tokens(100).output_must_be_json(true))
        .unwrap();
    assert_eq!(
        (d.tier(), d.via(), d.guard()),
        ("cheap", Via::Default, None)
    );

    // The wide model lacks it, and the guard has nowhere to send the step.
    let step = Step::new("x")
        .input_tokens(20_000)
        .output_must_be_json(true);
    let err = set.route(&step).unwrap_err();
    let RouteFailure::GuardRejected { guard, message } = err.failure() else {
        panic!("expected a guard rejection, got {err:?}");
    };
    assert_eq!(guard, "json-needs-json-mode");
    assert!(message.contains("json_mode"), "{message}");
    assert_eq!(err.kind(), "guard_rejected");
    let line = err.to_json(Some("t1"));
    assert_eq!(line["error"]["kind"], "guard_rejected");
    assert_eq!(line["error"]["guard"], "json-needs-json-mode");
    assert_eq!(line["trace_id"], "t1");

    // Guards run in file order: the rejecting guard comes before the one that would have
    // escalated to a model with json_mode.
    let err = set.route(&step.untrusted_input(true)).unwrap_err();
    assert!(
        matches!(err.failure(), RouteFailure::GuardRejected { guard, .. } if guard == "json-needs-json-mode"),
        "{err:?}"
    );

    // Escalation alone: the rule still names `long`.
    let d = set
        .route(&Step::new("x").input_tokens(20_000).untrusted_input(true))
        .unwrap();
    assert_eq!(
        (d.tier(), d.rule(), d.via(), d.guard()),
        (
            "premium",
            Some("long"),
            Via::Guard,
            Some("untrusted-needs-tested-model")
        )
    );
}

/// A guard that escalates every step keeps the rule that won. Here the first rule is dropped
/// by its tag (read on its own), and the next has a condition on another tag, which the step
/// lacks too: the rule that wins is the one after, with no conditions.
#[test]
fn a_guard_escalation_keeps_the_rule_the_tags_leave() {
    let set = inline(
        r#"
[policy]
name = "tags-then-guard"
default_tier = "cheap"
[models.small]
provider = "mock"
input_usd_per_mtok = 1.0
output_usd_per_mtok = 1.0
[models.tested]
provider = "mock"
input_usd_per_mtok = 2.0
output_usd_per_mtok = 2.0
capabilities = ["injection_tested"]
[tiers]
cheap = "small"
premium = "tested"
[[rules]]
name = "eu"
when = { tags = { jurisdiction = "EU" } }
tier = "cheap"
[[rules]]
name = "vip"
when = { tags = { vip = "EU" } }
tier = "cheap"
[[rules]]
name = "any"
tier = "cheap"
[[rules]]
name = "vip-again"
when = { tags = { vip = "EU" } }
tier = "cheap"
[[guards]]
name = "always-tested"
require = ["injection_tested"]
escalate_to = "premium"
"#,
    );
    let route = |s: Step| {
        let d = set.route(&s.input_tokens(1)).unwrap();
        (d.rule().map(String::from), d.tier().to_string(), d.via())
    };
    let escalated = |rule: &str| (Some(rule.to_string()), "premium".to_string(), Via::Guard);
    assert_eq!(route(Step::new("r")), escalated("any"));
    assert_eq!(route(Step::new("r").tag("vip", "EU")), escalated("vip"));
    assert_eq!(
        route(Step::new("r").tag("jurisdiction", "EU")),
        escalated("eu")
    );
    assert_eq!(
        route(Step::new("r").tag("jurisdiction", "UK").tag("vip", "US")),
        escalated("any")
    );
}

#[test]
fn a_guard_left_unsatisfied_by_a_later_escalation_rejects_after_the_pass() {
    let set = inline(
        r#"
[policy]
name = "pingpong"
default_tier = "base"
[models.plain]
provider = "mock"
input_usd_per_mtok = 1.0
output_usd_per_mtok = 1.0
[models.has-x]
provider = "mock"
input_usd_per_mtok = 1.0
output_usd_per_mtok = 1.0
capabilities = ["x"]
[models.has-y]
provider = "mock"
input_usd_per_mtok = 1.0
output_usd_per_mtok = 1.0
capabilities = ["y"]
[tiers]
base = "plain"
with-x = "has-x"
with-y = "has-y"
[[guards]]
name = "need-y"
when = { untrusted_input = true }
require = ["y"]
escalate_to = "with-y"
[[guards]]
name = "need-x"
require = ["x"]
escalate_to = "with-x"
"#,
    );
    // Trusted: only need-x applies (it has no `when`), and escalates.
    let d = set.route(&Step::new("r").input_tokens(1)).unwrap();
    assert_eq!(
        (d.tier(), d.via(), d.guard()),
        ("with-x", Via::Guard, Some("need-x"))
    );
    // Untrusted: need-y moves base → with-y, need-x moves with-y → with-x, which lacks y:
    // the first guard still unsatisfied rejects the step.
    let err = set
        .route(&Step::new("r").input_tokens(1).untrusted_input(true))
        .unwrap_err();
    assert!(
        matches!(err.failure(), RouteFailure::GuardRejected { guard, .. } if guard == "need-y"),
        "{err:?}"
    );
}

// ---- expression errors ---------------------------------------------------------------------

fn expression_policy(on_error: Option<&str>) -> PolicySet {
    let line = on_error.map_or(String::new(), |t| {
        format!("on_expression_error = \"{t}\"\n")
    });
    inline(&format!(
        r#"
[policy]
name = "exprs"
default_tier = "standard"
{line}
[models.m1]
provider = "mock"
input_usd_per_mtok = 1.0
output_usd_per_mtok = 1.0
[models.m2]
provider = "mock"
input_usd_per_mtok = 9.0
output_usd_per_mtok = 9.0
capabilities = ["injection_tested"]
[tiers]
cheap = "m1"
standard = "m1"
careful = "m2"

[[rules]]
name = "valuable"
when = {{ expr = "step.tags.value_usd > 1000" }}
tier = "careful"

[[rules]]
name = "not-a-test"
when = {{ role = "count", expr = "step.input_tokens + 1" }}
tier = "careful"

[[rules]]
name = "formatting"
when = {{ role = ["format", "count"] }}
tier = "cheap"

[[guards]]
name = "unreviewed-needs-tested"
when = {{ role = "review", expr = "step.tags.reviewed == false" }}
require = ["injection_tested"]
escalate_to = "careful"
"#
    ))
}

#[test]
fn a_failing_expression_is_skipped_by_default() {
    for on_error in [None, Some("skip")] {
        let set = expression_policy(on_error);
        let cp = set.policies()[0].clone();
        // A missing tag is a run-time error, not `false`: the rule is skipped.
        let d = set.route(&Step::new("format").input_tokens(10)).unwrap();
        assert_eq!(
            (d.tier(), d.rule(), d.via()),
            ("cheap", Some("formatting"), Via::Rule)
        );
        assert_eq!(cp.expression_errors(), 1);
        // A result that is not a bool is an error too.
        let d = set
            .route(&Step::new("count").input_tokens(10).tag("value_usd", 5i64))
            .unwrap();
        assert_eq!(d.rule(), Some("formatting"));
        assert_eq!(cp.expression_errors(), 2);
        // With the tag, the expression decides.
        let d = set
            .route(
                &Step::new("format")
                    .input_tokens(10)
                    .tag("value_usd", 5000i64),
            )
            .unwrap();
        assert_eq!(
            (d.tier(), d.rule(), d.via()),
            ("careful", Some("valuable"), Via::Rule)
        );
        let d = set
            .route(&Step::new("format").input_tokens(10).tag("value_usd", 999.5))
            .unwrap();
        assert_eq!(d.rule(), Some("formatting"));
        assert_eq!(cp.expression_errors(), 2);
    }
}

#[test]
fn a_failing_expression_routes_to_the_named_tier() {
    let set = expression_policy(Some("careful"));
    let cp = set.policies()[0].clone();
    let d = set
        .route(
            &Step::new("format")
                .input_tokens(10)
                .expected_output_tokens(10),
        )
        .unwrap();
    assert_eq!(d.tier(), "careful");
    assert_eq!(d.model().key, "m2");
    assert_eq!(d.rule(), Some("valuable"));
    assert_eq!(d.via(), Via::ExpressionError);
    assert_eq!(d.to_json(None)["via"], "expression_error");
    assert_usd(d.estimated_usd(), 180.0 / 1e6);
    assert_eq!(cp.expression_errors(), 1);

    let d = set
        .route(&Step::new("count").input_tokens(10).tag("value_usd", 1i64))
        .unwrap();
    assert_eq!(
        (d.rule(), d.via()),
        (Some("not-a-test"), Via::ExpressionError)
    );
    assert_eq!(cp.expression_errors(), 2);
}

#[test]
fn a_guard_whose_expression_fails_applies() {
    let set = expression_policy(None);
    let base = || Step::new("review").input_tokens(10).tag("value_usd", 1i64);
    // `reviewed` is missing: the guard fails closed and escalates.
    let d = set.route(&base()).unwrap();
    assert_eq!(
        (d.tier(), d.rule(), d.via(), d.guard()),
        ("careful", None, Via::Guard, Some("unreviewed-needs-tested"))
    );
    let d = set.route(&base().tag("reviewed", false)).unwrap();
    assert_eq!(d.guard(), Some("unreviewed-needs-tested"));
    let d = set.route(&base().tag("reviewed", true)).unwrap();
    assert_eq!(
        (d.tier(), d.via(), d.guard()),
        ("standard", Via::Default, None)
    );
}

#[test]
fn a_mixed_type_comparison_goes_to_on_expression_error() {
    let set = expression_policy(Some("careful"));
    let cp = set.policies()[0].clone();
    for value in [json!("2500000"), json!(true)] {
        let step = Step::from_value(&json!({
            "role": "format", "input_tokens": 10, "tags": { "value_usd": value }
        }))
        .unwrap();
        let d = set.route(&step).unwrap();
        assert_eq!(
            (d.tier(), d.rule(), d.via()),
            ("careful", Some("valuable"), Via::ExpressionError),
            "{value}"
        );
    }
    assert_eq!(cp.expression_errors(), 2);
}

#[test]
fn functions_outside_the_sandbox_are_refused_at_load() {
    for call in [
        "sleep(1000000000.0) == ()",
        "timestamp() == ()",
        "exit(1) == ()",
        "is_def_var(\"step\")",
        "step.role.sleep() == ()",
    ] {
        for allow in ["", "allow = [\"unknown-function\"]"] {
            let text = format!(
                "[policy]\nname = \"p\"\ndefault_tier = \"t\"\n{allow}\n[models.m]\nprovider = \"mock\"\ninput_usd_per_mtok = 1.0\noutput_usd_per_mtok = 1.0\n[tiers]\nt = \"m\"\n[[rules]]\nname = \"r\"\nwhen = {{ expr = \"{}\" }}\ntier = \"t\"\n",
                call.replace('"', "\\\"")
            );
            let e = PolicySet::from_policy_text(Path::new("inline.toml"), text.as_str())
                .err()
                .unwrap_or_else(|| panic!("{call} loaded"));
            let d = &e.diagnostics[0];
            assert_eq!(d.name, "unknown-function", "{call}");
            let (line, col) = d.line_col().unwrap();
            let at = &text.lines().nth(line - 1).unwrap()[col - 1..];
            let name = call.trim_start_matches("step.role.");
            assert!(
                at.starts_with(&name[..name.find('(').unwrap()]),
                "{call}: {at}"
            );
        }
    }
}

// ---- the context window ---------------------------------------------------------------------

fn window_policy(big_window: Option<u64>) -> PolicySet {
    let big = big_window.map_or(String::new(), |w| format!("context_window = {w}\n"));
    inline(&format!(
        r#"
[policy]
name = "windows"
default_tier = "small"

[models.small]
provider = "mock"
input_usd_per_mtok = 1.0
output_usd_per_mtok = 1.0
context_window = 1000
[models.tested-small]
provider = "mock"
input_usd_per_mtok = 1.5
output_usd_per_mtok = 1.0
context_window = 1000
capabilities = ["injection_tested"]
[models.mid-b]
provider = "mock"
input_usd_per_mtok = 2.0
output_usd_per_mtok = 3.0
context_window = 5000
[models.mid-a]
provider = "mock"
input_usd_per_mtok = 2.0
output_usd_per_mtok = 2.0
context_window = 5000
[models.big]
provider = "mock"
input_usd_per_mtok = 5.0
output_usd_per_mtok = 5.0
capabilities = ["injection_tested"]
{big}
[tiers]
big = "big"
small = "small"
mid-b = "mid-b"
mid-a = "mid-a"
tested = "tested-small"

[[rules]]
name = "plans-are-small"
when = {{ role = "plan" }}
tier = "small"

[[guards]]
name = "untrusted-needs-tested"
when = {{ untrusted_input = true }}
require = ["injection_tested"]
escalate_to = "tested"
"#
    ))
}

#[test]
fn a_step_that_fits_keeps_its_tier() {
    let set = window_policy(None);
    let d = set
        .route(
            &Step::new("plan")
                .input_tokens(800)
                .expected_output_tokens(200),
        )
        .unwrap();
    assert_eq!((d.tier(), d.via()), ("small", Via::Rule));
}

#[test]
fn a_step_too_big_moves_to_the_cheapest_tier_that_fits() {
    let set = window_policy(None);
    // 900 in + 200 out overflow small's 1000: mid-a and mid-b cost the same per input token,
    // mid-a less per output token.
    let d = set
        .route(
            &Step::new("plan")
                .input_tokens(900)
                .expected_output_tokens(200),
        )
        .unwrap();
    assert_eq!(
        (
            d.tier(),
            d.model().key.as_str(),
            d.rule(),
            d.via(),
            d.guard()
        ),
        (
            "mid-a",
            "mid-a",
            Some("plans-are-small"),
            Via::ContextWindow,
            None
        )
    );
    assert_eq!(d.to_json(None)["via"], "context_window");
    assert_usd(d.estimated_usd(), (900.0 * 2.0 + 200.0 * 2.0) / 1e6);
    // Without expected output only the input counts.
    let d = set.route(&Step::new("plan").input_tokens(1000)).unwrap();
    assert_eq!(d.tier(), "small");
    // Too big for every window but big's, which has none.
    let d = set
        .route(&Step::new("format").input_tokens(711_792))
        .unwrap();
    assert_eq!(
        (d.tier(), d.rule(), d.via()),
        ("big", None, Via::ContextWindow)
    );
}

#[test]
fn the_tier_a_step_moves_to_meets_every_guard_that_holds() {
    let set = window_policy(None);
    let d = set
        .route(&Step::new("plan").input_tokens(500).untrusted_input(true))
        .unwrap();
    assert_eq!((d.tier(), d.via()), ("tested", Via::Guard));
    // Too big for `tested`: the mid tiers fit but lack injection_tested; big has it.
    let d = set
        .route(&Step::new("plan").input_tokens(2000).untrusted_input(true))
        .unwrap();
    assert_eq!(
        (d.tier(), d.rule(), d.via(), d.guard()),
        (
            "big",
            Some("plans-are-small"),
            Via::ContextWindow,
            Some("untrusted-needs-tested")
        )
    );
}

#[test]
fn a_step_no_model_can_take_is_rejected() {
    let set = window_policy(Some(100_000));
    let e = set
        .route(
            &Step::new("plan")
                .input_tokens(99_000)
                .expected_output_tokens(2000),
        )
        .unwrap_err();
    assert_eq!(e.kind(), "context_window_exceeded");
    assert!(e.to_string().contains("101000 tokens"), "{e}");
    assert_eq!(e.to_json(None)["error"]["kind"], "context_window_exceeded");
    // Explain says why, and so does a step that moved.
    let ex = set.explain(
        &Step::new("plan")
            .input_tokens(99_000)
            .expected_output_tokens(2000),
    );
    let last = ex.checks.last().unwrap();
    assert_eq!(last.kind, CheckKind::ContextWindow);
    let ex = set.explain(&Step::new("plan").input_tokens(2000));
    let last = ex.checks.last().unwrap();
    assert_eq!(last.kind, CheckKind::ContextWindow);
    assert!(
        last.detail.contains("moved to tier `mid-a`"),
        "{}",
        last.detail
    );
}

// ---- replacing the policy set --------------------------------------------------------------

fn versioned(format_tier: &str) -> String {
    format!(
        r#"
[policy]
name = "live"
default_tier = "cheap"
[models.a]
provider = "mock"
input_usd_per_mtok = 1.0
output_usd_per_mtok = 1.0
[models.b]
provider = "mock"
input_usd_per_mtok = 5.0
output_usd_per_mtok = 5.0
[tiers]
cheap = "a"
premium = "b"
[[rules]]
name = "formatting"
when = {{ role = "format" }}
tier = "{format_tier}"
"#
    )
}

#[test]
fn replace_swaps_the_policy_set() {
    let v1 = versioned("cheap");
    let v2 = versioned("premium");
    let router = Router::new(inline(&v1));
    let step = Step::new("format").input_tokens(100);

    let before = router.route(&step).unwrap();
    assert_eq!(
        (before.tier(), before.policy_version()),
        ("cheap", version_of_text(&v1).as_str())
    );
    let held = router.current();

    let old = router.replace(inline(&v2));
    assert_eq!(old.policies()[0].version(), version_of_text(&v1));
    assert!(std::sync::Arc::ptr_eq(&old, &held));

    let after = router.route(&step).unwrap();
    assert_eq!(after.tier(), "premium");
    assert_eq!(after.policy_version(), version_of_text(&v2));
    assert_eq!(
        router.current().policies()[0].version(),
        version_of_text(&v2)
    );
    // Decisions already made, and a set held from before, stay on the old version.
    assert_eq!(before.policy_version(), version_of_text(&v1));
    assert_eq!(held.route(&step).unwrap().tier(), "cheap");
}

// ---- explain -------------------------------------------------------------------------------

#[test]
fn explain_names_the_failing_condition_and_stops_at_the_winner() {
    let router = contract_review();
    let step = Step::new("summarize").input_tokens(8000);
    let ex = router.explain(&step);
    let d = ex.result.as_ref().unwrap();
    assert_eq!(d.rule(), Some("summaries-standard"));
    assert_eq!(ex.input_tokens, Some(8000));

    let rules: Vec<_> = ex
        .checks
        .iter()
        .filter(|c| c.kind != CheckKind::Guard)
        .collect();
    let names: Vec<&str> = rules.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "untrusted-input",
            "long-chain",
            "big-context",
            "chain-of-thought",
            "high-value-eu-uk",
            "summaries-standard",
        ],
        "every rule up to the winner, and none after it"
    );
    let held: Vec<bool> = rules.iter().map(|c| c.held).collect();
    assert_eq!(held, [false, false, false, false, false, true]);
    // Each failed rule names its failing condition and the step's value.
    for (check, words) in rules.iter().zip([
        &["untrusted_input", "false"][..],
        &["dependent_tool_calls", "0"],
        &["input_tokens", "8000"],
        &["needs_chain_of_thought", "false"],
        &["role", "summarize"],
        &["standard"],
    ]) {
        for w in words {
            assert!(
                check.detail.contains(w),
                "{}: {:?} lacks {w:?}",
                check.name,
                check.detail
            );
        }
    }
    let guards: Vec<_> = ex
        .checks
        .iter()
        .filter(|c| c.kind == CheckKind::Guard)
        .collect();
    assert_eq!(guards.len(), 1);
    assert_eq!(guards[0].name, "untrusted-needs-tested-model");
    assert!(!guards[0].held);

    // The cost on every tier.
    let tiers: Vec<&str> = ex.tier_costs.iter().map(|(t, _, _)| t.as_str()).collect();
    assert_eq!(tiers, ["cheap", "standard", "premium"]);
    assert!(ex.tier_costs.iter().all(|(_, _, usd)| usd.is_none()));
}

#[test]
fn explain_walks_every_rule_before_the_default() {
    let router = contract_review();
    let step = Step::new("reason")
        .input_tokens(6000)
        .expected_output_tokens(1000)
        .tag("jurisdiction", "EU");
    let ex = router.explain(&step);
    let d = ex.result.as_ref().unwrap();
    assert_eq!((d.rule(), d.via()), (None, Via::Default));
    let rules: Vec<_> = ex
        .checks
        .iter()
        .filter(|c| c.kind != CheckKind::Guard)
        .collect();
    let names: Vec<&str> = rules.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "untrusted-input",
            "long-chain",
            "big-context",
            "chain-of-thought",
            "high-value-eu-uk",
            "summaries-standard",
            "cheap-roles",
            "default",
        ]
    );
    assert!(rules.iter().rev().skip(1).all(|c| !c.held));
    assert!(rules.last().unwrap().held);
    // The static conditions of high-value-eu-uk hold; its expression is what fails.
    let hv = rules.iter().find(|c| c.name == "high-value-eu-uk").unwrap();
    assert!(hv.detail.contains("contract_value_usd"), "{}", hv.detail);
    assert!(hv.detail.contains("false"), "{}", hv.detail);
    let costs: Vec<Option<f64>> = ex.tier_costs.iter().map(|(_, _, usd)| *usd).collect();
    // 6,000 in, 1,000 out on each tier's model.
    let want = [0.011, 0.025, 0.165];
    for (got, want) in costs.iter().zip(want) {
        assert_usd(*got, want);
    }
}

#[test]
fn explain_reports_a_step_for_no_policy() {
    let router = contract_review();
    let ex = router.explain(&Step::new("x").input_tokens(1).workload("nope"));
    assert_eq!(ex.result.unwrap_err().kind(), "unknown_workload");
    assert!(ex.checks.is_empty());
    assert_eq!(ex.input_tokens, None);
}

#[test]
fn the_example_steps_all_route() {
    let router = Router::load(policies_dir()).unwrap();
    let text =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/steps.jsonl"))
            .unwrap();
    let mut lines = 0;
    for line in text.lines() {
        let step = Step::from_json(line).unwrap();
        let d = router
            .route(&step)
            .unwrap_or_else(|e| panic!("{line}: {e}"));
        let j = d.to_json(step.trace_id.as_deref());
        assert_eq!(j["policy"], json!(step.workload.as_deref().unwrap()));
        assert_eq!(j["trace_id"], json!(step.trace_id.as_deref().unwrap()));
        lines += 1;
    }
    assert!(lines > 10);
}
