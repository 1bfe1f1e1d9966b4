//! Runs the bundled hello reactor to completion on this thread with the default engine.
//!
//! `cargo run --example hello [-- path/to/reactor.wasm]`

use go_reactor::{Completion, DefaultEngine, Module, ReactorConfig, ReactorExt};

fn main() -> Result<(), go_reactor::Error> {
    let path = std::env::args().nth(1).unwrap_or_else(|| "guests/wasm/hello.wasm".into());
    let engine = DefaultEngine::default();
    let module = Module::from_file(&engine, &path)?;
    let mut reactor = module.instantiate(ReactorConfig::new().arg(&path))?;
    match reactor.run()? {
        Completion::Exited(code) => println!("[host] guest exited with code {code}"),
        other => println!("[host] guest stopped: {other:?}"),
    }
    Ok(())
}
