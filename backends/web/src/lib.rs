//! The web backend of go-reactor: Go reactors on the WebAssembly engine of the browser or Node.js
//! that runs your Rust code (compiled to `wasm32-unknown-unknown` with `wasm-bindgen`).
//!
//! A thin adapter, like the native backends: the guest is compiled with `WebAssembly.Module` and
//! instantiated with one JavaScript function per import, each forwarding to a
//! [`reactor_api::HostFunc`] (so WASI comes from `wasi_min::preview1`, unchanged), and exports are
//! called through the instance's `exports`. Guest memory is the exported `WebAssembly.Memory`,
//! read and written through a fresh view of its buffer on every access (the buffer is replaced
//! when the guest grows its memory). Everything else — validation, import resolution, the reactor
//! state machine, error classification — is `reactor-api`'s, as on every engine.
//!
//! (Not compiled as a doctest: doctests build for the host, where this crate is empty. The same
//! code runs in `tests/conformance.rs`, `hello_default_config_and_async_compile`.)
//!
//! ```ignore
//! use reactor_api::{Completion, Module, ReactorConfig, run_async};
//! use reactor_web::{JsSink, WebEngine};
//!
//! # async fn demo(wasm: &[u8], print: js_sys::Function) -> reactor_api::Result<()> {
//! let engine = WebEngine::new();
//! let module = engine.compile_async(wasm).await?; // WebAssembly.compile: never blocks the page
//! let mut reactor = module.instantiate(ReactorConfig::new().arg("hello").stdout(JsSink::new(print)))?;
//! // Timers are `setTimeout`s and busy ticks yield to the event loop: the page stays responsive.
//! assert_eq!(run_async(&mut reactor).await?, Completion::Exited(0));
//! # Ok(())
//! # }
//! ```
//!
//! # How the guest ends
//!
//! A host function that stops the guest (`proc_exit`, or an embedder's import returning an
//! error) makes its JavaScript wrapper *throw*: the exception unwinds the guest's wasm frames (the
//! only way to stop a running instance from JavaScript) and comes back to the export call as an
//! error, reported as [`TrapKind::Host`]; the reactor reads the real reason (exit code, failed
//! import) from its [`HostState`], as on the native engines. Wasm traps arrive as
//! `WebAssembly.RuntimeError`s and are classified by their message; a stack overflow is
//! JavaScript's `RangeError`.
//!
//! # Platform defaults
//!
//! `std::time` does not exist on `wasm32-unknown-unknown`: a reactor given no clock gets
//! [`JsClock`] (`performance.now()` and `Date.now()`). Randomness is wasi-min's default, `getrandom`
//! with its JavaScript backend (`crypto.getRandomValues`). The guest's stdout and stderr default
//! to the host's, which discard output on this target: give them a [`JsSink`].
//!
//! # Limits
//!
//! [`Limits::max_memory_bytes`] is supported: the module's memory section is rewritten with the
//! lower maximum and compiled for that instance (the JS API cannot cap a memory the module
//! defines), so `memory.grow` beyond it fails and Go reports "out of memory". Fuel and tick
//! deadlines are [`Error::Unsupported`] (JavaScript cannot interrupt running wasm on its own
//! thread), and compiled modules cannot be serialized.
//!
//! # Main-thread compilation
//!
//! [`WasmEngine::compile`] uses the synchronous `new WebAssembly.Module`, which Chromium refuses
//! on a page's main thread for modules over 8 MB; [`WebEngine::compile_async`] uses
//! `WebAssembly.compile` and works everywhere. Go modules are 2.5 MB and up.
// On other targets the crate is empty, so the crate docs' links to its items (and to the
// reactor-api items it imports) only resolve when documenting for wasm32-unknown-unknown.
#![cfg_attr(not(all(target_arch = "wasm32", target_os = "unknown")), allow(rustdoc::broken_intra_doc_links))]
#![cfg(all(target_arch = "wasm32", target_os = "unknown"))]
#![warn(missing_docs)]

use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;
use std::io;
use std::rc::Rc;
use std::time::Duration;

