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
//! Redis and the local fan-out, not queueing under overload.
//!
//! A second comparison loads node B with many other attached rooms (20,000 in a
//! full run), whose leases B must keep refreshing, and measures the same
//! delivery with writes paced to span several refresh rounds; its reference is
//! the same run with 10 rooms attached: delivery must not grow with the rooms.
//!
//! The reference of the first, measured in the same run: the same delivery over bare Redis
//! pub/sub (`PUBLISH` of the JSON-encoded value from A's connection, one
//! subscribed connection on B handing it to the subscriber tasks through a
//! `tokio::sync::broadcast`), what any cross-node fan-out over Redis costs
//! before scripts, versions, ACLs and resync exist. Figures are recorded
//! through `hyperstate-bench-report`.

#![allow(missing_docs)]

mod support;

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use hyperstate::room::{Acl, Principal, Rights, RoomEvent, RoomInit, RoomKey, RoomOptions, Rooms};
use hyperstate_bench_report::{Better, Deliveries, Record, percentile, record};
use hyperstate_redis::{Redis, RedisOptions, RedisRoomStore};
use redis::AsyncCommands;
use tokio::sync::broadcast;

/// One app node: its own Redis connections and room registry.
async fn node(url: &str) -> Rooms {
    node_with(url, RedisOptions::default()).await
}

async fn node_with(url: &str, options: RedisOptions) -> Rooms {
    let redis = Redis::connect(url, options)
        .await
        .expect("connecting to Redis");
    let store = RedisRoomStore::new(redis, RoomOptions::default());
    Rooms::new(Arc::new(store), |_: &RoomKey| {
        Ok(RoomInit::new().acl(Acl::new(Rights::ALL, Rights::ALL)))
    })
}

/// A name no earlier run on the same server used (rooms outlive a run in
/// Redis until their idle TTL).
fn fresh(kind: &str, subscribers: usize) -> String {
    format!(
        "bench-cross-node-{kind}-{}-{subscribers}",
        std::process::id()
    )
}

/// `writes` spaced `put`s on node A to a room with `subscribers` attached on
/// node B; every delivery's latency, sorted.
async fn through_rooms(url: &str, subscribers: usize, writes: usize) -> Vec<Duration> {
    let (a, b) = (node(url).await, node(url).await);
    through_rooms_on(&a, &b, subscribers, writes, Duration::ZERO).await
}

/// [`through_rooms`] on the given nodes, each write followed by a `pause`.
async fn through_rooms_on(
    a: &Rooms,
    b: &Rooms,
    subscribers: usize,
    writes: usize,
    pause: Duration,
) -> Vec<Duration> {
    let name = fresh("room", subscribers);
    let room_on_a = a.room(&name).expect("valid room name");
    let room_on_b = b.room(&name).expect("valid room name");
    let deliveries = Deliveries::new(subscribers);
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..subscribers {
        let mut sub = room_on_b
            .attach(&Principal::app(format!("s{i}")), None)
            .await
            .expect("attach on B");
        let deliveries = deliveries.clone();
        tasks.spawn(async move {
            let mut latencies = Vec::with_capacity(writes);
            let mut seen = 0;
            while seen < writes {
                match sub.next().await {
                    Some(Ok(RoomEvent::Diff(_))) => latencies.push(deliveries.arrived()),
                    // A lost pub/sub message: the write arrived, as a snapshot.
                    Some(Ok(RoomEvent::Resync(_))) => {
                        eprintln!("a subscriber resynced");
                        deliveries.counted();
                    }
                    Some(Ok(_)) => continue,
                    Some(Err(_)) | None => break,
                }
                seen += 1;
            }
            latencies
        });
    }
    let writer = Principal::app("writer");
    let write = |i: usize| {
        let (room, writer) = (room_on_a.clone(), writer.clone());
        async move {
            room.put(&writer, "n", &i).await.expect("put on A");
            // After the write, so the pause is not part of its latency.
            tokio::time::sleep(pause).await;
        }
    };
    deliveries.run(writes, write, tasks).await
}

/// One delivery at a time from node A to one subscriber on node B while B has
/// `rooms` other rooms attached; every delivery's latency, sorted. Writes are
/// paced to span `span`, so B refreshes its leases during the measurement.
async fn with_rooms_attached(
    url: &str,
    rooms: usize,
    writes: usize,
    span: Duration,
) -> Vec<Duration> {
    // A key prefix of its own, so these rooms count against no one else's
    // `max_rooms` and leave when their idle TTL ends.
    let options =
        RedisOptions::default().key_prefix(format!("bench-load-{}-{rooms}:", std::process::id()));
    let (a, b) = (
        node_with(url, options.clone()).await,
        node_with(url, options).await,
    );
    let who = Principal::app("idle");
    let attached: Vec<_> = futures_util::stream::iter(0..rooms)
        .map(|i| {
            let room = b.room(&format!("idle-{i}")).expect("valid room name");
            let who = who.clone();
            async move { room.attach(&who, None).await.expect("attach on B") }
        })
        .buffer_unordered(64)
        .collect()
        .await;
    let latencies = through_rooms_on(&a, &b, 1, writes, span / writes as u32).await;
    drop(attached);
    latencies
}

