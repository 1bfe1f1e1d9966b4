//! Async host functions and byte host functions: the host half of the guest SDK's call protocol.
//!
//! A Go goroutine that needs the host to do I/O calls an *async host function*: the import
//! starts a Rust future, stores it in the reactor and returns a call id at once; the goroutine
//! (in the Go SDK, `goreactor.dev/guests/sdk`) parks on a channel. The run loops
//! ([`run`](crate::run::run), [`run_async`](crate::run::run_async)) poll pending futures
//! alongside timers, and between two ticks deliver each finished one by calling the SDK's export
//! `go_reactor_resolve(id, status, len)`, which makes the goroutine runnable; at the next tick it
//! copies the result in with the `go_reactor.take` import. The rest of the Go program keeps
//! running meanwhile, and nothing in the Go runtime changes (the reactor ABI stays 1).
//!
//! # The protocol (guest's view)
//! Every byte host function, sync or async, has the wasm signature `(ptr: i32, len: i32) -> i64`:
//! the guest passes its input bytes, the host copies them before returning.
//! - sync ([`HostFunc::bytes`]): the function runs at once; the import returns
//!   `(id << 32) | result_len`.
//! - async ([`HostFunc::async_fn`], [`HostFunc::asynchronous`]): the import returns `id`; later
//!   the host calls the export `go_reactor_resolve(id: i32, status: i32, len: i32)`.
//! - A negative return is `-errno` and no call was made: `EFAULT` (input outside memory),
//!   `EAGAIN` (more than [`MAX_OUTSTANDING`] calls started and not yet taken).
//!
//! The guest then fetches the outcome with `go_reactor.take(id: i32, ptr: i32, len: i32) -> i32`,
//! which copies exactly `len` bytes (the length reported by the import or by `resolve`) to `ptr`
//! and returns the [`CallStatus`] (`0` ok, `1` failed: the bytes are the error message, `2`
//! cancelled), or `-errno`: `EBADF` for an id that is unknown or already taken (a call that never
//! started), `EBUSY` for a call still in flight, `EINVAL` for a wrong length, `EFAULT` for a
//! destination outside memory. Nothing the guest passes can make the host panic or trap.
//!
//! Ids are in `1..=i32::MAX`, unique among calls not yet taken.

use std::any::Any;
use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures_util::stream::{FuturesUnordered, StreamExt};
use wasi_min::GuestMemory;
use wasi_min::errno::Errno;

use crate::engine::EngineInstance;
use crate::error::{Error, Result};
use crate::host::{Caller, HostError, HostFunc, HostState};
use crate::reactor::{GoReactor, Reactor};
use crate::value::{ExternType, FuncType, ModuleInfo, Val, ValType};

/// The import module of the SDK's own host functions (`go_reactor.take`).
pub const SDK_MODULE: &str = "go_reactor";
/// The export through which the host hands a finished async call back to the guest.
pub const RESOLVE_EXPORT: &str = "go_reactor_resolve";
/// Calls started (or sync results produced) and not yet taken by the guest, per reactor. A guest
/// that starts more gets `EAGAIN` instead of growing host memory without bound.
pub const MAX_OUTSTANDING: usize = 1 << 16;

/// Results delivered per [`deliver_calls`](crate::Reactor::deliver_calls) before it yields.
const DELIVERY_BATCH: usize = 256;

/// How a byte host call ended, as the guest's `take` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(i32)]
pub enum CallStatus {
    /// The function returned bytes.
    Ok = 0,
    /// The function returned a [`HostError`]; the bytes are its message. A Go error, not a trap.
    Failed = 1,
    /// The call was dropped before finishing (a cancelled run): no bytes.
    Cancelled = 2,
}

/// A boxed, `Send` future of an async host function.
pub type HostFuture = Pin<Box<dyn Future<Output = Result<Vec<u8>, HostError>> + Send + 'static>>;

/// An async host function: takes the guest's bytes, returns bytes later.
///
/// Object safe (through `async-trait`); the future must be `Send + 'static` because it lives in
/// the reactor between ticks, which may move between threads on engines whose reactors are
/// `Send` (wasmtime, wasmi). Register it with [`HostFunc::asynchronous`], or use the closure
/// form [`ReactorConfig::import_async`](crate::ReactorConfig::import_async).
///
/// ```
/// use reactor_api::{AsyncCaller, AsyncHostFn, HostError, HostFunc};
///
/// struct Lookup;
///
/// #[async_trait::async_trait]
/// impl AsyncHostFn for Lookup {
///     async fn call(&self, caller: AsyncCaller, input: Vec<u8>) -> Result<Vec<u8>, HostError> {
///         let _call_id = caller.id();
///         Ok(input.iter().rev().copied().collect())
///     }
/// }
/// let f = HostFunc::asynchronous("app", "lookup", Lookup);
/// assert_eq!(f.name(), "lookup");
/// ```
#[async_trait::async_trait]
pub trait AsyncHostFn: Send + Sync + 'static {
    /// Runs one call. An `Err` reaches the guest as a Go error (status [`CallStatus::Failed`]),
    /// never as a trap, and is counted in [`Stats::async_failed`](crate::Stats::async_failed).
    async fn call(&self, caller: AsyncCaller, input: Vec<u8>) -> Result<Vec<u8>, HostError>;
}

