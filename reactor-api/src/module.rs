//! [`Module`]: a compiled module checked to be a Go reactor, ready to instantiate many times.

use std::sync::Arc;

use wasi_min::preview1;

use crate::config::ReactorConfig;
use crate::engine::WasmEngine;
use crate::error::{Error, Result};
use crate::host::{HostFunc, HostState};
use crate::reactor::GoReactor;
use crate::snapshot::{Snapshot, SnapshotSupport};
use crate::value::{ExternType, FuncType, ModuleInfo, ValType};

/// A compiled Go reactor for engine `E`. Compile and validate once, instantiate as often as
/// needed: on the compiling engines (wasmtime, wasmer) and wasmi every
/// [`instantiate`](Module::instantiate) shares the compiled code; wasm3 keeps the validated bytes
/// and parses them per instance (its runtime cannot share a parsed module across threads).
pub struct Module<E: WasmEngine> {
    pub(crate) engine: E,
    pub(crate) raw: E::Module,
    pub(crate) info: Arc<ModuleInfo>,
    /// Set by [`Module::new_snapshottable`].
    pub(crate) snap: Option<Arc<SnapshotSupport>>,
}

impl<E: WasmEngine> Clone for Module<E> {
    fn clone(&self) -> Self {
        Self {
            engine: self.engine.clone(),
            raw: self.raw.clone(),
            info: self.info.clone(),
            snap: self.snap.clone(),
        }
    }
}

impl<E: WasmEngine> std::fmt::Debug for Module<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Module")
            .field("engine", &self.engine.info().name)
            .field("imports", &self.info.imports.len())
            .field("exports", &self.info.exports.len())
            .finish_non_exhaustive()
    }
}

impl<E: WasmEngine> Module<E> {
    /// Compiles `wasm` and checks that it is a Go reactor (`_initialize`, `go_start_main`,
    /// `go_tick` and `memory` exports with the right types).
    ///
    /// # Errors
    /// [`Error::Compile`] for bytes the engine cannot compile; [`Error::NotAReactor`] or
    /// [`Error::ExportType`] for a module that is not a Go reactor (see [`validate`]).
    pub fn new(engine: &E, wasm: &[u8]) -> Result<Self> {
        let raw = engine.compile(wasm)?;
        Self::from_compiled(engine, raw)
    }

    /// Reads and compiles a `.wasm` file.
    ///
    /// # Errors
    /// [`Error::Io`] when the file cannot be read; otherwise as [`new`](Self::new).
    pub fn from_file(engine: &E, path: impl AsRef<std::path::Path>) -> Result<Self> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|source| Error::Io {
            context: format!("cannot read {}", path.display()),
            source,
        })?;
        Self::new(engine, &bytes)
    }

    /// Wraps a module the engine has already compiled (e.g. loaded from a cache), checking it.
    ///
    /// # Errors
    /// As [`validate`]: the module is not a Go reactor.
    pub fn from_compiled(engine: &E, raw: E::Module) -> Result<Self> {
        let info = engine.module_info(&raw);
        validate(&info)?;
        Ok(Self {
            engine: engine.clone(),
            raw,
            info: Arc::new(info),
            snap: None,
        })
    }

    /// Serializes the compiled code (engines with [`Capabilities::serialize`](crate::Capabilities)),
    /// to be loaded back by [`deserialize`](Self::deserialize) in this or another process.
    ///
    /// # Errors
    /// [`Error::Unsupported`] on engines that cannot serialize; [`Error::Serialize`] when the
    /// engine fails.
    pub fn serialize(&self) -> Result<Vec<u8>> {
        self.engine.serialize(&self.raw)
    }

    /// Loads a module written by [`serialize`](Self::serialize), skipping compilation.
    ///
    /// # Errors
    /// [`Error::Unsupported`] on engines that cannot serialize; [`Error::Serialize`] for bytes
    /// the engine rejects; as [`validate`] for a module that is not a Go reactor.
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
    /// # Errors
    /// As [`new`](Self::new) (an unusable cache entry is recompiled, not an error), and
    /// [`Error::Serialize`] if the freshly compiled module cannot be serialized.
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
    ///
    /// # Errors
    /// [`Error::UnresolvedImport`] / [`Error::ImportType`] when an import is missing or has
    /// another signature than the host function provided for it; [`Error::Unsupported`] for a
    /// limit the engine cannot enforce; [`Error::Instantiate`] when the engine refuses; and the
    /// guest's own failures in `_initialize` ([`Error::Exited`], [`Error::GuestPanic`],
    /// [`Error::Trap`], [`Error::HostFunc`]) or [`Error::UnsupportedAbi`].
    pub fn instantiate(&self, config: ReactorConfig) -> Result<GoReactor<E::Instance>> {
        // Checked here once for every engine (backends check again, for direct callers).
        config.limits.check_supported(&self.engine.info())?;
        let imports = resolve_imports(&self.info, &config.imports)?;
        crate::async_host::check_module(&self.info, &imports)?;
        let mut state = HostState::new(config.wasi.build(), config.state);
        state.calls.shared = config.shared;
        let instance = self.engine.instantiate(&self.raw, state, imports, &config.limits)?;
        let mut reactor = GoReactor::initialize(instance, self.engine.info(), self.info.clone())?;
        reactor.snap = self.snap.clone();
        Ok(reactor)
    }
}

