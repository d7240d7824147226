//! Static files compiled into the binary, so the demo runs with no CDN and no
//! files beside it.

use axum::extract::Path;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

const HTMX_2: &[u8] = include_bytes!("../assets/vendor/htmx-2.0.11.min.js");
const HTMX_4: &[u8] = include_bytes!("../assets/vendor/htmx-4.0.1.min.js");
const HTMX_2_SSE: &[u8] = include_bytes!("../assets/vendor/htmx-ext-sse-2.2.4.min.js");
const HTMX_4_SSE: &[u8] = include_bytes!("../assets/vendor/hx-sse-4.0.1.min.js");
const DEMO_JS: &[u8] = include_bytes!("../assets/demo.js");
const DEMO_CSS: &[u8] = include_bytes!("../assets/demo.css");

/// `GET /assets/{file}`.
pub(crate) async fn serve(Path(file): Path<String>) -> Response {
    let (body, content_type) = match file.as_str() {
        "htmx-2.min.js" => (HTMX_2, "text/javascript"),
        "htmx-4.min.js" => (HTMX_4, "text/javascript"),
        "htmx-ext-sse.min.js" => (HTMX_2_SSE, "text/javascript"),
        "hx-sse.min.js" => (HTMX_4_SSE, "text/javascript"),
        "demo.js" => (DEMO_JS, "text/javascript"),
        "demo.css" => (DEMO_CSS, "text/css"),
        _ => return (StatusCode::NOT_FOUND, "no such asset").into_response(),
    };
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        body,
    )
        .into_response()
}
