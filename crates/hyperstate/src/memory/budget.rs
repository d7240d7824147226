//! A byte budget shared by all pages of one memory store.

use std::sync::atomic::{AtomicUsize, Ordering};

/// Bytes in use against a fixed limit. Reservations are lock-free so that the hot
/// path (a write that fits) costs one compare-and-swap. The `bytes` gauge mirrors
/// the count for the metrics system to within [`GAUGE_STEP`].
#[derive(Debug)]
pub(super) struct Budget {
    limit: usize,
    used: AtomicUsize,
    gauge: metrics::Gauge,
    /// The count the gauge was last set to.
    reported: AtomicUsize,
}

/// The gauge is set again once the count has moved this far from what it
/// shows, or reaches or leaves zero. Setting it on every write would make
/// every write on every core store to one shared cache line (two, with the
/// exporter's bookkeeping); against a limit of megabytes, 64 KiB is noise.
const GAUGE_STEP: usize = 64 * 1024;

impl Budget {
    pub(super) fn new(limit: usize, gauge: metrics::Gauge) -> Self {
        Budget {
            limit,
            used: AtomicUsize::new(0),
            gauge,
            reported: AtomicUsize::new(0),
        }
    }

    pub(super) fn limit(&self) -> usize {
        self.limit
    }

    pub(super) fn used(&self) -> usize {
        self.used.load(Ordering::Relaxed)
    }

    /// Takes `n` bytes if they fit under the limit.
    pub(super) fn try_take(&self, n: usize) -> bool {
        let taken = self
            .used
            .fetch_update(Ordering::AcqRel, Ordering::Relaxed, |used| {
                used.checked_add(n).filter(|&total| total <= self.limit)
            });
        if let Ok(before) = taken {
            self.report(before + n);
        }
        taken.is_ok()
    }

    /// Gives back `n` bytes taken earlier.
    pub(super) fn give_back(&self, n: usize) {
        let before = self.used.fetch_sub(n, Ordering::AcqRel);
        self.report(before - n);
    }

    fn report(&self, used: usize) {
        let shown = self.reported.load(Ordering::Relaxed);
        if used.abs_diff(shown) >= GAUGE_STEP || (used == 0) != (shown == 0) {
            self.reported.store(used, Ordering::Relaxed);
            self.gauge.set(used as f64);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn takes_only_what_fits() {
        let budget = Budget::new(10, metrics::Gauge::noop());
        assert!(budget.try_take(6));
        assert!(!budget.try_take(5));
        assert!(budget.try_take(4));
        assert_eq!(budget.used(), 10);
        budget.give_back(10);
        assert_eq!(budget.used(), 0);
    }

    #[test]
    fn the_gauge_follows_to_within_a_step_and_shows_empty_exactly() {
        let shown = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        let budget = Budget::new(usize::MAX, metrics::Gauge::from_arc(shown.clone()));
        let gauge = || f64::from_bits(shown.load(Ordering::Relaxed));
        assert!(budget.try_take(10));
        assert_eq!(gauge(), 10.0, "no longer empty");
        assert!(budget.try_take(100));
        assert_eq!(gauge(), 10.0, "within a step");
        assert!(budget.try_take(GAUGE_STEP));
        assert_eq!(gauge(), (GAUGE_STEP + 110) as f64);
        budget.give_back(100);
        assert_eq!(gauge(), (GAUGE_STEP + 110) as f64);
        budget.give_back(GAUGE_STEP + 10);
        assert_eq!(gauge(), 0.0, "empty again");
    }
}
