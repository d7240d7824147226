//! Values, atomic updates and limits.

use hyperstate::room::{RoomOptions, Rooms};
use hyperstate::{Error, Key, Limits};

use super::{Factory, fresh_name, member, public, rooms};

pub async fn round_trip_typed_values(make: &dyn Factory) {
    let rooms = rooms(make, RoomOptions::default());
    let room = rooms.room(&fresh_name()).unwrap();
    let alice = member(&room).await;
    room.put(&alice, "list", &vec!["a", "b"]).await.unwrap();
    room.put(&alice, "tuple", &(1, "two")).await.unwrap();
    let list: Vec<String> = room.get_or(&alice, "list", Vec::new()).await.unwrap();
    assert_eq!(list, ["a", "b"]);
    // Values are JSON-normalized: a tuple reads back as the array any backend gives.
    let tuple: serde_json::Value = room
        .get_or(&alice, "tuple", serde_json::Value::Null)
        .await
        .unwrap();
    assert_eq!(tuple, serde_json::json!([1, "two"]));
    assert_eq!(room.get_or(&alice, "absent", 7).await.unwrap(), 7);
    let err = room.get_or(&alice, "list", 0u8).await.unwrap_err();
    assert!(
        matches!(err, Error::Json { ref key, .. } if key == "list"),
        "{err:?}"
    );
}

pub async fn typed_keys_and_declined_updates(make: &dyn Factory) {
    const VOTES: Key<u32> = Key::or_default("votes");
    let rooms = rooms(make, RoomOptions::default());
    let room = rooms.room(&fresh_name()).unwrap();
    let alice = member(&room).await;
    assert_eq!(room.get(&alice, &VOTES).await.unwrap(), 0);
    assert_eq!(room.update(&alice, &VOTES, |n| n + 1).await.unwrap(), 1);
    let version = room.snapshot(&alice).await.unwrap().version;
    // A declined update writes nothing: no new version, no diff.
    let declined = room
        .try_update(&alice, &VOTES, |n| {
            if n >= 1 {
                Err("one vote each")
            } else {
                Ok(n + 1)
            }
        })
        .await
        .unwrap();
    assert_eq!(declined, Err("one vote each"));
    let snapshot = room.snapshot(&alice).await.unwrap();
    assert_eq!(
        (snapshot.version, snapshot.get(&VOTES).unwrap()),
        (version, 1)
    );
    let accepted = room
        .try_update(&alice, &VOTES, |n| Ok::<_, String>(n + 10))
        .await
        .unwrap();
    assert_eq!(accepted, Ok(11));
    room.put(&alice, &VOTES, &3).await.unwrap();
    assert_eq!(room.get(&alice, &VOTES).await.unwrap(), 3);
    assert!(room.delete(&alice, &VOTES).await.unwrap());
    assert_eq!(room.get(&alice, &VOTES).await.unwrap(), 0);
}

pub async fn update_is_atomic_under_concurrency(make: &dyn Factory) {
    const TASKS: usize = 200;
    let rooms = rooms(make, RoomOptions::default());
    let room = rooms.room(&fresh_name()).unwrap();
    let alice = member(&room).await;
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..TASKS {
        let (room, alice) = (room.clone(), alice.clone());
        tasks.spawn(async move { room.update_or(&alice, "count", 0u64, |n| n + 1).await });
    }
    let mut seen = Vec::new();
    while let Some(result) = tasks.join_next().await {
        seen.push(result.expect("task panicked").expect("update failed"));
    }
    seen.sort_unstable();
    assert_eq!(seen, (1..=TASKS as u64).collect::<Vec<_>>());
}

pub async fn limits_are_enforced_without_a_diff(make: &dyn Factory) {
    let limits = Limits::default()
        .max_value_bytes(32)
        .max_keys(3)
        .max_bytes(40);
    let rooms = rooms(make, RoomOptions::default().limits(limits));
    let room = rooms.room(&fresh_name()).unwrap();
    let alice = member(&room).await;
    let version = room.snapshot(&alice).await.unwrap().version;
    let err = room.put(&alice, "big", &"x".repeat(100)).await.unwrap_err();
    assert!(
        matches!(err, Error::ValueTooLarge { limit: 32, .. }),
        "{err:?}"
    );
    room.put(&alice, "a", &1).await.unwrap();
    room.put(&alice, "b", &1).await.unwrap(); // with "topic": three keys
    let err = room.put(&alice, "c", &1).await.unwrap_err();
    assert!(
        matches!(err, Error::TooManyKeys { limit: 3, .. }),
        "{err:?}"
    );
    let err = room.put(&alice, "a", &"y".repeat(30)).await.unwrap_err();
    assert!(
        matches!(err, Error::ScopeTooLarge { limit: 40, .. }),
        "{err:?}"
    );
    let err = room
        .update_or(&alice, "a", 0, |_| 1)
        .await
        .and(
            room.update_or(&alice, "a", serde_json::Value::Null, |_| {
                "z".repeat(40).into()
            })
            .await
            .map(drop),
        )
        .unwrap_err();
    assert!(matches!(err, Error::ValueTooLarge { .. }), "{err:?}");
    // Three successful writes, three versions: the failures published nothing.
    let end = room.snapshot(&alice).await.unwrap();
    assert_eq!(end.version, version + 3);
    assert_eq!(end.get(&Key::<i32>::or_default("a")).unwrap(), 1);
    for key in ["", "a\u{0}b"] {
        assert!(matches!(
            room.put(&alice, key, &1).await,
            Err(Error::InvalidKey { .. })
        ));
    }
}

pub async fn member_limit_is_enforced(make: &dyn Factory) {
    let rooms = rooms(make, RoomOptions::default().max_members(2));
    let room = rooms.room(&fresh_name()).unwrap();
    room.join(&public()).await.unwrap();
    room.join(&public()).await.unwrap();
    let err = room.join(&public()).await.unwrap_err();
    assert!(matches!(err, Error::TooManyMembers { limit: 2 }), "{err:?}");
}

pub async fn invalid_room_keys_are_rejected(make: &dyn Factory) {
    let rooms: Rooms = rooms(make, RoomOptions::default());
    for name in ["", "has space", "a/b", &"x".repeat(500), "<b>"] {
        let err = rooms.room(name).unwrap_err();
        assert!(
            matches!(err, Error::InvalidRoomKey { .. }),
            "{name:?}: {err:?}"
        );
        assert!(err.kind().is_client_error());
    }
}
