//! The web-framework-neutral half of hyperstate's HTTP integration, on the
//! [`http`] crate's types (as `axum-core` is for axum): what every integration
//! does the same way, so one for another framework is extractors and layer
//! glue only.
//!
//! - [`csrf`]: refusing state-changing requests another site started
//!   (`Sec-Fetch-Site`, `Origin` against the request's scheme and authority);
//! - [`inject`]: the page id put into full-page HTML, and the script that
//!   makes htmx and plain forms send it back;
//! - [`page_id`]: how a request finds its page (header, form field, fresh
//!   on a document load);
//! - [`browser_cookie`]: the signed browser-id cookie, read and issued;
//! - [`ClientAddr`]: the client a request comes from, the key of per-client
//!   limits (the peer, or a trusted proxy's header);
//! - [`status_of`]: the HTTP status of each kind of core error.

pub mod browser_cookie;
mod client;
pub mod csrf;
pub mod inject;
pub mod page_id;
mod status;

pub use client::{ClientAddr, ClientIpSource};
pub use status::status_of;
