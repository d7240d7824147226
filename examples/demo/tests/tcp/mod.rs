//! A minimal HTTP/1.1 client over real TCP (hyper), with an SSE reader: for
//! tests that need a real listener and a streaming response.

#![allow(dead_code, unreachable_pub)] // each test binary uses part of it

use std::net::SocketAddr;
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, Request, StatusCode, header};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;

/// How long a test waits for something that must arrive.
pub const DELIVERY: Duration = Duration::from_secs(10);

/// Serves `app` on 127.0.0.1, port 0, with the production server and its
/// default settings; returns the address.
pub async fn serve(app: axum::Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        hyperstate_axum::serve(listener, app)
            .run(std::future::pending())
            .await
            .unwrap();
    });
    addr
}

/// Sends one request on a fresh connection; returns status, headers and the
/// (unread) body.
pub async fn send(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, String)],
    body: Option<String>,
) -> (StatusCode, HeaderMap, Incoming) {
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(connection);
    let mut request = Request::builder()
        .method(method)
        .uri(path)
        .header(header::HOST, addr.to_string());
    for (name, value) in headers {
        request = request.header(*name, value);
    }
    let request = request
        .body(Full::new(Bytes::from(body.unwrap_or_default())))
        .unwrap();
    let response = tokio::time::timeout(DELIVERY, sender.send_request(request))
        .await
        .expect("no response in time")
        .unwrap();
    let (parts, body) = response.into_parts();
    (parts.status, parts.headers, body)
}

/// Reads a whole body as text.
pub async fn text(body: Incoming) -> String {
    let bytes = tokio::time::timeout(DELIVERY, body.collect())
        .await
        .expect("body in time")
        .unwrap()
        .to_bytes();
    String::from_utf8_lossy(&bytes).into_owned()
}

/// The `name=value` part of the `hs_bid` cookie a response set.
pub fn browser_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("hs_bid="))
        .map(|v| v.split(';').next().unwrap_or_default().to_owned())
}

/// One parsed SSE event.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SseEvent {
    pub id: Option<String>,
    pub event: Option<String>,
    pub data: String,
}

impl SseEvent {
    /// True for a chat message event whose data contains `text`.
    pub fn is_chat(&self, text: &str) -> bool {
        self.event.as_deref() == Some("chat") && self.data.contains(text)
    }

    /// The room version this event carries as its id.
    pub fn version(&self) -> u64 {
        self.id
            .as_deref()
            .expect("versioned events carry an id")
            .parse()
            .expect("event ids are versions")
    }
}

/// Opens room `room`'s event stream as the browser holding `cookie`, resuming
/// after `last_event_id` if given; checks it is an unbuffered event stream.
pub async fn room_events(
    addr: SocketAddr,
    room: &str,
    cookie: &str,
    last_event_id: Option<u64>,
) -> SseStream {
    let mut headers = vec![
        (header::COOKIE.as_str(), cookie.to_owned()),
        (header::ACCEPT.as_str(), "text/event-stream".to_owned()),
    ];
    if let Some(id) = last_event_id {
        headers.push(("last-event-id", id.to_string()));
    }
    let (status, response_headers, body) = send(
        addr,
        "GET",
        &format!("/rooms/{room}/events"),
        &headers,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(response_headers[header::CONTENT_TYPE], "text/event-stream");
    assert_eq!(
        response_headers["x-accel-buffering"], "no",
        "proxies must not buffer"
    );
    SseStream::new(body)
}

/// Reads SSE events from a streaming body.
pub struct SseStream {
    body: Incoming,
    buffer: String,
}

impl SseStream {
    pub fn new(body: Incoming) -> Self {
        SseStream {
            body,
            buffer: String::new(),
        }
    }

    /// The next event (keep-alive comments skipped), within [`DELIVERY`].
    pub async fn next(&mut self) -> SseEvent {
        tokio::time::timeout(DELIVERY, self.next_inner())
            .await
            .expect("no SSE event in time")
    }

    async fn next_inner(&mut self) -> SseEvent {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let mut event = SseEvent::default();
                let mut data = Vec::new();
                for line in block.lines() {
                    let (field, value) = line.split_once(':').unwrap_or((line, ""));
                    let value = value.strip_prefix(' ').unwrap_or(value);
                    match field {
                        "id" => event.id = Some(value.to_owned()),
                        "event" => event.event = Some(value.to_owned()),
                        "data" => data.push(value.to_owned()),
                        _ => {} // comments (keep-alive) and unknown fields
                    }
                }
                if event.id.is_none() && event.event.is_none() && data.is_empty() {
                    continue;
                }
                event.data = data.join("\n");
                return event;
            }
            match self.body.frame().await {
                Some(Ok(frame)) => {
                    if let Ok(bytes) = frame.into_data() {
                        self.buffer.push_str(&String::from_utf8_lossy(&bytes));
                    }
                }
                Some(Err(err)) => panic!("SSE body failed: {err}"),
                None => panic!("SSE stream ended"),
            }
        }
    }

    /// Reads events until one satisfies `done`; returns all read, that one last.
    pub async fn until(&mut self, done: impl Fn(&SseEvent) -> bool) -> Vec<SseEvent> {
        let mut seen = Vec::new();
        loop {
            let event = self.next().await;
            let stop = done(&event);
            seen.push(event);
            if stop {
                return seen;
            }
        }
    }
}
