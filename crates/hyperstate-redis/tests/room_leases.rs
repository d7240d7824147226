//! A node keeps the rooms it has clients in alive: it refreshes their lease
//! (30 s) every 10 s from a task of its own, and reloads the refresh script
//! when Redis has lost it (a restart, a failover, `SCRIPT FLUSH`).
//!
//! The test runs its own `redis-server` (it flushes the script cache): see
//! `private_redis`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use hyperstate::room::{Acl, Principal, Rights, RoomInit, RoomKey, RoomOptions, Rooms};
use hyperstate_redis::{Redis, RedisOptions, RedisRoomStore};

mod private_redis;
use private_redis::Server;

/// A room's meta key, as `room_keys.rs` lays it out.
const META: &str = "hs:room:{leased}:meta";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attached_rooms_leases_are_refreshed_even_after_a_script_flush() {
    let Some((_server, _, url)) = Server::start_private(&[]).await else {
        return;
    };
    let redis = Redis::connect(&url, RedisOptions::default()).await.unwrap();
    let rooms = Rooms::new(
        Arc::new(RedisRoomStore::new(redis, RoomOptions::default())),
        |_: &RoomKey| Ok(RoomInit::new().acl(Acl::new(Rights::ALL, Rights::ALL))),
    );
    let _client = rooms
        .room("leased")
        .unwrap()
        .attach(&Principal::app("client"), None)
        .await
        .unwrap();

    // Cut every key of the room to 15 s, and make Redis forget every script:
    // only a refresh that reloads its script can bring the lease back to 30 s.
    let mut admin = redis::Client::open(url.as_str())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg("hs:room:{leased}:*")
        .query_async(&mut admin)
        .await
        .unwrap();
    assert!(keys.iter().any(|k| k == META), "the attach stored the room");
    for key in &keys {
        let _: () = redis::cmd("PEXPIRE")
            .arg(key)
            .arg(15_000)
            .query_async(&mut admin)
            .await
            .unwrap();
    }
    let _: () = redis::cmd("SCRIPT")
        .arg("FLUSH")
        .query_async(&mut admin)
        .await
        .unwrap();

    // A refresh comes within 10 s (bounded wait; how soon is not asserted).
    let deadline = Instant::now() + Duration::from_secs(14);
    loop {
        let ttl: i64 = redis::cmd("PTTL")
            .arg(META)
            .query_async(&mut admin)
            .await
            .unwrap();
        if ttl > 20_000 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the lease of an attached room was not refreshed (PTTL {ttl} ms)"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
