//! axum integration for [`hyperstate`]: server-side UI state for htmx apps.
//!
//! ```
//! use axum::{Router, response::Html, routing::{get, post}};
//! use hyperstate_axum::prelude::*;
//!
//! // GET /cart: a full page load. The layer issues a fresh page id and injects it
//! // (a <meta> and a few lines of script) so every htmx request sends it back.
//! async fn cart(page: Page) -> Result<Html<String>, Error> {
//!     let items: Vec<String> = page.get_or("items", Vec::new()).await?;
//!     Ok(Html(format!(
//!         "<!doctype html><html><head><script src=/htmx.js></script></head><body>\
//!          <form hx-post=/cart/items hx-target=#items><input name=name></form>\
//!          <ul id=items>{}</ul></body></html>",
//!         items.len()
//!     )))
//! }
//!
//! // POST /cart/items, made by htmx: the same page's state.
//! async fn add(page: Page, axum::Form(form): axum::Form<std::collections::HashMap<String, String>>)
//!     -> Result<Html<String>, Error>
//! {
//!     let name = form.get("name").cloned().unwrap_or_default();
//!     let items = page.update_or("items", Vec::<String>::new(), |mut items| { items.push(name.clone()); items }).await?;
//!     Ok(Html(format!("{} items", items.len())))
//! }
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! # let dir = tempfile::tempdir().unwrap();
//! // Pages and rooms in memory, sessions under ./data (here a temporary one).
//! let state = Hyperstate::builder().data_dir(dir.path()).build().unwrap();
//! let app: Router = Router::new()
//!     .route("/cart", get(cart))
//!     .route("/cart/items", post(add))
//!     .layer(state.layer())
//!     .merge(assets::routes()); // htmx, served by the library
//! # state.shutdown().await; }
//! ```
//!
//! # Rooms
//!
//! Room state ([`hyperstate::room`]) is shared and live: every browser in a
//! room sees each change as it happens, over Server-Sent Events. The app makes
//! a registry of rooms with [`Hyperstate::rooms`] (its streams end when the
//! server shuts down), renders the page at some room version, and points
//! htmx's SSE extension (served by the library, [`assets`]) at a stream from
//! that version on. [`LiveSse`] is that stream in one call: it resumes where
//! the browser left off (`?since=` from the page, `Last-Event-ID` on a
//! reconnect), keeps a typed mirror of the room ([`LiveRoom`]) and calls the
//! app's renderer with it after every change; the renderer returns named
//! fragments, which htmx swaps into the elements with the same `sse-swap`.
//!
//! ```
//! use axum::extract::{Extension, Path};
//! use axum::{Router, response::Html, routing::{get, post}};
//! use hyperstate_axum::prelude::*;
//! use serde::Deserialize;
//! use std::collections::BTreeMap;
//!
//! /// The room's state: one field per key of the room.
//! #[derive(Deserialize)]
//! struct Poll {
//!     votes: BTreeMap<String, u64>,
//! }
//!
//! /// The key the votes are under, with its type and default.
//! const VOTES: Key<BTreeMap<String, u64>> = Key::or_default("votes");
//!
//! fn tally(poll: &Poll) -> String {
//!     poll.votes.iter().map(|(option, n)| format!("<li>{option}: {n}</li>")).collect()
//! }
//!
//! // GET /polls/{id}: the tally now, and a stream from this version on.
//! async fn show(
//!     Extension(polls): Extension<Rooms>,
//!     Path(id): Path<String>,
//!     Caller(who): Caller,
//! ) -> Result<Html<String>, Error> {
//!     let room = polls.room(&id)?;
//!     let poll = LiveRoom::<Poll>::from_snapshot(&room.snapshot(&who).await?)?;
//!     Ok(Html(format!(
//!         r#"<script src="{}"></script><script src="{}"></script>
//!         <button hx-post="/polls/{id}/votes" name="option" value="tea" hx-swap="none">tea</button>
//!         <div hx-ext="sse" sse-connect="/polls/{id}/events?since={}">
//!           <ul sse-swap="tally">{}</ul>
//!           <span sse-swap="watching"></span> watching
//!           <p sse-swap="hyperstate-error"></p>
//!         </div>"#,
//!         assets::HTMX_2,
//!         assets::HTMX_2_SSE,
//!         poll.version(),
//!         tally(poll.state()),
//!     )))
//! }
//!
//! // GET /polls/{id}/events: re-rendered after every change.
//! async fn events(
//!     live: LiveSse,
//!     Extension(polls): Extension<Rooms>,
//!     Path(id): Path<String>,
//!     Caller(who): Caller,
//! ) -> Result<RoomSse, Error> {
//!     let room = polls.room(&id)?;
//!     live.attach(&room, &who, |poll: &LiveRoom<Poll>, changed: &Changed| match changed {
//!         Changed::Presence => vec![SseFragment::named("watching", poll.attached().to_string())],
//!         _ => vec![SseFragment::named("tally", tally(poll.state()))],
//!     })
//!     .await
//! }
//!
//! // POST /polls/{id}/votes
//! async fn vote(
//!     Extension(polls): Extension<Rooms>,
//!     Path(id): Path<String>,
//!     Caller(who): Caller,
//!     axum::Form(form): axum::Form<BTreeMap<String, String>>,
//! ) -> Result<(), Error> {
//!     let option = form.get("option").cloned().unwrap_or_default();
//!     polls.room(&id)?.update(&who, &VOTES, |mut votes| {
//!         *votes.entry(option.clone()).or_default() += 1;
//!         votes
//!     }).await?;
//!     Ok(())
//! }
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! # let dir = tempfile::tempdir().unwrap();
//! # let state = Hyperstate::builder().data_dir(dir.path()).build().unwrap();
//! // Every poll starts with no votes; anyone may read and vote.
//! let polls = state.rooms(|_: &RoomKey| {
//!     RoomInit::new()
//!         .acl(Acl::new(Rights::READ | Rights::WRITE, Rights::READ | Rights::WRITE))
//!         .value(VOTES.name(), &VOTES.default_value())
//! });
//! let app: Router = Router::new()
//!     .route("/polls/{id}", get(show))
//!     .route("/polls/{id}/events", get(events))
//!     .route("/polls/{id}/votes", post(vote))
//!     .layer(Extension(polls))
//!     .layer(state.layer())
//!     .merge(assets::routes());
//! # state.shutdown().await; }
//! ```
//!
//! The renderer learns what changed ([`Changed`]): the whole state on a fresh
//! stream, a resync (the browser fell behind, or resumed from a version the
//! room no longer buffers) or a reset; one key; or only the number of
//! attached browsers. Apps that append rather than replace (a chat log) render
//! only the new item for a key change. A state that no longer decodes as the
//! app's type is logged, sent as a [`hyperstate-error`](ERROR_EVENT) event and
//! ends the stream. `examples/poll` is this app, whole, with its tests.
//!
//! For full control, [`RoomSse`] turns any
//! [`Subscription`](::hyperstate::room::Subscription) into a
//! `text/event-stream` whose event ids are room versions, with a renderer of
//! raw [`RoomEvent`](::hyperstate::room::RoomEvent)s; [`LastEventId`] reads
//! the id a reconnecting browser sends; [`Caller`] is the browser as a room
//! principal. Access denials answer 403.
//!
//! # How a request finds its page
//!
//! | request | page |
//! |---|---|
//! | `GET`/`HEAD` without `HX-Request` (a document load) | a fresh id, injected into the HTML |
//! | any request with `X-Page-Id` | that page (malformed id → 400) |
//! | a form post with a `_page_id` field | that page |
//! | anything else | none: the [`Page`] extractor rejects with 400 |
//!
//! A page is bound to its browser through the `hs_bid` cookie (HttpOnly,
//! SameSite=Lax, `Secure` unless turned off): the same id from another browser
//! is a different, empty page. An id the store does not know is an empty page;
//! see [`ExpiredPage`] for the option to reload expired pages instead.
//!
//! # Browser identity
//!
//! The `hs_bid` cookie carries the browser id, its issue time and a MAC made
//! with a server key ([`hyperstate::identity`]); only cookies the server issued
//! count, so a cookie planted by a sibling subdomain or a plain-HTTP hop is no
//! cookie at all (the browser gets a fresh id when it needs one). Keys rotate
//! through a list ([`HyperstateBuilder::browser_id_keys`]; by default one key
//! derived from the session secret). The cookie's `Max-Age` is the session TTL
//! and it is issued again once a day (and at once when an older key signed
//! it). Minting a new id takes one from the client's allowance
//! ([`HttpConfig::browser_id_rate`]), past which the request is answered 429
//! with `Retry-After`.
//!
//! # Session state
//!
//! The [`Session`] extractor gives the browser's durable session state (see
//! `hyperstate::session`), on the file system under the data directory by
//! default ([`HyperstateBuilder`]; another store with
//! [`HyperstateBuilder::session_store`]). Reads of a browser without the `hs_bid`
//! cookie cost nothing and set no cookie; the first write mints it. A full page
//! load that reads a view clears that view's `Reconnect` values (a fresh visit
//! starts blank), unless another site started it (`Sec-Fetch-Site: cross-site`
//! or `same-site`: a link elsewhere must not erase a draft); htmx requests
//! carrying the page id recover them, also after a server restart. Responses
//! of handlers that use the [`Session`] extractor get `Cache-Control: private,
//! no-store` unless they set their own: they hold one browser's state.
//!
//! # Cross-site request forgery
//!
//! The layer refuses state-changing requests (POST, PUT, PATCH, DELETE) that a
//! browser marks as cross-site — `Sec-Fetch-Site: cross-site` or `same-site`, or
//! an `Origin` whose scheme and authority are not the request's (the URI's,
//! as in HTTP/2, else `Host`; `https` when [`HttpConfig::secure_cookie`])
//! nor one of [`HttpConfig::trusted_origins`] — with 403 and a message. Requests with
//! neither header (non-browser clients) pass; htmx requests also carry the
//! page id in a custom header, which a cross-site form cannot send. Turn the
//! check off with [`HttpConfig::csrf_protection`] only if another layer does it.
//!
//! # Serving on the open internet
//!
//! [`serve`] runs the router with HTTP/1.1 and HTTP/2 on one port, a
//! header-read and an idle timeout, connection caps per client address and
//! in total (below the open-file limit, whose soft value it raises), and a
//! graceful shutdown that ends room streams ([`Server::hyperstate`]; with
//! another server, [`Hyperstate::end_streams`]). Event
//! streams are capped too: take an [`SseSlot`] before attaching and hand it
//! to [`RoomSse::slot`]. See [`ServeConfig`] for running behind a proxy.

