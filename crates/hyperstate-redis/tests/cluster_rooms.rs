//! Rooms and pages on a real 3-primary Redis Cluster, beyond the conformance
//! suite: diffs cross nodes on every shard over sharded pub/sub without
//! touching the cluster bus, scripts survive a `SCRIPT FLUSH` (what a failover
//! or a new primary looks like to `EVALSHA`), and health reflects the cluster.
//!
//! The cluster comes from `HYPERSTATE_REDIS_CLUSTER_URL`
//! (scripts/services/redis_cluster.sh); without it the tests skip loudly,
//! except under `CI=true`.

use std::sync::Arc;
use std::time::Duration;

use hyperstate::page::{Page, PageOptions, PageStore};
use hyperstate::room::{Acl, Principal, Rights, RoomEvent, RoomInit, RoomKey, RoomOptions, Rooms};
use hyperstate::{BrowserId, PageId};
use hyperstate_conformance::redis_cluster as cluster;
use hyperstate_conformance::services::redis_cluster_url;
use hyperstate_redis::{Redis, RedisOptions, RedisPageStore, RedisRoomStore};

/// How long one diff may take to arrive before the test gives up (a bound on
/// the test, not a timing assertion).
const PATIENCE: Duration = Duration::from_secs(10);

async fn connect(url: &str) -> Redis {
    let redis = Redis::connect(url, RedisOptions::default())
        .await
        .expect("connecting to the cluster");
    assert!(redis.is_cluster());
    redis
}

/// One app node: its own connections, room store and pub/sub.
async fn node(url: &str) -> Rooms {
    let store = RedisRoomStore::new(connect(url).await, RoomOptions::default());
    Rooms::new(Arc::new(store), |_: &RoomKey| {
        Ok(RoomInit::new().acl(Acl::new(Rights::ALL, Rights::ALL)))
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn diffs_cross_nodes_on_every_shard_without_cluster_bus_messages() {
    let Some(url) = redis_cluster_url() else {
        return;
    };
    let (a, b) = (node(&url).await, node(&url).await);
    let names =
        cluster::rooms_on_every_shard(&url, &format!("bus-{}", BrowserId::generate())).await;
    assert_eq!(names.len(), 3, "the test cluster has three primaries");
    let who = Principal::app("tester");
    let mut subs = Vec::new();
    for name in &names {
        subs.push(b.room(name).unwrap().attach(&who, None).await.unwrap());
    }
    let before = cluster::bus_counter(&url, "cluster_stats_messages_publish_sent").await;
    const WRITES: u64 = 10;
    for (name, sub) in names.iter().zip(&mut subs) {
        let room = a.room(name).unwrap();
        for i in 0..WRITES {
            room.put(&who, "n", &i).await.unwrap();
        }
        let mut seen = 0;
        while seen < WRITES {
            match tokio::time::timeout(PATIENCE, sub.next()).await {
                Ok(Some(Ok(RoomEvent::Diff(_)))) => seen += 1,
                Ok(Some(Ok(RoomEvent::Resync(_)))) => panic!("room {name}: a diff was lost"),
                Ok(Some(Ok(_))) => {}
                other => panic!("room {name}: no diff from node A on node B: {other:?}"),
            }
        }
    }
    let after = cluster::bus_counter(&url, "cluster_stats_messages_publish_sent").await;
    assert_eq!(
        after - before,
        0,
        "room diffs must not be broadcast over the cluster bus (plain PUBLISH)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scripts_are_loaded_again_after_the_nodes_forget_them() {
    let Some(url) = redis_cluster_url() else {
        return;
    };
    let redis = connect(&url).await;
    let store: Arc<dyn PageStore> = Arc::new(RedisPageStore::new(redis, PageOptions::default()));
    let rooms = node(&url).await;
    let who = Principal::app("tester");
    let page = Page::fresh(store, &BrowserId::generate(), PageId::generate());
    let room = rooms
        .room(&format!("flush-{}", BrowserId::generate()))
        .unwrap();
    page.put("k", &1).await.unwrap();
    room.put(&who, "k", &1).await.unwrap();
    for primary in cluster::primaries(&url).await {
        let _: String = redis::cmd("SCRIPT")
            .arg("FLUSH")
            .query_async(&mut cluster::plain(&primary.url).await)
            .await
            .unwrap();
    }
    page.put("k", &2)
        .await
        .expect("a page write after SCRIPT FLUSH");
    room.put(&who, "k", &2)
        .await
        .expect("a room write after SCRIPT FLUSH");
    assert_eq!(page.get_or("k", 0).await.unwrap(), 2);
    assert_eq!(room.get_or(&who, "k", 0).await.unwrap(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_asks_every_primary() {
    let Some(url) = redis_cluster_url() else {
        return;
    };
    connect(&url).await.ping().await.expect("a healthy cluster");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_comma_separated_seed_list_connects_to_the_cluster() {
    let Some(url) = redis_cluster_url() else {
        return;
    };
    let seeds: Vec<String> = cluster::primaries(&url)
        .await
        .into_iter()
        .map(|p| p.url)
        .collect();
    let redis = connect(&seeds.join(",")).await;
    redis.ping().await.expect("a healthy cluster");
}
