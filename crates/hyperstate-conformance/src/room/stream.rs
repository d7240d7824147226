//! Snapshots, ordered diffs, resume and resync, slow subscribers.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use hyperstate::Key;
use hyperstate::room::{Change, RoomEvent, RoomInit, RoomKey, RoomOptions, Rooms, State};

use super::{Factory, fresh_name, member, next, next_diff, next_versioned, public, rooms};

pub async fn attach_gets_snapshot_then_ordered_diffs(make: &dyn Factory) {
    let rooms = rooms(make, RoomOptions::default());
    let room = rooms.room(&fresh_name()).unwrap();
    let alice = member(&room).await;
    let mut sub = room.attach(&public(), None).await.unwrap();
    let RoomEvent::Snapshot(snapshot) = next(&mut sub).await else {
        panic!("a fresh attach must start with a snapshot");
    };
    assert_eq!(
        snapshot.get(&Key::<String>::or_default("topic")).unwrap(),
        "hello"
    );
    let v = snapshot.version;
    assert!(matches!(next(&mut sub).await, RoomEvent::Presence(1)));

    assert_eq!(room.put(&alice, "n", &1).await.unwrap(), v + 1);
    assert_eq!(room.put(&alice, "n", &2).await.unwrap(), v + 2);
    assert!(room.delete(&alice, "topic").await.unwrap());
    assert_eq!(
        room.update_or(&alice, "n", 0, |n: i32| n * 10)
            .await
            .unwrap(),
        20
    );

    let expected = [
        ("inserted", Some("n"), Some("1")),
        ("updated", Some("n"), Some("2")),
        ("deleted", Some("topic"), None),
        ("updated", Some("n"), Some("20")),
    ];
    for (i, (kind, key, value)) in expected.into_iter().enumerate() {
        let diff = next_diff(&mut sub).await;
        assert_eq!(diff.version, v + 1 + i as u64, "diff {i}");
        assert_eq!(diff.change.kind(), kind, "diff {i}");
        assert_eq!(diff.change.key(), key, "diff {i}");
        assert_eq!(diff.change.value().map(|j| j.as_str()), value, "diff {i}");
    }
    assert_eq!(sub.version(), v + 4);
}

pub async fn versions_are_gap_free_under_concurrent_writers(make: &dyn Factory) {
    const WRITERS: usize = 8;
    const EACH: usize = 50;
    // Room for every diff, so this case sees diffs only (lag is another case).
    let options = RoomOptions::default().channel_capacity(WRITERS * EACH * 2);
    let rooms = rooms(make, options);
    let room = rooms.room(&fresh_name()).unwrap();
    let alice = member(&room).await;
    let mut sub = room.attach(&alice, None).await.unwrap();
    let RoomEvent::Snapshot(start) = next_versioned(&mut sub).await else {
        panic!("expected a snapshot");
    };
    let mut writers = tokio::task::JoinSet::new();
    for w in 0..WRITERS {
        let (room, alice) = (room.clone(), alice.clone());
        writers.spawn(async move {
            for i in 0..EACH {
                room.put(&alice, &format!("w{w}"), &i).await.unwrap();
            }
        });
    }
    let mut mirror: State = start.state.clone();
    let mut version = start.version;
    for _ in 0..WRITERS * EACH {
        let diff = next_diff(&mut sub).await;
        assert_eq!(diff.version, version + 1, "versions must be gap-free");
        version = diff.version;
        diff.change.apply_to(&mut mirror);
    }
    while writers.join_next().await.is_some() {}
    let end = room.snapshot(&alice).await.unwrap();
    assert_eq!(end.version, start.version + (WRITERS * EACH) as u64);
    assert_eq!(mirror, end.state, "snapshot + diffs must equal the state");
}

