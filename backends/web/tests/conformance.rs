//! The conformance cases that make sense on the web, for the web backend: the real Go fixtures
//! (embedded: there is no filesystem in a page) against their expected outputs, run with
//! `run_async` on the JavaScript event loop. `scripts/web-test.sh` runs them under Node.js and in
//! headless Chromium with wasm-bindgen-test. The cases mirror tests/conformance.rs; left out are
//! the thread-based sync `run`, tokio, and module caching on disk, which do not exist here.
#![cfg(all(target_arch = "wasm32", target_os = "unknown"))]

use std::ops::ControlFlow;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reactor_api::wasi_min::clock::Clock;
use reactor_api::wasi_min::sink::SharedBuffer;
use reactor_api::{
    Abi, Caller, Completion, Error, ExternType, FuncType, HostError, HostFunc, LoopResult, Module, Reactor, ReactorConfig, ReactorExt,
    RunOptions, TrapKind, Val, ValType, WasmEngine, run_async, run_async_with,
};
use reactor_web::{JsClock, WebEngine};
use wasm_bindgen_test::wasm_bindgen_test;

macro_rules! guest {
    ($name:literal) => {
        include_bytes!(concat!("../../../guests/wasm/", $name, ".wasm"))
    };
}
macro_rules! expected {
    ($name:literal, $file:literal) => {
        include_str!(concat!("../../../guests/programs/", $name, "/expected/", $file))
    };
}

fn module(wasm: &[u8]) -> Module<WebEngine> {
    Module::new(&WebEngine::new(), wasm).unwrap_or_else(|e| panic!("compile: {e}"))
}

/// The JavaScript clock, recording the guest's sleeps (`poll_oneoff`).
#[derive(Clone, Default)]
struct RecordingClock {
    slept: Arc<Mutex<Vec<Duration>>>,
}

impl RecordingClock {
    fn sleeps(&self) -> Vec<Duration> {
        self.slept.lock().unwrap().clone()
    }
}

impl Clock for RecordingClock {
    fn realtime_ns(&self) -> u64 {
        JsClock.realtime_ns()
    }
    fn monotonic_ns(&self) -> u64 {
        JsClock.monotonic_ns()
    }
    fn sleep(&self, d: Duration) {
        self.slept.lock().unwrap().push(d);
        JsClock.sleep(d);
    }
}

/// Captured stdio and sleeps of one reactor.
#[derive(Clone, Default)]
struct Io {
    stdout: SharedBuffer,
    stderr: SharedBuffer,
    clock: RecordingClock,
}

impl Io {
    fn config(&self, name: &str) -> ReactorConfig {
        ReactorConfig::new()
            .arg(name)
            .stdout(self.stdout.clone())
            .stderr(self.stderr.clone())
            .clock(self.clock.clone())
    }
}

/// Runs to completion on the event loop, recording every tick result.
async fn run_recording<R: Reactor>(r: &mut R) -> (reactor_api::Result<Completion>, Vec<LoopResult>) {
    let mut results = Vec::new();
    let outcome = run_async_with(
        r,
        RunOptions::new().on_tick(|t| {
            results.push(t);
            ControlFlow::Continue(())
        }),
    )
    .await;
    (outcome, results)
}

#[wasm_bindgen_test]
async fn hello() {
    let io = Io::default();
    let mut r = module(guest!("hello")).instantiate(io.config("hello")).unwrap();
    let (outcome, results) = run_recording(&mut r).await;
    assert_eq!(outcome.unwrap(), Completion::Exited(0));
    assert_eq!(io.stdout.to_string_lossy(), expected!("hello", "stdout"));
    assert_eq!(io.stdout.contents(), b"Hello from Go WASI reactor!\n");
    assert!(results.is_empty(), "main returning exits inside the first tick");
    assert!(io.clock.sleeps().is_empty());
}

#[wasm_bindgen_test]
async fn hello_default_config_and_async_compile() {
    // No clock given: the backend supplies JsClock; random comes from crypto.getRandomValues.
    let out = SharedBuffer::new();
    let module = WebEngine::new().compile_async(guest!("hello")).await.unwrap();
    let mut r = module.instantiate(ReactorConfig::new().arg("hello").stdout(out.clone())).unwrap();
    assert_eq!(run_async(&mut r).await.unwrap(), Completion::Exited(0));
    assert_eq!(out.contents(), b"Hello from Go WASI reactor!\n");
}

