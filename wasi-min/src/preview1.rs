//! The `wasi_snapshot_preview1` functions and their table.
//!
//! [`FUNCTIONS`] lists all 46 preview1 functions with their core-wasm signatures. Backends link
//! whichever of them a module imports; each is called through [`WasiFunction::call`] with the raw
//! arguments and a [`GuestMemory`]. Functions that need a filesystem or sockets answer with the
//! errno a real host without preopens would give (`EBADF`, `ENOTDIR`, `ENOTSOCK`, …), so a
//! program that probes for them degrades the way it would on a locked-down WASI host.

use std::io::Write;
use std::time::Duration;

use crate::ctx::WasiCtx;
use crate::errno::Errno;
use crate::memory::GuestMemory;

/// The import module name of WASI preview1.
pub const MODULE: &str = "wasi_snapshot_preview1";

/// Largest chunk copied between guest memory and a sink or source at once.
const CHUNK: usize = 64 * 1024;

/// A core-wasm value type of a WASI signature (preview1 uses only these two).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WasiType {
    /// `i32`
    I32,
    /// `i64`
    I64,
}

/// The guest called `proc_exit`: the instance must stop running.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("guest called proc_exit({0})")]
pub struct Exit(pub i32);

/// The signature of a table entry's implementation: raw arguments (`i32` values zero-extended).
pub type WasiFn = fn(&mut WasiCtx, &mut dyn GuestMemory, &[u64]) -> Result<Errno, Exit>;

/// One preview1 function: name, signature and implementation.
#[derive(Clone, Copy)]
pub struct WasiFunction {
    /// Import name within [`MODULE`].
    pub name: &'static str,
    /// Parameter types.
    pub params: &'static [WasiType],
    /// Result types: `[I32]` (the errno) for all but `proc_exit`, which returns nothing.
    pub results: &'static [WasiType],
    imp: WasiFn,
}

impl std::fmt::Debug for WasiFunction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}::{}{:?} -> {:?}", MODULE, self.name, self.params, self.results)
    }
}

impl WasiFunction {
    /// Runs the function. `args` must match [`params`](Self::params); missing arguments read
    /// as 0 rather than panicking. Returns the errno to hand back, or [`Exit`] for `proc_exit`.
    pub fn call(&self, ctx: &mut WasiCtx, mem: &mut dyn GuestMemory, args: &[u64]) -> Result<Errno, Exit> {
        let r = (self.imp)(ctx, mem, args);
        tracing::trace!(target: "wasi_min", func = self.name, ?args, result = ?r);
        r
    }
}

/// Looks up a preview1 function by import name.
pub fn function(name: &str) -> Option<&'static WasiFunction> {
    FUNCTIONS.iter().find(|f| f.name == name)
}

