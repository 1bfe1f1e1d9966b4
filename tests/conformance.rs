//! The conformance suite: written once, instantiated for every enabled engine, run against the
//! real Go reactors in guests/wasm and their expected outputs (recorded from native Go).

mod common;

use std::ops::ControlFlow;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{ExpectedExit, Fixtures, Io, expected};
use go_reactor::wasi_min::fs::MemFs;
use go_reactor::{
    Abi, Caller, Completion, Ending, Error, FuncType, HostError, HostFunc, LoopResult, Reactor, ReactorConfig, ReactorExt, RunOptions,
    TrapKind, Val, ValType, WasmEngine, run_async, run_with,
};

/// Runs fixture `name` to completion with its expected args/env and checks stdout and ending.
fn check_fixture<E: WasmEngine>(fx: &Fixtures<E>, name: &str) -> (Io, Vec<LoopResult>) {
    let exp = expected(name);
    let io = Io::default();
    let mut reactor = fx.module(name).instantiate(io.config(name)).unwrap();
    let mut results = Vec::new();
    let outcome = run_with(
        &mut reactor,
        RunOptions::new().on_tick(|r| {
            results.push(r);
            ControlFlow::Continue(())
        }),
    );
    match (&exp.exit, outcome) {
        (ExpectedExit::Code(0), Ok(Completion::Finished)) => assert_eq!(reactor.abi(), Abi::Legacy),
        (ExpectedExit::Code(code), Ok(Completion::Exited(got))) => assert_eq!(*code, got, "{name}: exit code"),
        (ExpectedExit::Code(2), Err(Error::GuestPanic { message, stderr, .. })) => {
            for want in &exp.stderr_contains {
                assert!(
                    stderr.contains(want.as_str()) || message.contains(want.as_str()),
                    "{name}: stderr lacks {want:?}:\n{stderr}"
                );
            }
        }
        (ExpectedExit::Deadlock | ExpectedExit::Idle, Ok(Completion::Idle)) => assert_eq!(reactor.abi(), Abi::V1),
        (want, got) => panic!("{name}: expected {want:?}, got {got:?}\nstderr:\n{}", io.stderr.to_string_lossy()),
    }
    common::check_stdout(name, &exp, &io.stdout.contents());
    for want in &exp.stderr_contains {
        assert!(io.stderr.to_string_lossy().contains(want.as_str()), "{name}: stderr lacks {want:?}");
    }
    (io, results)
}

pub fn hello<E: WasmEngine>(fx: &Fixtures<E>) {
    let (io, results) = check_fixture(fx, "hello");
    assert_eq!(io.stdout.contents(), b"Hello from Go WASI reactor!\n");
    assert!(results.is_empty(), "main returning exits inside the first tick");
    assert!(io.sleeps.sleeps().is_empty(), "the guest never blocks in poll_oneoff");
}

pub fn timers<E: WasmEngine>(fx: &Fixtures<E>) {
    let (io, results) = check_fixture(fx, "timers");
    let timers = results
        .iter()
        .filter(|r| matches!(r, LoopResult::Timer(d) if *d > Duration::ZERO))
        .count();
    assert!(timers >= 5, "sleeps are reported to the host as timers: {results:?}");
    assert!(!results.contains(&LoopResult::Idle));
    assert!(
        io.sleeps.sleeps().is_empty(),
        "no timer may block inside the guest during a tick: {:?}",
        io.sleeps.sleeps()
    );
}

pub fn exit_code<E: WasmEngine>(fx: &Fixtures<E>) {
    let io = Io::default();
    let mut r = fx.module("exit").instantiate(io.config("exit")).unwrap();
    assert_eq!(r.run().unwrap(), Completion::Exited(3));
    assert_eq!(io.stdout.contents(), expected("exit").stdout.unwrap());
    assert_eq!(r.ended(), Some(&Ending::Exited(3)));
    assert!(
        matches!(r.tick(), Err(Error::Ended { ending: Ending::Exited(3) })),
        "a finished reactor refuses ticks"
    );
    assert!(matches!(r.call("go_tick", &[]), Err(Error::Ended { ending: Ending::Exited(3) })));
    check_fixture(fx, "exit");
}

