//! Lazy rooms: reads store nothing; a write, join or attach starts the room.
//! Unused member slots expire.

use std::time::Duration;

use hyperstate::Error;
use hyperstate::room::{Acl, Rights, RoomEvent, RoomInit, RoomKey, RoomOptions, Rooms};

use super::{Factory, TEST_IDLE_TTL, fresh_name, member, next_versioned, public, rooms};

pub async fn reads_of_an_unstored_room_store_nothing(make: &dyn Factory) {
    let rooms = rooms(make, RoomOptions::default());
    let room = rooms.room(&fresh_name()).unwrap();
    let who = public();
    for _ in 0..3 {
        let snapshot = room.snapshot(&who).await.unwrap();
        assert_eq!(snapshot.state.len(), 1, "the spec's initial state");
        let topic: String = room.get_or(&who, "topic", String::new()).await.unwrap();
        assert_eq!(topic, "hello");
        let access = room.access(&who).await.unwrap();
        assert!(access.allows(hyperstate::room::Right::Read));
        assert_eq!(room.attached().await.unwrap(), 0);
        assert!(!room.is_live().await.unwrap(), "a read stored the room");
    }
    // A read the ACL denies is denied as in a stored room, and stores nothing.
    let closed = Rooms::new(make(RoomOptions::default()), |_: &RoomKey| {
        Ok(RoomInit::new().acl(Acl::new(Rights::ALL, Rights::NONE)))
    });
    let room = closed.room(&fresh_name()).unwrap();
    let err = room.snapshot(&who).await.unwrap_err();
    assert!(matches!(err, Error::AccessDenied { .. }), "{err:?}");
    assert!(!room.is_live().await.unwrap());
}

pub async fn first_write_after_lazy_reads_sees_the_initial_state(make: &dyn Factory) {
    let rooms = rooms(make, RoomOptions::default());
    let room = rooms.room(&fresh_name()).unwrap();
    let lazy = room.snapshot(&public()).await.unwrap().version;
    // Anyone may write (public all), so the first write is the room's start.
    let open = Rooms::new(rooms.store().clone(), |_: &RoomKey| {
        Ok(RoomInit::new()
            .acl(Acl::new(Rights::ALL, Rights::ALL))
            .value("topic", "hello")?
            .idle_ttl(TEST_IDLE_TTL))
    });
    let room = open.room(room.key().as_str()).unwrap();
    let who = public();
    let topic = room
        .update_or(&who, "topic", String::new(), |t| format!("{t}!"))
        .await
        .unwrap();
    assert_eq!(
        topic, "hello!",
        "the first write did not see the initial state"
    );
    assert!(room.is_live().await.unwrap());
    let first = room.snapshot(&who).await.unwrap().version;
    assert!(
        first > lazy,
        "a write after a lazy read at version {lazy} produced version {first}"
    );
    // From the start on, versions rise by exactly one per write.
    let mut sub = room.attach(&who, Some(lazy)).await.unwrap();
    // Resumed from the lazy version: the state at the write (a resync), or,
    // when the room started at exactly that version, the one diff since.
    match next_versioned(&mut sub).await {
        RoomEvent::Resync(s) | RoomEvent::Snapshot(s) => assert_eq!(s.version, first),
        RoomEvent::Diff(d) => assert_eq!((d.version, lazy + 1), (first, first)),
        other => panic!("expected the state, got {other:?}"),
    }
    for expected in first + 1..first + 4 {
        assert_eq!(room.put(&who, "n", &expected).await.unwrap(), expected);
    }
}

pub async fn joining_stores_the_room(make: &dyn Factory) {
    let rooms = rooms(make, RoomOptions::default());
    let room = rooms.room(&fresh_name()).unwrap();
    room.snapshot(&public()).await.unwrap();
    assert!(!room.is_live().await.unwrap());
    let alice = member(&room).await;
    assert!(
        room.is_live().await.unwrap(),
        "a join did not store the room"
    );
    room.put(&alice, "topic", "mine").await.unwrap();
}

/// A little more than the unused-slot TTL the member case sets.
const SLOT_TTL: Duration = TEST_IDLE_TTL;

pub async fn unused_member_slots_expire(make: &dyn Factory) {
    let options = RoomOptions::default()
        .max_members(2)
        .unused_member_ttl(SLOT_TTL);
    let rooms = rooms(make, options);
    let room = rooms.room(&fresh_name()).unwrap();
    // A public client keeps the room live past its idle TTL.
    let _watcher = room.attach(&public(), None).await.unwrap();
    let active = member(&room).await;
    let _active_sub = room.attach(&active, None).await.unwrap();
    let idle = member(&room).await;
    let late = public();
    let err = room.join(&late).await.unwrap_err();
    assert!(matches!(err, Error::TooManyMembers { limit: 2 }), "{err:?}");

    tokio::time::sleep(SLOT_TTL + SLOT_TTL / 4).await;
    // The slot never used is free again; the used one is kept.
    assert!(
        room.join(&late).await.unwrap(),
        "the unused slot was not freed"
    );
    let err = room.put(&idle, "topic", "late").await.unwrap_err();
    assert!(matches!(err, Error::AccessDenied { .. }), "{err:?}");
    room.put(&active, "topic", "still here").await.unwrap();
    // Writing uses the slot, so it is kept past the TTL too.
    room.put(&late, "topic", "joined").await.unwrap();
    tokio::time::sleep(SLOT_TTL + SLOT_TTL / 4).await;
    room.put(&late, "topic", "kept").await.unwrap();
    // And a member whose slot expired may join again.
    assert!(room.join(&idle).await.is_err(), "no free slot: both used");
    room.leave(&late).await.unwrap();
    assert!(room.join(&idle).await.unwrap());
}

pub async fn denied_operations_on_an_unstored_room_store_nothing(make: &dyn Factory) {
    let rooms = rooms(make, RoomOptions::default()); // public may only read
    let room = rooms.room(&fresh_name()).unwrap();
    let stranger = public();
    let denied = [
        room.put(&stranger, "topic", "x").await.map(drop),
        room.delete(&stranger, "topic").await.map(drop),
        room.reset(&stranger).await.map(drop),
        room.update_or(&stranger, "topic", String::new(), |t| t)
            .await
            .map(drop),
    ];
    for result in denied {
        let err = result.unwrap_err();
        assert!(matches!(err, Error::AccessDenied { .. }), "{err:?}");
    }
    assert!(
        !room.is_live().await.unwrap(),
        "a denied write stored the room"
    );
}
