//! `switchyard run`: the agent loop. Each step (JSONL) is routed, held against the
//! policy's budget and sent to the mock provider (offline), or with `--live` to the
//! providers the policy names; each call's tier, model and cost is printed, the records are appended to `--log`, and the total is compared with sending
//! every step to its policy's most expensive tier ([`crate::runner::RunTotals`]).

use std::io::{self, BufRead, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Args;

use super::report::visible;
use crate::calllog::report::format_usd;
use crate::clients::{ChatRequest, Clients, MockClient, Part, SizeHints};
use crate::lines::{Line, Lines, DEFAULT_MAX_LINE_BYTES};
use crate::router::PolicySet;
use crate::runner::budget::Store;
use crate::runner::{JsonlSink, RunError, RunTotals, Runner, StepOutput};
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
    /// The longest step line read; a longer one is an error row and the run goes on.
    #[arg(long, value_name = "BYTES", default_value_t = DEFAULT_MAX_LINE_BYTES)]
    pub max_line_bytes: usize,
    /// Call the providers the policy names (keys from each model's `api_key_env`); without
    /// it every model is served offline by the mock.
    #[arg(long)]
    pub live: bool,
    /// Where budgets are held (docs/fleet.md).
    #[command(flatten)]
    pub budget: super::budget::BudgetStoreArgs,
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
    let clients = if args.live {
        match Clients::live(&router.current()) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(super::PROBLEM);
            }
        }
    } else {
        // Every model is served by the mock, whatever its provider: nothing leaves the machine.
        Clients::all(Arc::new(MockClient::new()))
    };
    let mut runner = Runner::new(router, clients);
    if let Some(path) = &args.log {
        match JsonlSink::append(path) {
            Ok(sink) => runner = runner.with_sink(Arc::new(sink)),
            Err(e) => {
                eprintln!("error: cannot open the call log {}: {e}", path.display());
                return ExitCode::from(super::USAGE);
            }
        }
    }
    // Time for the mock's latency and budgets, I/O for the live clients' sockets.
    let rt = match super::current_thread_runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    // A Redis store connects on first use, from inside the runtime.
    match rt.block_on(async { Store::open(&args.budget.options()) }) {
        Ok(s) => runner = runner.with_budget_store(Arc::new(s)),
        Err(e) => {
            eprintln!("error: invalid --budget-store: {e}");
            return ExitCode::from(super::USAGE);
        }
    }
    let set = runner.router().current();
    let mut out = io::stdout().lock();
    let lines = Lines::with_max(input, args.max_line_bytes);
    let result = rt.block_on(async {
        let r = run_all(&runner, &set, lines, &mut out).await;
        runner
            .budget_store()
            .wait_settled(std::time::Duration::from_secs(10))
            .await;
        r
    });
    // Every record is written (or known lost) before the command says how it went.
    let flushed = runner.flush();
    match (result, flushed) {
        (Err(Stop::NotRecorded(e)), _) => {
            eprintln!("error: {e}; the run stopped");
            ExitCode::from(super::USAGE)
        }
        (_, Err(e)) => {
            eprintln!("error: {e}");
            ExitCode::from(super::USAGE)
        }
        (Ok(()), Ok(())) => ExitCode::SUCCESS,
        (Err(Stop::Output(e)), Ok(())) if e.kind() == io::ErrorKind::BrokenPipe => {
            ExitCode::SUCCESS
        }
        (Err(Stop::Output(e)), Ok(())) => {
            eprintln!("error: {e}");
            ExitCode::from(super::USAGE)
        }
    }
}

/// Why a run ended early.
enum Stop {
    /// The steps could not be read, or the table could not be written.
    Output(io::Error),
    /// A call record could not be written: the run stops rather than make calls nobody logs.
    NotRecorded(String),
}

impl From<io::Error> for Stop {
    fn from(e: io::Error) -> Stop {
        Stop::Output(e)
    }
}