pub fn panic<E: WasmEngine>(fx: &Fixtures<E>) {
    check_fixture(fx, "panic");
    let io = Io::default();
    let mut r = fx.module("panic").instantiate(io.config("panic")).unwrap();
    match r.run() {
        Err(Error::GuestPanic { message, export, .. }) => {
            assert_eq!(message, "panic: boom from a goroutine");
            assert_eq!(export, "go_tick");
        }
        other => panic!("expected a Go panic, got {other:?}"),
    }
    let ending = Ending::GuestPanic {
        message: "panic: boom from a goroutine".into(),
    };
    assert_eq!(r.ended(), Some(&ending));
    assert_eq!(ending.to_string(), "Go panic: panic: boom from a goroutine");
    match r.tick() {
        Err(Error::Ended { ending: got }) => assert_eq!(got, ending),
        other => panic!("expected Ended, got {other:?}"),
    }
}

/// Fail closed: when the random source fails, `random_get` returns EIO and Go's `crypto/rand`
/// stops the program with a fatal error; it never goes on with predictable bytes.
pub fn random_fails_closed<E: WasmEngine>(fx: &Fixtures<E>) {
    check_fixture(fx, "cryptorand");
    let io = Io::default();
    let config = io.config("cryptorand").random(go_reactor::wasi_min::random::NoRandom);
    let mut r = fx.module("cryptorand").instantiate(config).unwrap();
    match r.run() {
        Err(Error::GuestPanic { message, .. }) => assert_eq!(
            message,
            "fatal error: crypto/rand: failed to read random data (see https://go.dev/issue/66821): I/O error"
        ),
        other => panic!(
            "expected crypto/rand to fail visibly, got {other:?}\nstderr:\n{}",
            io.stderr.to_string_lossy()
        ),
    }
    assert_eq!(io.stdout.contents(), b"", "the program printed nothing after the failed read");
}

pub fn deadlock<E: WasmEngine>(fx: &Fixtures<E>) {
    check_fixture(fx, "deadlock");
}

pub fn busy<E: WasmEngine>(fx: &Fixtures<E>) {
    let (_, results) = check_fixture(fx, "busy");
    let ready = results.iter().filter(|r| **r == LoopResult::Ready).count();
    assert!(ready >= 2, "CPU-bound goroutines are time-sliced: ticks return 0 ({results:?})");
}

pub fn args_env<E: WasmEngine>(fx: &Fixtures<E>) {
    check_fixture(fx, "args-env");
}

pub fn stdout_big<E: WasmEngine>(fx: &Fixtures<E>) {
    let (io, _) = check_fixture(fx, "stdout-big");
    common::check_big_output(&io.stdout.contents());
}

pub fn initsleep<E: WasmEngine>(fx: &Fixtures<E>) {
    let io = Io::default();
    let mut r = fx.module("initsleep").instantiate(io.config("initsleep")).unwrap();
    // The package init's time.Sleep blocked in poll_oneoff during _initialize (Go itself checks
    // that the sleep did not end early; how long it took is not asserted: no timed tests).
    assert!(
        !io.sleeps.sleeps().is_empty(),
        "init's sleep happens during _initialize, in poll_oneoff"
    );
    assert_eq!(io.stdout.to_string_lossy(), "init slept\n");
    assert_eq!(r.run().unwrap(), Completion::Exited(0));
    assert_eq!(io.stdout.contents(), expected("initsleep").stdout.unwrap());
}

pub fn legacy_hello<E: WasmEngine>(fx: &Fixtures<E>) {
    check_fixture(fx, "legacy-hello");
}

