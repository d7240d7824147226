//! Room fan-out benchmark: write → delivery latency to many in-process
//! subscribers, and write throughput with subscribers attached.
//!
//! ```text
//! cargo bench -p hyperstate --bench room            # 10,000 / 1,000 subscribers
//! cargo bench -p hyperstate --bench room -- --quick # a smoke run
//! ```
//!
//! Latency is measured per delivery: from just before `put` is called to when a
//! subscriber task has the diff in hand, over every subscriber and every write.
//! Writes are spaced (the next starts once every subscriber has the previous
//! one), so this is fan-out latency, not queueing under overload.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use hyperstate::memory::{DEFAULT_ROOM_MEMORY, MemoryRoomStore};
use hyperstate::room::{Acl, Principal, Rights, RoomEvent, RoomInit, RoomKey, RoomOptions, Rooms};
use tokio::sync::Notify;

struct Config {
    fanout_subscribers: usize,
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

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

async fn fanout(config: &Config) {
    let n = config.fanout_subscribers;
    let rooms = rooms();
    let room = rooms.room("bench-fanout").expect("valid key");
    let writer = Principal::app("writer");
    let epoch = Instant::now();
    // Nanoseconds since `epoch` at which the current write started.
    let sent_at = Arc::new(AtomicU64::new(0));
    let delivered = Arc::new(AtomicUsize::new(0));
    let all_delivered = Arc::new(Notify::new());
    let writes = config.fanout_writes;
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..n {
        let mut sub = room
            .attach(&Principal::app(format!("s{i}")), None)
            .await
            .expect("attach");
        let (sent_at, delivered, all) = (sent_at.clone(), delivered.clone(), all_delivered.clone());
        tasks.spawn(async move {
            let mut latencies = Vec::new();
            while let Some(Ok(event)) = sub.next().await {
                match event {
                    RoomEvent::Diff(_) => {
                        let now = epoch.elapsed().as_nanos() as u64;
                        let start = sent_at.load(Ordering::Acquire);
                        latencies.push(Duration::from_nanos(now.saturating_sub(start)));
                        if delivered.fetch_add(1, Ordering::AcqRel) + 1 == n {
                            all.notify_one();
                        }
                    }
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
    // Let every subscriber drain its snapshot and presence counts first.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let started = Instant::now();
    for i in 0..config.fanout_writes {
        delivered.store(0, Ordering::Release);
        sent_at.store(epoch.elapsed().as_nanos() as u64, Ordering::Release);
        room.put(&writer, "n", &i).await.expect("put");
        all_delivered.notified().await;
    }
    let elapsed = started.elapsed();
    let mut latencies: Vec<Duration> = Vec::new();
    while let Some(result) = tasks.join_next().await {
        if let Ok(mut l) = result {
            latencies.append(&mut l);
        }
    }
    latencies.sort_unstable();
    println!(
        "fan-out to {n} subscribers: {} writes, {} deliveries, p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms ({:.0} deliveries/s)",
        config.fanout_writes,
        latencies.len(),
        percentile(&latencies, 0.50).as_secs_f64() * 1e3,
        percentile(&latencies, 0.99).as_secs_f64() * 1e3,
        percentile(&latencies, 1.0).as_secs_f64() * 1e3,
        latencies.len() as f64 / elapsed.as_secs_f64(),
    );
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
}

fn main() {
    // `--test` is what `scripts/bench --quick` passes to every bench (criterion's smoke mode).
    let quick = std::env::args().any(|a| a == "--quick" || a == "--test");
    let config = if quick {
        Config {
            fanout_subscribers: 1_000,
            fanout_writes: 5,
            throughput_subscribers: 100,
            throughput_for: Duration::from_millis(200),
        }
    } else {
        Config {
            fanout_subscribers: 10_000,
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
