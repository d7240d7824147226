//! Room fan-out over real SSE connections on loopback: write → the event parsed
//! by each client, p50/p99.
//!
//! ```text
//! cargo bench -p hyperstate-axum --bench room_sse            # 1,000 connections
//! cargo bench -p hyperstate-axum --bench room_sse -- --quick # 50, a smoke run
//! ```
//!
//! Server and clients share one process and its two cores, so the clients'
//! HTTP parsing competes with the server for CPU; the figures are an upper
//! bound on what the server alone costs. Writes are spaced: the next starts
//! once every client has the previous one.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::response::IntoResponse;
use axum::routing::get;
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioIo;
use hyperstate::memory::MemoryRoomStore;
use hyperstate::room::{Acl, Principal, Rights, Room, RoomEvent, RoomInit, RoomKey, Rooms};
use hyperstate_axum::{RoomSse, SseFragment};
use tokio::sync::Notify;

async fn events(State(room): State<Room>) -> impl IntoResponse {
    let subscription = room
        .attach(&Principal::app("client"), None)
        .await
        .expect("attach");
    RoomSse::new(subscription, |event: &RoomEvent| match event {
        RoomEvent::Diff(diff) => vec![SseFragment::named(
            "tick",
            diff.value::<u64>()
                .and_then(Result::ok)
                .unwrap_or_default()
                .to_string(),
        )],
        _ => Vec::new(),
    })
    .into_sse()
}

struct Shared {
    epoch: Instant,
    sent_at: AtomicU64,
    delivered: AtomicUsize,
    clients: usize,
    all: Notify,
    ready: AtomicUsize,
}

/// One SSE client: counts `event: tick` blocks, timing each.
async fn client(addr: SocketAddr, shared: Arc<Shared>, writes: usize) -> Vec<Duration> {
    let stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .expect("handshake");
    tokio::spawn(connection);
    let request = http::Request::get("/events")
        .header(http::header::HOST, "bench")
        .body(Empty::<Bytes>::new())
        .expect("request");
    let mut body = sender
        .send_request(request)
        .await
        .expect("response")
        .into_body();
    shared.ready.fetch_add(1, Ordering::AcqRel);
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
            // Field order within an event is axum's business: look for the line.
            if block
                .split(|&b| b == b'\n')
                .any(|line| line == b"event: tick")
            {
                let now = shared.epoch.elapsed().as_nanos() as u64;
                let start = shared.sent_at.load(Ordering::Acquire);
                latencies.push(Duration::from_nanos(now.saturating_sub(start)));
                if shared.delivered.fetch_add(1, Ordering::AcqRel) + 1 == shared.clients {
                    shared.all.notify_one();
                }
            }
        }
    }
    latencies
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[rank.min(sorted.len() - 1)].as_secs_f64() * 1e3
}

async fn run(clients: usize, writes: usize) {
    let rooms = Rooms::new(Arc::new(MemoryRoomStore::default()), |_: &RoomKey| {
        Ok(RoomInit::new().acl(Acl::new(Rights::ALL, Rights::ALL)))
    });
    let room = rooms.room("bench-sse").expect("valid key");
    let app = Router::new()
        .route("/events", get(events))
        .with_state(room.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("address");
    tokio::spawn(async move { axum::serve(listener, app).await });

    let shared = Arc::new(Shared {
        epoch: Instant::now(),
        sent_at: AtomicU64::new(0),
        delivered: AtomicUsize::new(0),
        clients,
        all: Notify::new(),
        ready: AtomicUsize::new(0),
    });
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..clients {
        tasks.spawn(client(addr, shared.clone(), writes));
    }
    while shared.ready.load(Ordering::Acquire) < clients
        || room.attached().await.unwrap_or(0) < clients
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let writer = Principal::app("writer");
    let started = Instant::now();
    for i in 0..writes {
        shared.delivered.store(0, Ordering::Release);
        shared
            .sent_at
            .store(shared.epoch.elapsed().as_nanos() as u64, Ordering::Release);
        room.put(&writer, "n", &(i as u64)).await.expect("put");
        shared.all.notified().await;
    }
    let elapsed = started.elapsed();
    let mut latencies = Vec::new();
    while let Some(result) = tasks.join_next().await {
        if let Ok(mut l) = result {
            latencies.append(&mut l);
        }
    }
    latencies.sort_unstable();
    println!(
        "SSE fan-out to {clients} connections: {writes} writes, {} deliveries, p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms ({:.0} deliveries/s)",
        latencies.len(),
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        percentile(&latencies, 1.0),
        latencies.len() as f64 / elapsed.as_secs_f64(),
    );
}

fn main() {
    // `--test` is what `scripts/bench --quick` passes to every bench.
    let quick = std::env::args().any(|a| a == "--quick" || a == "--test");
    let (clients, writes) = if quick { (50, 5) } else { (1_000, 100) };
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
        .block_on(async {
            // A lost delivery would otherwise hang `scripts/bench` forever.
            tokio::time::timeout(Duration::from_secs(300), run(clients, writes))
                .await
                .expect("the benchmark did not finish within 5 minutes");
        });
}