trait Raw {
    const TYPE: WasiType;
    fn take(it: &mut std::slice::Iter<'_, u64>) -> Self;
}
impl Raw for u32 {
    const TYPE: WasiType = WasiType::I32;
    fn take(it: &mut std::slice::Iter<'_, u64>) -> Self {
        it.next().map_or(0, |&v| v as u32)
    }
}
impl Raw for u64 {
    const TYPE: WasiType = WasiType::I64;
    fn take(it: &mut std::slice::Iter<'_, u64>) -> Self {
        it.next().copied().unwrap_or(0)
    }
}

type R = Result<(), Errno>;

macro_rules! table {
    ($($name:ident($($p:ident: $t:ty),*) -> $ret:ident;)*) => {
        /// All preview1 functions, in specification order.
        pub static FUNCTIONS: &[WasiFunction] = &[
            $(WasiFunction {
                name: stringify!($name),
                params: &[$(<$t as Raw>::TYPE),*],
                results: results!($ret),
                imp: |ctx, mem, args| {
                    #[allow(unused_mut, unused_variables)]
                    let mut it = args.iter();
                    imp::$name(ctx, mem, $(<$t as Raw>::take(&mut it)),*)
                },
            },)*
        ];
    };
}

macro_rules! results {
    (errno) => {
        &[WasiType::I32]
    };
    // `proc_exit` is the only preview1 function without an errno result.
    (never) => {
        &[]
    };
}

table! {
    args_get(argv: u32, argv_buf: u32) -> errno;
    args_sizes_get(argc: u32, buf_size: u32) -> errno;
    environ_get(environ: u32, environ_buf: u32) -> errno;
    environ_sizes_get(count: u32, buf_size: u32) -> errno;
    clock_res_get(id: u32, out: u32) -> errno;
    clock_time_get(id: u32, precision: u64, out: u32) -> errno;
    fd_advise(fd: u32, offset: u64, len: u64, advice: u32) -> errno;
    fd_allocate(fd: u32, offset: u64, len: u64) -> errno;
    fd_close(fd: u32) -> errno;
    fd_datasync(fd: u32) -> errno;
    fd_fdstat_get(fd: u32, out: u32) -> errno;
    fd_fdstat_set_flags(fd: u32, flags: u32) -> errno;
    fd_fdstat_set_rights(fd: u32, base: u64, inheriting: u64) -> errno;
    fd_filestat_get(fd: u32, out: u32) -> errno;
    fd_filestat_set_size(fd: u32, size: u64) -> errno;
    fd_filestat_set_times(fd: u32, atim: u64, mtim: u64, flags: u32) -> errno;
    fd_pread(fd: u32, iovs: u32, iovs_len: u32, offset: u64, out: u32) -> errno;
    fd_prestat_get(fd: u32, out: u32) -> errno;
    fd_prestat_dir_name(fd: u32, path: u32, path_len: u32) -> errno;
    fd_pwrite(fd: u32, iovs: u32, iovs_len: u32, offset: u64, out: u32) -> errno;
    fd_read(fd: u32, iovs: u32, iovs_len: u32, out: u32) -> errno;
    fd_readdir(fd: u32, buf: u32, buf_len: u32, cookie: u64, out: u32) -> errno;
    fd_renumber(fd: u32, to: u32) -> errno;
    fd_seek(fd: u32, offset: u64, whence: u32, out: u32) -> errno;
    fd_sync(fd: u32) -> errno;
    fd_tell(fd: u32, out: u32) -> errno;
    fd_write(fd: u32, iovs: u32, iovs_len: u32, out: u32) -> errno;
    path_create_directory(fd: u32, path: u32, path_len: u32) -> errno;
    path_filestat_get(fd: u32, flags: u32, path: u32, path_len: u32, out: u32) -> errno;
    path_filestat_set_times(fd: u32, flags: u32, path: u32, path_len: u32, atim: u64, mtim: u64, fst: u32) -> errno;
    path_link(old_fd: u32, old_flags: u32, old_path: u32, old_len: u32, new_fd: u32, new_path: u32, new_len: u32) -> errno;
    path_open(fd: u32, dirflags: u32, path: u32, path_len: u32, oflags: u32, base: u64, inheriting: u64, fdflags: u32, out: u32) -> errno;
    path_readlink(fd: u32, path: u32, path_len: u32, buf: u32, buf_len: u32, out: u32) -> errno;
    path_remove_directory(fd: u32, path: u32, path_len: u32) -> errno;
    path_rename(fd: u32, old_path: u32, old_len: u32, new_fd: u32, new_path: u32, new_len: u32) -> errno;
    path_symlink(old_path: u32, old_len: u32, fd: u32, new_path: u32, new_len: u32) -> errno;
    path_unlink_file(fd: u32, path: u32, path_len: u32) -> errno;
    poll_oneoff(subs: u32, events: u32, nsubs: u32, out: u32) -> errno;
    proc_exit(code: u32) -> never;
    proc_raise(sig: u32) -> errno;
    sched_yield() -> errno;
    random_get(buf: u32, buf_len: u32) -> errno;
    sock_accept(fd: u32, flags: u32, out: u32) -> errno;
    sock_recv(fd: u32, ri_data: u32, ri_len: u32, ri_flags: u32, out_len: u32, out_flags: u32) -> errno;
    sock_send(fd: u32, si_data: u32, si_len: u32, si_flags: u32, out_len: u32) -> errno;
    sock_shutdown(fd: u32, how: u32) -> errno;
}

/// The implementations. Each returns `Ok(())` for success or the errno; `?` on a memory error
/// yields `EFAULT`. Every output pointer is checked before any side effect, so a call that
/// fails with `EFAULT` has not consumed input or written output.
#[allow(clippy::too_many_arguments)]
mod imp {
    use super::*;

