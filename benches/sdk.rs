//! Guest SDK costs on every compiled-in engine:
//!
//! - `async_round_trip/<engine>`: one async host call from Go and back: the guest's import
//!   starts the future, the goroutine parks, `go_tick` returns, the run loop finds the future
//!   ready and delivers it (`go_reactor_resolve`), the next tick resumes the goroutine, which
//!   takes the result and starts the next call (async-sum's `forever` mode, driven by hand);
//! - `call_bytes/<engine>/1KiB` and `/1MiB`: the host calls sdk-demo's `echo` handler with a
//!   payload and gets it back (two export calls and two copies; throughput in bytes);
//! - `host_bytes/<engine>/1KiB` and `/1MiB`: Go calls the sync host function `env.echo` with a
//!   payload and checks what comes back (sdk-demo's `host_roundtrip`).
//!
//! `cargo bench --features all-engines --bench sdk -- wasmtime`.

mod common;

use std::task::{Context, Waker};
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use go_reactor::{Completion, HostError, LoopResult, Module, Reactor, ReactorExt, SdkExt, WasmEngine};

fn sdk<E: WasmEngine + Default>(c: &mut Criterion, name: &str) {
    let engine = E::default();

    let sum = Module::new(&engine, &common::wasm("async-sum")).expect("compile async-sum");
    let config = common::config("async-sum", &["forever"]).import_async("app", "double", |_caller, input: Vec<u8>| async move {
        let n: u64 = std::str::from_utf8(&input)?.parse()?;
        Ok::<_, HostError>((2 * n).to_string().into_bytes())
    });
    let mut r = sum.instantiate(config).expect("instantiate");
    r.start_main().expect("start");
    let mut cx = Context::from_waker(Waker::noop());
    let mut round_trip = move || {
        r.deliver_calls(&mut cx).expect("deliver");
        // `Ready` when the tick ran out of its time slice (e.g. a garbage collection): go on.
        while r.tick().expect("tick") == LoopResult::Ready {}
        assert_eq!(r.pending_calls(), 1);
    };
    round_trip();
    let mut g = c.benchmark_group("async_round_trip");
    g.measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1));
    g.bench_function(name, |b| b.iter(&mut round_trip));
    g.finish();

    let demo = Module::new(&engine, &common::wasm("sdk-demo")).expect("compile sdk-demo");
    let config = common::config("sdk-demo", &[])
        .import_bytes("env", "echo", |_caller, input| Ok(input.to_vec()))
        .import_bytes("env", "fail", |_caller, _input| Err(HostError::new("refused")));
    let mut r = demo.instantiate(config).expect("instantiate");
    assert_eq!(r.run().expect("run"), Completion::Idle);
    for (label, size) in [("1KiB", 1usize << 10), ("1MiB", 1 << 20)] {
        let data: Vec<u8> = (0..size).map(|i| i as u8).collect();
        let mut g = c.benchmark_group("call_bytes");
        g.measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1));
        g.throughput(Throughput::Bytes(2 * size as u64));
        g.bench_function(format!("{name}/{label}"), |b| {
            b.iter(|| assert_eq!(r.call_bytes("echo", &data).expect("echo").len(), size))
        });
        g.finish();

        let arg = size.to_string();
        let mut g = c.benchmark_group("host_bytes");
        g.measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1));
        g.throughput(Throughput::Bytes(2 * size as u64));
        g.bench_function(format!("{name}/{label}"), |b| {
            b.iter(|| assert_eq!(r.call_string("host_echo", &arg).expect("host_echo"), arg))
        });
        g.finish();
    }
}

fn benches(c: &mut Criterion) {
    for_each_engine!(sdk(c));
}

criterion_group!(sdk_benches, benches);
criterion_main!(sdk_benches);
