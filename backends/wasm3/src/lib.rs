//! The wasm3 backend of go-reactor: Go reactors run by the Wasm3 interpreter (C).
//!
//! A thin adapter: it links each import to a [`reactor_api::HostFunc`] and forwards calls;
//! WASI lives in `wasi-min`, everything else in `reactor-api`.
//!
//! ```no_run
//! use reactor_api::{Module, ReactorConfig, ReactorExt};
//! use reactor_wasm3::Wasm3Engine;
//!
//! let engine = Wasm3Engine::new();
//! let module = Module::from_file(&engine, "guests/wasm/hello.wasm")?;
//! let mut reactor = module.instantiate(ReactorConfig::new().arg("hello"))?;
//! reactor.run()?;
//! # Ok::<(), reactor_api::Error>(())
//! ```
//!
//! # Which bindings: `wasm3x`, not `wasm3`
//!
//! The adapter uses [`wasm3x`] 0.2.1 (wasmi-labs' bindings to Wasm3 C v0.9), not the older
//! `wasm3` 0.3 crate (Wasm3 C v0.4.7). The older library cannot run Go at all: it lacks
//! `memory.copy`/`memory.fill`, which every Go module uses (`_initialize` fails with "unknown
//! value_type"), it links only the first of Go's two `fd_write` imports, its host functions get
//! no host state and reach memory only through an `unsafe` accessor. `wasm3x` has a
//! wasmi-shaped API: a [`wasm3x::Linker`] whose host functions receive a [`wasm3x::Caller`]
//! carrying the store's data (here the [`HostState`]), safe bounds-checked memory access, and
//! host errors that come back out of the call as the original value. Both crates declare
//! `links = "wasm3"`, so only one of them can be in a dependency graph.
//!
//! Building `wasm3x-sys` compiles the C library with the system C compiler and runs `bindgen`,
//! which needs libclang (Debian: `libclang-dev`). The workspace builds dependencies with
//! `opt-level = 2` even in the dev profile; keep it that way: Wasm3's interpreter relies on the
//! C compiler turning its opcode dispatch into tail calls.
//!
//! # How imports are linked
//!
//! Every import is a [`HostFunc`] with a dynamic signature; it is linked with
//! [`wasm3x::Linker::func_new`], wasm3x's untyped (`&[Val]`) host-function API, so any
//! signature of `i32`/`i64`/`f32`/`f64` works. Wasm3 encodes at most one result in a host
//! signature: imports with several results are refused with [`Error::Unsupported`]. Wasm3 links
//! a name to *every* import of that module/name, so Go's two `fd_write` imports are served by a
//! single definition (one name imported twice with two different signatures is refused).
//!
//! While a host function runs, the [`HostState`] is lent out of the store's data to the
//! function and the guest memory is reached through the `Caller` (copying, bounds-checked, no
//! `unsafe` in this crate); it is put back even if the function panics.
//!
//! # Traps
//!
//! Wasm3 reports traps as messages only; [`TrapKind`] is derived from Wasm3's fixed trap
//! strings (`[trap] out of bounds memory access`, ...). A host function that stops the guest
//! returns `wasm3x::Error::host(HostTrap)`; it is recognised by downcasting the error's source
//! and reported as [`TrapKind::Host`] (the reactor reads the real reason from the
//! [`HostState`]).
//!
//! # Stack
//!
//! Wasm3 uses two stacks. Its *value* stack (locals, operands) is [`DEFAULT_STACK_SIZE`]
//! (1 MiB) per instance unless configured ([`Wasm3Engine::with_stack_size`]); Go's call chains
//! are deep but their frames small (hello needs about 24 KiB), and exhausting it is a
//! [`TrapKind::StackOverflow`]. It also recurses on the *native* stack, about 100 bytes per
//! Wasm call, and traps only once a call would take it more than 8 MiB − 128 KiB below where
//! the outermost call started (its compile-time `d_m3MaxNativeStack`). On a thread with less
//! stack than that (spawned Rust threads and tokio workers have 2 MiB) a recursing guest would
//! overflow the thread's stack and abort the process before either limit trapped. So each
//! instance runs Wasm3 on a stack of its own, [`NATIVE_STACK_SIZE`] (9 MiB of address space,
//! committed only as it is used), switched to with `corosensei::on_stack` for every call into
//! the guest: unbounded recursion is then always a clean `StackOverflow` trap, whatever thread
//! drives the reactor, and host functions called at the deepest point still have about 1 MiB.
//!
//! # Limits and threads
//!
//! Wasm3 has no fuel, no interruption and no memory cap beyond the module's own maximum:
//! asking for any [`Limits`] is [`Error::Unsupported`]. Modules are validated with
//! `wasmparser` (Wasm3 itself checks function bodies only when it first compiles them) and are
//! re-parsed by Wasm3 for each instance; there is no serialization.
//!
//! [`Wasm3Engine`] and [`Wasm3Module`] are `Send + Sync` (they hold only configuration and the
//! validated bytes); each instance owns its own Wasm3 environment and runtime, which are **not**
//! `Send`: a [`Wasm3Instance`] (and a reactor built on it) stays on the thread that created it.
#![warn(missing_docs, missing_debug_implementations)]
#![forbid(unsafe_code)]