    fn done(r: R) -> Result<Errno, Exit> {
        Ok(r.err().unwrap_or(Errno::Success))
    }

    const FILETYPE_CHARACTER_DEVICE: u8 = 2;
    const RIGHT_FD_READ: u64 = 1 << 1;
    const RIGHT_FD_FDSTAT_SET_FLAGS: u64 = 1 << 3;
    const RIGHT_FD_WRITE: u64 = 1 << 6;
    const RIGHT_FD_FILESTAT_GET: u64 = 1 << 21;
    const RIGHT_POLL_FD_READWRITE: u64 = 1 << 27;

    /// Checks that `fd` is an open stdio descriptor.
    fn stdio(ctx: &WasiCtx, fd: u32) -> Result<u32, Errno> {
        match ctx.closed.get(fd as usize) {
            Some(false) => Ok(fd),
            _ => Err(Errno::Badf),
        }
    }
    /// The answer for operations stdio cannot do: `not_stdio` for an open stdio fd, else `EBADF`.
    fn unsupported(ctx: &WasiCtx, fd: u32, for_stdio: Errno) -> Result<Errno, Exit> {
        done(stdio(ctx, fd).and(Err(for_stdio)))
    }

    fn strings_sizes(list: &[Vec<u8>], mem: &mut dyn GuestMemory, count_ptr: u32, size_ptr: u32) -> R {
        mem.check(count_ptr.into(), 4)?;
        mem.check(size_ptr.into(), 4)?;
        let size: usize = list.iter().map(|s| s.len() + 1).sum();
        let size = u32::try_from(size).map_err(|_| Errno::Overflow)?;
        mem.write_u32(count_ptr.into(), list.len() as u32)?;
        mem.write_u32(size_ptr.into(), size)?;
        Ok(())
    }

    fn strings_get(list: &[Vec<u8>], mem: &mut dyn GuestMemory, ptrs: u32, buf: u32) -> R {
        let size: u64 = list.iter().map(|s| s.len() as u64 + 1).sum();
        mem.check(ptrs.into(), 4 * list.len() as u64)?;
        mem.check(buf.into(), size)?;
        let mut at = u64::from(buf);
        for (i, s) in list.iter().enumerate() {
            // `check` above bounds `at` by the 32-bit memory size.
            mem.write_u32(u64::from(ptrs) + 4 * i as u64, at as u32)?;
            mem.write(at, s)?;
            mem.write(at + s.len() as u64, &[0])?;
            at += s.len() as u64 + 1;
        }
        Ok(())
    }

    pub fn args_get(ctx: &mut WasiCtx, mem: &mut dyn GuestMemory, argv: u32, buf: u32) -> Result<Errno, Exit> {
        done(strings_get(&ctx.args, mem, argv, buf))
    }
    pub fn args_sizes_get(ctx: &mut WasiCtx, mem: &mut dyn GuestMemory, argc: u32, size: u32) -> Result<Errno, Exit> {
        done(strings_sizes(&ctx.args, mem, argc, size))
    }
    pub fn environ_get(ctx: &mut WasiCtx, mem: &mut dyn GuestMemory, env: u32, buf: u32) -> Result<Errno, Exit> {
        done(strings_get(&ctx.env, mem, env, buf))
    }
    pub fn environ_sizes_get(ctx: &mut WasiCtx, mem: &mut dyn GuestMemory, count: u32, size: u32) -> Result<Errno, Exit> {
        done(strings_sizes(&ctx.env, mem, count, size))
    }

