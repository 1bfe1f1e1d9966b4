//! Hostile-input harness for the preview1 functions, shared by the CI property test
//! (`wasi-min/tests/properties.rs`, seeded random inputs) and the cargo-fuzz target
//! (`fuzz/fuzz_targets/wasi_calls.rs`, coverage-guided inputs).
//!
//! [`run`] decodes arbitrary bytes into a guest memory of arbitrary size and content (a sparse
//! fake, so sizes around and beyond 4 GiB cost nothing), a WASI context (args, env, stdin and
//! sinks that misbehave in the ways `Read`/`Write` allow, a manual clock, a cheap random source,
//! a preopened in-memory tree)
//! and a sequence of calls of any of the 46 functions with hostile arguments. After every call it
//! checks, panicking on a violation:
//!
//! - only `proc_exit` ends the guest, with the code it was given; the errno is a defined one;
//! - `EFAULT` exactly when some memory access was refused, and then the call had no effect:
//!   memory unchanged, nothing written to the sinks, nothing consumed from stdin;
//! - memory changed only inside the ranges the function may write (its output cells, the
//!   buffers it fills), never elsewhere;
//! - the results are right: `fd_write` passes exactly the iovec bytes to the sink in order and
//!   reports their count, `fd_read` stores exactly what it consumed, args/environ round-trip,
//!   `random_get` fills exactly its buffer;
//! - descriptors the model does not know open are `EBADF`; `fd_close`, `fd_renumber` and
//!   `path_open` (lowest free number) change the table as POSIX says;
//! - stdin (read by a background thread) reaches the guest in order, nothing lost or repeated;
//! - the file system: the guest gets a preopen of `jail/` in an in-memory tree (sometimes
//!   read-only) with files, directories and symlinks in, out and in a loop, and paths built from
//!   those names and every escape shape (`..`, absolute, through outward links). Nothing of
//!   `outside/` beside it is ever read into guest memory or changed, and a read-only jail never
//!   changes;
//! - time moves only inside `poll_oneoff` (a manual clock: a huge timeout never blocks).

#![allow(dead_code)]

use std::cell::Cell;
use std::collections::BTreeMap;
use std::io::{self, Read, Write};
use std::sync::{Arc, Mutex, PoisonError};

use wasi_min::clock::{Clock, ManualClock};
use wasi_min::fs::{MemFs, Preopen};
use wasi_min::preview1::{FUNCTIONS, WasiFunction, WasiType};
use wasi_min::random::RandomSource;
use wasi_min::{Errno, Exit, GuestMemory, MemoryError, WasiCtx};

/// How much of a sparse memory's start and end is stored.
const WINDOW: u64 = 64 << 10;
/// Memories up to this size are stored completely.
const DENSE_MAX: u64 = 256 << 10;
/// Sink bytes kept for exact comparison (beyond that only length and hash).
const SINK_KEEP: usize = 1 << 20;
/// The byte the fake random source fills with.
const RANDOM_BYTE: u8 = 0xa5;

/// What the decoder may produce.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Allow memories of 4 GiB and more (sparse). Calls on them may move gigabytes through the
    /// sinks, which is slow in unoptimised builds.
    pub huge_memories: bool,
    /// Most calls per input.
    pub max_calls: usize,
    /// Calls that would move more bytes or walk more list entries than this (possible only
    /// with big memories) are skipped: they are linear, not interesting, and slow.
    pub max_work: u64,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            huge_memories: true,
            max_calls: 6,
            max_work: 4 << 20,
        }
    }
}

/// Reads little-endian numbers from the input; missing bytes read as zero.
pub struct Input<'a> {
    data: &'a [u8],
}

impl<'a> Input<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        Self { data }
    }
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }
    pub fn bytes(&mut self, n: usize) -> &'a [u8] {
        let n = n.min(self.data.len());
        let (head, tail) = self.data.split_at(n);
        self.data = tail;
        head
    }
    fn fill<const N: usize>(&mut self) -> [u8; N] {
        let mut b = [0; N];
        let src = self.bytes(N);
        b[..src.len()].copy_from_slice(src);
        b
    }
    pub fn u8(&mut self) -> u8 {
        self.fill::<1>()[0]
    }
    pub fn u16(&mut self) -> u16 {
        u16::from_le_bytes(self.fill())
    }
    pub fn u32(&mut self) -> u32 {
        u32::from_le_bytes(self.fill())
    }
    pub fn u64(&mut self) -> u64 {
        u64::from_le_bytes(self.fill())
    }
}

/// A guest memory of any size, storing only its first and last [`WINDOW`] bytes when larger
/// than [`DENSE_MAX`] (the middle reads as zeros and ignores writes). Counts refused accesses.
#[derive(Clone)]
pub struct FakeMemory {
    size: u64,
    low: Vec<u8>,
    high: Vec<u8>,
    refused: Cell<u64>,
}

impl FakeMemory {
    pub fn new(size: u64) -> Self {
        let (low, high) = if size <= DENSE_MAX { (size, 0) } else { (WINDOW, WINDOW) };
        Self {
            size,
            low: vec![0; low as usize],
            high: vec![0; high as usize],
            refused: Cell::new(0),
        }
    }
    fn high_start(&self) -> u64 {
        self.size - self.high.len() as u64
    }
    fn in_bounds(&self, addr: u64, len: u64) -> bool {
        addr.checked_add(len).is_some_and(|end| end <= self.size)
    }
    fn refuse(&self, addr: u64, len: u64) -> MemoryError {
        self.refused.set(self.refused.get() + 1);
        MemoryError {
            addr,
            len,
            size: self.size,
        }
    }
    /// Calls `f(piece, offset into the access, length)` for each piece of an in-bounds range.
    fn pieces(&self, addr: u64, len: usize, f: impl FnMut(Piece, usize, usize)) {
        pieces(self.size, self.low.len() as u64, self.high.len() as u64, addr, len, f)
    }
    /// Bytes `[addr, addr + len)` that are stored, as `(address, byte)`; used by the checks.
    fn stored_byte(&self, addr: u64) -> Option<u8> {
        if addr < self.low.len() as u64 {
            Some(self.low[addr as usize])
        } else if addr >= self.high_start() && addr < self.size {
            Some(self.high[(addr - self.high_start()) as usize])
        } else {
            None
        }
    }
    /// Reads a range regardless of refusal bookkeeping (for the checks).
    fn peek(&self, addr: u64, len: usize) -> Vec<u8> {
        let mut buf = vec![0; len];
        self.pieces(addr, len, |p, off, n| match p {
            Piece::Low(i) => buf[off..off + n].copy_from_slice(&self.low[i..i + n]),
            Piece::High(i) => buf[off..off + n].copy_from_slice(&self.high[i..i + n]),
            Piece::Void => {}
        });
        buf
    }
    /// A `u32` the guest would read (unstored bytes are zeros), if in bounds.
    fn peek_u32(&self, addr: u64) -> Option<u32> {
        let mut b = [0; 4];
        self.in_bounds(addr, 4).then(|| {
            self.pieces(addr, 4, |p, off, n| match p {
                Piece::Low(i) => b[off..off + n].copy_from_slice(&self.low[i..i + n]),
                Piece::High(i) => b[off..off + n].copy_from_slice(&self.high[i..i + n]),
                Piece::Void => {}
            });
            u32::from_le_bytes(b)
        })
    }
    /// A `u32` whose bytes are all stored (what an output check can see), if any.
    fn stored_u32(&self, addr: u64) -> Option<u32> {
        let bytes: Option<Vec<u8>> = (0..4).map(|i| self.stored_byte(addr.checked_add(i)?)).collect();
        Some(u32::from_le_bytes(bytes?.try_into().ok()?))
    }
    /// A `u64` whose bytes are all stored, if any.
    fn stored_u64(&self, addr: u64) -> Option<u64> {
        let bytes: Option<Vec<u8>> = (0..8).map(|i| self.stored_byte(addr.checked_add(i)?)).collect();
        Some(u64::from_le_bytes(bytes?.try_into().ok()?))
    }
}

