//! Reactor snapshots: freeze a Go reactor between two ticks and resume it later, in another
//! process or on another engine; and pre-initialized modules.
//!
//! Between two `go_tick` calls the wasm call stack is empty, so a Go reactor's whole state is
//! its linear memory, its mutable globals (stack pointer, current goroutine, …) and the host's
//! WASI state. Engines expose only exported globals, so a module meant to be snapshotted is
//! compiled with small accessor exports added ([`Module::new_snapshottable`], through
//! `reactor-rewrite`); plain modules pay nothing.
//!
//! What a restored reactor sees of the host:
//! - args and environment are those of the restore's [`ReactorConfig`] (the Go runtime read
//!   its own copy during `_initialize`; modules built with this version's runtime re-read them
//!   in `go_reactor_restored`, older ones keep the snapshot's);
//! - the monotonic clock continues from the snapshot's reading, so it never goes back and
//!   timers pending at snapshot time fire after their remaining delay; wall-clock time is the
//!   host's;
//! - the runtime's random generators are reseeded when the module exports
//!   `go_reactor_restored` (so instances restored from one snapshot do not share seeds);
//! - descriptors ([`wasi_min::FdFacts`]): which of fds 0-2 the guest closed and their flags, and
//!   the preopened directories open at each fd, matched by guest path on restore (the restore's
//!   configuration must preopen the same guest paths in the same order). A snapshot is refused
//!   while the guest has files of its own open. Buffered stdin is not part of a snapshot.
//!
//! The byte format ([`Snapshot::to_bytes`]), all integers little-endian:
//!
//! | field | size |
//! |---|---|
//! | magic `GORSNAP\0` | 8 |
//! | format version ([`FORMAT_VERSION`]) | 4 |
//! | SHA-256 of the module bytes (as given, before any rewrite) | 32 |
//! | ABI (0 legacy, 1), main started (0/1), reserved 0, 0 | 4 |
//! | guest monotonic clock, ns | 8 |
//! | ticks run before the snapshot | 8 |
//! | engine name: length (≤ 32), bytes | 1 + n |
//! | memory size in 64 KiB pages (≤ 65536) | 4 |
//! | globals: count (≤ 1024), then index u32, type u8 (0 i32, 1 i64, 2 f32, 3 f64), bits u64 | 4 + 13 n |
//! | stdio fds 0-2: `fdflags` u16 each, `0xffff` if closed | 6 |
//! | preopened directories: count (≤ 1024), then fd u32, guest path length u16 (≤ 4096), UTF-8 bytes | 4 + n (6 + len) |
//! | stored pages: count, then page index u32 (ascending) and 65536 bytes; all-zero pages are skipped | 4 + 65540 n |
//! | SHA-256 of everything above | 32 |

use std::sync::Arc;

use reactor_rewrite::{GlobalType, GlobalValue, MutableGlobal};
use sha2::{Digest, Sha256};

use crate::config::ReactorConfig;
use crate::engine::{EngineInstance, WasmEngine};
use crate::error::{Error, Result};
use crate::host::HostState;
use crate::module::{Module, resolve_imports};
use crate::reactor::{Abi, GoReactor};
use crate::value::Val;

/// Version of the byte format written by [`Snapshot::to_bytes`].
pub const FORMAT_VERSION: u32 = 1;

const MAGIC: &[u8; 8] = b"GORSNAP\0";
const PAGE: usize = 65536;
/// Most pages a 32-bit memory has.
const MAX_PAGES: u32 = 65536;
/// More globals than any Go module has (eight); bounds what a hostile file can make us allocate.
const MAX_GLOBALS: u32 = 1024;
const MAX_ENGINE_NAME: usize = 32;
/// Bounds on what a hostile file can make us allocate for the descriptor facts.
const MAX_PREOPENS: u32 = 1024;
const MAX_GUEST_PATH: u16 = 4096;
/// The stdio flags value of a closed stdio fd.
const STDIO_CLOSED: u16 = 0xffff;

