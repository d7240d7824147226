//! Room fan-out over real SSE connections on loopback: write → the event
//! parsed by each client, p50/p99, at 1,000 and 10,000 connections; the
//! reference in the same run is axum's own `Sse` fed by a bare
//! `tokio::sync::broadcast` channel (no rooms, versions or ACLs).
//!
//! ```text
//! cargo bench -p hyperstate-axum --bench room_sse            # 1,000 and 10,000 connections
//! cargo bench -p hyperstate-axum --bench room_sse -- --quick # 50, a smoke run
//! ```
//!
//! The server runs here; the clients run in a second process (this binary
//! again, `--client-process`), because 10,000 connections on one machine
//! are 20,000 sockets and each process's open-file limit is 20,000. Both
//! share the same two cores, so the clients' HTTP parsing competes with the
//! server for CPU: the figures are an upper bound on what the server alone
//! costs. Writes are spaced: the next starts once every client has the
//! previous one.

#[path = "support/sse_clients.rs"]
mod sse_clients;

use std::convert::Infallible;
use std::io::{BufRead as _, BufReader, Lines};
use std::net::SocketAddr;
use std::process::{ChildStdout, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::response::IntoResponse;
use axum::response::sse::{Event, Sse};
use axum::routing::get;
use hyperstate::memory::MemoryRoomStore;
use hyperstate::room::{Acl, Principal, Rights, Room, RoomEvent, RoomInit, RoomKey, Rooms};
use hyperstate_axum::{RoomSse, SseFragment};
use hyperstate_bench_report::{Better, Record, percentile, record};
use tokio::sync::broadcast;

/// The room's stream: one `tick` event per diff, its data the write's start time.
async fn room_events(State(server): State<Arc<Server>>) -> impl IntoResponse {
    let subscription = server
        .room
        .attach(&Principal::app("client"), None)
        .await
        .expect("attach");
    RoomSse::new(subscription, |event: &RoomEvent| match event {
        RoomEvent::Diff(diff) => vec![SseFragment::named(
            "tick",
            diff.value::<u64>()
                .ok()
                .flatten()
                .unwrap_or_default()
                .to_string(),
        )],
        _ => Vec::new(),
    })
}

/// The reference stream: the same events from a bare broadcast channel.
async fn bare_events(State(server): State<Arc<Server>>) -> impl IntoResponse {
    let receiver = server.bare.subscribe();
    let stream = futures::stream::unfold(receiver, |mut receiver| async move {
        loop {
            match receiver.recv().await {
                Ok(sent) => {
                    let event = Event::default().event("tick").data(sent.to_string());
                    return Some((Ok::<_, Infallible>(event), receiver));
                }
                Err(broadcast::error::RecvError::Lagged(_)) => continue,
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    });
    Sse::new(stream)
}

struct Server {
    room: Room,
    bare: broadcast::Sender<u64>,
}

#[derive(Clone, Copy, PartialEq)]
enum Target {
    Room,
    Bare,
}

impl Target {
    fn path(self) -> &'static str {
        match self {
            Target::Room => "/room",
            Target::Bare => "/bare",
        }
    }

    async fn subscribers(self, server: &Server) -> usize {
        match self {
            Target::Room => server.room.attached().await.unwrap_or(0),
            Target::Bare => server.bare.receiver_count(),
        }
    }

    async fn write(self, server: &Server, sent: u64) {
        match self {
            Target::Room => {
                let writer = Principal::app("writer");
                server.room.put(&writer, "n", &sent).await.expect("put");
            }
            Target::Bare => {
                server.bare.send(sent).expect("subscribers exist");
            }
        }
    }
}

/// The next protocol line from the client process (see `sse_clients`).
fn expect_line(lines: &mut Lines<BufReader<ChildStdout>>, prefix: &str) -> String {
    let line = lines
        .next()
        .expect("the client process ended early")
        .expect("reading the client process");
    assert!(
        line.starts_with(prefix),
        "expected {prefix:?}, got {line:?}"
    );
    line
}

/// One run: `clients` connections to `target`, `writes` spaced writes; the
/// sorted latencies.
async fn run(
    server: &Arc<Server>,
    addr: SocketAddr,
    target: Target,
    clients: usize,
    writes: usize,
) -> Vec<Duration> {
    let mut child = Command::new(std::env::current_exe().expect("this binary"))
        .args(["--client-process", &addr.to_string(), target.path()])
        .args([clients.to_string(), writes.to_string()])
        .stdout(Stdio::piped())
        .spawn()
        .expect("starting the client process");
    let stdout = child.stdout.take().expect("piped stdout");
    let (server, driver) = (server.clone(), tokio::runtime::Handle::current());
    // The protocol is read with blocking I/O on a thread of its own, so the
    // server's two workers only serve.
    let latencies = tokio::task::spawn_blocking(move || {
        let mut lines = BufReader::new(stdout).lines();
        expect_line(&mut lines, "ready");
        driver.block_on(async {
            while target.subscribers(&server).await < clients {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        });
        for _ in 0..writes {
            driver.block_on(target.write(&server, sse_clients::now_nanos()));
            expect_line(&mut lines, "delivered");
        }
        let line = expect_line(&mut lines, "latencies");
        line.split_whitespace()
            .skip(1)
            .map(|us| Duration::from_micros(us.parse().expect("microseconds")))
            .collect::<Vec<_>>()
    })
    .await
    .expect("the driver thread");
    assert!(child.wait().expect("the client process").success());
    latencies
}

fn percentile_ms(sorted: &[Duration], p: f64) -> f64 {
    percentile(sorted, p).as_secs_f64() * 1e3
}

async fn bench(sizes: &[usize], writes: usize) {
    let rooms = Rooms::new(Arc::new(MemoryRoomStore::default()), |_: &RoomKey| {
        Ok(RoomInit::new().acl(Acl::new(Rights::ALL, Rights::ALL)))
    });
    let server = Arc::new(Server {
        room: rooms.room("bench-sse").expect("valid key"),
        bare: broadcast::channel(256).0,
    });
    let app = Router::new()
        .route("/room", get(room_events))
        .route("/bare", get(bare_events))
        .with_state(server.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("address");
    tokio::spawn(async move { axum::serve(listener, app).await });

    for &clients in sizes {
        let started = Instant::now();
        let ours = run(&server, addr, Target::Room, clients, writes).await;
        let elapsed = started.elapsed();
        let reference = run(&server, addr, Target::Bare, clients, writes).await;
        println!(
            "SSE fan-out to {clients} connections: {writes} writes, {} deliveries, max {:.2} ms, {:.1} s with connecting",
            ours.len(),
            percentile_ms(&ours, 1.0),
            elapsed.as_secs_f64(),
        );
        for (quantile, p) in [("p50", 0.5), ("p99", 0.99)] {
            record(
                &Record::new(
                    "Room scope: fan-out latency over SSE on loopback",
                    format!("{quantile}, {clients} connections"),
                    "ms",
                    Better::Lower,
                    percentile_ms(&ours, p),
                )
                .reference(
                    "axum Sse over a bare broadcast channel",
                    percentile_ms(&reference, p),
                ),
            );
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--client-process") {
        return sse_clients::run(&args[1..]);
    }
    // `--test` is what `scripts/bench --quick` passes to every bench.
    let quick = args.iter().any(|a| a == "--quick" || a == "--test");
    let (sizes, writes) = if quick {
        (vec![50], 5)
    } else {
        (vec![1_000, 10_000], 100)
    };
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
        .block_on(async {
            // A lost delivery would otherwise hang `scripts/bench` forever.
            tokio::time::timeout(Duration::from_secs(300), bench(&sizes, writes))
                .await
                .expect("the benchmark did not finish within 5 minutes");
        });
}
