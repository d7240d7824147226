//! The live poll over a real TCP listener: votes from two browsers reach
//! both streams, a resumed stream gets exactly what it missed, bad input is
//! 400, and streams end when the server shuts down.

mod client;

use std::net::SocketAddr;

use axum::http::{StatusCode, header};
use client::{SseEvent, SseStream, send, text};
use hyperstate_axum::prelude::*;

async fn app() -> (SocketAddr, Hyperstate) {
    let state = Hyperstate::builder()
        .config(HttpConfig::default().secure_cookie(false))
        .without_sessions()
        .build()
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = hyperstate_poll::router(&state);
    tokio::spawn(async move {
        serve(listener, app)
            .run(std::future::pending())
            .await
            .unwrap();
    });
    (addr, state)
}

/// Opens the poll's stream, resuming after `last_event_id` if given.
async fn stream(
    addr: SocketAddr,
    poll: &str,
    query: &str,
    last_event_id: Option<u64>,
) -> SseStream {
    let mut headers = vec![(header::ACCEPT.as_str(), "text/event-stream".to_owned())];
    if let Some(id) = last_event_id {
        headers.push(("last-event-id", id.to_string()));
    }
    let path = format!("/polls/{poll}/events{query}");
    let (status, response_headers, body) = send(addr, "GET", &path, &headers, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(response_headers[header::CONTENT_TYPE], "text/event-stream");
    SseStream::new(body)
}

async fn vote(addr: SocketAddr, poll: &str, option: &str) -> StatusCode {
    let headers = [(
        header::CONTENT_TYPE.as_str(),
        "application/x-www-form-urlencoded".to_owned(),
    )];
    let path = format!("/polls/{poll}/votes");
    let body = Some(format!("option={option}"));
    send(addr, "POST", &path, &headers, body).await.0
}

fn is_tally(event: &SseEvent, counts: &[&str]) -> bool {
    event.event.as_deref() == Some("tally") && counts.iter().all(|c| event.data.contains(c))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn votes_from_two_browsers_reach_both_streams() {
    let (addr, _state) = app().await;
    let mut alice = stream(addr, "lunch", "", None).await;
    let mut bob = stream(addr, "lunch", "", None).await;
    // A fresh stream starts with the whole tally, with the version as its id.
    let first = alice.next().await.unwrap();
    assert!(
        is_tally(&first, &["tea: 0", "coffee: 0", "water: 0"]),
        "{first:?}"
    );
    assert!(first.version().is_some());
    bob.until(|e| is_tally(e, &["tea: 0"])).await;

    assert_eq!(vote(addr, "lunch", "tea").await, StatusCode::NO_CONTENT);
    assert_eq!(vote(addr, "lunch", "coffee").await, StatusCode::NO_CONTENT);
    let both = ["tea: 1", "coffee: 1", "water: 0"];
    let seen_by_alice = alice.until(|e| is_tally(e, &both)).await;
    let seen_by_bob = bob.until(|e| is_tally(e, &both)).await;
    assert_eq!(
        seen_by_alice.last().unwrap().version(),
        seen_by_bob.last().unwrap().version()
    );
    // The number watching is live too.
    let watching = |e: &SseEvent| e.event.as_deref() == Some("watching") && e.data == "2";
    if !seen_by_alice.iter().any(watching) {
        alice.until(watching).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resumed_stream_gets_what_it_missed_and_nothing_else() {
    let (addr, _state) = app().await;
    let mut events = stream(addr, "resume", "", None).await;
    let seen = events.next().await.unwrap().version().unwrap();
    drop(events);
    for option in ["tea", "tea", "water"] {
        assert_eq!(vote(addr, "resume", option).await, StatusCode::NO_CONTENT);
    }
    // Reconnecting with the id of the last event seen: one tally per missed
    // vote, in order, the last one current; no whole state first.
    let mut resumed = stream(addr, "resume", "", Some(seen)).await;
    let got = resumed
        .until(|e| is_tally(e, &["tea: 2", "water: 1"]))
        .await;
    let tallies: Vec<(Option<u64>, &str)> = got
        .iter()
        .filter(|e| e.event.as_deref() == Some("tally"))
        .map(|e| (e.version(), e.data.as_str()))
        .collect();
    assert_eq!(
        tallies,
        [
            (
                Some(seen + 1),
                "<li>coffee: 0</li><li>tea: 1</li><li>water: 0</li>"
            ),
            (
                Some(seen + 2),
                "<li>coffee: 0</li><li>tea: 2</li><li>water: 0</li>"
            ),
            (
                Some(seen + 3),
                "<li>coffee: 0</li><li>tea: 2</li><li>water: 1</li>"
            ),
        ]
    );
    // `Last-Event-ID` wins over `?since=` (the page's older version).
    let mut both = stream(addr, "resume", &format!("?since={seen}"), Some(seen + 3)).await;
    assert_eq!(vote(addr, "resume", "coffee").await, StatusCode::NO_CONTENT);
    let next = both.until(|e| e.event.as_deref() == Some("tally")).await;
    assert_eq!(next.last().unwrap().version(), Some(seen + 4));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_connects_its_stream_from_the_version_it_shows() {
    let (addr, _state) = app().await;
    assert_eq!(vote(addr, "page", "water").await, StatusCode::NO_CONTENT);
    let (status, _, body) = send(addr, "GET", "/polls/page", &[], None).await;
    assert_eq!(status, StatusCode::OK);
    let page = text(body).await;
    assert!(page.contains("<li>water: 1</li>"), "{page}");
    assert!(page.contains(assets::HTMX_2_SSE) && page.contains(r#"hx-ext="sse""#));
    let connect = page
        .split(r#"sse-connect=""#)
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the page connects a stream");
    let since: u64 = connect.split("since=").nth(1).unwrap().parse().unwrap();
    // A vote after the page was rendered: the stream starts with it.
    assert_eq!(vote(addr, "page", "tea").await, StatusCode::NO_CONTENT);
    let query = format!("?{}", connect.split('?').nth(1).unwrap());
    let mut events = stream(addr, "page", &query, None).await;
    let first = events.until(|e| e.event.as_deref() == Some("tally")).await;
    let first = first.last().unwrap();
    assert_eq!(first.version(), Some(since + 1));
    assert!(is_tally(first, &["tea: 1", "water: 1"]), "{first:?}");
    // And the served script is there.
    let (status, _, _) = send(addr, "GET", assets::HTMX_2_SSE, &[], None).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_400_with_a_message() {
    let (addr, _state) = app().await;
    assert_eq!(vote(addr, "bad", "lemonade").await, StatusCode::BAD_REQUEST);
    let (status, _, body) = send(addr, "GET", "/polls/bad/events?since=soon", &[], None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(text(body).await.contains("since"));
    let (status, _, _) = send(addr, "GET", "/polls/bad%20name/events", &[], None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_end_when_the_server_shuts_down() {
    let (addr, state) = app().await;
    let mut events = stream(addr, "bye", "", None).await;
    events.until(|e| e.event.as_deref() == Some("tally")).await;
    state.end_streams();
    loop {
        if events.next().await.is_none() {
            break;
        }
    }
}