/// Export a pre-initialized module has (added by `go-reactor preinit`): `_initialize` already
/// ran, so instantiating skips it.
pub const PREINIT_EXPORT: &str = "__go_reactor_preinitialized";
/// Custom section a pre-initialized module carries: the SHA-256 of the module it was made from.
pub const PREINIT_SECTION: &str = "go-reactor.preinit";
/// The runtime export that reseeds the Go runtime's random state and re-reads args and env
/// after a restore (added to the runtime overlay; older modules lack it).
pub const RESTORED_EXPORT: &str = "go_reactor_restored";

/// Why a snapshot could not be taken, read or restored.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SnapshotError {
    /// The reactor's module was not compiled with [`Module::new_snapshottable`].
    #[error("the module was not compiled for snapshots (use Module::new_snapshottable)")]
    NotSnapshottable,
    /// The reactor has ended: there is no tick boundary to freeze.
    #[error("the reactor has ended ({reason}); only a live reactor between two ticks can be snapshotted")]
    Ended {
        /// How it ended.
        reason: String,
    },
    /// Host calls are in flight (asynchronous host functions): their results could not be
    /// delivered to a restored reactor.
    #[error("{count} host calls are pending; snapshot between ticks with none in flight")]
    PendingHostCalls {
        /// How many.
        count: usize,
    },
    /// The guest's descriptors cannot be saved (files of its own open), or the restore's
    /// configuration lacks a preopen the guest had.
    #[error("descriptors: {0}")]
    Fds(#[from] wasi_min::FdFactsError),
    /// The bytes end before the snapshot does.
    #[error("the snapshot is truncated")]
    Truncated,
    /// The bytes are not a snapshot.
    #[error("not a go-reactor snapshot (bad magic)")]
    BadMagic,
    /// A snapshot of another format version.
    #[error("snapshot format version {found} is not supported (this build reads version {FORMAT_VERSION})")]
    UnsupportedVersion {
        /// The file's version.
        found: u32,
    },
    /// The trailing checksum does not match: the file was damaged.
    #[error("the snapshot is corrupted (checksum mismatch)")]
    Checksum,
    /// A field holds an impossible value.
    #[error("the snapshot is malformed: {what}")]
    Malformed {
        /// Which field.
        what: &'static str,
    },
    /// The snapshot was taken from another module.
    #[error("the snapshot was taken from another module (snapshot module sha256 {snapshot}, this module {module})")]
    ModuleMismatch {
        /// The snapshot's module hash, hex.
        snapshot: String,
        /// This module's hash, hex.
        module: String,
    },
    /// The module's reactor ABI differs from the snapshot's.
    #[error("the snapshot was taken under reactor ABI {snapshot:?}, the module has {module:?}")]
    AbiMismatch {
        /// The snapshot's.
        snapshot: Abi,
        /// The module's.
        module: Abi,
    },
    /// The snapshot's globals do not match the module's mutable globals.
    #[error("the snapshot's globals do not match the module's: {problem}")]
    Globals {
        /// What differs.
        problem: String,
    },
    /// The fresh instance's memory could not take the snapshot's.
    #[error("cannot restore {pages} pages of memory: {problem}")]
    Memory {
        /// The snapshot's memory size, in pages.
        pages: u32,
        /// Why.
        problem: String,
    },
    /// Rewriting the module failed.
    #[error("cannot rewrite the module: {0}")]
    Rewrite(#[from] reactor_rewrite::Error),
}

impl From<SnapshotError> for Error {
    fn from(e: SnapshotError) -> Self {
        Error::Snapshot(e)
    }
}

/// SHA-256 of module bytes, as snapshots record it.
pub fn module_sha256(wasm: &[u8]) -> [u8; 32] {
    Sha256::digest(wasm).into()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// What a snapshottable module adds: its identity and the globals its accessors reach.
#[derive(Debug)]
pub(crate) struct SnapshotSupport {
    pub(crate) sha256: [u8; 32],
    pub(crate) globals: Vec<MutableGlobal>,
}

/// A Go reactor frozen between two ticks: see the [module docs](self) for what it holds.
#[derive(Clone, PartialEq, Eq)]
pub struct Snapshot {
    module_sha256: [u8; 32],
    abi: Abi,
    main_started: bool,
    fds: wasi_min::FdFacts,
    monotonic_ns: u64,
    ticks: u64,
    engine: String,
    memory_pages: u32,
    globals: Vec<(u32, GlobalValue)>,
    /// Non-zero pages: (page index, 64 KiB).
    pages: Vec<(u32, Box<[u8]>)>,
}

impl std::fmt::Debug for Snapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Snapshot")
            .field("module_sha256", &hex(&self.module_sha256))
            .field("abi", &self.abi)
            .field("engine", &self.engine)
            .field("ticks", &self.ticks)
            .field("memory_pages", &self.memory_pages)
            .field("stored_pages", &self.pages.len())
            .field("globals", &self.globals)
            .finish_non_exhaustive()
    }
}

