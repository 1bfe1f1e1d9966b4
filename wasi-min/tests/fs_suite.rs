//! One suite of file-system cases run against both preopen implementations, an in-memory
//! [`MemFs`] and a host directory (a temporary directory through cap-std), driving the preview1
//! functions with raw arguments on a byte vector as guest memory. Every case asserts exact
//! errnos, so both implementations answer every case the same way.

use wasi_min::clock::ManualClock;
use wasi_min::fs::{MemFs, Preopen};
use wasi_min::preview1::function;
use wasi_min::{Errno, GuestMemory, WasiCtx};

const MEM: usize = 1 << 20;
/// Output cells of a call.
const OUT: u64 = 0;
/// An iovec list.
const IOV: u64 = 256;
/// Data buffers.
const BUF: u64 = 4096;
const BUF_LEN: usize = 64 * 1024;
/// Two path strings.
const STR1: u64 = 80_000;
const STR2: u64 = 90_000;
/// `fd_readdir` output.
const DIRBUF: u64 = 200_000;

const RIGHTS_READ: u64 = 1 << 1 | 1 << 14;
const RIGHTS_RW: u64 = RIGHTS_READ | 1 << 6;
const RIGHTS_W: u64 = 1 << 6;

const CREAT: u32 = 1;
const DIRECTORY: u32 = 2;
const EXCL: u32 = 4;
const TRUNC: u32 = 8;
const APPEND: u32 = 1;
const FOLLOW: u32 = 1;

const ROOT: u32 = 3;

