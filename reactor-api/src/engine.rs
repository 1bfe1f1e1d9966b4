//! The backend interface: what an engine adapter implements.
//!
//! A backend is deliberately thin. It compiles bytes ([`WasmEngine::compile`]), describes the
//! module ([`WasmEngine::module_info`]), instantiates it with a list of already resolved and
//! type-checked [`HostFunc`]s in import order ([`WasmEngine::instantiate`]), and calls exports
//! ([`EngineInstance`]). Validation, WASI, the reactor state machine and error reporting live in
//! this crate and in `wasi-min`, written once.

use std::time::Duration;

use crate::error::{Error, Trap};
use crate::host::{HostFunc, HostState};
use crate::reactor::{GoReactor, Reactor};
use crate::value::{ModuleInfo, Val};

/// How an engine executes code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExecutionKind {
    /// Compiles to machine code ahead of running.
    Compiler,
    /// Interprets (possibly after translating to an internal bytecode).
    Interpreter,
}

/// What an engine can do beyond running a reactor.
///
/// Non-exhaustive so that new capabilities are not breaking changes: backends build it with
/// [`Capabilities::none`] and the `with_*` methods.
///
/// ```
/// use reactor_api::Capabilities;
/// let caps = Capabilities::none().with_memory_limit(true).with_send(true);
/// assert!(caps.memory_limit && caps.send && !caps.fuel);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Capabilities {
    /// [`Limits::max_memory_bytes`] is enforced.
    pub memory_limit: bool,
    /// [`Limits::fuel_per_tick`] is enforced.
    pub fuel: bool,
    /// [`Limits::tick_deadline`] is enforced (interrupting a running guest).
    pub deadline: bool,
    /// Compiled modules can be serialized to bytes and loaded back.
    pub serialize: bool,
    /// A reactor (and its future in the async loop) is `Send`.
    pub send: bool,
    /// [`EngineOptions::max_wasm_stack`] can be set.
    pub wasm_stack: bool,
}

impl Capabilities {
    /// No optional capability.
    pub const fn none() -> Self {
        Self {
            memory_limit: false,
            fuel: false,
            deadline: false,
            serialize: false,
            send: false,
            wasm_stack: false,
        }
    }
    /// Sets [`memory_limit`](Self::memory_limit).
    pub const fn with_memory_limit(mut self, yes: bool) -> Self {
        self.memory_limit = yes;
        self
    }
    /// Sets [`fuel`](Self::fuel).
    pub const fn with_fuel(mut self, yes: bool) -> Self {
        self.fuel = yes;
        self
    }
    /// Sets [`deadline`](Self::deadline).
    pub const fn with_deadline(mut self, yes: bool) -> Self {
        self.deadline = yes;
        self
    }
    /// Sets [`serialize`](Self::serialize).
    pub const fn with_serialize(mut self, yes: bool) -> Self {
        self.serialize = yes;
        self
    }
    /// Sets [`send`](Self::send).
    pub const fn with_send(mut self, yes: bool) -> Self {
        self.send = yes;
        self
    }
    /// Sets [`wasm_stack`](Self::wasm_stack).
    pub const fn with_wasm_stack(mut self, yes: bool) -> Self {
        self.wasm_stack = yes;
        self
    }
}

/// Static facts about a backend. Non-exhaustive: backends build it with [`EngineInfo::new`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct EngineInfo {
    /// Short name used on the command line (`wasmtime`, `wasmer`, `wasmi`, `wasm3`).
    pub name: &'static str,
    /// Version of the engine crate (each backend documents where it takes it from; the
    /// compiled-code cache key includes it).
    pub version: &'static str,
    /// Compiler or interpreter.
    pub kind: ExecutionKind,
    /// Optional features.
    pub capabilities: Capabilities,
}

impl EngineInfo {
    /// Facts about a backend.
    pub const fn new(name: &'static str, version: &'static str, kind: ExecutionKind, capabilities: Capabilities) -> Self {
        Self {
            name,
            version,
            kind,
            capabilities,
        }
    }
}

/// The wasm stack Go's own test runner gives wasmtime (`max-wasm-stack=8388608`): enough for
/// the deepest standard-library test suites (`encoding/json`, `io/fs`), which overflow the
/// engines' defaults (512 KiB to 2 MiB).
pub const GO_TEST_WASM_STACK: usize = 8 << 20;

/// Engine-wide settings every native backend understands, fixed when the engine is created
/// (like wasmtime's `Config`: they apply to every reactor of that engine). Build an engine from
/// them with [`WasmEngine::from_options`]; a setting the engine cannot honour is
/// [`Error::Unsupported`], never ignored.
///
/// ```
/// use reactor_api::{EngineOptions, GO_TEST_WASM_STACK};
/// let options = EngineOptions::new().max_wasm_stack(GO_TEST_WASM_STACK);
/// assert_eq!(options.wasm_stack(), Some(8 << 20));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct EngineOptions {
    max_wasm_stack: Option<usize>,
}

