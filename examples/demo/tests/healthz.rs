//! `/healthz` over HTTP: 200 when every backend can serve, 503 naming the one
//! that cannot while it is down, 200 again once it is back. The session store
//! is wrapped in a [`FaultyStore`]; the Redis case is in `redis_faults.rs`.

mod common;

use std::sync::Arc;

use axum::http::StatusCode;
use common::Browser;
use hyperstate::memory::MemoryDocumentStore;
use hyperstate::session::SessionSecret;
use hyperstate_axum::{HttpConfig, Hyperstate};
use hyperstate_conformance::faults::{Fault, FaultyStore};

#[tokio::test]
async fn healthz_names_the_failing_backend_and_recovers() {
    let faulty = Arc::new(FaultyStore::new(Arc::new(MemoryDocumentStore::default())));
    let state = Hyperstate::builder()
        .config(HttpConfig::default().secure_cookie(false))
        .sessions(
            faulty.clone(),
            SessionSecret::from_bytes([3u8; 32]).unwrap(),
        )
        .build();
    let browser = Browser::new(hyperstate_demo::router(&state));

    let up = browser.load("/healthz").await;
    assert_eq!(up.status, StatusCode::OK, "{}", up.body);
    assert!(up.body.contains("session (memory): ok"), "{}", up.body);

    faulty.set(Fault::Fail);
    let down = browser.load("/healthz").await;
    assert_eq!(
        down.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        down.body
    );
    assert!(
        down.body.contains("session (memory): down"),
        "{}",
        down.body
    );
    assert!(down.body.contains("page (memory): ok"), "{}", down.body);

    faulty.set(Fault::None);
    let back = browser.load("/healthz").await;
    assert_eq!(back.status, StatusCode::OK, "{}", back.body);
    state.shutdown().await;
}