/// Runs every line, printing a row per line and the summary.
async fn run_all(
    runner: &Runner,
    set: &PolicySet,
    mut input: Lines<Box<dyn BufRead>>,
    out: &mut impl Write,
) -> Result<(), Stop> {
    writeln!(
        out,
        "{:>4}  {:<10}  {:<9}  {:<18}  {:>7}  {:>6}  {:>10}  rule (via)",
        "line", "trace", "tier", "model", "in", "out", "cost $"
    )?;
    let mut totals = RunTotals::new();
    let mut lines = 0u64;
    let max = input.max_line_bytes();
    loop {
        let (line_no, step) = match input.next_line() {
            Ok(None) => break,
            Ok(Some((n, line))) => (n, read_step(n, line, max)),
            Err(e) => {
                return Err(Stop::Output(io::Error::new(
                    e.kind(),
                    format!("reading steps failed after line {lines}: {e}"),
                )))
            }
        };
        lines += 1;
        let (step, sent) = match step {
            Ok(s) => s,
            Err(e) => {
                error_row(out, line_no, None, &RunError::Route(e.into()))?;
                continue;
            }
        };
        let (request, hints) = request(&step, sent);
        match runner.run_step_with(&step, request, hints).await {
            Ok(done) => {
                call_row(out, line_no, &done)?;
                totals.add(&done.record);
            }
            Err(RunError::NotRecorded { output, error }) => {
                call_row(out, line_no, &output)?;
                totals.add(&output.record);
                summary(out, set, &totals, lines)?;
                return Err(Stop::NotRecorded(error));
            }
            Err(e) => error_row(out, line_no, step.trace_id.as_deref(), &e)?,
        }
    }
    summary(out, set, &totals, lines)?;
    Ok(())
}

/// A line as a step and the conversation it carries (empty when it gives only a `prompt`),
/// or why it is not one.
fn read_step(line_no: u64, line: Line<'_>, max: usize) -> Result<(Step, ChatRequest), StepError> {
    if let Line::Text(bytes) = line {
        // Only a line that may hold `messages` or `tools` pays for reading it twice.
        let finder = |key: &[u8]| memchr::memmem::find(bytes, key).is_some();
        if finder(b"\"messages\"") || finder(b"\"tools\"") {
            if let Ok(text) = std::str::from_utf8(bytes) {
                return read_step_with_messages(line_no, text);
            }
        }
    }
    read_plain_step(line_no, line, max).map(|s| (s, ChatRequest::default()))
}

/// The keys of a step line that are the request sent, in OpenAI chat format, not the step.
const REQUEST_KEYS: [&str; 3] = ["messages", "tools", "tool_choice"];

/// A step line with `messages` and/or `tools` (OpenAI chat format): those taken out as the
/// canonical request, the rest read as a step.
fn read_step_with_messages(line_no: u64, text: &str) -> Result<(Step, ChatRequest), StepError> {
    let fail = |message: String| StepError {
        message: format!("line {line_no}: {message}"),
    };
    let mut value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| fail(format!("not valid JSON: {e}")))?;
    let plain = |line_no| {
        read_plain_step(line_no, Line::Text(text.as_bytes()), usize::MAX)
            .map(|s| (s, ChatRequest::default()))
    };
    let Some(obj) = value.as_object_mut() else {
        return plain(line_no);
    };
    let mut wire = serde_json::Map::new();
    for key in REQUEST_KEYS {
        if let Some(v) = obj.remove(key) {
            wire.insert(key.into(), v);
        }
    }
    if wire.is_empty() {
        return plain(line_no);
    }
    let given: Vec<String> = wire.keys().map(|k| format!("`{k}`")).collect();
    let chat = crate::clients::openai::request_from_wire(&serde_json::Value::Object(wire))
        .map_err(|e| fail(format!("{}: {e}", given.join(", "))))?;
    // A step that states neither its size nor a prompt is routed on the text it sends.
    if !obj.contains_key("prompt") && !obj.contains_key("input_tokens") && !chat.messages.is_empty()
    {
        obj.insert("prompt".into(), sent_text(&chat).into());
    }
    let rest = serde_json::to_string(&value).map_err(|e| fail(e.to_string()))?;
    let step = read_plain_step(line_no, Line::Text(rest.as_bytes()), usize::MAX)?;
    Ok((step, chat))
}

/// The text a request sends, one line per message (the system text first; a message's text,
/// tool calls' names and arguments and tool results run together), then the tool definitions.
fn sent_text(chat: &ChatRequest) -> String {
    let mut lines: Vec<String> = chat.system.iter().cloned().collect();
    for m in &chat.messages {
        let mut line = String::new();
        for part in &m.content {
            match part {
                Part::Text { text } | Part::Thinking { text, .. } | Part::Refusal { text } => {
                    line.push_str(text)
                }
                Part::ToolCall {
                    name, arguments, ..
                } => {
                    line.push_str(name);
                    line.push_str(arguments);
                }
                Part::ToolResult { content, .. } => line.push_str(content),
            }
        }
        lines.push(line);
    }
    for t in &chat.tools {
        lines.push(format!(
            "{} {} {}",
            t.name,
            t.description.as_deref().unwrap_or(""),
            t.parameters
        ));
    }
    lines.join("\n")
}

