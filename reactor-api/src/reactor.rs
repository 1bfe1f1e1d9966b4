//! The [`Reactor`] trait and [`GoReactor`], its one implementation over any backend.

use std::any::Any;
use std::sync::Arc;
use std::time::Duration;

use wasi_min::stdin::InputReadiness;

use crate::engine::{EngineInfo, EngineInstance};
use crate::error::{Error, Result, Trap};
use crate::host::Stop;
use crate::snapshot::{PREINIT_EXPORT, RESTORED_EXPORT, Snapshot, SnapshotSupport};
use crate::value::{ExternType, ModuleInfo, Val};

/// What one `go_tick` reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoopResult {
    /// `-1`: no goroutine is runnable and no timer is pending.
    Idle,
    /// `0`: more work is ready (the tick used up its time slice); call [`Reactor::tick`] again.
    Ready,
    /// `>0`: nothing is runnable until the next timer fires, this far from now.
    Timer(Duration),
}

/// Which reactor ABI a module implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Abi {
    /// `go_reactor_abi() == 1`: `main` returning calls `proc_exit(0)`, so [`LoopResult::Idle`]
    /// means `main` is still blocked.
    V1,
    /// No marker (the original forked runtime): `main` returning only ends its goroutine, and
    /// [`LoopResult::Idle`] means the program has finished.
    Legacy,
}

/// How a reactor ended: what [`Reactor::ended`] reports (and [`Error::Ended`] carries) once the
/// reactor accepts no further calls. Each variant matches the [`Error`] that ended it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Ending {
    /// The guest called `proc_exit` with this code ([`Error::Exited`]).
    Exited(i32),
    /// A Go panic or fatal error ([`Error::GuestPanic`]).
    GuestPanic {
        /// The `panic: …` or `fatal error: …` line.
        message: String,
    },
    /// A trap without a Go panic message ([`Error::Trap`]).
    Trap {
        /// The export that was running.
        export: String,
        /// The trap.
        trap: Trap,
    },
    /// An embedder's host function failed ([`Error::HostFunc`]).
    HostFunc {
        /// `module::name` of the import.
        import: String,
        /// The error it returned.
        message: String,
    },
    /// `go_tick` returned a value outside the ABI ([`Error::InvalidTick`]).
    InvalidTick(i32),
    /// The module declared a reactor ABI this host does not know ([`Error::UnsupportedAbi`]).
    UnsupportedAbi(i32),
}

impl std::fmt::Display for Ending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Ending::Exited(code) => write!(f, "exited with code {code}"),
            Ending::GuestPanic { message } => write!(f, "Go panic: {message}"),
            Ending::Trap { export, trap } => write!(f, "trap in `{export}`: {trap}"),
            Ending::HostFunc { import, message } => write!(f, "host import `{import}` failed: {message}"),
            Ending::InvalidTick(value) => write!(f, "go_tick returned invalid value {value}"),
            Ending::UnsupportedAbi(version) => write!(f, "unsupported reactor ABI {version}"),
        }
    }
}

/// Counters of one reactor. Non-exhaustive: more counters may come.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Stats {
    /// `go_tick` calls.
    pub ticks: u64,
    /// Export calls other than `go_tick` (including `_initialize` and `go_start_main`).
    pub calls: u64,
    /// Time spent inside the guest (ticks and calls), measured on the reactor's clock.
    pub guest_time: Duration,
    /// Host function calls made by the guest (WASI and embedder imports).
    pub host_calls: u64,
    /// Async host calls the guest started.
    pub async_calls: u64,
    /// Byte and async host calls that failed (the guest got an error value).
    pub async_failed: u64,
    /// Async host calls dropped unfinished by a cancelled run.
    pub async_cancelled: u64,
}