/// Splits the in-bounds range `[addr, addr + len)` of a memory of `size` bytes storing its first
/// `low_len` and last `high_len` bytes into pieces, calling `f(piece, offset, length)`.
fn pieces(size: u64, low_len: u64, high_len: u64, addr: u64, len: usize, mut f: impl FnMut(Piece, usize, usize)) {
    let high_start = size - high_len;
    let mut done = 0;
    while done < len {
        let at = addr + done as u64;
        let left = (len - done) as u64;
        let (piece, n) = if at < low_len {
            (Piece::Low(at as usize), left.min(low_len - at))
        } else if at >= high_start {
            (Piece::High((at - high_start) as usize), left.min(size - at))
        } else {
            (Piece::Void, left.min(high_start - at))
        };
        f(piece, done, n as usize);
        done += n as usize;
    }
}

#[derive(Clone, Copy)]
enum Piece {
    Low(usize),
    High(usize),
    Void,
}

impl GuestMemory for FakeMemory {
    fn size(&self) -> u64 {
        self.size
    }
    fn read(&self, addr: u64, buf: &mut [u8]) -> Result<(), MemoryError> {
        if !self.in_bounds(addr, buf.len() as u64) {
            return Err(self.refuse(addr, buf.len() as u64));
        }
        let len = buf.len();
        self.pieces(addr, len, |p, off, n| match p {
            Piece::Low(i) => buf[off..off + n].copy_from_slice(&self.low[i..i + n]),
            Piece::High(i) => buf[off..off + n].copy_from_slice(&self.high[i..i + n]),
            Piece::Void => buf[off..off + n].fill(0),
        });
        Ok(())
    }
    fn write(&mut self, addr: u64, data: &[u8]) -> Result<(), MemoryError> {
        if !self.in_bounds(addr, data.len() as u64) {
            return Err(self.refuse(addr, data.len() as u64));
        }
        let (low, high) = (&mut self.low, &mut self.high);
        pieces(
            self.size,
            low.len() as u64,
            high.len() as u64,
            addr,
            data.len(),
            |p, off, n| match p {
                Piece::Low(i) => low[i..i + n].copy_from_slice(&data[off..off + n]),
                Piece::High(i) => high[i..i + n].copy_from_slice(&data[off..off + n]),
                Piece::Void => {}
            },
        );
        Ok(())
    }
    fn check(&self, addr: u64, len: u64) -> Result<(), MemoryError> {
        if self.in_bounds(addr, len) {
            Ok(())
        } else {
            Err(self.refuse(addr, len))
        }
    }
}

/// How a sink or stdin misbehaves (all of it allowed by `Write`/`Read`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Behaviour {
    Normal,
    /// At most this many bytes per call.
    Short(usize),
    /// Every n-th call is `Interrupted`.
    Interrupted(u64),
    /// Fails once this many bytes went through.
    FailAfter(u64),
    /// `Ok(0)` (a sink that is full; for stdin: end of file).
    Zero,
}

impl Behaviour {
    fn decode(input: &mut Input<'_>) -> Self {
        match input.u8() % 8 {
            0..=2 => Behaviour::Normal,
            3 => Behaviour::Short(1 + input.u8() as usize % 16),
            4 => Behaviour::Interrupted(2 + u64::from(input.u8() % 4)),
            5 => Behaviour::FailAfter(u64::from(input.u16())),
            6 => Behaviour::Zero,
            _ => Behaviour::Short(1),
        }
    }
}

/// What went through a sink: the first [`SINK_KEEP`] bytes, the count and a hash of the rest.
///
/// The hash takes 8 bytes at a time (bytes of an unfinished word wait in `pending`), so it
/// depends only on the byte sequence, not on how writes split it, and a byte-at-a-time loop
/// (slow under the fuzzer's instrumentation) is not needed for gigabyte writes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stream {
    kept: Vec<u8>,
    len: u64,
    hash: u64,
    pending: Vec<u8>,
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;

impl Stream {
    fn new() -> Self {
        Self {
            hash: FNV_OFFSET,
            ..Self::default()
        }
    }
    fn push(&mut self, data: &[u8]) {
        let keep = SINK_KEEP.saturating_sub(self.kept.len()).min(data.len());
        self.kept.extend_from_slice(&data[..keep]);
        self.len += data.len() as u64;
        // Bytes beyond what is kept are compared by hash.
        let mut rest = &data[keep..];
        if !self.pending.is_empty() {
            let take = (8 - self.pending.len()).min(rest.len());
            self.pending.extend_from_slice(&rest[..take]);
            rest = &rest[take..];
            if self.pending.len() < 8 {
                return;
            }
            let word = std::mem::take(&mut self.pending);
            self.mix(&word);
        }
        let mut words = rest.chunks_exact(8);
        for word in &mut words {
            self.mix(word);
        }
        self.pending.extend_from_slice(words.remainder());
    }
    fn mix(&mut self, word: &[u8]) {
        let w = u64::from_le_bytes(word.try_into().expect("8 bytes"));
        self.hash = (self.hash.rotate_left(23) ^ w).wrapping_mul(0x100_0000_01b3);
    }
}

