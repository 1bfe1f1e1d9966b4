//! The wasmi backend of go-reactor: Go reactors on [wasmi](https://docs.rs/wasmi), a pure-Rust
//! WebAssembly interpreter.
//!
//! A thin adapter: it links each import to a [`reactor_api::HostFunc`] (a wasmi [`Func::new`] with
//! the import's dynamic signature) and forwards calls; WASI lives in `wasi-min`, everything else
//! in `reactor-api`. Modules are instantiated directly with one extern per import, in import
//! order; instantiation runs only a wasm `start` function if the module declares one (Go reactors
//! do not). When a host function stops the guest, the trampoline returns a wasmi host error that
//! [`WasmiInstance`] reports as [`TrapKind::Host`]; the reactor reads the real reason (exit code,
//! failed import) from its [`HostState`].
//!
//! ```no_run
//! use reactor_api::{Module, ReactorConfig, ReactorExt};
//! use reactor_wasmi::WasmiEngine;
//!
//! let engine = WasmiEngine::new();
//! let module = Module::from_file(&engine, "guests/wasm/hello.wasm")?;
//! let mut reactor = module.instantiate(ReactorConfig::new().arg("hello"))?;
//! reactor.run()?;
//! # Ok::<(), reactor_api::Error>(())
//! ```
//!
//! # Compilation mode
//!
//! wasmi translates wasm to its own register bytecode. [`WasmiEngine::new`] uses
//! [`CompilationMode::LazyTranslation`]: the whole module is *validated* when it is compiled (so
//! an invalid module is an [`Error::Compile`] up front, as on every other engine), but a function
//! is *translated* only when it first runs. A Go module carries ~2.5 MB of code of which a program
//! runs a small part. Measured on `hello.wasm` (2.5 MB; compile, then instantiate and run):
//!
//! | mode | compile | run | total |
//! |---|---|---|---|
//! | `Eager` (validate and translate everything) | ~110 ms | ~14 ms | ~125 ms |
//! | `LazyTranslation` (chosen) | ~37 ms | ~32 ms | ~70 ms |
//! | `Lazy` (validation deferred too) | ~16 ms | ~33 ms | ~50 ms |
//!
//! For long-running programs the mode makes no measurable difference. `Lazy` starts a little
//! faster still, but an invalid function body would only surface as a trap in the middle of a run,
//! so it is not the default; choose it (or any other wasmi setting) with
//! [`WasmiEngine::with_config`].
//!
//! # Fuel
//!
//! wasmi cannot be interrupted from outside, so fuel is the only way to bound what a guest does in
//! one tick (a Go goroutine that never yields otherwise keeps the host forever). Metering cost
//! 2–4 % on the fixtures (a JSON + SHA-256 workload and a time-sliced busy loop), so the default
//! engine meters fuel and supports [`Limits::fuel_per_tick`]: the store is refuelled to the limit
//! before every export call and every tick, and an exhausted budget is [`TrapKind::OutOfFuel`].
//! A reactor without a fuel limit gets `u64::MAX`, which does not run out. With lazy translation,
//! translating a function the first time it runs is charged to the call that needs it. Go's
//! runtime initialisation alone burns more than 10 million units, and a 10 ms time slice tens of
//! millions: budgets are large numbers. [`WasmiEngine::without_fuel`] gives up the limit for the
//! last few percent of speed; asking it for a fuel limit is [`Error::Unsupported`].
//!
//! # Limits not supported
//!
//! [`Limits::tick_deadline`] is [`Error::Unsupported`] (wasmi has no interruption: use fuel), and
//! compiled code cannot be serialized.
//!
//! # Send
//!
//! A wasmi `Store` is `Send` when its data is, and ours holds only the [`HostState`] (which is
//! `Send`), the memory handle and the store limits; host functions are `Send + Sync`. So
//! [`WasmiInstance`] is `Send` (checked at compile time) and reactors on this engine can move
//! between threads.
//!
//! # Build profile
//!
//! wasmi's default dispatch relies on the optimiser turning tail calls into jumps. An optimised
//! build of wasmi *with debug assertions or overflow checks* can lose that and overflow the native
//! stack; in a workspace that optimises dependencies in the dev profile, also set
//! `[profile.dev.package.wasmi] debug-assertions = false, overflow-checks = false`. An
//! unoptimised wasmi (plain `opt-level = 0`) falls back to a portable loop on its own, but is
//! some 150 times slower.
#![warn(missing_docs, missing_debug_implementations)]

