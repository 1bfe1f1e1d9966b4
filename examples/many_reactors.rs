//! Runs many reactors concurrently on one thread with the async `run` on a single executor, each
//! with its own stdout sink, then measures the memory an idle reactor costs.
//!
//! `cargo run --release --example many_reactors [-- N]`; the last line is
//! `many_reactors: engine=E reactors=N rss_per_reactor_kib=K`.

use go_reactor::wasi_min::sink::SharedBuffer;
use go_reactor::{Completion, DefaultEngine, Module, Reactor, ReactorConfig, WasmEngine, run_async};

/// Resident memory of this process in bytes (Linux), if known.
fn rss() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

fn main() -> Result<(), go_reactor::Error> {
    let n: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(100);
    let engine = DefaultEngine::default();

    // 1. N timer programs interleaved on one thread.
    let timers = Module::from_file(&engine, "guests/wasm/timers.wasm")?;
    let outs: Vec<SharedBuffer> = (0..n).map(|_| SharedBuffer::new()).collect();
    let mut reactors = outs
        .iter()
        .map(|out| timers.instantiate(ReactorConfig::new().arg("timers").stdout(out.clone())))
        .collect::<Result<Vec<_>, _>>()?;
    let start = std::time::Instant::now();
    let results = futures::executor::block_on(futures::future::join_all(reactors.iter_mut().map(run_async)));
    let ok = results.iter().filter(|r| matches!(r, Ok(Completion::Exited(0)))).count();
    let same = outs.iter().all(|o| o.contents() == outs[0].contents());
    println!(
        "[host] {ok}/{n} timer reactors finished in {:?} on one thread; identical output: {same}",
        start.elapsed()
    );
    drop(reactors);

    // 2. Memory per idle reactor: N programs resting idle (main blocked, ready for export calls).
    let exports = Module::from_file(&engine, "guests/wasm/exports.wasm")?;
    let before = rss();
    let mut idle = Vec::with_capacity(n);
    for _ in 0..n {
        let mut r = exports.instantiate(ReactorConfig::new().arg("exports").stdout(std::io::sink()))?;
        futures::executor::block_on(run_async(&mut r))?;
        idle.push(r);
    }
    let linear: u64 = idle.iter_mut().map(|r| r.memory_size()).sum::<u64>() / n as u64;
    let per_reactor = match (before, rss()) {
        (Some(b), Some(a)) => a.saturating_sub(b) / n as u64,
        _ => 0, // not Linux: unknown
    };
    println!(
        "[host] {}: {n} idle reactors: {:.1} MiB resident each (linear memory {:.1} MiB each)",
        engine.info().name,
        per_reactor as f64 / 1048576.0,
        linear as f64 / 1048576.0
    );
    // The last line, in a fixed format for scripts.
    println!(
        "many_reactors: engine={} reactors={n} rss_per_reactor_kib={}",
        engine.info().name,
        per_reactor / 1024
    );
    Ok(())
}
