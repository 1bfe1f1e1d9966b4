//! Calls Go `//go:wasmexport` functions between ticks: scalars, and a buffer the host fills.
//!
//! `cargo run --example exports_call`

use go_reactor::{Completion, DefaultEngine, Module, ReactorConfig, ReactorExt};

fn main() -> Result<(), go_reactor::Error> {
    let engine = DefaultEngine::default();
    let module = Module::from_file(&engine, "guests/wasm/exports.wasm")?;
    let mut reactor = module.instantiate(ReactorConfig::new().arg("exports"))?;
    // main prints "exports ready" and blocks: the reactor rests, idle, waiting for calls.
    assert_eq!(reactor.run()?, Completion::Idle);

    let sum: i32 = reactor.call_typed("add", (40, 2))?;
    let product: f64 = reactor.call_typed("mul_f64", (1.5, 4.0))?;
    println!("[host] add(40, 2) = {sum}, mul_f64(1.5, 4.0) = {product}");

    // Strings go through guest memory: ask Go for a buffer, fill it, pass pointer and length.
    let name = "Rust host";
    let ptr: i32 = reactor.call_typed("alloc", name.len() as i32)?;
    reactor.write_bytes(ptr as u32, name.as_bytes())?;
    let vowels: i32 = reactor.call_typed("count_vowels", (ptr, name.len() as i32))?;
    println!("[host] {name:?} has {vowels} vowels");
    reactor.call_typed::<_, ()>("greet", (ptr, name.len() as i32))?;

    // A wrong signature is a typed error, checked before the guest runs.
    if let Err(e) = reactor.call_typed::<(i32, i32), i64>("add", (1, 2)) {
        println!("[host] as expected: {e}");
    }
    Ok(())
}
