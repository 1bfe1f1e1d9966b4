//! Host directories, through cap-std: every path is resolved by cap-std beneath the preopen's
//! `Dir` (`openat2(RESOLVE_BENEATH)` where the kernel has it, else its own walk over `O_NOFOLLOW`
//! descriptors), so no hand-written path handling here can be got wrong.

use std::any::Any;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::time::{Duration, UNIX_EPOCH};

use cap_fs_ext::{DirExt, FollowSymlinks, OpenOptionsFollowExt, OpenOptionsMaybeDirExt, SystemTimeSpec};
use cap_std::fs::{Dir, Metadata, OpenOptions};
use fs_set_times::SetTimes;

use super::{DirEntry, DirHandle, FileHandle, FileType, Filestat, FsResult, Node, OpenOpts, SetTime, errno_from_io};
use crate::errno::Errno;

fn io<T>(r: std::io::Result<T>) -> FsResult<T> {
    r.map_err(|e| errno_from_io(&e))
}

/// An open host directory.
#[derive(Debug)]
pub(crate) struct HostDir {
    dir: Dir,
}

impl HostDir {
    /// Opens the preopen itself: the one use of ambient authority, on the embedder's behalf.
    pub(crate) fn open(path: &Path) -> std::io::Result<Self> {
        Ok(HostDir {
            dir: Dir::open_ambient_dir(path, cap_std::ambient_authority())?,
        })
    }
}

fn nanos(sec: i64, nsec: i64) -> u64 {
    u64::try_from(sec)
        .ok()
        .and_then(|s| s.checked_mul(1_000_000_000))
        .and_then(|s| s.checked_add(u64::try_from(nsec).ok()?))
        .unwrap_or(0)
}

fn filetype(ft: cap_std::fs::FileType) -> FileType {
    if ft.is_dir() {
        FileType::Directory
    } else if ft.is_file() {
        FileType::RegularFile
    } else if ft.is_symlink() {
        FileType::SymbolicLink
    } else if is_char_device(ft) {
        // `/dev/null` and terminals: Go's os tests (TestDevNullFile) check the mode.
        FileType::CharacterDevice
    } else {
        FileType::Unknown
    }
}

#[cfg(unix)]
fn is_char_device(ft: cap_std::fs::FileType) -> bool {
    use cap_std::fs::FileTypeExt;
    ft.is_char_device()
}
#[cfg(not(unix))]
fn is_char_device(_: cap_std::fs::FileType) -> bool {
    false
}

fn filestat(m: &Metadata) -> Filestat {
    let filetype = filetype(m.file_type());
    #[cfg(unix)]
    {
        use cap_std::fs::MetadataExt;
        Filestat {
            dev: m.dev(),
            ino: m.ino(),
            filetype,
            nlink: m.nlink(),
            size: m.len(),
            atim: nanos(m.atime(), m.atime_nsec()),
            mtim: nanos(m.mtime(), m.mtime_nsec()),
            ctim: nanos(m.ctime(), m.ctime_nsec()),
        }
    }
    #[cfg(not(unix))]
    {
        use cap_fs_ext::MetadataExt;
        let t = |r: std::io::Result<cap_std::time::SystemTime>| {
            r.ok()
                .and_then(|t| t.into_std().duration_since(UNIX_EPOCH).ok())
                .map_or(0, |d| d.as_nanos().min(u128::from(u64::MAX)) as u64)
        };
        Filestat {
            dev: m.dev(),
            ino: m.ino(),
            filetype,
            nlink: m.nlink(),
            size: m.len(),
            atim: t(m.accessed()),
            mtim: t(m.modified()),
            ctim: t(m.modified()),
        }
    }
}

fn time_spec(t: SetTime) -> Option<SystemTimeSpec> {
    t.map(|ns| SystemTimeSpec::Absolute(cap_std::time::SystemTime::from_std(UNIX_EPOCH + Duration::from_nanos(ns))))
}

fn std_time_spec(t: SetTime) -> Option<fs_set_times::SystemTimeSpec> {
    t.map(|ns| fs_set_times::SystemTimeSpec::Absolute(UNIX_EPOCH + Duration::from_nanos(ns)))
}

/// The other directory of a rename or link, which must be a host directory too.
fn host(other: &dyn DirHandle) -> FsResult<&HostDir> {
    other.as_any().downcast_ref::<HostDir>().ok_or(Errno::Xdev)
}

