//! Randomness for `random_get`: an injectable [`RandomSource`] that fails closed.
//!
//! A guest uses `random_get` for keys and nonces (Go's `crypto/rand`), so a source that cannot
//! produce unpredictable bytes must say so: `random_get` then returns `EIO` and the guest sees an
//! error. Nothing here ever substitutes predictable bytes for missing entropy.

/// Why a [`RandomSource`] could not fill a buffer. `random_get` reports it to the guest as
/// [`Errno::Io`](crate::Errno::Io), and logs it (`tracing` error).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("random source failed: {reason}")]
pub struct RandomError {
    /// What the source reported (e.g. the operating system's error).
    pub reason: String,
}

impl RandomError {
    /// An error with the source's explanation.
    pub fn new(reason: impl Into<String>) -> Self {
        Self { reason: reason.into() }
    }
}

/// Fills guest buffers for `random_get`.
pub trait RandomSource: Send {
    /// Fills `buf` entirely with random bytes.
    ///
    /// # Errors
    /// [`RandomError`] when the source cannot produce them; `buf`'s contents are then
    /// unspecified and are never shown to the guest.
    fn fill(&mut self, buf: &mut [u8]) -> Result<(), RandomError>;
}

/// The operating system's CSPRNG (through `getrandom`). When it fails there is no fallback:
/// `random_get` returns `EIO`.
#[cfg(feature = "os-random")]
#[derive(Debug, Default, Clone, Copy)]
pub struct OsRandom;

#[cfg(feature = "os-random")]
impl RandomSource for OsRandom {
    fn fill(&mut self, buf: &mut [u8]) -> Result<(), RandomError> {
        getrandom::fill(buf).map_err(|e| RandomError::new(format!("getrandom: {e}")))
    }
}

/// A deterministic generator (SplitMix64) for reproducible tests. Not cryptographic.
#[derive(Debug, Clone)]
pub struct SeededRandom {
    state: u64,
}

impl SeededRandom {
    /// A generator whose output is fully determined by `seed`.
    pub fn new(seed: u64) -> Self {
        Self { state: seed }
    }
    fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

impl RandomSource for SeededRandom {
    fn fill(&mut self, buf: &mut [u8]) -> Result<(), RandomError> {
        for chunk in buf.chunks_mut(8) {
            let v = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
        Ok(())
    }
}

/// A source that always fails: for testing that a guest sees `random_get` fail (and for hosts
/// that must deny randomness outright).
#[derive(Debug, Default, Clone, Copy)]
pub struct NoRandom;

impl RandomSource for NoRandom {
    fn fill(&mut self, _buf: &mut [u8]) -> Result<(), RandomError> {
        Err(RandomError::new("no random source (NoRandom)"))
    }
}