use js_sys::{Array, Function, Object, Reflect, Uint8Array, WebAssembly};
use reactor_api::{
    Capabilities, EngineInfo, EngineInstance, EngineOptions, Error, ExecutionKind, HostFunc, HostState, Limits, ModuleInfo, Trap, TrapKind,
    Val, ValType, WasmEngine,
};
use send_wrapper::SendWrapper;
use wasi_min::clock::Clock;
use wasi_min::{GuestMemory, MemoryError};
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;

const NAME: &str = "web";
const PAGE: u64 = 65536;

// The JavaScript side of host calls. A Rust closure cannot throw a JavaScript exception without
// skipping Rust destructors, so each import is a small JS function that calls the Rust dispatcher
// and throws the stop marker when it answers with it.
#[wasm_bindgen(inline_js = r#"
const STOP = Object.freeze({ goReactor: "a host function stopped the guest" });
export function stop_marker() { return STOP; }
export function host_import(dispatch, index) {
    return function (...args) {
        const r = dispatch(index, args);
        if (r === STOP) throw STOP;
        return r;
    };
}
export function monotonic_ms() {
    return globalThis.performance ? globalThis.performance.now() : Date.now();
}
export function block_ms(ms) {
    try {
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
        return true;
    } catch (e) {
        return false;
    }
}
"#)]
extern "C" {
    fn stop_marker() -> JsValue;
    fn host_import(dispatch: &JsValue, index: u32) -> Function;
    /// Blocks the thread with `Atomics.wait` where that is allowed (Node, workers); false on a
    /// page's main thread or without `SharedArrayBuffer`.
    fn block_ms(ms: f64) -> bool;
    /// `performance.now()` (milliseconds, monotonic, from page or process start).
    fn monotonic_ms() -> f64;
}

/// The web engine: the host's own `WebAssembly` (V8 in Chromium and Node.js, SpiderMonkey, …).
/// A zero-sized handle.
#[derive(Clone, Copy, Debug, Default)]
pub struct WebEngine;

impl WebEngine {
    /// The engine.
    pub fn new() -> Self {
        Self
    }

    /// Compiles `wasm` with `WebAssembly.compile` (off the main thread in browsers, and without
    /// the 8 MB limit Chromium puts on synchronous compilation there) and checks that it is a Go
    /// reactor.
    ///
    /// # Errors
    /// [`Error::Compile`] when the host's engine rejects the bytes; as
    /// [`Module::from_compiled`](reactor_api::Module::from_compiled) for a module that is not a
    /// Go reactor.
    pub async fn compile_async(&self, wasm: &[u8]) -> Result<reactor_api::Module<Self>, Error> {
        let promise = WebAssembly::compile(&Uint8Array::from(wasm).into());
        let compiled = wasm_bindgen_futures::JsFuture::from(promise).await.map_err(compile_error)?;
        let module = compiled
            .dyn_into::<WebAssembly::Module>()
            .map_err(|_| compile_error(JsValue::from_str("WebAssembly.compile did not give a module")))?;
        let raw = WebModule::new(module, wasm)?;
        reactor_api::Module::from_compiled(self, raw)
    }
}

/// A compiled module: the `WebAssembly.Module`, its imports and exports, and its bytes (kept to
/// compile a memory-capped variant when an instance asks for [`Limits::max_memory_bytes`]).
#[derive(Clone)]
pub struct WebModule {
    module: WebAssembly::Module,
    info: Rc<ModuleInfo>,
    bytes: Rc<[u8]>,
}

impl fmt::Debug for WebModule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebModule")
            .field("bytes", &self.bytes.len())
            .field("info", &self.info)
            .finish_non_exhaustive()
    }
}

impl WebModule {
    fn new(module: WebAssembly::Module, wasm: &[u8]) -> Result<Self, Error> {
        let info = parse::module_info(wasm).map_err(|message| Error::Compile { engine: NAME, message })?;
        Ok(Self {
            module,
            info: Rc::new(info),
            bytes: wasm.into(),
        })
    }
    /// The `WebAssembly.Module`.
    pub fn js_module(&self) -> &WebAssembly::Module {
        &self.module
    }
}

fn js_message(e: &JsValue) -> String {
    if let Some(err) = e.dyn_ref::<js_sys::Error>() {
        return String::from(err.message());
    }
    e.as_string().unwrap_or_else(|| format!("{e:?}"))
}