impl Snapshot {
    /// SHA-256 of the module the snapshot was taken from.
    pub fn module_sha256(&self) -> [u8; 32] {
        self.module_sha256
    }
    /// The module's reactor ABI.
    pub fn abi(&self) -> Abi {
        self.abi
    }
    /// The engine the snapshot was taken on (informational: any engine can restore it).
    pub fn engine(&self) -> &str {
        &self.engine
    }
    /// Ticks the reactor had run when it was frozen.
    pub fn ticks(&self) -> u64 {
        self.ticks
    }
    /// The guest's monotonic clock when it was frozen, in nanoseconds.
    pub fn monotonic_ns(&self) -> u64 {
        self.monotonic_ns
    }
    /// Linear memory size, in bytes.
    pub fn memory_size(&self) -> u64 {
        u64::from(self.memory_pages) * PAGE as u64
    }
    /// How many 64 KiB pages are stored (the others are zero).
    pub fn stored_pages(&self) -> usize {
        self.pages.len()
    }

    /// The whole linear memory, zero pages included.
    pub fn memory_image(&self) -> Vec<u8> {
        let mut image = vec![0u8; self.memory_size() as usize];
        for (index, page) in &self.pages {
            let at = *index as usize * PAGE;
            image[at..at + PAGE].copy_from_slice(page);
        }
        image
    }
    /// The mutable globals: (index, value).
    pub fn globals(&self) -> &[(u32, GlobalValue)] {
        &self.globals
    }

