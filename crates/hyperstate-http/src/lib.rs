//! The web-framework-neutral half of hyperstate's HTTP integration, on the
//! [`http`] crate's types (as `axum-core` is for axum): what every integration
//! does the same way, so one for another framework is extractors and layer
//! glue only.
//!
//! - [`csrf`]: refusing state-changing requests another site started
//!   (`Sec-Fetch-Site`, `Origin` against the request's scheme and authority);
//! - [`inject`]: the page id put into full-page HTML, and the script that
//!   makes htmx and plain forms send it back;
//! - [`status_of`]: the HTTP status of each kind of core error.

pub mod csrf;
pub mod inject;
mod status;

pub use status::status_of;