fn compile_error(e: JsValue) -> Error {
    Error::Compile {
        engine: NAME,
        message: js_message(&e),
    }
}

fn compile_sync(wasm: &[u8]) -> Result<WebAssembly::Module, Error> {
    WebAssembly::Module::new(&Uint8Array::from(wasm).into()).map_err(compile_error)
}

impl WasmEngine for WebEngine {
    type Module = WebModule;
    type Instance = WebInstance;

    fn from_options(options: &EngineOptions) -> Result<Self, Error> {
        let engine = Self;
        // The host's engine decides its own stack: nothing here is configurable.
        options.check_supported(&engine.info())?;
        Ok(engine)
    }

    fn info(&self) -> EngineInfo {
        EngineInfo::new(
            NAME,
            "the host's WebAssembly",
            ExecutionKind::Compiler,
            Capabilities::none().with_memory_limit(true),
        )
    }

    fn compile(&self, wasm: &[u8]) -> Result<Self::Module, Error> {
        WebModule::new(compile_sync(wasm)?, wasm)
    }

    fn module_info(&self, module: &Self::Module) -> ModuleInfo {
        (*module.info).clone()
    }

    fn instantiate(
        &self,
        module: &Self::Module,
        mut state: HostState,
        imports: Vec<HostFunc>,
        limits: &Limits,
    ) -> Result<Self::Instance, Error> {
        limits.check_supported(&self.info())?;
        let failed = |message: String| Error::Instantiate { engine: NAME, message };
        let js_module = match limits.max_memory_bytes {
            Some(max) => compile_sync(&parse::cap_memory(&module.bytes, max / PAGE).map_err(failed)?)?,
            None => module.module.clone(),
        };
        state.wasi().set_default_clock(JsClock::new());

        let shared = Rc::new(RefCell::new(Shared {
            state: None,
            memory: None,
            funcs: Vec::new(),
        }));
        let stop = stop_marker();
        let dispatch = {
            let (shared, stop) = (shared.clone(), stop.clone());
            Closure::<dyn Fn(u32, Array) -> JsValue>::new(move |index: u32, args: Array| dispatch(&shared, &stop, index, &args))
        };
        // Null prototypes throughout, so a module or import named like an Object.prototype member
        // (`__proto__`, `toString`) is an ordinary property and nothing global is touched.
        let null_proto_object = || {
            let o = Object::new();
            Reflect::set_prototype_of(&o, &JsValue::NULL).map(|_| o)
        };
        let import_object = null_proto_object().map_err(|e| failed(js_message(&e)))?;
        for (index, f) in imports.iter().enumerate() {
            let set_failed = |e: JsValue| failed(format!("cannot link `{}::{}`: {}", f.module(), f.name(), js_message(&e)));
            let module_key = JsValue::from_str(f.module());
            let namespace = match Reflect::get(&import_object, &module_key).map_err(set_failed)? {
                ns if ns.is_object() => ns,
                _ => {
                    let ns = null_proto_object().map_err(set_failed)?;
                    Reflect::set(&import_object, &module_key, &ns).map_err(set_failed)?;
                    ns.into()
                }
            };
            let index = u32::try_from(index).map_err(|_| failed("too many imports".into()))?;
            let func = host_import(dispatch.as_ref(), index);
            Reflect::set(&namespace, &JsValue::from_str(f.name()), &func).map_err(set_failed)?;
        }
        shared.borrow_mut().funcs = imports;

        let instance = WebAssembly::Instance::new(&js_module, &import_object).map_err(|e| failed(js_message(&e)))?;
        let exports = instance.exports();
        let memory = Reflect::get(&exports, &JsValue::from_str("memory"))
            .ok()
            .and_then(|m| m.dyn_into::<WebAssembly::Memory>().ok())
            .ok_or_else(|| Error::NotAReactor {
                reason: "it exports no `memory`".into(),
            })?;
        let tick = export_func(&exports, "go_tick").ok_or_else(|| failed("no function export `go_tick`".into()))?;
        shared.borrow_mut().memory = Some(memory.clone());
        Ok(WebInstance {
            state: Some(state),
            shared,
            exports,
            memory,
            tick,
            funcs: HashMap::new(),
            stop,
            _dispatch: dispatch,
        })
    }
}

