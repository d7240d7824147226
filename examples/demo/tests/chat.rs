//! The chat room over a real TCP listener: two browsers, SSE, ACL, resume.

mod tcp;

use axum::http::{StatusCode, header};
use hyperstate_axum::{HttpConfig, Hyperstate};
use tcp::{SseEvent, SseStream, browser_cookie, room_events, send, serve, text};

async fn app() -> std::net::SocketAddr {
    let state = Hyperstate::builder()
        .config(HttpConfig::default().secure_cookie(false))
        .without_sessions()
        .build()
        .unwrap();
    serve(hyperstate_demo::router(&state)).await
}

const FORM: &str = "application/x-www-form-urlencoded";

async fn post_message(
    addr: std::net::SocketAddr,
    room: &str,
    cookie: &str,
    text: &str,
) -> (StatusCode, String) {
    let headers = [
        (header::COOKIE.as_str(), cookie.to_owned()),
        (header::CONTENT_TYPE.as_str(), FORM.to_owned()),
        ("hx-request", "true".to_owned()),
    ];
    let (status, _, body) = send(
        addr,
        "POST",
        &format!("/rooms/{room}/messages"),
        &headers,
        Some(format!("text={text}")),
    )
    .await;
    (status, tcp::text(body).await)
}

/// A browser that has visited the room page (and so holds a cookie).
async fn visit(addr: std::net::SocketAddr, room: &str) -> String {
    let (status, headers, body) = send(addr, "GET", &format!("/rooms/{room}"), &[], None).await;
    assert_eq!(status, StatusCode::OK);
    let page = text(body).await;
    assert!(
        page.contains("Join to post"),
        "a new browser is not a member"
    );
    browser_cookie(&headers).expect("the room page sets the browser cookie")
}

async fn join(addr: std::net::SocketAddr, room: &str, cookie: &str) {
    let headers = [
        (header::COOKIE.as_str(), cookie.to_owned()),
        ("hx-request", "true".to_owned()),
    ];
    let (status, _, body) =
        send(addr, "POST", &format!("/rooms/{room}/join"), &headers, None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        text(body).await.contains("name=\"text\""),
        "join answers with the message form"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_reaches_both_browsers_and_a_reconnect_resumes_exactly() {
    let addr = app().await;
    let room = "tcp-chat";
    let alice = visit(addr, room).await;
    let bob = visit(addr, room).await;
    join(addr, room, &alice).await;

    let mut alice_events = room_events(addr, room, &alice, None).await;
    let first = alice_events.next().await;
    assert_eq!(
        first.event.as_deref(),
        Some("resync"),
        "a fresh stream starts with the state"
    );
    let mut bob_events = room_events(addr, room, &bob, None).await;
    bob_events
        .until(|e| e.event.as_deref() == Some("resync"))
        .await;

    // Alice posts; both streams carry it.
    let (status, _) = post_message(addr, room, &alice, "hello-from-alice").await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let seen_by_alice = alice_events.until(|e| e.is_chat("hello-from-alice")).await;
    let seen_by_bob = bob_events.until(|e| e.is_chat("hello-from-alice")).await;
    let v1 = seen_by_bob.last().unwrap().version();
    assert_eq!(seen_by_alice.last().unwrap().version(), v1);
    // The live count reached two attached browsers.
    let counted = |events: &[SseEvent]| {
        events
            .iter()
            .any(|e| e.event.as_deref() == Some("presence") && e.data == "2")
    };
    if !counted(&seen_by_alice) {
        alice_events
            .until(|e| e.event.as_deref() == Some("presence") && e.data == "2")
            .await;
    }

    // Bob has not joined: posting is denied with a message, and nothing is sent.
    let (status, message) = post_message(addr, room, &bob, "bob-was-here").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(message.contains("may not write"), "{message}");

    // Bob disconnects; two messages are posted while he is away.
    drop(bob_events);
    for text in ["while-away-1", "while-away-2"] {
        assert_eq!(
            post_message(addr, room, &alice, text).await.0,
            StatusCode::NO_CONTENT
        );
    }
    // He reconnects with the id of the last event he saw: exactly the two
    // missed messages follow, in order, and nothing he already had.
    let mut bob_events = room_events(addr, room, &bob, Some(v1)).await;
    let resumed = bob_events.until(|e| e.is_chat("while-away-2")).await;
    let versioned: Vec<&SseEvent> = resumed.iter().filter(|e| e.id.is_some()).collect();
    assert_eq!(
        versioned.len(),
        2,
        "resume replays only the missed events: {resumed:?}"
    );
    assert!(versioned[0].is_chat("while-away-1"));
    assert_eq!(versioned[0].version(), v1 + 1);
    assert_eq!(versioned[1].version(), v1 + 2);
    assert!(
        !resumed
            .iter()
            .any(|e| e.data.contains("hello-from-alice") || e.event.as_deref() == Some("resync"))
    );
    assert!(!resumed.iter().any(|e| e.data.contains("bob-was-here")));

    // And the stream stays live after the resume.
    post_message(addr, room, &alice, "after-resume").await;
    let after = bob_events.until(|e| e.is_chat("after-resume")).await;
    assert_eq!(after.last().unwrap().version(), v1 + 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_room_names_are_400_and_htmx_4_gets_unnamed_out_of_band_swaps() {
    let addr = app().await;
    let (status, _, _) = send(addr, "GET", "/rooms/bad%20name", &[], None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    let room = "htmx-four";
    let alice = visit(addr, room).await;
    join(addr, room, &alice).await;
    let (status, _, body) = send(
        addr,
        "GET",
        &format!("/rooms/{room}/events?htmx=4"),
        &[(header::COOKIE.as_str(), alice.clone())],
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let mut stream = SseStream::new(body);
    post_message(addr, room, &alice, "four").await;
    let seen = stream.until(|e| e.data.contains("four")).await;
    let chat = seen.last().unwrap();
    assert_eq!(chat.event, None, "htmx 4 swaps only unnamed messages");
    assert!(
        chat.data.contains("hx-swap-oob=\"beforeend:#messages\""),
        "{chat:?}"
    );

    // Message text is escaped: markup a member posts is shown, never run.
    post_message(addr, room, &alice, "%3Cscript%3Ex%3C%2Fscript%3E").await;
    let seen = stream.until(|e| e.data.contains("script")).await;
    let chat = seen.last().unwrap();
    assert!(
        chat.data.contains("&lt;script&gt;x&lt;/script&gt;"),
        "{chat:?}"
    );
    assert!(!chat.data.contains("<script>"), "{chat:?}");
}

/// Graceful shutdown waits for open connections; room streams must end when the
/// supervisor's token is cancelled, or an attached browser would hold the
/// server up forever. (The demo's `main` does exactly this.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_streams_end_on_shutdown_so_the_server_can_drain() {
    let state = Hyperstate::builder()
        .config(HttpConfig::default().secure_cookie(false))
        .without_sessions()
        .build()
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let end_streams = state.supervisor().shutdown_token();
    let server = tokio::spawn(
        axum::serve(listener, hyperstate_demo::router(&state))
            .with_graceful_shutdown(async move {
                let _ = stopped.await;
                end_streams.cancel();
            })
            .into_future(),
    );
    let cookie = visit(addr, "closing").await;
    let mut stream = room_events(addr, "closing", &cookie, None).await;
    stream.until(|e| e.event.as_deref() == Some("resync")).await;

    stop.send(()).unwrap();
    tokio::time::timeout(tcp::DELIVERY, server)
        .await
        .expect("the server did not drain: an SSE stream kept it open")
        .unwrap()
        .unwrap();
    state.shutdown().await;
}
