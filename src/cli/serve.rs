//! `switchyard serve`: the HTTP decision API and chat proxy (`src/server/`), on a tokio
//! runtime. This file turns the flags into a checked configuration, loads and watches the
//! policies, binds, prints the ready line and serves until SIGTERM/SIGINT.

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;

use crate::reload::WatchOptions;
use crate::router::Router;
use crate::runner::budget::Store;
use crate::runner::sink::{CallSink, JsonlSink};
use crate::server::{self, AppState, Metrics, ServeOptions, Token};

/// Arguments of `switchyard serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// A policy file, or a directory of policies (a policy set); watched and hot-reloaded.
    #[arg(long, short = 'p', value_name = "PATH")]
    pub policy: PathBuf,
    /// The address to listen on. Anything but loopback needs --auth-token-env (or
    /// --insecure-no-auth).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8790")]
    pub listen: String,
    /// Append one call record per routed chat request to FILE, in `run`'s format.
    #[arg(long, value_name = "FILE")]
    pub call_log: Option<PathBuf>,
    /// Answer every model with the built-in mock provider: no network, no keys.
    #[arg(long)]
    pub mock: bool,
    /// Read the API token from this environment variable; every endpoint but /healthz and
    /// /readyz then needs `Authorization: Bearer TOKEN` or `x-api-key: TOKEN`.
    #[arg(long, value_name = "NAME")]
    pub auth_token_env: Option<String>,
    /// Bodies larger than this many bytes get 413.
    #[arg(long, value_name = "N", default_value_t = server::DEFAULT_MAX_BODY_BYTES)]
    pub max_body_bytes: usize,
    /// On SIGTERM/SIGINT, let requests in flight finish for up to this many seconds.
    #[arg(long, value_name = "N", default_value_t = 30)]
    pub drain_seconds: u64,
    /// Allow a non-loopback --listen address without --auth-token-env.
    #[arg(long)]
    pub insecure_no_auth: bool,
    /// Where budgets are held (docs/fleet.md).
    #[command(flatten)]
    pub budget: super::budget::BudgetStoreArgs,
}

pub(super) fn run(args: ServeArgs) -> ExitCode {
    let token = match read_token(args.auth_token_env.as_deref()) {
        Ok(t) => t,
        Err(msg) => return usage(&msg),
    };
    let addr = match resolve(&args.listen) {
        Ok(a) => a,
        Err(msg) => return usage(&msg),
    };
    if !addr.ip().is_loopback() && token.is_none() && !args.insecure_no_auth {
        return usage(&format!(
            "refusing to listen on {addr} without auth: anyone who can reach it could use your \
             provider keys. Give --auth-token-env NAME (the token in that variable), listen on \
             127.0.0.1, or pass --insecure-no-auth if a proxy in front does auth"
        ));
    }
    let call_log = match open_call_log(args.call_log.as_ref()) {
        Ok(f) => f,
        Err(msg) => return usage(&msg),
    };
    let metrics = Arc::new(Metrics::new());
    let counted = metrics.clone();
    let options = WatchOptions::default().on_reload(move |r| {
        server::count_reload(&counted, r);
        super::route::print_report(r);
    });
    let handle = match Router::watch(&args.policy, options) {
        Ok(h) => h,
        Err(e) => return super::load_failed(&e),
    };
    warm_tokenizers(&handle.router().current());
    let state = AppState::with_metrics(
        handle.router().clone(),
        ServeOptions {
            max_body_bytes: args.max_body_bytes,
            auth_token: token,
            mock: args.mock,
        },
        metrics,
    )
    .with_reloader(handle.reloader());
    let state = match &call_log {
        Some(sink) => state.with_call_sink(sink.clone()),
        None => state,
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("switchyard-serve")
        .build()
    {
        Ok(r) => r,
        Err(e) => return usage(&format!("cannot start the async runtime: {e}")),
    };
    let drain = Duration::from_secs(args.drain_seconds);
    // A Redis store connects on first use, from inside the runtime.
    let budgets = match runtime.block_on(async { Store::open(&args.budget.options()) }) {
        Ok(s) => Arc::new(s),
        Err(e) => return usage(&format!("invalid --budget-store: {e}")),
    };
    let state = state.with_budget_store(budgets.clone());
    let served = runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
        let bound = listener.local_addr().unwrap_or(addr);
        #[cfg(unix)]
        if let Some(r) = state.reloader() {
            if let Err(e) = server::shutdown::reload_on_sighup(r.clone()) {
                eprintln!("warning: SIGHUP will not reload: {e}");
            }
        }
        let set = state.policies();
        let names: Vec<&str> = set.policies().iter().map(|p| p.name()).collect();
        eprintln!(
            "switchyard: serving {} policies ({}) on http://{bound}",
            names.len(),
            names.join(", ")
        );
        let served = server::shutdown::serve(listener, state, drain)
            .await
            .map_err(|e| format!("serving on {bound} failed: {e}"));
        // Settlements still on their way to a shared store are counted before exiting.
        budgets.wait_settled(drain).await;
        served
    });
    // Let the runtime's remaining tasks (the SIGHUP listener) go without waiting on them.
    runtime.shutdown_timeout(Duration::from_millis(100));
    drop(handle);
    if let Some(sink) = call_log.as_ref() {
        if let Err(e) = sink.flush() {
            eprintln!("warning: flushing the call log failed: {e}");
        }
    }
    match served {
        Ok(()) => {
            eprintln!("switchyard: stopped");
            ExitCode::SUCCESS
        }
        Err(msg) => usage(&msg),
    }
}