/// A running Go reactor: start `main`, tick the scheduler, call exports, access memory.
///
/// Object safe, so `Box<dyn Reactor>` can hold a reactor of an engine chosen at run time. The
/// run loops ([`run`](crate::run::run), [`run_async`](crate::run::run_async)) work on any
/// `Reactor`.
pub trait Reactor {
    /// Facts about the engine running this reactor.
    fn engine(&self) -> EngineInfo;
    /// The module's reactor ABI.
    fn abi(&self) -> Abi;
    /// Imports and exports of the module.
    fn module_info(&self) -> &ModuleInfo;
    /// Queues `main.main` as a goroutine (once; later calls do nothing). It runs on the next ticks.
    ///
    /// # Errors
    /// [`Error::Ended`] after the reactor ended; the guest's failures as for [`tick`](Self::tick).
    fn start_main(&mut self) -> Result<()>;
    /// Runs goroutines until none is runnable or the time slice is used up.
    ///
    /// When the guest ends during the tick, returns [`Error::Exited`] (`main` returned or
    /// `os.Exit`), [`Error::GuestPanic`] or [`Error::Trap`]; the reactor then refuses further calls.
    ///
    /// # Errors
    /// [`Error::Exited`], [`Error::GuestPanic`], [`Error::Trap`], [`Error::HostFunc`] (an
    /// embedder's import failed) or [`Error::InvalidTick`] when the guest ends during the tick;
    /// [`Error::Ended`] when it had ended before.
    fn tick(&mut self) -> Result<LoopResult>;
    /// Calls function export `name` (a `//go:wasmexport`) with `args`, checked against its signature.
    ///
    /// # Errors
    /// [`Error::NoSuchExport`] and [`Error::CallSignature`] (the reactor stays usable); the
    /// guest's failures as for [`tick`](Self::tick); [`Error::Ended`] after the reactor ended.
    fn call(&mut self, name: &str, args: &[Val]) -> Result<Vec<Val>>;
    /// Current linear memory size in bytes.
    fn memory_size(&mut self) -> u64;
    /// Copies guest memory at `addr` into `buf`.
    ///
    /// # Errors
    /// [`Error::Memory`] when the range is not inside guest memory (nothing is read).
    fn read_memory(&mut self, addr: u64, buf: &mut [u8]) -> Result<()>;
    /// Copies `data` into guest memory at `addr`.
    ///
    /// # Errors
    /// [`Error::Memory`] when the range is not inside guest memory (nothing is written).
    fn write_memory(&mut self, addr: u64, data: &[u8]) -> Result<()>;
    /// Counters: ticks, calls, guest time, host calls.
    fn stats(&mut self) -> Stats;
    /// How the reactor ended, if it did (`None` while it accepts calls).
    fn ended(&self) -> Option<&Ending>;
    /// The embedder's state given in the configuration.
    fn state(&mut self) -> &mut dyn Any;
    /// Freezes the reactor between two ticks into a [`Snapshot`] that
    /// [`Module::restore`](crate::Module::restore) resumes on any engine.
    ///
    /// # Errors
    /// [`Error::Snapshot`]: the module was not compiled with
    /// [`Module::new_snapshottable`](crate::Module::new_snapshottable), the reactor has ended,
    /// asynchronous host calls are pending, or the guest has files open. (A snapshot is only
    /// ever taken at a tick boundary: while a tick or host call runs, the reactor is borrowed
    /// by it.)
    fn snapshot(&mut self) -> Result<Snapshot>;
    /// Async host calls started by the guest whose futures have not finished.
    fn pending_calls(&mut self) -> usize {
        0
    }
    /// Polls the pending async host calls (registering `cx`'s waker) and delivers every
    /// finished one to the guest, which runs the waiting goroutines at the next tick. Returns
    /// how many were delivered. The run loops call this; manual loops call it between ticks.
    fn deliver_calls(&mut self, cx: &mut std::task::Context<'_>) -> Result<usize> {
        let _ = cx;
        Ok(0)
    }
    /// Drops every pending async host call's future; the guest sees each call fail with a
    /// "cancelled" error. Returns how many were cancelled.
    fn cancel_calls(&mut self) -> Result<usize> {
        Ok(0)
    }
    /// While the guest waits for stdin input (a goroutine parked on a read of fd 0 that found
    /// nothing), a handle that becomes ready when input or end of file arrives; `None` otherwise.
    ///
    /// The run loops sleep on it as well as on the next timer, so a program reading stdin
    /// resumes as soon as a line arrives instead of at its next poll interval, and never
    /// spins. The default says the reactor never waits for stdin.
    fn stdin_wait(&mut self) -> Option<InputReadiness> {
        None
    }
}

/// The [`Reactor`] implementation over any backend's [`EngineInstance`]: validation, the
/// life-cycle state machine, error classification, counters and tracing, written once.
pub struct GoReactor<I> {
    inner: I,
    pub(crate) engine: EngineInfo,
    info: Arc<ModuleInfo>,
    pub(crate) abi: Abi,
    pub(crate) main_started: bool,
    pub(crate) ended: Option<Ending>,
    pub(crate) stats: Stats,
    /// Set when the module was compiled for snapshots.
    pub(crate) snap: Option<Arc<SnapshotSupport>>,
}