    const CLOCK_REALTIME: u32 = 0;
    const CLOCK_MONOTONIC: u32 = 1;
    const CLOCK_PROCESS_CPUTIME: u32 = 2;
    const CLOCK_THREAD_CPUTIME: u32 = 3;

    fn now(ctx: &WasiCtx, id: u32) -> Result<u64, Errno> {
        match id {
            CLOCK_REALTIME => Ok(ctx.clock.realtime_ns()),
            CLOCK_MONOTONIC => Ok(ctx.clock.monotonic_ns()),
            CLOCK_PROCESS_CPUTIME | CLOCK_THREAD_CPUTIME => Err(Errno::NotSup),
            _ => Err(Errno::Inval),
        }
    }

    pub fn clock_res_get(ctx: &mut WasiCtx, mem: &mut dyn GuestMemory, id: u32, out: u32) -> Result<Errno, Exit> {
        done(now(ctx, id).and_then(|_| Ok(mem.write_u64(out.into(), 1)?)))
    }
    pub fn clock_time_get(ctx: &mut WasiCtx, mem: &mut dyn GuestMemory, id: u32, _precision: u64, out: u32) -> Result<Errno, Exit> {
        done(now(ctx, id).and_then(|t| Ok(mem.write_u64(out.into(), t)?)))
    }

    pub fn fd_advise(ctx: &mut WasiCtx, _: &mut dyn GuestMemory, fd: u32, _: u64, _: u64, _: u32) -> Result<Errno, Exit> {
        unsupported(ctx, fd, Errno::Spipe)
    }
    pub fn fd_allocate(ctx: &mut WasiCtx, _: &mut dyn GuestMemory, fd: u32, _: u64, _: u64) -> Result<Errno, Exit> {
        unsupported(ctx, fd, Errno::Spipe)
    }
    pub fn fd_close(ctx: &mut WasiCtx, _: &mut dyn GuestMemory, fd: u32) -> Result<Errno, Exit> {
        done(stdio(ctx, fd).map(|fd| ctx.closed[fd as usize] = true))
    }
    pub fn fd_datasync(ctx: &mut WasiCtx, _: &mut dyn GuestMemory, fd: u32) -> Result<Errno, Exit> {
        unsupported(ctx, fd, Errno::Inval)
    }
    pub fn fd_fdstat_get(ctx: &mut WasiCtx, mem: &mut dyn GuestMemory, fd: u32, out: u32) -> Result<Errno, Exit> {
        done(stdio(ctx, fd).and_then(|fd| {
            let io = if fd == 0 { RIGHT_FD_READ } else { RIGHT_FD_WRITE };
            let rights = io | RIGHT_FD_FDSTAT_SET_FLAGS | RIGHT_FD_FILESTAT_GET | RIGHT_POLL_FD_READWRITE;
            let mut stat = [0u8; 24];
            stat[0] = FILETYPE_CHARACTER_DEVICE;
            stat[8..16].copy_from_slice(&rights.to_le_bytes());
            Ok(mem.write(out.into(), &stat)?)
        }))
    }
    pub fn fd_fdstat_set_flags(ctx: &mut WasiCtx, _: &mut dyn GuestMemory, fd: u32, _flags: u32) -> Result<Errno, Exit> {
        // Stdio stays blocking whatever is asked; Go handles both modes (see ABI notes).
        done(stdio(ctx, fd).map(drop))
    }
    pub fn fd_fdstat_set_rights(ctx: &mut WasiCtx, _: &mut dyn GuestMemory, fd: u32, _: u64, _: u64) -> Result<Errno, Exit> {
        unsupported(ctx, fd, Errno::NotSup)
    }
    pub fn fd_filestat_get(ctx: &mut WasiCtx, mem: &mut dyn GuestMemory, fd: u32, out: u32) -> Result<Errno, Exit> {
        done(stdio(ctx, fd).and_then(|_| {
            let mut stat = [0u8; 64];
            stat[16] = FILETYPE_CHARACTER_DEVICE;
            Ok(mem.write(out.into(), &stat)?)
        }))
    }
    pub fn fd_filestat_set_size(ctx: &mut WasiCtx, _: &mut dyn GuestMemory, fd: u32, _: u64) -> Result<Errno, Exit> {
        unsupported(ctx, fd, Errno::Inval)
    }
    pub fn fd_filestat_set_times(ctx: &mut WasiCtx, _: &mut dyn GuestMemory, fd: u32, _: u64, _: u64, _: u32) -> Result<Errno, Exit> {
        unsupported(ctx, fd, Errno::NotSup)
    }
    pub fn fd_pread(ctx: &mut WasiCtx, _: &mut dyn GuestMemory, fd: u32, _: u32, _: u32, _: u64, _: u32) -> Result<Errno, Exit> {
        unsupported(ctx, fd, Errno::Spipe)
    }
    pub fn fd_prestat_get(_: &mut WasiCtx, _: &mut dyn GuestMemory, _fd: u32, _: u32) -> Result<Errno, Exit> {
        // No preopened directories: Go's startup loop probing fds 3.. stops at the first EBADF.
        Ok(Errno::Badf)
    }
    pub fn fd_prestat_dir_name(_: &mut WasiCtx, _: &mut dyn GuestMemory, _fd: u32, _: u32, _: u32) -> Result<Errno, Exit> {
        Ok(Errno::Badf)
    }
    pub fn fd_pwrite(ctx: &mut WasiCtx, _: &mut dyn GuestMemory, fd: u32, _: u32, _: u32, _: u64, _: u32) -> Result<Errno, Exit> {
        unsupported(ctx, fd, Errno::Spipe)
    }

