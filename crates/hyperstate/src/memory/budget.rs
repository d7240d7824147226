//! A byte budget shared by all pages of one memory store.

use std::sync::atomic::{AtomicUsize, Ordering};

/// Bytes in use against a fixed limit. Reservations are lock-free so that the hot
/// path (a write that fits) costs one compare-and-swap. The `bytes` gauge mirrors
/// the count for the metrics system.
#[derive(Debug)]
pub(super) struct Budget {
    limit: usize,
    used: AtomicUsize,
    gauge: metrics::Gauge,
}

impl Budget {
    pub(super) fn new(limit: usize, gauge: metrics::Gauge) -> Self {
        Budget {
            limit,
            used: AtomicUsize::new(0),
            gauge,
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
            self.gauge.set((before + n) as f64);
        }
        taken.is_ok()
    }

    /// Gives back `n` bytes taken earlier.
    pub(super) fn give_back(&self, n: usize) {
        let before = self.used.fetch_sub(n, Ordering::AcqRel);
        self.gauge.set((before - n) as f64);
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
}
