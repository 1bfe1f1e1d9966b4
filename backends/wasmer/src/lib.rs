//! The wasmer backend of go-reactor: Go reactors compiled to native code by wasmer's Cranelift.
//!
//! A thin adapter: it links each import to a [`reactor_api::HostFunc`] (a dynamic wasmer
//! [`Function`] whose environment holds the [`HostState`] and, once the instance exists, its
//! `memory`) and forwards calls; WASI lives in `wasi-min`, everything else in `reactor-api`.
//!
//! - **Memory limits** ([`Limits::max_memory_bytes`]) are enforced per instance by giving each
//!   instance's store a clone of the engine (sharing compiled code) with [`Tunables`] that clamp
//!   the maximum of every memory the instance creates.
//! - **Fuel** ([`Limits::fuel_per_tick`]) needs an engine built by
//!   [`WasmerEngine::with_metering`]: modules are then compiled with `wasmer-middlewares`'
//!   metering, and the budget is refilled before every export call and tick. A plain
//!   [`WasmerEngine::new`] engine compiles faster code and refuses fuel limits.
//! - **Deadlines** are not supported (wasmer's interrupts are experimental and signal based).
//!
//! Reactors on this engine are **not `Send`**: a `wasmer::Store` must stay on the thread that
//! created it, so a [`WasmerInstance`] (and a reactor or async loop built on it) cannot move
//! between threads. Engines and compiled modules ([`WasmerModule`]) are `Send + Sync`.
//!
//! ```no_run
//! use reactor_api::{Module, ReactorConfig, ReactorExt};
//! use reactor_wasmer::WasmerEngine;
//!
//! let engine = WasmerEngine::new();
//! let module = Module::from_file(&engine, "guests/wasm/hello.wasm")?;
//! let mut reactor = module.instantiate(ReactorConfig::new().arg("hello"))?;
//! reactor.run()?;
//! # Ok::<(), reactor_api::Error>(())
//! ```
#![warn(missing_docs, missing_debug_implementations)]

use std::collections::HashMap;
use std::ptr::NonNull;
use std::sync::Arc;

use reactor_api::{
    Capabilities, EngineInfo, EngineInstance, EngineOptions, Error, ExecutionKind, ExportDesc, ExternType, FuncType, HostFunc, HostState,
    HostTrap, ImportDesc, Limits, ModuleInfo, Trap, TrapKind, Val, ValType, WasmEngine,
};
use wasi_min::{GuestMemory, MemoryError};
use wasmer::sys::vm::{
    MemoryError as VmMemoryError, MemoryStyle, TableStyle, VMConfig, VMMemory, VMMemoryDefinition, VMTable, VMTableDefinition,
};
use wasmer::sys::{BaseTunables, CompilerConfig, Cranelift, NativeEngineExt, Tunables};
use wasmer::{
    Extern, Function, FunctionEnv, FunctionEnvMut, Global, Instance, Memory, MemoryType, MemoryView, Pages, RuntimeError, Store, TableType,
    TypedFunction, Value,
};
use wasmer_middlewares::Metering;

const NAME: &str = "wasmer";

/// Exports the metering middleware adds to every module it compiles.
const FUEL_REMAINING: &str = "wasmer_metering_remaining_points";
const FUEL_EXHAUSTED: &str = "wasmer_metering_points_exhausted";

/// The wasmer engine (a cheap handle; clones share compiled code).
#[derive(Clone)]
pub struct WasmerEngine {
    engine: wasmer::Engine,
    metering: bool,
    /// Size of the stack each call into the guest runs on (`None`: wasmer's process-wide
    /// default, 1 MiB). Wasmer switches to a stack of its own for every call, so any size is
    /// safe on any thread.
    wasm_stack: Option<usize>,
}

impl Default for WasmerEngine {
    fn default() -> Self {
        Self {
            engine: Cranelift::new().into(),
            metering: false,
            wasm_stack: None,
        }
    }
}

