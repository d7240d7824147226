//! The demo's routes, one file per area.

pub(crate) mod cart;
mod chat;
pub(crate) mod health;
mod index;
mod settings;

use axum::routing::{get, post};
use axum::{Extension, Router};
use hyperstate_axum::Hyperstate;

use crate::assets;

pub(crate) fn routes(state: &Hyperstate) -> Router {
    // A layer wraps every route above it and runs on each of their requests: the
    // chat registry is an extension of the chat routes only, so that the cart and
    // settings do not clone it on every request for nothing.
    let chat = Router::new()
        .route("/rooms/{name}", get(chat::show))
        .route("/rooms/{name}/join", post(chat::join))
        .route("/rooms/{name}/messages", post(chat::post))
        .route("/rooms/{name}/events", get(chat::events))
        .layer(Extension(chat::rooms(state)));
    Router::new()
        .route("/", get(index::show))
        .route("/cart", get(cart::show))
        .route("/cart/items", post(cart::add_item))
        .route("/cart/clear", post(cart::clear))
        .route("/settings", get(settings::show))
        .route("/settings/theme", post(settings::set_theme))
        .route(
            "/settings/draft",
            get(settings::show_draft).post(settings::set_draft),
        )
        .merge(chat)
        .route("/healthz", get(health::check))
        .route("/metrics", get(health::metrics))
        .route("/assets/{file}", get(assets::serve))
        .merge(hyperstate_axum::assets::routes())
        .fallback(|| async { (axum::http::StatusCode::NOT_FOUND, "no such page") })
}
