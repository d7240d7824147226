//! The baseline of the HTTP benchmark (`scripts/bench-http`): the demo's
//! `POST /cart/items` without hyperstate.
//!
//! The same form parsing and the same cart markup as the demo's handler, with
//! no state and no layer. A stateless server cannot know how many items the
//! cart holds, so the load generator tells it in [`ITEMS_HEADER`]: the count
//! the demo's cart reaches with that request. For the same form and count the
//! reply is byte for byte the demo's (`tests/bare.rs` checks it), so the two
//! servers differ only by what hyperstate does: the layer, the page lookup, the
//! atomic update and its JSON round trip.

use axum::Router;
use axum::extract::Form;
use axum::http::HeaderMap;
use axum::routing::post;
use maud::Markup;

use crate::AppError;
use crate::routes::cart::{NewItem, list};

/// The request header carrying how many items the cart holds after this
/// request (1 when absent; at most [`MAX_ITEMS`]).
pub const ITEMS_HEADER: &str = "x-bench-items";

/// The largest count [`ITEMS_HEADER`] may ask for: the reply is built in
/// memory, and this is a benchmark server, not a way to make it allocate at will.
pub const MAX_ITEMS: usize = 10_000;

/// The baseline's router: the one route, as the demo routes it, and no layer.
pub fn router() -> Router {
    Router::new().route("/cart/items", post(add_item))
}

/// `POST /cart/items`: renders a cart of `x-bench-items` copies of the item.
async fn add_item(headers: HeaderMap, Form(form): Form<NewItem>) -> Result<Markup, AppError> {
    let name = form.into_name()?;
    let count = headers
        .get(ITEMS_HEADER)
        .and_then(|v| v.to_str().ok()?.parse::<usize>().ok())
        .unwrap_or(1)
        .clamp(1, MAX_ITEMS);
    Ok(list(&vec![name; count]))
}