use std::collections::HashMap;
use std::fmt;

use reactor_api::{
    Capabilities, EngineInfo, EngineInstance, EngineOptions, Error, ExecutionKind, ExportDesc, ExternType, FuncType, GoReactor, HostFunc,
    HostState, HostTrap, ImportDesc, Limits, ModuleInfo, Reactor, Trap, TrapKind, Val, ValType, WasmEngine,
};
use wasi_min::{GuestMemory, MemoryError};
use wasmi::{CompilationMode, Func, Instance, Memory, Store, StoreLimits, StoreLimitsBuilder, TypedFunc};

const NAME: &str = "wasmi";

/// The wasmi engine (a cheap handle; clones share the engine and its compiled code).
#[derive(Clone, Debug)]
pub struct WasmiEngine {
    engine: wasmi::Engine,
    fuel: bool,
}

impl Default for WasmiEngine {
    fn default() -> Self {
        Self::new()
    }
}

impl WasmiEngine {
    /// The configuration [`new`](Self::new) uses: wasmi's defaults plus
    /// [`CompilationMode::LazyTranslation`] and fuel metering (see the crate docs).
    pub fn default_config() -> wasmi::Config {
        let mut config = wasmi::Config::default();
        config.compilation_mode(CompilationMode::LazyTranslation).consume_fuel(true);
        config
    }
    /// An engine with fuel metering, so [`Limits::fuel_per_tick`] is supported.
    pub fn new() -> Self {
        Self {
            engine: wasmi::Engine::new(&Self::default_config()),
            fuel: true,
        }
    }
    /// An engine without fuel metering: a few percent faster, but [`Limits::fuel_per_tick`] is
    /// then [`Error::Unsupported`] and nothing can stop a guest that never yields.
    pub fn without_fuel() -> Self {
        let mut config = Self::default_config();
        config.consume_fuel(false);
        Self {
            engine: wasmi::Engine::new(&config),
            fuel: false,
        }
    }
    /// An engine with a custom wasmi configuration. Fuel limits are supported if the
    /// configuration enables [`consume_fuel`](wasmi::Config::consume_fuel).
    pub fn with_config(config: &wasmi::Config) -> Self {
        let engine = wasmi::Engine::new(config);
        // wasmi has no public getter for the setting; a store of a metering engine has fuel.
        let fuel = Store::new(&engine, ()).get_fuel().is_ok();
        Self { engine, fuel }
    }
    /// The underlying wasmi engine.
    pub fn inner(&self) -> &wasmi::Engine {
        &self.engine
    }
}

/// What the wasmi store holds for one reactor.
struct StoreData {
    host: HostState,
    /// Set right after instantiation; host functions lend it to [`HostFunc::call`].
    memory: Option<Memory>,
    limits: StoreLimits,
}

/// The wasmi version this backend is built and tested against (`EngineInfo::version`).
pub const WASMI_VERSION: &str = "2.0.0";

/// A live wasmi instance of a Go reactor.
pub struct WasmiInstance {
    store: Store<StoreData>,
    instance: Instance,
    tick: TypedFunc<(), i32>,
    memory: Memory,
    funcs: HashMap<Box<str>, Func>,
    /// Fuel to refuel to before every call, when a fuel limit was asked for.
    fuel_per_tick: Option<u64>,
}

impl fmt::Debug for WasmiInstance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WasmiInstance")
            .field("host", &self.store.data().host)
            .field("fuel_per_tick", &self.fuel_per_tick)
            .finish_non_exhaustive()
    }
}

// Reactors on this engine are `Send` (`Capabilities::send`): keep it that way.
const _: fn() = || {
    fn send<T: Send>() {}
    send::<WasmiInstance>();
    send::<WasmiEngine>();
};

