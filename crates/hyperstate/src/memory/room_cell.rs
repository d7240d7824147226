//! One live room in memory: its state, buffer and feed, and the rules for
//! changing them.
//!
//! Every change happens with the room's mutex held and publishes its diff before
//! the mutex is released, so the feed carries diffs in version order and an
//! attach (also under the mutex) sees the state and the feed at one instant.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::{broadcast, watch};
use tokio::time::Instant;

use super::budget::Budget;
use super::snapshot::{RoomRecord, from_hex, to_hex};
use crate::room::{
    Acl, Change, Diff, Json, MemberKey, Rights, RoomInit, RoomOptions, Snapshot, Start, State,
};
use crate::{Error, Result};

/// What one state entry costs beyond its key and value bytes (map node, two
/// `Arc` allocations, allocator rounding).
const ENTRY_OVERHEAD: usize = 96;
/// What one buffered diff costs beyond its payload.
const DIFF_OVERHEAD: usize = 96;
/// What one member costs (its 16-byte key in a hash set, with slack).
const MEMBER_COST: usize = 48;
/// What an empty room costs, before its feed's slots.
const ROOM_OVERHEAD: usize = 1024;
/// What one slot of a room's broadcast feed costs.
const SLOT_COST: usize = 48;

fn millis(duration: std::time::Duration) -> u64 {
    duration.as_millis().try_into().unwrap_or(u64::MAX)
}

pub(super) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Nothing is mutated before a user closure (an `update`) has returned, so the
    // data behind a lock poisoned by a panic in one is still consistent.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The budget a new room reserves before its state.
pub(super) fn room_overhead(options: &RoomOptions) -> usize {
    ROOM_OVERHEAD + options.channel_capacity * SLOT_COST
}

fn state_cost(state: &State) -> usize {
    state
        .iter()
        .map(|(k, v)| k.len() + v.as_bytes().len() + ENTRY_OVERHEAD)
        .sum()
}

fn diff_cost(diff: &Diff) -> usize {
    DIFF_OVERHEAD
        + match &diff.change {
            Change::Inserted { key, value } | Change::Updated { key, value } => {
                key.len() + value.as_bytes().len()
            }
            Change::Deleted { key } => key.len(),
            Change::Reset { state } => state_cost(state),
        }
}

/// A live room. The feeds sit outside the mutex because their senders are
/// thread-safe; they are only *sent* on with the mutex held (for ordering).
#[derive(Debug)]
pub(super) struct Cell {
    pub(super) live: Mutex<Live>,
    pub(super) diffs: broadcast::Sender<Arc<Diff>>,
    pub(super) presence: watch::Sender<usize>,
}

#[derive(Debug)]
pub(super) struct Live {
    state: State,
    /// Sum of key and value lengths: what `Limits::max_bytes` bounds.
    bytes: usize,
    /// What the state costs of the budget (bytes plus per-entry overhead).
    state_cost: usize,
    pub(super) version: u64,
    acl: Acl,
    idle_ttl_ms: u64,
    /// Each member, with the time it joined while it has not yet used its slot
    /// (attached or written); `None` once it has.
    members: HashMap<MemberKey, Option<u64>>,
    /// How long an unused slot is kept (from [`RoomOptions::unused_member_ttl`]).
    unused_member_ttl_ms: u64,
    history: VecDeque<Arc<Diff>>,
    history_cost: usize,
    pub(super) attached: usize,
    /// When the room last had no client, or was last accessed while it had none.
    idle_since_ms: u64,
    /// What this room holds of the store's budget.
    pub(super) cost: usize,
    /// Set once the room has left the registry; callers seeing it start over.
    pub(super) removed: bool,
}

impl Cell {
    /// A room at `version` from a checked `init`, with `cost` already reserved.
    pub(super) fn new(
        init: RoomInit,
        bytes: usize,
        version: u64,
        now: u64,
        cost: usize,
        options: &RoomOptions,
    ) -> Self {
        let (state, acl, ttl) = init.into_parts();
        let (diffs, _) = broadcast::channel(options.channel_capacity.max(1));
        Cell {
            live: Mutex::new(Live {
                state_cost: state_cost(&state),
                state,
                bytes,
                version,
                acl,
                idle_ttl_ms: ttl.as_millis().try_into().unwrap_or(u64::MAX),
                members: HashMap::new(),
                unused_member_ttl_ms: millis(options.unused_member_ttl).max(1),
                history: VecDeque::new(),
                history_cost: 0,
                attached: 0,
                idle_since_ms: now,
                cost,
                removed: false,
            }),
            diffs,
            presence: watch::Sender::new(0),
        }
    }

