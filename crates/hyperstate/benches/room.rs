//! Room fan-out benchmark: write → delivery latency to many in-process
//! subscribers, and write throughput with subscribers attached.
//!
//! ```text
//! cargo bench -p hyperstate --bench room            # 1,000 and 10,000 / 1,000 subscribers
//! cargo bench -p hyperstate --bench room -- --quick # a smoke run
//! ```
//!
//! Latency is measured per delivery: from just before `put` is called to when a
//! subscriber task has the diff in hand, over every subscriber and every write.
//! Writes are spaced (the next starts once every subscriber has the previous
//! one), so this is fan-out latency, not queueing under overload. The reference,
//! measured in the same run, is a bare `tokio::sync::broadcast` channel.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hyperstate::memory::{DEFAULT_ROOM_MEMORY, MemoryRoomStore};
use hyperstate::room::{Acl, Principal, Rights, RoomEvent, RoomInit, RoomKey, RoomOptions, Rooms};
use hyperstate_bench_report::{Better, Deliveries, Record, percentile, record};

struct Config {
    fanout_subscribers: Vec<usize>,
    fanout_writes: usize,
    throughput_subscribers: usize,
    throughput_for: Duration,
}

fn rooms() -> Rooms {
    let store = MemoryRoomStore::new(RoomOptions::default(), DEFAULT_ROOM_MEMORY);
    Rooms::new(Arc::new(store), |_: &RoomKey| {
        Ok(RoomInit::new().acl(Acl::new(Rights::ALL, Rights::ALL)))
    })
}

/// Fan-out through a hyperstate room: `put` on the room, diffs read from
/// each subscriber's `Subscription`.
async fn fanout_room(n: usize, writes: usize) -> Vec<Duration> {
    let rooms = rooms();
    let room = rooms.room("bench-fanout").expect("valid key");
    let writer = Principal::app("writer");
    let deliveries = Deliveries::new(n);
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..n {
        let mut sub = room
            .attach(&Principal::app(format!("s{i}")), None)
            .await
            .expect("attach");
        let deliveries = deliveries.clone();
        tasks.spawn(async move {
            let mut latencies = Vec::new();
            while let Some(Ok(event)) = sub.next().await {
                match event {
                    RoomEvent::Diff(_) => latencies.push(deliveries.arrived()),
                    RoomEvent::Resync(_) => eprintln!("subscriber resynced"),
                    _ => {}
                }
                if latencies.len() == writes {
                    break;
                }
            }
            latencies
        });
    }
    let write = |i: usize| {
        let (room, writer) = (room.clone(), writer.clone());
        async move {
            room.put(&writer, "n", &i).await.expect("put");
        }
    };
    deliveries.run(writes, write, tasks).await
}

/// The reference: the same fan-out over a bare `tokio::sync::broadcast`
/// channel of the same capacity carrying the JSON-encoded value — what any
/// in-process pub/sub costs before keys, versions, ACLs and resync exist.
async fn fanout_broadcast(n: usize, writes: usize) -> Vec<Duration> {
    let (sender, _) = tokio::sync::broadcast::channel::<Arc<Vec<u8>>>(256);
    let deliveries = Deliveries::new(n);
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..n {
        let mut receiver = sender.subscribe();
        let deliveries = deliveries.clone();
        tasks.spawn(async move {
            let mut latencies = Vec::new();
            while latencies.len() < writes {
                match receiver.recv().await {
                    Ok(_) => latencies.push(deliveries.arrived()),
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                        eprintln!("broadcast receiver lagged")
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
                }
            }
            latencies
        });
    }
    let write = |i: usize| {
        let sender = sender.clone();
        async move {
            let value = serde_json::to_vec(&i).expect("encodes");
            sender.send(Arc::new(value)).expect("subscribers exist");
        }
    };
    deliveries.run(writes, write, tasks).await
}