    /// Serializes the snapshot (format in the [module docs](self)).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(128 + self.pages.len() * (PAGE + 4) + self.globals.len() * 13);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        out.extend_from_slice(&self.module_sha256);
        out.extend_from_slice(&[u8::from(self.abi == Abi::V1), u8::from(self.main_started), 0, 0]);
        out.extend_from_slice(&self.monotonic_ns.to_le_bytes());
        out.extend_from_slice(&self.ticks.to_le_bytes());
        let name = &self.engine.as_bytes()[..self.engine.len().min(MAX_ENGINE_NAME)];
        out.push(name.len() as u8);
        out.extend_from_slice(name);
        out.extend_from_slice(&self.memory_pages.to_le_bytes());
        out.extend_from_slice(&(self.globals.len() as u32).to_le_bytes());
        for &(index, value) in &self.globals {
            let (ty, bits) = match value {
                GlobalValue::I32(v) => (0u8, u64::from(v as u32)),
                GlobalValue::I64(v) => (1, v as u64),
                GlobalValue::F32(v) => (2, u64::from(v)),
                GlobalValue::F64(v) => (3, v),
            };
            out.extend_from_slice(&index.to_le_bytes());
            out.push(ty);
            out.extend_from_slice(&bits.to_le_bytes());
        }
        for flags in self.fds.stdio {
            out.extend_from_slice(&flags.unwrap_or(STDIO_CLOSED).to_le_bytes());
        }
        out.extend_from_slice(&(self.fds.preopens.len() as u32).to_le_bytes());
        for (fd, guest) in &self.fds.preopens {
            out.extend_from_slice(&fd.to_le_bytes());
            out.extend_from_slice(&(guest.len() as u16).to_le_bytes());
            out.extend_from_slice(guest.as_bytes());
        }
        out.extend_from_slice(&(self.pages.len() as u32).to_le_bytes());
        for (index, page) in &self.pages {
            out.extend_from_slice(&index.to_le_bytes());
            out.extend_from_slice(page);
        }
        let sum = Sha256::digest(&out);
        out.extend_from_slice(&sum);
        out
    }

    /// Reads a snapshot written by [`to_bytes`](Self::to_bytes). Every field is checked:
    /// damaged, truncated or foreign bytes are a [`SnapshotError`], never a panic, and nothing
    /// is allocated beyond what the bytes hold.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, SnapshotError> {
        let mut r = Reader(bytes);
        if r.take(MAGIC.len()).map_err(|_| SnapshotError::BadMagic)? != MAGIC {
            return Err(SnapshotError::BadMagic);
        }
        let version = r.u32()?;
        if version != FORMAT_VERSION {
            return Err(SnapshotError::UnsupportedVersion { found: version });
        }
        // The fixed-size fields and the checksum: anything shorter cannot be a snapshot.
        const MIN_LEN: usize = 8 + 4 + 32 + 4 + 8 + 8 + 1 + 4 + 4 + 6 + 4 + 4 + 32;
        if bytes.len() < MIN_LEN {
            return Err(SnapshotError::Truncated);
        }
        let body_len = bytes.len() - 32;
        if Sha256::digest(&bytes[..body_len]).as_slice() != &bytes[body_len..] {
            return Err(SnapshotError::Checksum);
        }
        let mut r = Reader(&bytes[MAGIC.len() + 4..body_len]);
        let malformed = |what| SnapshotError::Malformed { what };
        let module_sha256: [u8; 32] = r.take(32)?.try_into().map_err(|_| SnapshotError::Truncated)?;
        let flags = r.take(4)?;
        let abi = match flags[0] {
            0 => Abi::Legacy,
            1 => Abi::V1,
            _ => return Err(malformed("ABI")),
        };
        let main_started = match flags[1] {
            0 => false,
            1 => true,
            _ => return Err(malformed("main-started flag")),
        };
        if flags[2] != 0 || flags[3] != 0 {
            return Err(malformed("reserved flags"));
        }
        let monotonic_ns = r.u64()?;
        let ticks = r.u64()?;
        let name_len = usize::from(r.take(1)?[0]);
        if name_len > MAX_ENGINE_NAME {
            return Err(malformed("engine name length"));
        }
        let engine = std::str::from_utf8(r.take(name_len)?)
            .map_err(|_| malformed("engine name"))?
            .to_string();
        let memory_pages = r.u32()?;
        if memory_pages > MAX_PAGES {
            return Err(malformed("memory size"));
        }
        let global_count = r.u32()?;
        if global_count > MAX_GLOBALS {
            return Err(malformed("global count"));
        }
        let mut globals = Vec::with_capacity(global_count as usize);
        for _ in 0..global_count {
            let index = r.u32()?;
            let ty = r.take(1)?[0];
            let bits = r.u64()?;
            let value = match ty {
                0 if bits <= u64::from(u32::MAX) => GlobalValue::I32(bits as u32 as i32),
                1 => GlobalValue::I64(bits as i64),
                2 if bits <= u64::from(u32::MAX) => GlobalValue::F32(bits as u32),
                3 => GlobalValue::F64(bits),
                _ => return Err(malformed("global value")),
            };
            if globals.last().is_some_and(|&(last, _)| last >= index) {
                return Err(malformed("global order"));
            }
            globals.push((index, value));
        }
        let mut stdio = [None; 3];
        for slot in &mut stdio {
            let flags = u16::from_le_bytes([r.take(1)?[0], r.take(1)?[0]]);
            *slot = match flags {
                STDIO_CLOSED => None,
                f if f < 32 => Some(f),
                _ => return Err(malformed("stdio flags")),
            };
        }
        let preopen_count = r.u32()?;
        if preopen_count > MAX_PREOPENS {
            return Err(malformed("preopen count"));
        }
        let mut preopens = Vec::with_capacity(preopen_count as usize);
        for _ in 0..preopen_count {
            let fd = r.u32()?;
            let len = u16::from_le_bytes([r.take(1)?[0], r.take(1)?[0]]);
            if len > MAX_GUEST_PATH {
                return Err(malformed("preopen path length"));
            }
            let guest = std::str::from_utf8(r.take(usize::from(len))?).map_err(|_| malformed("preopen path"))?;
            if fd < 3 || preopens.last().is_some_and(|&(last, _)| last >= fd) {
                return Err(malformed("preopen fd"));
            }
            preopens.push((fd, guest.to_string()));
        }
        let fds = wasi_min::FdFacts { stdio, preopens };
        let page_count = r.u32()?;
        if page_count > memory_pages || page_count as usize > r.0.len() / (PAGE + 4) {
            return Err(malformed("page count"));
        }
        let mut pages: Vec<(u32, Box<[u8]>)> = Vec::with_capacity(page_count as usize);
        for _ in 0..page_count {
            let index = r.u32()?;
            if index >= memory_pages || pages.last().is_some_and(|&(last, _)| last >= index) {
                return Err(malformed("page index"));
            }
            pages.push((index, r.take(PAGE)?.into()));
        }
        if !r.0.is_empty() {
            return Err(malformed("trailing bytes"));
        }
        Ok(Self {
            module_sha256,
            abi,
            main_started,
            fds,
            monotonic_ns,
            ticks,
            engine,
            memory_pages,
            globals,
            pages,
        })
    }
}

