//! An offline contract-review agent loop: twenty steps routed through
//! `policies/contract-review.toml`, printed as a table, with the total cost compared to
//! sending every step to the policy's most expensive tier.
//!
//! ```text
//! cargo run --example agent_loop
//! cargo run --example agent_loop -- path/to/another-policy.toml
//! ```
//!
//! Nothing is called: each step is routed and its cost estimated from the model prices in
//! the policy. Exits 1 only when the policy does not load; a step that cannot be routed is
//! printed in its row and the loop goes on.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use switchyard::{Decision, Router, Step};

/// The policy's workload; the agent names it on every step, as it would in a policy set.
const WORKLOAD: &str = "contract-review";

fn main() -> ExitCode {
    // Default to the bundled policy wherever `cargo run` is started from.
    let path = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("policies/contract-review.toml")
        });
    let router = match Router::load(&path) {
        Ok(r) => r,
        Err(e) => {
            let color = std::io::stderr().is_terminal();
            for d in &e.diagnostics {
                eprint!("{}", d.render(color));
            }
            eprintln!("error: {} did not load", path.display());
            return ExitCode::FAILURE;
        }
    };

    let steps = agent_steps();
    println!(
        "{:>2}  {:<9}  {:<8}  {:<18}  {:<15}  {:>9}  step",
        "#", "role", "tier", "rule", "model", "est. $"
    );
    let mut routed: Vec<(&Step, Decision)> = Vec::new();
    for (i, (what, step)) in steps.iter().enumerate() {
        match router.route(step) {
            Ok(d) => {
                println!(
                    "{:>2}  {:<9}  {:<8}  {:<18}  {:<15}  {:>9}  {what}",
                    i + 1,
                    step.role,
                    d.tier(),
                    d.rule().unwrap_or("default"),
                    d.model().key,
                    d.estimated_usd()
                        .map_or_else(|| "-".to_string(), |usd| format!("{usd:.5}")),
                );
                routed.push((step, d));
            }
            Err(e) => println!(
                "{:>2}  {:<9}  not routed ({}): {e}  [{what}]",
                i + 1,
                step.role,
                e.kind()
            ),
        }
    }

    let Some((_, first)) = routed.first() else {
        println!("\nno step was routed, so there is nothing to total");
        return ExitCode::SUCCESS;
    };
    // Every step here gives expected_output_tokens, so every routed step has an estimate.
    let total: f64 = routed.iter().filter_map(|(_, d)| d.estimated_usd()).sum();

    // The baseline: the same steps, all on the tier whose model costs the most for them.
    let policy = &first.compiled_policy().policy();
    let cost_on = |tier: usize| -> f64 {
        let model = policy.tier_model(tier);
        routed
            .iter()
            .map(|(step, d)| {
                model.cost_usd(d.input_tokens(), step.expected_output_tokens.unwrap_or(0))
            })
            .sum()
    };
    // A policy has at least one tier, so the fallback is never used.
    let (top, baseline) = (0..policy.tiers().len())
        .map(|t| (t, cost_on(t)))
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .unwrap_or((policy.default_tier(), 0.0));

    println!();
    println!(
        "routed {} of {} steps under {} (version {})",
        routed.len(),
        steps.len(),
        first.policy(),
        first.policy_version()
    );
    let all_on = format!(
        "all on `{}` ({}):",
        policy.tiers()[top].name(),
        policy.tier_model(top).key
    );
    let w = all_on.len();
    println!("  {:<w$} ${total:.4}", "as routed:");
    println!("  {all_on} ${baseline:.4}");
    if total > 0.0 {
        println!(
            "  {:<w$} ${:.4} ({:.1}× cheaper, {:.0}% less)",
            "saving:",
            baseline - total,
            baseline / total,
            (1.0 - total / baseline) * 100.0
        );
    }
    ExitCode::SUCCESS
}

