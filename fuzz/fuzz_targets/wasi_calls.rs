//! Fuzzes the `wasi_snapshot_preview1` functions of wasi-min: arbitrary bytes become a guest
//! memory of arbitrary size and content, a WASI context with misbehaving stdio, and a sequence of
//! calls with hostile arguments; the harness checks after every call that nothing panicked, no
//! access went out of bounds, the errno is valid and `EFAULT` means "no effect", memory changed
//! only where the function may write, and outputs are exact (see the harness for the full list).
//! The same harness runs in CI as a seeded property test (wasi-min/tests/properties.rs).
#![no_main]

#[path = "../../wasi-min/tests/harness/mod.rs"]
mod harness;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    harness::run(data, &harness::Options::default());
});
