//! Fuzzes the snapshot decoder (`Snapshot::from_bytes`): arbitrary bytes, as they are and sealed
//! with a valid checksum, never panic and decode only to canonical snapshots. The same harness
//! runs in CI as a seeded property test (reactor-api/tests/snapshot_decode.rs).
#![no_main]

#[path = "../../reactor-api/tests/snapshot_harness/mod.rs"]
mod snapshot_harness;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    snapshot_harness::run(data);
});