/// A line as a step, or why it is not one.
fn read_plain_step(line_no: u64, line: Line<'_>, max: usize) -> Result<Step, StepError> {
    let message = match line {
        Line::TooLong { len } => {
            format!("line {line_no}: the line is {len} bytes, longer than {max} bytes (--max-line-bytes)")
        }
        Line::Text(bytes) => match std::str::from_utf8(bytes) {
            Ok(text) => match Step::from_json(text) {
                Ok(step) => return Ok(step),
                Err(e) => format!("line {line_no}: {}", e.message),
            },
            Err(e) => format!(
                "line {line_no}: the line is not UTF-8 (invalid byte at column {})",
                e.valid_up_to() + 1
            ),
        },
    };
    Err(StepError { message })
}

/// The request `run` sends: the line's conversation and tools, with the step's expected
/// output as its limit and as the size the mock bills. Without one the model's own limit
/// bounds the call (so a cap holds the worst case the model may write), and the mock bills no
/// output.
fn request(step: &Step, mut sent: ChatRequest) -> (ChatRequest, SizeHints) {
    if let Some(n) = step.expected_output_tokens {
        sent.max_output_tokens = Some(n);
    }
    let hints = SizeHints::output_tokens(step.expected_output_tokens.unwrap_or(0));
    (sent, hints)
}

fn call_row(out: &mut impl Write, line_no: u64, done: &StepOutput) -> io::Result<()> {
    let r = &done.record;
    let rule = r.rule.as_deref().unwrap_or("default");
    let guard = r
        .guard
        .as_deref()
        .map(|g| format!(" `{}`", visible(g)))
        .unwrap_or_default();
    writeln!(
        out,
        "{line_no:>4}  {:<10}  {:<9}  {:<18}  {:>7}  {:>6}  {:>10}  {} ({}{guard})",
        visible(r.trace_id.as_deref().unwrap_or("-")),
        visible(&r.tier),
        visible(&r.model),
        r.input_tokens,
        r.output_tokens,
        format_usd(u128::from(r.cost.0)),
        visible(rule),
        visible(r.via.as_str()),
    )
}

fn error_row(
    out: &mut impl Write,
    line_no: u64,
    trace: Option<&str>,
    e: &RunError,
) -> io::Result<()> {
    writeln!(
        out,
        "{line_no:>4}  {:<10}  not run ({}): {}",
        visible(trace.unwrap_or("-")),
        e.kind(),
        visible(&e.to_string())
    )
}

/// Totals: as run, and with every call on its policy's most expensive tier.
fn summary(
    out: &mut impl Write,
    set: &PolicySet,
    totals: &RunTotals,
    lines: u64,
) -> io::Result<()> {
    writeln!(out)?;
    let ran = totals.calls();
    let failed = lines - ran;
    writeln!(
        out,
        "ran {ran} of {lines} steps{}",
        if failed > 0 {
            format!(" ({failed} not run: see their lines)")
        } else {
            String::new()
        }
    )?;
    if ran == 0 {
        return Ok(());
    }
    let total = totals.cost_picos();
    let baseline = totals.baseline(set);
    let tops: Vec<String> = baseline
        .tiers
        .iter()
        .map(|(policy, tier)| format!("{}: `{}`", visible(policy), visible(tier)))
        .collect();
    let all_top = baseline.cost_picos;
    writeln!(
        out,
        "  as routed:                       {}",
        format_usd(total)
    )?;
    writeln!(
        out,
        "  all on the most expensive tier:  {}  ({})",
        format_usd(all_top),
        tops.join(", ")
    )?;
    if total > 0 && all_top >= total {
        writeln!(
            out,
            "  saving:                          {} ({:.1}× cheaper, {:.0}% less)",
            format_usd(all_top - total),
            all_top as f64 / total as f64,
            (1.0 - total as f64 / all_top as f64) * 100.0
        )?;
    }
    Ok(())
}