/// Loads the policies' tokenizer tables on a thread of their own, so the first chat request
/// does not wait for them (o200k takes ~0.1 s to load in a release build).
fn warm_tokenizers(set: &crate::router::PolicySet) {
    let mut wanted: Vec<crate::policy::Tokenizer> = Vec::new();
    for p in set.policies() {
        if !wanted.contains(&p.policy.tokenizer) {
            wanted.push(p.policy.tokenizer);
        }
    }
    let _ = std::thread::Builder::new()
        .name("switchyard-tokenizers".into())
        .spawn(move || {
            for t in wanted {
                t.count("warm");
            }
        });
}

fn usage(msg: &str) -> ExitCode {
    eprintln!("error: {msg}");
    ExitCode::from(super::USAGE)
}

/// The token from the named variable; missing or empty is an error.
fn read_token(var: Option<&str>) -> Result<Option<Token>, String> {
    let Some(var) = var else { return Ok(None) };
    let value = std::env::var_os(var).ok_or_else(|| {
        format!("--auth-token-env {var}: the environment variable {var} is not set")
    })?;
    let value = value.into_string().map_err(|_| {
        format!("--auth-token-env {var}: the environment variable {var} is not valid UTF-8")
    })?;
    Token::new(value)
        .map(Some)
        .ok_or_else(|| format!("--auth-token-env {var}: the environment variable {var} is empty"))
}

/// `127.0.0.1:8790`, `[::1]:0`, `localhost:8790`: the first address it resolves to.
fn resolve(listen: &str) -> Result<SocketAddr, String> {
    let mut addrs = listen.to_socket_addrs().map_err(|e| {
        format!("--listen {listen}: not an address (expected HOST:PORT, e.g. 127.0.0.1:8790): {e}")
    })?;
    addrs
        .next()
        .ok_or_else(|| format!("--listen {listen}: the name resolves to no address"))
}

/// Opens the call log for appending (as `run` writes it), so a path that cannot be written
/// fails at start.
fn open_call_log(path: Option<&PathBuf>) -> Result<Option<Arc<JsonlSink>>, String> {
    let Some(path) = path else { return Ok(None) };
    JsonlSink::append(path)
        .map(|s| Some(Arc::new(s)))
        .map_err(|e| format!("cannot open the call log {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listen_addresses() {
        assert_eq!(resolve("127.0.0.1:8790").unwrap().port(), 8790);
        assert!(resolve("[::1]:0").unwrap().ip().is_loopback());
        assert!(resolve("nonsense").is_err());
    }

    #[test]
    fn tokens_from_the_environment() {
        assert!(read_token(None).unwrap().is_none());
        let err = read_token(Some("SWITCHYARD_TEST_TOKEN_THAT_IS_NEVER_SET")).unwrap_err();
        assert!(err.contains("not set"), "{err}");
    }
}
