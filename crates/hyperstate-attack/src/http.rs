//! A minimal HTTP/1.1 client whose connections leave from a chosen loopback
//! address, so the attacker and the probe are different clients to the server.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use tokio::net::{TcpSocket, TcpStream};

/// Any failure of one exchange, as text: the attack only counts them.
pub(crate) type Failure = String;

/// What came back.
#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: String,
}

/// A TCP connection to `target` leaving from `source` (port chosen by the OS).
pub(crate) async fn connect(source: IpAddr, target: SocketAddr) -> Result<TcpStream, Failure> {
    let socket = match source {
        IpAddr::V4(_) => TcpSocket::new_v4(),
        IpAddr::V6(_) => TcpSocket::new_v6(),
    }
    .map_err(|e| format!("socket: {e}"))?;
    socket
        .bind(SocketAddr::new(source, 0))
        .map_err(|e| format!("bind {source}: {e}"))?;
    socket
        .connect(target)
        .await
        .map_err(|e| format!("connect: {e}"))
}

/// One keep-alive HTTP/1.1 connection.
pub(crate) struct Conn {
    sender: SendRequest<Full<Bytes>>,
}

impl Conn {
    /// Opens a connection from `source`, within `limit`.
    pub(crate) async fn open(
        source: IpAddr,
        target: SocketAddr,
        limit: Duration,
    ) -> Result<Conn, Failure> {
        let attempt = async {
            let tcp = connect(source, target).await?;
            let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
                .await
                .map_err(|e| format!("handshake: {e}"))?;
            tokio::spawn(async move {
                let _ = connection.await;
            });
            Ok(Conn { sender })
        };
        tokio::time::timeout(limit, attempt)
            .await
            .map_err(|_| "connect timed out".to_owned())?
    }

    /// Sends one request and reads the whole reply, within `limit`.
    pub(crate) async fn send(
        &mut self,
        request: Request<Full<Bytes>>,
        limit: Duration,
    ) -> Result<Reply, Failure> {
        let exchange = async {
            self.sender
                .ready()
                .await
                .map_err(|e| format!("connection closed: {e}"))?;
            let response = self
                .sender
                .send_request(request)
                .await
                .map_err(|e| format!("request: {e}"))?;
            let (parts, body) = response.into_parts();
            let body = body
                .collect()
                .await
                .map_err(|e| format!("body: {e}"))?
                .to_bytes();
            Ok(Reply {
                status: parts.status,
                headers: parts.headers,
                body: String::from_utf8_lossy(&body).into_owned(),
            })
        };
        tokio::time::timeout(limit, exchange)
            .await
            .map_err(|_| "timed out".to_owned())?
    }
}

/// A request with the headers every client here sends.
pub(crate) fn request(method: &str, target: SocketAddr, path: &str) -> http::request::Builder {
    Request::builder()
        .method(method)
        .uri(path)
        .header(http::header::HOST, target.to_string())
}

/// A form post of `body`.
pub(crate) fn form(target: SocketAddr, path: &str, body: String) -> http::request::Builder {
    request("POST", target, path)
        .header(
            http::header::CONTENT_TYPE,
            "application/x-www-form-urlencoded",
        )
        .header(http::header::CONTENT_LENGTH, body.len())
}

/// One request on a fresh connection from `source`, within `limit` in all.
pub(crate) async fn once(
    source: IpAddr,
    target: SocketAddr,
    request: Request<Full<Bytes>>,
    limit: Duration,
) -> Result<Reply, Failure> {
    let started = tokio::time::Instant::now();
    let mut conn = Conn::open(source, target, limit).await?;
    let left = limit.saturating_sub(started.elapsed());
    conn.send(request, left).await
}
