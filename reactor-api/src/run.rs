//! The run loops: drive a reactor until its program ends or goes idle.
//!
//! [`run`] is for threads: it sleeps on timers (never spins). [`run_async`] is for async code:
//! it awaits a `futures_timer::Delay` on timers and yields to the executor between busy ticks,
//! so it runs on any executor (tokio, smol, async-std, `futures::executor`, pollster) and many
//! reactors can share one thread. Each tick itself runs synchronously for at most the guest's
//! time slice.
//!
//! A Go program waiting for stdin parks its reader goroutine in the netpoller, and `go_tick`
//! then reports a short timer (the runtime polls again every 10 ms) rather than idle. While the
//! reactor says it waits for stdin ([`Reactor::stdin_wait`]), both loops also wake as soon as
//! input arrives: [`run`] sleeps in `InputReadiness::wait_timeout`, [`run_async`] races its
//! delay with `InputReadiness::poll_ready`. Reading stdin never blocks the thread or the
//! executor: `wasi-min` reads the embedder's source on a thread of its own.

use std::future::Future;
use std::ops::ControlFlow;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use wasi_min::stdin::InputReadiness;

use crate::error::{Error, Result};
use crate::reactor::{Abi, LoopResult, Reactor};

/// How a run ended without an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Completion {
    /// The guest called `proc_exit`: `main` returned (code 0) or called `os.Exit(code)`.
    Exited(i32),
    /// ABI 1: nothing is runnable, no timer is pending, and `main` has not returned. For a
    /// command-line program this is a deadlock; for an embedder that drives the program through
    /// its exports it is the normal resting state. The reactor still accepts calls.
    Idle,
    /// Legacy ABI: the program went idle, which in that ABI means `main` has finished.
    Finished,
    /// The run was cancelled through a [`CancelToken`] or the `on_tick` hook; the reactor is
    /// intact and can be run again.
    Cancelled,
}

impl Completion {
    /// The process exit code a command-line host should use: the guest's code, 0 for a
    /// finished legacy program, `None` for idle (deadlock) or cancelled.
    pub fn exit_code(&self) -> Option<i32> {
        match *self {
            Completion::Exited(code) => Some(code),
            Completion::Finished => Some(0),
            Completion::Idle | Completion::Cancelled => None,
        }
    }
}

/// A cancellation signal shared between a running loop and whoever wants to stop it.
/// Cancelling wakes a loop that is sleeping on a timer.
#[derive(Debug, Clone, Default)]
pub struct CancelToken(Arc<CancelInner>);

#[derive(Debug, Default)]
struct CancelInner {
    cancelled: AtomicBool,
    wakers: Mutex<Vec<Waker>>,
    #[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
    sleepers: (Mutex<()>, std::sync::Condvar),
}

impl CancelToken {
    /// A token that is not cancelled.
    pub fn new() -> Self {
        Self::default()
    }
    /// Requests cancellation; the loop returns [`Completion::Cancelled`] before its next tick.
    pub fn cancel(&self) {
        self.0.cancelled.store(true, Ordering::SeqCst);
        for w in self.0.wakers.lock().unwrap_or_else(PoisonError::into_inner).drain(..) {
            w.wake();
        }
        #[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
        {
            let _g = self.0.sleepers.0.lock().unwrap_or_else(PoisonError::into_inner);
            self.0.sleepers.1.notify_all();
        }
    }
    /// Whether cancellation was requested.
    pub fn is_cancelled(&self) -> bool {
        self.0.cancelled.load(Ordering::SeqCst)
    }
    #[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
    fn sleep(&self, d: Duration) {
        let guard = self.0.sleepers.0.lock().unwrap_or_else(PoisonError::into_inner);
        let _ = self.0.sleepers.1.wait_timeout_while(guard, d, |_| !self.is_cancelled());
    }
    fn poll_cancelled(&self, cx: &mut Context<'_>) -> Poll<()> {
        if self.is_cancelled() {
            return Poll::Ready(());
        }
        let mut wakers = self.0.wakers.lock().unwrap_or_else(PoisonError::into_inner);
        if !wakers.iter().any(|w| w.will_wake(cx.waker())) {
            wakers.push(cx.waker().clone());
        }
        drop(wakers);
        if self.is_cancelled() { Poll::Ready(()) } else { Poll::Pending }
    }
}

/// Options for a run: a per-tick hook and a cancellation token.
#[derive(Default)]
pub struct RunOptions<'a> {
    on_tick: Option<Box<dyn FnMut(LoopResult) -> ControlFlow<()> + 'a>>,
    cancel: Option<CancelToken>,
}

