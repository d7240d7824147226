//! Memory-backend specifics of the room scope: its byte budget and room limit.

use std::sync::Arc;
use std::time::Duration;

use hyperstate::Error;
use hyperstate::memory::MemoryRoomStore;
use hyperstate::room::{Principal, RoomInit, RoomKey, RoomOptions, Rooms};

fn rooms(store: &MemoryRoomStore) -> Rooms {
    Rooms::new(Arc::new(store.clone()), |_: &RoomKey| {
        Ok(RoomInit::new().idle_ttl(Duration::from_secs(60)))
    })
}

#[tokio::test(start_paused = true)]
async fn the_budget_is_given_back_when_rooms_expire() {
    let store = MemoryRoomStore::new(RoomOptions::default(), 64 << 20);
    let rooms = rooms(&store);
    let alice = Principal::app("alice");
    for i in 0..20 {
        let room = rooms.room(&format!("r{i}")).unwrap();
        room.join(&alice).await.unwrap();
        let sub = room.attach(&alice, None).await.unwrap();
        for n in 0..50 {
            room.put(&alice, &format!("k{}", n % 7), &"x".repeat(n * 10))
                .await
                .unwrap();
        }
        room.delete(&alice, "k0").await.unwrap();
        room.reset(&alice).await.unwrap();
        drop(sub);
    }
    assert_eq!(store.stats().rooms, 20);
    assert!(store.stats().bytes_used > 0);
    tokio::time::sleep(Duration::from_secs(61)).await;
    rooms.store().sweep().await.unwrap();
    let stats = store.stats();
    assert_eq!(stats.rooms, 0);
    assert_eq!(stats.bytes_used, 0, "accounting leaked: {stats:?}");
}

#[tokio::test]
async fn a_full_budget_is_store_full_and_changes_nothing() {
    let store = MemoryRoomStore::new(RoomOptions::default(), 40 * 1024);
    let rooms = rooms(&store);
    let alice = Principal::app("alice");
    let room = rooms.room("full").unwrap();
    room.join(&alice).await.unwrap();
    let mut failed = None;
    for n in 0..100 {
        if let Err(err) = room.put(&alice, &format!("k{n}"), &"y".repeat(1000)).await {
            failed = Some((n, err));
            break;
        }
    }
    let (n, err) = failed.expect("a 40 KiB budget cannot hold 100 KB");
    assert!(matches!(err, Error::StoreFull { .. }), "{err:?}");
    assert!(store.stats().bytes_used <= 40 * 1024);
    let absent: Option<String> = room.get(&alice, &format!("k{n}"), None).await.unwrap();
    assert_eq!(absent, None);
    // Live rooms are never evicted to make room: the data written so far stays.
    let first: Option<String> = room.get(&alice, "k0", None).await.unwrap();
    assert!(first.is_some());
}

#[tokio::test(start_paused = true)]
async fn the_room_limit_counts_live_rooms_only() {
    let store = MemoryRoomStore::new(RoomOptions::default().max_rooms(3), 64 << 20);
    let rooms = rooms(&store);
    let who = Principal::app("reader");
    let mut subs = Vec::new();
    for name in ["a", "b", "c"] {
        subs.push(rooms.room(name).unwrap().attach(&who, None).await.unwrap());
    }
    let err = rooms.room("d").unwrap().snapshot(&who).await.unwrap_err();
    assert!(matches!(err, Error::TooManyRooms { limit: 3 }), "{err:?}");
    // Once one room has expired (not yet swept), a new one may start.
    drop(subs.pop());
    tokio::time::sleep(Duration::from_secs(61)).await;
    rooms.room("d").unwrap().snapshot(&who).await.unwrap();
    assert_eq!(store.stats().rooms, 3);
}
