//! Options of the session scope.

use std::time::Duration;

use crate::Limits;

/// How the session scope behaves; every field has a production default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct SessionOptions {
    /// A session not seen for this long is deleted by the sweeper. Default: 30 days.
    pub ttl: Duration,
    /// A read refreshes `last_seen_at` (one extra write) only when it is older than
    /// this, so reading is not a write per request. Default: 1 day.
    pub touch_after: Duration,
    /// Per-view limits (keys, bytes, value size). Default: [`Limits::default`].
    pub limits: Limits,
    /// Most views one session may hold. Default: 64.
    pub max_views: usize,
    /// A session's writer task stops after this long without writes, and starts
    /// again on the next one. Default: 30 seconds.
    pub writer_idle: Duration,
    /// Most writer tasks alive at once on this node (a session gets one only
    /// when writes arrive while one of its commits is in flight). Past it,
    /// such writes wait for the session's turn and commit from the caller's
    /// own task (same compare-and-swap, no group commit). Default: 1024.
    pub max_writers: usize,
    /// How many times a commit is tried against a document other nodes keep
    /// changing before the writes fail with
    /// [`Error::SessionConflict`](crate::Error::SessionConflict). Default: 8.
    pub max_attempts: u32,
    /// Most writes committed together in one PUT. Default: 256.
    pub max_batch: usize,
    /// [`Sessions::check_health`](super::Sessions::check_health) makes at most
    /// one real write probe per this interval and answers from the last one in
    /// between, so a health endpoint polled hard costs the store little. A
    /// store that stops (or starts again) taking writes is seen within this
    /// long. Default: 5 seconds.
    pub write_probe_interval: Duration,
    /// Most bytes of stored session documents this node keeps in its cache
    /// (least recently used first out), when its
    /// [`SessionCoherence`](super::SessionCoherence) is not `Off`.
    /// Default: 64 MiB.
    pub cache_bytes: u64,
}

impl Default for SessionOptions {
    fn default() -> Self {
        SessionOptions {
            ttl: Duration::from_secs(30 * 24 * 60 * 60),
            touch_after: Duration::from_secs(24 * 60 * 60),
            limits: Limits::default(),
            max_views: 64,
            writer_idle: Duration::from_secs(30),
            max_writers: 1024,
            max_attempts: 8,
            max_batch: 256,
            write_probe_interval: Duration::from_secs(5),
            cache_bytes: 64 * 1024 * 1024,
        }
    }
}

impl SessionOptions {
    /// Sets [`SessionOptions::ttl`].
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }
    /// Sets [`SessionOptions::touch_after`].
    pub fn touch_after(mut self, after: Duration) -> Self {
        self.touch_after = after;
        self
    }
    /// Sets [`SessionOptions::limits`].
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }
    /// Sets [`SessionOptions::max_views`].
    pub fn max_views(mut self, n: usize) -> Self {
        self.max_views = n;
        self
    }
    /// Sets [`SessionOptions::writer_idle`].
    pub fn writer_idle(mut self, idle: Duration) -> Self {
        self.writer_idle = idle;
        self
    }
    /// Sets [`SessionOptions::max_writers`] (0: every write commits from its
    /// caller's task).
    pub fn max_writers(mut self, n: usize) -> Self {
        self.max_writers = n;
        self
    }
    /// Sets [`SessionOptions::max_attempts`] (at least 1).
    pub fn max_attempts(mut self, n: u32) -> Self {
        self.max_attempts = n.max(1);
        self
    }
    /// Sets [`SessionOptions::write_probe_interval`].
    pub fn write_probe_interval(mut self, every: Duration) -> Self {
        self.write_probe_interval = every;
        self
    }
    /// Sets [`SessionOptions::cache_bytes`].
    pub fn cache_bytes(mut self, bytes: u64) -> Self {
        self.cache_bytes = bytes;
        self
    }
    /// Sets [`SessionOptions::max_batch`] (at least 1).
    pub fn max_batch(mut self, n: usize) -> Self {
        self.max_batch = n.max(1);
        self
    }
}
