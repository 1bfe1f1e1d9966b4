//! Start-up costs on every compiled-in engine, with the `hello` fixture (2.5 MB, one tick):
//!
//! - `cold_start/<engine>`: a fresh engine compiles the module, instantiates it, runs
//!   `_initialize` and `main` to exit: what `go-reactor run hello.wasm` costs inside the process;
//! - `compile/<engine>`: compile and validate only;
//! - `cached_start/<engine>/module`: instantiate from an already compiled in-memory `Module` and
//!   run to exit (the cost per extra reactor of one program);
//! - `cached_start/<engine>/deserialize`: load compiled code written by `serialize` (engines that
//!   can: wasmtime, wasmer), then instantiate and run: a start from an on-disk module cache.
//!
//! `cargo bench --features all-engines --bench start`. Sample sizes are criterion's minimum (10)
//! for the compiling cases, which take up to a few seconds per iteration on a JIT engine.

mod common;

use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use go_reactor::{Completion, Module, ReactorExt, WasmEngine};

fn run_hello<E: WasmEngine>(module: &Module<E>) {
    let mut reactor = module.instantiate(common::config("hello", &[])).expect("instantiate");
    assert_eq!(reactor.run().expect("run"), Completion::Exited(0));
}

fn start<E: WasmEngine + Default>(c: &mut Criterion, name: &str) {
    let wasm = common::wasm("hello");

    let mut g = c.benchmark_group("cold_start");
    g.sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(8));
    g.bench_function(name, |b| {
        b.iter(|| {
            let engine = E::default();
            run_hello(&Module::new(&engine, &wasm).expect("compile"));
        })
    });
    g.finish();

    let mut g = c.benchmark_group("compile");
    g.sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(8));
    let engine = E::default();
    g.bench_function(name, |b| b.iter(|| Module::new(&engine, &wasm).expect("compile")));
    g.finish();

    let mut g = c.benchmark_group("cached_start");
    g.sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));
    let module = Module::new(&engine, &wasm).expect("compile");
    g.bench_function(format!("{name}/module"), |b| b.iter(|| run_hello(&module)));
    if engine.info().capabilities.serialize {
        let bytes = engine.serialize(module.raw()).expect("serialize");
        g.bench_function(format!("{name}/deserialize"), |b| {
            b.iter(|| {
                // SAFETY: `bytes` was just written by `serialize` of this engine.
                let raw = unsafe { engine.deserialize(&bytes) }.expect("deserialize");
                run_hello(&Module::from_compiled(&engine, raw).expect("module"));
            })
        });
    }
    g.finish();
}

fn benches(c: &mut Criterion) {
    for_each_engine!(start(c));
}

criterion_group!(start_benches, benches);
criterion_main!(start_benches);