impl std::fmt::Debug for WasmerEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WasmerEngine")
            .field("metering", &self.metering)
            .field("wasm_stack", &self.wasm_stack)
            .finish_non_exhaustive()
    }
}

impl WasmerEngine {
    /// An engine with wasmer's Cranelift compiler and default settings. It does not support fuel
    /// limits (see [`with_metering`](Self::with_metering)).
    pub fn new() -> Self {
        Self::default()
    }

    /// An engine whose modules count executed operators, so that [`Limits::fuel_per_tick`] can
    /// be enforced (one unit of fuel per WebAssembly operator). Metered code is slower, and
    /// wasmer's metering middleware serves a single module, so every compilation builds its own
    /// compiler.
    pub fn with_metering() -> Self {
        Self {
            metering: true,
            ..Self::default()
        }
    }

    /// An engine with wasmer's single-pass compiler: much faster compilation, slower code.
    /// Cargo feature `singlepass`.
    #[cfg(feature = "singlepass")]
    pub fn singlepass() -> Self {
        Self {
            engine: wasmer::sys::Singlepass::new().into(),
            metering: false,
            wasm_stack: None,
        }
    }

    /// An engine from a wasmer engine the caller configured (without metering).
    pub fn from_engine(engine: wasmer::Engine) -> Self {
        Self {
            engine,
            metering: false,
            wasm_stack: None,
        }
    }

    /// Whether modules compiled by this engine are metered (support fuel limits).
    pub fn is_metered(&self) -> bool {
        self.metering
    }

    /// The underlying wasmer engine. With metering, modules are compiled by engines of their
    /// own (see [`WasmerModule::engine`]); this one is only used to load serialized modules.
    pub fn inner(&self) -> &wasmer::Engine {
        &self.engine
    }

    fn metered_engine() -> wasmer::Engine {
        let mut compiler = Cranelift::new();
        // One unit per operator; the budget is set for each call, so the initial limit is moot.
        compiler.push_middleware(Arc::new(Metering::new(u64::MAX, |_: &wasmer::wasmparser::Operator<'_>| 1)));
        compiler.into()
    }
}

/// A module compiled by wasmer, with the engine that owns its code.
#[derive(Clone)]
pub struct WasmerModule {
    module: wasmer::Module,
    engine: wasmer::Engine,
}

impl WasmerModule {
    /// The wasmer module.
    pub fn inner(&self) -> &wasmer::Module {
        &self.module
    }
    /// The wasmer engine that compiled (or loaded) it; instances run in stores of this engine.
    pub fn engine(&self) -> &wasmer::Engine {
        &self.engine
    }
}

impl std::fmt::Debug for WasmerModule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WasmerModule").field("module", &self.module).finish_non_exhaustive()
    }
}

/// The data every host function sees: the reactor's host state and, once instantiated, the
/// guest's memory.
struct Env {
    host: HostState,
    memory: Option<Memory>,
}

/// The metering globals of a metered instance and the budget to restore before each call.
struct Fuel {
    remaining: Global,
    exhausted: Global,
    per_tick: u64,
}

/// A live wasmer instance of a Go reactor. Not `Send` (wasmer's store is not).
pub struct WasmerInstance {
    store: Store,
    env: FunctionEnv<Env>,
    instance: Instance,
    tick: TypedFunction<(), i32>,
    memory: Memory,
    funcs: HashMap<Box<str>, Function>,
    fuel: Option<Fuel>,
}

impl std::fmt::Debug for WasmerInstance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WasmerInstance")
            .field("metered", &self.fuel.is_some())
            .field("exports_cached", &self.funcs.len())
            .finish_non_exhaustive()
    }
}

/// Guest memory as [`HostFunc::call`] sees it: wasmer's bounds-checked view.
struct View<'a>(MemoryView<'a>);

