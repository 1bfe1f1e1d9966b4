//! The guest-memory interface the WASI layer is written against.
//!
//! Every backend exposes the guest's linear memory through [`GuestMemory`]; the WASI functions
//! never see an engine type. All addresses come from the guest and are untrusted: every access is
//! bounds-checked with overflow-free arithmetic and fails with [`MemoryError`] (which the WASI
//! functions turn into `EFAULT`) instead of panicking.

/// A guest access that falls outside linear memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("guest memory access out of bounds: {len} bytes at {addr:#x}, memory is {size} bytes")]
pub struct MemoryError {
    /// First guest address of the access.
    pub addr: u64,
    /// Length of the access in bytes.
    pub len: u64,
    /// Size of linear memory at the time of the access.
    pub size: u64,
}

/// Byte-level access to a guest's linear memory.
///
/// Implemented for `[u8]` (engines that hand out the memory as a slice) and by backends whose
/// memory is not a plain slice (e.g. a JavaScript `ArrayBuffer`). Only [`size`](Self::size),
/// [`read`](Self::read) and [`write`](Self::write) are required; the typed helpers are provided.
pub trait GuestMemory {
    /// Current size of linear memory in bytes.
    fn size(&self) -> u64;
    /// Copies `buf.len()` bytes starting at `addr` into `buf`.
    fn read(&self, addr: u64, buf: &mut [u8]) -> Result<(), MemoryError>;
    /// Copies `data` into guest memory starting at `addr`.
    fn write(&mut self, addr: u64, data: &[u8]) -> Result<(), MemoryError>;

    /// Checks that `len` bytes at `addr` are inside memory, without touching them.
    fn check(&self, addr: u64, len: u64) -> Result<(), MemoryError> {
        let size = self.size();
        match addr.checked_add(len) {
            Some(end) if end <= size => Ok(()),
            _ => Err(MemoryError { addr, len, size }),
        }
    }
    /// Reads a little-endian `u16`.
    fn read_u16(&self, addr: u64) -> Result<u16, MemoryError> {
        let mut b = [0; 2];
        self.read(addr, &mut b)?;
        Ok(u16::from_le_bytes(b))
    }
    /// Reads a little-endian `u32`.
    fn read_u32(&self, addr: u64) -> Result<u32, MemoryError> {
        let mut b = [0; 4];
        self.read(addr, &mut b)?;
        Ok(u32::from_le_bytes(b))
    }
    /// Reads a little-endian `u64`.
    fn read_u64(&self, addr: u64) -> Result<u64, MemoryError> {
        let mut b = [0; 8];
        self.read(addr, &mut b)?;
        Ok(u64::from_le_bytes(b))
    }
    /// Writes a little-endian `u16`.
    fn write_u16(&mut self, addr: u64, v: u16) -> Result<(), MemoryError> {
        self.write(addr, &v.to_le_bytes())
    }
    /// Writes a little-endian `u32`.
    fn write_u32(&mut self, addr: u64, v: u32) -> Result<(), MemoryError> {
        self.write(addr, &v.to_le_bytes())
    }
    /// Writes a little-endian `u64`.
    fn write_u64(&mut self, addr: u64, v: u64) -> Result<(), MemoryError> {
        self.write(addr, &v.to_le_bytes())
    }
    /// Reads `len` bytes at `addr` into a new vector (bounds-checked before allocating).
    fn read_vec(&self, addr: u64, len: u64) -> Result<Vec<u8>, MemoryError> {
        self.check(addr, len)?;
        // `check` bounded `len` by the memory size, so this cannot be a guest-chosen huge allocation.
        let mut v = vec![0; len as usize];
        self.read(addr, &mut v)?;
        Ok(v)
    }
}

fn range(size: usize, addr: u64, len: usize) -> Result<std::ops::Range<usize>, MemoryError> {
    let err = || MemoryError {
        addr,
        len: len as u64,
        size: size as u64,
    };
    let start = usize::try_from(addr).map_err(|_| err())?;
    let end = start.checked_add(len).ok_or_else(err)?;
    if end > size {
        return Err(err());
    }
    Ok(start..end)
}

impl GuestMemory for [u8] {
    fn size(&self) -> u64 {
        self.len() as u64
    }
    fn read(&self, addr: u64, buf: &mut [u8]) -> Result<(), MemoryError> {
        let r = range(self.len(), addr, buf.len())?;
        buf.copy_from_slice(&self[r]);
        Ok(())
    }
    fn write(&mut self, addr: u64, data: &[u8]) -> Result<(), MemoryError> {
        let r = range(self.len(), addr, data.len())?;
        self[r].copy_from_slice(data);
        Ok(())
    }
}

/// Lets a borrowed slice be passed as `&mut dyn GuestMemory` (a bare `[u8]` is unsized).
impl GuestMemory for &mut [u8] {
    fn size(&self) -> u64 {
        (**self).size()
    }
    fn read(&self, addr: u64, buf: &mut [u8]) -> Result<(), MemoryError> {
        (**self).read(addr, buf)
    }
    fn write(&mut self, addr: u64, data: &[u8]) -> Result<(), MemoryError> {
        (**self).write(addr, data)
    }
}

impl GuestMemory for Vec<u8> {
    fn size(&self) -> u64 {
        self.as_slice().size()
    }
    fn read(&self, addr: u64, buf: &mut [u8]) -> Result<(), MemoryError> {
        self.as_slice().read(addr, buf)
    }
    fn write(&mut self, addr: u64, data: &[u8]) -> Result<(), MemoryError> {
        self.as_mut_slice().write(addr, data)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slice_bounds_are_checked_without_overflow() {
        let mut mem = vec![0u8; 16];
        assert!(mem.write_u32(12, 7).is_ok());
        assert_eq!(mem.read_u32(12), Ok(7));
        assert!(mem.write_u32(13, 7).is_err());
        assert!(mem.read_u64(u64::MAX - 2).is_err());
        assert!(mem.check(u64::MAX, 2).is_err());
        assert!(mem.read_vec(8, u64::MAX).is_err());
        assert_eq!(mem.read_vec(16, 0), Ok(vec![]));
    }
}
