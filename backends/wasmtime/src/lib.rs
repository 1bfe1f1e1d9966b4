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
#![warn(missing_docs)]

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use reactor_api::{
    Capabilities, EngineInfo, EngineInstance, Error, ExecutionKind, ExportDesc, ExternType, FuncType, HostFunc, HostState, HostTrap,
    ImportDesc, Limits, ModuleInfo, Trap, TrapKind, Val, ValType, WasmEngine,
};
use wasi_min::{GuestMemory, MemoryError};
use wasmtime::{Func, Instance, Memory, Store, StoreLimits, StoreLimitsBuilder, TypedFunc};

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
}

impl Default for WasmtimeOptions {
    fn default() -> Self {
        Self {
            fuel: false,
            deadlines: true,
        }
    }
}

/// The wasmtime engine (a cheap handle; clones share compiled code).
#[derive(Clone)]
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
    pub fn with_options(options: WasmtimeOptions) -> Result<Self, Error> {
        Self::with_config(&mut wasmtime::Config::new(), options)
    }
    /// An engine from a custom wasmtime configuration; `options` are applied on top of it.
    pub fn with_config(config: &mut wasmtime::Config, options: WasmtimeOptions) -> Result<Self, Error> {
        config.consume_fuel(options.fuel).epoch_interruption(options.deadlines);
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
    funcs: HashMap<Box<str>, Func>,
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

/// Links one host function: converts values, lends the memory and the host state to it.
fn link(store: &mut Store<StoreData>, f: HostFunc) -> Func {
    let ty = wasmtime::FuncType::new(
        store.engine(),
        f.ty().params().iter().map(|&t| to_wasmtime_type(t)),
        f.ty().results().iter().map(|&t| to_wasmtime_type(t)),
    );
    Func::new(store, ty, move |mut caller, params, results| {
        let args: Vec<Val> = params.iter().map(from_wasmtime).collect();
        let mut outs = [Val::I32(0); 8];
        let outs = outs
            .get_mut(..results.len())
            .ok_or_else(|| wasmtime::Error::msg("too many results"))?;
        let r = match caller.data().memory {
            Some(memory) => {
                let (mut bytes, data) = memory.data_and_store_mut(&mut caller);
                f.call(&mut bytes, &mut data.host, &args, outs)
            }
            // Only reachable from a start function, which Go reactors do not have.
            None => f.call(&mut Vec::new(), &mut caller.data_mut().host, &args, outs),
        };
        r.map_err(wasmtime::Error::new)?;
        for (slot, v) in results.iter_mut().zip(outs.iter()) {
            *slot = to_wasmtime(*v);
        }
        Ok(())
    })
}

impl WasmEngine for WasmtimeEngine {
    type Module = wasmtime::Module;
    type Instance = WasmtimeInstance;

    fn info(&self) -> EngineInfo {
        EngineInfo {
            name: NAME,
            version: "48",
            kind: ExecutionKind::Compiler,
            capabilities: Capabilities {
                memory_limit: true,
                fuel: self.options.fuel,
                deadline: self.options.deadlines,
                serialize: true,
                send: true,
            },
        }
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
        if limits.fuel_per_tick.is_some() && !self.options.fuel {
            return Err(Error::Unsupported {
                engine: NAME,
                feature: "fuel limits (create the engine with WasmtimeOptions { fuel: true, .. })",
            });
        }
        if limits.tick_deadline.is_some() && !self.options.deadlines {
            return Err(Error::Unsupported {
                engine: NAME,
                feature: "tick deadlines (this engine was created without them)",
            });
        }
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
        module.serialize().map_err(|e| Error::Compile {
            engine: NAME,
            message: format!("{e:#}"),
        })
    }

    unsafe fn deserialize(&self, bytes: &[u8]) -> Result<Self::Module, Error> {
        // SAFETY: forwarded to the caller, who promises the bytes came from `serialize`.
        unsafe { wasmtime::Module::deserialize(&self.engine, bytes) }.map_err(|e| Error::Compile {
            engine: NAME,
            message: format!("{e:#}"),
        })
    }
}

impl EngineInstance for WasmtimeInstance {
    fn call(&mut self, name: &str, args: &[Val], results: &mut [Val]) -> Result<(), Trap> {
        let func = match self.funcs.get(name) {
            Some(f) => *f,
            None => {
                let f = self
                    .instance
                    .get_func(&mut self.store, name)
                    .ok_or_else(|| Trap::new(TrapKind::Other, format!("no function export `{name}`")))?;
                self.funcs.insert(name.into(), f);
                f
            }
        };
        self.budget.apply(&mut self.store)?;
        let params: Vec<wasmtime::Val> = args.iter().map(|&v| to_wasmtime(v)).collect();
        let mut outs: Vec<wasmtime::Val> = results.iter().map(|&v| to_wasmtime(v)).collect();
        func.call(&mut self.store, &params, &mut outs).map_err(trap)?;
        for (r, v) in results.iter_mut().zip(&outs) {
            *r = from_wasmtime(v);
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
