//! Where call records go: a JSONL file (one line per call, appended by a writer thread, safe
//! under concurrent writers), memory (for tests), and a tracing event for every call.

use std::cell::RefCell;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::calllog::record::CallRecord;

/// Receives every call record a runner makes.
pub trait CallSink: Send + Sync {
    /// Stores one record, or hands it to a writer that will. An error means this record or
    /// an earlier one was not stored; the runner returns it to its caller
    /// ([`RunError::NotRecorded`](super::RunError::NotRecorded)).
    fn record(&self, record: &CallRecord) -> io::Result<()>;

    /// Waits until everything handed over is stored (a buffered sink writes it out); the
    /// default holds nothing. Reports a record that could not be stored, as `record` does.
    fn flush(&self) -> io::Result<()> {
        Ok(())
    }
}

/// Appends each record as one JSON line to a file.
///
/// The caller only serializes the record and queues the line: a writer thread of the sink
/// does the file I/O, so async code never waits on the disk. Lines reach the file only
/// whole, and the file is opened with `O_APPEND`, so lines from concurrent calls never
/// interleave, and other processes appending the same way land between lines, never inside
/// one. A file whose last line was cut (no newline at its end) gets one before the first
/// record, so the new record is never glued to it.
///
/// [`JsonlSink::append`] writes each line as soon as the writer gets to it (lines that
/// queue up meanwhile go out in one `write`; past 16 MiB queued, callers wait for the disk). [`JsonlSink::buffered`] gathers lines and
/// writes them together when the buffer fills, when the oldest line has waited `max_delay`,
/// on [`flush`](CallSink::flush) and on drop; a crash can lose what is still buffered.
///
/// A write that fails is not retried; the lines it held are counted as lost, and from then
/// on every [`record`](CallSink::record) and [`flush`](CallSink::flush) returns an error
/// naming the file, the number of records lost and why.
#[derive(Debug)]
pub struct JsonlSink {
    shared: Arc<Shared>,
    writer: Option<JoinHandle<()>>,
    path: PathBuf,
}

#[derive(Debug)]
struct Shared {
    state: Mutex<Queue>,
    /// Wakes the writer: a first line in an empty queue, a full buffer, a flush, closing.
    wake: Condvar,
    /// Wakes flushers once their lines are written.
    written: Condvar,
    capacity: usize,
    max_delay: Duration,
}

#[derive(Debug, Default)]
struct Queue {
    /// Whole lines not yet taken by the writer.
    lines: Vec<u8>,
    count: u64,
    oldest: Option<Instant>,
    /// Flushes asked for, and the last one whose lines are written.
    flush_asked: u64,
    flush_done: u64,
    closing: bool,
    /// The writer is asleep on `wake` (a notification costs a system call; skip it otherwise).
    writer_waiting: bool,
    failure: Option<Failure>,
}

/// Records lost so far, and the last error.
#[derive(Debug)]
struct Failure {
    lost: u64,
    kind: io::ErrorKind,
    message: String,
}

/// Queued bytes past which a caller waits for the writer: memory stays bounded when the disk
/// cannot keep up (a stalled network file system), at the cost of blocking then.
const MAX_QUEUED_BYTES: usize = 16 << 20;

thread_local! {
    /// Each thread's serialization buffer, reused so a record costs no allocation there.
    static LINE: RefCell<Vec<u8>> = RefCell::new(Vec::with_capacity(1024));
}