use std::collections::HashMap;
use std::sync::Arc;

use corosensei::stack::DefaultStack;
use reactor_api::{
    Capabilities, EngineInfo, EngineInstance, EngineOptions, Error, ExecutionKind, ExportDesc, ExternType, FuncType, HostFunc, HostState,
    HostTrap, ImportDesc, Limits, ModuleInfo, Trap, TrapKind, Val, ValType, WasmEngine,
};
use wasi_min::{GuestMemory, MemoryError};
use wasm3x::{Caller, Func, Instance, Linker, Memory, Store, TypedFunc};

const NAME: &str = "wasm3";

/// The Wasm3 value-stack size each instance gets by default, in bytes (1 MiB).
pub const DEFAULT_STACK_SIZE: usize = 1 << 20;

/// The native stack each instance runs Wasm3 on, in bytes (9 MiB): Wasm3's own native-stack
/// guard (8 MiB − 128 KiB) plus room for host functions called at that depth.
pub const NATIVE_STACK_SIZE: usize = 9 << 20;

/// The wasm3 engine: configuration shared by all instances (a cheap handle).
///
/// Unlike the other engines there is no shared compiled code: Wasm3 compiles functions lazily,
/// per instance, on first call.
#[derive(Clone, Debug)]
pub struct Wasm3Engine {
    config: wasm3x::Config,
}

impl Default for Wasm3Engine {
    fn default() -> Self {
        Self::with_stack_size(DEFAULT_STACK_SIZE)
    }
}

impl Wasm3Engine {
    /// An engine with the default configuration (lazy compilation, [`DEFAULT_STACK_SIZE`]).
    pub fn new() -> Self {
        Self::default()
    }
    /// An engine whose instances get a value stack of `bytes` bytes.
    pub fn with_stack_size(bytes: usize) -> Self {
        let mut config = wasm3x::Config::new();
        config.stack_size(bytes);
        Self { config }
    }
    /// An engine with a custom wasm3x configuration.
    pub fn with_config(config: &wasm3x::Config) -> Self {
        Self { config: config.clone() }
    }
    /// The wasm3x configuration each instance is created with.
    pub fn config(&self) -> &wasm3x::Config {
        &self.config
    }
}

/// A validated module: its bytes and what it imports and exports.
///
/// Wasm3 parses the bytes again for each instance (it keeps no compiled form to share).
#[derive(Clone)]
pub struct Wasm3Module {
    bytes: Arc<[u8]>,
    info: Arc<ModuleInfo>,
}

impl std::fmt::Debug for Wasm3Module {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Wasm3Module")
            .field("bytes", &self.bytes.len())
            .field("info", &self.info)
            .finish()
    }
}

impl Wasm3Module {
    /// The bytes Wasm3 parses: the module, with runs of data segments merged into one where
    /// that leaves the initialised memory the same (Go splits its data into thousands).
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }
    /// The module's imports and exports.
    pub fn info(&self) -> &ModuleInfo {
        &self.info
    }
}

struct StoreData {
    /// `None` only while a host function runs (lent to it, see [`Lent`]).
    host: Option<Box<HostState>>,
}

