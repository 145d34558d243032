//! The watch thread: turns change events and poll ticks into settled snapshots, and a
//! settled snapshot into a reload (or a kept set and a report). Everything that reads,
//! compiles or swaps happens here, one attempt at a time.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use notify::{EventKind, RecommendedWatcher, RecursiveMode, Watcher};

use super::snapshot::{FileState, Snapshot, Target};
use super::status::{Outcome, ReloadReport};
use super::{Shared, WatchOptions};
use crate::compile::CompiledPolicy;
use crate::diag::Diagnostic;
use crate::router::{PolicySet, Router};

/// What the watch thread is asked to do.
pub(crate) enum Msg {
    /// Something changed in a watched directory.
    Fs,
    /// Reload now (SIGHUP, an admin call); the report goes back if a channel is given.
    Reload(Option<Sender<ReloadReport>>),
    /// The handle was dropped.
    Stop,
}

/// Polling when change events cannot be had and no interval was given.
const FALLBACK_POLL: Duration = Duration::from_secs(1);

/// Whether every policy in `set` was compiled from exactly the bytes in `snap`.
pub(crate) fn matches(set: &PolicySet, snap: &Snapshot) -> bool {
    set.policies().iter().all(|p| {
        let paths = p.policy.sources.iter().map(|s| s.path.as_path());
        snap.version_of(paths).as_deref() == Some(p.policy.version.as_str())
    })
}

pub(crate) struct Worker {
    router: Arc<Router>,
    target: Target,
    opts: WatchOptions,
    shared: Arc<Shared>,
    tx: Sender<Msg>,
    watcher: Option<RecommendedWatcher>,
    /// Watched directories, with the identity of the directory each watch is on.
    watched: BTreeMap<PathBuf, Option<(u64, u64)>>,
    /// Directories that could not be watched (warned about once).
    unwatchable: BTreeSet<PathBuf>,
    /// The files as last tried (loaded, failed or found missing): a settled snapshot equal
    /// to this is not tried again, so touch, chmod and identical rewrites do nothing.
    attempted: Snapshot,
    /// The first read of a change being settled, and when to read again.
    pending: Option<(Snapshot, Instant)>,
    poll: Option<Duration>,
    next_poll: Option<Instant>,
}

impl Worker {
    pub(crate) fn new(
        router: Arc<Router>,
        target: Target,
        opts: WatchOptions,
        shared: Arc<Shared>,
        tx: Sender<Msg>,
        attempted: Snapshot,
    ) -> Worker {
        Worker {
            router,
            target,
            poll: opts.poll_interval,
            opts,
            shared,
            tx,
            watcher: None,
            watched: BTreeMap::new(),
            unwatchable: BTreeSet::new(),
            attempted,
            pending: None,
            next_poll: None,
        }
    }

    pub(crate) fn run(mut self, rx: Receiver<Msg>) {
        if self.opts.events {
            self.start_events();
        }
        if self.watcher.is_none() && self.poll.is_none() {
            tracing::warn!(target: "switchyard::reload", "no change events; polling every {FALLBACK_POLL:?}");
            self.poll = Some(FALLBACK_POLL);
        }
        self.next_poll = self.poll.map(|p| Instant::now() + p);
        let first = self.attempted.clone();
        self.rewatch(&first);
        // Catch changes made between the first load and the watches being in place.
        let now = self.target.snapshot();
        if now != self.attempted {
            self.settle(now);
        }
        loop {
            let wake = [self.pending.as_ref().map(|p| p.1), self.next_poll]
                .into_iter()
                .flatten()
                .min();
            let msg = match wake {
                Some(at) => rx.recv_timeout(at.saturating_duration_since(Instant::now())),
                None => rx.recv().map_err(|_| RecvTimeoutError::Disconnected),
            };
            match msg {
                Ok(Msg::Fs) => {
                    // Cleared before reading, so an event during the read queues another look.
                    self.shared.fs_queued.store(false, Ordering::SeqCst);
                    let snap = self.target.snapshot();
                    self.settle(snap);
                }
                Ok(Msg::Reload(reply)) => {
                    self.pending = None;
                    let snap = self.target.snapshot();
                    let report = self.apply(snap, true);
                    if let Some(reply) = reply {
                        let _ = reply.send(report);
                    }
                }
                Ok(Msg::Stop) | Err(RecvTimeoutError::Disconnected) => break,
                Err(RecvTimeoutError::Timeout) => {}
            }
            let now = Instant::now();
            if let Some((first, at)) = &self.pending {
                if now >= *at {
                    let second = self.target.snapshot();
                    if second != *first {
                        // Changed with no event in between (or events are missing): wait again.
                        self.settle(second);
                    } else {
                        self.pending = None;
                        self.rewatch(&second);
                        if second != self.attempted {
                            self.apply(second, false);
                        }
                    }
                }
            }
            if let (Some(poll), Some(at)) = (self.poll, self.next_poll) {
                if now >= at {
                    self.next_poll = Some(now + poll);
                    if self.pending.is_none() {
                        let snap = self.target.snapshot();
                        if snap != self.attempted {
                            self.settle(snap);
                        }
                    }
                }
            }
        }
    }

