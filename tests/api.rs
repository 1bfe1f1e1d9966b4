//! The public API's promises that are not per-fixture behaviour: each engine's capabilities and
//! version pinned (so a capability silently reported `false` cannot turn a real check elsewhere
//! into an `Unsupported` check), every engine option run on a real Go fixture, `Send` reactors
//! chosen at run time, and the typed errors of the facade.

mod common;

use common::{Io, wasm_bytes};
#[allow(unused_imports)]
use go_reactor::{
    AnyModule, Capabilities, Completion, Ending, EngineKind, Error, ExecutionKind, Module, Reactor, ReactorConfig, ReactorExt, TrapKind,
    WasmEngine,
};

/// The version Cargo.lock records for package `name` (the workspace's one lock file).
#[allow(dead_code)]
fn locked_version(name: &str) -> String {
    let lock = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.lock")).expect("Cargo.lock");
    let mut lines = lock.lines();
    let mut versions = Vec::new();
    while let Some(line) = lines.next() {
        if line == format!("name = \"{name}\"") {
            let version = lines
                .next()
                .and_then(|l| l.strip_prefix("version = \""))
                .and_then(|v| v.strip_suffix('"'));
            versions.push(version.expect("a version line after the name").to_string());
        }
    }
    assert_eq!(versions.len(), 1, "exactly one locked version of {name}: {versions:?}");
    versions.remove(0)
}

/// Runs `hello` on `engine` with `config` and checks its output and ending.
#[allow(dead_code)]
fn runs_hello<E: WasmEngine>(engine: &E, config: impl FnOnce(ReactorConfig) -> ReactorConfig) {
    let io = Io::default();
    let module = Module::new(engine, &wasm_bytes("hello")).expect("hello compiles");
    let mut r = module.instantiate(config(io.config("hello"))).expect("hello instantiates");
    assert_eq!(r.run().expect("hello runs"), Completion::Exited(0));
    assert_eq!(r.ended(), Some(&Ending::Exited(0)));
    assert_eq!(io.stdout.contents(), b"Hello from Go WASI reactor!\n");
}

/// Enough fuel per tick for any tick of `hello` (Go's `_initialize` takes about 10 million).
const AMPLE_FUEL: u64 = 1_000_000_000;

/// A budget far below what Go's `_initialize` needs.
const TINY_FUEL: u64 = 1_000;

/// With a fuel budget `_initialize` cannot finish in, instantiation fails with exactly an
/// out-of-fuel trap in `_initialize`.
#[allow(dead_code)]
fn runs_out_of_fuel<E: WasmEngine>(engine: &E) {
    let module = Module::new(engine, &wasm_bytes("hello")).expect("hello compiles");
    match module.instantiate(Io::default().config("hello").fuel_per_tick(TINY_FUEL)) {
        Err(Error::Trap { trap, export, .. }) => assert_eq!((trap.kind, export.as_str()), (TrapKind::OutOfFuel, "_initialize")),
        other => panic!("expected an out-of-fuel trap in _initialize, got {:?}", other.map(|_| ())),
    }
}

#[cfg(feature = "wasmtime")]
mod wasmtime {
    use go_reactor::engines::{WasmtimeEngine, WasmtimeOptions};

    use super::*;

    #[test]
    fn capabilities_and_version_are_pinned() {
        let info = WasmtimeEngine::new().info();
        assert_eq!((info.name, info.kind), ("wasmtime", ExecutionKind::Compiler));
        assert_eq!(info.version, locked_version("wasmtime"));
        let default = Capabilities::none()
            .with_memory_limit(true)
            .with_deadline(true)
            .with_serialize(true)
            .with_send(true)
            .with_wasm_stack(true);
        assert_eq!(info.capabilities, default);
        let fuel = WasmtimeEngine::with_options(WasmtimeOptions {
            fuel: true,
            deadlines: false,
            ..WasmtimeOptions::default()
        })
        .expect("a fuel engine");
        assert_eq!(
            fuel.info().capabilities,
            default.with_fuel(true).with_deadline(false),
            "options change exactly the capabilities they name"
        );
    }

    #[test]
    fn fuel_on_a_go_fixture() {
        let engine = WasmtimeEngine::with_options(WasmtimeOptions {
            fuel: true,
            ..WasmtimeOptions::default()
        })
        .expect("a fuel engine");
        runs_hello(&engine, |c| c.fuel_per_tick(AMPLE_FUEL));
        runs_out_of_fuel(&engine);
    }
}

#[cfg(feature = "wasmer")]
mod wasmer {
    use go_reactor::engines::WasmerEngine;

    use super::*;

    #[test]
    fn capabilities_and_version_are_pinned() {
        let info = WasmerEngine::new().info();
        assert_eq!((info.name, info.kind), ("wasmer", ExecutionKind::Compiler));
        assert_eq!(info.version, locked_version("wasmer"));
        let default = Capabilities::none()
            .with_memory_limit(true)
            .with_serialize(true)
            .with_wasm_stack(true);
        assert_eq!(info.capabilities, default);
        assert_eq!(WasmerEngine::with_metering().info().capabilities, default.with_fuel(true));
    }

