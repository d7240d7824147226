//! This node's side of room fan-out: one pub/sub connection, one local
//! `broadcast` per room with clients here.
//!
//! Redis publishes every diff and presence count on the room's channel (from the
//! same script that made the change, so in version order). The hub subscribes
//! to a room's channel *before* the attach script runs, so nothing published
//! after the attach's start is missed; diffs published before it may arrive
//! too, and the [`Subscription`](hyperstate::room::Subscription) skips those by
//! version. Pub/sub is at-most-once: a lost message shows up as a version gap,
//! which the subscription turns into a resync.
//!
//! When the pub/sub connection drops, the hub reconnects on its own (with
//! backoff, for as long as rooms here have clients) and resubscribes them; what
//! was published meanwhile is lost, so those clients resync at the next diff.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::Duration;

use futures_util::future::BoxFuture;
use hyperstate::room::Diff;
use tokio::sync::{broadcast, watch};

use crate::connection::Redis;
use crate::room_feed::{self, FeedSink, FeedStream, Message, within};
use crate::room_keys::{RoomKeys, diff, number};

/// One room with clients on this node.
#[derive(Debug)]
pub(crate) struct Local {
    /// Shared with the lease task's list of rooms to refresh.
    keys: Arc<RoomKeys>,
    pub(crate) diffs: broadcast::Sender<Arc<Diff>>,
    pub(crate) presence: watch::Sender<usize>,
    /// The sequence number of the presence count shown; older ones are dropped.
    presence_seq: u64,
    clients: usize,
    subscribed: bool,
}

impl Local {
    /// Shows `count` unless a later count is already shown.
    pub(crate) fn set_presence(&mut self, seq: u64, count: usize) {
        if seq > self.presence_seq {
            self.presence_seq = seq;
            self.presence.send_if_modified(|shown| {
                let changed = *shown != count;
                *shown = count;
                changed
            });
        }
    }
}

#[derive(Debug)]
pub(crate) struct Hub {
    redis: Redis,
    capacity: usize,
    /// Rooms with clients here, by channel.
    rooms: Mutex<HashMap<String, Local>>,
    /// Serializes (un)subscribing and (re)connecting, and holds the sink of the
    /// live pub/sub connection (`None` until the first attach or after it broke).
    sink: tokio::sync::Mutex<Option<FeedSink>>,
    /// Which connection is the current one (each `connect` takes the next
    /// number): the pump of an older one that ends must not touch the newer.
    connection: AtomicU64,
}

