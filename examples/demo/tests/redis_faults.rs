//! The demo on Redis through a fault-injecting proxy, over HTTP: while the link
//! is broken a cart POST answers 503 with a message and `Retry-After`, and
//! `/healthz` answers 503 naming the failing backends; once it heals, the same
//! app answers 2xx again.
//!
//! Redis comes from `HYPERSTATE_REDIS_URL`; without it the test skips loudly,
//! except under `CI=true`, where it fails.

mod common;
mod proxied;

use std::time::Duration;

use axum::http::{StatusCode, header};
use common::Reply;
use hyperstate::breaker::BreakerOptions;
use hyperstate_conformance::fault_proxy::NetFault;
use proxied::demo_on_proxied_redis;

const TIMEOUT: Duration = Duration::from_millis(300);
/// A hang guard, not a speed assertion.
const HANG_GUARD: Duration = Duration::from_secs(3);

async fn bounded(what: &str, reply: impl Future<Output = Reply>) -> Reply {
    tokio::time::timeout(HANG_GUARD, reply)
        .await
        .unwrap_or_else(|_| panic!("{what}: no answer within {HANG_GUARD:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cart_and_healthz_answer_503_during_a_redis_fault_and_recover() {
    let Some(demo) = demo_on_proxied_redis(TIMEOUT, BreakerOptions::default()).await else {
        return;
    };
    let (proxy, state, browser) = (&demo.proxy, &demo.state, &demo.browser);
    let page = browser.load("/cart").await.page_id().unwrap();
    let added = browser.htmx_post("/cart/items", &page, "name=apple").await;
    assert_eq!(added.status, StatusCode::OK, "{}", added.body);

    for fault in [
        NetFault::Refuse,
        NetFault::Blackhole,
        NetFault::Delay(TIMEOUT * 3),
        NetFault::DropReply,
    ] {
        proxy.set(fault);
        let reply = bounded(
            "cart POST",
            browser.htmx_post("/cart/items", &page, "name=pear"),
        )
        .await;
        assert_eq!(
            reply.status,
            StatusCode::SERVICE_UNAVAILABLE,
            "{fault:?}: {}",
            reply.body
        );
        assert_eq!(reply.headers[header::RETRY_AFTER], "1", "{fault:?}");
        assert!(
            reply.body.contains("redis backend failed"),
            "{fault:?}: {}",
            reply.body
        );
        let health = bounded("healthz", browser.load("/healthz")).await;
        assert_eq!(health.status, StatusCode::SERVICE_UNAVAILABLE, "{fault:?}");
        assert!(
            health.body.contains("page (redis): down"),
            "{fault:?}: {}",
            health.body
        );
        assert!(
            health.body.contains("room (redis): down"),
            "{fault:?}: {}",
            health.body
        );
        assert!(
            health.body.contains("session (fs): ok"),
            "{fault:?}: {}",
            health.body
        );

        proxy.set(NetFault::PassThrough);
        let health = bounded("healthz", browser.load("/healthz")).await;
        assert_eq!(health.status, StatusCode::OK, "{fault:?}: {}", health.body);
        let reply = bounded(
            "cart POST",
            browser.htmx_post("/cart/items", &page, "name=plum"),
        )
        .await;
        assert_eq!(reply.status, StatusCode::OK, "{fault:?}: {}", reply.body);
        // The pear of a fault whose request reached Redis may be there: an
        // error means "maybe written". The apple and the plum must be.
        let items = reply.cart_items();
        assert_eq!(
            items.first().map(String::as_str),
            Some("apple"),
            "{fault:?}"
        );
        assert_eq!(items.last().map(String::as_str), Some("plum"), "{fault:?}");
    }
    state.shutdown().await;
}