#[wasm_bindgen_test]
async fn timers() {
    let io = Io::default();
    let mut r = module(guest!("timers")).instantiate(io.config("timers")).unwrap();
    let (outcome, results) = run_recording(&mut r).await;
    assert_eq!(outcome.unwrap(), Completion::Exited(0));
    assert_eq!(io.stdout.to_string_lossy(), expected!("timers", "stdout"));
    let timers = results
        .iter()
        .filter(|r| matches!(r, LoopResult::Timer(d) if *d > Duration::ZERO))
        .count();
    assert!(timers >= 5, "sleeps are reported to the host as timers: {results:?}");
    assert!(!results.contains(&LoopResult::Idle));
    assert!(
        io.clock.sleeps().is_empty(),
        "no timer may block inside the guest: {:?}",
        io.clock.sleeps()
    );
}

#[wasm_bindgen_test]
async fn exit_code() {
    let io = Io::default();
    let mut r = module(guest!("exit")).instantiate(io.config("exit")).unwrap();
    assert_eq!(expected!("exit", "exit").trim(), "3");
    assert_eq!(run_async(&mut r).await.unwrap(), Completion::Exited(3));
    assert_eq!(io.stdout.to_string_lossy(), expected!("exit", "stdout"));
    assert!(r.ended().is_some());
    assert!(matches!(r.tick(), Err(Error::Ended { .. })), "a finished reactor refuses ticks");
    assert!(matches!(r.call("go_tick", &[]), Err(Error::Ended { .. })));
}

#[wasm_bindgen_test]
async fn panic() {
    let io = Io::default();
    let mut r = module(guest!("panic")).instantiate(io.config("panic")).unwrap();
    match run_async(&mut r).await {
        Err(Error::GuestPanic { message, export, stderr }) => {
            assert_eq!(message, "panic: boom from a goroutine");
            assert_eq!(export, "go_tick");
            for want in expected!("panic", "stderr-contains").lines() {
                assert!(stderr.contains(want), "stderr lacks {want:?}:\n{stderr}");
            }
        }
        other => panic!("expected a Go panic, got {other:?}"),
    }
    assert_eq!(io.stdout.to_string_lossy(), expected!("panic", "stdout"));
    assert!(matches!(r.tick(), Err(Error::Ended { .. })));
}

#[wasm_bindgen_test]
async fn deadlock() {
    let io = Io::default();
    let mut r = module(guest!("deadlock")).instantiate(io.config("deadlock")).unwrap();
    assert_eq!(expected!("deadlock", "exit").trim(), "deadlock");
    assert_eq!(run_async(&mut r).await.unwrap(), Completion::Idle);
    assert_eq!(r.abi(), Abi::V1);
    assert_eq!(io.stdout.to_string_lossy(), expected!("deadlock", "stdout"));
}

#[wasm_bindgen_test]
async fn busy() {
    let io = Io::default();
    let mut r = module(guest!("busy")).instantiate(io.config("busy")).unwrap();
    let (outcome, results) = run_recording(&mut r).await;
    assert_eq!(outcome.unwrap(), Completion::Exited(0));
    assert_eq!(io.stdout.to_string_lossy(), expected!("busy", "stdout"));
    let ready = results.iter().filter(|r| **r == LoopResult::Ready).count();
    assert!(ready >= 2, "CPU-bound goroutines are time-sliced: ticks return 0 ({results:?})");
}

#[wasm_bindgen_test]
async fn args_env() {
    let io = Io::default();
    let env = expected!("args-env", "env").lines().filter_map(|l| l.split_once('='));
    let config = io.config("args-env").args(expected!("args-env", "args").lines()).envs(env);
    let mut r = module(guest!("args-env")).instantiate(config).unwrap();
    assert_eq!(run_async(&mut r).await.unwrap(), Completion::Exited(0));
    assert_eq!(io.stdout.to_string_lossy(), expected!("args-env", "stdout"));
}

#[wasm_bindgen_test]
async fn stdout_big() {
    use sha2::Digest;
    let io = Io::default();
    let mut r = module(guest!("stdout-big")).instantiate(io.config("stdout-big")).unwrap();
    assert_eq!(run_async(&mut r).await.unwrap(), Completion::Exited(0));
    // The last line is `sha256 <hex> bytes <n>` of everything before it.
    let out = io.stdout.contents();
    let body_end = out[..out.len() - 1].iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    let (body, last) = out.split_at(body_end);
    let parts: Vec<String> = String::from_utf8_lossy(last).split_whitespace().map(str::to_string).collect();
    assert_eq!(parts.len(), 4, "checksum line: {parts:?}");
    assert_eq!(parts[3].parse::<usize>().unwrap(), body.len(), "byte count");
    let hex: String = sha2::Sha256::digest(body).iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(parts[1], hex, "sha256 of the output");
    assert!(body.len() >= 4 << 20, "several MiB of output");
}

