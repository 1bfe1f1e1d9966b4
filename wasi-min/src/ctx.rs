//! [`WasiCtx`]: the per-instance state behind the preview1 functions, and its builder.

use std::io::{Read, Write};

use crate::clock::Clock;
use crate::fd::{FdFacts, FdFactsError, FdTable};
use crate::fs::Preopen;
use crate::random::RandomSource;
use crate::sink::{self, Sink, StderrTap};
use crate::stdin::{InputReadiness, StdinPipe};

/// Per-instance WASI state: arguments, environment, stdio, preopened directories, clocks,
/// randomness.
///
/// The guest sees stdin (fd 0), stdout (fd 1), stderr (fd 2), the directories the embedder
/// preopened ([`WasiCtxBuilder::preopen`], fds 3, 4, …) and what it opens beneath them; nothing
/// else of the host (no other files, no sockets).
pub struct WasiCtx {
    pub(crate) args: Vec<Vec<u8>>,
    pub(crate) env: Vec<Vec<u8>>,
    pub(crate) stdin: Option<StdinPipe>,
    /// The guest's last look at stdin found nothing ready (see [`WasiCtx::waiting_for_stdin`]).
    pub(crate) stdin_waiting: bool,
    pub(crate) fds: FdTable,
    pub(crate) stdout: Sink,
    pub(crate) stderr: Sink,
    pub(crate) clock: Box<dyn Clock>,
    /// The embedder chose the clock (so [`WasiCtx::set_default_clock`] leaves it alone).
    pub(crate) clock_given: bool,
    pub(crate) random: Box<dyn RandomSource>,
    pub(crate) tap: StderrTap,
    pub(crate) exit_code: Option<i32>,
    pub(crate) scratch: Vec<u8>,
}

impl std::fmt::Debug for WasiCtx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WasiCtx")
            .field("args", &self.args.len())
            .field("env", &self.env.len())
            .field("exit_code", &self.exit_code)
            .finish_non_exhaustive()
    }
}

impl WasiCtx {
    /// Starts a builder with no arguments, no environment, inherited stdout/stderr, empty
    /// stdin, the system clock and the OS random source.
    pub fn builder() -> WasiCtxBuilder {
        WasiCtxBuilder::default()
    }
    /// The exit code passed to `proc_exit`, once the guest has called it.
    pub fn exit_code(&self) -> Option<i32> {
        self.exit_code
    }
    /// What the guest's stderr has shown: its tail, and its panic line if any.
    pub fn stderr_tap(&self) -> &StderrTap {
        &self.tap
    }
    /// The clock the guest sees (also used by the host to time ticks).
    pub fn clock(&self) -> &dyn Clock {
        &*self.clock
    }
    /// Installs `clock` unless the embedder chose one with [`WasiCtxBuilder::clock`], and says
    /// whether it did. A backend for a target without `std::time` (the web backend on
    /// wasm32-unknown-unknown, where `std::time::Instant` panics) supplies its platform's clock
    /// this way, so a default configuration works there too.
    pub fn set_default_clock(&mut self, clock: impl Clock + 'static) -> bool {
        if self.clock_given {
            return false;
        }
        self.clock = Box::new(clock);
        self.clock_given = true;
        true
    }
    /// Makes the guest's monotonic clock continue from `ns`: from now on it reads `ns` plus the
    /// time elapsed on the underlying clock, so a restored guest never sees time go back and
    /// its pending timers keep their remaining delay. Wall-clock time is unchanged.
    pub fn continue_monotonic_from(&mut self, ns: u64) {
        let inner = std::mem::replace(&mut self.clock, Box::new(crate::clock::ManualClock::new(0)));
        self.clock = Box::new(crate::clock::ContinuedClock::new(inner, ns));
    }
    /// What a snapshot carries of the descriptor table: stdio state and open preopens.
    ///
    /// # Errors
    /// [`FdFactsError`] when the guest has files of its own open, or moved a stdio stream.
    pub fn fd_facts(&self) -> Result<FdFacts, FdFactsError> {
        self.fds.facts()
    }
    /// Restores a snapshot's descriptor facts into this (fresh) context.
    ///
    /// # Errors
    /// [`FdFactsError::Preopen`] when a preopen of the snapshot is not at the same fd with the
    /// same guest path here.
    pub fn apply_fd_facts(&mut self, facts: &FdFacts) -> Result<(), FdFactsError> {
        self.fds.apply(facts)
    }
    /// Readiness of the guest's stdin, for run loops that wait for input while the guest is
    /// parked on it; `None` if the embedder gave no stdin (reads are end of file at once).
    pub fn stdin_readiness(&self) -> Option<InputReadiness> {
        self.stdin.as_ref().map(StdinPipe::readiness)
    }
    /// Whether the guest is waiting for stdin: its last `fd_read(0)` got `EAGAIN`, or its last
    /// `poll_oneoff` watched fd 0 and found it unready, and no input has arrived since.
    pub fn waiting_for_stdin(&self) -> bool {
        self.stdin_waiting && self.stdin.as_ref().is_some_and(|s| !s.readiness().is_ready())
    }
    /// Flushes stdout and stderr (called when a guest exits or traps, so no output is lost).
    pub fn flush(&mut self) {
        let _ = self.stdout.flush();
        let _ = self.stderr.flush();
    }
}

/// Builds a [`WasiCtx`].
#[derive(Default)]
pub struct WasiCtxBuilder {
    args: Vec<Vec<u8>>,
    env: Vec<Vec<u8>>,
    stdin: Option<Box<dyn Read + Send>>,
    preopens: Vec<Preopen>,
    stdout: Option<Sink>,
    stderr: Option<Sink>,
    clock: Option<Box<dyn Clock>>,
    random: Option<Box<dyn RandomSource>>,
}

