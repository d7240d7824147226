//! A minimal HTTP/1.1 client over real TCP (hyper) with an SSE reader.

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

/// One parsed SSE event.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SseEvent {
    pub id: Option<String>,
    pub event: Option<String>,
    pub data: String,
}

impl SseEvent {
    /// The room version this event carries as its id.
    pub fn version(&self) -> Option<u64> {
        self.id
            .as_deref()
            .map(|id| id.parse().expect("event ids are versions"))
    }
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

    /// The next event (keep-alive comments skipped), or `None` when the
    /// stream ends; within [`DELIVERY`].
    pub async fn next(&mut self) -> Option<SseEvent> {
        tokio::time::timeout(DELIVERY, self.next_inner())
            .await
            .expect("no SSE event in time")
    }

    async fn next_inner(&mut self) -> Option<SseEvent> {
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
                return Some(event);
            }
            match self.body.frame().await {
                Some(Ok(frame)) => {
                    if let Ok(bytes) = frame.into_data() {
                        self.buffer.push_str(&String::from_utf8_lossy(&bytes));
                    }
                }
                Some(Err(err)) => panic!("SSE body failed: {err}"),
                None => return None,
            }
        }
    }

    /// Reads events until one satisfies `done`; returns all read, that one last.
    pub async fn until(&mut self, done: impl Fn(&SseEvent) -> bool) -> Vec<SseEvent> {
        let mut seen = Vec::new();
        loop {
            let event = self.next().await.expect("the stream ended early");
            let stop = done(&event);
            seen.push(event);
            if stop {
                return seen;
            }
        }
    }
}
