//! Room delivery latency across nodes on PostgreSQL: a write on node A, the
//! diff in the hands of subscribers attached on node B.
//!
//! ```text
//! HYPERSTATE_POSTGRES_URL=postgres://... cargo bench -p hyperstate-postgres --bench room_cross_node
//! cargo bench -p hyperstate-postgres --bench room_cross_node -- --quick   # a smoke run
//! ```
//!
//! The two nodes live in one process but share nothing but PostgreSQL: each has
//! its own pool, `PgRoomStore` (so its own listening connection) and `Rooms`
//! registry, as two app servers would. Latency is measured per delivery, from
//! just before `put` is called on A to when a subscriber task on B has the diff,
//! over every subscriber and every write. Writes are spaced (the next starts
//! once every subscriber has the previous one).
//!
//! The reference, measured in the same run: the same delivery over a bare
//! `NOTIFY`/`LISTEN` round trip (`SELECT pg_notify` of the JSON-encoded value on
//! A's pool, one listening connection on B handing it to the subscriber tasks
//! through a `tokio::sync::broadcast`): what any cross-node fan-out through
//! PostgreSQL costs before row locks, versions, the diff log and ACLs exist.

#![allow(missing_docs)]

mod support;

use std::sync::Arc;
use std::time::Duration;

use hyperstate::room::{Acl, Principal, Rights, RoomEvent, RoomInit, RoomKey, RoomOptions, Rooms};
use hyperstate_bench_report::{Better, Deliveries, Record, percentile, record};
use hyperstate_postgres::{PgRoomStore, Postgres, PostgresOptions};
use sqlx::postgres::PgListener;
use tokio::sync::broadcast;

/// One app node: its own pool and room registry.
async fn node(url: &str) -> Rooms {
    let db = Postgres::connect(url, PostgresOptions::default().max_connections(4))
        .await
        .expect("connecting to PostgreSQL");
    let store = PgRoomStore::new(db, RoomOptions::default());
    Rooms::new(Arc::new(store), |_: &RoomKey| {
        Ok(RoomInit::new().acl(Acl::new(Rights::ALL, Rights::ALL)))
    })
}

fn fresh(kind: &str, subscribers: usize) -> String {
    format!(
        "bench_cross_node_{kind}_{}_{subscribers}",
        std::process::id()
    )
}

/// `writes` spaced `put`s on node A to a room with `subscribers` attached on
/// node B; every delivery's latency, sorted.
async fn through_rooms(url: &str, subscribers: usize, writes: usize) -> Vec<Duration> {
    let (a, b) = (node(url).await, node(url).await);
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
        }
    };
    deliveries.run(writes, write, tasks).await
}

/// The reference: `writes` spaced NOTIFYs from A's pool, read by one listening
/// connection and fanned out to `subscribers` tasks.
async fn through_bare_notify(url: &str, subscribers: usize, writes: usize) -> Vec<Duration> {
    let channel = fresh("bare", subscribers);
    let publisher = sqlx::PgPool::connect(url)
        .await
        .expect("connecting the publisher");
    let mut listener = PgListener::connect(url)
        .await
        .expect("connecting the listener");
    listener.listen(&channel).await.expect("listening");
    let (sender, _) = broadcast::channel::<Arc<String>>(RoomOptions::default().channel_capacity);
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
        while let Ok(notification) = listener.recv().await {
            let _ = sender.send(Arc::new(notification.payload().to_owned()));
        }
    });
    let write = |i: usize| {
        let (publisher, channel) = (publisher.clone(), channel.clone());
        async move {
            sqlx::query("SELECT pg_notify($1, $2)")
                .bind(channel)
                .bind(serde_json::to_string(&i).expect("encodes"))
                .execute(&publisher)
                .await
                .expect("notify");
        }
    };
    let latencies = deliveries.run(writes, write, tasks).await;
    pump.abort();
    latencies
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let Some(url) = hyperstate_conformance::services::postgres_url() else {
        return;
    };
    let cases: &[(usize, usize)] = if support::quick() {
        &[(1, 5), (10, 5)]
    } else {
        &[(1, 1_000), (1_000, 200)]
    };
    for &(subscribers, writes) in cases {
        let ours = through_rooms(&url, subscribers, writes).await;
        let reference = through_bare_notify(&url, subscribers, writes).await;
        let ms = |sorted: &[Duration], p: f64| percentile(sorted, p).as_secs_f64() * 1e3;
        let on_b = if subscribers == 1 {
            "1 subscriber on node B".to_owned()
        } else {
            format!("{subscribers} subscribers on node B")
        };
        println!(
            "{on_b}: {writes} writes on node A, {} deliveries, max {:.2} ms (bare NOTIFY max {:.2} ms)",
            ours.len(),
            ms(&ours, 1.0),
            ms(&reference, 1.0),
        );
        for (quantile, p) in [("p50", 0.5), ("p99", 0.99)] {
            record(
                &Record::new(
                    "Room scope: delivery latency across nodes on PostgreSQL",
                    format!("{quantile}, {on_b}"),
                    "ms",
                    Better::Lower,
                    ms(&ours, p),
                )
                .reference("bare NOTIFY/LISTEN", ms(&reference, p)),
            );
        }
    }
}
