//! axum integration for [`hyperstate`]: server-side UI state for htmx apps, in
//! three scopes — **page** (one tab), **session** (one browser, durable) and
//! **room** (shared by key, live over SSE).
//!
//! This page is the guide: each scope with its Rust and the HTML that drives
//! it, the rules an app must keep, and how to test handlers. The sections after
//! it are the reference. Focused apps, each with HTTP tests, live in the
//! repository's `examples/`: `wizard` (page), `prefs` (session), `readme`
//! (page and session), `two-node` (every scope shared by two nodes through
//! PostgreSQL), `demo` (all three scopes, every backend).
//!
//! # Setting up
//!
//! One import, one handle, one layer. [`Hyperstate::builder`] keeps pages and
//! rooms in memory and sessions on the file system under `./data`
//! ([`HyperstateBuilder::data_dir`]), with the secret from
//! `HYPERSTATE_SESSION_SECRET` or a development secret generated into the data
//! directory (with a warning). [`assets::routes`] serves htmx and its SSE
//! extension, so there is nothing to vendor.
//!
//! ```
//! use axum::Router;
//! use hyperstate_axum::prelude::*;
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! # let dir = tempfile::tempdir().unwrap();
//! let state = Hyperstate::builder().data_dir(dir.path()).build().unwrap();
//! let app: Router = Router::new()
//!     // .route(...) for the handlers below
//!     .layer(state.layer())
//!     .merge(assets::routes()); // htmx at assets::HTMX_2, its SSE extension at assets::HTMX_2_SSE
//! // serve(listener, app).hyperstate(&state).run(shutdown_signal()).await?;
//! state.shutdown().await;
//! # }
//! ```
//!
//! State is read and written through typed keys, declared once with their type
//! and their default ([`Key`]); a read of a key nothing was stored under
//! returns the default, so every read is a `Result<T>`. Handlers return
//! `Result<_, `[`Error`]`>`: a broken limit answers 413, a malformed id 400, a
//! backend outage 503, each with a message.
//!
//! # Page state: one tab
//!
//! A full page load gets a fresh page id, which the layer injects into the
//! HTML (a `<meta>` and a few lines of script); htmx then sends it back in
//! `X-Page-Id` on every request, so the [`Page`] extractor finds the tab's
//! state. A reload is a new page, empty. A whole struct can be one value:
//! [`try_update`](hyperstate::page::Page::try_update) validates and writes it
//! atomically, and writes nothing when the closure returns an error.
//!
//! ```
//! use axum::{Form, http::StatusCode, response::{Html, IntoResponse, Response}};
//! use hyperstate_axum::prelude::*;
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Default, Serialize, Deserialize)]
//! struct Cart { items: Vec<String> }
//! const CART: Key<Cart> = Key::or_default("cart");
//!
//! // GET /cart
//! async fn cart(page: Page) -> Result<Html<String>, Error> {
//!     let cart = page.get(&CART).await?;
//!     Ok(Html(format!(r##"<!doctype html>
//! <html><head><script src="{htmx}"></script></head><body>
//!   <form hx-post="/cart/items" hx-target="#count"><input name="name"><button>Add</button></form>
//!   <b id="count">{n}</b> items
//! </body></html>"##, htmx = assets::HTMX_2, n = cart.items.len())))
//! }
//!
//! #[derive(Deserialize)]
//! struct Item { name: String }
//!
//! // POST /cart/items, sent by htmx with the tab's X-Page-Id
//! async fn add(page: Page, Form(item): Form<Item>) -> Result<Response, Error> {
//!     let added = page.try_update(&CART, |mut cart| {
//!         if cart.items.len() >= 10 { return Err("the cart is full"); }
//!         cart.items.push(item.name.clone());
//!         Ok(cart)
//!     }).await?;
//!     Ok(match added {
//!         Ok(cart) => cart.items.len().to_string().into_response(),
//!         Err(why) => (StatusCode::UNPROCESSABLE_ENTITY, why).into_response(),
//!     })
//! }
//! # let _ = axum::Router::<()>::new().route("/cart", axum::routing::get(cart)).route("/cart/items", axum::routing::post(add));
//! ```
//!
//! A plain `<form method="post">` without htmx sends the id as a hidden
//! `_page_id` field instead ([`PAGE_ID_FIELD`]).
//!
//! # Session state: one browser, durable
//!
//! The [`Session`] extractor gives the browser's session, split into *views*
//! (one per feature, a [`View`](hyperstate::session::View) declared once as a
//! `static` or `const`). Reads of a browser that never wrote cost nothing and
//! set no cookie; the first write mints the `hs_bid` cookie. Several keys
//! written with [`SessionView::write`] are one durable commit;
//! [`SessionView::try_update`] changes one key atomically and writes nothing
//! when its closure declines.
//!
//! ```
//! use axum::{Form, response::Html};
//! use hyperstate_axum::prelude::*;
//! use serde::Deserialize;
//!
//! static PREFS: View = View::new("prefs");
//! const THEME: Key<String> = Key::new("theme", || "light".to_owned());
//! const TEXT_SIZE: Key<u8> = Key::new("text_size", || 16);
//!
//! // GET /: takes `Page` too (see the rules) so the cookie is bound here.
//! async fn home(_page: Page, session: Session) -> Result<Html<String>, Error> {
//!     let prefs = session.view(&PREFS);
//!     let (theme, size) = (prefs.get(&THEME).await?, prefs.get(&TEXT_SIZE).await?);
//!     Ok(Html(format!(r##"<!doctype html>
//! <html><head><script src="{htmx}"></script></head>
//! <body class="{theme}" style="font-size: {size}px">
//!   <form hx-post="/prefs" hx-target="#saved">
//!     <select name="theme"><option>light</option><option>dark</option></select>
//!     <input name="text_size" type="number" value="{size}">
//!     <button>Save</button> <span id="saved"></span>
//!   </form>
//! </body></html>"##, htmx = assets::HTMX_2)))
//! }
//!
//! #[derive(Deserialize)]
//! struct Prefs { theme: String, text_size: u8 }
//!
//! // POST /prefs: both keys or neither.
//! async fn save(session: Session, Form(form): Form<Prefs>) -> Result<&'static str, Error> {
//!     session.view(&PREFS).write()
//!         .put(&THEME, &form.theme)
//!         .put(&TEXT_SIZE, &form.text_size)
//!         .commit()
//!         .await?;
//!     Ok("saved")
//! }
//! # let _ = axum::Router::<()>::new().route("/", axum::routing::get(home)).route("/prefs", axum::routing::post(save));
//! ```
//!
//! # Room state: shared, live over SSE
//!
//! Room state ([`hyperstate::room`]) is shared and live: every browser in a
//! room sees each change as it happens, over Server-Sent Events. The app makes
//! a registry of rooms with [`Hyperstate::rooms`](hyperstate_http::Hyperstate::rooms) (its streams end when the
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
//! # Rules
//!
//! - **Declare a [`View`](hyperstate::session::View) once, as a `static` or
//!   `const`** (`static PREFS: View = View::new("prefs");`; its builder methods
//!   are `const fn`s): one definition per view, shared by every request, so two
//!   definitions cannot drift apart. Keys are plain `const`s.
//! - **The full-page GET takes [`Page`]**, even when it reads nothing from it:
//!   that request binds the page id to the browser's cookie. Without it the
//!   first htmx requests of a fresh browser race to mint the cookie, and each
//!   may land on a different, empty page.
//! - **Rooms are live state, not storage.** A room lives while someone is
//!   attached, then for its idle TTL (60 s by default); then it is dropped,
//!   membership with it. A restart keeps memory rooms only with a snapshot
//!   directory ([`HyperstateBuilder::snapshot_dir`]); a crash loses them. Keep
//!   what must last in session state or the app's database.
//!
//! # Testing handlers
//!
//! Build the app's router on a [`Hyperstate`] of its own — a temporary data
//! directory for sessions, or [`HyperstateBuilder::without_sessions`], or a
//! [`MemoryDocumentStore`](hyperstate::memory::MemoryDocumentStore) through
//! [`HyperstateBuilder::session_store`] — and send requests with
//! `tower::ServiceExt::oneshot` (or serve it on a listener bound to
//! `127.0.0.1:0` for a real client). Do as a browser does: load the page,
//! keep the `Set-Cookie` and the injected page id (the `<meta name=`
//! [`META_NAME`]`>`), and send both back with `HX-Request: true`.
//!
//! ```
//! use std::sync::Arc;
//! use axum::{Router, body::Body, http::{Request, header}, response::Html, routing::{get, post}};
//! use http_body_util::BodyExt;
//! use hyperstate_axum::prelude::*;
//! use tower::ServiceExt;
//!
//! const N: Key<u64> = Key::or_default("n");
//! async fn home(page: Page) -> Result<Html<String>, Error> {
//!     Ok(Html(format!("<html><head></head><body>{}</body></html>", page.get(&N).await?)))
//! }
//! async fn count(page: Page) -> Result<String, Error> {
//!     Ok(page.update(&N, |n| n + 1).await?.to_string())
//! }
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let state = Hyperstate::builder()
//!     .session_store(Arc::new(MemoryDocumentStore::default()))
//!     .session_secret(SessionSecret::generate())
//!     .build()
//!     .unwrap();
//! let app = Router::new().route("/", get(home)).route("/count", post(count)).layer(state.layer());
//!
//! let loaded = app.clone().oneshot(Request::get("/").body(Body::empty()).unwrap()).await.unwrap();
//! let cookie = loaded.headers()[header::SET_COOKIE].to_str().unwrap().split(';').next().unwrap().to_owned();
//! let html = String::from_utf8(loaded.into_body().collect().await.unwrap().to_bytes().to_vec()).unwrap();
//! let marker = format!(r#"name="{}" content=""#, hyperstate_axum::META_NAME);
//! let page_id = html.split(&marker).nth(1).unwrap().split('"').next().unwrap();
//!
//! let counted = app.oneshot(Request::post("/count")
//!     .header(header::COOKIE, &cookie)
//!     .header("hx-request", "true")
//!     .header(hyperstate_axum::PAGE_ID_HEADER, page_id)
//!     .body(Body::empty()).unwrap()).await.unwrap();
//! let body = counted.into_body().collect().await.unwrap().to_bytes();
//! assert_eq!(&body[..], b"1");
//! state.shutdown().await;
//! # }
//! ```
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
//! another server, [`Hyperstate::end_streams`](hyperstate_http::Hyperstate::end_streams)). Event
//! streams are capped too: take an [`SseSlot`] before attaching and hand it
//! to [`RoomSse::slot`]. See [`ServeConfig`] for running behind a proxy.

