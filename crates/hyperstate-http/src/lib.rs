//! The web-framework-neutral half of hyperstate's HTTP integration, on the
//! [`http`] crate's types (as `axum-core` is for axum): what every integration
//! does the same way, so one for another framework is extractors and layer
//! glue only.
//!
//! The composition root:
//!
//! - [`Hyperstate`]: the application's handle (the backends of each scope,
//!   the settings, the supervisor of the background jobs), made by
//!   [`HyperstateBuilder`];
//! - [`HttpConfig`]: the HTTP settings; [`Background`]: how often the
//!   background jobs run.
//!
//! Each request:
//!
//! - [`csrf`]: refusing state-changing requests another site started
//!   (`Sec-Fetch-Site`, `Origin` against the request's scheme and authority);
//! - [`page_id`]: how a request finds its page (header, form field, fresh
//!   on a document load);
//! - [`browser_cookie`]: the signed browser-id cookie, read and issued;
//! - [`ClientAddr`]: the client a request comes from, the key of per-client
//!   limits (the peer, or a trusted proxy's header);
//! - [`RequestContext`]: what an integration's middleware learned of a
//!   request, which its extractors open each scope from;
//! - [`inject`]: the page id put into full-page HTML, and the script that
//!   makes htmx and plain forms send it back;
//! - [`status_of`]: the HTTP status of each kind of core error.
//!
//! Limits and live rooms:
//!
//! - [`ClientRateLimiter`]: per-client allowances (new browser ids, room
//!   joins); [`client_counts`]: open things counted in total and per client;
//! - [`SseSlots`]: the cap on open event streams;
//! - [`LiveRoom`]: a room's state mirrored as the app's type, for rendering
//!   on every change.

mod background;
mod breakers;
pub mod browser_cookie;
mod builder;
mod client;
pub mod client_counts;
mod config;
mod context;
mod context_identity;
pub mod csrf;
mod handle;
pub mod inject;
mod live_room;
pub mod page_id;
mod rate_limit;
mod room_join;
mod sse_slots;
mod status;

pub use background::Background;
pub use builder::{BuildError, DEFAULT_DATA_DIR, HyperstateBuilder};
pub use client::{ClientAddr, ClientIpSource};
pub use config::{ExpiredPage, HttpConfig};
pub use context::RequestContext;
pub use handle::{BackendHealth, Hyperstate};
pub use live_room::{Changed, LiveRoom};
pub use rate_limit::{ClientRateLimiter, RateLimit};
pub use sse_slots::{SSE_BYTES_HTTP1, SSE_BYTES_HTTP2, SseRefused, SseSlot, SseSlots};
pub use status::status_of;
