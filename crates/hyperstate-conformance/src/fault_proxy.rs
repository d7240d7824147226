//! A fault-injecting TCP proxy, for tests of what a networked backend (Redis)
//! does when the network between it and the app misbehaves.
//!
//! The client connects to the proxy instead of the server; the proxy forwards
//! bytes both ways and applies the current [`NetFault`], switchable at run time
//! ([`FaultProxy::set`]) so one test can break the link, watch the app fail
//! cleanly, clear the fault and watch the *same* client recover.
//!
//! The faults act on connections that are already open, not only on new ones:
//! a client library that multiplexes one long-lived connection (redis-rs does)
//! would otherwise never see them.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// What the proxy does to the traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NetFault {
    /// Forward everything.
    #[default]
    PassThrough,
    /// Close every open connection and every new one at once (the client sees
    /// a reset or an end of stream): the server is unreachable.
    Refuse,
    /// Hold each reply this long before forwarding it: a slow server or link.
    Delay(Duration),
    /// Accept connections but move no byte either way: the client waits for
    /// its own timeout. Held bytes flow again when the fault clears, as TCP
    /// would deliver them after a partition heals.
    Blackhole,
    /// Forward requests to the server, but drop the first reply of each
    /// connection and close it: the write landed, the client sees an error.
    DropReply,
}

/// A running proxy. Dropping it stops accepting and closes every open
/// connection.
#[derive(Debug)]
pub struct FaultProxy {
    addr: SocketAddr,
    fault: Arc<watch::Sender<NetFault>>,
    stats: Arc<Stats>,
    accept: JoinHandle<()>,
}

#[derive(Debug, Default)]
struct Stats {
    connections: AtomicU64,
    replies_dropped: AtomicU64,
}

impl FaultProxy {
    /// Starts a proxy to `upstream` on a free port of 127.0.0.1.
    pub async fn start(upstream: SocketAddr) -> std::io::Result<FaultProxy> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let fault = Arc::new(watch::Sender::new(NetFault::PassThrough));
        let stats = Arc::new(Stats::default());
        let accept = tokio::spawn(accept_loop(
            listener,
            upstream,
            fault.clone(),
            stats.clone(),
        ));
        Ok(FaultProxy {
            addr,
            fault,
            stats,
            accept,
        })
    }

    /// Starts a proxy to the Redis at `url` (`redis://HOST:PORT[/DB]`) and
    /// returns it with the URL that reaches Redis through it.
    pub async fn for_redis_url(url: &str) -> std::io::Result<(FaultProxy, String)> {
        let rest = url.strip_prefix("redis://").unwrap_or(url);
        let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
        let upstream = tokio::net::lookup_host(authority)
            .await?
            .next()
            .ok_or_else(|| std::io::Error::other(format!("cannot resolve {authority}")))?;
        let proxy = FaultProxy::start(upstream).await?;
        let proxied = format!("redis://{}/{path}", proxy.addr);
        Ok((proxy, proxied))
    }

    /// The address clients connect to.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Applies `fault` from now on, to open and new connections alike.
    pub fn set(&self, fault: NetFault) {
        self.fault.send_replace(fault);
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> u64 {
        self.stats.connections.load(Ordering::SeqCst)
    }

    /// Replies dropped by [`NetFault::DropReply`] so far (each one a request
    /// that reached the server and whose answer the client never saw).
    pub fn replies_dropped(&self) -> u64 {
        self.stats.replies_dropped.load(Ordering::SeqCst)
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.accept.abort();
        // Every open connection's pumps watch the fault: `Refuse` closes them,
        // so no relay task outlives the proxy.
        self.fault.send_replace(NetFault::Refuse);
    }
}

