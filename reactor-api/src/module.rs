//! [`Module`]: a compiled module checked to be a Go reactor, ready to instantiate many times.

use std::sync::Arc;

use wasi_min::preview1;

use crate::config::ReactorConfig;
use crate::engine::WasmEngine;
use crate::error::{Error, Result};
use crate::host::{HostFunc, HostState};
use crate::reactor::GoReactor;
use crate::value::{ExternType, FuncType, ModuleInfo, ValType};

/// A compiled Go reactor for engine `E`. Compile and validate once, instantiate as often as
/// needed: on the compiling engines (wasmtime, wasmer) and wasmi every
/// [`instantiate`](Module::instantiate) shares the compiled code; wasm3 keeps the validated bytes
/// and parses them per instance (its runtime cannot share a parsed module across threads).
pub struct Module<E: WasmEngine> {
    engine: E,
    raw: E::Module,
    info: Arc<ModuleInfo>,
}

impl<E: WasmEngine> Clone for Module<E> {
    fn clone(&self) -> Self {
        Self {
            engine: self.engine.clone(),
            raw: self.raw.clone(),
            info: self.info.clone(),
        }
    }
}

impl<E: WasmEngine> Module<E> {
    /// Compiles `wasm` and checks that it is a Go reactor (`_initialize`, `go_start_main`,
    /// `go_tick` and `memory` exports with the right types).
    pub fn new(engine: &E, wasm: &[u8]) -> Result<Self> {
        let raw = engine.compile(wasm)?;
        Self::from_compiled(engine, raw)
    }

    /// Reads and compiles a `.wasm` file.
    pub fn from_file(engine: &E, path: impl AsRef<std::path::Path>) -> Result<Self> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|source| Error::Io {
            context: format!("cannot read {}", path.display()),
            source,
        })?;
        Self::new(engine, &bytes)
    }

    /// Wraps a module the engine has already compiled (e.g. loaded from a cache), checking it.
    pub fn from_compiled(engine: &E, raw: E::Module) -> Result<Self> {
        let info = engine.module_info(&raw);
        validate(&info)?;
        Ok(Self {
            engine: engine.clone(),
            raw,
            info: Arc::new(info),
        })
    }

    /// Serializes the compiled code (engines with [`Capabilities::serialize`](crate::Capabilities)),
    /// to be loaded back by [`deserialize`](Self::deserialize) in this or another process.
    pub fn serialize(&self) -> Result<Vec<u8>> {
        self.engine.serialize(&self.raw)
    }

    /// Loads a module written by [`serialize`](Self::serialize), skipping compilation.
    ///
    /// # Safety
    /// Serialized modules contain machine code that is run as is. The bytes must come from
    /// `serialize` on the same engine version and configuration, from storage only you can
    /// write: loading a tampered or foreign cache can execute arbitrary code.
    pub unsafe fn deserialize(engine: &E, bytes: &[u8]) -> Result<Self> {
        // SAFETY: the caller guarantees the bytes came from `serialize` (see above).
        let raw = unsafe { engine.deserialize(bytes)? };
        Self::from_compiled(engine, raw)
    }

    /// Compiles `wasm`, or loads it from `cache_dir` if an earlier call cached it there.
    ///
    /// The cache file is named by a SHA-256 of the module bytes and of the engine's
    /// [`EngineInfo`](crate::EngineInfo) (name, version, configuration-dependent capabilities
    /// such as fuel metering), so a module compiled under another configuration is never picked
    /// up; engines also refuse files from another version or configuration, which are then
    /// recompiled and rewritten. Files are written to a temporary name and renamed, so concurrent
    /// processes never read a partial file. A cache that cannot be written (read-only or full
    /// disk) is not an error: the module is returned and the failure logged (`tracing` warn).
    /// On engines without serialization this simply compiles.
    ///
    /// # Safety
    /// As for [`deserialize`](Self::deserialize): `cache_dir` must be writable only by you.
    pub unsafe fn new_cached(engine: &E, wasm: &[u8], cache_dir: impl AsRef<std::path::Path>) -> Result<Self> {
        let info = engine.info();
        if !info.capabilities.serialize {
            return Self::new(engine, wasm);
        }
        let path = cache_dir.as_ref().join(cache_file_name(&info, wasm));
        if let Ok(bytes) = std::fs::read(&path) {
            // SAFETY: the caller guarantees the cache directory holds only our own files.
            match unsafe { Self::deserialize(engine, &bytes) } {
                Ok(m) => {
                    tracing::debug!(path = %path.display(), "module loaded from cache");
                    return Ok(m);
                }
                Err(e) => tracing::debug!(path = %path.display(), error = %e, "unusable module cache entry; recompiling"),
            }
        }
        let module = Self::new(engine, wasm)?;
        if let Err(e) = write_cache(&path, &module.serialize()?) {
            tracing::warn!(path = %path.display(), error = %e, "cannot write module cache");
        }
        Ok(module)
    }

    /// The engine's compiled module.
    pub fn raw(&self) -> &E::Module {
        &self.raw
    }
    /// The engine this module was compiled for.
    pub fn engine(&self) -> &E {
        &self.engine
    }
    /// Imports and exports.
    pub fn info(&self) -> &ModuleInfo {
        &self.info
    }

    /// Instantiates the module, links WASI and the configured imports, and runs `_initialize`
    /// (the Go runtime and package `init`s). `main` is not started: see
    /// [`Reactor::start_main`](crate::Reactor::start_main).
    pub fn instantiate(&self, config: ReactorConfig) -> Result<GoReactor<E::Instance>> {
        let imports = resolve_imports(&self.info, &config.imports)?;
        crate::async_host::check_module(&self.info, &imports)?;
        let mut state = HostState::new(config.wasi.build(), config.state);
        state.calls.shared = config.shared;
        let instance = self.engine.instantiate(&self.raw, state, imports, &config.limits)?;
        GoReactor::initialize(instance, self.engine.info(), self.info.clone())
    }
}