#[derive(Debug)]
struct SinkState {
    stream: Stream,
    behaviour: Behaviour,
    calls: u64,
}

#[derive(Clone)]
struct Sink(Arc<Mutex<SinkState>>);

impl Sink {
    fn new(behaviour: Behaviour) -> Self {
        Self(Arc::new(Mutex::new(SinkState {
            stream: Stream::new(),
            behaviour,
            calls: 0,
        })))
    }
    fn stream(&self) -> Stream {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).stream.clone()
    }
}

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut s = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        s.calls += 1;
        let n = match s.behaviour {
            Behaviour::Normal => buf.len(),
            Behaviour::Short(max) => buf.len().min(max),
            Behaviour::Interrupted(every) if s.calls.is_multiple_of(every) => return Err(io::ErrorKind::Interrupted.into()),
            Behaviour::Interrupted(_) => buf.len(),
            Behaviour::FailAfter(limit) if s.stream.len >= limit => return Err(io::ErrorKind::BrokenPipe.into()),
            Behaviour::FailAfter(limit) => buf.len().min((limit - s.stream.len) as usize),
            Behaviour::Zero => 0,
        };
        s.stream.push(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[derive(Debug)]
struct StdinState {
    data: Vec<u8>,
    pos: usize,
    behaviour: Behaviour,
    calls: u64,
}

#[derive(Clone)]
struct Stdin(Arc<Mutex<StdinState>>);

impl Stdin {
    fn data(&self) -> Vec<u8> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).data.clone()
    }
}

impl Read for Stdin {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut s = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        s.calls += 1;
        let left = s.data.len() - s.pos;
        let n = match s.behaviour {
            Behaviour::Normal => left,
            Behaviour::Short(max) => left.min(max),
            Behaviour::Interrupted(every) if s.calls.is_multiple_of(every) => return Err(io::ErrorKind::Interrupted.into()),
            Behaviour::Interrupted(_) => left,
            Behaviour::FailAfter(limit) if s.pos as u64 >= limit => return Err(io::ErrorKind::Other.into()),
            Behaviour::FailAfter(limit) => left.min((limit - s.pos as u64) as usize),
            Behaviour::Zero => 0,
        }
        .min(buf.len());
        let pos = s.pos;
        buf[..n].copy_from_slice(&s.data[pos..pos + n]);
        s.pos += n;
        Ok(n)
    }
}

/// A random source that is cheap even for gigabytes: fills with [`RANDOM_BYTE`].
struct Constant;

impl RandomSource for Constant {
    fn fill(&mut self, buf: &mut [u8]) -> Result<(), wasi_min::random::RandomError> {
        buf.fill(RANDOM_BYTE);
        Ok(())
    }
}

/// Picks a 32-bit value likely to hit an edge: around 0, the memory size, 2^31, 2^32, or a
/// pointer the input placed data at.
fn interesting_u32(input: &mut Input<'_>, size: u64, anchors: &[u64]) -> u32 {
    let size32 = size.min(1 << 32);
    let near_end = |d: u64| size32.wrapping_sub(d) as u32;
    match input.u8() % 20 {
        0 => 0,
        1 => 1,
        2 => near_end(1),
        3 => size32 as u32,
        4 => near_end(4),
        5 => near_end(8),
        6 => u32::MAX,
        7 => u32::MAX - 7,
        8 => 0x8000_0000,
        9 => 0x7fff_ffff,
        10 | 11 => u32::from(input.u8() % 8),
        12 => u32::from(input.u8()),
        13 if size32 > 0 => (u64::from(input.u32()) % size32) as u32,
        14 => near_end(u64::from(input.u8())),
        15 => 0x2000_0000 + u32::from(input.u8() % 2),
        16..=18 if !anchors.is_empty() => anchors[input.u8() as usize % anchors.len()] as u32,
        _ => input.u32(),
    }
}

fn interesting_u64(input: &mut Input<'_>, size: u64, anchors: &[u64]) -> u64 {
    match input.u8() % 8 {
        0 => 0,
        1 => u64::MAX,
        2 => 1 << 63,
        3 => u64::from(input.u32()),
        4 => u64::MAX - u64::from(input.u8()),
        5 => u64::from(interesting_u32(input, size, anchors)),
        _ => input.u64(),
    }
}

fn decode_size(input: &mut Input<'_>, opts: &Options) -> u64 {
    match input.u8() % 16 {
        0 => 0,
        1..=3 => 1 + u64::from(input.u8()),
        4..=6 => 65536,
        7..=10 => u64::from(input.u16()) + 1,
        11 | 12 => u64::from(input.u32()) % DENSE_MAX + 1,
        13 if opts.huge_memories => 1 << 32,
        14 if opts.huge_memories => (1 << 32) - 1 - u64::from(input.u16()),
        15 if opts.huge_memories => (1 << 33) + u64::from(input.u16()),
        _ => 4096,
    }
}

fn decode_string(input: &mut Input<'_>) -> String {
    let n = input.u8() as usize % 12;
    String::from_utf8_lossy(input.bytes(n)).into_owned()
}

/// Fills the memory with data, numbers near edges, iovec lists and poll subscriptions at
/// chosen places; returns the addresses used (arguments are drawn towards them).
fn decode_memory(input: &mut Input<'_>, mem: &mut FakeMemory) -> (Vec<u64>, Vec<(u64, u64)>) {
    let size = mem.size();
    let mut anchors = Vec::new();
    let mut paths = Vec::new();
    for _ in 0..input.u8() % 12 {
        let at = u64::from(interesting_u32(input, size, &anchors));
        let mut bytes = Vec::new();
        match input.u8() % 7 {
            0 => {
                let n = input.u8() as usize % 64;
                bytes.extend_from_slice(input.bytes(n));
            }
            1 => bytes.extend_from_slice(&interesting_u32(input, size, &anchors).to_le_bytes()),
            2 => bytes.extend_from_slice(&interesting_u64(input, size, &anchors).to_le_bytes()),
            3 => {
                // An iovec list.
                for _ in 0..1 + input.u8() % 6 {
                    bytes.extend_from_slice(&interesting_u32(input, size, &anchors).to_le_bytes());
                    let len = match input.u8() % 4 {
                        0 => interesting_u32(input, size, &anchors),
                        _ => u32::from(input.u8()),
                    };
                    bytes.extend_from_slice(&len.to_le_bytes());
                }
            }
            4 => {
                // poll_oneoff subscriptions: userdata, tag, clock id or fd, timeout, precision, flags.
                for _ in 0..1 + input.u8() % 3 {
                    let mut sub = [0u8; 48];
                    sub[0..8].copy_from_slice(&input.u64().to_le_bytes());
                    sub[8] = input.u8() % 4;
                    sub[16..20].copy_from_slice(&u32::from(input.u8() % 5).to_le_bytes());
                    let timeout = match input.u8() % 4 {
                        0 => u64::from(input.u16()),
                        _ => interesting_u64(input, size, &anchors),
                    };
                    sub[24..32].copy_from_slice(&timeout.to_le_bytes());
                    sub[40..42].copy_from_slice(&u16::from(input.u8() % 3).to_le_bytes());
                    bytes.extend_from_slice(&sub);
                }
            }
            5 => {
                bytes = decode_path(input);
                if mem.in_bounds(at, bytes.len() as u64) {
                    paths.push((at, bytes.len() as u64));
                }
            }
            _ => {}
        }
        let _ = mem.write(at, &bytes);
        anchors.push(at);
    }
    mem.refused.set(0);
    (anchors, paths)
}