/// The version of the Wasm3 C library that `wasm3x` bundles (`EngineInfo::version`).
pub const WASM3_VERSION: &str = "0.9";

impl std::fmt::Debug for Wasm3Instance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Wasm3Instance")
            .field("exports_cached", &self.funcs.len())
            .finish_non_exhaustive()
    }
}

/// A live wasm3 instance of a Go reactor. Not `Send`.
pub struct Wasm3Instance {
    store: Store<StoreData>,
    instance: Instance,
    tick: TypedFunc<(), i32>,
    /// `None` while the memory has no pages: Wasm3 gives no handle to an empty memory.
    memory: Option<Memory>,
    funcs: HashMap<Box<str>, Func>,
    /// Where Wasm3 runs (see the crate docs, "Stack").
    native_stack: DefaultStack,
}

fn val_type(t: wasmparser::ValType) -> ValType {
    match t {
        wasmparser::ValType::I32 => ValType::I32,
        wasmparser::ValType::I64 => ValType::I64,
        wasmparser::ValType::F32 => ValType::F32,
        wasmparser::ValType::F64 => ValType::F64,
        _ => ValType::Unsupported,
    }
}

fn to_wasm3_type(t: ValType) -> Option<wasm3x::ValType> {
    match t {
        ValType::I32 => Some(wasm3x::ValType::I32),
        ValType::I64 => Some(wasm3x::ValType::I64),
        ValType::F32 => Some(wasm3x::ValType::F32),
        ValType::F64 => Some(wasm3x::ValType::F64),
        ValType::Unsupported => None,
    }
}

fn func_type(t: &wasmparser::FuncType) -> FuncType {
    FuncType::new(t.params().iter().map(|&p| val_type(p)), t.results().iter().map(|&r| val_type(r)))
}

/// The type of function `index` of a module whose function index space maps to `funcs`.
fn func_extern(types: &[Option<FuncType>], type_index: Option<&u32>) -> ExternType {
    match type_index.and_then(|&i| types.get(i as usize)) {
        Some(Some(t)) => ExternType::Func(t.clone()),
        _ => ExternType::Other,
    }
}

fn memory_extern(m: &wasmparser::MemoryType) -> ExternType {
    ExternType::Memory {
        min_pages: m.initial,
        max_pages: m.maximum,
    }
}

fn extern_type(
    kind: wasmparser::ExternalKind,
    index: u32,
    types: &[Option<FuncType>],
    funcs: &[u32],
    memories: &[ExternType],
) -> ExternType {
    use wasmparser::ExternalKind as K;
    match kind {
        K::Func | K::FuncExact => func_extern(types, funcs.get(index as usize)),
        K::Memory => memories.get(index as usize).cloned().unwrap_or(ExternType::Other),
        K::Table => ExternType::Table,
        K::Global => ExternType::Global,
        K::Tag => ExternType::Other,
    }
}

/// Reads the imports and exports (with function signatures) of a module: Wasm3 does not expose
/// them.
fn parse_module_info(wasm: &[u8]) -> Result<ModuleInfo, wasmparser::BinaryReaderError> {
    use wasmparser::{CompositeInnerType, Payload, TypeRef};
    let mut types: Vec<Option<FuncType>> = Vec::new();
    let mut funcs: Vec<u32> = Vec::new(); // function index space -> type index
    let mut memories: Vec<ExternType> = Vec::new(); // memory index space
    let mut info = ModuleInfo::default();
    let mut exports = Vec::new();
    for payload in wasmparser::Parser::new(0).parse_all(wasm) {
        match payload? {
            Payload::TypeSection(reader) => {
                for group in reader {
                    for sub in group?.into_types() {
                        types.push(match &sub.composite_type.inner {
                            CompositeInnerType::Func(f) => Some(func_type(f)),
                            _ => None,
                        });
                    }
                }
            }
            Payload::ImportSection(reader) => {
                for import in reader.into_imports() {
                    let import = import?;
                    let ty = match import.ty {
                        TypeRef::Func(t) | TypeRef::FuncExact(t) => {
                            funcs.push(t);
                            func_extern(&types, Some(&t))
                        }
                        TypeRef::Memory(m) => {
                            memories.push(memory_extern(&m));
                            memory_extern(&m)
                        }
                        TypeRef::Table(_) => ExternType::Table,
                        TypeRef::Global(_) => ExternType::Global,
                        TypeRef::Tag(_) => ExternType::Other,
                    };
                    info.imports.push(ImportDesc {
                        module: import.module.to_string(),
                        name: import.name.to_string(),
                        ty,
                    });
                }
            }
            Payload::FunctionSection(reader) => {
                for t in reader {
                    funcs.push(t?);
                }
            }
            Payload::MemorySection(reader) => {
                for m in reader {
                    memories.push(memory_extern(&m?));
                }
            }
            Payload::ExportSection(reader) => {
                for e in reader {
                    let e = e?;
                    exports.push((e.name.to_string(), e.kind, e.index));
                }
            }
            _ => {}
        }
    }
    info.exports = exports
        .into_iter()
        .map(|(name, kind, index)| ExportDesc {
            name,
            ty: extern_type(kind, index, &types, &funcs, &memories),
        })
        .collect();
    Ok(info)
}