    /// The cost of a room built from `init`'s state.
    pub(super) fn initial_cost(init: &RoomInit, options: &RoomOptions) -> usize {
        room_overhead(options) + state_cost(init.state())
    }
}

impl Cell {
    /// A room rebuilt from its snapshot record at `now`, `downtime_ms` after
    /// the save, with its cost; `None` if the record is malformed, breaks this
    /// store's limits, or its idle countdown ran out meanwhile. The replay
    /// buffer starts empty: a client resuming from the saved version gets no
    /// diff (it missed none), an older one a snapshot.
    pub(super) fn restore(
        record: &RoomRecord,
        now: u64,
        downtime_ms: u64,
        options: &RoomOptions,
    ) -> Option<(Self, usize)> {
        // Clients attached at the save were cut off by the shutdown: from then
        // on the room was idle, as every room is while the process is down.
        let idle_for = record.idle_for_ms.unwrap_or(0).saturating_add(downtime_ms);
        if idle_for >= record.idle_ttl_ms {
            return None;
        }
        let limits = &options.limits;
        let mut state = State::new();
        let mut bytes = 0;
        for (key, value) in &record.state {
            if key.len() > limits.max_key_bytes || value.len() > limits.max_value_bytes {
                return None;
            }
            bytes += key.len() + value.len();
            state.insert(key.as_str().into(), Json::from_bytes(value.as_bytes()));
        }
        if state.len() != record.state.len()
            || state.len() > limits.max_keys
            || bytes > limits.max_bytes
            || record.members.len() > options.max_members
        {
            return None;
        }
        let unused_member_ttl_ms = millis(options.unused_member_ttl).max(1);
        let mut members = HashMap::with_capacity(record.members.len());
        for (member, joined_ago) in &record.members {
            let key = MemberKey::from_bytes(from_hex(member)?);
            let joined = match joined_ago {
                None => None,
                Some(ago) => {
                    let ago = ago.saturating_add(downtime_ms);
                    if ago >= unused_member_ttl_ms {
                        continue; // an unused slot that expired meanwhile
                    }
                    Some(now.saturating_sub(ago))
                }
            };
            members.insert(key, joined);
        }
        let cost = room_overhead(options) + state_cost(&state) + members.len() * MEMBER_COST;
        let (diffs, _) = broadcast::channel(options.channel_capacity.max(1));
        let live = Live {
            state_cost: state_cost(&state),
            state,
            bytes,
            version: record.version,
            acl: Acl::new(
                Rights::from_bits(record.acl.0),
                Rights::from_bits(record.acl.1),
            ),
            idle_ttl_ms: record.idle_ttl_ms,
            members,
            unused_member_ttl_ms,
            history: VecDeque::new(),
            history_cost: 0,
            attached: 0,
            idle_since_ms: now.saturating_sub(idle_for),
            cost,
            removed: false,
        };
        let cell = Cell {
            live: Mutex::new(live),
            diffs,
            presence: watch::Sender::new(0),
        };
        Some((cell, cost))
    }
}

impl Live {
    /// The snapshot record of this room, named `key`, at `now`. A room with
    /// clients attached records no idle time: its countdown starts at the save.
    pub(super) fn record(&self, key: &str, now: u64) -> RoomRecord {
        RoomRecord {
            key: key.to_owned(),
            version: self.version,
            state: self
                .state
                .iter()
                .map(|(k, v)| (k.to_string(), v.as_str().to_owned()))
                .collect(),
            acl: (self.acl.members.bits(), self.acl.public.bits()),
            idle_ttl_ms: self.idle_ttl_ms,
            idle_for_ms: (self.attached == 0).then(|| now.saturating_sub(self.idle_since_ms)),
            members: self
                .members
                .iter()
                .filter(|(_, joined)| self.slot_is_held(**joined, now))
                .map(|(member, joined)| {
                    (
                        to_hex(member.as_bytes()),
                        joined.map(|at| now.saturating_sub(at)),
                    )
                })
                .collect(),
        }
    }

    pub(super) fn expired(&self, now: u64) -> bool {
        self.attached == 0 && now.saturating_sub(self.idle_since_ms) >= self.idle_ttl_ms
    }

    /// Restarts the idle countdown of a room nobody is attached to.
    pub(super) fn touch(&mut self, now: u64) {
        if self.attached == 0 {
            self.idle_since_ms = now;
        }
    }

    pub(super) fn acl(&self) -> &Acl {
        &self.acl
    }

    /// Whether `who` holds a member slot at `now` (an unused one expires).
    pub(super) fn is_member(&self, who: &MemberKey, now: u64) -> bool {
        self.members
            .get(who)
            .is_some_and(|&joined| self.slot_is_held(joined, now))
    }