pub fn exports<E: WasmEngine>(fx: &Fixtures<E>) {
    let io = Io::default();
    let mut r = fx.module("exports").instantiate(io.config("exports")).unwrap();
    assert_eq!(r.run().unwrap(), Completion::Idle);
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
    // `call_i32` on an export that does not return one i32 is a signature error, caught before
    // calling the guest.
    let calls = r.stats().calls;
    match r.call_i32("add_i64", &[Val::I64(1), Val::I64(2)]) {
        Err(Error::CallSignature { name, problem, .. }) => {
            assert_eq!((name.as_str(), problem.as_str()), ("add_i64", "the caller expects results (i32)"))
        }
        other => panic!("expected a signature error, got {other:?}"),
    }
    assert_eq!(r.stats().calls, calls);
    let size = r.memory_size();
    let out_of_bounds = go_reactor::wasi_min::MemoryError {
        addr: size - 2,
        len: 4,
        size,
    };
    assert!(matches!(r.read_memory(size - 2, &mut [0; 4]), Err(Error::Memory(e)) if e == out_of_bounds));
    assert_eq!(r.tick().unwrap(), LoopResult::Idle);
    let stats = r.stats();
    assert!(stats.ticks >= 1 && stats.calls >= 8 && stats.host_calls > 0, "{stats:?}");
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

pub fn hostcall<E: WasmEngine>(fx: &Fixtures<E>) {
    let io = Io::default();
    let log = Arc::new(Mutex::new(Vec::new()));
    let [add, log_fn] = host_imports(log.clone());
    let mut r = fx
        .module("hostcall")
        .instantiate(io.config("hostcall").import(add).import(log_fn))
        .unwrap();
    assert_eq!(r.run().unwrap(), Completion::Exited(0));
    assert_eq!(io.stdout.contents(), expected("hostcall").stdout.unwrap());
    assert_eq!(*log.lock().unwrap(), ["hello from go"]);
    // Without the imports, instantiation says which one is missing.
    match fx.module("hostcall").instantiate(Io::default().config("hostcall")) {
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
    let err = fx
        .module("hostcall")
        .instantiate(Io::default().config("hostcall").import(wrong))
        .map(|_| ())
        .unwrap_err();
    assert!(matches!(err, Error::ImportType { .. }), "{err}");
    // A failing import stops the guest with a typed error naming it.
    let failing = HostFunc::new("env", "host_add", FuncType::new([ValType::I32; 2], [ValType::I32]), |_, _, _| {
        Err(HostError::new("nope"))
    });
    let [_, log_fn] = host_imports(log);
    let mut r = fx
        .module("hostcall")
        .instantiate(Io::default().config("hostcall").import(failing).import(log_fn))
        .unwrap();
    match r.run() {
        Err(Error::HostFunc { import, message }) => assert_eq!((import.as_str(), message.as_str()), ("env::host_add", "nope")),
        other => panic!("expected a host function error, got {other:?}"),
    }
    let ending = Ending::HostFunc {
        import: "env::host_add".into(),
        message: "nope".into(),
    };
    assert_eq!(r.ended(), Some(&ending));
    assert!(matches!(r.tick(), Err(Error::Ended { ending: got }) if got == ending));
}

pub fn async_two_executors<E: WasmEngine>(fx: &Fixtures<E>) {
    let want = expected("timers").stdout.unwrap();
    let io = Io::default();
    let mut r = fx.module("timers").instantiate(io.config("timers")).unwrap();
    assert_eq!(futures::executor::block_on(run_async(&mut r)).unwrap(), Completion::Exited(0));
    assert_eq!(io.stdout.contents(), want);

    let io = Io::default();
    let mut r = fx.module("timers").instantiate(io.config("timers")).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
    assert_eq!(rt.block_on(run_async(&mut r)).unwrap(), Completion::Exited(0));
    assert_eq!(io.stdout.contents(), want);
}

pub fn many_reactors_one_thread<E: WasmEngine>(fx: &Fixtures<E>) {
    const N: usize = 100;
    let want = expected("timers").stdout.unwrap();
    let module = fx.module("timers");
    let ios: Vec<Io> = (0..N).map(|_| Io::default()).collect();
    let mut reactors: Vec<_> = ios.iter().map(|io| module.instantiate(io.config("timers")).unwrap()).collect();
    let runs = reactors.iter_mut().map(run_async);
    let outcomes = futures::executor::block_on(futures::future::join_all(runs));
    for (outcome, io) in outcomes.into_iter().zip(&ios) {
        assert_eq!(outcome.unwrap(), Completion::Exited(0));
        assert_eq!(io.stdout.contents(), want, "each reactor has its own stdout");
    }
}

pub fn not_a_reactor<E: WasmEngine>(fx: &Fixtures<E>) {
    let err = |wat: &str| {
        go_reactor::Module::new(fx.engine(), &wat::parse_str(wat).unwrap())
            .map(|_| ())
            .unwrap_err()
    };
    let stock = err(r#"(module (memory (export "memory") 1) (func (export "_initialize")))"#);
    assert!(stock.to_string().contains("reactor-enabled Go runtime"), "{stock}");
    let command = err(r#"(module (memory (export "memory") 1) (func (export "_start")))"#);
    assert!(command.to_string().contains("WASI command"), "{command}");
    let bad = go_reactor::Module::new(fx.engine(), b"\0asm\x01\0\0\0garbage")
        .map(|_| ())
        .unwrap_err();
    assert!(matches!(bad, Error::Compile { .. }), "{bad}");
    let typed = err(r#"(module (memory (export "memory") 1) (func (export "_initialize"))
        (func (export "go_start_main")) (func (export "go_tick") (param i32) (result i32) i32.const 0))"#);
    assert!(matches!(typed, Error::ExportType { .. }), "{typed}");
}

pub fn typed_calls<E: WasmEngine>(fx: &Fixtures<E>) {
    let io = Io::default();
    let mut r = fx.module("exports").instantiate(io.config("exports")).unwrap();
    assert_eq!(r.run().unwrap(), Completion::Idle);
    assert_eq!(r.call_typed::<(i32, i32), i32>("add", (2, 3)).unwrap(), 5);
    assert_eq!(r.call_typed::<(f64, f64), f64>("mul_f64", (2.0, 0.25)).unwrap(), 0.5);
    let text = b"typed vowels";
    let ptr = r.call_typed::<u32, u32>("alloc", text.len() as u32).unwrap();
    r.write_bytes(ptr, text).unwrap();
    assert_eq!(
        r.call_typed::<(u32, u32), u32>("count_vowels", (ptr, text.len() as u32)).unwrap(),
        3
    );
    let calls = r.stats().calls;
    let err = r.call_typed::<(i32, i32), i64>("add", (2, 3)).unwrap_err();
    assert!(matches!(err, Error::CallSignature { .. }), "{err}");
    assert_eq!(r.stats().calls, calls, "a result type mismatch is caught before calling the guest");
    // Typed host functions link like dynamic ones.
    let log = Arc::new(Mutex::new(String::new()));
    let sink = log.clone();
    let add = HostFunc::wrap("env", "host_add", |_: &mut Caller<'_>, a: i32, b: i32| Ok::<_, HostError>(a + b));
    // Guest pointers as `u32`, as the guest means them.
    let log_fn = HostFunc::wrap("env", "host_log", move |c: &mut Caller<'_>, ptr: u32, len: u32| {
        sink.lock()
            .map_err(|_| HostError::new("poisoned"))?
            .push_str(&c.read_str(ptr, len)?);
        Ok(())
    });
    let io = Io::default();
    let mut r = fx
        .module("hostcall")
        .instantiate(io.config("hostcall").import(add).import(log_fn))
        .unwrap();
    assert_eq!(r.run().unwrap(), Completion::Exited(0));
    assert_eq!(io.stdout.contents(), expected("hostcall").stdout.unwrap());
    assert_eq!(*log.lock().unwrap(), "hello from go");
}

fn initial_memory(info: &go_reactor::ModuleInfo) -> u64 {
    match info.export("memory") {
        Some(go_reactor::ExternType::Memory { min_pages, .. }) => min_pages * 65536,
        other => panic!("memory export: {other:?}"),
    }
}

pub fn memory_limit<E: WasmEngine>(fx: &Fixtures<E>) {
    let module = fx.module("exports");
    let cap = initial_memory(module.info()) + (16 << 20);
    let io = Io::default();
    let instance = module.instantiate(io.config("exports").max_memory_bytes(cap));
    if !fx.engine().info().capabilities.memory_limit {
        assert!(
            matches!(instance.map(|_| ()), Err(Error::Unsupported { .. })),
            "an engine without memory limits must refuse one"
        );
        return;
    }
    let mut r = instance.unwrap();
    assert_eq!(r.run().unwrap(), Completion::Idle);
    r.call("alloc", &[Val::I32(1 << 20)]).unwrap(); // within the cap
    // Beyond the cap memory.grow fails, and Go reports it as it would natively.
    match r.call("alloc", &[Val::I32(64 << 20)]) {
        Err(Error::GuestPanic { message, .. }) => assert!(message.contains("out of memory"), "{message}"),
        other => panic!("expected Go's out-of-memory failure, got {other:?}"),
    }
    assert!(r.memory_size() <= cap, "memory {} exceeds the cap {cap}", r.memory_size());
    assert!(matches!(r.call("add", &[Val::I32(1), Val::I32(1)]), Err(Error::Ended { .. })));
}

/// A reactor whose `go_tick` never returns: a runaway guest (a fault case Go cannot produce,
/// since Go code yields at least at every allocation or channel operation).
const RUNAWAY: &str = r#"(module (memory (export "memory") 1)
    (func (export "_initialize")) (func (export "go_start_main"))
    (func (export "go_tick") (result i32) (loop $l (br $l)) i32.const 0))"#;

pub fn runaway_guest<E: WasmEngine>(fx: &Fixtures<E>) {
    let caps = fx.engine().info().capabilities;
    let module = go_reactor::Module::new(fx.engine(), &wat::parse_str(RUNAWAY).unwrap()).unwrap();
    let deadline = module.instantiate(go_reactor::ReactorConfig::new().tick_deadline(Duration::from_millis(50)));
    let fuel = module.instantiate(go_reactor::ReactorConfig::new().fuel_per_tick(10_000_000));
    for (supported, instance, kind) in [
        (caps.deadline, deadline, TrapKind::Interrupted),
        (caps.fuel, fuel, TrapKind::OutOfFuel),
    ] {
        match (supported, instance) {
            (true, Ok(mut r)) => {
                match r.tick() {
                    Err(Error::Trap { trap, export, .. }) => assert_eq!((trap.kind, export.as_str()), (kind, "go_tick")),
                    other => panic!("expected {kind:?}, got {other:?}"),
                }
                assert!(matches!(r.tick(), Err(Error::Ended { .. })));
            }
            (false, Err(Error::Unsupported { .. })) => {}
            (s, other) => panic!("supported={s}: unexpected {:?}", other.map(|_| ())),
        }
    }
}

pub fn module_cache<E: WasmEngine>(fx: &Fixtures<E>) {
    let module = fx.module("hello");
    let dir = std::env::temp_dir().join(format!("go-reactor-cache-test-{}-{}", fx.engine().info().name, std::process::id()));
    let bytes = common::wasm_bytes("hello");
    for _ in 0..2 {
        // SAFETY: the directory was created by this test for its own cache files.
        let cached = unsafe { go_reactor::Module::new_cached(fx.engine(), &bytes, &dir) }.unwrap();
        let io = Io::default();
        assert_eq!(
            cached.instantiate(io.config("hello")).unwrap().run().unwrap(),
            Completion::Exited(0)
        );
        assert_eq!(io.stdout.contents(), b"Hello from Go WASI reactor!\n");
    }
    match module.serialize() {
        Ok(serialized) => {
            assert!(fx.engine().info().capabilities.serialize);
            // SAFETY: the bytes were serialized just above by the same engine.
            let loaded = unsafe { go_reactor::Module::deserialize(fx.engine(), &serialized) }.unwrap();
            let io = Io::default();
            assert_eq!(
                loaded.instantiate(io.config("hello")).unwrap().run().unwrap(),
                Completion::Exited(0)
            );
            assert_eq!(io.stdout.contents(), b"Hello from Go WASI reactor!\n");
            assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1, "one cache file, reused");
        }
        Err(Error::Unsupported { .. }) => assert!(!fx.engine().info().capabilities.serialize),
        Err(e) => panic!("serialize: {e}"),
    }
    // Bytes that are not serialized code: a serialization error, not a compile error.
    // SAFETY: engines check the header of serialized code before loading any of it.
    match unsafe { go_reactor::Module::deserialize(fx.engine(), b"not serialized code") } {
        Err(Error::Serialize { engine, operation, .. }) => {
            assert!(fx.engine().info().capabilities.serialize);
            assert_eq!((engine, operation), (fx.engine().info().name, "deserialize"));
        }
        Err(Error::Unsupported { .. }) => assert!(!fx.engine().info().capabilities.serialize),
        other => panic!("expected a deserialize error, got {:?}", other.map(|_| ())),
    }
    let _ = std::fs::remove_dir_all(&dir);
}

pub fn stdin_lines<E: WasmEngine>(fx: &Fixtures<E>) {
    check_fixture(fx, "stdin-lines");
}

/// Runs `files` with `TMPDIR=/tmp` and `FILES_KEEP=kept.txt`, `/tmp` being the one preopen
/// `preopen` adds, and checks it prints what it prints natively and exits 0.
fn run_files<E: WasmEngine>(fx: &Fixtures<E>, preopen: impl FnOnce(ReactorConfig) -> ReactorConfig) {
    let io = Io::default();
    let config = ReactorConfig::new()
        .arg("files")
        .env("TMPDIR", "/tmp")
        .env("FILES_KEEP", "kept.txt")
        .stdout(io.stdout.clone())
        .stderr(io.stderr.clone());
    let mut r = fx.module("files").instantiate(preopen(config)).unwrap();
    let outcome = r.run();
    assert_eq!(
        io.stdout.to_string_lossy(),
        String::from_utf8_lossy(&expected("files").stdout.unwrap()),
        "stderr: {}",
        io.stderr.to_string_lossy()
    );
    assert_eq!(outcome.unwrap(), Completion::Exited(0));
}

/// `files` on a host temporary directory preopened at `/tmp`: its output equals native Go's, and
/// the file it is asked to keep is on the host afterwards, everything else removed.
pub fn files_host_dir<E: WasmEngine>(fx: &Fixtures<E>) {
    let tmp = TempDir::new("files-host");
    run_files(fx, |config| config.preopened_dir(tmp.path(), "/tmp").unwrap());
    let left: Vec<String> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(left, ["kept.txt"], "only the kept file is left on the host");
    assert_eq!(std::fs::read(tmp.path().join("kept.txt")).unwrap(), b"kept by files\n");
}

/// `files` on an in-memory tree at `/tmp`: the same output, and the kept file is in the tree.
pub fn files_memory<E: WasmEngine>(fx: &Fixtures<E>) {
    let fs = MemFs::new();
    run_files(fx, |config| config.memory_fs(fs.clone(), "/tmp"));
    assert_eq!(fs.read_file("/kept.txt").unwrap(), b"kept by files\n");
}

/// A temporary host directory, removed on drop.
struct TempDir(std::path::PathBuf);

impl TempDir {
    fn new(tag: &str) -> Self {
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("go-reactor-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }
    fn path(&self) -> &std::path::Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Everything the two reactors of [`stdin_interleaves`] and its feeder did, in order.
#[derive(Default)]
struct EventLog {
    events: Mutex<Vec<(&'static str, String)>>,
    changed: std::sync::Condvar,
}

impl EventLog {
    fn push(&self, source: &'static str, line: String) {
        self.events.lock().unwrap().push((source, line));
        self.changed.notify_all();
    }
    fn count(&self, source: &str) -> usize {
        self.events.lock().unwrap().iter().filter(|(s, _)| *s == source).count()
    }
    /// Waits until `source` has logged more than `n` lines; false if that takes implausibly
    /// long (the executor is blocked), so the test fails instead of hanging.
    fn wait_beyond(&self, source: &str, n: usize) -> bool {
        let guard = self.events.lock().unwrap();
        let (guard, timeout) = self
            .changed
            .wait_timeout_while(guard, Duration::from_secs(120), |events| {
                events.iter().filter(|(s, _)| *s == source).count() <= n
            })
            .unwrap();
        drop(guard);
        !timeout.timed_out()
    }
}

/// A sink that logs each complete line under `source`.
struct LineSink {
    log: Arc<EventLog>,
    source: &'static str,
    partial: Vec<u8>,
}

impl std::io::Write for LineSink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.partial.extend_from_slice(buf);
        while let Some(i) = self.partial.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = self.partial.drain(..=i).collect();
            self.log.push(self.source, String::from_utf8_lossy(&line[..i]).into_owned());
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A blocking stdin fed through a channel; end of file when the sender is dropped.
struct ChannelReader {
    rx: std::sync::mpsc::Receiver<Vec<u8>>,
    pending: Vec<u8>,
}

impl std::io::Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.pending.is_empty() {
            match self.rx.recv() {
                Ok(data) => self.pending = data,
                Err(_) => return Ok(0),
            }
        }
        let n = buf.len().min(self.pending.len());
        buf[..n].copy_from_slice(&self.pending[..n]);
        self.pending.drain(..n);
        Ok(n)
    }
}

/// `stdin-lines` reading a slow stdin under `run_async`, next to a second reactor on the same
/// thread: each line is echoed in order, and while the first waits for input the executor keeps
/// running the other (its ticker lines appear before the next input is even sent) and the
/// first's own ticker goroutine. A blocking read would stall the whole executor: the feeder
/// would then give up waiting and the test fail.
pub fn stdin_interleaves<E: WasmEngine>(fx: &Fixtures<E>) {
    const LINES: usize = 4;
    let log = Arc::new(EventLog::default());
    let sink = |source| LineSink {
        log: log.clone(),
        source,
        partial: Vec::new(),
    };
    let (tx_a, rx_a) = std::sync::mpsc::channel::<Vec<u8>>();
    let (tx_b, rx_b) = std::sync::mpsc::channel::<Vec<u8>>();
    let config = |rx, out, err| {
        ReactorConfig::new()
            .arg("stdin-lines")
            .stdin(ChannelReader { rx, pending: Vec::new() })
            .stdout(sink(out))
            .stderr(sink(err))
    };
    let module = fx.module("stdin-lines");
    let mut a = module.instantiate(config(rx_a, "a", "a-tick")).unwrap();
    let mut b = module.instantiate(config(rx_b, "b", "b-tick")).unwrap();
    let feeder_log = log.clone();
    let feeder = std::thread::spawn(move || {
        let mut stalled = Vec::new();
        for k in 0..LINES {
            // Before each line: the other reactor and a's own ticker both make progress.
            for source in ["b-tick", "a-tick"] {
                let seen = feeder_log.count(source);
                if !feeder_log.wait_beyond(source, seen + 1) {
                    stalled.push(format!("before line {k}: no output from {source}"));
                }
            }
            feeder_log.push("sent", format!("line {k}"));
            tx_a.send(format!("line {k}\n").into_bytes()).unwrap();
            if !feeder_log.wait_beyond("a", k) {
                stalled.push(format!("line {k} was not echoed"));
            }
        }
        drop(tx_a);
        drop(tx_b);
        stalled
    });
    let (ra, rb) = futures::executor::block_on(futures::future::join(run_async(&mut a), run_async(&mut b)));
    let stalled = feeder.join().unwrap();
    assert!(stalled.is_empty(), "{stalled:?}");
    assert_eq!(ra.unwrap(), Completion::Exited(0));
    assert_eq!(rb.unwrap(), Completion::Exited(0));
    let events = log.events.lock().unwrap().clone();
    let of = |source: &str| -> Vec<String> { events.iter().filter(|(s, _)| *s == source).map(|(_, l)| l.clone()).collect() };
    let want_a: Vec<String> = (0..LINES)
        .map(|k| format!("{}: line {k}", k + 1))
        .chain([format!("end of input: {LINES} lines, {} bytes", LINES * 6)])
        .collect();
    assert_eq!(of("a"), want_a);
    assert_eq!(of("b"), ["end of input: 0 lines, 0 bytes"]);
    // Order: every echo comes after its line was sent, and b ticked between any two echoes.
    let pos = |source: &str, line: &str| events.iter().position(|(s, l)| *s == source && l == line).unwrap();
    for k in 0..LINES {
        assert!(pos("sent", &format!("line {k}")) < pos("a", &format!("{}: line {k}", k + 1)));
    }
    for k in 1..LINES {
        let (prev, next) = (pos("a", &format!("{k}: line {}", k - 1)), pos("a", &format!("{}: line {k}", k + 1)));
        assert!(
            events[prev..next].iter().any(|(s, _)| *s == "b-tick"),
            "the other reactor ran between echoes {k} and {}",
            k + 1
        );
    }
}

/// Runs fixture `name` on one engine as a command-line host would, returning its stdout.
fn stdout_of<E: WasmEngine>(fx: &Fixtures<E>, name: &str) -> Vec<u8> {
    let io = Io::default();
    let [add, log] = host_imports(Arc::default());
    let nop = HostFunc::wrap("env", "host_nop", |_: &mut Caller<'_>, x: i32| {
        Ok::<_, HostError>(x.wrapping_add(1))
    });
    let mut r = fx
        .module(name)
        .instantiate(io.config(name).import(add).import(log).import(nop))
        .unwrap();
    // The ending is part of what every engine must agree on.
    match (expected(name).exit, r.run()) {
        (ExpectedExit::Code(code), Ok(Completion::Exited(got))) => assert_eq!(got, code, "{name}"),
        (ExpectedExit::Code(0), Ok(Completion::Finished)) => assert_eq!(r.abi(), Abi::Legacy, "{name}"),
        (ExpectedExit::Code(2), Err(Error::GuestPanic { .. })) => {}
        (ExpectedExit::Deadlock | ExpectedExit::Idle, Ok(Completion::Idle)) => assert_eq!(r.abi(), Abi::V1, "{name}"),
        (want, got) => panic!("{name}: expected {want:?}, got {got:?}"),
    }
    io.stdout.contents()
}

macro_rules! conformance {
    ($engine:ident, $ty:ty) => {
        mod $engine {
            use std::sync::LazyLock;
            static FIXTURES: LazyLock<crate::Fixtures<$ty>> = LazyLock::new(Default::default);
            conformance!(@tests hello timers exit_code panic random_fails_closed deadlock busy args_env stdout_big initsleep legacy_hello
                exports hostcall async_two_executors many_reactors_one_thread not_a_reactor
                typed_calls memory_limit runaway_guest module_cache stdin_lines stdin_interleaves
                files_host_dir files_memory);
            pub fn stdout_of(name: &str) -> Vec<u8> {
                crate::stdout_of(&FIXTURES, name)
            }
        }
    };
    (@tests $($case:ident)*) => {
        $(#[test] fn $case() { crate::$case(&FIXTURES) })*
    };
}

#[cfg(feature = "wasmtime")]
conformance!(wasmtime, go_reactor::engines::WasmtimeEngine);
#[cfg(feature = "wasmer")]
conformance!(wasmer, go_reactor::engines::WasmerEngine);
#[cfg(feature = "wasmi")]
conformance!(wasmi, go_reactor::engines::WasmiEngine);
#[cfg(feature = "wasm3")]
conformance!(wasm3, go_reactor::engines::Wasm3Engine);

/// Runs a fixture on one engine and returns its stdout.
type StdoutOf = fn(&str) -> Vec<u8>;

/// Every fixture's stdout is byte-identical on every enabled engine (and equal to native Go's
/// where recorded). This is the only place `cpu` runs in the suite.
#[test]
fn stdout_identical_across_engines() {
    #[allow(unused_mut)]
    let mut engines: Vec<(&str, StdoutOf)> = Vec::new();
    #[cfg(feature = "wasmtime")]
    engines.push(("wasmtime", wasmtime::stdout_of));
    #[cfg(feature = "wasmer")]
    engines.push(("wasmer", wasmer::stdout_of));
    #[cfg(feature = "wasmi")]
    engines.push(("wasmi", wasmi::stdout_of));
    #[cfg(feature = "wasm3")]
    engines.push(("wasm3", wasm3::stdout_of));
    for name in common::FIXTURES {
        let outputs: Vec<(&str, Vec<u8>)> = engines.iter().map(|(engine, run)| (*engine, run(name))).collect();
        for (engine, out) in &outputs {
            assert_eq!(out, &outputs[0].1, "{name}: {engine} and {} differ", outputs[0].0);
            common::check_stdout(&format!("{name} on {engine}"), &expected(name), out);
        }
    }
}
