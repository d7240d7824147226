//! The demo on a Redis that stops answering, with a command timeout (30 s)
//! far longer than the test's hang guard (5 s): once the circuit breakers
//! have seen Redis fail a few times, requests that need Redis answer 503 with
//! `Retry-After` at once instead of waiting out the timeout, requests that
//! need no Redis (a session write on the file system, a static asset) are
//! served as before, and once the link heals the same app serves Redis
//! requests again, without a restart.
//!
//! The breakers open on failures that come quickly (refused connections);
//! then the link goes silent (a blackhole), which without them would hold
//! every Redis request for 30 s.
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

/// Redis's command and connect timeout: no request in this test may wait it out.
const REDIS_TIMEOUT: Duration = Duration::from_secs(30);
/// A hang guard, not a speed assertion: far below [`REDIS_TIMEOUT`].
const HANG_GUARD: Duration = Duration::from_secs(5);
/// Long enough that the silent phase (a few in-process requests) ends before
/// a probe would go to the silent Redis.
const COOL_DOWN: Duration = Duration::from_secs(3);
/// How long the app may take to use Redis again once the link heals: the
/// cool-down, then a probe.
const RECOVERY_GUARD: Duration = Duration::from_secs(30);

async fn bounded(what: &str, reply: impl Future<Output = Reply>) -> Reply {
    tokio::time::timeout(HANG_GUARD, reply)
        .await
        .unwrap_or_else(|_| panic!("{what}: no answer within {HANG_GUARD:?}"))
}

/// Sends `request` until its reply says the breaker is open; every reply on
/// the way must be a 503 (Redis refused).
async fn until_breaker_opens(what: &str, request: impl AsyncFn() -> Reply) -> Reply {
    for _ in 0..20 {
        let reply = bounded(what, request()).await;
        assert_eq!(
            reply.status,
            StatusCode::SERVICE_UNAVAILABLE,
            "{what}: {}",
            reply.body
        );
        if reply.body.contains("state is unavailable") {
            return reply;
        }
    }
    panic!("{what}: the breaker did not open after 20 failures");
}

/// Sends `request` until it succeeds, within [`RECOVERY_GUARD`].
async fn until_ok(what: &str, request: impl AsyncFn() -> Reply) -> Reply {
    let recovered = tokio::time::timeout(RECOVERY_GUARD, async {
        loop {
            let reply = bounded(what, request()).await;
            if reply.status == StatusCode::OK {
                return reply;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    recovered.await.unwrap_or_else(|_| {
        panic!("{what}: still failing {RECOVERY_GUARD:?} after the fault cleared")
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_requests_fail_fast_while_redis_is_silent_and_recover_after() {
    let Some(demo) = demo_on_proxied_redis(
        REDIS_TIMEOUT,
        BreakerOptions::default().cool_down(COOL_DOWN),
    )
    .await
    else {
        return;
    };
    let (proxy, state, browser) = (&demo.proxy, &demo.state, &demo.browser);
    let cart = browser.load("/cart").await.page_id().unwrap();
    let settings = browser.load("/settings").await.page_id().unwrap();
    let added = browser.htmx_post("/cart/items", &cart, "name=apple").await;
    assert_eq!(added.status, StatusCode::OK, "{}", added.body);
    let room = format!("breaker-{}", hyperstate::BrowserId::generate());
    let room_path = format!("/rooms/{room}");

    // Redis refuses: failures come at once, and the page and room breakers open.
    proxy.set(NetFault::Refuse);
    until_breaker_opens("cart POST", async || {
        browser.htmx_post("/cart/items", &cart, "name=pear").await
    })
    .await;
    until_breaker_opens("room GET", async || browser.load(&room_path).await).await;

    // Redis goes silent. Without the breakers each of these would wait 30 s.
    proxy.set(NetFault::Blackhole);
    for _ in 0..3 {
        let reply = bounded(
            "cart POST",
            browser.htmx_post("/cart/items", &cart, "name=plum"),
        )
        .await;
        assert_eq!(
            reply.status,
            StatusCode::SERVICE_UNAVAILABLE,
            "{}",
            reply.body
        );
        assert!(
            reply
                .body
                .contains("page state is unavailable: its redis backend is failing"),
            "{}",
            reply.body
        );
        let retry_after: u64 = reply.headers[header::RETRY_AFTER]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!(
            (1..=COOL_DOWN.as_secs()).contains(&retry_after),
            "{retry_after}"
        );
    }
    let reply = bounded("room GET", browser.load(&room_path)).await;
    assert_eq!(
        reply.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        reply.body
    );
    let health = bounded("healthz", browser.load("/healthz")).await;
    assert_eq!(
        health.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        health.body
    );
    for line in ["page (redis): down", "room (redis): down"] {
        assert!(health.body.contains(line), "{}", health.body);
    }
    assert!(
        health.body.contains("circuit breaker open"),
        "{}",
        health.body
    );
    assert!(health.body.contains("session (fs): ok"), "{}", health.body);

    // What needs no Redis is served as before.
    let theme = bounded(
        "settings POST",
        browser.htmx_post("/settings/theme", &settings, "theme=dark"),
    )
    .await;
    assert_eq!(theme.status, StatusCode::OK, "{}", theme.body);
    let asset = bounded("asset GET", browser.load("/assets/demo.css")).await;
    assert_eq!(asset.status, StatusCode::OK);

    // The link heals: after the cool-down a probe goes through and closes the
    // breakers; the same app and stores serve Redis requests again.
    proxy.set(NetFault::PassThrough);
    let reply = until_ok("cart POST", async || {
        browser.htmx_post("/cart/items", &cart, "name=fig").await
    })
    .await;
    let items = reply.cart_items();
    assert_eq!(items.first().map(String::as_str), Some("apple"));
    assert_eq!(items.last().map(String::as_str), Some("fig"));
    until_ok("room GET", async || browser.load(&room_path).await).await;
    let health = until_ok("healthz", async || browser.load("/healthz").await).await;
    assert!(!health.body.contains("circuit breaker"), "{}", health.body);
    state.shutdown().await;
}