    /// Starts (or restarts) the quiet period from this first read.
    fn settle(&mut self, first: Snapshot) {
        self.pending = Some((first, Instant::now() + self.opts.debounce));
    }

    fn start_events(&mut self) {
        let tx = self.tx.clone();
        let shared = self.shared.clone();
        let handler = move |res: notify::Result<notify::Event>| {
            // Reading a file raises access events; reacting to them would loop forever.
            match &res {
                Ok(ev) if matches!(ev.kind, EventKind::Access(_)) => return,
                Ok(_) => {}
                // An error (e.g. the event queue overflowed) may hide a change: look anyway.
                Err(e) => tracing::debug!(target: "switchyard::reload", "watch error: {e}"),
            }
            shared.generation.fetch_add(1, Ordering::SeqCst);
            if !shared.fs_queued.swap(true, Ordering::SeqCst) {
                let _ = tx.send(Msg::Fs);
            }
        };
        match notify::recommended_watcher(handler) {
            Ok(w) => self.watcher = Some(w),
            Err(e) => tracing::warn!(
                target: "switchyard::reload",
                "change events are not available ({e}); relying on polling"
            ),
        }
    }

    /// Watches the directories the files now live in, and stops watching the others. A
    /// directory replaced by a new one at the same path is watched afresh (its old watch died
    /// with it).
    fn rewatch(&mut self, snap: &Snapshot) {
        let Some(w) = self.watcher.as_mut() else {
            return;
        };
        let want = self.target.dirs(snap);
        let mut now = BTreeMap::new();
        for (d, id) in std::mem::take(&mut self.watched) {
            if want.contains(&d) && dir_id(&d) == id {
                now.insert(d, id);
            } else {
                let _ = w.unwatch(&d);
            }
        }
        for d in want {
            if now.contains_key(&d) {
                continue;
            }
            match w.watch(&d, RecursiveMode::NonRecursive) {
                Ok(()) => {
                    self.unwatchable.remove(&d);
                    now.insert(d.clone(), dir_id(&d));
                }
                Err(e) => {
                    // Said once per directory; polling covers it meanwhile.
                    if self.unwatchable.insert(d.clone()) {
                        tracing::warn!(
                            target: "switchyard::reload",
                            "cannot watch {}: {e}; relying on polling there",
                            d.display()
                        );
                    }
                }
            }
        }
        self.watched = now;
        let mut st = self.shared.status();
        st.watched_dirs = self.watched.keys().cloned().collect();
        st.events = !self.watched.is_empty();
    }

    /// Loads a settled snapshot and swaps it in, or keeps the set served and says why.
    fn apply(&mut self, snap: Snapshot, explicit: bool) -> ReloadReport {
        let generation = self.shared.generation.load(Ordering::SeqCst);
        self.attempted = snap.clone();
        let current = self.router.current();
        let root = self.target.root.clone();
        if snap.files.get(&root) == Some(&FileState::Missing) {
            return self.missing(&snap, &current, vec![root]);
        }
        let set = match PolicySet::load_with(&root, &self.opts.load) {
            Ok(set) => set,
            Err(e) => {
                // Every policy file of a set gone is a deletion, not a broken edit.
                let all_gone = e.diagnostics.iter().all(|d| d.name == "no-policies");
                if self.target.is_dir && !explicit && all_gone {
                    let gone = current
                        .policies()
                        .iter()
                        .map(|p| p.policy.path.clone())
                        .collect();
                    return self.missing(&snap, &current, gone);
                }
                return self.failed(&snap, &current, e.diagnostics);
            }
        };
        let includes_before = self.target.includes.clone();
        self.target.set_includes(&set);
        if !matches(&set, &snap) {
            let fresh = self.target.snapshot();
            // Same bytes and same includes means no race explains it; serve what loaded.
            if fresh != snap || self.target.includes != includes_before {
                return self.superseded(fresh, "the files changed while they were loading");
            }
        }
        if self.shared.generation.load(Ordering::SeqCst) != generation {
            let fresh = self.target.snapshot();
            if fresh != snap {
                return self.superseded(fresh, "a newer change arrived while compiling");
            }
        }
        // A set's policy whose file is gone keeps serving until it returns or an explicit
        // reload, so deleting a file never silently drops a workload.
        let mut policies: Vec<Arc<CompiledPolicy>> = set.policies().to_vec();
        let mut kept = Vec::new();
        if self.target.is_dir && !explicit {
            let listing = snap.listing.as_deref().unwrap_or(&[]);
            for old in current.policies() {
                let gone = !listing.contains(&old.policy.path);
                if gone && set.get(&old.policy.name).is_none() {
                    policies.push(old.clone());
                    kept.push(old.policy.name.clone());
                }
            }
        }
        let new = PolicySet::from_shared(policies);
        let summary = describe(&current, &new, &kept);
        for name in &kept {
            if let Some(p) = new.get(name) {
                tracing::warn!(
                    target: "switchyard::reload",
                    "{} is gone; still serving {} {} until it returns or an explicit reload",
                    p.policy.path.display(),
                    p.policy.name,
                    p.policy.version
                );
            }
        }
        let mut missing = snap.missing();
        missing.extend(
            kept.iter()
                .filter_map(|n| new.get(n).map(|p| p.policy.path.clone())),
        );
        self.router.replace(new);
        tracing::info!(target: "switchyard::reload", "{summary}");
        let report = report(Outcome::Reloaded, summary, Vec::new());
        {
            let served = self.router.current();
            let mut st = self.shared.status();
            st.serve(&served, &kept);
            st.reloads_ok += 1;
            st.missing = missing;
            st.last = Some(report.clone());
        }
        let after = self.target.snapshot();
        self.rewatch(&after);
        self.tell(&report);
        report
    }

