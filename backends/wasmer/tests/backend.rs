//! Backend-level checks of the wasmer adapter with small WAT modules: trap classification,
//! host traps, per-instance memory caps, metering (fuel) and serialization. The Go fixtures
//! are covered by the workspace's conformance suite.

use reactor_api::wasi_min::WasiCtx;
use reactor_api::{
    EngineInstance, Error, FuncType, HostError, HostFunc, HostState, Limits, TrapKind, Val, ValType, WasmEngine, resolve_imports,
};
use reactor_wasmer::{WasmerEngine, WasmerInstance};

const MODULE: &str = r#"(module
    (import "env" "fail" (func $fail))
    (import "env" "poke" (func $poke (param i32 i32)))
    (memory (export "memory") 1)
    (func (export "go_tick") (result i32) i32.const 7)
    (func (export "spin") (loop $l (br $l)))
    (func (export "unreachable") unreachable)
    (func (export "div") (param i32 i32) (result i32) local.get 0 local.get 1 i32.div_s)
    (func (export "load") (param i32) (result i32) local.get 0 i32.load)
    (func $recurse (export "recurse") call $recurse)
    (func (export "grow") (param i32) (result i32) local.get 0 memory.grow)
    (func (export "fail") call $fail)
    (func (export "poke") (param i32 i32) local.get 0 local.get 1 call $poke)
    (func (export "mix") (param i64 f32 f64) (result f64)
        local.get 0 f64.convert_i64_s local.get 1 f64.promote_f32 f64.add local.get 2 f64.add))"#;

fn imports() -> Vec<HostFunc> {
    let fail = HostFunc::new("env", "fail", FuncType::new([], []), |_, _, _| Err(HostError::new("stop")));
    let poke = HostFunc::new("env", "poke", FuncType::new([ValType::I32; 2], []), |caller, args, _| {
        let (addr, byte) = (args[0].i32().unwrap_or(0) as u32, args[1].i32().unwrap_or(0) as u8);
        caller.write_bytes(addr, &[byte])
    });
    vec![fail, poke]
}

fn instantiate(engine: &WasmerEngine, module: &<WasmerEngine as WasmEngine>::Module, limits: Limits) -> Result<WasmerInstance, Error> {
    let resolved = resolve_imports(&engine.module_info(module), &imports())?;
    let state = HostState::new(WasiCtx::builder().build(), Box::new(()));
    engine.instantiate(module, state, resolved, &limits)
}

fn compile(engine: &WasmerEngine) -> <WasmerEngine as WasmEngine>::Module {
    engine.compile(&wat::parse_str(MODULE).unwrap()).unwrap()
}

fn trap_kind(i: &mut WasmerInstance, name: &str, args: &[Val]) -> TrapKind {
    i.call(name, args, &mut [])
        .map(|()| panic!("{name} did not trap"))
        .unwrap_or_else(|t| t.kind)
}

/// The compilers under test: Cranelift, and singlepass when its feature is on.
fn engines() -> Vec<WasmerEngine> {
    #[allow(unused_mut)]
    let mut engines = vec![WasmerEngine::new()];
    #[cfg(feature = "singlepass")]
    engines.push(WasmerEngine::singlepass());
    engines
}

#[test]
fn calls_traps_and_memory() {
    for engine in engines() {
        calls_traps_and_memory_on(&engine);
    }
}

fn calls_traps_and_memory_on(engine: &WasmerEngine) {
    let info = engine.info();
    assert_eq!(
        (info.name, info.capabilities.fuel, info.capabilities.send),
        ("wasmer", false, false)
    );
    assert!(info.capabilities.memory_limit && info.capabilities.serialize);
    let module = compile(engine);
    let mut i = instantiate(engine, &module, Limits::default()).unwrap();
    assert_eq!(i.tick().unwrap(), 7);
    let mut out = [Val::F64(0.0)];
    i.call("mix", &[Val::I64(1), Val::F32(0.5), Val::F64(2.0)], &mut out).unwrap();
    assert_eq!(out, [Val::F64(3.5)]);
    let mut out = [Val::I32(0)];
    i.call("div", &[Val::I32(7), Val::I32(2)], &mut out).unwrap();
    assert_eq!(out, [Val::I32(3)]);

    assert_eq!(trap_kind(&mut i, "unreachable", &[]), TrapKind::Unreachable);
    let div = |a, b| [Val::I32(a), Val::I32(b)];
    assert_eq!(
        i.call("div", &div(1, 0), &mut [Val::I32(0)]).unwrap_err().kind,
        TrapKind::IntegerDivisionByZero
    );
    assert_eq!(
        i.call("div", &div(i32::MIN, -1), &mut [Val::I32(0)]).unwrap_err().kind,
        TrapKind::IntegerOverflow
    );
    assert_eq!(
        i.call("load", &[Val::I32(65535)], &mut [Val::I32(0)]).unwrap_err().kind,
        TrapKind::MemoryOutOfBounds
    );
    assert_eq!(trap_kind(&mut i, "recurse", &[]), TrapKind::StackOverflow);
    assert_eq!(trap_kind(&mut i, "fail", &[]), TrapKind::Host);
    assert_eq!(i.call("nope", &[], &mut []).unwrap_err().kind, TrapKind::Other);

    // Host functions see guest memory; the embedder reads and writes it, bounds-checked.
    i.call("poke", &[Val::I32(100), Val::I32(42)], &mut []).unwrap();
    let mut b = [0u8; 2];
    i.read_memory(99, &mut b).unwrap();
    assert_eq!(b, [0, 42]);
    i.write_memory(65534, &[1, 2]).unwrap();
    assert!(i.write_memory(65535, &[1, 2]).is_err());
    assert!(i.read_memory(u64::MAX, &mut b).is_err());
    // A host function writing out of bounds fails (and so stops the guest) instead of panicking.
    assert_eq!(trap_kind(&mut i, "poke", &[Val::I32(-1), Val::I32(1)]), TrapKind::Host);
    assert_eq!(i.memory_size(), 65536);
}

