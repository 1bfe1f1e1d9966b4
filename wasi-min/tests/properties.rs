//! Property test of the preview1 functions under hostile input, sized for CI: seeded random
//! inputs through the same harness as the cargo-fuzz target (`fuzz/`, see fuzz/README.md), so a
//! long fuzzing run and this test check the same invariants (listed in `harness/mod.rs`).

mod harness;

use std::collections::BTreeMap;

use harness::Options;
use wasi_min::Errno;

/// SplitMix64: a deterministic input generator.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn bytes(&mut self, max: usize) -> Vec<u8> {
        let len = (self.next() % max as u64) as usize;
        (0..len).map(|_| self.next() as u8).collect()
    }
}

/// Runs `iterations` random inputs; on a violation, panics with the input in hex so it can be
/// replayed (e.g. as a fuzz artifact).
fn run_many(seed: u64, iterations: usize, opts: &Options) -> BTreeMap<(&'static str, String), usize> {
    let mut rng = Rng(seed);
    let mut seen = BTreeMap::new();
    for i in 0..iterations {
        let data = rng.bytes(400);
        let outcomes = std::panic::catch_unwind(|| harness::run(&data, opts)).unwrap_or_else(|e| {
            let hex: String = data.iter().map(|b| format!("{b:02x}")).collect();
            let why = e
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            panic!("seed {seed:#x}, iteration {i}: invariant violated: {why}\ninput: {hex}")
        });
        for (name, result) in outcomes {
            let key = match result {
                Ok(errno) => format!("{errno:?}"),
                Err(_) => "exit".to_string(),
            };
            *seen.entry((name, key)).or_insert(0) += 1;
        }
    }
    seen
}

#[test]
fn hostile_calls_keep_every_invariant() {
    let opts = Options {
        huge_memories: false,
        max_calls: 6,
        max_work: 16 << 20,
    };
    let seen = run_many(0x5eed_0001, 50_000, &opts);
    // The random inputs must reach the success paths too, not only the early EFAULTs.
    let count = |name: &str, errno: Errno| seen.get(&(name, format!("{errno:?}"))).copied().unwrap_or(0);
    for (name, errno) in [
        ("fd_write", Errno::Success),
        ("fd_write", Errno::Fault),
        ("fd_write", Errno::Badf),
        ("fd_write", Errno::Io),
        ("fd_read", Errno::Success),
        ("args_get", Errno::Success),
        ("environ_sizes_get", Errno::Success),
        ("poll_oneoff", Errno::Success),
        ("poll_oneoff", Errno::Fault),
        ("poll_oneoff", Errno::Inval),
        ("random_get", Errno::Success),
        ("clock_time_get", Errno::Success),
        ("fd_close", Errno::Success),
        ("path_open", Errno::Success),
        ("path_open", Errno::NotCapable),
        ("path_open", Errno::NoEnt),
        ("fd_readdir", Errno::Success),
        ("fd_prestat_dir_name", Errno::Success),
        ("path_create_directory", Errno::Success),
        ("path_create_directory", Errno::Rofs),
        ("path_filestat_get", Errno::Success),
        ("path_unlink_file", Errno::Success),
        ("path_symlink", Errno::Success),
        ("fd_renumber", Errno::Success),
    ] {
        assert!(count(name, errno) > 0, "no {name} -> {errno:?} in {seen:?}");
    }
}

#[test]
fn hostile_calls_on_huge_memories() {
    // Memories of 4 GiB and more (sparse fakes): pointer arithmetic at the top of the 32-bit
    // space. Fewer iterations: a call may legitimately move gigabytes.
    let opts = Options {
        huge_memories: true,
        max_calls: 4,
        max_work: 1 << 20,
    };
    run_many(0x5eed_0002, 5_000, &opts);
}
