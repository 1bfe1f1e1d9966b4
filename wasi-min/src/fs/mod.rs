//! The guest's file system: preopened directories, and the two trees behind them.
//!
//! A guest reaches files only through *preopens*: directories the embedder grants with
//! [`WasiCtxBuilder::preopen`](crate::WasiCtxBuilder::preopen), which the guest finds at fds 3, 4, …
//! (`fd_prestat_get`) under the name it should use for them (Go resolves its paths against these
//! names by longest prefix, relative paths against `PWD`). Every path the guest passes is resolved
//! *beneath* the directory descriptor it names: `..` above it, absolute paths and symlinks leading
//! out are refused with `ENOTCAPABLE`, symlink chains longer than 40 links with `ELOOP`.
//!
//! Two implementations sit behind one internal interface (`DirHandle` / `FileHandle`):
//!
//! - **host directories** ([`Preopen::host_dir`], not on wasm32-unknown-unknown): every operation
//!   goes through a [`cap_std::fs::Dir`] of the preopen (the capability library wasmtime's WASI
//!   uses), never through a hand-written path walk over `std::fs`. cap-std resolves each path
//!   with `openat2(RESOLVE_BENEATH)` or its own component-by-component walk on `O_NOFOLLOW`
//!   descriptors, so a tree changing underneath (a directory swapped for a symlink mid-call)
//!   cannot lead outside either;
//! - **[`MemFs`]**: an in-memory tree (files, directories, symlinks, hard links, inode numbers,
//!   times from the guest's clock) with the same resolution rules, for the web backend, for
//!   embedders who grant no host access at all, and for the fuzz target.
//!
//! A [`Preopen::read_only`] preopen refuses every change with `EROFS`, as Linux does on a
//! read-only mount (not `ENOTCAPABLE`: the guest asked for something a directory can do, it is
//! the mount that forbids it). Errors of the host become errnos in one place, [`errno_from_io`].

use std::any::Any;
use std::fmt;

use crate::errno::Errno;

#[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
mod host;
mod mem;

pub use mem::{DEFAULT_LIMIT, MemFs};

/// A result of a file-system operation: the errno the guest sees on failure.
pub(crate) type FsResult<T> = Result<T, Errno>;

/// Longest symlink chain followed while resolving one path (Linux's `MAXSYMLINKS`).
pub(crate) const MAX_SYMLINKS: u32 = 40;

/// A directory granted to the guest: what it is, and the name the guest sees it under.
pub struct Preopen {
    pub(crate) dir: Box<dyn DirHandle>,
    pub(crate) guest: String,
    pub(crate) read_only: bool,
}

impl fmt::Debug for Preopen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Preopen")
            .field("guest", &self.guest)
            .field("dir", &self.dir)
            .field("read_only", &self.read_only)
            .finish()
    }
}

impl Preopen {
    /// The host directory `host`, seen by the guest as `guest` (e.g. `"/"` or `"/data"`).
    ///
    /// Fails if `host` cannot be opened as a directory. The guest reaches everything beneath it
    /// (following symlinks that stay beneath it) and nothing else.
    #[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
    pub fn host_dir(host: impl AsRef<std::path::Path>, guest: impl Into<String>) -> std::io::Result<Preopen> {
        Ok(Preopen {
            dir: Box::new(host::HostDir::open(host.as_ref())?),
            guest: guest.into(),
            read_only: false,
        })
    }
    /// The in-memory tree `fs` (its root), seen by the guest as `guest`. The embedder keeps its
    /// own handle to `fs` and sees the guest's changes.
    pub fn memory(fs: MemFs, guest: impl Into<String>) -> Preopen {
        Preopen {
            dir: Box::new(fs.root_handle()),
            guest: guest.into(),
            read_only: false,
        }
    }
    /// Makes the preopen read-only: every change through it (or through anything opened from it)
    /// fails with `EROFS`.
    pub fn read_only(mut self) -> Preopen {
        self.read_only = true;
        self
    }
    /// The name the guest sees the directory under.
    pub fn guest_path(&self) -> &str {
        &self.guest
    }
}

/// WASI `filetype` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum FileType {
    /// Sockets, devices and the like on a host directory.
    #[cfg_attr(all(target_arch = "wasm32", target_os = "unknown"), allow(dead_code))]
    Unknown = 0,
    CharacterDevice = 2,
    Directory = 3,
    RegularFile = 4,
    SymbolicLink = 7,
}