/// The guest's view of the tree: a jail it is given, and what lies outside it.
const OUTSIDE_SECRET: &[u8] = b"0uts1de-s3cr3t-m4rk3r";
const OUTSIDE_HIDDEN: &str = "h1dden-0uts1de-d1r";

/// Path components the decoder builds guest paths from: names that exist in the jail (files,
/// directories, links in and out, a loop), names that do not, and every escape shape.
const COMPONENTS: &[&str] = &[
    "f",
    "d",
    "d/e",
    "d/g",
    "ld",
    "out",
    "loop",
    "..",
    ".",
    "",
    "new",
    "x",
    "../outside/secret",
    "/",
    "/etc/passwd",
    "d/../..",
    "ld/../f",
    "d/up",
    "d/up/outside",
    "e",
    "g",
];

/// A path built from [`COMPONENTS`].
fn decode_path(input: &mut Input<'_>) -> Vec<u8> {
    let mut parts = Vec::new();
    for _ in 0..1 + input.u8() % 3 {
        parts.push(COMPONENTS[input.u8() as usize % COMPONENTS.len()]);
    }
    let mut p = parts.join("/").into_bytes();
    if input.u8().is_multiple_of(8) {
        p.push(b'/');
    }
    p
}

/// What the model knows a descriptor is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FdKind {
    Stdin,
    Stdout,
    Stderr,
    /// The preopen, or anything the guest opened.
    Fs,
}

/// The state a run checks against.
struct World {
    ctx: WasiCtx,
    mem: FakeMemory,
    stdout: Sink,
    stderr: Sink,
    stdin: Stdin,
    /// Stdin bytes the guest has received so far (they must be a prefix of the source's data).
    delivered: usize,
    clock: ManualClock,
    args: Vec<Vec<u8>>,
    env: Vec<Vec<u8>>,
    fds: BTreeMap<u32, FdKind>,
    tree: MemFs,
    read_only: bool,
    outside: Snapshot,
    jail: Snapshot,
    outcomes: Vec<Outcome>,
    trace: String,
}

