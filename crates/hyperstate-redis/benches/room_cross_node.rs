//! Room delivery latency across nodes on Redis: a write on node A, the diff in
//! the hands of subscribers attached on node B.
//!
//! ```text
//! HYPERSTATE_REDIS_URL=redis://127.0.0.1:6379 cargo bench -p hyperstate-redis --bench room_cross_node
//! cargo bench -p hyperstate-redis --bench room_cross_node -- --quick   # a smoke run
//! ```
//!
//! The two nodes live in one process but share nothing but Redis: each has its
//! own connections, `RedisRoomStore` (so its own pub/sub hub) and `Rooms`
//! registry, as two app servers would. Latency is measured per delivery, from
//! just before `put` is called on A to when a subscriber task on B has the diff,
//! over every subscriber and every write. Writes are spaced (the next starts
//! once every subscriber has the previous one), so this is the path through
//! Redis pub/sub and the local fan-out, not queueing under overload.
//!
//! With `HYPERSTATE_BENCH_RESULTS` set, each figure is also appended to that
//! file as one JSON object per line.

#![allow(missing_docs)]

mod support;

use std::io::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use hyperstate::room::{Acl, Principal, Rights, RoomEvent, RoomInit, RoomKey, RoomOptions, Rooms};
use hyperstate_redis::{Redis, RedisOptions, RedisRoomStore};
use tokio::sync::Notify;

const BENCH: &str = "room_cross_node";
/// How long one write may take to reach every subscriber before the run fails
/// (a lost delivery would otherwise hang `scripts/bench`).
const DELIVERY_BOUND: Duration = Duration::from_secs(30);

/// One app node: its own Redis connections and room registry.
async fn node(url: &str) -> Rooms {
    let redis = Redis::connect(url, RedisOptions::default())
        .await
        .expect("connecting to Redis");
    let store = RedisRoomStore::new(redis, RoomOptions::default());
    Rooms::new(Arc::new(store), |_: &RoomKey| {
        Ok(RoomInit::new().acl(Acl::new(Rights::ALL, Rights::ALL)))
    })
}

/// The value at quantile `q` (0..=1) of sorted `latencies`.
fn quantile(sorted: &[Duration], q: f64) -> Duration {
    let last = sorted.len().saturating_sub(1);
    let rank = ((last as f64) * q).round() as usize;
    sorted.get(rank.min(last)).copied().unwrap_or_default()
}

/// Appends one figure to the file named by `HYPERSTATE_BENCH_RESULTS`, if set.
/// (Kept to one function so a shared results helper can replace it.)
fn record(case: &str, metric: &str, value: f64, unit: &str) {
    let Ok(path) = std::env::var("HYPERSTATE_BENCH_RESULTS") else {
        return;
    };
    let line = serde_json::json!({
        "bench": BENCH, "case": case, "metric": metric, "value": value, "unit": unit,
    });
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .unwrap_or_else(|err| panic!("opening {path}: {err}"));
    writeln!(file, "{line}").unwrap_or_else(|err| panic!("writing {path}: {err}"));
}

/// `writes` spaced writes on A to a room with `subscribers` attached on B;
/// returns every delivery's latency, sorted.
async fn run(url: &str, subscribers: usize, writes: usize) -> Vec<Duration> {
    let (a, b) = (node(url).await, node(url).await);
    // A fresh room per run: rooms outlive a run in Redis until their idle TTL.
    let name = format!("bench-cross-node-{}-{subscribers}", std::process::id());
    let writer_room = a.room(&name).expect("valid room name");
    let reader_room = b.room(&name).expect("valid room name");
    let epoch = Instant::now();
    // Nanoseconds since `epoch` at which the current write started.
    let sent_at = Arc::new(AtomicU64::new(0));
    let delivered = Arc::new(AtomicUsize::new(0));
    let all_delivered = Arc::new(Notify::new());
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..subscribers {
        let mut sub = reader_room
            .attach(&Principal::app(format!("s{i}")), None)
            .await
            .expect("attach on B");
        let (sent_at, delivered, all) = (sent_at.clone(), delivered.clone(), all_delivered.clone());
        tasks.spawn(async move {
            let mut latencies = Vec::with_capacity(writes);
            let mut seen = 0;
            while seen < writes {
                let Some(Ok(event)) = sub.next().await else {
                    break;
                };
                match event {
                    RoomEvent::Diff(_) => {
                        let now = epoch.elapsed().as_nanos() as u64;
                        let start = sent_at.load(Ordering::Acquire);
                        latencies.push(Duration::from_nanos(now.saturating_sub(start)));
                    }
                    // A lost pub/sub message: the write arrived, but as a snapshot.
                    RoomEvent::Resync(_) => eprintln!("a subscriber resynced"),
                    _ => continue,
                }
                seen += 1;
                if delivered.fetch_add(1, Ordering::AcqRel) + 1 == subscribers {
                    all.notify_one();
                }
            }
            latencies
        });
    }
    // Let every subscriber drain its snapshot and the presence counts first.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let writer = Principal::app("writer");
    for i in 0..writes {
        delivered.store(0, Ordering::Release);
        sent_at.store(epoch.elapsed().as_nanos() as u64, Ordering::Release);
        writer_room.put(&writer, "n", &i).await.expect("put on A");
        tokio::time::timeout(DELIVERY_BOUND, all_delivered.notified())
            .await
            .unwrap_or_else(|_| panic!("write {i} did not reach every subscriber on B"));
    }
    let mut latencies = Vec::with_capacity(subscribers * writes);
    while let Some(result) = tasks.join_next().await {
        latencies.append(&mut result.expect("a subscriber task"));
    }
    latencies.sort_unstable();
    latencies
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let Some(url) = support::redis_url() else {
        return;
    };
    let quick = support::quick();
    let cases: &[(usize, usize)] = if quick {
        &[(1, 5), (10, 5)]
    } else {
        &[(1, 1_000), (1_000, 200)]
    };
    for &(subscribers, writes) in cases {
        let latencies = run(&url, subscribers, writes).await;
        let ms = |q| quantile(&latencies, q).as_secs_f64() * 1e3;
        let (p50, p99, max) = (ms(0.50), ms(0.99), ms(1.0));
        let case = if subscribers == 1 {
            "1 subscriber on node B".to_owned()
        } else {
            format!("{subscribers} subscribers on node B")
        };
        println!(
            "{case}: {writes} writes on node A, {} deliveries, p50 {p50:.2} ms, p99 {p99:.2} ms, max {max:.2} ms",
            latencies.len()
        );
        record(&case, "p50", p50, "ms");
        record(&case, "p99", p99, "ms");
    }
}
