//! The production server over real TCP on loopback: HTTP/2 (h2c) CSRF,
//! header-read timeout, connection caps, SSE caps, `ConnectInfo`, shutdown.
//!
//! Clients bind their source address (127.0.0.1, 127.0.0.2, ...: all
//! loopback) to play different clients. Timeouts are short and configured;
//! every wait is bounded by a guard far longer than what it waits for.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::ConnectInfo;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use http::{Request, StatusCode, header};
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::Incoming;
use hyper::client::conn::{http1, http2};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyperstate::memory::MemoryRoomStore;
use hyperstate::room::{Acl, Principal, Rights, RoomEvent, RoomInit, RoomKey, Rooms};
use hyperstate_axum::{
    HttpConfig, Hyperstate, RequestContext, RoomSse, ServeConfig, SseFragment, SseSlot,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// How long a test waits for something that must happen.
const GUARD: Duration = Duration::from_secs(10);

/// A running server and the way to stop it.
struct Running {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    done: JoinHandle<std::io::Result<()>>,
}

impl Running {
    async fn start(app: Router, config: ServeConfig, state: Option<&Hyperstate>) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let mut server = hyperstate_axum::serve(listener, app).config(config);
        if let Some(state) = state {
            server = server.hyperstate(state);
        }
        let done = tokio::spawn(server.run(async move {
            let _ = stopped.await;
        }));
        Running {
            addr,
            stop: Some(stop),
            done,
        }
    }
}

fn ip(last: u8) -> IpAddr {
    [127, 0, 0, last].into()
}

/// A TCP connection to `addr` from the loopback address `from`.
async fn connect_from(from: IpAddr, addr: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(SocketAddr::new(from, 0)).unwrap();
    socket.connect(addr).await.unwrap()
}

/// An HTTP/1.1 connection from `from`, kept open for more requests.
async fn h1_from(from: IpAddr, addr: SocketAddr) -> http1::SendRequest<Empty<Bytes>> {
    let stream = connect_from(from, addr).await;
    let (sender, connection) = http1::handshake(TokioIo::new(stream)).await.unwrap();
    tokio::spawn(connection);
    sender
}

/// GET `path` on `sender`; the status and the body (unread).
async fn get_on(
    sender: &mut http1::SendRequest<Empty<Bytes>>,
    addr: SocketAddr,
    path: &str,
) -> (StatusCode, Incoming) {
    let request = Request::get(path)
        .header(header::HOST, addr.to_string())
        .body(Empty::new())
        .unwrap();
    let response = tokio::time::timeout(GUARD, sender.send_request(request))
        .await
        .expect("an answer in time")
        .unwrap();
    (response.status(), response.into_body())
}

async fn text(body: Incoming) -> String {
    let bytes = tokio::time::timeout(GUARD, body.collect())
        .await
        .expect("a body in time")
        .unwrap()
        .to_bytes();
    String::from_utf8_lossy(&bytes).into_owned()
}

/// True when the server closes `stream` (EOF or reset) before the guard.
async fn closed_by_server(mut stream: TcpStream) -> bool {
    let mut buf = [0u8; 1024];
    let read_to_end = async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {} // hyper may answer 408 first
            }
        }
    };
    tokio::time::timeout(GUARD, read_to_end).await.is_ok()
}

/// Settings that keep silent connections open for longer than the guard, so
/// that only the cap under test can close them.
fn patient() -> ServeConfig {
    ServeConfig::default()
        .header_read_timeout(Duration::from_secs(60))
        .idle_timeout(Duration::from_secs(60))
}

async fn peer(ConnectInfo(peer): ConnectInfo<SocketAddr>) -> String {
    peer.ip().to_string()
}

fn peer_app() -> Router {
    Router::new().route("/peer", get(peer))
}

#[tokio::test]
async fn every_request_carries_the_peer_address() {
    let state = Hyperstate::builder().without_sessions().build().unwrap();
    async fn client(context: RequestContext) -> String {
        format!("{:?}", context.client().map(|c| c.ip()))
    }
    let app = peer_app()
        .route("/client", get(client))
        .layer(state.layer());
    let server = Running::start(app, ServeConfig::default(), None).await;
    let mut sender = h1_from(ip(2), server.addr).await;
    let (status, body) = get_on(&mut sender, server.addr, "/peer").await;
    assert_eq!(
        (status, text(body).await.as_str()),
        (StatusCode::OK, "127.0.0.2")
    );
    let (_, body) = get_on(&mut sender, server.addr, "/client").await;
    assert_eq!(text(body).await, "Some(127.0.0.2)");
    state.shutdown().await;
}