impl<I: EngineInstance> GoReactor<I> {
    /// Runs `_initialize` on a fresh instance and reads its ABI marker.
    pub(crate) fn initialize(inner: I, engine: EngineInfo, info: Arc<ModuleInfo>) -> Result<Self> {
        let mut r = Self {
            inner,
            engine,
            info,
            abi: Abi::Legacy,
            main_started: false,
            ended: None,
            stats: Stats::default(),
            snap: None,
        };
        if r.info.export(PREINIT_EXPORT).is_some() {
            // A pre-initialized module: memory and globals already hold `_initialize`'s work.
            r.call_restored_hook()?;
        } else {
            r.invoke("_initialize", &[], &mut [])?;
        }
        if r.info.export("go_reactor_abi").is_some() {
            let mut v = [Val::I32(0)];
            r.invoke("go_reactor_abi", &[], &mut v)?;
            match v[0] {
                Val::I32(1) => r.abi = Abi::V1,
                other => {
                    let version = other.i32().unwrap_or(-1);
                    r.end(Ending::UnsupportedAbi(version));
                    return Err(Error::UnsupportedAbi { version });
                }
            }
        }
        Ok(r)
    }

    /// A reactor over an instance whose memory and globals were just restored from a snapshot.
    pub(crate) fn resumed(inner: I, engine: EngineInfo, info: Arc<ModuleInfo>, abi: Abi, main_started: bool) -> Self {
        Self {
            inner,
            engine,
            info,
            abi,
            main_started,
            ended: None,
            stats: Stats::default(),
            snap: None,
        }
    }

    /// Runs the runtime's `go_reactor_restored` export, when the module has it: it reseeds the
    /// runtime's random state and re-reads args and env after a restore or pre-initialization.
    pub(crate) fn call_restored_hook(&mut self) -> Result<()> {
        if self.info.export(RESTORED_EXPORT).is_some() {
            self.invoke(RESTORED_EXPORT, &[], &mut [])?;
        }
        Ok(())
    }

    /// The backend instance (for engine-specific needs).
    pub fn instance(&mut self) -> &mut I {
        &mut self.inner
    }

    fn check_alive(&self) -> Result<()> {
        match &self.ended {
            Some(ending) => Err(Error::Ended { ending: ending.clone() }),
            None => Ok(()),
        }
    }

    fn end(&mut self, ending: Ending) {
        tracing::debug!(engine = self.engine.name, %ending, "reactor ended");
        self.inner.state().wasi.flush();
        // A dead guest can never take results: drop pending host futures now.
        self.inner.state().calls.clear();
        self.ended = Some(ending);
    }

    fn now_ns(&mut self) -> u64 {
        self.inner.state().wasi.clock().monotonic_ns()
    }

    /// Calls an export without results, with accounting and error classification (for the
    /// async-call delivery in [`crate::async_host`]).
    pub(crate) fn invoke_export(&mut self, name: &str, args: &[Val]) -> Result<()> {
        self.invoke(name, args, &mut [])
    }

    /// Calls an export with the guest-time accounting and error classification every call gets.
    fn invoke(&mut self, name: &str, args: &[Val], results: &mut [Val]) -> Result<()> {
        self.check_alive()?;
        let start = self.now_ns();
        let r = self.inner.call(name, args, results);
        self.stats.calls += 1;
        let spent = Duration::from_nanos(self.now_ns().saturating_sub(start));
        self.stats.guest_time += spent;
        match r {
            Ok(()) => Ok(()),
            Err(trap) => Err(self.fail(name, trap)),
        }
    }

    /// Turns a trap into the error that explains it, and ends the reactor.
    fn fail(&mut self, export: &str, trap: Trap) -> Error {
        let state = self.inner.state();
        let stop = state.stop.take();
        let tap = state.wasi.stderr_tap();
        let (panic_line, stderr) = (tap.panic_line().map(str::to_string), tap.tail());
        let export = export.to_string();
        let (ending, err) = match stop {
            Some(Stop::Exit(code)) => (Ending::Exited(code), Error::Exited { code }),
            Some(Stop::Failed { import, message }) => (
                Ending::HostFunc {
                    import: import.clone(),
                    message: message.clone(),
                },
                Error::HostFunc { import, message },
            ),
            None => match panic_line {
                Some(message) if trap.kind == crate::TrapKind::Unreachable => (
                    Ending::GuestPanic { message: message.clone() },
                    Error::GuestPanic { export, message, stderr },
                ),
                _ => (
                    Ending::Trap {
                        export: export.clone(),
                        trap: trap.clone(),
                    },
                    Error::Trap {
                        engine: self.engine.name,
                        export,
                        trap,
                        stderr,
                    },
                ),
            },
        };
        self.end(ending);
        err
    }
}