    /// Reads the `i`-th iovec `(ptr, len)` of a list at `iovs`, checking the buffer it names.
    fn iovec(mem: &dyn GuestMemory, iovs: u32, i: u32) -> Result<(u64, u32), Errno> {
        let at = u64::from(iovs) + 8 * u64::from(i);
        let ptr = mem.read_u32(at)?;
        let len = mem.read_u32(at + 4)?;
        mem.check(ptr.into(), len.into())?;
        Ok((ptr.into(), len))
    }

    pub fn fd_read(ctx: &mut WasiCtx, mem: &mut dyn GuestMemory, fd: u32, iovs: u32, iovs_len: u32, out: u32) -> Result<Errno, Exit> {
        done((|| {
            if stdio(ctx, fd)? != 0 {
                return Err(Errno::Badf);
            }
            mem.check(out.into(), 4)?;
            mem.check(iovs.into(), 8 * u64::from(iovs_len))?;
            // One read into the first non-empty buffer: a short read is valid, and blocking for
            // more than the source has ready would stall the host.
            let mut n = 0;
            if let Some(stdin) = ctx.stdin.as_mut() {
                for i in 0..iovs_len {
                    let (ptr, len) = iovec(mem, iovs, i)?;
                    if len == 0 {
                        continue;
                    }
                    ctx.scratch.resize((len as usize).min(CHUNK), 0);
                    n = loop {
                        match stdin.read(&mut ctx.scratch) {
                            Ok(n) => break n,
                            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                            Err(_) => return Err(Errno::Io),
                        }
                    };
                    mem.write(ptr, &ctx.scratch[..n])?;
                    break;
                }
            }
            Ok(mem.write_u32(out.into(), n as u32)?)
        })())
    }
    pub fn fd_readdir(ctx: &mut WasiCtx, _: &mut dyn GuestMemory, fd: u32, _: u32, _: u32, _: u64, _: u32) -> Result<Errno, Exit> {
        unsupported(ctx, fd, Errno::NotDir)
    }
    pub fn fd_renumber(ctx: &mut WasiCtx, _: &mut dyn GuestMemory, fd: u32, to: u32) -> Result<Errno, Exit> {
        done(stdio(ctx, fd).and_then(|_| stdio(ctx, to)).and(Err(Errno::NotSup)))
    }
    pub fn fd_seek(ctx: &mut WasiCtx, _: &mut dyn GuestMemory, fd: u32, _: u64, _: u32, _: u32) -> Result<Errno, Exit> {
        unsupported(ctx, fd, Errno::Spipe)
    }
    pub fn fd_sync(ctx: &mut WasiCtx, _: &mut dyn GuestMemory, fd: u32) -> Result<Errno, Exit> {
        unsupported(ctx, fd, Errno::Inval)
    }
    pub fn fd_tell(ctx: &mut WasiCtx, _: &mut dyn GuestMemory, fd: u32, _: u32) -> Result<Errno, Exit> {
        unsupported(ctx, fd, Errno::Spipe)
    }