/// One review session, in the order the agent runs it: a short description and the step.
fn agent_steps() -> Vec<(&'static str, Step)> {
    let step = |role: &str| Step::new(role).workload(WORKLOAD);
    vec![
        (
            "read the counterparty's cover email",
            step("extract")
                .input_tokens(3_500)
                .expected_output_tokens(400)
                .untrusted_input(true),
        ),
        (
            "parties, dates and governing law as JSON",
            step("extract")
                .input_tokens(9_000)
                .expected_output_tokens(500)
                .output_must_be_json(true),
        ),
        (
            "what kind of agreement is this?",
            step("classify")
                .input_tokens(2_000)
                .expected_output_tokens(20),
        ),
        (
            "plan the review",
            step("plan").input_tokens(4_500).expected_output_tokens(600),
        ),
        (
            "summarize the termination clause (prompt counted)",
            step("summarize")
                .prompt(
                    "Summarize the termination clause: either party may terminate this \
                     Agreement on ninety (90) days' written notice, provided that all \
                     undisputed fees accrued up to the termination date remain payable.",
                )
                .expected_output_tokens(120),
        ),
        // A dependent chain: each call follows a cross-reference the previous one found.
        // The policy sends the chain premium from its eighth dependent call on.
        (
            "chain: look up \"Confidential Information\"",
            step("tool_call")
                .input_tokens(2_500)
                .expected_output_tokens(150)
                .output_must_be_json(true)
                .dependent_tool_calls(4),
        ),
        (
            "chain: follow the xref to clause 14.2",
            step("tool_call")
                .input_tokens(2_800)
                .expected_output_tokens(150)
                .output_must_be_json(true)
                .dependent_tool_calls(5),
        ),
        (
            "chain: follow the xref to schedule 3",
            step("tool_call")
                .input_tokens(3_100)
                .expected_output_tokens(150)
                .output_must_be_json(true)
                .dependent_tool_calls(6),
        ),
        (
            "chain: fetch the data-processing annex",
            step("tool_call")
                .input_tokens(3_400)
                .expected_output_tokens(150)
                .output_must_be_json(true)
                .dependent_tool_calls(7),
        ),
        (
            "chain: fetch the sub-processor list",
            step("tool_call")
                .input_tokens(3_700)
                .expected_output_tokens(150)
                .output_must_be_json(true)
                .dependent_tool_calls(8),
        ),
        (
            "chain: does the definition leak data?",
            step("reason")
                .input_tokens(5_000)
                .expected_output_tokens(700)
                .dependent_tool_calls(9),
        ),
        (
            "summarize the whole agreement + schedules",
            step("summarize")
                .input_tokens(52_000)
                .expected_output_tokens(1_800),
        ),
        // The expression rule: reasoning on an EU deal above $1M goes premium.
        (
            "liability cap on a $3.2M EU deal",
            step("reason")
                .input_tokens(7_000)
                .expected_output_tokens(900)
                .tag("jurisdiction", "EU")
                .tag("contract_value_usd", 3_200_000),
        ),
        (
            "liability cap on a $400k UK side letter",
            step("reason")
                .input_tokens(6_000)
                .expected_output_tokens(800)
                .tag("jurisdiction", "UK")
                .tag("contract_value_usd", 400_000),
        ),
        (
            "how indemnity and the cap interact",
            step("reason")
                .input_tokens(8_000)
                .expected_output_tokens(2_000)
                .needs_chain_of_thought(true),
        ),
        (
            "read the counterparty's uploaded redline",
            step("extract")
                .input_tokens(12_000)
                .expected_output_tokens(800)
                .untrusted_input(true),
        ),
        (
            "summarize the changed sections",
            step("summarize")
                .input_tokens(6_000)
                .expected_output_tokens(500),
        ),
        (
            "risk table as markdown",
            step("format")
                .input_tokens(2_500)
                .expected_output_tokens(1_200),
        ),
        (
            "final review memo",
            step("format")
                .input_tokens(3_000)
                .expected_output_tokens(2_000),
        ),
        // A step meant for another workload: this router serves only contract-review, so
        // it comes back as an error, not a guess.
        (
            "hand a fix to the code-fix agent",
            Step::new("edit")
                .workload("code-fix")
                .input_tokens(4_000)
                .expected_output_tokens(1_200),
        ),
    ]
}
