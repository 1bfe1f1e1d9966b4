//! The engine-independent core of go-reactor.
//!
//! A Go program built for `wasip1` as a *reactor* exports `_initialize`, `go_start_main` and
//! `go_tick`; the host owns the event loop and calls `go_tick` whenever the Go scheduler may
//! have work. This crate holds everything that does not depend on the WebAssembly engine:
//!
//! - [`WasmEngine`] / [`EngineInstance`]: the thin interface each backend implements;
//! - [`Module`]: a compiled module checked to be a Go reactor, instantiated many times;
//! - [`Reactor`] / [`GoReactor`]: start `main`, [`tick`](Reactor::tick), call exports, memory;
//! - [`LoopResult`], [`Completion`], [`Error`];
//! - [`run`](run::run) (sleeps on timers) and [`run_async`](run::run_async) (any executor);
//! - [`HostFunc`]: WASI (from `wasi-min`) and embedder imports, linked the same way on every engine;
//! - [`Snapshot`]: a reactor frozen between ticks, resumed on any engine ([`snapshot`]);
//! - [`async_host`]: async host functions (Go awaits Rust futures) and byte host functions;
//! - [`SdkExt`]: byte, string and JSON calls into Go handlers of the guest SDK.
//!
//! Reactors are not required to be `Send`: wasmer's and wasm3's stores are not. Each backend's
//! [`EngineInfo::capabilities`] says whether its reactors are.
#![warn(missing_docs, missing_debug_implementations)]

/// The traits needed to use reactors: `use go_reactor::prelude::*;`.
pub mod prelude {
    pub use crate::{AnyModule, Reactor, ReactorExt, SdkExt, WasmEngine};
}

pub mod async_host;
mod config;
pub mod engine;
mod error;
mod ext;
pub mod host;
mod module;
mod reactor;
pub mod run;
pub mod sdk;
pub mod snapshot;
pub mod typed;
pub mod value;

pub use async_host::{AsyncCaller, AsyncHostFn, CallStatus, HostFuture};
pub use config::ReactorConfig;
pub use engine::{Capabilities, EngineInfo, EngineInstance, ExecutionKind, Limits, WasmEngine};
pub use error::{Error, Result, Trap, TrapKind};
pub use ext::ReactorExt;
pub use host::{Caller, HostError, HostFunc, HostState, HostTrap};
pub use module::{AnyModule, Module, resolve_imports, validate};
pub use reactor::{Abi, Ending, GoReactor, LoopResult, Reactor, Stats};
pub use run::{CancelToken, Completion, RunOptions, run_async, run_async_with};
#[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
pub use run::{run, run_with};
pub use sdk::SdkExt;
pub use snapshot::{Snapshot, SnapshotError, preinitialize};
pub use typed::{IntoHostFn, WasmList, WasmTy};
pub use value::{ExportDesc, ExternType, FuncType, ImportDesc, ModuleInfo, Val, ValType};
pub use wasi_min;
