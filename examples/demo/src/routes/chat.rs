//! The chat room: room-scoped state shared live by every browser in the room.
//!
//! `GET /rooms/{name}` shows the room; `POST /rooms/{name}/join` makes the browser
//! a member; members `POST /rooms/{name}/messages`; everyone may read; and
//! `GET /rooms/{name}/events` streams new messages and the number of attached
//! browsers over SSE. A browser that has not joined is denied posting (403).

use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::{Extension, Form};
use hyperstate_axum::prelude::*;
use maud::{Markup, html};
use serde::{Deserialize, Serialize};

use crate::AppError;
use crate::layout::{self, HtmxVersion};

/// The room's messages, oldest first.
const MESSAGES: Key<Vec<Message>> = Key::or_default("messages");
/// Older messages are dropped from the room's state past this many.
const KEEP_MESSAGES: usize = 50;
const MAX_TEXT_CHARS: usize = 500;

/// The chat rooms of the demo, as a request extension.
#[derive(Debug, Clone)]
pub(crate) struct ChatRooms(Rooms);

/// One chat message.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
struct Message {
    text: String,
}

/// The registry: every room starts empty; members may read and write, everyone
/// else may read. Supervised, so it sweeps idle rooms and its streams end on
/// shutdown.
pub(crate) fn rooms(state: &Hyperstate) -> ChatRooms {
    let spec = |_: &RoomKey| {
        RoomInit::new()
            .acl(Acl::new(Rights::READ | Rights::WRITE, Rights::READ))
            .value(MESSAGES.name(), &MESSAGES.default_value())
    };
    ChatRooms(state.rooms(spec))
}

fn room(rooms: &ChatRooms, name: &str) -> Result<Room, AppError> {
    Ok(rooms.0.room(name)?)
}

/// A room's state: one field per key.
#[derive(Debug, Deserialize)]
struct Chat {
    #[serde(default)]
    messages: Vec<Message>,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct ShowQuery {
    #[serde(default)]
    htmx: HtmxVersion,
}

/// `GET /rooms/{name}`: the room as it is now, connected to its live stream
/// from exactly this version on.
pub(crate) async fn show(
    Extension(rooms): Extension<ChatRooms>,
    Path(name): Path<String>,
    Caller(who): Caller,
    Query(query): Query<ShowQuery>,
) -> Result<Markup, AppError> {
    let room = room(&rooms, &name)?;
    let chat = LiveRoom::<Chat>::from_snapshot(&room.snapshot(&who).await?)?;
    let member = room.access(&who).await?.allows(Right::Write);
    let attached = room.attached().await?;
    let key = room.key().as_str();
    let events = format!(
        "/rooms/{key}/events?since={}&htmx={}",
        chat.version(),
        query.htmx.as_query()
    );
    let messages = &chat.state().messages;
    Ok(layout::page(
        &format!("Room {key}"),
        query.htmx,
        html! {
            p.muted {
                "Room state, shared by every browser in the room and live over SSE. "
                "Open this page in another browser to chat."
            }
            p { span #presence { (attached) } " attached" }
            @match query.htmx {
                HtmxVersion::V2 => {
                    script src=(assets::HTMX_2_SSE) {}
                    div hx-ext="sse" sse-connect=(events) {
                        // Named events, each swapped where it belongs.
                        span hidden sse-swap="presence" hx-target="#presence" {}
                        div #log sse-swap="resync" { (list(messages)) }
                    }
                }
                HtmxVersion::V4 => {
                    script src=(assets::HTMX_4_SSE) {}
                    // Unnamed events carrying out-of-band swaps.
                    div hx-sse:connect=(events) hidden {}
                    div #log { (list(messages)) }
                }
            }
            @if member { (composer(key)) } @else { (join_form(key)) }
        },
    ))
}

fn list(messages: &[Message]) -> Markup {
    html! {
        ul #messages sse-swap="chat" hx-swap="beforeend" {
            @for message in messages { (item(message)) }
        }
    }
}

fn item(message: &Message) -> Markup {
    html! { li { (message.text) } }
}

fn composer(key: &str) -> Markup {
    html! {
        form #composer hx-post=(format!("/rooms/{key}/messages")) hx-swap="none" data-reset {
            input #text type="text" name="text" placeholder="Say something" required autocomplete="off";
            button type="submit" { "Send" }
        }
    }
}

