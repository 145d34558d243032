//! Where call records go: a JSONL file (one line per call, appended, safe under concurrent
//! writers), memory (for tests), and a tracing event for every call.

use std::cell::RefCell;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::calllog::record::CallRecord;

/// Receives every call record a runner makes.
pub trait CallSink: Send + Sync {
    /// Stores one record. An error is logged by the runner; the call's result still returns.
    fn record(&self, record: &CallRecord) -> io::Result<()>;

    /// Writes out anything held back (a buffered sink); the default holds nothing.
    fn flush(&self) -> io::Result<()> {
        Ok(())
    }
}

/// Appends each record as one JSON line to a file.
///
/// The file is opened with `O_APPEND`, and lines go to it only whole, each write under the
/// sink's lock: lines from concurrent calls never interleave, and other processes appending
/// the same way land between lines, never inside one.
///
/// [`JsonlSink::append`] writes every line at once (one `write` per call: nothing is held in
/// memory). [`JsonlSink::buffered`] gathers lines and writes them together when the buffer
/// fills, when the oldest line has waited `max_delay` (checked as each record arrives), on
/// [`flush`](CallSink::flush) and on drop; it costs a fraction of a write per call, and a
/// crash can lose what is still buffered.
#[derive(Debug)]
pub struct JsonlSink {
    inner: Mutex<Inner>,
    path: PathBuf,
}

#[derive(Debug)]
struct Inner {
    file: File,
    /// Whole lines not yet written (always empty when unbuffered).
    pending: Vec<u8>,
    /// Write once `pending` holds this many bytes; 0 writes every line at once.
    capacity: usize,
    max_delay: Duration,
    oldest: Option<Instant>,
}

impl Inner {
    fn write_pending(&mut self) -> io::Result<()> {
        self.oldest = None;
        if self.pending.is_empty() {
            return Ok(());
        }
        let result = self.file.write_all(&self.pending);
        self.pending.clear();
        result
    }
}

thread_local! {
    /// Each thread's serialization buffer, reused so a record costs no allocation here.
    static LINE: RefCell<String> = RefCell::new(String::with_capacity(1024));
}

impl JsonlSink {
    /// Opens (creating if needed) a file to append to; every line is written at once.
    pub fn append(path: impl AsRef<Path>) -> io::Result<JsonlSink> {
        JsonlSink::open(path.as_ref(), 0, Duration::ZERO)
    }

    /// Opens a file to append to, gathering lines up to `capacity` bytes or `max_delay`.
    pub fn buffered(
        path: impl AsRef<Path>,
        capacity: usize,
        max_delay: Duration,
    ) -> io::Result<JsonlSink> {
        JsonlSink::open(path.as_ref(), capacity.max(1), max_delay)
    }

    fn open(path: &Path, capacity: usize, max_delay: Duration) -> io::Result<JsonlSink> {
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        Ok(JsonlSink {
            inner: Mutex::new(Inner {
                file,
                pending: Vec::with_capacity(capacity),
                capacity,
                max_delay,
                oldest: None,
            }),
            path: path.to_path_buf(),
        })
    }

    /// The file written to.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A failed write leaves no half-kept state behind, so a poisoned lock is usable.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl CallSink for JsonlSink {
    fn record(&self, record: &CallRecord) -> io::Result<()> {
        LINE.with(|line| {
            let mut line = line.borrow_mut();
            line.clear();
            // Serialize outside the lock; hold it only to write (or buffer) the whole line.
            record.write_json(&mut line);
            line.push('\n');
            let mut inner = self.lock();
            if inner.capacity == 0 {
                return inner.file.write_all(line.as_bytes());
            }
            inner.pending.extend_from_slice(line.as_bytes());
            let now = Instant::now();
            let oldest = *inner.oldest.get_or_insert(now);
            if inner.pending.len() >= inner.capacity
                || now.duration_since(oldest) >= inner.max_delay
            {
                inner.write_pending()?;
            }
            Ok(())
        })
    }

    fn flush(&self) -> io::Result<()> {
        self.lock().write_pending()
    }
}

impl Drop for JsonlSink {
    fn drop(&mut self) {
        let inner = self.inner.get_mut().unwrap_or_else(|e| e.into_inner());
        if let Err(e) = inner.write_pending() {
            tracing::error!(target: "switchyard::call", path = %self.path.display(), error = %e,
                "buffered call records could not be written");
        }
    }
}

/// Keeps every record in memory, in the order they were recorded.
#[derive(Debug, Default)]
pub struct MemorySink {
    records: Mutex<Vec<CallRecord>>,
}

impl MemorySink {
    /// An empty sink.
    pub fn new() -> MemorySink {
        MemorySink::default()
    }

    fn lock(&self) -> MutexGuard<'_, Vec<CallRecord>> {
        self.records.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A copy of the records so far.
    pub fn records(&self) -> Vec<CallRecord> {
        self.lock().clone()
    }

    /// How many records it holds.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }
}

impl CallSink for MemorySink {
    fn record(&self, record: &CallRecord) -> io::Result<()> {
        self.lock().push(record.clone());
        Ok(())
    }
}

/// The tracing event every call emits (target `switchyard::call`, level INFO).
pub fn emit_event(r: &CallRecord) {
    tracing::info!(
        target: "switchyard::call",
        trace_id = r.trace_id.as_deref(),
        policy = %r.policy,
        policy_version = %r.policy_version,
        tier = %r.tier,
        model = %r.model,
        rule = r.rule.as_deref(),
        via = %r.via,
        guard = r.guard.as_deref(),
        latency_us = r.latency_us,
        input_tokens = r.input_tokens,
        output_tokens = r.output_tokens,
        token_source = ?r.token_source,
        cost_picos = r.cost.0,
        cost_usd = r.cost_usd,
        "model call"
    );
}
