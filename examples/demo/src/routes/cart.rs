//! The cart: page-scoped state, the seeds' shopping-cart exercise.
//!
//! Each tab has its own cart; a refresh (a new page id) starts an empty one.

use axum::Form;
use axum::extract::Query;
use hyperstate_axum::prelude::*;
use maud::{Markup, html};
use serde::Deserialize;

use crate::AppError;
use crate::layout::{self, PageQuery};

/// The tab's cart: item names, in the order they were added.
const ITEMS: Key<Vec<String>> = Key::or_default("cart_items");
const MAX_NAME_CHARS: usize = 100;

/// `GET /cart`: the page, with this page's (empty) cart.
pub(crate) async fn show(page: Page, Query(query): Query<PageQuery>) -> Result<Markup, AppError> {
    let items = page.get(&ITEMS).await?;
    Ok(layout::page(
        "Cart",
        query.htmx,
        html! {
            p.muted { "This cart lives in page state: another tab has its own, and a refresh empties it." }
            form #add-item hx-post="/cart/items" hx-target="#cart" hx-swap="outerHTML" data-reset {
                input #item-name type="text" name="name" placeholder="Item name" required autocomplete="off";
                button type="submit" { "Add" }
            }
            (list(&items))
            form hx-post="/cart/clear" hx-target="#cart" hx-swap="outerHTML" {
                button #clear-cart type="submit" { "Empty the cart" }
            }
        },
    ))
}

/// The form of `POST /cart/items`.
#[derive(Debug, Deserialize)]
pub(crate) struct NewItem {
    name: String,
}

impl NewItem {
    /// The item's name, trimmed; refused when empty or longer than 100 characters.
    pub(crate) fn into_name(self) -> Result<String, AppError> {
        let name = self.name.trim().to_owned();
        if name.is_empty() {
            return Err(AppError::BadInput("the item name must not be empty"));
        }
        if name.chars().count() > MAX_NAME_CHARS {
            return Err(AppError::BadInput(
                "the item name must be at most 100 characters",
            ));
        }
        Ok(name)
    }
}

/// `POST /cart/items` (htmx): adds an item; answers with the updated list.
pub(crate) async fn add_item(page: Page, Form(form): Form<NewItem>) -> Result<Markup, AppError> {
    let name = form.into_name()?;
    let items = page
        .update(&ITEMS, |mut items| {
            items.push(name.clone());
            items
        })
        .await?;
    Ok(list(&items))
}

/// `POST /cart/clear` (htmx): empties the cart.
pub(crate) async fn clear(page: Page) -> Result<Markup, AppError> {
    page.delete(&ITEMS).await?;
    Ok(list(&[]))
}

/// The cart fragment every cart route answers with (`#cart`: the count and the
/// items, in order).
pub(crate) fn list(items: &[String]) -> Markup {
    html! {
        section #cart {
            p #cart-count { (items.len()) " item" @if items.len() != 1 { "s" } }
            ul #cart-items {
                @for item in items { li { (item) } }
            }
        }
    }
}
