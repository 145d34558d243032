//! `switchyard run`: the agent loop, offline. Each step (JSONL) is routed, held against the
//! policy's budget and sent to the mock provider; each call's tier, model and cost is
//! printed, the records are appended to `--log`, and the total is compared with sending
//! every step to its policy's most expensive tier.

use std::collections::BTreeMap;
use std::io::{self, BufRead, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Args;

use crate::calllog::CallRecord;
use crate::clients::{Clients, MockClient, ModelRequest};
use crate::money::PicosPerToken;
use crate::router::{PolicySet, RouteError};
use crate::runner::{JsonlSink, RunError, Runner};
use crate::step::{Step, StepError};

/// Arguments of `switchyard run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// A policy file, or a directory of policies (a policy set).
    #[arg(long, short = 'p', value_name = "PATH")]
    pub policy: PathBuf,
    /// Steps as JSON lines; `-` or nothing reads stdin.
    #[arg(value_name = "STEPS")]
    pub steps: Option<PathBuf>,
    /// Append one call record (JSON) per call to this file.
    #[arg(long, value_name = "FILE")]
    pub log: Option<PathBuf>,
}

pub(super) fn run(args: RunArgs) -> ExitCode {
    let router = match super::load_router(&args.policy) {
        Ok(r) => r,
        Err(code) => return code,
    };
    let input = match super::open_input(args.steps.as_deref(), "a file of steps") {
        Ok(i) => i,
        Err(code) => return code,
    };
    // Every model is served by the mock here, whatever its provider: nothing leaves the machine.
    let mut runner = Runner::new(router, Clients::all(Arc::new(MockClient::new())));
    if let Some(path) = &args.log {
        match JsonlSink::append(path) {
            Ok(sink) => runner = runner.with_sink(Arc::new(sink)),
            Err(e) => {
                eprintln!("error: cannot open the call log {}: {e}", path.display());
                return ExitCode::from(super::USAGE);
            }
        }
    }
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(super::PROBLEM);
        }
    };
    let set = runner.router().current();
    let mut out = io::stdout().lock();
    match rt.block_on(run_all(&runner, &set, input, &mut out)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(super::USAGE)
        }
    }
}

/// Runs every line, printing a row per line and the summary.
async fn run_all(
    runner: &Runner,
    set: &PolicySet,
    input: Box<dyn BufRead>,
    out: &mut impl Write,
) -> io::Result<()> {
    writeln!(
        out,
        "{:>4}  {:<10}  {:<9}  {:<18}  {:>7}  {:>6}  {:>10}  rule (via)",
        "line", "trace", "tier", "model", "in", "out", "cost $"
    )?;
    let mut records: Vec<CallRecord> = Vec::new();
    let mut lines = 0usize;
    for (n, line) in input.split(b'\n').enumerate() {
        let line = line.map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("reading steps failed after line {n}: {e}"),
            )
        })?;
        lines += 1;
        let text = String::from_utf8_lossy(&line);
        let text = text.strip_suffix('\r').unwrap_or(&text);
        let line_no = n + 1;
        let step = match Step::from_json(text) {
            Ok(s) => s,
            Err(e) => {
                let err = RunError::Route(RouteError::InvalidStep(StepError {
                    message: format!("line {line_no}: {}", e.message),
                }));
                error_row(out, line_no, None, &err)?;
                continue;
            }
        };
        // The mock simulates a reply of the step's expected size (none given: no output).
        let request =
            ModelRequest::default().max_output_tokens(step.expected_output_tokens.unwrap_or(0));
        match runner.run_step(&step, request).await {
            Ok(done) => {
                let r = &done.record;
                let rule = r.rule.as_deref().unwrap_or("default");
                writeln!(
                    out,
                    "{line_no:>4}  {:<10}  {:<9}  {:<18}  {:>7}  {:>6}  {:>10.6}  {rule} ({}{})",
                    r.trace_id.as_deref().unwrap_or("-"),
                    r.tier,
                    r.model,
                    r.input_tokens,
                    r.output_tokens,
                    r.cost_usd,
                    r.via,
                    r.guard
                        .as_deref()
                        .map(|g| format!(" `{g}`"))
                        .unwrap_or_default(),
                )?;
                records.push(done.record);
            }
            Err(e) => error_row(out, line_no, step.trace_id.as_deref(), &e)?,
        }
    }
    summary(out, set, &records, lines)
}

fn error_row(
    out: &mut impl Write,
    line_no: usize,
    trace: Option<&str>,
    e: &RunError,
) -> io::Result<()> {
    writeln!(
        out,
        "{line_no:>4}  {:<10}  not run ({}): {e}",
        trace.unwrap_or("-"),
        e.kind()
    )
}

/// Totals: as run, and with every call on its policy's most expensive tier (the tier whose
/// prices cost the most for that policy's calls, at their token counts).
fn summary(
    out: &mut impl Write,
    set: &PolicySet,
    records: &[CallRecord],
    lines: usize,
) -> io::Result<()> {
    writeln!(out)?;
    let failed = lines - records.len();
    writeln!(
        out,
        "ran {} of {lines} steps{}",
        records.len(),
        if failed > 0 {
            format!(" ({failed} not run: see their lines)")
        } else {
            String::new()
        }
    )?;
    if records.is_empty() {
        return Ok(());
    }
    let total: u128 = records.iter().map(|r| r.cost.0 as u128).sum();
    let mut by_policy: BTreeMap<&str, Vec<&CallRecord>> = BTreeMap::new();
    for r in records {
        by_policy.entry(&r.policy).or_default().push(r);
    }
    let mut baseline: u128 = 0;
    let mut tops = Vec::new();
    for (name, calls) in &by_policy {
        let Some(cp) = set.get(name) else { continue };
        let p = &cp.policy;
        let best = (0..p.tiers.len())
            .map(|t| {
                let m = p.tier_model(t);
                let (i, o) = (
                    PicosPerToken::from_usd_per_mtok(m.input_usd_per_mtok),
                    PicosPerToken::from_usd_per_mtok(m.output_usd_per_mtok),
                );
                let sum: u128 = calls
                    .iter()
                    .map(|r| {
                        i.cost(r.input_tokens)
                            .saturating_add(o.cost(r.output_tokens))
                            .0 as u128
                    })
                    .sum();
                (sum, t)
            })
            .max();
        if let Some((sum, t)) = best {
            baseline += sum;
            tops.push(format!("{name}: `{}`", p.tiers[t].name));
        }
    }
    let usd = |p: u128| p as f64 / crate::money::PICOS_PER_USD as f64;
    writeln!(out, "  as routed:                       ${:.6}", usd(total))?;
    writeln!(
        out,
        "  all on the most expensive tier:  ${:.6}  ({})",
        usd(baseline),
        tops.join(", ")
    )?;
    if total > 0 && baseline >= total {
        writeln!(
            out,
            "  saving:                          ${:.6} ({:.1}× cheaper, {:.0}% less)",
            usd(baseline - total),
            baseline as f64 / total as f64,
            (1.0 - total as f64 / baseline as f64) * 100.0
        )?;
    }
    Ok(())
}
