//! Two nodes (two pools, two room stores, two listening connections) on one
//! PostgreSQL: a diff too large for a NOTIFY payload still reaches the other
//! node, and presence counts clients on both.

use std::sync::Arc;
use std::time::Duration;

use hyperstate::BrowserId;
use hyperstate::room::{
    Acl, Principal, Rights, RoomEvent, RoomInit, RoomKey, RoomOptions, Rooms, Subscription,
};
use hyperstate_conformance::services::postgres_url;
use hyperstate_postgres::{PgRoomStore, Postgres, PostgresOptions};
use tokio::time::timeout;

/// How long an event that must come may take (a hang guard, not a speed bound).
const BOUND: Duration = Duration::from_secs(10);

async fn node(url: &str) -> Rooms {
    let db = Postgres::connect(url, PostgresOptions::default().max_connections(4))
        .await
        .unwrap();
    let store = Arc::new(PgRoomStore::new(db, RoomOptions::default()));
    Rooms::new(store, |_: &RoomKey| {
        Ok(RoomInit::new().acl(Acl::new(Rights::ALL, Rights::ALL)))
    })
}

async fn next(sub: &mut Subscription) -> RoomEvent {
    timeout(BOUND, sub.next())
        .await
        .expect("an event within the bound")
        .expect("the subscription goes on")
        .expect("no error")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_diff_larger_than_a_notify_payload_reaches_the_other_node() {
    let Some(url) = postgres_url() else { return };
    let (a, b) = (node(&url).await, node(&url).await);
    let name = format!("large-{}", BrowserId::generate());
    let who = Principal::app("writer");
    let mut sub = b.room(&name).unwrap().attach(&who, None).await.unwrap();
    let RoomEvent::Snapshot(start) = next(&mut sub).await else {
        panic!("an attach starts with a snapshot");
    };
    // 20 KB: more than twice NOTIFY's 8000-byte payload limit.
    let large = "x".repeat(20_000);
    let version = a
        .room(&name)
        .unwrap()
        .put(&who, "big", &large)
        .await
        .unwrap();
    assert_eq!(version, start.version + 1);
    loop {
        match next(&mut sub).await {
            RoomEvent::Diff(diff) => {
                assert_eq!(diff.version, version);
                assert_eq!(diff.value::<String>().unwrap().unwrap(), large);
                return;
            }
            RoomEvent::Presence(_) => continue,
            other => panic!("expected the diff, got {other:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn presence_counts_clients_on_both_nodes() {
    let Some(url) = postgres_url() else { return };
    let (a, b) = (node(&url).await, node(&url).await);
    let name = format!("presence-{}", BrowserId::generate());
    let on_a = a
        .room(&name)
        .unwrap()
        .attach(&Principal::app("a"), None)
        .await
        .unwrap();
    let on_b = b
        .room(&name)
        .unwrap()
        .attach(&Principal::app("b"), None)
        .await
        .unwrap();
    let (mut on_a, on_b) = (on_a, on_b);
    // A sees the count go to 2 when B's client attaches...
    timeout(BOUND, async {
        loop {
            if let RoomEvent::Presence(2) = next(&mut on_a).await {
                return;
            }
        }
    })
    .await
    .expect("node A sees both clients");
    assert_eq!(b.room(&name).unwrap().attached().await.unwrap(), 2);
    // ...and back to 1 when it detaches.
    drop(on_b);
    timeout(BOUND, async {
        loop {
            if let RoomEvent::Presence(1) = next(&mut on_a).await {
                return;
            }
        }
    })
    .await
    .expect("node A sees B's client leave");
}