async fn accept_loop(
    listener: TcpListener,
    upstream: SocketAddr,
    fault: Arc<watch::Sender<NetFault>>,
    stats: Arc<Stats>,
) {
    while let Ok((client, _)) = listener.accept().await {
        stats.connections.fetch_add(1, Ordering::SeqCst);
        tokio::spawn(relay(client, upstream, fault.subscribe(), stats.clone()));
    }
}

/// Relays one connection until either side closes or a fault ends it; both
/// directions end together, as a broken TCP connection would.
async fn relay(
    client: TcpStream,
    upstream: SocketAddr,
    fault: watch::Receiver<NetFault>,
    stats: Arc<Stats>,
) {
    if *fault.borrow() == NetFault::Refuse {
        return;
    }
    let Ok(server) = TcpStream::connect(upstream).await else {
        return;
    };
    let (client_read, client_write) = client.into_split();
    let (server_read, server_write) = server.into_split();
    let requests = pump(
        client_read,
        server_write,
        Direction::Request,
        fault.clone(),
        &stats,
    );
    let replies = pump(server_read, client_write, Direction::Reply, fault, &stats);
    tokio::select! {
        () = requests => {}
        () = replies => {}
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Direction {
    Request,
    Reply,
}

/// Copies one direction, applying the fault to each chunk. Returns when the
/// connection must end.
///
/// Reading and writing are separate, so a delay is a latency measured from
/// each chunk's arrival (like a slow link), not one that grows with every
/// chunk queued behind it.
async fn pump(
    from: OwnedReadHalf,
    mut to: OwnedWriteHalf,
    direction: Direction,
    mut fault: watch::Receiver<NetFault>,
    stats: &Stats,
) {
    let (chunks, mut arrived) = mpsc::unbounded_channel();
    let reader = read_chunks(from, chunks);
    let writer = async {
        loop {
            let (at, chunk) = tokio::select! {
                chunk = arrived.recv() => match chunk {
                    Some(chunk) => chunk,
                    None => return,
                },
                // Re-check the fault: a switch to `Refuse` must close an idle connection.
                changed = fault.changed() => {
                    if changed.is_err() || *fault.borrow_and_update() == NetFault::Refuse {
                        return;
                    }
                    continue;
                }
            };
            if !release(at, direction, &mut fault, stats).await {
                return;
            }
            if to.write_all(&chunk).await.is_err() {
                return;
            }
        }
    };
    // The writer decides when the pump ends; the reader never returns.
    tokio::select! {
        () = writer => {}
        () = reader => {}
    }
}

async fn read_chunks(mut from: OwnedReadHalf, chunks: mpsc::UnboundedSender<(Instant, Vec<u8>)>) {
    let mut buf = vec![0u8; 16 * 1024];
    while let Ok(n @ 1..) = from.read(&mut buf).await {
        if chunks.send((Instant::now(), buf[..n].to_vec())).is_err() {
            return;
        }
    }
    // End of stream: the writer drains what arrived, then ends the pump.
    drop(chunks);
    std::future::pending().await
}

/// Waits until the chunk that arrived `at` may be forwarded under the fault in
/// force (re-evaluated whenever it changes); false when the connection must
/// end instead.
async fn release(
    at: Instant,
    direction: Direction,
    fault: &mut watch::Receiver<NetFault>,
    stats: &Stats,
) -> bool {
    loop {
        let current = *fault.borrow_and_update();
        let until = match (current, direction) {
            (NetFault::Refuse, _) => return false,
            (NetFault::DropReply, Direction::Reply) => {
                stats.replies_dropped.fetch_add(1, Ordering::SeqCst);
                return false;
            }
            (NetFault::Delay(delay), Direction::Reply) if Instant::now() < at + delay => {
                Some(at + delay)
            }
            (NetFault::Blackhole, _) => None,
            _ => return true,
        };
        let sleep = async {
            match until {
                Some(until) => tokio::time::sleep_until(until).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            () = sleep => {}
            changed = fault.changed() => {
                if changed.is_err() {
                    return false;
                }
            }
        }
    }
}