/// WASI `filestat`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Filestat {
    pub dev: u64,
    pub ino: u64,
    pub filetype: FileType,
    pub nlink: u64,
    pub size: u64,
    pub atim: u64,
    pub mtim: u64,
    pub ctim: u64,
}

impl Filestat {
    /// The 64-byte guest layout.
    pub(crate) fn to_bytes(self) -> [u8; 64] {
        let mut b = [0u8; 64];
        b[0..8].copy_from_slice(&self.dev.to_le_bytes());
        b[8..16].copy_from_slice(&self.ino.to_le_bytes());
        b[16] = self.filetype as u8;
        b[24..32].copy_from_slice(&self.nlink.to_le_bytes());
        b[32..40].copy_from_slice(&self.size.to_le_bytes());
        b[40..48].copy_from_slice(&self.atim.to_le_bytes());
        b[48..56].copy_from_slice(&self.mtim.to_le_bytes());
        b[56..64].copy_from_slice(&self.ctim.to_le_bytes());
        b
    }
}

/// One directory entry (without `.` and `..`, which the fd layer adds).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DirEntry {
    pub name: Vec<u8>,
    pub ino: u64,
    pub filetype: FileType,
}

/// What `path_open` asks for, already validated by the preview1 layer.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct OpenOpts {
    /// (The in-memory tree does not need it: the fd layer enforces the mode.)
    #[cfg_attr(all(target_arch = "wasm32", target_os = "unknown"), allow(dead_code))]
    pub read: bool,
    pub write: bool,
    pub create: bool,
    pub exclusive: bool,
    pub truncate: bool,
    pub directory: bool,
    pub follow: bool,
}

/// A time to set: `None` leaves it unchanged; the preview1 layer turns `*_NOW` into the guest
/// clock's time so both implementations agree.
pub(crate) type SetTime = Option<u64>;

/// What `path_open` opened.
pub(crate) enum Node {
    File(Box<dyn FileHandle>),
    Dir(Box<dyn DirHandle>),
}

/// An open directory: the root of path resolution for every `path_*` call on its fd.
///
/// `now` is the guest clock's realtime in nanoseconds (the in-memory tree stamps changes with it;
/// the host's own file system uses its own clock).
pub(crate) trait DirHandle: Send + fmt::Debug {
    /// For operations on two directories (rename, link): both must be of the same kind.
    fn as_any(&self) -> &dyn Any;
    fn open(&self, path: &str, opts: &OpenOpts, now: u64) -> FsResult<Node>;
    fn stat(&self) -> FsResult<Filestat>;
    fn stat_at(&self, path: &str, follow: bool) -> FsResult<Filestat>;
    fn set_times(&self, atim: SetTime, mtim: SetTime) -> FsResult<()>;
    fn set_times_at(&self, path: &str, follow: bool, atim: SetTime, mtim: SetTime) -> FsResult<()>;
    fn create_dir(&self, path: &str, now: u64) -> FsResult<()>;
    fn remove_dir(&self, path: &str, now: u64) -> FsResult<()>;
    fn unlink(&self, path: &str, now: u64) -> FsResult<()>;
    fn rename(&self, old: &str, new_dir: &dyn DirHandle, new: &str, now: u64) -> FsResult<()>;
    fn link(&self, old: &str, follow: bool, new_dir: &dyn DirHandle, new: &str, now: u64) -> FsResult<()>;
    fn symlink(&self, target: &str, path: &str, now: u64) -> FsResult<()>;
    fn readlink(&self, path: &str) -> FsResult<Vec<u8>>;
    /// A snapshot of the entries (the fd layer pages through it with cookies).
    fn entries(&self) -> FsResult<Vec<DirEntry>>;
    fn sync(&self) -> FsResult<()>;
}

