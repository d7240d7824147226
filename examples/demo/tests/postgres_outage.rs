//! The demo on PostgreSQL (`--postgres`) while the server is stopped and
//! started again: during the outage a cart POST and `/healthz` answer 503;
//! once PostgreSQL is back the same process answers 2xx again (its pool
//! reconnects; nothing is restarted), and the items acknowledged before the
//! outage are still there.
//!
//! Needs the private server of `scripts/services/postgres.sh` (see
//! `hyperstate_conformance::services::private_postgres`).

mod common;
mod nodes;
mod tcp;

use std::time::Duration;

use axum::http::StatusCode;
use hyperstate_conformance::services::{PostgresStopped, private_postgres};
use nodes::TcpBrowser;

/// A hang guard, not a speed assertion.
const BOUND: Duration = Duration::from_secs(30);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_answers_503_while_postgres_is_down_and_recovers_by_itself() {
    let Some(url) = private_postgres() else {
        return;
    };
    let node = nodes::postgres::node(&url).await;
    let browser = TcpBrowser::new();
    let id = browser.load(node.addr, "/cart").await.page_id().unwrap();
    let added = browser
        .htmx_post(node.addr, "/cart/items", &id, "name=apple")
        .await;
    assert_eq!(added.status, StatusCode::OK, "{}", added.body);

    let stopped = tokio::task::spawn_blocking(PostgresStopped::stop)
        .await
        .unwrap();
    let reply = tokio::time::timeout(
        BOUND,
        browser.htmx_post(node.addr, "/cart/items", &id, "name=pear"),
    )
    .await
    .expect("an answer during the outage");
    assert_eq!(
        reply.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        reply.body
    );
    let health = tokio::time::timeout(BOUND, browser.load(node.addr, "/healthz"))
        .await
        .expect("an answer during the outage");
    assert_eq!(
        health.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        health.body
    );
    tokio::task::spawn_blocking(|| stopped.start())
        .await
        .unwrap();

    // The circuit breaker lets a probe through after a while: retry, bounded.
    let reply = tokio::time::timeout(BOUND, async {
        loop {
            let reply = browser
                .htmx_post(node.addr, "/cart/items", &id, "name=plum")
                .await;
            if reply.status == StatusCode::OK {
                return reply;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    })
    .await
    .expect("the demo recovers once PostgreSQL is back");
    // A pear whose request reached PostgreSQL may be there ("maybe written");
    // the apple and the plum must be.
    let items = reply.cart_items();
    assert_eq!(
        items.first().map(String::as_str),
        Some("apple"),
        "{items:?}"
    );
    assert_eq!(items.last().map(String::as_str), Some("plum"), "{items:?}");
}