async fn fanout(config: &Config) {
    for &n in &config.fanout_subscribers {
        let started = Instant::now();
        let ours = fanout_room(n, config.fanout_writes).await;
        let elapsed = started.elapsed();
        let reference = fanout_broadcast(n, config.fanout_writes).await;
        let ms = |sorted: &[Duration], p: f64| percentile(sorted, p).as_secs_f64() * 1e3;
        println!(
            "fan-out to {n} subscribers: {} writes, {} deliveries, max {:.2} ms ({:.0} deliveries/s)",
            config.fanout_writes,
            ours.len(),
            ms(&ours, 1.0),
            ours.len() as f64 / elapsed.as_secs_f64(),
        );
        for (quantile, p) in [("p50", 0.5), ("p99", 0.99)] {
            let mut r = Record::new(
                "Room scope: fan-out latency, in-process subscribers",
                format!("{quantile}, {n} subscribers"),
                "ms",
                Better::Lower,
                ms(&ours, p),
            )
            .reference("bare tokio broadcast channel", ms(&reference, p));
            if quantile == "p99" {
                r = r.target("< 100 ms");
            }
            record(&r);
        }
    }
}

async fn throughput(config: &Config) {
    let n = config.throughput_subscribers;
    let rooms = rooms();
    let room = rooms.room("bench-throughput").expect("valid key");
    let writer = Principal::app("writer");
    let received = Arc::new(AtomicU64::new(0));
    let resyncs = Arc::new(AtomicU64::new(0));
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..n {
        let mut sub = room
            .attach(&Principal::app(format!("s{i}")), None)
            .await
            .expect("attach");
        let (received, resyncs) = (received.clone(), resyncs.clone());
        tasks.spawn(async move {
            while let Some(Ok(event)) = sub.next().await {
                match event {
                    RoomEvent::Diff(_) => received.fetch_add(1, Ordering::Relaxed),
                    RoomEvent::Resync(_) => resyncs.fetch_add(1, Ordering::Relaxed),
                    _ => 0,
                };
            }
        });
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let started = Instant::now();
    let mut writes = 0u64;
    while started.elapsed() < config.throughput_for {
        for _ in 0..100 {
            room.put(&writer, "n", &writes).await.expect("put");
            writes += 1;
        }
        // Give subscribers their share of the two cores, as a server would.
        tokio::task::yield_now().await;
    }
    let elapsed = started.elapsed();
    tasks.abort_all();
    while tasks.join_next().await.is_some() {}
    println!(
        "throughput with {n} subscribers: {writes} writes in {:.2} s = {:.0} writes/s; {} diffs delivered, {} resyncs",
        elapsed.as_secs_f64(),
        writes as f64 / elapsed.as_secs_f64(),
        received.load(Ordering::Relaxed),
        resyncs.load(Ordering::Relaxed),
    );
    record(&Record::new(
        "Room scope: write throughput",
        format!("{n} subscribers attached"),
        "writes/s",
        Better::Higher,
        writes as f64 / elapsed.as_secs_f64(),
    ));
}

fn main() {
    // `--test` is what `scripts/bench --quick` passes to every bench (criterion's smoke mode).
    let quick = std::env::args().any(|a| a == "--quick" || a == "--test");
    let config = if quick {
        Config {
            fanout_subscribers: vec![1_000],
            fanout_writes: 5,
            throughput_subscribers: 100,
            throughput_for: Duration::from_millis(200),
        }
    } else {
        Config {
            fanout_subscribers: vec![1_000, 10_000],
            fanout_writes: 100,
            throughput_subscribers: 1_000,
            throughput_for: Duration::from_secs(3),
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    runtime.block_on(async {
        // A lost delivery would otherwise hang `scripts/bench` forever.
        tokio::time::timeout(Duration::from_secs(300), async {
            fanout(&config).await;
            throughput(&config).await;
        })
        .await
        .expect("the benchmark did not finish within 5 minutes");
    });
}