/// A guest: a context with one preopen at fd 3 (`/`), and its memory.
struct G {
    ctx: WasiCtx,
    mem: Vec<u8>,
    /// The host tempdir (host flavour): `root/` is preopened, `outside/` lies next to it.
    host: Option<tempfile::TempDir>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stat {
    ino: u64,
    filetype: u8,
    nlink: u64,
    size: u64,
    atim: u64,
    mtim: u64,
}

/// A decoded `dirent`: name, `d_next`, type.
type Dirent = (String, u64, u8);

const DIR: u8 = 3;
const FILE: u8 = 4;
const SYMLINK: u8 = 7;

impl G {
    fn memory() -> G {
        Self::with(|_| Preopen::memory(MemFs::new(), "/"), None)
    }
    fn host() -> G {
        let tmp = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir(tmp.path().join("root")).unwrap();
        std::fs::create_dir(tmp.path().join("outside")).unwrap();
        std::fs::write(tmp.path().join("outside/secret"), b"secret").unwrap();
        let root = tmp.path().join("root");
        Self::with(move |_| Preopen::host_dir(&root, "/").expect("preopen"), Some(tmp))
    }
    fn with(preopen: impl FnOnce(()) -> Preopen, host: Option<tempfile::TempDir>) -> G {
        let ctx = WasiCtx::builder()
            .clock(ManualClock::new(1_700_000_000_000_000_000))
            .preopen(preopen(()))
            .build();
        G {
            ctx,
            mem: vec![0; MEM],
            host,
        }
    }
    fn call(&mut self, name: &str, args: &[u64]) -> Errno {
        let f = function(name).unwrap_or_else(|| panic!("no {name}"));
        f.call(&mut self.ctx, &mut self.mem, args).expect("no exit")
    }
    fn ok(&mut self, name: &str, args: &[u64]) -> Result<(), Errno> {
        match self.call(name, args) {
            Errno::Success => Ok(()),
            e => Err(e),
        }
    }
    fn put(&mut self, at: u64, s: &[u8]) -> (u64, u64) {
        self.mem[at as usize..at as usize + s.len()].copy_from_slice(s);
        (at, s.len() as u64)
    }
    fn open(&mut self, dir: u32, path: &str, oflags: u32, rights: u64, fdflags: u32, follow: bool) -> Result<u32, Errno> {
        let (p, l) = self.put(STR1, path.as_bytes());
        let look = if follow { FOLLOW } else { 0 };
        self.ok(
            "path_open",
            &[dir.into(), look.into(), p, l, oflags.into(), rights, 0, fdflags.into(), OUT],
        )?;
        Ok(self.mem.read_u32(OUT).unwrap())
    }
    fn create(&mut self, path: &str, data: &[u8]) -> u32 {
        let fd = self.open(ROOT, path, CREAT | TRUNC, RIGHTS_RW, 0, true).expect("create");
        assert_eq!(self.write(fd, data), Ok(data.len() as u32));
        fd
    }
    fn touch(&mut self, path: &str, data: &[u8]) {
        let fd = self.create(path, data);
        self.close(fd).expect("close");
    }
    fn iov(&mut self, len: usize) {
        self.mem.write_u32(IOV, BUF as u32).unwrap();
        self.mem.write_u32(IOV + 4, len as u32).unwrap();
    }
    fn write(&mut self, fd: u32, data: &[u8]) -> Result<u32, Errno> {
        self.put(BUF, data);
        self.iov(data.len());
        self.ok("fd_write", &[fd.into(), IOV, 1, OUT])?;
        Ok(self.mem.read_u32(OUT).unwrap())
    }
    fn pwrite(&mut self, fd: u32, data: &[u8], at: u64) -> Result<u32, Errno> {
        self.put(BUF, data);
        self.iov(data.len());
        self.ok("fd_pwrite", &[fd.into(), IOV, 1, at, OUT])?;
        Ok(self.mem.read_u32(OUT).unwrap())
    }
    fn read(&mut self, fd: u32, max: usize) -> Result<Vec<u8>, Errno> {
        self.iov(max);
        self.ok("fd_read", &[fd.into(), IOV, 1, OUT])?;
        let n = self.mem.read_u32(OUT).unwrap() as usize;
        Ok(self.mem[BUF as usize..BUF as usize + n].to_vec())
    }
    fn pread(&mut self, fd: u32, max: usize, at: u64) -> Result<Vec<u8>, Errno> {
        self.iov(max);
        self.ok("fd_pread", &[fd.into(), IOV, 1, at, OUT])?;
        let n = self.mem.read_u32(OUT).unwrap() as usize;
        Ok(self.mem[BUF as usize..BUF as usize + n].to_vec())
    }
    fn read_all(&mut self, path: &str) -> Result<Vec<u8>, Errno> {
        let fd = self.open(ROOT, path, 0, RIGHTS_READ, 0, true)?;
        let data = self.read(fd, BUF_LEN);
        self.close(fd).unwrap();
        data
    }
    fn seek(&mut self, fd: u32, off: i64, whence: u32) -> Result<u64, Errno> {
        self.ok("fd_seek", &[fd.into(), off as u64, whence.into(), OUT])?;
        Ok(self.mem.read_u64(OUT).unwrap())
    }
    fn close(&mut self, fd: u32) -> Result<(), Errno> {
        self.ok("fd_close", &[fd.into()])
    }
    fn path1(&mut self, name: &str, fd: u32, path: &str) -> Result<(), Errno> {
        let (p, l) = self.put(STR1, path.as_bytes());
        self.ok(name, &[fd.into(), p, l])
    }
    fn mkdir(&mut self, path: &str) -> Result<(), Errno> {
        self.path1("path_create_directory", ROOT, path)
    }
    fn rmdir(&mut self, path: &str) -> Result<(), Errno> {
        self.path1("path_remove_directory", ROOT, path)
    }
    fn unlink(&mut self, path: &str) -> Result<(), Errno> {
        self.path1("path_unlink_file", ROOT, path)
    }
    fn rename(&mut self, from: &str, to: &str) -> Result<(), Errno> {
        let (p1, l1) = self.put(STR1, from.as_bytes());
        let (p2, l2) = self.put(STR2, to.as_bytes());
        self.ok("path_rename", &[ROOT.into(), p1, l1, ROOT.into(), p2, l2])
    }
    fn link(&mut self, from: &str, to: &str) -> Result<(), Errno> {
        let (p1, l1) = self.put(STR1, from.as_bytes());
        let (p2, l2) = self.put(STR2, to.as_bytes());
        self.ok("path_link", &[ROOT.into(), 0, p1, l1, ROOT.into(), p2, l2])
    }
    fn symlink(&mut self, target: &str, path: &str) -> Result<(), Errno> {
        let (p1, l1) = self.put(STR1, target.as_bytes());
        let (p2, l2) = self.put(STR2, path.as_bytes());
        self.ok("path_symlink", &[p1, l1, ROOT.into(), p2, l2])
    }
    fn readlink(&mut self, path: &str, buf_len: u64) -> Result<Vec<u8>, Errno> {
        let (p, l) = self.put(STR1, path.as_bytes());
        self.ok("path_readlink", &[ROOT.into(), p, l, BUF, buf_len, OUT])?;
        let n = self.mem.read_u32(OUT).unwrap() as usize;
        Ok(self.mem[BUF as usize..BUF as usize + n].to_vec())
    }
    fn parse_stat(&self) -> Stat {
        let m = &self.mem;
        Stat {
            ino: m.read_u64(OUT + 8).unwrap(),
            filetype: m[OUT as usize + 16],
            nlink: m.read_u64(OUT + 24).unwrap(),
            size: m.read_u64(OUT + 32).unwrap(),
            atim: m.read_u64(OUT + 40).unwrap(),
            mtim: m.read_u64(OUT + 48).unwrap(),
        }
    }
    fn stat(&mut self, path: &str, follow: bool) -> Result<Stat, Errno> {
        let (p, l) = self.put(STR1, path.as_bytes());
        let look = if follow { FOLLOW } else { 0 };
        self.ok("path_filestat_get", &[ROOT.into(), look.into(), p, l, OUT])?;
        Ok(self.parse_stat())
    }
    fn fstat(&mut self, fd: u32) -> Result<Stat, Errno> {
        self.ok("fd_filestat_get", &[fd.into(), OUT])?;
        Ok(self.parse_stat())
    }
    /// One `fd_readdir` call: the entries decoded (the last may be cut), and bufused.
    fn readdir(&mut self, fd: u32, buf_len: u64, cookie: u64) -> Result<(Vec<Dirent>, u64), Errno> {
        self.ok("fd_readdir", &[fd.into(), DIRBUF, buf_len, cookie, OUT])?;
        let used = u64::from(self.mem.read_u32(OUT).unwrap());
        let mut out = Vec::new();
        let mut at = 0u64;
        while at + 24 <= used {
            let base = DIRBUF + at;
            let next = self.mem.read_u64(base).unwrap();
            let namlen = u64::from(self.mem.read_u32(base + 16).unwrap());
            let ty = self.mem[base as usize + 20];
            if at + 24 + namlen > used {
                break;
            }
            let name = &self.mem[(base + 24) as usize..(base + 24 + namlen) as usize];
            out.push((String::from_utf8_lossy(name).into_owned(), next, ty));
            at += 24 + namlen;
        }
        Ok((out, used))
    }
    /// Every entry name of a directory, paging with small buffers.
    fn list(&mut self, fd: u32, buf_len: u64) -> Vec<String> {
        let mut names = Vec::new();
        let mut cookie = 0;
        loop {
            let (entries, used) = self.readdir(fd, buf_len, cookie).expect("readdir");
            for (name, next, _) in &entries {
                names.push(name.clone());
                cookie = *next;
            }
            if used < buf_len {
                break;
            }
            assert!(!entries.is_empty(), "buffer too small for one entry");
        }
        names.sort();
        names
    }
}

type Case = fn(&mut G);

fn create_excl_trunc_append(g: &mut G) {
    let fd = g.create("a.txt", b"hello world");
    g.close(fd).unwrap();
    assert_eq!(g.open(ROOT, "a.txt", CREAT | EXCL, RIGHTS_RW, 0, true), Err(Errno::Exist));
    assert_eq!(g.open(ROOT, "missing", 0, RIGHTS_READ, 0, true), Err(Errno::NoEnt));
    assert_eq!(g.open(ROOT, "a.txt/x", 0, RIGHTS_READ, 0, true), Err(Errno::NotDir));
    assert_eq!(g.open(ROOT, "a.txt", DIRECTORY, RIGHTS_READ, 0, true), Err(Errno::NotDir));
    assert_eq!(
        g.open(ROOT, "new", CREAT, RIGHTS_READ, 0, true),
        Err(Errno::Inval),
        "create needs write"
    );
    let fd = g.open(ROOT, "a.txt", 0, RIGHTS_RW, APPEND, true).unwrap();
    assert_eq!(g.write(fd, b"!"), Ok(1));
    g.close(fd).unwrap();
    assert_eq!(g.read_all("a.txt").unwrap(), b"hello world!");
    let fd = g.open(ROOT, "a.txt", TRUNC, RIGHTS_W, 0, true).unwrap();
    assert_eq!(g.read(fd, 10), Err(Errno::Badf), "write-only");
    g.close(fd).unwrap();
    assert_eq!(g.read_all("a.txt").unwrap(), b"");
    let fd = g.open(ROOT, "a.txt", 0, RIGHTS_READ, 0, true).unwrap();
    assert_eq!(g.write(fd, b"x"), Err(Errno::Badf), "read-only");
    // fdstat: a regular file, rights as opened, the flags set.
    assert_eq!(g.ok("fd_fdstat_get", &[fd.into(), OUT]), Ok(()));
    assert_eq!(g.mem[OUT as usize], FILE);
    assert_ne!(g.mem.read_u64(OUT + 8).unwrap() & (1 << 1), 0);
    assert_eq!(g.mem.read_u64(OUT + 8).unwrap() & (1 << 6), 0);
    assert_eq!(g.ok("fd_fdstat_set_flags", &[fd.into(), 4]), Ok(()));
    assert_eq!(g.ok("fd_fdstat_get", &[fd.into(), OUT]), Ok(()));
    assert_eq!(g.mem.read_u16(OUT + 2).unwrap(), 4);
    assert_eq!(g.ok("fd_fdstat_set_flags", &[fd.into(), 64]), Err(Errno::Inval));
}

fn read_write_seek(g: &mut G) {
    let fd = g.create("f", b"0123456789");
    assert_eq!(g.seek(fd, 0, 1), Ok(10));
    assert_eq!(g.seek(fd, 2, 0), Ok(2));
    assert_eq!(g.read(fd, 3).unwrap(), b"234");
    assert_eq!(g.ok("fd_tell", &[fd.into(), OUT]), Ok(()));
    assert_eq!(g.mem.read_u64(OUT), Ok(5));
    assert_eq!(g.seek(fd, -1, 2), Ok(9));
    assert_eq!(g.read(fd, 10).unwrap(), b"9");
    assert_eq!(g.read(fd, 10).unwrap(), b"", "end of file");
    assert_eq!(g.seek(fd, -100, 1), Err(Errno::Inval));
    assert_eq!(g.seek(fd, 0, 7), Err(Errno::Inval));
    assert_eq!(g.pread(fd, 4, 3).unwrap(), b"3456");
    assert_eq!(g.pread(fd, 4, 100).unwrap(), b"");
    assert_eq!(g.pwrite(fd, b"ab", 12), Ok(2));
    assert_eq!(g.seek(fd, 0, 1), Ok(10), "pread/pwrite leave the position");
    assert_eq!(g.pread(fd, 20, 0).unwrap(), b"0123456789\0\0ab");
    // A write past the end fills the gap with zeros.
    assert_eq!(g.seek(fd, 16, 0), Ok(16));
    assert_eq!(g.write(fd, b"z"), Ok(1));
    assert_eq!(g.fstat(fd).unwrap().size, 17);
    // Two iovecs in one read.
    g.mem.write_u32(IOV, BUF as u32).unwrap();
    g.mem.write_u32(IOV + 4, 3).unwrap();
    g.mem.write_u32(IOV + 8, BUF as u32 + 100).unwrap();
    g.mem.write_u32(IOV + 12, 3).unwrap();
    assert_eq!(g.seek(fd, 0, 0), Ok(0));
    assert_eq!(g.ok("fd_read", &[fd.into(), IOV, 2, OUT]), Ok(()));
    assert_eq!(g.mem.read_u32(OUT), Ok(6));
    assert_eq!(&g.mem[BUF as usize + 100..BUF as usize + 103], b"345");
    // Stdio cannot seek; directories cannot be read.
    assert_eq!(g.seek(1, 0, 0), Err(Errno::Spipe));
    assert_eq!(g.read(ROOT, 4), Err(Errno::IsDir));
    assert_eq!(g.pread(1, 4, 0), Err(Errno::Spipe));
    // A bad buffer faults before anything is read.
    g.mem.write_u32(IOV, (MEM - 2) as u32).unwrap();
    g.mem.write_u32(IOV + 4, 4).unwrap();
    assert_eq!(g.seek(fd, 0, 0), Ok(0));
    assert_eq!(g.ok("fd_read", &[fd.into(), IOV, 1, OUT]), Err(Errno::Fault));
    assert_eq!(g.seek(fd, 0, 1), Ok(0), "EFAULT consumed nothing");
    // allocate grows, set_size shrinks and grows.
    assert_eq!(g.ok("fd_allocate", &[fd.into(), 0, 100]), Ok(()));
    assert_eq!(g.fstat(fd).unwrap().size, 100);
    assert_eq!(g.ok("fd_filestat_set_size", &[fd.into(), 3]), Ok(()));
    assert_eq!(g.pread(fd, 10, 0).unwrap(), b"012");
    assert_eq!(g.ok("fd_sync", &[fd.into()]), Ok(()));
    assert_eq!(g.ok("fd_datasync", &[fd.into()]), Ok(()));
    assert_eq!(g.ok("fd_advise", &[fd.into(), 0, 0, 1]), Ok(()));
}

fn readdir_cookies(g: &mut G) {
    g.mkdir("d").unwrap();
    for i in 0..1200 {
        let fd = g.open(ROOT, &format!("d/file-{i:04}"), CREAT, RIGHTS_RW, 0, true).unwrap();
        g.close(fd).unwrap();
    }
    g.mkdir("d/sub").unwrap();
    let d = g.open(ROOT, "d", DIRECTORY, RIGHTS_READ, 0, true).unwrap();
    let names = g.list(d, 512);
    assert_eq!(names.len(), 1200 + 3);
    assert_eq!(names[0], ".");
    assert_eq!(names[1], "..");
    assert!(names.contains(&"sub".to_string()));
    // The same cookie gives the same entries.
    let (first, _) = g.readdir(d, 300, 0).unwrap();
    let cookie = first[2].1;
    let (a, _) = g.readdir(d, 300, cookie).unwrap();
    let (b, _) = g.readdir(d, 300, cookie).unwrap();
    assert_eq!(a, b);
    // Entries added mid-listing: the listing goes on and ends, without repeats.
    let mut seen = Vec::new();
    let mut cookie = 0;
    let mut added = 0;
    loop {
        let (entries, used) = g.readdir(d, 256, cookie).unwrap();
        for (name, next, _) in &entries {
            seen.push(name.clone());
            cookie = *next;
        }
        if added < 50 {
            let fd = g.open(ROOT, &format!("d/late-{added}"), CREAT, RIGHTS_RW, 0, true).unwrap();
            g.close(fd).unwrap();
            added += 1;
        }
        if used < 256 {
            break;
        }
    }
    let n = seen.len();
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), n, "no entry listed twice");
    assert!(n >= 1203);
    // A tiny buffer still makes progress (a cut entry), and readdir on a file is ENOTDIR.
    let (_, used) = g.readdir(d, 10, 0).unwrap();
    assert_eq!(used, 10);
    let f = g.open(ROOT, "d/file-0001", 0, RIGHTS_READ, 0, true).unwrap();
    assert_eq!(g.readdir(f, 100, 0).map(|r| r.1), Err(Errno::NotDir));
    // The type byte: directory for `sub`, regular file for the rest.
    let (entries, _) = g.readdir(d, 1 << 19, 0).unwrap();
    for (name, _, ty) in entries {
        let want = if name == "sub" || name == "." || name == ".." { DIR } else { FILE };
        assert_eq!(ty, want, "{name}");
    }
}

