//! The guest SDK and async host functions, on every engine: Go goroutines awaiting Rust
//! futures (1000 at once, under `run_async` and the sync `run`), failures, completion order,
//! cancellation, dropping a reactor or panicking with calls pending, byte and string round trips
//! up to 16 MiB in both directions, link errors, and hostile guests (hand-written WAT).
//!
//! Fixtures: guests/programs/{async-sum,async-calls,sdk-demo} (see guests/README.md). Written
//! once, generic over the engine, instantiated per engine by the macro at the end.

mod common;

use std::collections::HashMap;
use std::ops::ControlFlow;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Waker};
use std::time::Duration;

use common::{Fixtures, Io};
use futures::channel::oneshot;
use go_reactor::{
    CancelToken, Completion, Error, HostError, HostFunc, LoopResult, Module, Reactor, ReactorConfig, ReactorExt, RunOptions, SdkExt,
    WasmEngine, run_async, run_async_with, run_with,
};

/// Counts drops of the futures it is moved into: proves pending futures are released.
struct DropGuard(Arc<AtomicUsize>);

impl Drop for DropGuard {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// `app.double`: after `delay` (a futures-timer, so it works under any executor and the sync
/// run), the decimal input times two.
fn double(delay: Duration) -> HostFunc {
    HostFunc::async_fn("app", "double", move |_caller, input: Vec<u8>| async move {
        futures_timer::Delay::new(delay).await;
        let n: i64 = std::str::from_utf8(&input)?.parse()?;
        Ok((2 * n).to_string().into_bytes())
    })
}

/// Calls whose completion the test controls, by payload.
type Held = HashMap<Vec<u8>, oneshot::Receiver<Vec<u8>>>;

/// Host side of async-calls: `app.wait` finishes when the test sends on the channel registered
/// for its payload (or at once, upper-cased, if none is registered), `app.fail` fails,
/// `app.never` never finishes (its futures count their drops).
#[derive(Clone, Default)]
struct Ctl {
    waiting: Arc<Mutex<Held>>,
    dropped: Arc<AtomicUsize>,
}

impl Ctl {
    /// Registers payload `key`; the returned sender completes that call.
    fn hold(&self, key: &str) -> oneshot::Sender<Vec<u8>> {
        let (tx, rx) = oneshot::channel();
        self.waiting.lock().unwrap().insert(key.as_bytes().to_vec(), rx);
        tx
    }
    fn dropped(&self) -> usize {
        self.dropped.load(Ordering::SeqCst)
    }
    fn config(&self, io: &Io, mode: &str) -> ReactorConfig {
        let waiting = self.waiting.clone();
        let dropped = self.dropped.clone();
        io.config("async-calls")
            .arg(mode)
            .import_async("app", "wait", move |_caller, input: Vec<u8>| {
                let held = waiting.lock().unwrap().remove(&input);
                async move {
                    match held {
                        Some(rx) => rx.await.map_err(|_| HostError::new("sender dropped")),
                        None => Ok(input.to_ascii_uppercase()),
                    }
                }
            })
            .import_async("app", "fail", |_caller, _input| async { Err(HostError::new("no such user")) })
            .import_async("app", "never", move |_caller, _input| {
                let guard = DropGuard(dropped.clone());
                async move {
                    let _guard = guard;
                    futures::future::pending::<()>().await;
                    Ok(Vec::new())
                }
            })
    }
}

/// Ticks until the guest is idle, delivering finished calls before each tick (a manual loop).
fn tick_until_idle<R: Reactor + ?Sized>(r: &mut R) {
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        r.deliver_calls(&mut cx).unwrap();
        match r.tick().unwrap() {
            LoopResult::Idle => return,
            LoopResult::Ready => {}
            LoopResult::Timer(d) => std::thread::sleep(d),
        }
    }
}

const SUM_STDOUT: &str = "async-sum: calls=1000 sum=999000 errors=0\n";

pub fn await_1000_run_async<E: WasmEngine>(fx: &Fixtures<E>) {
    let io = Io::default();
    let config = io.config("async-sum").import(double(Duration::from_millis(20)));
    let mut r = fx.module("async-sum").instantiate(config).unwrap();
    let done = futures::executor::block_on(run_async(&mut r));
    assert_eq!(done.unwrap(), Completion::Exited(0), "stderr: {}", io.stderr.to_string_lossy());
    assert_eq!(io.stdout.to_string_lossy(), SUM_STDOUT);
    let stats = r.stats();
    assert_eq!((stats.async_calls, stats.async_failed), (1000, 0));
}

