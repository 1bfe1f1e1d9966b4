//! The wasmtime backend of go-reactor: Go reactors compiled to native code by Cranelift.
//!
//! A thin adapter: it links each import to a [`reactor_api::HostFunc`] and forwards calls;
//! WASI lives in `wasi-min`, everything else in `reactor-api`. Reactors on this engine are `Send`.
//!
//! ```no_run
//! use reactor_api::{Module, ReactorConfig, ReactorExt};
//! use reactor_wasmtime::WasmtimeEngine;
//!
//! let engine = WasmtimeEngine::new();
//! let module = Module::from_file(&engine, "guests/wasm/hello.wasm")?;
//! let mut reactor = module.instantiate(ReactorConfig::new().arg("hello"))?;
//! reactor.run()?;
//! # Ok::<(), reactor_api::Error>(())
//! ```
#![warn(missing_docs, missing_debug_implementations)]

use std::collections::HashMap;
use std::mem::MaybeUninit;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use reactor_api::{
    Capabilities, EngineInfo, EngineInstance, EngineOptions, Error, ExecutionKind, ExportDesc, ExternType, FuncType, GoReactor, HostFunc,
    HostState, HostTrap, ImportDesc, Limits, ModuleInfo, Reactor, Trap, TrapKind, Val, ValType, WasmEngine,
};
use wasi_min::{GuestMemory, MemoryError};
use wasmtime::{Func, Instance, Memory, Store, StoreLimits, StoreLimitsBuilder, TypedFunc, ValRaw};

const NAME: &str = "wasmtime";

/// How often the epoch advances when some reactor has a tick deadline.
const EPOCH_PERIOD: Duration = Duration::from_millis(1);

/// The epoch delta used when a reactor has no deadline (about 290 million years at 1 ms ticks).
const NO_DEADLINE: u64 = 1 << 53;

/// Optional engine features, fixed when the engine is created.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WasmtimeOptions {
    /// Fuel metering, for [`Limits::fuel_per_tick`]. Costs run time (instrumented code): off by default.
    pub fuel: bool,
    /// Epoch interruption, for [`Limits::tick_deadline`]. Cheap (a check at loops and calls): on by default.
    pub deadlines: bool,
    /// `Config::max_wasm_stack` in bytes (`None`: wasmtime's 512 KiB; the async stack size is
    /// set to this plus 1 MiB, as wasmtime requires it to be larger). Wasm runs on the calling
    /// thread's native stack: that thread needs this much stack plus room for the host, or a
    /// deep guest crashes the process instead of trapping (see
    /// [`EngineOptions::max_wasm_stack`](reactor_api::EngineOptions::max_wasm_stack)).
    pub max_wasm_stack: Option<usize>,
}

impl Default for WasmtimeOptions {
    fn default() -> Self {
        Self {
            fuel: false,
            deadlines: true,
            max_wasm_stack: None,
        }
    }
}

/// The wasmtime engine (a cheap handle; clones share compiled code).
#[derive(Clone, Debug)]
pub struct WasmtimeEngine {
    engine: wasmtime::Engine,
    options: WasmtimeOptions,
    ticker: Arc<OnceLock<()>>,
}

impl Default for WasmtimeEngine {
    fn default() -> Self {
        Self::new()
    }
}