    fn missing(
        &mut self,
        snap: &Snapshot,
        current: &PolicySet,
        gone: Vec<PathBuf>,
    ) -> ReloadReport {
        let files: Vec<String> = gone.iter().map(|p| p.display().to_string()).collect();
        let summary = format!(
            "{} missing; still serving {} until it returns",
            files.join(", "),
            versions(current)
        );
        tracing::warn!(target: "switchyard::reload", "{summary}");
        let report = report(Outcome::Missing, summary, Vec::new());
        {
            let mut st = self.shared.status();
            let mut missing = snap.missing();
            for p in gone {
                if !missing.contains(&p) {
                    missing.push(p);
                }
            }
            for p in st.policies.iter_mut() {
                p.missing = missing.contains(&p.path);
            }
            st.missing = missing;
            st.last = Some(report.clone());
        }
        self.rewatch(snap);
        self.tell(&report);
        report
    }

    fn failed(
        &mut self,
        snap: &Snapshot,
        current: &PolicySet,
        diagnostics: Vec<Diagnostic>,
    ) -> ReloadReport {
        for d in &diagnostics {
            tracing::error!(
                target: "switchyard::reload",
                "{}: {} [{}]{}",
                d.location(),
                d.message,
                d.name,
                d.help.as_deref().map(|h| format!(" help: {h}")).unwrap_or_default()
            );
        }
        let n = diagnostics.len();
        let summary = format!(
            "{} did not load ({n} problem{}); still serving {}",
            self.target.root.display(),
            if n == 1 { "" } else { "s" },
            versions(current)
        );
        tracing::error!(target: "switchyard::reload", "{summary}");
        let report = report(Outcome::Failed, summary, diagnostics);
        {
            let mut st = self.shared.status();
            st.reloads_failed += 1;
            st.missing = snap.missing();
            st.last = Some(report.clone());
            st.last_error = Some(report.clone());
        }
        self.rewatch(snap);
        self.tell(&report);
        report
    }

    fn superseded(&mut self, fresh: Snapshot, why: &str) -> ReloadReport {
        tracing::debug!(target: "switchyard::reload", "reload dropped: {why}");
        self.settle(fresh);
        report(
            Outcome::Superseded,
            format!("reload dropped: {why}"),
            Vec::new(),
        )
    }

    fn tell(&self, report: &ReloadReport) {
        if let Some(f) = &self.opts.on_reload {
            f(report);
        }
    }
}

fn report(outcome: Outcome, summary: String, diagnostics: Vec<Diagnostic>) -> ReloadReport {
    ReloadReport {
        outcome,
        summary,
        diagnostics,
        at: SystemTime::now(),
    }
}

/// `contract-review 1a2b3c4d5e6f, code-fix 0f9e8d7c6b5a`.
fn versions(set: &PolicySet) -> String {
    set.policies()
        .iter()
        .map(|p| format!("{} {}", p.policy.name, p.policy.version))
        .collect::<Vec<_>>()
        .join(", ")
}

/// What a swap changed, policy by policy.
fn describe(old: &PolicySet, new: &PolicySet, kept: &[String]) -> String {
    let mut parts = Vec::new();
    for p in new.policies() {
        let name = &p.policy.name;
        let v = &p.policy.version;
        parts.push(match old.get(name) {
            _ if kept.contains(name) => format!("{name} {v} kept (file gone)"),
            Some(o) if o.policy.version == *v => format!("{name} {v} unchanged"),
            Some(o) => format!("{name} {} -> {v}", o.policy.version),
            None => format!("{name} {v} added"),
        });
    }
    for p in old.policies() {
        if new.get(&p.policy.name).is_none() {
            parts.push(format!("{} {} removed", p.policy.name, p.policy.version));
        }
    }
    format!("reloaded: {}", parts.join(", "))
}

/// Which directory a path is now (device and inode), to notice one replaced by another.
#[cfg(unix)]
fn dir_id(path: &Path) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
}

#[cfg(not(unix))]
fn dir_id(path: &Path) -> Option<(u64, u64)> {
    std::fs::metadata(path).ok().map(|_| (0, 0))
}