impl EngineOptions {
    /// The engine's own defaults.
    pub fn new() -> Self {
        Self::default()
    }
    /// How deep the guest may call, in bytes of stack; deeper is a
    /// [`TrapKind::StackOverflow`](crate::TrapKind::StackOverflow) trap. `None` keeps the
    /// engine's default. What the bytes measure differs per engine:
    ///
    /// | engine | setting | default | where the stack lives |
    /// |---|---|---|---|
    /// | wasmtime | `Config::max_wasm_stack` | 512 KiB | **the calling thread's native stack** |
    /// | wasmer | `VMConfig::wasm_stack_size` | 1 MiB | a stack of its own per call |
    /// | wasmi | value stack height, and recursion depth = bytes / 256 | 1 MB, 1000 calls | the heap |
    /// | wasm3 | `Config::stack_size` (value stack) | 1 MiB | the heap (plus its own 9 MiB native stack) |
    ///
    /// On wasmtime the thread that calls into the guest must have this much native stack plus
    /// room for the host: 8 MiB of wasm stack on a 2 MiB thread (Rust's default for spawned
    /// threads and tokio workers) crashes the process with a stack overflow instead of trapping.
    /// That is why the library keeps each engine's default, which is safe on any thread, and the
    /// `go-reactor` command line, which asks for [`GO_TEST_WASM_STACK`], runs the reactor on a
    /// thread of its own with a stack to match.
    pub fn max_wasm_stack(mut self, bytes: usize) -> Self {
        self.max_wasm_stack = Some(bytes);
        self
    }
    /// The requested wasm stack size, if any.
    pub fn wasm_stack(&self) -> Option<usize> {
        self.max_wasm_stack
    }
    /// Refuses every setting `engine` cannot honour, according to its [`Capabilities`]
    /// (backends call this first in [`WasmEngine::from_options`]).
    pub fn check_supported(&self, engine: &EngineInfo) -> Result<(), Error> {
        if self.max_wasm_stack.is_some() && !engine.capabilities.wasm_stack {
            return Err(Error::Unsupported {
                engine: engine.name,
                feature: "setting the wasm stack size",
            });
        }
        Ok(())
    }
}

/// Resource limits for one reactor. Asking for a limit an engine cannot enforce is an
/// [`Error::Unsupported`] at instantiation, never silently ignored.
///
/// Non-exhaustive so that new limits are not breaking changes: build it with [`Limits::new`]
/// and the `with_*` methods (or through [`ReactorConfig`](crate::ReactorConfig)'s setters).
///
/// ```
/// use reactor_api::Limits;
/// let limits = Limits::new().with_max_memory_bytes(64 << 20).with_fuel_per_tick(50_000_000);
/// assert_eq!(limits.max_memory_bytes, Some(64 << 20));
/// assert_eq!(limits.tick_deadline, None);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Limits {
    /// Largest linear memory, in bytes; `memory.grow` beyond it fails (Go then reports
    /// "out of memory").
    pub max_memory_bytes: Option<u64>,
    /// Fuel (roughly: instructions) the guest may burn per export call or tick.
    pub fuel_per_tick: Option<u64>,
    /// Wall-clock budget per export call or tick before the guest is interrupted.
    pub tick_deadline: Option<Duration>,
}

impl Limits {
    /// No limits.
    pub const fn new() -> Self {
        Self {
            max_memory_bytes: None,
            fuel_per_tick: None,
            tick_deadline: None,
        }
    }
    /// Sets [`max_memory_bytes`](Self::max_memory_bytes).
    pub const fn with_max_memory_bytes(mut self, bytes: u64) -> Self {
        self.max_memory_bytes = Some(bytes);
        self
    }
    /// Sets [`fuel_per_tick`](Self::fuel_per_tick).
    pub const fn with_fuel_per_tick(mut self, fuel: u64) -> Self {
        self.fuel_per_tick = Some(fuel);
        self
    }
    /// Sets [`tick_deadline`](Self::tick_deadline).
    pub const fn with_tick_deadline(mut self, deadline: Duration) -> Self {
        self.tick_deadline = Some(deadline);
        self
    }

    /// Refuses every limit that `engine` (as configured) cannot enforce, according to its
    /// [`Capabilities`]: backends call this first in [`WasmEngine::instantiate`], so what an
    /// engine refuses is exactly what its `info()` says it lacks.
    ///
    /// # Errors
    /// [`Error::Unsupported`] naming the first limit the engine cannot enforce.
    pub fn check_supported(&self, engine: &EngineInfo) -> Result<(), Error> {
        let c = engine.capabilities;
        let refused = [
            (self.max_memory_bytes.is_some() && !c.memory_limit, "memory limits"),
            (
                self.fuel_per_tick.is_some() && !c.fuel,
                "fuel limits (not enabled in this engine's configuration)",
            ),
            (
                self.tick_deadline.is_some() && !c.deadline,
                "tick deadlines (not enabled in this engine's configuration)",
            ),
        ];
        match refused.into_iter().find(|&(refused, _)| refused) {
            Some((_, feature)) => Err(Error::Unsupported {
                engine: engine.name,
                feature,
            }),
            None => Ok(()),
        }
    }
}

