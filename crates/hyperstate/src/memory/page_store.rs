//! Page state in process memory.
//!
//! # Layout and locking
//!
//! Pages live in 64 shards, each a `LinkedHashMap` kept in least-recently-used
//! order: a touch stamps the page's last access and moves it to the back, both
//! O(1). Each page's data (a packed [`PageMap`]) sits behind its own mutex, so a
//! slow `update` closure blocks only its own page, not a shard.
//!
//! Lock order, which rules out deadlock: a thread may take a shard lock while it
//! holds a page lock (writes that must evict), but while it holds a shard lock it
//! only ever *tries* a page lock. Pages leave their shard first and are retired
//! (marked retired, their bytes given back) after the shard lock is dropped; a
//! writer that finds its page retired under it starts over, so no write lands in
//! a page nobody can see.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use hashlink::LinkedHashMap;
use tokio::time::Instant;

use super::budget::Budget;
use super::page_map::PageMap;
use crate::page::{PageKey, PageOptions, PageStore, UpdateFn};
use crate::{Error, Result};

mod persist;
mod recent_entry;

const SHARDS: usize = 64;
/// What one stored key costs beyond its key and value bytes: its slot in the page's
/// vector, the allocation header and rounding. Set a little above the measured
/// resident cost (see BENCHMARKS.md) so the budget never under-counts.
const ENTRY_OVERHEAD: usize = 64;
/// What one page costs with no keys: its entry, LRU links and empty map.
const PAGE_OVERHEAD: usize = 192;
/// A page used again within this many milliseconds of its last move to the
/// back of the LRU order stays where it is: moving it touches its neighbours
/// in the list, and a page in use is used many times a second. So the order is
/// last-access order to within this: eviction may pass over a page idle for
/// less than `min_idle` plus this, and a sweep over one expired for less than
/// this, until later.
const REORDER_MS: u64 = 100;
/// A single write evicts at most this many pages before giving up with `StoreFull`.
const MAX_EVICTIONS_PER_WRITE: usize = 4096;

/// Options of the memory backend beyond the common [`PageOptions`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct MemoryOptions {
    /// Total bytes all pages may hold (keys, values and bookkeeping). When a write
    /// would exceed it, idle pages are evicted, least recently used first.
    /// Default: 256 MiB.
    pub memory_limit: usize,
    /// A page accessed within this long is never evicted; if only such pages are
    /// left, the write fails with [`Error::StoreFull`]. Default: 1 second.
    pub min_idle: Duration,
}

impl Default for MemoryOptions {
    fn default() -> Self {
        MemoryOptions {
            memory_limit: 256 * 1024 * 1024,
            min_idle: Duration::from_secs(1),
        }
    }
}

impl MemoryOptions {
    /// Sets [`MemoryOptions::memory_limit`].
    pub fn memory_limit(mut self, bytes: usize) -> Self {
        self.memory_limit = bytes;
        self
    }
    /// Sets [`MemoryOptions::min_idle`].
    pub fn min_idle(mut self, min_idle: Duration) -> Self {
        self.min_idle = min_idle;
        self
    }
}

/// A snapshot of a memory store's counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct MemoryStats {
    /// Pages currently held (including expired ones not yet swept).
    pub pages: usize,
    /// Bytes accounted against the budget.
    pub bytes_used: usize,
    /// The budget.
    pub memory_limit: usize,
    /// Pages evicted to make room since the store was created.
    pub evictions: u64,
}

/// Page state in process memory. Cheap to clone; clones share the state.
///
/// ```
/// use hyperstate::memory::{MemoryOptions, MemoryPageStore};
/// use hyperstate::page::PageOptions;
///
/// let store = MemoryPageStore::new(PageOptions::default(), MemoryOptions::default().memory_limit(64 << 20));
/// assert_eq!(store.stats().pages, 0);
/// ```
#[derive(Debug, Clone, Default)]
pub struct MemoryPageStore {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    /// Tells this store's pages from other stores' in `recent_entry`.
    id: u64,
    options: PageOptions,
    min_idle_ms: u64,
    ttl_ms: u64,
    /// All timestamps are milliseconds since this instant (tokio's clock, so tests
    /// can pause and advance time).
    epoch: Instant,
    shards: Box<[Mutex<Shard>]>,
    budget: Budget,
    evictions: AtomicU64,
    metrics: StoreMetrics,
}