impl JsonlSink {
    /// Opens (creating if needed) a file to append to; each line is written at once.
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
        let mut file = open_append(path)?;
        // A cut last line stays a bad line; the first record starts on a fresh one.
        let mut start = Vec::new();
        if ends_mid_line(&mut file) {
            start.push(b'\n');
        }
        let shared = Arc::new(Shared {
            state: Mutex::new(Queue {
                lines: start,
                ..Queue::default()
            }),
            wake: Condvar::new(),
            written: Condvar::new(),
            capacity,
            max_delay,
        });
        let writer = {
            let shared = shared.clone();
            let path = path.to_path_buf();
            std::thread::Builder::new()
                .name("switchyard-call-log".into())
                .spawn(move || write_lines(&shared, file, &path))?
        };
        Ok(JsonlSink {
            shared,
            writer: Some(writer),
            path: path.to_path_buf(),
        })
    }

    /// The file written to.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether the writer thread still runs (it stops only when the sink is dropped, or if
    /// it panicked: then nobody waits for it).
    fn writer_alive(&self) -> bool {
        self.writer.as_ref().is_some_and(|w| !w.is_finished())
    }

    /// The error to report if records were lost.
    fn failed(&self, queue: &Queue) -> io::Result<()> {
        match &queue.failure {
            None => Ok(()),
            Some(f) => Err(io::Error::new(
                f.kind,
                format!(
                    "{} call record{} could not be written to {}: {}",
                    f.lost,
                    if f.lost == 1 { "" } else { "s" },
                    self.path.display(),
                    f.message
                ),
            )),
        }
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        // Nothing under the lock can panic halfway, so a poisoned lock's queue is usable.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Opens for appending, and for reading too when allowed (to look at the last byte).
fn open_append(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.create(true).append(true);
    match options.clone().read(true).open(path) {
        Ok(f) => Ok(f),
        Err(e) if e.kind() == io::ErrorKind::PermissionDenied => options.open(path),
        Err(e) => Err(e),
    }
}

/// Whether a regular file's last byte is not a newline (a cut line). Anything that cannot
/// tell (a device, a pipe, no read access) counts as a whole last line.
fn ends_mid_line(file: &mut File) -> bool {
    let is_nonempty_file = file
        .metadata()
        .map(|m| m.is_file() && m.len() > 0)
        .unwrap_or(false);
    if !is_nonempty_file {
        return false;
    }
    let mut last = [0u8; 1];
    // O_APPEND writes go to the end wherever this leaves the position.
    file.seek(SeekFrom::End(-1)).is_ok() && file.read_exact(&mut last).is_ok() && last[0] != b'\n'
}

/// The writer thread: takes whole lines off the queue and appends them, until the sink is
/// dropped and the queue is empty.
fn write_lines(shared: &Shared, mut file: File, path: &Path) {
    let mut batch: Vec<u8> = Vec::new();
    let mut guard = shared.lock();
    loop {
        // Wait until there is something to write now.
        loop {
            let flush = guard.flush_asked > guard.flush_done;
            if guard.closing || flush {
                break;
            }
            if !guard.lines.is_empty() {
                if shared.capacity == 0 || guard.lines.len() >= shared.capacity {
                    break;
                }
                let waited = guard.oldest.map_or(Duration::ZERO, |t| t.elapsed());
                if waited >= shared.max_delay {
                    break;
                }
                guard.writer_waiting = true;
                guard = shared
                    .wake
                    .wait_timeout(guard, shared.max_delay - waited)
                    .unwrap_or_else(|e| e.into_inner())
                    .0;
                guard.writer_waiting = false;
                continue;
            }
            guard.writer_waiting = true;
            guard = shared.wake.wait(guard).unwrap_or_else(|e| e.into_inner());
            guard.writer_waiting = false;
        }
        std::mem::swap(&mut batch, &mut guard.lines);
        let lines = std::mem::take(&mut guard.count);
        guard.oldest = None;
        let flushed = guard.flush_asked;
        let closing = guard.closing;
        drop(guard);

        let result = if batch.is_empty() {
            Ok(())
        } else {
            file.write_all(&batch)
        };
        batch.clear();

        guard = shared.lock();
        if let Err(e) = result {
            tracing::error!(target: "switchyard::call", path = %path.display(), error = %e,
                lines, "call records could not be written");
            let f = guard.failure.get_or_insert(Failure {
                lost: 0,
                kind: e.kind(),
                message: String::new(),
            });
            f.lost += lines;
            f.kind = e.kind();
            f.message = e.to_string();
        }
        guard.flush_done = flushed;
        shared.written.notify_all();
        if closing && guard.lines.is_empty() {
            return;
        }
    }
}

impl CallSink for JsonlSink {
    fn record(&self, record: &CallRecord) -> io::Result<()> {
        LINE.with(|line| {
            let mut line = line.borrow_mut();
            line.clear();
            // Serialize outside the lock; hold it only to queue the whole line.
            record.write_json(&mut line)?;
            line.push(b'\n');
            let mut queue = self.shared.lock();
            while queue.lines.len() >= MAX_QUEUED_BYTES && self.writer_alive() {
                queue = self
                    .shared
                    .written
                    .wait(queue)
                    .unwrap_or_else(|e| e.into_inner());
            }
            let was_empty = queue.count == 0;
            queue.lines.extend_from_slice(&line);
            queue.count += 1;
            if was_empty {
                queue.oldest = Some(Instant::now());
            }
            // Wake a sleeping writer for a first line (it starts the buffer's clock, or writes
            // it at once) or a full buffer; a busy writer takes the new line with the rest.
            let full = self.shared.capacity > 0 && queue.lines.len() >= self.shared.capacity;
            if queue.writer_waiting && (was_empty || full) {
                self.shared.wake.notify_one();
            }
            self.failed(&queue)
        })
    }

    fn flush(&self) -> io::Result<()> {
        let mut queue = self.shared.lock();
        queue.flush_asked += 1;
        let asked = queue.flush_asked;
        self.shared.wake.notify_one();
        while queue.flush_done < asked && self.writer_alive() {
            queue = self
                .shared
                .written
                .wait(queue)
                .unwrap_or_else(|e| e.into_inner());
        }
        self.failed(&queue)
    }
}

impl Drop for JsonlSink {
    fn drop(&mut self) {
        self.shared.lock().closing = true;
        self.shared.wake.notify_one();
        if let Some(w) = self.writer.take() {
            let _ = w.join();
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