/// The wasmi host error that carries a [`HostTrap`] out of the guest (wasmi's `HostError` cannot
/// be implemented for `reactor-api`'s type here).
#[derive(Debug)]
struct Stopped(HostTrap);

impl fmt::Display for Stopped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl wasmi::errors::HostError for Stopped {}

fn val_type(t: &wasmi::ValType) -> ValType {
    match t {
        wasmi::ValType::I32 => ValType::I32,
        wasmi::ValType::I64 => ValType::I64,
        wasmi::ValType::F32 => ValType::F32,
        wasmi::ValType::F64 => ValType::F64,
        _ => ValType::Unsupported,
    }
}

fn to_wasmi_type(t: ValType) -> wasmi::ValType {
    match t {
        ValType::I32 | ValType::Unsupported => wasmi::ValType::I32,
        ValType::I64 => wasmi::ValType::I64,
        ValType::F32 => wasmi::ValType::F32,
        ValType::F64 => wasmi::ValType::F64,
    }
}

fn func_type(f: &wasmi::FuncType) -> FuncType {
    FuncType::new(f.params().iter().map(val_type), f.results().iter().map(val_type))
}

fn extern_type(t: &wasmi::ExternType) -> ExternType {
    match t {
        wasmi::ExternType::Func(f) => ExternType::Func(func_type(f)),
        wasmi::ExternType::Memory(m) => ExternType::Memory {
            min_pages: m.minimum(),
            max_pages: m.maximum(),
        },
        wasmi::ExternType::Table(_) => ExternType::Table,
        wasmi::ExternType::Global(_) => ExternType::Global,
    }
}

fn from_wasmi(v: &wasmi::Val) -> Val {
    match *v {
        wasmi::Val::I32(x) => Val::I32(x),
        wasmi::Val::I64(x) => Val::I64(x),
        wasmi::Val::F32(x) => Val::F32(f32::from_bits(x.to_bits())),
        wasmi::Val::F64(x) => Val::F64(f64::from_bits(x.to_bits())),
        // Signatures were checked against numeric types before linking.
        _ => Val::I32(0),
    }
}

fn to_wasmi(v: Val) -> wasmi::Val {
    match v {
        Val::I32(x) => wasmi::Val::I32(x),
        Val::I64(x) => wasmi::Val::I64(x),
        Val::F32(x) => wasmi::Val::F32(wasmi::F32::from_bits(x.to_bits())),
        Val::F64(x) => wasmi::Val::F64(wasmi::F64::from_bits(x.to_bits())),
    }
}

fn trap(e: wasmi::Error) -> Trap {
    use wasmi::TrapCode as T;
    let kind = if e.downcast_ref::<Stopped>().is_some() {
        TrapKind::Host
    } else {
        match e.as_trap_code() {
            Some(T::UnreachableCodeReached) => TrapKind::Unreachable,
            Some(T::MemoryOutOfBounds) => TrapKind::MemoryOutOfBounds,
            Some(T::StackOverflow) => TrapKind::StackOverflow,
            Some(T::IntegerDivisionByZero) => TrapKind::IntegerDivisionByZero,
            Some(T::IntegerOverflow | T::BadConversionToInteger) => TrapKind::IntegerOverflow,
            Some(T::IndirectCallToNull | T::BadSignature | T::TableOutOfBounds) => TrapKind::BadIndirectCall,
            Some(T::OutOfFuel) => TrapKind::OutOfFuel,
            _ => TrapKind::Other,
        }
    };
    Trap::new(kind, e.to_string())
}

/// Values crossing a host call: on the stack up to this many, else on the heap.
const INLINE_VALS: usize = 16;

/// wasmi's (and the wasm validator's) limit on parameters and on results of a function type.
const MAX_FUNC_VALS: usize = 1000;