fn rename_link_unlink_rmdir(g: &mut G) {
    g.mkdir("a").unwrap();
    g.mkdir("a/b").unwrap();
    g.touch("a/f", b"data");
    assert_eq!(g.mkdir("a"), Err(Errno::Exist));
    assert_eq!(g.rmdir("a"), Err(Errno::NotEmpty));
    assert_eq!(g.rmdir("a/f"), Err(Errno::NotDir));
    assert_eq!(g.unlink("a/b"), Err(Errno::IsDir));
    assert_eq!(g.unlink("nope"), Err(Errno::NoEnt));
    assert_eq!(g.rename("a", "a/b/c"), Err(Errno::Inval), "into itself");
    assert_eq!(g.rename("a/f", "a/b"), Err(Errno::IsDir));
    assert_eq!(g.rename("a/b", "a/f"), Err(Errno::NotDir));
    assert_eq!(g.rename("missing", "x"), Err(Errno::NoEnt));
    g.rename("a/f", "g").unwrap();
    assert_eq!(g.read_all("g").unwrap(), b"data");
    assert_eq!(g.stat("a/f", false), Err(Errno::NoEnt));
    // Rename over an existing file replaces it.
    g.touch("h", b"other");
    g.rename("g", "h").unwrap();
    assert_eq!(g.read_all("h").unwrap(), b"data");
    // Directories move with their contents; over an empty directory is allowed.
    g.touch("a/b/inner", b"in");
    g.mkdir("empty").unwrap();
    g.rename("a/b", "empty").unwrap();
    assert_eq!(g.read_all("empty/inner").unwrap(), b"in");
    g.mkdir("full").unwrap();
    g.touch("full/x", b"");
    assert_eq!(g.rename("empty", "full"), Err(Errno::NotEmpty));
    // Hard links share the inode.
    g.link("h", "h2").unwrap();
    let (s1, s2) = (g.stat("h", false).unwrap(), g.stat("h2", false).unwrap());
    assert_eq!(s1.ino, s2.ino);
    assert_eq!(s1.nlink, 2);
    assert_eq!(g.link("h", "h2"), Err(Errno::Exist));
    assert_eq!(g.link("a", "a2"), Err(Errno::Perm), "no hard links to directories");
    g.unlink("h").unwrap();
    assert_eq!(g.read_all("h2").unwrap(), b"data");
    assert_eq!(g.stat("h2", false).unwrap().nlink, 1);
    // An unlinked file stays readable through an open descriptor.
    let fd = g.open(ROOT, "h2", 0, RIGHTS_READ, 0, true).unwrap();
    g.unlink("h2").unwrap();
    assert_eq!(g.read(fd, 10).unwrap(), b"data");
    g.unlink("full/x").unwrap();
    g.rmdir("full").unwrap();
    assert_eq!(g.stat("full", false), Err(Errno::NoEnt));
}