    #[test]
    fn metering_on_a_go_fixture() {
        let engine = WasmerEngine::with_metering();
        runs_hello(&engine, |c| c.fuel_per_tick(AMPLE_FUEL));
        runs_out_of_fuel(&engine);
    }

    #[cfg(feature = "wasmer-singlepass")]
    #[test]
    fn singlepass_on_a_go_fixture() {
        let engine = WasmerEngine::singlepass();
        assert_eq!(
            engine.info().capabilities,
            Capabilities::none()
                .with_memory_limit(true)
                .with_serialize(true)
                .with_wasm_stack(true)
        );
        runs_hello(&engine, |c| c.max_memory_bytes(256 << 20));
    }
}

#[cfg(feature = "wasmi")]
mod wasmi {
    use go_reactor::engines::WasmiEngine;

    use super::*;

    #[test]
    fn capabilities_and_version_are_pinned() {
        let info = WasmiEngine::new().info();
        assert_eq!((info.name, info.kind), ("wasmi", ExecutionKind::Interpreter));
        assert_eq!(info.version, locked_version("wasmi"));
        let default = Capabilities::none()
            .with_memory_limit(true)
            .with_fuel(true)
            .with_send(true)
            .with_wasm_stack(true);
        assert_eq!(info.capabilities, default);
        assert_eq!(WasmiEngine::without_fuel().info().capabilities, default.with_fuel(false));
    }

    #[test]
    fn fuel_on_a_go_fixture() {
        let engine = WasmiEngine::new();
        runs_hello(&engine, |c| c.fuel_per_tick(AMPLE_FUEL));
        runs_out_of_fuel(&engine);
    }

    #[test]
    fn without_fuel_on_a_go_fixture() {
        let engine = WasmiEngine::without_fuel();
        runs_hello(&engine, |c| c);
        let module = Module::new(&engine, &wasm_bytes("hello")).expect("hello compiles");
        match module.instantiate(ReactorConfig::new().fuel_per_tick(AMPLE_FUEL)) {
            Err(Error::Unsupported { engine, feature }) => {
                assert_eq!(
                    (engine, feature),
                    ("wasmi", "fuel limits (not enabled in this engine's configuration)")
                )
            }
            other => panic!("expected Unsupported, got {:?}", other.map(|_| ())),
        }
    }
}

#[cfg(feature = "wasm3")]
mod wasm3 {
    use go_reactor::engines::Wasm3Engine;

    use super::*;

    #[test]
    fn capabilities_and_version_are_pinned() {
        let info = Wasm3Engine::new().info();
        assert_eq!((info.name, info.kind), ("wasm3", ExecutionKind::Interpreter));
        assert_eq!(info.version, reactor_wasm3::WASM3_VERSION);
        assert_eq!(info.capabilities, Capabilities::none().with_wasm_stack(true));
    }
}

/// A reactor of an engine chosen at run time moves to another thread where the engine allows
/// it, and is refused (before instantiating) where it does not.
#[test]
fn send_reactors_where_the_engine_allows() {
    let hello = wasm_bytes("hello");
    for kind in EngineKind::available() {
        let module = kind.compile(&hello).expect("hello compiles");
        let io = Io::default();
        match module.instantiate_send(io.config("hello")) {
            Ok(mut r) => {
                assert!(module.engine_info().capabilities.send, "{kind}");
                let outcome = std::thread::spawn(move || r.run()).join().expect("the thread ran");
                assert_eq!(outcome.expect("hello runs"), Completion::Exited(0), "{kind}");
                assert_eq!(io.stdout.contents(), b"Hello from Go WASI reactor!\n", "{kind}");
            }
            Err(Error::Unsupported { engine, feature }) => {
                assert!(!module.engine_info().capabilities.send, "{kind}");
                assert_eq!((engine, feature), (kind.name(), "Send reactors"));
            }
            Err(e) => panic!("{kind}: {e}"),
        }
    }
}

#[test]
fn engine_names_parse_with_a_typed_error() {
    assert_eq!("WASMI".parse::<EngineKind>(), Ok(EngineKind::Wasmi));
    for kind in EngineKind::ALL {
        assert_eq!(kind.name().parse::<EngineKind>(), Ok(kind));
    }
    let err = "v8".parse::<EngineKind>().unwrap_err();
    assert_eq!(err.name(), "v8");
    let err: Box<dyn std::error::Error + Send + Sync> = Box::new(err);
    assert_eq!(
        err.to_string(),
        "unknown engine `v8` (expected one of: wasmtime, wasmer, wasmi, wasm3)"
    );
}

/// The `Debug` output of the configuration types says what they hold.
#[test]
fn configuration_types_are_debug() {
    let config = ReactorConfig::new().max_memory_bytes(1 << 20);
    let debug = format!("{config:?}");
    assert!(
        debug.starts_with("ReactorConfig { imports: [], limits: Limits { max_memory_bytes: Some(1048576)"),
        "{debug}"
    );
    let opts = go_reactor::RunOptions::new().on_tick(|_| std::ops::ControlFlow::Continue(()));
    assert_eq!(
        format!("{opts:?}"),
        r#"RunOptions { on_tick: Some("FnMut(LoopResult)"), cancel: None }"#
    );
}