/// Backoff between attempts to reopen a lost pub/sub connection.
const RECONNECT_MIN: Duration = Duration::from_millis(50);
const RECONNECT_MAX: Duration = Duration::from_secs(2);

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Nothing panics while the map is held; recover the data if something did.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Hub {
    pub(crate) fn new(redis: Redis, capacity: usize) -> Arc<Hub> {
        Arc::new(Hub {
            redis,
            capacity: capacity.max(1),
            rooms: Mutex::new(HashMap::new()),
            sink: tokio::sync::Mutex::new(None),
            connection: AtomicU64::new(0),
        })
    }

    /// Runs `f` on the room's local entry, if any.
    pub(crate) fn with<R>(&self, channel: &str, f: impl FnOnce(&mut Local) -> R) -> Option<R> {
        lock(&self.rooms).get_mut(channel).map(f)
    }

    /// Registers one more local client of `keys`' room and makes sure this node
    /// is subscribed to its channel; returns its feed.
    pub(crate) async fn join(
        self: &Arc<Self>,
        keys: &RoomKeys,
    ) -> hyperstate::Result<broadcast::Receiver<Arc<Diff>>> {
        let diffs = {
            let mut rooms = lock(&self.rooms);
            let local = rooms.entry(keys.channel.clone()).or_insert_with(|| Local {
                keys: Arc::new(keys.clone()),
                diffs: broadcast::channel(self.capacity).0,
                presence: watch::Sender::new(0),
                presence_seq: 0,
                clients: 0,
                subscribed: false,
            });
            local.clients += 1;
            local.diffs.subscribe()
        };
        if let Err(err) = self.subscribe(&keys.channel).await {
            self.leave(&keys.channel);
            return Err(err);
        }
        Ok(diffs)
    }

    async fn subscribe(self: &Arc<Self>, channel: &str) -> hyperstate::Result<()> {
        let mut sink = self.sink.lock().await;
        if self.with(channel, |l| l.subscribed) != Some(false) {
            return Ok(());
        }
        if sink.is_none() {
            *sink = Some(self.connect().await?);
        }
        let Some(live) = sink.as_mut() else {
            return Ok(());
        };
        if let Err(err) = within(self.redis.response_timeout, live.subscribe(channel)).await {
            // The connection broke (or went silent): the next subscribe reconnects.
            *sink = None;
            return Err(err);
        }
        self.with(channel, |l| l.subscribed = true);
        Ok(())
    }

    /// Opens the pub/sub connection, resubscribes the rooms that have clients
    /// here, and starts the task that fans messages out.
    async fn connect(self: &Arc<Self>) -> hyperstate::Result<FeedSink> {
        let (sink, stream, connection) = self.open().await?;
        tokio::spawn(pump(Arc::downgrade(self), stream, connection));
        Ok(sink)
    }

    /// Opens a pub/sub connection that becomes the current one and resubscribes
    /// the rooms that have clients here. Call with the sink lock held.
    async fn open(&self) -> hyperstate::Result<(FeedSink, FeedStream, u64)> {
        let (mut sink, stream) = room_feed::open(&self.redis).await?;
        let channels: Vec<String> = {
            let mut rooms = lock(&self.rooms);
            rooms.values_mut().for_each(|l| l.subscribed = false);
            rooms.keys().cloned().collect()
        };
        for channel in channels {
            within(self.redis.response_timeout, sink.subscribe(&channel)).await?;
            self.with(&channel, |l| l.subscribed = true);
        }
        let connection = self.connection.fetch_add(1, Ordering::AcqRel) + 1;
        Ok((sink, stream, connection))
    }

    /// One local client of the room on `channel` left; unsubscribes when it was
    /// the last.
    pub(crate) fn leave(self: &Arc<Self>, channel: &str) {
        let emptied = {
            let mut rooms = lock(&self.rooms);
            match rooms.get_mut(channel) {
                Some(local) => {
                    local.clients -= 1;
                    local.clients == 0 && rooms.remove(channel).is_some()
                }
                None => false,
            }
        };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        if emptied {
            let hub = self.clone();
            let channel = channel.to_owned();
            runtime.spawn(async move {
                let mut sink = hub.sink.lock().await;
                // Someone may have joined again meanwhile: then stay subscribed.
                if hub.with(&channel, |_| ()).is_some() {
                    return;
                }
                if let Some(live) = sink.as_mut() {
                    let limit = hub.redis.response_timeout;
                    if within(limit, live.unsubscribe(&channel)).await.is_err() {
                        *sink = None;
                    }
                }
            });
        }
    }

    /// Subscribes `channel` again after the server dropped the subscription
    /// (its slot moved to another shard), if this node still has clients in
    /// the room; the subscription then reaches the slot's new owner.
    /// Boxed: it runs on a task the pump spawns, and the pump is itself
    /// spawned by a subscribe.
    fn resubscribe(self: Arc<Self>, channel: String) -> BoxFuture<'static, ()> {
        Box::pin(async move {
            if self.with(&channel, |l| l.subscribed = false).is_none() {
                return;
            }
            if let Err(err) = self.subscribe(&channel).await {
                tracing::warn!(%err, channel, "room resubscribe after a slot move failed");
            }
        })
    }

    fn dispatch(&self, channel: &str, payload: &[u8]) {
        let Some((&tag, body)) = payload.split_first() else {
            return;
        };
        match tag {
            b'd' => match diff("subscribe", body) {
                Ok(diff) => {
                    // No receiver is fine: the clients just left.
                    self.with(channel, |l| l.diffs.send(diff));
                }
                Err(err) => tracing::warn!(%err, channel, "dropping a malformed room diff"),
            },
            b'p' => {
                let parsed = std::str::from_utf8(body).ok().and_then(|b| {
                    let (seq, count) = b.split_once(':')?;
                    Some((
                        number::<u64>("subscribe", seq.as_bytes()).ok()?,
                        number::<usize>("subscribe", count.as_bytes()).ok()?,
                    ))
                });
                if let Some((seq, count)) = parsed {
                    self.with(channel, |l| l.set_presence(seq, count));
                }
            }
            _ => tracing::warn!(channel, "dropping an unknown room message"),
        }
    }

    /// The rooms with clients here, whose leases this node refreshes
    /// (see [`crate::room_leases`]).
    pub(crate) fn attached_rooms(&self) -> Vec<Arc<RoomKeys>> {
        lock(&self.rooms).values().map(|l| l.keys.clone()).collect()
    }
}

/// Fans pub/sub messages out until the hub is dropped; when the connection
/// ends, reconnects (see [`reconnect`]) and goes on with the new one, or ends if
/// there is nothing to reconnect for. It does nothing else, so no bookkeeping
/// delays a delivery (leases are refreshed by [`crate::room_leases`]). A room
/// whose shard dropped its subscription (its slot moved) is subscribed again.
async fn pump(hub: Weak<Hub>, mut stream: FeedStream, mut connection: u64) {
    loop {
        let Some(msg) = stream.next().await else {
            tracing::warn!("room pub/sub connection lost; reconnecting");
            match reconnect(&hub, connection).await {
                Some((next, number)) => (stream, connection) = (next, number),
                None => return,
            }
            continue;
        };
        let Some(hub) = hub.upgrade() else { return };
        match msg {
            Message::Published { channel, payload } => hub.dispatch(&channel, &payload),
            Message::Unsubscribed(channel) => {
                tokio::spawn(hub.resubscribe(channel));
            }
            Message::Other => {}
        }
    }
}

/// Replaces lost connection number `connection`, retrying with backoff until it
/// works (answering the new connection's stream and number), a newer connection
/// exists, no room here has clients (the next attach connects), or the hub is
/// dropped (answering `None` for those).
async fn reconnect(hub: &Weak<Hub>, connection: u64) -> Option<(FeedStream, u64)> {
    let mut delay = RECONNECT_MIN;
    loop {
        let hub = hub.upgrade()?;
        {
            let mut sink = hub.sink.lock().await;
            if hub.connection.load(Ordering::Acquire) != connection {
                return None;
            }
            *sink = None;
            if lock(&hub.rooms).is_empty() {
                return None;
            }
            // Each call `open` makes is bounded (`within`), so the sink lock,
            // which attaches here wait for, is never held indefinitely.
            match hub.open().await {
                Ok((live, stream, number)) => {
                    *sink = Some(live);
                    tracing::info!("room pub/sub connection restored");
                    return Some((stream, number));
                }
                Err(err) => tracing::warn!(%err, "room pub/sub reconnect failed"),
            }
        }
        drop(hub);
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(RECONNECT_MAX);
    }
}
