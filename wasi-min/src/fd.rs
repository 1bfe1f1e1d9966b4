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

    /// What a snapshot carries of the table (see [`FdFacts`]).
    pub(crate) fn facts(&self) -> Result<FdFacts, FdFactsError> {
        let mut facts = FdFacts {
            stdio: [None; 3],
            preopens: Vec::new(),
        };
        for (fd, slot) in self.slots.iter().enumerate() {
            let fd = fd as u32;
            match slot {
                None => {}
                Some(Desc::Stdio { which, flags }) if *which as u32 == fd => facts.stdio[fd as usize] = Some(*flags),
                Some(Desc::Stdio { .. }) => return Err(FdFactsError::Moved { fd }),
                Some(Desc::Dir(DirDesc { preopen: Some(guest), .. })) => facts.preopens.push((fd, guest.clone())),
                Some(Desc::Dir(_) | Desc::File(_)) => return Err(FdFactsError::Open { fd }),
            }
        }
        Ok(facts)
    }
    /// Makes a fresh table (stdio and the embedder's preopens) match `facts`: stdio closed or
    /// flagged as the guest left it, preopens the guest closed closed again. Every preopen in
    /// `facts` must be at the same fd with the same guest path here.
    pub(crate) fn apply(&mut self, facts: &FdFacts) -> Result<(), FdFactsError> {
        for (fd, guest) in &facts.preopens {
            match self.get(*fd) {
                Ok(Desc::Dir(DirDesc { preopen: Some(here), .. })) if here == guest => {}
                _ => {
                    return Err(FdFactsError::Preopen {
                        fd: *fd,
                        guest: guest.clone(),
                    });
                }
            }
        }
        let keep: Vec<u32> = facts.preopens.iter().map(|p| p.0).collect();
        let closed: Vec<u32> = (3..self.slots.len() as u32)
            .filter(|fd| !keep.contains(fd) && self.get(*fd).is_ok())
            .collect();
        for fd in closed {
            let _ = self.remove(fd);
        }
        for (fd, state) in facts.stdio.iter().enumerate() {
            match state {
                None => self.slots[fd] = None,
                Some(f) => {
                    let which = [Stdio::In, Stdio::Out, Stdio::Err][fd];
                    self.slots[fd] = Some(Desc::Stdio {
                        which,
                        flags: f & FDFLAGS_ALL,
                    });
                }
            }
        }
        Ok(())
    }
}

/// The part of a guest's descriptor table a snapshot can carry to another instance: the state
/// of stdin, stdout and stderr, and which preopened directories are open at which fd (matched by
/// guest path on restore). Files and directories the guest opened itself cannot be carried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FdFacts {
    /// For fds 0, 1 and 2: `None` if the guest closed it, else its `fdflags` (Go sets
    /// `NONBLOCK`).
    pub stdio: [Option<u16>; 3],
    /// The open preopens: fd and guest path.
    pub preopens: Vec<(u32, String)>,
}

/// Why a descriptor table cannot be captured into, or restored from, [`FdFacts`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FdFactsError {
    /// The guest has a file or directory of its own open.
    #[error("fd {fd} is a file or directory the guest opened; only stdio and preopens can be carried")]
    Open {
        /// The descriptor.
        fd: u32,
    },
    /// The guest moved a stdio stream to another number with `fd_renumber`.
    #[error("fd {fd} is a stdio stream moved by fd_renumber")]
    Moved {
        /// The descriptor.
        fd: u32,
    },
    /// The new configuration lacks a preopen the guest had.
    #[error("the guest had `{guest}` preopened at fd {fd}; the new configuration has not")]
    Preopen {
        /// The descriptor.
        fd: u32,
        /// Its guest path.
        guest: String,
    },
}