/// A WebAssembly engine adapter.
///
/// Engines are cheap handles (`Clone` shares the underlying engine), like `wasmtime::Engine`.
pub trait WasmEngine: Clone + 'static {
    /// A compiled module (a cheap, shareable handle).
    type Module: Clone + 'static;
    /// A live instance.
    type Instance: EngineInstance + 'static;

    /// An engine in its default configuration with `options` applied on top; a setting this
    /// engine cannot honour is [`Error::Unsupported`] (see [`EngineOptions::check_supported`]).
    fn from_options(options: &EngineOptions) -> Result<Self, Error>;
    /// Static facts about this engine.
    fn info(&self) -> EngineInfo;
    /// Validates and compiles module bytes.
    ///
    /// # Errors
    /// [`Error::Compile`] when the bytes are not valid WebAssembly or the engine cannot compile them.
    fn compile(&self, wasm: &[u8]) -> Result<Self::Module, Error>;
    /// Imports and exports of a compiled module.
    fn module_info(&self, module: &Self::Module) -> ModuleInfo;
    /// Instantiates `module`. `imports` holds one host function per module import, in the
    /// module's import order, already checked against the declared types. Must not run any
    /// export (there is no start function in a Go reactor; `_initialize` is called later).
    /// A limit the engine cannot enforce is an [`Error::Unsupported`], never ignored:
    /// implementations start with [`Limits::check_supported`].
    ///
    /// # Errors
    /// [`Error::Unsupported`] for a limit the engine cannot enforce, [`Error::Instantiate`] when
    /// the engine refuses the module (e.g. a memory cap below its initial size).
    fn instantiate(
        &self,
        module: &Self::Module,
        state: HostState,
        imports: Vec<HostFunc>,
        limits: &Limits,
    ) -> Result<Self::Instance, Error>;
    /// Serializes compiled code, on engines that can ([`Capabilities::serialize`]).
    ///
    /// # Errors
    /// [`Error::Unsupported`] on engines without serialization, [`Error::Serialize`] when the
    /// engine fails.
    fn serialize(&self, module: &Self::Module) -> Result<Vec<u8>, Error> {
        let _ = module;
        Err(Error::Unsupported {
            engine: self.info().name,
            feature: "module serialization",
        })
    }
    /// Loads code written by [`serialize`](Self::serialize).
    ///
    /// # Errors
    /// [`Error::Unsupported`] on engines without serialization, [`Error::Serialize`] for bytes
    /// the engine rejects (another version or configuration, or not serialized code at all).
    ///
    /// # Safety
    /// The bytes must come from `serialize` of the same engine version and configuration; loading
    /// anything else can run arbitrary machine code. Only load caches you wrote.
    unsafe fn deserialize(&self, bytes: &[u8]) -> Result<Self::Module, Error> {
        let _ = bytes;
        Err(Error::Unsupported {
            engine: self.info().name,
            feature: "module serialization",
        })
    }
    /// Boxes a reactor of this engine as `Send`, on engines whose instances are `Send`
    /// ([`Capabilities::send`]); `None` (the default) elsewhere. Backends with `Send` instances
    /// implement it as `Some(Box::new(reactor))`, which the compiler only accepts if they are.
    /// [`AnyModule::instantiate_send`](crate::AnyModule::instantiate_send) uses it.
    fn into_send_reactor(reactor: GoReactor<Self::Instance>) -> Option<Box<dyn Reactor + Send>> {
        let _ = reactor;
        None
    }
}

/// A live instance, as a backend exposes it. Calls are already validated by the caller.
pub trait EngineInstance {
    /// Calls function export `name` with arguments matching its signature; `results` has the
    /// signature's length.
    fn call(&mut self, name: &str, args: &[Val], results: &mut [Val]) -> Result<(), Trap>;
    /// Calls `go_tick` (the hot path: backends keep a typed handle to it).
    fn tick(&mut self) -> Result<i32, Trap>;
    /// The host state stored with the instance.
    fn state(&mut self) -> &mut HostState;
    /// Current linear memory size in bytes.
    fn memory_size(&mut self) -> u64;
    /// Copies guest memory at `addr` into `buf`.
    fn read_memory(&mut self, addr: u64, buf: &mut [u8]) -> Result<(), wasi_min::MemoryError>;
    /// Copies `data` into guest memory at `addr`.
    fn write_memory(&mut self, addr: u64, data: &[u8]) -> Result<(), wasi_min::MemoryError>;
}
