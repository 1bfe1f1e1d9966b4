//! [`ReactorConfig`]: everything one reactor instance is given.

use std::any::Any;
use std::io::{Read, Write};

use wasi_min::clock::Clock;
use wasi_min::fs::{MemFs, Preopen};
use wasi_min::random::RandomSource;
use wasi_min::{WasiCtx, WasiCtxBuilder};

use crate::engine::Limits;
#[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
use crate::error::{Error, Result};
use crate::host::HostFunc;

/// Configuration of one reactor: WASI view (args, env, stdio, preopened directories, clock,
/// random), the embedder's imports and state, and resource limits.
///
/// The guest reaches no file unless it is given a directory: a host directory
/// ([`preopened_dir`](Self::preopened_dir), [`preopened_dir_ro`](Self::preopened_dir_ro)) or an
/// in-memory tree ([`memory_fs`](Self::memory_fs)). It then sees exactly that tree and nothing
/// outside it (see SECURITY.md). Go's `os.Getwd` and its relative paths follow the `PWD`
/// variable (without it, the first preopen's guest path).
///
/// ```
/// use reactor_api::ReactorConfig;
/// let config = ReactorConfig::new()
///     .arg("prog")
///     .env("GREETING", "hi")
///     .max_memory_bytes(256 << 20);
/// ```
pub struct ReactorConfig {
    pub(crate) wasi: WasiCtxBuilder,
    pub(crate) imports: Vec<HostFunc>,
    pub(crate) state: Box<dyn Any + Send>,
    pub(crate) shared: Option<std::sync::Arc<dyn Any + Send + Sync>>,
    pub(crate) limits: Limits,
}

impl std::fmt::Debug for ReactorConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The WASI builder holds sinks and sources that are not `Debug`; the imports and limits
        // are what tells configurations apart.
        f.debug_struct("ReactorConfig")
            .field("imports", &self.imports)
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

impl Default for ReactorConfig {
    fn default() -> Self {
        Self {
            wasi: WasiCtx::builder(),
            imports: Vec::new(),
            state: Box::new(()),
            shared: None,
            limits: Limits::default(),
        }
    }
}

