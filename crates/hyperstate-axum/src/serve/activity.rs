//! When a connection has nothing to do: no request yet since it opened, or
//! none in flight for a while. Such a connection only holds a file
//! descriptor, so it is closed after a timeout.
//!
//! hyper bounds reading headers on HTTP/1.1 but not a connection that sends
//! nothing at all (the HTTP/1-or-2 detection waits for the first bytes), nor
//! an HTTP/2 connection without streams; this covers both, whatever the
//! protocol.
//!
//! A request costs the watch nothing but a few atomics: it is not woken when
//! a request starts or ends (only by the first request, which may bring the
//! deadline forward). It wakes at the deadline it last computed and looks
//! again: busy, it looks again a timeout later; idle since more recently, it
//! sleeps until the new deadline. So it never closes a connection early, and
//! closes an idle one when its timeout is up.

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
    /// Milliseconds after `opened` of the last request end.
    last_end_ms: AtomicU64,
    /// Wakes the watch on the first request, which switches to the idle
    /// timeout and so may move the deadline earlier. Later requests only move
    /// it later, which the watch finds out when it wakes.
    first_request: Notify,
}

impl Activity {
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(Activity {
            opened: Instant::now(),
            in_flight: AtomicUsize::new(0),
            started: AtomicU64::new(0),
            last_end_ms: AtomicU64::new(0),
            first_request: Notify::new(),
        })
    }

    /// A request started; it is in flight until the guard (held by its
    /// response body) is dropped.
    pub(crate) fn request_started(self: &Arc<Self>) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        if self.started.fetch_add(1, Ordering::AcqRel) == 0 {
            self.first_request.notify_one();
        }
        InFlight(self.clone())
    }

    fn ended_now(&self) {
        let ms = u64::try_from(self.opened.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_end_ms.fetch_max(ms, Ordering::AcqRel);
    }

    /// Resolves once the connection has been idle too long: no request within
    /// `first` of opening, or none in flight for `idle` since the last one.
    pub(crate) async fn idle_expired(&self, first: Duration, idle: Duration) {
        // Registered before the first look, so that a first request between
        // the look and the sleep is not missed.
        let mut first_request = std::pin::pin!(self.first_request.notified());
        first_request.as_mut().enable();
        let mut awaiting_first = true;
        let mut sleep = std::pin::pin!(tokio::time::sleep(Duration::ZERO));
        loop {
            let now = Instant::now();
            let deadline = if self.started.load(Ordering::Acquire) == 0 {
                self.opened + first
            } else if self.in_flight.load(Ordering::Acquire) > 0 {
                // Busy: never idle until a request ends; look again later.
                now + idle
            } else {
                let last_end = Duration::from_millis(self.last_end_ms.load(Ordering::Acquire));
                self.opened + last_end + idle
            };
            if now >= deadline {
                return;
            }
            sleep.as_mut().reset(deadline);
            tokio::select! {
                () = sleep.as_mut() => {}
                // From then on the idle timeout applies: look again now.
                () = first_request.as_mut(), if awaiting_first => awaiting_first = false,
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
        self.0.ended_now();
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
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
