//! [`MemFs`]: an in-memory file tree with the same no-escape path resolution as a host preopen.
//!
//! One mutex guards the whole tree (inode table): guest calls are short, and the embedder's
//! handle ([`MemFs::write_file`] and friends) may run on another thread. Inodes stay alive while
//! a directory entry or an open descriptor refers to them, like POSIX: a file unlinked while
//! open keeps its data until closed.

use std::any::Any;
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::io::SeekFrom;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use super::{DirEntry, DirHandle, FileHandle, FileType, Filestat, FsResult, MAX_OFFSET, MAX_SYMLINKS, Node, OpenOpts, SetTime};
use crate::errno::Errno;

/// Device numbers tell trees apart in `filestat.dev` (and make `os.SameFile` work).
static NEXT_DEV: AtomicU64 = AtomicU64::new(0x6d65_6d00);

const ROOT: u64 = 1;

/// Default cap (1 GiB) on the bytes all files of one [`MemFs`] may hold together (see [`MemFs::with_limit`]).
pub const DEFAULT_LIMIT: u64 = 1 << 30;

/// An in-memory file tree to preopen ([`Preopen::memory`](super::Preopen::memory)).
///
/// A cheap handle: clones share the tree, so the embedder can fill it before the guest runs and
/// read what the guest wrote afterwards. Paths given to its methods are relative to the root
/// (a leading `/` is ignored) and resolve like the guest's (symlinks followed inside the tree).
/// Works everywhere, including wasm32-unknown-unknown.
#[derive(Clone)]
pub struct MemFs {
    tree: Arc<Mutex<Tree>>,
    /// The directory this handle sees as its root ([`MemFs::subtree`]).
    root: u64,
}

impl Default for MemFs {
    fn default() -> Self {
        MemFs {
            tree: Arc::default(),
            root: ROOT,
        }
    }
}

impl fmt::Debug for MemFs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let t = self.lock();
        f.debug_struct("MemFs")
            .field("inodes", &t.nodes.len())
            .field("bytes", &t.used)
            .finish()
    }
}

struct Tree {
    dev: u64,
    nodes: HashMap<u64, Inode>,
    next_ino: u64,
    /// Bytes held by all files, and the cap on it.
    used: u64,
    limit: u64,
    /// The latest guest time seen: stamps the embedder's own changes (the tree has no clock).
    now: u64,
}

impl Default for Tree {
    fn default() -> Self {
        let mut nodes = HashMap::new();
        nodes.insert(
            ROOT,
            Inode {
                kind: Kind::Dir {
                    entries: BTreeMap::new(),
                    parent: ROOT,
                },
                links: 1,
                open: 0,
                atim: 0,
                mtim: 0,
                ctim: 0,
            },
        );
        Tree {
            dev: NEXT_DEV.fetch_add(1, Ordering::Relaxed),
            nodes,
            next_ino: ROOT + 1,
            used: 0,
            limit: DEFAULT_LIMIT,
            now: 0,
        }
    }
}

struct Inode {
    kind: Kind,
    /// Directory entries naming it (a directory has at most one).
    links: u64,
    /// Open descriptors.
    open: u64,
    atim: u64,
    mtim: u64,
    ctim: u64,
}

enum Kind {
    File(Vec<u8>),
    Dir { entries: BTreeMap<String, u64>, parent: u64 },
    Symlink(String),
}

impl Inode {
    fn new(kind: Kind, now: u64) -> Self {
        Inode {
            kind,
            links: 1,
            open: 0,
            atim: now,
            mtim: now,
            ctim: now,
        }
    }
    fn filetype(&self) -> FileType {
        match self.kind {
            Kind::File(_) => FileType::RegularFile,
            Kind::Dir { .. } => FileType::Directory,
            Kind::Symlink(_) => FileType::SymbolicLink,
        }
    }
    fn is_dir(&self) -> bool {
        matches!(self.kind, Kind::Dir { .. })
    }
}

/// Where a path led: the directory holding its last component, that component's name (`None`
/// for `.`, `..` or a path that is only those), and the inode it names if it exists.
struct Walk {
    parent: u64,
    name: Option<String>,
    node: Option<u64>,
    /// The path ended in `/`: it must name a directory.
    trailing_slash: bool,
}

