//! What a watcher reports about itself: the policies being served and their versions, the
//! last reload and how it ended, the last error with its diagnostics, counts, missing files.

use std::path::PathBuf;
use std::time::SystemTime;

use serde_json::{json, Value};

use crate::diag::Diagnostic;
use crate::router::PolicySet;

/// How one reload attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The new policy set is being served.
    Reloaded,
    /// The new content did not load; the last good set is still served.
    Failed,
    /// A watched file is gone; the last good set is still served.
    Missing,
    /// The files changed again while this attempt ran; the newer change is handled next.
    Superseded,
}

impl Outcome {
    /// The word used in logs and JSON: reloaded, failed, missing, superseded.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Reloaded => "reloaded",
            Outcome::Failed => "failed",
            Outcome::Missing => "missing",
            Outcome::Superseded => "superseded",
        }
    }
}

/// One reload attempt: how it ended, a sentence for a person, and the diagnostics of a
/// failure. Passed to [`WatchOptions::on_reload`](super::WatchOptions::on_reload) and
/// returned by [`Reloader::reload_now`](super::Reloader::reload_now).
#[derive(Debug, Clone)]
pub struct ReloadReport {
    /// How it ended.
    pub outcome: Outcome,
    /// What happened, e.g. `reloaded contract-review 1a2b3c4d5e6f -> 0f9e8d7c6b5a`.
    pub summary: String,
    /// Why it failed (empty unless the outcome is [`Outcome::Failed`]).
    pub diagnostics: Vec<Diagnostic>,
    /// When it ended.
    pub at: SystemTime,
}

/// A policy being served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActivePolicy {
    /// Its name (the workload).
    pub name: String,
    /// Its version hash, as decisions carry it.
    pub version: String,
    /// Its file.
    pub path: PathBuf,
    /// Its file is gone and this is the last good version, kept until the file returns or an
    /// explicit reload.
    pub missing: bool,
}

/// A watcher's state, for people and health endpoints. Get it with
/// [`WatchHandle::status`](super::WatchHandle::status).
#[derive(Debug, Clone)]
pub struct ReloadStatus {
    /// The policy file or set directory being watched.
    pub path: PathBuf,
    /// The policies served now.
    pub policies: Vec<ActivePolicy>,
    /// The last reload attempt that got as far as reading settled files (not the first load).
    pub last: Option<ReloadReport>,
    /// The last failed attempt, kept after later successes.
    pub last_error: Option<ReloadReport>,
    /// Reloads that put a new set in service (explicit ones included).
    pub reloads_ok: u64,
    /// Reloads whose content did not load.
    pub reloads_failed: u64,
    /// Watched files (policies, includes) that are not there now.
    pub missing: Vec<PathBuf>,
    /// The directories watched for change events (empty when only polling).
    pub watched_dirs: Vec<PathBuf>,
    /// Whether change events are arriving from the OS; when false only polling sees changes.
    pub events: bool,
}

impl ReloadStatus {
    pub(crate) fn new(path: PathBuf, set: &PolicySet) -> ReloadStatus {
        let mut s = ReloadStatus {
            path,
            policies: Vec::new(),
            last: None,
            last_error: None,
            reloads_ok: 0,
            reloads_failed: 0,
            missing: Vec::new(),
            watched_dirs: Vec::new(),
            events: false,
        };
        s.serve(set, &[]);
        s
    }

    /// Records the set now served; `kept` names the policies whose file is gone.
    pub(crate) fn serve(&mut self, set: &PolicySet, kept: &[String]) {
        self.policies = set
            .policies()
            .iter()
            .map(|p| ActivePolicy {
                name: p.policy.name.clone(),
                version: p.policy.version.clone(),
                path: p.policy.path.clone(),
                missing: kept.contains(&p.policy.name),
            })
            .collect();
    }

    /// The version served for a policy name.
    pub fn version_of(&self, name: &str) -> Option<&str> {
        self.policies
            .iter()
            .find(|p| p.name == name)
            .map(|p| p.version.as_str())
    }

    /// The status as JSON (for a health endpoint or `--log-format json`).
    pub fn to_json(&self) -> Value {
        let report = |r: &ReloadReport| {
            json!({
                "outcome": r.outcome.as_str(),
                "summary": r.summary,
                "at_unix_ms": r.at.duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0),
                "diagnostics": r.diagnostics.iter().map(|d| json!({
                    "name": d.name,
                    "location": d.location(),
                    "message": d.message,
                })).collect::<Vec<_>>(),
            })
        };
        json!({
            "path": self.path.display().to_string(),
            "policies": self.policies.iter().map(|p| json!({
                "name": p.name,
                "version": p.version,
                "path": p.path.display().to_string(),
                "missing": p.missing,
            })).collect::<Vec<_>>(),
            "last_reload": self.last.as_ref().map(report),
            "last_error": self.last_error.as_ref().map(report),
            "reloads_ok": self.reloads_ok,
            "reloads_failed": self.reloads_failed,
            "missing": self.missing.iter().map(|p| p.display().to_string()).collect::<Vec<_>>(),
            "watched_dirs": self.watched_dirs.iter().map(|p| p.display().to_string()).collect::<Vec<_>>(),
            "events": self.events,
        })
    }
}
