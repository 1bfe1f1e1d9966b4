//! Go awaits Rust: 1000 goroutines each await an async host function that sleeps 20 ms on
//! tokio's timer, while another tokio task on the same thread ticks every millisecond and
//! records the longest gap between its ticks (how long the reactor ever held the thread).
//!
//! `cargo run --release --example async_host --features all-engines -- --engine wasmi`
//!
//! The guest is guests/programs/async-sum: each goroutine sends its index, the host answers
//! twice that, and Go checks and sums the answers. A blocking host function would take
//! 1000 x 20 ms = 20 s; here the calls overlap. Last line:
//! `async_host: engine=E calls=1000 wall_ms=W max_stall_ms=S`.

use std::cell::Cell;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use go_reactor::wasi_min::sink::SharedBuffer;
use go_reactor::{Completion, EngineKind, HostError, ReactorConfig, run_async};

const CALLS: u32 = 1000;

fn engine_from_args() -> Result<EngineKind, String> {
    let mut args = std::env::args().skip(1);
    let mut engine = EngineKind::available().first().copied().ok_or("no engine compiled in")?;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--engine" => {
                engine = args
                    .next()
                    .ok_or("--engine needs a value")?
                    .parse()
                    .map_err(|e: go_reactor::UnknownEngine| e.to_string())?
            }
            other => return Err(format!("unknown argument `{other}` (usage: async_host [--engine E])")),
        }
    }
    Ok(engine)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("async_host: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let kind = engine_from_args()?;
    let wasm = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/guests/wasm/async-sum.wasm"))?;
    let module = kind.compile(&wasm)?;

    let stdout = SharedBuffer::new();
    let config = ReactorConfig::new()
        .args(["async-sum", &CALLS.to_string()])
        .stdout(stdout.clone())
        .import_async("app", "double", |_caller, input: Vec<u8>| async move {
            tokio::time::sleep(Duration::from_millis(20)).await;
            let n: u64 = std::str::from_utf8(&input)?.parse()?;
            Ok::<_, HostError>((2 * n).to_string().into_bytes())
        });

    let start = Instant::now();
    let mut reactor = module.instantiate_dyn(config)?;
    let done = Cell::new(false);
    let ticker = async {
        let mut interval = tokio::time::interval(Duration::from_millis(1));
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let (mut last, mut max_gap) = (Instant::now(), Duration::ZERO);
        while !done.get() {
            interval.tick().await;
            let now = Instant::now();
            max_gap = max_gap.max(now - last);
            last = now;
        }
        max_gap
    };
    let guest = async {
        let r = run_async(&mut *reactor).await;
        done.set(true);
        r
    };
    let (completion, max_stall) = tokio::join!(guest, ticker);
    let wall = start.elapsed();
    let completion = completion?;

    let out = stdout.to_string_lossy();
    print!("{out}");
    let want = format!("async-sum: calls={CALLS} sum={} errors=0", u64::from(CALLS) * u64::from(CALLS - 1));
    if completion != Completion::Exited(0) || !out.contains(&want) {
        return Err(format!("guest ended with {completion:?}, expected exit 0 and `{want}`").into());
    }
    let stats = reactor.stats();
    println!(
        "[host] {} async calls, {} ticks, guest time {} ms",
        stats.async_calls,
        stats.ticks,
        stats.guest_time.as_millis()
    );
    println!(
        "async_host: engine={kind} calls={} wall_ms={} max_stall_ms={}",
        stats.async_calls,
        wall.as_millis(),
        max_stall.as_millis()
    );
    Ok(())
}