impl Tree {
    fn node(&self, ino: u64) -> FsResult<&Inode> {
        self.nodes.get(&ino).ok_or(Errno::NoEnt)
    }
    fn node_mut(&mut self, ino: u64) -> FsResult<&mut Inode> {
        self.nodes.get_mut(&ino).ok_or(Errno::NoEnt)
    }
    fn entries(&self, dir: u64) -> FsResult<&BTreeMap<String, u64>> {
        match &self.node(dir)?.kind {
            Kind::Dir { entries, .. } => Ok(entries),
            _ => Err(Errno::NotDir),
        }
    }
    fn entries_mut(&mut self, dir: u64) -> FsResult<&mut BTreeMap<String, u64>> {
        match &mut self.node_mut(dir)?.kind {
            Kind::Dir { entries, .. } => Ok(entries),
            _ => Err(Errno::NotDir),
        }
    }

    /// Resolves `path` beneath `base`, which is the root of the walk: `..` above it, absolute
    /// paths and absolute symlink targets are `ENOTCAPABLE`. The last component is a symlink
    /// followed only if `follow` (or the path ends in `/`).
    fn walk(&self, base: u64, path: &str, follow: bool) -> FsResult<Walk> {
        if path.is_empty() {
            return Err(Errno::NoEnt);
        }
        if path.starts_with('/') {
            return Err(Errno::NotCapable);
        }
        let mut trailing_slash = path.ends_with('/');
        let mut todo: Vec<String> = components(path);
        let mut stack = vec![base];
        let mut links = 0;
        if !self.node(base)?.is_dir() {
            return Err(Errno::NotDir);
        }
        loop {
            let cur = *stack.last().ok_or(Errno::NotCapable)?;
            let Some(c) = todo.pop() else {
                return Ok(Walk {
                    parent: cur,
                    name: None,
                    node: Some(cur),
                    trailing_slash,
                });
            };
            let last = todo.is_empty();
            match c.as_str() {
                "." => {}
                ".." => {
                    if stack.len() == 1 {
                        return Err(Errno::NotCapable);
                    }
                    stack.pop();
                }
                _ => {
                    let Some(&ino) = self.entries(cur)?.get(&c) else {
                        if last {
                            return Ok(Walk {
                                parent: cur,
                                name: Some(c),
                                node: None,
                                trailing_slash,
                            });
                        }
                        return Err(Errno::NoEnt);
                    };
                    let node = self.node(ino)?;
                    match &node.kind {
                        Kind::Symlink(target) if !last || follow || trailing_slash => {
                            links += 1;
                            if links > MAX_SYMLINKS {
                                return Err(Errno::Loop);
                            }
                            if target.starts_with('/') {
                                return Err(Errno::NotCapable);
                            }
                            if target.is_empty() {
                                return Err(Errno::NoEnt);
                            }
                            if last && target.ends_with('/') {
                                trailing_slash = true;
                            }
                            todo.extend(components(target));
                        }
                        Kind::Dir { .. } => {
                            if last {
                                return Ok(Walk {
                                    parent: cur,
                                    name: Some(c),
                                    node: Some(ino),
                                    trailing_slash,
                                });
                            }
                            stack.push(ino);
                        }
                        _ if last => {
                            if trailing_slash {
                                return Err(Errno::NotDir);
                            }
                            return Ok(Walk {
                                parent: cur,
                                name: Some(c),
                                node: Some(ino),
                                trailing_slash,
                            });
                        }
                        _ => return Err(Errno::NotDir),
                    }
                }
            }
        }
    }

    /// The inode `path` names (it must exist).
    fn lookup(&self, base: u64, path: &str, follow: bool) -> FsResult<u64> {
        self.walk(base, path, follow)?.node.ok_or(Errno::NoEnt)
    }

    /// The directory and name where `path` would be created (it must not exist).
    fn creation_point(&self, base: u64, path: &str) -> FsResult<(u64, String)> {
        let w = self.walk(base, path, false)?;
        match (w.node, w.name) {
            (None, Some(name)) => {
                if self.node(w.parent)?.links == 0 {
                    return Err(Errno::NoEnt); // the directory was removed while open
                }
                Ok((w.parent, name))
            }
            _ => Err(Errno::Exist),
        }
    }

    fn alloc(&mut self, inode: Inode) -> u64 {
        let ino = self.next_ino;
        self.next_ino += 1;
        self.nodes.insert(ino, inode);
        ino
    }

