//! Hot reload: watch a policy file (or a policy-set directory) and its includes, and swap
//! each settled, valid change into a running [`Router`] without routing ever noticing;
//! a change that does not load changes nothing and is reported.
//!
//! ```no_run
//! use std::time::Duration;
//! use switchyard::reload::WatchOptions;
//! use switchyard::{Router, Step};
//!
//! // The first load happens here and fails fast with every diagnostic.
//! let router = Router::watch("policies/", WatchOptions::default().debounce(Duration::from_millis(150)))?;
//! let d = router.route(&Step::new("format").workload("contract-review").input_tokens(1200))?;
//! println!("{} under {}", d.tier(), d.policy_version());
//! println!("{:?}", router.status().last);
//! drop(router); // stops watching
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! **Threads.** Watching runs on one plain std thread of its own (plus notify's event
//! thread), never on an async runtime, so it works the same from plain threads and inside a
//! tokio runtime. Routing never waits on it. [`Reloader::reload_now`] blocks its caller until
//! the reload is done (milliseconds): from async code use [`Reloader::trigger`] or call it in
//! `spawn_blocking`.
//!
//! **How a change goes live.** Every non-access event in a watched directory marks the files
//! dirty and reads them (through symlinks); once no event has come for the debounce period
//! they are read again, and only when both reads agree (the content stayed the same across
//! the quiet period) and differ from what was last tried is the set loaded, checked and
//! compiled on the watch thread. The compiled versions are checked against the hash of the
//! settled bytes, and if a newer change arrived meanwhile (a generation counter) the result
//! is dropped for that newer one. Then [`Router::replace`] swaps it in. A slow poll of the
//! same hashes is the backstop for filesystems without events. See `docs/reload.md`.

mod snapshot;
mod status;
mod worker;

use std::fmt;
use std::ops::Deref;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::{mpsc, Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

pub use status::{ActivePolicy, Outcome, ReloadReport, ReloadStatus};

use crate::policy::{LoadError, LoadOptions};
use crate::router::{PolicySet, Router};
use snapshot::Target;
use worker::{Msg, Worker};

/// A function told about every reload attempt that settled (reloaded, failed or missing).
pub type ReloadListener = Arc<dyn Fn(&ReloadReport) + Send + Sync>;

/// How to watch: the quiet period, the polling backstop, whether to use change events.
#[derive(Clone)]
pub struct WatchOptions {
    debounce: Duration,
    poll_interval: Option<Duration>,
    events: bool,
    on_reload: Option<ReloadListener>,
    load: LoadOptions,
}

impl Default for WatchOptions {
    fn default() -> Self {
        WatchOptions {
            debounce: Duration::from_millis(150),
            poll_interval: Some(Duration::from_secs(2)),
            events: true,
            on_reload: None,
            load: LoadOptions::default(),
        }
    }
}

impl fmt::Debug for WatchOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WatchOptions")
            .field("debounce", &self.debounce)
            .field("poll_interval", &self.poll_interval)
            .field("events", &self.events)
            .field("on_reload", &self.on_reload.is_some())
            .field("load", &self.load)
            .finish()
    }
}

impl WatchOptions {
    /// The quiet period (default 150 ms): a change applies once no event has come for this
    /// long and the files read the same at its start and its end.
    pub fn debounce(mut self, quiet: Duration) -> Self {
        self.debounce = quiet;
        self
    }

    /// How often to re-read the files and compare their hashes whatever the events say
    /// (default every 2 s; `None` turns polling off). The only way changes are seen on
    /// filesystems that send no events (some network and FUSE mounts).
    pub fn poll_interval(mut self, every: Option<Duration>) -> Self {
        self.poll_interval = every.filter(|d| !d.is_zero());
        self
    }

    /// Whether to use the OS's change events (default true). Without them only polling
    /// sees changes.
    pub fn events(mut self, on: bool) -> Self {
        self.events = on;
        self
    }

    /// How every load (the first and each reload) reads the files: e.g. the directories
    /// includes may come from besides the policy's own (default: none).
    pub fn load_options(mut self, options: LoadOptions) -> Self {
        self.load = options;
        self
    }

    /// Calls `f` on the watch thread after each reload attempt that settled: reloaded,
    /// failed (with diagnostics) or missing files. Keep it quick.
    pub fn on_reload(mut self, f: impl Fn(&ReloadReport) + Send + Sync + 'static) -> Self {
        self.on_reload = Some(Arc::new(f));
        self
    }
}

/// State shared by the watch thread, the handle and notify's callback.
pub(crate) struct Shared {
    status: Mutex<ReloadStatus>,
    /// Bumped on every change event: an attempt that sees it move knows a newer change came.
    generation: AtomicU64,
    /// A change event is already queued for the watch thread (so a storm queues one).
    fs_queued: AtomicBool,
}