fn export_func(exports: &Object, name: &str) -> Option<Function> {
    Reflect::get(exports, &JsValue::from_str(name)).ok()?.dyn_into::<Function>().ok()
}

/// What the import trampolines share with their instance.
struct Shared {
    /// The instance's host state, lent here only while the guest runs (see [`WebInstance::enter`]).
    state: Option<HostState>,
    /// Set after instantiation; `None` only while a wasm `start` function runs (Go has none).
    memory: Option<WebAssembly::Memory>,
    /// One per import, in import order (the trampolines' `index`).
    funcs: Vec<HostFunc>,
}

/// Runs host function `index` for the guest. Returns its result (a number, a `BigInt`, an array
/// for several results, `undefined` for none) or the stop marker, which the JS wrapper throws.
fn dispatch(shared: &RefCell<Shared>, stop: &JsValue, index: u32, args: &Array) -> JsValue {
    // Host functions cannot call back into the guest, so this borrow never nests; refuse rather
    // than panic if it ever did.
    let Ok(mut shared) = shared.try_borrow_mut() else {
        return stop.clone();
    };
    let Shared { state, memory, funcs } = &mut *shared;
    let (Some(f), Some(state)) = (funcs.get(index as usize), state.as_mut()) else {
        // Called outside a guest call (e.g. by JavaScript holding the import): nothing to run it with.
        return stop.clone();
    };
    let params: Vec<Val> = f
        .ty()
        .params()
        .iter()
        .enumerate()
        .map(|(i, &t)| from_js(&args.get(i as u32), t))
        .collect();
    let mut results = vec![Val::I32(0); f.ty().results().len()];
    let outcome = match memory {
        Some(memory) => f.call(&mut JsMemory::new(memory), state, &params, &mut results),
        None => f.call(&mut Vec::new(), state, &params, &mut results),
    };
    match outcome {
        Ok(()) => results_to_js(&results),
        Err(_) => stop.clone(),
    }
}

fn results_to_js(results: &[Val]) -> JsValue {
    match results {
        [] => JsValue::UNDEFINED,
        [one] => to_js(*one),
        many => many.iter().map(|v| to_js(*v)).collect::<Array>().into(),
    }
}

fn to_js(v: Val) -> JsValue {
    match v {
        Val::I32(x) => JsValue::from(x),
        Val::I64(x) => JsValue::from(x),
        Val::F32(x) => JsValue::from(f64::from(x)),
        Val::F64(x) => JsValue::from(x),
    }
}

/// Converts a value the JS API gave for a wasm value of type `t` (numbers for i32/f32/f64, a
/// `BigInt` for i64). Anything else becomes zero: the engine always passes the declared types.
fn from_js(v: &JsValue, t: ValType) -> Val {
    let number = v.as_f64().unwrap_or(0.0);
    match t {
        // `ToInt32` has already happened on the JS side: the number is an exact i32.
        ValType::I32 | ValType::Unsupported => Val::I32(number as i32),
        ValType::I64 => Val::I64(i64::try_from(v.clone()).unwrap_or(0)),
        ValType::F32 => Val::F32(number as f32),
        ValType::F64 => Val::F64(number),
    }
}

/// The guest's linear memory, through a view of its current buffer. Made fresh for every host
/// call and every host access: `memory.grow` detaches the old `ArrayBuffer`, so a view kept
/// across guest code could go stale.
struct JsMemory {
    buffer: JsValue,
    size: u64,
}

impl JsMemory {
    fn new(memory: &WebAssembly::Memory) -> Self {
        let buffer = memory.buffer();
        // `byteLength` as a number: a 4 GiB memory does not fit the u32 of `Uint8Array::length`.
        let size = Reflect::get(&buffer, &JsValue::from_str("byteLength"))
            .ok()
            .and_then(|n| n.as_f64())
            .unwrap_or(0.0) as u64;
        Self { buffer, size }
    }
    /// A view of `len` bytes at `addr`, after a bounds check (so both fit in u32).
    fn view(&self, addr: u64, len: usize) -> Result<Option<Uint8Array>, MemoryError> {
        self.check(addr, len as u64)?;
        if len == 0 {
            return Ok(None);
        }
        let err = || MemoryError {
            addr,
            len: len as u64,
            size: self.size,
        };
        let (offset, length) = (u32::try_from(addr).map_err(|_| err())?, u32::try_from(len).map_err(|_| err())?);
        Ok(Some(Uint8Array::new_with_byte_offset_and_length(&self.buffer, offset, length)))
    }
}