#[tokio::test]
async fn h2c_same_origin_post_passes_and_cross_origin_or_other_scheme_is_refused() {
    let state = Hyperstate::builder()
        .config(HttpConfig::default().secure_cookie(false))
        .without_sessions()
        .build()
        .unwrap();
    let app = Router::new()
        .route("/act", post(|| async { "done" }))
        .layer(state.layer());
    let server = Running::start(app, ServeConfig::default(), None).await;
    let stream = connect_from(ip(1), server.addr).await;
    let (mut sender, connection) = http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(connection);
    let own = format!("http://{}", server.addr);
    let cases = [
        (own.clone(), StatusCode::OK),
        ("http://evil.test".to_owned(), StatusCode::FORBIDDEN),
        (format!("https://{}", server.addr), StatusCode::FORBIDDEN),
        (format!("ftp://{}", server.addr), StatusCode::FORBIDDEN),
    ];
    for (origin, expected) in cases {
        // HTTP/2 sends the authority as `:authority` (the URI's), no Host.
        let request = Request::post(format!("{own}/act"))
            .header(header::ORIGIN, &origin)
            .header(header::CONTENT_TYPE, "text/plain")
            .body(Full::new(Bytes::from_static(b"x")))
            .unwrap();
        let response = tokio::time::timeout(GUARD, sender.send_request(request))
            .await
            .expect("an answer in time")
            .unwrap();
        assert_eq!(response.version(), http::Version::HTTP_2);
        let status = response.status();
        let body = text(response.into_body()).await;
        assert_eq!(status, expected, "Origin {origin}: {body}");
    }
    state.shutdown().await;
}