/// `<engine>-<sha256 of engine info and module>.cwasm` (a cache key, not a security boundary:
/// the cache is trusted). The engine info includes the engine crate's version.
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

/// Writes a cache file atomically (temporary file, then rename). The temporary name is unique
/// per process, thread and call, so concurrent writers (threads or processes) never write to
/// the same temporary file; the last rename wins with a complete file.
fn write_cache(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::sync::atomic::{AtomicU64, Ordering};
    static WRITES: AtomicU64 = AtomicU64::new(0);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let unique = format!(
        "tmp-{}-{:?}-{}",
        std::process::id(),
        std::thread::current().id(),
        WRITES.fetch_add(1, Ordering::Relaxed)
    );
    // `ThreadId(7)` as file name characters: keep only alphanumerics and dashes.
    let unique: String = unique.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '-').collect();
    let tmp = path.with_extension(unique);
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
}

fn func(params: &[ValType], results: &[ValType]) -> FuncType {
    FuncType::new(params.iter().copied(), results.iter().copied())
}

/// Checks the reactor exports, with an explanation for the common wrong kinds of module.
///
/// # Errors
/// [`Error::NotAReactor`] for a missing reactor export (a WASI command, a stock c-shared
/// module, no `memory`); [`Error::ExportType`] for a reactor export of the wrong type.
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
///
/// # Errors
/// [`Error::UnresolvedImport`] for an import nobody provides (or a non-function import);
/// [`Error::ImportType`] for a host function whose signature differs from the import's.
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
    ///
    /// # Errors
    /// As [`Module::instantiate`].
    fn instantiate_dyn(&self, config: ReactorConfig) -> Result<Box<dyn crate::Reactor>>;
    /// Instantiates and initializes a reactor that can move to another thread, on engines whose
    /// reactors are `Send` ([`Capabilities::send`](crate::Capabilities::send): wasmtime, wasmi).
    ///
    /// # Errors
    /// [`Error::Unsupported`] on engines whose reactors are not `Send` (checked before
    /// instantiating); otherwise as [`Module::instantiate`].
    fn instantiate_send(&self, config: ReactorConfig) -> Result<Box<dyn crate::Reactor + Send>>;
    /// Resumes a reactor from a snapshot (see [`Module::restore`]).
    fn restore_dyn(&self, snapshot: &Snapshot, config: ReactorConfig) -> Result<Box<dyn crate::Reactor>>;
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
    fn restore_dyn(&self, snapshot: &Snapshot, config: ReactorConfig) -> Result<Box<dyn crate::Reactor>> {
        Ok(Box::new(self.restore(snapshot, config)?))
    }
    fn instantiate_send(&self, config: ReactorConfig) -> Result<Box<dyn crate::Reactor + Send>> {
        let info = self.engine.info();
        let unsupported = Error::Unsupported {
            engine: info.name,
            feature: "Send reactors",
        };
        if !info.capabilities.send {
            return Err(unsupported);
        }
        E::into_send_reactor(self.instantiate(config)?).ok_or(unsupported)
    }
}

#[cfg(test)]
mod tests {
    use super::write_cache;

    /// Threads writing the same cache file at once never share a temporary file: every write
    /// succeeds, the file ends up as one writer's complete bytes, and no temporary file is left.
    #[test]
    fn concurrent_cache_writes_do_not_collide() {
        let dir = std::env::temp_dir().join(format!("reactor-api-cache-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let path = dir.join("m.cwasm");
        let contents: Vec<Vec<u8>> = (0..8u8).map(|i| vec![i; 256 * 1024]).collect();
        std::thread::scope(|s| {
            for bytes in &contents {
                let path = &path;
                s.spawn(move || {
                    for _ in 0..10 {
                        write_cache(path, bytes).expect("every concurrent write succeeds");
                    }
                });
            }
        });
        let written = std::fs::read(&path).expect("the cache file exists");
        assert!(contents.contains(&written), "the file is one writer's complete bytes");
        let names: Vec<String> = std::fs::read_dir(&dir)
            .expect("the directory exists")
            .map(|e| e.expect("a directory entry").file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["m.cwasm"], "no temporary file is left behind");
        std::fs::remove_dir_all(&dir).expect("clean up");
    }
}
