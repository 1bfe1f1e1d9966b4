//! Host functions: the WASI imports and the embedder's own, behind one type.
//!
//! A backend links every import of a module to a [`HostFunc`] and, when the guest calls it,
//! hands [`HostFunc::call`] the arguments, a view of guest memory and the instance's
//! [`HostState`]. Everything else (WASI semantics, user closures, bookkeeping of how the guest
//! ended) happens here, once for all engines.

use std::any::Any;
use std::sync::Arc;

use wasi_min::preview1::{self, WasiFunction, WasiType};
use wasi_min::{GuestMemory, WasiCtx};

use crate::value::{FuncType, Val, ValType};

/// The error an embedder's host function returns to stop the guest; the reactor then ends with
/// [`Error::HostFunc`](crate::Error::HostFunc) carrying its message.
///
/// It implements [`std::error::Error`], so (as with `anyhow::Error`) there is no blanket
/// conversion from every error type; `?` works on the errors host functions typically meet
/// (guest memory, UTF-8, I/O, strings), and [`HostError::from_error`] wraps any other error,
/// keeping it as the [`source`](std::error::Error::source).
///
/// ```
/// use reactor_api::HostError;
/// fn parse(s: &str) -> Result<u32, HostError> {
///     let n: u32 = s.parse().map_err(HostError::from_error)?;
///     if n == 0 { return Err("zero is not allowed".into()); }
///     Ok(n)
/// }
/// assert_eq!(parse("0").unwrap_err().to_string(), "zero is not allowed");
/// assert!(std::error::Error::source(&parse("x").unwrap_err()).is_some());
/// ```
#[derive(Debug)]
pub struct HostError {
    message: String,
    source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
}

impl HostError {
    /// An error with a message.
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            source: None,
        }
    }
    /// Wraps any error: its `Display` becomes the message, and it stays reachable through
    /// [`source`](std::error::Error::source).
    pub fn from_error(error: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self {
            message: error.to_string(),
            source: Some(Box::new(error)),
        }
    }
    /// The message.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl std::fmt::Display for HostError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for HostError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_deref().map(|e| e as &(dyn std::error::Error + 'static))
    }
}

impl From<String> for HostError {
    fn from(message: String) -> Self {
        Self::new(message)
    }
}

impl From<&str> for HostError {
    fn from(message: &str) -> Self {
        Self::new(message)
    }
}

impl From<Box<dyn std::error::Error + Send + Sync + 'static>> for HostError {
    fn from(error: Box<dyn std::error::Error + Send + Sync + 'static>) -> Self {
        Self {
            message: error.to_string(),
            source: Some(error),
        }
    }
}

macro_rules! host_error_from {
    ($($t:ty),* $(,)?) => {$(
        impl From<$t> for HostError {
            fn from(error: $t) -> Self {
                Self::from_error(error)
            }
        }
    )*};
}
host_error_from!(
    std::io::Error,
    wasi_min::MemoryError,
    std::str::Utf8Error,
    std::string::FromUtf8Error,
    std::num::ParseIntError,
    std::num::TryFromIntError,
    crate::Error,
);

/// What a backend gets back when a host function stops the guest. It carries no detail: the
/// reason is recorded in [`HostState`], so backends only need to turn it into an engine trap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("host function stopped the guest")]
pub struct HostTrap;

/// Why a host function stopped the guest (recorded in [`HostState`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Stop {
    Exit(i32),
    Failed { import: String, message: String },
}

/// Per-instance host state: the WASI context, the embedder's state, and bookkeeping.
///
/// Backends store it in their engine's store and pass it to [`HostFunc::call`].
pub struct HostState {
    pub(crate) wasi: WasiCtx,
    pub(crate) user: Box<dyn Any + Send>,
    pub(crate) host_calls: u64,
    pub(crate) stop: Option<Stop>,
    /// Byte and async host calls of the guest SDK (see [`crate::async_host`]).
    pub(crate) calls: crate::async_host::Calls,
}

impl std::fmt::Debug for HostState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HostState")
            .field("wasi", &self.wasi)
            .field("host_calls", &self.host_calls)
            .finish_non_exhaustive()
    }
}

impl HostState {
    /// State for a new instance.
    pub fn new(wasi: WasiCtx, user: Box<dyn Any + Send>) -> Self {
        Self {
            wasi,
            user,
            host_calls: 0,
            stop: None,
            calls: Default::default(),
        }
    }
    /// The WASI context.
    pub fn wasi(&mut self) -> &mut WasiCtx {
        &mut self.wasi
    }
    /// The embedder's state, if it is a `T`.
    pub fn data<T: 'static>(&mut self) -> Option<&mut T> {
        self.user.downcast_mut()
    }
}

/// What an embedder's host function sees of the guest while it runs.
pub struct Caller<'a> {
    memory: &'a mut dyn GuestMemory,
    state: &'a mut HostState,
}

impl std::fmt::Debug for Caller<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Caller")
            .field("memory_size", &self.memory.size())
            .finish_non_exhaustive()
    }
}

impl<'a> Caller<'a> {
    pub(crate) fn new(memory: &'a mut dyn GuestMemory, state: &'a mut HostState) -> Self {
        Self { memory, state }
    }
    /// The guest's linear memory.
    pub fn memory(&mut self) -> &mut dyn GuestMemory {
        self.memory
    }
    /// The embedder's state given in the reactor's configuration, if it is a `T`.
    pub fn data<T: 'static>(&mut self) -> Option<&mut T> {
        self.state.data()
    }
    /// Copies `len` bytes at guest address `ptr`.
    pub fn read_bytes(&mut self, ptr: u32, len: u32) -> Result<Vec<u8>, HostError> {
        Ok(self.memory.read_vec(ptr.into(), len.into())?)
    }
    /// Reads a UTF-8 string of `len` bytes at `ptr`.
    pub fn read_str(&mut self, ptr: u32, len: u32) -> Result<String, HostError> {
        Ok(String::from_utf8(self.read_bytes(ptr, len)?)?)
    }
    /// Writes `data` at guest address `ptr`.
    pub fn write_bytes(&mut self, ptr: u32, data: &[u8]) -> Result<(), HostError> {
        Ok(self.memory.write(ptr.into(), data)?)
    }
}