    pub fn fd_write(ctx: &mut WasiCtx, mem: &mut dyn GuestMemory, fd: u32, iovs: u32, iovs_len: u32, out: u32) -> Result<Errno, Exit> {
        done((|| {
            let fd = stdio(ctx, fd)?;
            if fd == 0 {
                return Err(Errno::Badf);
            }
            mem.check(out.into(), 4)?;
            mem.check(iovs.into(), 8 * u64::from(iovs_len))?;
            // Validate every iovec before writing any byte, so EFAULT means nothing was written.
            let mut total: u32 = 0;
            for i in 0..iovs_len {
                let (_, len) = iovec(mem, iovs, i)?;
                total = total.checked_add(len).ok_or(Errno::Inval)?;
            }
            let WasiCtx {
                stdout,
                stderr,
                tap,
                scratch,
                ..
            } = ctx;
            let sink = if fd == 1 { stdout } else { stderr };
            for i in 0..iovs_len {
                let (mut ptr, len) = iovec(mem, iovs, i)?;
                let mut left = len as usize;
                while left > 0 {
                    let n = left.min(CHUNK);
                    scratch.resize(n, 0);
                    mem.read(ptr, scratch)?;
                    if fd == 2 {
                        tap.observe(scratch);
                    }
                    sink.write_all(scratch).map_err(|_| Errno::Io)?;
                    ptr += n as u64;
                    left -= n;
                }
            }
            Ok(mem.write_u32(out.into(), total)?)
        })())
    }

    fn no_fs(ctx: &WasiCtx, fd: u32) -> Result<Errno, Exit> {
        unsupported(ctx, fd, Errno::NotDir)
    }
    pub fn path_create_directory(ctx: &mut WasiCtx, _: &mut dyn GuestMemory, fd: u32, _: u32, _: u32) -> Result<Errno, Exit> {
        no_fs(ctx, fd)
    }
    pub fn path_filestat_get(ctx: &mut WasiCtx, _: &mut dyn GuestMemory, fd: u32, _: u32, _: u32, _: u32, _: u32) -> Result<Errno, Exit> {
        no_fs(ctx, fd)
    }
    pub fn path_filestat_set_times(
        ctx: &mut WasiCtx,
        _: &mut dyn GuestMemory,
        fd: u32,
        _: u32,
        _: u32,
        _: u32,
        _: u64,
        _: u64,
        _: u32,
    ) -> Result<Errno, Exit> {
        no_fs(ctx, fd)
    }
    pub fn path_link(
        ctx: &mut WasiCtx,
        _: &mut dyn GuestMemory,
        fd: u32,
        _: u32,
        _: u32,
        _: u32,
        _: u32,
        _: u32,
        _: u32,
    ) -> Result<Errno, Exit> {
        no_fs(ctx, fd)
    }
    pub fn path_open(
        ctx: &mut WasiCtx,
        _: &mut dyn GuestMemory,
        fd: u32,
        _: u32,
        _: u32,
        _: u32,
        _: u32,
        _: u64,
        _: u64,
        _: u32,
        _: u32,
    ) -> Result<Errno, Exit> {
        no_fs(ctx, fd)
    }
    pub fn path_readlink(
        ctx: &mut WasiCtx,
        _: &mut dyn GuestMemory,
        fd: u32,
        _: u32,
        _: u32,
        _: u32,
        _: u32,
        _: u32,
    ) -> Result<Errno, Exit> {
        no_fs(ctx, fd)
    }
    pub fn path_remove_directory(ctx: &mut WasiCtx, _: &mut dyn GuestMemory, fd: u32, _: u32, _: u32) -> Result<Errno, Exit> {
        no_fs(ctx, fd)
    }
    pub fn path_rename(ctx: &mut WasiCtx, _: &mut dyn GuestMemory, fd: u32, _: u32, _: u32, _: u32, _: u32, _: u32) -> Result<Errno, Exit> {
        no_fs(ctx, fd)
    }
    pub fn path_symlink(ctx: &mut WasiCtx, _: &mut dyn GuestMemory, _: u32, _: u32, fd: u32, _: u32, _: u32) -> Result<Errno, Exit> {
        no_fs(ctx, fd)
    }
    pub fn path_unlink_file(ctx: &mut WasiCtx, _: &mut dyn GuestMemory, fd: u32, _: u32, _: u32) -> Result<Errno, Exit> {
        no_fs(ctx, fd)
    }

