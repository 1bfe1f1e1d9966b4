//! Provides host functions that Go imports with `//go:wasmimport env …`, with access to guest
//! memory and to the embedder's own state.
//!
//! `cargo run --example host_import`

use go_reactor::{Caller, DefaultEngine, HostError, HostFunc, Module, Reactor, ReactorConfig, ReactorExt};

/// The embedder's state, reachable from host functions.
#[derive(Default, Debug)]
struct Journal {
    lines: Vec<String>,
}

fn main() -> Result<(), go_reactor::Error> {
    let add = HostFunc::wrap("env", "host_add", |_: &mut Caller<'_>, a: i32, b: i32| {
        Ok::<_, HostError>(a.wrapping_add(b))
    });
    let log = HostFunc::wrap("env", "host_log", |caller: &mut Caller<'_>, ptr: i32, len: i32| {
        let text = caller.read_str(ptr as u32, len as u32)?;
        let journal = caller.data::<Journal>().ok_or_else(|| HostError::new("no journal"))?;
        journal.lines.push(text);
        Ok(())
    });

    let engine = DefaultEngine::default();
    let module = Module::from_file(&engine, "guests/wasm/hostcall.wasm")?;
    let config = ReactorConfig::new()
        .arg("hostcall")
        .import(add)
        .import(log)
        .state(Journal::default());
    let mut reactor = module.instantiate(config)?;
    let done = reactor.run()?;
    let stats = reactor.stats();
    println!(
        "[host] {done:?}; journal: {:?}; {stats:?}",
        reactor.data::<Journal>().map(|j| &j.lines)
    );
    Ok(())
}
