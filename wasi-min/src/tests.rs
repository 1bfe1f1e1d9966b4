//! Engine-independent tests of the preview1 functions over a plain byte vector as guest memory.

use std::time::Duration;

use crate::clock::ManualClock;
use crate::preview1::{FUNCTIONS, function};
use crate::random::SeededRandom;
use crate::sink::SharedBuffer;
use crate::{Errno, Exit, GuestMemory, WasiCtx};

fn ctx() -> (WasiCtx, SharedBuffer, SharedBuffer, ManualClock) {
    let (out, err, clock) = (SharedBuffer::new(), SharedBuffer::new(), ManualClock::new(1_000));
    let ctx = WasiCtx::builder()
        .args(["prog", "a b", "ü"])
        .env("K", "V")
        .stdout(out.clone())
        .stderr(err.clone())
        .clock(clock.clone())
        .random(SeededRandom::new(7))
        .build();
    (ctx, out, err, clock)
}

fn call(ctx: &mut WasiCtx, mut mem: &mut [u8], name: &str, args: &[u64]) -> Result<Errno, Exit> {
    function(name).unwrap().call(ctx, &mut mem, args)
}

#[test]
fn table_is_complete_and_well_formed() {
    assert_eq!(FUNCTIONS.len(), 46);
    for f in FUNCTIONS {
        let expect_results = if f.name == "proc_exit" { 0 } else { 1 };
        assert_eq!(f.results.len(), expect_results, "{}", f.name);
    }
    assert_eq!(function("clock_time_get").unwrap().params.len(), 3);
    assert_eq!(function("path_open").unwrap().params.len(), 9);
}

#[test]
fn args_round_trip() {
    let (mut c, ..) = ctx();
    let mut mem = vec![0u8; 256];
    assert_eq!(call(&mut c, &mut mem, "args_sizes_get", &[0, 4]), Ok(Errno::Success));
    assert_eq!(mem.read_u32(0), Ok(3));
    assert_eq!(mem.read_u32(4), Ok(5 + 4 + 3));
    assert_eq!(call(&mut c, &mut mem, "args_get", &[16, 64]), Ok(Errno::Success));
    assert_eq!(mem.read_u32(20), Ok(69));
    assert_eq!(&mem[64..76], b"prog\0a b\0\xc3\xbc\0");
    assert_eq!(call(&mut c, &mut mem, "environ_get", &[16, 64]), Ok(Errno::Success));
    assert_eq!(&mem[64..68], b"K=V\0");
}

#[test]
fn args_into_last_bytes_of_memory_fault() {
    let (mut c, ..) = ctx();
    let mut mem = vec![0u8; 65536];
    assert_eq!(call(&mut c, &mut mem, "args_get", &[0, 65536 - 4]), Ok(Errno::Fault));
    assert_eq!(call(&mut c, &mut mem, "args_get", &[65534, 0]), Ok(Errno::Fault));
    assert_eq!(call(&mut c, &mut mem, "args_sizes_get", &[u32::MAX as u64, 0]), Ok(Errno::Fault));
}

fn iovec(mem: &mut Vec<u8>, at: u64, ptr: u32, len: u32) {
    mem.write_u32(at, ptr).unwrap();
    mem.write_u32(at + 4, len).unwrap();
}

#[test]
fn fd_write_passes_bytes_through_in_order() {
    let (mut c, out, err, _) = ctx();
    let mut mem = vec![0u8; 128];
    mem[64..70].copy_from_slice("é€x".as_bytes());
    // Split a multi-byte character across two iovecs: bytes must pass through untouched.
    iovec(&mut mem, 0, 64, 1);
    iovec(&mut mem, 8, 65, 5);
    assert_eq!(call(&mut c, &mut mem, "fd_write", &[1, 0, 2, 32]), Ok(Errno::Success));
    assert_eq!(mem.read_u32(32), Ok(6));
    assert_eq!(out.contents(), "é€x".as_bytes());
    assert_eq!(call(&mut c, &mut mem, "fd_write", &[2, 0, 1, 32]), Ok(Errno::Success));
    assert_eq!(err.contents(), [0xc3]);
    assert_eq!(call(&mut c, &mut mem, "fd_write", &[0, 0, 1, 32]), Ok(Errno::Badf));
    assert_eq!(call(&mut c, &mut mem, "fd_write", &[7, 0, 1, 32]), Ok(Errno::Badf));
}

