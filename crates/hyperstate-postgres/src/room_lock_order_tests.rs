//! Room transactions of two nodes on a few rooms at once never deadlock: every
//! one locks a room's row before the rows that hang off it (attach counts,
//! members, the diff log), and one that locks several rooms locks them in name
//! order. Attaches, detaches, writes and lease refreshes run here flat out,
//! with no retry, and every transaction PostgreSQL aborts as a deadlock
//! (SQLSTATE 40P01) is counted.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use hyperstate::room::{Acl, Json, MemberKey, Right, Rights, RoomInit, RoomKey, RoomOptions};
use hyperstate::{Error, Result};
use hyperstate_conformance::services::postgres_url;

use crate::room_attach::{attach, detach};
use crate::room_hub::Hub;
use crate::room_txn::{Inner, Opened};
use crate::{Postgres, PostgresOptions};

/// Rooms shared by both nodes: few, so the nodes meet on them often.
const ROOMS: usize = 3;
/// Clients attaching and detaching per node and room.
const CLIENTS: usize = 2;
/// Attach-detach rounds per client, writes per writer, refreshes per node.
const ROUNDS: usize = 30;

fn is_deadlock(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause = Some(err);
    while let Some(err) = cause {
        if let Some(sqlx::Error::Database(db)) = err.downcast_ref::<sqlx::Error>() {
            return db.code().as_deref() == Some("40P01");
        }
        cause = err.source();
    }
    false
}

/// Counts a deadlock; any other failure fails the test.
fn tally<T>(
    deadlocks: &AtomicUsize,
    what: &str,
    result: std::result::Result<T, impl std::error::Error + 'static>,
) {
    if let Err(err) = result {
        assert!(is_deadlock(&err), "{what} failed: {err}");
        deadlocks.fetch_add(1, Ordering::Relaxed);
    }
}

/// Once one deadlock is seen the test has failed; the workers stop rather than
/// wait out PostgreSQL's deadlock timeout again and again.
fn seen(deadlocks: &AtomicUsize) -> bool {
    deadlocks.load(Ordering::Relaxed) > 0
}

async fn node(url: &str, name: &str) -> Arc<Inner> {
    let db = Postgres::connect(url, PostgresOptions::default().max_connections(12))
        .await
        .expect("connects");
    let options = RoomOptions::default();
    Arc::new(Inner {
        hub: Hub::new(db.clone(), options.channel_capacity, name.to_owned()),
        db,
        options,
    })
}

fn init() -> Result<RoomInit> {
    Ok(RoomInit::new().acl(Acl::new(Rights::ALL, Rights::ALL)))
}

async fn put(inner: &Inner, room: &RoomKey, caller: &MemberKey, n: usize) -> Result<()> {
    let call = hyperstate::backend::Call {
        room,
        caller,
        init: &init,
    };
    let Opened::Live(tx, locked) = inner
        .open(call, "put", Some(Right::Write), Some("n"), true)
        .await?
    else {
        return Err(Error::backend(
            "postgres",
            "put",
            "a started room is absent",
        ));
    };
    let value = Json::from_bytes(n.to_string().into_bytes());
    inner.put(tx, call, &locked, "n", value, "put").await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn room_transactions_of_two_nodes_do_not_deadlock() {
    let Some(url) = postgres_url() else { return };
    let run = hyperstate::BrowserId::generate().to_string();
    let nodes = [
        node(&url, &format!("a-{run}")).await,
        node(&url, &format!("b-{run}")).await,
    ];
    let rooms: Vec<RoomKey> = (0..ROOMS)
        .map(|i| RoomKey::parse(&format!("lock-order-{run}-{i}")).expect("a valid room key"))
        .collect();
    // Every node has every room in its hub, so its lease refresh covers them all.
    for inner in &nodes {
        for room in &rooms {
            inner.hub.join(room.as_str()).await.expect("listens");
        }
    }
    let deadlocks = Arc::new(AtomicUsize::new(0));
    let mut tasks = tokio::task::JoinSet::new();
    for (n, inner) in nodes.iter().enumerate() {
        for (r, room) in rooms.iter().enumerate() {
            for c in 0..CLIENTS {
                let (inner, room, deadlocks) = (inner.clone(), room.clone(), deadlocks.clone());
                let caller = MemberKey::from_bytes([(n * 64 + r * 8 + c) as u8; 16]);
                tasks.spawn(async move {
                    for _ in 0..ROUNDS {
                        if seen(&deadlocks) {
                            break;
                        }
                        let call = hyperstate::backend::Call {
                            room: &room,
                            caller: &caller,
                            init: &init,
                        };
                        match attach(&inner, call, None).await {
                            Ok(_) => {
                                tally(&deadlocks, "detach", detach(&inner, room.as_str()).await)
                            }
                            err => tally(&deadlocks, "attach", err),
                        }
                    }
                });
            }
            let (inner, room, deadlocks) = (inner.clone(), room.clone(), deadlocks.clone());
            let caller = MemberKey::from_bytes([(n * 64 + r * 8 + 7) as u8; 16]);
            tasks.spawn(async move {
                for i in 0..ROUNDS {
                    if seen(&deadlocks) {
                        break;
                    }
                    tally(&deadlocks, "put", put(&inner, &room, &caller, i).await);
                }
            });
        }
        let (inner, deadlocks) = (inner.clone(), deadlocks.clone());
        tasks.spawn(async move {
            for _ in 0..ROUNDS * 2 {
                if seen(&deadlocks) {
                    break;
                }
                tally(
                    &deadlocks,
                    "lease refresh",
                    inner.hub.refresh_leases().await,
                );
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.expect("no task panics");
    }
    let deadlocks = deadlocks.load(Ordering::Relaxed);
    eprintln!("deadlocks: {deadlocks}");
    assert_eq!(
        deadlocks, 0,
        "room transactions deadlocked {deadlocks} times"
    );
}