    const SUBSCRIPTION_SIZE: u64 = 48;
    const EVENT_SIZE: u64 = 32;
    const EVENTTYPE_CLOCK: u8 = 0;
    const EVENTTYPE_FD_READ: u8 = 1;
    const EVENTTYPE_FD_WRITE: u8 = 2;
    const SUBCLOCKFLAG_ABSTIME: u16 = 1;

    struct Event {
        userdata: u64,
        error: Errno,
        kind: u8,
    }

    /// Clock subscriptions really wait (an `init` that sleeps must sleep); stdio fd
    /// subscriptions are always ready, other fds report `EBADF` in their event.
    pub fn poll_oneoff(ctx: &mut WasiCtx, mem: &mut dyn GuestMemory, subs: u32, events: u32, nsubs: u32, out: u32) -> Result<Errno, Exit> {
        done((|| {
            if nsubs == 0 {
                return Err(Errno::Inval);
            }
            mem.check(subs.into(), SUBSCRIPTION_SIZE * u64::from(nsubs))?;
            mem.check(events.into(), EVENT_SIZE * u64::from(nsubs))?;
            mem.check(out.into(), 4)?;
            let mono_now = ctx.clock.monotonic_ns();
            let mut ready = Vec::new();
            let mut timers = Vec::new(); // (userdata, deadline on the monotonic clock)
            for i in 0..u64::from(nsubs) {
                let at = u64::from(subs) + SUBSCRIPTION_SIZE * i;
                let userdata = mem.read_u64(at)?;
                let mut tag = [0u8];
                mem.read(at + 8, &mut tag)?;
                match tag[0] {
                    EVENTTYPE_CLOCK => {
                        let id = mem.read_u32(at + 16)?;
                        let timeout = mem.read_u64(at + 24)?;
                        let flags = mem.read_u16(at + 40)?;
                        let deadline = match now(ctx, id) {
                            Err(e) => {
                                ready.push(Event {
                                    userdata,
                                    error: e,
                                    kind: EVENTTYPE_CLOCK,
                                });
                                continue;
                            }
                            Ok(clock_now) if flags & SUBCLOCKFLAG_ABSTIME != 0 => {
                                mono_now.saturating_add(timeout.saturating_sub(clock_now))
                            }
                            Ok(_) => mono_now.saturating_add(timeout),
                        };
                        timers.push((userdata, deadline));
                    }
                    kind @ (EVENTTYPE_FD_READ | EVENTTYPE_FD_WRITE) => {
                        let fd = mem.read_u32(at + 16)?;
                        let usable = match stdio(ctx, fd) {
                            Ok(0) => kind == EVENTTYPE_FD_READ,
                            Ok(_) => kind == EVENTTYPE_FD_WRITE,
                            Err(_) => false,
                        };
                        let error = if usable { Errno::Success } else { Errno::Badf };
                        ready.push(Event { userdata, error, kind });
                    }
                    _ => return Err(Errno::Inval),
                }
            }
            let slept = ready.is_empty();
            if slept && let Some(first) = timers.iter().map(|t| t.1).min() {
                let wait = first.saturating_sub(ctx.clock.monotonic_ns());
                if wait > 0 {
                    ctx.clock.sleep(Duration::from_nanos(wait));
                }
            }
            let after = ctx.clock.monotonic_ns();
            let first = timers.iter().map(|t| t.1).min();
            for &(userdata, deadline) in &timers {
                // After sleeping, the earliest timer counts as fired even on a coarse clock.
                if deadline <= after || (slept && Some(deadline) == first) {
                    ready.push(Event {
                        userdata,
                        error: Errno::Success,
                        kind: EVENTTYPE_CLOCK,
                    });
                }
            }
            for (i, ev) in ready.iter().enumerate() {
                let mut buf = [0u8; EVENT_SIZE as usize];
                buf[0..8].copy_from_slice(&ev.userdata.to_le_bytes());
                buf[8..10].copy_from_slice(&ev.error.raw().to_le_bytes());
                buf[10] = ev.kind;
                mem.write(u64::from(events) + EVENT_SIZE * i as u64, &buf)?;
            }
            Ok(mem.write_u32(out.into(), ready.len() as u32)?)
        })())
    }

