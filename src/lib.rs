//! Host Go programs compiled as WebAssembly WASI *reactors*, and drive their scheduler from Rust.
//!
//! A Go program built for `wasip1` as a reactor (see `guests/README.md`) exports `_initialize`,
//! `go_start_main` and `go_tick`. The host owns the loop: it starts `main`, then calls
//! [`Reactor::tick`] whenever it wants the Go scheduler to run, interleaving Go with its own
//! event loop, a game frame, an async runtime or other guests.
//!
//! ```no_run
//! use go_reactor::{Completion, DefaultEngine, Module, ReactorConfig, ReactorExt};
//!
//! let engine = DefaultEngine::default();
//! let module = Module::from_file(&engine, "guests/wasm/hello.wasm")?;
//! let mut reactor = module.instantiate(ReactorConfig::new().arg("hello"))?;
//! assert_eq!(reactor.run()?, Completion::Exited(0));
//! # Ok::<(), go_reactor::Error>(())
//! ```
//!
//! # Engines
//! Each engine is a Cargo feature: `wasmtime` (default), `wasmer`, `wasmi`, `wasm3`, or
//! `all-engines`. [`DefaultEngine`] is the first enabled one in the order wasmtime, wasmer,
//! wasmi, wasm3 (compilers first: they run Go code fastest). [`EngineKind`] picks an engine at
//! run time and works through `dyn` [`AnyModule`] / [`Reactor`].
#![warn(missing_docs, missing_debug_implementations)]

pub use reactor_api::*;

/// The backend crates, re-exported by feature.
pub mod engines {
    #[cfg(feature = "wasm3")]
    pub use reactor_wasm3::Wasm3Engine;
    #[cfg(feature = "wasmer")]
    pub use reactor_wasmer::WasmerEngine;
    #[cfg(feature = "wasmi")]
    pub use reactor_wasmi::WasmiEngine;
    #[cfg(feature = "wasmtime")]
    pub use reactor_wasmtime::{WasmtimeEngine, WasmtimeOptions};
    #[cfg(all(feature = "web", target_arch = "wasm32", target_os = "unknown"))]
    pub use reactor_web::{JsClock, JsSink, WebEngine};
}

cfg_if::cfg_if! {
    if #[cfg(all(feature = "web", target_arch = "wasm32", target_os = "unknown"))] {
        /// The default engine: on the web, the host's own WebAssembly engine.
        pub type DefaultEngine = engines::WebEngine;
    } else if #[cfg(feature = "wasmtime")] {
        /// The default engine: the first enabled of wasmtime, wasmer, wasmi, wasm3.
        pub type DefaultEngine = engines::WasmtimeEngine;
    } else if #[cfg(feature = "wasmer")] {
        /// The default engine: the first enabled of wasmtime, wasmer, wasmi, wasm3.
        pub type DefaultEngine = engines::WasmerEngine;
    } else if #[cfg(feature = "wasmi")] {
        /// The default engine: the first enabled of wasmtime, wasmer, wasmi, wasm3.
        pub type DefaultEngine = engines::WasmiEngine;
    } else if #[cfg(feature = "wasm3")] {
        /// The default engine: the first enabled of wasmtime, wasmer, wasmi, wasm3.
        pub type DefaultEngine = engines::Wasm3Engine;
    }
}

/// An engine chosen at run time (e.g. from a command-line flag).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EngineKind {
    /// wasmtime (Cranelift JIT).
    Wasmtime,
    /// wasmer (Cranelift JIT).
    Wasmer,
    /// wasmi (interpreter).
    Wasmi,
    /// wasm3 (interpreter).
    Wasm3,
}

impl EngineKind {
    /// All engines, in default-preference order.
    pub const ALL: [EngineKind; 4] = [EngineKind::Wasmtime, EngineKind::Wasmer, EngineKind::Wasmi, EngineKind::Wasm3];

    /// The engines compiled into this build, in default-preference order.
    pub fn available() -> Vec<EngineKind> {
        Self::ALL.into_iter().filter(|k| k.is_available()).collect()
    }

