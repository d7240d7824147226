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
    let absent: Option<String> = room.get_or(&alice, &format!("k{n}"), None).await.unwrap();
    assert_eq!(absent, None);
    // Live rooms are never evicted to make room: the data written so far stays.
    let first: Option<String> = room.get_or(&alice, "k0", None).await.unwrap();
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
    let err = rooms
        .room("d")
        .unwrap()
        .attach(&who, None)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::TooManyRooms { limit: 3 }), "{err:?}");
    // Once one room has expired (not yet swept), a new one may start.
    drop(subs.pop());
    tokio::time::sleep(Duration::from_secs(61)).await;
    drop(rooms.room("d").unwrap().attach(&who, None).await.unwrap());
    assert_eq!(store.stats().rooms, 3);
    // A room nobody attends gives way to a new one before its TTL has passed.
    drop(rooms.room("e").unwrap().attach(&who, None).await.unwrap());
    assert_eq!(store.stats().rooms, 3);
    assert_eq!(store.stats().evictions, 1);
}

#[tokio::test]
async fn reads_of_rooms_never_written_store_nothing() {
    let store = MemoryRoomStore::new(RoomOptions::default(), 1 << 20);
    let rooms = rooms(&store);
    let who = Principal::app("visitor");
    // Far more distinct rooms than the budget could hold were each one stored.
    for i in 0..2_000 {
        let room = rooms.room(&format!("visit-{i}")).unwrap();
        room.snapshot(&who).await.unwrap();
        room.access(&who).await.unwrap();
        room.attached().await.unwrap();
    }
    let stats = store.stats();
    assert_eq!((stats.rooms, stats.bytes_used), (0, 0), "{stats:?}");
    room_with_a_post(&rooms, "lobby").await;
}

async fn room_with_a_post(rooms: &Rooms, name: &str) -> hyperstate::room::Subscription {
    let alice = Principal::app("alice");
    let room = rooms.room(name).unwrap();
    room.join(&alice).await.unwrap();
    let sub = room.attach(&alice, None).await.unwrap();
    room.put(&alice, "post", &"x".repeat(1000)).await.unwrap();
    sub
}

#[tokio::test]
async fn rooms_nobody_attends_give_way_to_new_and_live_ones() {
    const BUDGET: usize = 256 * 1024;
    let store = MemoryRoomStore::new(RoomOptions::default(), BUDGET);
    let rooms = rooms(&store);
    let _live = room_with_a_post(&rooms, "live").await;
    // Written and joined, then left alone: many times what the budget holds.
    let bob = Principal::app("bob");
    for i in 0..200 {
        let room = rooms.room(&format!("idle-{i}")).unwrap();
        room.join(&bob).await.unwrap();
        room.put(&bob, "k", &"y".repeat(1000)).await.unwrap();
    }
    let stats = store.stats();
    assert!(
        stats.evictions > 0 && stats.bytes_used <= BUDGET,
        "{stats:?}"
    );
    // A new room and a post in the live room both still succeed...
    let _new = room_with_a_post(&rooms, "new").await;
    let live = rooms.room("live").unwrap();
    let alice = Principal::app("alice");
    for n in 0..20 {
        live.put(&alice, &format!("more-{n}"), &"z".repeat(1000))
            .await
            .unwrap();
    }
    // ...and the live room kept everything.
    let post: Option<String> = live.get_or(&alice, "post", None).await.unwrap();
    assert!(post.is_some());
    // The evicted rooms behave as expired: they restart from the spec.
    let first: Option<String> = rooms
        .room("idle-0")
        .unwrap()
        .get_or(&bob, "k", None)
        .await
        .unwrap();
    assert_eq!(first, None);
}

#[tokio::test]
async fn a_store_full_of_attended_rooms_refuses_a_new_one() {
    let store = MemoryRoomStore::new(RoomOptions::default(), 64 * 1024);
    let rooms = rooms(&store);
    let mut subs = Vec::new();
    let err = loop {
        match rooms
            .room(&format!("r{}", subs.len()))
            .unwrap()
            .attach(&Principal::app("a"), None)
            .await
        {
            Ok(sub) => subs.push(sub),
            Err(err) => break err,
        }
        assert!(subs.len() < 100, "a 64 KiB budget held 100 attended rooms");
    };
    assert!(matches!(err, Error::StoreFull { .. }), "{err:?}");
    assert_eq!(store.stats().evictions, 0);
}