#[test]
fn fd_write_hostile_iovecs_fault_without_output() {
    let (mut c, out, ..) = ctx();
    let mut mem = vec![0u8; 128];
    iovec(&mut mem, 0, 64, 4);
    iovec(&mut mem, 8, u32::MAX - 1, 4); // wraps around the address space
    assert_eq!(call(&mut c, &mut mem, "fd_write", &[1, 0, 2, 32]), Ok(Errno::Fault));
    assert!(out.is_empty(), "nothing may be written when a later iovec is bad");
    // A huge iovec count is rejected by the bounds check of the list itself.
    assert_eq!(call(&mut c, &mut mem, "fd_write", &[1, 0, u32::MAX as u64, 32]), Ok(Errno::Fault));
    // Output pointer out of bounds.
    iovec(&mut mem, 8, 64, 4);
    assert_eq!(call(&mut c, &mut mem, "fd_write", &[1, 0, 2, 126]), Ok(Errno::Fault));
    assert!(out.is_empty());
    // Lengths whose sum overflows u32.
    let mut big = vec![0u8; 1 << 20];
    iovec(&mut big, 0, 0, 1 << 20);
    for i in 1..5000u64 {
        iovec(&mut big, 8 * i, 0, 1 << 20);
    }
    assert_eq!(call(&mut c, &mut big, "fd_write", &[1, 0, 5000, 0]), Ok(Errno::Inval));
    assert!(out.is_empty());
}

#[test]
fn fd_read_without_stdin_is_eof_and_writes_nread() {
    let (mut c, ..) = ctx();
    let mut mem = vec![0xffu8; 64];
    iovec(&mut mem, 0, 32, 8);
    assert_eq!(call(&mut c, &mut mem, "fd_read", &[0, 0, 1, 16]), Ok(Errno::Success));
    assert_eq!(mem.read_u32(16), Ok(0));
    let mut c = WasiCtx::builder().stdin(&b"input"[..]).build();
    assert_eq!(call(&mut c, &mut mem, "fd_read", &[0, 0, 1, 16]), Ok(Errno::Success));
    assert_eq!(mem.read_u32(16), Ok(5));
    assert_eq!(&mem[32..37], b"input");
    assert_eq!(call(&mut c, &mut mem, "fd_read", &[1, 0, 1, 16]), Ok(Errno::Badf));
}

#[test]
fn random_get_fills_real_memory() {
    let (mut c, ..) = ctx();
    let mut mem = vec![0u8; 200_000];
    assert_eq!(call(&mut c, &mut mem, "random_get", &[100, 150_000]), Ok(Errno::Success));
    assert!(mem[100..150_100].iter().filter(|&&b| b != 0).count() > 140_000);
    assert!(mem[..100].iter().all(|&b| b == 0));
    assert_eq!(call(&mut c, &mut mem, "random_get", &[199_999, 2]), Ok(Errno::Fault));
}

/// Fail closed: a source that cannot produce random bytes makes `random_get` return EIO and
/// leaves the guest's buffer untouched, never filled with a predictable substitute.
#[test]
fn random_get_fails_closed() {
    let mut c = WasiCtx::builder().random(crate::random::NoRandom).build();
    let mut mem = vec![0u8; 1024];
    assert_eq!(call(&mut c, &mut mem, "random_get", &[100, 64]), Ok(Errno::Io));
    assert!(mem.iter().all(|&b| b == 0));
    // A zero-length request asks the source for nothing, so it succeeds.
    assert_eq!(call(&mut c, &mut mem, "random_get", &[100, 0]), Ok(Errno::Success));
    // Bounds are checked before the source is asked: a bad pointer is still EFAULT.
    assert_eq!(call(&mut c, &mut mem, "random_get", &[1020, 8]), Ok(Errno::Fault));
}

#[test]
fn no_random_reports_its_error() {
    use crate::random::{NoRandom, RandomError, RandomSource};
    assert_eq!(NoRandom.fill(&mut [0; 4]), Err(RandomError::new("no random source (NoRandom)")));
}