/// What one call returned.
pub type Outcome = (&'static str, Result<Errno, Exit>);

/// A tree's contents as the embedder sees them: path -> listing, file data, or error.
type Snapshot = BTreeMap<String, Result<Vec<u8>, String>>;

fn snapshot(fs: &MemFs, path: &str, depth: u32, out: &mut Snapshot) {
    match fs.read_dir(path) {
        Ok(names) => {
            out.insert(format!("{path}/"), Ok(names.join("\n").into_bytes()));
            if depth > 0 {
                for n in names {
                    snapshot(fs, &format!("{path}/{n}"), depth - 1, out);
                }
            }
        }
        Err(_) => {
            out.insert(path.to_string(), fs.read_file(path).map_err(|e| e.kind().to_string()));
        }
    }
}

fn snap(fs: &MemFs, path: &str) -> Snapshot {
    let mut s = Snapshot::new();
    snapshot(fs, path, 4, &mut s);
    s
}

/// Builds the tree: `jail/` (the preopen) with files, directories and symlinks (made through
/// the guest's own `path_symlink`, below), `outside/` beside it with a secret the guest must
/// never see nor change.
fn build_tree() -> (MemFs, MemFs) {
    let fs = MemFs::with_limit(1 << 20);
    fs.create_dir_all(&format!("outside/{OUTSIDE_HIDDEN}")).expect("tree");
    fs.write_file("outside/secret", OUTSIDE_SECRET).expect("tree");
    fs.create_dir_all("jail/d/e").expect("tree");
    fs.write_file("jail/f", b"file data").expect("tree");
    fs.write_file("jail/d/g", b"more data").expect("tree");
    let jail = fs.subtree("jail").expect("tree");
    (fs, jail)
}

/// Symlinks of the jail, made with `path_symlink` on fd 3: in, out, a loop, and up and out.
fn plant_symlinks(ctx: &mut WasiCtx) {
    let symlink = wasi_min::preview1::function("path_symlink").expect("path_symlink");
    for (target, path) in [("d", "ld"), ("../outside/secret", "out"), ("loop", "loop"), ("../..", "d/up")] {
        let mut mem = vec![0u8; 256];
        mem[..target.len()].copy_from_slice(target.as_bytes());
        mem[128..128 + path.len()].copy_from_slice(path.as_bytes());
        let args = [0, target.len() as u64, 3, 128, path.len() as u64];
        let r = symlink.call(ctx, &mut mem, &args);
        assert_eq!(r, Ok(Errno::Success), "planting {path}");
    }
}

/// Decodes `data` and runs its calls, checking every invariant; returns what the calls returned.
/// Panics on a violation, with the call trace.
pub fn run(data: &[u8], opts: &Options) -> Vec<Outcome> {
    let mut input = Input::new(data);
    let size = decode_size(&mut input, opts);
    let mut mem = FakeMemory::new(size);
    let (anchors, mut paths) = decode_memory(&mut input, &mut mem);
    // A few paths in the middle of memory besides, so path calls often get a real one.
    if size >= 1024 {
        for k in 0..1 + u64::from(input.u8() % 3) {
            let at = size / 2 + 64 * k;
            let p = decode_path(&mut input);
            let _ = mem.write(at, &p);
            paths.push((at, p.len() as u64));
        }
        mem.refused.set(0);
    }

    let args: Vec<String> = (0..input.u8() % 4).map(|_| decode_string(&mut input)).collect();
    let env: Vec<(String, String)> = (0..input.u8() % 3)
        .map(|_| (decode_string(&mut input), decode_string(&mut input)))
        .collect();
    let stdout = Sink::new(Behaviour::decode(&mut input));
    let stderr = Sink::new(Behaviour::decode(&mut input));
    let stdin_behaviour = Behaviour::decode(&mut input);
    let stdin_len = input.u8() as usize % 64;
    let stdin_data = input.bytes(stdin_len).to_vec();
    let stdin = Stdin(Arc::new(Mutex::new(StdinState {
        data: stdin_data,
        pos: 0,
        behaviour: stdin_behaviour,
        calls: 0,
    })));
    let clock = ManualClock::new(match input.u8() % 4 {
        0 => 0,
        1 => u64::MAX - u64::from(input.u16()),
        _ => u64::from(input.u32()) << 16,
    });
    let read_only = input.u8().is_multiple_of(4);
    let (tree, jail) = build_tree();
    // The tree starts the same every run: snapshot it once.
    static INITIAL: std::sync::OnceLock<(Snapshot, Snapshot)> = std::sync::OnceLock::new();
    let initial = INITIAL.get_or_init(|| {
        let (tree, jail) = build_tree();
        let mut setup = WasiCtx::builder().preopen(Preopen::memory(jail, "/")).build();
        plant_symlinks(&mut setup);
        (snap(&tree, "outside"), snap(&tree, "jail"))
    });
    let mut builder = WasiCtx::builder()
        .args(&args)
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .stdout(stdout.clone())
        .stderr(stderr.clone())
        .clock(clock.clone())
        .random(Constant);
    if !input.u8().is_multiple_of(4) {
        builder = builder.stdin(stdin.clone());
    }
    // The symlinks are planted through a writable preopen of the same jail, then the guest's
    // context gets its own (maybe read-only) one.
    let mut setup = WasiCtx::builder()
        .clock(clock.clone())
        .preopen(Preopen::memory(jail.clone(), "/"))
        .build();
    plant_symlinks(&mut setup);
    drop(setup);
    let preopen = Preopen::memory(jail, "/");
    let builder = builder.preopen(if read_only { preopen.read_only() } else { preopen });
    let mut world = World {
        ctx: builder.build(),
        mem,
        stdout,
        stderr,
        stdin,
        delivered: 0,
        clock,
        args: args.iter().map(|a| a.as_bytes().to_vec()).collect(),
        env: env.iter().map(|(k, v)| format!("{k}={v}").into_bytes()).collect(),
        fds: [(0, FdKind::Stdin), (1, FdKind::Stdout), (2, FdKind::Stderr), (3, FdKind::Fs)].into(),
        outside: initial.0.clone(),
        jail: initial.1.clone(),
        tree,
        read_only,
        outcomes: Vec::new(),
        trace: format!("memory size {size:#x}, anchors {anchors:x?}, read-only {read_only}\n"),
    };

    let calls = 1 + input.u8() as usize % opts.max_calls.max(1);
    for _ in 0..calls {
        if input.is_empty() {
            break;
        }
        let f = &FUNCTIONS[input.u8() as usize % FUNCTIONS.len()];
        let fds = fd_params(f.name);
        let small = small_params(f.name);
        let mut args: Vec<u64> = f
            .params
            .iter()
            .enumerate()
            .map(|(i, t)| match t {
                // Descriptors: mostly the preopen for path calls, else mostly stdio, the preopen
                // or what was opened after it.
                WasiType::I32 if fds.contains(&i) && !input.u8().is_multiple_of(4) => {
                    const FDS: [u64; 10] = [0, 1, 2, 3, 4, 5, 1, 2, 1, 2];
                    match input.u8() {
                        b if f.name.starts_with("path_") && b % 2 == 0 => 3,
                        b => FDS[b as usize % FDS.len()],
                    }
                }
                // Output cells: often a small aligned address, likely inside memory.
                WasiType::I32 if Some(i) == out_param(f.name) && !input.u8().is_multiple_of(4) => {
                    (u64::from(input.u8()) * 8) % size.saturating_sub(64).max(1)
                }
                // Iovec lists: often one the decoder placed, with a short count.
                WasiType::I32 if iovec_params(f.name) == Some(i) && !anchors.is_empty() && input.u8().is_multiple_of(2) => {
                    anchors[input.u8() as usize % anchors.len()]
                }
                WasiType::I32 if iovec_params(f.name).map(|p| p + 1) == Some(i) && input.u8().is_multiple_of(2) => {
                    u64::from(1 + input.u8() % 4)
                }
                // Flags: mostly valid ones.
                _ if let Some(&(_, n)) = small.iter().find(|(j, _)| *j == i)
                    && !input.u8().is_multiple_of(4) =>
                {
                    u64::from(input.u8() % n)
                }
                WasiType::I32 => u64::from(interesting_u32(&mut input, size, &anchors)),
                WasiType::I64 => interesting_u64(&mut input, size, &anchors),
            })
            .collect();
        // Paths: mostly one the decoder placed.
        for &(p, l) in path_params(f.name) {
            if !paths.is_empty() && !input.u8().is_multiple_of(8) {
                let (at, len) = paths[input.u8() as usize % paths.len()];
                args[p] = at;
                args[l] = len;
            }
        }
        if work(f.name, &args, &world.mem) > opts.max_work {
            continue;
        }
        if f.name == "path_open" && !input.u8().is_multiple_of(4) {
            // Rights: read, write or both (random ones mostly make create/trunc invalid).
            args[5] = [0x4002, 0x40, 0x4042][input.u8() as usize % 3];
        }
        world.call(f, &args);
        if f.name == "proc_exit" {
            break;
        }
    }
    world.check_tree();
    world.outcomes
}

/// Whether `needle` (a secret from outside the jail) appears where memory changed: only the
/// changed blocks and their neighbourhood are searched, so this stays cheap per call.
fn newly_holds(before: &FakeMemory, after: &FakeMemory, needle: &[u8]) -> bool {
    [(&before.low, &after.low), (&before.high, &after.high)].iter().any(|(old, new)| {
        old.chunks(64).zip(new.chunks(64)).enumerate().any(|(block, (o, n))| {
            if o == n {
                return false;
            }
            let lo = (block * 64).saturating_sub(needle.len());
            let hi = (block * 64 + 64 + needle.len()).min(new.len());
            new[lo..hi].windows(needle.len()).any(|w| w == needle)
        })
    })
}

impl World {
    fn call(&mut self, f: &WasiFunction, args: &[u64]) {
        use std::fmt::Write as _;
        let before_mem = self.mem.clone();
        let (out_before, err_before) = (self.stdout.stream(), self.stderr.stream());
        let time_before = self.clock.monotonic_ns();
        self.mem.refused.set(0);

        let result = f.call(&mut self.ctx, &mut self.mem, args);

        let _ = writeln!(self.trace, "{}({args:x?}) -> {result:?}", f.name);
        self.outcomes.push((f.name, result));
        let trace = &self.trace;
        let refused = self.mem.refused.get();
        let a = |i: usize| args.get(i).copied().unwrap_or(0);

        // Only proc_exit ends the guest.
        let errno = match result {
            Err(Exit(code)) => {
                assert_eq!(f.name, "proc_exit", "{trace}");
                assert_eq!(code, a(0) as u32 as i32, "{trace}");
                assert_eq!(self.ctx.exit_code(), Some(code), "{trace}");
                return;
            }
            Ok(errno) => {
                assert_ne!(f.name, "proc_exit", "{trace}");
                assert!(Errno::ALL.contains(&errno) && errno.raw() <= 76, "{trace}");
                errno
            }
        };

        // EFAULT exactly when an access was refused, and then nothing happened. No failing call
        // writes memory.
        assert_eq!(
            errno == Errno::Fault,
            refused > 0,
            "EFAULT iff a memory access was refused\n{trace}"
        );
        let (out_after, err_after) = (self.stdout.stream(), self.stderr.stream());
        if errno != Errno::Success {
            assert!(same_memory(&before_mem, &self.mem), "a failed call wrote memory\n{trace}");
        }
        if errno == Errno::Fault {
            assert_eq!(out_before, out_after, "EFAULT after writing stdout\n{trace}");
            assert_eq!(err_before, err_after, "EFAULT after writing stderr\n{trace}");
        }

        // Time moves only in poll_oneoff.
        if f.name != "poll_oneoff" {
            assert_eq!(self.clock.monotonic_ns(), time_before, "{trace}");
        }
        // Only fd_write writes to the sinks.
        if f.name != "fd_write" {
            assert_eq!(out_before, out_after, "{trace}");
            assert_eq!(err_before, err_after, "{trace}");
        }

        // Nothing outside the jail is seen or changed; a read-only jail does not change.
        assert!(
            !newly_holds(&before_mem, &self.mem, OUTSIDE_SECRET),
            "the guest read a secret from outside its preopen\n{trace}"
        );
        assert!(
            !newly_holds(&before_mem, &self.mem, OUTSIDE_HIDDEN.as_bytes()),
            "the guest listed a directory outside its preopen\n{trace}"
        );
        // (After every successful file-system call, and once at the end of the run for the
        // failed ones: a tree snapshot per call would dominate the run time.)
        if errno == Errno::Success && (f.name.starts_with("path_") || f.name.starts_with("fd_")) {
            self.check_tree();
        }

        // Descriptors: only those of the model exist.
        for i in fd_params(f.name) {
            let fd = a(i) as u32;
            if !self.fds.contains_key(&fd) {
                assert_eq!(errno, Errno::Badf, "fd {fd} is not open\n{trace}");
            }
        }
        match f.name {
            "fd_close" => {
                let fd = a(0) as u32;
                assert_eq!(errno == Errno::Success, self.fds.contains_key(&fd), "{trace}");
                self.fds.remove(&fd);
            }
            "fd_renumber" => {
                let (from, to) = (a(0) as u32, a(1) as u32);
                let both = self.fds.contains_key(&from) && self.fds.contains_key(&to);
                assert_eq!(errno == Errno::Success, both, "{trace}");
                if both && from != to {
                    let kind = self.fds.remove(&from).expect("open");
                    self.fds.insert(to, kind);
                }
            }
            "path_open" if errno == Errno::Success => {
                // POSIX: the lowest free number.
                let fd = (0..).find(|n| !self.fds.contains_key(n)).expect("a free fd");
                assert!(self.mem.stored_u32(a(8)).is_none_or(|n| n == fd), "not the lowest fd\n{trace}");
                self.fds.insert(fd, FdKind::Fs);
            }
            _ => {}
        }

        // Memory changes only where the function may write, and results are right.
        if errno != Errno::Success && f.name != "fd_write" {
            return;
        }
        let before = Before {
            mem: &before_mem,
            stdout: &out_before,
            stderr: &err_before,
        };
        let allowed = self.check_results(f.name, args, errno, &before, (&out_after, &err_after));
        check_writes(&before_mem, &self.mem, &allowed, &self.trace);
    }

    /// Nothing outside the jail changed; a read-only jail did not change.
    fn check_tree(&self) {
        let trace = &self.trace;
        assert_eq!(snap(&self.tree, "outside"), self.outside, "changed outside the preopen\n{trace}");
        if self.read_only {
            assert_eq!(snap(&self.tree, "jail"), self.jail, "a read-only preopen changed\n{trace}");
        }
    }

    /// Checks a call's results; returns the ranges it may have written.
    fn check_results(
        &mut self,
        name: &str,
        args: &[u64],
        errno: Errno,
        before: &Before<'_>,
        (stdout, stderr): (&Stream, &Stream),
    ) -> Vec<(u64, u64)> {
        let trace = &self.trace;
        let a = |i: usize| args.get(i).copied().unwrap_or(0);
        let ok = errno == Errno::Success;
        let mem = &self.mem;
        let kind = self.fds.get(&(a(0) as u32)).copied();
        match name {
            "args_sizes_get" | "environ_sizes_get" => {
                let list = if name == "args_sizes_get" { &self.args } else { &self.env };
                if ok {
                    let total: u64 = list.iter().map(|s| s.len() as u64 + 1).sum();
                    // The size is written last: where the two cells overlap, it wins.
                    if a(0).abs_diff(a(1)) >= 4 {
                        assert!(mem.stored_u32(a(0)).is_none_or(|n| n == list.len() as u32), "{trace}");
                    }
                    assert!(mem.stored_u32(a(1)).is_none_or(|n| n == total as u32), "{trace}");
                }
                vec![(a(0), 4), (a(1), 4)]
            }
            "args_get" | "environ_get" => {
                let list = if name == "args_get" { &self.args } else { &self.env };
                let total: u64 = list.iter().map(|s| s.len() as u64 + 1).sum();
                if ok {
                    let mut at = a(1);
                    for (i, s) in list.iter().enumerate() {
                        let ptr = a(0) + 4 * i as u64;
                        // Where the pointer array and the strings overlap, later writes win:
                        // check only what is not overwritten.
                        let overlaps = |lo: u64, len: u64| lo < a(1) + total && a(1) < lo + len;
                        if !overlaps(ptr, 4) {
                            assert!(mem.stored_u32(ptr).is_none_or(|p| p == at as u32), "{trace}");
                        }
                        if !overlaps(a(0), 4 * list.len() as u64) {
                            let mut want = s.clone();
                            want.push(0);
                            assert_eq!(mem.peek(at, want.len()), stored_view(mem, at, &want), "{trace}");
                        }
                        at += s.len() as u64 + 1;
                    }
                }
                vec![(a(0), 4 * list.len() as u64), (a(1), total)]
            }
            "clock_res_get" | "clock_time_get" => {
                let out = if name == "clock_res_get" { a(1) } else { a(2) };
                if ok && name == "clock_time_get" {
                    assert!(mem.stored_u64(out).is_none_or(|t| t == self.clock.monotonic_ns()), "{trace}");
                }
                vec![(out, 8)]
            }
            "fd_fdstat_get" => {
                if ok {
                    let want: &[u8] = if kind == Some(FdKind::Fs) { &[3, 4] } else { &[2] };
                    let ty = mem.stored_byte(a(1)).unwrap_or(want[0]);
                    assert!(want.contains(&ty), "filetype {ty}\n{trace}");
                }
                vec![(a(1), 24)]
            }
            "fd_filestat_get" | "path_filestat_get" => vec![(if name == "fd_filestat_get" { a(1) } else { a(4) }, 64)],
            "fd_prestat_get" => vec![(a(1), 8)],
            "fd_prestat_dir_name" => vec![(a(1), a(2))],
            "fd_seek" => vec![(a(3), 8)],
            "fd_tell" => vec![(a(1), 8)],
            "fd_pwrite" => vec![(a(4), 4)],
            "path_open" => vec![(a(8), 4)],
            "path_readlink" => vec![(a(3), a(4)), (a(5), 4)],
            "fd_readdir" => {
                if ok {
                    assert!(mem.stored_u32(a(4)).is_none_or(|n| u64::from(n) <= a(2)), "bufused\n{trace}");
                }
                vec![(a(1), a(2)), (a(4), 4)]
            }
            "fd_pread" => {
                let mut allowed = vec![(a(4), 4)];
                for_each_iovec(before.mem, a(1), a(2), |ptr, len| {
                    allowed.push((ptr, u64::from(len)));
                    true
                });
                allowed
            }
            "fd_write" if kind == Some(FdKind::Stdout) || kind == Some(FdKind::Stderr) => {
                let (iovs, n, out) = (a(1), a(2), a(3));
                let (sink_before, sink_after) = if kind == Some(FdKind::Stdout) {
                    (before.stdout, stdout)
                } else {
                    (before.stderr, stderr)
                };
                if ok {
                    let total = iovec_total(before.mem, iovs, n).expect("fd_write succeeded with invalid iovecs");
                    assert!(mem.stored_u32(out).is_none_or(|n| u64::from(n) == total), "nwritten\n{trace}");
                    let mut want = sink_before.clone();
                    for_each_iovec(before.mem, iovs, n, |ptr, len| {
                        let mut at = ptr;
                        let mut left = u64::from(len);
                        while left > 0 {
                            let step = left.min(1 << 20);
                            want.push(&before.mem.peek(at, step as usize));
                            at += step;
                            left -= step;
                        }
                        true
                    });
                    assert_eq!(&want, sink_after, "fd_write must pass every byte, in order\n{trace}");
                } else if errno == Errno::Io {
                    let total = iovec_total(before.mem, iovs, n).expect("EIO after validating the iovecs");
                    assert!(sink_after.len <= sink_before.len + total, "{trace}");
                } else {
                    assert_eq!(sink_before, sink_after, "a failed fd_write wrote\n{trace}");
                }
                vec![(out, 4)]
            }
            "fd_write" => vec![(a(3), 4)],
            "fd_read" if kind == Some(FdKind::Stdin) => {
                let (iovs, n, out) = (a(1), a(2), a(3));
                let mut allowed = vec![(out, 4)];
                // One read, into the first non-empty buffer.
                let mut first = None;
                for_each_iovec(before.mem, iovs, n, |ptr, len| {
                    if len > 0 {
                        first = Some((ptr, len));
                    }
                    first.is_none()
                });
                if let Some((ptr, len)) = first {
                    allowed.push((ptr, u64::from(len)));
                }
                // What was read comes next in the source's data: nothing lost, nothing repeated.
                let nread = mem.stored_u32(out);
                if let (Some(nread), Some((ptr, len))) = (nread, first) {
                    assert!(nread <= len, "{trace}");
                    let data = self.stdin.data();
                    let end = self.delivered + nread as usize;
                    assert!(end <= data.len(), "more stdin than the source has\n{trace}");
                    let got = &data[self.delivered..end];
                    let clobbered = out < ptr + u64::from(nread) && ptr < out + 4;
                    if !clobbered {
                        assert_eq!(mem.peek(ptr, got.len()), stored_view(mem, ptr, got), "stdin data\n{trace}");
                    }
                    self.delivered = end;
                } else if first.is_none() {
                    assert!(nread.is_none_or(|n| n == 0), "{trace}");
                }
                allowed
            }
            "fd_read" => {
                let mut allowed = vec![(a(3), 4)];
                for_each_iovec(before.mem, a(1), a(2), |ptr, len| {
                    allowed.push((ptr, u64::from(len)));
                    true
                });
                allowed
            }
            "poll_oneoff" => {
                let (events, nsubs, out) = (a(1), a(2), a(3));
                if ok {
                    assert!(mem.stored_u32(out).is_none_or(|n| u64::from(n) <= nsubs), "{trace}");
                }
                vec![(events, 32 * nsubs), (out, 4)]
            }
            "random_get" => {
                let (buf, len) = (a(0), a(1));
                if ok {
                    assert!(
                        stored_slices(mem, buf, len).iter().all(|s| s.iter().all(|&b| b == RANDOM_BYTE)),
                        "{trace}"
                    );
                }
                vec![(buf, len)]
            }
            _ => vec![],
        }
    }
}

/// Roughly how many bytes a call would go through (lists it walks, data it moves). Only calls
/// on big memories can make this large: the work is bounded by the guest's memory size.
fn work(name: &str, args: &[u64], mem: &FakeMemory) -> u64 {
    let a = |i: usize| args.get(i).copied().unwrap_or(0);
    let list = |at: u64, n: u64, entry: u64| if mem.in_bounds(at, entry * n) { entry * n } else { 0 };
    match name {
        // Walking a long list to sum it is itself work: only sum lists that are short.
        "fd_write" | "fd_pwrite" => match list(a(1), a(2), 8) {
            n if n <= 1 << 20 => n + iovec_total(mem, a(1), a(2)).unwrap_or(0),
            n => n,
        },
        "fd_read" | "fd_pread" => list(a(1), a(2), 8),
        "poll_oneoff" => list(a(0), a(2), 48),
        "random_get" => list(a(0), a(1), 1),
        "fd_readdir" => list(a(1), a(2), 1),
        _ => 0,
    }
}

/// Which parameters of a function are descriptors.
fn fd_params(name: &str) -> Vec<usize> {
    match name {
        "path_symlink" => vec![2],
        "path_link" => vec![0, 4],
        "path_rename" => vec![0, 3],
        "fd_renumber" => vec![0, 1],
        n if n.starts_with("fd_") || n.starts_with("path_") || n.starts_with("sock_") => vec![0],
        _ => vec![],
    }
}

/// Flag parameters, and how many values make sense for them: drawn mostly in range.
fn small_params(name: &str) -> &'static [(usize, u8)] {
    match name {
        "path_open" => &[(1, 2), (4, 16), (7, 32)],
        "path_filestat_get" | "path_link" => &[(1, 2)],
        "path_filestat_set_times" => &[(1, 2), (6, 16)],
        "fd_filestat_set_times" => &[(3, 16)],
        "fd_fdstat_set_flags" => &[(1, 32)],
        "fd_seek" => &[(2, 3)],
        "fd_advise" => &[(3, 6)],
        _ => &[],
    }
}

