//! Running costs on every compiled-in engine:
//!
//! - `cpu/<engine>`: the `cpu` fixture (encoding/json round trips and SHA-256 over 4 MiB, one
//!   goroutine) from `go_start_main` to exit, on a fresh instance each iteration (instantiation
//!   not timed). On the interpreters one iteration takes 10-30 s and criterion needs at least 11,
//!   so they run it only with `GO_REACTOR_BENCH_INTERPRETER_CPU=1` (`go-reactor bench
//!   guests/wasm/cpu.wasm` measures them in a few runs);
//! - `pingpong/<engine>`: 20 000 round trips (40 000 channel handoffs between two goroutines)
//!   from `go_start_main` to exit; throughput in handoffs;
//! - `host_call/<engine>`: guest-to-host calls: hostloop's `call_host(10000)` export calls the
//!   host's `env.host_nop` 10 000 times; throughput in host calls;
//! - `export_call/<engine>`: host-to-guest calls: hostloop's empty `nop` export;
//! - `tick/<engine>`: one `go_tick` on an idle reactor (nothing runnable): the per-tick floor.
//!
//! `cargo bench --features all-engines --bench runtime`.

mod common;

use std::time::Duration;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use go_reactor::{Completion, LoopResult, Module, Reactor, ReactorExt, Val, WasmEngine};

const PINGPONG_ROUNDS: u64 = 20_000;
const HOST_CALLS: i32 = 10_000;

fn runtime<E: WasmEngine + Default>(c: &mut Criterion, name: &str) {
    let engine = E::default();
    let interpreter = engine.info().kind == go_reactor::ExecutionKind::Interpreter;

    // On an interpreter one iteration takes 10-30 s, and criterion runs at least 11: opt in.
    if !interpreter || std::env::var_os("GO_REACTOR_BENCH_INTERPRETER_CPU").is_some() {
        let cpu = Module::new(&engine, &common::wasm("cpu")).expect("compile cpu");
        let mut g = c.benchmark_group("cpu");
        g.sample_size(10)
            .warm_up_time(Duration::from_millis(if interpreter { 1 } else { 1000 }))
            .measurement_time(Duration::from_secs(if interpreter { 60 } else { 15 }));
        g.bench_function(name, |b| {
            b.iter_batched(
                || cpu.instantiate(common::config("cpu", &[])).expect("instantiate"),
                |mut r| assert_eq!(r.run().expect("run"), Completion::Exited(0)),
                BatchSize::PerIteration,
            )
        });
        g.finish();
    }

    let pingpong = Module::new(&engine, &common::wasm("pingpong")).expect("compile pingpong");
    let rounds = PINGPONG_ROUNDS.to_string();
    let mut g = c.benchmark_group("pingpong");
    g.sample_size(10).measurement_time(Duration::from_secs(5));
    g.throughput(Throughput::Elements(2 * PINGPONG_ROUNDS));
    g.bench_function(name, |b| {
        b.iter_batched(
            || pingpong.instantiate(common::config("pingpong", &[&rounds])).expect("instantiate"),
            |mut r| assert_eq!(r.run().expect("run"), Completion::Exited(0)),
            BatchSize::PerIteration,
        )
    });
    g.finish();

    // One idle hostloop reactor serves the three call benchmarks.
    let hostloop = Module::new(&engine, &common::wasm("hostloop")).expect("compile hostloop");
    let mut r = hostloop.instantiate(common::config("hostloop", &[])).expect("instantiate");
    assert_eq!(r.run().expect("run"), Completion::Idle);
    let n = HOST_CALLS;
    let want = (0..n).fold(0i32, |s, i| s.wrapping_add(i + 1));
    assert_eq!(r.call_i32("call_host", &[Val::I32(n)]).expect("call_host"), want);

    let mut g = c.benchmark_group("host_call");
    g.measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1));
    g.throughput(Throughput::Elements(n as u64));
    g.bench_function(name, |b| b.iter(|| r.call("call_host", &[Val::I32(n)]).expect("call_host")));
    g.finish();

    let mut g = c.benchmark_group("export_call");
    g.measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1));
    g.bench_function(name, |b| b.iter(|| r.call("nop", &[]).expect("nop")));
    g.finish();

    let mut g = c.benchmark_group("tick");
    g.measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1));
    g.bench_function(name, |b| b.iter(|| assert_eq!(r.tick().expect("tick"), LoopResult::Idle)));
    g.finish();
}

fn benches(c: &mut Criterion) {
    for_each_engine!(runtime(c));
}

criterion_group!(runtime_benches, benches);
criterion_main!(runtime_benches);
