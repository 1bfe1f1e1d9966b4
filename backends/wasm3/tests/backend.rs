//! wasm3-specific checks of the adapter, at the `WasmEngine` level (the shared conformance suite
//! in the workspace's tests/ runs the Go fixtures on every engine).

use std::time::Instant;

use reactor_api::wasi_min::WasiCtx;
use reactor_api::wasi_min::sink::SharedBuffer;
use reactor_api::{
    Completion, EngineInstance, Error, ExternType, FuncType, HostError, HostFunc, HostState, Limits, Module, ReactorConfig, TrapKind, Val,
    ValType, WasmEngine,
};
use reactor_wasm3::{Wasm3Engine, Wasm3Instance};

const WAT: &str = r#"(module
  (type $v (func))
  (import "env" "f" (func $f (param f32 f64 i64 i32) (result f64)))
  (import "env" "f" (func $f_again (param f32 f64 i64 i32) (result f64)))
  (import "env" "fail" (func $fail))
  (memory (export "memory") 1 3)
  (table 2 funcref)
  (global (export "g") i32 (i32.const 7))
  (func (export "go_tick") (result i32) i32.const 0)
  (func (export "call_f") (param f32 f64 i64 i32) (result f64)
    local.get 0 local.get 1 local.get 2 local.get 3 call $f)
  (func (export "call_f_again") (param f32 f64 i64 i32) (result f64)
    local.get 0 local.get 1 local.get 2 local.get 3 call $f_again)
  (func (export "fail") call $fail)
  (func (export "unreachable") unreachable)
  (func (export "oob") (result i32) i32.const 196608 i32.load)
  (func (export "div") (param i32 i32) (result i32) local.get 0 local.get 1 i32.div_s)
  (func $rec (export "recurse") (param i32) (result i32) local.get 0 i32.const 1 i32.add call $rec)
  (func (export "bad_indirect") i32.const 5 call_indirect (type $v))
  (func (export "null_indirect") i32.const 1 call_indirect (type $v))
)"#;

fn instantiate(engine: &Wasm3Engine, f: HostFunc) -> Wasm3Instance {
    let module = engine.compile(&wat::parse_str(WAT).unwrap()).unwrap();
    let fail = HostFunc::new("env", "fail", FuncType::default(), |_, _, _| Err(HostError::new("stop")));
    let state = HostState::new(WasiCtx::builder().build(), Box::new(7u32));
    engine
        .instantiate(&module, state, vec![f.clone(), f, fail], &Limits::default())
        .unwrap()
}

fn float_import() -> HostFunc {
    let ty = FuncType::new([ValType::F32, ValType::F64, ValType::I64, ValType::I32], [ValType::F64]);
    HostFunc::new("env", "f", ty, |caller, args, results| {
        caller.write_bytes(8, b"seen")?;
        let sum = f64::from(args[0].f32().unwrap_or(0.0)) + args[1].f64().unwrap_or(0.0);
        results[0] = Val::F64(sum + args[2].i64().unwrap_or(0) as f64 + f64::from(args[3].i32().unwrap_or(0)));
        Ok(())
    })
}

#[test]
fn module_info_has_signatures() {
    let engine = Wasm3Engine::new();
    let info = engine.module_info(&engine.compile(&wat::parse_str(WAT).unwrap()).unwrap());
    let f = FuncType::new([ValType::F32, ValType::F64, ValType::I64, ValType::I32], [ValType::F64]);
    assert_eq!(info.imports.len(), 3);
    assert_eq!(info.imports[1].ty, ExternType::Func(f.clone()));
    assert_eq!(info.export("call_f"), Some(&ExternType::Func(f)));
    assert_eq!(
        info.export("memory"),
        Some(&ExternType::Memory {
            min_pages: 1,
            max_pages: Some(3)
        })
    );
    assert_eq!(info.export("g"), Some(&ExternType::Global));
    assert_eq!(info.export("go_tick"), Some(&ExternType::Func(FuncType::new([], [ValType::I32]))));
}