/// Metric handles, looked up once so the hot path only touches atomics.
#[derive(Debug)]
struct StoreMetrics {
    pages: metrics::Gauge,
    evictions: metrics::Counter,
}

type Shard = LinkedHashMap<PageKey, Arc<Entry>>;

#[derive(Debug)]
struct Entry {
    last_access: AtomicU64,
    /// When the page last moved to the back of its shard's LRU order (see
    /// [`REORDER_MS`]). Read and written under the shard lock.
    placed: AtomicU64,
    /// Set once the page has left its shard, under the data lock: writers that
    /// then lock the data see it and start over. Readable without the lock, so
    /// that `recent_entry` never answers with such a page.
    retired: AtomicBool,
    data: Mutex<Data>,
}

impl Entry {
    /// A page last accessed, and placed in its shard's order, at `now`.
    fn new(now: u64, data: Data) -> Self {
        Entry {
            last_access: AtomicU64::new(now),
            placed: AtomicU64::new(now),
            retired: AtomicBool::new(false),
            data: Mutex::new(data),
        }
    }

    /// True once the page has left its shard (see [`Entry::retired`]).
    fn is_retired(&self) -> bool {
        self.retired.load(Ordering::Acquire)
    }
}

#[derive(Debug, Default)]
struct Data {
    values: PageMap,
    /// Sum of key and value lengths: what `Limits::max_bytes` bounds.
    bytes: usize,
    /// What this page holds of the budget, overheads included.
    cost: usize,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic in user code (an `update` closure) happens before anything is
    // mutated, so the data behind a poisoned lock is still consistent.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

fn entry_cost(key: &str, value: &[u8]) -> usize {
    key.len() + value.len() + ENTRY_OVERHEAD
}

impl Default for Inner {
    fn default() -> Self {
        Inner::new(PageOptions::default(), MemoryOptions::default())
    }
}

impl MemoryPageStore {
    /// A store with the given page options and memory options.
    pub fn new(options: PageOptions, memory: MemoryOptions) -> Self {
        MemoryPageStore {
            inner: Arc::new(Inner::new(options, memory)),
        }
    }

    /// The store's counters.
    pub fn stats(&self) -> MemoryStats {
        let inner = &self.inner;
        MemoryStats {
            pages: inner.shards.iter().map(|s| lock(s).len()).sum(),
            bytes_used: inner.budget.used(),
            memory_limit: inner.budget.limit(),
            evictions: inner.evictions.load(Ordering::Relaxed),
        }
    }
}

impl Inner {
    fn new(options: PageOptions, memory: MemoryOptions) -> Self {
        Inner {
            id: recent_entry::next_store_id(),
            options,
            min_idle_ms: memory.min_idle.as_millis() as u64,
            ttl_ms: options.ttl.as_millis() as u64,
            // One TTL in the past, so a page restored from a snapshot can carry
            // an access time up to one TTL ago (timestamps are unsigned).
            epoch: Instant::now()
                .checked_sub(options.ttl)
                .unwrap_or_else(Instant::now),
            shards: (0..SHARDS).map(|_| Mutex::new(Shard::new())).collect(),
            budget: Budget::new(
                memory.memory_limit,
                metrics::gauge!("hyperstate_memory_bytes", "scope" => "page"),
            ),
            evictions: AtomicU64::new(0),
            metrics: StoreMetrics {
                pages: metrics::gauge!("hyperstate_live_pages", "backend" => "memory"),
                evictions: metrics::counter!("hyperstate_evictions_total", "scope" => "page"),
            },
        }
    }

    fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    fn shard(&self, page: &PageKey) -> &Mutex<Shard> {
        // Page keys are SHA-256 output: their first byte is already uniform.
        &self.shards[page.as_bytes()[0] as usize % SHARDS]
    }

    fn expired(&self, entry: &Entry, now: u64) -> bool {
        now.saturating_sub(entry.last_access.load(Ordering::Relaxed)) >= self.ttl_ms
    }

    /// Finds a live page and refreshes it; with `create`, makes one if absent.
    /// Returns the entry and whether it was created.
    fn lookup(&self, page: &PageKey, create: bool) -> Option<(Arc<Entry>, bool)> {
        if let Some(entry) = recent_entry::recall(self.id, page) {
            let now = self.now_ms();
            let placed = entry.placed.load(Ordering::Relaxed);
            if !entry.is_retired()
                && now.saturating_sub(placed) < REORDER_MS
                && !self.expired(&entry, now)
            {
                // Not under the shard lock: another thread may have stamped a
                // later time meanwhile, which must stay.
                entry.last_access.fetch_max(now, Ordering::Relaxed);
                return Some((entry, false));
            }
        }
        let found = self.lookup_in_shard(page, create);
        if let Some((entry, _)) = &found {
            recent_entry::remember(self.id, page, entry);
        }
        found
    }

    /// [`Self::lookup`] through the page's shard.
    fn lookup_in_shard(&self, page: &PageKey, create: bool) -> Option<(Arc<Entry>, bool)> {
        let mut stale = None;
        let found = {
            let mut shard = lock(self.shard(page));
            // Read the clock under the lock so that LRU order within a shard is
            // also last-access order (to within `REORDER_MS`), which lets `sweep`
            // stop at the first live page.
            let now = self.now_ms();
            match shard.get(page) {
                Some(entry) if !self.expired(entry, now) => {
                    entry.last_access.store(now, Ordering::Relaxed);
                    let entry = entry.clone();
                    if now.saturating_sub(entry.placed.load(Ordering::Relaxed)) >= REORDER_MS {
                        entry.placed.store(now, Ordering::Relaxed);
                        shard.to_back(page);
                    }
                    Some((entry, false))
                }
                found => {
                    if found.is_some() {
                        stale = shard.remove(page);
                    }
                    create.then(|| {
                        let entry = Arc::new(Entry::new(now, Data::default()));
                        shard.insert(*page, entry.clone());
                        self.metrics.pages.increment(1.0);
                        (entry, true)
                    })
                }
            }
        };
        if let Some(entry) = stale {
            self.retire(&entry);
        }
        found
    }

    /// Marks a page that has left its shard as retired and gives back its bytes.
    fn retire(&self, entry: &Entry) {
        let mut data = lock(&entry.data);
        self.retire_locked(entry, &mut data);
    }

    /// [`Self::retire`] with the page's data lock held (`data`).
    fn retire_locked(&self, entry: &Entry, data: &mut Data) {
        if !entry.is_retired() {
            entry.retired.store(true, Ordering::Release);
            self.metrics.pages.decrement(1.0);
            self.budget.give_back(data.cost);
            *data = Data::default();
        }
    }

    /// Takes `n` bytes of budget, evicting idle pages as needed.
    fn reserve(&self, n: usize) -> Result<()> {
        for _ in 0..MAX_EVICTIONS_PER_WRITE {
            if self.budget.try_take(n) {
                return Ok(());
            }
            if !self.evict_one() {
                break;
            }
        }
        Err(Error::StoreFull {
            limit: self.budget.limit(),
        })
    }