impl GuestMemory for View<'_> {
    fn size(&self) -> u64 {
        self.0.data_size()
    }
    fn read(&self, addr: u64, buf: &mut [u8]) -> Result<(), MemoryError> {
        self.0.read(addr, buf).map_err(|_| MemoryError {
            addr,
            len: buf.len() as u64,
            size: self.size(),
        })
    }
    fn write(&mut self, addr: u64, data: &[u8]) -> Result<(), MemoryError> {
        self.0.write(addr, data).map_err(|_| MemoryError {
            addr,
            len: data.len() as u64,
            size: self.size(),
        })
    }
}

/// Per-instance tunables: an optional cap on the maximum size of every memory an instance
/// creates, and the wasm stack size its calls run with.
struct InstanceTunables {
    base: BaseTunables,
    max_pages: Option<Pages>,
    vmconfig: VMConfig,
}

impl InstanceTunables {
    fn new(max_bytes: Option<u64>, wasm_stack: Option<usize>) -> Self {
        let max_pages = max_bytes.map(|max_bytes| {
            let pages = (max_bytes / u64::from(wasmer::WASM_PAGE_SIZE as u32)).min(u64::from(wasmer::WASM_MAX_PAGES));
            Pages(u32::try_from(pages).unwrap_or(wasmer::WASM_MAX_PAGES))
        });
        Self {
            base: BaseTunables::new(),
            max_pages,
            vmconfig: VMConfig {
                wasm_stack_size: wasm_stack,
            },
        }
    }
    fn cap(&self, ty: &MemoryType) -> MemoryType {
        let mut ty = *ty;
        if let Some(max_pages) = self.max_pages {
            ty.maximum = Some(ty.maximum.map_or(max_pages, |m| m.min(max_pages)));
        }
        ty
    }
}

impl Tunables for InstanceTunables {
    fn memory_style(&self, memory: &MemoryType) -> MemoryStyle {
        // Must match the style the code was compiled for (the engine's default tunables).
        self.base.memory_style(memory)
    }
    fn table_style(&self, table: &TableType) -> TableStyle {
        self.base.table_style(table)
    }
    fn create_host_memory(&self, ty: &MemoryType, style: &MemoryStyle) -> Result<VMMemory, VmMemoryError> {
        self.base.create_host_memory(&self.cap(ty), style)
    }
    unsafe fn create_vm_memory(
        &self,
        ty: &MemoryType,
        style: &MemoryStyle,
        vm_definition_location: NonNull<VMMemoryDefinition>,
    ) -> Result<VMMemory, VmMemoryError> {
        // SAFETY: forwarded: wasmer guarantees `vm_definition_location` is valid.
        unsafe { self.base.create_vm_memory(&self.cap(ty), style, vm_definition_location) }
    }
    fn create_host_table(&self, ty: &TableType, style: &TableStyle) -> Result<VMTable, String> {
        self.base.create_host_table(ty, style)
    }
    unsafe fn create_vm_table(
        &self,
        ty: &TableType,
        style: &TableStyle,
        vm_definition_location: NonNull<VMTableDefinition>,
    ) -> Result<VMTable, String> {
        // SAFETY: forwarded: wasmer guarantees `vm_definition_location` is valid.
        unsafe { self.base.create_vm_table(ty, style, vm_definition_location) }
    }
    fn vmconfig(&self) -> &VMConfig {
        &self.vmconfig
    }
}

fn val_type(t: &wasmer::Type) -> ValType {
    match t {
        wasmer::Type::I32 => ValType::I32,
        wasmer::Type::I64 => ValType::I64,
        wasmer::Type::F32 => ValType::F32,
        wasmer::Type::F64 => ValType::F64,
        _ => ValType::Unsupported,
    }
}

fn to_wasmer_type(t: ValType) -> wasmer::Type {
    match t {
        ValType::I32 | ValType::Unsupported => wasmer::Type::I32,
        ValType::I64 => wasmer::Type::I64,
        ValType::F32 => wasmer::Type::F32,
        ValType::F64 => wasmer::Type::F64,
    }
}