impl Shared {
    fn status(&self) -> MutexGuard<'_, ReloadStatus> {
        // A panic elsewhere while holding the lock leaves a status still worth reading.
        self.status.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The watcher stopped (its [`WatchHandle`] was dropped), so nothing was reloaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stopped;

impl fmt::Display for Stopped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the policy watcher has stopped")
    }
}

impl std::error::Error for Stopped {}

/// Asks a running watcher to reload now, from any thread (a SIGHUP handler, an admin
/// endpoint). Cheap to clone; does not keep the watcher alive.
#[derive(Clone)]
pub struct Reloader {
    tx: mpsc::Sender<Msg>,
    shared: Arc<Shared>,
}

impl fmt::Debug for Reloader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reloader").finish_non_exhaustive()
    }
}

impl Reloader {
    /// Re-reads and reloads every file at once, without waiting for a quiet period, and
    /// returns how it went. Policies kept because their file is gone are dropped. Blocks
    /// until the reload is done.
    pub fn reload_now(&self) -> Result<ReloadReport, Stopped> {
        let (tx, rx) = mpsc::channel();
        self.tx.send(Msg::Reload(Some(tx))).map_err(|_| Stopped)?;
        rx.recv().map_err(|_| Stopped)
    }

    /// Like [`reload_now`](Self::reload_now) but returns at once; the outcome goes to the
    /// log, the status and the `on_reload` listener. Returns false if the watcher stopped.
    pub fn trigger(&self) -> bool {
        self.tx.send(Msg::Reload(None)).is_ok()
    }

    /// The watcher's status now.
    pub fn status(&self) -> ReloadStatus {
        self.shared.status().clone()
    }
}

/// A router kept up to date with its policy files. Derefs to the [`Router`]; dropping the
/// handle stops watching (the router itself lives on while anything holds
/// [`router()`](Self::router)).
pub struct WatchHandle {
    router: Arc<Router>,
    reloader: Reloader,
    thread: Option<JoinHandle<()>>,
}

impl fmt::Debug for WatchHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WatchHandle")
            .field("status", &self.status())
            .finish_non_exhaustive()
    }
}

impl WatchHandle {
    /// The router being kept up to date, to share with other threads or tasks.
    pub fn router(&self) -> &Arc<Router> {
        &self.router
    }

    /// A way to ask for a reload from elsewhere.
    pub fn reloader(&self) -> Reloader {
        self.reloader.clone()
    }

    /// See [`Reloader::reload_now`].
    pub fn reload_now(&self) -> Result<ReloadReport, Stopped> {
        self.reloader.reload_now()
    }

    /// The watcher's status now: policies and versions served, the last reload and error,
    /// counts, missing files.
    pub fn status(&self) -> ReloadStatus {
        self.reloader.status()
    }
}

impl Deref for WatchHandle {
    type Target = Router;

    fn deref(&self) -> &Router {
        &self.router
    }
}

impl Drop for WatchHandle {
    fn drop(&mut self) {
        let _ = self.reloader.tx.send(Msg::Stop);
        if let Some(t) = self.thread.take() {
            // Dropped from inside an on_reload listener: the thread ends after it returns.
            if t.thread().id() != std::thread::current().id() {
                let _ = t.join();
            }
        }
    }
}

impl Router {
    /// Loads a policy file or policy-set directory, serves it, and keeps it up to date as
    /// the files change. The first load fails fast with every diagnostic; after that a
    /// change that does not load keeps the last good set and is reported in the log and
    /// [`WatchHandle::status`].
    ///
    /// Runs on its own std thread, so it can be called from plain threads or inside an
    /// async runtime alike. Panics only if the OS cannot start a thread.
    pub fn watch(path: impl AsRef<Path>, options: WatchOptions) -> Result<WatchHandle, LoadError> {
        let mut target = Target::new(path.as_ref());
        let set = PolicySet::load_with(&target.root, &options.load)?;
        target.set_includes(&set);
        let snap = target.snapshot();
        // The files may have changed between the load and the read; if the bytes served are
        // not the bytes read, start from nothing tried so the watch thread reloads them.
        let snap = if worker::matches(&set, &snap) {
            snap
        } else {
            Default::default()
        };
        let shared = Arc::new(Shared {
            status: Mutex::new(ReloadStatus::new(target.root.clone(), &set)),
            generation: AtomicU64::new(0),
            fs_queued: AtomicBool::new(false),
        });
        let router = Arc::new(Router::new(set));
        let (tx, rx) = mpsc::channel();
        let worker = Worker::new(
            router.clone(),
            target,
            options,
            shared.clone(),
            tx.clone(),
            snap,
        );
        let thread = std::thread::Builder::new()
            .name("switchyard-reload".into())
            .spawn(move || worker.run(rx))
            .expect("the OS could not start the policy watch thread");
        Ok(WatchHandle {
            router,
            reloader: Reloader { tx, shared },
            thread: Some(thread),
        })
    }
}
