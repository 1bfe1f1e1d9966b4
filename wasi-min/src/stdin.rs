//! Standard input that never blocks the host thread.
//!
//! The embedder's `Read` source may block (a terminal, a pipe). Off wasm32-unknown-unknown it is
//! read on a background thread, started at the guest's first use of stdin, into a bounded buffer
//! ([`BUFFER`] bytes; the thread waits while it is full). `fd_read(0)` then only copies out of
//! the buffer: data is returned at once, end of input as 0 bytes, and when nothing has arrived
//! yet a descriptor the guest set `NONBLOCK` on gets `EAGAIN` (Go's netpoller then parks the
//! goroutine and asks `poll_oneoff` for readiness). [`InputReadiness`] lets the run loops wait
//! for input too, blocking a thread or registering an async waker.
//!
//! On wasm32-unknown-unknown there are no threads: the source is read synchronously in
//! `fd_read`, as before, and stdin always counts as ready.

use std::collections::VecDeque;
use std::io::Read;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

/// Most bytes read ahead of the guest.
pub const BUFFER: usize = 64 * 1024;

type Source = Box<dyn Read + Send>;

#[derive(Default)]
struct State {
    /// The source, until the reader thread takes it (or, without threads, for good).
    source: Option<Source>,
    started: bool,
    buf: VecDeque<u8>,
    eof: bool,
    /// The source failed (other than `Interrupted`): reads report `EIO` once the buffer is drained.
    failed: bool,
    /// The context was dropped: the reader thread stops at its next chance.
    closed: bool,
    wakers: Vec<Waker>,
}

impl State {
    fn ready(&self) -> bool {
        !self.buf.is_empty() || self.eof || self.failed
    }
}

#[derive(Default)]
struct Shared {
    state: Mutex<State>,
    cond: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
    /// Starts the reader thread on first use (no thread for a context whose guest never reads).
    fn start(self: &Arc<Self>) -> MutexGuard<'_, State> {
        let mut st = self.lock();
        if !st.started {
            st.started = true;
            #[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
            if let Some(source) = st.source.take() {
                let shared = Arc::clone(self);
                let spawned = std::thread::Builder::new()
                    .name("wasi-stdin".into())
                    .spawn(move || reader(&shared, source));
                if let Err(e) = spawned {
                    tracing::error!("cannot start the stdin reader thread: {e}");
                    st.failed = true;
                }
            }
        }
        st
    }
    /// Marks a state change: wakes blocked waiters and async tasks.
    fn notify(&self, mut st: MutexGuard<'_, State>) {
        let wakers = std::mem::take(&mut st.wakers);
        drop(st);
        self.cond.notify_all();
        for w in wakers {
            w.wake();
        }
    }
}

/// The reader thread: fills the buffer until end of input, an error, or the context is gone.
#[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
fn reader(shared: &Shared, mut source: Source) {
    let mut chunk = vec![0u8; 8192];
    loop {
        let room = {
            let mut st = shared.lock();
            while st.buf.len() >= BUFFER && !st.closed {
                st = shared.cond.wait(st).unwrap_or_else(PoisonError::into_inner);
            }
            if st.closed {
                return;
            }
            BUFFER - st.buf.len()
        };
        let want = room.min(chunk.len());
        let r = source.read(&mut chunk[..want]);
        let mut st = shared.lock();
        match r {
            Ok(0) => st.eof = true,
            Ok(n) => st.buf.extend(&chunk[..n.min(want)]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                tracing::debug!(target: "wasi_min", "stdin source failed: {e}");
                st.failed = true;
            }
        }
        let done = st.eof || st.failed;
        shared.notify(st);
        if done {
            return;
        }
    }
}

/// What a read of stdin found.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Input {
    /// This many bytes were copied.
    Data(usize),
    /// End of input.
    Eof,
    /// Nothing yet.
    Empty,
    /// The source failed.
    Failed,
}

/// The context's stdin: the buffer the reader thread fills.
pub(crate) struct StdinPipe {
    shared: Arc<Shared>,
}