pub mod assets;
mod error;
mod handle;
mod layer;
mod live_sse;
mod page;
pub mod prelude;
mod request;
mod request_context;
mod response;
mod room_extract;
mod room_sse;
mod serve;
mod session;
mod sse_slot;

/// The core crate, for what the [`prelude`] leaves out (backend traits, options):
/// an app needs no dependency on it of its own.
pub use ::hyperstate;
pub use ::hyperstate::{ErrorKind, Key};
/// The framework-neutral half of the integration, for what the crate root
/// leaves out (the pieces another framework's integration is built from).
pub use ::hyperstate_http;
pub use error::Error;
pub use handle::{Hyperstate, HyperstateBuilder};
pub use hyperstate::session::{
    RequestSessionView as SessionView, RequestSessionWrite as SessionWrite,
};
pub use hyperstate_http::inject::{META_NAME, head_tags};
pub use hyperstate_http::page_id::{PAGE_ID_FIELD, PAGE_ID_HEADER};
pub use hyperstate_http::{
    BackendHealth, Background, BuildError, Changed, ClientAddr, ClientIpSource, ClientRateLimiter,
    DEFAULT_DATA_DIR, ExpiredPage, HttpConfig, LiveRoom, RateLimit, SSE_BYTES_HTTP1,
    SSE_BYTES_HTTP2, SseSlots,
};
pub use layer::{HyperstateLayer, HyperstateService};
pub use live_sse::{ERROR_EVENT, LiveSse, SINCE_PARAM};
pub use page::Page;
pub use request_context::RequestContext;
pub use room_extract::{Caller, LAST_EVENT_ID_HEADER, LastEventId};
pub use room_sse::{DEFAULT_KEEP_ALIVE, RoomSse, SseFragment};
pub use serve::{ServeConfig, Server, serve, shutdown_signal};
pub use session::Session;
pub use sse_slot::SseSlot;

// The README's usage example is compiled as a doctest of this crate.
#[doc = include_str!("../../../README.md")]
#[cfg(doctest)]
struct ReadmeDoctests;