impl GuestMemory for JsMemory {
    fn size(&self) -> u64 {
        self.size
    }
    fn read(&self, addr: u64, buf: &mut [u8]) -> Result<(), MemoryError> {
        if let Some(view) = self.view(addr, buf.len())? {
            view.copy_to(buf);
        }
        Ok(())
    }
    fn write(&mut self, addr: u64, data: &[u8]) -> Result<(), MemoryError> {
        if let Some(view) = self.view(addr, data.len())? {
            view.copy_from(data);
        }
        Ok(())
    }
}

/// A live instance of a Go reactor on the web engine.
pub struct WebInstance {
    /// The host state between guest calls; lent to [`Shared`] during them.
    state: Option<HostState>,
    shared: Rc<RefCell<Shared>>,
    exports: Object,
    memory: WebAssembly::Memory,
    tick: Function,
    funcs: HashMap<Box<str>, Function>,
    stop: JsValue,
    /// Keeps the import trampolines' Rust side alive as long as the instance.
    _dispatch: Closure<dyn Fn(u32, Array) -> JsValue>,
}

impl fmt::Debug for WebInstance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebInstance").field("state", &self.state).finish_non_exhaustive()
    }
}

impl WebInstance {
    /// Runs guest code with the host state lent to the import trampolines, and classifies a
    /// thrown exception as a trap.
    fn enter(&mut self, run: impl FnOnce() -> Result<JsValue, JsValue>) -> Result<JsValue, Trap> {
        self.shared.borrow_mut().state = self.state.take();
        let outcome = run();
        self.state = self.shared.borrow_mut().state.take();
        outcome.map_err(|e| self.trap(&e))
    }

    fn trap(&self, e: &JsValue) -> Trap {
        if Object::is(e, &self.stop) {
            return Trap::new(TrapKind::Host, "a host function stopped the guest");
        }
        let message = js_message(e);
        let m = message.to_ascii_lowercase();
        let kind = if e.is_instance_of::<WebAssembly::RuntimeError>() {
            // V8's and SpiderMonkey's wordings; the most specific first ("unrepresentable"
            // contains "table").
            if m.contains("unreachable") {
                TrapKind::Unreachable
            } else if m.contains("by zero") {
                TrapKind::IntegerDivisionByZero
            } else if m.contains("overflow") || m.contains("unrepresentable") || m.contains("conversion") {
                TrapKind::IntegerOverflow
            } else if m.contains("table index") || m.contains("null function") || m.contains("signature") || m.contains("indirect call") {
                TrapKind::BadIndirectCall
            } else if m.contains("out of bounds") {
                TrapKind::MemoryOutOfBounds
            } else {
                TrapKind::Other
            }
        } else if m.contains("call stack") || m.contains("too much recursion") {
            // V8's RangeError, SpiderMonkey's InternalError.
            TrapKind::StackOverflow
        } else {
            TrapKind::Other
        };
        Trap::new(kind, message)
    }
}

impl EngineInstance for WebInstance {
    fn call(&mut self, name: &str, args: &[Val], results: &mut [Val]) -> Result<(), Trap> {
        let func = match self.funcs.get(name) {
            Some(f) => f.clone(),
            None => {
                let f =
                    export_func(&self.exports, name).ok_or_else(|| Trap::new(TrapKind::Other, format!("no function export `{name}`")))?;
                self.funcs.insert(name.into(), f.clone());
                f
            }
        };
        let js_args: Array = args.iter().map(|v| to_js(*v)).collect();
        let ret = self.enter(|| func.apply(&JsValue::UNDEFINED, &js_args))?;
        match results {
            [] => {}
            [one] => *one = from_js(&ret, one.ty()),
            many => {
                let values = Array::from(&ret);
                for (i, r) in many.iter_mut().enumerate() {
                    *r = from_js(&values.get(i as u32), r.ty());
                }
            }
        }
        Ok(())
    }

