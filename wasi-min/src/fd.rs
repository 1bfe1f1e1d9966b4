//! The descriptor table: what each guest fd refers to.
//!
//! Fds 0–2 are stdio, the preopens follow from 3 in the order the embedder gave them, then what
//! the guest opens, always at the lowest free number like POSIX. Any descriptor may be closed or
//! renumbered, preopens and stdio included.

use crate::errno::Errno;
use crate::fs::{DirEntry, DirHandle, FileHandle, Preopen};

/// Most descriptors open at once (`EMFILE` beyond).
pub(crate) const MAX_FDS: usize = 1 << 16;

/// WASI `fdflags`.
pub(crate) const FDFLAG_APPEND: u16 = 1;
pub(crate) const FDFLAG_DSYNC: u16 = 2;
pub(crate) const FDFLAG_NONBLOCK: u16 = 4;
pub(crate) const FDFLAG_RSYNC: u16 = 8;
pub(crate) const FDFLAG_SYNC: u16 = 16;
pub(crate) const FDFLAGS_ALL: u16 = 31;

/// Which stdio stream an fd is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stdio {
    In,
    Out,
    Err,
}

/// An open directory.
#[derive(Debug)]
pub(crate) struct DirDesc {
    pub dir: Box<dyn DirHandle>,
    /// The guest-visible name if this is a preopen (`fd_prestat_get`).
    pub preopen: Option<String>,
    /// Everything reached through it refuses changes with `EROFS`.
    pub read_only: bool,
    /// The listing `fd_readdir` pages through: taken at cookie 0, reused for later cookies so
    /// they stay stable while the directory changes.
    pub listing: Option<Vec<DirEntry>>,
    pub flags: u16,
}

/// An open regular file.
#[derive(Debug)]
pub(crate) struct FileDesc {
    pub file: Box<dyn FileHandle>,
    pub read: bool,
    pub write: bool,
    pub read_only: bool,
    pub flags: u16,
}

/// What a descriptor refers to.
#[derive(Debug)]
pub(crate) enum Desc {
    Stdio { which: Stdio, flags: u16 },
    Dir(DirDesc),
    File(FileDesc),
}

/// The descriptor table.
#[derive(Debug)]
pub(crate) struct FdTable {
    slots: Vec<Option<Desc>>,
}

impl FdTable {
    pub(crate) fn new(preopens: Vec<Preopen>) -> Self {
        let mut slots = vec![
            Some(Desc::Stdio {
                which: Stdio::In,
                flags: 0,
            }),
            Some(Desc::Stdio {
                which: Stdio::Out,
                flags: 0,
            }),
            Some(Desc::Stdio {
                which: Stdio::Err,
                flags: 0,
            }),
        ];
        for p in preopens {
            slots.push(Some(Desc::Dir(DirDesc {
                dir: p.dir,
                preopen: Some(p.guest),
                read_only: p.read_only,
                listing: None,
                flags: 0,
            })));
        }
        FdTable { slots }
    }
    pub(crate) fn get(&self, fd: u32) -> Result<&Desc, Errno> {
        self.slots.get(fd as usize).and_then(Option::as_ref).ok_or(Errno::Badf)
    }
    pub(crate) fn get_mut(&mut self, fd: u32) -> Result<&mut Desc, Errno> {
        self.slots.get_mut(fd as usize).and_then(Option::as_mut).ok_or(Errno::Badf)
    }
    /// Stores `desc` at the lowest free fd.
    pub(crate) fn insert(&mut self, desc: Desc) -> Result<u32, Errno> {
        if let Some(i) = self.slots.iter().position(Option::is_none) {
            self.slots[i] = Some(desc);
            return Ok(i as u32);
        }
        if self.slots.len() >= MAX_FDS {
            return Err(Errno::Mfile);
        }
        self.slots.push(Some(desc));
        Ok(self.slots.len() as u32 - 1)
    }
    pub(crate) fn remove(&mut self, fd: u32) -> Result<Desc, Errno> {
        let desc = self.slots.get_mut(fd as usize).and_then(Option::take).ok_or(Errno::Badf)?;
        while matches!(self.slots.last(), Some(None)) && self.slots.len() > 3 {
            self.slots.pop();
        }
        Ok(desc)
    }
    /// `fd_renumber`: both must be open; `to` is closed and `from` takes its number.
    pub(crate) fn renumber(&mut self, from: u32, to: u32) -> Result<(), Errno> {
        self.get(from)?;
        self.get(to)?;
        if from != to {
            let desc = self.slots[from as usize].take();
            self.slots[to as usize] = desc;
            while matches!(self.slots.last(), Some(None)) && self.slots.len() > 3 {
                self.slots.pop();
            }
        }
        Ok(())
    }
}
