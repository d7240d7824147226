//! [`Background`]: how often each background job of a [`Hyperstate`](crate::Hyperstate)
//! runs, set in one place.

use std::time::Duration;

/// How often the background jobs run. Each sweep only frees what has already
/// expired (expiry is checked on every access too), so these bound how long
/// freed memory or disk stays allocated, not what an app can read.
///
/// ```
/// use std::time::Duration;
/// use hyperstate_http::{Background, Hyperstate};
///
/// let builder = Hyperstate::builder()
///     .background(Background::default().session_sweep(Duration::from_secs(600)));
/// # drop(builder);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Background {
    /// How often expired pages are freed. Default: 5 minutes.
    pub page_sweep: Duration,
    /// How often sessions past their TTL are deleted from the session store
    /// (one listing of the store each time). Default: hourly.
    pub session_sweep: Duration,
    /// How often rooms past their idle TTL are freed, for registries made with
    /// [`Hyperstate::rooms`](crate::Hyperstate::rooms). Default: 5 seconds
    /// ([`hyperstate::room::DEFAULT_SWEEP_EVERY`]).
    pub room_sweep: Duration,
}

impl Default for Background {
    fn default() -> Self {
        Background {
            page_sweep: Duration::from_secs(5 * 60),
            session_sweep: Duration::from_secs(60 * 60),
            room_sweep: hyperstate::room::DEFAULT_SWEEP_EVERY,
        }
    }
}

impl Background {
    /// Sets [`Background::page_sweep`].
    pub fn page_sweep(mut self, every: Duration) -> Self {
        self.page_sweep = every;
        self
    }

    /// Sets [`Background::session_sweep`].
    pub fn session_sweep(mut self, every: Duration) -> Self {
        self.session_sweep = every;
        self
    }

    /// Sets [`Background::room_sweep`].
    pub fn room_sweep(mut self, every: Duration) -> Self {
        self.room_sweep = every;
        self
    }
}
