//! The `wasi_snapshot_preview1` functions and their table.
//!
//! [`FUNCTIONS`] lists all 46 preview1 functions with their core-wasm signatures. Backends link
//! whichever of them a module imports; each is called through [`WasiFunction::call`] with the raw
//! arguments and a [`GuestMemory`]. The file-system functions work on the context's descriptor
//! table (stdio, the preopens of [`crate::fs`], what the guest opened) with the errnos Linux
//! gives; the socket functions answer `ENOTSOCK` (or `EBADF`), so a program that probes for them
//! degrades the way it would on a WASI host without sockets.

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
    use std::io::SeekFrom;

    use crate::fd::{self, Desc, DirDesc, FileDesc, Stdio};
    use crate::fs::{FileType, Filestat, Node, OpenOpts, SetTime};
    use crate::stdin::Input;

    fn done(r: R) -> Result<Errno, Exit> {
        Ok(r.err().unwrap_or(Errno::Success))
    }

    const RIGHT_FD_DATASYNC: u64 = 1 << 0;
    const RIGHT_FD_READ: u64 = 1 << 1;
    const RIGHT_FD_SEEK: u64 = 1 << 2;
    const RIGHT_FD_FDSTAT_SET_FLAGS: u64 = 1 << 3;
    const RIGHT_FD_SYNC: u64 = 1 << 4;
    const RIGHT_FD_TELL: u64 = 1 << 5;
    const RIGHT_FD_WRITE: u64 = 1 << 6;
    const RIGHT_FD_ADVISE: u64 = 1 << 7;
    const RIGHT_FD_ALLOCATE: u64 = 1 << 8;
    const RIGHT_FD_READDIR: u64 = 1 << 14;
    const RIGHT_FD_FILESTAT_GET: u64 = 1 << 21;
    const RIGHT_FD_FILESTAT_SET_SIZE: u64 = 1 << 22;
    const RIGHT_FD_FILESTAT_SET_TIMES: u64 = 1 << 23;
    const RIGHT_POLL_FD_READWRITE: u64 = 1 << 27;
    /// Every `path_*` right (bits 9–13, 15–20, 24–26): what a directory grants on its paths.
    const RIGHTS_PATH: u64 = (0b1_1111 << 9) | (0b11_1111 << 15) | (0b111 << 24);
    /// What a regular file can do (Go's `fileRights` without the path rights).
    const RIGHTS_FILE: u64 = RIGHT_FD_DATASYNC
        | RIGHT_FD_READ
        | RIGHT_FD_SEEK
        | RIGHT_FD_FDSTAT_SET_FLAGS
        | RIGHT_FD_SYNC
        | RIGHT_FD_TELL
        | RIGHT_FD_WRITE
        | RIGHT_FD_ADVISE
        | RIGHT_FD_ALLOCATE
        | RIGHT_FD_FILESTAT_GET
        | RIGHT_FD_FILESTAT_SET_SIZE
        | RIGHT_FD_FILESTAT_SET_TIMES
        | RIGHT_POLL_FD_READWRITE;
    /// The rights writing needs (Go's `writeRights` on the fd side).
    const RIGHTS_WRITE: u64 = RIGHT_FD_DATASYNC | RIGHT_FD_WRITE | RIGHT_FD_ALLOCATE | RIGHT_FD_FILESTAT_SET_SIZE;
    /// What a directory can do (Go's `dirRights`).
    const RIGHTS_DIR: u64 = RIGHT_FD_SEEK
        | RIGHT_FD_FDSTAT_SET_FLAGS
        | RIGHT_FD_SYNC
        | RIGHT_FD_READDIR
        | RIGHT_FD_FILESTAT_GET
        | RIGHT_FD_FILESTAT_SET_TIMES
        | RIGHTS_PATH;

    /// Longest path accepted (Linux's `PATH_MAX`).
    const PATH_MAX: u32 = 4096;

    /// The answer for operations a descriptor cannot do: `other` for any open fd, else `EBADF`.
    fn unsupported(ctx: &WasiCtx, fd: u32, other: Errno) -> Result<Errno, Exit> {
        done(ctx.fds.get(fd).and(Err(other)))
    }

    /// The guest clock's wall time: what the in-memory tree stamps, and what `*_NOW` means.
    fn wall(ctx: &WasiCtx) -> u64 {
        ctx.clock.realtime_ns()
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

    /// Reads a guest path: bounds first (`EFAULT`), then length (`ENAMETOOLONG`), NUL (`EINVAL`)
    /// and UTF-8 (`EILSEQ`, like wasmtime).
    fn read_path(mem: &dyn GuestMemory, ptr: u32, len: u32) -> Result<String, Errno> {
        mem.check(ptr.into(), len.into())?;
        if len > PATH_MAX {
            return Err(Errno::NameTooLong);
        }
        let bytes = mem.read_vec(ptr.into(), len.into())?;
        if bytes.contains(&0) {
            return Err(Errno::Inval);
        }
        String::from_utf8(bytes).map_err(|_| Errno::Ilseq)
    }

    /// The directory `fd` names (`ENOTDIR` for any other open descriptor).
    fn dir(ctx: &WasiCtx, fd: u32) -> Result<&DirDesc, Errno> {
        match ctx.fds.get(fd)? {
            Desc::Dir(d) => Ok(d),
            _ => Err(Errno::NotDir),
        }
    }
    /// Refuses changes beneath a read-only preopen.
    fn writable(d: &DirDesc) -> Result<&DirDesc, Errno> {
        if d.read_only { Err(Errno::Rofs) } else { Ok(d) }
    }

    const FSTFLAGS_ATIM: u32 = 1;
    const FSTFLAGS_ATIM_NOW: u32 = 2;
    const FSTFLAGS_MTIM: u32 = 4;
    const FSTFLAGS_MTIM_NOW: u32 = 8;

    /// The times a `*_set_times` call asks for; `EINVAL` for contradictory or unknown flags.
    fn times(ctx: &WasiCtx, atim: u64, mtim: u64, fst: u32) -> Result<(SetTime, SetTime), Errno> {
        let both = |set, now| fst & set != 0 && fst & now != 0;
        if fst & !0xf != 0 || both(FSTFLAGS_ATIM, FSTFLAGS_ATIM_NOW) || both(FSTFLAGS_MTIM, FSTFLAGS_MTIM_NOW) {
            return Err(Errno::Inval);
        }
        let pick = |set, now, t| {
            if fst & now != 0 {
                Some(wall(ctx))
            } else if fst & set != 0 {
                Some(t)
            } else {
                None
            }
        };
        Ok((
            pick(FSTFLAGS_ATIM, FSTFLAGS_ATIM_NOW, atim),
            pick(FSTFLAGS_MTIM, FSTFLAGS_MTIM_NOW, mtim),
        ))
    }

    pub fn fd_advise(ctx: &mut WasiCtx, _: &mut dyn GuestMemory, fd: u32, _: u64, _: u64, advice: u32) -> Result<Errno, Exit> {
        done(match ctx.fds.get(fd) {
            Err(e) => Err(e),
            Ok(Desc::File(_)) if advice > 5 => Err(Errno::Inval),
            Ok(Desc::File(_)) => Ok(()),
            Ok(Desc::Dir(_)) => Err(Errno::Badf),
            Ok(Desc::Stdio { .. }) => Err(Errno::Spipe),
        })
    }
    pub fn fd_allocate(ctx: &mut WasiCtx, _: &mut dyn GuestMemory, fd: u32, offset: u64, len: u64) -> Result<Errno, Exit> {
        let now = wall(ctx);
        done(match ctx.fds.get_mut(fd) {
            Err(e) => Err(e),
            Ok(Desc::File(f)) if !f.write => Err(Errno::Badf),
            Ok(Desc::File(f)) => f.file.allocate(offset, len, now),
            Ok(Desc::Dir(_)) => Err(Errno::Badf),
            Ok(Desc::Stdio { .. }) => Err(Errno::Spipe),
        })
    }
    pub fn fd_close(ctx: &mut WasiCtx, _: &mut dyn GuestMemory, fd: u32) -> Result<Errno, Exit> {
        done(ctx.fds.remove(fd).map(drop))
    }
    pub fn fd_datasync(ctx: &mut WasiCtx, _: &mut dyn GuestMemory, fd: u32) -> Result<Errno, Exit> {
        done(match ctx.fds.get(fd) {
            Err(e) => Err(e),
            Ok(Desc::File(f)) => f.file.datasync(),
            Ok(Desc::Dir(d)) => d.dir.sync(),
            Ok(Desc::Stdio { .. }) => Err(Errno::Inval),
        })
    }
    pub fn fd_fdstat_get(ctx: &mut WasiCtx, mem: &mut dyn GuestMemory, fd: u32, out: u32) -> Result<Errno, Exit> {
        done((|| {
            let (filetype, flags, base, inheriting) = match ctx.fds.get(fd)? {
                Desc::Stdio { which, flags } => {
                    let io = if *which == Stdio::In { RIGHT_FD_READ } else { RIGHT_FD_WRITE };
                    let rights = io | RIGHT_FD_FDSTAT_SET_FLAGS | RIGHT_FD_FILESTAT_GET | RIGHT_POLL_FD_READWRITE;
                    (FileType::CharacterDevice, *flags, rights, 0)
                }
                Desc::File(f) => {
                    let mut rights = RIGHTS_FILE;
                    if !f.read {
                        rights &= !RIGHT_FD_READ;
                    }
                    if !f.write {
                        rights &= !RIGHTS_WRITE;
                    }
                    (FileType::RegularFile, f.flags, rights, 0)
                }
                Desc::Dir(d) => (FileType::Directory, d.flags, RIGHTS_DIR, RIGHTS_DIR | RIGHTS_FILE),
            };
            let mut stat = [0u8; 24];
            stat[0] = filetype as u8;
            stat[2..4].copy_from_slice(&flags.to_le_bytes());
            stat[8..16].copy_from_slice(&base.to_le_bytes());
            stat[16..24].copy_from_slice(&inheriting.to_le_bytes());
            Ok(mem.write(out.into(), &stat)?)
        })())
    }
    pub fn fd_fdstat_set_flags(ctx: &mut WasiCtx, _: &mut dyn GuestMemory, fd: u32, flags: u32) -> Result<Errno, Exit> {
        // Stored and reported back; NONBLOCK changes how stdin reads, APPEND how files write,
        // the sync flags make file writes sync.
        done((|| {
            let desc = ctx.fds.get_mut(fd)?;
            let flags = u16::try_from(flags)
                .ok()
                .filter(|f| f & !fd::FDFLAGS_ALL == 0)
                .ok_or(Errno::Inval)?;
            match desc {
                Desc::Stdio { flags: f, .. } => *f = flags,
                Desc::File(f) => f.flags = flags,
                Desc::Dir(d) => d.flags = flags,
            }
            Ok(())
        })())
    }
    pub fn fd_fdstat_set_rights(ctx: &mut WasiCtx, _: &mut dyn GuestMemory, fd: u32, _: u64, _: u64) -> Result<Errno, Exit> {
        // Rights are reported, not enforced (the read/write mode of a file is): like wasmtime,
        // narrowing them is not supported.
        unsupported(ctx, fd, Errno::NotSup)
    }
    pub fn fd_filestat_get(ctx: &mut WasiCtx, mem: &mut dyn GuestMemory, fd: u32, out: u32) -> Result<Errno, Exit> {
        done((|| {
            let stat = match ctx.fds.get(fd)? {
                Desc::Stdio { .. } => Filestat {
                    dev: 0,
                    ino: 0,
                    filetype: FileType::CharacterDevice,
                    nlink: 0,
                    size: 0,
                    atim: 0,
                    mtim: 0,
                    ctim: 0,
                },
                Desc::File(f) => {
                    mem.check(out.into(), 64)?;
                    f.file.stat()?
                }
                Desc::Dir(d) => {
                    mem.check(out.into(), 64)?;
                    d.dir.stat()?
                }
            };
            Ok(mem.write(out.into(), &stat.to_bytes())?)
        })())
    }
    pub fn fd_filestat_set_size(ctx: &mut WasiCtx, _: &mut dyn GuestMemory, fd: u32, size: u64) -> Result<Errno, Exit> {
        let now = wall(ctx);
        done(match ctx.fds.get_mut(fd) {
            Err(e) => Err(e),
            Ok(Desc::File(f)) if f.read_only => Err(Errno::Rofs),
            Ok(Desc::File(f)) if !f.write => Err(Errno::Inval),
            Ok(Desc::File(f)) => f.file.set_size(size, now),
            Ok(_) => Err(Errno::Inval),
        })
    }
    pub fn fd_filestat_set_times(
        ctx: &mut WasiCtx,
        _: &mut dyn GuestMemory,
        fd: u32,
        atim: u64,
        mtim: u64,
        fst: u32,
    ) -> Result<Errno, Exit> {
        done((|| {
            let desc = ctx.fds.get(fd)?;
            let (a, m) = times(ctx, atim, mtim, fst)?;
            match desc {
                Desc::Stdio { .. } => Err(Errno::NotSup),
                Desc::File(f) if f.read_only => Err(Errno::Rofs),
                Desc::File(f) => f.file.set_times(a, m),
                Desc::Dir(d) => writable(d)?.dir.set_times(a, m),
            }
        })())
    }

    /// Checks every iovec of a list before any effect; returns their total length (`EINVAL` if
    /// it does not fit the `u32` result).
    fn check_iovecs(mem: &dyn GuestMemory, iovs: u32, iovs_len: u32) -> Result<u32, Errno> {
        mem.check(iovs.into(), 8 * u64::from(iovs_len))?;
        let mut total: u32 = 0;
        for i in 0..iovs_len {
            let (_, len) = iovec(mem, iovs, i)?;
            total = total.checked_add(len).ok_or(Errno::Inval)?;
        }
        Ok(total)
    }

    /// Reads a file into the iovecs (at `offset`, or at the file position if `None`) until they
    /// are full or the file ends.
    fn read_file(
        f: &mut FileDesc,
        scratch: &mut Vec<u8>,
        mem: &mut dyn GuestMemory,
        iovs: u32,
        iovs_len: u32,
        mut offset: Option<u64>,
    ) -> Result<u32, Errno> {
        let mut total = 0u32;
        for i in 0..iovs_len {
            let (mut ptr, len) = iovec(mem, iovs, i)?;
            let mut left = len as usize;
            while left > 0 {
                scratch.resize(left.min(CHUNK), 0);
                let n = match offset {
                    Some(off) => f.file.pread(scratch, off)?,
                    None => f.file.read(scratch)?,
                };
                let n = n.min(scratch.len());
                mem.write(ptr, &scratch[..n])?;
                total += n as u32;
                if let Some(off) = offset.as_mut() {
                    *off += n as u64;
                }
                if n < scratch.len() {
                    return Ok(total);
                }
                ptr += n as u64;
                left -= n;
            }
        }
        Ok(total)
    }

    /// Writes the iovecs to a file (at `offset`, or at the position / end if `None`), all of them.
    fn write_file(
        f: &mut FileDesc,
        scratch: &mut Vec<u8>,
        mem: &dyn GuestMemory,
        iovs: u32,
        iovs_len: u32,
        mut offset: Option<u64>,
        now: u64,
    ) -> Result<(), Errno> {
        let append = f.flags & fd::FDFLAG_APPEND != 0;
        for i in 0..iovs_len {
            let (mut ptr, len) = iovec(mem, iovs, i)?;
            let mut left = len as usize;
            while left > 0 {
                let n = left.min(CHUNK);
                scratch.resize(n, 0);
                mem.read(ptr, scratch)?;
                let mut done = 0;
                while done < n {
                    let w = match offset {
                        Some(off) => f.file.pwrite(&scratch[done..], off + done as u64, now)?,
                        None => f.file.write(&scratch[done..], append, now)?,
                    };
                    if w == 0 {
                        return Err(Errno::Io);
                    }
                    done += w;
                }
                if let Some(off) = offset.as_mut() {
                    *off += n as u64;
                }
                ptr += n as u64;
                left -= n;
            }
        }
        if f.flags & (fd::FDFLAG_SYNC | fd::FDFLAG_RSYNC) != 0 {
            f.file.sync()?;
        } else if f.flags & fd::FDFLAG_DSYNC != 0 {
            f.file.datasync()?;
        }
        Ok(())
    }

    pub fn fd_pread(
        ctx: &mut WasiCtx,
        mem: &mut dyn GuestMemory,
        fd: u32,
        iovs: u32,
        iovs_len: u32,
        offset: u64,
        out: u32,
    ) -> Result<Errno, Exit> {
        done((|| {
            let WasiCtx { fds, scratch, .. } = ctx;
            let f = match fds.get_mut(fd)? {
                Desc::File(f) if f.read => f,
                Desc::File(_) => return Err(Errno::Badf),
                Desc::Dir(_) => return Err(Errno::IsDir),
                Desc::Stdio { .. } => return Err(Errno::Spipe),
            };
            mem.check(out.into(), 4)?;
            check_iovecs(mem, iovs, iovs_len)?;
            let n = read_file(f, scratch, mem, iovs, iovs_len, Some(offset))?;
            Ok(mem.write_u32(out.into(), n)?)
        })())
    }
    pub fn fd_prestat_get(ctx: &mut WasiCtx, mem: &mut dyn GuestMemory, fd: u32, out: u32) -> Result<Errno, Exit> {
        // Go's startup probes fds 3, 4, … and stops at the first EBADF.
        done((|| match ctx.fds.get(fd)? {
            Desc::Dir(DirDesc { preopen: Some(name), .. }) => {
                let mut b = [0u8; 8];
                b[4..8].copy_from_slice(&(name.len() as u32).to_le_bytes());
                Ok(mem.write(out.into(), &b)?)
            }
            _ => Err(Errno::Badf),
        })())
    }
    pub fn fd_prestat_dir_name(ctx: &mut WasiCtx, mem: &mut dyn GuestMemory, fd: u32, path: u32, path_len: u32) -> Result<Errno, Exit> {
        done((|| match ctx.fds.get(fd)? {
            Desc::Dir(DirDesc { preopen: Some(name), .. }) => {
                mem.check(path.into(), path_len.into())?;
                if (path_len as usize) < name.len() {
                    return Err(Errno::NameTooLong);
                }
                Ok(mem.write(path.into(), name.as_bytes())?)
            }
            _ => Err(Errno::Badf),
        })())
    }
    pub fn fd_pwrite(
        ctx: &mut WasiCtx,
        mem: &mut dyn GuestMemory,
        fd: u32,
        iovs: u32,
        iovs_len: u32,
        offset: u64,
        out: u32,
    ) -> Result<Errno, Exit> {
        let now = wall(ctx);
        done((|| {
            let WasiCtx { fds, scratch, .. } = ctx;
            let f = match fds.get_mut(fd)? {
                Desc::File(f) if f.write => f,
                Desc::File(_) | Desc::Dir(_) => return Err(Errno::Badf),
                Desc::Stdio { .. } => return Err(Errno::Spipe),
            };
            mem.check(out.into(), 4)?;
            let total = check_iovecs(mem, iovs, iovs_len)?;
            write_file(f, scratch, mem, iovs, iovs_len, Some(offset), now)?;
            Ok(mem.write_u32(out.into(), total)?)
        })())
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
            let WasiCtx {
                fds,
                scratch,
                stdin,
                stdin_waiting,
                ..
            } = ctx;
            let nonblock = match fds.get_mut(fd)? {
                Desc::Stdio { which: Stdio::In, flags } => *flags & fd::FDFLAG_NONBLOCK != 0,
                Desc::Stdio { .. } => return Err(Errno::Badf),
                Desc::Dir(_) => return Err(Errno::IsDir),
                Desc::File(f) if !f.read => return Err(Errno::Badf),
                Desc::File(f) => {
                    mem.check(out.into(), 4)?;
                    check_iovecs(mem, iovs, iovs_len)?;
                    let n = read_file(f, scratch, mem, iovs, iovs_len, None)?;
                    return Ok(mem.write_u32(out.into(), n)?);
                }
            };
            mem.check(out.into(), 4)?;
            mem.check(iovs.into(), 8 * u64::from(iovs_len))?;
            // One read into the first non-empty buffer: a short read is valid, and waiting for
            // more than is ready would stall the guest.
            let mut n = 0;
            if let Some(stdin) = stdin.as_ref() {
                for i in 0..iovs_len {
                    let (ptr, len) = iovec(mem, iovs, i)?;
                    if len == 0 {
                        continue;
                    }
                    scratch.resize((len as usize).min(CHUNK), 0);
                    let got = if nonblock {
                        stdin.try_read(scratch)
                    } else {
                        stdin.read_blocking(scratch)
                    };
                    n = match got {
                        Input::Data(n) => n,
                        Input::Eof => 0,
                        Input::Failed => return Err(Errno::Io),
                        Input::Empty => {
                            *stdin_waiting = true;
                            return Err(Errno::Again);
                        }
                    };
                    *stdin_waiting = false;
                    mem.write(ptr, &scratch[..n])?;
                    break;
                }
            }
            Ok(mem.write_u32(out.into(), n as u32)?)
        })())
    }

    const DIRENT_SIZE: usize = 24;

    pub fn fd_readdir(
        ctx: &mut WasiCtx,
        mem: &mut dyn GuestMemory,
        fd: u32,
        buf: u32,
        buf_len: u32,
        cookie: u64,
        out: u32,
    ) -> Result<Errno, Exit> {
        done((|| {
            let d = match ctx.fds.get_mut(fd)? {
                Desc::Dir(d) => d,
                _ => return Err(Errno::NotDir),
            };
            mem.check(buf.into(), buf_len.into())?;
            mem.check(out.into(), 4)?;
            if cookie == 0 || d.listing.is_none() {
                d.listing = Some(d.dir.entries()?);
            }
            let ino = d.dir.stat()?.ino;
            let listing = d.listing.as_deref().unwrap_or_default();
            // Entries 0 and 1 are `.` and `..` (like wasmtime); the cookie of an entry is the
            // index of the next one.
            let want = buf_len as usize;
            let mut bytes = Vec::new();
            let mut i = usize::try_from(cookie).unwrap_or(usize::MAX);
            while bytes.len() < want && i < listing.len().saturating_add(2) {
                let (name, ino, filetype): (&[u8], u64, FileType) = match i {
                    0 => (b".", ino, FileType::Directory),
                    1 => (b"..", ino, FileType::Directory),
                    _ => {
                        let e = &listing[i - 2];
                        (&e.name, e.ino, e.filetype)
                    }
                };
                let mut head = [0u8; DIRENT_SIZE];
                head[0..8].copy_from_slice(&(i as u64 + 1).to_le_bytes());
                head[8..16].copy_from_slice(&ino.to_le_bytes());
                head[16..20].copy_from_slice(&(name.len() as u32).to_le_bytes());
                head[20] = filetype as u8;
                bytes.extend_from_slice(&head);
                bytes.extend_from_slice(name);
                i += 1;
            }
            // The last entry may be cut: a full buffer tells the guest to call again.
            bytes.truncate(want);
            mem.write(buf.into(), &bytes)?;
            Ok(mem.write_u32(out.into(), bytes.len() as u32)?)
        })())
    }
    pub fn fd_renumber(ctx: &mut WasiCtx, _: &mut dyn GuestMemory, fd: u32, to: u32) -> Result<Errno, Exit> {
        done(ctx.fds.renumber(fd, to))
    }

    const WHENCE_SET: u32 = 0;
    const WHENCE_CUR: u32 = 1;
    const WHENCE_END: u32 = 2;

    fn seek(ctx: &mut WasiCtx, fd: u32, offset: i64, whence: u32) -> Result<u64, Errno> {
        let pos = match whence {
            WHENCE_SET => u64::try_from(offset).map(SeekFrom::Start).map_err(|_| Errno::Inval),
            WHENCE_CUR => Ok(SeekFrom::Current(offset)),
            WHENCE_END => Ok(SeekFrom::End(offset)),
            _ => Err(Errno::Inval),
        };
        match ctx.fds.get_mut(fd)? {
            Desc::File(f) => f.file.seek(pos?),
            // A directory's only position is its start (Go seeks there to rewind a listing).
            Desc::Dir(d) => match pos? {
                SeekFrom::Start(0) => {
                    d.listing = None;
                    Ok(0)
                }
                SeekFrom::Current(0) => Ok(0),
                _ => Err(Errno::Inval),
            },
            Desc::Stdio { .. } => Err(Errno::Spipe),
        }
    }

    pub fn fd_seek(ctx: &mut WasiCtx, mem: &mut dyn GuestMemory, fd: u32, offset: u64, whence: u32, out: u32) -> Result<Errno, Exit> {
        done((|| {
            ctx.fds.get(fd)?;
            mem.check(out.into(), 8)?;
            let to = seek(ctx, fd, offset as i64, whence)?;
            Ok(mem.write_u64(out.into(), to)?)
        })())
    }
    pub fn fd_sync(ctx: &mut WasiCtx, _: &mut dyn GuestMemory, fd: u32) -> Result<Errno, Exit> {
        done(match ctx.fds.get(fd) {
            Err(e) => Err(e),
            Ok(Desc::File(f)) => f.file.sync(),
            Ok(Desc::Dir(d)) => d.dir.sync(),
            Ok(Desc::Stdio { .. }) => Err(Errno::Inval),
        })
    }
    pub fn fd_tell(ctx: &mut WasiCtx, mem: &mut dyn GuestMemory, fd: u32, out: u32) -> Result<Errno, Exit> {
        done((|| {
            ctx.fds.get(fd)?;
            mem.check(out.into(), 8)?;
            let to = seek(ctx, fd, 0, WHENCE_CUR)?;
            Ok(mem.write_u64(out.into(), to)?)
        })())
    }

    pub fn fd_write(ctx: &mut WasiCtx, mem: &mut dyn GuestMemory, fd: u32, iovs: u32, iovs_len: u32, out: u32) -> Result<Errno, Exit> {
        let now = wall(ctx);
        done((|| {
            let WasiCtx {
                fds,
                stdout,
                stderr,
                tap,
                scratch,
                ..
            } = ctx;
            let to_stderr = match fds.get_mut(fd)? {
                Desc::Stdio { which: Stdio::In, .. } => return Err(Errno::Badf),
                Desc::Stdio { which, .. } => *which == Stdio::Err,
                Desc::Dir(_) => return Err(Errno::Badf),
                Desc::File(f) if !f.write => return Err(Errno::Badf),
                Desc::File(f) => {
                    mem.check(out.into(), 4)?;
                    // Validate every iovec before writing any byte, so EFAULT means nothing was written.
                    let total = check_iovecs(mem, iovs, iovs_len)?;
                    write_file(f, scratch, mem, iovs, iovs_len, None, now)?;
                    return Ok(mem.write_u32(out.into(), total)?);
                }
            };
            mem.check(out.into(), 4)?;
            let total = check_iovecs(mem, iovs, iovs_len)?;
            let sink = if to_stderr { stderr } else { stdout };
            for i in 0..iovs_len {
                let (mut ptr, len) = iovec(mem, iovs, i)?;
                let mut left = len as usize;
                while left > 0 {
                    let n = left.min(CHUNK);
                    scratch.resize(n, 0);
                    mem.read(ptr, scratch)?;
                    if to_stderr {
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

    const LOOKUP_SYMLINK_FOLLOW: u32 = 1;

    /// The two `(directory, path)` pairs of a link or rename, each given as `[fd, ptr, len]`.
    /// Both descriptors must be open (`EBADF`) before either is checked to be a directory.
    fn two_paths<'a>(
        ctx: &'a WasiCtx,
        mem: &dyn GuestMemory,
        [fd1, ptr1, len1]: [u32; 3],
        [fd2, ptr2, len2]: [u32; 3],
    ) -> Result<(&'a DirDesc, String, &'a DirDesc, String), Errno> {
        ctx.fds.get(fd2)?;
        let (d1, d2) = (dir(ctx, fd1)?, dir(ctx, fd2)?);
        Ok((d1, read_path(mem, ptr1, len1)?, d2, read_path(mem, ptr2, len2)?))
    }

    /// A call that changes one path beneath a writable directory.
    fn change_path(
        ctx: &mut WasiCtx,
        mem: &mut dyn GuestMemory,
        fd: u32,
        path: u32,
        path_len: u32,
        op: impl FnOnce(&dyn crate::fs::DirHandle, &str, u64) -> R,
    ) -> Result<Errno, Exit> {
        let now = wall(ctx);
        done((|| {
            let d = dir(ctx, fd)?;
            let path = read_path(mem, path, path_len)?;
            op(&*writable(d)?.dir, &path, now)
        })())
    }

    pub fn path_create_directory(ctx: &mut WasiCtx, mem: &mut dyn GuestMemory, fd: u32, path: u32, path_len: u32) -> Result<Errno, Exit> {
        change_path(ctx, mem, fd, path, path_len, |d, path, now| d.create_dir(path, now))
    }
    pub fn path_filestat_get(
        ctx: &mut WasiCtx,
        mem: &mut dyn GuestMemory,
        fd: u32,
        flags: u32,
        path: u32,
        path_len: u32,
        out: u32,
    ) -> Result<Errno, Exit> {
        done((|| {
            let d = dir(ctx, fd)?;
            mem.check(out.into(), 64)?;
            let path = read_path(mem, path, path_len)?;
            let stat = d.dir.stat_at(&path, flags & LOOKUP_SYMLINK_FOLLOW != 0)?;
            Ok(mem.write(out.into(), &stat.to_bytes())?)
        })())
    }
    pub fn path_filestat_set_times(
        ctx: &mut WasiCtx,
        mem: &mut dyn GuestMemory,
        fd: u32,
        flags: u32,
        path: u32,
        path_len: u32,
        atim: u64,
        mtim: u64,
        fst: u32,
    ) -> Result<Errno, Exit> {
        done((|| {
            let d = dir(ctx, fd)?;
            let path = read_path(mem, path, path_len)?;
            let (a, m) = times(ctx, atim, mtim, fst)?;
            writable(d)?.dir.set_times_at(&path, flags & LOOKUP_SYMLINK_FOLLOW != 0, a, m)
        })())
    }
    pub fn path_link(
        ctx: &mut WasiCtx,
        mem: &mut dyn GuestMemory,
        old_fd: u32,
        old_flags: u32,
        old_path: u32,
        old_len: u32,
        new_fd: u32,
        new_path: u32,
        new_len: u32,
    ) -> Result<Errno, Exit> {
        let now = wall(ctx);
        done((|| {
            let (from, old_path, to, new_path) = two_paths(ctx, mem, [old_fd, old_path, old_len], [new_fd, new_path, new_len])?;
            // Like wasmtime: following a symlink source is not supported (Linux's default
            // `link` does not follow either, which is what Go asks for).
            if old_flags & LOOKUP_SYMLINK_FOLLOW != 0 {
                return Err(Errno::Inval);
            }
            writable(to)?;
            writable(from)?.dir.link(&old_path, false, &*to.dir, &new_path, now)
        })())
    }
    pub fn path_open(
        ctx: &mut WasiCtx,
        mem: &mut dyn GuestMemory,
        fd: u32,
        dirflags: u32,
        path: u32,
        path_len: u32,
        oflags: u32,
        base: u64,
        _inheriting: u64,
        fdflags: u32,
        out: u32,
    ) -> Result<Errno, Exit> {
        const OFLAGS_CREAT: u32 = 1;
        const OFLAGS_DIRECTORY: u32 = 2;
        const OFLAGS_EXCL: u32 = 4;
        const OFLAGS_TRUNC: u32 = 8;
        let now = wall(ctx);
        done((|| {
            let d = dir(ctx, fd)?;
            mem.check(out.into(), 4)?;
            let path = read_path(mem, path, path_len)?;
            let flags = u16::try_from(fdflags)
                .ok()
                .filter(|f| f & !fd::FDFLAGS_ALL == 0)
                .ok_or(Errno::Inval)?;
            if oflags & !0xf != 0 {
                return Err(Errno::Inval);
            }
            // Read/write mode from the rights, as wasmtime does (Go asks for FD_WRITE exactly
            // when opening for writing); append implies writing.
            let write = base & RIGHT_FD_WRITE != 0 || flags & fd::FDFLAG_APPEND != 0;
            let read = base & (RIGHT_FD_READ | RIGHT_FD_READDIR) != 0 || !write;
            let o = OpenOpts {
                read,
                write,
                create: oflags & OFLAGS_CREAT != 0,
                exclusive: oflags & OFLAGS_EXCL != 0,
                truncate: oflags & OFLAGS_TRUNC != 0,
                directory: oflags & OFLAGS_DIRECTORY != 0,
                follow: dirflags & LOOKUP_SYMLINK_FOLLOW != 0,
            };
            // Creating or truncating needs write access (std and cap-std refuse it too), a
            // directory can be neither.
            let changes = o.create || o.truncate;
            let invalid = if o.directory { o.write || changes } else { changes && !o.write };
            if invalid {
                return Err(Errno::Inval);
            }
            if d.read_only && (o.write || o.create || o.truncate) {
                return Err(Errno::Rofs);
            }
            let read_only = d.read_only;
            let desc = match d.dir.open(&path, &o, now)? {
                Node::File(file) => Desc::File(FileDesc {
                    file,
                    read,
                    write,
                    read_only,
                    flags,
                }),
                Node::Dir(dir) => Desc::Dir(DirDesc {
                    dir,
                    preopen: None,
                    read_only,
                    listing: None,
                    flags,
                }),
            };
            let new_fd = ctx.fds.insert(desc)?;
            Ok(mem.write_u32(out.into(), new_fd)?)
        })())
    }
    pub fn path_readlink(
        ctx: &mut WasiCtx,
        mem: &mut dyn GuestMemory,
        fd: u32,
        path: u32,
        path_len: u32,
        buf: u32,
        buf_len: u32,
        out: u32,
    ) -> Result<Errno, Exit> {
        done((|| {
            let d = dir(ctx, fd)?;
            mem.check(buf.into(), buf_len.into())?;
            mem.check(out.into(), 4)?;
            let path = read_path(mem, path, path_len)?;
            let target = d.dir.readlink(&path)?;
            // Cut to the buffer, like readlink(2).
            let n = target.len().min(buf_len as usize);
            mem.write(buf.into(), &target[..n])?;
            Ok(mem.write_u32(out.into(), n as u32)?)
        })())
    }
    pub fn path_remove_directory(ctx: &mut WasiCtx, mem: &mut dyn GuestMemory, fd: u32, path: u32, path_len: u32) -> Result<Errno, Exit> {
        change_path(ctx, mem, fd, path, path_len, |d, path, now| d.remove_dir(path, now))
    }
    pub fn path_rename(
        ctx: &mut WasiCtx,
        mem: &mut dyn GuestMemory,
        fd: u32,
        old_path: u32,
        old_len: u32,
        new_fd: u32,
        new_path: u32,
        new_len: u32,
    ) -> Result<Errno, Exit> {
        let now = wall(ctx);
        done((|| {
            let (from, old_path, to, new_path) = two_paths(ctx, mem, [fd, old_path, old_len], [new_fd, new_path, new_len])?;
            writable(to)?;
            writable(from)?.dir.rename(&old_path, &*to.dir, &new_path, now)
        })())
    }
    pub fn path_symlink(
        ctx: &mut WasiCtx,
        mem: &mut dyn GuestMemory,
        old_path: u32,
        old_len: u32,
        fd: u32,
        new_path: u32,
        new_len: u32,
    ) -> Result<Errno, Exit> {
        let now = wall(ctx);
        done((|| {
            let d = dir(ctx, fd)?;
            let target = read_path(mem, old_path, old_len)?;
            let path = read_path(mem, new_path, new_len)?;
            writable(d)?.dir.symlink(&target, &path, now)
        })())
    }
    pub fn path_unlink_file(ctx: &mut WasiCtx, mem: &mut dyn GuestMemory, fd: u32, path: u32, path_len: u32) -> Result<Errno, Exit> {
        change_path(ctx, mem, fd, path, path_len, |d, path, now| d.unlink(path, now))
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
        nbytes: u64,
    }

    /// Clock subscriptions really wait (an `init` that sleeps must sleep). Fd subscriptions:
    /// regular files and stdout/stderr are always ready, stdin when it has data or reached its
    /// end; other descriptors report `EBADF` in their event. With nothing ready the call waits
    /// for the earliest of its timers and stdin (without timers, for stdin alone), never
    /// spinning.
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
            let mut stdin_watch = Vec::new(); // userdata of fd_read subscriptions on unready stdin
            let mut watched_stdin = false;
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
                                    nbytes: 0,
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
                        let reading = kind == EVENTTYPE_FD_READ;
                        let (error, nbytes) = match ctx.fds.get(fd) {
                            Ok(Desc::Stdio { which: Stdio::In, .. }) if reading => match &ctx.stdin {
                                Some(pipe) => {
                                    watched_stdin = true;
                                    if !pipe.readiness().is_ready() {
                                        stdin_watch.push(userdata);
                                        continue;
                                    }
                                    (Errno::Success, pipe.buffered() as u64)
                                }
                                None => (Errno::Success, 0),
                            },
                            Ok(Desc::Stdio {
                                which: Stdio::Out | Stdio::Err,
                                ..
                            }) if !reading => (Errno::Success, 0),
                            Ok(Desc::File(_)) => (Errno::Success, 0),
                            _ => (Errno::Badf, 0),
                        };
                        ready.push(Event {
                            userdata,
                            error,
                            kind,
                            nbytes,
                        });
                    }
                    _ => return Err(Errno::Inval),
                }
            }
            let mut slept = false;
            let first = timers.iter().map(|t| t.1).min();
            if ready.is_empty() {
                let wait = |ctx: &WasiCtx, deadline: u64| deadline.saturating_sub(ctx.clock.monotonic_ns());
                match (ctx.stdin.as_ref().map(|p| p.readiness()), stdin_watch.is_empty(), first) {
                    (Some(input), false, Some(deadline)) => {
                        // Stdin wakes the wait early; otherwise the clock (which a test clock
                        // may advance instantly) sleeps the rest.
                        let w = wait(ctx, deadline);
                        if w == 0 || !input.wait_timeout(Duration::from_nanos(w)) {
                            let left = wait(ctx, deadline);
                            if left > 0 {
                                ctx.clock.sleep(Duration::from_nanos(left));
                            }
                            slept = true;
                        }
                    }
                    (Some(input), false, None) => while !input.wait_timeout(Duration::from_secs(3600)) {},
                    (_, _, Some(deadline)) => {
                        let w = wait(ctx, deadline);
                        if w > 0 {
                            ctx.clock.sleep(Duration::from_nanos(w));
                        }
                        slept = true;
                    }
                    _ => {}
                }
                if let Some(pipe) = &ctx.stdin
                    && !stdin_watch.is_empty()
                    && pipe.readiness().is_ready()
                {
                    let nbytes = pipe.buffered() as u64;
                    for &userdata in &stdin_watch {
                        ready.push(Event {
                            userdata,
                            error: Errno::Success,
                            kind: EVENTTYPE_FD_READ,
                            nbytes,
                        });
                    }
                    stdin_watch.clear();
                }
            }
            if watched_stdin {
                ctx.stdin_waiting = !stdin_watch.is_empty();
            }
            let after = ctx.clock.monotonic_ns();
            for &(userdata, deadline) in &timers {
                // After sleeping, the earliest timer counts as fired even on a coarse clock.
                if deadline <= after || (slept && Some(deadline) == first) {
                    ready.push(Event {
                        userdata,
                        error: Errno::Success,
                        kind: EVENTTYPE_CLOCK,
                        nbytes: 0,
                    });
                }
            }
            for (i, ev) in ready.iter().enumerate() {
                let mut buf = [0u8; EVENT_SIZE as usize];
                buf[0..8].copy_from_slice(&ev.userdata.to_le_bytes());
                buf[8..10].copy_from_slice(&ev.error.raw().to_le_bytes());
                buf[10] = ev.kind;
                buf[16..24].copy_from_slice(&ev.nbytes.to_le_bytes());
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