fn join_form(key: &str) -> Markup {
    html! {
        form #composer hx-post=(format!("/rooms/{key}/join")) hx-swap="outerHTML" {
            button type="submit" { "Join to post" }
        }
    }
}

/// `POST /rooms/{name}/join`: makes this browser a member; answers with the
/// message form. Joins are rate limited per client (429 past the allowance).
pub(crate) async fn join(
    Extension(rooms): Extension<ChatRooms>,
    Path(name): Path<String>,
    context: RequestContext,
    Caller(who): Caller,
) -> Result<Markup, AppError> {
    let room = room(&rooms, &name)?;
    context.join_room(&room, &who).await?;
    Ok(composer(room.key().as_str()))
}

#[derive(Debug, Deserialize)]
pub(crate) struct NewMessage {
    text: String,
}

/// `POST /rooms/{name}/messages` (members only): appends a message. Every
/// attached browser, the sender's included, receives it over SSE.
pub(crate) async fn post(
    Extension(rooms): Extension<ChatRooms>,
    Path(name): Path<String>,
    Caller(who): Caller,
    Form(form): Form<NewMessage>,
) -> Result<StatusCode, AppError> {
    let text = form.text.trim().to_owned();
    if text.is_empty() {
        return Err(AppError::BadInput("the message must not be empty"));
    }
    if text.chars().count() > MAX_TEXT_CHARS {
        return Err(AppError::BadInput(
            "the message must be at most 500 characters",
        ));
    }
    let room = room(&rooms, &name)?;
    let message = Message { text };
    room.update(&who, &MESSAGES, |mut messages| {
        messages.push(message.clone());
        let excess = messages.len().saturating_sub(KEEP_MESSAGES);
        messages.drain(..excess);
        messages
    })
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct EventsQuery {
    #[serde(default)]
    htmx: HtmxVersion,
}

/// `GET /rooms/{name}/events`: the room's SSE stream, from the version the
/// page shows (`?since=`) or the last event a reconnecting browser got. Each
/// new message is an event whose data is its `<li>`; presence counts and
/// resyncs are events too. Past the server's stream caps the request is
/// refused (503 / 429) before it attaches.
pub(crate) async fn events(
    live: LiveSse,
    Extension(rooms): Extension<ChatRooms>,
    Path(name): Path<String>,
    Caller(who): Caller,
    Query(query): Query<EventsQuery>,
) -> Result<RoomSse, AppError> {
    let room = room(&rooms, &name)?;
    let rendered = move |chat: &_, changed: &_| render(query.htmx, chat, changed);
    Ok(live.attach(&room, &who, rendered).await?)
}

/// What changed in the room as SSE fragments: named events for htmx 2's
/// `sse-swap`, unnamed out-of-band swaps for htmx 4 (which swaps only unnamed
/// messages).
fn render(htmx: HtmxVersion, chat: &LiveRoom<Chat>, changed: &Changed) -> Vec<SseFragment> {
    let messages = &chat.state().messages;
    let (name, target, style, html) = match changed {
        Changed::All => ("resync", "log", "innerHTML", list(messages)),
        // Messages only ever grow at the end (old ones drop off the front),
        // so the newest is the last one.
        Changed::Key(_) => match messages.last() {
            Some(newest) => ("chat", "messages", "beforeend", item(newest)),
            None => return Vec::new(),
        },
        Changed::Presence => (
            "presence",
            "presence",
            "innerHTML",
            html! { (chat.attached()) },
        ),
    };
    let fragment = match htmx {
        HtmxVersion::V2 => SseFragment::named(name, html.into_string()),
        HtmxVersion::V4 => SseFragment::unnamed(
            html! { div hx-swap-oob=(format!("{style}:#{target}")) { (html) } }.into_string(),
        ),
    };
    vec![fragment]
}