    /// Adds `name -> ino` to `dir` and stamps the directory.
    fn insert(&mut self, dir: u64, name: String, ino: u64, now: u64) -> FsResult<()> {
        self.entries_mut(dir)?.insert(name, ino);
        let d = self.node_mut(dir)?;
        d.mtim = now;
        d.ctim = now;
        Ok(())
    }

    /// Removes `name` from `dir`, dropping the inode once nothing refers to it.
    fn remove(&mut self, dir: u64, name: &str, now: u64) -> FsResult<()> {
        let ino = self.entries_mut(dir)?.remove(name).ok_or(Errno::NoEnt)?;
        let d = self.node_mut(dir)?;
        d.mtim = now;
        d.ctim = now;
        let n = self.node_mut(ino)?;
        n.links = n.links.saturating_sub(1);
        n.ctim = now;
        self.collect(ino);
        Ok(())
    }

    /// Frees an inode nothing refers to any more.
    fn collect(&mut self, ino: u64) {
        if ino == ROOT {
            return;
        }
        if let Some(n) = self.nodes.get(&ino)
            && n.links == 0
            && n.open == 0
            && let Some(n) = self.nodes.remove(&ino)
            && let Kind::File(data) = n.kind
        {
            self.used -= data.len() as u64;
        }
    }

    fn stat(&self, ino: u64) -> FsResult<Filestat> {
        let n = self.node(ino)?;
        let size = match &n.kind {
            Kind::File(d) => d.len() as u64,
            Kind::Dir { entries, .. } => entries.len() as u64,
            Kind::Symlink(t) => t.len() as u64,
        };
        Ok(Filestat {
            dev: self.dev,
            ino,
            filetype: n.filetype(),
            nlink: n.links,
            size,
            atim: n.atim,
            mtim: n.mtim,
            ctim: n.ctim,
        })
    }

    fn set_times(&mut self, ino: u64, atim: SetTime, mtim: SetTime) -> FsResult<()> {
        let now = self.now;
        let n = self.node_mut(ino)?;
        if let Some(t) = atim {
            n.atim = t;
        }
        if let Some(t) = mtim {
            n.mtim = t;
        }
        n.ctim = now.max(n.ctim);
        Ok(())
    }

    /// Resizes a file within the tree's byte limit.
    fn resize(&mut self, ino: u64, size: u64, now: u64) -> FsResult<()> {
        if size > MAX_OFFSET {
            return Err(Errno::Fbig);
        }
        let (used, limit) = (self.used, self.limit);
        let Kind::File(data) = &mut self.node_mut(ino)?.kind else {
            return Err(Errno::IsDir);
        };
        let old = data.len() as u64;
        if size > old && used - old + size > limit {
            return Err(Errno::NoSpc);
        }
        let size = usize::try_from(size).map_err(|_| Errno::Fbig)?;
        data.resize(size, 0);
        let n = self.node_mut(ino)?;
        n.mtim = now;
        n.ctim = now;
        self.used = used - old + size as u64;
        Ok(())
    }

    /// Writes `buf` at `offset`, growing the file (with zeros) as needed.
    fn write_at(&mut self, ino: u64, buf: &[u8], offset: u64, now: u64) -> FsResult<usize> {
        let end = offset
            .checked_add(buf.len() as u64)
            .filter(|&e| e <= MAX_OFFSET)
            .ok_or(Errno::Fbig)?;
        let len = match &self.node(ino)?.kind {
            Kind::File(d) => d.len() as u64,
            _ => return Err(Errno::IsDir),
        };
        if end > len {
            self.resize(ino, end, now)?;
        }
        let n = self.node_mut(ino)?;
        n.mtim = now;
        n.ctim = now;
        if let Kind::File(data) = &mut n.kind {
            // `resize` made the file at least `end` bytes, which fits in usize.
            data[offset as usize..end as usize].copy_from_slice(buf);
        }
        Ok(buf.len())
    }

    fn read_at(&self, ino: u64, buf: &mut [u8], offset: u64) -> FsResult<usize> {
        let Kind::File(data) = &self.node(ino)?.kind else {
            return Err(Errno::IsDir);
        };
        let len = data.len() as u64;
        if offset >= len {
            return Ok(0);
        }
        let n = buf.len().min((len - offset) as usize);
        buf[..n].copy_from_slice(&data[offset as usize..offset as usize + n]);
        Ok(n)
    }