/// Largest gap between two data segments that [`merge_data_segments`] fills with zeros.
const MERGE_GAP: u64 = 4096;

/// Merges a module's active data segments, for Wasm3.
///
/// Go's linker splits a program's data at runs of zero bytes into tens of thousands of segments
/// (27 308 in `hello.wasm`, 45 531 in `cpu.wasm`). Wasm3 evaluates each segment's offset
/// expression with a freshly zeroed compilation context, once when parsing and once when
/// instantiating, and that `memset` was about half the time of instantiating a Go module and
/// running `hello`. Consecutive segments whose gap is at most [`MERGE_GAP`] bytes become one,
/// the gap filled with zeros: linear memory starts zeroed, so the initialised memory is
/// byte-for-byte the same (Go's data: a few hundred segments remain).
///
/// Returns `None` (use the module as it is) when nothing merges or the segments cannot be
/// merged safely (see [`reactor_rewrite::merge_data_segments`], which does the work).
fn merge_data_segments(wasm: &[u8]) -> Option<Vec<u8>> {
    // The module was validated before this runs, so an error here is only "not mergeable".
    reactor_rewrite::merge_data_segments(wasm, MERGE_GAP).ok().flatten()
}

/// What Wasm3 v0.9 executes: Wasm 2.0 without SIMD, plus tail calls.
fn wasm_features() -> wasmparser::WasmFeatures {
    use wasmparser::WasmFeatures as F;
    F::WASM2.difference(F::SIMD).union(F::TAIL_CALL)
}

fn from_wasm3(v: &wasm3x::Val) -> Val {
    match *v {
        wasm3x::Val::I32(x) => Val::I32(x),
        wasm3x::Val::I64(x) => Val::I64(x),
        wasm3x::Val::F32(x) => Val::F32(x),
        wasm3x::Val::F64(x) => Val::F64(x),
        // Signatures were checked against numeric types before linking.
        wasm3x::Val::FuncRef(_) => Val::I32(0),
    }
}

fn to_wasm3(v: Val) -> wasm3x::Val {
    match v {
        Val::I32(x) => wasm3x::Val::I32(x),
        Val::I64(x) => wasm3x::Val::I64(x),
        Val::F32(x) => wasm3x::Val::F32(x),
        Val::F64(x) => wasm3x::Val::F64(x),
    }
}

/// Classifies a Wasm3 trap by its message (Wasm3's fixed `[trap] ...` strings).
fn trap_kind(message: &str) -> TrapKind {
    const KINDS: &[(&str, TrapKind)] = &[
        ("unreachable", TrapKind::Unreachable),
        ("out of bounds memory access", TrapKind::MemoryOutOfBounds),
        ("stack overflow", TrapKind::StackOverflow),
        ("integer divide by zero", TrapKind::IntegerDivisionByZero),
        ("integer overflow", TrapKind::IntegerOverflow),
        ("invalid conversion to integer", TrapKind::IntegerOverflow),
        ("indirect call", TrapKind::BadIndirectCall),
        ("undefined element", TrapKind::BadIndirectCall),
        ("uninitialized element", TrapKind::BadIndirectCall),
        ("null function reference", TrapKind::BadIndirectCall),
        ("out of bounds table access", TrapKind::BadIndirectCall),
    ];
    KINDS
        .iter()
        .find(|(needle, _)| message.contains(needle))
        .map_or(TrapKind::Other, |&(_, kind)| kind)
}

