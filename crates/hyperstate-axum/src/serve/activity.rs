//! When a connection has nothing to do: no request yet since it opened, or
//! none in flight for a while. Such a connection only holds a file
//! descriptor, so it is closed after a timeout.
//!
//! This watch is also the header read timeout. A request is in flight from
//! the moment its headers are parsed, so a connection with no request in
//! flight is one that is silent, idle between requests, or still sending a
//! request's headers: on HTTP/1.1 all three are bounded by the header read
//! timeout (as hyper's own timer would, from the moment the connection goes
//! idle), on HTTP/2 the last two by the idle timeout (the protocol keeps idle
//! connections open, and HTTP/2 headers arrive in whole frames).
//!
//! A request costs the watch nothing but a few atomics: it is not woken when
//! a request starts or ends (only by the first request, which may bring the
//! deadline forward), and no timer is armed per request. It wakes at the
//! deadline it last computed and looks again: busy, it looks again a quarter
//! of the timeout later; idle since more recently, it sleeps until the new
//! deadline. So it never closes a connection early, and closes an idle one at
//! most a quarter of its timeout late.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
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
    /// Whether the connection speaks HTTP/2, which may idle between requests
    /// for the idle timeout (HTTP/1.1: the header read timeout).
    http2: AtomicBool,
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
            http2: AtomicBool::new(false),
            first_request: Notify::new(),
        })
    }

    /// A request started; it is in flight until the guard is dropped (when
    /// its response is made, or when a streamed body ends).
    pub(crate) fn request_started(self: &Arc<Self>, version: http::Version) -> InFlight {
        if version == http::Version::HTTP_2 && !self.http2.load(Ordering::Relaxed) {
            self.http2.store(true, Ordering::Relaxed);
        }
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

    /// Resolves once the connection has been idle too long: no request
    /// within `header_read` of opening, or none in flight since the last one
    /// for `header_read` (HTTP/1.1) or `idle` (HTTP/2). With HTTP/1.1 the
    /// first bound is hyper's header read timeout: hyper starts it when a
    /// connection goes idle, and so a connection slow to send headers and
    /// one idle between requests are alike.
    pub(crate) async fn idle_expired(&self, header_read: Duration, idle: Duration) {
        // Registered before the first look, so that a first request between
        // the look and the sleep is not missed.
        let mut first_request = std::pin::pin!(self.first_request.notified());
        first_request.as_mut().enable();
        let mut awaiting_first = true;
        let mut sleep = std::pin::pin!(tokio::time::sleep(Duration::ZERO));
        loop {
            let now = Instant::now();
            let between = if self.http2.load(Ordering::Relaxed) {
                idle
            } else {
                idle.min(header_read)
            };
            let deadline = if self.started.load(Ordering::Acquire) == 0 {
                self.opened + header_read
            } else if self.in_flight.load(Ordering::Acquire) > 0 {
                // Busy: never idle until a request ends; look again soon, so
                // that the connection is closed at most a quarter late.
                now + between / 4
            } else {
                let last_end = Duration::from_millis(self.last_end_ms.load(Ordering::Acquire));
                self.opened + last_end + between
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
    use http::Version;

    const HEADER_READ: Duration = Duration::from_secs(1);
    const IDLE: Duration = Duration::from_secs(5);

    /// How long after its last request `activity`'s watch closes the
    /// connection (on tokio's paused clock), having first checked that it
    /// stays open for `in_flight_for` while `version`'s request is in flight.
    async fn closes_after_request(version: Version, in_flight_for: Duration) -> Duration {
        let activity = Activity::new();
        let request = activity.request_started(version);
        let watch = activity.idle_expired(HEADER_READ, IDLE);
        tokio::pin!(watch);
        assert!(
            tokio::time::timeout(in_flight_for, &mut watch)
                .await
                .is_err(),
            "closed with a request in flight"
        );
        drop(request);
        let ended = Instant::now();
        watch.await;
        ended.elapsed()
    }

    #[tokio::test(start_paused = true)]
    async fn a_silent_connection_expires_after_the_header_read_timeout() {
        let start = Instant::now();
        Activity::new().idle_expired(HEADER_READ, IDLE).await;
        assert_eq!(start.elapsed(), HEADER_READ);
    }

    #[tokio::test(start_paused = true)]
    async fn between_requests_http1_has_the_header_read_timeout_and_http2_the_idle_one() {
        // In flight: never idle, however long; then closed within a quarter
        // of the timeout after it.
        let http1 = closes_after_request(Version::HTTP_11, Duration::from_secs(60)).await;
        assert!(
            HEADER_READ <= http1 && http1 <= HEADER_READ * 5 / 4,
            "{http1:?}"
        );
        let http2 = closes_after_request(Version::HTTP_2, Duration::from_secs(60)).await;
        assert!(IDLE <= http2 && http2 <= IDLE * 5 / 4, "{http2:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn an_idle_timeout_shorter_than_the_header_read_one_applies_after_the_first_request() {
        let activity = Activity::new();
        let watch = activity.idle_expired(Duration::from_secs(60), IDLE);
        tokio::pin!(watch);
        assert!(
            tokio::time::timeout(Duration::from_secs(1), &mut watch)
                .await
                .is_err()
        );
        drop(activity.request_started(Version::HTTP_11));
        let ended = Instant::now();
        tokio::time::timeout(Duration::from_secs(30), watch)
            .await
            .expect("idle after the idle timeout, not the first one");
        assert!(ended.elapsed() >= IDLE);
    }
}
