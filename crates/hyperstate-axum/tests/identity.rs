//! Browser identity over HTTP: only cookies this server issued count, their
//! keys rotate, their lifetime follows the session TTL, and minting new ids is
//! limited per client.

mod kv;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, Request, StatusCode, header};
use axum::routing::{get, post};
use http_body_util::BodyExt;
use hyperstate::BrowserId;
use hyperstate::identity::{BrowserIdKey, BrowserIdKeys};
use hyperstate::memory::MemoryDocumentStore;
use hyperstate::session::{DocumentStore, SessionOptions, SessionSecret};
use hyperstate_axum::{HttpConfig, Hyperstate, Page, RateLimit};
use kv::{get_one, set};
use tower::ServiceExt;

const DAY: Duration = Duration::from_secs(24 * 60 * 60);

fn key(byte: u8) -> BrowserIdKey {
    BrowserIdKey::derive(&[byte; 32]).unwrap()
}

/// A node over `store` (shared by the nodes of one test), with `keys` when given.
fn node(store: &Arc<MemoryDocumentStore>, keys: Option<BrowserIdKeys>) -> Hyperstate {
    let store: Arc<dyn DocumentStore> = store.clone();
    let builder = Hyperstate::builder()
        .config(HttpConfig::default())
        .sessions(store, SessionSecret::from_bytes([5u8; 32]).unwrap());
    match keys {
        Some(keys) => builder.browser_id_keys(keys).build().unwrap(),
        None => builder.build().unwrap(),
    }
}

async fn page_status(page: Page) -> String {
    format!("{:?}", page.status())
}

fn app(state: &Hyperstate) -> Router {
    Router::new()
        .route("/kv/{key}", post(set).get(get_one))
        .route("/page", get(page_status))
        .layer(state.layer())
}

async fn call(app: &Router, request: Request<Body>) -> (StatusCode, HeaderMap, String) {
    let response = app.clone().oneshot(request).await.unwrap();
    let (parts, body) = response.into_parts();
    let bytes = body.collect().await.unwrap().to_bytes();
    (
        parts.status,
        parts.headers,
        String::from_utf8_lossy(&bytes).into_owned(),
    )
}

fn request(method: &str, path: &str, cookie: Option<&str>, body: &str) -> Request<Body> {
    let mut builder = Request::builder().method(method).uri(path);
    if let Some(cookie) = cookie {
        builder = builder.header(header::COOKIE, cookie);
    }
    builder.body(Body::from(body.to_owned())).unwrap()
}

/// The `hs_bid=value` pair a response set, if any.
fn set_cookie(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::SET_COOKIE)?.to_str().unwrap();
    Some(value.split(';').next().unwrap().to_owned())
}

fn cookie_value(pair: &str) -> &str {
    pair.strip_prefix("hs_bid=").unwrap()
}

#[tokio::test]
async fn a_planted_cookie_gets_a_fresh_empty_session_and_page() {
    let store = Arc::new(MemoryDocumentStore::default());
    let state = node(&store, None);
    let app = app(&state);
    // Well-formed, but never issued by this server: what an attacker plants
    // from a sibling subdomain to share the victim's session.
    let planted = format!("hs_bid={}", BrowserId::generate());

    let (status, headers, _) =
        call(&app, request("POST", "/kv/card", Some(&planted), "4242")).await;
    assert_eq!(status, StatusCode::OK);
    let issued = set_cookie(&headers).expect("a write with a planted cookie mints an id");
    assert_ne!(issued, planted);
    // The planter, holding the planted id, sees nothing the victim wrote...
    let (_, _, body) = call(&app, request("GET", "/kv/card", Some(&planted), "")).await;
    assert_eq!(body, "");
    // ... while the victim's issued cookie reads it back.
    let (_, _, body) = call(&app, request("GET", "/kv/card", Some(&issued), "")).await;
    assert_eq!(body, "4242");

    // A full page load with the planted cookie binds the page to a new id.
    let (status, headers, body) = call(&app, request("GET", "/page", Some(&planted), "")).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "Fresh"));
    assert!(set_cookie(&headers).is_some_and(|pair| pair != planted));
    state.shutdown().await;
}

#[tokio::test]
async fn a_tampered_cookie_is_no_cookie() {
    let store = Arc::new(MemoryDocumentStore::default());
    let state = node(&store, None);
    let app = app(&state);
    let (_, headers, _) = call(&app, request("POST", "/kv/theme", None, "dark")).await;
    let issued = set_cookie(&headers).unwrap();
    let mut tampered = issued.clone().into_bytes();
    let last = tampered.len() - 2; // a character fully inside the tag
    tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();

    let (status, headers, body) =
        call(&app, request("GET", "/kv/theme", Some(&tampered), "")).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, ""));
    assert!(set_cookie(&headers).is_none(), "a read mints nothing");
    let (_, headers, _) = call(&app, request("POST", "/kv/theme", Some(&tampered), "x")).await;
    assert!(set_cookie(&headers).is_some_and(|pair| pair != issued && pair != tampered));
    state.shutdown().await;
}