pub mod assets;
mod background;
mod breakers;
mod builder;
mod client;
mod client_counts;
mod config;
mod context;
mod csrf;
mod error;
mod handle;
mod inject;
mod layer;
mod live_room;
mod live_sse;
mod page;
pub mod prelude;
mod rate_limit;
mod request;
mod response;
mod room_extract;
mod room_join;
mod room_sse;
mod serve;
mod session;
mod sse_slots;

/// The core crate, for what the [`prelude`] leaves out (backend traits, options):
/// an app needs no dependency on it of its own.
pub use ::hyperstate;
pub use ::hyperstate::{ErrorKind, Key};
pub use background::Background;
pub use builder::{BuildError, DEFAULT_DATA_DIR, HyperstateBuilder};
pub use client::{ClientAddr, ClientIpSource};
pub use config::{ExpiredPage, HttpConfig};
pub use context::RequestContext;
pub use error::Error;
pub use handle::{BackendHealth, Hyperstate};
pub use inject::{META_NAME, head_tags};
pub use layer::{HyperstateLayer, HyperstateService};
pub use live_room::{Changed, LiveRoom};
pub use live_sse::{ERROR_EVENT, LiveSse, SINCE_PARAM};
pub use page::Page;
pub use rate_limit::{ClientRateLimiter, RateLimit};
pub use request::{PAGE_ID_FIELD, PAGE_ID_HEADER};
pub use room_extract::{Caller, LAST_EVENT_ID_HEADER, LastEventId};
pub use room_sse::{DEFAULT_KEEP_ALIVE, RoomSse, SseFragment};
pub use serve::{ServeConfig, Server, serve, shutdown_signal};
pub use session::{Session, SessionView, SessionWrite};
pub use sse_slots::{SSE_BYTES_HTTP1, SSE_BYTES_HTTP2, SseSlot, SseSlots};

// The README's usage example is compiled as a doctest of this crate.
#[doc = include_str!("../../../README.md")]
#[cfg(doctest)]
struct ReadmeDoctests;
