//! Redis stopped and restarted under load: operations fail with a typed backend
//! error while it is down (never hang, never panic) and work again once it is
//! back, on the same store, without restarting anything; room subscribers hear
//! changes again without anyone attaching (the pub/sub hub reconnects itself).
//!
//! The test runs its own `redis-server` (it must control it): see `private_redis`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hyperstate::page::{Page, PageOptions, PageStore};
use hyperstate::room::{Acl, Principal, Rights, RoomEvent, RoomInit, RoomKey, RoomOptions, Rooms};
use hyperstate::{BrowserId, Error, PageId};
use hyperstate_redis::{Redis, RedisOptions, RedisPageStore, RedisRoomStore};

mod private_redis;
use private_redis::Server;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn survives_a_redis_restart_under_load() {
    let Some((server, port, url)) = Server::start_private(&[]).await else {
        return;
    };
    let redis = Redis::connect(&url, RedisOptions::default()).await.unwrap();
    let store: Arc<dyn PageStore> = Arc::new(RedisPageStore::new(redis, PageOptions::default()));

    // Load: eight tasks updating counters on their own pages as fast as they can.
    let ok = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut load = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let (store, ok, failed, stop) = (store.clone(), ok.clone(), failed.clone(), stop.clone());
        load.spawn(async move {
            let page = Page::open(store, &BrowserId::generate(), PageId::generate())
                .await
                .unwrap();
            while !stop.load(Ordering::Relaxed) {
                match page.update_or("n", 0u64, |n| n + 1).await {
                    Ok(_) => ok.fetch_add(1, Ordering::Relaxed),
                    Err(Error::Backend {
                        backend: "redis", ..
                    }) => failed.fetch_add(1, Ordering::Relaxed),
                    Err(other) => panic!("unexpected error kind during the outage: {other:?}"),
                };
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        });
    }
    let wait_for = |counter: Arc<AtomicU64>, what: &'static str| async move {
        let start = counter.load(Ordering::Relaxed);
        let deadline = Instant::now() + Duration::from_secs(30);
        while counter.load(Ordering::Relaxed) < start + 20 {
            assert!(Instant::now() < deadline, "no {what} within 30 s");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };

    wait_for(ok.clone(), "successful updates before the outage").await;
    server.stop();
    wait_for(failed.clone(), "typed errors while Redis is down").await;
    // The health check agrees.
    assert!(store.check_health().await.is_err());

    let server = Server::start(port, &[]).await;
    wait_for(ok.clone(), "successful updates after Redis came back").await;
    assert!(store.check_health().await.is_ok());
    // A fresh page works end to end on the same store.
    let page = Page::open(store.clone(), &BrowserId::generate(), PageId::generate())
        .await
        .unwrap();
    page.put("k", &"after").await.unwrap();
    assert_eq!(page.get_or("k", String::new()).await.unwrap(), "after");

    stop.store(true, Ordering::Relaxed);
    while let Some(task) = load.join_next().await {
        task.unwrap();
    }
    server.stop();
}

/// A node's room registry on `url`: its own connections and pub/sub hub.
async fn room_node(url: &str) -> Rooms {
    let redis = Redis::connect(url, RedisOptions::default()).await.unwrap();
    let store = RedisRoomStore::new(redis, RoomOptions::default());
    Rooms::new(Arc::new(store), |_: &RoomKey| {
        Ok(RoomInit::new().acl(Acl::new(Rights::ALL, Rights::ALL)))
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn room_subscribers_hear_changes_again_after_a_redis_restart() {
    let Some((server, port, url)) = Server::start_private(&[]).await else {
        return;
    };
    let (a, b) = (room_node(&url).await, room_node(&url).await);
    let who = Principal::app("client");
    let writer = a.room("outage").unwrap();

    // A client on node B; its events go through a channel, whose `recv` can be
    // timed out without losing anything.
    let mut sub = b.room("outage").unwrap().attach(&who, None).await.unwrap();
    let (events, mut heard) = tokio::sync::mpsc::unbounded_channel();
    let drain = tokio::spawn(async move {
        while let Some(event) = sub.next().await {
            if let Ok(RoomEvent::Diff(_) | RoomEvent::Resync(_)) = event {
                if events.send(()).is_err() {
                    return;
                }
            }
        }
    });
    writer.put(&who, "n", &0).await.unwrap();
    let before = tokio::time::timeout(Duration::from_secs(10), heard.recv()).await;
    assert_eq!(before, Ok(Some(())), "B hears A's write before the outage");

    server.stop();
    let server = Server::start(port, &[]).await;
    // The restarted Redis is empty: A's next write starts the room afresh and B's
    // client hears it as a resync. Nobody attaches on B meanwhile, so this needs
    // B's hub to have resubscribed on its own. A retries while its own
    // connection heals; the wait is bounded, its length not asserted.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let _ = writer.put(&who, "n", &1).await;
        match tokio::time::timeout(Duration::from_millis(500), heard.recv()).await {
            Ok(Some(())) => break,
            Ok(None) => panic!("B's subscription ended"),
            Err(_) => {}
        }
        assert!(
            Instant::now() < deadline,
            "B's client heard nothing within 30 s of Redis coming back"
        );
    }
    drain.abort();
    server.stop();
}
