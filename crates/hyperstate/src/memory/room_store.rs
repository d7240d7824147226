//! Room state in process memory.
//!
//! # Layout and locking
//!
//! A registry (one mutex around a map from room key to cell) and, per room, a
//! [`Cell`] whose own mutex guards the state, members and replay buffer. The
//! registry lock is held only to find, insert or remove a cell, never while the
//! app's spec runs or a room changes, so rooms never wait on each other.
//!
//! Lock order, which rules out deadlock: a thread holding the registry lock only
//! ever *tries* a room lock (the sweeper); a thread holding a room lock never
//! takes the registry lock. A room leaves the registry after being marked
//! removed; anyone who finds it removed under them starts over, so no write
//! lands in a room nobody can see.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use tokio::time::Instant;

use super::budget::Budget;
use super::room_cell::{Cell, Detach, Live, lock};
use crate::page::UpdateFn;
use crate::room::{
    Access, AttachGuard, Attachment, Call, Diff, Json, Right, RoomKey, RoomOptions, RoomStore,
    Snapshot, Write, class_of,
};
use crate::{Error, Result};

/// The default memory budget of a [`MemoryRoomStore`]: 256 MiB.
pub const DEFAULT_ROOM_MEMORY: usize = 256 * 1024 * 1024;

/// A snapshot of a memory room store's counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct MemoryRoomStats {
    /// Rooms currently held (including expired ones not yet swept).
    pub rooms: usize,
    /// Bytes accounted against the budget.
    pub bytes_used: usize,
    /// The budget.
    pub memory_limit: usize,
}

/// Room state in process memory. Cheap to clone; clones share the rooms.
///
/// Bounded by [`RoomOptions`] and a total byte budget: a write that would exceed
/// the budget fails with [`Error::StoreFull`]. Live rooms are never evicted.
#[derive(Debug, Clone, Default)]
pub struct MemoryRoomStore {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    options: RoomOptions,
    /// Timestamps are milliseconds since this instant on tokio's clock, so tests
    /// can pause and advance time.
    epoch: Instant,
    rooms: Mutex<HashMap<RoomKey, Arc<Cell>>>,
    budget: Budget,
    /// Mirrors the registry's size for the metrics system.
    live_rooms: metrics::Gauge,
    /// The highest version any dropped room reached: a restarted room starts
    /// above it, so stale `Last-Event-ID`s resync.
    version_floor: AtomicU64,
}

impl Default for Inner {
    fn default() -> Self {
        Inner::new(RoomOptions::default(), DEFAULT_ROOM_MEMORY)
    }
}

impl MemoryRoomStore {
    /// A store with the given options and total memory budget in bytes.
    pub fn new(options: RoomOptions, memory_limit: usize) -> Self {
        MemoryRoomStore {
            inner: Arc::new(Inner::new(options, memory_limit)),
        }
    }

    /// The store's counters.
    pub fn stats(&self) -> MemoryRoomStats {
        MemoryRoomStats {
            rooms: lock(&self.inner.rooms).len(),
            bytes_used: self.inner.budget.used(),
            memory_limit: self.inner.budget.limit(),
        }
    }
}

impl Inner {
    fn new(options: RoomOptions, memory_limit: usize) -> Self {
        Inner {
            options,
            epoch: Instant::now(),
            rooms: Mutex::new(HashMap::new()),
            budget: Budget::new(
                memory_limit,
                metrics::gauge!("hyperstate_memory_bytes", "scope" => "room"),
            ),
            live_rooms: metrics::gauge!("hyperstate_live_rooms", "backend" => "memory"),
            version_floor: AtomicU64::new(0),
        }
    }

    fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    /// The first version of a room starting now: the wall clock in microseconds
    /// (so versions also rise across process restarts), and above every version
    /// a dropped room of this store reached.
    fn first_version(&self) -> u64 {
        let micros = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_micros() as u64);
        micros.max(self.version_floor.load(Ordering::Relaxed) + 1)
    }

    fn retire(&self, live: &mut Live) {
        self.version_floor
            .fetch_max(live.version, Ordering::Relaxed);
        live.retire(&self.budget);
    }

    /// Starts room `call.room` unless someone else did meanwhile.
    fn start(&self, call: Call<'_>) -> Result<Arc<Cell>> {
        // The spec is app code: it runs outside every lock.
        let init = (call.init)()?;
        let bytes = init.checked_bytes(&self.options.limits)?;
        let cost = Cell::initial_cost(&init, &self.options);
        if !self.budget.try_take(cost) {
            return Err(Error::StoreFull {
                limit: self.budget.limit(),
            });
        }
        let mut rooms = lock(&self.rooms);
        if let Some(existing) = rooms.get(call.room) {
            let existing = existing.clone();
            self.budget.give_back(cost);
            return Ok(existing);
        }
        if rooms.len() >= self.options.max_rooms {
            // Expired rooms the sweeper has not reached yet must not count.
            self.sweep_locked(&mut rooms);
            if rooms.len() >= self.options.max_rooms {
                self.budget.give_back(cost);
                return Err(Error::TooManyRooms {
                    limit: self.options.max_rooms,
                });
            }
        }
        let cell = Arc::new(Cell::new(
            init,
            bytes,
            self.first_version(),
            self.now_ms(),
            cost,
            &self.options,
        ));
        rooms.insert(call.room.clone(), cell.clone());
        self.live_rooms.set(rooms.len() as f64);
        tracing::debug!(room = %call.room, backend = "memory", "room started");
        Ok(cell)
    }

    /// Runs `op` on room `call.room` with its lock held, starting the room if it
    /// is not live. Restarts the idle countdown of a room with no client.
    fn with_room<R>(
        &self,
        call: Call<'_>,
        mut op: impl FnMut(&Arc<Cell>, &mut Live) -> Result<R>,
    ) -> Result<R> {
        loop {
            let found = lock(&self.rooms).get(call.room).cloned();
            let cell = match found {
                Some(cell) => cell,
                None => self.start(call)?,
            };
            let mut live = lock(&cell.live);
            if live.removed {
                continue;
            }
            let now = self.now_ms();
            if live.expired(now) {
                self.retire(&mut live);
                drop(live);
                self.unlink(call.room, &cell);
                continue;
            }
            live.touch(now);
            return op(&cell, &mut live);
        }
    }

    /// Reads room `room` without starting it or restarting its countdown.
    fn peek<R>(&self, room: &RoomKey, op: impl FnOnce(&Live) -> R) -> Option<R> {
        let cell = lock(&self.rooms).get(room).cloned()?;
        let live = lock(&cell.live);
        (!live.removed && !live.expired(self.now_ms())).then(|| op(&live))
    }

    /// Removes `room` from the registry if it is still `cell`.
    fn unlink(&self, room: &RoomKey, cell: &Arc<Cell>) {
        let mut rooms = lock(&self.rooms);
        if rooms.get(room).is_some_and(|c| Arc::ptr_eq(c, cell)) {
            rooms.remove(room);
            self.live_rooms.set(rooms.len() as f64);
        }
    }

    /// Drops every expired room; the registry lock is held by the caller.
    fn sweep_locked(&self, rooms: &mut HashMap<RoomKey, Arc<Cell>>) -> usize {
        let now = self.now_ms();
        let before = rooms.len();
        rooms.retain(|room, cell| {
            // Only *try* a room lock under the registry lock (see module docs). A
            // locked room is in use, hence not idle: keep it.
            let Ok(mut live) = cell.live.try_lock() else {
                return true;
            };
            if live.removed || live.expired(now) {
                self.retire(&mut live);
                tracing::debug!(%room, backend = "memory", "idle room dropped");
                return false;
            }
            true
        });
        self.live_rooms.set(rooms.len() as f64);
        before - rooms.len()
    }

    fn check(&self, call: Call<'_>, live: &Live, right: Right) -> Result<()> {
        let class = class_of(live.is_member(call.caller));
        live.acl().check(call.room, class, right)
    }
}

