//! This node's side of room fan-out: one `LISTEN` connection, one local
//! `broadcast` per room with clients here.
//!
//! Every write NOTIFYs its diff on one channel from the transaction that made
//! it, under the room's row lock, so notifications arrive in version order. The
//! hub listens *before* an attach reads its start, so nothing committed after
//! the start is missed; diffs from before it may arrive too, and the
//! [`Subscription`](hyperstate::room::Subscription) skips those by version.
//!
//! When the listening connection drops, the hub reconnects on its own (with
//! backoff) and then replays, from the diff log, what each room here missed
//! meanwhile; a diff no longer logged shows up as a version gap, which the
//! subscription turns into a resync. While it is down, attaches fail with a
//! backend error instead of handing out a feed that would stay silent.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::Duration;

use hyperstate::room::Diff;
use hyperstate::{Error, Result};
use sqlx::postgres::PgListener;
use tokio::sync::{broadcast, watch};

use crate::connection::Postgres;
use crate::error::BACKEND;
use crate::room_codec::{CHANNEL, Notice, decode_diff};

/// How long an attached room lives without its node's heartbeat (ms). Nodes
/// refresh it for the rooms they have clients in, so a crashed node's clients
/// stop counting and its rooms still expire.
pub(crate) const LEASE_MS: i64 = 30_000;
/// Backoff between attempts to reopen a lost listening connection.
const RECONNECT_MIN: Duration = Duration::from_millis(50);
const RECONNECT_MAX: Duration = Duration::from_secs(2);

/// One room with clients on this node.
#[derive(Debug)]
struct Local {
    diffs: broadcast::Sender<Arc<Diff>>,
    presence: watch::Sender<usize>,
    /// The sequence number of the presence count shown; older ones are dropped.
    presence_seq: u64,
    /// The last version forwarded here, where a replay after a reconnect starts.
    version: u64,
    clients: usize,
}