fn extern_type(t: &wasmer::ExternType) -> ExternType {
    match t {
        wasmer::ExternType::Function(f) => {
            ExternType::Func(FuncType::new(f.params().iter().map(val_type), f.results().iter().map(val_type)))
        }
        wasmer::ExternType::Memory(m) => ExternType::Memory {
            min_pages: u64::from(m.minimum.0),
            max_pages: m.maximum.map(|p| u64::from(p.0)),
        },
        wasmer::ExternType::Table(_) => ExternType::Table,
        wasmer::ExternType::Global(_) => ExternType::Global,
        _ => ExternType::Other,
    }
}

fn from_wasmer(v: &Value) -> Val {
    match *v {
        Value::I32(x) => Val::I32(x),
        Value::I64(x) => Val::I64(x),
        Value::F32(x) => Val::F32(x),
        Value::F64(x) => Val::F64(x),
        // Signatures were checked against numeric types before linking.
        _ => Val::I32(0),
    }
}

fn to_wasmer(v: Val) -> Value {
    match v {
        Val::I32(x) => Value::I32(x),
        Val::I64(x) => Value::I64(x),
        Val::F32(x) => Value::F32(x),
        Val::F64(x) => Value::F64(x),
    }
}

fn trap(e: RuntimeError) -> Trap {
    use wasmer::sys::vm::TrapCode as T;
    let message = e.to_string();
    let kind = if e.is::<HostTrap>() {
        TrapKind::Host
    } else {
        match e.to_trap() {
            Some(T::UnreachableCodeReached) => TrapKind::Unreachable,
            Some(T::HeapAccessOutOfBounds | T::HeapMisaligned | T::UnalignedAtomic) => TrapKind::MemoryOutOfBounds,
            Some(T::StackOverflow) => TrapKind::StackOverflow,
            Some(T::IntegerDivisionByZero) => TrapKind::IntegerDivisionByZero,
            Some(T::IntegerOverflow | T::BadConversionToInteger) => TrapKind::IntegerOverflow,
            Some(T::IndirectCallToNull | T::BadSignature | T::TableAccessOutOfBounds) => TrapKind::BadIndirectCall,
            Some(T::HostInterrupt) => TrapKind::Interrupted,
            _ => TrapKind::Other,
        }
    };
    Trap::new(kind, message)
}

/// Host calls with at most this many parameters convert them without allocating.
const INLINE_ARGS: usize = 16;

/// Links one host function: converts values, lends the memory and the host state to it.
fn link(store: &mut Store, env: &FunctionEnv<Env>, f: HostFunc) -> Function {
    let ty = wasmer::FunctionType::new(
        f.ty().params().iter().map(|&t| to_wasmer_type(t)).collect::<Vec<_>>(),
        f.ty().results().iter().map(|&t| to_wasmer_type(t)).collect::<Vec<_>>(),
    );
    let n_results = f.ty().results().len();
    Function::new_with_env(store, env, ty, move |mut env: FunctionEnvMut<'_, Env>, params: &[Value]| {
        // Converted on the stack: this runs on every host call (Go calls `clock_time_get` several
        // times per tick). wasmer's dynamic functions still allocate the result vector.
        let (mut args_inline, args_heap): ([Val; INLINE_ARGS], Vec<Val>);
        let args: &[Val] = if params.len() <= INLINE_ARGS {
            args_inline = [Val::I32(0); INLINE_ARGS];
            for (a, p) in args_inline.iter_mut().zip(params) {
                *a = from_wasmer(p);
            }
            &args_inline[..params.len()]
        } else {
            args_heap = params.iter().map(from_wasmer).collect();
            &args_heap
        };
        let mut outs = [Val::I32(0); 8];
        let outs = outs.get_mut(..n_results).ok_or_else(|| RuntimeError::new("too many results"))?;
        let (data, store) = env.data_and_store_mut();
        let r = match &data.memory {
            Some(memory) => f.call(&mut View(memory.view(&store)), &mut data.host, args, outs),
            // Only reachable from a start function, which Go reactors do not have.
            None => f.call(&mut Vec::new(), &mut data.host, args, outs),
        };
        r.map_err(|e| RuntimeError::user(Box::new(e)))?;
        Ok(outs.iter().map(|&v| to_wasmer(v)).collect())
    })
}

