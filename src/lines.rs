//! Reading JSON lines (steps, call-log records) with bounded memory, whatever the input.
//!
//! Every batch reader in switchyard reads through [`Lines`]: a line that lies whole in the
//! reader's buffer is handed out in place, without a copy; one that straddles the buffer's end
//! is gathered into one reused buffer, up to a maximum length. A longer line is not kept: it is
//! reported as [`Line::TooLong`] (one error line for the caller to write) and the reader skips
//! to the next newline, so `/dev/zero` or a runaway writer costs bounded memory and the batch
//! goes on. Lines are bytes: a line that is not UTF-8 is the caller's error to report, never
//! the end of the read.

use std::io::{self, BufRead};

/// The longest line read by default: 8 MiB, the same as the server's default body limit.
/// Commands take `--max-line-bytes` to change it.
pub const DEFAULT_MAX_LINE_BYTES: usize = 8 << 20;

/// One line of input, without its line ending (`\n` or `\r\n`).
#[derive(Debug, PartialEq, Eq)]
pub enum Line<'a> {
    /// The line's bytes.
    Text(&'a [u8]),
    /// The line was longer than the limit; `len` is its full length in bytes. Its bytes
    /// were read and dropped.
    TooLong {
        /// The line's length in bytes, without the line ending.
        len: u64,
    },
}

/// A line reader with a maximum line length; see the module docs.
#[derive(Debug)]
pub struct Lines<R> {
    reader: R,
    buf: Vec<u8>,
    max: usize,
    line: u64,
    /// Bytes of the reader's buffer handed out last time, consumed on the next call.
    pending: usize,
}

impl<R: BufRead> Lines<R> {
    /// Reads from `reader` (wrap a file in a `BufReader`) with the default maximum line length.
    pub fn new(reader: R) -> Self {
        Self::with_max(reader, DEFAULT_MAX_LINE_BYTES)
    }

    /// Reads from `reader`, treating lines longer than `max` bytes as [`Line::TooLong`].
    pub fn with_max(reader: R, max: usize) -> Self {
        Lines {
            reader,
            buf: Vec::new(),
            max,
            line: 0,
            pending: 0,
        }
    }

    /// The maximum line length in bytes.
    pub fn max_line_bytes(&self) -> usize {
        self.max
    }

    /// The next line and its 1-based number; `None` at the end of the input.
    pub fn next_line(&mut self) -> io::Result<Option<(u64, Line<'_>)>> {
        self.reader.consume(std::mem::take(&mut self.pending));
        let newline = loop {
            match self.reader.fill_buf() {
                Ok([]) => return Ok(None),
                Ok(available) => break memchr::memchr(b'\n', available),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        };
        self.line += 1;
        if let Some(end) = newline {
            self.pending = end + 1;
            // The data is already buffered: this fill_buf reads nothing.
            let line = &self.reader.fill_buf()?[..end];
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            if line.len() > self.max {
                let len = line.len() as u64;
                return Ok(Some((self.line, Line::TooLong { len })));
            }
            return Ok(Some((self.line, Line::Text(line))));
        }
        self.gather()
    }

    /// Reads a line that straddles the buffer's end, keeping at most `max + 1` bytes of it
    /// (the extra one may be the `\r` of a `\r\n`).
    fn gather(&mut self) -> io::Result<Option<(u64, Line<'_>)>> {
        self.buf.clear();
        let keep = self.max.saturating_add(1);
        let mut len: u64 = 0;
        loop {
            let available = match self.reader.fill_buf() {
                Ok(a) => a,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if available.is_empty() {
                break;
            }
            let (take, done) = match memchr::memchr(b'\n', available) {
                Some(i) => (i, true),
                None => (available.len(), false),
            };
            let room = keep.saturating_sub(self.buf.len());
            self.buf.extend_from_slice(&available[..take.min(room)]);
            len += take as u64;
            self.reader.consume(take + usize::from(done));
            if done {
                break;
            }
        }
        if self.buf.last() == Some(&b'\r') && len == self.buf.len() as u64 {
            self.buf.pop();
            len -= 1;
        }
        if len > self.max as u64 {
            return Ok(Some((self.line, Line::TooLong { len })));
        }
        Ok(Some((self.line, Line::Text(&self.buf))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufReader, Read};

    fn read_all(input: &[u8], cap: usize, max: usize) -> Vec<Result<Vec<u8>, u64>> {
        let mut lines = Lines::with_max(BufReader::with_capacity(cap, input), max);
        let mut out = Vec::new();
        while let Some((n, line)) = lines.next_line().unwrap() {
            assert_eq!(n as usize, out.len() + 1);
            out.push(match line {
                Line::Text(t) => Ok(t.to_vec()),
                Line::TooLong { len } => Err(len),
            });
        }
        out
    }

    #[test]
    fn lines_come_out_without_endings_whatever_the_buffer_size() {
        let input = b"a\r\nbb\n\nccc";
        for cap in 1..8 {
            assert_eq!(
                read_all(input, cap, 100),
                vec![
                    Ok(b"a".to_vec()),
                    Ok(b"bb".to_vec()),
                    Ok(vec![]),
                    Ok(b"ccc".to_vec())
                ],
                "buffer of {cap}"
            );
        }
    }

    #[test]
    fn a_long_line_is_one_error_and_the_reader_resyncs() {
        let input = b"ok\n0123456789\nnext\n01234\r\n";
        for cap in 1..16 {
            assert_eq!(
                read_all(input, cap, 5),
                vec![
                    Ok(b"ok".to_vec()),
                    Err(10),
                    Ok(b"next".to_vec()),
                    Ok(b"01234".to_vec())
                ],
                "buffer of {cap}"
            );
        }
    }

    #[test]
    fn an_endless_line_costs_bounded_memory() {
        // 64 MiB of zeros with no newline, then a good line: the gather buffer never grows
        // past the limit.
        let zeros = io::repeat(0).take(64 << 20);
        let input = zeros.chain(&b"\n{}\n"[..]);
        let mut lines = Lines::with_max(BufReader::new(input), 1024);
        let (_, first) = lines.next_line().unwrap().unwrap();
        assert_eq!(first, Line::TooLong { len: 64 << 20 });
        assert!(lines.buf.capacity() <= 4096);
        let (n, second) = lines.next_line().unwrap().unwrap();
        assert_eq!((n, second), (2, Line::Text(b"{}")));
    }
}