impl WasmtimeEngine {
    /// An engine with wasmtime's default configuration (Cranelift, optimising for speed) and
    /// [`WasmtimeOptions::default`]: deadlines available, no fuel.
    pub fn new() -> Self {
        // Only an invalid configuration fails, and the default one is valid.
        Self::with_options(WasmtimeOptions::default()).unwrap_or_else(|e| panic!("default wasmtime configuration rejected: {e}"))
    }
    /// An engine with the given optional features.
    ///
    /// # Errors
    /// [`Error::Instantiate`] if wasmtime rejects the resulting configuration.
    pub fn with_options(options: WasmtimeOptions) -> Result<Self, Error> {
        Self::with_config(&mut wasmtime::Config::new(), options)
    }
    /// An engine from a custom wasmtime configuration; `options` are applied on top of it.
    ///
    /// # Errors
    /// [`Error::Instantiate`] if wasmtime rejects the configuration (e.g. settings it cannot
    /// combine, or a target the host cannot run).
    pub fn with_config(config: &mut wasmtime::Config, options: WasmtimeOptions) -> Result<Self, Error> {
        config.consume_fuel(options.fuel).epoch_interruption(options.deadlines);
        if let Some(bytes) = options.max_wasm_stack {
            // wasmtime refuses a wasm stack larger than its async stack (even without async):
            // the async stack gets the wasm stack plus 1 MiB for host calls, as its default
            // (2 MiB) has over the default wasm stack.
            config.max_wasm_stack(bytes).async_stack_size(bytes.saturating_add(1 << 20));
        }
        let engine = wasmtime::Engine::new(config).map_err(|e| Error::Instantiate {
            engine: NAME,
            message: format!("{e:#}"),
        })?;
        Ok(Self {
            engine,
            options,
            ticker: Arc::default(),
        })
    }
    /// The underlying wasmtime engine.
    pub fn inner(&self) -> &wasmtime::Engine {
        &self.engine
    }

    /// Starts (once per engine) the thread that advances the epoch, which ends when the engine
    /// is dropped. Only engines whose reactors use deadlines pay for it.
    fn start_ticker(&self) {
        self.ticker.get_or_init(|| {
            let weak = self.engine.weak();
            let spawned = std::thread::Builder::new().name("go-reactor-epoch".into()).spawn(move || {
                while let Some(engine) = weak.upgrade() {
                    engine.increment_epoch();
                    drop(engine);
                    std::thread::sleep(EPOCH_PERIOD);
                }
            });
            if let Err(e) = spawned {
                tracing::error!("cannot start the epoch thread, deadlines will not fire: {e}");
            }
        });
    }
}

struct StoreData {
    host: HostState,
    memory: Option<Memory>,
    limits: StoreLimits,
}

/// A live wasmtime instance of a Go reactor.
pub struct WasmtimeInstance {
    store: Store<StoreData>,
    budget: Budget,
    instance: Instance,
    tick: TypedFunc<(), i32>,
    memory: Memory,
    funcs: HashMap<Box<str>, Export>,
}

impl std::fmt::Debug for WasmtimeInstance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WasmtimeInstance")
            .field("exports_cached", &self.funcs.len())
            .finish_non_exhaustive()
    }
}

/// A function export looked up once, with its signature.
struct Export {
    func: Func,
    params: Box<[ValType]>,
    results: Box<[ValType]>,
}

/// The per-call limits, applied before every call into the guest.
struct Budget {
    fuel: Option<u64>,
    epoch_ticks: Option<u64>,
}

impl Budget {
    fn apply(&self, store: &mut Store<StoreData>) -> Result<(), Trap> {
        if let Some(fuel) = self.fuel {
            store.set_fuel(fuel).map_err(trap)?;
        }
        if let Some(ticks) = self.epoch_ticks {
            store.set_epoch_deadline(ticks);
        }
        Ok(())
    }
}

fn val_type(t: &wasmtime::ValType) -> ValType {
    match t {
        wasmtime::ValType::I32 => ValType::I32,
        wasmtime::ValType::I64 => ValType::I64,
        wasmtime::ValType::F32 => ValType::F32,
        wasmtime::ValType::F64 => ValType::F64,
        _ => ValType::Unsupported,
    }
}

fn to_wasmtime_type(t: ValType) -> wasmtime::ValType {
    match t {
        ValType::I32 | ValType::Unsupported => wasmtime::ValType::I32,
        ValType::I64 => wasmtime::ValType::I64,
        ValType::F32 => wasmtime::ValType::F32,
        ValType::F64 => wasmtime::ValType::F64,
    }
}

fn extern_type(t: &wasmtime::ExternType) -> ExternType {
    match t {
        wasmtime::ExternType::Func(f) => {
            ExternType::Func(FuncType::new(f.params().map(|p| val_type(&p)), f.results().map(|r| val_type(&r))))
        }
        wasmtime::ExternType::Memory(m) => ExternType::Memory {
            min_pages: m.minimum(),
            max_pages: m.maximum(),
        },
        wasmtime::ExternType::Table(_) => ExternType::Table,
        wasmtime::ExternType::Global(_) => ExternType::Global,
        _ => ExternType::Other,
    }
}

