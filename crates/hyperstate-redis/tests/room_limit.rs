//! `RoomOptions::max_rooms` on Redis: the live rooms of every node on one Redis
//! count, the limit holds under concurrent starts, and a room that expired
//! frees its place. The memory backend's counterpart is in
//! `crates/hyperstate/tests/memory_rooms.rs`.
//!
//! Each test uses a key prefix of its own (the limit counts every room under
//! one prefix), so they can share a Redis with other tests.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use hyperstate::room::{Principal, RoomInit, RoomKey, RoomOptions, Rooms};
use hyperstate::{BrowserId, Error};
use hyperstate_conformance::services::redis_url;
use hyperstate_redis::{Redis, RedisOptions, RedisRoomStore};

/// Two nodes (own connections, stores and registries) on one Redis, under a
/// fresh prefix, each allowing `max_rooms`; rooms idle out after `idle_ttl`.
/// `None` when there is no Redis (see [`redis_url`]).
async fn two_nodes(max_rooms: usize, idle_ttl: Duration) -> Option<(Rooms, Rooms)> {
    let url = &redis_url()?;
    let options = RedisOptions::default().key_prefix(format!("limit-{}:", BrowserId::generate()));
    let node = async |options| {
        let redis = Redis::connect(url, options).await.expect("connecting");
        let store = RedisRoomStore::new(redis, RoomOptions::default().max_rooms(max_rooms));
        Rooms::new(Arc::new(store), move |_: &RoomKey| {
            Ok(RoomInit::new().idle_ttl(idle_ttl))
        })
    };
    Some((node(options.clone()).await, node(options).await))
}

fn refused(result: hyperstate::Result<impl std::fmt::Debug>, limit: usize) {
    match result {
        Err(Error::TooManyRooms { limit: l }) if l == limit => {}
        other => panic!("expected TooManyRooms {{ limit: {limit} }}, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_limit_counts_live_rooms_of_every_node_and_expired_ones_free_it() {
    let Some((a, b)) = two_nodes(3, Duration::from_millis(300)).await else {
        return;
    };
    let who = Principal::app("reader");
    let mut subs = Vec::new();
    for (node, name) in [(&a, "one"), (&b, "two"), (&a, "three")] {
        subs.push(node.room(name).unwrap().attach(&who, None).await.unwrap());
    }
    refused(a.room("four").unwrap().join(&who).await, 3);
    refused(b.room("four").unwrap().join(&who).await, 3);
    // A join starts a room (a read would store nothing). Live rooms are still
    // served at the limit, from either node.
    b.room("one").unwrap().snapshot(&who).await.unwrap();

    // Once one room has expired, a new one may start: after its TTL and the
    // registry's grace of a few seconds (bounded wait; no timing asserted).
    drop(subs.pop());
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match b.room("four").unwrap().join(&who).await {
            Ok(_) => break,
            Err(Error::TooManyRooms { .. }) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(err) => panic!("room four did not start once room three expired: {err:?}"),
        }
    }
    // "four" now holds the freed place.
    refused(a.room("five").unwrap().join(&who).await, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_starts_on_two_nodes_never_exceed_the_limit() {
    // Rooms that outlive the test: none expires and frees a place meanwhile.
    let Some((a, b)) = two_nodes(5, Duration::from_secs(60)).await else {
        return;
    };
    let who = Principal::app("reader");
    let results = join_all((0..40).map(|i| {
        let node = if i % 2 == 0 { &a } else { &b };
        let (room, who) = (node.room(&format!("room-{i}")).unwrap(), &who);
        async move { room.join(who).await }
    }))
    .await;
    let mut started = 0;
    for result in results {
        match result {
            Ok(_) => started += 1,
            refusal => refused(refusal, 5),
        }
    }
    assert_eq!(started, 5, "exactly the limit's worth of rooms started");
}