/// The parameter of a function that points at its output cell, if it has one.
fn out_param(name: &str) -> Option<usize> {
    match name {
        "fd_fdstat_get" | "fd_filestat_get" | "fd_prestat_get" | "fd_tell" => Some(1),
        "fd_read" | "fd_write" | "fd_seek" => Some(3),
        "fd_pread" | "fd_pwrite" | "fd_readdir" | "path_filestat_get" => Some(4),
        "path_readlink" => Some(5),
        "path_open" => Some(8),
        _ => None,
    }
}

/// The parameter holding an iovec list (the count follows it).
fn iovec_params(name: &str) -> Option<usize> {
    matches!(name, "fd_read" | "fd_write" | "fd_pread" | "fd_pwrite").then_some(1)
}

/// `(pointer, length)` parameter pairs of a function that name paths.
fn path_params(name: &str) -> &'static [(usize, usize)] {
    match name {
        "path_create_directory" | "path_remove_directory" | "path_unlink_file" | "path_readlink" => &[(1, 2)],
        "path_filestat_get" | "path_filestat_set_times" | "path_open" => &[(2, 3)],
        "path_link" => &[(2, 3), (5, 6)],
        "path_rename" => &[(1, 2), (4, 5)],
        "path_symlink" => &[(0, 1), (3, 4)],
        _ => &[],
    }
}