#[derive(Debug)]
pub(crate) struct Hub {
    db: Postgres,
    capacity: usize,
    /// Names this node's rows in `hyperstate_room_attached`.
    pub(crate) node: String,
    rooms: Mutex<HashMap<String, Local>>,
    /// Whether the listening connection is up (and the task started at all).
    listening: watch::Sender<bool>,
    started: std::sync::Once,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Nothing panics while the map is held; recover the data if something did.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Hub {
    pub(crate) fn new(db: Postgres, capacity: usize, node: String) -> Arc<Hub> {
        Arc::new(Hub {
            db,
            capacity: capacity.max(1),
            node,
            rooms: Mutex::new(HashMap::new()),
            listening: watch::Sender::new(false),
            started: std::sync::Once::new(),
        })
    }

    /// Registers one more local client of `room` and waits (bounded) until this
    /// node listens; returns its feed and its presence.
    pub(crate) async fn join(
        self: &Arc<Self>,
        room: &str,
    ) -> Result<(broadcast::Receiver<Arc<Diff>>, watch::Receiver<usize>)> {
        self.started.call_once(|| {
            tokio::spawn(listen(Arc::downgrade(self), self.db.clone()));
        });
        let feeds = {
            let mut rooms = lock(&self.rooms);
            let local = rooms.entry(room.to_owned()).or_insert_with(|| Local {
                diffs: broadcast::channel(self.capacity).0,
                presence: watch::Sender::new(0),
                presence_seq: 0,
                version: 0,
                clients: 0,
            });
            local.clients += 1;
            (local.diffs.subscribe(), local.presence.subscribe())
        };
        let mut listening = self.listening.subscribe();
        let wait = listening.wait_for(|up| *up);
        match tokio::time::timeout(self.db.acquire_timeout, wait).await {
            Ok(Ok(_)) => Ok(feeds),
            _ => {
                self.leave(room);
                Err(Error::backend(
                    BACKEND,
                    "attach",
                    "the room notification connection is down",
                ))
            }
        }
    }

    /// One local client of `room` left.
    pub(crate) fn leave(&self, room: &str) {
        let mut rooms = lock(&self.rooms);
        if let Some(local) = rooms.get_mut(room) {
            local.clients -= 1;
            if local.clients == 0 {
                rooms.remove(room);
            }
        }
    }

    /// Notes the version an attach started at and shows its presence count.
    pub(crate) fn attached(&self, room: &str, version: u64, seq: u64, count: usize) {
        if let Some(local) = lock(&self.rooms).get_mut(room) {
            local.version = local.version.max(version);
            set_presence(local, seq, count);
        }
    }

    pub(crate) fn presence(&self, room: &str, seq: u64, count: usize) {
        if let Some(local) = lock(&self.rooms).get_mut(room) {
            set_presence(local, seq, count);
        }
    }

    fn forward(&self, room: &str, diff: Arc<Diff>) {
        if let Some(local) = lock(&self.rooms).get_mut(room) {
            local.version = local.version.max(diff.version);
            // No receiver is fine: the clients just left.
            let _ = local.diffs.send(diff);
        }
    }

    fn is_local(&self, room: &str) -> bool {
        lock(&self.rooms).contains_key(room)
    }

    async fn dispatch(&self, payload: &str) {
        match Notice::decode(payload) {
            Some(Notice::Diff { room, diff }) if self.is_local(&room) => {
                match decode_diff("listen", &diff) {
                    Ok(diff) => self.forward(&room, diff),
                    Err(err) => tracing::warn!(%err, room, "dropping a malformed room diff"),
                }
            }
            Some(Notice::Large { room, version }) if self.is_local(&room) => {
                // Read from the log; if it is gone already, the gap resyncs.
                match self.logged(&room, version, version).await {
                    Ok(diffs) => diffs.into_iter().for_each(|d| self.forward(&room, d)),
                    Err(err) => tracing::warn!(%err, room, "reading a large room diff failed"),
                }
            }
            Some(Notice::Presence { room, seq, count }) => self.presence(&room, seq, count),
            Some(_) => {} // a room with no clients here
            None => tracing::warn!("dropping an unknown room notification"),
        }
    }

    /// Logged diffs of `room` with versions in `from..=to`, in order.
    async fn logged(&self, room: &str, from: u64, to: u64) -> Result<Vec<Arc<Diff>>> {
        let rows: Vec<(String,)> = sqlx::query_as(
            "SELECT diff FROM hyperstate_room_diffs
             WHERE room = $1 AND version BETWEEN $2 AND $3 ORDER BY version",
        )
        .bind(room)
        .bind(i64::try_from(from).unwrap_or(i64::MAX))
        .bind(i64::try_from(to).unwrap_or(i64::MAX))
        .fetch_all(&self.db.pool)
        .await
        .map_err(|err| Error::backend(BACKEND, "listen", err))?;
        rows.iter().map(|(d,)| decode_diff("listen", d)).collect()
    }

    /// After a reconnect: forwards what each room here missed while the
    /// connection was down, and its current presence.
    async fn catch_up(&self) {
        let rooms: Vec<(String, u64)> = lock(&self.rooms)
            .iter()
            .map(|(room, local)| (room.clone(), local.version))
            .collect();
        for (room, version) in rooms {
            match self.logged(&room, version + 1, i64::MAX as u64).await {
                Ok(diffs) => diffs.into_iter().for_each(|d| self.forward(&room, d)),
                Err(err) => tracing::warn!(%err, room, "room catch-up failed"),
            }
            let presence: std::result::Result<Option<(i64, i64)>, _> = sqlx::query_as(
                "SELECT r.presence_seq, (SELECT coalesce(sum(a.count), 0) FROM hyperstate_room_attached a
                     WHERE a.room = r.room AND a.lease_until > clock_timestamp())::bigint
                 FROM hyperstate_rooms r WHERE r.room = $1",
            )
            .bind(&room)
            .fetch_optional(&self.db.pool)
            .await;
            if let Ok(Some((seq, count))) = presence {
                self.presence(&room, seq as u64, count.max(0) as usize);
            }
        }
    }

