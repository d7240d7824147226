//! PostgreSQL stopped and started again while a client on another node is
//! attached to a room: writes fail with a typed backend error while it is down,
//! and once it is back the same stores work again, and the other node's
//! listening connection comes back by itself and delivers the next diffs, with
//! nothing acknowledged lost.
//!
//! Needs the private server of `scripts/services/postgres.sh` (see
//! `hyperstate_conformance::services::private_postgres`).

use std::time::Duration;

use hyperstate::room::{Principal, RoomEvent, RoomInit, RoomKey, RoomOptions, Rooms, Subscription};
use hyperstate::{BrowserId, Error};
use hyperstate_postgres::{PgRoomStore, Postgres, PostgresOptions};
use tokio::time::timeout;

use hyperstate_conformance::services::{PostgresStopped as Stopped, private_postgres};

/// Bound on every wait of the test: no step may hang the suite.
const BOUND: Duration = Duration::from_secs(30);

async fn node(url: &str) -> Rooms {
    let db = Postgres::connect(url, PostgresOptions::default().max_connections(4))
        .await
        .unwrap();
    let store = std::sync::Arc::new(PgRoomStore::new(db, RoomOptions::default()));
    Rooms::new(store, |_: &RoomKey| RoomInit::new().value("n", &0))
}

/// Reads `sub` until it is at `version` or later; returns the value of `n` it
/// last saw (from a diff or a resync).
async fn follow_to(sub: &mut Subscription, version: u64, mut n: i64) -> i64 {
    while sub.version() < version {
        let event = timeout(BOUND, sub.next())
            .await
            .expect("the other node delivers within the bound")
            .expect("the subscription goes on")
            .expect("no error once PostgreSQL is back");
        match event {
            RoomEvent::Diff(diff) if diff.change.key() == Some("n") => {
                n = diff.value::<i64>().unwrap().unwrap();
            }
            RoomEvent::Snapshot(s) | RoomEvent::Resync(s) => n = s.get_or("n", 0i64).unwrap(),
            _ => {}
        }
    }
    n
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_listening_connection_recovers_and_nothing_acknowledged_is_lost() {
    let Some(url) = private_postgres() else {
        return;
    };
    let (a, b) = (node(&url).await, node(&url).await);
    let name = format!("outage-{}", BrowserId::generate());
    let (room_a, room_b) = (a.room(&name).unwrap(), b.room(&name).unwrap());
    let alice = Principal::app("alice");
    assert!(room_a.join(&alice).await.unwrap());
    let mut sub = room_b.attach(&alice, None).await.unwrap();

    // Before: a write on A reaches the client on B.
    let v = room_a.put(&alice, "n", &1).await.unwrap();
    assert_eq!(follow_to(&mut sub, v, 0).await, 1);

    let stopped = tokio::task::spawn_blocking(Stopped::stop).await.unwrap();
    let err = timeout(BOUND, room_a.put(&alice, "n", &2))
        .await
        .expect("bounded")
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Backend {
                backend: "postgres",
                ..
            }
        ),
        "expected a postgres backend error, got {err:?}"
    );
    tokio::task::spawn_blocking(|| stopped.start())
        .await
        .unwrap();

    // After: the same stores, no restart; the first write that succeeds and
    // the ones after it reach B.
    let mut acknowledged = None;
    timeout(BOUND, async {
        for value in 3.. {
            match room_a.put(&alice, "n", &value).await {
                Ok(v) => {
                    acknowledged = Some((v, value));
                    return;
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    })
    .await
    .expect("writes succeed again once PostgreSQL is back");
    let (v, value) = acknowledged.unwrap();
    let last = room_a.put(&alice, "n", &(value + 1)).await.unwrap();
    assert_eq!(last, v + 1);
    assert_eq!(follow_to(&mut sub, last, 1).await, value + 1);
    assert_eq!(room_b.get_or(&alice, "n", 0i64).await.unwrap(), value + 1);
}
