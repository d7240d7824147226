//! The leases that keep attached rooms alive, refreshed off the fan-out path.
//!
//! While a node has clients in a room, the room's keys must outlive their idle
//! TTL; if the node crashes they must still expire. So each node refreshes a
//! lease ([`LEASE_MS`]) on every room it has clients in, every third of a lease.
//! With tens of thousands of rooms attached that is tens of thousands of script
//! calls: they run on their own task, pipelined in batches, so the pub/sub task
//! that hands diffs to clients never waits behind them (one round trip per room
//! on that task once delayed deliveries by seconds). Batches are sent one after
//! another, so a batch in flight holds up this node's other commands on the
//! shared connection for at most one batch's work in Redis. On a Redis Cluster
//! a pipeline must stay in one slot, so a batch is sent as concurrent script
//! calls instead (each to its room's shard, multiplexed on the cluster
//! connection).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use futures_util::future::join_all;
use redis::aio::ConnectionManager;
use redis::cluster_async::ClusterConnection;
use redis::{ErrorKind, RedisResult, ServerErrorKind};

use crate::connection::{Connection, Redis};
use crate::room_hub::Hub;
use crate::room_keys::RoomKeys;
use crate::room_scripts::{HEARTBEAT, LEASE_MS};

/// Rooms refreshed per pipelined batch: each refresh is a few microseconds of
/// work in Redis, so one batch stays around a millisecond.
const BATCH: usize = 256;

/// Starts the refresh task of one node's hub, once.
#[derive(Debug, Default)]
pub(crate) struct RoomLeases {
    started: AtomicBool,
}

impl RoomLeases {
    /// Makes sure the task refreshing the leases of `hub`'s rooms runs. It ends
    /// once the hub is dropped. Call from within the runtime.
    pub(crate) fn ensure_running(&self, redis: &Redis, hub: &Arc<Hub>) {
        if !self.started.swap(true, Ordering::AcqRel) {
            tokio::spawn(refresh_forever(redis.clone(), Arc::downgrade(hub)));
        }
    }
}

async fn refresh_forever(redis: Redis, hub: Weak<Hub>) {
    let mut beat = tokio::time::interval(Duration::from_millis(LEASE_MS / 3));
    // A beat missed while Redis was slow is not worth a burst of catch-up beats.
    beat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        beat.tick().await;
        let Some(rooms) = hub.upgrade().map(|hub| hub.attached_rooms()) else {
            return;
        };
        let mut conn = redis.manager.clone();
        for batch in rooms.chunks(BATCH) {
            // One failed batch leaves its rooms a lease to go: the next beat
            // (a third of a lease later) retries them.
            if let Err(err) = refresh(&mut conn, batch).await {
                tracing::warn!(%err, rooms = batch.len(), "room lease refresh failed");
            }
        }
    }
}

/// Refreshes the leases of `rooms`.
async fn refresh(conn: &mut Connection, rooms: &[Arc<RoomKeys>]) -> RedisResult<()> {
    match conn {
        Connection::Single(manager) => refresh_pipelined(manager, rooms).await,
        Connection::Cluster(cluster) => refresh_concurrently(cluster, rooms).await,
    }
}

/// Refreshes the leases of `rooms` (on a cluster, each in its own slot) as
/// concurrent script calls; the first error, if any, after all have run.
async fn refresh_concurrently(
    conn: &ClusterConnection,
    rooms: &[Arc<RoomKeys>],
) -> RedisResult<()> {
    let calls = rooms.iter().map(|keys| {
        let mut conn = conn.clone();
        async move {
            let mut invocation = HEARTBEAT.prepare_invoke();
            keys.apply(&mut invocation);
            invocation.invoke_async::<()>(&mut conn).await
        }
    });
    join_all(calls).await.into_iter().collect()
}

/// Refreshes the leases of `rooms` in one pipeline of `EVALSHA`s, loading the
/// script first if Redis lost it (a restart, a failover).
async fn refresh_pipelined(
    conn: &mut ConnectionManager,
    rooms: &[Arc<RoomKeys>],
) -> RedisResult<()> {
    let mut pipe = redis::pipe();
    for keys in rooms {
        let all = keys.all();
        pipe.cmd("EVALSHA")
            .arg(HEARTBEAT.get_hash())
            .arg(all.len())
            .arg(all)
            .ignore();
    }
    match pipe.query_async::<()>(conn).await {
        Err(err) if err.kind() == ErrorKind::Server(ServerErrorKind::NoScript) => {
            HEARTBEAT.load_async(conn).await?;
            pipe.query_async(conn).await
        }
        other => other,
    }
}