    fn slot_is_held(&self, joined: Option<u64>, now: u64) -> bool {
        joined.is_none_or(|at| now.saturating_sub(at) < self.unused_member_ttl_ms)
    }

    /// Marks `who`'s slot as used (it attached or wrote), so it no longer
    /// expires. Does nothing for a caller who is not a member.
    pub(super) fn slot_used(&mut self, who: &MemberKey, now: u64) {
        if self.is_member(who, now) {
            self.members.insert(*who, None);
        }
    }

    /// Frees the slots of members who never used them within their TTL.
    fn free_unused_slots(&mut self, now: u64, budget: &Budget) {
        let before = self.members.len();
        let ttl = self.unused_member_ttl_ms;
        self.members
            .retain(|_, joined| joined.is_none_or(|at| now.saturating_sub(at) < ttl));
        let freed = before - self.members.len();
        self.release(budget, freed * MEMBER_COST);
    }

    pub(super) fn get(&self, key: &str) -> Option<Json> {
        self.state.get(key).cloned()
    }

    pub(super) fn current(&self, key: &str) -> Option<&[u8]> {
        self.state.get(key).map(Json::as_bytes)
    }

    pub(super) fn snapshot(&self) -> Snapshot {
        Snapshot {
            version: self.version,
            state: self.state.clone(),
        }
    }

    /// Where a client resuming after version `resume` starts.
    pub(super) fn start(&self, resume: Option<u64>) -> Start {
        match resume {
            Some(v) if v == self.version => Start::Replay(Vec::new()),
            Some(v)
                if v < self.version && self.history.front().is_some_and(|d| d.version <= v + 1) =>
            {
                let missed = self.history.iter().filter(|d| d.version > v).cloned();
                Start::Replay(missed.collect())
            }
            _ => Start::Snapshot(self.snapshot()),
        }
    }

    pub(super) fn idle_since(&mut self, now: u64) {
        self.idle_since_ms = now;
    }

    /// Adds or removes a member at `now`; returns whether membership changed.
    pub(super) fn set_member(
        &mut self,
        who: MemberKey,
        joined: bool,
        now: u64,
        max_members: usize,
        budget: &Budget,
    ) -> Result<bool> {
        let was_member = self.is_member(&who, now);
        if !joined {
            if self.members.remove(&who).is_some() {
                self.release(budget, MEMBER_COST);
            }
            return Ok(was_member);
        }
        if was_member {
            return Ok(false);
        }
        if let Some(slot) = self.members.get_mut(&who) {
            // An expired unused slot of the same member: it joins afresh.
            *slot = Some(now);
            return Ok(true);
        }
        if self.members.len() >= max_members {
            self.free_unused_slots(now, budget);
            if self.members.len() >= max_members {
                return Err(Error::TooManyMembers { limit: max_members });
            }
        }
        self.reserve(budget, MEMBER_COST)?;
        self.members.insert(who, Some(now));
        Ok(true)
    }

    /// Sets `key` to `value`, enforcing every limit; publishes and returns the diff.
    pub(super) fn put(
        &mut self,
        cell: &Cell,
        key: &str,
        value: Json,
        options: &RoomOptions,
        budget: &Budget,
    ) -> Result<Arc<Diff>> {
        let limits = &options.limits;
        let len = value.as_bytes().len();
        if len > limits.max_value_bytes {
            return Err(Error::ValueTooLarge {
                size: len,
                limit: limits.max_value_bytes,
            });
        }
        let old_len = self.state.get(key).map(|v| v.as_bytes().len());
        if old_len.is_none() && self.state.len() >= limits.max_keys {
            return Err(Error::TooManyKeys {
                scope: "room",
                limit: limits.max_keys,
            });
        }
        let bytes = self.bytes - old_len.map_or(0, |old| key.len() + old) + key.len() + len;
        if bytes > limits.max_bytes {
            return Err(Error::ScopeTooLarge {
                scope: "room",
                size: bytes,
                limit: limits.max_bytes,
            });
        }
        let after = self.state_cost - old_len.map_or(0, |old| key.len() + old + ENTRY_OVERHEAD)
            + key.len()
            + len
            + ENTRY_OVERHEAD;
        let key: Arc<str> = key.into();
        let change = match old_len {
            None => Change::Inserted { key, value },
            Some(_) => Change::Updated { key, value },
        };
        self.commit(cell, change, bytes, after, options, budget)
    }