/// The reference: `writes` spaced `PUBLISH`es from one connection, read by one
/// subscribed connection and fanned out to `subscribers` tasks.
async fn through_bare_pubsub(url: &str, subscribers: usize, writes: usize) -> Vec<Duration> {
    let channel = fresh("bare", subscribers);
    let client = redis::Client::open(url).expect("a Redis client");
    let publisher = client
        .get_multiplexed_async_connection()
        .await
        .expect("connecting the publisher");
    let mut pubsub = redis::Client::open(url)
        .expect("a Redis client")
        .get_async_pubsub()
        .await
        .expect("connecting the subscriber");
    pubsub.subscribe(&channel).await.expect("subscribing");
    let (sender, _) = broadcast::channel::<Arc<Vec<u8>>>(RoomOptions::default().channel_capacity);
    let deliveries = Deliveries::new(subscribers);
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..subscribers {
        let (mut receiver, deliveries) = (sender.subscribe(), deliveries.clone());
        tasks.spawn(async move {
            let mut latencies = Vec::with_capacity(writes);
            while latencies.len() < writes {
                match receiver.recv().await {
                    Ok(_) => latencies.push(deliveries.arrived()),
                    Err(broadcast::error::RecvError::Lagged(_)) => deliveries.counted(),
                    Err(broadcast::error::RecvError::Closed) => break,
                }
            }
            latencies
        });
    }
    let pump = tokio::spawn(async move {
        let mut messages = pubsub.on_message();
        while let Some(message) = messages.next().await {
            let _ = sender.send(Arc::new(message.get_payload_bytes().to_vec()));
        }
    });
    let write = |i: usize| {
        let (mut publisher, channel) = (publisher.clone(), channel.clone());
        async move {
            let value = serde_json::to_vec(&i).expect("encodes");
            let _: usize = publisher.publish(channel, value).await.expect("publish");
        }
    };
    let latencies = deliveries.run(writes, write, tasks).await;
    pump.abort();
    latencies
}

/// Delivery p50/p99 with many rooms attached on node B, against 10 rooms.
async fn many_rooms_attached(url: &str) {
    // Writes span more than a lease refresh period (10 s) in a full run.
    let (many, writes, span) = if support::quick() {
        (200, 5, Duration::ZERO)
    } else {
        (20_000, 1_000, Duration::from_secs(15))
    };
    let ours = with_rooms_attached(url, many, writes, span).await;
    let reference = with_rooms_attached(url, 10, writes, span).await;
    let ms = |sorted: &[Duration], p: f64| percentile(sorted, p).as_secs_f64() * 1e3;
    println!(
        "{many} rooms attached on node B: {writes} writes on node A, max {:.2} ms (10 rooms: max {:.2} ms)",
        ms(&ours, 1.0),
        ms(&reference, 1.0),
    );
    for (quantile, p) in [("p50", 0.5), ("p99", 0.99)] {
        let mut row = Record::new(
            "Room scope: delivery across nodes on Redis, with many rooms attached",
            format!("{quantile}, 1 subscriber, {many} rooms attached on node B"),
            "ms",
            Better::Lower,
            ms(&ours, p),
        )
        .reference("10 rooms attached", ms(&reference, p));
        if quantile == "p99" {
            row = row.target("< 10 ms");
        }
        record(&row);
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let Some(url) = hyperstate_conformance::services::redis_url() else {
        return;
    };
    many_rooms_attached(&url).await;
    let cases: &[(usize, usize)] = if support::quick() {
        &[(1, 5), (10, 5)]
    } else {
        &[(1, 1_000), (1_000, 200)]
    };
    for &(subscribers, writes) in cases {
        let ours = through_rooms(&url, subscribers, writes).await;
        let reference = through_bare_pubsub(&url, subscribers, writes).await;
        let ms = |sorted: &[Duration], p: f64| percentile(sorted, p).as_secs_f64() * 1e3;
        let on_b = if subscribers == 1 {
            "1 subscriber on node B".to_owned()
        } else {
            format!("{subscribers} subscribers on node B")
        };
        println!(
            "{on_b}: {writes} writes on node A, {} deliveries, max {:.2} ms (bare pub/sub max {:.2} ms)",
            ours.len(),
            ms(&ours, 1.0),
            ms(&reference, 1.0),
        );
        for (quantile, p) in [("p50", 0.5), ("p99", 0.99)] {
            record(
                &Record::new(
                    "Room scope: delivery latency across nodes on Redis",
                    format!("{quantile}, {on_b}"),
                    "ms",
                    Better::Lower,
                    ms(&ours, p),
                )
                .reference("bare Redis pub/sub", ms(&reference, p)),
            );
        }
    }
}
