//! Pages to and from a snapshot file.
//!
//! A page keeps its storage key (which is what binds it to its browser), its
//! values and what was left of its TTL, less the downtime between save and
//! load; pages whose TTL ran out are dropped. Both directions visit the most
//! recently used pages first, so when the byte budget is reached the pages
//! left out are the ones eviction would have taken first.

use std::io;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use super::{Data, Entry, Inner, MemoryPageStore, PAGE_OVERHEAD, entry_cost, lock};
use crate::memory::page_map::PageMap;
use crate::memory::snapshot::{
    Header, PageRecord, Persist, SnapshotStats, from_hex, read_lines, to_hex, write_lines,
};
use crate::page::PageKey;

const FILE: &str = "pages.snapshot";
const KIND: &str = "pages";

impl Persist for MemoryPageStore {
    fn save_snapshot(&self, dir: &Path) -> io::Result<SnapshotStats> {
        let inner = &*self.inner;
        let mut pages = inner.live_pages();
        // Most recently used first: if the budget cuts the file short, the
        // oldest pages are the ones left out.
        pages.sort_unstable_by_key(|(_, entry)| {
            std::cmp::Reverse(entry.last_access.load(Ordering::Relaxed))
        });
        let now = inner.now_ms();
        let records = pages
            .iter()
            .filter_map(|(key, entry)| inner.record(key, entry, now));
        let stats = write_lines(dir, FILE, &Header::new(KIND), records, inner.budget.limit())?;
        tracing::info!(
            pages = stats.records,
            left_out = stats.skipped,
            bytes = stats.bytes,
            "page snapshot written"
        );
        Ok(stats)
    }

    fn load_snapshot(&self, dir: &Path) -> SnapshotStats {
        let Some(loaded) = read_lines::<PageRecord>(dir, FILE, KIND) else {
            return SnapshotStats::default();
        };
        let inner = &*self.inner;
        let downtime = loaded.header.downtime_ms();
        let mut stats = SnapshotStats {
            bytes: loaded.bytes,
            ..SnapshotStats::default()
        };
        let mut pages = Vec::with_capacity(loaded.records.len());
        for record in loaded.records {
            let ttl_left = record
                .ttl_left_ms
                .saturating_sub(downtime)
                .min(inner.ttl_ms);
            match (ttl_left > 0).then(|| inner.restore(&record)).flatten() {
                Some((key, data)) => pages.push((ttl_left, key, data)),
                None => stats.skipped += 1,
            }
        }
        // Take budget most recent first, then insert least recent first, so
        // each shard's list is in last-access order again.
        pages.sort_unstable_by_key(|(ttl_left, ..)| std::cmp::Reverse(*ttl_left));
        let mut fitting = Vec::with_capacity(pages.len());
        for page in pages {
            if inner.budget.try_take(page.2.cost) {
                fitting.push(page);
            } else {
                stats.skipped += 1;
            }
        }
        let now = inner.now_ms();
        for (ttl_left, key, data) in fitting.into_iter().rev() {
            let last_access = now.saturating_sub(inner.ttl_ms - ttl_left);
            let cost = data.cost;
            let mut shard = lock(inner.shard(&key));
            if shard.contains_key(&key) {
                drop(shard);
                inner.budget.give_back(cost);
                stats.skipped += 1;
                continue;
            }
            shard.insert(key, Arc::new(Entry::new(last_access, data)));
            inner.metrics.pages.increment(1.0);
            stats.records += 1;
        }
        tracing::info!(
            pages = stats.records,
            dropped = stats.skipped,
            "page snapshot restored"
        );
        stats
    }
}

impl Inner {
    /// Every page in the store, with no lock held once it returns.
    fn live_pages(&self) -> Vec<(PageKey, Arc<Entry>)> {
        let mut pages = Vec::new();
        for shard in self.shards.iter() {
            let shard = lock(shard);
            pages.extend(shard.iter().map(|(key, entry)| (*key, entry.clone())));
        }
        pages
    }

    /// The snapshot record of a page that is still live at `now`.
    fn record(&self, key: &PageKey, entry: &Entry, now: u64) -> Option<PageRecord> {
        let data = lock(&entry.data);
        let idle = now.saturating_sub(entry.last_access.load(Ordering::Relaxed));
        if entry.is_retired() || idle >= self.ttl_ms {
            return None;
        }
        let values = data
            .values
            .iter()
            .filter_map(|(k, v)| {
                // Keys come from `&str` and values are JSON text, so both are
                // UTF-8; anything else could not be read back and is left out.
                Some((
                    String::from_utf8(k.to_vec()).ok()?,
                    String::from_utf8(v.to_vec()).ok()?,
                ))
            })
            .collect();
        Some(PageRecord {
            key: to_hex(key.as_bytes()),
            ttl_left_ms: self.ttl_ms - idle,
            values,
        })
    }

    /// A page's data rebuilt from its record, within this store's limits;
    /// `None` if the record is malformed or breaks a limit.
    fn restore(&self, record: &PageRecord) -> Option<(PageKey, Data)> {
        let key = PageKey::from_bytes(from_hex(&record.key)?);
        let limits = &self.options.limits;
        if record.values.len() > limits.max_keys {
            return None;
        }
        let mut data = Data {
            cost: PAGE_OVERHEAD,
            ..Data::default()
        };
        let mut values = PageMap::default();
        for (k, v) in &record.values {
            let key_too_long = k.len() > limits.max_key_bytes.min(PageMap::MAX_KEY_BYTES);
            if key_too_long || v.len() > limits.max_value_bytes {
                return None;
            }
            if values.insert(k, v.as_bytes()).is_some() {
                return None; // a key twice: not a file this store wrote
            }
            data.bytes += k.len() + v.len();
            data.cost += entry_cost(k, v.as_bytes());
        }
        if data.bytes > limits.max_bytes {
            return None;
        }
        data.values = values;
        Some((key, data))
    }
}