/// The state before a call.
struct Before<'a> {
    mem: &'a FakeMemory,
    stdout: &'a Stream,
    stderr: &'a Stream,
}

/// The stored part of `want` placed at `addr` (unstored bytes read as zero).
fn stored_view(mem: &FakeMemory, addr: u64, want: &[u8]) -> Vec<u8> {
    want.iter()
        .enumerate()
        .map(|(i, &b)| if mem.stored_byte(addr + i as u64).is_some() { b } else { 0 })
        .collect()
}

/// The stored parts of the in-bounds range `[addr, addr + len)`.
fn stored_slices(mem: &FakeMemory, addr: u64, len: u64) -> Vec<&[u8]> {
    let end = addr + len;
    let mut v = Vec::new();
    let low_end = mem.low.len() as u64;
    if addr < low_end {
        v.push(&mem.low[addr as usize..end.min(low_end) as usize]);
    }
    let hs = mem.high_start().max(low_end);
    if end > hs {
        let from = addr.max(hs) - mem.high_start();
        v.push(&mem.high[from as usize..(end - mem.high_start()) as usize]);
    }
    v
}

/// Calls `f(ptr, len)` for each iovec of a list, stopping at one that is out of bounds or when
/// `f` returns false.
fn for_each_iovec(mem: &FakeMemory, iovs: u64, n: u64, mut f: impl FnMut(u64, u32) -> bool) {
    for i in 0..n {
        let at = iovs + 8 * i;
        let (Some(ptr), Some(len)) = (mem.peek_u32(at), mem.peek_u32(at + 4)) else {
            return;
        };
        if !mem.in_bounds(u64::from(ptr), u64::from(len)) {
            return;
        }
        if !f(u64::from(ptr), len) {
            return;
        }
    }
}