fn symlinks_and_readlink(g: &mut G) {
    g.mkdir("dir").unwrap();
    g.touch("dir/file", b"via link");
    g.symlink("dir/file", "l").unwrap();
    g.symlink("dir", "ldir").unwrap();
    assert_eq!(g.symlink("x", "l"), Err(Errno::Exist));
    assert_eq!(g.readlink("l", 100).unwrap(), b"dir/file");
    assert_eq!(g.readlink("l", 3).unwrap(), b"dir", "cut to the buffer");
    assert_eq!(g.readlink("dir", 100), Err(Errno::Inval));
    assert_eq!(g.read_all("l").unwrap(), b"via link");
    assert_eq!(g.read_all("ldir/file").unwrap(), b"via link");
    assert_eq!(g.stat("l", false).unwrap().filetype, SYMLINK);
    assert_eq!(g.stat("l", true).unwrap().filetype, FILE);
    assert_eq!(g.stat("ldir", true).unwrap().filetype, DIR);
    assert_eq!(g.open(ROOT, "l", 0, RIGHTS_READ, 0, false), Err(Errno::Loop), "O_NOFOLLOW");
    // Dangling links: stat without following works, following is ENOENT.
    g.symlink("nowhere", "dangling").unwrap();
    assert_eq!(g.stat("dangling", true), Err(Errno::NoEnt));
    assert_eq!(g.stat("dangling", false).unwrap().filetype, SYMLINK);
    // Unlinking a symlink removes the link, not the target.
    g.unlink("l").unwrap();
    assert_eq!(g.read_all("dir/file").unwrap(), b"via link");
    // A relative link with `..` that stays inside is fine.
    g.symlink("../dir/file", "dir/up").unwrap();
    assert_eq!(g.read_all("dir/up").unwrap(), b"via link");
}

