//! `hyperstate_cas_conflicts_total` counts the compare-and-set races Redis
//! page and room updates lose: two stores on separate connections (two nodes)
//! update one key at once until some update has had to retry, and every
//! update still lands exactly once.
//!
//! Redis comes from `HYPERSTATE_REDIS_URL`; without it the test skips loudly,
//! except under `CI=true`, where it fails.

use std::future::Future;
use std::sync::Arc;

use hyperstate::page::{Page, PageOptions};
use hyperstate::room::{Principal, RoomInit, RoomKey, RoomOptions, Rooms};
use hyperstate::{BrowserId, PageId};
use hyperstate_conformance::services::redis_url;
use hyperstate_redis::{Redis, RedisPageStore, RedisRoomStore};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

/// Rounds of concurrent updates before giving up on seeing a conflict.
const ROUNDS: u32 = 20;
/// Updates each node makes per round.
const EACH: u32 = 25;

async fn two_connections(url: &str) -> [Redis; 2] {
    let connect = || Redis::connect(url, Default::default());
    [connect().await.unwrap(), connect().await.unwrap()]
}

fn conflicts(handle: &PrometheusHandle, scope: &str) -> u64 {
    let series = format!(r#"hyperstate_cas_conflicts_total{{scope="{scope}",backend="redis"}}"#);
    handle
        .render()
        .lines()
        .find_map(|line| line.strip_prefix(series.as_str())?.trim().parse().ok())
        .unwrap_or_else(|| panic!("{series} is not registered"))
}

/// Runs `round` (both nodes updating at once, returning the counter after
/// it) until `scope` shows a conflict; the counter must equal the updates.
async fn race_until_a_conflict<F, Fut>(handle: &PrometheusHandle, scope: &str, round: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = u32>,
{
    for n in 1..=ROUNDS {
        let count = round().await;
        assert_eq!(
            count,
            n * 2 * EACH,
            "{scope}: an update was lost or doubled"
        );
        if conflicts(handle, scope) > 0 {
            return;
        }
    }
    panic!("{scope}: no conflict counted in {ROUNDS} rounds of racing updates");
}

/// Runs `work` on both nodes at once and waits for both.
async fn on_both<T, Fut>(nodes: [T; 2], work: impl Fn(T) -> Fut)
where
    Fut: Future<Output = ()> + Send + 'static,
{
    let runs = nodes.map(|node| tokio::spawn(work(node)));
    for run in runs {
        run.await.unwrap();
    }
}

/// Two stores on separate connections (two nodes), built by `build` under a
/// recorder of this test's own (the global one may belong to another test;
/// stores take their counter handles when built). `None` without Redis.
async fn two_nodes<S>(build: impl FnMut(Redis) -> S) -> Option<(PrometheusHandle, [S; 2])> {
    let url = redis_url()?;
    let recorder = PrometheusBuilder::new().build_recorder();
    let handle = recorder.handle();
    let connections = two_connections(&url).await;
    let stores = metrics::with_local_recorder(&recorder, || connections.map(build));
    Some((handle, stores))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_page_updates_count_their_conflicts() {
    let Some((handle, stores)) =
        two_nodes(|redis| Arc::new(RedisPageStore::new(redis, PageOptions::default()))).await
    else {
        return;
    };
    let (browser, id) = (BrowserId::generate(), PageId::generate());
    let pages = stores.map(|store| Page::fresh(store, &browser, id));
    assert_eq!(conflicts(&handle, "page"), 0);
    race_until_a_conflict(&handle, "page", || async {
        on_both(pages.clone(), |page| async move {
            for _ in 0..EACH {
                page.update_or("n", 0u32, |n| n + 1).await.unwrap();
            }
        })
        .await;
        pages[0].get_or("n", 0u32).await.unwrap()
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_room_updates_count_their_conflicts() {
    let Some((handle, stores)) =
        two_nodes(|redis| Arc::new(RedisRoomStore::new(redis, RoomOptions::default()))).await
    else {
        return;
    };
    let name = format!("cas-{}", BrowserId::generate());
    let rooms = stores.map(|store| {
        Rooms::new(store, |_: &RoomKey| Ok(RoomInit::new()))
            .room(&name)
            .unwrap()
    });
    let who = Principal::app("counter");
    rooms[0].join(&who).await.unwrap();
    assert_eq!(conflicts(&handle, "room"), 0);
    race_until_a_conflict(&handle, "room", || async {
        on_both(rooms.clone(), |room| {
            let who = who.clone();
            async move {
                for _ in 0..EACH {
                    room.update_or(&who, "n", 0u32, |n| n + 1).await.unwrap();
                }
            }
        })
        .await;
        rooms[0].get_or(&who, "n", 0u32).await.unwrap()
    })
    .await;
}