pub fn await_1000_sync_run<E: WasmEngine>(fx: &Fixtures<E>) {
    let io = Io::default();
    let config = io.config("async-sum").import(double(Duration::from_millis(20)));
    let mut r = fx.module("async-sum").instantiate(config).unwrap();
    assert_eq!(r.run().unwrap(), Completion::Exited(0));
    assert_eq!(io.stdout.to_string_lossy(), SUM_STDOUT);
    assert_eq!(r.stats().async_calls, 1000);
    assert!(io.sleeps.sleeps().is_empty(), "the guest never blocks in poll_oneoff");
}

pub fn failing_future<E: WasmEngine>(fx: &Fixtures<E>) {
    let (io, ctl) = (Io::default(), Ctl::default());
    let mut r = fx.module("async-calls").instantiate(ctl.config(&io, "fail")).unwrap();
    assert_eq!(r.run().unwrap(), Completion::Exited(0));
    assert_eq!(
        io.stdout.to_string_lossy(),
        "fail: host: no such user (host error: true)\nthen: OK <nil>\n"
    );
    let stats = r.stats();
    assert_eq!(
        (stats.async_calls, stats.async_failed),
        (2, 1),
        "the failure is visible to the embedder"
    );
}

pub fn completion_order<E: WasmEngine>(fx: &Fixtures<E>) {
    let (io, ctl) = (Io::default(), Ctl::default());
    let [a, b, c] = ["a", "b", "c"].map(|k| ctl.hold(k));
    let mut r = fx.module("async-calls").instantiate(ctl.config(&io, "order")).unwrap();
    r.start_main().unwrap();
    tick_until_idle(&mut r);
    assert_eq!(r.pending_calls(), 3, "idle with three calls pending");
    assert_eq!(io.stdout.contents(), b"");
    // Finish them in the order c, a, b: Go sees them in that order, not in call order.
    for (tx, value, want) in [(c, "C", "got C <nil>\n"), (a, "A", "got C <nil>\ngot A <nil>\n")] {
        tx.send(value.as_bytes().to_vec()).unwrap();
        tick_until_idle(&mut r);
        assert_eq!(io.stdout.to_string_lossy(), want);
    }
    b.send(b"B".to_vec()).unwrap();
    assert_eq!(r.run().unwrap(), Completion::Exited(0));
    assert_eq!(io.stdout.to_string_lossy(), "got C <nil>\ngot A <nil>\ngot B <nil>\norder done\n");
}

pub fn dropped_with_pending<E: WasmEngine>(fx: &Fixtures<E>) {
    let (io, ctl) = (Io::default(), Ctl::default());
    let mut r = fx.module("async-calls").instantiate(ctl.config(&io, "pending")).unwrap();
    r.start_main().unwrap();
    tick_until_idle(&mut r);
    assert_eq!(r.pending_calls(), 3);
    assert_eq!(ctl.dropped(), 0);
    drop(r);
    assert_eq!(ctl.dropped(), 3, "dropping the reactor drops its pending futures");
}

pub fn cancellation<E: WasmEngine>(fx: &Fixtures<E>) {
    // Sync run, cancelled from another thread while it is parked waiting for the futures.
    let (io, ctl) = (Io::default(), Ctl::default());
    let mut r = fx.module("async-calls").instantiate(ctl.config(&io, "cancel")).unwrap();
    let token = CancelToken::new();
    let canceller = token.clone();
    let opts = RunOptions::new().cancel(token).on_tick(move |t| {
        if t == LoopResult::Idle {
            let canceller = canceller.clone();
            std::thread::spawn(move || canceller.cancel());
        }
        ControlFlow::Continue(())
    });
    assert_eq!(run_with(&mut r, opts).unwrap(), Completion::Cancelled);
    assert_eq!(ctl.dropped(), 3, "a cancelled run drops the pending futures");
    assert_eq!((r.pending_calls(), r.stats().async_cancelled), (0, 3));
    // The reactor lives on: the goroutines get sdk.ErrCancelled.
    assert_eq!(r.run().unwrap(), Completion::Exited(0));
    assert_eq!(io.stdout.to_string_lossy(), "cancelled=3\n");

    // The same under run_async, cancelled by the on_tick hook.
    let (io, ctl) = (Io::default(), Ctl::default());
    let mut r = fx.module("async-calls").instantiate(ctl.config(&io, "cancel")).unwrap();
    let opts = RunOptions::new().on_tick(|t| match t {
        LoopResult::Idle => ControlFlow::Break(()),
        _ => ControlFlow::Continue(()),
    });
    let done = futures::executor::block_on(run_async_with(&mut r, opts)).unwrap();
    assert_eq!((done, ctl.dropped()), (Completion::Cancelled, 3));
    assert_eq!(futures::executor::block_on(run_async(&mut r)).unwrap(), Completion::Exited(0));
    assert_eq!(io.stdout.to_string_lossy(), "cancelled=3\n");
}