fn trap(e: wasm3x::Error) -> Trap {
    use std::error::Error as _;
    let kind = if e.source().is_some_and(|s| s.downcast_ref::<HostTrap>().is_some()) {
        TrapKind::Host
    } else {
        trap_kind(&e.to_string())
    };
    Trap::new(kind, e.to_string())
}

/// Guest memory as a host function sees it: reached through the `Caller`, bounds-checked.
struct CallerMemory<'a, 'c> {
    caller: &'a mut Caller<'c, StoreData>,
    memory: Option<Memory>,
}

impl CallerMemory<'_, '_> {
    fn out_of_bounds(&self, addr: u64, len: usize) -> MemoryError {
        MemoryError {
            addr,
            len: len as u64,
            size: self.size(),
        }
    }
}

impl GuestMemory for CallerMemory<'_, '_> {
    fn size(&self) -> u64 {
        self.memory.map_or(0, |m| m.data_size(&*self.caller) as u64)
    }
    fn read(&self, addr: u64, buf: &mut [u8]) -> Result<(), MemoryError> {
        self.check(addr, buf.len() as u64)?;
        match (self.memory, usize::try_from(addr)) {
            (Some(m), Ok(offset)) => m.read(&*self.caller, offset, buf).map_err(|_| self.out_of_bounds(addr, buf.len())),
            _ => Err(self.out_of_bounds(addr, buf.len())),
        }
    }
    fn write(&mut self, addr: u64, data: &[u8]) -> Result<(), MemoryError> {
        self.check(addr, data.len() as u64)?;
        match (self.memory, usize::try_from(addr)) {
            (Some(m), Ok(offset)) => m
                .write(&mut *self.caller, offset, data)
                .map_err(|_| self.out_of_bounds(addr, data.len())),
            _ => Err(self.out_of_bounds(addr, data.len())),
        }
    }
}

/// The host state, lent out of the store's data for one host call and put back on drop (also
/// when the host function panics), so that guest memory and host state can be borrowed at
/// once without `unsafe`.
struct Lent<'a, 'c> {
    caller: &'a mut Caller<'c, StoreData>,
    state: Option<Box<HostState>>,
}

impl<'a, 'c> Lent<'a, 'c> {
    fn new(caller: &'a mut Caller<'c, StoreData>) -> Self {
        let state = caller.data_mut().host.take();
        Self { caller, state }
    }
}

impl Drop for Lent<'_, '_> {
    fn drop(&mut self) {
        if let Some(state) = self.state.take() {
            self.caller.data_mut().host = Some(state);
        }
    }
}

/// Host calls with at most this many parameters convert them without allocating.
const INLINE_ARGS: usize = 16;

/// Links one host function: converts values, lends the memory and the host state to it.
fn link(linker: &mut Linker<StoreData>, f: HostFunc) -> Result<(), Error> {
    let unsupported = |feature| Error::Unsupported { engine: NAME, feature };
    if f.ty().results().len() > 1 {
        return Err(unsupported("host functions with more than one result"));
    }
    let types = |ts: &[ValType]| ts.iter().map(|&t| to_wasm3_type(t)).collect::<Option<Vec<_>>>();
    let (Some(params), Some(results)) = (types(f.ty().params()), types(f.ty().results())) else {
        return Err(unsupported("host functions with non-numeric types"));
    };
    let ty = wasm3x::FuncType::new(params, results);
    let (module, name) = (f.module().to_string(), f.name().to_string());
    let linked = linker.func_new(&module, &name, ty, move |mut caller, params, results| {
        let mut inline = [Val::I32(0); INLINE_ARGS];
        let heap: Vec<Val>;
        let args: &[Val] = match inline.get_mut(..params.len()) {
            Some(args) => {
                for (a, p) in args.iter_mut().zip(params) {
                    *a = from_wasm3(p);
                }
                args
            }
            None => {
                heap = params.iter().map(from_wasm3).collect();
                &heap
            }
        };
        let mut outs = [Val::I32(0)];
        let outs = outs
            .get_mut(..results.len())
            .ok_or_else(|| wasm3x::Error::new("too many results"))?;
        let memory = caller.get_memory();
        let mut lent = Lent::new(&mut caller);
        let Lent { caller, state } = &mut lent;
        let state = state
            .as_deref_mut()
            .ok_or_else(|| wasm3x::Error::new("host state is in use (re-entrant host call)"))?;
        f.call(&mut CallerMemory { caller, memory }, state, args, outs)
            .map_err(wasm3x::Error::host)?;
        for (slot, v) in results.iter_mut().zip(outs.iter()) {
            *slot = to_wasm3(*v);
        }
        Ok(())
    });
    linked.map(|_| ()).map_err(|e| Error::Instantiate {
        engine: NAME,
        message: format!("cannot link `{module}::{name}`: {e}"),
    })
}