#[async_trait]
impl RoomStore for MemoryRoomStore {
    fn backend_name(&self) -> &'static str {
        "memory"
    }

    fn options(&self) -> &RoomOptions {
        &self.inner.options
    }

    async fn access(&self, call: Call<'_>) -> Result<Access> {
        self.inner.with_room(call, |_, live| {
            Ok(Access::new(
                live.acl(),
                class_of(live.is_member(call.caller)),
            ))
        })
    }

    async fn get(&self, call: Call<'_>, key: &str) -> Result<Option<Json>> {
        self.inner.with_room(call, |_, live| {
            self.inner.check(call, live, Right::Read)?;
            Ok(live.get(key))
        })
    }

    async fn snapshot(&self, call: Call<'_>) -> Result<Snapshot> {
        self.inner.with_room(call, |_, live| {
            self.inner.check(call, live, Right::Read)?;
            Ok(live.snapshot())
        })
    }

    async fn write(&self, call: Call<'_>, write: Write) -> Result<Option<Arc<Diff>>> {
        let inner = &*self.inner;
        let (options, budget) = (&inner.options, &inner.budget);
        // `with_room` may retry; the write is moved out only on the attempt that runs.
        let mut write = Some(write);
        inner.with_room(call, |cell, live| match write.take() {
            Some(Write::Put { key, value }) => {
                inner.check(call, live, Right::Write)?;
                live.put(cell, &key, value, options, budget).map(Some)
            }
            Some(Write::Delete { key }) => {
                inner.check(call, live, Right::Delete)?;
                live.delete(cell, &key, options, budget)
            }
            Some(Write::Reset(init)) => {
                inner.check(call, live, Right::Reset)?;
                live.reset(cell, init, options, budget).map(Some)
            }
            None => Ok(None),
        })
    }

    async fn update(&self, call: Call<'_>, key: &str, f: UpdateFn<'_>) -> Result<Arc<Diff>> {
        let inner = &*self.inner;
        inner.with_room(call, |cell, live| {
            inner.check(call, live, Right::Write)?;
            let new = f(live.current(key))?;
            live.put(
                cell,
                key,
                Json::from_bytes(new),
                &inner.options,
                &inner.budget,
            )
        })
    }

    async fn set_member(&self, call: Call<'_>, joined: bool) -> Result<bool> {
        let inner = &*self.inner;
        inner.with_room(call, |_, live| {
            live.set_member(
                *call.caller,
                joined,
                inner.options.max_members,
                &inner.budget,
            )
        })
    }

    async fn attach(&self, call: Call<'_>, resume: Option<u64>) -> Result<Attachment> {
        let inner = &*self.inner;
        let epoch = inner.epoch;
        // Everything below happens under the room lock, so the start and the
        // feed meet exactly: no diff is published between them.
        inner.with_room(call, |cell, live| {
            inner.check(call, live, Right::Read)?;
            let start = live.start(resume);
            let diffs = cell.diffs.subscribe();
            live.attached += 1;
            cell.presence.send_replace(live.attached);
            Ok(Attachment {
                start,
                diffs,
                presence: cell.presence.subscribe(),
                guard: AttachGuard::new(Detach {
                    cell: cell.clone(),
                    epoch,
                }),
            })
        })
    }

    async fn attached(&self, room: &RoomKey) -> Result<usize> {
        Ok(self.inner.peek(room, |live| live.attached).unwrap_or(0))
    }

    async fn is_live(&self, room: &RoomKey) -> Result<bool> {
        Ok(self.inner.peek(room, |_| ()).is_some())
    }

    async fn sweep(&self) -> Result<usize> {
        let mut rooms = lock(&self.inner.rooms);
        Ok(self.inner.sweep_locked(&mut rooms))
    }
}
