//! The `Session` extractor over HTTP: lazy cookie, durable writes, concurrency.

mod kv;

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use axum::routing::{get, post};
use http_body_util::BodyExt;
use hyperstate::fs::FsDocumentStore;
use hyperstate::session::SessionSecret;
use hyperstate_axum::{HttpConfig, Hyperstate};
use kv::{get_one, keys, set};
use tower::ServiceExt;

fn app(state: &Hyperstate) -> Router {
    Router::new()
        .route("/kv", get(keys))
        .route("/kv/{key}", post(set).get(get_one))
        .layer(state.layer())
}

fn state(dir: &std::path::Path, config: HttpConfig) -> Hyperstate {
    let store = Arc::new(FsDocumentStore::open(dir).unwrap());
    Hyperstate::builder()
        .config(config)
        .sessions(store, SessionSecret::from_bytes([5u8; 32]).unwrap())
        .build()
        .unwrap()
}

async fn call(app: &Router, request: Request<Body>) -> (StatusCode, axum::http::HeaderMap, String) {
    let response = app.clone().oneshot(request).await.unwrap();
    let (parts, body) = response.into_parts();
    let bytes = body.collect().await.unwrap().to_bytes();
    (
        parts.status,
        parts.headers,
        String::from_utf8_lossy(&bytes).into_owned(),
    )
}

fn with_cookie(
    builder: axum::http::request::Builder,
    cookie: &Option<String>,
) -> axum::http::request::Builder {
    match cookie {
        Some(cookie) => builder.header(header::COOKIE, cookie),
        None => builder,
    }
}

/// Makes the browser's first write (`first` = "x") and returns the cookie pair
/// it was given.
async fn first_write(app: &Router) -> Option<String> {
    let (_, headers, _) = call(
        app,
        Request::post("/kv/first").body(Body::from("x")).unwrap(),
    )
    .await;
    let set_cookie = headers[header::SET_COOKIE].to_str().unwrap();
    Some(set_cookie.split(';').next().unwrap().to_owned())
}

/// Sets `key{i}` = `value{i}` for `i` in `0..requests`, all at once, request
/// `i` going to `apps[i % apps.len()]`; every answer must be 200.
async fn set_concurrently(apps: &[Router], cookie: &Option<String>, requests: usize) {
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..requests {
        let (app, cookie) = (apps[i % apps.len()].clone(), cookie.clone());
        tasks.spawn(async move {
            let request = with_cookie(Request::post(format!("/kv/key{i}")), &cookie)
                .body(Body::from(format!("value{i}")))
                .unwrap();
            call(&app, request).await.0
        });
    }
    for status in tasks.join_all().await {
        assert_eq!(status, StatusCode::OK);
    }
}

#[tokio::test]
async fn the_cookie_is_minted_on_the_first_write_only() {
    let dir = tempfile::tempdir().unwrap();
    let state = state(dir.path(), HttpConfig::default());
    let app = app(&state);

    // Reading costs nothing: no cookie, no document.
    let (status, headers, body) =
        call(&app, Request::get("/kv/theme").body(Body::empty()).unwrap()).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, ""));
    assert!(headers.get(header::SET_COOKIE).is_none());
    assert!(
        state
            .sessions()
            .unwrap()
            .store()
            .list()
            .await
            .unwrap()
            .is_empty()
    );

    let (status, headers, _) = call(
        &app,
        Request::post("/kv/theme").body(Body::from("dark")).unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let cookie = headers[header::SET_COOKIE].to_str().unwrap().to_owned();
    assert!(cookie.starts_with("hs_bid="), "{cookie}");
    for flag in ["HttpOnly", "SameSite=Lax", "Secure", "Path=/"] {
        assert!(cookie.contains(flag), "{flag} missing: {cookie}");
    }
    let pair = Some(cookie.split(';').next().unwrap().to_owned());

    // The browser id itself is never what storage holds.
    let listed = state.sessions().unwrap().store().list().await.unwrap();
    assert_eq!(listed.len(), 1);
    let browser = pair.as_ref().unwrap().trim_start_matches("hs_bid=");
    assert!(!listed[0].key.to_string().contains(browser));

    // Later writes of the same browser set no new cookie.
    let request = with_cookie(Request::post("/kv/font"), &pair)
        .body(Body::from("serif"))
        .unwrap();
    let (_, headers, _) = call(&app, request).await;
    assert!(headers.get(header::SET_COOKIE).is_none());
    let (_, _, body) = call(
        &app,
        with_cookie(Request::get("/kv/theme"), &pair)
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(body, "dark");
    state.shutdown().await;
}

#[tokio::test]
async fn secure_can_be_turned_off_explicitly() {
    let dir = tempfile::tempdir().unwrap();
    let state = state(dir.path(), HttpConfig::default().secure_cookie(false));
    let (_, headers, _) = call(
        &app(&state),
        Request::post("/kv/a").body(Body::from("1")).unwrap(),
    )
    .await;
    let cookie = headers[header::SET_COOKIE].to_str().unwrap();
    assert!(
        cookie.contains("HttpOnly") && !cookie.contains("Secure"),
        "{cookie}"
    );
    state.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_concurrent_requests_of_one_browser_keep_every_key() {
    const REQUESTS: usize = 100;
    let dir = tempfile::tempdir().unwrap();
    let state = state(dir.path(), HttpConfig::default());
    let app = app(&state);
    let cookie = first_write(&app).await;
    set_concurrently(std::slice::from_ref(&app), &cookie, REQUESTS).await;
    let (_, _, body) = call(
        &app,
        with_cookie(Request::get("/kv"), &cookie)
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    let keys: Vec<&str> = body.split(',').collect();
    for i in 0..REQUESTS {
        assert!(keys.contains(&format!("key{i}").as_str()), "key{i} lost");
    }
    assert_eq!(keys.len(), REQUESTS + 1);
    state.shutdown().await;
}

#[tokio::test]
async fn without_a_session_store_the_extractor_is_a_500() {
    let state = Hyperstate::builder().without_sessions().build().unwrap();
    let (status, _, body) = call(
        &app(&state),
        Request::get("/kv/a").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(body.contains("sessions"), "{body}");
    state.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_on_one_data_dir_behave_as_one() {
    const REQUESTS: usize = 40;
    let dir = tempfile::tempdir().unwrap();
    let nodes = [
        state(dir.path(), HttpConfig::default()),
        state(dir.path(), HttpConfig::default()),
    ];
    let apps = [app(&nodes[0]), app(&nodes[1])];
    let cookie = first_write(&apps[0]).await;
    // Round robin, no stickiness: each request may land on either node.
    set_concurrently(&apps, &cookie, REQUESTS).await;
    for app in &apps {
        let (_, _, body) = call(
            app,
            with_cookie(Request::get("/kv"), &cookie)
                .body(Body::empty())
                .unwrap(),
        )
        .await;
        assert_eq!(body.split(',').count(), REQUESTS + 1, "{body}");
    }
    let (_, _, value) = call(
        &apps[1],
        with_cookie(Request::get("/kv/first"), &cookie)
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(value, "x", "a write on one node is read on the other");
    for node in nodes {
        node.shutdown().await;
    }
}
