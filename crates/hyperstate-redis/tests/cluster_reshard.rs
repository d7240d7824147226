//! A resharding under load on a real Redis Cluster: the slots of rooms with
//! clients move to other primaries while nodes keep writing. Operations meet
//! the move as typed backend errors at worst (never a panic or a wrong answer),
//! every acknowledged write is still there afterwards, and clients attached
//! before the move receive diffs after it, without restarting anything.
//!
//! The cluster comes from `HYPERSTATE_REDIS_CLUSTER_URL`
//! (scripts/services/redis_cluster.sh); without it the test skips loudly,
//! except under `CI=true`. Bounded: a fixed number of writes per room.

use std::sync::Arc;
use std::time::Duration;

use hyperstate::room::{Acl, Principal, Rights, RoomEvent, RoomInit, RoomKey, RoomOptions, Rooms};
use hyperstate::{BrowserId, Error};
use hyperstate_conformance::redis_cluster as cluster;
use hyperstate_conformance::services::redis_cluster_url;
use hyperstate_redis::{Redis, RedisOptions, RedisRoomStore};

/// A bound on waiting for one diff (not a timing assertion).
const PATIENCE: Duration = Duration::from_secs(10);
/// Writes per room while its slot moves.
const WRITES: u64 = 400;

async fn node(url: &str) -> Rooms {
    let redis = Redis::connect(url, RedisOptions::default())
        .await
        .expect("connecting to the cluster");
    let store = RedisRoomStore::new(redis, RoomOptions::default());
    Rooms::new(Arc::new(store), |_: &RoomKey| {
        Ok(RoomInit::new().acl(Acl::new(Rights::ALL, Rights::ALL)))
    })
}

/// Writes 0..WRITES to the room's key `n`, one at a time; answers the last
/// acknowledged value, the last attempted one, and how many writes failed
/// (each failure must be a typed backend error).
async fn write_through(rooms: Rooms, name: String) -> (Option<u64>, u64, usize) {
    let (who, room) = (Principal::app("writer"), rooms.room(&name).unwrap());
    let (mut acked, mut failed) = (None, 0);
    for i in 0..WRITES {
        match room.put(&who, "n", &i).await {
            Ok(_version) => acked = Some(i),
            Err(Error::Backend { .. }) => failed += 1,
            Err(other) => panic!("room {name}: an untyped failure during the move: {other:?}"),
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    (acked, WRITES - 1, failed)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moving_slots_under_load_loses_no_acknowledged_write_and_recovers() {
    let Some(url) = redis_cluster_url() else {
        return;
    };
    let (a, b) = (node(&url).await, node(&url).await);
    let names =
        cluster::rooms_on_every_shard(&url, &format!("reshard-{}", BrowserId::generate())).await;
    let who = Principal::app("reader");
    let mut subs = Vec::new();
    for name in &names {
        a.room(name).unwrap().put(&who, "n", &0).await.unwrap();
        subs.push(b.room(name).unwrap().attach(&who, None).await.unwrap());
    }
    let writers: Vec<_> = names
        .iter()
        .map(|name| tokio::spawn(write_through(a.clone(), name.clone())))
        .collect();
    // Each room's slot moves to the next primary, while the writers run.
    let primaries = cluster::primaries(&url).await;
    for name in &names {
        let slot = cluster::slot(&url, name).await;
        let from = primaries.iter().position(|p| p.owns(slot)).unwrap();
        let to = (from + 1) % primaries.len();
        cluster::move_slot(
            &primaries[from],
            &primaries[to],
            slot,
            Duration::from_millis(50),
        )
        .await;
    }
    let mut failures = 0;
    for (name, writer) in names.iter().zip(writers) {
        let (acked, attempted, failed) = writer.await.unwrap();
        failures += failed;
        let stored: u64 = a
            .room(name)
            .unwrap()
            .get_or(&who, "n", u64::MAX)
            .await
            .unwrap();
        let acked = acked.expect("some writes were acknowledged");
        assert!(
            stored == acked || stored == attempted,
            "room {name}: stored {stored}, last acknowledged {acked}"
        );
    }
    eprintln!("{failures} writes failed with a typed error during the moves");
    // Recovery: a write after the moves reaches the clients attached before.
    for (name, sub) in names.iter().zip(&mut subs) {
        a.room(name)
            .unwrap()
            .put(&who, "after", &true)
            .await
            .unwrap();
        loop {
            match tokio::time::timeout(PATIENCE, sub.next()).await {
                Ok(Some(Ok(RoomEvent::Diff(diff)))) if diff.change.key() == Some("after") => break,
                Ok(Some(Ok(RoomEvent::Resync(snapshot))))
                    if snapshot.state.contains_key("after") =>
                {
                    break;
                }
                Ok(Some(Ok(_))) => {}
                other => panic!("room {name}: no diff after its slot moved: {other:?}"),
            }
        }
    }
}
