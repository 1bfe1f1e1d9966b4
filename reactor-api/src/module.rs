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
        let state = HostState::new(config.wasi.build(), config.state);
        let instance = self.engine.instantiate(&self.raw, state, imports, &config.limits)?;
        GoReactor::initialize(instance, self.engine.info(), self.info.clone())
    }
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
                None => return Err(unresolved(" (add it with ReactorConfig::import)")),
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
