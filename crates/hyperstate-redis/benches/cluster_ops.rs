//! Redis Cluster: page operations per second through the cluster client,
//! beside `redis-benchmark --cluster` GET/SET at the same concurrency against
//! the same cluster in the same run; and cluster-bus messages per room diff
//! (`CLUSTER INFO` `cluster_stats_messages_publish*_sent`, summed over every
//! primary, before and after a run of diffs on rooms spread over every shard).
//!
//! Run: `HYPERSTATE_REDIS_CLUSTER_URL=redis://127.0.0.1:7000 cargo bench -p
//! hyperstate-redis --bench cluster_ops` (`scripts/bench` starts a private
//! cluster and sets it). `-- --quick` (or `--test`) runs a small count.

#![allow(missing_docs)]

mod reference;
mod support;

use std::sync::Arc;
use std::time::Instant;

use hyperstate::page::{Page, PageOptions, PageStore};
use hyperstate::room::{Acl, Principal, Rights, RoomInit, RoomKey, RoomOptions, Rooms};
use hyperstate::{BrowserId, PageId};
use hyperstate_bench_report::{Better, Record, record};
use hyperstate_conformance::redis_cluster;
use hyperstate_redis::{Redis, RedisOptions, RedisPageStore, RedisRoomStore};

const CONCURRENCY: usize = 50;

/// `ops` page operations of kind `op` from `CONCURRENCY` tasks, each on its
/// own page (seeded before the clock starts, so pages spread over the slots).
async fn page_rate(store: &Arc<dyn PageStore>, op: &'static str, ops: usize) -> f64 {
    let per_task = ops / CONCURRENCY;
    let mut pages = Vec::new();
    for _ in 0..CONCURRENCY {
        let page = Page::fresh(store.clone(), &BrowserId::generate(), PageId::generate());
        page.put("n", &0u64).await.unwrap();
        pages.push(page);
    }
    let start = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for page in pages {
        tasks.spawn(async move {
            for i in 0..per_task {
                match op {
                    "get" => drop(page.get_or("n", 0u64).await.unwrap()),
                    _ => page.put("n", &(i as u64)).await.unwrap(),
                }
            }
        });
    }
    while let Some(task) = tasks.join_next().await {
        task.unwrap();
    }
    (per_task * CONCURRENCY) as f64 / start.elapsed().as_secs_f64()
}

/// Cluster-bus pub/sub messages sent by every primary so far.
async fn bus_messages(seed: &str) -> u64 {
    redis_cluster::bus_counter(seed, "cluster_stats_messages_publish_sent").await
        + redis_cluster::bus_counter(seed, "cluster_stats_messages_publishshard_sent").await
}

/// Cluster-bus messages per room diff, over `diffs` writes to one room per
/// shard, each with a client attached on another node.
async fn bus_messages_per_diff(seed: &str, diffs: usize) -> f64 {
    let node = async || {
        let redis = Redis::connect(seed, RedisOptions::default()).await.unwrap();
        let store = RedisRoomStore::new(redis, RoomOptions::default());
        Rooms::new(Arc::new(store), |_: &RoomKey| {
            Ok(RoomInit::new().acl(Acl::new(Rights::ALL, Rights::ALL)))
        })
    };
    let (a, b) = (node().await, node().await);
    let prefix = format!("bench-bus-{}", BrowserId::generate());
    let rooms = redis_cluster::rooms_on_every_shard(seed, &prefix).await;
    let who = Principal::app("bench");
    let mut subs = Vec::new();
    for name in &rooms {
        subs.push(b.room(name).unwrap().attach(&who, None).await.unwrap());
    }
    let before = bus_messages(seed).await;
    for i in 0..diffs {
        let room = a.room(&rooms[i % rooms.len()]).unwrap();
        room.put(&who, "n", &i).await.unwrap();
    }
    let after = bus_messages(seed).await;
    (after - before) as f64 / diffs as f64
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let Some(seed) = hyperstate_conformance::services::redis_cluster_url() else {
        return;
    };
    let quick = support::quick();
    let ops = if quick { 2_000 } else { 100_000 };
    let redis = Redis::connect(&seed, RedisOptions::default())
        .await
        .unwrap();
    assert!(redis.is_cluster(), "{seed} is not a Redis Cluster");
    let store: Arc<dyn PageStore> = Arc::new(RedisPageStore::new(redis, PageOptions::default()));

    println!("concurrency {CONCURRENCY}, {ops} operations each, on the cluster at {seed}");
    let reference = reference::redis_benchmark(&seed, CONCURRENCY, ops, true);
    for (name, rps) in &reference {
        println!("redis-benchmark --cluster {name}: {rps:.0} req/s");
    }
    for op in ["get", "put"] {
        let rate = page_rate(&store, op, ops).await;
        let versus = if op == "get" { "GET" } else { "SET" };
        let reference_rate = reference.get(versus).copied().unwrap_or(f64::NAN);
        println!("page {op}: {rate:.0} ops/s");
        record(
            &Record::new(
                format!("Page scope on a 3-primary Redis Cluster: ops/s, {CONCURRENCY} concurrent"),
                op,
                "ops/s",
                Better::Higher,
                rate,
            )
            .reference(
                format!("redis-benchmark --cluster {versus}"),
                reference_rate,
            )
            .target("≥ 60%"),
        );
    }
    let diffs = if quick { 30 } else { 3_000 };
    let per_diff = bus_messages_per_diff(&seed, diffs).await;
    println!("cluster-bus messages per room diff: {per_diff:.2} over {diffs} diffs");
    record(
        &Record::new(
            "Room scope on a 3-primary Redis Cluster: cluster-bus messages per diff",
            format!("{diffs} diffs, rooms on every shard, no replicas"),
            "messages/diff",
            Better::Lower,
            per_diff,
        )
        .target("0"),
    );
}