    /// Whether `ino` is `ancestor` or lies beneath it.
    fn is_within(&self, mut ino: u64, ancestor: u64) -> bool {
        loop {
            if ino == ancestor {
                return true;
            }
            match self.nodes.get(&ino).map(|n| &n.kind) {
                Some(Kind::Dir { parent, .. }) if *parent != ino => ino = *parent,
                _ => return false,
            }
        }
    }
}

/// The components of a relative path, last first (so `pop` yields them in order).
fn components(path: &str) -> Vec<String> {
    path.split('/').filter(|c| !c.is_empty()).rev().map(str::to_owned).collect()
}

impl MemFs {
    /// An empty tree holding at most [`DEFAULT_LIMIT`] bytes of file data.
    pub fn new() -> Self {
        Self::default()
    }
    /// An empty tree whose files may hold `bytes` together; writes beyond fail with `ENOSPC`.
    pub fn with_limit(bytes: u64) -> Self {
        let fs = Self::default();
        fs.lock().limit = bytes;
        fs
    }
    fn lock(&self) -> MutexGuard<'_, Tree> {
        self.tree.lock().unwrap_or_else(PoisonError::into_inner)
    }
    pub(crate) fn root_handle(&self) -> MemDir {
        MemDir::new(self.clone(), self.root)
    }
    /// A handle on the directory `path` of this tree that sees it as its root: its methods, and
    /// a preopen made of it, reach nothing outside that directory.
    pub fn subtree(&self, path: &str) -> std::io::Result<MemFs> {
        let t = self.lock();
        let ino = t.lookup(self.root, embedder_path(path), true).map_err(io_error)?;
        if !t.node(ino).map_err(io_error)?.is_dir() {
            return Err(io_error(Errno::NotDir));
        }
        Ok(MemFs {
            tree: Arc::clone(&self.tree),
            root: ino,
        })
    }
    /// The names in a directory, sorted (without `.` and `..`), like `std::fs::read_dir`.
    pub fn read_dir(&self, path: &str) -> std::io::Result<Vec<String>> {
        let t = self.lock();
        let ino = t.lookup(self.root, embedder_path(path), true).map_err(io_error)?;
        Ok(t.entries(ino).map_err(io_error)?.keys().cloned().collect())
    }
    /// Creates a directory and every missing parent, like `std::fs::create_dir_all`.
    pub fn create_dir_all(&self, path: &str) -> std::io::Result<()> {
        let mut t = self.lock();
        let now = t.now;
        let mut dir = self.root;
        for c in components(embedder_path(path)).into_iter().rev() {
            dir = match t.walk(dir, &c, true).map_err(io_error)? {
                Walk { node: Some(ino), .. } if t.node(ino).is_ok_and(Inode::is_dir) => ino,
                Walk { node: Some(_), .. } => return Err(io_error(Errno::NotDir)),
                Walk {
                    parent, name: Some(name), ..
                } => {
                    let ino = t.alloc(Inode::new(
                        Kind::Dir {
                            entries: BTreeMap::new(),
                            parent,
                        },
                        now,
                    ));
                    t.insert(parent, name, ino, now).map_err(io_error)?;
                    ino
                }
                Walk {
                    node: None, name: None, ..
                } => return Err(io_error(Errno::NoEnt)),
            };
        }
        Ok(())
    }
    /// Writes a whole file, creating or truncating it, like `std::fs::write` (the parent
    /// directory must exist).
    pub fn write_file(&self, path: &str, data: &[u8]) -> std::io::Result<()> {
        let mut t = self.lock();
        let now = t.now;
        let ino = open_in(&mut t, self.root, embedder_path(path), &OpenOpts::write_create(), now).map_err(io_error)?;
        let r = t.resize(ino, 0, now).and_then(|()| t.write_at(ino, data, 0, now));
        t.collect(ino);
        r.map(drop).map_err(io_error)
    }
    /// Reads a whole file, like `std::fs::read`.
    pub fn read_file(&self, path: &str) -> std::io::Result<Vec<u8>> {
        let t = self.lock();
        let ino = t.lookup(self.root, embedder_path(path), true).map_err(io_error)?;
        match &t.node(ino).map_err(io_error)?.kind {
            Kind::File(data) => Ok(data.clone()),
            _ => Err(io_error(Errno::IsDir)),
        }
    }
}

