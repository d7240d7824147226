//! Rooms under anonymous traffic: viewing stores nothing, joins are rate
//! limited per client, unused member slots expire, dot-segment names are 400.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use hyperstate::memory::MemoryRoomStore;
use hyperstate::room::RoomOptions;
use hyperstate_axum::{HttpConfig, Hyperstate, RateLimit};
use tower::ServiceExt;

fn app(store: &MemoryRoomStore, config: HttpConfig) -> Router {
    let state = Hyperstate::builder()
        .rooms(Arc::new(store.clone()))
        .config(config.secure_cookie(false))
        .without_sessions()
        .build()
        .unwrap();
    hyperstate_demo::router(&state)
}

/// A request from client address `127.0.0.{client}`, as `axum::serve` records it.
async fn send(
    app: &Router,
    method: &str,
    path: &str,
    client: u8,
) -> (StatusCode, String, Option<String>) {
    let mut request = Request::builder()
        .method(method)
        .uri(path)
        .header("hx-request", "true")
        .header(header::ACCEPT, "text/html")
        .body(Body::empty())
        .unwrap();
    let peer = SocketAddr::from(([127, 0, 0, client], 40_000));
    request.extensions_mut().insert(ConnectInfo(peer));
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let retry_after = response
        .headers()
        .get(header::RETRY_AFTER)
        .map(|v| v.to_str().unwrap().to_owned());
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        String::from_utf8_lossy(&body).into_owned(),
        retry_after,
    )
}

#[tokio::test]
async fn viewing_many_rooms_stores_none_and_the_lobby_still_works() {
    let store = MemoryRoomStore::new(RoomOptions::default(), 1 << 20);
    // Each view is a new cookie-less browser from one address: the browser-id
    // limit would answer most of them 429, and it is not what is tested here.
    let app = app(&store, HttpConfig::default().browser_id_rate(None));
    // Far more distinct rooms than a 1 MiB store could hold were each stored.
    for i in 0..1_000 {
        let (status, _, _) = send(&app, "GET", &format!("/rooms/visit-{i}"), 1).await;
        assert_eq!(status, StatusCode::OK);
    }
    let stats = store.stats();
    assert_eq!((stats.rooms, stats.bytes_used), (0, 0), "{stats:?}");
    let (status, body, _) = send(&app, "GET", "/rooms/lobby", 2).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("Join to post"), "{body}");
    let (status, _, _) = send(&app, "POST", "/rooms/lobby/join", 2).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(store.stats().rooms, 1);
}

#[tokio::test]
async fn a_join_flood_from_one_client_is_429_while_another_client_joins() {
    let store = MemoryRoomStore::new(RoomOptions::default(), 16 << 20);
    let config = HttpConfig::default()
        .browser_id_rate(None)
        .room_join_rate(Some(RateLimit::new(3, 1)));
    let app = app(&store, config);
    for _ in 0..3 {
        let (status, body, _) = send(&app, "POST", "/rooms/lobby/join", 1).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let (status, _, retry_after) = send(&app, "POST", "/rooms/lobby/join", 1).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    let retry_after: u64 = retry_after.expect("Retry-After").parse().unwrap();
    assert!(retry_after >= 1);
    let (status, body, _) = send(&app, "POST", "/rooms/lobby/join", 2).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test(start_paused = true)]
async fn member_slots_nobody_uses_expire() {
    const SLOT_TTL: Duration = Duration::from_secs(10);
    let options = RoomOptions::default()
        .max_members(2)
        .unused_member_ttl(SLOT_TTL);
    let store = MemoryRoomStore::new(options, 16 << 20);
    let app = app(&store, HttpConfig::default().browser_id_rate(None));
    for client in [1, 2] {
        let (status, body, _) = send(&app, "POST", "/rooms/lobby/join", client).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let (status, body, _) = send(&app, "POST", "/rooms/lobby/join", 3).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body.contains("too many members"), "{body}");
    // Well within the room's idle TTL (60 s), past the slots' TTL.
    tokio::time::sleep(SLOT_TTL + Duration::from_secs(1)).await;
    let (status, body, _) = send(&app, "POST", "/rooms/lobby/join", 3).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn dot_segment_room_names_are_400() {
    let store = MemoryRoomStore::new(RoomOptions::default(), 1 << 20);
    let app = app(&store, HttpConfig::default());
    // Percent-encoded, so the router sees the segment as a name, not a path step.
    for name in ["%2E", "%2E%2E"] {
        for (method, path) in [
            ("GET", format!("/rooms/{name}")),
            ("POST", format!("/rooms/{name}/join")),
        ] {
            let (status, body, _) = send(&app, method, &path, 1).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{method} {path}: {body}");
        }
    }
    assert_eq!(store.stats().rooms, 0);
}