impl WasiCtxBuilder {
    /// Appends one argument (the first is the program name, `os.Args[0]` in Go).
    pub fn arg(mut self, arg: impl AsRef<str>) -> Self {
        self.args.push(arg.as_ref().as_bytes().to_vec());
        self
    }
    /// Appends several arguments.
    pub fn args<I: IntoIterator<Item = S>, S: AsRef<str>>(mut self, args: I) -> Self {
        self.args.extend(args.into_iter().map(|a| a.as_ref().as_bytes().to_vec()));
        self
    }
    /// Sets one environment variable.
    pub fn env(mut self, key: impl AsRef<str>, value: impl AsRef<str>) -> Self {
        self.env.push(format!("{}={}", key.as_ref(), value.as_ref()).into_bytes());
        self
    }
    /// Sets several environment variables.
    pub fn envs<I, K, V>(mut self, vars: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        for (k, v) in vars {
            self = self.env(k, v);
        }
        self
    }
    /// Where the guest's stdout goes (default: the host's stdout).
    pub fn stdout(mut self, sink: impl Write + Send + 'static) -> Self {
        self.stdout = Some(Box::new(sink));
        self
    }
    /// Where the guest's stderr goes (default: the host's stderr).
    pub fn stderr(mut self, sink: impl Write + Send + 'static) -> Self {
        self.stderr = Some(Box::new(sink));
        self
    }
    /// Grants the guest a directory: preopens take fds 3, 4, … in the order given.
    pub fn preopen(mut self, preopen: Preopen) -> Self {
        self.preopens.push(preopen);
        self
    }
    /// What the guest reads from stdin (default: empty, reads return end of file).
    ///
    /// Off wasm32-unknown-unknown the source is read on a background thread (started at the
    /// guest's first use of stdin), so a source that blocks never blocks the guest's thread.
    pub fn stdin(mut self, source: impl Read + Send + 'static) -> Self {
        self.stdin = Some(Box::new(source));
        self
    }
    /// The clock the guest sees and sleeps on.
    pub fn clock(mut self, clock: impl Clock + 'static) -> Self {
        self.clock = Some(Box::new(clock));
        self
    }
    /// The source for `random_get`.
    pub fn random(mut self, random: impl RandomSource + 'static) -> Self {
        self.random = Some(Box::new(random));
        self
    }
    /// Builds the context.
    ///
    /// # Panics
    /// Without the `std-clock` (or `os-random`) feature, panics if no clock (or random source) was
    /// given: there is no default to fall back on.
    pub fn build(self) -> WasiCtx {
        WasiCtx {
            args: self.args,
            env: self.env,
            stdin: self.stdin.map(StdinPipe::new),
            stdin_waiting: false,
            fds: FdTable::new(self.preopens),
            stdout: self.stdout.unwrap_or_else(sink::inherit_stdout),
            stderr: self.stderr.unwrap_or_else(sink::inherit_stderr),
            clock_given: self.clock.is_some(),
            clock: self.clock.unwrap_or_else(default_clock),
            random: self.random.unwrap_or_else(default_random),
            tap: StderrTap::default(),
            exit_code: None,
            scratch: Vec::new(),
        }
    }
}

#[cfg(all(feature = "std-clock", not(all(target_arch = "wasm32", target_os = "unknown"))))]
fn default_clock() -> Box<dyn Clock> {
    Box::new(crate::clock::SystemClock::default())
}
/// `std::time` panics on wasm32-unknown-unknown: there the backend supplies the clock
/// ([`WasiCtx::set_default_clock`]) and this placeholder is replaced before the guest runs.
#[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
fn default_clock() -> Box<dyn Clock> {
    struct NoClock;
    impl Clock for NoClock {
        fn realtime_ns(&self) -> u64 {
            panic!("{}", Self::MISSING)
        }
        fn monotonic_ns(&self) -> u64 {
            panic!("{}", Self::MISSING)
        }
        fn sleep(&self, _: std::time::Duration) {
            panic!("{}", Self::MISSING)
        }
    }
    impl NoClock {
        const MISSING: &str = "wasi-min: no clock on wasm32-unknown-unknown (std::time is unavailable): set one with WasiCtxBuilder::clock or use a backend that supplies it";
    }
    Box::new(NoClock)
}
#[cfg(all(not(feature = "std-clock"), not(all(target_arch = "wasm32", target_os = "unknown"))))]
fn default_clock() -> Box<dyn Clock> {
    panic!("wasi-min built without `std-clock`: WasiCtxBuilder::clock must be set")
}
#[cfg(feature = "os-random")]
fn default_random() -> Box<dyn RandomSource> {
    Box::new(crate::random::OsRandom)
}
#[cfg(not(feature = "os-random"))]
fn default_random() -> Box<dyn RandomSource> {
    panic!("wasi-min built without `os-random`: WasiCtxBuilder::random must be set")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;

    #[test]
    fn set_default_clock_replaces_only_a_default_clock() {
        let mut ctx = WasiCtx::builder().clock(ManualClock::new(7)).build();
        assert!(!ctx.set_default_clock(ManualClock::new(5)), "the embedder's clock stays");
        assert_eq!(ctx.clock().monotonic_ns(), 7);
        #[cfg(feature = "std-clock")]
        {
            let mut ctx = WasiCtx::builder().build();
            assert!(ctx.set_default_clock(ManualClock::new(5)));
            assert_eq!(ctx.clock().monotonic_ns(), 5);
            assert!(!ctx.set_default_clock(ManualClock::new(9)), "only once");
        }
    }
}
