//! The run loops: drive a reactor until its program ends or goes idle.
//!
//! [`run`] is for threads: it sleeps on timers (never spins). [`run_async`] is for async code:
//! it awaits a `futures_timer::Delay` on timers and yields to the executor between busy ticks,
//! so it runs on any executor (tokio, smol, async-std, `futures::executor`, pollster) and many
//! reactors can share one thread. Each tick itself runs synchronously for at most the guest's
//! time slice.
//!
//! Both loops also poll the guest's pending async host calls ([`crate::async_host`]) between
//! ticks: `-1` from `go_tick` with calls pending is not the end but a wait for the next future
//! (`run` parks the thread until a future's waker or the next timer, `run_async` awaits them).
//! A cancelled run drops the pending futures; the guest sees those calls fail as cancelled.
//! Dropping the `run_async` future itself leaves them in the reactor for the next run.
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

/// How a run ended without an error. Non-exhaustive: match it with a wildcard arm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
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

impl std::fmt::Debug for RunOptions<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunOptions")
            .field("on_tick", &self.on_tick.as_ref().map(|_| "FnMut(LoopResult)"))
            .field("cancel", &self.cancel)
            .finish()
    }
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
    /// Wait for the timer (if any) or for a pending async host call, whichever comes first.
    Sleep(Option<Duration>),
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
        LoopResult::Timer(d) => Step::Sleep(Some(d)),
        LoopResult::Idle if reactor.pending_calls() > 0 => Step::Sleep(None),
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
///
/// # Errors
/// The error that ended the guest: [`Error::GuestPanic`], [`Error::Trap`], [`Error::HostFunc`],
/// [`Error::InvalidTick`] (an exit is [`Completion::Exited`], not an error), or [`Error::Ended`]
/// for a reactor that had already ended.
#[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
pub fn run<R: Reactor + ?Sized>(reactor: &mut R) -> Result<Completion> {
    run_with(reactor, RunOptions::new())
}