#[test]
fn clocks_and_stubs() {
    let (mut c, ..) = ctx();
    let mut mem = vec![0u8; 64];
    assert_eq!(call(&mut c, &mut mem, "clock_time_get", &[1, 0, 8]), Ok(Errno::Success));
    assert_eq!(mem.read_u64(8), Ok(1_000));
    assert_eq!(call(&mut c, &mut mem, "clock_time_get", &[9, 0, 8]), Ok(Errno::Inval));
    assert_eq!(call(&mut c, &mut mem, "clock_time_get", &[0, 0, 60]), Ok(Errno::Fault));
    assert_eq!(call(&mut c, &mut mem, "fd_prestat_get", &[3, 0]), Ok(Errno::Badf));
    assert_eq!(call(&mut c, &mut mem, "path_open", &[3, 0, 0, 0, 0, 0, 0, 0, 0]), Ok(Errno::Badf));
    assert_eq!(call(&mut c, &mut mem, "sock_recv", &[1, 0, 0, 0, 0, 0]), Ok(Errno::NotSock));
    assert_eq!(call(&mut c, &mut mem, "fd_fdstat_get", &[1, 8]), Ok(Errno::Success));
    assert_eq!(mem[8], 2, "stdio is a character device");
    assert_eq!(call(&mut c, &mut mem, "fd_close", &[1]), Ok(Errno::Success));
    assert_eq!(call(&mut c, &mut mem, "fd_fdstat_get", &[1, 8]), Ok(Errno::Badf));
    assert_eq!(call(&mut c, &mut mem, "sched_yield", &[]), Ok(Errno::Success));
}

#[test]
fn proc_exit_reports_the_code() {
    let (mut c, ..) = ctx();
    let mut mem = vec![0u8; 8];
    assert_eq!(call(&mut c, &mut mem, "proc_exit", &[3]), Err(Exit(3)));
    assert_eq!(c.exit_code(), Some(3));
    assert_eq!(call(&mut c, &mut mem, "proc_exit", &[u32::MAX as u64]), Err(Exit(-1)));
}

fn clock_sub(mem: &mut Vec<u8>, at: u64, userdata: u64, id: u32, timeout: u64, abstime: bool) {
    mem.write_u64(at, userdata).unwrap();
    mem[at as usize + 8] = 0;
    mem.write_u32(at + 16, id).unwrap();
    mem.write_u64(at + 24, timeout).unwrap();
    mem.write_u16(at + 40, abstime as u16).unwrap();
}

#[test]
fn poll_oneoff_clock_subscriptions_sleep() {
    let (mut c, _, _, clock) = ctx();
    let mut mem = vec![0u8; 512];
    clock_sub(&mut mem, 0, 11, 1, 5_000_000, false);
    clock_sub(&mut mem, 48, 22, 1, 9_000_000_000, false);
    assert_eq!(call(&mut c, &mut mem, "poll_oneoff", &[0, 200, 2, 400]), Ok(Errno::Success));
    assert_eq!(clock.monotonic_ns(), 1_000 + 5_000_000, "slept until the first timer");
    assert_eq!(mem.read_u32(400), Ok(1));
    assert_eq!(mem.read_u64(200), Ok(11));
    // Absolute deadline in the past: no sleep, fires at once.
    clock_sub(&mut mem, 0, 33, 1, 10, true);
    assert_eq!(call(&mut c, &mut mem, "poll_oneoff", &[0, 200, 1, 400]), Ok(Errno::Success));
    assert_eq!(clock.monotonic_ns(), 1_000 + 5_000_000);
    assert_eq!(mem.read_u64(200), Ok(33));
    clock.advance(Duration::from_secs(1));
}

#[test]
fn poll_oneoff_fd_subscriptions_are_ready_and_hostile_input_faults() {
    let (mut c, _, _, clock) = ctx();
    let mut mem = vec![0u8; 512];
    clock_sub(&mut mem, 0, 1, 1, 1_000_000_000, false);
    mem.write_u64(48, 2).unwrap();
    mem[56] = 2; // fd_write
    mem.write_u32(64, 1).unwrap();
    assert_eq!(call(&mut c, &mut mem, "poll_oneoff", &[0, 200, 2, 400]), Ok(Errno::Success));
    assert_eq!(clock.monotonic_ns(), 1_000, "a ready fd means no sleep");
    assert_eq!(mem.read_u32(400), Ok(1));
    assert_eq!(mem.read_u64(200), Ok(2));
    assert_eq!(call(&mut c, &mut mem, "poll_oneoff", &[0, 200, 0, 400]), Ok(Errno::Inval));
    assert_eq!(
        call(&mut c, &mut mem, "poll_oneoff", &[0, 200, u32::MAX as u64, 400]),
        Ok(Errno::Fault)
    );
    assert_eq!(call(&mut c, &mut mem, "poll_oneoff", &[0, 500, 1, 400]), Ok(Errno::Fault));
    mem[8] = 9; // unknown tag
    assert_eq!(call(&mut c, &mut mem, "poll_oneoff", &[0, 200, 1, 400]), Ok(Errno::Inval));
}

