//! A room streamed to the browser in one call: attach where the browser left
//! off, mirror the state as the app's type, render fragments on every change.
//!
//! The page renders the room at some version and points `sse-connect` at the
//! stream with `?since=VERSION`; a reconnecting browser sends `Last-Event-ID`
//! instead (it wins). [`LiveSse`] reads both, takes the stream's
//! [`SseSlot`] (so a request over the caps is refused before it attaches), and
//! [`LiveSse::attach`] streams the room as a [`RoomSse`], rendering from a
//! [`LiveRoom`] mirror.
//!
//! The crate docs walk through an example, Rust and HTML.

use axum::extract::FromRequestParts;
use http::request::Parts;
use hyperstate::room::{Principal, Room, RoomEvent};
use serde::de::DeserializeOwned;

use crate::{Changed, Error, LastEventId, LiveRoom, RoomSse, SseFragment, SseSlot};

/// The query parameter naming the version a page was rendered at.
pub const SINCE_PARAM: &str = "since";

/// The SSE event sent when the room's state no longer decodes as the app's
/// type, just before the stream ends: `sse-swap="hyperstate-error"` shows it.
pub const ERROR_EVENT: &str = "hyperstate-error";

/// What the browser sees of a stream that ended on a state it cannot render
/// (the details go to the log).
const ERROR_TEXT: &str = "this live view stopped: the server could not read the room's state";

/// An event stream about to open: its place under the server's stream caps
/// and where the browser left off (`Last-Event-ID`, else `?since=`).
///
/// As an extractor it answers 503 or 429 when the caps are reached and 400
/// when `since` is not a version. See [the crate docs](crate#rooms) for an
/// example, Rust and HTML.
#[derive(Debug)]
pub struct LiveSse {
    slot: SseSlot,
    resume: Option<u64>,
}

impl LiveSse {
    /// The version the browser has (`None`: it has nothing; the stream starts
    /// with the whole state).
    pub fn resume(&self) -> Option<u64> {
        self.resume
    }

    /// Attaches `who` to `room` and streams it: `render` gets the state,
    /// mirrored as `T` ([`LiveRoom`]), and what changed, after every event.
    ///
    /// A fresh stream renders the whole state first ([`Changed::All`]); a
    /// resumed one renders only what the browser missed — each missed change,
    /// or the whole state when the room no longer holds them. While a resumed
    /// stream replays missed changes, keys not replayed yet show their newest
    /// value; once it has caught up the mirror is exact. Fails (before any
    /// byte is sent) as [`Room::attach`] does, or when a resumed stream's
    /// state does not decode as `T`. When a later state does not decode, the
    /// error is logged, the browser gets an [`ERROR_EVENT`] and the stream
    /// ends.
    pub async fn attach<T, R>(
        self,
        room: &Room,
        who: &Principal,
        render: R,
    ) -> Result<RoomSse, Error>
    where
        T: DeserializeOwned + Send + 'static,
        R: FnMut(&LiveRoom<T>, &Changed) -> Vec<SseFragment> + Send + 'static,
    {
        // A resuming browser gets diffs, not the state they apply to: the
        // mirror starts from the state as it is now, taken before attaching,
        // so every change after it is among those replayed (from the
        // browser's version on) and the mirror is exact once they are applied.
        let mirror = match self.resume {
            Some(_) => Some(LiveRoom::from_snapshot(&room.snapshot(who).await?)?),
            None => None,
        };
        let subscription = room.attach(who, self.resume).await?;
        let step = mirrored(room.key().as_str().to_owned(), mirror, render);
        Ok(RoomSse::stepping(subscription, Box::new(step)).slot(self.slot))
    }
}

/// The renderer of a mirrored stream: applies each event to the mirror, then
/// renders from it.
fn mirrored<T, R>(
    room: String,
    mut mirror: Option<LiveRoom<T>>,
    mut render: R,
) -> impl FnMut(&RoomEvent) -> Result<Vec<SseFragment>, SseFragment> + Send + 'static
where
    T: DeserializeOwned + Send + 'static,
    R: FnMut(&LiveRoom<T>, &Changed) -> Vec<SseFragment> + Send + 'static,
{
    move |event| {
        let applied = match (&mut mirror, event) {
            (Some(live), _) => live.apply(event),
            (None, RoomEvent::Snapshot(s) | RoomEvent::Resync(s)) => LiveRoom::from_snapshot(s)
                .map(|live| {
                    mirror = Some(live);
                    Some(Changed::All)
                }),
            // A fresh subscription starts with the state: nothing comes first.
            (None, _) => Ok(None),
        };
        match (applied, &mirror) {
            (Ok(Some(changed)), Some(live)) => Ok(render(live, &changed)),
            (Ok(_), _) => Ok(Vec::new()),
            (Err(err), _) => {
                tracing::error!(
                    %room,
                    version = ?event.version(),
                    error = %err,
                    source = ?std::error::Error::source(&err),
                    "room stream ended: its state does not decode as the app's type"
                );
                Err(SseFragment::named(ERROR_EVENT, ERROR_TEXT))
            }
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for LiveSse {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let since = since(parts.uri.query())?;
        let LastEventId(last) = match LastEventId::from_request_parts(parts, state).await {
            Ok(last) => last,
            Err(never) => match never {},
        };
        let slot = SseSlot::from_request_parts(parts, state).await?;
        Ok(LiveSse {
            slot,
            resume: last.or(since),
        })
    }
}

/// The `since` query parameter, if present.
fn since(query: Option<&str>) -> Result<Option<u64>, Error> {
    let Some(query) = query else { return Ok(None) };
    match form_urlencoded::parse(query.as_bytes()).find(|(name, _)| name == SINCE_PARAM) {
        None => Ok(None),
        Some((_, value)) => value.trim().parse().map(Some).map_err(|_| Error::BadSince),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_is_a_version_or_absent() {
        assert_eq!(since(None).unwrap(), None);
        assert_eq!(since(Some("htmx=2")).unwrap(), None);
        assert_eq!(since(Some("htmx=2&since=42")).unwrap(), Some(42));
        assert!(matches!(since(Some("since=-1")), Err(Error::BadSince)));
        assert!(matches!(since(Some("since=")), Err(Error::BadSince)));
    }
}
