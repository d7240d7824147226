//! Starting rooms, presence, and the idle TTL.

use std::time::Duration;

use hyperstate::Error;
use hyperstate::room::{RoomEvent, RoomInit, RoomKey, RoomOptions, Rooms};

use super::{Factory, TEST_IDLE_TTL, fresh_name, member, next, next_versioned, public, rooms};

/// A little less and a little more than the TTL.
const BEFORE: Duration = Duration::from_millis(TEST_IDLE_TTL.as_millis() as u64 * 3 / 4);
const AFTER: Duration = Duration::from_millis(TEST_IDLE_TTL.as_millis() as u64 * 5 / 4);

pub async fn presence_counts_attached_clients(make: &dyn Factory) {
    let rooms = rooms(make, RoomOptions::default());
    let room = rooms.room(&fresh_name()).unwrap();
    let mut first = room.attach(&public(), None).await.unwrap();
    next_versioned(&mut first).await;
    assert!(matches!(next(&mut first).await, RoomEvent::Presence(1)));
    let second = room.attach(&public(), None).await.unwrap();
    assert!(matches!(next(&mut first).await, RoomEvent::Presence(2)));
    assert_eq!(room.attached().await.unwrap(), 2);
    drop(second);
    assert!(matches!(next(&mut first).await, RoomEvent::Presence(1)));
    assert_eq!(room.attached().await.unwrap(), 1);
}

pub async fn spec_errors_refuse_the_room(make: &dyn Factory) {
    let rooms = Rooms::new(make(RoomOptions::default()), |key: &RoomKey| {
        if key.as_str().ends_with("-closed") {
            Err(Error::InvalidRoomKey {
                key: key.to_string(),
                reason: "no such room",
            })
        } else {
            Ok(RoomInit::new())
        }
    });
    let room = rooms.room(&format!("{}-closed", fresh_name())).unwrap();
    let err = room.get_or(&public(), "k", 0).await.unwrap_err();
    assert!(matches!(err, Error::InvalidRoomKey { .. }), "{err:?}");
    assert!(room.attach(&public(), None).await.is_err());
    assert!(!room.is_live().await.unwrap());
}

pub async fn idle_room_is_dropped_after_its_ttl(make: &dyn Factory) {
    let rooms = rooms(make, RoomOptions::default());
    let room = rooms.room(&fresh_name()).unwrap();
    let alice = member(&room).await;
    let sub = room.attach(&alice, None).await.unwrap();
    room.put(&alice, "topic", "changed").await.unwrap();
    drop(sub);
    tokio::time::sleep(BEFORE).await;
    assert!(room.is_live().await.unwrap(), "dropped before its TTL");
    tokio::time::sleep(AFTER - BEFORE).await;
    // Dropped whether or not the sweeper has run...
    assert!(!room.is_live().await.unwrap(), "still live after its TTL");
    rooms.store().sweep().await.unwrap();
    assert!(!room.is_live().await.unwrap());
    // ...and the next access starts it afresh: state and members are gone.
    let topic: String = room.get_or(&alice, "topic", String::new()).await.unwrap();
    assert_eq!(topic, "hello");
    let err = room.put(&alice, "topic", "again").await.unwrap_err();
    assert!(matches!(err, Error::AccessDenied { .. }), "{err:?}");
}

pub async fn attached_room_outlives_its_ttl(make: &dyn Factory) {
    let rooms = rooms(make, RoomOptions::default());
    let room = rooms.room(&fresh_name()).unwrap();
    let alice = member(&room).await;
    let sub = room.attach(&alice, None).await.unwrap();
    room.put(&alice, "topic", "kept").await.unwrap();
    for _ in 0..5 {
        tokio::time::sleep(AFTER).await;
        rooms.store().sweep().await.unwrap();
        assert!(room.is_live().await.unwrap(), "dropped while attached");
    }
    drop(sub);
    tokio::time::sleep(AFTER).await;
    assert!(!room.is_live().await.unwrap());
}

pub async fn reattach_cancels_the_countdown(make: &dyn Factory) {
    let rooms = rooms(make, RoomOptions::default());
    let room = rooms.room(&fresh_name()).unwrap();
    let alice = member(&room).await;
    drop(room.attach(&alice, None).await.unwrap());
    room.put(&alice, "topic", "kept").await.unwrap();
    tokio::time::sleep(BEFORE).await;
    let sub = room.attach(&public(), None).await.unwrap();
    tokio::time::sleep(AFTER * 2).await;
    rooms.store().sweep().await.unwrap();
    assert!(room.is_live().await.unwrap());
    let topic: String = room.get_or(&alice, "topic", String::new()).await.unwrap();
    assert_eq!(topic, "kept");
    drop(sub);
}

pub async fn direct_access_restarts_the_countdown(make: &dyn Factory) {
    let rooms = rooms(make, RoomOptions::default());
    let room = rooms.room(&fresh_name()).unwrap();
    let alice = member(&room).await;
    room.put(&alice, "topic", "kept").await.unwrap();
    for _ in 0..4 {
        tokio::time::sleep(BEFORE).await;
        let topic: String = room.get_or(&alice, "topic", String::new()).await.unwrap();
        assert_eq!(topic, "kept", "dropped although accessed within its TTL");
    }
}

pub async fn restarted_room_resyncs_stale_clients(make: &dyn Factory) {
    let rooms = rooms(make, RoomOptions::default());
    let room = rooms.room(&fresh_name()).unwrap();
    let alice = member(&room).await;
    for i in 0..5 {
        room.put(&alice, "n", &i).await.unwrap();
    }
    let old = room.snapshot(&alice).await.unwrap().version;
    tokio::time::sleep(AFTER).await;
    assert!(!room.is_live().await.unwrap());
    // The new room's versions start above the old one's, so a client that
    // resumes from the old room is resynced, never handed diffs of the new one.
    let fresh = room.snapshot(&public()).await.unwrap().version;
    assert!(
        fresh > old,
        "a restarted room reused versions ({fresh} <= {old})"
    );
    let mut sub = room.attach(&public(), Some(old)).await.unwrap();
    assert!(matches!(next(&mut sub).await, RoomEvent::Resync(_)));
}
