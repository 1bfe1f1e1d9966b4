//! The snapshot decoder on hostile bytes: the fuzz harness (fuzz/fuzz_targets/snapshot_decode.rs)
//! run on a seeded stream of mutations of a valid snapshot, so every `cargo test` covers it.

mod snapshot_harness;

use reactor_api::Snapshot;
use sha2::{Digest, Sha256};

/// A small deterministic generator (the same inputs every run).
fn xorshift(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

#[test]
fn the_sample_is_valid() {
    let mut bytes = snapshot_harness::sample_body();
    bytes.extend_from_slice(&Sha256::digest(&bytes));
    let s = Snapshot::from_bytes(&bytes).expect("valid");
    assert_eq!(
        (s.memory_size(), s.stored_pages(), s.ticks(), s.engine()),
        (3 * 65536, 2, 3, "wasmi")
    );
}

#[test]
fn mutated_snapshots_never_panic() {
    let body = snapshot_harness::sample_body();
    let header = 8 + 4 + 32 + 4 + 8 + 8 + 1 + 5 + 4 + 4 + 2 * 13 + 4 + 4 + 4;
    let mut rng = 0x2545_f491_4f6c_dd1du64;
    for _ in 0..5_000 {
        let mut b = body.clone();
        match xorshift(&mut rng) % 4 {
            // Flip bytes, mostly in the header where the fields are.
            0 | 1 => {
                for _ in 0..1 + xorshift(&mut rng) % 3 {
                    let at = (xorshift(&mut rng) as usize) % header;
                    b[at] = xorshift(&mut rng) as u8;
                }
            }
            2 => b.truncate((xorshift(&mut rng) as usize) % b.len()),
            _ => {
                let at = (xorshift(&mut rng) as usize) % header;
                let n = 1 + (xorshift(&mut rng) as usize) % 8;
                for _ in 0..n {
                    b.insert(at, xorshift(&mut rng) as u8);
                }
            }
        }
        snapshot_harness::run(&b);
    }
}
