//! Snapshots on every enabled engine: a reactor frozen after tick k and resumed on the same and
//! on every other engine ends exactly like an uninterrupted run; restored instances get fresh
//! random seeds; the guest's clock continues; refusals and hostile snapshot bytes are typed
//! errors, never panics.

mod common;

use std::collections::HashMap;
use std::ops::ControlFlow;
use std::time::Duration;

use common::{Io, expected, wasm_bytes};
use go_reactor::wasi_min::clock::ManualClock;
use go_reactor::{
    AnyModule, Completion, EngineKind, Error, LoopResult, Reactor, ReactorExt, RunOptions, Snapshot, SnapshotError, run_with,
};

/// Snapshottable modules, each (engine, fixture) compiled once per test.
#[derive(Default)]
struct Modules(HashMap<(EngineKind, String), Box<dyn AnyModule>>);

impl Modules {
    fn get(&mut self, engine: EngineKind, name: &str) -> &dyn AnyModule {
        &**self.0.entry((engine, name.to_string())).or_insert_with(|| {
            engine
                .compile_snapshottable(&wasm_bytes(name))
                .unwrap_or_else(|e| panic!("{engine}: compile {name}: {e}"))
        })
    }
}

/// A run's ending, comparable across engines.
fn ending(r: go_reactor::Result<Completion>) -> String {
    match r {
        Ok(c) => format!("{c:?}"),
        Err(Error::Exited { code }) => format!("Exited({code})"),
        Err(Error::GuestPanic { message, .. }) => format!("panic: {message}"),
        Err(e) => format!("error: {e}"),
    }
}

/// Runs to the end, counting ticks.
fn run_counting(r: &mut dyn Reactor) -> (String, u64) {
    let mut ticks = 0;
    let end = run_with(
        r,
        RunOptions::new().on_tick(|_| {
            ticks += 1;
            ControlFlow::Continue(())
        }),
    );
    (ending(end), ticks)
}

