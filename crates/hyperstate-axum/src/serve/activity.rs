//! When a connection has nothing to do: no request yet since it opened, or
//! none in flight for a while. Such a connection only holds a file
//! descriptor, so it is closed after a timeout.
//!
//! hyper bounds reading headers on HTTP/1.1 but not a connection that sends
//! nothing at all (the HTTP/1-or-2 detection waits for the first bytes), nor
//! an HTTP/2 connection without streams; this covers both, whatever the
//! protocol.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

/// The requests of one connection, as far as idleness is concerned.
#[derive(Debug)]
pub(crate) struct Activity {
    opened: Instant,
    in_flight: AtomicUsize,
    /// Requests started so far.
    started: AtomicU64,
    /// Milliseconds after `opened` of the last request start or end.
    last_change_ms: AtomicU64,
    /// Wakes the watch when a request starts or ends: either may move the
    /// deadline earlier (the first request switches to the idle timeout).
    changed: Notify,
}

impl Activity {
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(Activity {
            opened: Instant::now(),
            in_flight: AtomicUsize::new(0),
            started: AtomicU64::new(0),
            last_change_ms: AtomicU64::new(0),
            changed: Notify::new(),
        })
    }

    /// A request started; it is in flight until the guard (held by its
    /// response body) is dropped.
    pub(crate) fn request_started(self: &Arc<Self>) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        self.started.fetch_add(1, Ordering::AcqRel);
        self.touch();
        self.changed.notify_one();
        InFlight(self.clone())
    }

    fn touch(&self) {
        let ms = u64::try_from(self.opened.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_change_ms.fetch_max(ms, Ordering::AcqRel);
    }

    /// Resolves once the connection has been idle too long: no request within
    /// `first` of opening, or none in flight for `idle` since the last one.
    pub(crate) async fn idle_expired(&self, first: Duration, idle: Duration) {
        loop {
            let limit = if self.started.load(Ordering::Acquire) == 0 {
                first
            } else {
                idle
            };
            if self.in_flight.load(Ordering::Acquire) > 0 {
                // Busy: never idle until a request ends.
                self.changed.notified().await;
                continue;
            }
            let last = Duration::from_millis(self.last_change_ms.load(Ordering::Acquire));
            let deadline = self.opened + last + limit;
            if Instant::now() >= deadline {
                return;
            }
            tokio::select! {
                () = tokio::time::sleep_until(deadline) => {}
                () = self.changed.notified() => {}
            }
        }
    }
}

/// One request in flight; dropping it marks the end.
#[derive(Debug)]
pub(crate) struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        // The time first, then the count: the watch must never see no
        // request in flight with the time of an earlier one.
        self.0.touch();
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
        self.0.changed.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn silent_then_idle_connections_expire_and_busy_ones_do_not() {
        let first = Duration::from_secs(1);
        let idle = Duration::from_secs(5);
        let activity = Activity::new();
        let start = Instant::now();
        activity.idle_expired(first, idle).await;
        assert!(start.elapsed() >= first);

        let activity = Activity::new();
        let request = activity.request_started();
        let watch = activity.idle_expired(first, idle);
        tokio::pin!(watch);
        // In flight: never idle, however long.
        assert!(
            tokio::time::timeout(Duration::from_secs(60), &mut watch)
                .await
                .is_err()
        );
        drop(request);
        let ended = Instant::now();
        watch.await;
        assert!(ended.elapsed() >= idle);

        // An idle timeout shorter than the first one applies from the first
        // request on.
        let activity = Activity::new();
        let watch = activity.idle_expired(Duration::from_secs(60), idle);
        tokio::pin!(watch);
        assert!(
            tokio::time::timeout(Duration::from_secs(1), &mut watch)
                .await
                .is_err()
        );
        drop(activity.request_started());
        let ended = Instant::now();
        tokio::time::timeout(Duration::from_secs(30), watch)
            .await
            .expect("idle after the idle timeout, not the first one");
        assert!(ended.elapsed() >= idle);
    }
}