fn stat_and_times(g: &mut G) {
    let fd = g.create("t", b"12345");
    let s = g.fstat(fd).unwrap();
    assert_eq!((s.filetype, s.size, s.nlink), (FILE, 5, 1));
    assert_eq!(g.stat("t", true).unwrap().ino, s.ino);
    assert_eq!(g.fstat(ROOT).unwrap().filetype, DIR);
    assert_eq!(g.stat(".", true).unwrap().filetype, DIR);
    // Explicit times, to the nanosecond.
    let (p, l) = g.put(STR1, b"t");
    let (a, m) = (1_600_000_000_123_456_789u64, 1_500_000_000_987_654_321u64);
    assert_eq!(
        g.ok("path_filestat_set_times", &[ROOT.into(), FOLLOW.into(), p, l, a, m, 1 | 4]),
        Ok(())
    );
    let s = g.stat("t", true).unwrap();
    assert_eq!((s.atim, s.mtim), (a, m));
    // Only mtime; atime stays.
    assert_eq!(g.ok("fd_filestat_set_times", &[fd.into(), 0, 42_000_000_000, 4]), Ok(()));
    let s = g.fstat(fd).unwrap();
    assert_eq!((s.atim, s.mtim), (a, 42_000_000_000));
    // Contradictory flags.
    assert_eq!(g.ok("fd_filestat_set_times", &[fd.into(), 0, 0, 1 | 2]), Err(Errno::Inval));
    assert_eq!(
        g.ok("path_filestat_set_times", &[ROOT.into(), 0, p, l, 0, 0, 4 | 8]),
        Err(Errno::Inval)
    );
    assert_eq!(g.ok("fd_filestat_set_size", &[fd.into(), 2]), Ok(()));
    assert_eq!(g.stat("t", true).unwrap().size, 2);
    assert_eq!(g.stat("nope", true), Err(Errno::NoEnt));
    assert_eq!(g.stat("t/x", true), Err(Errno::NotDir));
}