impl OpenOpts {
    fn write_create() -> Self {
        OpenOpts {
            write: true,
            create: true,
            follow: true,
            ..Self::default()
        }
    }
}

/// The embedder's paths are relative to the root whether or not they start with `/`.
fn embedder_path(path: &str) -> &str {
    let p = path.trim_start_matches('/');
    if p.is_empty() { "." } else { p }
}

/// An errno as an `io::Error` for the embedder's API.
fn io_error(e: Errno) -> std::io::Error {
    use std::io::ErrorKind as K;
    let kind = match e {
        Errno::NoEnt => K::NotFound,
        Errno::Exist => K::AlreadyExists,
        Errno::NotDir => K::NotADirectory,
        Errno::IsDir => K::IsADirectory,
        Errno::NotCapable | Errno::Perm | Errno::Access => K::PermissionDenied,
        Errno::NoSpc => K::StorageFull,
        Errno::Fbig => K::FileTooLarge,
        Errno::Inval => K::InvalidInput,
        _ => K::Other,
    };
    std::io::Error::new(kind, format!("in-memory file system: {e:?}"))
}

/// `path_open` on the tree: returns the inode, with the open count NOT yet taken.
fn open_in(t: &mut Tree, base: u64, path: &str, o: &OpenOpts, now: u64) -> FsResult<u64> {
    let w = t.walk(base, path, o.follow)?;
    let ino = match w.node {
        None => {
            let name = w.name.ok_or(Errno::NoEnt)?;
            if !o.create {
                return Err(Errno::NoEnt);
            }
            if o.directory || w.trailing_slash {
                return Err(Errno::IsDir);
            }
            if t.node(w.parent)?.links == 0 {
                return Err(Errno::NoEnt);
            }
            let ino = t.alloc(Inode::new(Kind::File(Vec::new()), now));
            t.insert(w.parent, name, ino, now)?;
            return Ok(ino);
        }
        Some(ino) => ino,
    };
    if o.create && o.exclusive {
        return Err(Errno::Exist);
    }
    match t.node(ino)?.kind {
        // Only reached when not following: `O_NOFOLLOW` on a symlink.
        Kind::Symlink(_) => Err(Errno::Loop),
        Kind::Dir { .. } => {
            if o.write || o.truncate {
                Err(Errno::IsDir)
            } else {
                Ok(ino)
            }
        }
        Kind::File(_) => {
            if o.directory {
                return Err(Errno::NotDir);
            }
            if o.truncate {
                t.resize(ino, 0, now)?;
            }
            Ok(ino)
        }
    }
}

/// An open directory of a [`MemFs`]: the root of resolution for paths relative to it.
pub(crate) struct MemDir {
    fs: MemFs,
    ino: u64,
}

impl MemDir {
    fn new(fs: MemFs, ino: u64) -> Self {
        if let Ok(n) = fs.lock().node_mut(ino) {
            n.open += 1;
        }
        MemDir { fs, ino }
    }
    /// The other directory of a two-directory operation, which must be in the same tree.
    fn same_tree<'a>(&self, other: &'a dyn DirHandle) -> FsResult<&'a MemDir> {
        match other.as_any().downcast_ref::<MemDir>() {
            Some(d) if Arc::ptr_eq(&d.fs.tree, &self.fs.tree) => Ok(d),
            _ => Err(Errno::Xdev),
        }
    }
}

impl Drop for MemDir {
    fn drop(&mut self) {
        let mut t = self.fs.lock();
        if let Ok(n) = t.node_mut(self.ino) {
            n.open = n.open.saturating_sub(1);
        }
        t.collect(self.ino);
    }
}

impl fmt::Debug for MemDir {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MemDir(inode {})", self.ino)
    }
}

