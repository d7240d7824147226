//! A room subscription as a `text/event-stream`, in the form htmx's SSE
//! extension consumes.
//!
//! The app renders each [`RoomEvent`] to HTML fragments ([`SseFragment`]); this
//! module frames them as SSE events with the room version as the event id, so a
//! browser that reconnects sends `Last-Event-ID` and resumes exactly where it
//! stopped (see [`LastEventId`](crate::LastEventId)). Comments keep idle
//! connections alive through proxies.

use std::borrow::Cow;
use std::collections::VecDeque;
use std::convert::Infallible;
use std::time::Duration;

use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::Stream;
use hyperstate::room::{RoomEvent, Subscription};

use hyperstate_http::SseSlot;

/// How often an idle stream sends a keep-alive comment: below the 30–60 s
/// idle timeouts common in proxies and load balancers.
pub const DEFAULT_KEEP_ALIVE: Duration = Duration::from_secs(15);

/// One SSE event the app rendered: HTML for htmx to swap.
///
/// - [`SseFragment::named`]: htmx 2's extension swaps it into the element with
///   `sse-swap="NAME"`; htmx 4's dispatches it as a DOM event.
/// - [`SseFragment::unnamed`]: htmx 4's extension swaps it into the
///   `hx-sse:connect` element (out-of-band swaps included); htmx 2's delivers it
///   to `sse-swap="message"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseFragment {
    event: Option<Cow<'static, str>>,
    html: String,
}

impl SseFragment {
    /// A fragment sent as event `name`. Line breaks in the name, which SSE
    /// cannot carry, are removed.
    pub fn named(name: impl Into<Cow<'static, str>>, html: impl Into<String>) -> Self {
        let name = name.into();
        let name = if name.contains(['\r', '\n']) {
            Cow::Owned(name.replace(['\r', '\n'], ""))
        } else {
            name
        };
        SseFragment {
            event: Some(name),
            html: html.into(),
        }
    }

    /// A fragment sent without an event name (SSE type `message`).
    pub fn unnamed(html: impl Into<String>) -> Self {
        SseFragment {
            event: None,
            html: html.into(),
        }
    }

    fn into_event(self) -> Event {
        // `Event::data` splits on line breaks into several `data:` lines, which
        // the browser joins back: any HTML is safe to send.
        let event = Event::default().data(self.html);
        match self.event {
            Some(name) if !name.is_empty() => event.event(name),
            _ => event,
        }
    }
}

/// Builds the SSE response for one subscription.
///
/// ```
/// # async fn demo(room: hyperstate::room::Room) -> hyperstate::Result<()> {
/// use hyperstate::room::{Principal, RoomEvent};
/// use hyperstate_axum::{RoomSse, SseFragment};
///
/// let subscription = room.attach(&Principal::app("reader"), None).await?;
/// let response = RoomSse::new(subscription, |event: &RoomEvent| match event {
///     RoomEvent::Diff(diff) => vec![SseFragment::named("changed", format!("<p>v{}</p>", diff.version))],
///     RoomEvent::Presence(n) => vec![SseFragment::named("presence", n.to_string())],
///     _ => Vec::new(),
/// })
/// .into_sse();
/// # drop(response); Ok(()) }
/// ```
pub struct RoomSse {
    subscription: Subscription,
    step: Step,
    keep_alive: Duration,
    slot: Option<SseSlot>,
}

/// Renders one event: the fragments to send, or the last one to send before
/// the stream ends (a stream that cannot go on, such as a mirror whose state
/// no longer decodes).
pub(crate) type Step =
    Box<dyn FnMut(&RoomEvent) -> Result<Vec<SseFragment>, SseFragment> + Send + 'static>;

impl std::fmt::Debug for RoomSse {
    // By hand: the renderer is usually a closure, which has no `Debug`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RoomSse")
            .field("subscription", &self.subscription)
            .field("keep_alive", &self.keep_alive)
            .field("slot", &self.slot)
            .finish_non_exhaustive()
    }
}

impl RoomSse {
    /// Streams `subscription`, rendering each event with `render`.
    ///
    /// The id of a versioned event (snapshot, resync, diff) is the room version,
    /// set on the *last* fragment rendered for it, so a browser that drops the
    /// connection midway resumes at that event, not after it. A versioned event
    /// rendered to no fragment still advances the id. Presence events carry no
    /// id.
    pub fn new<R>(subscription: Subscription, mut render: R) -> Self
    where
        R: FnMut(&RoomEvent) -> Vec<SseFragment> + Send + 'static,
    {
        Self::stepping(subscription, Box::new(move |event| Ok(render(event))))
    }