    fn tick(&mut self) -> Result<i32, Trap> {
        let tick = self.tick.clone();
        let ret = self.enter(|| tick.call0(&JsValue::UNDEFINED))?;
        Ok(ret.as_f64().unwrap_or(-1.0) as i32)
    }

    fn state(&mut self) -> &mut HostState {
        self.state
            .as_mut()
            .expect("the host state is lent to the imports only during a guest call, which holds `&mut self`")
    }

    fn memory_size(&mut self) -> u64 {
        JsMemory::new(&self.memory).size
    }

    fn read_memory(&mut self, addr: u64, buf: &mut [u8]) -> Result<(), MemoryError> {
        JsMemory::new(&self.memory).read(addr, buf)
    }

    fn write_memory(&mut self, addr: u64, data: &[u8]) -> Result<(), MemoryError> {
        JsMemory::new(&self.memory).write(addr, data)
    }
}

/// The JavaScript clock: `Date.now()` for wall-clock time, `performance.now()` for monotonic
/// time. What a reactor on this engine gets when its configuration sets no clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct JsClock;

impl JsClock {
    /// The clock.
    pub fn new() -> Self {
        Self
    }
}

impl Clock for JsClock {
    fn realtime_ns(&self) -> u64 {
        (js_sys::Date::now() * 1e6) as u64
    }
    fn monotonic_ns(&self) -> u64 {
        // Start at 1 s, as wasi-min's SystemClock does, so guests never see a zero monotonic time.
        (monotonic_ms() * 1e6) as u64 + 1_000_000_000
    }
    /// Only a guest sleeping outside a tick (e.g. `time.Sleep` in a package `init`) gets here:
    /// Go reactors report timers to the host instead. Blocks with `Atomics.wait` where allowed
    /// (Node, workers), else spins, since a synchronous WASI call cannot yield to the event loop.
    fn sleep(&self, d: Duration) {
        let end = self.monotonic_ns().saturating_add(d.as_nanos().min(u128::from(u64::MAX)) as u64);
        loop {
            let now = self.monotonic_ns();
            if now >= end {
                return;
            }
            let _ = block_ms((end - now) as f64 / 1e6);
        }
    }
}

/// A guest output sink that calls a JavaScript function with each chunk of text the guest
/// writes (a page appends it to an element; Node code may pass `console.log`). Chunks are valid
/// UTF-8: a character split across two guest writes is passed whole with the second.
///
/// It holds a JavaScript value, which can never leave its thread; it is `Send` (as sinks must
/// be) through [`SendWrapper`], which checks that at run time. On `wasm32-unknown-unknown`
/// without threads there is only one thread.
pub struct JsSink {
    callback: SendWrapper<Function>,
    /// The start of a UTF-8 sequence the last write ended in the middle of.
    pending: Vec<u8>,
}

impl JsSink {
    /// A sink calling `callback(text)` for every guest write.
    pub fn new(callback: Function) -> Self {
        Self {
            callback: SendWrapper::new(callback),
            pending: Vec::new(),
        }
    }
}

impl fmt::Debug for JsSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JsSink")
            .field("pending", &self.pending.len())
            .finish_non_exhaustive()
    }
}

impl io::Write for JsSink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.pending.extend_from_slice(buf);
        let (text, rest) = match std::str::from_utf8(&self.pending) {
            Ok(s) => (s.to_string(), Vec::new()),
            // An incomplete sequence at the end waits for the next write; invalid bytes become U+FFFD.
            Err(e) if e.error_len().is_none() => {
                let (done, rest) = self.pending.split_at(e.valid_up_to());
                (String::from_utf8_lossy(done).into_owned(), rest.to_vec())
            }
            Err(_) => (String::from_utf8_lossy(&self.pending).into_owned(), Vec::new()),
        };
        self.pending = rest;
        if !text.is_empty() {
            self.callback
                .call1(&JsValue::UNDEFINED, &JsValue::from_str(&text))
                .map_err(|e| io::Error::other(js_message(&e)))?;
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

mod parse;