    /// Evicts the least recently used idle page. Returns false when no page is idle.
    fn evict_one(&self) -> bool {
        // Early in the store's life nothing can have been idle for `min_idle` yet.
        let Some(idle_before) = self.now_ms().checked_sub(self.min_idle_ms) else {
            return false;
        };
        // The oldest page of each shard is at its front; the oldest of those is
        // the store's least recently used page.
        let mut victim: Option<(usize, u64)> = None;
        for (index, shard) in self.shards.iter().enumerate() {
            if let Some((_, entry)) = lock(shard).front() {
                let last = entry.last_access.load(Ordering::Relaxed);
                if last <= idle_before && victim.is_none_or(|(_, oldest)| last < oldest) {
                    victim = Some((index, last));
                }
            }
        }
        let Some((index, _)) = victim else {
            return false;
        };
        let mut shard = lock(&self.shards[index]);
        let Some((&key, entry)) = shard.front() else {
            return true; // emptied meanwhile: room was made, try again
        };
        let entry = entry.clone();
        // Only *try* the page lock while holding the shard lock (see module docs).
        // A page that is locked is in use: it is not idle, so it moves to the back.
        let Ok(mut data) = entry.data.try_lock() else {
            entry.placed.store(self.now_ms(), Ordering::Relaxed);
            shard.to_back(&key);
            return true;
        };
        shard.remove(&key);
        drop(shard);
        self.retire_locked(&entry, &mut data);
        self.evictions.fetch_add(1, Ordering::Relaxed);
        self.metrics.evictions.increment(1);
        tracing::debug!(
            backend = "memory",
            "evicted an idle page to stay under the memory limit"
        );
        true
    }

    /// Runs `op` on a page's data, creating the page if needed; retries if the page
    /// is retired between lookup and lock. A page created for a write that fails
    /// is removed again, so failed writes leave nothing behind.
    fn write<R>(&self, page: &PageKey, mut op: impl FnMut(&mut Data) -> Result<R>) -> Result<R> {
        loop {
            let Some((entry, created)) = self.lookup(page, true) else {
                unreachable!("lookup with create always returns an entry");
            };
            let mut data = lock(&entry.data);
            if entry.is_retired() {
                continue;
            }
            if created {
                if let Err(err) = self.reserve(PAGE_OVERHEAD) {
                    drop(data);
                    self.remove_if_same(page, &entry);
                    return Err(err);
                }
                data.cost = PAGE_OVERHEAD;
            }
            let result = op(&mut data);
            if result.is_err() && data.values.is_empty() {
                drop(data);
                self.remove_if_same(page, &entry);
            }
            return result;
        }
    }

    /// Removes `page` from its shard if it is still `entry`, then retires it.
    fn remove_if_same(&self, page: &PageKey, entry: &Arc<Entry>) {
        let removed = {
            let mut shard = lock(self.shard(page));
            match shard.get(page) {
                Some(current) if Arc::ptr_eq(current, entry) => shard.remove(page),
                _ => None,
            }
        };
        if let Some(entry) = removed {
            self.retire(&entry);
        }
    }

    /// Stores `value` under `key` in locked page data, enforcing every limit.
    fn store_value(&self, data: &mut Data, key: &str, value: &[u8]) -> Result<()> {
        let limits = &self.options.limits;
        if key.len() > PageMap::MAX_KEY_BYTES {
            return Err(Error::InvalidKey {
                key: key.chars().take(64).collect(),
                reason: "is longer than the memory backend's 65535-byte key limit",
            });
        }
        let old_len = data.values.get(key).map(<[u8]>::len);
        if old_len.is_none() && data.values.len() >= limits.max_keys {
            return Err(Error::TooManyKeys {
                scope: "page",
                limit: limits.max_keys,
            });
        }
        let bytes = data.bytes - old_len.map_or(0, |len| key.len() + len) + key.len() + value.len();
        if bytes > limits.max_bytes {
            return Err(Error::ScopeTooLarge {
                scope: "page",
                size: bytes,
                limit: limits.max_bytes,
            });
        }
        let new_cost = entry_cost(key, value);
        let old_cost = old_len.map_or(0, |len| key.len() + len + ENTRY_OVERHEAD);
        if new_cost > old_cost {
            self.reserve(new_cost - old_cost)?;
        } else {
            self.budget.give_back(old_cost - new_cost);
        }
        data.cost = data.cost + new_cost - old_cost;
        data.bytes = bytes;
        data.values.insert(key, value);
        Ok(())
    }
}

#[async_trait]
impl PageStore for MemoryPageStore {
    fn backend_name(&self) -> &'static str {
        "memory"
    }