impl DirHandle for MemDir {
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn open(&self, path: &str, o: &OpenOpts, now: u64) -> FsResult<Node> {
        let ino = {
            let mut t = self.fs.lock();
            t.now = now;
            open_in(&mut t, self.ino, path, o, now)?
        };
        let is_dir = self.fs.lock().node(ino)?.is_dir();
        Ok(if is_dir {
            Node::Dir(Box::new(MemDir::new(self.fs.clone(), ino)))
        } else {
            Node::File(Box::new(MemFile::new(self.fs.clone(), ino)))
        })
    }
    fn stat(&self) -> FsResult<Filestat> {
        self.fs.lock().stat(self.ino)
    }
    fn stat_at(&self, path: &str, follow: bool) -> FsResult<Filestat> {
        let t = self.fs.lock();
        t.stat(t.lookup(self.ino, path, follow)?)
    }
    fn set_times(&self, atim: SetTime, mtim: SetTime) -> FsResult<()> {
        self.fs.lock().set_times(self.ino, atim, mtim)
    }
    fn set_times_at(&self, path: &str, follow: bool, atim: SetTime, mtim: SetTime) -> FsResult<()> {
        let mut t = self.fs.lock();
        let ino = t.lookup(self.ino, path, follow)?;
        t.set_times(ino, atim, mtim)
    }
    fn create_dir(&self, path: &str, now: u64) -> FsResult<()> {
        let mut t = self.fs.lock();
        t.now = now;
        let (parent, name) = t.creation_point(self.ino, path)?;
        let ino = t.alloc(Inode::new(
            Kind::Dir {
                entries: BTreeMap::new(),
                parent,
            },
            now,
        ));
        t.insert(parent, name, ino, now)
    }
    fn remove_dir(&self, path: &str, now: u64) -> FsResult<()> {
        let mut t = self.fs.lock();
        t.now = now;
        let w = t.walk(self.ino, path, false)?;
        let ino = w.node.ok_or(Errno::NoEnt)?;
        let name = w.name.ok_or(Errno::Inval)?;
        if !t.entries(ino)?.is_empty() {
            return Err(Errno::NotEmpty);
        }
        t.remove(w.parent, &name, now)
    }
    fn unlink(&self, path: &str, now: u64) -> FsResult<()> {
        let mut t = self.fs.lock();
        t.now = now;
        let w = t.walk(self.ino, path, false)?;
        let ino = w.node.ok_or(Errno::NoEnt)?;
        let name = w.name.ok_or(Errno::IsDir)?;
        if t.node(ino)?.is_dir() {
            return Err(Errno::IsDir);
        }
        t.remove(w.parent, &name, now)
    }
    fn rename(&self, old: &str, new_dir: &dyn DirHandle, new: &str, now: u64) -> FsResult<()> {
        let new_dir = self.same_tree(new_dir)?;
        let mut t = self.fs.lock();
        t.now = now;
        let from = t.walk(self.ino, old, false)?;
        let ino = from.node.ok_or(Errno::NoEnt)?;
        let from_name = from.name.ok_or(Errno::Busy)?;
        let to = t.walk(new_dir.ino, new, false)?;
        let to_name = to.name.ok_or(Errno::Busy)?;
        if t.node(to.parent)?.links == 0 {
            return Err(Errno::NoEnt);
        }
        let moving_dir = t.node(ino)?.is_dir();
        if !moving_dir && (from.trailing_slash || to.trailing_slash) {
            return Err(Errno::NotDir);
        }
        if let Some(target) = to.node {
            if target == ino {
                return Ok(());
            }
            match (moving_dir, t.node(target)?.is_dir()) {
                (true, false) => return Err(Errno::NotDir),
                (false, true) => return Err(Errno::IsDir),
                (true, true) if !t.entries(target)?.is_empty() => return Err(Errno::NotEmpty),
                _ => {}
            }
        }
        if moving_dir && t.is_within(to.parent, ino) {
            return Err(Errno::Inval);
        }
        // Take the source entry out, then replace the target (dropping what it named).
        t.entries_mut(from.parent)?.remove(&from_name);
        if to.node.is_some() {
            t.remove(to.parent, &to_name, now)?;
        }
        t.insert(to.parent, to_name, ino, now)?;
        let d = t.node_mut(from.parent)?;
        d.mtim = now;
        d.ctim = now;
        let n = t.node_mut(ino)?;
        n.ctim = now;
        if let Kind::Dir { parent, .. } = &mut n.kind {
            *parent = to.parent;
        }
        Ok(())
    }
    fn link(&self, old: &str, follow: bool, new_dir: &dyn DirHandle, new: &str, now: u64) -> FsResult<()> {
        let new_dir = self.same_tree(new_dir)?;
        let mut t = self.fs.lock();
        t.now = now;
        let ino = t.lookup(self.ino, old, follow)?;
        if t.node(ino)?.is_dir() {
            return Err(Errno::Perm);
        }
        let (parent, name) = t.creation_point(new_dir.ino, new)?;
        t.insert(parent, name, ino, now)?;
        let n = t.node_mut(ino)?;
        n.links += 1;
        n.ctim = now;
        Ok(())
    }
    fn symlink(&self, target: &str, path: &str, now: u64) -> FsResult<()> {
        if target.starts_with('/') {
            return Err(Errno::NotCapable);
        }
        let mut t = self.fs.lock();
        t.now = now;
        let (parent, name) = t.creation_point(self.ino, path)?;
        let ino = t.alloc(Inode::new(Kind::Symlink(target.to_owned()), now));
        t.insert(parent, name, ino, now)
    }
    fn readlink(&self, path: &str) -> FsResult<Vec<u8>> {
        let t = self.fs.lock();
        let ino = t.lookup(self.ino, path, false)?;
        match &t.node(ino)?.kind {
            Kind::Symlink(target) => Ok(target.as_bytes().to_vec()),
            _ => Err(Errno::Inval),
        }
    }
    fn entries(&self) -> FsResult<Vec<DirEntry>> {
        let t = self.fs.lock();
        t.entries(self.ino)?
            .iter()
            .map(|(name, &ino)| {
                Ok(DirEntry {
                    name: name.as_bytes().to_vec(),
                    ino,
                    filetype: t.node(ino)?.filetype(),
                })
            })
            .collect()
    }
    fn sync(&self) -> FsResult<()> {
        self.fs.lock().node(self.ino).map(drop)
    }
}

