//! A cap on concurrent event streams (SSE), in total and per client, with
//! their memory counted.
//!
//! An idle event stream costs little CPU but holds memory for as long as the
//! browser keeps it open: the connection's buffers and hyper's state, the
//! room subscription, the renderer. Without a cap, one client opening
//! streams by the thousand takes memory from everyone. A handler takes an
//! [`SseSlot`] before it attaches to a room (the integration's extractor
//! does), and hands it to the stream it answers with: the slot is given back
//! when the stream ends, however it ends.

use std::sync::{Arc, Mutex, PoisonError};

use http::Version;

use crate::ClientAddr;
use crate::client_counts::{ClientCounts, Over};

/// Estimated memory of one idle stream over HTTP/1.1, in bytes: the
/// connection's buffers and hyper's state, the task, the room subscription.
/// Measured as the demo's RSS growth over 1,000 idle streams on loopback:
/// about 38 KB each.
pub const SSE_BYTES_HTTP1: usize = 40 * 1024;

/// Estimated memory of one idle stream as an HTTP/2 stream (the connection
/// it shares is counted once by the connection cap, not here): an estimate
/// of about 8 KB, since streams share their connection's buffers.
pub const SSE_BYTES_HTTP2: usize = 8 * 1024;

/// The open event streams of a server, counted against
/// [`HttpConfig::max_sse_streams`](crate::HttpConfig::max_sse_streams) and
/// [`HttpConfig::max_sse_streams_per_client`](crate::HttpConfig::max_sse_streams_per_client).
/// Cheap to clone (shared).
#[derive(Debug, Clone)]
pub struct SseSlots {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    max_total: Option<usize>,
    max_per_client: Option<usize>,
    // Taken once when a stream opens and once when it ends, never across an
    // await.
    open: Mutex<Open>,
}

#[derive(Debug, Default)]
struct Open {
    streams: ClientCounts,
    bytes: usize,
}

impl SseSlots {
    /// At most `max_total` streams in all and `max_per_client` per client
    /// (`None`: no cap).
    pub fn new(max_total: Option<usize>, max_per_client: Option<usize>) -> Self {
        SseSlots {
            inner: Arc::new(Inner {
                max_total,
                max_per_client,
                open: Mutex::new(Open::default()),
            }),
        }
    }

    /// Takes a slot for a stream to `client` over `version`, or refuses:
    /// [`SseRefused::TooManyStreams`] (503) when the server is full,
    /// [`SseRefused::TooManyClientStreams`] (429) when this client is. A
    /// client that is not known (`None`) counts only against the total.
    pub fn acquire(
        &self,
        client: Option<ClientAddr>,
        version: Version,
    ) -> Result<SseSlot, SseRefused> {
        let bytes = if version >= Version::HTTP_2 {
            SSE_BYTES_HTTP2
        } else {
            SSE_BYTES_HTTP1
        };
        let inner = &self.inner;
        let mut open = inner.open.lock().unwrap_or_else(PoisonError::into_inner);
        if let Err(over) = open
            .streams
            .add(client, inner.max_total, inner.max_per_client)
        {
            metrics::counter!("hyperstate_sse_refused_total", "cap" => over.label()).increment(1);
            return Err(match over {
                Over::Total => SseRefused::TooManyStreams,
                Over::PerClient { limit } => SseRefused::TooManyClientStreams { limit },
            });
        }
        open.bytes += bytes;
        report(&open);
        Ok(SseSlot {
            slots: self.clone(),
            client,
            bytes,
        })
    }

    /// Streams open now.
    pub fn open(&self) -> usize {
        self.inner
            .open
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .streams
            .total()
    }
}

fn report(open: &Open) {
    metrics::gauge!("hyperstate_sse_streams").set(open.streams.total() as f64);
    metrics::gauge!("hyperstate_sse_bytes").set(open.bytes as f64);
}

/// Why [`SseSlots::acquire`] refused a stream.
// Exhaustive on purpose: an integration maps each refusal to its status, and a
// new one should not compile there until it does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SseRefused {
    /// The server has as many event streams open as it may
    /// ([`HttpConfig::max_sse_streams`](crate::HttpConfig::max_sse_streams)):
    /// 503, the server's limit.
    #[error("this server has too many open event streams; retry later")]
    TooManyStreams,
    /// This client has as many event streams open as it may
    /// ([`HttpConfig::max_sse_streams_per_client`](crate::HttpConfig::max_sse_streams_per_client)):
    /// 429, the client's.
    #[error(
        "too many open event streams from this client (at most {limit}): close a tab, or retry later"
    )]
    TooManyClientStreams {
        /// The configured cap.
        limit: usize,
    },
}

/// One open event stream's place under the caps; dropping it gives the place
/// back. An integration takes it before a stream attaches (answering 503 or
/// 429 when the caps are reached) and keeps it in the stream's body.
#[derive(Debug)]
#[must_use = "a slot is given back when dropped: hand it to the stream"]
pub struct SseSlot {
    slots: SseSlots,
    client: Option<ClientAddr>,
    bytes: usize,
}

impl Drop for SseSlot {
    fn drop(&mut self) {
        let mut open = self
            .slots
            .inner
            .open
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        open.streams.remove(self.client);
        open.bytes = open.bytes.saturating_sub(self.bytes);
        report(&open);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(last: u8) -> Option<ClientAddr> {
        Some(ClientAddr::new([127, 0, 0, last].into()))
    }

    #[test]
    fn both_caps_hold_and_bytes_are_counted() {
        let slots = SseSlots::new(Some(3), Some(2));
        let a1 = slots.acquire(client(1), Version::HTTP_11).unwrap();
        let _a2 = slots.acquire(client(1), Version::HTTP_2).unwrap();
        assert!(matches!(
            slots.acquire(client(1), Version::HTTP_11),
            Err(SseRefused::TooManyClientStreams { limit: 2 })
        ));
        assert_eq!(
            slots.inner.open.lock().unwrap().bytes,
            SSE_BYTES_HTTP1 + SSE_BYTES_HTTP2
        );
        let _b = slots.acquire(None, Version::HTTP_11).unwrap();
        assert!(matches!(
            slots.acquire(client(2), Version::HTTP_11),
            Err(SseRefused::TooManyStreams)
        ));
        drop(a1);
        assert_eq!(slots.open(), 2);
        let _a3 = slots.acquire(client(1), Version::HTTP_11).unwrap();
    }
}