    fn options(&self) -> &PageOptions {
        &self.inner.options
    }

    async fn touch(&self, page: &PageKey) -> Result<bool> {
        Ok(self.inner.lookup(page, false).is_some())
    }

    async fn get(&self, page: &PageKey, key: &str) -> Result<Option<Vec<u8>>> {
        let Some((entry, _)) = self.inner.lookup(page, false) else {
            return Ok(None);
        };
        let data = lock(&entry.data);
        Ok(data.values.get(key).map(<[u8]>::to_vec))
    }

    async fn put(&self, page: &PageKey, key: &str, value: Vec<u8>) -> Result<()> {
        self.inner
            .write(page, |data| self.inner.store_value(data, key, &value))
    }

    async fn update(&self, page: &PageKey, key: &str, f: UpdateFn<'_>) -> Result<Vec<u8>> {
        self.inner.write(page, |data| {
            let new = f(data.values.get(key))?;
            self.inner.store_value(data, key, &new)?;
            Ok(new)
        })
    }

    async fn delete(&self, page: &PageKey, key: &str) -> Result<bool> {
        let Some((entry, _)) = self.inner.lookup(page, false) else {
            return Ok(false);
        };
        let mut data = lock(&entry.data);
        if entry.is_retired() {
            return Ok(false);
        }
        let Some(value_len) = data.values.remove(key) else {
            return Ok(false);
        };
        let cost = key.len() + value_len + ENTRY_OVERHEAD;
        data.bytes -= key.len() + value_len;
        data.cost -= cost;
        self.inner.budget.give_back(cost);
        Ok(true)
    }

    async fn clear(&self, page: &PageKey) -> Result<()> {
        let removed = lock(self.inner.shard(page)).remove(page);
        if let Some(entry) = removed {
            self.inner.retire(&entry);
        }
        Ok(())
    }

    async fn sweep(&self) -> Result<usize> {
        let mut freed = 0;
        for shard in self.inner.shards.iter() {
            let mut expired = Vec::new();
            {
                let mut shard = lock(shard);
                let now = self.inner.now_ms();
                // LRU order is last-access order, so expired pages are a prefix
                // (to within `REORDER_MS`: one expired for less than that behind a
                // live page is freed by a later sweep).
                while let Some((_, entry)) = shard.front() {
                    if !self.inner.expired(entry, now) {
                        break;
                    }
                    if let Some((_, entry)) = shard.pop_front() {
                        expired.push(entry);
                    }
                }
            }
            freed += expired.len();
            for entry in expired {
                self.inner.retire(&entry);
            }
        }
        Ok(freed)
    }

