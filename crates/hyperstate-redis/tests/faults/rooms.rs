//! Room state through the fault proxy, including live subscriptions (whose
//! pub/sub connection runs through the proxy too).

use std::sync::Arc;
use std::sync::atomic::Ordering;

use hyperstate::BrowserId;
use hyperstate::room::{Principal, Room, RoomEvent, RoomInit, RoomKey, RoomOptions, Rooms};
use hyperstate_conformance::fault_proxy::{FaultProxy, NetFault};
use hyperstate_redis::RedisRoomStore;

use crate::support::{
    FAILING, allowed_after, assert_lost_reply_update_ran_once, assert_unavailable,
    assert_update_fails_unretried, bounded, proxied_redis,
};

async fn rooms() -> Option<(FaultProxy, Rooms)> {
    let (proxy, redis) = proxied_redis().await?;
    let store = Arc::new(RedisRoomStore::new(redis, RoomOptions::default()));
    Some((proxy, Rooms::new(store, |_: &RoomKey| Ok(RoomInit::new()))))
}

/// A fresh room and a member of it.
async fn fresh_room(rooms: &Rooms) -> (Room, Principal) {
    let room = rooms
        .room(&format!("faults-{}", BrowserId::generate()))
        .unwrap();
    let who = Principal::app("writer");
    room.join(&who).await.unwrap();
    (room, who)
}

/// The next event that carries a version, within the hang guard.
async fn next_versioned(sub: &mut hyperstate::room::Subscription) -> RoomEvent {
    loop {
        let event = bounded("a room event", sub.next())
            .await
            .expect("the subscription ended")
            .expect("the subscription failed");
        if event.version().is_some() {
            return event;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_fault_is_a_typed_error_and_the_same_store_recovers() {
    let Some((proxy, rooms)) = rooms().await else {
        return;
    };
    for fault in FAILING {
        let (room, who) = fresh_room(&rooms).await;
        room.put(&who, "k", "old").await.unwrap();

        proxy.set(fault);
        let put = bounded(&format!("{fault:?}: put"), room.put(&who, "k", "new")).await;
        assert_unavailable(fault, "put", put);
        let get = bounded(
            &format!("{fault:?}: get"),
            room.get_or(&who, "k", String::new()),
        )
        .await;
        assert_unavailable(fault, "get", get);
        assert_update_fails_unretried(fault, |runs| {
            room.update_or(&who, "n", 0u32, move |n| {
                runs.fetch_add(1, Ordering::SeqCst);
                n + 1
            })
        })
        .await;
        let attach = bounded(&format!("{fault:?}: attach"), room.attach(&who, None)).await;
        assert_unavailable(fault, "attach", attach);
        assert!(
            bounded(&format!("{fault:?}: health"), rooms.store().check_health())
                .await
                .is_err()
        );

        proxy.set(NetFault::PassThrough);
        // Re-reads agree, and a fresh subscription starts from the same value.
        let value: String = bounded(
            &format!("{fault:?}: get"),
            room.get_or(&who, "k", String::new()),
        )
        .await
        .unwrap_or_else(|err| panic!("{fault:?}: read after the fault failed: {err:?}"));
        assert!(
            allowed_after(fault, "old", "new").contains(&value.as_str()),
            "{fault:?}: after a failed write the key holds {value:?}"
        );
        let mut sub = bounded(&format!("{fault:?}: attach"), room.attach(&who, None))
            .await
            .unwrap_or_else(|err| panic!("{fault:?}: attach after the fault failed: {err:?}"));
        let RoomEvent::Snapshot(start) = next_versioned(&mut sub).await else {
            panic!("{fault:?}: a fresh attach must start with a snapshot");
        };
        let shown: String = start.get_or("k", String::new()).unwrap();
        assert_eq!(shown, value, "{fault:?}");
        // The same store: writes land and reach the subscriber live.
        room.put(&who, "k", "after").await.unwrap();
        let RoomEvent::Diff(diff) = next_versioned(&mut sub).await else {
            panic!("{fault:?}: expected the write as a diff");
        };
        assert_eq!(diff.value::<String>().unwrap().unwrap(), "after");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_update_whose_reply_is_lost_landed_once_and_is_not_retried() {
    let Some((proxy, rooms)) = rooms().await else {
        return;
    };
    let (room, who) = fresh_room(&rooms).await;
    // Loads the compare-and-set script (see the page test of the same name).
    assert_eq!(room.update_or(&who, "n", 0u32, |n| n + 1).await.unwrap(), 1);
    assert_lost_reply_update_ran_once(&proxy, |strike| {
        room.update_or(&who, "n", 0u32, move |n| {
            strike.now();
            n + 1
        })
    })
    .await;
    assert_eq!(room.get_or(&who, "n", 0u32).await.unwrap(), 2);
    assert_eq!(room.update_or(&who, "n", 0u32, |n| n + 1).await.unwrap(), 3);
}