fn fd_table(g: &mut G) {
    // Prestat: fd 3 is the preopen "/", fd 4 is nothing yet.
    assert_eq!(g.ok("fd_prestat_get", &[3, OUT]), Ok(()));
    assert_eq!(g.mem.read_u32(OUT + 4), Ok(1));
    assert_eq!(g.ok("fd_prestat_dir_name", &[3, BUF, 1]), Ok(()));
    assert_eq!(g.mem[BUF as usize], b'/');
    assert_eq!(g.ok("fd_prestat_dir_name", &[3, BUF, 0]), Err(Errno::NameTooLong));
    assert_eq!(g.ok("fd_prestat_get", &[4, OUT]), Err(Errno::Badf));
    let a = g.create("a", b"A");
    let b = g.create("b", b"B");
    assert_eq!((a, b), (4, 5), "the lowest free numbers");
    assert_eq!(g.ok("fd_prestat_get", &[4, OUT]), Err(Errno::Badf), "not a preopen");
    g.close(a).unwrap();
    assert_eq!(g.close(a), Err(Errno::Badf));
    assert_eq!(g.read(a, 1), Err(Errno::Badf));
    assert_eq!(g.write(a, b"x"), Err(Errno::Badf));
    assert_eq!(g.fstat(a), Err(Errno::Badf));
    let c = g.create("c", b"C");
    assert_eq!(c, 4, "a closed number is reused");
    // Renumber: c takes b's number, b is closed.
    assert_eq!(g.ok("fd_renumber", &[c.into(), b.into()]), Ok(()));
    assert_eq!(g.pread(b, 1, 0).unwrap(), b"C");
    assert_eq!(g.read(c, 1), Err(Errno::Badf));
    assert_eq!(g.ok("fd_renumber", &[c.into(), b.into()]), Err(Errno::Badf));
    assert_eq!(g.ok("fd_renumber", &[b.into(), 99]), Err(Errno::Badf));
    // Path calls on a file or stdio descriptor are ENOTDIR.
    assert_eq!(g.path1("path_create_directory", b, "x"), Err(Errno::NotDir));
    assert_eq!(g.path1("path_create_directory", 1, "x"), Err(Errno::NotDir));
    // A directory opened beneath the preopen is a root of its own.
    g.mkdir("sub").unwrap();
    let sub = g.open(ROOT, "sub", DIRECTORY, RIGHTS_READ, 0, true).unwrap();
    assert_eq!(g.ok("fd_fdstat_get", &[sub.into(), OUT]), Ok(()));
    assert_eq!(g.mem[OUT as usize], DIR);
    assert_eq!(g.path1("path_create_directory", sub, "inner"), Ok(()));
    assert_eq!(g.stat("sub/inner", false).unwrap().filetype, DIR);
    assert_eq!(g.open(sub, "../a", 0, RIGHTS_READ, 0, true), Err(Errno::NotCapable));
    // Opening a directory without O_DIRECTORY gives a directory descriptor too.
    let sub2 = g.open(ROOT, "sub", 0, RIGHTS_READ, 0, true).unwrap();
    assert_eq!(g.fstat(sub2).unwrap().filetype, DIR);
    assert_eq!(g.open(ROOT, "sub", 0, RIGHTS_RW, 0, true), Err(Errno::IsDir));
    // The preopen itself can be closed.
    assert_eq!(g.close(ROOT), Ok(()));
    assert_eq!(g.mkdir("x"), Err(Errno::Badf));
}