    /// Refreshes the lease of every room with clients here. Only those: the
    /// count of a room whose detach failed (PostgreSQL was down) then runs out
    /// with its lease once the room has no client here.
    async fn heartbeat(&self) {
        if let Err(err) = self.refresh_leases().await {
            tracing::warn!(%err, "room lease refresh failed");
        }
    }

    /// One lease refresh of this node's rooms, in one transaction. It locks
    /// rows in the order every room transaction does: room rows first, then the
    /// attach counts under them. The room rows go in name order, so two nodes'
    /// refreshes cannot each hold a room the other waits for; locking the count
    /// first would deadlock with an attach or detach holding the room's row.
    pub(crate) async fn refresh_leases(&self) -> std::result::Result<(), sqlx::Error> {
        let rooms: Vec<String> = lock(&self.rooms).keys().cloned().collect();
        if rooms.is_empty() {
            return Ok(());
        }
        let mut tx = self.db.pool.begin().await?;
        // An expired room needs no lease: it is treated as absent, and its
        // counts go with its row.
        let live: Vec<String> = sqlx::query_scalar(
            "SELECT room FROM hyperstate_rooms
             WHERE room = ANY($1) AND expires_at > clock_timestamp()
             ORDER BY room FOR UPDATE",
        )
        .bind(&rooms)
        .fetch_all(&mut *tx)
        .await?;
        if live.is_empty() {
            return tx.commit().await;
        }
        sqlx::query(
            "WITH mine AS (
                 UPDATE hyperstate_room_attached
                 SET lease_until = clock_timestamp() + $2 * interval '1 millisecond'
                 WHERE node = $1 AND count > 0 AND room = ANY($3) RETURNING room
             )
             UPDATE hyperstate_rooms
             SET expires_at = greatest(expires_at, clock_timestamp() + $2 * interval '1 millisecond')
             WHERE room IN (SELECT room FROM mine)",
        )
        .bind(&self.node)
        .bind(LEASE_MS)
        .bind(&live)
        .execute(&mut *tx)
        .await?;
        tx.commit().await
    }
}

/// Shows `count` unless a later count is already shown.
fn set_presence(local: &mut Local, seq: u64, count: usize) {
    if seq > local.presence_seq {
        local.presence_seq = seq;
        local.presence.send_if_modified(|shown| {
            let changed = *shown != count;
            *shown = count;
            changed
        });
    }
}

/// Listens, fans notifications out and refreshes leases until the hub is
/// dropped; reconnects (with backoff) whenever the connection is lost.
async fn listen(hub: Weak<Hub>, db: Postgres) {
    let mut delay = RECONNECT_MIN;
    let mut reconnecting = false;
    loop {
        let listener = async {
            let mut listener = PgListener::connect_with(&db.pool).await?;
            listener.listen(CHANNEL).await?;
            Ok::<_, sqlx::Error>(listener)
        };
        let mut listener = match listener.await {
            Ok(listener) => listener,
            Err(err) => {
                tracing::warn!(%err, "room notification connection failed; retrying");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(RECONNECT_MAX);
                if hub.strong_count() == 0 {
                    return;
                }
                continue;
            }
        };
        delay = RECONNECT_MIN;
        {
            let Some(hub) = hub.upgrade() else { return };
            if reconnecting {
                tracing::info!("room notification connection restored");
                hub.catch_up().await;
            }
            hub.listening.send_replace(true);
        }
        reconnecting = true;
        let mut beat = tokio::time::interval(Duration::from_millis(LEASE_MS as u64 / 3));
        loop {
            tokio::select! {
                notice = listener.try_recv() => {
                    let Some(hub) = hub.upgrade() else { return };
                    match notice {
                        Ok(Some(notice)) => hub.dispatch(notice.payload()).await,
                        // Lost: what is published until the new connection listens is
                        // missed, and replayed from the log by `catch_up`.
                        Ok(None) | Err(_) => {
                            tracing::warn!("room notification connection lost; reconnecting");
                            hub.listening.send_replace(false);
                            break;
                        }
                    }
                }
                _ = beat.tick() => {
                    let Some(hub) = hub.upgrade() else { return };
                    hub.heartbeat().await;
                }
            }
        }
    }
}
