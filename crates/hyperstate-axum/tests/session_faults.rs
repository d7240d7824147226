//! A faulty session store seen over HTTP: the handler's `?` turns every fault
//! into a 503 with a message and `Retry-After`, and the same app answers 200
//! again once the fault clears.

mod kv;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use axum::routing::post;
use http_body_util::BodyExt;
use hyperstate::memory::MemoryDocumentStore;
use hyperstate::session::SessionSecret;
use hyperstate_axum::Hyperstate;
use hyperstate_conformance::faults::{Fault, FaultyStore};
use kv::{get_one, set};
use tower::ServiceExt;

async fn call(
    app: &Router,
    method: &str,
    path: &str,
    cookie: &str,
    body: &str,
) -> (StatusCode, Option<String>, String) {
    let request = Request::builder()
        .method(method)
        .uri(path)
        .header(header::COOKIE, cookie)
        .body(Body::from(body.to_owned()))
        .unwrap();
    let response = app.clone().oneshot(request).await.unwrap();
    let (parts, body) = response.into_parts();
    let retry_after = parts
        .headers
        .get(header::RETRY_AFTER)
        .map(|v| v.to_str().unwrap().to_owned());
    let bytes = body.collect().await.unwrap().to_bytes();
    (
        parts.status,
        retry_after,
        String::from_utf8_lossy(&bytes).into_owned(),
    )
}

#[tokio::test]
async fn every_fault_is_a_503_with_a_message_and_the_app_recovers() {
    let faulty = Arc::new(FaultyStore::new(Arc::new(MemoryDocumentStore::default())));
    let state = Hyperstate::builder()
        .sessions(
            faulty.clone(),
            SessionSecret::from_bytes([7u8; 32]).unwrap(),
        )
        .build()
        .unwrap();
    let app = Router::new()
        .route("/kv/{key}", post(set).get(get_one))
        .layer(state.layer());
    let cookie = {
        let request = Request::post("/kv/seed").body(Body::from("x")).unwrap();
        let response = app.clone().oneshot(request).await.unwrap();
        let set = response.headers()[header::SET_COOKIE].to_str().unwrap();
        set.split(';').next().unwrap().to_owned()
    };
    let (status, _, _) = call(&app, "POST", "/kv/theme", &cookie, "light").await;
    assert_eq!(status, StatusCode::OK);

    for fault in [
        Fault::Fail,
        Fault::Timeout(Duration::from_millis(20)),
        Fault::FailAfterWrite,
    ] {
        faulty.set(fault);
        let (status, retry_after, body) = call(&app, "POST", "/kv/theme", &cookie, "dark").await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{fault:?}: {body}");
        assert_eq!(retry_after.as_deref(), Some("1"), "{fault:?}");
        assert!(body.contains("backend failed"), "{fault:?}: {body}");
    }
    // Only the lost-reply PUT landed: the stored value is the one it carried.
    faulty.set(Fault::None);
    let (status, _, body) = call(&app, "GET", "/kv/theme", &cookie, "").await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "dark"));

    // Recovered, on the same app and store.
    let (status, _, _) = call(&app, "POST", "/kv/theme", &cookie, "blue").await;
    assert_eq!(status, StatusCode::OK);
    let (_, _, body) = call(&app, "GET", "/kv/theme", &cookie, "").await;
    assert_eq!(body, "blue");
    state.shutdown().await;
}
