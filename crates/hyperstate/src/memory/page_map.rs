//! The keys and values of one page, packed for memory.
//!
//! A page holds few keys (tens, bounded by `Limits::max_keys`), so a vector sorted
//! by key beats a hash map: binary search is as fast at that size, and each entry
//! is a single allocation holding `[key length: u16][key][value]`. That halves the
//! allocations per key and drops the hash table, which measured 201 → ~80 bytes of
//! resident memory per key (see BENCHMARKS.md).

use std::cmp::Ordering;

/// Sorted, packed key → value map.
#[derive(Debug, Default)]
pub(super) struct PageMap {
    entries: Vec<Box<[u8]>>,
}

fn key_of(entry: &[u8]) -> &[u8] {
    let len = u16::from_le_bytes([entry[0], entry[1]]) as usize;
    &entry[2..2 + len]
}

fn value_of(entry: &[u8]) -> &[u8] {
    let len = u16::from_le_bytes([entry[0], entry[1]]) as usize;
    &entry[2 + len..]
}

impl PageMap {
    /// Longest key a packed entry can hold.
    pub(super) const MAX_KEY_BYTES: usize = u16::MAX as usize;

    fn find(&self, key: &str) -> Result<usize, usize> {
        self.entries
            .binary_search_by(|entry| key_of(entry).cmp(key.as_bytes()).then(Ordering::Equal))
    }

    pub(super) fn len(&self) -> usize {
        self.entries.len()
    }

    pub(super) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub(super) fn get(&self, key: &str) -> Option<&[u8]> {
        self.find(key).ok().map(|at| value_of(&self.entries[at]))
    }

    /// Stores `value` under `key`; returns the length of the value it replaced.
    /// Keys longer than [`Self::MAX_KEY_BYTES`] must be rejected by the caller.
    pub(super) fn insert(&mut self, key: &str, value: &[u8]) -> Option<usize> {
        debug_assert!(key.len() <= Self::MAX_KEY_BYTES);
        let mut entry = Vec::with_capacity(2 + key.len() + value.len());
        entry.extend_from_slice(&(key.len() as u16).to_le_bytes());
        entry.extend_from_slice(key.as_bytes());
        entry.extend_from_slice(value);
        let entry = entry.into_boxed_slice();
        match self.find(key) {
            Ok(at) => {
                let old = std::mem::replace(&mut self.entries[at], entry);
                Some(value_of(&old).len())
            }
            Err(at) => {
                self.entries.insert(at, entry);
                None
            }
        }
    }

    /// Every key and value, in key order.
    pub(super) fn iter(&self) -> impl Iterator<Item = (&[u8], &[u8])> {
        self.entries
            .iter()
            .map(|entry| (key_of(entry), value_of(entry)))
    }

    /// Removes `key`; returns the length of its value.
    pub(super) fn remove(&mut self, key: &str) -> Option<usize> {
        let at = self.find(key).ok()?;
        Some(value_of(&self.entries.remove(at)).len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn behaves_like_a_map() {
        let mut map = PageMap::default();
        assert_eq!(map.insert("b", b"2"), None);
        assert_eq!(map.insert("a", b"1"), None);
        assert_eq!(map.insert("", b"empty"), None);
        assert_eq!(map.insert("b", b"22"), Some(1));
        assert_eq!(map.get("a"), Some(&b"1"[..]));
        assert_eq!(map.get("b"), Some(&b"22"[..]));
        assert_eq!(map.get(""), Some(&b"empty"[..]));
        assert_eq!(map.get("c"), None);
        assert_eq!(map.len(), 3);
        assert_eq!(map.remove("b"), Some(2));
        assert_eq!(map.remove("b"), None);
        assert_eq!(map.get("a"), Some(&b"1"[..]));
        assert!(!map.is_empty());
    }

    #[test]
    fn keys_that_prefix_each_other_stay_distinct() {
        let mut map = PageMap::default();
        for key in ["ab", "a", "abc", "b"] {
            map.insert(key, key.as_bytes());
        }
        for key in ["ab", "a", "abc", "b"] {
            assert_eq!(map.get(key), Some(key.as_bytes()));
        }
    }
}