#[test]
fn memory_cap_is_per_instance() {
    for engine in engines() {
        memory_cap_is_per_instance_on(&engine);
    }
}

fn memory_cap_is_per_instance_on(engine: &WasmerEngine) {
    let module = compile(engine);
    let grow = |i: &mut WasmerInstance, pages| {
        let mut out = [Val::I32(0)];
        i.call("grow", &[Val::I32(pages)], &mut out).unwrap();
        out[0]
    };
    let mut capped = instantiate(engine, &module, Limits::new().with_max_memory_bytes(4 << 16)).unwrap();
    let mut free = instantiate(engine, &module, Limits::default()).unwrap();
    assert_eq!(grow(&mut capped, 3), Val::I32(1));
    assert_eq!(grow(&mut capped, 1), Val::I32(-1), "beyond the cap memory.grow fails");
    assert_eq!(capped.memory_size(), 4 << 16);
    assert_eq!(grow(&mut free, 10), Val::I32(1), "the cap of one instance does not affect another");
    // A cap below the module's initial memory cannot be met.
    let err = instantiate(engine, &module, Limits::new().with_max_memory_bytes(1000))
        .map(|_| ())
        .unwrap_err();
    assert!(matches!(err, Error::Instantiate { .. }), "{err}");
}

#[test]
fn unsupported_limits_are_refused() {
    let engine = WasmerEngine::new();
    let module = compile(&engine);
    let fuel = Limits::new().with_fuel_per_tick(1000);
    assert!(matches!(
        instantiate(&engine, &module, fuel),
        Err(Error::Unsupported { engine: "wasmer", .. })
    ));
    let deadline = Limits::new().with_tick_deadline(std::time::Duration::from_millis(10));
    assert!(matches!(
        instantiate(&engine, &module, deadline),
        Err(Error::Unsupported { engine: "wasmer", .. })
    ));
}

#[test]
fn metering() {
    let engine = WasmerEngine::with_metering();
    assert!(engine.info().capabilities.fuel);
    // Each compilation gets its own metering middleware: compiling twice must work.
    let module = compile(&engine);
    let _again = compile(&engine);
    let info = engine.module_info(&module);
    assert!(
        info.exports.iter().all(|e| !e.name.starts_with("wasmer_metering")),
        "metering globals are hidden"
    );

    let mut i = instantiate(&engine, &module, Limits::new().with_fuel_per_tick(100_000)).unwrap();
    // Fuel is refilled before every call: many small calls never run out.
    for _ in 0..1000 {
        assert_eq!(i.tick().unwrap(), 7);
    }
    assert_eq!(trap_kind(&mut i, "spin", &[]), TrapKind::OutOfFuel);
    assert_eq!(
        trap_kind(&mut i, "unreachable", &[]),
        TrapKind::Unreachable,
        "a real unreachable is not fuel"
    );
    assert_eq!(i.tick().unwrap(), 7, "refuelled after running out");

    // Without a fuel limit a metered engine runs unbounded.
    let mut i = instantiate(&engine, &module, Limits::default()).unwrap();
    assert_eq!(i.tick().unwrap(), 7);
}

#[test]
fn serialize_round_trip() {
    for engine in [WasmerEngine::new(), WasmerEngine::with_metering()] {
        let module = compile(&engine);
        let bytes = engine.serialize(&module).unwrap();
        // SAFETY: the bytes were serialized just above by the same engine.
        let loaded = unsafe { engine.deserialize(&bytes) }.unwrap();
        let limits = if engine.is_metered() {
            Limits::new().with_fuel_per_tick(1_000_000)
        } else {
            Limits::new()
        };
        let mut i = instantiate(&engine, &loaded, limits).unwrap();
        assert_eq!(i.tick().unwrap(), 7);
        if engine.is_metered() {
            assert_eq!(trap_kind(&mut i, "spin", &[]), TrapKind::OutOfFuel);
        }
    }
    // SAFETY: garbage is rejected by wasmer's header checks before any code is loaded.
    assert!(matches!(
        unsafe { WasmerEngine::new().deserialize(b"not a module") },
        Err(Error::Serialize {
            engine: "wasmer",
            operation: "deserialize",
            ..
        })
    ));
}
