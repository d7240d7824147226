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
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle, PrometheusRecorder};

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

fn recorder() -> (PrometheusRecorder, PrometheusHandle) {
    let recorder = PrometheusBuilder::new().build_recorder();
    let handle = recorder.handle();
    (recorder, handle)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_page_updates_count_their_conflicts() {
    let Some(url) = redis_url() else {
        return;
    };
    let (recorder, handle) = recorder();
    let nodes = two_connections(&url).await;
    // The stores take their counter handles when built: build them under the
    // test's own recorder (the global one may belong to another test).
    let stores = metrics::with_local_recorder(&recorder, || {
        nodes.map(|redis| Arc::new(RedisPageStore::new(redis, PageOptions::default())))
    });
    let (browser, id) = (BrowserId::generate(), PageId::generate());
    let pages = stores.map(|store| Page::fresh(store, &browser, id));
    assert_eq!(conflicts(&handle, "page"), 0);
    race_until_a_conflict(&handle, "page", || async {
        let runs = pages.clone().map(|page| {
            tokio::spawn(async move {
                for _ in 0..EACH {
                    page.update("n", 0u32, |n| n + 1).await.unwrap();
                }
            })
        });
        for run in runs {
            run.await.unwrap();
        }
        pages[0].get("n", 0u32).await.unwrap()
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_room_updates_count_their_conflicts() {
    let Some(url) = redis_url() else {
        return;
    };
    let (recorder, handle) = recorder();
    let nodes = two_connections(&url).await;
    let stores = metrics::with_local_recorder(&recorder, || {
        nodes.map(|redis| Arc::new(RedisRoomStore::new(redis, RoomOptions::default())))
    });
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
        let runs = rooms.clone().map(|room| {
            let who = who.clone();
            tokio::spawn(async move {
                for _ in 0..EACH {
                    room.update(&who, "n", 0u32, |n| n + 1).await.unwrap();
                }
            })
        });
        for run in runs {
            run.await.unwrap();
        }
        rooms[0].get(&who, "n", 0u32).await.unwrap()
    })
    .await;
}