    /// Streams `subscription` with a renderer that may end the stream.
    pub(crate) fn stepping(subscription: Subscription, step: Step) -> Self {
        RoomSse {
            subscription,
            step,
            keep_alive: DEFAULT_KEEP_ALIVE,
            slot: None,
        }
    }

    /// Holds `slot` (the stream's place under the server's caps) until the
    /// stream ends. Take the slot as an extractor ([`SseSlot`](crate::SseSlot))
    /// *before* attaching to the room, so a request over the caps never
    /// attaches; a slot from [`SseSlots::acquire`](crate::SseSlots::acquire)
    /// serves too.
    pub fn slot(mut self, slot: impl Into<SseSlot>) -> Self {
        self.slot = Some(slot.into());
        self
    }

    /// Sets the keep-alive interval (default [`DEFAULT_KEEP_ALIVE`]).
    pub fn keep_alive(mut self, every: Duration) -> Self {
        self.keep_alive = every;
        self
    }

    /// The response. The stream ends when the subscription does (registry
    /// shutdown) or fails (its error is logged; the browser reconnects and
    /// resumes), or when the renderer gives up (after its last fragment).
    pub fn into_sse(self) -> Sse<impl Stream<Item = Result<Event, Infallible>> + Send + 'static> {
        // The slot lives in the stream's state: dropped with the stream,
        // whether it ends or the client goes away.
        let state = Streaming {
            sub: self.subscription,
            step: self.step,
            queue: VecDeque::new(),
            ending: false,
            _slot: self.slot,
        };
        let stream = futures::stream::unfold(state, |mut s| async move {
            loop {
                if let Some(event) = s.queue.pop_front() {
                    return Some((Ok(event), s));
                }
                if s.ending {
                    return None;
                }
                match s.sub.next().await {
                    None => return None,
                    Some(Err(err)) => {
                        tracing::warn!(room = %s.sub.room().key(), error = %err, "room stream ended");
                        return None;
                    }
                    Some(Ok(event)) => match (s.step)(&event) {
                        Ok(fragments) => frame(&event, fragments, &mut s.queue),
                        Err(last) => {
                            // No id: the browser's Last-Event-ID stays at the
                            // last event it could apply.
                            s.queue.push_back(last.into_event());
                            s.ending = true;
                        }
                    },
                }
            }
        });
        Sse::new(stream).keep_alive(KeepAlive::new().interval(self.keep_alive))
    }
}

/// The state of one open stream.
struct Streaming {
    sub: Subscription,
    step: Step,
    queue: VecDeque<Event>,
    ending: bool,
    _slot: Option<SseSlot>,
}

/// The stream as a response, with `X-Accel-Buffering: no` so that nginx (and
/// proxies that honour it) pass each event on at once instead of buffering.
impl IntoResponse for RoomSse {
    fn into_response(self) -> Response {
        ([("x-accel-buffering", "no")], self.into_sse()).into_response()
    }
}

/// Turns one room event's fragments into SSE events.
fn frame(event: &RoomEvent, fragments: Vec<SseFragment>, queue: &mut VecDeque<Event>) {
    let id = event.version().map(|v| v.to_string());
    let last = fragments.len().checked_sub(1);
    for (i, fragment) in fragments.into_iter().enumerate() {
        let sse = fragment.into_event();
        queue.push_back(match &id {
            Some(id) if Some(i) == last => sse.id(id),
            _ => sse,
        });
    }
    if let (Some(id), None) = (id, last) {
        // An id-only event dispatches nothing but moves the browser's
        // Last-Event-ID, so a reconnect does not replay what was skipped.
        queue.push_back(Event::default().id(id));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_names_cannot_break_the_framing() {
        let fragment = SseFragment::named("a\r\nb", "x");
        assert_eq!(fragment.event.as_deref(), Some("ab"));
        // Would panic inside axum if the line break had survived.
        let _ = fragment.into_event();
    }

    #[test]
    fn the_id_goes_on_the_last_fragment_only() {
        let mut queue = VecDeque::new();
        let event = RoomEvent::Presence(3);
        frame(&event, vec![SseFragment::unnamed("a")], &mut queue);
        assert_eq!(queue.len(), 1);
        let snapshot = RoomEvent::Snapshot(::hyperstate::room::Snapshot {
            version: 7,
            state: Default::default(),
        });
        queue.clear();
        frame(&snapshot, Vec::new(), &mut queue);
        assert_eq!(
            queue.len(),
            1,
            "an id-only event keeps Last-Event-ID moving"
        );
    }
}