    /// Removes `key`; publishes and returns the diff, or `None` if it was absent.
    pub(super) fn delete(
        &mut self,
        cell: &Cell,
        key: &str,
        options: &RoomOptions,
        budget: &Budget,
    ) -> Result<Option<Arc<Diff>>> {
        let Some(old) = self.state.get(key) else {
            return Ok(None);
        };
        let bytes = self.bytes - key.len() - old.as_bytes().len();
        let after = self.state_cost - (key.len() + old.as_bytes().len() + ENTRY_OVERHEAD);
        let change = Change::Deleted { key: key.into() };
        self.commit(cell, change, bytes, after, options, budget)
            .map(Some)
    }

    /// Replaces state, ACL and TTL with a fresh spec run; publishes the diff.
    pub(super) fn reset(
        &mut self,
        cell: &Cell,
        init: RoomInit,
        options: &RoomOptions,
        budget: &Budget,
    ) -> Result<Arc<Diff>> {
        let bytes = init.checked_bytes(&options.limits)?;
        let (state, acl, ttl) = init.into_parts();
        let after = state_cost(&state);
        let change = Change::Reset {
            state: Arc::new(state),
        };
        let diff = self.commit(cell, change, bytes, after, options, budget)?;
        self.acl = acl;
        self.idle_ttl_ms = ttl.as_millis().try_into().unwrap_or(u64::MAX);
        Ok(diff)
    }

    /// Applies `change` (already checked against the limits) as the next version:
    /// reserves budget, updates the state, buffers and publishes the diff.
    /// `bytes` and `cost_after` are the state's size and cost once applied. On a
    /// budget failure nothing changes.
    fn commit(
        &mut self,
        cell: &Cell,
        change: Change,
        bytes: usize,
        cost_after: usize,
        options: &RoomOptions,
        budget: &Budget,
    ) -> Result<Arc<Diff>> {
        let diff = Arc::new(Diff {
            version: self.version + 1,
            change,
        });
        let buffered = if options.replay > 0 {
            diff_cost(&diff)
        } else {
            0
        };
        let grows = cost_after.saturating_sub(self.state_cost);
        self.reserve(budget, grows + buffered)?;
        self.release(budget, self.state_cost.saturating_sub(cost_after));
        diff.change.apply_to(&mut self.state);
        self.state_cost = cost_after;
        self.bytes = bytes;
        self.version = diff.version;
        if options.replay > 0 {
            self.history.push_back(diff.clone());
            self.history_cost += buffered;
            self.trim_history(options, budget);
        }
        // An error only means no one is attached right now; the buffer above
        // still serves clients that resume.
        let _ = cell.diffs.send(diff.clone());
        Ok(diff)
    }

    /// Keeps the replay buffer within [`RoomOptions::replay`] diffs and
    /// [`RoomOptions::replay_bytes`] (and the room's byte limit), oldest first.
    /// A diff over the byte bound by itself goes too: the buffer is then empty,
    /// and a client resuming from before it resyncs.
    fn trim_history(&mut self, options: &RoomOptions, budget: &Budget) {
        let max_bytes = options.replay_bytes.min(options.limits.max_bytes);
        while self.history.len() > options.replay || self.history_cost > max_bytes {
            let Some(old) = self.history.pop_front() else {
                break;
            };
            let cost = diff_cost(&old);
            self.history_cost -= cost;
            self.release(budget, cost);
        }
    }

    fn reserve(&mut self, budget: &Budget, n: usize) -> Result<()> {
        if budget.try_take(n) {
            self.cost += n;
            Ok(())
        } else {
            Err(Error::StoreFull {
                limit: budget.limit(),
            })
        }
    }

    fn release(&mut self, budget: &Budget, n: usize) {
        let n = n.min(self.cost);
        self.cost -= n;
        budget.give_back(n);
    }

    /// Marks the room removed and gives back everything it held.
    pub(super) fn retire(&mut self, budget: &Budget) {
        if !self.removed {
            self.removed = true;
            budget.give_back(self.cost);
            self.cost = 0;
            self.state = State::new();
            self.state_cost = 0;
            self.members = HashMap::new();
            self.history = VecDeque::new();
            self.history_cost = 0;
        }
    }
}

/// Detaches one client when dropped: the [`AttachGuard`](crate::room::AttachGuard)
/// payload of the memory backend.
#[derive(Debug)]
pub(super) struct Detach {
    pub(super) cell: Arc<Cell>,
    pub(super) epoch: Instant,
}

impl Drop for Detach {
    fn drop(&mut self) {
        let mut live = lock(&self.cell.live);
        live.attached = live.attached.saturating_sub(1);
        if live.attached == 0 {
            // The idle countdown starts now.
            let now = self.epoch.elapsed().as_millis() as u64;
            live.idle_since(now);
        }
        // Sent under the lock so counts arrive in the order they happened.
        self.cell.presence.send_replace(live.attached);
    }
}
