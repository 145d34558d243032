//! `switchyard explain`: one step's decision written for a person — each rule checked and the
//! condition that failed, the guards, the winner, and what the step would cost on each tier.

use std::io::{IsTerminal, Read};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use crate::router::{CheckKind, Explanation};
use crate::step::Step;

/// Arguments of `switchyard explain`.
#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// A policy file, or a directory of policies (a policy set).
    #[arg(long, short = 'p', value_name = "PATH")]
    pub policy: PathBuf,
    /// The step as a JSON object; `-` reads it from stdin.
    #[arg(value_name = "STEP_JSON")]
    pub step: String,
}

pub(super) fn run(args: ExplainArgs) -> ExitCode {
    let router = match super::load_router(&args.policy) {
        Ok(r) => r,
        Err(code) => return code,
    };
    let text = if args.step == "-" {
        let stdin = std::io::stdin();
        super::notice_if_terminal(stdin.is_terminal(), "a step");
        // One step is one line's worth: a larger stdin is refused, not read to the end.
        let max = crate::lines::DEFAULT_MAX_LINE_BYTES;
        let mut s = String::new();
        if let Err(e) = stdin.lock().take(max as u64 + 1).read_to_string(&mut s) {
            eprintln!("error: cannot read the step from stdin: {e}");
            return ExitCode::from(super::USAGE);
        }
        if s.len() > max {
            eprintln!("error: the step on stdin is longer than {max} bytes");
            return ExitCode::from(super::USAGE);
        }
        s
    } else {
        args.step.clone()
    };
    let step = match Step::from_json(text.trim()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: the step is not valid: {e}");
            return ExitCode::from(super::USAGE);
        }
    };
    let ex = router.explain(&step);
    print!("{}", render(&step, &ex));
    match &ex.result {
        // No policy serves the step: the work found a problem.
        Err(_) if ex.checks.is_empty() => ExitCode::from(super::PROBLEM),
        _ => ExitCode::SUCCESS,
    }
}

/// The explanation as text for a terminal.
pub fn render(step: &Step, ex: &Explanation) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let _ = writeln!(out, "step     {step}");
    let decision = match &ex.result {
        Ok(d) => d,
        Err(e) if ex.checks.is_empty() => {
            let _ = writeln!(out, "result   not routed ({}): {e}", e.kind());
            return out;
        }
        // Rejected by a guard: the trace below says which and why.
        Err(_) => return render_trace(out, step, ex),
    };
    let _ = writeln!(
        out,
        "policy   {} (version {}), input tokens {}",
        decision.policy(),
        decision.policy_version(),
        decision.input_tokens()
    );
    render_trace(out, step, ex)
}

fn render_trace(mut out: String, step: &Step, ex: &Explanation) -> String {
    use std::fmt::Write;
    let width = ex.checks.iter().map(|c| c.name.len()).max().unwrap_or(0);
    let _ = writeln!(out, "\nrules, in order (the first that holds wins):");
    for c in ex
        .checks
        .iter()
        .filter(|c| matches!(c.kind, CheckKind::Rule | CheckKind::Default))
    {
        let mark = if c.held { "✓" } else { "✗" };
        let _ = writeln!(out, "  {mark} {:width$}  {}", c.name, c.detail);
    }
    let guards: Vec<_> = ex
        .checks
        .iter()
        .filter(|c| c.kind == CheckKind::Guard)
        .collect();
    if !guards.is_empty() {
        let _ = writeln!(out, "\nguards:");
        for c in guards {
            let mark = if c.held { "!" } else { "-" };
            let _ = writeln!(out, "  {mark} {:width$}  {}", c.name, c.detail);
        }
    }
    for c in ex
        .checks
        .iter()
        .filter(|c| c.kind == CheckKind::ContextWindow)
    {
        let _ = writeln!(out, "\ncontext window:\n  ! {}", c.detail);
    }
    let _ = writeln!(out);
    match &ex.result {
        Ok(d) => {
            let _ = writeln!(
                out,
                "decision tier `{}` → model `{}` ({}, via {}{})",
                d.tier(),
                d.model().key,
                d.rule()
                    .map_or("no rule matched".to_string(), |r| format!("rule {r}")),
                d.via(),
                d.guard()
                    .map(|g| format!(", guard {g}"))
                    .unwrap_or_default()
            );
        }
        Err(e) => {
            let _ = writeln!(out, "decision rejected ({}): {e}", e.kind());
        }
    }
    if let Some(out_tokens) = step.expected_output_tokens {
        let _ = writeln!(
            out,
            "\nestimated cost by tier ({} in / {out_tokens} out):",
            ex.input_tokens.unwrap_or(0)
        );
        let chosen = ex.result.as_ref().ok().map(|d| d.tier().to_string());
        let tw = ex.tier_costs.iter().map(|t| t.0.len()).max().unwrap_or(0);
        let mw = ex.tier_costs.iter().map(|t| t.1.len()).max().unwrap_or(0);
        for (tier, model, usd) in &ex.tier_costs {
            let here = if chosen.as_deref() == Some(tier) {
                "  ← chosen"
            } else {
                ""
            };
            let _ = writeln!(
                out,
                "  {tier:tw$}  {model:mw$}  ${:.6}{here}",
                usd.unwrap_or(0.0)
            );
        }
    } else {
        let _ = writeln!(
            out,
            "\n(give expected_output_tokens to see the cost on each tier)"
        );
    }
    out
}
