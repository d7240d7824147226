//! `GET /`: what each scope is, with a link to try it.

use axum::extract::Query;
use maud::{Markup, html};

use crate::layout::{self, PageQuery};

pub(crate) async fn show(Query(query): Query<PageQuery>) -> Markup {
    layout::page(
        "hyperstate",
        query.htmx,
        html! {
            p { "Server-side UI state for htmx apps, in three scopes." }
            ul {
                li {
                    a href="/cart" { "Cart" }
                    " — page scope: one cart per tab; refresh and it is empty again."
                }
                li {
                    a href="/settings" { "Settings" }
                    " — session scope: a theme that sticks across tabs and restarts, and a per-tab draft."
                }
                li {
                    a href="/rooms/lobby" { "Chat room" }
                    " — room scope: shared live by every browser in the room; join to post."
                }
            }
            p.muted { "Append " code { "?htmx=4" } " to any page to run it on htmx 4.x." }
        },
    )
}