/// An open file of a [`MemFs`].
pub(crate) struct MemFile {
    fs: MemFs,
    ino: u64,
    pos: u64,
}

impl MemFile {
    fn new(fs: MemFs, ino: u64) -> Self {
        if let Ok(n) = fs.lock().node_mut(ino) {
            n.open += 1;
        }
        MemFile { fs, ino, pos: 0 }
    }
}

impl Drop for MemFile {
    fn drop(&mut self) {
        let mut t = self.fs.lock();
        if let Ok(n) = t.node_mut(self.ino) {
            n.open = n.open.saturating_sub(1);
        }
        t.collect(self.ino);
    }
}

impl fmt::Debug for MemFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MemFile(inode {}, at {})", self.ino, self.pos)
    }
}

impl FileHandle for MemFile {
    fn read(&mut self, buf: &mut [u8]) -> FsResult<usize> {
        let n = self.fs.lock().read_at(self.ino, buf, self.pos)?;
        self.pos += n as u64;
        Ok(n)
    }
    fn write(&mut self, buf: &[u8], append: bool, now: u64) -> FsResult<usize> {
        let mut t = self.fs.lock();
        t.now = now;
        if append {
            self.pos = t.stat(self.ino)?.size;
        }
        let n = t.write_at(self.ino, buf, self.pos, now)?;
        self.pos += n as u64;
        Ok(n)
    }
    fn pread(&mut self, buf: &mut [u8], offset: u64) -> FsResult<usize> {
        self.fs.lock().read_at(self.ino, buf, offset)
    }
    fn pwrite(&mut self, buf: &[u8], offset: u64, now: u64) -> FsResult<usize> {
        let mut t = self.fs.lock();
        t.now = now;
        t.write_at(self.ino, buf, offset, now)
    }
    fn seek(&mut self, pos: SeekFrom) -> FsResult<u64> {
        let base = match pos {
            SeekFrom::Start(n) => Some(n),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
            SeekFrom::End(d) => self.fs.lock().stat(self.ino)?.size.checked_add_signed(d),
        };
        let to = base.filter(|&p| p <= MAX_OFFSET).ok_or(Errno::Inval)?;
        self.pos = to;
        Ok(to)
    }
    fn stat(&self) -> FsResult<Filestat> {
        self.fs.lock().stat(self.ino)
    }
    fn set_size(&mut self, size: u64, now: u64) -> FsResult<()> {
        let mut t = self.fs.lock();
        t.now = now;
        t.resize(self.ino, size, now)
    }
    fn set_times(&self, atim: SetTime, mtim: SetTime) -> FsResult<()> {
        self.fs.lock().set_times(self.ino, atim, mtim)
    }
    fn sync(&self) -> FsResult<()> {
        Ok(())
    }
    fn datasync(&self) -> FsResult<()> {
        Ok(())
    }
}