    fn persist(&self) -> Option<&dyn super::Persist> {
        Some(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Limits;

    fn key(n: u8) -> PageKey {
        PageKey::from_bytes([n; 16])
    }

    #[tokio::test(start_paused = true)]
    async fn evicts_least_recently_used_idle_page_first() {
        // Room for about three small pages.
        let limit = 3 * (PAGE_OVERHEAD + ENTRY_OVERHEAD + 2);
        let store = MemoryPageStore::new(
            PageOptions::default(),
            MemoryOptions::default()
                .memory_limit(limit)
                .min_idle(Duration::from_secs(1)),
        );
        for n in 1..=3 {
            store.put(&key(n), "k", b"1".to_vec()).await.unwrap();
            tokio::time::advance(Duration::from_secs(2)).await;
        }
        // Page 1 is used again: page 2 is now the least recently used.
        assert!(store.touch(&key(1)).await.unwrap());
        tokio::time::advance(Duration::from_secs(2)).await;
        store.put(&key(4), "k", b"1".to_vec()).await.unwrap();
        assert!(store.touch(&key(1)).await.unwrap());
        assert!(
            !store.touch(&key(2)).await.unwrap(),
            "LRU page should be evicted"
        );
        assert!(store.touch(&key(3)).await.unwrap());
        assert_eq!(store.stats().evictions, 1);
        assert!(store.stats().bytes_used <= limit);
    }

    #[tokio::test(start_paused = true)]
    async fn never_evicts_pages_in_use() {
        let limit = 2 * (PAGE_OVERHEAD + ENTRY_OVERHEAD + 2);
        let store = MemoryPageStore::new(
            PageOptions::default(),
            MemoryOptions::default()
                .memory_limit(limit)
                .min_idle(Duration::from_secs(10)),
        );
        store.put(&key(1), "k", b"1".to_vec()).await.unwrap();
        store.put(&key(2), "k", b"1".to_vec()).await.unwrap();
        let err = store.put(&key(3), "k", b"1".to_vec()).await.unwrap_err();
        assert!(matches!(err, Error::StoreFull { .. }), "{err:?}");
        // The failed write left nothing behind.
        assert_eq!(store.stats().pages, 2);
        assert!(!store.touch(&key(3)).await.unwrap());
    }

    #[tokio::test]
    async fn budget_is_given_back_exactly() {
        let store = MemoryPageStore::new(
            PageOptions::default().limits(Limits::default()),
            MemoryOptions::default(),
        );
        store.put(&key(1), "a", b"12345".to_vec()).await.unwrap();
        store.put(&key(1), "a", b"1".to_vec()).await.unwrap();
        store.put(&key(1), "b", b"1".to_vec()).await.unwrap();
        assert!(store.delete(&key(1), "b").await.unwrap());
        assert_eq!(store.stats().bytes_used, PAGE_OVERHEAD + ENTRY_OVERHEAD + 2);
        store.clear(&key(1)).await.unwrap();
        assert_eq!(store.stats().bytes_used, 0);
        assert_eq!(store.stats().pages, 0);
    }

    #[tokio::test(start_paused = true)]
    async fn sweep_frees_only_expired_pages() {
        let store = MemoryPageStore::new(
            PageOptions::default().ttl(Duration::from_secs(60)),
            MemoryOptions::default(),
        );
        store.put(&key(1), "k", b"1".to_vec()).await.unwrap();
        tokio::time::advance(Duration::from_secs(45)).await;
        store.put(&key(2), "k", b"1".to_vec()).await.unwrap();
        tokio::time::advance(Duration::from_secs(30)).await;
        assert_eq!(store.sweep().await.unwrap(), 1);
        assert_eq!(store.stats().pages, 1);
        assert!(store.touch(&key(2)).await.unwrap());
    }

    #[tokio::test(start_paused = true)]
    async fn a_page_used_again_at_once_keeps_its_place_and_nothing_expired_is_lost() {
        let ttl = Duration::from_secs(60);
        let store = MemoryPageStore::new(PageOptions::default().ttl(ttl), MemoryOptions::default());
        // Keys 1 and 65 share a shard: 1 is first in its order, then 65.
        store.put(&key(1), "k", b"1".to_vec()).await.unwrap();
        tokio::time::advance(Duration::from_millis(10)).await;
        store.put(&key(65), "k", b"1".to_vec()).await.unwrap();
        // Within REORDER_MS of its placing: page 1 is used, not moved.
        tokio::time::advance(Duration::from_millis(40)).await;
        assert!(store.touch(&key(1)).await.unwrap());
        // Page 65 has expired; page 1, still first in the order, has not.
        tokio::time::advance(ttl - Duration::from_millis(20)).await;
        // A sweep may stop at page 1 and leave page 65 for later; it is
        // not readable meanwhile.
        assert!(store.sweep().await.unwrap() <= 1);
        assert!(
            !store.touch(&key(65)).await.unwrap(),
            "an expired page was read"
        );
        tokio::time::advance(Duration::from_millis(REORDER_MS)).await;
        store.sweep().await.unwrap();
        assert_eq!(store.stats().pages, 0);
        assert_eq!(store.stats().bytes_used, 0);
    }
}
