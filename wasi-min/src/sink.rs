//! Output sinks for the guest's stdout and stderr, and a tap that remembers how a guest panicked.

use std::io::{self, Write};
use std::sync::{Arc, Mutex, PoisonError};

/// Where a guest's stdout or stderr goes. Any `Write + Send` works; these are the common ones.
pub type Sink = Box<dyn Write + Send>;

/// The host process's stdout. Each guest write is one host write, flushed at once (like the
/// guest's `write` system call): output without a newline appears immediately, and stdout and
/// stderr interleave in the order the guest wrote them.
pub fn inherit_stdout() -> Sink {
    Box::new(WriteThrough(io::stdout()))
}

/// The host process's stderr (unbuffered).
pub fn inherit_stderr() -> Sink {
    Box::new(WriteThrough(io::stderr()))
}

/// Flushes after every write.
struct WriteThrough<W>(W);

impl<W: Write> Write for WriteThrough<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write_all(buf)?;
        self.0.flush()?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

/// Discards everything.
pub fn null() -> Sink {
    Box::new(io::sink())
}

/// A cloneable in-memory buffer: hand one clone to the guest as a sink, read the other.
#[derive(Debug, Clone, Default)]
pub struct SharedBuffer(Arc<Mutex<Vec<u8>>>);

impl SharedBuffer {
    /// An empty buffer.
    pub fn new() -> Self {
        Self::default()
    }
    /// A copy of everything written so far.
    pub fn contents(&self) -> Vec<u8> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }
    /// Everything written so far, lossily decoded as UTF-8.
    pub fn to_string_lossy(&self) -> String {
        String::from_utf8_lossy(&self.contents()).into_owned()
    }
    /// Number of bytes written so far.
    pub fn len(&self) -> usize {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).len()
    }
    /// Whether nothing has been written.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// This buffer as a [`Sink`].
    pub fn sink(&self) -> Sink {
        Box::new(self.clone())
    }
}

impl Write for SharedBuffer {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// How much of the guest's stderr is kept for error reports.
pub const STDERR_TAIL_BYTES: usize = 64 * 1024;
const MAX_LINE: usize = 4096;

/// Watches the stderr byte stream: keeps its tail, and the first `panic: ` / `fatal error: ` line.
///
/// Go's runtime prints a panic in several `fd_write` calls (`"panic: "`, the value, `"\n"`), so
/// detection works on reassembled lines, not on single writes.
#[derive(Debug, Default, Clone)]
pub struct StderrTap {
    tail: Vec<u8>,
    line: Vec<u8>,
    panic_line: Option<String>,
}

impl StderrTap {
    /// Feeds bytes the guest wrote to stderr.
    pub fn observe(&mut self, data: &[u8]) {
        self.tail.extend_from_slice(data);
        if self.tail.len() > STDERR_TAIL_BYTES {
            let cut = self.tail.len() - STDERR_TAIL_BYTES;
            self.tail.drain(..cut);
        }
        if self.panic_line.is_some() {
            return;
        }
        // memchr, not a byte loop: a guest may write gigabytes to stderr.
        let mut rest = data;
        while !rest.is_empty() {
            let (part, newline) = match memchr::memchr(b'\n', rest) {
                Some(i) => (&rest[..i], true),
                None => (rest, false),
            };
            let room = MAX_LINE.saturating_sub(self.line.len());
            self.line.extend_from_slice(&part[..part.len().min(room)]);
            if !newline {
                return;
            }
            rest = &rest[part.len() + 1..];
            let line = String::from_utf8_lossy(&self.line);
            if line.starts_with("panic: ") || line.starts_with("fatal error: ") {
                self.panic_line = Some(line.into_owned());
                self.line.clear();
                return;
            }
            self.line.clear();
        }
    }
    /// The last [`STDERR_TAIL_BYTES`] of stderr, lossily decoded.
    pub fn tail(&self) -> String {
        String::from_utf8_lossy(&self.tail).into_owned()
    }
    /// The first line starting with `panic: ` or `fatal error: `, if any.
    pub fn panic_line(&self) -> Option<&str> {
        self.panic_line.as_deref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn panic_line_is_reassembled_across_writes() {
        let mut tap = StderrTap::default();
        for part in ["some output\npan", "ic: ", "boom", "\n\ngoroutine 1 [running]:\n"] {
            tap.observe(part.as_bytes());
        }
        assert_eq!(tap.panic_line(), Some("panic: boom"));
        assert!(tap.tail().contains("goroutine 1"));
    }

    #[test]
    fn tail_is_bounded() {
        let mut tap = StderrTap::default();
        for _ in 0..100 {
            tap.observe(&[b'x'; 4096]);
        }
        assert_eq!(tap.tail().len(), STDERR_TAIL_BYTES);
    }
}
