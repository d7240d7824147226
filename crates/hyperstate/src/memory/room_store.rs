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
//! ever *tries* a room lock (the sweeper, eviction); a thread holding a room
//! lock never takes the registry lock. A room leaves the registry after being
//! marked removed; anyone who finds it removed under them starts over, so no
//! write lands in a room nobody can see.
//!
//! # Lazy rooms and eviction
//!
//! Reads of a room that is not in the registry answer from the spec
//! ([`Unstored`]) and insert nothing: anyone can name a room, so only a write,
//! a join or an attach costs memory. The registry is kept in least recently
//! used order; when a change does not fit the byte budget, the least recently
//! used rooms with no attached client (and not locked by an operation) are
//! evicted, as if their idle TTL had passed, before the change fails with
//! [`Error::StoreFull`]. A change that hits the full budget while holding its
//! room lock gives the lock up, evicts, and runs again (eviction takes the
//! registry lock, which a room lock holder must not).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use hashlink::LinkedHashMap;
use tokio::time::Instant;

use super::budget::Budget;
use super::room_cell::{Cell, Detach, Live, lock};
use crate::page::UpdateFn;
use crate::room::{
    Access, AttachGuard, Attachment, Call, Diff, Json, Right, RoomKey, RoomOptions, RoomStore,
    Snapshot, Unstored, Write, class_of,
};
use crate::{Error, Result};

mod persist;

/// How far in the past a store's clock starts, so a room restored from a
/// snapshot can carry an idle countdown or a join time that began before this
/// process did (timestamps are unsigned).
const CLOCK_HEADROOM: std::time::Duration = std::time::Duration::from_secs(24 * 60 * 60);

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
    /// Rooms with no attached client evicted so far to make space.
    pub evictions: u64,
}

/// Room state in process memory. Cheap to clone; clones share the rooms.
///
/// Bounded by [`RoomOptions`] and a total byte budget. A change that would
/// exceed the budget first evicts the least recently used rooms nobody is
/// attached to; it fails with [`Error::StoreFull`] only when every other room
/// has an attached client. Reads of a room that is not stored store nothing.
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
    /// Every stored room, least recently used first.
    rooms: Mutex<Registry>,
    budget: Budget,
    /// Rooms evicted to make space, for [`MemoryRoomStats::evictions`].
    evictions: AtomicU64,
    /// `hyperstate_evictions_total{scope="room"}`.
    evictions_total: metrics::Counter,
    /// Mirrors the registry's size for the metrics system.
    live_rooms: metrics::Gauge,
    /// The highest version any dropped room reached: a restarted room starts
    /// above it, so stale `Last-Event-ID`s resync.
    version_floor: AtomicU64,
}

type Registry = LinkedHashMap<RoomKey, Arc<Cell>>;

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
            evictions: self.inner.evictions.load(Ordering::Relaxed),
        }
    }
}

