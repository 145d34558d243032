//! `switchyard route`: JSONL steps in, one decision (or error object) per line out, in order.
//! With `--watch` it stays up: each line is answered (and flushed) as it arrives under the
//! policy version current at that moment, while the policy files hot-reload.

use std::io::{self, BufRead, BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use serde_json::Value;

use crate::reload::{Outcome, ReloadReport, WatchOptions};
use crate::router::{PolicySet, Router};

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
    /// Stay up and hot-reload PATH while reading: each line is answered at once under the
    /// policy version current then; reloads are reported on stderr; SIGHUP reloads at once.
    #[arg(long)]
    pub watch: bool,
    /// With --watch: also re-read the files this often and compare their hashes, for
    /// filesystems that send no change events (e.g. `500ms`, `2s`; `0` turns it off).
    #[arg(long, value_name = "DURATION", default_value = "2s", value_parser = parse_duration, requires = "watch")]
    pub poll_interval: Duration,
    /// With --watch: the quiet period in milliseconds a change must hold before it applies.
    #[arg(long, value_name = "MS", default_value_t = 150, requires = "watch")]
    pub debounce_ms: u64,
}

/// `250ms`, `2s` or a bare number of milliseconds.
fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (num, unit_ms) = if let Some(n) = s.strip_suffix("ms") {
        (n, 1)
    } else if let Some(n) = s.strip_suffix('s') {
        (n, 1000)
    } else {
        (s, 1)
    };
    num.trim()
        .parse::<u64>()
        .map(|n| Duration::from_millis(n * unit_ms))
        .map_err(|_| format!("`{s}` is not a duration; write e.g. 500ms or 2s"))
}

pub(super) fn run(args: RouteArgs) -> ExitCode {
    if args.watch {
        return run_watch(args);
    }
    let router = match super::load_router(&args.policy) {
        Ok(r) => r,
        Err(code) => return code,
    };
    let input = match super::open_input(args.input.as_deref(), "a file of steps") {
        Ok(i) => i,
        Err(code) => return code,
    };
    let set = router.current();
    answer_all(input, args.explain, false, || set.clone())
}

/// `--watch`: the router follows the files; every line is routed under the set current when
/// it arrives, and flushed at once so a caller waiting on the answer gets it.
fn run_watch(args: RouteArgs) -> ExitCode {
    let options = WatchOptions::default()
        .debounce(Duration::from_millis(args.debounce_ms))
        .poll_interval(Some(args.poll_interval))
        .on_reload(print_report);
    let handle = match Router::watch(&args.policy, options) {
        Ok(h) => h,
        Err(e) => return super::load_failed(&e),
    };
    #[cfg(unix)]
    let sighup = reload_on_sighup(handle.reloader());
    let input = match super::open_input(args.input.as_deref(), "a file of steps") {
        Ok(i) => i,
        Err(code) => return code,
    };
    let router = handle.router().clone();
    let code = answer_all(input, args.explain, true, || router.current());
    #[cfg(unix)]
    if let Some(h) = sighup {
        h.close();
    }
    code
}

/// Reload outcomes on stderr: the library logs them (info, warn, error); print the ones the
/// log filter hides, so each outcome shows exactly once whatever RUST_LOG says.
pub(super) fn print_report(r: &ReloadReport) {
    let shown = match r.outcome {
        Outcome::Reloaded => tracing::enabled!(target: "switchyard::reload", tracing::Level::INFO),
        Outcome::Missing => tracing::enabled!(target: "switchyard::reload", tracing::Level::WARN),
        Outcome::Failed => tracing::enabled!(target: "switchyard::reload", tracing::Level::ERROR),
        Outcome::Superseded => true,
    };
    if shown {
        return;
    }
    eprintln!("switchyard: {}", r.summary);
    for d in &r.diagnostics {
        eprintln!("  {}: {} [{}]", d.location(), d.message, d.name);
    }
}

/// A thread that turns each SIGHUP into an immediate reload; closed when routing ends.
#[cfg(unix)]
fn reload_on_sighup(reloader: crate::reload::Reloader) -> Option<signal_hook::iterator::Handle> {
    use signal_hook::consts::SIGHUP;
    use signal_hook::iterator::Signals;
    let mut signals = match Signals::new([SIGHUP]) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("warning: SIGHUP will not reload: {e}");
            return None;
        }
    };
    let handle = signals.handle();
    let spawned = std::thread::Builder::new()
        .name("switchyard-sighup".into())
        .spawn(move || {
            for _ in signals.forever() {
                tracing::info!(target: "switchyard::reload", "SIGHUP: reloading now");
                if !reloader.trigger() {
                    break;
                }
            }
        });
    match spawned {
        Ok(_) => Some(handle),
        Err(e) => {
            eprintln!("warning: SIGHUP will not reload: {e}");
            None
        }
    }
}

/// Answers every line of `input`; `set` gives the policy set to decide each line under.
fn answer_all(
    input: Box<dyn BufRead>,
    explain: bool,
    flush_each: bool,
    set: impl Fn() -> std::sync::Arc<PolicySet>,
) -> ExitCode {
    let mut out = BufWriter::new(io::stdout().lock());
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
        let value = answer(&set(), n + 1, text, explain);
        let written =
            writeln!(out, "{value}").and_then(|()| if flush_each { out.flush() } else { Ok(()) });
        if let Err(e) = written {
            return broken_pipe_or_fail(e);
        }
    }
    match out.flush() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => broken_pipe_or_fail(e),
    }
}

/// One input line's answer: a decision, an error object, or an invalid-step error (written
/// by the library, so `serve`'s `/v1/route` answers the same bytes).
fn answer(set: &PolicySet, line_no: usize, text: &str, explain: bool) -> Value {
    crate::router::wire::answer_line(set, line_no as u64, text, explain).json
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

#[cfg(test)]
mod tests {
    use super::parse_duration;
    use std::time::Duration;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("2s"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_duration("750"), Ok(Duration::from_millis(750)));
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("-1s").is_err());
    }
}