/// Runs exactly `k` ticks (the run must still be going), then snapshots through bytes.
fn snapshot_after(r: &mut dyn Reactor, k: u64) -> Snapshot {
    let mut ticks = 0;
    let end = run_with(
        r,
        RunOptions::new().on_tick(|_| {
            ticks += 1;
            if ticks == k {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        }),
    );
    assert_eq!(end.unwrap(), Completion::Cancelled, "stopped after tick {k}");
    let snap = r.snapshot().expect("snapshot at a tick boundary");
    assert_eq!(snap.ticks(), k);
    Snapshot::from_bytes(&snap.to_bytes()).expect("a snapshot reads back")
}

/// Fixtures that need embedder imports (hostcall, hostloop) are left to the conformance suite;
/// `cpu` (about 20 s per run on wasm3) would run 16 times here.
const SKIPPED: &[&str] = &["hostcall", "hostloop", "cpu"];

/// The acceptance matrix: every fixture that ticks more than once, frozen after tick k on each
/// engine and resumed on each engine, prints the same stdout and ends the same way as an
/// uninterrupted run (and as native Go where recorded).
#[test]
fn snapshot_resumes_on_every_engine() {
    let engines = EngineKind::available();
    let mut modules = Modules::default();
    let mut covered = Vec::new();
    for &name in common::FIXTURES.iter().filter(|n| !SKIPPED.contains(n)) {
        let baseline_io = Io::default();
        let mut r = modules.get(engines[0], name).instantiate_dyn(baseline_io.config(name)).unwrap();
        let (want_end, ticks) = run_counting(&mut *r);
        let want_out = baseline_io.stdout.contents();
        if let Some(native) = expected(name).stdout {
            assert_eq!(want_out, native, "{name}: uninterrupted run differs from native Go");
        }
        if ticks < 2 {
            continue;
        }
        covered.push(name);
        // Early enough that a slower run (fewer time slices for `busy`) still has that many ticks.
        let k = (ticks / 2).clamp(1, 2);
        for &from in &engines {
            let io = Io::default();
            let mut r = modules.get(from, name).instantiate_dyn(io.config(name)).unwrap();
            let snap = snapshot_after(&mut *r, k);
            assert_eq!(snap.engine(), from.name());
            for &to in &engines {
                let io2 = Io::default();
                let mut resumed = modules
                    .get(to, name)
                    .restore_dyn(&snap, io2.config(name))
                    .unwrap_or_else(|e| panic!("{name}: restore {from} -> {to}: {e}"));
                let end = ending(resumed.run());
                let mut out = io.stdout.contents();
                out.extend(io2.stdout.contents());
                assert_eq!(end, want_end, "{name}: {from} -> {to} after tick {k}: ending");
                assert!(
                    out == want_out,
                    "{name}: {from} -> {to} after tick {k}: stdout differs\n{}",
                    String::from_utf8_lossy(&out)
                );
            }
        }
    }
    for name in ["timers", "busy", "pingpong"] {
        assert!(covered.contains(&name), "{name} ticks more than once: {covered:?}");
    }
}

/// Instances restored from one snapshot draw different random numbers: `Module::restore` calls
/// the runtime's `go_reactor_restored`, which reseeds it.
#[test]
fn restored_instances_get_fresh_random_seeds() {
    let mut modules = Modules::default();
    for engine in EngineKind::available() {
        let module = modules.get(engine, "random");
        let io = Io::default();
        // Right after `_initialize`, whose seeds are in the snapshot (not after a tick: on a slow
        // machine the 1 ms sleep can already be over within the first tick).
        let snap = module.instantiate_dyn(io.config("random")).unwrap().snapshot().unwrap();
        let outputs: Vec<String> = (0..2)
            .map(|_| {
                let io = Io::default();
                let mut r = module.restore_dyn(&snap, io.config("random")).unwrap();
                assert_eq!(r.run().unwrap(), Completion::Exited(0));
                io.stderr.to_string_lossy()
            })
            .collect();
        assert!(outputs[0].starts_with("math/rand "), "{engine}: {outputs:?}");
        assert_ne!(
            outputs[0], outputs[1],
            "{engine}: two restored instances printed the same random values"
        );
    }
}

/// The guest's monotonic clock continues from the snapshot's reading, whatever the restoring
/// host's clock says, and a pending timer keeps its remaining delay.
#[test]
fn guest_clock_continues_after_restore() {
    let mut modules = Modules::default();
    for engine in EngineKind::available() {
        let module = modules.get(engine, "timers");
        let io = Io::default();
        let mut r = module
            .instantiate_dyn(io.config("timers").clock(ManualClock::new(50_000_000_000)))
            .unwrap();
        r.start_main().unwrap();
        let delay = loop {
            if let LoopResult::Timer(d) = r.tick().unwrap() {
                break d;
            }
        };
        let snap = r.snapshot().unwrap();
        assert!(snap.monotonic_ns() >= 50_000_000_000);

        // The restoring host's clock is far behind (it started at 1 s).
        let later = ManualClock::new(1_000_000_000);
        let io2 = Io::default();
        let mut resumed = module.restore_dyn(&snap, io2.config("timers").clock(later.clone())).unwrap();
        assert_eq!(
            resumed.snapshot().unwrap().monotonic_ns(),
            snap.monotonic_ns(),
            "{engine}: time went back"
        );
        later.advance(Duration::from_millis(3));
        assert_eq!(resumed.snapshot().unwrap().monotonic_ns(), snap.monotonic_ns() + 3_000_000);
        match resumed.tick().unwrap() {
            LoopResult::Timer(d) => assert!(d <= delay, "{engine}: remaining delay {d:?} > {delay:?}"),
            other => panic!("{engine}: the pending timer should still be pending: {other:?}"),
        }
    }
}

fn snapshot_error(e: Error) -> SnapshotError {
    match e {
        Error::Snapshot(s) => s,
        other => panic!("expected Error::Snapshot, got {other:?}"),
    }
}

/// What cannot be snapshotted or restored is refused with a typed error.
#[test]
fn refusals_are_typed_errors() {
    let mut modules = Modules::default();
    for engine in EngineKind::available() {
        // A plain module's reactors cannot be snapshotted or restore snapshots.
        let plain = engine.compile(&wasm_bytes("timers")).unwrap();
        let mut r = plain.instantiate_dyn(Io::default().config("timers")).unwrap();
        assert!(matches!(snapshot_error(r.snapshot().unwrap_err()), SnapshotError::NotSnapshottable));

        let io = Io::default();
        let mut r = modules.get(engine, "timers").instantiate_dyn(io.config("timers")).unwrap();
        let snap = snapshot_after(&mut *r, 1);
        let e = plain.restore_dyn(&snap, Io::default().config("timers")).err().unwrap();
        assert!(matches!(snapshot_error(e), SnapshotError::NotSnapshottable));

        // Another module's snapshot.
        let e = modules
            .get(engine, "busy")
            .restore_dyn(&snap, Io::default().config("busy"))
            .err()
            .unwrap();
        assert!(matches!(snapshot_error(e), SnapshotError::ModuleMismatch { .. }), "{engine}");

        // A reactor that has ended.
        let mut r = modules.get(engine, "hello").instantiate_dyn(Io::default().config("hello")).unwrap();
        assert_eq!(ending(r.run()), "Exited(0)");
        assert!(matches!(snapshot_error(r.snapshot().unwrap_err()), SnapshotError::Ended { .. }));
    }
}

/// Flips one bit at `at` and recomputes the trailing checksum: a well-sealed hostile snapshot.
fn tamper(bytes: &[u8], at: usize) -> Vec<u8> {
    use sha2::Digest;
    let mut b = bytes.to_vec();
    b[at] ^= 0x40;
    let n = b.len() - 32;
    let sum = sha2::Sha256::digest(&b[..n]);
    b[n..].copy_from_slice(&sum);
    b
}

/// Truncated, bit-flipped and foreign snapshot bytes are typed errors; well-sealed snapshots
/// with tampered memory or globals restore and then fail (or not) as the guest does, on every
/// engine, without a panic.
#[test]
fn hostile_snapshots_never_panic() {
    let mut modules = Modules::default();
    let engines = EngineKind::available();
    let io = Io::default();
    let mut r = modules.get(engines[0], "busy").instantiate_dyn(io.config("busy")).unwrap();
    let bytes = snapshot_after(&mut *r, 2).to_bytes();
    for cut in [0, 7, 12, 44, 100, bytes.len() / 2, bytes.len() - 1] {
        assert!(Snapshot::from_bytes(&bytes[..cut]).is_err(), "cut at {cut}");
    }
    for at in (0..bytes.len()).step_by(4099) {
        let mut b = bytes.clone();
        b[at] ^= 1;
        assert!(Snapshot::from_bytes(&b).is_err(), "flip at {at}");
    }
    assert!(matches!(Snapshot::from_bytes(&wasm_bytes("hello")), Err(SnapshotError::BadMagic)));
    // Header fields past the engine name: memory size, then the globals (13 bytes each).
    let globals_at = 8 + 4 + 32 + 4 + 8 + 8 + 1 + bytes[64] as usize + 4 + 4;
    let hostile: Vec<Vec<u8>> = [globals_at + 5, globals_at + 13 + 6, globals_at - 6, bytes.len() - 40_000]
        .into_iter()
        .map(|at| tamper(&bytes, at))
        .collect();
    for engine in &engines {
        for b in &hostile {
            let Ok(snap) = Snapshot::from_bytes(b) else { continue };
            let io = Io::default();
            if let Ok(mut r) = modules.get(*engine, "busy").restore_dyn(&snap, io.config("busy")) {
                // Whatever the guest does with damaged state, the host reports it as a result.
                let mut steps = 0;
                while steps < 50 && r.tick().is_ok() {
                    steps += 1;
                }
            }
        }
    }
}

/// Pre-initialized fixtures (`_initialize` done once, its state written into the module's data
/// segments and global initializers) pass the conformance checks on every engine: same stdout
/// (what `init` printed while pre-initializing, then the run's) and same ending as native Go.
/// `args-env` is left out: `os.Args` and the environment are read during `_initialize`, so a
/// pre-initialized module keeps those of the pre-initialization.
#[test]
fn preinitialized_fixtures_pass_conformance() {
    let engines = EngineKind::available();
    let mut modules = Modules::default();
    for &name in common::FIXTURES.iter().filter(|n| !SKIPPED.contains(n) && **n != "args-env") {
        let wasm = wasm_bytes(name);
        let io0 = Io::default();
        let snap = modules
            .get(engines[0], name)
            .instantiate_dyn(io0.config(name))
            .unwrap()
            .snapshot()
            .unwrap();
        let preinit = go_reactor::preinitialize(&snap, &wasm).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(preinit.len() < wasm.len() * 2, "{name}: the memory image is stored sparsely");
        for &engine in &engines {
            let plain_io = Io::default();
            let want_end = ending(engine.compile(&wasm).unwrap().instantiate_dyn(plain_io.config(name)).unwrap().run());
            let io = Io::default();
            let module = engine.compile(&preinit).unwrap_or_else(|e| panic!("{name} on {engine}: {e}"));
            let mut r = module.instantiate_dyn(io.config(name)).unwrap();
            assert_eq!(ending(r.run()), want_end, "{name} pre-initialized on {engine}");
            let mut out = io0.stdout.contents();
            out.extend(io.stdout.contents());
            assert!(
                out == plain_io.stdout.contents(),
                "{name} pre-initialized on {engine}: stdout differs"
            );
            if let Some(native) = expected(name).stdout {
                assert!(out == native, "{name} pre-initialized on {engine}: stdout differs from native Go");
            }
        }
    }
}

/// A pre-initialized module's instances are reseeded too (the `random` fixture).
#[test]
fn preinitialized_instances_get_fresh_random_seeds() {
    let engine = EngineKind::available()[0];
    let wasm = wasm_bytes("random");
    let snap = engine
        .compile_snapshottable(&wasm)
        .unwrap()
        .instantiate_dyn(Io::default().config("random"))
        .unwrap()
        .snapshot()
        .unwrap();
    let module = engine.compile(&go_reactor::preinitialize(&snap, &wasm).unwrap()).unwrap();
    let outputs: Vec<String> = (0..2)
        .map(|_| {
            let io = Io::default();
            assert_eq!(
                module.instantiate_dyn(io.config("random")).unwrap().run().unwrap(),
                Completion::Exited(0)
            );
            io.stderr.to_string_lossy()
        })
        .collect();
    assert_ne!(outputs[0], outputs[1]);
}

/// A reactor with asynchronous host calls in flight cannot be frozen: their futures live in the
/// host. (async-calls in mode `pending` starts three calls of `app.never`.)
#[test]
fn pending_async_calls_are_refused() {
    let mut modules = Modules::default();
    for engine in EngineKind::available() {
        let config = Io::default()
            .config("async-calls")
            .arg("pending")
            .import_async("app", "wait", |_caller, input: Vec<u8>| async move { Ok(input) })
            .import_async("app", "fail", |_caller, input: Vec<u8>| async move { Ok(input) })
            .import_async("app", "never", |_caller, _input| async move {
                futures::future::pending::<()>().await;
                Ok(Vec::new())
            });
        let mut r = modules.get(engine, "async-calls").instantiate_dyn(config).unwrap();
        r.start_main().unwrap();
        while r.tick().unwrap() != LoopResult::Idle {}
        assert_eq!(r.pending_calls(), 3, "{engine}");
        assert!(
            matches!(
                snapshot_error(r.snapshot().unwrap_err()),
                SnapshotError::PendingHostCalls { count: 3 }
            ),
            "{engine}"
        );
    }
}