/// FNV-1a over several byte strings (a cache key, not a security boundary: the cache is trusted).
/// `<engine>-<sha256 of engine info and module>.cwasm`.
fn cache_file_name(info: &crate::EngineInfo, wasm: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for part in [format!("{info:?}").as_bytes(), wasm] {
        h.update((part.len() as u64).to_le_bytes());
        h.update(part);
    }
    let hex: String = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
    format!("{}-{hex}.cwasm", info.name)
}

/// Writes a cache file atomically (temporary file, then rename).
fn write_cache(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
}

fn func(params: &[ValType], results: &[ValType]) -> FuncType {
    FuncType::new(params.iter().copied(), results.iter().copied())
}

/// Checks the reactor exports, with an explanation for the common wrong kinds of module.
pub fn validate(info: &ModuleInfo) -> Result<()> {
    let has = |n: &str| info.export(n).is_some();
    if !has("_initialize") {
        let reason = if has("_start") {
            "it is a WASI command (exports `_start`); build it as a reactor with `-buildmode=c-shared`".to_string()
        } else {
            "it has no `_initialize` export (not a WASI reactor)".to_string()
        };
        return Err(Error::NotAReactor { reason });
    }
    if !has("go_tick") || !has("go_start_main") {
        return Err(Error::NotAReactor {
            reason: "it exports `_initialize` but not `go_start_main`/`go_tick`: it was not built with a reactor-enabled Go runtime (build it with guests/build.sh)"
                .into(),
        });
    }
    let unit = func(&[], &[]);
    let tick = func(&[], &[ValType::I32]);
    for (name, want) in [("_initialize", &unit), ("go_start_main", &unit), ("go_tick", &tick)] {
        expect_func(info, name, want)?;
    }
    if has("go_reactor_abi") {
        expect_func(info, "go_reactor_abi", &tick)?;
    }
    match info.export("memory") {
        Some(ExternType::Memory { .. }) => Ok(()),
        Some(other) => Err(Error::ExportType {
            name: "memory".into(),
            expected: "memory".into(),
            found: other.to_string(),
        }),
        None => Err(Error::NotAReactor {
            reason: "it exports no `memory`".into(),
        }),
    }
}

fn expect_func(info: &ModuleInfo, name: &str, want: &FuncType) -> Result<()> {
    match info.export(name) {
        Some(ExternType::Func(t)) if t == want => Ok(()),
        Some(other) => Err(Error::ExportType {
            name: name.into(),
            expected: format!("func {want}"),
            found: other.to_string(),
        }),
        None => Err(Error::NotAReactor {
            reason: format!("it has no `{name}` export"),
        }),
    }
}

/// Finds a host function for every import, in import order, checking signatures.
pub fn resolve_imports(info: &ModuleInfo, user: &[HostFunc]) -> Result<Vec<HostFunc>> {
    info.imports
        .iter()
        .map(|imp| {
            let unresolved = |hint: &str| Error::UnresolvedImport {
                module: imp.module.clone(),
                name: imp.name.clone(),
                ty: imp.ty.clone(),
                hint: hint.to_string(),
            };
            let ExternType::Func(declared) = &imp.ty else {
                return Err(unresolved(" (only function imports are supported)"));
            };
            let found = user
                .iter()
                .rev()
                .find(|f| f.module() == imp.module && f.name() == imp.name)
                .cloned();
            let found = match found {
                Some(f) => f,
                None if imp.module == preview1::MODULE => match preview1::function(&imp.name) {
                    Some(f) => HostFunc::wasi(f),
                    None => return Err(unresolved(" (not a WASI preview1 function)")),
                },
                None if imp.module == crate::async_host::SDK_MODULE && imp.name == "take" => HostFunc::sdk_take(),
                None => return Err(unresolved(" (add it with ReactorConfig::import, import_bytes or import_async)")),
            };
            if found.ty() != declared {
                return Err(Error::ImportType {
                    module: imp.module.clone(),
                    name: imp.name.clone(),
                    declared: declared.clone(),
                    provided: found.ty().clone(),
                });
            }
            Ok(found)
        })
        .collect()
}

/// A compiled module of an engine chosen at run time: `Box<dyn AnyModule>` instantiates
/// `Box<dyn Reactor>`s. Implemented for every [`Module`].
pub trait AnyModule {
    /// Facts about the engine that compiled the module.
    fn engine_info(&self) -> crate::EngineInfo;
    /// Imports and exports.
    fn info(&self) -> &ModuleInfo;
    /// Instantiates and initializes a reactor (see [`Module::instantiate`]).
    fn instantiate_dyn(&self, config: ReactorConfig) -> Result<Box<dyn crate::Reactor>>;
}

impl<E: WasmEngine> AnyModule for Module<E> {
    fn engine_info(&self) -> crate::EngineInfo {
        self.engine.info()
    }
    fn info(&self) -> &ModuleInfo {
        &self.info
    }
    fn instantiate_dyn(&self, config: ReactorConfig) -> Result<Box<dyn crate::Reactor>> {
        Ok(Box::new(self.instantiate(config)?))
    }
}
