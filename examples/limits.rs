//! Bounds what a guest may take: a memory cap (Go sees `memory.grow` fail and reports
//! "out of memory"), and a tick deadline that stops a guest that never yields.
//!
//! `cargo run --example limits`

use std::time::Duration;

use go_reactor::prelude::*;
use go_reactor::{Completion, DefaultEngine, Error, Module, ReactorConfig, Val};

fn main() -> Result<(), Error> {
    let engine = DefaultEngine::default();
    let module = Module::from_file(&engine, "guests/wasm/exports.wasm")?;
    let config = ReactorConfig::new()
        .arg("exports")
        .max_memory_bytes(64 << 20)
        .tick_deadline(Duration::from_secs(1));
    let mut reactor = match module.instantiate(config) {
        Err(Error::Unsupported { engine, feature }) => {
            println!("[host] {engine} cannot enforce {feature}; see the README's engine table");
            return Ok(());
        }
        other => other?,
    };
    assert_eq!(reactor.run()?, Completion::Idle);
    match reactor.call("alloc", &[Val::I32(256 << 20)]) {
        Err(Error::GuestPanic { message, .. }) => println!("[host] the guest ran out of memory as capped: {message}"),
        other => println!("[host] unexpected: {other:?}"),
    }
    println!("[host] linear memory stayed at {} MiB", reactor.memory_size() >> 20);
    Ok(())
}