/// Links one host function: converts values, lends the memory and the host state to it.
fn link(store: &mut Store<StoreData>, f: HostFunc) -> Result<Func, Error> {
    // `wasmi::FuncType::new` panics beyond its limit; a validated module never declares more.
    if f.ty().params().len() > MAX_FUNC_VALS || f.ty().results().len() > MAX_FUNC_VALS {
        let message = format!(
            "import `{}::{}` has more than {MAX_FUNC_VALS} parameters or results",
            f.module(),
            f.name()
        );
        return Err(Error::Instantiate { engine: NAME, message });
    }
    let ty = wasmi::FuncType::new(
        f.ty().params().iter().map(|&t| to_wasmi_type(t)),
        f.ty().results().iter().map(|&t| to_wasmi_type(t)),
    );
    Ok(Func::new(store, ty, move |mut caller, params, results| {
        let (mut args_inline, mut args_heap) = ([Val::I32(0); INLINE_VALS], Vec::new());
        let args: &[Val] = match args_inline.get_mut(..params.len()) {
            Some(args) => {
                for (a, p) in args.iter_mut().zip(params) {
                    *a = from_wasmi(p);
                }
                args
            }
            None => {
                args_heap.extend(params.iter().map(from_wasmi));
                &args_heap
            }
        };
        let (mut outs_inline, mut outs_heap) = ([Val::I32(0); INLINE_VALS], Vec::new());
        let outs: &mut [Val] = match outs_inline.get_mut(..results.len()) {
            Some(outs) => outs,
            None => {
                outs_heap.resize(results.len(), Val::I32(0));
                &mut outs_heap
            }
        };
        let r = match caller.data().memory {
            Some(memory) => {
                let (mut bytes, data) = memory.data_and_store_mut(&mut caller);
                f.call(&mut bytes, &mut data.host, args, outs)
            }
            // Only reachable from a start function, which Go reactors do not have.
            None => f.call(&mut Vec::new(), &mut caller.data_mut().host, args, outs),
        };
        r.map_err(|t| wasmi::Error::host(Stopped(t)))?;
        for (slot, v) in results.iter_mut().zip(outs.iter()) {
            *slot = to_wasmi(*v);
        }
        Ok(())
    }))
}

/// Bytes of wasm stack per level of recursion when a stack size is turned into wasmi's
/// recursion limit: wasmi counts calls and value-stack bytes separately, and Go's wasm frames
/// (a handful of locals each) are far smaller than this, so the depth limit is the looser one.
const STACK_BYTES_PER_CALL: usize = 256;

/// Applies a wasm stack size of `bytes` to wasmi's two stack limits: the value stack height
/// (bytes) and the call depth (`bytes / STACK_BYTES_PER_CALL`). wasmi keeps both on the heap,
/// so neither depends on the native thread's stack.
fn set_stack_limits(config: &mut wasmi::Config, bytes: usize) {
    // The minimum height must not exceed the maximum (wasmi panics otherwise): 1000 is its default.
    let bytes = bytes.max(1_000);
    config
        .set_max_stack_height(bytes)
        .set_max_recursion_depth((bytes / STACK_BYTES_PER_CALL).max(1));
}

impl WasmEngine for WasmiEngine {
    type Module = wasmi::Module;
    type Instance = WasmiInstance;

    fn from_options(options: &EngineOptions) -> Result<Self, Error> {
        let mut config = Self::default_config();
        if let Some(bytes) = options.wasm_stack() {
            set_stack_limits(&mut config, bytes);
        }
        Ok(Self::with_config(&config))
    }

    fn info(&self) -> EngineInfo {
        // wasmi exports no version constant: this is the version the workspace locks, kept
        // honest by a test against Cargo.lock. (wasmi cannot serialize, so no cache key uses it.)
        EngineInfo::new(
            NAME,
            WASMI_VERSION,
            ExecutionKind::Interpreter,
            Capabilities::none().with_memory_limit(true).with_fuel(self.fuel).with_send(true),
        )
    }

    fn into_send_reactor(reactor: GoReactor<Self::Instance>) -> Option<Box<dyn Reactor + Send>> {
        Some(Box::new(reactor))
    }

    fn compile(&self, wasm: &[u8]) -> Result<Self::Module, Error> {
        wasmi::Module::new(&self.engine, wasm).map_err(|e| Error::Compile {
            engine: NAME,
            message: e.to_string(),
        })
    }