impl WasmEngine for Wasm3Engine {
    type Module = Wasm3Module;
    type Instance = Wasm3Instance;

    fn from_options(options: &EngineOptions) -> Result<Self, Error> {
        let bytes = options.wasm_stack().unwrap_or(DEFAULT_STACK_SIZE);
        // Wasm3 takes the size as a u32: refuse what it would truncate.
        if u32::try_from(bytes).is_err() {
            return Err(Error::Unsupported {
                engine: NAME,
                feature: "a wasm stack of 4 GiB or more",
            });
        }
        Ok(Self::with_stack_size(bytes))
    }

    fn info(&self) -> EngineInfo {
        // The Wasm3 C library's version, which the `wasm3x` crate bundles and does not export
        // as a constant (Wasm3 cannot serialize, so no cache key uses it).
        EngineInfo::new(
            NAME,
            WASM3_VERSION,
            ExecutionKind::Interpreter,
            Capabilities::none().with_wasm_stack(true),
        )
    }

    fn compile(&self, wasm: &[u8]) -> Result<Self::Module, Error> {
        let failed = |message: String| Error::Compile { engine: NAME, message };
        wasmparser::Validator::new_with_features(wasm_features())
            .validate_all(wasm)
            .map_err(|e| failed(e.to_string()))?;
        let info = parse_module_info(wasm).map_err(|e| failed(e.to_string()))?;
        // What Wasm3 parses for each instance: the same module with its data segments merged.
        let bytes: Arc<[u8]> = merge_data_segments(wasm).map_or_else(|| wasm.into(), Into::into);
        // Also let Wasm3 parse it once, so that what it rejects is a compile error too.
        wasm3x::Module::new(&wasm3x::Engine::new(&self.config), &bytes).map_err(|e| failed(e.to_string()))?;
        Ok(Wasm3Module {
            bytes,
            info: Arc::new(info),
        })
    }

    fn module_info(&self, module: &Self::Module) -> ModuleInfo {
        (*module.info).clone()
    }

