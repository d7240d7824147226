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
//! Room state ([`hyperstate::room`]) reaches browsers over Server-Sent Events:
//! [`RoomSse`] turns a [`Subscription`](::hyperstate::room::Subscription) into a
//! `text/event-stream` whose event ids are room versions; [`LastEventId`] reads
//! the id a reconnecting browser sends, so it resumes without gaps or
//! duplicates; [`Caller`] is the browser as a room principal. The app makes a
//! registry of rooms with [`Hyperstate::rooms`], whose streams end when the
//! server shuts down. The library serves the htmx SSE extension ([`assets`]).
//! Access denials answer 403.
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
mod client_counts;
mod config;
mod context;
mod error;
mod handle;
mod layer;
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
pub use config::{ExpiredPage, HttpConfig};
pub use context::RequestContext;
pub use error::Error;
pub use handle::{BackendHealth, Hyperstate};
pub use hyperstate::session::{
    RequestSessionView as SessionView, RequestSessionWrite as SessionWrite,
};
pub use hyperstate_http::inject::{META_NAME, head_tags};
pub use hyperstate_http::page_id::{PAGE_ID_FIELD, PAGE_ID_HEADER};
pub use hyperstate_http::{ClientAddr, ClientIpSource};
pub use layer::{HyperstateLayer, HyperstateService};
pub use page::Page;
pub use rate_limit::{ClientRateLimiter, RateLimit};
pub use room_extract::{Caller, LAST_EVENT_ID_HEADER, LastEventId};
pub use room_sse::{DEFAULT_KEEP_ALIVE, RoomSse, SseFragment};
pub use serve::{ServeConfig, Server, serve, shutdown_signal};
pub use session::Session;
pub use sse_slots::{SSE_BYTES_HTTP1, SSE_BYTES_HTTP2, SseSlot, SseSlots};

// The README's usage example is compiled as a doctest of this crate.
#[doc = include_str!("../../../README.md")]
#[cfg(doctest)]
struct ReadmeDoctests;