#[wasm_bindgen_test]
async fn initsleep() {
    let io = Io::default();
    let mut r = module(guest!("initsleep")).instantiate(io.config("initsleep")).unwrap();
    assert!(
        !io.clock.sleeps().is_empty(),
        "init's sleep happens during _initialize, in poll_oneoff"
    );
    assert_eq!(io.stdout.to_string_lossy(), "init slept\n");
    assert_eq!(run_async(&mut r).await.unwrap(), Completion::Exited(0));
    assert_eq!(io.stdout.to_string_lossy(), expected!("initsleep", "stdout"));
}

#[wasm_bindgen_test]
async fn legacy_hello() {
    let io = Io::default();
    let mut r = module(guest!("legacy-hello")).instantiate(io.config("legacy-hello")).unwrap();
    assert_eq!(run_async(&mut r).await.unwrap(), Completion::Finished);
    assert_eq!(r.abi(), Abi::Legacy);
    assert_eq!(io.stdout.to_string_lossy(), expected!("legacy-hello", "stdout"));
}

#[wasm_bindgen_test]
async fn exports() {
    let io = Io::default();
    let mut r = module(guest!("exports")).instantiate(io.config("exports")).unwrap();
    assert_eq!(run_async(&mut r).await.unwrap(), Completion::Idle);
    assert_eq!(r.call("add", &[Val::I32(2), Val::I32(40)]).unwrap(), [Val::I32(42)]);
    assert_eq!(
        r.call("add_i64", &[Val::I64(1 << 40), Val::I64(2)]).unwrap(),
        [Val::I64((1 << 40) + 2)]
    );
    assert_eq!(r.call("mul_f64", &[Val::F64(1.5), Val::F64(4.0)]).unwrap(), [Val::F64(6.0)]);
    assert_eq!(r.call("scale_f32", &[Val::F32(2.5), Val::F32(2.0)]).unwrap(), [Val::F32(5.0)]);
    let text = b"Hello, reactor world";
    let ptr = r.call_i32("alloc", &[Val::I32(text.len() as i32)]).unwrap();
    r.write_memory(ptr as u32 as u64, text).unwrap();
    assert_eq!(
        r.call_i32("count_vowels", &[Val::I32(ptr), Val::I32(text.len() as i32)]).unwrap(),
        6
    );
    let name = b"Rust";
    let ptr = r.call_i32("alloc", &[Val::I32(name.len() as i32)]).unwrap();
    r.write_memory(ptr as u32 as u64, name).unwrap();
    r.call("greet", &[Val::I32(ptr), Val::I32(name.len() as i32)]).unwrap();
    assert!(
        io.stdout.to_string_lossy().ends_with("Hello, Rust!\n"),
        "{}",
        io.stdout.to_string_lossy()
    );
    // Mistakes are typed errors and leave the reactor usable.
    assert!(matches!(r.call("add", &[Val::I32(1)]), Err(Error::CallSignature { .. })));
    assert!(matches!(
        r.call("add", &[Val::I64(1), Val::I32(1)]),
        Err(Error::CallSignature { .. })
    ));
    assert!(matches!(r.call("nope", &[]), Err(Error::NoSuchExport { .. })));
    assert!(matches!(r.call("memory", &[]), Err(Error::NoSuchExport { .. })));
    let size = r.memory_size();
    assert!(r.read_memory(size - 2, &mut [0; 4]).is_err());
    assert!(r.write_memory(u64::MAX - 1, &[0; 4]).is_err());
    assert_eq!(r.tick().unwrap(), LoopResult::Idle);
    let stats = r.stats();
    assert!(stats.ticks >= 1 && stats.calls >= 8 && stats.host_calls > 0, "{stats:?}");
    // Memory grows under the host's feet: accesses after growth see the new buffer.
    let before = r.memory_size();
    let big = r.call_i32("alloc", &[Val::I32(8 << 20)]).unwrap() as u32 as u64;
    assert!(r.memory_size() > before, "an 8 MiB allocation grows memory");
    r.write_memory(big + (8 << 20) - 4, b"tail").unwrap();
    let mut back = [0; 4];
    r.read_memory(big + (8 << 20) - 4, &mut back).unwrap();
    assert_eq!(&back, b"tail");
}

