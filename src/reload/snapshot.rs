//! What the watched files hold at one moment: the policy file (or the `*.toml` files a set
//! directory lists) and every include, each read through symlinks. Two snapshots compare
//! equal exactly when every file has the same bytes, so a touch or chmod changes nothing, and
//! a snapshot can recompute a policy's version hash to prove which bytes were compiled.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::policy::{read_bytes, set_files, version_hash, ReadError};
use crate::router::PolicySet;

/// The state of one file when it was read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum FileState {
    /// Not there (or a dangling symlink).
    Missing,
    /// There but could not be read; the reason.
    Unreadable(String),
    /// Its bytes.
    Content(Arc<[u8]>),
}

/// What is watched: the path the user gave, and the includes the last load found.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    /// The policy file or set directory, as given.
    pub root: PathBuf,
    /// Whether `root` is a policy-set directory (fixed when watching starts).
    pub is_dir: bool,
    /// Included files of the policies loaded last (paths as the loader forms them).
    pub includes: Vec<PathBuf>,
}

impl Target {
    pub(crate) fn new(root: &Path) -> Target {
        Target {
            root: root.to_path_buf(),
            is_dir: root.is_dir(),
            includes: Vec::new(),
        }
    }

    /// Remembers the includes of a loaded set, so their changes are seen too.
    pub(crate) fn set_includes(&mut self, set: &PolicySet) {
        let mut inc = BTreeSet::new();
        for p in set.policies() {
            for s in p.policy.sources.iter().skip(1) {
                inc.insert(s.path.clone());
            }
        }
        self.includes = inc.into_iter().collect();
    }

    /// Reads every file now.
    pub(crate) fn snapshot(&self) -> Snapshot {
        let mut files = BTreeMap::new();
        let listing = if self.is_dir {
            match list_set(&self.root) {
                Some(list) => {
                    for p in &list {
                        files.insert(p.clone(), read(p));
                    }
                    Some(list)
                }
                None => {
                    files.insert(self.root.clone(), FileState::Missing);
                    Some(Vec::new())
                }
            }
        } else {
            files.insert(self.root.clone(), read(&self.root));
            None
        };
        // The includes the files name now (so an include added before it exists is seen
        // when it appears), and those of the policies loaded last.
        let mut includes: Vec<PathBuf> = files
            .iter()
            .filter_map(|(p, s)| match s {
                FileState::Content(bytes) => Some(includes_of(p, bytes)),
                _ => None,
            })
            .flatten()
            .collect();
        includes.extend(self.includes.iter().cloned());
        for p in includes {
            if let std::collections::btree_map::Entry::Vacant(e) = files.entry(p) {
                let state = read(e.key());
                e.insert(state);
            }
        }
        Snapshot { listing, files }
    }

    /// The directories to watch, canonical so one directory is never watched twice: the
    /// parent of the policy file (the set directory itself for a set), of each include, and
    /// of the file each symlink finally points to (a symlinked policy whose target is edited
    /// where it lives).
    pub(crate) fn dirs(&self, snap: &Snapshot) -> BTreeSet<PathBuf> {
        let mut dirs = BTreeSet::new();
        let mut add = |d: &Path| {
            let d = if d.as_os_str().is_empty() {
                Path::new(".")
            } else {
                d
            };
            if let Ok(c) = d.canonicalize() {
                dirs.insert(c);
            }
        };
        if self.is_dir {
            add(&self.root);
        }
        for p in snap.files.keys().chain(self.includes.iter()) {
            if let Some(parent) = p.parent() {
                add(parent);
            }
            if let Ok(real) = p.canonicalize() {
                if let Some(parent) = real.parent() {
                    add(parent);
                }
            }
        }
        if !self.is_dir {
            if let Some(parent) = self.root.parent() {
                add(parent);
            }
        }
        dirs
    }
}

/// Every watched file's state at one moment.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Snapshot {
    /// For a set: the `*.toml` files the directory lists, in name order.
    pub listing: Option<Vec<PathBuf>>,
    /// Each file read, by the path the loader uses for it.
    pub files: BTreeMap<PathBuf, FileState>,
}

impl Snapshot {
    /// The files not there.
    pub(crate) fn missing(&self) -> Vec<PathBuf> {
        self.files
            .iter()
            .filter(|(_, s)| **s == FileState::Missing)
            .map(|(p, _)| p.clone())
            .collect()
    }

    /// The version hash the loader would give a policy made of these files (the policy
    /// file, then its includes in order), from the bytes in this snapshot; `None` when one
    /// of them was not read here.
    pub(crate) fn version_of<'a>(&self, paths: impl Iterator<Item = &'a Path>) -> Option<String> {
        let bytes: Option<Vec<&[u8]>> = paths
            .map(|p| match self.files.get(p) {
                Some(FileState::Content(bytes)) => Some(&bytes[..]),
                _ => None,
            })
            .collect();
        Some(version_hash(bytes?.into_iter()))
    }
}

/// The files a policy's `[policy] include` names, joined as the loader joins them; nothing
/// if the text does not parse (the load will say why).
fn includes_of(path: &Path, bytes: &[u8]) -> Vec<PathBuf> {
    let Some(table) = std::str::from_utf8(bytes)
        .ok()
        .and_then(|t| toml::from_str::<toml::Table>(t).ok())
    else {
        return Vec::new();
    };
    let base = path.parent().unwrap_or(Path::new("."));
    table
        .get("policy")
        .and_then(|p| p.get("include"))
        .and_then(|v| v.as_array())
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str())
                .map(|s| base.join(s))
                .collect()
        })
        .unwrap_or_default()
}

/// Reads as the loader reads: regular files only, with its size cap, so a FIFO or a device
/// named by an edit is reported as unreadable instead of blocking the watch thread.
fn read(path: &Path) -> FileState {
    match read_bytes(path) {
        Ok(bytes) => FileState::Content(bytes.into()),
        Err(ReadError::NotFound) => FileState::Missing,
        Err(e) => FileState::Unreadable(e.to_string()),
    }
}

/// The files a set directory holds, chosen by the loader's own rule.
fn list_set(dir: &Path) -> Option<Vec<PathBuf>> {
    set_files(dir).ok()
}