/// The total length of an iovec list if every entry is valid and the total fits in u32.
fn iovec_total(mem: &FakeMemory, iovs: u64, n: u64) -> Option<u64> {
    if !mem.in_bounds(iovs, 8 * n) {
        return None;
    }
    let (mut total, mut valid) = (0u64, 0u64);
    for_each_iovec(mem, iovs, n, |_, len| {
        total += u64::from(len);
        valid += 1;
        true
    });
    (valid == n && total <= u64::from(u32::MAX)).then_some(total)
}

fn same_memory(a: &FakeMemory, b: &FakeMemory) -> bool {
    a.low == b.low && a.high == b.high
}

/// Checks that every stored byte that changed lies in one of the `allowed` ranges.
fn check_writes(before: &FakeMemory, after: &FakeMemory, allowed: &[(u64, u64)], trace: &str) {
    let in_allowed = |addr: u64| allowed.iter().any(|&(lo, len)| addr >= lo && addr - lo < len);
    for (base, old, new) in [(0, &before.low, &after.low), (before.high_start(), &before.high, &after.high)] {
        // Compare in blocks (fast even unoptimised), bytes only inside differing blocks.
        for (block, (o, n)) in old.chunks(64).zip(new.chunks(64)).enumerate() {
            if o == n {
                continue;
            }
            for (i, (x, y)) in o.iter().zip(n).enumerate() {
                let addr = base + (block * 64 + i) as u64;
                assert!(
                    x == y || in_allowed(addr),
                    "stray write at {addr:#x} (allowed {allowed:x?})\n{trace}"
                );
            }
        }
    }
}
