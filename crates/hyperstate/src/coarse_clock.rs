//! A monotonic clock read for what needs milliseconds, not nanoseconds, on
//! every operation.
//!
//! On Linux it is `CLOCK_MONOTONIC_COARSE`: the time of the last timer tick
//! (a few milliseconds' resolution), read from the vDSO without touching the
//! hardware clock, several times cheaper than [`Instant::now`] on a virtual
//! machine. Elsewhere it is [`Instant`].

#[cfg(not(target_os = "linux"))]
use std::sync::LazyLock;
#[cfg(not(target_os = "linux"))]
use std::time::Instant;

/// Milliseconds since a fixed point in the past (the same one for the whole
/// process), never going back.
#[cfg(target_os = "linux")]
pub(crate) fn now_ms() -> u64 {
    use rustix::time::{ClockId, clock_gettime};
    let now = clock_gettime(ClockId::MonotonicCoarse);
    let seconds = u64::try_from(now.tv_sec).unwrap_or(0);
    let millis = u64::try_from(now.tv_nsec).unwrap_or(0) / 1_000_000;
    seconds.saturating_mul(1000).saturating_add(millis)
}

/// Milliseconds since a fixed point in the past (the same one for the whole
/// process), never going back.
#[cfg(not(target_os = "linux"))]
pub(crate) fn now_ms() -> u64 {
    static START: LazyLock<Instant> = LazyLock::new(Instant::now);
    u64::try_from(START.elapsed().as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn it_counts_milliseconds_as_the_precise_clock_does() {
        // The coarse interval lies inside the outer precise one and holds the
        // inner one, give or take a tick (1 to 10 ms) and the truncated
        // millisecond: however long the thread waits between the reads.
        let outer = std::time::Instant::now();
        let start = now_ms();
        let inner = std::time::Instant::now();
        std::thread::sleep(std::time::Duration::from_millis(120));
        let inner = inner.elapsed().as_millis() as u64;
        let coarse = now_ms() - start;
        let outer = outer.elapsed().as_millis() as u64;
        assert!(coarse + 11 >= inner, "coarse {coarse} ms, inner {inner} ms");
        assert!(coarse <= outer + 11, "coarse {coarse} ms, outer {outer} ms");
    }
}