impl ReactorConfig {
    /// No arguments, no environment, inherited stdout/stderr, empty stdin, system clock, OS random.
    pub fn new() -> Self {
        Self::default()
    }
    /// Appends one argument; the first is the program name (`os.Args[0]`).
    pub fn arg(mut self, arg: impl AsRef<str>) -> Self {
        self.wasi = self.wasi.arg(arg);
        self
    }
    /// Appends several arguments.
    pub fn args<I: IntoIterator<Item = S>, S: AsRef<str>>(mut self, args: I) -> Self {
        self.wasi = self.wasi.args(args);
        self
    }
    /// Sets an environment variable.
    pub fn env(mut self, key: impl AsRef<str>, value: impl AsRef<str>) -> Self {
        self.wasi = self.wasi.env(key, value);
        self
    }
    /// Sets several environment variables.
    pub fn envs<I: IntoIterator<Item = (K, V)>, K: AsRef<str>, V: AsRef<str>>(mut self, vars: I) -> Self {
        self.wasi = self.wasi.envs(vars);
        self
    }
    /// Where the guest's stdout goes (default: the host's stdout).
    pub fn stdout(mut self, sink: impl Write + Send + 'static) -> Self {
        self.wasi = self.wasi.stdout(sink);
        self
    }
    /// Where the guest's stderr goes (default: the host's stderr).
    pub fn stderr(mut self, sink: impl Write + Send + 'static) -> Self {
        self.wasi = self.wasi.stderr(sink);
        self
    }
    /// What the guest reads on stdin (default: nothing, end of file).
    ///
    /// The source may block (a pipe, a terminal, a channel): it is read on a thread of its own,
    /// so the guest never blocks the host. While a Go program waits for input, its goroutines
    /// park and the run loops sleep until input arrives or a timer is due.
    pub fn stdin(mut self, source: impl Read + Send + 'static) -> Self {
        self.wasi = self.wasi.stdin(source);
        self
    }
    /// Gives the guest a directory: a host directory or an in-memory tree, read-write or
    /// read-only (see [`Preopen`]). Preopens are numbered in the order they are added.
    pub fn preopen(mut self, preopen: Preopen) -> Self {
        self.wasi = self.wasi.preopen(preopen);
        self
    }
    /// Gives the guest host directory `host`, read-write, at guest path `guest`. The guest can
    /// reach everything below `host` and nothing outside it: no `..`, absolute path or symbolic
    /// link leads out.
    ///
    /// ```
    /// use reactor_api::ReactorConfig;
    /// let dir = std::env::temp_dir();
    /// let config = ReactorConfig::new()
    ///     .preopened_dir(&dir, "/tmp")?
    ///     .env("TMPDIR", "/tmp")
    ///     .env("PWD", "/tmp");
    /// # Ok::<(), reactor_api::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::Io`] naming the directory if it cannot be opened (missing, not a directory, no
    /// permission).
    #[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
    pub fn preopened_dir(self, host: impl AsRef<std::path::Path>, guest: impl Into<String>) -> Result<Self> {
        Ok(self.preopen(open_host_dir(host.as_ref(), guest.into())?))
    }
    /// Like [`preopened_dir`](Self::preopened_dir), read-only: the guest can list, stat and read
    /// but not create, write, rename or remove anything (those fail with `EROFS`).
    ///
    /// ```
    /// use reactor_api::ReactorConfig;
    /// let missing = ReactorConfig::new().preopened_dir_ro("/no/such/dir", "/data");
    /// assert!(missing.unwrap_err().to_string().contains("/no/such/dir"));
    /// ```
    ///
    /// # Errors
    /// As for [`preopened_dir`](Self::preopened_dir).
    #[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
    pub fn preopened_dir_ro(self, host: impl AsRef<std::path::Path>, guest: impl Into<String>) -> Result<Self> {
        Ok(self.preopen(open_host_dir(host.as_ref(), guest.into())?.read_only()))
    }
    /// Gives the guest an in-memory tree at guest path `guest`: a sandbox that touches no host
    /// file (and the file system on the web). `fs` is a shared handle: the embedder can fill it
    /// before the run and read what the guest wrote afterwards.
    ///
    /// ```
    /// use reactor_api::ReactorConfig;
    /// use reactor_api::wasi_min::fs::MemFs;
    /// let fs = MemFs::new();
    /// fs.create_dir_all("/etc")?;
    /// fs.write_file("/etc/app.conf", b"verbose = true\n")?;
    /// let config = ReactorConfig::new().memory_fs(fs.clone(), "/").env("PWD", "/");
    /// // ... run the reactor, then: fs.read_file("/out.txt")
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn memory_fs(self, fs: MemFs, guest: impl Into<String>) -> Self {
        self.preopen(Preopen::memory(fs, guest))
    }
    /// The guest's clock.
    pub fn clock(mut self, clock: impl Clock + 'static) -> Self {
        self.wasi = self.wasi.clock(clock);
        self
    }
    /// The guest's random source.
    pub fn random(mut self, random: impl RandomSource + 'static) -> Self {
        self.wasi = self.wasi.random(random);
        self
    }
    /// Provides a host function the guest may import (`//go:wasmimport module name`).
    pub fn import(mut self, func: HostFunc) -> Self {
        self.imports.push(func);
        self
    }
    /// The embedder's state, reachable from host functions through [`Caller::data`](crate::Caller::data).
    pub fn state<T: Any + Send>(mut self, state: T) -> Self {
        self.state = Box::new(state);
        self
    }
    /// Shared embedder state, reachable from sync host functions as `Caller::data::<Arc<T>>()`
    /// and from async ones as [`AsyncCaller::data::<T>()`](crate::AsyncCaller::data) (futures
    /// outlive the guest's call, so they get an `Arc`, not a borrow). Replaces [`state`](Self::state).
    pub fn shared_state<T: Any + Send + Sync>(mut self, state: std::sync::Arc<T>) -> Self {
        self.state = Box::new(state.clone());
        self.shared = Some(state);
        self
    }
    /// Provides a sync host function on bytes (see [`HostFunc::bytes`]); Go calls it with
    /// `sdk.Call`.
    pub fn import_bytes(
        self,
        module: impl Into<String>,
        name: impl Into<String>,
        f: impl Fn(&mut crate::Caller<'_>, &[u8]) -> Result<Vec<u8>, crate::HostError> + Send + Sync + 'static,
    ) -> Self {
        self.import(HostFunc::bytes(module, name, f))
    }
    /// Provides an async host function (see [`HostFunc::async_fn`]); Go awaits it with
    /// `sdk.Await`, parking only the calling goroutine while the future runs.
    ///
    /// ```
    /// use reactor_api::ReactorConfig;
    /// let config = ReactorConfig::new().import_async("app", "fetch", |_caller, url: Vec<u8>| async move {
    ///     // e.g. an HTTP request; here, an echo
    ///     Ok(url)
    /// });
    /// ```
    pub fn import_async<F, Fut>(self, module: impl Into<String>, name: impl Into<String>, f: F) -> Self
    where
        F: Fn(crate::AsyncCaller, Vec<u8>) -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = Result<Vec<u8>, crate::HostError>> + Send + 'static,
    {
        self.import(HostFunc::async_fn(module, name, f))
    }
    /// Caps linear memory at `bytes` (rounded down to 64 KiB pages).
    pub fn max_memory_bytes(mut self, bytes: u64) -> Self {
        self.limits.max_memory_bytes = Some(bytes);
        self
    }
    /// Fuel the guest may burn per tick or export call (engines with fuel metering); running out
    /// ends the reactor with a [`TrapKind::OutOfFuel`](crate::TrapKind::OutOfFuel) trap. Go's
    /// `_initialize` alone takes on the order of 10 million units, a 10 ms slice tens of millions.
    pub fn fuel_per_tick(mut self, fuel: u64) -> Self {
        self.limits.fuel_per_tick = Some(fuel);
        self
    }
    /// Wall-clock budget per tick or export call (engines that can interrupt); a guest that
    /// overruns it is stopped with a [`TrapKind::Interrupted`](crate::TrapKind::Interrupted) trap.
    /// Set it well above the guest's 10 ms time slice: a Go program that yields never hits it.
    pub fn tick_deadline(mut self, deadline: std::time::Duration) -> Self {
        self.limits.tick_deadline = Some(deadline);
        self
    }
    /// All limits at once.
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }
}

/// Opens host directory `host` for guest path `guest`, with an error that names both.
#[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
fn open_host_dir(host: &std::path::Path, guest: String) -> Result<Preopen> {
    Preopen::host_dir(host, guest.clone()).map_err(|source| Error::Io {
        context: format!("cannot preopen directory {} (guest path {guest})", host.display()),
        source,
    })
}
