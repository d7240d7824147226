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
    fn it_keeps_pace_with_the_precise_clock() {
        let (start, precise) = (now_ms(), std::time::Instant::now());
        std::thread::sleep(std::time::Duration::from_millis(120));
        let (coarse, precise) = (now_ms() - start, precise.elapsed().as_millis() as u64);
        // Within two ticks of each other (ticks are 1 to 10 ms).
        assert!(
            coarse.abs_diff(precise) <= 25,
            "coarse {coarse} ms, precise {precise} ms"
        );
        assert!(coarse >= 100, "coarse {coarse} ms");
    }
}