fn host_imports(log: Arc<Mutex<Vec<String>>>) -> [HostFunc; 2] {
    let add = HostFunc::new(
        "env",
        "host_add",
        FuncType::new([ValType::I32; 2], [ValType::I32]),
        |_, args, results| {
            let (a, b) = (args[0].i32().unwrap_or(0), args[1].i32().unwrap_or(0));
            results[0] = Val::I32(a.wrapping_add(b));
            Ok(())
        },
    );
    let log_fn = HostFunc::new("env", "host_log", FuncType::new([ValType::I32; 2], []), move |caller, args, _| {
        let (ptr, len) = (args[0].i32().unwrap_or(0) as u32, args[1].i32().unwrap_or(0) as u32);
        log.lock().map_err(|_| HostError::new("poisoned"))?.push(caller.read_str(ptr, len)?);
        Ok(())
    });
    [add, log_fn]
}

#[wasm_bindgen_test]
async fn hostcall() {
    let io = Io::default();
    let log = Arc::new(Mutex::new(Vec::new()));
    let [add, log_fn] = host_imports(log.clone());
    let hostcall = module(guest!("hostcall"));
    let mut r = hostcall.instantiate(io.config("hostcall").import(add).import(log_fn)).unwrap();
    assert_eq!(run_async(&mut r).await.unwrap(), Completion::Exited(0));
    assert_eq!(io.stdout.to_string_lossy(), expected!("hostcall", "stdout"));
    assert_eq!(*log.lock().unwrap(), ["hello from go"]);
    // Without the imports, instantiation says which one is missing.
    match hostcall.instantiate(Io::default().config("hostcall")) {
        Err(Error::UnresolvedImport { module, name, .. }) => assert_eq!((module.as_str(), name.as_str()), ("env", "host_add")),
        other => panic!("expected an unresolved import, got {:?}", other.map(|_| ())),
    }
    // With a wrongly typed import, instantiation says so.
    let wrong = HostFunc::new(
        "env",
        "host_add",
        FuncType::new([ValType::I64; 2], [ValType::I32]),
        |_, _, _| Ok(()),
    );
    let err = hostcall
        .instantiate(Io::default().config("hostcall").import(wrong))
        .map(|_| ())
        .unwrap_err();
    assert!(matches!(err, Error::ImportType { .. }), "{err}");
    // A failing import stops the guest (a JS exception through its frames) with a typed error.
    let failing = HostFunc::new("env", "host_add", FuncType::new([ValType::I32; 2], [ValType::I32]), |_, _, _| {
        Err(HostError::new("nope"))
    });
    let [_, log_fn] = host_imports(log);
    let mut r = hostcall
        .instantiate(Io::default().config("hostcall").import(failing).import(log_fn))
        .unwrap();
    match run_async(&mut r).await {
        Err(Error::HostFunc { import, message }) => assert_eq!((import.as_str(), message.as_str()), ("env::host_add", "nope")),
        other => panic!("expected a host function error, got {other:?}"),
    }
    assert!(matches!(r.tick(), Err(Error::Ended { .. })));
}

#[wasm_bindgen_test]
async fn typed_calls() {
    let io = Io::default();
    let mut r = module(guest!("exports")).instantiate(io.config("exports")).unwrap();
    assert_eq!(run_async(&mut r).await.unwrap(), Completion::Idle);
    assert_eq!(r.call_typed::<(i32, i32), i32>("add", (2, 3)).unwrap(), 5);
    assert_eq!(r.call_typed::<(f64, f64), f64>("mul_f64", (2.0, 0.25)).unwrap(), 0.5);
    assert_eq!(r.call_typed::<(i64, i64), i64>("add_i64", (i64::MAX - 1, 1)).unwrap(), i64::MAX);
    let err = r.call_typed::<(i32, i32), i64>("add", (2, 3)).unwrap_err();
    assert!(matches!(err, Error::CallSignature { .. }), "{err}");
    let log = Arc::new(Mutex::new(String::new()));
    let sink = log.clone();
    let add = HostFunc::wrap("env", "host_add", |_: &mut Caller<'_>, a: i32, b: i32| Ok::<_, HostError>(a + b));
    let log_fn = HostFunc::wrap("env", "host_log", move |c: &mut Caller<'_>, ptr: i32, len: i32| {
        sink.lock()
            .map_err(|_| HostError::new("poisoned"))?
            .push_str(&c.read_str(ptr as u32, len as u32)?);
        Ok(())
    });
    let io = Io::default();
    let mut r = module(guest!("hostcall"))
        .instantiate(io.config("hostcall").import(add).import(log_fn))
        .unwrap();
    assert_eq!(run_async(&mut r).await.unwrap(), Completion::Exited(0));
    assert_eq!(io.stdout.to_string_lossy(), expected!("hostcall", "stdout"));
    assert_eq!(*log.lock().unwrap(), "hello from go");
}

