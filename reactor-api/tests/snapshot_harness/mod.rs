//! The snapshot-decoder harness, shared by the cargo-fuzz target `snapshot_decode` and the
//! seeded property test `reactor-api/tests/snapshot_decode.rs`.
//!
//! Every input is decoded twice: as is (almost always stopped by the magic, version or checksum)
//! and as a body sealed with a valid checksum, so the field checks behind the checksum are
//! reached too. Decoding must never panic or allocate beyond the input, and whatever decodes
//! must re-encode to exactly the same bytes (the format is canonical).

use reactor_api::Snapshot;
use sha2::{Digest, Sha256};

/// Runs one input.
pub fn run(data: &[u8]) {
    check(data);
    let mut sealed = data.to_vec();
    sealed.extend_from_slice(&Sha256::digest(data));
    check(&sealed);
}

fn check(bytes: &[u8]) {
    if let Ok(snapshot) = Snapshot::from_bytes(bytes) {
        assert_eq!(snapshot.to_bytes(), bytes, "a decoded snapshot re-encodes to the same bytes");
        assert!(snapshot.stored_pages() as u64 * 65536 <= snapshot.memory_size());
    }
}

/// The body (everything but the checksum) of a small valid snapshot: two globals, stdio facts,
/// one preopen, two pages of a three-page memory.
#[allow(dead_code)] // the property test's seed; the fuzz target starts from its own corpus
pub fn sample_body() -> Vec<u8> {
    let mut b = Vec::new();
    b.extend_from_slice(b"GORSNAP\0");
    b.extend_from_slice(&1u32.to_le_bytes());
    b.extend_from_slice(&[7; 32]);
    b.extend_from_slice(&[1, 1, 0, 0]);
    b.extend_from_slice(&5_000_000_000u64.to_le_bytes());
    b.extend_from_slice(&3u64.to_le_bytes());
    b.push(5);
    b.extend_from_slice(b"wasmi");
    b.extend_from_slice(&3u32.to_le_bytes());
    b.extend_from_slice(&2u32.to_le_bytes());
    for (index, ty, bits) in [(0u32, 0u8, 65536u64), (1, 1, u64::MAX)] {
        b.extend_from_slice(&index.to_le_bytes());
        b.push(ty);
        b.extend_from_slice(&bits.to_le_bytes());
    }
    // stdio: stdin NONBLOCK, stdout closed, stderr plain; one preopen, `/` at fd 3.
    for flags in [4u16, 0xffff, 0] {
        b.extend_from_slice(&flags.to_le_bytes());
    }
    b.extend_from_slice(&1u32.to_le_bytes());
    b.extend_from_slice(&3u32.to_le_bytes());
    b.extend_from_slice(&1u16.to_le_bytes());
    b.push(b'/');
    b.extend_from_slice(&2u32.to_le_bytes());
    for index in [0u32, 2] {
        b.extend_from_slice(&index.to_le_bytes());
        b.extend((0..65536u32).map(|i| (i % 251) as u8 ^ index as u8));
    }
    b
}
