//! Rooms to and from a snapshot file.
//!
//! A room keeps its state, its version (so a client resuming with
//! `Last-Event-ID` gets exactly what it missed: nothing, or a snapshot), its
//! ACL and idle TTL, its members and its idle countdown, less the downtime
//! between save and load. Clients attached at the save reconnect after the
//! restart; until they do, the room counts as idle from the save. Both
//! directions visit the most recently used rooms first, so when the byte
//! budget is reached the rooms left out are the ones eviction would have
//! taken first.

use std::io;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use super::{MemoryRoomStore, lock};
use crate::memory::room_cell::Cell;
use crate::memory::snapshot::{
    Header, Persist, RoomRecord, SnapshotStats, read_lines, write_lines,
};
use crate::room::RoomKey;

const FILE: &str = "rooms.snapshot";
const KIND: &str = "rooms";

impl Persist for MemoryRoomStore {
    fn save_snapshot(&self, dir: &Path) -> io::Result<SnapshotStats> {
        let inner = &*self.inner;
        // Clone the cells out, most recently used first, so no room lock is
        // taken under the registry lock (see the store's lock order).
        let rooms: Vec<(RoomKey, Arc<Cell>)> = lock(&inner.rooms)
            .iter()
            .rev()
            .map(|(key, cell)| (key.clone(), cell.clone()))
            .collect();
        let now = inner.now_ms();
        let records = rooms.iter().filter_map(|(key, cell)| {
            let live = lock(&cell.live);
            (!live.removed && !live.expired(now)).then(|| live.record(key.as_str(), now))
        });
        let mut header = Header::new(KIND);
        header.version_floor = Some(inner.version_floor.load(Ordering::Relaxed));
        let stats = write_lines(dir, FILE, &header, records, inner.budget.limit())?;
        tracing::info!(
            rooms = stats.records,
            left_out = stats.skipped,
            bytes = stats.bytes,
            "room snapshot written"
        );
        Ok(stats)
    }

    fn load_snapshot(&self, dir: &Path) -> SnapshotStats {
        let Some(loaded) = read_lines::<RoomRecord>(dir, FILE, KIND) else {
            return SnapshotStats::default();
        };
        let inner = &*self.inner;
        let downtime = loaded.header.downtime_ms();
        if let Some(floor) = loaded.header.version_floor {
            inner.version_floor.fetch_max(floor, Ordering::Relaxed);
        }
        let mut stats = SnapshotStats {
            bytes: loaded.bytes,
            ..SnapshotStats::default()
        };
        let now = inner.now_ms();
        // Records come most recently used first: take budget in that order,
        // then insert least recent first to rebuild the LRU order.
        let mut fitting = Vec::new();
        for record in &loaded.records {
            let restored = RoomKey::parse(&record.key).ok().and_then(|key| {
                Cell::restore(record, now, downtime, &inner.options)
                    .map(|(cell, cost)| (key, cell, cost))
            });
            match restored {
                Some((key, cell, cost))
                    if fitting.len() < inner.options.max_rooms && inner.budget.try_take(cost) =>
                {
                    fitting.push((key, cell, cost));
                }
                _ => stats.skipped += 1,
            }
        }
        let mut rooms = lock(&inner.rooms);
        for (key, cell, cost) in fitting.into_iter().rev() {
            if rooms.contains_key(&key) {
                inner.budget.give_back(cost);
                stats.skipped += 1;
                continue;
            }
            rooms.insert(key, Arc::new(cell));
            stats.records += 1;
        }
        inner.live_rooms.set(rooms.len() as f64);
        drop(rooms);
        tracing::info!(
            rooms = stats.records,
            dropped = stats.skipped,
            "room snapshot restored"
        );
        stats
    }
}