impl StdinPipe {
    pub(crate) fn new(source: Source) -> Self {
        let shared = Arc::new(Shared::default());
        shared.lock().source = Some(source);
        StdinPipe { shared }
    }
    fn take(&self, st: &mut State, buf: &mut [u8]) -> Input {
        if !st.buf.is_empty() {
            let n = buf.len().min(st.buf.len());
            for (dst, src) in buf.iter_mut().zip(st.buf.drain(..n)) {
                *dst = src;
            }
            return Input::Data(n);
        }
        if st.failed {
            Input::Failed
        } else if st.eof {
            Input::Eof
        } else {
            Input::Empty
        }
    }
    /// Copies what is buffered, without waiting.
    pub(crate) fn try_read(&self, buf: &mut [u8]) -> Input {
        let mut st = self.shared.start();
        #[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
        if st.buf.is_empty() && !st.eof && !st.failed {
            return sync_read(&mut st, buf);
        }
        let r = self.take(&mut st, buf);
        if matches!(r, Input::Data(_)) {
            // The reader may be waiting for room.
            self.shared.notify(st);
        }
        r
    }
    /// Waits until something is ready, then copies it.
    pub(crate) fn read_blocking(&self, buf: &mut [u8]) -> Input {
        #[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
        {
            let mut st = self.shared.start();
            while !st.ready() {
                st = self.shared.cond.wait(st).unwrap_or_else(PoisonError::into_inner);
            }
        }
        self.try_read(buf)
    }
    /// Bytes buffered now.
    pub(crate) fn buffered(&self) -> usize {
        self.shared.start().buf.len()
    }
    pub(crate) fn readiness(&self) -> InputReadiness {
        InputReadiness {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl Drop for StdinPipe {
    fn drop(&mut self) {
        let mut st = self.shared.lock();
        st.closed = true;
        self.shared.notify(st);
    }
}

/// Without threads, the source is read in the guest's call (which then may block).
#[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
fn sync_read(st: &mut State, buf: &mut [u8]) -> Input {
    let Some(source) = st.source.as_mut() else {
        return Input::Eof;
    };
    loop {
        return match source.read(buf) {
            Ok(0) => {
                st.eof = true;
                Input::Eof
            }
            Ok(n) => Input::Data(n.min(buf.len())),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => Input::Failed,
        };
    }
}

/// Whether the guest's stdin has something to read (data, end of input, or an error), for the
/// run loops: wait for it on a thread or as an async task.
#[derive(Clone)]
pub struct InputReadiness {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for InputReadiness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InputReadiness").field("ready", &self.is_ready()).finish()
    }
}

impl InputReadiness {
    /// Data or end of input is available (always true on wasm32-unknown-unknown, where stdin is
    /// read synchronously).
    pub fn is_ready(&self) -> bool {
        cfg!(all(target_arch = "wasm32", target_os = "unknown")) || self.shared.start().ready()
    }
    /// Blocks the calling thread until stdin is ready or `d` has passed; returns whether it is
    /// ready.
    pub fn wait_timeout(&self, d: Duration) -> bool {
        if cfg!(all(target_arch = "wasm32", target_os = "unknown")) {
            return true;
        }
        let mut st = self.shared.start();
        let mut left = d;
        while !st.ready() {
            let before = std::time::Instant::now();
            let (next, timeout) = self.shared.cond.wait_timeout(st, left).unwrap_or_else(PoisonError::into_inner);
            st = next;
            if timeout.timed_out() {
                return st.ready();
            }
            left = left.saturating_sub(before.elapsed());
        }
        true
    }
    /// Ready, or registers `cx`'s waker to be woken when input arrives.
    pub fn poll_ready(&self, cx: &mut Context<'_>) -> Poll<()> {
        if cfg!(all(target_arch = "wasm32", target_os = "unknown")) {
            return Poll::Ready(());
        }
        let mut st = self.shared.start();
        if st.ready() {
            return Poll::Ready(());
        }
        if !st.wakers.iter().any(|w| w.will_wake(cx.waker())) {
            st.wakers.push(cx.waker().clone());
        }
        Poll::Pending
    }
}

#[cfg(all(test, not(all(target_arch = "wasm32", target_os = "unknown"))))]
mod tests {
    use super::*;
    use std::sync::mpsc;

    /// A source fed through a channel: reads block until the test sends.
    struct Chan(mpsc::Receiver<Vec<u8>>);
    impl Read for Chan {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            match self.0.recv() {
                Ok(v) => {
                    buf[..v.len()].copy_from_slice(&v);
                    Ok(v.len())
                }
                Err(_) => Ok(0),
            }
        }
    }

    #[test]
    fn empty_then_data_then_eof() {
        let (tx, rx) = mpsc::channel();
        let pipe = StdinPipe::new(Box::new(Chan(rx)));
        let ready = pipe.readiness();
        let mut buf = [0u8; 8];
        assert_eq!(pipe.try_read(&mut buf), Input::Empty);
        assert!(!ready.is_ready());
        tx.send(b"hi".to_vec()).unwrap();
        assert!(ready.wait_timeout(Duration::from_secs(3600)));
        assert_eq!(pipe.try_read(&mut buf), Input::Data(2));
        assert_eq!(&buf[..2], b"hi");
        drop(tx);
        assert_eq!(pipe.read_blocking(&mut buf), Input::Eof);
    }

    #[test]
    fn poll_ready_wakes_the_task() {
        struct Flag(Mutex<bool>, Condvar);
        impl std::task::Wake for Flag {
            fn wake(self: Arc<Self>) {
                *self.0.lock().unwrap() = true;
                self.1.notify_all();
            }
        }
        let (tx, rx) = mpsc::channel();
        let pipe = StdinPipe::new(Box::new(Chan(rx)));
        let ready = pipe.readiness();
        let flag = Arc::new(Flag(Mutex::new(false), Condvar::new()));
        let waker = Waker::from(flag.clone());
        let mut cx = Context::from_waker(&waker);
        assert_eq!(ready.poll_ready(&mut cx), Poll::Pending);
        tx.send(b"x".to_vec()).unwrap();
        let mut woken = flag.0.lock().unwrap();
        while !*woken {
            woken = flag.1.wait(woken).unwrap();
        }
        assert_eq!(ready.poll_ready(&mut cx), Poll::Ready(()));
    }
}