/// Writes a pre-initialized module: `wasm` (the module `snapshot` was taken from) with data
/// segments and global initializers holding the snapshot's memory and globals, the
/// [`PREINIT_EXPORT`] marker and the [`PREINIT_SECTION`] custom section (the original module's
/// SHA-256). [`Module::instantiate`] recognizes the marker and skips `_initialize` (calling
/// `go_reactor_restored` instead, when the module has it), so every instance starts with the
/// runtime and package `init`s done.
///
/// The snapshot must be taken right after instantiation, before `main` was started.
///
/// # Errors
/// [`SnapshotError::ModuleMismatch`] if `wasm` is not the snapshot's module,
/// [`SnapshotError::Malformed`] if `main` was already started, [`SnapshotError::Rewrite`] if
/// the module cannot be rewritten.
pub fn preinitialize(snapshot: &Snapshot, wasm: &[u8]) -> Result<Vec<u8>, SnapshotError> {
    let sha = module_sha256(wasm);
    if sha != snapshot.module_sha256 {
        return Err(SnapshotError::ModuleMismatch {
            snapshot: hex(&snapshot.module_sha256),
            module: hex(&sha),
        });
    }
    if snapshot.main_started {
        return Err(SnapshotError::Malformed {
            what: "main was already started (pre-initialize right after instantiation)",
        });
    }
    let with_state = reactor_rewrite::write_state(wasm, &snapshot.memory_image(), &snapshot.globals, &[(PREINIT_SECTION, &sha)])?;
    Ok(reactor_rewrite::export_constant(&with_state, PREINIT_EXPORT, 1)?)
}

/// A bounds-checked little-endian reader.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], SnapshotError> {
        if self.0.len() < n {
            return Err(SnapshotError::Truncated);
        }
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        Ok(head)
    }
    fn u32(&mut self) -> Result<u32, SnapshotError> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn u64(&mut self) -> Result<u64, SnapshotError> {
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_le_bytes(a))
    }
}

fn to_val(v: GlobalValue) -> Val {
    match v {
        GlobalValue::I32(v) => Val::I32(v),
        GlobalValue::I64(v) => Val::I64(v),
        GlobalValue::F32(v) => Val::F32(f32::from_bits(v)),
        GlobalValue::F64(v) => Val::F64(f64::from_bits(v)),
    }
}