/// [`run`] with options.
///
/// # Errors
/// The error that ended the guest: [`Error::GuestPanic`], [`Error::Trap`], [`Error::HostFunc`],
/// [`Error::InvalidTick`] (an exit is [`Completion::Exited`], not an error), or [`Error::Ended`]
/// for a reactor that had already ended.
#[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
pub fn run_with<R: Reactor + ?Sized>(reactor: &mut R, mut opts: RunOptions<'_>) -> Result<Completion> {
    if let Some(done) = start(reactor)? {
        return Ok(done);
    }
    let waker = Waker::from(Arc::new(ThreadWaker(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    loop {
        reactor.deliver_calls(&mut cx)?;
        match step(reactor, &mut opts)? {
            Step::Again => {}
            // Woken early by stdin input; a cancellation is then seen within the delay, which
            // is short (the runtime polls stdin every 10 ms).
            Step::Sleep(d) if reactor.pending_calls() == 0 => match (d, reactor.stdin_wait(), &opts.cancel) {
                (Some(d), Some(input), _) => {
                    input.wait_timeout(d);
                }
                (Some(d), None, Some(token)) => token.sleep(d),
                (Some(d), None, None) => std::thread::sleep(d),
                // Unreachable: `step` only waits without a timer when calls are pending.
                (None, ..) => {}
            },
            Step::Sleep(d) => wait_calls(reactor, &opts, &mut cx, d)?,
            Step::Done(c) => return finish(reactor, c),
        }
    }
}

/// After a run: a cancelled run drops the pending async host calls.
fn finish<R: Reactor + ?Sized>(reactor: &mut R, c: Completion) -> Result<Completion> {
    if c == Completion::Cancelled && reactor.pending_calls() > 0 {
        let n = reactor.cancel_calls()?;
        tracing::debug!(cancelled = n, "run cancelled: pending host calls dropped");
    }
    Ok(c)
}

/// Wakes the thread running [`run`] when a host future or the cancel token is ready.
#[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
struct ThreadWaker(std::thread::Thread);

#[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
impl std::task::Wake for ThreadWaker {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.0.unpark();
    }
}

/// Parks the thread until a pending host call is delivered, the timer `d` is due, or the run is
/// cancelled. Never spins: the futures' wakers unpark the thread.
#[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
fn wait_calls<R: Reactor + ?Sized>(reactor: &mut R, opts: &RunOptions<'_>, cx: &mut Context<'_>, d: Option<Duration>) -> Result<()> {
    let deadline = d.map(|d| std::time::Instant::now() + d);
    loop {
        if reactor.deliver_calls(cx)? > 0 || reactor.pending_calls() == 0 {
            return Ok(());
        }
        if let Some(token) = &opts.cancel
            && token.poll_cancelled(cx).is_ready()
        {
            return Ok(());
        }
        match deadline {
            None => std::thread::park(),
            Some(deadline) => match deadline.checked_duration_since(std::time::Instant::now()) {
                Some(left) if !left.is_zero() => std::thread::park_timeout(left),
                _ => return Ok(()),
            },
        }
    }
}

/// Starts `main` and ticks until the program exits, goes idle or fails, awaiting timers
/// without blocking the executor.
///
/// # Errors
/// The error that ended the guest: [`Error::GuestPanic`], [`Error::Trap`], [`Error::HostFunc`],
/// [`Error::InvalidTick`] (an exit is [`Completion::Exited`], not an error), or [`Error::Ended`]
/// for a reactor that had already ended.
pub async fn run_async<R: Reactor + ?Sized>(reactor: &mut R) -> Result<Completion> {
    run_async_with(reactor, RunOptions::new()).await
}

/// [`run_async`] with options.
///
/// # Errors
/// The error that ended the guest: [`Error::GuestPanic`], [`Error::Trap`], [`Error::HostFunc`],
/// [`Error::InvalidTick`] (an exit is [`Completion::Exited`], not an error), or [`Error::Ended`]
/// for a reactor that had already ended.
pub async fn run_async_with<R: Reactor + ?Sized>(reactor: &mut R, mut opts: RunOptions<'_>) -> Result<Completion> {
    if let Some(done) = start(reactor)? {
        return Ok(done);
    }
    loop {
        std::future::poll_fn(|cx| Poll::Ready(reactor.deliver_calls(cx))).await?;
        match step(reactor, &mut opts)? {
            // On the web a waker re-polls in a microtask, which runs before the page renders or
            // handles input: yield through a zero `setTimeout` (a macrotask) instead.
            #[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
            Step::Again => futures_timer::Delay::new(Duration::ZERO).await,
            #[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
            Step::Again => YieldNow(false).await,
            Step::Sleep(d) if reactor.pending_calls() > 0 => {
                WaitCalls {
                    reactor: &mut *reactor,
                    delay: d.map(futures_timer::Delay::new),
                    token: opts.cancel.as_ref(),
                    yielded: false,
                }
                .await?
            }
            Step::Sleep(d) => {
                // `step` only waits without a timer when calls are pending.
                Sleep {
                    delay: futures_timer::Delay::new(d.unwrap_or_default()),
                    token: opts.cancel.as_ref(),
                    input: reactor.stdin_wait(),
                }
                .await
            }
            Step::Done(c) => return finish(reactor, c),
        }
    }
}

/// Waits until a pending host call is delivered, the timer is due, or the run is cancelled.
/// Always returns `Pending` at least once, so other tasks on the executor get a turn between
/// two ticks even when results keep arriving.
struct WaitCalls<'r, 't, R: ?Sized> {
    reactor: &'r mut R,
    delay: Option<futures_timer::Delay>,
    token: Option<&'t CancelToken>,
    yielded: bool,
}

impl<R: Reactor + ?Sized> Future for WaitCalls<'_, '_, R> {
    type Output = Result<()>;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<()>> {
        let ready = self.token.is_some_and(|t| t.poll_cancelled(cx).is_ready())
            || match self.reactor.deliver_calls(cx) {
                Err(e) => return Poll::Ready(Err(e)),
                Ok(n) => n > 0 || self.reactor.pending_calls() == 0,
            }
            || self.delay.as_mut().is_some_and(|d| Pin::new(d).poll(cx).is_ready());
        match (ready, self.yielded) {
            (true, true) => Poll::Ready(Ok(())),
            (true, false) => {
                self.yielded = true;
                cx.waker().wake_by_ref();
                Poll::Pending
            }
            (false, _) => {
                self.yielded = true;
                Poll::Pending
            }
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
