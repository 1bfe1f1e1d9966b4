//! Shared by the criterion benches: fixtures, configurations, and the list of compiled-in engines.
//!
//! Each bench function is generic over the engine and instantiated for every engine feature
//! enabled (`cargo bench --features all-engines` for all four; plain `cargo bench` has only the
//! default, wasmtime). Pick engines or cases with criterion's filter: `cargo bench -- wasmi`.

#![allow(dead_code)]

use std::path::PathBuf;

use go_reactor::wasi_min::sink;
use go_reactor::{FuncType, HostFunc, ReactorConfig, Val, ValType};

pub fn wasm(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("guests/wasm")
        .join(format!("{name}.wasm"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// A reactor configuration with argv[0] = `name`, `args` after it, and output discarded.
pub fn config(name: &str, args: &[&str]) -> ReactorConfig {
    ReactorConfig::new()
        .arg(name)
        .args(args)
        .stdout(sink::null())
        .stderr(sink::null())
        .import(host_nop())
}

/// `env.host_nop(x) = x + 1`, imported by the hostloop fixture.
pub fn host_nop() -> HostFunc {
    HostFunc::new(
        "env",
        "host_nop",
        FuncType::new([ValType::I32], [ValType::I32]),
        |_, args, results| {
            results[0] = Val::I32(args[0].i32().unwrap_or(0).wrapping_add(1));
            Ok(())
        },
    )
}

/// Calls `$f::<Engine>($c, "name")` for every engine compiled in.
#[macro_export]
macro_rules! for_each_engine {
    ($f:ident($c:expr)) => {
        #[cfg(feature = "wasmtime")]
        $f::<go_reactor::engines::WasmtimeEngine>($c, "wasmtime");
        #[cfg(feature = "wasmer")]
        $f::<go_reactor::engines::WasmerEngine>($c, "wasmer");
        #[cfg(feature = "wasmi")]
        $f::<go_reactor::engines::WasmiEngine>($c, "wasmi");
        #[cfg(feature = "wasm3")]
        $f::<go_reactor::engines::Wasm3Engine>($c, "wasm3");
    };
}