fn escapes(g: &mut G) {
    g.mkdir("in").unwrap();
    for path in ["..", "../outside/secret", "in/../../outside/secret", "/etc/passwd", "/", "in/../.."] {
        assert_eq!(g.open(ROOT, path, 0, RIGHTS_READ, 0, true), Err(Errno::NotCapable), "{path}");
        assert_eq!(g.stat(path, true), Err(Errno::NotCapable), "{path}");
    }
    assert_eq!(g.mkdir("../x"), Err(Errno::NotCapable));
    assert_eq!(g.unlink("../outside/secret"), Err(Errno::NotCapable));
    assert_eq!(g.rename("in", "../moved"), Err(Errno::NotCapable));
    // Symlinks: absolute targets cannot be created; relative ones leading out can, but are
    // never followed out.
    assert_eq!(g.symlink("/etc/passwd", "abs"), Err(Errno::NotCapable));
    g.symlink("../outside/secret", "out").unwrap();
    g.symlink("../../outside", "in/out2").unwrap();
    assert_eq!(g.open(ROOT, "out", 0, RIGHTS_READ, 0, true), Err(Errno::NotCapable));
    assert_eq!(g.open(ROOT, "in/out2/secret", 0, RIGHTS_READ, 0, true), Err(Errno::NotCapable));
    assert_eq!(g.stat("out", true), Err(Errno::NotCapable));
    assert_eq!(g.stat("out", false).unwrap().filetype, SYMLINK, "the link itself is inside");
    assert_eq!(g.open(ROOT, "out", CREAT | TRUNC, RIGHTS_RW, 0, true), Err(Errno::NotCapable));
    // Loops.
    g.symlink("loop", "loop").unwrap();
    g.symlink("p2", "p1").unwrap();
    g.symlink("p1", "p2").unwrap();
    assert_eq!(g.open(ROOT, "loop", 0, RIGHTS_READ, 0, true), Err(Errno::Loop));
    assert_eq!(g.stat("p1", true), Err(Errno::Loop));
    assert_eq!(g.read_all("p1/x"), Err(Errno::Loop));
    // A directory swapped for an outward symlink while a descriptor to it is open: the
    // descriptor keeps the original directory; paths through the new link stay refused.
    g.mkdir("swap").unwrap();
    g.touch("swap/f", b"kept");
    let fd = g.open(ROOT, "swap", DIRECTORY, RIGHTS_READ, 0, true).unwrap();
    g.rename("swap", "swapped").unwrap();
    g.symlink("../outside", "swap").unwrap();
    let (p, l) = g.put(STR1, b"f");
    assert_eq!(g.ok("path_filestat_get", &[fd.into(), 0, p, l, OUT]), Ok(()));
    assert_eq!(g.read_all("swap/secret"), Err(Errno::NotCapable));
    #[cfg(unix)]
    if let Some(tmp) = g.host.as_ref().map(|t| t.path().to_path_buf()) {
        // Symlinks planted by the host, absolute and relative.
        std::os::unix::fs::symlink("/etc/passwd", tmp.join("root/host-abs")).unwrap();
        std::os::unix::fs::symlink(tmp.join("outside"), tmp.join("root/host-abs-dir")).unwrap();
        assert_eq!(g.read_all("host-abs"), Err(Errno::NotCapable));
        assert_eq!(g.read_all("host-abs-dir/secret"), Err(Errno::NotCapable));
        assert_eq!(g.readlink("host-abs", 100), Err(Errno::NotCapable));
        assert_eq!(std::fs::read(tmp.join("outside/secret")).unwrap(), b"secret");
    }
}

const CASES: &[(&str, Case)] = &[
    ("create_excl_trunc_append", create_excl_trunc_append),
    ("read_write_seek", read_write_seek),
    ("readdir_cookies", readdir_cookies),
    ("rename_link_unlink_rmdir", rename_link_unlink_rmdir),
    ("symlinks_and_readlink", symlinks_and_readlink),
    ("stat_and_times", stat_and_times),
    ("fd_table", fd_table),
    ("escapes", escapes),
];

fn run_all(make: fn() -> G) {
    for (name, case) in CASES {
        eprintln!("case {name}");
        let mut g = make();
        case(&mut g);
    }
}

#[test]
fn memfs_suite() {
    run_all(G::memory);
}

#[test]
#[cfg(unix)]
fn host_dir_suite() {
    run_all(G::host);
}