    /// The command-line name (`wasmtime`, `wasmer`, `wasmi`, `wasm3`).
    pub fn name(self) -> &'static str {
        match self {
            EngineKind::Wasmtime => "wasmtime",
            EngineKind::Wasmer => "wasmer",
            EngineKind::Wasmi => "wasmi",
            EngineKind::Wasm3 => "wasm3",
        }
    }

    /// Whether this engine's feature is enabled.
    pub fn is_available(self) -> bool {
        match self {
            EngineKind::Wasmtime => cfg!(feature = "wasmtime"),
            EngineKind::Wasmer => cfg!(feature = "wasmer"),
            EngineKind::Wasmi => cfg!(feature = "wasmi"),
            EngineKind::Wasm3 => cfg!(feature = "wasm3"),
        }
    }

    /// Facts about the engine, if compiled in.
    pub fn info(self) -> Option<EngineInfo> {
        match self {
            #[cfg(feature = "wasmtime")]
            EngineKind::Wasmtime => Some(engines::WasmtimeEngine::default().info()),
            #[cfg(feature = "wasmer")]
            EngineKind::Wasmer => Some(engines::WasmerEngine::default().info()),
            #[cfg(feature = "wasmi")]
            EngineKind::Wasmi => Some(engines::WasmiEngine::default().info()),
            #[cfg(feature = "wasm3")]
            EngineKind::Wasm3 => Some(engines::Wasm3Engine::default().info()),
            #[allow(unreachable_patterns)]
            _ => None,
        }
    }

    /// Compiles `wasm` for snapshots ([`Module::new_snapshottable`]) with a fresh engine of this
    /// kind: its reactors can be [snapshotted](Reactor::snapshot) and it can
    /// [restore](AnyModule::restore_dyn) snapshots taken on any engine.
    pub fn compile_snapshottable(self, wasm: &[u8]) -> Result<Box<dyn AnyModule>> {
        match self {
            #[cfg(feature = "wasmtime")]
            EngineKind::Wasmtime => Ok(Box::new(Module::new_snapshottable(&engines::WasmtimeEngine::default(), wasm)?)),
            #[cfg(feature = "wasmer")]
            EngineKind::Wasmer => Ok(Box::new(Module::new_snapshottable(&engines::WasmerEngine::default(), wasm)?)),
            #[cfg(feature = "wasmi")]
            EngineKind::Wasmi => Ok(Box::new(Module::new_snapshottable(&engines::WasmiEngine::default(), wasm)?)),
            #[cfg(feature = "wasm3")]
            EngineKind::Wasm3 => Ok(Box::new(Module::new_snapshottable(&engines::Wasm3Engine::default(), wasm)?)),
            #[allow(unreachable_patterns)]
            other => {
                let _ = wasm;
                Err(Error::EngineUnavailable { engine: other.name() })
            }
        }
    }

    /// Compiles `wasm` with a fresh engine of this kind and checks it is a Go reactor.
    ///
    /// # Errors
    /// [`Error::EngineUnavailable`] when this engine is not compiled in; otherwise as
    /// [`Module::new`].
    pub fn compile(self, wasm: &[u8]) -> Result<Box<dyn AnyModule>> {
        self.compile_with(wasm, &EngineOptions::default())
    }

    /// [`compile`](Self::compile) on an engine configured with `options` (e.g. a larger wasm
    /// stack); a setting the engine cannot honour is [`Error::Unsupported`].
    pub fn compile_with(self, wasm: &[u8], options: &EngineOptions) -> Result<Box<dyn AnyModule>> {
        #[allow(dead_code)] // unused when no native engine is compiled in (e.g. on the web)
        fn on<E: WasmEngine>(wasm: &[u8], options: &EngineOptions) -> Result<Box<dyn AnyModule>> {
            Ok(Box::new(Module::new(&E::from_options(options)?, wasm)?))
        }
        match self {
            #[cfg(feature = "wasmtime")]
            EngineKind::Wasmtime => on::<engines::WasmtimeEngine>(wasm, options),
            #[cfg(feature = "wasmer")]
            EngineKind::Wasmer => on::<engines::WasmerEngine>(wasm, options),
            #[cfg(feature = "wasmi")]
            EngineKind::Wasmi => on::<engines::WasmiEngine>(wasm, options),
            #[cfg(feature = "wasm3")]
            EngineKind::Wasm3 => on::<engines::Wasm3Engine>(wasm, options),
            #[allow(unreachable_patterns)]
            other => {
                let _ = (wasm, options); // unused when no native engine is compiled in (e.g. on the web)
                Err(Error::EngineUnavailable { engine: other.name() })
            }
        }
    }

    /// Like [`compile`](Self::compile), through an on-disk cache of compiled code (see
    /// [`Module::new_cached`]): on engines that can serialize (wasmtime, wasmer) a module compiled
    /// once loads in milliseconds afterwards; the others simply compile.
    ///
    /// # Safety
    /// As for [`Module::new_cached`]: `cache_dir` must be writable only by you, because its files
    /// are loaded as machine code.
    ///
    /// # Errors
    /// [`Error::EngineUnavailable`] when this engine is not compiled in; otherwise as
    /// [`Module::new_cached`].
    pub unsafe fn compile_cached(self, wasm: &[u8], cache_dir: &std::path::Path) -> Result<Box<dyn AnyModule>> {
        // SAFETY: forwarded from this function's contract.
        unsafe { self.compile_cached_with(wasm, cache_dir, &EngineOptions::default()) }
    }

    /// [`compile_cached`](Self::compile_cached) on an engine configured with `options`.
    ///
    /// # Safety
    /// As for [`Module::new_cached`]: `cache_dir` must be writable only by you, because its files
    /// are loaded as machine code.
    pub unsafe fn compile_cached_with(
        self,
        wasm: &[u8],
        cache_dir: &std::path::Path,
        options: &EngineOptions,
    ) -> Result<Box<dyn AnyModule>> {
        /// # Safety
        /// As for [`Module::new_cached`].
        #[allow(dead_code)] // unused when no native engine is compiled in (e.g. on the web)
        unsafe fn on<E: WasmEngine>(wasm: &[u8], cache_dir: &std::path::Path, options: &EngineOptions) -> Result<Box<dyn AnyModule>> {
            // SAFETY: forwarded from this function's contract.
            Ok(Box::new(unsafe {
                Module::new_cached(&E::from_options(options)?, wasm, cache_dir)?
            }))
        }
        // SAFETY (every arm): forwarded from this function's contract.
        match self {
            #[cfg(feature = "wasmtime")]
            EngineKind::Wasmtime => unsafe { on::<engines::WasmtimeEngine>(wasm, cache_dir, options) },
            #[cfg(feature = "wasmer")]
            EngineKind::Wasmer => unsafe { on::<engines::WasmerEngine>(wasm, cache_dir, options) },
            #[cfg(feature = "wasmi")]
            EngineKind::Wasmi => unsafe { on::<engines::WasmiEngine>(wasm, cache_dir, options) },
            #[cfg(feature = "wasm3")]
            EngineKind::Wasm3 => unsafe { on::<engines::Wasm3Engine>(wasm, cache_dir, options) },
            #[allow(unreachable_patterns)]
            other => {
                let _ = (wasm, cache_dir, options);
                Err(Error::EngineUnavailable { engine: other.name() })
            }
        }
    }
}

impl std::fmt::Display for EngineKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for EngineKind {
    type Err = UnknownEngine;
    /// Parses an engine's command-line name, ignoring ASCII case.
    ///
    /// # Errors
    /// [`UnknownEngine`] for a name that is none of `wasmtime`, `wasmer`, `wasmi`, `wasm3`
    /// (whether or not that engine is compiled in: see [`EngineKind::is_available`]).
    fn from_str(s: &str) -> std::result::Result<Self, UnknownEngine> {
        Self::ALL
            .into_iter()
            .find(|k| k.name().eq_ignore_ascii_case(s))
            .ok_or_else(|| UnknownEngine { name: s.to_string() })
    }
}

/// The error of parsing an [`EngineKind`] from a name that is not an engine's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownEngine {
    name: String,
}

impl UnknownEngine {
    /// The name that was given.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl std::fmt::Display for UnknownEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "unknown engine `{}` (expected one of: wasmtime, wasmer, wasmi, wasm3)",
            self.name
        )
    }
}

impl std::error::Error for UnknownEngine {}

/// The README's Rust examples, compiled as doctests.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