#[wasm_bindgen_test]
async fn memory_limit() {
    let module = module(guest!("exports"));
    let initial = match module.info().export("memory") {
        Some(ExternType::Memory { min_pages, .. }) => min_pages * 65536,
        other => panic!("memory export: {other:?}"),
    };
    assert!(WebEngine::new().info().capabilities.memory_limit);
    let cap = initial + (16 << 20);
    let io = Io::default();
    let mut r = module.instantiate(io.config("exports").max_memory_bytes(cap)).unwrap();
    assert_eq!(run_async(&mut r).await.unwrap(), Completion::Idle);
    r.call("alloc", &[Val::I32(1 << 20)]).unwrap(); // within the cap
    // Beyond the cap memory.grow fails, and Go reports it as it would natively.
    match r.call("alloc", &[Val::I32(64 << 20)]) {
        Err(Error::GuestPanic { message, .. }) => assert!(message.contains("out of memory"), "{message}"),
        other => panic!("expected Go's out-of-memory failure, got {other:?}"),
    }
    assert!(r.memory_size() <= cap, "memory {} exceeds the cap {cap}", r.memory_size());
    assert!(matches!(r.call("add", &[Val::I32(1), Val::I32(1)]), Err(Error::Ended { .. })));
    // A cap below the initial memory is refused at instantiation.
    let err = module
        .instantiate(Io::default().config("exports").max_memory_bytes(initial / 2))
        .map(|_| ())
        .unwrap_err();
    assert!(matches!(err, Error::Instantiate { .. }), "{err}");
}

#[wasm_bindgen_test]
async fn many_reactors_one_thread() {
    const N: usize = 20;
    let module = module(guest!("timers"));
    let ios: Vec<Io> = (0..N).map(|_| Io::default()).collect();
    let mut reactors: Vec<_> = ios.iter().map(|io| module.instantiate(io.config("timers")).unwrap()).collect();
    let outcomes = futures::future::join_all(reactors.iter_mut().map(run_async)).await;
    for (outcome, io) in outcomes.into_iter().zip(&ios) {
        assert_eq!(outcome.unwrap(), Completion::Exited(0));
        assert_eq!(
            io.stdout.to_string_lossy(),
            expected!("timers", "stdout"),
            "each reactor has its own stdout"
        );
    }
}

fn wat_module(wat: &str) -> reactor_api::Result<Module<WebEngine>> {
    Module::new(&WebEngine::new(), &wat::parse_str(wat).unwrap())
}