#[tokio::test]
async fn slow_or_silent_connections_are_closed_after_the_header_read_timeout() {
    let config = ServeConfig::default()
        .header_read_timeout(Duration::from_millis(300))
        .idle_timeout(Duration::from_secs(60));
    let server = Running::start(peer_app(), config, None).await;
    // Slowloris: a request line and one header, then nothing.
    let mut slow = connect_from(ip(1), server.addr).await;
    slow.write_all(b"GET /peer HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    assert!(
        closed_by_server(slow).await,
        "partial headers held the connection"
    );
    // The same after a first request was served, on a kept-alive connection.
    let mut kept = connect_from(ip(1), server.addr).await;
    kept.write_all(b"GET /peer HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut answer = Vec::new();
    while !String::from_utf8_lossy(&answer).contains("127.0.0.1") {
        let mut buf = [0u8; 512];
        let n = tokio::time::timeout(GUARD, kept.read(&mut buf))
            .await
            .expect("an answer in time")
            .unwrap();
        assert!(n > 0, "closed before answering");
        answer.extend_from_slice(&buf[..n]);
    }
    kept.write_all(b"GET /peer HTTP/1.1\r\n").await.unwrap();
    assert!(
        closed_by_server(kept).await,
        "partial second headers held the connection"
    );
    // Not a byte: hyper does not yet know if it is HTTP/1 or 2.
    let silent = connect_from(ip(1), server.addr).await;
    assert!(
        closed_by_server(silent).await,
        "a silent connection stayed open"
    );
}

#[tokio::test]
async fn an_idle_http2_connection_is_closed() {
    let config = ServeConfig::default()
        .header_read_timeout(Duration::from_secs(60))
        .idle_timeout(Duration::from_millis(300));
    let server = Running::start(peer_app(), config, None).await;
    let stream = connect_from(ip(1), server.addr).await;
    let (mut sender, connection) = http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
        .await
        .unwrap();
    let connection = tokio::spawn(connection);
    let request = Request::get(format!("http://{}/peer", server.addr))
        .body(Empty::<Bytes>::new())
        .unwrap();
    let response = tokio::time::timeout(GUARD, sender.send_request(request))
        .await
        .expect("an answer in time")
        .unwrap();
    assert_eq!(text(response.into_body()).await, "127.0.0.1");
    // Keep-alive pings alone do not keep it open.
    tokio::time::timeout(GUARD, connection)
        .await
        .expect("the server closed the idle connection in time")
        .unwrap()
        .ok();
}

#[tokio::test]
async fn connections_past_the_per_client_cap_are_closed_and_others_served() {
    let config = patient().max_connections_per_client(Some(2));
    let server = Running::start(peer_app(), config, None).await;
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut sender = h1_from(ip(1), server.addr).await;
        assert_eq!(
            get_on(&mut sender, server.addr, "/peer").await.0,
            StatusCode::OK
        );
        held.push(sender);
    }
    let third = connect_from(ip(1), server.addr).await;
    assert!(
        closed_by_server(third).await,
        "a third connection from one client stayed open"
    );
    let mut probe = h1_from(ip(2), server.addr).await;
    let (status, body) = get_on(&mut probe, server.addr, "/peer").await;
    assert_eq!(
        (status, text(body).await.as_str()),
        (StatusCode::OK, "127.0.0.2")
    );

    // A slot comes back when a connection closes.
    drop(held.pop());
    let served_again = async {
        loop {
            let stream = connect_from(ip(1), server.addr).await;
            if let Ok((mut sender, connection)) = http1::handshake(TokioIo::new(stream)).await {
                tokio::spawn(connection);
                let request = Request::get("/peer")
                    .header(header::HOST, "x")
                    .body(Empty::<Bytes>::new())
                    .unwrap();
                if let Ok(response) = sender.send_request(request).await {
                    return response.status();
                }
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    let status = tokio::time::timeout(GUARD, served_again)
        .await
        .expect("a slot freed in time");
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn connections_past_the_total_cap_are_closed() {
    let config = patient()
        .max_connections(2)
        .max_connections_per_client(None);
    let server = Running::start(peer_app(), config, None).await;
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut sender = h1_from(ip(1), server.addr).await;
        assert_eq!(
            get_on(&mut sender, server.addr, "/peer").await.0,
            StatusCode::OK
        );
        held.push(sender);
    }
    let other = connect_from(ip(2), server.addr).await;
    assert!(
        closed_by_server(other).await,
        "a connection past the total cap stayed open"
    );
}

/// An app with one room whose stream takes an [`SseSlot`] first.
fn sse_app(state: &Hyperstate) -> Router {
    let rooms = Rooms::new(Arc::new(MemoryRoomStore::default()), |_: &RoomKey| {
        Ok(RoomInit::new().acl(Acl::new(Rights::ALL, Rights::ALL)))
    })
    .supervised(state.supervisor());
    let events = move |slot: SseSlot| {
        let rooms = rooms.clone();
        async move {
            let room = rooms.room("lobby").unwrap();
            let subscription = room.attach(&Principal::app("reader"), None).await.unwrap();
            RoomSse::new(subscription, |_: &RoomEvent| {
                vec![SseFragment::unnamed("x")]
            })
            .slot(slot)
            .into_response()
        }
    };
    Router::new()
        .route("/events", get(events))
        .layer(state.layer())
}

#[tokio::test]
async fn event_streams_past_the_caps_are_refused_with_a_message() {
    let state = Hyperstate::builder()
        .config(
            HttpConfig::default()
                .max_sse_streams(Some(2))
                .max_sse_streams_per_client(Some(1)),
        )
        .without_sessions()
        .build()
        .unwrap();
    let server = Running::start(sse_app(&state), patient(), None).await;
    let addr = server.addr;
    let mut first = h1_from(ip(1), addr).await;
    let (status, stream_1) = get_on(&mut first, addr, "/events").await;
    assert_eq!(status, StatusCode::OK);

    let mut again = h1_from(ip(1), addr).await;
    let (status, body) = get_on(&mut again, addr, "/events").await;
    assert_ne!(
        status,
        StatusCode::OK,
        "a second stream from one client attached"
    );
    let message = text(body).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{message}");
    assert!(message.contains("event streams"), "{message}");

    let mut second = h1_from(ip(2), addr).await;
    let (status, _stream_2) = get_on(&mut second, addr, "/events").await;
    assert_eq!(status, StatusCode::OK);
    let mut third = h1_from(ip(3), addr).await;
    let (status, body) = get_on(&mut third, addr, "/events").await;
    assert_ne!(
        status,
        StatusCode::OK,
        "a stream past the total cap attached"
    );
    let message = text(body).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{message}");
    assert!(message.contains("event streams"), "{message}");
    assert_eq!(state.sse_slots().open(), 2);

    // The first client goes away: its slot comes back.
    drop(stream_1);
    drop(first);
    let freed = async {
        while state.sse_slots().open() > 1 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    };
    tokio::time::timeout(GUARD, freed)
        .await
        .expect("a slot freed in time");
    let (status, _stream_3) = get_on(&mut third, addr, "/events").await;
    assert_eq!(status, StatusCode::OK);
    state.shutdown().await;
}

#[tokio::test]
async fn shutdown_ends_room_streams_and_returns() {
    let state = Hyperstate::builder().without_sessions().build().unwrap();
    let config = patient().drain_timeout(Duration::from_secs(60));
    let mut server = Running::start(sse_app(&state), config, Some(&state)).await;
    let mut client = h1_from(ip(1), server.addr).await;
    let (status, _stream) = get_on(&mut client, server.addr, "/events").await;
    assert_eq!(status, StatusCode::OK);
    server.stop.take().unwrap().send(()).unwrap();
    let result = tokio::time::timeout(GUARD, &mut server.done)
        .await
        .expect("run returns once room streams end, long before the drain timeout");
    result.unwrap().unwrap();
    state.shutdown().await;
}

#[tokio::test]
async fn event_streams_over_http2_are_counted_per_stream() {
    let state = Hyperstate::builder().without_sessions().build().unwrap();
    let server = Running::start(sse_app(&state), patient(), None).await;
    let mut held = Vec::new();
    let mut senders = Vec::new();
    for _ in 0..3 {
        let stream = connect_from(ip(1), server.addr).await;
        let (sender, connection) = http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
            .await
            .unwrap();
        tokio::spawn(connection);
        for _ in 0..3 {
            let request = Request::get(format!("http://{}/events", server.addr))
                .body(Empty::<Bytes>::new())
                .unwrap();
            let response = tokio::time::timeout(GUARD, sender.clone().send_request(request))
                .await
                .expect("an answer in time")
                .unwrap();
            assert_eq!(response.status(), StatusCode::OK);
            held.push(response.into_body());
        }
        senders.push(sender);
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(state.sse_slots().open(), 9);
    state.shutdown().await;
}
