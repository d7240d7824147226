//! Per-client rate limits (GCRA, through `governor`), for the actions an
//! anonymous client could otherwise repeat until a shared resource is gone:
//! minting browser ids, joining rooms.

use std::fmt;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};

use crate::ClientAddr;

/// An allowance: `burst` actions at once, refilled at `per_minute` a minute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Actions a client may take in one burst.
    pub burst: NonZeroU32,
    /// Actions per minute once the burst is used up.
    pub per_minute: NonZeroU32,
}

impl RateLimit {
    /// `burst` at once, then `per_minute` a minute. Zero is read as one.
    pub fn new(burst: u32, per_minute: u32) -> Self {
        RateLimit {
            burst: NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN),
            per_minute: NonZeroU32::new(per_minute).unwrap_or(NonZeroU32::MIN),
        }
    }

    fn quota(&self) -> Quota {
        Quota::per_minute(self.per_minute).allow_burst(self.burst)
    }
}

/// Every this many checks, clients whose allowance is full again are
/// forgotten, so the table holds only clients active within a refill period.
const PRUNE_EVERY: u32 = 4096;

/// One [`RateLimit`] applied per [`ClientAddr`]. Cheap to clone (shared).
///
/// Memory is bounded by the clients seen within one refill period: entries
/// whose allowance has refilled are pruned as checks go by.
#[derive(Clone)]
pub struct ClientRateLimiter {
    inner: Arc<Inner>,
}

struct Inner {
    what: &'static str,
    limit: RateLimit,
    limiter: DefaultKeyedRateLimiter<ClientAddr>,
    checks: AtomicU32,
}

impl fmt::Debug for ClientRateLimiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientRateLimiter")
            .field("what", &self.inner.what)
            .field("limit", &self.inner.limit)
            .field("clients", &self.inner.limiter.len())
            .finish()
    }
}

impl ClientRateLimiter {
    /// A limiter of `what` (named in the error, e.g. `"room joins"`).
    pub fn new(what: &'static str, limit: RateLimit) -> Self {
        ClientRateLimiter {
            inner: Arc::new(Inner {
                what,
                limit,
                limiter: DefaultKeyedRateLimiter::keyed(limit.quota()),
                checks: AtomicU32::new(0),
            }),
        }
    }

    /// Takes one action from `client`'s allowance, or says how long to wait
    /// ([`hyperstate::Error::RateLimited`]). A request whose client is unknown
    /// (`None`) is not limited.
    pub fn check(&self, client: Option<ClientAddr>) -> hyperstate::Result<()> {
        let Some(client) = client else {
            return Ok(());
        };
        let inner = &self.inner;
        if inner.checks.fetch_add(1, Ordering::Relaxed) % PRUNE_EVERY == PRUNE_EVERY - 1 {
            inner.limiter.retain_recent();
            inner.limiter.shrink_to_fit();
        }
        inner.limiter.check_key(&client).map_err(|not_until| {
            let retry_after: Duration = not_until.wait_time_from(DefaultClock::default().now());
            metrics::counter!("hyperstate_rate_limited_total", "what" => inner.what).increment(1);
            hyperstate::Error::RateLimited {
                what: inner.what,
                retry_after,
            }
        })
    }

    /// The clients currently tracked.
    pub fn clients(&self) -> usize {
        self.inner.limiter.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(last: u8) -> Option<ClientAddr> {
        Some(ClientAddr::new([127, 0, 0, last].into()))
    }

    #[test]
    fn a_burst_then_refusals_for_that_client_only() {
        let limiter = ClientRateLimiter::new("things", RateLimit::new(3, 1));
        for _ in 0..3 {
            limiter.check(client(1)).unwrap();
        }
        match limiter.check(client(1)) {
            Err(hyperstate::Error::RateLimited { what, retry_after }) => {
                assert_eq!(what, "things");
                assert!(retry_after > Duration::ZERO);
            }
            other => panic!("expected RateLimited, got {other:?}"),
        }
        limiter.check(client(2)).unwrap();
        // Unknown clients are not limited.
        for _ in 0..10 {
            limiter.check(None).unwrap();
        }
    }
}