impl WasmEngine for WasmerEngine {
    type Module = WasmerModule;
    type Instance = WasmerInstance;

    fn from_options(options: &EngineOptions) -> Result<Self, Error> {
        Ok(Self {
            wasm_stack: options.wasm_stack(),
            ..Self::default()
        })
    }

    fn info(&self) -> EngineInfo {
        // wasmer pins its `wasmer-types` to its own exact version, so this is wasmer's version
        // as Cargo resolved it (and part of the compiled-code cache key).
        EngineInfo::new(
            NAME,
            wasmer_types::VERSION,
            ExecutionKind::Compiler,
            Capabilities::none()
                .with_memory_limit(true)
                .with_fuel(self.metering)
                .with_serialize(true)
                .with_wasm_stack(true),
        )
    }

    fn compile(&self, wasm: &[u8]) -> Result<Self::Module, Error> {
        let engine = if self.metering {
            Self::metered_engine()
        } else {
            self.engine.clone()
        };
        let module = wasmer::Module::new(&engine, wasm).map_err(|e| Error::Compile {
            engine: NAME,
            message: e.to_string(),
        })?;
        Ok(WasmerModule { module, engine })
    }

    fn module_info(&self, module: &Self::Module) -> ModuleInfo {
        let m = &module.module;
        ModuleInfo {
            imports: m
                .imports()
                .map(|i| ImportDesc {
                    module: i.module().to_string(),
                    name: i.name().to_string(),
                    ty: extern_type(i.ty()),
                })
                .collect(),
            exports: m
                .exports()
                // Added by the metering middleware, not by the program.
                .filter(|e| e.name() != FUEL_REMAINING && e.name() != FUEL_EXHAUSTED)
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
        // A clone shares the compiled code; only this instance's store sees the memory cap and
        // the stack size.
        let mut engine = module.engine.clone();
        if limits.max_memory_bytes.is_some() || self.wasm_stack.is_some() {
            engine.set_tunables(InstanceTunables::new(limits.max_memory_bytes, self.wasm_stack));
        }
        let mut store = Store::new(engine);
        let env = FunctionEnv::new(&mut store, Env { host: state, memory: None });
        let externs: Vec<Extern> = imports.into_iter().map(|f| link(&mut store, &env, f).into()).collect();
        let instance = Instance::new_by_index(&mut store, &module.module, &externs).map_err(|e| Error::Instantiate {
            engine: NAME,
            message: e.to_string(),
        })?;
        let memory = instance
            .exports
            .get_memory("memory")
            .map_err(|_| Error::NotAReactor {
                reason: "it exports no `memory`".into(),
            })?
            .clone();
        env.as_mut(&mut store).memory = Some(memory.clone());
        let tick = instance
            .exports
            .get_typed_function::<(), i32>(&store, "go_tick")
            .map_err(|e| Error::Instantiate {
                engine: NAME,
                message: format!("go_tick: {e}"),
            })?;
        let fuel = match limits.fuel_per_tick {
            None => None,
            Some(per_tick) => {
                let global = |name| instance.exports.get_global(name).ok().cloned();
                match (global(FUEL_REMAINING), global(FUEL_EXHAUSTED)) {
                    (Some(remaining), Some(exhausted)) => Some(Fuel {
                        remaining,
                        exhausted,
                        per_tick,
                    }),
                    // E.g. deserialized from a cache written by an engine without metering.
                    _ => {
                        return Err(Error::Unsupported {
                            engine: NAME,
                            feature: "fuel limits (module compiled without metering)",
                        });
                    }
                }
            }
        };
        Ok(WasmerInstance {
            store,
            env,
            instance,
            tick,
            memory,
            funcs: HashMap::new(),
            fuel,
        })
    }

    fn serialize(&self, module: &Self::Module) -> Result<Vec<u8>, Error> {
        module.module.serialize().map(|b| b.to_vec()).map_err(|e| Error::Serialize {
            engine: NAME,
            operation: "serialize",
            message: e.to_string(),
        })
    }

    unsafe fn deserialize(&self, bytes: &[u8]) -> Result<Self::Module, Error> {
        // Metered code was compiled with metering in it; loading it needs no compiler.
        // SAFETY: forwarded to the caller, who promises the bytes came from `serialize`.
        let module = unsafe { wasmer::Module::deserialize(&self.engine, bytes) }.map_err(|e| Error::Serialize {
            engine: NAME,
            operation: "deserialize",
            message: e.to_string(),
        })?;
        Ok(WasmerModule {
            module,
            engine: self.engine.clone(),
        })
    }
}

impl WasmerInstance {
    /// Refills the fuel budget (metered instances with a fuel limit only).
    fn refuel(&mut self) -> Result<(), Trap> {
        if let Some(fuel) = &self.fuel {
            let failed = |e: RuntimeError| Trap::new(TrapKind::Other, format!("cannot set fuel: {e}"));
            // The middleware compares the i64 global as unsigned.
            fuel.remaining
                .set(&mut self.store, Value::I64(fuel.per_tick as i64))
                .map_err(failed)?;
            fuel.exhausted.set(&mut self.store, Value::I32(0)).map_err(failed)?;
        }
        Ok(())
    }

