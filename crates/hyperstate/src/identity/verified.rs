//! A memo of cookie values already verified, so that a browser's next request
//! skips the base64 decode and the HMAC (most of what reading a cookie costs).
//!
//! The key list keeps one per thread, so that a look costs no lock and no
//! cache line shared with another core. Direct-mapped and fixed in size, so
//! that a flood of cookie values costs no memory: it only pushes out entries,
//! which are verified again when they come back. Only values a listed key
//! signed are kept, each under the id of the key list that verified it (a list
//! gets a new id whenever it is made or changed). A value is compared in
//! constant time: the entries are other browsers' valid cookies, and a timing
//! difference must not tell a guesser how much of one it got right.

use std::sync::atomic::{AtomicU64, Ordering};

use subtle::ConstantTimeEq;

/// Entries per memo; [`slot`] gives a byte.
const SLOTS: usize = 256;

/// What `N`-byte values verified as (`T`), under which key list.
pub(super) struct Memo<const N: usize, T> {
    /// Empty until the first entry: threads that never verify cost nothing.
    slots: Vec<Option<Entry<N, T>>>,
}

struct Entry<const N: usize, T> {
    list: u64,
    value: [u8; N],
    found: T,
}

impl<const N: usize, T: Copy> Memo<N, T> {
    pub(super) const fn new() -> Self {
        Memo { slots: Vec::new() }
    }

    /// What `value` verified as under key list `list`, if remembered.
    pub(super) fn recall(&self, list: u64, value: &[u8; N]) -> Option<T> {
        let entry = self.slots.get(slot(value))?.as_ref()?;
        let same = entry.list == list && bool::from(entry.value.ct_eq(value));
        same.then_some(entry.found)
    }

    /// Remembers that `value` verified as `found` under key list `list`.
    pub(super) fn remember(&mut self, list: u64, value: &[u8; N], found: T) {
        if self.slots.is_empty() {
            self.slots.resize_with(SLOTS, || None);
        }
        self.slots[slot(value)] = Some(Entry {
            list,
            value: *value,
            found,
        });
    }
}

/// A new key-list id: never one an earlier list had.
pub(super) fn next_list_id() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// The slot of `value`: a hash of its first 16 bytes, which in a cookie
/// encode the random browser id (a client choosing values that share a slot
/// only makes them miss).
fn slot(value: &[u8]) -> usize {
    let mixed = value.iter().take(16).fold(0u64, |hash, &byte| {
        (hash.rotate_left(5) ^ u64::from(byte)).wrapping_mul(0x9e37_79b9_7f4a_7c15)
    });
    // The top byte of a multiplicative hash: SLOTS is 256.
    (mixed >> 56) as usize
}