impl DirHandle for HostDir {
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn open(&self, path: &str, o: &OpenOpts, _now: u64) -> FsResult<Node> {
        let follow = if o.follow { FollowSymlinks::Yes } else { FollowSymlinks::No };
        if o.directory {
            let dir = if o.follow {
                self.dir.open_dir(path)
            } else {
                self.dir.open_dir_nofollow(path)
            };
            return Ok(Node::Dir(Box::new(HostDir { dir: io(dir)? })));
        }
        let mut opts = OpenOptions::new();
        opts.read(o.read || !o.write)
            .write(o.write)
            .truncate(o.truncate)
            .follow(follow)
            .maybe_dir(!o.write);
        if o.create && o.exclusive {
            opts.create_new(true);
        } else if o.create {
            opts.create(true);
        }
        let file = io(self.dir.open_with(path, &opts))?.into_std();
        // Opened read-only, a directory comes back as a file: it becomes a directory handle
        // (race-free: the descriptor is the one cap-std resolved beneath this directory).
        if io(file.metadata())?.is_dir() {
            return Ok(Node::Dir(Box::new(HostDir {
                dir: Dir::from_std_file(file),
            })));
        }
        Ok(Node::File(Box::new(HostFile { file })))
    }
    fn stat(&self) -> FsResult<Filestat> {
        Ok(filestat(&io(self.dir.dir_metadata())?))
    }
    fn stat_at(&self, path: &str, follow: bool) -> FsResult<Filestat> {
        let m = if follow {
            self.dir.metadata(path)
        } else {
            self.dir.symlink_metadata(path)
        };
        Ok(filestat(&io(m)?))
    }
    fn set_times(&self, atim: SetTime, mtim: SetTime) -> FsResult<()> {
        io(SetTimes::set_times(&self.dir, std_time_spec(atim), std_time_spec(mtim)))
    }
    fn set_times_at(&self, path: &str, follow: bool, atim: SetTime, mtim: SetTime) -> FsResult<()> {
        if follow {
            io(DirExt::set_times(&self.dir, path, time_spec(atim), time_spec(mtim)))
        } else {
            io(self.dir.set_symlink_times(path, time_spec(atim), time_spec(mtim)))
        }
    }
    fn create_dir(&self, path: &str, _now: u64) -> FsResult<()> {
        io(self.dir.create_dir(path))
    }
    fn remove_dir(&self, path: &str, _now: u64) -> FsResult<()> {
        io(self.dir.remove_dir(path))
    }
    fn unlink(&self, path: &str, _now: u64) -> FsResult<()> {
        io(self.dir.remove_file_or_symlink(path))
    }
    fn rename(&self, old: &str, new_dir: &dyn DirHandle, new: &str, _now: u64) -> FsResult<()> {
        io(self.dir.rename(old, &host(new_dir)?.dir, new))
    }
    fn link(&self, old: &str, _follow: bool, new_dir: &dyn DirHandle, new: &str, _now: u64) -> FsResult<()> {
        io(self.dir.hard_link(old, &host(new_dir)?.dir, new))
    }
    fn symlink(&self, target: &str, path: &str, _now: u64) -> FsResult<()> {
        io(DirExt::symlink(&self.dir, target, path))
    }
    fn readlink(&self, path: &str) -> FsResult<Vec<u8>> {
        Ok(io(self.dir.read_link(path))?.into_os_string().into_encoded_bytes())
    }
    fn entries(&self) -> FsResult<Vec<DirEntry>> {
        let mut out = Vec::new();
        for entry in io(self.dir.entries())? {
            let entry = io(entry)?;
            let filetype = filetype(io(entry.file_type())?);
            #[cfg(unix)]
            let ino = std::os::unix::fs::DirEntryExt::ino(&entry);
            #[cfg(not(unix))]
            let ino = 0;
            out.push(DirEntry {
                name: entry.file_name().into_encoded_bytes(),
                ino,
                filetype,
            });
        }
        Ok(out)
    }
    fn sync(&self) -> FsResult<()> {
        io(io(self.dir.try_clone())?.into_std_file().sync_all())
    }
}

/// An open host file; its position is the OS file position.
#[derive(Debug)]
struct HostFile {
    file: File,
}

impl FileHandle for HostFile {
    fn read(&mut self, buf: &mut [u8]) -> FsResult<usize> {
        io(self.file.read(buf))
    }
    fn write(&mut self, buf: &[u8], append: bool, _now: u64) -> FsResult<usize> {
        if append {
            io(self.file.seek(SeekFrom::End(0)))?;
        }
        io(self.file.write(buf))
    }
    fn pread(&mut self, buf: &mut [u8], offset: u64) -> FsResult<usize> {
        #[cfg(unix)]
        return io(std::os::unix::fs::FileExt::read_at(&self.file, buf, offset));
        #[cfg(windows)]
        return io(std::os::windows::fs::FileExt::seek_read(&self.file, buf, offset));
        #[cfg(not(any(unix, windows)))]
        return Err(Errno::NotSup);
    }
    fn pwrite(&mut self, buf: &[u8], offset: u64, _now: u64) -> FsResult<usize> {
        #[cfg(unix)]
        return io(std::os::unix::fs::FileExt::write_at(&self.file, buf, offset));
        #[cfg(windows)]
        return io(std::os::windows::fs::FileExt::seek_write(&self.file, buf, offset));
        #[cfg(not(any(unix, windows)))]
        return Err(Errno::NotSup);
    }
    fn seek(&mut self, pos: SeekFrom) -> FsResult<u64> {
        io(self.file.seek(pos))
    }
    fn stat(&self) -> FsResult<Filestat> {
        Ok(filestat(&io(Metadata::from_file(&self.file))?))
    }
    fn set_size(&mut self, size: u64, _now: u64) -> FsResult<()> {
        io(self.file.set_len(size))
    }
    fn set_times(&self, atim: SetTime, mtim: SetTime) -> FsResult<()> {
        io(SetTimes::set_times(&self.file, std_time_spec(atim), std_time_spec(mtim)))
    }
    fn sync(&self) -> FsResult<()> {
        io(self.file.sync_all())
    }
    fn datasync(&self) -> FsResult<()> {
        io(self.file.sync_data())
    }
}