/// Read-only preopens refuse every change with EROFS and still read.
fn read_only_checks(g: &mut G) {
    assert_eq!(g.read_all("seed").unwrap(), b"seed data");
    assert_eq!(g.open(ROOT, "seed", 0, RIGHTS_RW, 0, true), Err(Errno::Rofs));
    assert_eq!(g.open(ROOT, "new", CREAT, RIGHTS_RW, 0, true), Err(Errno::Rofs));
    assert_eq!(g.mkdir("d"), Err(Errno::Rofs));
    assert_eq!(g.unlink("seed"), Err(Errno::Rofs));
    assert_eq!(g.rmdir("dir"), Err(Errno::Rofs));
    assert_eq!(g.rename("seed", "moved"), Err(Errno::Rofs));
    assert_eq!(g.symlink("seed", "l"), Err(Errno::Rofs));
    assert_eq!(g.link("seed", "l"), Err(Errno::Rofs));
    let fd = g.open(ROOT, "seed", 0, RIGHTS_READ, 0, true).unwrap();
    assert_eq!(g.ok("fd_filestat_set_times", &[fd.into(), 0, 0, 2]), Err(Errno::Rofs));
    assert_eq!(g.ok("fd_filestat_set_size", &[fd.into(), 0]), Err(Errno::Rofs));
    let sub = g.open(ROOT, "dir", DIRECTORY, RIGHTS_READ, 0, true).unwrap();
    assert_eq!(g.path1("path_create_directory", sub, "x"), Err(Errno::Rofs), "inherited");
    assert_eq!(g.read_all("seed").unwrap(), b"seed data");
}

#[test]
fn memfs_read_only() {
    let fs = MemFs::new();
    fs.write_file("seed", b"seed data").unwrap();
    fs.create_dir_all("dir").unwrap();
    let mut g = G::with(|_| Preopen::memory(fs.clone(), "/").read_only(), None);
    read_only_checks(&mut g);
}

#[test]
#[cfg(unix)]
fn host_read_only() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("seed"), b"seed data").unwrap();
    std::fs::create_dir(tmp.path().join("dir")).unwrap();
    let root = tmp.path().to_path_buf();
    let mut g = G::with(|_| Preopen::host_dir(&root, "/").unwrap().read_only(), None);
    read_only_checks(&mut g);
}

#[test]
fn memfs_is_shared_with_the_embedder() {
    let fs = MemFs::new();
    fs.create_dir_all("/etc/app").unwrap();
    fs.write_file("/etc/app/config", b"k=v").unwrap();
    assert!(fs.write_file("/missing/x", b"").is_err(), "parents are not created");
    let mut g = G::with(|_| Preopen::memory(fs.clone(), "/"), None);
    assert_eq!(g.read_all("etc/app/config").unwrap(), b"k=v");
    g.touch("etc/app/out", b"from the guest");
    assert_eq!(fs.read_file("etc/app/out").unwrap(), b"from the guest");
    // Times come from the guest's clock.
    assert_eq!(g.stat("etc/app/out", true).unwrap().mtim, 1_700_000_000_000_000_000);
    assert_eq!(fs.read_file("nope").unwrap_err().kind(), std::io::ErrorKind::NotFound);
}

#[test]
fn memfs_limit_is_enospc() {
    let fs = MemFs::with_limit(1000);
    let mut g = G::with(|_| Preopen::memory(fs, "/"), None);
    let fd = g.open(ROOT, "big", CREAT, RIGHTS_RW, 0, true).unwrap();
    assert_eq!(g.pwrite(fd, b"x", 999), Ok(1));
    assert_eq!(g.pwrite(fd, b"x", 1000), Err(Errno::NoSpc));
    assert_eq!(g.ok("fd_filestat_set_size", &[fd.into(), 1 << 40]), Err(Errno::NoSpc));
    assert_eq!(g.pwrite(fd, b"x", u64::MAX - 1), Err(Errno::Fbig));
}

#[test]
fn preopens_take_fds_in_order() {
    let ctx = WasiCtx::builder()
        .preopen(Preopen::memory(MemFs::new(), "/"))
        .preopen(Preopen::memory(MemFs::new(), "/data"))
        .build();
    let mut g = G {
        ctx,
        mem: vec![0; MEM],
        host: None,
    };
    assert_eq!(g.ok("fd_prestat_get", &[4, OUT]), Ok(()));
    assert_eq!(g.mem.read_u32(OUT + 4), Ok(5));
    assert_eq!(g.ok("fd_prestat_dir_name", &[4, BUF, 5]), Ok(()));
    assert_eq!(&g.mem[BUF as usize..BUF as usize + 5], b"/data");
    assert_eq!(g.ok("fd_prestat_get", &[5, OUT]), Err(Errno::Badf));
    // Two trees are two devices: rename and link between them are EXDEV.
    g.touch("x", b"");
    let (p1, l1) = g.put(STR1, b"x");
    let (p2, l2) = g.put(STR2, b"y");
    assert_eq!(g.ok("path_rename", &[3, p1, l1, 4, p2, l2]), Err(Errno::Xdev));
    assert_eq!(g.ok("path_link", &[3, 0, p1, l1, 4, p2, l2]), Err(Errno::Xdev));
}

/// A character device under a host preopen is one for the guest (Go's os.TestDevNullFile checks
/// `/dev/null`'s mode), not a regular or unknown file.
#[cfg(unix)]
#[test]
fn host_char_device_is_a_character_device() {
    let mut g = G::with(|_| Preopen::host_dir("/dev", "/dev").expect("/dev").read_only(), None);
    assert_eq!(g.stat("null", true).map(|s| s.filetype), Ok(2));
}
