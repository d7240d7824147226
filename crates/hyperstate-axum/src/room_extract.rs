//! Extractors for room handlers: who is calling, and where a reconnecting
//! event stream left off.

use std::convert::Infallible;

use axum::extract::FromRequestParts;
use http::request::Parts;
use hyperstate::room::Principal;

use crate::{Error, RequestContext};

/// The header a reconnecting `EventSource` sends with the id of the last event
/// it received.
pub const LAST_EVENT_ID_HEADER: &str = "last-event-id";

/// The calling browser as a room [`Principal`], from the browser-id cookie.
///
/// A browser without the cookie is given one (the response sets it), so that
/// joining a room on its first request is remembered. Apps with their own login
/// build a [`Principal::app`] from their user instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller(pub Principal);

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let context = RequestContext::from_request_parts(parts, state).await?;
        Ok(Caller(Principal::Browser(context.browser_id_or_mint()?)))
    }
}

/// The `Last-Event-ID` header as a room version: what to pass as `resume` to
/// [`Room::attach`](::hyperstate::room::Room::attach).
///
/// `None` when the header is absent or is not a version (a stale id from some
/// other stream): the client then gets a fresh snapshot, which is always safe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LastEventId(pub Option<u64>);

impl<S: Send + Sync> FromRequestParts<S> for LastEventId {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let version = parts
            .headers
            .get(LAST_EVENT_ID_HEADER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse().ok());
        Ok(LastEventId(version))
    }
}