fn from_val(v: Val) -> GlobalValue {
    match v {
        Val::I32(v) => GlobalValue::I32(v),
        Val::I64(v) => GlobalValue::I64(v),
        Val::F32(v) => GlobalValue::F32(v.to_bits()),
        Val::F64(v) => GlobalValue::F64(v.to_bits()),
    }
}

fn zero_of(ty: GlobalType) -> Val {
    to_val(match ty {
        GlobalType::I32 => GlobalValue::I32(0),
        GlobalType::I64 => GlobalValue::I64(0),
        GlobalType::F32 => GlobalValue::F32(0),
        GlobalType::F64 => GlobalValue::F64(0),
    })
}

/// Calls one of the rewrite's accessor exports: a trap there is an engine failure, not the
/// guest's (the accessors only move values), so it does not end the reactor.
fn accessor<I: EngineInstance>(inner: &mut I, engine: &'static str, name: &str, args: &[Val], results: &mut [Val]) -> Result<()> {
    inner.call(name, args, results).map_err(|trap| Error::Trap {
        engine,
        export: name.to_string(),
        trap,
        stderr: String::new(),
    })
}

impl<E: WasmEngine> Module<E> {
    /// Compiles `wasm` like [`Module::new`], with the accessor exports snapshots need added
    /// (see `reactor_rewrite::add_state_accessors`: a few tiny functions; the program runs
    /// exactly as before). Reactors of this module can be [snapshotted](crate::Reactor::snapshot),
    /// and [`restore`](Module::restore) needs a module made this way from the same bytes.
    pub fn new_snapshottable(engine: &E, wasm: &[u8]) -> Result<Self> {
        let (rewritten, globals) = reactor_rewrite::add_state_accessors(wasm).map_err(SnapshotError::Rewrite)?;
        let mut module = Self::new(engine, &rewritten)?;
        module.snap = Some(Arc::new(SnapshotSupport {
            sha256: module_sha256(wasm),
            globals,
        }));
        Ok(module)
    }

    /// Whether reactors of this module can be snapshotted (it was made by
    /// [`new_snapshottable`](Self::new_snapshottable)).
    pub fn is_snapshottable(&self) -> bool {
        self.snap.is_some()
    }

