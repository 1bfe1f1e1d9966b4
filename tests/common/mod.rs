//! Shared machinery of the test suites: the Go fixtures, their expected outputs, a per-engine
//! module cache (each fixture compiled once per test binary), and recording clocks.

#![allow(dead_code)]

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use go_reactor::wasi_min::clock::{Clock, SystemClock};
use go_reactor::wasi_min::fs::MemFs;
use go_reactor::wasi_min::sink::SharedBuffer;
use go_reactor::{Module, ReactorConfig, WasmEngine};

/// Every fixture built by guests/build.sh, except `random` (the values it prints to stderr
/// differ on every run by design; tests/snapshot.rs uses it).
pub const FIXTURES: &[&str] = &[
    "hello",
    "timers",
    "exit",
    "panic",
    "deadlock",
    "busy",
    "args-env",
    "stdout-big",
    "exports",
    "hostcall",
    "initsleep",
    "legacy-hello",
    "cpu",
    "pingpong",
    "hostloop",
    "cryptorand",
    "stdin-lines",
    "files",
];

pub fn guests_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("guests")
}

pub fn wasm_bytes(name: &str) -> Vec<u8> {
    let path = guests_dir().join("wasm").join(format!("{name}.wasm"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read fixture {}: {e} (run guests/build.sh)", path.display()))
}

/// What a fixture is expected to do, from guests/programs/<name>/expected/.
#[derive(Debug, Clone)]
pub struct Expected {
    /// `expected/stdout`: the exact bytes. Every fixture has it or, for output too big to
    /// commit, `stdout.sha256` (then this is `None`); a fixture with neither fails to load.
    pub stdout: Option<Vec<u8>>,
    /// `expected/stdout.sha256`: the SHA-256 (hex) of the whole stdout.
    pub stdout_sha256: Option<String>,
    pub exit: ExpectedExit,
    pub stderr_contains: Vec<String>,
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
    /// What the fixture reads on stdin (expected/stdin; none: empty).
    pub stdin: Option<Vec<u8>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExpectedExit {
    Code(i32),
    Deadlock,
    Idle,
}

fn lines(path: PathBuf) -> Vec<String> {
    std::fs::read_to_string(path)
        .map(|s| s.lines().map(str::to_string).collect())
        .unwrap_or_default()
}

pub fn expected(name: &str) -> Expected {
    let dir = guests_dir().join("programs").join(name).join("expected");
    let exit = std::fs::read_to_string(dir.join("exit")).expect("expected/exit");
    let exit = match exit.trim() {
        "deadlock" => ExpectedExit::Deadlock,
        "idle" => ExpectedExit::Idle,
        n => ExpectedExit::Code(n.parse().expect("exit code")),
    };
    let stdout = std::fs::read(dir.join("stdout")).ok();
    let stdout_sha256 = std::fs::read_to_string(dir.join("stdout.sha256"))
        .ok()
        .map(|s| s.trim().to_string());
    assert!(
        stdout.is_some() || stdout_sha256.is_some(),
        "{name}: expected/stdout (or stdout.sha256) is missing: an output that is not compared is not tested"
    );
    Expected {
        stdout,
        stdout_sha256,
        exit,
        stderr_contains: lines(dir.join("stderr-contains")),
        args: lines(dir.join("args")),
        env: lines(dir.join("env"))
            .into_iter()
            .filter_map(|l| l.split_once('=').map(|(k, v)| (k.into(), v.into())))
            .collect(),
        stdin: std::fs::read(dir.join("stdin")).ok(),
    }
}

/// Compiled fixtures for one engine: each compiled at most once per test binary.
pub struct Fixtures<E: WasmEngine> {
    engine: E,
    cache: Mutex<HashMap<String, Arc<OnceLock<Module<E>>>>>,
}

impl<E: WasmEngine + Default> Default for Fixtures<E> {
    fn default() -> Self {
        Self {
            engine: E::default(),
            cache: Mutex::default(),
        }
    }
}

impl<E: WasmEngine> Fixtures<E> {
    pub fn engine(&self) -> &E {
        &self.engine
    }
    pub fn module(&self, name: &str) -> Module<E> {
        let cell = self.cache.lock().unwrap().entry(name.to_string()).or_default().clone();
        cell.get_or_init(|| Module::new(&self.engine, &wasm_bytes(name)).unwrap_or_else(|e| panic!("compile {name}: {e}")))
            .clone()
    }
}

/// Captured stdio plus a clock that records every sleep the guest asks for (`poll_oneoff`).
#[derive(Clone, Default)]
pub struct Io {
    pub stdout: SharedBuffer,
    pub stderr: SharedBuffer,
    pub sleeps: RecordingClock,
}

impl Io {
    /// A configuration for fixture `name`: argv[0] = name, then its expected args, env and stdin,
    /// and an empty in-memory `/tmp` (Go programs expect `os.TempDir()` to exist).
    pub fn config(&self, name: &str) -> ReactorConfig {
        let exp = expected(name);
        ReactorConfig::new()
            .memory_fs(MemFs::new(), "/tmp")
            .arg(name)
            .args(&exp.args)
            .envs(exp.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(std::io::Cursor::new(exp.stdin.unwrap_or_default()))
            .stdout(self.stdout.clone())
            .stderr(self.stderr.clone())
            .clock(self.sleeps.clone())
    }
}

/// The system clock, recording the durations of guest sleeps.
#[derive(Clone, Default)]
pub struct RecordingClock {
    inner: SystemClock,
    pub slept: Arc<Mutex<Vec<Duration>>>,
}

impl RecordingClock {
    pub fn sleeps(&self) -> Vec<Duration> {
        self.slept.lock().unwrap().clone()
    }
    pub fn clear(&self) {
        self.slept.lock().unwrap().clear();
    }
}

impl Clock for RecordingClock {
    fn realtime_ns(&self) -> u64 {
        self.inner.realtime_ns()
    }
    fn monotonic_ns(&self) -> u64 {
        self.inner.monotonic_ns()
    }
    fn sleep(&self, d: Duration) {
        self.slept.lock().unwrap().push(d);
        self.inner.sleep(d);
    }
}

/// The SHA-256 of `bytes`, in lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// Checks `got` against fixture `name`'s expected stdout (bytes, or their SHA-256).
pub fn check_stdout(name: &str, exp: &Expected, got: &[u8]) {
    match (&exp.stdout, &exp.stdout_sha256) {
        (Some(want), _) => assert_eq!(String::from_utf8_lossy(got), String::from_utf8_lossy(want), "{name}: stdout"),
        (None, Some(sha)) => assert_eq!(&sha256_hex(got), sha, "{name}: SHA-256 of stdout"),
        (None, None) => unreachable!("expected() refuses a fixture without an expected stdout"),
    }
}

/// Parses stdout-big's last line `sha256 <hex> bytes <n>` and checks it against what preceded it.
pub fn check_big_output(out: &[u8]) {
    use sha2::Digest;
    let body_end = out[..out.len() - 1].iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    let (body, last) = out.split_at(body_end);
    let last = std::str::from_utf8(last).expect("utf-8 checksum line");
    let parts: Vec<&str> = last.split_whitespace().collect();
    assert_eq!(parts.len(), 4, "checksum line: {last:?}");
    assert_eq!(parts[0], "sha256");
    assert_eq!(parts[3].parse::<usize>().unwrap(), body.len(), "byte count");
    let digest = sha2::Sha256::digest(body);
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(parts[1], hex, "sha256 of the output");
    assert!(body.len() >= 4 << 20, "several MiB of output");
}
