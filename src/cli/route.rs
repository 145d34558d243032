//! `switchyard route`: JSONL steps in, one decision (or error object) per line out, in order.

use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use serde_json::Value;

use crate::router::RouteError;
use crate::step::{Step, StepError};

/// Arguments of `switchyard route`.
#[derive(Debug, Args)]
pub struct RouteArgs {
    /// A policy file, or a directory of policies (a policy set).
    #[arg(long, short = 'p', value_name = "PATH")]
    pub policy: PathBuf,
    /// Steps as JSON lines; `-` or nothing reads stdin.
    #[arg(value_name = "INPUT")]
    pub input: Option<PathBuf>,
    /// Add an `explain` array to each line: every rule and guard looked at, and why.
    #[arg(long)]
    pub explain: bool,
}

pub(super) fn run(args: RouteArgs) -> ExitCode {
    let router = match super::load_router(&args.policy) {
        Ok(r) => r,
        Err(code) => return code,
    };
    let input: Box<dyn BufRead> = match &args.input {
        None => Box::new(io::stdin().lock()),
        Some(p) if p.as_os_str() == "-" => Box::new(io::stdin().lock()),
        Some(p) => match File::open(p) {
            Ok(f) => Box::new(BufReader::new(f)),
            Err(e) => {
                eprintln!("error: cannot read {}: {e}", p.display());
                return ExitCode::from(super::USAGE);
            }
        },
    };
    let mut out = BufWriter::new(io::stdout().lock());
    let set = router.current();
    for (n, line) in input.split(b'\n').enumerate() {
        let line = match line {
            Ok(l) => l,
            Err(e) => {
                eprintln!("error: reading input failed after line {n}: {e}");
                return ExitCode::from(super::USAGE);
            }
        };
        let text = String::from_utf8_lossy(&line);
        let text = text.strip_suffix('\r').unwrap_or(&text);
        let value = match Step::from_json(text) {
            Err(e) => RouteError::InvalidStep(StepError {
                message: format!("line {}: {}", n + 1, e.message),
            })
            .to_json(None),
            Ok(step) => {
                let trace = step.trace_id.as_deref();
                if args.explain {
                    let ex = set.explain(&step);
                    let mut v = match &ex.result {
                        Ok(d) => d.to_json(trace),
                        Err(e) => e.to_json(trace),
                    };
                    if let Value::Object(m) = &mut v {
                        m.insert(
                            "explain".into(),
                            Value::Array(ex.checks.iter().map(|c| c.to_json()).collect()),
                        );
                    }
                    v
                } else {
                    match set.route(&step) {
                        Ok(d) => d.to_json(trace),
                        Err(e) => e.to_json(trace),
                    }
                }
            }
        };
        if let Err(e) = writeln!(out, "{value}") {
            return broken_pipe_or_fail(e);
        }
    }
    match out.flush() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => broken_pipe_or_fail(e),
    }
}

/// A reader that went away (`| head`) is not an error; anything else on stdout is.
fn broken_pipe_or_fail(e: io::Error) -> ExitCode {
    if e.kind() == io::ErrorKind::BrokenPipe {
        ExitCode::SUCCESS
    } else {
        eprintln!("error: writing output failed: {e}");
        ExitCode::from(super::USAGE)
    }
}