impl<I: EngineInstance> Reactor for GoReactor<I> {
    fn engine(&self) -> EngineInfo {
        self.engine
    }
    fn abi(&self) -> Abi {
        self.abi
    }
    fn module_info(&self) -> &ModuleInfo {
        &self.info
    }

    fn start_main(&mut self) -> Result<()> {
        self.check_alive()?;
        if !self.main_started {
            self.invoke("go_start_main", &[], &mut [])?;
            self.main_started = true;
        }
        Ok(())
    }

    fn tick(&mut self) -> Result<LoopResult> {
        self.check_alive()?;
        let span = tracing::debug_span!("go_tick", engine = self.engine.name, tick = self.stats.ticks);
        let _guard = span.enter();
        let start = self.now_ns();
        let r = self.inner.tick();
        let spent = Duration::from_nanos(self.now_ns().saturating_sub(start));
        self.stats.ticks += 1;
        self.stats.guest_time += spent;
        let result = match r {
            Ok(-1) => LoopResult::Idle,
            Ok(0) => LoopResult::Ready,
            Ok(ms) if ms > 0 => LoopResult::Timer(Duration::from_millis(ms as u64)),
            Ok(value) => {
                self.end(Ending::InvalidTick(value));
                return Err(Error::InvalidTick { value });
            }
            Err(trap) => return Err(self.fail("go_tick", trap)),
        };
        tracing::debug!(?result, guest_us = spent.as_micros() as u64, "tick");
        Ok(result)
    }

    fn call(&mut self, name: &str, args: &[Val]) -> Result<Vec<Val>> {
        // An `Arc` clone, not a copy of the signature: this is on every export call.
        let info = self.info.clone();
        let Some(ExternType::Func(sig)) = info.export(name) else {
            return Err(Error::NoSuchExport { name: name.to_string() });
        };
        let problem = if args.len() != sig.params().len() {
            Some(format!("{} arguments given, {} expected", args.len(), sig.params().len()))
        } else {
            args.iter()
                .zip(sig.params())
                .enumerate()
                .find(|(_, (a, t))| a.ty() != **t)
                .map(|(i, (a, t))| format!("argument {i} is {}, expected {t}", a.ty()))
        };
        let results: Option<Vec<Val>> = sig.results().iter().map(|&t| Val::default_for(t)).collect();
        let (problem, mut results) = match (problem, results) {
            (None, Some(r)) => (None, r),
            (p, r) => (
                p.or(Some("the signature uses a value type go-reactor cannot pass".into())),
                r.unwrap_or_default(),
            ),
        };
        if let Some(problem) = problem {
            return Err(Error::CallSignature {
                name: name.to_string(),
                problem,
                signature: sig.clone(),
            });
        }
        let span = tracing::debug_span!("call", engine = self.engine.name, export = name);
        let _guard = span.enter();
        self.invoke(name, args, &mut results)?;
        Ok(results)
    }

    fn memory_size(&mut self) -> u64 {
        self.inner.memory_size()
    }
    fn read_memory(&mut self, addr: u64, buf: &mut [u8]) -> Result<()> {
        Ok(self.inner.read_memory(addr, buf)?)
    }
    fn write_memory(&mut self, addr: u64, data: &[u8]) -> Result<()> {
        Ok(self.inner.write_memory(addr, data)?)
    }
    fn stats(&mut self) -> Stats {
        let state = self.inner.state();
        Stats {
            host_calls: state.host_calls,
            async_calls: state.calls.started,
            async_failed: state.calls.failed,
            async_cancelled: state.calls.cancelled,
            ..self.stats
        }
    }
    fn ended(&self) -> Option<&Ending> {
        self.ended.as_ref()
    }
    fn state(&mut self) -> &mut dyn Any {
        &mut *self.inner.state().user
    }
    fn snapshot(&mut self) -> Result<Snapshot> {
        self.take_snapshot()
    }
    fn pending_calls(&mut self) -> usize {
        self.inner.state().calls.pending()
    }
    fn deliver_calls(&mut self, cx: &mut std::task::Context<'_>) -> Result<usize> {
        self.deliver_calls_impl(cx)
    }
    fn cancel_calls(&mut self) -> Result<usize> {
        self.cancel_calls_impl()
    }
    fn stdin_wait(&mut self) -> Option<InputReadiness> {
        let wasi = &self.inner.state().wasi;
        if wasi.waiting_for_stdin() { wasi.stdin_readiness() } else { None }
    }
}

impl<I> std::fmt::Debug for GoReactor<I> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GoReactor")
            .field("engine", &self.engine.name)
            .field("abi", &self.abi)
            .field("main_started", &self.main_started)
            .field("ended", &self.ended)
            .field("stats", &self.stats)
            .finish()
    }
}
