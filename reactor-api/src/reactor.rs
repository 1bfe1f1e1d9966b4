//! The [`Reactor`] trait and [`GoReactor`], its one implementation over any backend.

use std::any::Any;
use std::sync::Arc;
use std::time::Duration;

use wasi_min::stdin::InputReadiness;

use crate::engine::{EngineInfo, EngineInstance};
use crate::error::{Error, Result, Trap};
use crate::host::Stop;
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

/// Counters of one reactor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Stats {
    /// `go_tick` calls.
    pub ticks: u64,
    /// Export calls other than `go_tick` (including `_initialize` and `go_start_main`).
    pub calls: u64,
    /// Time spent inside the guest (ticks and calls), measured on the reactor's clock.
    pub guest_time: Duration,
    /// Host function calls made by the guest (WASI and embedder imports).
    pub host_calls: u64,
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
    fn start_main(&mut self) -> Result<()>;
    /// Runs goroutines until none is runnable or the time slice is used up.
    ///
    /// When the guest ends during the tick, returns [`Error::Exited`] (`main` returned or
    /// `os.Exit`), [`Error::GuestPanic`] or [`Error::Trap`]; the reactor then refuses further calls.
    fn tick(&mut self) -> Result<LoopResult>;
    /// Calls function export `name` (a `//go:wasmexport`) with `args`, checked against its signature.
    fn call(&mut self, name: &str, args: &[Val]) -> Result<Vec<Val>>;
    /// Current linear memory size in bytes.
    fn memory_size(&mut self) -> u64;
    /// Copies guest memory at `addr` into `buf`.
    fn read_memory(&mut self, addr: u64, buf: &mut [u8]) -> Result<()>;
    /// Copies `data` into guest memory at `addr`.
    fn write_memory(&mut self, addr: u64, data: &[u8]) -> Result<()>;
    /// Counters: ticks, calls, guest time, host calls.
    fn stats(&mut self) -> Stats;
    /// How the reactor ended, if it did (`None` while it accepts calls).
    fn ended(&self) -> Option<&str>;
    /// The embedder's state given in the configuration.
    fn state(&mut self) -> &mut dyn Any;
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
    engine: EngineInfo,
    info: Arc<ModuleInfo>,
    abi: Abi,
    main_started: bool,
    ended: Option<String>,
    stats: Stats,
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
        };
        r.invoke("_initialize", &[], &mut [])?;
        if r.info.export("go_reactor_abi").is_some() {
            let mut v = [Val::I32(0)];
            r.invoke("go_reactor_abi", &[], &mut v)?;
            match v[0] {
                Val::I32(1) => r.abi = Abi::V1,
                other => {
                    let version = other.i32().unwrap_or(-1);
                    r.end(format!("unsupported reactor ABI {version}"));
                    return Err(Error::UnsupportedAbi { version });
                }
            }
        }
        Ok(r)
    }

    /// The backend instance (for engine-specific needs).
    pub fn instance(&mut self) -> &mut I {
        &mut self.inner
    }

    fn check_alive(&self) -> Result<()> {
        match &self.ended {
            Some(reason) => Err(Error::Ended { reason: reason.clone() }),
            None => Ok(()),
        }
    }

    fn end(&mut self, reason: String) {
        tracing::debug!(engine = self.engine.name, %reason, "reactor ended");
        self.inner.state().wasi.flush();
        self.ended = Some(reason);
    }

    fn now_ns(&mut self) -> u64 {
        self.inner.state().wasi.clock().monotonic_ns()
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
        let err = match stop {
            Some(Stop::Exit(code)) => Error::Exited { code },
            Some(Stop::Failed { import, message }) => Error::HostFunc { import, message },
            None => match panic_line {
                Some(message) if trap.kind == crate::TrapKind::Unreachable => Error::GuestPanic {
                    export: export.to_string(),
                    message,
                    stderr,
                },
                _ => Error::Trap {
                    engine: self.engine.name,
                    export: export.to_string(),
                    trap,
                    stderr,
                },
            },
        };
        let reason = match &err {
            Error::Exited { code } => format!("exited with code {code}"),
            other => other.to_string(),
        };
        self.end(reason);
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
                self.end(format!("go_tick returned invalid value {value}"));
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
        Stats {
            host_calls: self.inner.state().host_calls,
            ..self.stats
        }
    }
    fn ended(&self) -> Option<&str> {
        self.ended.as_deref()
    }
    fn state(&mut self) -> &mut dyn Any {
        &mut *self.inner.state().user
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
