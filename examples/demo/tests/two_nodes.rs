//! Two demo processes sharing one Redis: a chat message posted through node A
//! reaches a browser streaming from node B.
//!
//! Redis comes from `HYPERSTATE_REDIS_URL` (scripts/services/redis.sh). Without
//! it the test skips loudly, except under `CI=true`, where it fails.

mod tcp;

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use axum::http::{StatusCode, header};
use hyperstate_conformance::services::redis_url;
use tcp::{SseStream, browser_cookie, send, text};

/// A demo process, killed when dropped (so a failing test leaves none behind).
struct Node {
    child: Child,
    addr: SocketAddr,
    _data: tempfile::TempDir,
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// Starts a demo process on Redis and waits (bounded) until it accepts connections.
async fn node(redis: &str) -> Node {
    let data = tempfile::tempdir().expect("a data directory");
    let addr: SocketAddr = ([127, 0, 0, 1], free_port()).into();
    let child = Command::new(env!("CARGO_BIN_EXE_hyperstate-demo"))
        .arg("--addr")
        .arg(addr.to_string())
        .arg("--data-dir")
        .arg(data.path())
        .arg("--redis")
        .arg(redis)
        // The same secret on both nodes, as in production.
        .env("HYPERSTATE_SESSION_SECRET", "ab".repeat(32))
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .expect("starting the demo");
    let node = Node {
        child,
        addr,
        _data: data,
    };
    for _ in 0..200 {
        if tokio::net::TcpStream::connect(addr).await.is_ok() {
            return node;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the demo on {addr} did not start listening");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_posted_on_one_node_streams_from_the_other() {
    let Some(redis) = redis_url() else { return };
    let (a, b) = (node(&redis).await, node(&redis).await);
    let room = format!("two-nodes-{}", free_port());

    // Alice visits and joins through A.
    let (status, headers, body) = send(a.addr, "GET", &format!("/rooms/{room}"), &[], None).await;
    assert_eq!(status, StatusCode::OK);
    text(body).await;
    let alice = browser_cookie(&headers).expect("the room page sets the browser cookie");
    let htmx = [
        (header::COOKIE.as_str(), alice.clone()),
        ("hx-request", "true".to_owned()),
    ];
    let (status, _, _) = send(a.addr, "POST", &format!("/rooms/{room}/join"), &htmx, None).await;
    assert_eq!(status, StatusCode::OK);

    // She streams from B...
    let stream = [
        (header::COOKIE.as_str(), alice.clone()),
        (header::ACCEPT.as_str(), "text/event-stream".to_owned()),
    ];
    let (status, _, body) = send(
        b.addr,
        "GET",
        &format!("/rooms/{room}/events"),
        &stream,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let mut events = SseStream::new(body);

    // ...and posts through A: B delivers it (bounded wait in `until`).
    let post = [
        (header::COOKIE.as_str(), alice.clone()),
        (
            header::CONTENT_TYPE.as_str(),
            "application/x-www-form-urlencoded".to_owned(),
        ),
        ("hx-request", "true".to_owned()),
    ];
    let (status, _, _) = send(
        a.addr,
        "POST",
        &format!("/rooms/{room}/messages"),
        &post,
        Some("text=across-nodes".to_owned()),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "a member posts through A");
    events
        .until(|e| e.event.as_deref() == Some("chat") && e.data.contains("across-nodes"))
        .await;
}
