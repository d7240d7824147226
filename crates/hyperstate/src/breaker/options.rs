//! The thresholds of a circuit breaker.

use std::time::Duration;

/// When a [`CircuitBreaker`](super::CircuitBreaker) opens, and for how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct BreakerOptions {
    /// Consecutive backend failures that open the breaker (at least 1).
    /// Default: 5 — enough that one dropped connection does not turn away
    /// the requests behind it, few enough that an outage is noticed within a
    /// handful of timeouts.
    pub failure_threshold: u32,
    /// How long an open breaker fails every call before it lets one probe
    /// through. Default: 2 seconds — about one command timeout, so a backend
    /// that is back is used again within seconds.
    pub cool_down: Duration,
}

impl Default for BreakerOptions {
    fn default() -> Self {
        BreakerOptions {
            failure_threshold: 5,
            cool_down: Duration::from_secs(2),
        }
    }
}

impl BreakerOptions {
    /// Sets [`BreakerOptions::failure_threshold`] (at least 1).
    pub fn failure_threshold(mut self, failures: u32) -> Self {
        self.failure_threshold = failures.max(1);
        self
    }

    /// Sets [`BreakerOptions::cool_down`].
    pub fn cool_down(mut self, cool_down: Duration) -> Self {
        self.cool_down = cool_down;
        self
    }
}
