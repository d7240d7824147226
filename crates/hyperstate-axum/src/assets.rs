//! htmx and its SSE extension, served by the library so apps copy no vendor
//! files and need no CDN.
//!
//! Mount [`routes`] on the app's router and point `<script>` tags at the paths
//! below. Each path names the file's version, so browsers may cache it for a
//! year: an upgrade of this crate changes the path. htmx itself comes with the
//! `htmx` feature (on by default); the SSE extensions are always here, as room
//! streams need them.
//!
//! ```
//! use axum::{Router, routing::get};
//! use hyperstate_axum::assets;
//!
//! let app: Router = Router::new()
//!     .route("/", get(|| async {
//!         axum::response::Html(format!(
//!             r#"<script src="{}"></script><script src="{}"></script>"#,
//!             assets::HTMX_2,
//!             assets::HTMX_2_SSE,
//!         ))
//!     }))
//!     .merge(assets::routes());
//! ```
//!
//! The files and their licenses (BSD Zero-Clause) are in the crate's
//! `assets/vendor` folder.

use axum::Router;
use axum::extract::Path;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use http::{StatusCode, header};

/// Where [`routes`] serves the files: `GET /_hyperstate/{file}`.
pub const PREFIX: &str = "/_hyperstate";

/// htmx 2.x (the `htmx` feature).
#[cfg(feature = "htmx")]
pub const HTMX_2: &str = "/_hyperstate/htmx-2.0.11.min.js";
/// htmx 4.x (the `htmx` feature).
#[cfg(feature = "htmx")]
pub const HTMX_4: &str = "/_hyperstate/htmx-4.0.1.min.js";
/// The SSE extension for htmx 2.x (`hx-ext="sse"`, `sse-connect`, `sse-swap`).
pub const HTMX_2_SSE: &str = "/_hyperstate/htmx-ext-sse-2.2.4.min.js";
/// The SSE extension htmx 4.x ships (`hx-sse:connect`).
pub const HTMX_4_SSE: &str = "/_hyperstate/hx-sse-4.0.1.min.js";

/// Every served file: its path and its bytes.
const FILES: &[(&str, &[u8])] = &[
    #[cfg(feature = "htmx")]
    (
        HTMX_2,
        include_bytes!("../assets/vendor/htmx-2.0.11.min.js"),
    ),
    #[cfg(feature = "htmx")]
    (HTMX_4, include_bytes!("../assets/vendor/htmx-4.0.1.min.js")),
    (
        HTMX_2_SSE,
        include_bytes!("../assets/vendor/htmx-ext-sse-2.2.4.min.js"),
    ),
    (
        HTMX_4_SSE,
        include_bytes!("../assets/vendor/hx-sse-4.0.1.min.js"),
    ),
];

/// The router that serves the files under [`PREFIX`]; merge it into the app's.
/// It needs no hyperstate layer (merging it after `.layer(...)` keeps the
/// layer off these requests).
pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new().route("/_hyperstate/{file}", get(serve))
}

/// The handler behind [`routes`], for an app that mounts it itself: `file` is
/// the last segment of one of the paths above; anything else is 404.
pub async fn serve(Path(file): Path<String>) -> Response {
    let found = FILES.iter().find(|(path, _)| {
        path.strip_prefix(PREFIX).and_then(|p| p.strip_prefix('/')) == Some(&file)
    });
    match found {
        Some((_, body)) => (
            [
                (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
                // The path names the version: the bytes behind it never change.
                (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
            ],
            *body,
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "no such asset").into_response(),
    }
}