#[test]
fn stderr_panic_line_is_tapped() {
    let (mut c, ..) = ctx();
    let mut mem = vec![0u8; 128];
    for part in ["panic: ", "boom\n"] {
        mem[64..64 + part.len()].copy_from_slice(part.as_bytes());
        iovec(&mut mem, 0, 64, part.len() as u32);
        assert_eq!(call(&mut c, &mut mem, "fd_write", &[2, 0, 1, 32]), Ok(Errno::Success));
    }
    assert_eq!(c.stderr_tap().panic_line(), Some("panic: boom"));
}

/// A stdin source fed by the test through a channel: reads block until something is sent.
#[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
struct Chan(std::sync::mpsc::Receiver<Vec<u8>>);

#[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
impl std::io::Read for Chan {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self.0.recv() {
            Ok(v) => {
                let n = v.len().min(buf.len());
                buf[..n].copy_from_slice(&v[..n]);
                Ok(n)
            }
            Err(_) => Ok(0),
        }
    }
}

/// An fd_read subscription on `fd` at `at`.
fn read_sub(mem: &mut Vec<u8>, at: u64, userdata: u64, fd: u32) {
    mem.write_u64(at, userdata).unwrap();
    mem[at as usize + 8] = 1;
    mem.write_u32(at + 16, fd).unwrap();
}

#[test]
#[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
fn nonblocking_stdin_is_eagain_then_data() {
    let (tx, rx) = std::sync::mpsc::channel();
    let clock = ManualClock::new(1_000);
    let mut c = WasiCtx::builder().stdin(Chan(rx)).clock(clock.clone()).build();
    let mut mem = vec![0u8; 512];
    iovec(&mut mem, 0, 64, 16);
    // Go sets NONBLOCK on stdin first (reading the flags, then setting them).
    assert_eq!(call(&mut c, &mut mem, "fd_fdstat_get", &[0, 200]), Ok(Errno::Success));
    assert_eq!(call(&mut c, &mut mem, "fd_fdstat_set_flags", &[0, 4]), Ok(Errno::Success));
    assert_eq!(call(&mut c, &mut mem, "fd_fdstat_get", &[0, 200]), Ok(Errno::Success));
    assert_eq!(mem.read_u16(202), Ok(4));
    assert!(!c.waiting_for_stdin());
    assert_eq!(call(&mut c, &mut mem, "fd_read", &[0, 0, 1, 16]), Ok(Errno::Again));
    assert!(c.waiting_for_stdin());
    let ready = c.stdin_readiness().expect("a stdin source");
    assert!(!ready.is_ready());
    // poll_oneoff: stdin unready, a 5 ms timer: the timer fires, stdin is not reported.
    read_sub(&mut mem, 256, 7, 0);
    clock_sub(&mut mem, 304, 8, 1, 5_000_000, false);
    assert_eq!(call(&mut c, &mut mem, "poll_oneoff", &[256, 400, 2, 16]), Ok(Errno::Success));
    assert_eq!(mem.read_u32(16), Ok(1));
    assert_eq!(mem.read_u64(400), Ok(8));
    assert!(c.waiting_for_stdin());
    // Input arrives: the readiness handle sees it, then fd_read gets it.
    tx.send(b"line\n".to_vec()).unwrap();
    assert!(ready.wait_timeout(Duration::from_secs(3600)));
    assert!(!c.waiting_for_stdin(), "data arrived since");
    let before = clock.monotonic_ns();
    clock_sub(&mut mem, 304, 8, 1, 3_600_000_000_000, false);
    assert_eq!(call(&mut c, &mut mem, "poll_oneoff", &[256, 400, 2, 16]), Ok(Errno::Success));
    assert_eq!(mem.read_u32(16), Ok(1));
    assert_eq!(mem.read_u64(400), Ok(7), "the stdin subscription");
    assert_eq!(mem[410], 1, "fd_read event");
    assert_eq!(mem.read_u64(416), Ok(5), "bytes ready");
    assert_eq!(clock.monotonic_ns(), before, "a ready fd means no sleep");
    assert_eq!(call(&mut c, &mut mem, "fd_read", &[0, 0, 1, 16]), Ok(Errno::Success));
    assert_eq!(mem.read_u32(16), Ok(5));
    assert_eq!(&mem[64..69], b"line\n");
    // A poll that waits for stdin alone wakes when input comes from another thread.
    let sender = std::thread::spawn(move || {
        tx.send(b"late".to_vec()).unwrap();
        drop(tx);
    });
    assert_eq!(call(&mut c, &mut mem, "poll_oneoff", &[256, 400, 1, 16]), Ok(Errno::Success));
    assert_eq!(mem.read_u64(400), Ok(7));
    sender.join().unwrap();
    assert_eq!(call(&mut c, &mut mem, "fd_read", &[0, 0, 1, 16]), Ok(Errno::Success));
    assert_eq!(&mem[64..68], b"late");
    // End of input (once the reader thread has seen it): reads return 0, and stdin counts as
    // ready.
    assert!(ready.wait_timeout(Duration::from_secs(3600)));
    assert_eq!(call(&mut c, &mut mem, "fd_read", &[0, 0, 1, 16]), Ok(Errno::Success));
    assert_eq!(mem.read_u32(16), Ok(0));
    assert!(ready.is_ready());
}