    /// A reactor resumed from `snapshot`, on this module's engine, with the host state of
    /// `config` (args, env, stdio, limits, imports; see the [module docs](self)). It continues
    /// where the snapshot was taken: the next [`tick`](crate::Reactor::tick) runs the same
    /// goroutines. `_initialize` is not run; `go_reactor_restored` is, when the module has it.
    ///
    /// # Errors
    /// [`Error::Snapshot`]: the module is not snapshottable or not the snapshot's module, the
    /// ABI or globals differ, or the memory cannot grow to the snapshot's size (e.g. a memory
    /// limit). Instantiation errors as for [`Module::instantiate`].
    pub fn restore(&self, snapshot: &Snapshot, config: ReactorConfig) -> Result<GoReactor<E::Instance>> {
        let snap = self.snap.clone().ok_or(SnapshotError::NotSnapshottable)?;
        if snap.sha256 != snapshot.module_sha256 {
            return Err(SnapshotError::ModuleMismatch {
                snapshot: hex(&snapshot.module_sha256),
                module: hex(&snap.sha256),
            }
            .into());
        }
        let module_abi = if self.info.export("go_reactor_abi").is_some() {
            Abi::V1
        } else {
            Abi::Legacy
        };
        if module_abi != snapshot.abi {
            return Err(SnapshotError::AbiMismatch {
                snapshot: snapshot.abi,
                module: module_abi,
            }
            .into());
        }
        let expected: Vec<u32> = snap.globals.iter().map(|g| g.index).collect();
        let found: Vec<u32> = snapshot.globals.iter().map(|&(i, _)| i).collect();
        if expected != found || snap.globals.iter().zip(&snapshot.globals).any(|(g, &(_, v))| g.ty != v.ty()) {
            return Err(SnapshotError::Globals {
                problem: format!("module has mutable globals {expected:?}, snapshot {found:?} (or their types differ)"),
            }
            .into());
        }

        let imports = resolve_imports(&self.info, &config.imports)?;
        let mut wasi = config.wasi.build();
        wasi.continue_monotonic_from(snapshot.monotonic_ns);
        wasi.apply_fd_facts(&snapshot.fds).map_err(SnapshotError::Fds)?;
        let state = HostState::new(wasi, config.state);
        let engine = self.engine.info();
        let mut inner = self.engine.instantiate(&self.raw, state, imports, &config.limits)?;

        // Memory: grow to the snapshot's size, then make every page equal to the snapshot's.
        let memory_error = |problem: String| SnapshotError::Memory {
            pages: snapshot.memory_pages,
            problem,
        };
        let fresh_pages = inner.memory_size() / PAGE as u64;
        let want = u64::from(snapshot.memory_pages);
        if fresh_pages > want {
            return Err(memory_error(format!("the module's initial memory is larger ({fresh_pages} pages)")).into());
        }
        if want > fresh_pages {
            let mut old = [Val::I32(0)];
            let delta = Val::I32((want - fresh_pages) as i32);
            accessor(&mut inner, engine.name, reactor_rewrite::MEMORY_GROW, &[delta], &mut old)?;
            if old[0] == Val::I32(-1) {
                return Err(memory_error("memory.grow failed (a memory limit?)".into()).into());
            }
        }
        let mut stored = snapshot.pages.iter().peekable();
        let mut page = vec![0u8; PAGE];
        for index in 0..snapshot.memory_pages {
            let addr = u64::from(index) * PAGE as u64;
            match stored.next_if(|(i, _)| *i == index) {
                Some((_, bytes)) => inner.write_memory(addr, bytes)?,
                // Pages beyond the fresh memory are zero after memory.grow; the fresh ones hold
                // the module's data segments, which the snapshot may have overwritten with zeros.
                None if u64::from(index) < fresh_pages => {
                    inner.read_memory(addr, &mut page)?;
                    if page.iter().any(|&b| b != 0) {
                        page.fill(0);
                        inner.write_memory(addr, &page)?;
                    }
                }
                None => {}
            }
        }
        for &(index, value) in &snapshot.globals {
            let setter = MutableGlobal { index, ty: value.ty() }.setter();
            accessor(&mut inner, engine.name, &setter, &[to_val(value)], &mut [])?;
        }

        let mut reactor = GoReactor::resumed(inner, engine, self.info.clone(), snapshot.abi, snapshot.main_started);
        reactor.snap = Some(snap);
        reactor.stats.ticks = snapshot.ticks;
        reactor.call_restored_hook()?;
        tracing::debug!(
            engine = engine.name,
            pages = snapshot.memory_pages,
            "reactor restored from snapshot"
        );
        Ok(reactor)
    }
}