fn from_wasmtime(v: &wasmtime::Val) -> Val {
    match *v {
        wasmtime::Val::I32(x) => Val::I32(x),
        wasmtime::Val::I64(x) => Val::I64(x),
        wasmtime::Val::F32(bits) => Val::F32(f32::from_bits(bits)),
        wasmtime::Val::F64(bits) => Val::F64(f64::from_bits(bits)),
        // Signatures were checked against numeric types before linking.
        _ => Val::I32(0),
    }
}

fn to_wasmtime(v: Val) -> wasmtime::Val {
    match v {
        Val::I32(x) => wasmtime::Val::I32(x),
        Val::I64(x) => wasmtime::Val::I64(x),
        Val::F32(x) => wasmtime::Val::F32(x.to_bits()),
        Val::F64(x) => wasmtime::Val::F64(x.to_bits()),
    }
}

fn trap(e: wasmtime::Error) -> Trap {
    use wasmtime::Trap as T;
    let kind = if e.downcast_ref::<HostTrap>().is_some() {
        TrapKind::Host
    } else {
        match e.downcast_ref::<T>() {
            Some(T::UnreachableCodeReached) => TrapKind::Unreachable,
            Some(T::MemoryOutOfBounds | T::HeapMisaligned) => TrapKind::MemoryOutOfBounds,
            Some(T::StackOverflow) => TrapKind::StackOverflow,
            Some(T::IntegerDivisionByZero) => TrapKind::IntegerDivisionByZero,
            Some(T::IntegerOverflow | T::BadConversionToInteger) => TrapKind::IntegerOverflow,
            Some(T::IndirectCallToNull | T::BadSignature | T::TableOutOfBounds) => TrapKind::BadIndirectCall,
            Some(T::OutOfFuel) => TrapKind::OutOfFuel,
            Some(T::Interrupt) => TrapKind::Interrupted,
            _ => TrapKind::Other,
        }
    };
    Trap::new(kind, format!("{e:#}"))
}

/// Values crossing a host or export call: on the stack up to this many, else on the heap.
const INLINE_VALS: usize = 16;

fn to_raw(v: Val) -> ValRaw {
    match v {
        Val::I32(x) => ValRaw::i32(x),
        Val::I64(x) => ValRaw::i64(x),
        Val::F32(x) => ValRaw::f32(x.to_bits()),
        Val::F64(x) => ValRaw::f64(x.to_bits()),
    }
}

fn from_raw(t: ValType, v: ValRaw) -> Val {
    match t {
        // `Unsupported` is linked as i32 (see `to_wasmtime_type`).
        ValType::I32 | ValType::Unsupported => Val::I32(v.get_i32()),
        ValType::I64 => Val::I64(v.get_i64()),
        ValType::F32 => Val::F32(f32::from_bits(v.get_f32())),
        ValType::F64 => Val::F64(f64::from_bits(v.get_f64())),
    }
}

