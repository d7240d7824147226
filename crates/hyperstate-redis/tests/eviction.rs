//! Redis out of memory: no partial room is ever served.
//!
//! A room is several keys, and Redis evicts keys one by one, so a connection
//! refuses an evicting `maxmemory-policy` unless told to accept it. Under
//! `noeviction`, a full Redis refuses room operations with a typed error, and
//! every room stays exactly as its acknowledged writes left it: all its keys or
//! none, every acknowledged value and member there, no refused write landed;
//! a client detaching meanwhile is not refused (its count would stay too high).
//! Each test runs its own small `redis-server` (see `private_redis`), never the
//! shared one.

use std::collections::BTreeMap;
use std::error::Error as _;

use hyperstate::room::{
    Acl, CallerClass, Principal, Right, Rights, RoomInit, RoomKey, RoomOptions, Rooms,
};
use hyperstate::{BrowserId, Error};
use hyperstate_redis::{EvictingPolicy, Redis, RedisOptions, RedisRoomStore};

mod private_redis;
use private_redis::Server;

/// The whole error chain, for matching on what Redis said.
fn chain(err: &Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(next) = source {
        text.push_str(": ");
        text.push_str(&next.to_string());
        source = next.source();
    }
    text
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_evicting_policy_is_refused_unless_allowed() {
    let config = ["--maxmemory", "64mb", "--maxmemory-policy", "volatile-lru"];
    let Some((_server, _, url)) = Server::start_private(&config).await else {
        return;
    };
    let err = Redis::connect(&url, RedisOptions::default())
        .await
        .expect_err("volatile-lru can break rooms: connecting must fail");
    let refusal = err
        .source()
        .and_then(|source| source.downcast_ref::<EvictingPolicy>())
        .unwrap_or_else(|| panic!("not an EvictingPolicy refusal: {}", chain(&err)));
    assert_eq!(refusal.policy, "volatile-lru");
    let message = chain(&err);
    assert!(
        message.contains("noeviction") && message.contains("allow_evicting_policy"),
        "the message must say what to do: {message}"
    );
    Redis::connect(&url, RedisOptions::default().allow_evicting_policy(true))
        .await
        .expect("an operator may accept an evicting policy");
}

/// What one room must hold: the acknowledged values, by key.
#[derive(Debug, Default)]
struct Expected {
    values: BTreeMap<String, String>,
    writes: u64,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_redis_never_serves_a_partial_room() {
    // Small: an empty Redis 7 uses about 1 MB, so this fills after ~2 MB of rooms.
    let config = ["--maxmemory", "3mb", "--maxmemory-policy", "noeviction"];
    let Some((_server, _, url)) = Server::start_private(&config).await else {
        return;
    };
    let redis = Redis::connect(&url, RedisOptions::default()).await.unwrap();
    let store = RedisRoomStore::new(redis, RoomOptions::default());
    let rooms = Rooms::new(std::sync::Arc::new(store), |_: &RoomKey| {
        Ok(RoomInit::new().acl(Acl::new(Rights::ALL, Rights::READ)))
    });
    let alice = Principal::app("alice");
    // A client attached before Redis fills up, detaching once it is full.
    let watched = rooms.room("watched").unwrap();
    let client = watched.attach(&alice, None).await.unwrap();
    let value = |room: usize, key: usize| format!("{room}-{key}-{}", "x".repeat(2_000));

    // Fill: rooms of three 2 KB values, until Redis has refused enough writes
    // to be sure it is full (bounded: the limit is reached long before).
    let (mut expected, mut refused) = (BTreeMap::<usize, Expected>::new(), 0);
    for i in 0..2_000 {
        if refused >= 20 {
            break;
        }
        let room = rooms.room(&format!("full-{i}")).unwrap();
        match room.join(&alice).await {
            Ok(_) => {}
            Err(err) => {
                assert_out_of_memory(&err);
                refused += 1;
                continue;
            }
        }
        let entry = expected.entry(i).or_default();
        for k in 0..3 {
            match room.put(&alice, &format!("k{k}"), &value(i, k)).await {
                Ok(_) => {
                    entry.values.insert(format!("k{k}"), value(i, k));
                    entry.writes += 1;
                }
                Err(err) => {
                    assert_out_of_memory(&err);
                    refused += 1;
                }
            }
        }
    }
    eprintln!(
        "{} rooms started, {refused} operations refused",
        expected.len()
    );
    assert!(refused >= 20, "Redis never filled up");
    assert!(
        expected.len() > 10,
        "too few rooms started to check anything"
    );

    // Every started room is whole and holds exactly what was acknowledged.
    for (i, want) in &expected {
        let room = rooms.room(&format!("full-{i}")).unwrap();
        let access = room.access(&alice).await.unwrap();
        assert_eq!(
            access.class,
            CallerClass::Member,
            "room {i} lost its member"
        );
        assert!(access.allows(Right::Write), "room {i} lost its ACL");
        let snapshot = room.snapshot(&alice).await.unwrap();
        let mut held = BTreeMap::new();
        for (key, json) in snapshot.state.iter() {
            held.insert(key.to_string(), json.decode::<String>(key).unwrap());
        }
        assert_eq!(held, want.values, "room {i}: acknowledged writes only");
    }

    // Detaching needs no memory, so it is not refused: the count drops.
    drop(client);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while watched.attached().await.unwrap() != 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "a detach on a full Redis did not land"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }

    // Room state expires, and memory comes back: here the operator raises the
    // limit. The same store works again without a restart.
    let mut admin = redis::Client::open(url.as_str())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("maxmemory")
        .arg("0")
        .query_async(&mut admin)
        .await
        .unwrap();
    let room = rooms
        .room(&format!("after-{}", BrowserId::generate()))
        .unwrap();
    room.join(&alice).await.unwrap();
    room.put(&alice, "k", &"back").await.unwrap();
}

/// A refusal because Redis is full: a typed backend error saying so.
fn assert_out_of_memory(err: &Error) {
    assert!(
        matches!(err, Error::Backend { .. }) && chain(err).contains("OOM"),
        "expected a typed out-of-memory backend error, got {}",
        chain(err)
    );
}
