//! Circuit breakers over HTTP: once the session store has failed a few times
//! in a row, session requests answer 503 with `Retry-After` at once — even
//! while the store hangs — requests that need no session keep being served,
//! and after the cool-down the same app recovers.
//!
//! On tokio's paused clock: a request that waited on the hung store would let
//! the clock jump to the hang guard, so the guard catches it without the test
//! waiting for real.

mod kv;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use axum::routing::{get, post};
use http_body_util::BodyExt;
use hyperstate::breaker::{BreakerOptions, BreakerState};
use hyperstate::memory::MemoryDocumentStore;
use hyperstate::session::SessionSecret;
use hyperstate_axum::{Hyperstate, Page};
use hyperstate_conformance::faults::{Fault, FaultyStore};
use kv::{get_one, set};
use tower::ServiceExt;

const COOL_DOWN: Duration = Duration::from_secs(2);
/// A hang guard, not a speed assertion.
const HANG_GUARD: Duration = Duration::from_secs(5);

#[derive(Debug)]
struct Reply {
    status: StatusCode,
    retry_after: Option<String>,
    body: String,
}

async fn call(app: &Router, method: &str, path: &str, cookie: &str, body: &str) -> Reply {
    let request = Request::builder()
        .method(method)
        .uri(path)
        .header(header::COOKIE, cookie)
        .body(Body::from(body.to_owned()))
        .unwrap();
    let response = tokio::time::timeout(HANG_GUARD, app.clone().oneshot(request))
        .await
        .unwrap_or_else(|_| panic!("{method} {path}: no answer within {HANG_GUARD:?}"))
        .unwrap();
    let (parts, body) = response.into_parts();
    let retry_after = parts
        .headers
        .get(header::RETRY_AFTER)
        .map(|v| v.to_str().unwrap().to_owned());
    let bytes = body.collect().await.unwrap().to_bytes();
    Reply {
        status: parts.status,
        retry_after,
        body: String::from_utf8_lossy(&bytes).into_owned(),
    }
}

/// `GET /count`: page state, on the memory backend.
async fn count(page: Page) -> Result<String, hyperstate_axum::Error> {
    Ok(page.update_or("n", 0u64, |n| n + 1).await?.to_string())
}

#[tokio::test(start_paused = true)]
async fn a_failing_session_store_fails_fast_and_recovers_after_the_cool_down() {
    let faulty = Arc::new(FaultyStore::new(Arc::new(MemoryDocumentStore::default())));
    let state = Hyperstate::builder()
        .sessions(
            faulty.clone(),
            SessionSecret::from_bytes([9u8; 32]).unwrap(),
        )
        .breakers(Some(
            BreakerOptions::default()
                .failure_threshold(3)
                .cool_down(COOL_DOWN),
        ))
        .build()
        .unwrap();
    let app = Router::new()
        .route("/kv/{key}", post(set).get(get_one))
        .route("/count", get(count))
        .route("/static", get(|| async { "static" }))
        .layer(state.layer());
    let cookie = {
        let request = Request::post("/kv/seed").body(Body::from("x")).unwrap();
        let response = app.clone().oneshot(request).await.unwrap();
        let set = response.headers()[header::SET_COOKIE].to_str().unwrap();
        set.split(';').next().unwrap().to_owned()
    };

    // Failures the store reports at once, until the breaker opens.
    faulty.set(Fault::Fail);
    let mut failed = 0;
    loop {
        let reply = call(&app, "POST", "/kv/theme", &cookie, "dark").await;
        assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE, "{reply:?}");
        if reply.body.contains("unavailable") {
            break;
        }
        assert!(reply.body.contains("backend failed"), "{reply:?}");
        failed += 1;
        assert!(failed < 10, "the breaker never opened");
    }

    // Now the store hangs: session requests still answer at once, without it.
    faulty.set(Fault::Delay(Duration::from_secs(3600)));
    let attempts = faulty.put_attempts();
    for (method, body) in [("POST", "light"), ("GET", "")] {
        let reply = call(&app, method, "/kv/theme", &cookie, body).await;
        assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE, "{reply:?}");
        assert!(
            reply.body.contains("session state is unavailable"),
            "{reply:?}"
        );
        assert_eq!(reply.retry_after.as_deref(), Some("2"), "{reply:?}");
    }
    assert_eq!(
        faulty.put_attempts(),
        attempts,
        "an open breaker reached the store"
    );
    let health = state.check_health().await;
    let session = health.iter().find(|h| h.scope == "session").unwrap();
    assert!(session.result.is_err(), "{session:?}");
    assert!(
        matches!(session.breaker, Some(BreakerState::Open { .. })),
        "{session:?}"
    );

    // Requests that need no session are served as before.
    let page = call(&app, "GET", "/count", "", "").await;
    assert_eq!((page.status, page.body.as_str()), (StatusCode::OK, "1"));
    let fixed = call(&app, "GET", "/static", &cookie, "").await;
    assert_eq!(
        (fixed.status, fixed.body.as_str()),
        (StatusCode::OK, "static")
    );

    // The store heals; after the cool-down the next request probes and closes.
    faulty.set(Fault::None);
    tokio::time::advance(COOL_DOWN).await;
    let reply = call(&app, "POST", "/kv/theme", &cookie, "blue").await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    let reply = call(&app, "GET", "/kv/theme", &cookie, "").await;
    assert_eq!(
        (reply.status, reply.body.as_str()),
        (StatusCode::OK, "blue")
    );
    let health = state.check_health().await;
    let session = health.iter().find(|h| h.scope == "session").unwrap();
    assert!(session.result.is_ok(), "{session:?}");
    assert_eq!(session.breaker, Some(BreakerState::Closed));
    state.shutdown().await;
}
