//! `switchyard route`: JSONL steps in, one decision (or error object) per line out, in order.
//! With `--watch` it stays up: each line is answered (and flushed) as it arrives under the
//! policy version current at that moment, while the policy files hot-reload.

use std::io::{self, BufRead, BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use serde_json::Value;

use crate::lines::{Line, Lines, DEFAULT_MAX_LINE_BYTES};
use crate::reload::{Outcome, ReloadReport, WatchOptions};
use crate::router::{PolicySet, Router};
use crate::step::StepError;

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
    /// filesystems that send no change events: 10ms to 1h (e.g. `500ms`, `2s`, `1m`; a bare
    /// number is milliseconds; `0` turns it off).
    #[arg(long, value_name = "DURATION", default_value = "2s", value_parser = parse_poll_interval, requires = "watch")]
    pub poll_interval: Duration,
    /// With --watch: the quiet period a change must hold before it applies, 10ms to 1m
    /// (e.g. `150ms`, `2s`; a bare number is milliseconds).
    #[arg(long, value_name = "DURATION", default_value = "150", value_parser = parse_debounce, requires = "watch")]
    pub debounce_ms: Duration,
    /// The longest input line read, in bytes; a longer line becomes one `invalid_step`
    /// error line and the batch goes on.
    #[arg(long, value_name = "BYTES", default_value_t = DEFAULT_MAX_LINE_BYTES, value_parser = parse_max_line_bytes)]
    pub max_line_bytes: usize,
}

/// The shortest quiet period and poll interval: below it the watcher would spin.
const MIN_WATCH_DURATION: Duration = Duration::from_millis(10);
/// The longest quiet period: a change held back longer looks like reloads are off.
const MAX_DEBOUNCE: Duration = Duration::from_secs(60);
/// The longest poll interval.
const MAX_POLL_INTERVAL: Duration = Duration::from_secs(3600);

/// A duration as `150ms`, `2s`, `1m` (humantime's syntax) or a bare number of milliseconds.
fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        return s
            .parse::<u64>()
            .map(Duration::from_millis)
            .map_err(|_| format!("`{s}` is too large"));
    }
    humantime::parse_duration(s)
        .map_err(|e| format!("`{s}` is not a duration ({e}); write e.g. 150ms, 2s or 1m"))
}

/// `d` when it lies in `min..=max`, else a message that says the range.
fn in_range(d: Duration, min: Duration, max: Duration) -> Result<Duration, String> {
    if (min..=max).contains(&d) {
        Ok(d)
    } else {
        Err(format!(
            "{} is out of range: give a duration between {} and {}",
            humantime::format_duration(d),
            humantime::format_duration(min),
            humantime::format_duration(max)
        ))
    }
}

/// `--debounce-ms`: a duration between [`MIN_WATCH_DURATION`] and [`MAX_DEBOUNCE`].
fn parse_debounce(s: &str) -> Result<Duration, String> {
    let d = parse_duration(s).map_err(|e| {
        format!(
            "{e}; give a duration between {} and {}",
            humantime::format_duration(MIN_WATCH_DURATION),
            humantime::format_duration(MAX_DEBOUNCE)
        )
    })?;
    in_range(d, MIN_WATCH_DURATION, MAX_DEBOUNCE)
}

/// `--poll-interval`: `0` (off), or a duration between [`MIN_WATCH_DURATION`] and
/// [`MAX_POLL_INTERVAL`].
fn parse_poll_interval(s: &str) -> Result<Duration, String> {
    let range = || {
        format!(
            "give 0 (off) or a duration between {} and {}",
            humantime::format_duration(MIN_WATCH_DURATION),
            humantime::format_duration(MAX_POLL_INTERVAL)
        )
    };
    let d = parse_duration(s).map_err(|e| format!("{e}; {}", range()))?;
    if d.is_zero() {
        return Ok(d);
    }
    in_range(d, MIN_WATCH_DURATION, MAX_POLL_INTERVAL).map_err(|_| {
        format!(
            "{} is out of range: {}",
            humantime::format_duration(d),
            range()
        )
    })
}