impl Inner {
    fn new(options: RoomOptions, memory_limit: usize) -> Self {
        Inner {
            options,
            epoch: Instant::now()
                .checked_sub(CLOCK_HEADROOM)
                .unwrap_or_else(Instant::now),
            rooms: Mutex::new(LinkedHashMap::new()),
            budget: Budget::new(
                memory_limit,
                metrics::gauge!("hyperstate_memory_bytes", "scope" => "room"),
            ),
            evictions: AtomicU64::new(0),
            evictions_total: metrics::counter!("hyperstate_evictions_total", "scope" => "room"),
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

    /// Starts room `call.room` unless someone else did meanwhile, for an
    /// operation that `needs` a right (checked first: a denied operation
    /// stores nothing).
    fn start(&self, call: Call<'_>, needs: Option<Right>) -> Result<Arc<Cell>> {
        // The spec is app code: it runs outside every lock.
        let init = (call.init)()?;
        if let Some(right) = needs {
            init.check_new_room(call.room, right)?;
        }
        let bytes = init.checked_bytes(&self.options.limits)?;
        let cost = Cell::initial_cost(&init, &self.options);
        while !self.budget.try_take(cost) {
            if !self.evict_idle(call.room) {
                return Err(Error::StoreFull {
                    limit: self.budget.limit(),
                });
            }
        }
        let mut rooms = lock(&self.rooms);
        if let Some(existing) = rooms.get(call.room) {
            let existing = existing.clone();
            self.budget.give_back(cost);
            return Ok(existing);
        }
        if rooms.len() >= self.options.max_rooms {
            // Expired rooms the sweeper has not reached yet must not count, and
            // rooms nobody attends give way.
            self.sweep_locked(&mut rooms);
            if rooms.len() >= self.options.max_rooms
                && !self.evict_idle_locked(&mut rooms, call.room)
            {
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
    /// is not live. Restarts the idle countdown of a room with no client. When
    /// `op` finds the budget full, evicts an idle room and runs `op` again.
    /// `needs` is the right `op` checks, if any, so that starting the room for
    /// an operation the ACL denies stores nothing.
    fn with_room<R>(
        &self,
        call: Call<'_>,
        needs: Option<Right>,
        mut op: impl FnMut(&Arc<Cell>, &mut Live) -> Result<R>,
    ) -> Result<R> {
        loop {
            match self.with_stored_room(call, needs, &mut op) {
                // The room lock is released here, so eviction may take the
                // registry lock (see the module docs).
                Err(Error::StoreFull { .. }) if self.evict_idle(call.room) => continue,
                result => return result,
            }
        }
    }

    fn with_stored_room<R>(
        &self,
        call: Call<'_>,
        needs: Option<Right>,
        op: &mut impl FnMut(&Arc<Cell>, &mut Live) -> Result<R>,
    ) -> Result<R> {
        loop {
            let found = self.find(call.room);
            let cell = match found {
                Some(cell) => cell,
                None => self.start(call, needs)?,
            };
            let Some((mut live, _)) = self.lock_live(call.room, &cell) else {
                continue;
            };
            return op(&cell, &mut live);
        }
    }

    /// Reads room `call.room` for the caller: with `stored` when the room is
    /// live (restarting its countdown), else with `unstored` from the spec,
    /// storing nothing.
    fn read<R>(
        &self,
        call: Call<'_>,
        stored: impl FnOnce(&Live, u64) -> Result<R>,
        unstored: impl FnOnce(Unstored) -> Result<R>,
    ) -> Result<R> {
        loop {
            let Some(cell) = self.find(call.room) else {
                // The spec is app code: it runs outside every lock.
                let init = (call.init)()?;
                let version = self.first_version();
                return unstored(Unstored::new(init, version, &self.options.limits)?);
            };
            let Some((live, now)) = self.lock_live(call.room, &cell) else {
                continue;
            };
            return stored(&live, now);
        }
    }

    /// Locks `cell`, the room `room`, for an operation now, restarting its
    /// countdown; returns the lock and the time. `None` when the room was
    /// removed or has just expired (it is then retired and unlinked): the
    /// caller looks the room up again.
    fn lock_live<'a>(
        &self,
        room: &RoomKey,
        cell: &'a Arc<Cell>,
    ) -> Option<(MutexGuard<'a, Live>, u64)> {
        let mut live = lock(&cell.live);
        if live.removed {
            return None;
        }
        let now = self.now_ms();
        if live.expired(now) {
            self.retire(&mut live);
            drop(live);
            self.unlink(room, cell);
            return None;
        }
        live.touch(now);
        Some((live, now))
    }

    /// The stored room `room`, marked as the most recently used.
    fn find(&self, room: &RoomKey) -> Option<Arc<Cell>> {
        lock(&self.rooms).to_back(room).cloned()
    }

    /// Evicts the least recently used room other than `keep` that no client is
    /// attached to and no operation holds; returns whether one was removed.
    /// Rooms already expired are dropped without counting as evictions.
    fn evict_idle(&self, keep: &RoomKey) -> bool {
        self.evict_idle_locked(&mut lock(&self.rooms), keep)
    }

    /// [`evict_idle`](Self::evict_idle) with the registry lock held by the caller.
    fn evict_idle_locked(&self, rooms: &mut Registry, keep: &RoomKey) -> bool {
        let now = self.now_ms();
        let mut victim = None;
        for (room, cell) in rooms.iter() {
            if room == keep {
                continue;
            }
            // Only *try* a room lock under the registry lock (see module docs);
            // a locked room is mid-operation, hence not idle.
            let Ok(mut live) = cell.live.try_lock() else {
                continue;
            };
            if live.attached > 0 {
                continue;
            }
            let expired = live.removed || live.expired(now);
            self.retire(&mut live);
            victim = Some((room.clone(), expired));
            break;
        }
        let Some((room, expired)) = victim else {
            return false;
        };
        rooms.remove(&room);
        self.live_rooms.set(rooms.len() as f64);
        if !expired {
            self.evictions.fetch_add(1, Ordering::Relaxed);
            self.evictions_total.increment(1);
            tracing::debug!(%room, backend = "memory", "evicted an idle room to stay under the memory limit");
        }
        true
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
    fn sweep_locked(&self, rooms: &mut Registry) -> usize {
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
        let class = class_of(live.is_member(call.caller, self.now_ms()));
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
        self.inner.read(
            call,
            |live, now| {
                let class = class_of(live.is_member(call.caller, now));
                Ok(Access::new(live.acl(), class))
            },
            |unstored| Ok(unstored.access()),
        )
    }

    async fn get(&self, call: Call<'_>, key: &str) -> Result<Option<Json>> {
        self.inner.read(
            call,
            |live, _| {
                self.inner.check(call, live, Right::Read)?;
                Ok(live.get(key))
            },
            |unstored| unstored.get(call.room, key, Right::Read),
        )
    }

    async fn snapshot(&self, call: Call<'_>) -> Result<Snapshot> {
        self.inner.read(
            call,
            |live, _| {
                self.inner.check(call, live, Right::Read)?;
                Ok(live.snapshot())
            },
            |unstored| unstored.snapshot(call.room),
        )
    }

    async fn write(&self, call: Call<'_>, write: Write) -> Result<Option<Arc<Diff>>> {
        let inner = &*self.inner;
        let (options, budget) = (&inner.options, &inner.budget);
        let needs = match &write {
            Write::Put { .. } => Right::Write,
            Write::Delete { .. } => Right::Delete,
            Write::Reset(_) => Right::Reset,
        };
        // `with_room` may run this more than once (a retry after eviction), so
        // each run takes its own copy of the write (values are shared `Arc`s).
        inner.with_room(call, Some(needs), |cell, live| {
            let diff = match write.clone() {
                Write::Put { key, value } => {
                    inner.check(call, live, Right::Write)?;
                    live.put(cell, &key, value, options, budget).map(Some)
                }
                Write::Delete { key } => {
                    inner.check(call, live, Right::Delete)?;
                    live.delete(cell, &key, options, budget)
                }
                Write::Reset(init) => {
                    inner.check(call, live, Right::Reset)?;
                    live.reset(cell, init, options, budget).map(Some)
                }
            }?;
            live.slot_used(call.caller, inner.now_ms());
            Ok(diff)
        })
    }

    async fn update(&self, call: Call<'_>, key: &str, f: UpdateFn<'_>) -> Result<Arc<Diff>> {
        let inner = &*self.inner;
        inner.with_room(call, Some(Right::Write), |cell, live| {
            inner.check(call, live, Right::Write)?;
            let new = f(live.current(key))?;
            let diff = live.put(
                cell,
                key,
                Json::from_bytes(new),
                &inner.options,
                &inner.budget,
            )?;
            live.slot_used(call.caller, inner.now_ms());
            Ok(diff)
        })
    }

    async fn set_member(&self, call: Call<'_>, joined: bool) -> Result<bool> {
        let inner = &*self.inner;
        inner.with_room(call, None, |_, live| {
            live.set_member(
                *call.caller,
                joined,
                inner.now_ms(),
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
        inner.with_room(call, Some(Right::Read), |cell, live| {
            inner.check(call, live, Right::Read)?;
            live.slot_used(call.caller, inner.now_ms());
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

    fn persist(&self) -> Option<&dyn super::Persist> {
        Some(self)
    }
}