pub fn panic_with_pending<E: WasmEngine>(fx: &Fixtures<E>) {
    let (io, ctl) = (Io::default(), Ctl::default());
    let mut r = fx.module("async-calls").instantiate(ctl.config(&io, "panic")).unwrap();
    match r.run() {
        Err(Error::GuestPanic { message, .. }) => assert_eq!(message, "panic: boom with calls pending"),
        other => panic!("expected a Go panic, got {other:?}"),
    }
    assert_eq!(r.stats().async_calls, 3);
    assert_eq!(ctl.dropped(), 3, "a dead guest's futures are dropped at once");
    assert_eq!(r.pending_calls(), 0);
    assert!(matches!(r.tick(), Err(Error::Ended { .. })));
}

/// Bytes `i*7 + i>>8`, as sdk-demo's `pattern`.
fn pattern(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 7 + (i >> 8)) as u8).collect()
}

fn sdk_demo<E: WasmEngine>(fx: &Fixtures<E>, io: &Io) -> go_reactor::GoReactor<<E as WasmEngine>::Instance> {
    let config = io
        .config("sdk-demo")
        .import_bytes("env", "echo", |_caller, input| Ok(input.to_vec()))
        .import_bytes("env", "fail", |_caller, input| {
            Err(HostError::new(format!("refused {} bytes", input.len())))
        });
    let mut r = fx.module("sdk-demo").instantiate(config).unwrap();
    assert_eq!(r.run().unwrap(), Completion::Idle);
    assert_eq!(io.stdout.to_string_lossy(), "sdk-demo ready\n");
    r
}

const SIZES: [usize; 3] = [0, 1024, 16 << 20];

pub fn byte_round_trips<E: WasmEngine>(fx: &Fixtures<E>) {
    let io = Io::default();
    let mut r = sdk_demo(fx, &io);
    // Host -> Go -> host.
    for n in SIZES {
        let data = pattern(n);
        assert_eq!(r.call_bytes("echo", &data).unwrap(), data, "echo of {n} bytes");
    }
    // Go -> host -> Go (env.echo, then env.fail with up to 3 bytes).
    for n in SIZES {
        let reply = r.call_string("host_roundtrip", &n.to_string()).unwrap();
        assert_eq!(reply, format!("ok {n}; refused {} bytes", n.min(3)));
    }
    assert_eq!(r.stats().async_failed, 3, "failed sync byte calls are counted too");
}

pub fn string_and_json_calls<E: WasmEngine>(fx: &Fixtures<E>) {
    let io = Io::default();
    let mut r = sdk_demo(fx, &io);
    assert_eq!(r.call_string("upper", "").unwrap(), "");
    assert_eq!(r.call_string("upper", "héllo, go").unwrap(), "HÉLLO, GO");
    let big = "abc".repeat(350);
    assert_eq!(r.call_string("upper", &big).unwrap(), big.to_uppercase());
    #[derive(serde::Serialize)]
    struct Req {
        values: Vec<i64>,
    }
    #[derive(serde::Deserialize, Debug, PartialEq)]
    struct Resp {
        sum: i64,
        count: usize,
    }
    let resp: Resp = r.call_json("sum", &Req { values: vec![1, 2, 39] }).unwrap();
    assert_eq!(resp, Resp { sum: 42, count: 3 });
    match r.call_bytes("fail", b"nope") {
        Err(Error::GuestCall { export, message }) => assert_eq!((export.as_str(), message.as_str()), ("fail", "fail: nope")),
        other => panic!("expected a Go error, got {other:?}"),
    }
    assert!(matches!(r.call_bytes("missing", b""), Err(Error::Sdk { .. })));
    assert!(matches!(
        r.call_json::<_, Resp>("sum", "not an object"),
        Err(Error::GuestCall { .. })
    ));
    // After all that the reactor still works.
    assert_eq!(r.call_bytes("echo", b"still alive").unwrap(), b"still alive");
}

