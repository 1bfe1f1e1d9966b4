//! Randomness for `random_get`: an injectable [`RandomSource`].

/// Fills guest buffers for `random_get`.
pub trait RandomSource: Send {
    /// Fills `buf` entirely with random bytes.
    fn fill(&mut self, buf: &mut [u8]);
}

/// The operating system's CSPRNG (through `getrandom`).
#[cfg(feature = "os-random")]
#[derive(Debug, Default, Clone, Copy)]
pub struct OsRandom;

#[cfg(feature = "os-random")]
impl RandomSource for OsRandom {
    fn fill(&mut self, buf: &mut [u8]) {
        if let Err(e) = getrandom::fill(buf) {
            // No entropy source is a broken host, not a guest fault; degrade loudly, not silently.
            tracing::error!("getrandom failed: {e}; using a time-seeded generator");
            let seed = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0x5eed, |d| d.as_nanos() as u64);
            SeededRandom::new(seed).fill(buf);
        }
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
    fn fill(&mut self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            let v = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
    }
}
