//! The demo's own static files, compiled into the binary, so the demo runs
//! with no CDN and no files beside it (htmx comes from `hyperstate_axum::assets`).

use axum::extract::Path;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

const DEMO_JS: &[u8] = include_bytes!("../assets/demo.js");
const DEMO_CSS: &[u8] = include_bytes!("../assets/demo.css");

/// `GET /assets/{file}`.
pub(crate) async fn serve(Path(file): Path<String>) -> Response {
    let (body, content_type) = match file.as_str() {
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
