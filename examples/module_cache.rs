//! Compiles a module once and caches the machine code on disk, so later processes start without
//! compiling (engines that can serialize; the others just compile).
//!
//! `cargo run --example module_cache` (run it twice)

use std::time::Instant;

use go_reactor::{DefaultEngine, Module, ReactorConfig, ReactorExt, WasmEngine};

fn main() -> Result<(), go_reactor::Error> {
    let engine = DefaultEngine::default();
    let wasm = std::fs::read("guests/wasm/hello.wasm").map_err(|source| go_reactor::Error::Io {
        context: "hello.wasm".into(),
        source,
    })?;
    let dir = std::env::temp_dir().join("go-reactor-example-cache");
    let start = Instant::now();
    // SAFETY: the cache directory is this example's own; nobody else writes cached code there.
    let module = unsafe { Module::new_cached(&engine, &wasm, &dir)? };
    println!(
        "[host] {} module ready in {:?} (cache: {})",
        engine.info().name,
        start.elapsed(),
        dir.display()
    );
    // Compile once, instantiate many times: each instance shares the compiled code.
    for i in 0..3 {
        let mut reactor = module.instantiate(ReactorConfig::new().arg(format!("hello-{i}")))?;
        reactor.run()?;
    }
    Ok(())
}
