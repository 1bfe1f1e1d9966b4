//! Time sources: an injectable [`Clock`] so tests (and hosts without `std::time`) control time.

use std::time::Duration;

/// The guest's view of time, and how the host waits.
///
/// `poll_oneoff` clock subscriptions call [`sleep`](Clock::sleep); `clock_time_get` reads
/// [`realtime_ns`](Clock::realtime_ns) and [`monotonic_ns`](Clock::monotonic_ns).
pub trait Clock: Send {
    /// Wall-clock time in nanoseconds since the Unix epoch.
    fn realtime_ns(&self) -> u64;
    /// A monotonic time in nanoseconds from an arbitrary origin; never goes backwards.
    fn monotonic_ns(&self) -> u64;
    /// Blocks the calling thread for `d` (a guest sleeping outside a tick, e.g. in a package `init`).
    fn sleep(&self, d: Duration);
}

/// The host's real clocks (`std::time`), sleeping with `std::thread::sleep`.
#[cfg(feature = "std-clock")]
#[derive(Debug, Clone, Copy)]
pub struct SystemClock {
    origin: std::time::Instant,
}

#[cfg(feature = "std-clock")]
impl Default for SystemClock {
    fn default() -> Self {
        Self {
            origin: std::time::Instant::now(),
        }
    }
}

#[cfg(feature = "std-clock")]
impl Clock for SystemClock {
    fn realtime_ns(&self) -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos().min(u64::MAX as u128) as u64)
    }
    fn monotonic_ns(&self) -> u64 {
        // Start at 1 s rather than 0 so guests never see a zero monotonic time.
        (self.origin.elapsed().as_nanos() as u64).saturating_add(1_000_000_000)
    }
    fn sleep(&self, d: Duration) {
        std::thread::sleep(d);
    }
}

/// A clock that only moves when someone sleeps on it: deterministic time for tests.
///
/// `sleep` advances both clocks instantly instead of blocking.
#[derive(Debug, Clone, Default)]
pub struct ManualClock {
    now: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl ManualClock {
    /// A clock starting at `start_ns` on both time lines.
    pub fn new(start_ns: u64) -> Self {
        Self {
            now: std::sync::Arc::new(start_ns.into()),
        }
    }
    /// Moves time forward by `d`.
    pub fn advance(&self, d: Duration) {
        self.now.fetch_add(d.as_nanos() as u64, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn realtime_ns(&self) -> u64 {
        self.now.load(std::sync::atomic::Ordering::SeqCst)
    }
    fn monotonic_ns(&self) -> u64 {
        self.realtime_ns()
    }
    fn sleep(&self, d: Duration) {
        self.advance(d);
    }
}