/// Links one host function: converts values, lends the memory and the host state to it.
///
/// Uses wasmtime's raw host-call interface (`Func::new_unchecked`): `Func::new` type-checks and
/// boxes every value into a `Val` vector on every call, which cost about 100 ns per host call
/// (Go calls `clock_time_get` several times per tick).
fn link(store: &mut Store<StoreData>, f: HostFunc) -> Func {
    let ty = wasmtime::FuncType::new(
        store.engine(),
        f.ty().params().iter().map(|&t| to_wasmtime_type(t)),
        f.ty().results().iter().map(|&t| to_wasmtime_type(t)),
    );
    let params: Box<[ValType]> = f.ty().params().into();
    let host = move |mut caller: wasmtime::Caller<'_, StoreData>, raw: &mut [MaybeUninit<ValRaw>]| {
        let (mut args_inline, mut args_heap) = ([Val::I32(0); INLINE_VALS], Vec::new());
        let args: &mut [Val] = match args_inline.get_mut(..params.len()) {
            Some(args) => args,
            None => {
                args_heap.resize(params.len(), Val::I32(0));
                &mut args_heap
            }
        };
        for ((a, &t), r) in args.iter_mut().zip(params.iter()).zip(raw.iter()) {
            // SAFETY: wasmtime initialises the first `params.len()` slots with the arguments.
            *a = from_raw(t, unsafe { r.assume_init() });
        }
        let mut outs = [Val::I32(0); 8];
        let outs = outs
            .get_mut(..f.ty().results().len())
            .ok_or_else(|| wasmtime::Error::msg("too many results"))?;
        let r = match caller.data().memory {
            Some(memory) => {
                let (mut bytes, data) = memory.data_and_store_mut(&mut caller);
                f.call(&mut bytes, &mut data.host, args, outs)
            }
            // Only reachable from a start function, which Go reactors do not have.
            None => f.call(&mut Vec::new(), &mut caller.data_mut().host, args, outs),
        };
        r.map_err(wasmtime::Error::new)?;
        for (slot, v) in raw.iter_mut().zip(outs.iter()) {
            slot.write(to_raw(*v));
        }
        Ok(())
    };
    // SAFETY: the closure reads exactly the parameters of `ty`, each as its declared type, and
    // writes its results in order; `HostFunc::call` fills `outs` with values of the declared
    // result types. All types are numbers (`to_wasmtime_type` never yields a reference type),
    // so even a mistyped value would only be reinterpreted bits, never an invalid reference.
    unsafe { Func::new_unchecked(store, ty, host) }
}

impl WasmEngine for WasmtimeEngine {
    type Module = wasmtime::Module;
    type Instance = WasmtimeInstance;

    fn from_options(options: &EngineOptions) -> Result<Self, Error> {
        Self::with_options(WasmtimeOptions {
            max_wasm_stack: options.wasm_stack(),
            ..WasmtimeOptions::default()
        })
    }

    fn info(&self) -> EngineInfo {
        // wasmtime pins its `wasmtime-environ` to its own exact version, so this is wasmtime's
        // version as Cargo resolved it (and part of the compiled-code cache key).
        EngineInfo::new(
            NAME,
            wasmtime_environ::VERSION,
            ExecutionKind::Compiler,
            Capabilities::none()
                .with_memory_limit(true)
                .with_fuel(self.options.fuel)
                .with_deadline(self.options.deadlines)
                .with_serialize(true)
                .with_send(true)
                .with_wasm_stack(true),
        )
    }

    fn compile(&self, wasm: &[u8]) -> Result<Self::Module, Error> {
        wasmtime::Module::new(&self.engine, wasm).map_err(|e| Error::Compile {
            engine: NAME,
            message: format!("{e:#}"),
        })
    }