#[wasm_bindgen_test]
fn not_a_reactor() {
    let err = |wat: &str| wat_module(wat).map(|_| ()).unwrap_err();
    let stock = err(r#"(module (memory (export "memory") 1) (func (export "_initialize")))"#);
    assert!(stock.to_string().contains("reactor-enabled Go runtime"), "{stock}");
    let command = err(r#"(module (memory (export "memory") 1) (func (export "_start")))"#);
    assert!(command.to_string().contains("WASI command"), "{command}");
    let bad = Module::new(&WebEngine::new(), b"\0asm\x01\0\0\0garbage").map(|_| ()).unwrap_err();
    assert!(matches!(bad, Error::Compile { .. }), "{bad}");
    let typed = err(r#"(module (memory (export "memory") 1) (func (export "_initialize"))
        (func (export "go_start_main")) (func (export "go_tick") (param i32) (result i32) i32.const 0))"#);
    assert!(matches!(typed, Error::ExportType { .. }), "{typed}");
}

#[wasm_bindgen_test]
fn unsupported_limits() {
    const RUNAWAY: &str = r#"(module (memory (export "memory") 1)
        (func (export "_initialize")) (func (export "go_start_main"))
        (func (export "go_tick") (result i32) (loop $l (br $l)) i32.const 0))"#;
    let module = wat_module(RUNAWAY).unwrap();
    let caps = WebEngine::new().info().capabilities;
    assert!(!caps.fuel && !caps.deadline && !caps.serialize);
    for config in [
        ReactorConfig::new().tick_deadline(Duration::from_millis(50)),
        ReactorConfig::new().fuel_per_tick(1000),
    ] {
        assert!(matches!(module.instantiate(config).map(|_| ()), Err(Error::Unsupported { .. })));
    }
    assert!(matches!(module.serialize(), Err(Error::Unsupported { .. })));
}

/// Traps of the JavaScript engine arrive as typed traps.
#[wasm_bindgen_test]
fn traps_are_classified() {
    let cases = [
        ("unreachable", TrapKind::Unreachable),
        ("i32.const 1 i32.const 0 i32.div_s drop", TrapKind::IntegerDivisionByZero),
        ("i32.const 0x7ffffff0 i32.load drop", TrapKind::MemoryOutOfBounds),
        ("i32.const 0x80000000 i32.const -1 i32.div_s drop", TrapKind::IntegerOverflow),
        ("call $deep", TrapKind::StackOverflow),
        ("i32.const 0 call_indirect (type $v)", TrapKind::BadIndirectCall),
        ("i32.const 5 call_indirect (type $v)", TrapKind::BadIndirectCall),
    ];
    for (body, kind) in cases {
        let wat = format!(
            r#"(module (memory (export "memory") 1) (type $v (func)) (table 1 funcref)
                (func $deep (call $deep))
                (func (export "_initialize")) (func (export "go_start_main"))
                (func (export "go_tick") (result i32) {body} i32.const -1))"#
        );
        let mut r = wat_module(&wat).unwrap().instantiate(ReactorConfig::new()).unwrap();
        match r.tick() {
            Err(Error::Trap { trap, export, engine, .. }) => {
                assert_eq!(
                    (trap.kind, export.as_str(), engine),
                    (kind, "go_tick", "web"),
                    "{body}: {}",
                    trap.message
                )
            }
            other => panic!("{body}: expected a {kind:?} trap, got {other:?}"),
        }
        assert!(matches!(r.tick(), Err(Error::Ended { .. })));
    }
}

/// `proc_exit` thrown from inside nested guest frames, and WASI from `wasi-min` with a bad pointer.
#[wasm_bindgen_test]
fn proc_exit_and_bad_pointers() {
    let wat = r#"(module
        (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
        (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
        (memory (export "memory") 1)
        (global $n (mut i32) (i32.const 0))
        (func (export "_initialize")) (func (export "go_start_main"))
        (func (export "bad_write") (result i32) (call $fd_write (i32.const 1) (i32.const 0xfffffff0) (i32.const 1) (i32.const 0)))
        (func $inner (call $exit (i32.const 7)) unreachable)
        (func (export "go_tick") (result i32) (call $inner) i32.const -1))"#;
    let mut r = wat_module(wat).unwrap().instantiate(ReactorConfig::new()).unwrap();
    assert_eq!(r.call_i32("bad_write", &[]).unwrap(), 21, "EFAULT, not a host panic");
    assert!(matches!(r.tick(), Err(Error::Exited { code: 7 })));
    assert!(matches!(r.tick(), Err(Error::Ended { .. })));
}

/// Import names that are Object.prototype members are ordinary imports, and nothing global changes.
#[wasm_bindgen_test]
fn imports_named_like_object_members() {
    let wat = r#"(module
        (import "__proto__" "toString" (func $a (result i32)))
        (import "constructor" "__proto__" (func $b (result i32)))
        (memory (export "memory") 1)
        (func (export "_initialize")) (func (export "go_start_main"))
        (func (export "sum") (result i32) (i32.add (call $a) (call $b)))
        (func (export "go_tick") (result i32) i32.const -1))"#;
    let one = |m: &str, n: &str, v: i32| HostFunc::wrap(m.to_string(), n.to_string(), move |_: &mut Caller<'_>| Ok::<_, HostError>(v));
    let config = ReactorConfig::new()
        .import(one("__proto__", "toString", 40))
        .import(one("constructor", "__proto__", 2));
    let mut r = wat_module(wat).unwrap().instantiate(config).unwrap();
    assert_eq!(r.call_i32("sum", &[]).unwrap(), 42);
    let proto = js_sys::Object::get_prototype_of(&js_sys::Object::new().into());
    assert!(
        js_sys::Reflect::get(&proto, &"toString".into()).unwrap().is_function(),
        "Object.prototype untouched"
    );
}