/// What an async host function knows about its call: the call id, the import, and the
/// embedder's shared state.
#[derive(Clone)]
pub struct AsyncCaller {
    id: u32,
    import: Arc<str>,
    shared: Option<Arc<dyn Any + Send + Sync>>,
}

impl std::fmt::Debug for AsyncCaller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AsyncCaller")
            .field("id", &self.id)
            .field("import", &self.import)
            .finish_non_exhaustive()
    }
}

impl AsyncCaller {
    /// The call id the guest got (unique among its outstanding calls).
    pub fn id(&self) -> u32 {
        self.id
    }
    /// `module::name` of the import.
    pub fn import(&self) -> &str {
        &self.import
    }
    /// The state given with [`ReactorConfig::shared_state`](crate::ReactorConfig::shared_state),
    /// if it is a `T`. A future outlives the guest's call, so it gets a shared handle rather
    /// than a borrow.
    pub fn data<T: Any + Send + Sync>(&self) -> Option<Arc<T>> {
        self.shared.clone()?.downcast::<T>().ok()
    }
}

type BytesFn = dyn Fn(&mut Caller<'_>, &[u8]) -> Result<Vec<u8>, HostError> + Send + Sync;
type StartFn = dyn Fn(AsyncCaller, Vec<u8>) -> HostFuture + Send + Sync;

/// The host side of an SDK import.
#[derive(Clone)]
pub(crate) enum SdkImp {
    Bytes(Arc<BytesFn>),
    Async { import: Arc<str>, start: Arc<StartFn> },
    Take,
}

impl SdkImp {
    pub(crate) fn is_async(&self) -> bool {
        matches!(self, SdkImp::Async { .. })
    }
}

fn bytes_type() -> FuncType {
    FuncType::new([ValType::I32, ValType::I32], [ValType::I64])
}

impl HostFunc {
    /// A sync host function on bytes: the Go SDK calls it with `sdk.Call(f, payload)`.
    /// An `Err` reaches Go as an error value (not a trap). Wasm signature `(i32, i32) -> i64`
    /// (see the [module docs](crate::async_host) for the protocol).
    ///
    /// ```
    /// use reactor_api::HostFunc;
    /// let upper = HostFunc::bytes("app", "upper", |_caller, input| Ok(input.to_ascii_uppercase()));
    /// assert_eq!(upper.ty().to_string(), "(i32, i32) -> (i64)");
    /// ```
    pub fn bytes(
        module: impl Into<String>,
        name: impl Into<String>,
        f: impl Fn(&mut Caller<'_>, &[u8]) -> Result<Vec<u8>, HostError> + Send + Sync + 'static,
    ) -> Self {
        HostFunc::sdk(module.into(), name.into(), bytes_type(), SdkImp::Bytes(Arc::new(f)))
    }

    /// An async host function from a closure returning a future: the Go SDK awaits it with
    /// `sdk.Await(f, payload)`, parking only the calling goroutine.
    ///
    /// ```
    /// use reactor_api::HostFunc;
    /// let f = HostFunc::async_fn("app", "double", |_caller, input: Vec<u8>| async move {
    ///     Ok(input.repeat(2))
    /// });
    /// assert_eq!(f.module(), "app");
    /// ```
    pub fn async_fn<F, Fut>(module: impl Into<String>, name: impl Into<String>, f: F) -> Self
    where
        F: Fn(AsyncCaller, Vec<u8>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Vec<u8>, HostError>> + Send + 'static,
    {
        let (module, name) = (module.into(), name.into());
        let start: Arc<StartFn> = Arc::new(move |caller, input| Box::pin(f(caller, input)));
        let import = format!("{module}::{name}").into();
        HostFunc::sdk(module, name, bytes_type(), SdkImp::Async { import, start })
    }

    /// An async host function from an [`AsyncHostFn`] implementation.
    pub fn asynchronous(module: impl Into<String>, name: impl Into<String>, f: impl AsyncHostFn) -> Self {
        let f = Arc::new(f);
        Self::async_fn(module, name, move |caller, input| {
            let f = f.clone();
            async move { f.call(caller, input).await }
        })
    }

    /// `go_reactor.take`, linked automatically for modules that import it.
    pub(crate) fn sdk_take() -> Self {
        let ty = FuncType::new([ValType::I32; 3], [ValType::I32]);
        HostFunc::sdk(SDK_MODULE.into(), "take".into(), ty, SdkImp::Take)
    }
}

/// A started call, tagged with its id so the reactor knows whose result it is.
struct Tagged {
    id: u32,
    fut: HostFuture,
}

impl Future for Tagged {
    type Output = (u32, Result<Vec<u8>, HostError>);
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let id = self.id;
        self.fut.as_mut().poll(cx).map(|r| (id, r))
    }
}

/// An outcome waiting for the guest's `take`.
struct Outcome {
    status: CallStatus,
    data: Vec<u8>,
}

/// Per-reactor bookkeeping of byte host calls (part of [`HostState`]).
#[derive(Default)]
pub(crate) struct Calls {
    next_id: u32,
    in_flight: FuturesUnordered<Tagged>,
    in_flight_ids: HashSet<u32>,
    outcomes: HashMap<u32, Outcome>,
    pub(crate) shared: Option<Arc<dyn Any + Send + Sync>>,
    pub(crate) started: u64,
    pub(crate) failed: u64,
    pub(crate) cancelled: u64,
}

impl Calls {
    fn outstanding(&self) -> usize {
        self.in_flight_ids.len() + self.outcomes.len()
    }

    fn alloc_id(&mut self) -> u32 {
        // At most MAX_OUTSTANDING ids are in use, far fewer than 2^31: this loop ends quickly.
        loop {
            self.next_id = if self.next_id >= i32::MAX as u32 { 1 } else { self.next_id + 1 };
            let id = self.next_id;
            if !self.in_flight_ids.contains(&id) && !self.outcomes.contains_key(&id) {
                return id;
            }
        }
    }

    /// Records a finished call; returns the status and length to announce to the guest.
    fn finish(&mut self, id: u32, result: Result<Vec<u8>, HostError>) -> (CallStatus, u32) {
        self.in_flight_ids.remove(&id);
        let (status, mut data) = match result {
            Ok(data) => (CallStatus::Ok, data),
            Err(e) => {
                self.failed += 1;
                tracing::debug!(id, error = %e, "host call failed; the guest gets an error");
                (CallStatus::Failed, e.to_string().into_bytes())
            }
        };
        let (status, len) = match u32::try_from(data.len()) {
            Ok(len) => (status, len),
            Err(_) => {
                self.failed += 1;
                data = b"host call result larger than 4 GiB".to_vec();
                (CallStatus::Failed, data.len() as u32)
            }
        };
        self.outcomes.insert(id, Outcome { status, data });
        (status, len)
    }

    /// Drops every pending future (ending the reactor, or a cancelled run).
    pub(crate) fn clear(&mut self) {
        self.in_flight = FuturesUnordered::new();
        self.in_flight_ids.clear();
        self.outcomes.clear();
    }

    /// Calls in flight (futures not finished).
    pub(crate) fn pending(&self) -> usize {
        self.in_flight_ids.len()
    }
}

fn arg_u32(args: &[Val], i: usize) -> u32 {
    // Backends check arguments against the signature; a mismatch reads as 0 rather than panicking.
    args.get(i).and_then(Val::i32).unwrap_or(0) as u32
}

fn neg(e: Errno) -> i64 {
    -i64::from(e.raw())
}

/// Runs an SDK import for the guest; the result is the import's single return value.
pub(crate) fn call(imp: &SdkImp, memory: &mut dyn GuestMemory, state: &mut HostState, args: &[Val]) -> Val {
    match imp {
        SdkImp::Take => Val::I32(take(memory, state, args)),
        SdkImp::Bytes(f) => {
            let (ptr, len) = (arg_u32(args, 0), arg_u32(args, 1));
            if state.calls.outstanding() >= MAX_OUTSTANDING {
                return Val::I64(neg(Errno::Again));
            }
            let Ok(input) = memory.read_vec(ptr.into(), len.into()) else {
                return Val::I64(neg(Errno::Fault));
            };
            let result = f(&mut Caller::new(memory, state), &input);
            let calls = &mut state.calls;
            let id = calls.alloc_id();
            let (_, len) = calls.finish(id, result);
            Val::I64((i64::from(id) << 32) | i64::from(len))
        }
        SdkImp::Async { import, start } => {
            let (ptr, len) = (arg_u32(args, 0), arg_u32(args, 1));
            let calls = &mut state.calls;
            if calls.outstanding() >= MAX_OUTSTANDING {
                return Val::I64(neg(Errno::Again));
            }
            let Ok(input) = memory.read_vec(ptr.into(), len.into()) else {
                return Val::I64(neg(Errno::Fault));
            };
            let id = calls.alloc_id();
            let caller = AsyncCaller {
                id,
                import: import.clone(),
                shared: calls.shared.clone(),
            };
            // The future is not polled here: it runs between ticks, in the run loop's context.
            calls.in_flight.push(Tagged {
                id,
                fut: start(caller, input),
            });
            calls.in_flight_ids.insert(id);
            calls.started += 1;
            Val::I64(id.into())
        }
    }
}

fn take(memory: &mut dyn GuestMemory, state: &mut HostState, args: &[Val]) -> i32 {
    let (id, ptr, len) = (arg_u32(args, 0), arg_u32(args, 1), arg_u32(args, 2));
    let calls = &mut state.calls;
    let Some(outcome) = calls.outcomes.get(&id) else {
        let e = if calls.in_flight_ids.contains(&id) {
            Errno::Busy
        } else {
            Errno::Badf
        };
        return -i32::from(e.raw());
    };
    if outcome.data.len() != len as usize {
        return -i32::from(Errno::Inval.raw());
    }
    if memory.write(ptr.into(), &outcome.data).is_err() {
        return -i32::from(Errno::Fault.raw());
    }
    calls.outcomes.remove(&id).map_or(0, |o| o.status as i32)
}

/// Refuses a module that imports an async host function but cannot be told about results
/// (no `go_reactor_resolve` export: it was not built with the Go SDK).
pub(crate) fn check_module(info: &ModuleInfo, imports: &[HostFunc]) -> Result<()> {
    let Some(first) = imports.iter().find(|f| f.is_async()) else {
        return Ok(());
    };
    let want = FuncType::new([ValType::I32; 3], []);
    match info.export(RESOLVE_EXPORT) {
        Some(ExternType::Func(t)) if *t == want => Ok(()),
        other => Err(Error::Sdk {
            message: format!(
                "the module imports async host function {}::{} but {} (import goreactor.dev/guests/sdk)",
                first.module(),
                first.name(),
                match other {
                    None => format!("has no `{RESOLVE_EXPORT}` export"),
                    Some(t) => format!("its `{RESOLVE_EXPORT}` export is {t}, expected func {want}"),
                }
            ),
        }),
    }
}

impl<I: EngineInstance> GoReactor<I> {
    /// Polls pending async calls (registering `cx`'s waker) and delivers every finished one.
    pub(crate) fn deliver_calls_impl(&mut self, cx: &mut Context<'_>) -> Result<usize> {
        let mut delivered = 0;
        while self.ended().is_none() {
            if delivered == DELIVERY_BATCH {
                // Hand control back (the loop ticks, an executor runs other tasks) and come back
                // at once: thousands of results finishing together must not stall the thread.
                cx.waker().wake_by_ref();
                break;
            }
            let calls = &mut self.instance().state().calls;
            if calls.in_flight.is_empty() {
                break;
            }
            let (id, result) = match calls.in_flight.poll_next_unpin(cx) {
                Poll::Ready(Some(done)) => done,
                Poll::Ready(None) | Poll::Pending => break,
            };
            let (status, len) = calls.finish(id, result);
            self.resolve(id, status, len)?;
            delivered += 1;
        }
        Ok(delivered)
    }

    /// Drops every pending future and tells the guest each call was cancelled.
    pub(crate) fn cancel_calls_impl(&mut self) -> Result<usize> {
        let calls = &mut self.instance().state().calls;
        calls.in_flight = FuturesUnordered::new();
        let mut ids: Vec<u32> = calls.in_flight_ids.drain().collect();
        ids.sort_unstable();
        calls.cancelled += ids.len() as u64;
        for &id in &ids {
            calls.outcomes.insert(
                id,
                Outcome {
                    status: CallStatus::Cancelled,
                    data: Vec::new(),
                },
            );
        }
        if self.ended().is_none() {
            for &id in &ids {
                self.resolve(id, CallStatus::Cancelled, 0)?;
            }
        }
        Ok(ids.len())
    }

    fn resolve(&mut self, id: u32, status: CallStatus, len: u32) -> Result<()> {
        let args = [Val::I32(id as i32), Val::I32(status as i32), Val::I32(len as i32)];
        self.invoke_export(RESOLVE_EXPORT, &args)
    }
}