impl<'a> RunOptions<'a> {
    /// Default options: no hook, no cancellation.
    pub fn new() -> Self {
        Self::default()
    }
    /// Calls `hook` after every tick with its result; `ControlFlow::Break` stops the run with
    /// [`Completion::Cancelled`].
    pub fn on_tick(mut self, hook: impl FnMut(LoopResult) -> ControlFlow<()> + 'a) -> Self {
        self.on_tick = Some(Box::new(hook));
        self
    }
    /// Stops the run when `token` is cancelled.
    pub fn cancel(mut self, token: CancelToken) -> Self {
        self.cancel = Some(token);
        self
    }
    fn cancelled(&self) -> bool {
        self.cancel.as_ref().is_some_and(CancelToken::is_cancelled)
    }
}

/// What the loop does after one tick.
enum Step {
    Again,
    Sleep(Duration),
    Done(Completion),
}

/// One iteration shared by both loops: tick, classify, call the hook.
fn step<R: Reactor + ?Sized>(reactor: &mut R, opts: &mut RunOptions<'_>) -> Result<Step> {
    if opts.cancelled() {
        return Ok(Step::Done(Completion::Cancelled));
    }
    let result = match reactor.tick() {
        Ok(r) => r,
        Err(Error::Exited { code }) => return Ok(Step::Done(Completion::Exited(code))),
        Err(e) => return Err(e),
    };
    if let Some(hook) = opts.on_tick.as_mut()
        && hook(result).is_break()
    {
        return Ok(Step::Done(Completion::Cancelled));
    }
    Ok(match result {
        LoopResult::Ready => Step::Again,
        LoopResult::Timer(d) => Step::Sleep(d),
        LoopResult::Idle => Step::Done(match reactor.abi() {
            Abi::V1 => Completion::Idle,
            Abi::Legacy => Completion::Finished,
        }),
    })
}

fn start<R: Reactor + ?Sized>(reactor: &mut R) -> Result<Option<Completion>> {
    match reactor.start_main() {
        Ok(()) => Ok(None),
        Err(Error::Exited { code }) => Ok(Some(Completion::Exited(code))),
        Err(e) => Err(e),
    }
}

/// Starts `main` and ticks until the program exits, goes idle or fails, sleeping the thread on
/// timers.
#[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
pub fn run<R: Reactor + ?Sized>(reactor: &mut R) -> Result<Completion> {
    run_with(reactor, RunOptions::new())
}

/// [`run`] with options.
#[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
pub fn run_with<R: Reactor + ?Sized>(reactor: &mut R, mut opts: RunOptions<'_>) -> Result<Completion> {
    if let Some(done) = start(reactor)? {
        return Ok(done);
    }
    loop {
        match step(reactor, &mut opts)? {
            Step::Again => {}
            // Woken early by input; a cancellation is then seen within the delay, which is
            // short (the runtime polls stdin every 10 ms).
            Step::Sleep(d) => match (reactor.stdin_wait(), &opts.cancel) {
                (Some(input), _) => {
                    input.wait_timeout(d);
                }
                (None, Some(token)) => token.sleep(d),
                (None, None) => std::thread::sleep(d),
            },
            Step::Done(c) => return Ok(c),
        }
    }
}

/// Starts `main` and ticks until the program exits, goes idle or fails, awaiting timers
/// without blocking the executor.
pub async fn run_async<R: Reactor + ?Sized>(reactor: &mut R) -> Result<Completion> {
    run_async_with(reactor, RunOptions::new()).await
}

/// [`run_async`] with options.
pub async fn run_async_with<R: Reactor + ?Sized>(reactor: &mut R, mut opts: RunOptions<'_>) -> Result<Completion> {
    if let Some(done) = start(reactor)? {
        return Ok(done);
    }
    loop {
        match step(reactor, &mut opts)? {
            // On the web a waker re-polls in a microtask, which runs before the page renders or
            // handles input: yield through a zero `setTimeout` (a macrotask) instead.
            #[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
            Step::Again => futures_timer::Delay::new(Duration::ZERO).await,
            #[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
            Step::Again => YieldNow(false).await,
            Step::Sleep(d) => {
                Sleep {
                    delay: futures_timer::Delay::new(d),
                    token: opts.cancel.as_ref(),
                    input: reactor.stdin_wait(),
                }
                .await
            }
            Step::Done(c) => return Ok(c),
        }
    }
}

/// Returns `Pending` once so other tasks on the executor get a turn between busy ticks.
#[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
struct YieldNow(bool);

#[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
impl Future for YieldNow {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            return Poll::Ready(());
        }
        self.0 = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

/// A timer that also completes when the token is cancelled or stdin input arrives.
struct Sleep<'t> {
    delay: futures_timer::Delay,
    token: Option<&'t CancelToken>,
    input: Option<InputReadiness>,
}

impl Future for Sleep<'_> {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.token.is_some_and(|t| t.poll_cancelled(cx).is_ready()) {
            return Poll::Ready(());
        }
        if let Some(input) = &self.input
            && input.poll_ready(cx).is_ready()
        {
            return Poll::Ready(());
        }
        Pin::new(&mut self.delay).poll(cx)
    }
}
