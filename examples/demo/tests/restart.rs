//! A graceful restart of the real demo process keeps pages and rooms: a tab's
//! cart, a room's messages and members, and the room's versions (so a stream
//! resumes after the restart with no duplicate and no gap).

mod process;
mod tcp;

use std::net::SocketAddr;

use axum::http::{StatusCode, header};
use process::{start, terminate};
use tcp::{SseEvent, browser_cookie, room_events, send, text};

const FORM: &str = "application/x-www-form-urlencoded";
const ROOM: &str = "restart-room";

/// A tab: the browser's cookie and the page id of its cart document.
struct Tab {
    cookie: String,
    page_id: String,
}

async fn open_cart(addr: SocketAddr) -> Tab {
    let (status, headers, body) = send(addr, "GET", "/cart", &[], None).await;
    assert_eq!(status, StatusCode::OK);
    let page = text(body).await;
    let marker = "name=\"hyperstate-page-id\" content=\"";
    let start = page.find(marker).expect("page id injected") + marker.len();
    let page_id = page[start..start + page[start..].find('"').unwrap()].to_owned();
    let cookie = browser_cookie(&headers).expect("the cart sets the browser cookie");
    Tab { cookie, page_id }
}

/// Adds `item` from the tab with an htmx request; returns the cart it shows.
async fn add_item(addr: SocketAddr, tab: &Tab, item: &str) -> Vec<String> {
    let headers = [
        (header::COOKIE.as_str(), tab.cookie.clone()),
        (header::CONTENT_TYPE.as_str(), FORM.to_owned()),
        ("hx-request", "true".to_owned()),
        ("x-page-id", tab.page_id.clone()),
    ];
    let (status, _, body) = send(
        addr,
        "POST",
        "/cart/items",
        &headers,
        Some(format!("name={item}")),
    )
    .await;
    let body = text(body).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body.split("<li>")
        .skip(1)
        .map(|rest| rest.split("</li>").next().unwrap_or_default().to_owned())
        .collect()
}

async fn room_page(addr: SocketAddr, cookie: &str) -> String {
    let headers = [(header::COOKIE.as_str(), cookie.to_owned())];
    let (status, _, body) = send(addr, "GET", &format!("/rooms/{ROOM}"), &headers, None).await;
    assert_eq!(status, StatusCode::OK);
    text(body).await
}

async fn htmx_post(addr: SocketAddr, cookie: &str, path: &str, form: Option<String>) -> StatusCode {
    let headers = [
        (header::COOKIE.as_str(), cookie.to_owned()),
        (header::CONTENT_TYPE.as_str(), FORM.to_owned()),
        ("hx-request", "true".to_owned()),
    ];
    let (status, _, body) = send(addr, "POST", path, &headers, form).await;
    text(body).await;
    status
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_graceful_restart_keeps_the_cart_the_room_and_its_versions() {
    let dir = tempfile::tempdir().unwrap();
    let mut demo = start(dir.path(), &[]).await;
    let addr = demo.addr;
    let tab = open_cart(addr).await;
    for item in ["apple", "pear", "plum"] {
        add_item(addr, &tab, item).await;
    }
    // The same browser joins the room, listens, and posts.
    room_page(addr, &tab.cookie).await;
    assert_eq!(
        htmx_post(addr, &tab.cookie, &format!("/rooms/{ROOM}/join"), None).await,
        StatusCode::OK
    );
    let mut stream = room_events(addr, ROOM, &tab.cookie, None).await;
    stream.until(|e| e.event.as_deref() == Some("resync")).await;
    let posted = htmx_post(
        addr,
        &tab.cookie,
        &format!("/rooms/{ROOM}/messages"),
        Some("text=before-restart".to_owned()),
    )
    .await;
    assert_eq!(posted, StatusCode::NO_CONTENT);
    let seen = stream.until(|e| e.is_chat("before-restart")).await;
    let last_seen = seen.last().unwrap().version();
    drop(stream);
    terminate(&mut demo).await;

    let mut demo = start(dir.path(), &[]).await;
    let addr = demo.addr;
    // The next htmx request from the same tab sees its cart, plus the new item.
    assert_eq!(
        add_item(addr, &tab, "fig").await,
        ["apple", "pear", "plum", "fig"]
    );
    // The room kept its message, and the browser is still a member.
    let page = room_page(addr, &tab.cookie).await;
    assert!(
        page.contains("before-restart"),
        "the message is gone: {page}"
    );
    assert!(!page.contains("Join to post"), "the membership is gone");
    // The stream resumes from the last event seen: the next message, and only it.
    let mut stream = room_events(addr, ROOM, &tab.cookie, Some(last_seen)).await;
    let posted = htmx_post(
        addr,
        &tab.cookie,
        &format!("/rooms/{ROOM}/messages"),
        Some("text=after-restart".to_owned()),
    )
    .await;
    assert_eq!(posted, StatusCode::NO_CONTENT);
    let resumed = stream.until(|e| e.is_chat("after-restart")).await;
    let versioned: Vec<&SseEvent> = resumed.iter().filter(|e| e.id.is_some()).collect();
    assert_eq!(
        versioned.len(),
        1,
        "a duplicate or a resync after the restart: {resumed:?}"
    );
    assert_eq!(versioned[0].version(), last_seen + 1, "a gap in versions");
    assert!(!resumed.iter().any(|e| e.data.contains("before-restart")));
    drop(stream);
    terminate(&mut demo).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_no_snapshot_a_restart_starts_empty() {
    let dir = tempfile::tempdir().unwrap();
    let mut demo = start(dir.path(), &["--no-snapshot"]).await;
    let tab = open_cart(demo.addr).await;
    add_item(demo.addr, &tab, "apple").await;
    terminate(&mut demo).await;
    assert!(!dir.path().join("snapshots").exists());

    let mut demo = start(dir.path(), &["--no-snapshot"]).await;
    assert_eq!(add_item(demo.addr, &tab, "fig").await, ["fig"]);
    terminate(&mut demo).await;
}
