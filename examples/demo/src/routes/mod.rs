//! The demo's routes, one file per area.

mod cart;
mod health;
mod index;

use axum::Router;
use axum::routing::{get, post};

use crate::assets;

pub(crate) fn routes() -> Router {
    Router::new()
        .route("/", get(index::show))
        .route("/cart", get(cart::show))
        .route("/cart/items", post(cart::add_item))
        .route("/cart/clear", post(cart::clear))
        .route("/healthz", get(health::check))
        .route("/assets/{file}", get(assets::serve))
        .fallback(|| async { (axum::http::StatusCode::NOT_FOUND, "no such page") })
}