    /// Classifies a trap; metering shows exhaustion as `unreachable` plus a flag.
    fn trap(&mut self, e: RuntimeError) -> Trap {
        let mut t = trap(e);
        if t.kind == TrapKind::Unreachable
            && let Some(fuel) = &self.fuel
            && matches!(fuel.exhausted.get(&mut self.store), Value::I32(x) if x != 0)
        {
            t.kind = TrapKind::OutOfFuel;
        }
        t
    }
}

impl EngineInstance for WasmerInstance {
    fn call(&mut self, name: &str, args: &[Val], results: &mut [Val]) -> Result<(), Trap> {
        let func = match self.funcs.get(name) {
            Some(f) => f.clone(),
            None => {
                let f = self
                    .instance
                    .exports
                    .get_function(name)
                    .map_err(|_| Trap::new(TrapKind::Other, format!("no function export `{name}`")))?
                    .clone();
                self.funcs.insert(name.into(), f.clone());
                f
            }
        };
        let params: Vec<Value> = args.iter().map(|&v| to_wasmer(v)).collect();
        self.refuel()?;
        let outs = func.call(&mut self.store, &params).map_err(|e| self.trap(e))?;
        for (r, v) in results.iter_mut().zip(outs.iter()) {
            *r = from_wasmer(v);
        }
        Ok(())
    }

    fn tick(&mut self) -> Result<i32, Trap> {
        self.refuel()?;
        self.tick.call(&mut self.store).map_err(|e| self.trap(e))
    }

    fn state(&mut self) -> &mut HostState {
        &mut self.env.as_mut(&mut self.store).host
    }

    fn memory_size(&mut self) -> u64 {
        self.memory.view(&self.store).data_size()
    }

    fn read_memory(&mut self, addr: u64, buf: &mut [u8]) -> Result<(), MemoryError> {
        View(self.memory.view(&self.store)).read(addr, buf)
    }

    fn write_memory(&mut self, addr: u64, data: &[u8]) -> Result<(), MemoryError> {
        View(self.memory.view(&self.store)).write(addr, data)
    }
}
