//! The client side of the SSE fan-out bench, run as its own process so that
//! the server's and the clients' sockets each fit the open-file limit (10,000
//! connections are 20,000 sockets on one machine).
//!
//! Protocol on stdout, one line each: `ready` once every client has its
//! response headers; `delivered` each time every client has parsed the
//! current write's event; at the end `latencies <µs> <µs> …` (sorted). The
//! event data is the write's start time in nanoseconds since the Unix epoch,
//! so latency is measured across the two processes on the one clock.

use std::io::Write as _;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioIo;
use tokio::sync::Semaphore;

/// At most this many connections are being opened at once: the listen
/// backlog is finite and dropped SYNs would cost a one-second retry.
const CONNECTING_AT_ONCE: usize = 256;

pub(crate) fn now_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("the clock is after 1970")
        .as_nanos() as u64
}

struct Progress {
    clients: usize,
    ready: AtomicUsize,
    delivered: AtomicUsize,
}

impl Progress {
    fn say(line: &str) {
        let mut out = std::io::stdout().lock();
        writeln!(out, "{line}")
            .and_then(|()| out.flush())
            .expect("stdout");
    }

    fn ready(&self) {
        if self.ready.fetch_add(1, Ordering::AcqRel) + 1 == self.clients {
            Self::say("ready");
        }
    }

    fn delivered(&self) {
        if self.delivered.fetch_add(1, Ordering::AcqRel) + 1 == self.clients {
            // The next write starts only after this line, so resetting
            // before saying it cannot lose a count.
            self.delivered.store(0, Ordering::Release);
            Self::say("delivered");
        }
    }
}

/// One SSE client: times every `event: tick` block until it has `writes`.
async fn client(
    addr: SocketAddr,
    path: String,
    progress: Arc<Progress>,
    connecting: Arc<Semaphore>,
    writes: usize,
) -> Vec<Duration> {
    let permit = connecting.acquire_owned().await.expect("semaphore open");
    let stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .expect("handshake");
    tokio::spawn(connection);
    let request = http::Request::get(path)
        .header(http::header::HOST, "bench")
        .body(Empty::<Bytes>::new())
        .expect("request");
    let mut body = sender
        .send_request(request)
        .await
        .expect("response")
        .into_body();
    drop(permit);
    progress.ready();
    let mut latencies = Vec::with_capacity(writes);
    let mut buffer = Vec::new();
    while latencies.len() < writes {
        let Some(Ok(frame)) = body.frame().await else {
            break;
        };
        let Ok(bytes) = frame.into_data() else {
            continue;
        };
        buffer.extend_from_slice(&bytes);
        while let Some(end) = buffer.windows(2).position(|w| w == b"\n\n") {
            let block: Vec<u8> = buffer.drain(..end + 2).collect();
            let now = now_nanos();
            let lines = || block.split(|&b| b == b'\n');
            // Field order within an event is the server's business.
            if !lines().any(|line| line == b"event: tick") {
                continue;
            }
            let sent = lines()
                .find_map(|line| line.strip_prefix(b"data: "))
                .and_then(|data| std::str::from_utf8(data).ok()?.parse::<u64>().ok())
                .expect("a tick carries its send time");
            latencies.push(Duration::from_nanos(now.saturating_sub(sent)));
            progress.delivered();
        }
    }
    latencies
}

/// `--client-process ADDR PATH CLIENTS WRITES`: runs the clients, speaks the
/// protocol above, exits.
pub(crate) fn run(args: &[String]) {
    let [addr, path, clients, writes] = args else {
        panic!("usage: --client-process ADDR PATH CLIENTS WRITES");
    };
    let addr: SocketAddr = addr.parse().expect("an address");
    let clients: usize = clients.parse().expect("a client count");
    let writes: usize = writes.parse().expect("a write count");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let mut latencies = runtime.block_on(async {
        let progress = Arc::new(Progress {
            clients,
            ready: AtomicUsize::new(0),
            delivered: AtomicUsize::new(0),
        });
        let connecting = Arc::new(Semaphore::new(CONNECTING_AT_ONCE));
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..clients {
            let task = client(
                addr,
                path.clone(),
                progress.clone(),
                connecting.clone(),
                writes,
            );
            tasks.spawn(task);
        }
        let mut all = Vec::with_capacity(clients * writes);
        while let Some(result) = tasks.join_next().await {
            all.append(&mut result.expect("a client task"));
        }
        all
    });
    latencies.sort_unstable();
    let micros: Vec<String> = latencies
        .iter()
        .map(|d| d.as_micros().to_string())
        .collect();
    Progress::say(&format!("latencies {}", micros.join(" ")));
}
