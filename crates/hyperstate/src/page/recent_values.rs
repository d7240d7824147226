//! The values this node last read or wrote, so that an `update` can send its
//! compare-and-set straight away instead of reading first.
//!
//! For stores whose `update` is a compare-and-set on the server (Redis's
//! script, PostgreSQL's conditional write). Nothing here is trusted: the
//! server checks the expected value, and on a mismatch hands back the value it
//! found. A stale or missing entry therefore costs one extra round trip, never
//! a wrong result. The cache is bounded in bytes, and large values are not
//! kept.

use std::sync::Mutex;

use crate::page::PageKey;
use hashlink::LruCache;

/// Bytes of keys and values kept, across all pages (on top of a small
/// per-entry overhead).
const BUDGET_BYTES: usize = 4 << 20;
/// Values larger than this are never kept: one would crowd out hundreds of
/// small ones, and re-reading it is cheap next to encoding it.
const MAX_VALUE_BYTES: usize = 16 << 10;

/// A known value of one key: `None` means the key was absent.
type Known = Option<Vec<u8>>;

/// The values this node last read or wrote, per page and key.
#[derive(Debug)]
pub struct RecentValues {
    inner: Mutex<Inner>,
}

#[derive(Debug)]
struct Inner {
    entries: LruCache<(PageKey, String), Known>,
    bytes: usize,
}

fn cost(key: &str, value: &Known) -> usize {
    key.len() + value.as_ref().map_or(0, Vec::len)
}

impl Default for RecentValues {
    fn default() -> Self {
        Self::new()
    }
}

impl RecentValues {
    /// An empty cache.
    pub fn new() -> Self {
        RecentValues {
            inner: Mutex::new(Inner {
                entries: LruCache::new_unbounded(),
                bytes: 0,
            }),
        }
    }

    /// The value last seen for `key` of `page`: `Some(None)` when it was
    /// absent, `None` when this node does not know.
    pub fn get(&self, page: &PageKey, key: &str) -> Option<Known> {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        inner.entries.get(&(*page, key.to_owned())).cloned()
    }

    /// Remembers `value` (`None`: absent) as `key`'s current value, copying it
    /// only when it is small enough to keep.
    pub fn remember(&self, page: &PageKey, key: &str, value: Option<&[u8]>) {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let entry = (*page, key.to_owned());
        if let Some(old) = inner.entries.remove(&entry) {
            inner.bytes -= cost(key, &old);
        }
        if value.is_some_and(|v| v.len() > MAX_VALUE_BYTES) {
            return;
        }
        let value = value.map(<[u8]>::to_vec);
        inner.bytes += cost(key, &value);
        inner.entries.insert(entry, value);
        while inner.bytes > BUDGET_BYTES {
            let Some(((_, key), old)) = inner.entries.remove_lru() else {
                break;
            };
            inner.bytes -= cost(&key, &old);
        }
    }

    /// Keeps what a put of `value` to `key` left known: the value after a put
    /// that succeeded; nothing after one that failed, since a write whose
    /// reply was lost may or may not have landed.
    pub fn put<T>(&self, page: &PageKey, key: &str, value: &[u8], outcome: &crate::Result<T>) {
        match outcome {
            Ok(_) => self.remember(page, key, Some(value)),
            Err(_) => self.forget(page, key),
        }
    }

    /// Forgets what this node knew of `key`.
    pub fn forget(&self, page: &PageKey, key: &str) {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(old) = inner.entries.remove(&(*page, key.to_owned())) {
            inner.bytes -= cost(key, &old);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{BrowserId, PageId};

    fn page() -> PageKey {
        PageKey::derive(&BrowserId::generate(), &PageId::generate())
    }

    #[test]
    fn remembers_forgets_and_knows_absence() {
        let (recent, page) = (RecentValues::new(), page());
        assert_eq!(recent.get(&page, "a"), None);
        recent.remember(&page, "a", Some(b"1"));
        recent.remember(&page, "b", None);
        assert_eq!(recent.get(&page, "a"), Some(Some(b"1".to_vec())));
        assert_eq!(recent.get(&page, "b"), Some(None));
        recent.forget(&page, "a");
        assert_eq!(recent.get(&page, "a"), None);
    }

    #[test]
    fn a_put_is_remembered_and_a_failed_one_forgotten() {
        let (recent, page) = (RecentValues::new(), page());
        recent.put(&page, "a", b"1", &Ok(()));
        assert_eq!(recent.get(&page, "a"), Some(Some(b"1".to_vec())));
        let lost: crate::Result<()> = Err(crate::Error::backend("fake", "put", "reply lost"));
        recent.put(&page, "a", b"2", &lost);
        assert_eq!(recent.get(&page, "a"), None);
    }

    #[test]
    fn stays_within_its_budget_and_skips_large_values() {
        let (recent, page) = (RecentValues::new(), page());
        recent.remember(&page, "big", Some(&vec![0; MAX_VALUE_BYTES + 1]));
        assert_eq!(recent.get(&page, "big"), None);
        let value = vec![0; MAX_VALUE_BYTES];
        let n = BUDGET_BYTES / MAX_VALUE_BYTES * 2;
        for i in 0..n {
            recent.remember(&page, &format!("k{i}"), Some(&value));
        }
        let bytes = recent.inner.lock().unwrap().bytes;
        assert!(bytes <= BUDGET_BYTES, "{bytes} bytes kept");
        assert_eq!(recent.get(&page, "k0"), None, "the oldest went first");
        assert!(recent.get(&page, &format!("k{}", n - 1)).is_some());
    }
}