    fn module_info(&self, module: &Self::Module) -> ModuleInfo {
        ModuleInfo {
            imports: module
                .imports()
                .map(|i| ImportDesc {
                    module: i.module().to_string(),
                    name: i.name().to_string(),
                    ty: extern_type(i.ty()),
                })
                .collect(),
            exports: module
                .exports()
                .map(|e| ExportDesc {
                    name: e.name().to_string(),
                    ty: extern_type(e.ty()),
                })
                .collect(),
        }
    }

    fn instantiate(
        &self,
        module: &Self::Module,
        state: HostState,
        imports: Vec<HostFunc>,
        limits: &Limits,
    ) -> Result<Self::Instance, Error> {
        limits.check_supported(&self.info())?;
        let mut store_limits = StoreLimitsBuilder::new();
        if let Some(max) = limits.max_memory_bytes {
            store_limits = store_limits.memory_size(usize::try_from(max).unwrap_or(usize::MAX));
        }
        let data = StoreData {
            host: state,
            memory: None,
            limits: store_limits.build(),
        };
        let mut store = Store::new(&self.engine, data);
        store.limiter(|d| &mut d.limits);
        let failed = |e: wasmi::Error| Error::Instantiate {
            engine: NAME,
            message: e.to_string(),
        };
        if self.fuel {
            // A metering store starts empty; a start function (if any) runs on the first budget.
            store.set_fuel(limits.fuel_per_tick.unwrap_or(u64::MAX)).map_err(failed)?;
        }
        let externs = imports
            .into_iter()
            .map(|f| link(&mut store, f).map(wasmi::Extern::Func))
            .collect::<Result<Vec<_>, _>>()?;
        let instance = Instance::new(&mut store, module, &externs).map_err(failed)?;
        let memory = instance.get_memory(&store, "memory").ok_or_else(|| Error::NotAReactor {
            reason: "it exports no `memory`".into(),
        })?;
        store.data_mut().memory = Some(memory);
        let tick = instance.get_typed_func::<(), i32>(&store, "go_tick").map_err(failed)?;
        Ok(WasmiInstance {
            store,
            instance,
            tick,
            memory,
            funcs: HashMap::new(),
            fuel_per_tick: limits.fuel_per_tick,
        })
    }
}

impl WasmiInstance {
    /// Resets the fuel budget before a call, when there is one.
    fn refuel(&mut self) -> Result<(), Trap> {
        match self.fuel_per_tick {
            Some(fuel) => self.store.set_fuel(fuel).map_err(trap),
            None => Ok(()),
        }
    }
}

impl EngineInstance for WasmiInstance {
    fn call(&mut self, name: &str, args: &[Val], results: &mut [Val]) -> Result<(), Trap> {
        let func = match self.funcs.get(name) {
            Some(f) => *f,
            None => {
                let f = self
                    .instance
                    .get_func(&self.store, name)
                    .ok_or_else(|| Trap::new(TrapKind::Other, format!("no function export `{name}`")))?;
                self.funcs.insert(name.into(), f);
                f
            }
        };
        let params: Vec<wasmi::Val> = args.iter().map(|&v| to_wasmi(v)).collect();
        let mut outs: Vec<wasmi::Val> = results.iter().map(|&v| to_wasmi(v)).collect();
        self.refuel()?;
        func.call(&mut self.store, &params, &mut outs).map_err(trap)?;
        for (r, v) in results.iter_mut().zip(&outs) {
            *r = from_wasmi(v);
        }
        Ok(())
    }

    fn tick(&mut self) -> Result<i32, Trap> {
        self.refuel()?;
        self.tick.call(&mut self.store, ()).map_err(trap)
    }

    fn state(&mut self) -> &mut HostState {
        &mut self.store.data_mut().host
    }

    fn memory_size(&mut self) -> u64 {
        self.memory.data_size(&self.store) as u64
    }

    fn read_memory(&mut self, addr: u64, buf: &mut [u8]) -> Result<(), MemoryError> {
        self.memory.data(&self.store).read(addr, buf)
    }

    fn write_memory(&mut self, addr: u64, data: &[u8]) -> Result<(), MemoryError> {
        self.memory.data_mut(&mut self.store).write(addr, data)
    }
}