/// An open regular file. The file position belongs to the handle (`fd_seek`, `fd_tell`).
pub(crate) trait FileHandle: Send + fmt::Debug {
    fn read(&mut self, buf: &mut [u8]) -> FsResult<usize>;
    /// Writes at the position, or at the end if `append` (then the position moves there).
    fn write(&mut self, buf: &[u8], append: bool, now: u64) -> FsResult<usize>;
    fn pread(&mut self, buf: &mut [u8], offset: u64) -> FsResult<usize>;
    fn pwrite(&mut self, buf: &[u8], offset: u64, now: u64) -> FsResult<usize>;
    fn seek(&mut self, pos: std::io::SeekFrom) -> FsResult<u64>;
    fn stat(&self) -> FsResult<Filestat>;
    fn set_size(&mut self, size: u64, now: u64) -> FsResult<()>;
    fn set_times(&self, atim: SetTime, mtim: SetTime) -> FsResult<()>;
    fn sync(&self) -> FsResult<()>;
    fn datasync(&self) -> FsResult<()>;
    /// Makes sure the file is at least `offset + len` bytes long.
    fn allocate(&mut self, offset: u64, len: u64, now: u64) -> FsResult<()> {
        let end = offset.checked_add(len).ok_or(Errno::Fbig)?;
        if end > self.stat()?.size {
            self.set_size(end, now)?;
        }
        Ok(())
    }
}

/// Largest file offset (Linux's `off_t` is signed).
pub(crate) const MAX_OFFSET: u64 = i64::MAX as u64;

/// The one place a host I/O error becomes a WASI errno: the OS error number where there is one
/// (Linux's numbering on unix hosts), the error kind otherwise. cap-std reports an attempt to
/// leave the preopen as `PermissionDenied` without an OS error: that is `ENOTCAPABLE`.
pub fn errno_from_io(e: &std::io::Error) -> Errno {
    #[cfg(unix)]
    if let Some(code) = e.raw_os_error() {
        return errno_from_os(code);
    }
    use std::io::ErrorKind as K;
    match e.kind() {
        K::NotFound => Errno::NoEnt,
        K::PermissionDenied => Errno::NotCapable,
        K::AlreadyExists => Errno::Exist,
        K::WouldBlock => Errno::Again,
        K::InvalidInput | K::InvalidData => Errno::Inval,
        K::Interrupted => Errno::Intr,
        K::Unsupported => Errno::NotSup,
        K::OutOfMemory => Errno::NoMem,
        K::NotADirectory => Errno::NotDir,
        K::IsADirectory => Errno::IsDir,
        K::DirectoryNotEmpty => Errno::NotEmpty,
        K::ReadOnlyFilesystem => Errno::Rofs,
        K::StorageFull => Errno::NoSpc,
        K::FileTooLarge => Errno::Fbig,
        K::NotSeekable => Errno::Spipe,
        K::CrossesDevices => Errno::Xdev,
        K::TooManyLinks => Errno::Mlink,
        K::InvalidFilename => Errno::NameTooLong,
        K::ResourceBusy => Errno::Busy,
        K::BrokenPipe => Errno::Pipe,
        _ => Errno::Io,
    }
}

/// The host's errno numbers (through rustix, which cap-std is built on) to WASI errnos.
#[cfg(unix)]
fn errno_from_os(code: i32) -> Errno {
    use rustix::io::Errno as E;
    match E::from_raw_os_error(code) {
        E::PERM => Errno::Perm,
        E::NOENT => Errno::NoEnt,
        E::IO => Errno::Io,
        E::BADF => Errno::Badf,
        E::AGAIN => Errno::Again,
        E::NOMEM => Errno::NoMem,
        E::ACCESS => Errno::Access,
        E::BUSY => Errno::Busy,
        E::EXIST => Errno::Exist,
        E::XDEV => Errno::Xdev,
        E::NOTDIR => Errno::NotDir,
        E::ISDIR => Errno::IsDir,
        E::INVAL => Errno::Inval,
        E::MFILE => Errno::Mfile,
        E::NFILE => Errno::Nfile,
        E::FBIG => Errno::Fbig,
        E::NOSPC => Errno::NoSpc,
        E::SPIPE => Errno::Spipe,
        E::ROFS => Errno::Rofs,
        E::MLINK => Errno::Mlink,
        E::PIPE => Errno::Pipe,
        E::NAMETOOLONG => Errno::NameTooLong,
        E::NOTEMPTY => Errno::NotEmpty,
        E::LOOP => Errno::Loop,
        E::OVERFLOW => Errno::Overflow,
        E::ILSEQ => Errno::Ilseq,
        E::NOTSUP => Errno::NotSup,
        E::DQUOT => Errno::Dquot,
        E::TXTBSY => Errno::TxtBsy,
        E::INTR => Errno::Intr,
        E::NOSYS => Errno::NoSys,
        E::NOTCONN => Errno::NotConn,
        E::NXIO => Errno::Nxio,
        E::NODEV => Errno::NoDev,
        _ => Errno::Io,
    }
}