    fn instantiate(
        &self,
        module: &Self::Module,
        state: HostState,
        imports: Vec<HostFunc>,
        limits: &Limits,
    ) -> Result<Self::Instance, Error> {
        limits.check_supported(&self.info())?;
        if !matches!(module.info.export("memory"), Some(ExternType::Memory { .. })) {
            return Err(Error::NotAReactor {
                reason: "it exports no `memory`".into(),
            });
        }
        let failed = |e: wasm3x::Error| Error::Instantiate {
            engine: NAME,
            message: e.to_string(),
        };
        let engine = wasm3x::Engine::new(&self.config);
        let wasm3_module = wasm3x::Module::new(&engine, &*module.bytes).map_err(failed)?;
        let mut linker = Linker::new(&engine);
        // Wasm3 links a name to every import with that module and name: define each once.
        let mut linked: HashMap<(String, String), FuncType> = HashMap::new();
        for f in imports {
            match linked.get(&(f.module().to_string(), f.name().to_string())) {
                Some(ty) if ty == f.ty() => continue,
                Some(_) => {
                    return Err(Error::Unsupported {
                        engine: NAME,
                        feature: "importing one name with two signatures",
                    });
                }
                None => {
                    linked.insert((f.module().to_string(), f.name().to_string()), f.ty().clone());
                    link(&mut linker, f)?;
                }
            }
        }
        tracing::debug!(imports = linked.len(), "wasm3: instantiating");
        let mut store = Store::new(
            &engine,
            StoreData {
                host: Some(Box::new(state)),
            },
        );
        let mut native_stack = DefaultStack::new(NATIVE_STACK_SIZE).map_err(|e| Error::Instantiate {
            engine: NAME,
            message: format!("cannot allocate the native stack: {e}"),
        })?;
        // On the instance's own stack: Wasm3's compiler recurses too, and it runs here for
        // `go_tick` (found = compiled) and, with `CompilationMode::Eager`, for every function.
        let (instance, tick) = corosensei::on_stack(&mut native_stack, || {
            // `instantiate` does not run a start function (Go reactors have none;
            // `_initialize` is called later by reactor-api).
            let instance = linker.instantiate(&mut store, &wasm3_module)?;
            let tick = instance.get_typed_func::<(), i32>(&store, "go_tick")?;
            Ok((instance, tick))
        })
        .map_err(failed)?;
        // The `memory` export was checked above; a memory of zero pages has no handle yet.
        let memory = instance.get_memory(&store);
        Ok(Wasm3Instance {
            store,
            instance,
            tick,
            memory,
            funcs: HashMap::new(),
            native_stack,
        })
    }
}

impl EngineInstance for Wasm3Instance {
    fn call(&mut self, name: &str, args: &[Val], results: &mut [Val]) -> Result<(), Trap> {
        let Self {
            store,
            instance,
            funcs,
            native_stack,
            ..
        } = self;
        let func = match funcs.get(name) {
            Some(f) => *f,
            None => {
                // Finding a function compiles it: a body Wasm3 cannot compile shows up here.
                let f = corosensei::on_stack(&mut *native_stack, || instance.get_func(&*store, name))
                    .ok_or_else(|| Trap::new(TrapKind::Other, format!("no function export `{name}` (or Wasm3 cannot compile it)")))?;
                funcs.insert(name.into(), f);
                f
            }
        };
        let params: Vec<wasm3x::Val> = args.iter().map(|&v| to_wasm3(v)).collect();
        let mut outs: Vec<wasm3x::Val> = results.iter().map(|&v| to_wasm3(v)).collect();
        corosensei::on_stack(&mut *native_stack, || func.call(store, &params, &mut outs)).map_err(trap)?;
        for (r, v) in results.iter_mut().zip(&outs) {
            *r = from_wasm3(v);
        }
        Ok(())
    }

    fn tick(&mut self) -> Result<i32, Trap> {
        let Self {
            store, tick, native_stack, ..
        } = self;
        corosensei::on_stack(&mut *native_stack, || tick.call(store, ())).map_err(trap)
    }

    fn state(&mut self) -> &mut HostState {
        // The state is only lent out while a host function runs, and a host function cannot
        // reach this instance (wasm3x gives it a `Caller`, never the store); `Lent` puts it
        // back even on panic. So it is always here between calls.
        self.store
            .data_mut()
            .host
            .as_deref_mut()
            .expect("host state is present outside host calls")
    }

    fn memory_size(&mut self) -> u64 {
        self.memory().map_or(0, |m| m.data_size(&self.store) as u64)
    }

    fn read_memory(&mut self, addr: u64, buf: &mut [u8]) -> Result<(), MemoryError> {
        match self.memory() {
            Some(m) => m.data(&self.store).read(addr, buf),
            None => <[u8]>::read(&[], addr, buf),
        }
    }

    fn write_memory(&mut self, addr: u64, data: &[u8]) -> Result<(), MemoryError> {
        match self.memory() {
            Some(m) => m.data_mut(&mut self.store).write(addr, data),
            None => <[u8]>::write(&mut [], addr, data),
        }
    }
}

