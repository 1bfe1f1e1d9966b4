//! Shows the `tracing` spans go-reactor emits (one per tick and per export call, with the tick
//! result and guest time) and the per-reactor counters.
//!
//! `cargo run --example observability`

use go_reactor::{DefaultEngine, Module, Reactor, ReactorConfig, ReactorExt};

fn main() -> Result<(), go_reactor::Error> {
    // Tracing is off unless the application installs a subscriber.
    tracing_subscriber::fmt()
        .with_env_filter("go_reactor=debug,reactor_api=debug")
        .with_target(false)
        .init();
    let engine = DefaultEngine::default();
    let module = Module::from_file(&engine, "guests/wasm/timers.wasm")?;
    let mut reactor = module.instantiate(ReactorConfig::new().arg("timers").stdout(std::io::sink()))?;
    reactor.run()?;
    let s = reactor.stats();
    println!(
        "ticks {}, export calls {}, guest time {:?}, host calls {}",
        s.ticks, s.calls, s.guest_time, s.host_calls
    );
    Ok(())
}