pub fn missing_async_import<E: WasmEngine>(fx: &Fixtures<E>) {
    let io = Io::default();
    let config = io
        .config("async-calls")
        .import_async("app", "wait", |_c, i| async move { Ok(i) })
        .import_async("app", "fail", |_c, i| async move { Ok(i) });
    match fx.module("async-calls").instantiate(config) {
        Err(e) => {
            assert!(
                matches!(&e, Error::UnresolvedImport { module, name, .. } if module == "app" && name == "never"),
                "{e:?}"
            );
            assert!(e.to_string().contains("app::never"), "{e}");
        }
        Ok(_) => panic!("a missing async import must fail to link"),
    }
    // A sync host function where an async one is declared links (same signature) but a
    // different signature is refused.
    let wrong = HostFunc::wrap("app", "never", |_: &mut go_reactor::Caller<'_>, x: i32| Ok::<_, HostError>(x));
    let config = Ctl::default().config(&io, "pending").import(wrong);
    assert!(matches!(
        fx.module("async-calls").instantiate(config),
        Err(Error::ImportType { .. })
    ));
}

/// WAT for the hostile cases: a minimal reactor importing an async function, a sync byte
/// function and `go_reactor.take`. `go_tick` runs phase 1 (bad inputs; starts one async call),
/// then phase 2 after the host resolved it. Each check stores the first mismatch as
/// `-(1000 * step + (got & 0x3ff))`, which `go_tick` returns.
const HOSTILE_WAT: &str = r#"(module
  (import "app" "slow" (func $slow (param i32 i32) (result i64)))
  (import "app" "sync" (func $sync (param i32 i32) (result i64)))
  (import "go_reactor" "take" (func $take (param i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (global $fail (mut i32) (i32.const -1))
  (global $phase (mut i32) (i32.const 0))
  (global $id (mut i32) (i32.const 0))
  (global $rid (mut i32) (i32.const 0))
  (global $rstatus (mut i32) (i32.const -1))
  (global $rlen (mut i32) (i32.const -1))
  (data (i32.const 0) "ping")
  (func $expect (param $step i32) (param $want i32) (param $got i32)
    (if (i32.and (i32.ne (local.get $got) (local.get $want)) (i32.eq (global.get $fail) (i32.const -1)))
      (then (global.set $fail (i32.sub (i32.const 0)
        (i32.add (i32.mul (local.get $step) (i32.const 1000)) (i32.and (local.get $got) (i32.const 0x3ff))))))))
  (func (export "_initialize"))
  (func (export "go_start_main"))
  (func (export "go_reactor_resolve") (param i32 i32 i32)
    (global.set $rid (local.get 0)) (global.set $rstatus (local.get 1)) (global.set $rlen (local.get 2)))
  (func (export "go_tick") (result i32) (local $r i64) (local $sid i32) (local $len i32)
    (if (i32.eqz (global.get $phase)) (then
      (global.set $phase (i32.const 1))
      ;; inputs outside memory: EFAULT (21), nothing started
      (call $expect (i32.const 1) (i32.const -21) (i32.wrap_i64 (call $slow (i32.const 65530) (i32.const 100))))
      (call $expect (i32.const 2) (i32.const -21) (i32.wrap_i64 (call $sync (i32.const -1) (i32.const 2))))
      ;; take of a call that never started: EBADF (8)
      (call $expect (i32.const 3) (i32.const -8) (call $take (i32.const 12345) (i32.const 0) (i32.const 0)))
      (call $expect (i32.const 4) (i32.const -8) (call $take (i32.const -1) (i32.const 0) (i32.const 0)))
      ;; a sync call; its result fetched with bad pointers and lengths first
      (local.set $r (call $sync (i32.const 0) (i32.const 4)))
      (local.set $sid (i32.wrap_i64 (i64.shr_u (local.get $r) (i64.const 32))))
      (local.set $len (i32.wrap_i64 (local.get $r)))
      (call $expect (i32.const 5) (i32.const 4) (local.get $len))
      (call $expect (i32.const 6) (i32.const -21) (call $take (local.get $sid) (i32.const 65534) (local.get $len)))
      (call $expect (i32.const 7) (i32.const -28) (call $take (local.get $sid) (i32.const 16) (i32.const 5)))
      (call $expect (i32.const 8) (i32.const 0) (call $take (local.get $sid) (i32.const 16) (local.get $len)))
      (call $expect (i32.const 9) (i32.const 0x474e4950) (i32.load (i32.const 16)))
      (call $expect (i32.const 10) (i32.const -8) (call $take (local.get $sid) (i32.const 16) (local.get $len)))
      ;; an async call: taking it before it finished is EBUSY (10)
      (global.set $id (i32.wrap_i64 (call $slow (i32.const 0) (i32.const 4))))
      (call $expect (i32.const 11) (i32.const 1) (i32.gt_s (global.get $id) (i32.const 0)))
      (call $expect (i32.const 12) (i32.const -10) (call $take (global.get $id) (i32.const 16) (i32.const 4)))
      (return (global.get $fail))))
    ;; phase 2: the host resolved the call
    (call $expect (i32.const 13) (global.get $id) (global.get $rid))
    (call $expect (i32.const 14) (i32.const 0) (global.get $rstatus))
    (call $expect (i32.const 15) (i32.const 0) (call $take (global.get $id) (i32.const 32) (global.get $rlen)))
    (call $expect (i32.const 16) (i32.const 0x474e4950) (i32.load (i32.const 32)))
    (global.get $fail)))"#;

fn check_tick<R: Reactor + ?Sized>(r: &mut R, phase: &str) {
    match r.tick() {
        Ok(LoopResult::Idle) => {}
        Err(Error::InvalidTick { value }) => panic!("{phase}: check {} failed, got {}", -value / 1000, -value % 1000),
        other => panic!("{phase}: {other:?}"),
    }
}

pub fn hostile_guest<E: WasmEngine>(fx: &Fixtures<E>) {
    let wasm = wat::parse_str(HOSTILE_WAT).unwrap();
    let module = Module::new(fx.engine(), &wasm).unwrap();
    let config = ReactorConfig::new()
        .import_async("app", "slow", |_c, input: Vec<u8>| async move { Ok(input.to_ascii_uppercase()) })
        .import_bytes("app", "sync", |_c, input| Ok(input.to_ascii_uppercase()));
    let mut r = module.instantiate(config).unwrap();
    r.start_main().unwrap();
    check_tick(&mut r, "phase 1");
    assert_eq!(r.pending_calls(), 1);
    let mut cx = Context::from_waker(Waker::noop());
    assert_eq!(r.deliver_calls(&mut cx).unwrap(), 1);
    check_tick(&mut r, "phase 2");
    assert!(r.ended().is_none(), "bad input never ends the reactor");

    // A module importing an async function without the SDK's resolve export is refused.
    let no_sdk = HOSTILE_WAT.replace(r#"(export "go_reactor_resolve")"#, "");
    let module = Module::new(fx.engine(), &wat::parse_str(&no_sdk).unwrap()).unwrap();
    let config = ReactorConfig::new()
        .import_async("app", "slow", |_c, i| async move { Ok(i) })
        .import_bytes("app", "sync", |_c, i| Ok(i.to_vec()));
    match module.instantiate(config) {
        Err(Error::Sdk { message }) => assert!(message.contains("app::slow"), "{message}"),
        other => panic!("expected an SDK error, got {other:?}"),
    }
}

macro_rules! sdk_tests {
    ($engine:ident, $ty:ty) => {
        mod $engine {
            use std::sync::LazyLock;
            static FIXTURES: LazyLock<crate::Fixtures<$ty>> = LazyLock::new(Default::default);
            sdk_tests!(@tests await_1000_run_async await_1000_sync_run failing_future completion_order
                dropped_with_pending cancellation panic_with_pending byte_round_trips string_and_json_calls
                missing_async_import hostile_guest);
        }
    };
    (@tests $($case:ident)*) => {
        $(#[test] fn $case() { crate::$case(&FIXTURES) })*
    };
}

#[cfg(feature = "wasmtime")]
sdk_tests!(wasmtime, go_reactor::engines::WasmtimeEngine);
#[cfg(feature = "wasmer")]
sdk_tests!(wasmer, go_reactor::engines::WasmerEngine);
#[cfg(feature = "wasmi")]
sdk_tests!(wasmi, go_reactor::engines::WasmiEngine);
#[cfg(feature = "wasm3")]
sdk_tests!(wasm3, go_reactor::engines::Wasm3Engine);