    fn module_info(&self, module: &Self::Module) -> ModuleInfo {
        ModuleInfo {
            imports: module
                .imports()
                .map(|i| ImportDesc {
                    module: i.module().to_string(),
                    name: i.name().to_string(),
                    ty: extern_type(&i.ty()),
                })
                .collect(),
            exports: module
                .exports()
                .map(|e| ExportDesc {
                    name: e.name().to_string(),
                    ty: extern_type(&e.ty()),
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
        let budget = Budget {
            fuel: self.options.fuel.then(|| limits.fuel_per_tick.unwrap_or(u64::MAX)),
            // Without a deadline: a delta the epoch never reaches (wasmtime adds it to the current
            // epoch, so u64::MAX itself would overflow once the ticker has run).
            epoch_ticks: self.options.deadlines.then(|| {
                limits
                    .tick_deadline
                    .map_or(NO_DEADLINE, |d| (d.as_nanos() / EPOCH_PERIOD.as_nanos()).max(1) as u64)
            }),
        };
        if limits.tick_deadline.is_some() {
            self.start_ticker();
        }
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
        if self.options.deadlines {
            store.epoch_deadline_trap();
        }
        budget.apply(&mut store).map_err(|t| Error::Instantiate {
            engine: NAME,
            message: t.message,
        })?;
        let externs: Vec<wasmtime::Extern> = imports.into_iter().map(|f| link(&mut store, f).into()).collect();
        let failed = |e: wasmtime::Error| Error::Instantiate {
            engine: NAME,
            message: format!("{e:#}"),
        };
        let instance = Instance::new(&mut store, module, &externs).map_err(failed)?;
        let memory = instance.get_memory(&mut store, "memory").ok_or_else(|| Error::NotAReactor {
            reason: "it exports no `memory`".into(),
        })?;
        store.data_mut().memory = Some(memory);
        let tick = instance.get_typed_func::<(), i32>(&mut store, "go_tick").map_err(failed)?;
        Ok(WasmtimeInstance {
            store,
            budget,
            instance,
            tick,
            memory,
            funcs: HashMap::new(),
        })
    }

    fn serialize(&self, module: &Self::Module) -> Result<Vec<u8>, Error> {
        module.serialize().map_err(|e| Error::Serialize {
            engine: NAME,
            operation: "serialize",
            message: format!("{e:#}"),
        })
    }

    unsafe fn deserialize(&self, bytes: &[u8]) -> Result<Self::Module, Error> {
        // SAFETY: forwarded to the caller, who promises the bytes came from `serialize`.
        unsafe { wasmtime::Module::deserialize(&self.engine, bytes) }.map_err(|e| Error::Serialize {
            engine: NAME,
            operation: "deserialize",
            message: format!("{e:#}"),
        })
    }

    fn into_send_reactor(reactor: GoReactor<Self::Instance>) -> Option<Box<dyn Reactor + Send>> {
        Some(Box::new(reactor))
    }
}

impl EngineInstance for WasmtimeInstance {
    fn call(&mut self, name: &str, args: &[Val], results: &mut [Val]) -> Result<(), Trap> {
        if !self.funcs.contains_key(name) {
            let func = self
                .instance
                .get_func(&mut self.store, name)
                .ok_or_else(|| Trap::new(TrapKind::Other, format!("no function export `{name}`")))?;
            let ty = func.ty(&self.store);
            let export = Export {
                func,
                params: ty.params().map(|t| val_type(&t)).collect(),
                results: ty.results().map(|t| val_type(&t)).collect(),
            };
            self.funcs.insert(name.into(), export);
        }
        let export = &self.funcs[name];
        self.budget.apply(&mut self.store)?;
        let numeric = |ts: &[ValType]| !ts.contains(&ValType::Unsupported);
        if args.len() != export.params.len()
            || results.len() != export.results.len()
            || args.iter().zip(export.params.iter()).any(|(a, &t)| a.ty() != t)
            || !numeric(&export.params)
            || !numeric(&export.results)
        {
            // Not what the signature says: let wasmtime's checked call report it.
            let params: Vec<wasmtime::Val> = args.iter().map(|&v| to_wasmtime(v)).collect();
            let mut outs: Vec<wasmtime::Val> = results.iter().map(|&v| to_wasmtime(v)).collect();
            export.func.call(&mut self.store, &params, &mut outs).map_err(trap)?;
            for (r, v) in results.iter_mut().zip(&outs) {
                *r = from_wasmtime(v);
            }
            return Ok(());
        }
        // The checked `Func::call` looks the function's type up in the engine's type registry
        // and boxes every value on each call; the signature was checked above instead.
        let n = args.len().max(results.len());
        let (mut inline, mut heap) = ([ValRaw::i32(0); INLINE_VALS], Vec::new());
        let raw: &mut [ValRaw] = match inline.get_mut(..n) {
            Some(raw) => raw,
            None => {
                heap.resize(n, ValRaw::i32(0));
                &mut heap
            }
        };
        for (r, &a) in raw.iter_mut().zip(args) {
            *r = to_raw(a);
        }
        // SAFETY: `func` belongs to this store; the arguments match the export's parameter types
        // (checked above), `raw` holds max(params, results) slots, and every type is a number
        // (no references to keep alive).
        unsafe { export.func.call_unchecked(&mut self.store, raw as *mut [ValRaw]) }.map_err(trap)?;
        for ((r, &t), &v) in results.iter_mut().zip(export.results.iter()).zip(raw.iter()) {
            *r = from_raw(t, v);
        }
        Ok(())
    }

    fn tick(&mut self) -> Result<i32, Trap> {
        self.budget.apply(&mut self.store)?;
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