/// `--max-line-bytes`: a positive number of bytes.
fn parse_max_line_bytes(s: &str) -> Result<usize, String> {
    match s.trim().parse::<usize>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(format!(
            "`{s}` is not a line length: give a number of bytes between 1 and {}",
            usize::MAX
        )),
    }
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
    let input = Lines::with_max(input, args.max_line_bytes);
    answer_all(input, args.explain, false, || set.clone())
}

/// `--watch`: the router follows the files; every line is routed under the set current when
/// it arrives, and flushed at once so a caller waiting on the answer gets it.
fn run_watch(args: RouteArgs) -> ExitCode {
    let options = WatchOptions::default()
        .debounce(args.debounce_ms)
        .poll_interval(Some(args.poll_interval))
        .load_options(super::load_options())
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
    let input = Lines::with_max(input, args.max_line_bytes);
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
    mut input: Lines<Box<dyn BufRead>>,
    explain: bool,
    flush_each: bool,
    set: impl Fn() -> std::sync::Arc<PolicySet>,
) -> ExitCode {
    let mut out = BufWriter::new(io::stdout().lock());
    let max = input.max_line_bytes();
    let mut last = 0;
    loop {
        let (n, line) = match input.next_line() {
            Ok(Some(l)) => l,
            Ok(None) => break,
            Err(e) => {
                eprintln!("error: reading input failed after line {last}: {e}");
                return ExitCode::from(super::USAGE);
            }
        };
        last = n;
        let value = match line {
            Line::Text(bytes) => match std::str::from_utf8(bytes) {
                Ok(text) => answer(&set(), n, text, explain),
                Err(_) => invalid_line(n, "the line is not UTF-8".into()),
            },
            Line::TooLong { len } => invalid_line(
                n,
                format!(
                    "the line is longer than {max} bytes ({len} bytes; --max-line-bytes raises the limit)"
                ),
            ),
        };
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

/// The `invalid_step` error line for input line `line_no`.
fn invalid_line(line_no: u64, message: String) -> Value {
    crate::router::wire::invalid_line(line_no, &StepError { message }).json
}

/// One input line's answer: a decision, an error object, or an invalid-step error (written
/// by the library, so `serve`'s `/v1/route` answers the same bytes).
fn answer(set: &PolicySet, line_no: u64, text: &str, explain: bool) -> Value {
    crate::router::wire::answer_line(set, line_no, text, explain).json
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
    use super::{parse_debounce, parse_duration, parse_max_line_bytes, parse_poll_interval};
    use std::time::Duration;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("2s"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_duration("1m"), Ok(Duration::from_secs(60)));
        assert_eq!(parse_duration("750"), Ok(Duration::from_millis(750)));
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("-1s").is_err());
    }

    #[test]
    fn durations_that_overflow_are_errors_not_panics() {
        assert!(parse_duration("18446744073709551616s").is_err());
        assert!(parse_debounce("18446744073709551615s").is_err());
        assert!(parse_duration("99999999999999999999999").is_err());
        assert!(parse_debounce("18446744073709551615").is_err());
        assert!(parse_poll_interval("18446744073709551615ms").is_err());
    }

    #[test]
    fn watch_durations_are_range_checked() {
        assert_eq!(parse_debounce("150"), Ok(Duration::from_millis(150)));
        assert_eq!(parse_debounce("2s"), Ok(Duration::from_secs(2)));
        for bad in ["0", "5ms", "2m", "1d"] {
            let e = parse_debounce(bad).unwrap_err();
            assert!(e.contains("between 10ms and 1m"), "{bad}: {e}");
        }
        assert_eq!(parse_poll_interval("0"), Ok(Duration::ZERO));
        assert_eq!(parse_poll_interval("1m"), Ok(Duration::from_secs(60)));
        for bad in ["1ms", "2h", "1d"] {
            let e = parse_poll_interval(bad).unwrap_err();
            assert!(e.contains("between 10ms and 1h"), "{bad}: {e}");
        }
    }

    #[test]
    fn line_lengths_are_positive() {
        assert_eq!(parse_max_line_bytes("100"), Ok(100));
        assert!(parse_max_line_bytes("0").is_err());
        assert!(parse_max_line_bytes("-5").is_err());
    }
}