impl<I: EngineInstance> GoReactor<I> {
    /// Freezes the reactor (see [`crate::Reactor::snapshot`]).
    pub(crate) fn take_snapshot(&mut self) -> Result<Snapshot> {
        if let Some(reason) = &self.ended {
            return Err(SnapshotError::Ended {
                reason: reason.to_string(),
            }
            .into());
        }
        let snap = self.snap.clone().ok_or(SnapshotError::NotSnapshottable)?;
        // A pending asynchronous host call's future cannot be saved, nor its result delivered to
        // a restored reactor.
        let count = self.instance().state().calls.pending();
        if count > 0 {
            return Err(SnapshotError::PendingHostCalls { count }.into());
        }
        let engine = self.engine;
        let inner = self.instance();
        let size = inner.memory_size();
        let memory_pages = u32::try_from(size / PAGE as u64)
            .ok()
            .filter(|&p| p <= MAX_PAGES)
            .ok_or(SnapshotError::Memory {
                pages: u32::MAX,
                problem: "memory larger than 4 GiB".into(),
            })?;
        let mut pages = Vec::new();
        let mut page = vec![0u8; PAGE];
        for index in 0..memory_pages {
            inner.read_memory(u64::from(index) * PAGE as u64, &mut page)?;
            if page.iter().any(|&b| b != 0) {
                pages.push((index, page.as_slice().into()));
            }
        }
        let mut globals = Vec::with_capacity(snap.globals.len());
        for g in &snap.globals {
            let mut v = [zero_of(g.ty)];
            accessor(inner, engine.name, &g.getter(), &[], &mut v)?;
            globals.push((g.index, from_val(v[0])));
        }
        let wasi = &inner.state().wasi;
        let fds = wasi.fd_facts().map_err(SnapshotError::Fds)?;
        let monotonic_ns = wasi.clock().monotonic_ns();
        Ok(Snapshot {
            module_sha256: snap.sha256,
            abi: self.abi,
            main_started: self.main_started,
            fds,
            monotonic_ns,
            ticks: self.stats.ticks,
            engine: engine.name.to_string(),
            memory_pages,
            globals,
            pages,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Snapshot {
        let mut page = vec![0u8; PAGE];
        page[7] = 9;
        Snapshot {
            module_sha256: [3; 32],
            abi: Abi::V1,
            main_started: true,
            fds: wasi_min::FdFacts {
                stdio: [Some(4), Some(0), None],
                preopens: vec![(3, "/".into()), (5, "/data".into())],
            },
            monotonic_ns: 123_456_789,
            ticks: 4,
            engine: "wasmi".into(),
            memory_pages: 3,
            globals: vec![(0, GlobalValue::I32(-5)), (2, GlobalValue::I64(1 << 40)), (3, GlobalValue::F64(7))],
            pages: vec![(1, page.into())],
        }
    }

    #[test]
    fn round_trips() {
        let s = sample();
        let bytes = s.to_bytes();
        assert_eq!(&bytes[..8], MAGIC);
        assert_eq!(Snapshot::from_bytes(&bytes).unwrap(), s);
        assert_eq!(
            bytes.len(),
            8 + 4 + 32 + 4 + 8 + 8 + 1 + 5 + 4 + 4 + 3 * 13 + 6 + 4 + (6 + 1) + (6 + 5) + 4 + (4 + PAGE) + 32
        );
    }

    #[test]
    fn hostile_bytes_are_typed_errors() {
        let bytes = sample().to_bytes();
        assert!(matches!(Snapshot::from_bytes(b""), Err(SnapshotError::BadMagic)));
        assert!(matches!(Snapshot::from_bytes(b"\0asm\x01\0\0\0"), Err(SnapshotError::BadMagic)));
        let mut v2 = bytes.clone();
        v2[8] = 2;
        assert!(matches!(
            Snapshot::from_bytes(&v2),
            Err(SnapshotError::UnsupportedVersion { found: 2 })
        ));
        for cut in [12, 40, 100, bytes.len() - 33, bytes.len() - 1] {
            let r = Snapshot::from_bytes(&bytes[..cut]);
            assert!(
                matches!(r, Err(SnapshotError::Truncated | SnapshotError::Checksum)),
                "cut {cut}: {r:?}"
            );
        }
        // Every single bit flip past the header is caught by the checksum.
        for at in (12..bytes.len()).step_by(97) {
            let mut b = bytes.clone();
            b[at] ^= 0x10;
            assert!(matches!(Snapshot::from_bytes(&b), Err(SnapshotError::Checksum)), "flip at {at}");
        }
        // A well-checksummed file with impossible fields: malformed, not a panic.
        let reseal = |mut b: Vec<u8>| {
            let n = b.len() - 32;
            let sum = Sha256::digest(&b[..n]);
            b[n..].copy_from_slice(&sum);
            b
        };
        let mut abi = bytes.clone();
        abi[44] = 7;
        assert!(matches!(
            Snapshot::from_bytes(&reseal(abi)),
            Err(SnapshotError::Malformed { what: "ABI" })
        ));
        let mut pages = bytes.clone();
        let at = 8 + 4 + 32 + 4 + 8 + 8 + 1 + 5;
        pages[at..at + 4].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(matches!(
            Snapshot::from_bytes(&reseal(pages)),
            Err(SnapshotError::Malformed { what: "memory size" })
        ));
    }
}
