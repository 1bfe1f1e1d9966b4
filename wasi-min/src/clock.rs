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

/// A clock whose monotonic time continues from a given reading: what a guest restored from a
/// snapshot sees (see `WasiCtx::continue_monotonic_from`). Wall-clock time and sleeping are the
/// inner clock's.
pub struct ContinuedClock {
    inner: Box<dyn Clock>,
    /// Added to the inner clock's monotonic time (may be negative).
    offset: i128,
}

impl ContinuedClock {
    /// Wraps `inner` so that its monotonic time reads `from_ns` now.
    pub fn new(inner: Box<dyn Clock>, from_ns: u64) -> Self {
        let offset = i128::from(from_ns) - i128::from(inner.monotonic_ns());
        Self { inner, offset }
    }
}

impl std::fmt::Debug for ContinuedClock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ContinuedClock")
            .field("offset", &self.offset)
            .finish_non_exhaustive()
    }
}

impl Clock for ContinuedClock {
    fn realtime_ns(&self) -> u64 {
        self.inner.realtime_ns()
    }
    fn monotonic_ns(&self) -> u64 {
        (i128::from(self.inner.monotonic_ns()) + self.offset).clamp(0, i128::from(u64::MAX)) as u64
    }
    fn sleep(&self, d: Duration) {
        self.inner.sleep(d);
    }
}