pub async fn resume_replays_exactly_the_missed_diffs(make: &dyn Factory) {
    let rooms = rooms(make, RoomOptions::default());
    let room = rooms.room(&fresh_name()).unwrap();
    let alice = member(&room).await;
    let reader = public();
    let sub = room.attach(&reader, None).await.unwrap();
    let seen = sub.version();
    drop(sub);
    for i in 0..3 {
        room.put(&alice, "n", &i).await.unwrap();
    }
    let mut sub = room.attach(&reader, Some(seen)).await.unwrap();
    for i in 0..3u64 {
        let diff = next_diff(&mut sub).await;
        assert_eq!(diff.version, seen + 1 + i);
        assert_eq!(diff.value::<u64>().unwrap().unwrap(), i);
    }
    // Nothing else is pending but the presence count: no duplicates. (The count
    // itself may still include the detached client on a distributed backend.)
    assert!(matches!(next(&mut sub).await, RoomEvent::Presence(_)));
    room.put(&alice, "n", &9).await.unwrap();
    assert_eq!(next_diff(&mut sub).await.version, seen + 4);
}

pub async fn resume_when_up_to_date_replays_nothing(make: &dyn Factory) {
    let rooms = rooms(make, RoomOptions::default());
    let room = rooms.room(&fresh_name()).unwrap();
    // A stored room: an unstored one reports the clock, not a stored version.
    member(&room).await;
    let version = room.snapshot(&public()).await.unwrap().version;
    let mut sub = room.attach(&public(), Some(version)).await.unwrap();
    assert!(matches!(next(&mut sub).await, RoomEvent::Presence(_)));
    assert_eq!(sub.version(), version);
}

pub async fn resume_past_the_buffer_resyncs(make: &dyn Factory) {
    let rooms = rooms(make, RoomOptions::default().replay(4));
    let room = rooms.room(&fresh_name()).unwrap();
    let alice = member(&room).await;
    let seen = room.snapshot(&alice).await.unwrap().version;
    for i in 0..10 {
        room.put(&alice, "n", &i).await.unwrap();
    }
    let mut sub = room.attach(&alice, Some(seen)).await.unwrap();
    let RoomEvent::Resync(snapshot) = next(&mut sub).await else {
        panic!("ten missed diffs with a buffer of four must resync");
    };
    assert_eq!(snapshot.version, seen + 10);
    assert_eq!(snapshot.get(&Key::<u32>::or_default("n")).unwrap(), 9);
    // Still buffered: resuming six behind replays the last six... or at least
    // never duplicates; four behind must replay.
    drop(sub);
    let mut sub = room.attach(&alice, Some(seen + 7)).await.unwrap();
    for v in seen + 8..=seen + 10 {
        assert_eq!(next_diff(&mut sub).await.version, v);
    }
}

pub async fn resume_from_an_unknown_version_resyncs(make: &dyn Factory) {
    let rooms = rooms(make, RoomOptions::default());
    let room = rooms.room(&fresh_name()).unwrap();
    member(&room).await;
    let current = room.snapshot(&public()).await.unwrap().version;
    for bogus in [
        0,
        1,
        current.saturating_sub(1_000_000),
        current + 1,
        u64::MAX,
    ] {
        let mut sub = room.attach(&public(), Some(bogus)).await.unwrap();
        match next(&mut sub).await {
            RoomEvent::Resync(s) => assert_eq!(s.version, current, "resume {bogus}"),
            other => panic!("resume from {bogus} must resync, got {other:?}"),
        }
    }
}

