//! The page this thread looked up last, so that the next operation of the
//! same request (the `update` after the `Page` extractor's `touch`) skips the
//! shard: its lock, its hash table, and the cache misses of both.
//!
//! It answers only for a page placed in its shard's LRU order within
//! [`REORDER_MS`](super::REORDER_MS) (an older one goes through its shard, to
//! be moved to the back) and never for a retired one ([`Entry::retired`]),
//! so a writer that finds its page retired and starts over is sent to the
//! shard.

use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};

use super::Entry;
use crate::page::PageKey;

thread_local! {
    static RECENT: RefCell<Option<Recent>> = const { RefCell::new(None) };
}

struct Recent {
    /// Which store (see [`next_store_id`]): a test may run several in one thread.
    store: u64,
    page: PageKey,
    /// Weak: a page this thread no longer uses, or whose store is gone, is not
    /// kept alive by the memo.
    entry: Weak<Entry>,
}

/// An id for a new store, never one another store had (an address could be).
pub(super) fn next_store_id() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// The entry of `page` in `store`, if it is the one this thread looked up last.
/// The caller still checks that it is live.
pub(super) fn recall(store: u64, page: &PageKey) -> Option<Arc<Entry>> {
    // `try_with` fails only while the thread is ending: then no memo.
    RECENT
        .try_with(|recent| {
            let recent = recent.borrow();
            let recent = recent.as_ref()?;
            let same = recent.store == store && recent.page == *page;
            if same { recent.entry.upgrade() } else { None }
        })
        .ok()
        .flatten()
}

/// Remembers `entry` as the page `page` of `store` this thread looked up last.
pub(super) fn remember(store: u64, page: &PageKey, entry: &Arc<Entry>) {
    let _ = RECENT.try_with(|recent| {
        *recent.borrow_mut() = Some(Recent {
            store,
            page: *page,
            entry: Arc::downgrade(entry),
        });
    });
}

#[cfg(test)]
mod tests {
    use std::future::Future;
    use std::sync::{Arc, mpsc};
    use std::time::Duration;

    use super::super::{ENTRY_OVERHEAD, Entry, MemoryOptions, MemoryPageStore, PAGE_OVERHEAD};
    use crate::page::{PageKey, PageOptions, PageStore};

    fn key(n: u8) -> PageKey {
        PageKey::from_bytes([n; 16])
    }

    /// Runs `test` on a thread of its own (the memo is per thread), with time
    /// paused so that nothing ages; fails if it has not ended within 10 s (a
    /// writer sent back to a retired page would loop for ever).
    fn on_one_thread<F: Future<Output = ()>>(test: impl FnOnce() -> F + Send + 'static) {
        let (done, ended) = mpsc::channel();
        std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_time()
                .start_paused(true)
                .build()
                .unwrap()
                .block_on(test());
            let _ = done.send(());
        });
        ended
            .recv_timeout(Duration::from_secs(10))
            .expect("the test panicked or never ended");
    }

    /// Writes page 1 of `store` and touches it: this thread's memo then holds
    /// it. Returns the page as an operation still in flight would hold it,
    /// which keeps it alive after it leaves its shard.
    async fn remembered(store: &MemoryPageStore) -> Arc<Entry> {
        store.put(&key(1), "k", b"1".to_vec()).await.unwrap();
        assert!(store.touch(&key(1)).await.unwrap());
        super::recall(store.inner.id, &key(1)).expect("the page is remembered")
    }

    #[test]
    fn a_cleared_page_is_not_answered_from_the_memo() {
        on_one_thread(|| async {
            let store = MemoryPageStore::default();
            let _in_flight = remembered(&store).await;
            store.clear(&key(1)).await.unwrap();
            assert!(!store.touch(&key(1)).await.unwrap());
            assert_eq!(store.get(&key(1), "k").await.unwrap(), None);
        });
    }

    #[test]
    fn a_write_to_a_page_evicted_since_its_touch_makes_a_new_page() {
        on_one_thread(|| async {
            // Room for one small page, not two; nothing counts as in use.
            let limit = PAGE_OVERHEAD + ENTRY_OVERHEAD + 2 + 100;
            let store = MemoryPageStore::new(
                PageOptions::default(),
                MemoryOptions::default()
                    .memory_limit(limit)
                    .min_idle(Duration::ZERO),
            );
            let _in_flight = remembered(&store).await;
            // Page 2 evicts page 1, on another path than this thread's lookups.
            let other = store.clone();
            tokio::task::spawn_blocking(move || {
                tokio::runtime::Handle::current().block_on(other.put(&key(2), "k", b"2".to_vec()))
            })
            .await
            .unwrap()
            .unwrap();
            assert_eq!(store.stats().evictions, 1);
            // Page 2 is older than page 1 made again: the eviction this makes
            // room with takes page 2 (still within the memo's window).
            tokio::time::advance(Duration::from_millis(10)).await;
            let mut seen = None;
            let mut f = |old: Option<&[u8]>| {
                seen = Some(old.map(<[u8]>::to_vec));
                Ok(b"3".to_vec())
            };
            store.update(&key(1), "k", &mut f).await.unwrap();
            assert_eq!(seen, Some(None), "the evicted page's value was seen");
            assert_eq!(store.get(&key(1), "k").await.unwrap(), Some(b"3".to_vec()));
        });
    }

    #[test]
    fn two_stores_do_not_share_a_page() {
        on_one_thread(|| async {
            let (a, b) = (MemoryPageStore::default(), MemoryPageStore::default());
            remembered(&a).await;
            assert!(!b.touch(&key(1)).await.unwrap());
        });
    }

    #[test]
    fn the_memo_does_not_keep_a_dropped_stores_page() {
        on_one_thread(|| async {
            let store = MemoryPageStore::default();
            remembered(&store).await;
            let id = store.inner.id;
            assert!(super::recall(id, &key(1)).is_some());
            drop(store);
            assert!(super::recall(id, &key(1)).is_none());
        });
    }
}