/// The closure behind an embedder's host function: arguments in, results out (pre-filled with
/// zeros of the right types).
pub type HostCallback = dyn Fn(&mut Caller<'_>, &[Val], &mut [Val]) -> Result<(), HostError> + Send + Sync;

#[derive(Clone)]
enum Imp {
    Wasi(&'static WasiFunction),
    User(Arc<HostCallback>),
    /// Byte, async and SDK functions (see [`crate::async_host`]).
    Sdk(crate::async_host::SdkImp),
}

/// A function the host provides to the guest under `module::name`.
#[derive(Clone)]
pub struct HostFunc {
    module: Arc<str>,
    name: Arc<str>,
    ty: FuncType,
    imp: Imp,
}

impl std::fmt::Debug for HostFunc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "HostFunc({}::{} {})", self.module, self.name, self.ty)
    }
}

fn wasi_type(t: WasiType) -> ValType {
    match t {
        WasiType::I32 => ValType::I32,
        WasiType::I64 => ValType::I64,
    }
}

impl HostFunc {
    /// A host function with a dynamic signature.
    ///
    /// ```
    /// use reactor_api::{FuncType, HostFunc, Val, ValType};
    /// let add = HostFunc::new("env", "host_add", FuncType::new([ValType::I32; 2], [ValType::I32]),
    ///     |_caller, args, results| {
    ///         let (a, b) = (args[0].i32().unwrap_or(0), args[1].i32().unwrap_or(0));
    ///         results[0] = Val::I32(a.wrapping_add(b));
    ///         Ok(())
    ///     });
    /// assert_eq!(add.name(), "host_add");
    /// ```
    pub fn new(
        module: impl Into<String>,
        name: impl Into<String>,
        ty: FuncType,
        f: impl Fn(&mut Caller<'_>, &[Val], &mut [Val]) -> Result<(), HostError> + Send + Sync + 'static,
    ) -> Self {
        let (module, name) = (module.into(), name.into());
        Self {
            module: module.into(),
            name: name.into(),
            ty,
            imp: Imp::User(Arc::new(f)),
        }
    }

    /// The WASI preview1 function `f`.
    pub fn wasi(f: &'static WasiFunction) -> Self {
        let ty = FuncType::new(f.params.iter().map(|&t| wasi_type(t)), f.results.iter().map(|&t| wasi_type(t)));
        Self {
            module: preview1::MODULE.into(),
            name: f.name.into(),
            ty,
            imp: Imp::Wasi(f),
        }
    }

    pub(crate) fn sdk(module: String, name: String, ty: FuncType, imp: crate::async_host::SdkImp) -> Self {
        Self {
            module: module.into(),
            name: name.into(),
            ty,
            imp: Imp::Sdk(imp),
        }
    }

    /// Whether this is an async host function (its results come back between ticks).
    pub fn is_async(&self) -> bool {
        matches!(&self.imp, Imp::Sdk(imp) if imp.is_async())
    }

    /// Import module name.
    pub fn module(&self) -> &str {
        &self.module
    }
    /// Import field name.
    pub fn name(&self) -> &str {
        &self.name
    }
    /// Signature.
    pub fn ty(&self) -> &FuncType {
        &self.ty
    }

    /// Runs the function for the guest. Backends call this from their engine's host-function
    /// trampoline; on `Err` they must trap, and the reactor reads the reason from `state`.
    /// `results` must have the signature's length; it is filled with correctly typed values.
    pub fn call(&self, memory: &mut dyn GuestMemory, state: &mut HostState, args: &[Val], results: &mut [Val]) -> Result<(), HostTrap> {
        state.host_calls += 1;
        match &self.imp {
            Imp::Wasi(f) => {
                let mut raw = [0u64; 16];
                for (r, a) in raw.iter_mut().zip(args) {
                    *r = a.to_raw();
                }
                match f.call(&mut state.wasi, memory, &raw[..args.len().min(16)]) {
                    Ok(errno) => {
                        if let Some(r) = results.first_mut() {
                            *r = Val::I32(i32::from(errno.raw()));
                        }
                        Ok(())
                    }
                    Err(exit) => {
                        state.stop = Some(Stop::Exit(exit.0));
                        Err(HostTrap)
                    }
                }
            }
            Imp::Sdk(imp) => {
                let r = crate::async_host::call(imp, memory, state, args);
                if let Some(slot) = results.first_mut() {
                    *slot = r;
                }
                Ok(())
            }
            Imp::User(f) => {
                for (r, &t) in results.iter_mut().zip(self.ty.results()) {
                    *r = Val::default_for(t).unwrap_or(Val::I32(0));
                }
                let outcome = f(&mut Caller { memory, state }, args, results);
                let outcome = outcome.and_then(|()| self.check_results(results));
                outcome.map_err(|e| {
                    state.stop = Some(Stop::Failed {
                        import: format!("{}::{}", self.module, self.name),
                        message: e.message,
                    });
                    HostTrap
                })
            }
        }
    }

    fn check_results(&self, results: &[Val]) -> Result<(), HostError> {
        for (i, (v, &t)) in results.iter().zip(self.ty.results()).enumerate() {
            if v.ty() != t {
                return Err(HostError::new(format!("result {i} is {}, the signature says {t}", v.ty())));
            }
        }
        Ok(())
    }
}
