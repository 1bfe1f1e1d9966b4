//! Snapshot and pre-initialization costs on every compiled-in engine:
//!
//! - `instantiate/<engine>/module`: instantiate `timers` and run `_initialize` (the plain start);
//! - `instantiate/<engine>/preinit`: instantiate its pre-initialized module (no `_initialize`);
//! - `instantiate/<engine>/snapshot`: restore a snapshot taken after its third tick;
//! - `snapshot/<engine>`: take a snapshot after the third tick and serialize it (its size is
//!   printed once per engine).
//!
//! `cargo bench --features all-engines --bench snapshot`.

mod common;

use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use go_reactor::{Module, Reactor, ReactorConfig, WasmEngine, preinitialize};

fn config() -> ReactorConfig {
    common::config("timers", &[]).stdout(std::io::sink())
}

fn snapshot<E: WasmEngine + Default>(c: &mut Criterion, name: &str) {
    let engine = E::default();
    let wasm = common::wasm("timers");
    let module = Module::new(&engine, &wasm).expect("compile");
    let snappable = Module::new_snapshottable(&engine, &wasm).expect("compile");
    let fresh = snappable.instantiate(config()).expect("instantiate").snapshot().expect("snapshot");
    let preinit = Module::new(&engine, &preinitialize(&fresh, &wasm).expect("preinit")).expect("compile");
    let mut running = snappable.instantiate(config()).expect("instantiate");
    running.start_main().expect("start");
    for _ in 0..3 {
        running.tick().expect("tick");
    }
    let snap = running.snapshot().expect("snapshot");
    println!(
        "snapshot/{name}: {} bytes ({} of {} pages stored)",
        snap.to_bytes().len(),
        snap.stored_pages(),
        snap.memory_size() / 65536
    );

    let mut g = c.benchmark_group("instantiate");
    g.sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));
    g.bench_function(format!("{name}/module"), |b| {
        b.iter(|| module.instantiate(config()).expect("instantiate"))
    });
    g.bench_function(format!("{name}/preinit"), |b| {
        b.iter(|| preinit.instantiate(config()).expect("instantiate"))
    });
    g.bench_function(format!("{name}/snapshot"), |b| {
        b.iter(|| snappable.restore(&snap, config()).expect("restore"))
    });
    g.finish();

    let mut g = c.benchmark_group("snapshot");
    g.sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));
    g.bench_function(name, |b| b.iter(|| running.snapshot().expect("snapshot").to_bytes()));
    g.finish();
}

fn benches(c: &mut Criterion) {
    for_each_engine!(snapshot(c));
}

criterion_group!(snapshot_benches, benches);
criterion_main!(snapshot_benches);