#[test]
#[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
fn blocking_stdin_waits_for_input() {
    let (tx, rx) = std::sync::mpsc::channel();
    let mut c = WasiCtx::builder().stdin(Chan(rx)).build();
    let mut mem = vec![0u8; 128];
    iovec(&mut mem, 0, 64, 16);
    let sender = std::thread::spawn(move || tx.send(b"abc".to_vec()).unwrap());
    // Without NONBLOCK the read waits (on the reader thread's buffer, not the source).
    assert_eq!(call(&mut c, &mut mem, "fd_read", &[0, 0, 1, 16]), Ok(Errno::Success));
    assert_eq!(mem.read_u32(16), Ok(3));
    sender.join().unwrap();
    // No stdin source: nothing to wait for.
    let c = WasiCtx::builder().build();
    assert!(c.stdin_readiness().is_none());
    assert!(!c.waiting_for_stdin());
}

use crate::clock::Clock as _;

#[test]
fn continued_clock_starts_at_the_saved_reading_and_keeps_wall_time() {
    let (mut ctx, _, _, clock) = ctx();
    ctx.continue_monotonic_from(5_000_000);
    assert_eq!(ctx.clock().monotonic_ns(), 5_000_000);
    assert_eq!(ctx.clock().realtime_ns(), 1_000, "wall-clock time is the host's");
    clock.advance(std::time::Duration::from_nanos(250));
    assert_eq!(ctx.clock().monotonic_ns(), 5_000_250);
    // Continuing from an earlier reading than the host's clock moves it back, never below 0.
    ctx.continue_monotonic_from(10);
    assert_eq!(ctx.clock().monotonic_ns(), 10);
}

#[test]
fn fd_facts_carry_stdio_and_preopens_only() {
    use crate::fs::{MemFs, Preopen};
    use crate::{FdFacts, FdFactsError};
    let build = |guest: &str| {
        WasiCtx::builder()
            .stdout(SharedBuffer::new())
            .preopen(Preopen::memory(MemFs::new(), guest))
            .build()
    };
    let mut ctx = build("/data");
    let facts = ctx.fd_facts().expect("stdio and a preopen");
    assert_eq!(
        facts,
        FdFacts {
            stdio: [Some(0); 3],
            preopens: vec![(3, "/data".into())]
        }
    );
    let mut closed = facts.clone();
    closed.stdio = [Some(4), None, Some(0)];
    closed.preopens.clear();
    ctx.apply_fd_facts(&closed).expect("same preopens");
    assert_eq!(ctx.fd_facts(), Ok(closed), "stdout and the preopen closed, stdin flagged NONBLOCK");
    assert_eq!(
        build("/other").apply_fd_facts(&facts),
        Err(FdFactsError::Preopen {
            fd: 3,
            guest: "/data".into()
        })
    );
}
