//! Serving until told to stop: SIGTERM or SIGINT stops accepting, lets the requests in flight
//! finish for up to the drain period, then returns; SIGHUP reloads the policies at once.

use std::io;
use std::time::Duration;

use axum::serve::ListenerExt;
use tokio::net::TcpListener;
use tokio::sync::watch;

use super::{app, AppState};
use crate::reload::Reloader;

/// Serves [`app`] on `listener` until SIGTERM or SIGINT, then drains for at most `drain`.
/// Nagle is off on every connection: with it on, a keep-alive client waits ~40 ms for a
/// delayed ACK on every answer.
pub async fn serve(listener: TcpListener, state: AppState, drain: Duration) -> io::Result<()> {
    serve_until(listener, state, drain, stop_signal()).await
}

/// The same, stopping when `stop` completes (tests and embedders pass their own).
pub async fn serve_until(
    listener: TcpListener,
    state: AppState,
    drain: Duration,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let (tx, mut rx) = watch::channel(false);
    let draining = state.clone();
    let graceful = async move {
        stop.await;
        draining.start_draining();
        tracing::info!("stopping: no new connections; draining requests in flight");
        let _ = tx.send(true);
    };
    let listener = listener.tap_io(|tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "could not turn Nagle off on a connection");
        }
    });
    let server = axum::serve(listener, app(state)).with_graceful_shutdown(graceful);
    let deadline = async move {
        // Wait for the stop, then give the requests in flight the drain period.
        while !*rx.borrow_and_update() {
            if rx.changed().await.is_err() {
                return std::future::pending::<()>().await;
            }
        }
        tokio::time::sleep(drain).await;
    };
    tokio::select! {
        r = server => r,
        () = deadline => {
            tracing::warn!(drain_seconds = drain.as_secs(), "drain period over; stopping with requests still in flight");
            Ok(())
        }
    }
}

/// Completes on SIGTERM or SIGINT (Ctrl-C).
pub async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "SIGTERM cannot be caught; only Ctrl-C stops gracefully");
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// A task that turns each SIGHUP into an immediate reload. Must be called inside a tokio
/// runtime.
#[cfg(unix)]
pub fn reload_on_sighup(reloader: Reloader) -> io::Result<tokio::task::JoinHandle<()>> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut hup = signal(SignalKind::hangup())?;
    Ok(tokio::spawn(async move {
        while hup.recv().await.is_some() {
            tracing::info!(target: "switchyard::reload", "SIGHUP: reloading now");
            if !reloader.trigger() {
                break;
            }
        }
    }))
}