    pub fn proc_exit(ctx: &mut WasiCtx, _: &mut dyn GuestMemory, code: u32) -> Result<Errno, Exit> {
        let code = code as i32;
        ctx.exit_code = Some(code);
        ctx.flush();
        Err(Exit(code))
    }
    pub fn proc_raise(_: &mut WasiCtx, _: &mut dyn GuestMemory, _sig: u32) -> Result<Errno, Exit> {
        Ok(Errno::NoSys)
    }
    pub fn sched_yield(_: &mut WasiCtx, _: &mut dyn GuestMemory) -> Result<Errno, Exit> {
        Ok(Errno::Success)
    }
    pub fn random_get(ctx: &mut WasiCtx, mem: &mut dyn GuestMemory, buf: u32, len: u32) -> Result<Errno, Exit> {
        done((|| {
            mem.check(buf.into(), len.into())?;
            let mut at = u64::from(buf);
            let mut left = len as usize;
            while left > 0 {
                let n = left.min(CHUNK);
                ctx.scratch.resize(n, 0);
                // Fail closed: on a source error the guest gets EIO and none of these bytes.
                if let Err(e) = ctx.random.fill(&mut ctx.scratch) {
                    tracing::error!(error = %e, "random_get: the random source failed; returning EIO");
                    return Err(Errno::Io);
                }
                mem.write(at, &ctx.scratch)?;
                at += n as u64;
                left -= n;
            }
            Ok(())
        })())
    }
    pub fn sock_accept(ctx: &mut WasiCtx, _: &mut dyn GuestMemory, fd: u32, _: u32, _: u32) -> Result<Errno, Exit> {
        unsupported(ctx, fd, Errno::NotSock)
    }
    pub fn sock_recv(ctx: &mut WasiCtx, _: &mut dyn GuestMemory, fd: u32, _: u32, _: u32, _: u32, _: u32, _: u32) -> Result<Errno, Exit> {
        unsupported(ctx, fd, Errno::NotSock)
    }
    pub fn sock_send(ctx: &mut WasiCtx, _: &mut dyn GuestMemory, fd: u32, _: u32, _: u32, _: u32, _: u32) -> Result<Errno, Exit> {
        unsupported(ctx, fd, Errno::NotSock)
    }
    pub fn sock_shutdown(ctx: &mut WasiCtx, _: &mut dyn GuestMemory, fd: u32, _: u32) -> Result<Errno, Exit> {
        unsupported(ctx, fd, Errno::NotSock)
    }
}