#[test]
fn invalid_and_simd_modules_are_compile_errors() {
    let engine = Wasm3Engine::new();
    let simd = wat::parse_str(r#"(module (func (result v128) v128.const i64x2 0 0))"#).unwrap();
    assert!(matches!(engine.compile(&simd), Err(Error::Compile { .. })));
    let ill_typed = wat::parse_str(r#"(module (func (result i32) i64.const 0))"#).unwrap();
    assert!(matches!(engine.compile(&ill_typed), Err(Error::Compile { .. })));
}

#[test]
fn float_host_functions_and_duplicate_imports() {
    let engine = Wasm3Engine::new();
    let mut inst = instantiate(&engine, float_import());
    let args = [Val::F32(1.5), Val::F64(2.25), Val::I64(10), Val::I32(-1)];
    for export in ["call_f", "call_f_again"] {
        let mut out = [Val::F64(0.0)];
        inst.call(export, &args, &mut out).unwrap();
        assert_eq!(out, [Val::F64(12.75)]);
    }
    let mut seen = [0; 4];
    inst.read_memory(8, &mut seen).unwrap();
    assert_eq!(&seen, b"seen");
}

#[test]
fn traps_are_classified() {
    let engine = Wasm3Engine::new();
    let mut inst = instantiate(&engine, float_import());
    let mut kind = |name: &str, args: &[Val], results: usize| {
        let mut out = vec![Val::I32(0); results];
        inst.call(name, args, &mut out).unwrap_err().kind
    };
    assert_eq!(kind("fail", &[], 0), TrapKind::Host);
    assert_eq!(kind("unreachable", &[], 0), TrapKind::Unreachable);
    assert_eq!(kind("oob", &[], 1), TrapKind::MemoryOutOfBounds);
    assert_eq!(kind("div", &[Val::I32(1), Val::I32(0)], 1), TrapKind::IntegerDivisionByZero);
    assert_eq!(kind("div", &[Val::I32(i32::MIN), Val::I32(-1)], 1), TrapKind::IntegerOverflow);
    assert_eq!(kind("bad_indirect", &[], 0), TrapKind::BadIndirectCall);
    assert_eq!(kind("null_indirect", &[], 0), TrapKind::BadIndirectCall);
    // The instance stays usable after traps.
    let mut out = [Val::I32(-1)];
    inst.call("div", &[Val::I32(7), Val::I32(2)], &mut out).unwrap();
    assert_eq!(out, [Val::I32(3)]);
}

#[test]
fn unbounded_recursion_is_a_stack_overflow_even_on_a_small_thread() {
    let trap = std::thread::Builder::new()
        .stack_size(256 << 10)
        .spawn(|| {
            let mut inst = instantiate(&Wasm3Engine::new(), float_import());
            inst.call("recurse", &[Val::I32(0)], &mut [Val::I32(0)]).unwrap_err()
        })
        .unwrap()
        .join()
        .unwrap();
    assert_eq!(trap.kind, TrapKind::StackOverflow, "{trap}");
}

#[test]
fn panicking_host_function_keeps_the_state() {
    let engine = Wasm3Engine::new();
    let ty = FuncType::new([ValType::F32, ValType::F64, ValType::I64, ValType::I32], [ValType::F64]);
    let mut inst = instantiate(&engine, HostFunc::new("env", "f", ty, |_, _, _| panic!("host bug")));
    let trap = inst
        .call(
            "call_f",
            &[Val::F32(0.0), Val::F64(0.0), Val::I64(0), Val::I32(0)],
            &mut [Val::F64(0.0)],
        )
        .unwrap_err();
    assert_eq!(trap.kind, TrapKind::Other, "{trap}");
    assert!(inst.state().data::<u32>().is_some(), "the host state is back in the store");
}

#[test]
fn multi_result_imports_are_unsupported() {
    let engine = Wasm3Engine::new();
    let wat = r#"(module (import "env" "two" (func (result i32 i32))) (memory (export "memory") 1)
        (func (export "go_tick") (result i32) i32.const 0))"#;
    let module = engine.compile(&wat::parse_str(wat).unwrap()).unwrap();
    let two = HostFunc::new("env", "two", FuncType::new([], [ValType::I32; 2]), |_, _, _| Ok(()));
    let state = HostState::new(WasiCtx::builder().build(), Box::new(()));
    let err = engine
        .instantiate(&module, state, vec![two], &Limits::default())
        .map(|_| ())
        .unwrap_err();
    assert!(matches!(err, Error::Unsupported { engine: "wasm3", .. }), "{err}");
}

fn guest(name: &str) -> Vec<u8> {
    std::fs::read(format!("{}/../../guests/wasm/{name}.wasm", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

fn expected_stdout(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/../../guests/programs/{name}/expected/stdout",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

#[test]
fn limits_are_refused() {
    let engine = Wasm3Engine::new();
    let module = Module::new(&engine, &guest("hello")).unwrap();
    let limits = [
        Limits::new().with_max_memory_bytes(64 << 20),
        Limits::new().with_fuel_per_tick(1_000_000),
        Limits::new().with_tick_deadline(std::time::Duration::from_millis(10)),
    ];
    for limits in limits {
        let err = module.instantiate(ReactorConfig::new().limits(limits)).map(|_| ()).unwrap_err();
        assert!(matches!(err, Error::Unsupported { engine: "wasm3", .. }), "{err}");
    }
}

fn run_fixture(name: &str) {
    let start = Instant::now();
    let engine = Wasm3Engine::new();
    let module = Module::new(&engine, &guest(name)).unwrap();
    let compiled = start.elapsed();
    let out = SharedBuffer::new();
    let mut reactor = module.instantiate(ReactorConfig::new().arg(name).stdout(out.clone())).unwrap();
    assert_eq!(reactor_api::run(&mut reactor).unwrap(), Completion::Exited(0));
    assert_eq!(out.contents(), expected_stdout(name));
    eprintln!("wasm3 {name}: {:?} total ({compiled:?} validating)", start.elapsed());
}

#[test]
fn hello() {
    run_fixture("hello");
}

/// About 20 s: `cargo test -p reactor-wasm3 -- --ignored`.
#[test]
#[ignore]
fn cpu() {
    run_fixture("cpu");
}