impl Wasm3Instance {
    /// The memory handle, looked up again while the memory is still empty (it may have grown).
    fn memory(&mut self) -> Option<Memory> {
        if self.memory.is_none() {
            self.memory = self.instance.get_memory(&self.store);
        }
        self.memory
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trap_messages_are_classified() {
        for (message, kind) in [
            ("wasm trap: [trap] unreachable executed", TrapKind::Unreachable),
            ("wasm trap: [trap] out of bounds memory access", TrapKind::MemoryOutOfBounds),
            ("wasm trap: [trap] stack overflow", TrapKind::StackOverflow),
            ("wasm trap: [trap] integer divide by zero", TrapKind::IntegerDivisionByZero),
            ("wasm trap: [trap] integer overflow", TrapKind::IntegerOverflow),
            ("wasm trap: [trap] invalid conversion to integer", TrapKind::IntegerOverflow),
            ("wasm trap: [trap] indirect call type mismatch", TrapKind::BadIndirectCall),
            ("wasm trap: [trap] undefined element", TrapKind::BadIndirectCall),
            ("wasm trap: [trap] uninitialized element", TrapKind::BadIndirectCall),
            ("wasm3 error: function lookup failed", TrapKind::Other),
        ] {
            assert_eq!(trap_kind(message), kind, "{message}");
        }
    }

    /// Reads back (offset, bytes) of every active segment.
    fn segments(wasm: &[u8]) -> Vec<(u32, Vec<u8>)> {
        let mut out = Vec::new();
        for payload in wasmparser::Parser::new(0).parse_all(wasm) {
            if let wasmparser::Payload::DataSection(reader) = payload.unwrap() {
                for d in reader {
                    let d = d.unwrap();
                    let wasmparser::DataKind::Active { offset_expr, .. } = d.kind else {
                        panic!("passive")
                    };
                    let wasmparser::Operator::I32Const { value } = offset_expr.get_operators_reader().read().unwrap() else {
                        panic!("offset")
                    };
                    out.push((value as u32, d.data.to_vec()));
                }
            }
        }
        out
    }

    #[test]
    fn data_segments_are_merged_without_changing_memory() {
        let wasm = wat::parse_str(
            r#"(module (memory (export "memory") 40000)
                (data (i32.const 16) "ab") (data (i32.const 20) "cd") (data (i32.const 4118) "e")
                (data (i32.const 9000) "f") (data (i32.const 0x80000000) "g") (data (i32.const 0x80000002) "h")
                (func (export "f")))"#,
        )
        .unwrap();
        let merged = merge_data_segments(&wasm).expect("merged");
        wasmparser::Validator::new_with_features(wasm_features())
            .validate_all(&merged)
            .unwrap();
        assert_eq!(
            segments(&merged),
            vec![
                (
                    16,
                    b"ab\0\0cd"
                        .iter()
                        .copied()
                        .chain(std::iter::repeat_n(0, 4118 - 22))
                        .chain(*b"e")
                        .collect()
                ),
                (9000, b"f".to_vec()),
                (0x8000_0000, b"g\0h".to_vec()),
            ]
        );
        assert_eq!(parse_module_info(&merged).unwrap(), parse_module_info(&wasm).unwrap());
        // Out of order but disjoint: sorted and merged.
        let wasm = wat::parse_str(r#"(module (memory 1) (data (i32.const 8) "ab") (data (i32.const 0) "cd"))"#).unwrap();
        assert_eq!(
            segments(&merge_data_segments(&wasm).unwrap()),
            vec![(0, b"cd\0\0\0\0\0\0ab".to_vec())]
        );
        // Overlapping segments, or segment indices in use: left alone.
        for unchanged in [
            r#"(module (memory 1) (data (i32.const 0) "ab") (data (i32.const 1) "cd"))"#,
            r#"(module (memory 1) (data (i32.const 8) "ab") (data (i32.const 0) "cdefghijk"))"#,
            r#"(module (memory 1) (data (i32.const 0) "ab") (data "cd") (func (data.drop 1)))"#,
        ] {
            assert_eq!(merge_data_segments(&wat::parse_str(unchanged).unwrap()), None, "{unchanged}");
        }
    }

    #[test]
    fn engine_and_module_are_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<Wasm3Engine>();
        check::<Wasm3Module>();
    }
}
