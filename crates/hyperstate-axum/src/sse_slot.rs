//! The [`SseSlot`] extractor: an event stream's place under the server's
//! stream caps ([`SseSlots`](crate::SseSlots)), taken before it attaches.

use axum::extract::FromRequestParts;
use http::request::Parts;

use crate::{Error, RequestContext};

/// One open event stream's place under the caps
/// ([`HttpConfig::max_sse_streams`](crate::HttpConfig::max_sse_streams),
/// [`HttpConfig::max_sse_streams_per_client`](crate::HttpConfig::max_sse_streams_per_client)).
/// Take it as an extractor (it answers 503 or 429 when the caps are reached)
/// and hand it to [`RoomSse::slot`](crate::RoomSse::slot), which gives the
/// place back when the stream ends, however it ends.
#[derive(Debug)]
#[must_use = "a slot is given back when dropped: hand it to the stream"]
pub struct SseSlot(pub hyperstate_http::SseSlot);

impl From<SseSlot> for hyperstate_http::SseSlot {
    fn from(SseSlot(slot): SseSlot) -> Self {
        slot
    }
}

impl<S: Send + Sync> FromRequestParts<S> for SseSlot {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let context = RequestContext::from_request_parts(parts, state).await?;
        let slot = context
            .hyperstate()
            .sse_slots()
            .acquire(context.client(), parts.version)?;
        Ok(SseSlot(slot))
    }
}