#[tokio::test]
async fn rotated_keys_verify_old_cookies_and_reissue_them_until_removed() {
    let store = Arc::new(MemoryDocumentStore::default());
    let before = node(&store, Some(BrowserIdKeys::new(key(1))));
    let (_, headers, _) = call(&app(&before), request("POST", "/kv/theme", None, "dark")).await;
    let old = set_cookie(&headers).unwrap();
    before.shutdown().await;

    // The new key signs, the old one still verifies: same session, new cookie.
    let rotated = node(
        &store,
        Some(BrowserIdKeys::new(key(2)).with_previous(key(1))),
    );
    let (_, headers, body) =
        call(&app(&rotated), request("GET", "/kv/theme", Some(&old), "")).await;
    assert_eq!(body, "dark");
    let reissued = set_cookie(&headers).expect("a cookie under an older key is issued again");
    let keys = rotated.browser_ids().keys();
    let (was, now) = (
        keys.verify(cookie_value(&old)).unwrap(),
        keys.verify(cookie_value(&reissued)).unwrap(),
    );
    assert_eq!((was.by_newest_key, now.by_newest_key), (false, true));
    assert_eq!(was.id, now.id);
    // The re-issued cookie is current: no further Set-Cookie.
    let (_, headers, body) = call(
        &app(&rotated),
        request("GET", "/kv/theme", Some(&reissued), ""),
    )
    .await;
    assert_eq!((body.as_str(), set_cookie(&headers)), ("dark", None));
    rotated.shutdown().await;

    // Once the old key is removed, its cookies are no cookie at all.
    let removed = node(&store, Some(BrowserIdKeys::new(key(2))));
    let (_, headers, body) =
        call(&app(&removed), request("GET", "/kv/theme", Some(&old), "")).await;
    assert_eq!((body.as_str(), set_cookie(&headers)), ("", None));
    let (_, _, body) = call(
        &app(&removed),
        request("GET", "/kv/theme", Some(&reissued), ""),
    )
    .await;
    assert_eq!(body, "dark", "rotating keys never moves a session");
    removed.shutdown().await;
}

#[tokio::test]
async fn the_cookie_lives_as_long_as_the_session_and_is_refreshed_daily() {
    let store: Arc<dyn DocumentStore> = Arc::new(MemoryDocumentStore::default());
    let state = Hyperstate::builder()
        .sessions(store, SessionSecret::from_bytes([5u8; 32]).unwrap())
        .session_options(SessionOptions::default().ttl(7 * DAY))
        .build()
        .unwrap();
    let app = app(&state);
    let (_, headers, _) = call(&app, request("POST", "/kv/theme", None, "dark")).await;
    let set = headers[header::SET_COOKIE].to_str().unwrap();
    assert!(set.contains("Max-Age=604800"), "{set}");

    // A cookie issued two days ago is issued again, same id, with the full lifetime.
    let id = state
        .browser_ids()
        .keys()
        .verify(cookie_value(&set_cookie(&headers).unwrap()))
        .unwrap()
        .id;
    let aged = format!(
        "hs_bid={}",
        state.browser_ids().issue(&id, SystemTime::now() - 2 * DAY)
    );
    let (_, headers, body) = call(&app, request("GET", "/kv/theme", Some(&aged), "")).await;
    assert_eq!(body, "dark");
    let refreshed = headers[header::SET_COOKIE].to_str().unwrap();
    assert!(refreshed.contains("Max-Age=604800"), "{refreshed}");
    let now = state
        .browser_ids()
        .keys()
        .verify(cookie_value(&set_cookie(&headers).unwrap()))
        .unwrap();
    assert_eq!(now.id, id);
    assert!(now.issued_at > SystemTime::now() - DAY);

    // Older than its lifetime, a cookie is no longer honoured.
    let expired = format!(
        "hs_bid={}",
        state.browser_ids().issue(&id, SystemTime::now() - 8 * DAY)
    );
    let (_, _, body) = call(&app, request("GET", "/kv/theme", Some(&expired), "")).await;
    assert_eq!(body, "");
    state.shutdown().await;
}

fn from(ip: [u8; 4], mut request: Request<Body>) -> Request<Body> {
    let addr = SocketAddr::from((ip, 40000));
    request.extensions_mut().insert(ConnectInfo(addr));
    request
}

#[tokio::test]
async fn minting_is_limited_per_client_address() {
    let store: Arc<dyn DocumentStore> = Arc::new(MemoryDocumentStore::default());
    let state = Hyperstate::builder()
        .config(HttpConfig::default().browser_id_rate(Some(RateLimit::new(3, 1))))
        .sessions(store, SessionSecret::from_bytes([5u8; 32]).unwrap())
        .build()
        .unwrap();
    let app = app(&state);
    let attacker = [127, 0, 0, 1];
    for _ in 0..3 {
        let (status, headers, _) =
            call(&app, from(attacker, request("POST", "/kv/a", None, "x"))).await;
        assert_eq!(status, StatusCode::OK);
        assert!(set_cookie(&headers).is_some());
    }
    // Past its allowance: a session write and a page load alike are refused.
    for path in ["/kv/a", "/page"] {
        let method = if path == "/page" { "GET" } else { "POST" };
        let (status, headers, _) =
            call(&app, from(attacker, request(method, path, None, "x"))).await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{path}");
        let retry: u64 = headers[header::RETRY_AFTER]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!(retry >= 1);
        assert!(set_cookie(&headers).is_none());
    }
    // Another address still gets ids, and a browser with a cookie is unaffected.
    let (status, headers, _) = call(
        &app,
        from([127, 0, 0, 2], request("POST", "/kv/a", None, "y")),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let cookie = set_cookie(&headers).unwrap();
    let (status, _, _) = call(
        &app,
        from(attacker, request("POST", "/kv/a", Some(&cookie), "z")),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    // Reads mint nothing, so they are never limited.
    let (status, _, _) = call(&app, from(attacker, request("GET", "/kv/a", None, ""))).await;
    assert_eq!(status, StatusCode::OK);
    state.shutdown().await;
}
