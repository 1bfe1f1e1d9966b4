//! The hostile-fixture suite: modules and guests that try to break the host, on every engine.
//!
//! Go never produces these modules, so they are hand-written WAT. Each is a minimal valid
//! reactor (`memory`, `_initialize`, `go_start_main`, `go_tick`) except for the part under test.
//! Checks of WASI behaviour run *inside* the guest: `go_tick` compares every errno with the
//! expected one and returns `-1` (idle) when all matched, or `-(1000 * step + errno)` for the
//! first mismatch, which the host sees as `Error::InvalidTick` and decodes in the failure
//! message. A trap or a host panic would be a host bug.
//!
//! Every case is written once, generic over the engine, and instantiated for each enabled
//! engine feature by the macro at the end (like tests/conformance.rs).

mod common;

use std::io::{self, BufWriter, Write};
use std::time::Duration;

use go_reactor::wasi_min::MemoryError;
use go_reactor::wasi_min::clock::ManualClock;
use go_reactor::wasi_min::sink::SharedBuffer;
use go_reactor::{
    Completion, Ending, Error, FuncType, HostError, HostFunc, Limits, LoopResult, Module, Reactor, ReactorConfig, ReactorExt, TrapKind,
    Val, WasmEngine,
};

/// The WASI imports the fixtures use (unused ones are linked too, which is part of the test).
const WASI: &str = r#"
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_read" (func $fd_read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "args_get" (func $args_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "args_sizes_get" (func $args_sizes_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "environ_get" (func $environ_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "random_get" (func $random_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "clock_time_get" (func $clock_time_get (param i32 i64 i32) (result i32)))
  (import "wasi_snapshot_preview1" "poll_oneoff" (func $poll_oneoff (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (import "wasi_snapshot_preview1" "proc_raise" (func $proc_raise (param i32) (result i32)))
  (import "wasi_snapshot_preview1" "sched_yield" (func $sched_yield (result i32)))
  (import "wasi_snapshot_preview1" "fd_close" (func $fd_close (param i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_seek" (func $fd_seek (param i32 i64 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_prestat_get" (func $fd_prestat_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_open"
    (func $path_open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "sock_accept" (func $sock_accept (param i32 i32 i32) (result i32)))
"#;

/// Helpers every fixture gets: `$fail` (what `go_tick` returns when it ends with
/// `global.get $fail`), `$expect step want got`, `$expect_u32 step addr want` and `$end` (the
/// memory size in bytes).
const HELPERS: &str = r#"
  (global $fail (mut i32) (i32.const -1))
  (func $expect (param $step i32) (param $want i32) (param $got i32)
    (if (i32.and (i32.ne (local.get $got) (local.get $want)) (i32.eq (global.get $fail) (i32.const -1)))
      (then (global.set $fail
        (i32.sub (i32.const 0)
          (i32.add (i32.mul (local.get $step) (i32.const 1000)) (i32.and (local.get $got) (i32.const 0x3ff))))))))
  (func $expect_u32 (param $step i32) (param $addr i32) (param $want i32)
    (call $expect (local.get $step) (local.get $want) (i32.load (local.get $addr))))
  (func $end (result i32) (i32.mul (memory.size) (i32.const 65536)))
"#;

/// A reactor module: WASI imports, helpers, and the given pieces.
struct Wat<'a> {
    imports: &'a str,
    memory: &'a str,
    init: &'a str,
    start_main: &'a str,
    tick: &'a str,
    extra: &'a str,
}

impl Default for Wat<'_> {
    fn default() -> Self {
        Self {
            imports: "",
            memory: r#"(memory (export "memory") 1)"#,
            init: "",
            start_main: "",
            tick: "(i32.const -1)",
            extra: "",
        }
    }
}

impl Wat<'_> {
    fn source(&self) -> String {
        let Wat {
            imports,
            memory,
            init,
            start_main,
            tick,
            extra,
        } = self;
        format!(
            r#"(module {WASI} {imports} {memory} {HELPERS}
  (func (export "_initialize") {init})
  (func (export "go_start_main") {start_main})
  (func $go_tick (export "go_tick") (result i32) {tick})
  {extra})"#
        )
    }
    fn bytes(&self) -> Vec<u8> {
        parse(&self.source())
    }
    fn module<E: WasmEngine>(&self, engine: &E) -> Module<E> {
        Module::new(engine, &self.bytes()).unwrap_or_else(|e| panic!("{}: fixture does not compile: {e}", engine.info().name))
    }
}

fn parse(wat: &str) -> Vec<u8> {
    wat::parse_str(wat).unwrap_or_else(|e| panic!("bad WAT in the test: {e}\n{wat}"))
}

/// Captured output and a configuration using it: a manual clock (a guest that sleeps never
/// blocks the test), fixed args and env.
struct Io {
    stdout: SharedBuffer,
    stderr: SharedBuffer,
}

impl Io {
    fn new() -> Self {
        Self {
            stdout: SharedBuffer::new(),
            stderr: SharedBuffer::new(),
        }
    }
    fn config(&self) -> ReactorConfig {
        ReactorConfig::new()
            .args(["prog", "x"])
            .env("K", "V")
            .stdout(self.stdout.clone())
            .stderr(self.stderr.clone())
            .clock(ManualClock::new(1_000_000_000))
    }
}

fn name<E: WasmEngine>(engine: &E) -> &'static str {
    engine.info().name
}

/// Checks that a tick result is `Idle`, decoding a failed in-guest check otherwise.
#[track_caller]
fn assert_idle(result: go_reactor::Result<LoopResult>, what: &str) {
    match result {
        Ok(LoopResult::Idle) => {}
        Err(Error::InvalidTick { value }) if value <= -1000 => {
            panic!(
                "{what}: in-guest check {} failed: got {} (low 10 bits)",
                -value / 1000,
                -value % 1000
            )
        }
        other => panic!("{what}: expected Ok(Idle), got {other:?}"),
    }
}

/// Checks that a reactor that ended refuses every further call with `Error::Ended`.
#[track_caller]
fn assert_refuses_calls(r: &mut dyn Reactor, what: &str) {
    assert!(r.ended().is_some(), "{what}: ended() must say how it ended");
    for (call, result) in [
        ("tick", r.tick().map(drop)),
        ("start_main", r.start_main()),
        ("call go_tick", r.call("go_tick", &[]).map(drop)),
        ("call _initialize", r.call("_initialize", &[]).map(drop)),
    ] {
        assert!(
            matches!(result, Err(Error::Ended { .. })),
            "{what}: {call} after the end: {result:?}"
        );
    }
}

fn compile_err<E: WasmEngine>(engine: &E, wasm: &[u8]) -> Error {
    match Module::new(engine, wasm) {
        Ok(_) => panic!("{}: module was accepted", name(engine)),
        Err(e) => e,
    }
}

fn instantiate_err<E: WasmEngine>(module: &Module<E>, config: ReactorConfig) -> Error {
    match module.instantiate(config) {
        Ok(r) => panic!("instantiation succeeded: {r:?}"),
        Err(e) => e,
    }
}

// ----------------------------------------------------------------------------------------------
// Bytes that are not a (reactor) module.

pub fn invalid_bytes<E: WasmEngine>(engine: &E) {
    let engine_name = name(engine);
    let mut huge_section = b"\0asm\x01\0\0\0\x01\xff\xff\xff\xff\x0f".to_vec();
    huge_section.extend_from_slice(&[0x60; 32]);
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("empty", vec![]),
        ("magic only", b"\0asm".to_vec()),
        ("version 2", b"\0asm\x02\0\0\0".to_vec()),
        ("component", b"\0asm\x0d\0\x01\0".to_vec()),
        ("text", b"not wasm at all".to_vec()),
        ("garbage after header", b"\0asm\x01\0\0\0garbage".to_vec()),
        ("section length beyond the end", huge_section),
        ("64 KiB of 0xff", vec![0xff; 65536]),
        ("unknown section id", b"\0asm\x01\0\0\0\x7f\x01\x00".to_vec()),
        ("ill-typed body", parse(r#"(module (func (result f32) i32.const 1))"#)),
        (
            "call to a missing function",
            // A code section calling function 5 of 1.
            b"\0asm\x01\0\0\0\x01\x04\x01\x60\0\0\x03\x02\x01\0\x0a\x06\x01\x04\0\x10\x05\x0b".to_vec(),
        ),
    ];
    for (what, bytes) in cases {
        match compile_err(engine, &bytes) {
            Error::Compile { engine: e, .. } => {
                assert_eq!(e, engine_name, "{what}");
                let err = compile_err(engine, &bytes).to_string();
                assert!(err.starts_with(&format!("{engine_name}: cannot compile module")), "{what}: {err}");
            }
            other => panic!("{what}: expected Error::Compile, got {other:?}"),
        }
    }
}

pub fn truncated_module<E: WasmEngine>(engine: &E) {
    let wat = Wat {
        init: "(drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))",
        extra: r#"(data (i32.const 0) "\10\00\00\00\02\00\00\00") (data (i32.const 16) "hi")"#,
        ..Wat::default()
    };
    let full = wat.bytes();
    assert!(Module::new(engine, &full).is_ok());
    // Every proper prefix: invalid bytes, or (cut at a section boundary) a valid module that lacks
    // the reactor exports or, cut before the data section, a smaller valid reactor. Never a panic.
    let boundaries = section_ends(&full);
    for len in 0..full.len() {
        match Module::new(engine, &full[..len]) {
            Err(Error::Compile { .. } | Error::NotAReactor { .. }) => {}
            Err(other) => panic!("prefix of {len} bytes: unexpected error {other:?}"),
            Ok(module) => {
                assert!(
                    boundaries.contains(&len),
                    "prefix of {len} bytes (not a section boundary) was accepted"
                );
                let mut r = module.instantiate(Io::new().config()).unwrap();
                assert_idle(r.tick(), "a reactor without its data section");
            }
        }
    }
    // A real Go reactor cut short.
    let hello = common::wasm_bytes("hello");
    for len in [9, 1000, hello.len() / 2, hello.len() - 1] {
        assert!(
            matches!(Module::new(engine, &hello[..len]), Err(Error::Compile { .. })),
            "hello.wasm cut to {len} bytes"
        );
    }
}

/// Where the sections of a module end (byte offsets).
fn section_ends(wasm: &[u8]) -> Vec<usize> {
    let mut ends = vec![8];
    let mut at = 8;
    while at < wasm.len() {
        at += 1; // section id
        let (mut size, mut shift) = (0usize, 0);
        loop {
            let b = wasm[at];
            at += 1;
            size |= usize::from(b & 0x7f) << shift;
            shift += 7;
            if b & 0x80 == 0 {
                break;
            }
        }
        at += size;
        ends.push(at);
    }
    ends
}

pub fn missing_exports<E: WasmEngine>(engine: &E) {
    let m = r#"(memory (export "memory") 1)"#;
    let init = r#"(func (export "_initialize"))"#;
    let start = r#"(func (export "go_start_main"))"#;
    let tick = r#"(func (export "go_tick") (result i32) i32.const -1)"#;
    let cases = [
        ("no _initialize", format!("(module {m} {start} {tick})"), "no `_initialize`"),
        (
            "a command",
            format!(r#"(module {m} (func (export "_start")) {start} {tick})"#),
            "WASI command",
        ),
        (
            "no go_start_main",
            format!("(module {m} {init} {tick})"),
            "reactor-enabled Go runtime",
        ),
        ("no go_tick", format!("(module {m} {init} {start})"), "reactor-enabled Go runtime"),
        ("no memory", format!("(module {init} {start} {tick})"), "no `memory`"),
        (
            "memory under another name",
            format!(r#"(module (memory (export "mem") 1) {init} {start} {tick})"#),
            "no `memory`",
        ),
        (
            "memory not exported",
            format!(r#"(module (memory 1) {init} {start} {tick})"#),
            "no `memory`",
        ),
    ];
    for (what, wat, reason_contains) in cases {
        match compile_err(engine, &parse(&wat)) {
            Error::NotAReactor { reason } => assert!(reason.contains(reason_contains), "{what}: {reason}"),
            other => panic!("{what}: expected NotAReactor, got {other:?}"),
        }
    }
}

pub fn mistyped_exports<E: WasmEngine>(engine: &E) {
    let m = r#"(memory (export "memory") 1)"#;
    let init = r#"(func (export "_initialize"))"#;
    let start = r#"(func (export "go_start_main"))"#;
    let tick = r#"(func (export "go_tick") (result i32) i32.const -1)"#;
    let cases = [
        (
            "_initialize",
            format!(r#"(module {m} (func (export "_initialize") (param i32)) {start} {tick})"#),
        ),
        (
            "_initialize",
            format!(r#"(module {m} (func (export "_initialize") (result i32) i32.const 0) {start} {tick})"#),
        ),
        (
            "_initialize",
            format!(r#"(module {m} (table (export "_initialize") 1 funcref) {start} {tick})"#),
        ),
        (
            "go_start_main",
            format!(r#"(module {m} {init} (func (export "go_start_main") (result i32) i32.const 0) {tick})"#),
        ),
        ("go_tick", format!(r#"(module {m} {init} {start} (func (export "go_tick")))"#)),
        (
            "go_tick",
            format!(r#"(module {m} {init} {start} (func (export "go_tick") (result i64) i64.const -1))"#),
        ),
        (
            "go_tick",
            format!(r#"(module {m} {init} {start} (func (export "go_tick") (param i32) (result i32) i32.const -1))"#),
        ),
        (
            "go_tick",
            format!(r#"(module {m} {init} {start} (global (export "go_tick") i32 (i32.const -1)))"#),
        ),
        ("memory", format!(r#"(module (func (export "memory")) {init} {start} {tick})"#)),
        (
            "go_reactor_abi",
            format!(r#"(module {m} {init} {start} {tick} (func (export "go_reactor_abi") (result i64) i64.const 1))"#),
        ),
    ];
    for (export, wat) in cases {
        match compile_err(engine, &parse(&wat)) {
            err @ Error::ExportType { .. } => {
                let Error::ExportType { name, .. } = &err else { unreachable!() };
                assert_eq!(name, export);
                assert!(err.to_string().contains(&format!("`{export}`")), "{err}");
            }
            other => panic!("mistyped {export}: expected ExportType, got {other:?}"),
        }
    }
}

pub fn unsupported_abi<E: WasmEngine>(engine: &E) {
    for version in [0, 2, -1, i32::MAX] {
        let extra = format!(r#"(func (export "go_reactor_abi") (result i32) i32.const {version})"#);
        let module = Wat {
            extra: &extra,
            ..Wat::default()
        }
        .module(engine);
        match instantiate_err(&module, Io::new().config()) {
            Error::UnsupportedAbi { version: v } => assert_eq!(v, version),
            other => panic!("ABI {version}: {other:?}"),
        }
    }
}

pub fn unresolved_imports<E: WasmEngine>(engine: &E) {
    let body = r#"(memory (export "memory") 1) (func (export "_initialize")) (func (export "go_start_main"))
        (func (export "go_tick") (result i32) i32.const -1)"#;
    let cases = [
        (
            r#"(import "wasi_snapshot_preview1" "no_such_call" (func))"#,
            "no_such_call",
            "not a WASI",
        ),
        (
            r#"(import "wasi_unstable" "fd_write" (func (param i32 i32 i32 i32) (result i32)))"#,
            "fd_write",
            "ReactorConfig::import",
        ),
        (r#"(import "env" "host_fn" (func (param i32)))"#, "host_fn", "ReactorConfig::import"),
        (r#"(import "env" "table" (table 1 funcref))"#, "table", "only function imports"),
        (r#"(import "env" "g" (global i32))"#, "g", "only function imports"),
    ];
    for (import, want_name, hint) in cases {
        let module = Module::new(engine, &parse(&format!("(module {import} {body})"))).unwrap();
        let err = instantiate_err(&module, Io::new().config());
        match &err {
            Error::UnresolvedImport { name, .. } => {
                assert_eq!(name, want_name);
                assert!(err.to_string().contains(hint), "{err}");
            }
            other => panic!("{import}: {other:?}"),
        }
    }
    // An imported memory (exported as `memory`): the host provides none.
    let wat = r#"(module (import "env" "mem" (memory 1)) (export "memory" (memory 0)) (func (export "_initialize"))
        (func (export "go_start_main")) (func (export "go_tick") (result i32) i32.const -1))"#;
    let module = Module::new(engine, &parse(wat)).unwrap();
    match instantiate_err(&module, Io::new().config()) {
        err @ Error::UnresolvedImport { .. } => assert!(err.to_string().contains("only function imports"), "{err}"),
        other => panic!("imported memory: {other:?}"),
    }
    // WASI functions imported with the wrong signature.
    for import in [
        r#"(import "wasi_snapshot_preview1" "fd_write" (func (param i64 i32 i32 i32) (result i32)))"#,
        r#"(import "wasi_snapshot_preview1" "proc_exit" (func (param i32) (result i32)))"#,
        r#"(import "wasi_snapshot_preview1" "sched_yield" (func))"#,
    ] {
        let module = Module::new(engine, &parse(&format!("(module {import} {body})"))).unwrap();
        let err = instantiate_err(&module, Io::new().config());
        assert!(matches!(err, Error::ImportType { .. }), "{import}: {err:?}");
        assert!(err.to_string().contains("wasi_snapshot_preview1::"), "{err}");
    }
}

// ----------------------------------------------------------------------------------------------
// Guests that misbehave at run time.

pub fn invalid_tick_values<E: WasmEngine>(engine: &E) {
    let wat = Wat {
        tick: "(global.get $next)",
        extra: r#"(global $next (mut i32) (i32.const -1))
            (func (export "set") (param i32) (global.set $next (local.get 0)))"#,
        ..Wat::default()
    };
    let module = wat.module(engine);
    let mut r = module.instantiate(Io::new().config()).unwrap();
    r.start_main().unwrap();
    for (value, want) in [
        (0, LoopResult::Ready),
        (1, LoopResult::Timer(Duration::from_millis(1))),
        (i32::MAX, LoopResult::Timer(Duration::from_millis(i32::MAX as u64))),
        (-1, LoopResult::Idle),
    ] {
        r.call("set", &[Val::I32(value)]).unwrap();
        assert_eq!(r.tick().unwrap(), want, "go_tick returning {value}");
    }
    for value in [-7, -2, i32::MIN] {
        let mut r = module.instantiate(Io::new().config()).unwrap();
        r.call("set", &[Val::I32(value)]).unwrap();
        let err = r.tick().unwrap_err();
        assert!(matches!(err, Error::InvalidTick { value: v } if v == value), "{value}: {err:?}");
        assert_eq!(
            err.to_string(),
            format!("go_tick returned {value}, which is not a valid tick result")
        );
        assert_eq!(r.ended(), Some(&Ending::InvalidTick(value)));
        assert_refuses_calls(&mut r, "after an invalid tick value");
    }
}

/// A call on a reactor, for tables of cases.
type ReactorCall = fn(&mut dyn Reactor) -> go_reactor::Result<()>;

/// Traps of several kinds in `_initialize`, `go_start_main`, `go_tick` and an ordinary export.
pub fn traps_are_typed<E: WasmEngine>(engine: &E) {
    let engine_name = name(engine);
    let kinds = [
        ("unreachable", TrapKind::Unreachable),
        ("(drop (i32.load (i32.const 65536)))", TrapKind::MemoryOutOfBounds),
        ("(drop (i32.load (i32.const -1)))", TrapKind::MemoryOutOfBounds),
        ("(drop (i32.div_u (i32.const 1) (i32.const 0)))", TrapKind::IntegerDivisionByZero),
        (
            "(drop (i32.div_s (i32.const 0x80000000) (i32.const -1)))",
            TrapKind::IntegerOverflow,
        ),
        ("(drop (i32.trunc_f32_s (f32.const nan)))", TrapKind::IntegerOverflow),
        ("(call_indirect (i32.const 0))", TrapKind::BadIndirectCall),
        ("(call_indirect (i32.const 7))", TrapKind::BadIndirectCall),
    ];
    let table = "(table 2 funcref)";
    for (code, kind) in kinds {
        // In _initialize: instantiation fails.
        let wat = Wat {
            init: code,
            extra: table,
            ..Wat::default()
        };
        let err = instantiate_err(&wat.module(engine), Io::new().config());
        match &err {
            Error::Trap { engine, export, trap, .. } => {
                assert_eq!(
                    (*engine, export.as_str(), trap.kind),
                    (engine_name, "_initialize", kind),
                    "{code}: {err}"
                );
                let text = err.to_string();
                assert!(text.contains(engine_name) && text.contains("`_initialize`"), "{text}");
            }
            other => panic!("{code} in _initialize: {other:?}"),
        }

        // In go_start_main, go_tick and an export: that call fails, then the reactor refuses calls.
        let tick = format!("{code} (i32.const -1)");
        let extra = format!(r#"{table} (func (export "boom") {code})"#);
        let wat = Wat {
            start_main: code,
            tick: &tick,
            extra: &extra,
            ..Wat::default()
        };
        let module = wat.module(engine);
        let io = Io::new();
        let calls: [(&str, ReactorCall); 3] = [
            ("go_start_main", |r| r.start_main()),
            ("go_tick", |r| r.tick().map(drop)),
            ("boom", |r| r.call("boom", &[]).map(drop)),
        ];
        for (export, call) in calls {
            let mut r = module.instantiate(io.config()).unwrap();
            match call(&mut r) {
                Err(Error::Trap {
                    engine, export: e, trap, ..
                }) => {
                    assert_eq!((engine, e.as_str(), trap.kind), (engine_name, export, kind), "{code}")
                }
                other => panic!("{code} in {export}: {other:?}"),
            }
            assert_refuses_calls(&mut r, export);
        }
    }
}

/// `go_tick` calling itself (the only re-entrance a guest can do: a host import gets a `Caller`,
/// never the reactor, which is `&mut`-borrowed during a tick). Unbounded recursion, also with a
/// host call at every level (host code running at the deepest point), is a `StackOverflow` trap.
pub fn reentrant_go_tick_overflows_cleanly<E: WasmEngine>(engine: &E) {
    let engine_name = name(engine);
    for tick in [
        "(call $go_tick)",
        "(drop (call $sched_yield)) (call $go_tick)",
        "(drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 0) (i32.const 16))) (call $go_tick)",
    ] {
        let module = Wat { tick, ..Wat::default() }.module(engine);
        let mut r = module.instantiate(Io::new().config()).unwrap();
        match r.tick() {
            Err(Error::Trap { engine, export, trap, .. }) => {
                assert_eq!(
                    (engine, export.as_str(), trap.kind),
                    (engine_name, "go_tick", TrapKind::StackOverflow),
                    "{tick}"
                )
            }
            other => panic!("{tick}: {other:?}"),
        }
        assert_refuses_calls(&mut r, "after a stack overflow");
    }
    // The same during _initialize.
    let module = Wat {
        init: "(drop (call $go_tick))",
        tick: "(call $go_tick)",
        ..Wat::default()
    }
    .module(engine);
    match instantiate_err(&module, Io::new().config()) {
        Error::Trap { export, trap, .. } => assert_eq!((export.as_str(), trap.kind), ("_initialize", TrapKind::StackOverflow)),
        other => panic!("{other:?}"),
    }
}

/// WASI calls with pointers and lengths that fall outside memory or wrap around the 32-bit
/// address space: every one is `EFAULT` (or `EINVAL`), writes nothing and consumes nothing.
pub fn wasi_hostile_pointers<E: WasmEngine>(engine: &E) {
    let tick = r#"
    (local $i i32)
    (i32.store (i32.const 512) (i32.const 0x5a5a5a5a))
    ;; fd_write: an iovec list that wraps around the address space / straddles the end of memory
    (call $expect (i32.const 1) (i32.const 21) (call $fd_write (i32.const 1) (i32.const -8) (i32.const 2) (i32.const 512)))
    (call $expect (i32.const 2) (i32.const 21)
      (call $fd_write (i32.const 1) (i32.sub (call $end) (i32.const 8)) (i32.const 2) (i32.const 512)))
    ;; an iovec whose buffer wraps; one whose length runs off the end; a good one then a bad one
    (call $expect (i32.const 3) (i32.const 21) (call $fd_write (i32.const 1) (i32.const 16) (i32.const 1) (i32.const 512)))
    (call $expect (i32.const 4) (i32.const 21) (call $fd_write (i32.const 1) (i32.const 24) (i32.const 1) (i32.const 512)))
    (call $expect (i32.const 5) (i32.const 21) (call $fd_write (i32.const 1) (i32.const 32) (i32.const 2) (i32.const 512)))
    ;; huge iovec counts: rejected at once, no loop, no allocation
    (call $expect (i32.const 6) (i32.const 21)
      (call $fd_write (i32.const 1) (i32.const 0) (i32.const 0x7fffffff) (i32.const 512)))
    (call $expect (i32.const 7) (i32.const 21) (call $fd_write (i32.const 1) (i32.const 0) (i32.const -1) (i32.const 512)))
    ;; nwritten pointer wrapping / in the last bytes
    (call $expect (i32.const 8) (i32.const 21) (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const -2)))
    (call $expect (i32.const 9) (i32.const 21)
      (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.sub (call $end) (i32.const 2))))
    (call $expect_u32 (i32.const 10) (i32.const 512) (i32.const 0x5a5a5a5a))
    ;; args/environ into the last page
    (call $expect (i32.const 11) (i32.const 21) (call $args_get (i32.sub (call $end) (i32.const 2)) (i32.const 0x1000)))
    (call $expect (i32.const 12) (i32.const 21) (call $args_get (i32.const 0x1000) (i32.sub (call $end) (i32.const 1))))
    (call $expect (i32.const 13) (i32.const 21) (call $args_sizes_get (i32.const -4) (i32.const 0x1000)))
    (call $expect (i32.const 14) (i32.const 21) (call $environ_get (i32.sub (call $end) (i32.const 2)) (i32.const 0x1000)))
    (call $expect (i32.const 15) (i32.const 21) (call $random_get (i32.sub (call $end) (i32.const 8)) (i32.const 16)))
    (call $expect (i32.const 16) (i32.const 21) (call $random_get (i32.const 0) (i32.const -1)))
    (call $expect (i32.const 17) (i32.const 21)
      (call $clock_time_get (i32.const 1) (i64.const 0) (i32.sub (call $end) (i32.const 4))))
    (call $expect (i32.const 18) (i32.const 21) (call $clock_time_get (i32.const 1) (i64.const 0) (i32.const -1)))
    (call $expect (i32.const 19) (i32.const 21) (call $fd_read (i32.const 0) (i32.const -8) (i32.const 1) (i32.const 512)))
    (call $expect (i32.const 20) (i32.const 21) (call $fd_read (i32.const 0) (i32.const 0) (i32.const 0x7fffffff) (i32.const 512)))
    (call $expect (i32.const 21) (i32.const 21)
      (call $poll_oneoff (i32.const 0x1000) (i32.sub (call $end) (i32.const 16)) (i32.const 1) (i32.const 512)))
    (call $expect (i32.const 22) (i32.const 21)
      (call $poll_oneoff (i32.const 0x1000) (i32.const 0x2000) (i32.const 0x7fffffff) (i32.const 512)))
    (call $expect (i32.const 23) (i32.const 28) (call $poll_oneoff (i32.const 0x1000) (i32.const 0x2000) (i32.const 0) (i32.const 512)))
    ;; 65537 in-bounds iovecs of 64 KiB each: their total overflows u32, EINVAL, nothing written
    (loop $l
      (i32.store (i32.add (i32.const 0x10000) (i32.shl (local.get $i) (i32.const 3))) (i32.const 0))
      (i32.store offset=4 (i32.add (i32.const 0x10000) (i32.shl (local.get $i) (i32.const 3))) (i32.const 65536))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (i32.const 65537))))
    (call $expect (i32.const 24) (i32.const 28) (call $fd_write (i32.const 1) (i32.const 0x10000) (i32.const 65537) (i32.const 512)))
    (call $expect_u32 (i32.const 25) (i32.const 512) (i32.const 0x5a5a5a5a))
    ;; and a good write still works
    (call $expect (i32.const 26) (i32.const 0) (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 512)))
    (call $expect_u32 (i32.const 27) (i32.const 512) (i32.const 5))
    (global.get $fail)"#;
    let wat = Wat {
        memory: r#"(memory (export "memory") 16)"#,
        tick,
        extra: r#"
          (data (i32.const 0) "\00\01\00\00\05\00\00\00")
          (data (i32.const 16) "\ff\ff\ff\ff\02\00\00\00")
          (data (i32.const 24) "\00\01\00\00\ff\ff\ff\ff")
          (data (i32.const 32) "\00\01\00\00\05\00\00\00\f0\ff\ff\ff\20\00\00\00")
          (data (i32.const 256) "hello")"#,
        ..Wat::default()
    };
    let io = Io::new();
    let mut r = wat.module(engine).instantiate(io.config()).unwrap();
    assert_idle(r.tick(), "hostile WASI pointers");
    assert_eq!(io.stdout.contents(), b"hello", "nothing but the one good write reached stdout");
    assert!(io.stderr.is_empty());
    // Host-side accesses are checked too.
    let size = r.memory_size();
    assert_eq!(size, 16 << 16);
    let oob = |addr: u64, len: u64| MemoryError { addr, len, size };
    assert!(matches!(r.read_memory(u64::MAX, &mut [0; 4]), Err(Error::Memory(e)) if e == oob(u64::MAX, 4)));
    assert!(matches!(r.read_memory(size - 2, &mut [0; 4]), Err(Error::Memory(e)) if e == oob(size - 2, 4)));
    assert!(matches!(r.write_memory(size, &[1]), Err(Error::Memory(e)) if e == oob(size, 1)));
    assert!(matches!(r.write_memory(u64::MAX - 1, &[1, 2, 3]), Err(Error::Memory(e)) if e == oob(u64::MAX - 1, 3)));
    assert!(matches!(r.read_bytes(u32::MAX, u32::MAX), Err(Error::Memory(e)) if e == oob(u32::MAX.into(), u32::MAX.into())));
    r.read_memory(size, &mut []).unwrap();
    r.write_memory(size - 1, &[7]).unwrap();
    assert_eq!(r.read_bytes((size - 1) as u32, 1).unwrap(), [7]);
    assert!(r.ended().is_none(), "host-side mistakes do not end the reactor");
}

/// A memory of zero pages: every pointer is out of bounds, empty ranges at 0 are fine.
pub fn zero_page_memory<E: WasmEngine>(engine: &E) {
    let tick = r#"
    (call $expect (i32.const 1) (i32.const 21) (call $fd_write (i32.const 1) (i32.const 0) (i32.const 0) (i32.const 0)))
    (call $expect (i32.const 2) (i32.const 21) (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 0)))
    (call $expect (i32.const 3) (i32.const 21) (call $args_sizes_get (i32.const 0) (i32.const 4)))
    (call $expect (i32.const 4) (i32.const 0) (call $random_get (i32.const 0) (i32.const 0)))
    (call $expect (i32.const 5) (i32.const 21) (call $clock_time_get (i32.const 1) (i64.const 0) (i32.const 0)))
    (call $expect (i32.const 6) (i32.const 21) (call $poll_oneoff (i32.const 0) (i32.const 0) (i32.const 1) (i32.const 0)))
    (call $expect (i32.const 7) (i32.const 0) (memory.grow (i32.const 1)))
    (call $expect (i32.const 8) (i32.const 0) (call $fd_write (i32.const 1) (i32.const 0) (i32.const 0) (i32.const 0)))
    (global.get $fail)"#;
    let wat = Wat {
        memory: r#"(memory (export "memory") 0)"#,
        tick,
        ..Wat::default()
    };
    let mut r = wat.module(engine).instantiate(Io::new().config()).unwrap();
    assert_eq!(r.memory_size(), 0);
    assert!(matches!(r.read_memory(0, &mut [0]), Err(Error::Memory(_))));
    assert_idle(r.tick(), "zero-page memory");
    assert_eq!(r.memory_size(), 65536);
}

/// The guest sees stdin/stdout/stderr and nothing else: no preopened directory, no file, no socket.
pub fn no_filesystem_or_network<E: WasmEngine>(engine: &E) {
    let tick = r#"
    (call $expect (i32.const 1) (i32.const 8) (call $fd_prestat_get (i32.const 3) (i32.const 512)))
    (call $expect (i32.const 2) (i32.const 8)
      (call $path_open (i32.const 3) (i32.const 0) (i32.const 256) (i32.const 11) (i32.const 0)
                       (i64.const -1) (i64.const -1) (i32.const 0) (i32.const 512)))
    (call $expect (i32.const 3) (i32.const 54)
      (call $path_open (i32.const 1) (i32.const 0) (i32.const 256) (i32.const 11) (i32.const 0)
                       (i64.const -1) (i64.const -1) (i32.const 0) (i32.const 512)))
    (call $expect (i32.const 4) (i32.const 57) (call $sock_accept (i32.const 1) (i32.const 0) (i32.const 512)))
    (call $expect (i32.const 5) (i32.const 8) (call $sock_accept (i32.const 3) (i32.const 0) (i32.const 512)))
    (call $expect (i32.const 6) (i32.const 70) (call $fd_seek (i32.const 1) (i64.const 0) (i32.const 0) (i32.const 512)))
    (call $expect (i32.const 7) (i32.const 52) (call $proc_raise (i32.const 9)))
    (call $expect (i32.const 8) (i32.const 8) (call $fd_write (i32.const 0) (i32.const 0) (i32.const 1) (i32.const 512)))
    (call $expect (i32.const 9) (i32.const 8) (call $fd_read (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 512)))
    (call $expect (i32.const 10) (i32.const 8) (call $fd_write (i32.const 1000) (i32.const 0) (i32.const 1) (i32.const 512)))
    (call $expect (i32.const 11) (i32.const 8) (call $fd_write (i32.const -1) (i32.const 0) (i32.const 1) (i32.const 512)))
    (call $expect (i32.const 12) (i32.const 0) (call $fd_close (i32.const 1)))
    (call $expect (i32.const 13) (i32.const 8) (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 512)))
    (call $expect (i32.const 14) (i32.const 8) (call $fd_close (i32.const 1)))
    (global.get $fail)"#;
    let wat = Wat {
        tick,
        extra: r#"(data (i32.const 0) "\00\01\00\00\05\00\00\00") (data (i32.const 256) "/etc/passwd")"#,
        ..Wat::default()
    };
    let io = Io::new();
    let mut r = wat.module(engine).instantiate(io.config()).unwrap();
    assert_idle(r.tick(), "sandbox");
    assert!(io.stdout.is_empty());
}

/// The file-system imports the escape fixture adds to [`WASI`].
const FS_IMPORTS: &str = r#"
  (import "wasi_snapshot_preview1" "path_create_directory" (func $path_create_directory (param i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_unlink_file" (func $path_unlink_file (param i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_rename" (func $path_rename (param i32 i32 i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_filestat_get" (func $path_filestat_get (param i32 i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_readlink" (func $path_readlink (param i32 i32 i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_symlink" (func $path_symlink (param i32 i32 i32 i32 i32) (result i32)))
"#;

/// A preopened host directory is all the guest reaches. The sandbox holds `inside.txt`, a
/// directory `sub`, symlinks pointing out (`out_rel` -> `../secret.txt`, `out_abs` -> the
/// secret's absolute path, `up` -> `..`) and a loop; `secret.txt` lies next to it. Raw
/// `path_*` calls with `..`, absolute paths and those links get `ENOTCAPABLE` (76), the loop
/// `ELOOP` (32), the same directory preopened read-only `EROFS` (69) for every change; and
/// afterwards nothing outside the sandbox was read, created, moved or changed.
#[cfg(unix)]
pub fn preopen_escapes_refused<E: WasmEngine>(engine: &E) {
    let base = std::env::temp_dir().join(format!("go-reactor-escape-{}-{}", name(engine), std::process::id()));
    let _ = std::fs::remove_dir_all(&base);
    let sandbox = base.join("sandbox");
    std::fs::create_dir_all(sandbox.join("sub")).unwrap();
    std::fs::write(base.join("secret.txt"), b"secret").unwrap();
    std::fs::write(sandbox.join("inside.txt"), b"inside").unwrap();
    std::os::unix::fs::symlink("../secret.txt", sandbox.join("out_rel")).unwrap();
    std::os::unix::fs::symlink(base.join("secret.txt"), sandbox.join("out_abs")).unwrap();
    std::os::unix::fs::symlink("..", sandbox.join("up")).unwrap();
    std::os::unix::fs::symlink("loop", sandbox.join("loop")).unwrap();
    let listing = |dir: &std::path::Path| -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    };
    let (outside_before, inside_before) = (listing(&base), listing(&sandbox));

    // Strings at 1024 + 64 * i; path_open(fd, lookupflags, path, len, oflags, rights, rights, fdflags, *fd).
    // Rights asked for: everything when writing, else read/seek/tell (as Go asks for O_RDONLY).
    let open = |step: i32, want: i32, fd: i32, follow: i32, slot: i32, len: i32, oflags: i32| {
        let rights = if oflags == 0 { 2 | 4 | 32 } else { -1 };
        format!(
            "(call $expect (i32.const {step}) (i32.const {want})
               (call $path_open (i32.const {fd}) (i32.const {follow}) (i32.const {}) (i32.const {len}) (i32.const {oflags})
                                (i64.const {rights}) (i64.const {rights}) (i32.const 0) (i32.const 512)))",
            1024 + 64 * slot
        )
    };
    let at = |slot: i32| 1024 + 64 * slot;
    let tick = [
        open(1, 76, 3, 1, 0, 13, 0), // ../secret.txt
        open(2, 76, 3, 1, 1, 11, 0), // /etc/passwd
        open(3, 76, 3, 1, 2, 20, 0), // sub/../../secret.txt
        open(4, 76, 3, 1, 3, 7, 0),  // out_rel
        open(5, 76, 3, 1, 4, 7, 0),  // out_abs
        open(6, 32, 3, 1, 5, 4, 0),  // loop
        open(7, 76, 3, 1, 6, 13, 0), // up/secret.txt
        open(8, 76, 3, 1, 3, 7, 9),  // out_rel with O_CREAT|O_TRUNC: no write through the link
        format!(
            "(call $expect (i32.const 9) (i32.const 76) (call $path_create_directory (i32.const 3) (i32.const {}) (i32.const 10)))",
            at(7)
        ),
        format!(
            "(call $expect (i32.const 10) (i32.const 76)
               (call $path_rename (i32.const 3) (i32.const {}) (i32.const 10) (i32.const 3) (i32.const {}) (i32.const 12)))",
            at(8),
            at(9)
        ),
        format!(
            "(call $expect (i32.const 11) (i32.const 76) (call $path_unlink_file (i32.const 3) (i32.const {}) (i32.const 13)))",
            at(0)
        ),
        format!(
            "(call $expect (i32.const 12) (i32.const 76)
               (call $path_filestat_get (i32.const 3) (i32.const 1) (i32.const {}) (i32.const 13) (i32.const 640)))",
            at(0)
        ),
        open(13, 0, 3, 1, 8, 10, 0),  // inside.txt: allowed
        open(14, 8, 99, 1, 8, 10, 0), // not a descriptor
        open(15, 8, 5000, 1, 8, 10, 0),
        // Reading a link's text is allowed (it grants nothing); following it is not.
        format!(
            "(call $expect (i32.const 16) (i32.const 0)
               (call $path_readlink (i32.const 3) (i32.const {}) (i32.const 7) (i32.const 700) (i32.const 64) (i32.const 520)))
             (call $expect_u32 (i32.const 17) (i32.const 520) (i32.const 13))",
            at(3)
        ),
        // The second preopen, fd 4, is the same directory read-only.
        open(18, 69, 4, 1, 10, 7, 1), // new.txt with O_CREAT
        open(19, 69, 4, 1, 8, 10, 8), // inside.txt with O_TRUNC
        format!(
            "(call $expect (i32.const 20) (i32.const 69) (call $path_create_directory (i32.const 4) (i32.const {}) (i32.const 1)))",
            at(11)
        ),
        format!(
            "(call $expect (i32.const 21) (i32.const 69) (call $path_unlink_file (i32.const 4) (i32.const {}) (i32.const 10)))",
            at(8)
        ),
        format!(
            "(call $expect (i32.const 22) (i32.const 69)
               (call $path_symlink (i32.const {}) (i32.const 13) (i32.const 4) (i32.const {}) (i32.const 7)))",
            at(0),
            at(10)
        ),
        open(23, 76, 4, 1, 0, 13, 0),
        open(24, 0, 4, 1, 8, 10, 0), // reading through it is fine
        "(global.get $fail)".to_string(),
    ]
    .join("\n");
    let strings = [
        "../secret.txt",
        "/etc/passwd",
        "sub/../../secret.txt",
        "out_rel",
        "out_abs",
        "loop",
        "up/secret.txt",
        "../escaped",
        "inside.txt",
        "../moved.txt",
        "new.txt",
        "d",
    ];
    let data: String = strings
        .iter()
        .enumerate()
        .map(|(i, s)| format!(r#"(data (i32.const {}) "{s}")"#, at(i as i32)))
        .collect();
    let wat = Wat {
        imports: FS_IMPORTS,
        tick: &tick,
        extra: &data,
        ..Wat::default()
    };
    let io = Io::new();
    let config = io
        .config()
        .preopened_dir(&sandbox, "/sandbox")
        .unwrap()
        .preopened_dir_ro(&sandbox, "/ro")
        .unwrap();
    let mut r = wat.module(engine).instantiate(config).unwrap();
    assert_idle(r.tick(), "escape attempts");
    assert_eq!(listing(&base), outside_before, "nothing created or removed next to the sandbox");
    assert_eq!(listing(&sandbox), inside_before, "nothing created or removed in the sandbox");
    assert_eq!(std::fs::read(base.join("secret.txt")).unwrap(), b"secret");
    assert_eq!(std::fs::read(sandbox.join("inside.txt")).unwrap(), b"inside");
    drop(r);
    std::fs::remove_dir_all(&base).unwrap();
}

/// A reactor whose `go_tick` recurses 20,000 calls deep with four values live across each call
/// (shared with the CLI's `--max-wasm-stack` test).
fn deep_recursion_wasm() -> Vec<u8> {
    parse(include_str!("wat/deep-recursion.wat"))
}

/// [`EngineOptions::max_wasm_stack`](go_reactor::EngineOptions::max_wasm_stack) on every
/// engine: 20,000 levels overflow a 256 KiB wasm stack (a clean, typed
/// `StackOverflow` trap) and fit in Go's test-runner 8 MiB. The deep run happens on a thread
/// with a native stack to match, as wasmtime requires (it runs wasm on the caller's stack).
pub fn wasm_stack_size_option<E: WasmEngine>(engine: &E) {
    let wat = deep_recursion_wasm();
    let engine_name = name(engine);
    let small = E::from_options(&go_reactor::EngineOptions::new().max_wasm_stack(256 << 10)).unwrap();
    let mut r = Module::new(&small, &wat).unwrap().instantiate(Io::new().config()).unwrap();
    match r.tick() {
        Err(Error::Trap { trap, .. }) => assert_eq!(trap.kind, TrapKind::StackOverflow, "{engine_name}: {trap}"),
        other => panic!("{engine_name}: a 256 KiB stack must overflow, got {other:?}"),
    }
    let big = std::thread::Builder::new()
        .stack_size(go_reactor::GO_TEST_WASM_STACK + (8 << 20))
        .spawn(move || {
            let big = E::from_options(&go_reactor::EngineOptions::new().max_wasm_stack(go_reactor::GO_TEST_WASM_STACK)).unwrap();
            let mut r = Module::new(&big, &wat).unwrap().instantiate(Io::new().config()).unwrap();
            r.tick().map_err(|e| e.to_string())
        })
        .unwrap()
        .join()
        .unwrap();
    assert_eq!(big, Ok(LoopResult::Idle), "{engine_name}: 8 MiB of wasm stack is enough");
    assert!(engine.info().capabilities.wasm_stack);
}

/// `proc_exit` during `_initialize`: instantiation reports the exit, with the output before it.
pub fn proc_exit_from_initialize<E: WasmEngine>(engine: &E) {
    let wat = Wat {
        init: "(drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 512))) (call $proc_exit (i32.const 7))",
        extra: r#"(data (i32.const 0) "\00\01\00\00\04\00\00\00") (data (i32.const 256) "bye\n")"#,
        ..Wat::default()
    };
    let io = Io::new();
    let (stdout, sink) = buffered(io.stdout.clone());
    match instantiate_err(&wat.module(engine), io.config().stdout(sink)) {
        Error::Exited { code } => assert_eq!(code, 7),
        other => panic!("{other:?}"),
    }
    assert_eq!(stdout.contents(), b"bye\n");
    // proc_exit with a code that is not a small positive number.
    let wat = Wat {
        init: "(call $proc_exit (i32.const -3))",
        ..Wat::default()
    };
    assert!(matches!(
        instantiate_err(&wat.module(engine), Io::new().config()),
        Error::Exited { code: -3 }
    ));
}

/// Every way a guest can end a tick; after each, the reactor refuses further calls cleanly.
/// Also checks that the output written right before the end reached the sinks, complete and in
/// order, through a buffered sink for stdout and a sink that takes a few bytes per call (and is
/// sometimes interrupted) for stderr.
pub fn endings_keep_output_and_refuse_calls<E: WasmEngine>(engine: &E) {
    let engine_name = name(engine);
    let module = output_module(engine);
    let fail = HostFunc::new("env", "fail", FuncType::default(), |_, _, _| Err(HostError::new("host says no")));
    let (want_out, want_err) = expected_output();
    for mode in 0..=6 {
        let (out, err) = (SharedBuffer::new(), SharedBuffer::new());
        let (_, stdout) = buffered(out.clone());
        let config = ReactorConfig::new()
            .stdout(stdout)
            .stderr(Awkward::new(err.clone(), 3))
            .clock(ManualClock::new(1))
            .import(fail.clone());
        let mut r = module.instantiate(config).unwrap();
        r.call("set", &[Val::I32(mode)]).unwrap();
        let result = r.tick();
        match (mode, &result) {
            (0, Ok(LoopResult::Idle)) => {}
            (1, Err(Error::Exited { code: 5 })) => {}
            (2, Err(Error::Trap { trap, export, .. })) if trap.kind == TrapKind::Unreachable && export == "go_tick" => {}
            (3, Err(Error::InvalidTick { value: -7 })) => {}
            (4, Err(Error::HostFunc { import, message })) if import == "env::fail" && message == "host says no" => {}
            (5, Err(Error::Trap { trap, engine, .. })) if trap.kind == TrapKind::StackOverflow && *engine == engine_name => {}
            (6, Err(Error::Trap { trap, .. })) if trap.kind == TrapKind::MemoryOutOfBounds => {}
            _ => panic!("mode {mode}: unexpected {result:?}"),
        }
        if mode == 0 {
            // Still alive: the buffered sink is flushed when the reactor is dropped.
            assert!(r.ended().is_none());
            drop(r);
        } else {
            assert_refuses_calls(&mut r, &format!("mode {mode}"));
        }
        assert_eq!(out.contents(), want_out, "mode {mode}: stdout");
        assert_eq!(err.contents(), want_err, "mode {mode}: stderr");
    }
}

/// The module of [`endings_keep_output_and_refuse_calls`]: `go_tick` writes 200 chunks of
/// 1..300 bytes of a pattern, alternating stdout and stderr, then ends as `set` asked.
fn output_module<E: WasmEngine>(engine: &E) -> Module<E> {
    let extra = r#"
      (global $mode (mut i32) (i32.const 0))
      (func (export "set") (param i32) (global.set $mode (local.get 0)))
      (func $recurse (result i32) (call $recurse))
      (func $fill (local $i i32)
        (loop $l
          (i32.store8 (i32.add (i32.const 0x1000) (local.get $i))
            (i32.xor (i32.mul (local.get $i) (i32.const 7)) (i32.shr_u (local.get $i) (i32.const 8))))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br_if $l (i32.lt_u (local.get $i) (i32.const 65536)))))
      (func $write_chunks (local $k i32) (local $off i32) (local $len i32)
        (loop $l
          (local.set $len (i32.add (i32.rem_u (i32.mul (local.get $k) (i32.const 37)) (i32.const 300)) (i32.const 1)))
          (i32.store (i32.const 0x100) (i32.add (i32.const 0x1000) (local.get $off)))
          (i32.store (i32.const 0x104) (local.get $len))
          (call $expect (i32.const 1) (i32.const 0)
            (call $fd_write (i32.add (i32.const 1) (i32.and (local.get $k) (i32.const 1)))
                            (i32.const 0x100) (i32.const 1) (i32.const 0x200)))
          (local.set $off (i32.add (local.get $off) (local.get $len)))
          (local.set $k (i32.add (local.get $k) (i32.const 1)))
          (br_if $l (i32.lt_u (local.get $k) (i32.const 200)))))"#;
    let tick = r#"
      (call $write_chunks)
      (if (i32.eq (global.get $mode) (i32.const 1)) (then (call $proc_exit (i32.const 5))))
      (if (i32.eq (global.get $mode) (i32.const 2)) (then unreachable))
      (if (i32.eq (global.get $mode) (i32.const 3)) (then (return (i32.const -7))))
      (if (i32.eq (global.get $mode) (i32.const 4)) (then (call $host_fail)))
      (if (i32.eq (global.get $mode) (i32.const 5)) (then (return (call $recurse))))
      (if (i32.eq (global.get $mode) (i32.const 6)) (then (drop (i32.load (i32.const -4)))))
      (global.get $fail)"#;
    Wat {
        imports: r#"(import "env" "fail" (func $host_fail))"#,
        memory: r#"(memory (export "memory") 2)"#,
        init: "(call $fill)",
        tick,
        extra,
        ..Wat::default()
    }
    .module(engine)
}

/// What [`output_module`] writes to stdout and stderr.
fn expected_output() -> (Vec<u8>, Vec<u8>) {
    let pattern = |i: u32| (i.wrapping_mul(7) ^ (i >> 8)) as u8;
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let mut off = 0;
    for k in 0..200u32 {
        let len = (k * 37) % 300 + 1;
        let chunk = (off..off + len).map(pattern);
        if k.is_multiple_of(2) {
            out.extend(chunk)
        } else {
            err.extend(chunk)
        }
        off += len;
    }
    (out, err)
}

/// A sink that holds everything in a 1 MiB buffer until flushed (the reactor must flush when
/// the guest ends), returning the buffer it finally writes to.
fn buffered(inner: SharedBuffer) -> (SharedBuffer, BufWriter<Awkward>) {
    (inner.clone(), BufWriter::with_capacity(1 << 20, Awkward::new(inner, 7)))
}

/// A sink that accepts at most `max` bytes per call and fails every fifth call with
/// `Interrupted`: valid `Write` behaviour a host sink may have.
struct Awkward {
    inner: SharedBuffer,
    max: usize,
    calls: u64,
}

impl Awkward {
    fn new(inner: SharedBuffer, max: usize) -> Self {
        Self { inner, max, calls: 0 }
    }
}

impl Write for Awkward {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.calls += 1;
        if self.calls.is_multiple_of(5) {
            return Err(io::ErrorKind::Interrupted.into());
        }
        let n = buf.len().min(self.max);
        self.inner.write(&buf[..n])
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Sinks that fail: the guest gets `EIO`, the host does not panic.
pub fn failing_sinks_are_eio<E: WasmEngine>(engine: &E) {
    struct Broken;
    impl Write for Broken {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            Err(io::ErrorKind::BrokenPipe.into())
        }
        fn flush(&mut self) -> io::Result<()> {
            Err(io::ErrorKind::BrokenPipe.into())
        }
    }
    struct Full;
    impl Write for Full {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            Ok(0)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
    let wat = Wat {
        tick: r#"
          (call $expect (i32.const 1) (i32.const 29) (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 512)))
          (call $expect (i32.const 2) (i32.const 29) (call $fd_write (i32.const 2) (i32.const 0) (i32.const 1) (i32.const 512)))
          (call $expect (i32.const 3) (i32.const 0) (call $fd_write (i32.const 1) (i32.const 0) (i32.const 0) (i32.const 512)))
          (global.get $fail)"#,
        extra: r#"(data (i32.const 0) "\00\01\00\00\05\00\00\00") (data (i32.const 256) "hello")"#,
        ..Wat::default()
    };
    let module = wat.module(engine);
    let mut r = module
        .instantiate(ReactorConfig::new().stdout(Broken).stderr(Full).clock(ManualClock::new(1)))
        .unwrap();
    assert_idle(r.tick(), "failing sinks");
    // Ending with failing sinks (their flush fails too) is still a clean, typed end.
    let wat = Wat {
        tick: "(drop (call $fd_write (i32.const 2) (i32.const 0) (i32.const 1) (i32.const 512))) unreachable",
        ..Wat::default()
    };
    let mut r = wat
        .module(engine)
        .instantiate(ReactorConfig::new().stdout(Broken).stderr(Broken).clock(ManualClock::new(1)))
        .unwrap();
    assert!(matches!(r.tick(), Err(Error::Trap { .. })));
    assert_refuses_calls(&mut r, "after a trap with broken sinks");
}

/// Unbounded `memory.grow` against the module's own maximum: growth fails with -1 at the
/// maximum on every engine.
pub fn memory_grow_module_maximum<E: WasmEngine>(engine: &E) {
    let wat = Wat {
        memory: r#"(memory (export "memory") 1 64)"#,
        tick: GROW_TICK,
        ..Wat::default()
    };
    let mut r = wat.module(engine).instantiate(Io::new().config()).unwrap();
    assert_idle(r.tick(), "memory.grow up to the module's maximum");
    assert_eq!(r.memory_size(), 64 << 16);
}

/// `go_tick` growing one page at a time until `memory.grow` fails (at most 200 pages, so a
/// limit that does not work cannot allocate much), expecting the limit at 64 pages (4 MiB).
const GROW_TICK: &str = r#"
  (local $n i32)
  (block $done
    (loop $l
      (br_if $done (i32.eq (memory.grow (i32.const 1)) (i32.const -1)))
      (local.set $n (i32.add (local.get $n) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $n) (i32.const 200)))))
  (call $expect (i32.const 1) (i32.const 63) (local.get $n))
  (call $expect (i32.const 2) (i32.const -1) (memory.grow (i32.const 0x10000)))
  (call $expect (i32.const 3) (i32.const -1) (memory.grow (i32.const -1)))
  (call $expect (i32.const 4) (i32.const 64) (memory.grow (i32.const 0)))
  (call $expect (i32.const 5) (i32.const 64) (memory.size))
  (i32.store8 (i32.const 4194303) (i32.const 1))
  (global.get $fail)"#;

/// `ReactorConfig::max_memory_bytes` on a module without a maximum: enforced where the engine
/// can (`memory.grow` beyond the cap returns -1), `Error::Unsupported` where it cannot.
pub fn memory_grow_host_cap<E: WasmEngine>(engine: &E) {
    let engine_name = name(engine);
    let module = Wat {
        tick: GROW_TICK,
        ..Wat::default()
    }
    .module(engine);
    // Not a whole number of pages: rounded down to 64 pages.
    let config = Io::new().config().max_memory_bytes((4 << 20) + 1000);
    if engine.info().capabilities.memory_limit {
        let mut r = module.instantiate(config).unwrap();
        assert_idle(r.tick(), "memory.grow up to the host's cap");
        assert_eq!(r.memory_size(), 4 << 20);
        // A cap below the module's initial size: instantiation fails with a typed error.
        let two_pages = Wat {
            memory: r#"(memory (export "memory") 2)"#,
            ..Wat::default()
        }
        .module(engine);
        match instantiate_err(&two_pages, Io::new().config().max_memory_bytes(65536)) {
            Error::Instantiate { engine, .. } => assert_eq!(engine, engine_name),
            other => panic!("cap below the initial size: {other:?}"),
        }
    } else {
        match instantiate_err(&module, config) {
            err @ Error::Unsupported { .. } => {
                assert!(err.to_string().starts_with(engine_name), "{err}");
            }
            other => panic!("memory cap on {engine_name}: {other:?}"),
        }
    }
}

/// A guest that never yields: stopped by fuel or a deadline where the engine has them; asking
/// for them elsewhere is `Error::Unsupported` (the guest would keep the thread: see SECURITY.md).
pub fn runaway_guest_limits<E: WasmEngine>(engine: &E) {
    let info = engine.info();
    let module = Wat {
        tick: "(loop $forever (br $forever)) (i32.const -1)",
        ..Wat::default()
    }
    .module(engine);
    let limits = [
        (
            info.capabilities.fuel,
            TrapKind::OutOfFuel,
            Limits::new().with_fuel_per_tick(1_000_000),
        ),
        (
            info.capabilities.deadline,
            TrapKind::Interrupted,
            Limits::new().with_tick_deadline(Duration::from_millis(50)),
        ),
    ];
    for (supported, kind, limits) in limits {
        let config = Io::new().config().limits(limits);
        if supported {
            let mut r = module.instantiate(config).unwrap();
            match r.tick() {
                Err(Error::Trap { trap, export, .. }) => assert_eq!((trap.kind, export.as_str()), (kind, "go_tick")),
                other => panic!("{limits:?}: {other:?}"),
            }
            assert_refuses_calls(&mut r, "after running out of budget");
        } else {
            assert!(
                matches!(instantiate_err(&module, config), Error::Unsupported { engine, .. } if engine == info.name),
                "{limits:?}"
            );
        }
    }
}

/// Exports that are re-exported imports: `go_tick` is WASI's `sched_yield` (called from the host,
/// not from wasm), `_initialize` an embedder import that fails.
pub fn reexported_imports<E: WasmEngine>(engine: &E) {
    let wat = r#"(module
      (import "wasi_snapshot_preview1" "sched_yield" (func $y (result i32)))
      (memory (export "memory") 1)
      (func (export "_initialize")) (func (export "go_start_main"))
      (export "go_tick" (func $y)))"#;
    let mut r = Module::new(engine, &parse(wat)).unwrap().instantiate(Io::new().config()).unwrap();
    r.start_main().unwrap();
    assert_eq!(r.tick().unwrap(), LoopResult::Ready);
    let wat = r#"(module
      (import "env" "init" (func $init))
      (memory (export "memory") 1)
      (export "_initialize" (func $init)) (func (export "go_start_main"))
      (func (export "go_tick") (result i32) i32.const -1))"#;
    let init = HostFunc::new("env", "init", FuncType::default(), |caller, _, _| {
        caller.write_bytes(u32::MAX, b"x")?; // out of bounds: an error, not a panic
        Ok(())
    });
    let module = Module::new(engine, &parse(wat)).unwrap();
    match instantiate_err(&module, Io::new().config().import(init)) {
        Error::HostFunc { import, message } => {
            assert_eq!(import, "env::init");
            assert!(message.contains("out of bounds"), "{message}");
        }
        other => panic!("{other:?}"),
    }
}

/// A module with a wasm `start` function that traps (Go reactors have none): a typed error at
/// instantiation. wasm3 runs start functions lazily, before the first call (`_initialize`).
pub fn trapping_start_function<E: WasmEngine>(engine: &E) {
    let engine_name = name(engine);
    let module = Wat {
        extra: "(func $start unreachable) (start $start)",
        ..Wat::default()
    }
    .module(engine);
    match instantiate_err(&module, Io::new().config()) {
        Error::Instantiate { engine, .. } => assert_eq!(engine, engine_name),
        Error::Trap { engine, export, trap, .. } => {
            assert_eq!(
                (engine, export.as_str(), trap.kind),
                (engine_name, "_initialize", TrapKind::Unreachable)
            )
        }
        other => panic!("{other:?}"),
    }
}

/// The Go panic fixture: a typed `GuestPanic` whose message and traceback are intact.
pub fn go_panic_keeps_traceback<E: WasmEngine>(engine: &E) {
    let module = Module::new(engine, &common::wasm_bytes("panic")).unwrap();
    let io = Io::new();
    let mut r = module.instantiate(io.config()).unwrap();
    match r.run() {
        Err(Error::GuestPanic { export, message, stderr }) => {
            assert_eq!(export, "go_tick");
            assert_eq!(message, "panic: boom from a goroutine");
            for want in ["panic: boom from a goroutine", "goroutine ", "main.main.func1()"] {
                assert!(stderr.contains(want), "the error's stderr lacks {want:?}:\n{stderr}");
                assert!(io.stderr.to_string_lossy().contains(want), "the stderr sink lacks {want:?}");
            }
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(io.stdout.to_string_lossy(), "before panic\n");
    assert_refuses_calls(&mut r, "after a Go panic");
}

/// The 4 MiB stdout-big fixture through a sink that takes at most 7 bytes per call, is sometimes
/// interrupted, and sits behind a 1 MiB buffer: every byte arrives, in order (checked by the
/// fixture's own SHA-256 line).
pub fn big_output_through_awkward_sink<E: WasmEngine>(engine: &E) {
    let module = Module::new(engine, &common::wasm_bytes("stdout-big")).unwrap();
    let out = SharedBuffer::new();
    let (out, sink) = buffered(out);
    let mut r = module
        .instantiate(ReactorConfig::new().arg("stdout-big").stdout(sink).stderr(SharedBuffer::new()))
        .unwrap();
    assert_eq!(r.run().unwrap(), Completion::Exited(0));
    common::check_big_output(&out.contents());
}

/// Modules using features Go does not (several memories, 64-bit or shared memory): accepted and
/// sandboxed (WASI uses the exported `memory`), or refused with a typed error.
pub fn exotic_modules<E: WasmEngine>(engine: &E) {
    let tick = r#"(func (export "_initialize")) (func (export "go_start_main"))
      (func (export "go_tick") (result i32)
        (if (result i32) (i32.eqz (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 512)))
          (then (i32.const -1)) (else (i32.const -2))))"#;
    let fd_write = r#"(import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))"#;
    let cases = [
        (
            "multi-memory",
            format!(
                r#"(module {fd_write} (memory $hidden 1) (memory $m (export "memory") 1)
                  (data (memory $hidden) (i32.const 0) "\00\01\00\00\02\00\00\00")
                  (data (memory $hidden) (i32.const 256) "no")
                  (data (memory $m) (i32.const 0) "\00\01\00\00\02\00\00\00") (data (memory $m) (i32.const 256) "ok") {tick})"#
            ),
        ),
        (
            "memory64",
            format!(
                r#"(module {fd_write} (memory (export "memory") i64 1)
                  (data (i64.const 0) "\00\01\00\00\02\00\00\00") (data (i64.const 256) "ok") {tick})"#
            ),
        ),
        (
            "shared memory",
            format!(
                r#"(module {fd_write} (memory (export "memory") 1 1 shared)
                  (data (i32.const 0) "\00\01\00\00\02\00\00\00") (data (i32.const 256) "ok") {tick})"#
            ),
        ),
    ];
    for (what, wat) in cases {
        let module = match Module::new(engine, &parse(&wat)) {
            Ok(module) => module,
            Err(Error::Compile { .. } | Error::NotAReactor { .. }) => continue,
            Err(other) => panic!("{what}: {other:?}"),
        };
        let io = Io::new();
        match module.instantiate(io.config()) {
            Ok(mut r) => {
                assert_idle(r.tick(), what);
                assert_eq!(io.stdout.contents(), b"ok", "{what}");
            }
            Err(Error::Instantiate { .. } | Error::NotAReactor { .. } | Error::Unsupported { .. }) => {}
            Err(other) => panic!("{what}: {other:?}"),
        }
    }
}

macro_rules! hostile {
    ($engine:ident, $ty:ty) => {
        mod $engine {
            hostile!(@tests $ty; invalid_bytes truncated_module missing_exports mistyped_exports unsupported_abi
                unresolved_imports invalid_tick_values traps_are_typed reentrant_go_tick_overflows_cleanly
                wasi_hostile_pointers zero_page_memory no_filesystem_or_network proc_exit_from_initialize
                endings_keep_output_and_refuse_calls failing_sinks_are_eio memory_grow_module_maximum
                memory_grow_host_cap runaway_guest_limits reexported_imports trapping_start_function
                go_panic_keeps_traceback big_output_through_awkward_sink exotic_modules preopen_escapes_refused
                wasm_stack_size_option);
        }
    };
    (@tests $ty:ty; $($case:ident)*) => {
        $(#[test] fn $case() { crate::$case(&<$ty>::default()) })*
    };
}

#[cfg(feature = "wasmtime")]
hostile!(wasmtime, go_reactor::engines::WasmtimeEngine);
#[cfg(feature = "wasmer")]
hostile!(wasmer, go_reactor::engines::WasmerEngine);
#[cfg(feature = "wasmi")]
hostile!(wasmi, go_reactor::engines::WasmiEngine);
#[cfg(feature = "wasm3")]
hostile!(wasm3, go_reactor::engines::Wasm3Engine);