pub async fn reset_reruns_the_spec(make: &dyn Factory) {
    let runs = Arc::new(AtomicUsize::new(0));
    let counter = runs.clone();
    let rooms = Rooms::new(make(RoomOptions::default()), move |_: &RoomKey| {
        let run = counter.fetch_add(1, Ordering::SeqCst);
        RoomInit::new()
            .value("generation", &run)?
            .value("items", &[0; 0])
    });
    let room = rooms.room(&fresh_name()).unwrap();
    let alice = member(&room).await;
    let mut sub = room.attach(&alice, None).await.unwrap();
    let RoomEvent::Snapshot(start) = next_versioned(&mut sub).await else {
        panic!("expected a snapshot");
    };
    let first = start.get(&Key::<usize>::or_default("generation")).unwrap();
    room.put(&alice, "items", &[1, 2]).await.unwrap();
    room.put(&alice, "extra", &true).await.unwrap();
    let version = room.reset(&alice).await.unwrap();
    assert_eq!(version, start.version + 3);

    next_diff(&mut sub).await;
    next_diff(&mut sub).await;
    let diff = next_diff(&mut sub).await;
    assert_eq!(diff.version, version);
    let Change::Reset { state } = &diff.change else {
        panic!("expected a reset diff, got {diff:?}");
    };
    let mut keys: Vec<_> = state.keys().map(|k| k.to_string()).collect();
    keys.sort();
    assert_eq!(keys, ["generation", "items"]);
    let snapshot = room.snapshot(&alice).await.unwrap();
    assert_eq!(&snapshot.state, &**state);
    assert!(
        snapshot
            .get(&Key::<usize>::or_default("generation"))
            .unwrap()
            > first
    );
    assert_eq!(
        snapshot.get(&Key::<Vec<u8>>::or_default("items")).unwrap(),
        Vec::<u8>::new()
    );
    // Members stay members across a reset.
    room.put(&alice, "after", &1).await.unwrap();
}

pub async fn delete_of_an_absent_key_is_no_change(make: &dyn Factory) {
    let rooms = rooms(make, RoomOptions::default());
    let room = rooms.room(&fresh_name()).unwrap();
    let alice = member(&room).await;
    let before = room.snapshot(&alice).await.unwrap().version;
    assert!(!room.delete(&alice, "absent").await.unwrap());
    assert_eq!(room.snapshot(&alice).await.unwrap().version, before);
}

pub async fn slow_subscriber_does_not_block_writers_or_others(make: &dyn Factory) {
    const WRITES: u64 = 100;
    let rooms = rooms(make, RoomOptions::default().channel_capacity(8));
    let room = rooms.room(&fresh_name()).unwrap();
    let alice = member(&room).await;
    // Attached, but never read while the writes happen.
    let mut slow = room.attach(&public(), None).await.unwrap();
    let mut fast = room.attach(&public(), None).await.unwrap();
    let RoomEvent::Snapshot(start) = next_versioned(&mut fast).await else {
        panic!("expected a snapshot");
    };
    let writer = {
        let (room, alice) = (room.clone(), alice.clone());
        tokio::spawn(async move {
            for i in 0..WRITES {
                room.put(&alice, "n", &i).await.unwrap();
            }
        })
    };
    // The fast subscriber keeps up, so it gets every diff, in order (or a
    // resync, if the machine stalled it; then its state must still be right).
    let mut mirror = start.state.clone();
    while fast.version() < start.version + WRITES {
        match next_versioned(&mut fast).await {
            RoomEvent::Diff(diff) => diff.change.apply_to(&mut mirror),
            RoomEvent::Resync(s) => mirror = s.state,
            other => panic!("unexpected {other:?}"),
        }
    }
    tokio::time::timeout(super::DELIVERY, writer)
        .await
        .expect("a slow subscriber blocked the writer")
        .unwrap();
    let end = room.snapshot(&alice).await.unwrap();
    assert_eq!(mirror, end.state);

    // The slow one, read at last, is told to resync rather than given a gap.
    let mut events = BTreeMap::new();
    let mut state = State::new();
    while slow.version() < end.version {
        match next_versioned(&mut slow).await {
            RoomEvent::Snapshot(s) | RoomEvent::Resync(s) => {
                *events.entry("snapshot").or_insert(0) += 1;
                state = s.state;
            }
            RoomEvent::Diff(d) => d.change.apply_to(&mut state),
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(state, end.state);
    assert!(
        events["snapshot"] >= 2,
        "a subscriber 100 diffs behind a feed of 8 must have been resynced"
    );
}
