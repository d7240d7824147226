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
        let same = entry.list == list && same_bytes(&entry.value, value);
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

/// `a == b`, in a time that depends on their length only: the bytes' differences
/// are gathered a word at a time (subtle's byte-wise comparison costs a
/// barrier per byte, more than the rest of a look), and only the gathered
/// word is compared, once, in constant time.
fn same_bytes<const N: usize>(a: &[u8; N], b: &[u8; N]) -> bool {
    let words = |bytes: &[u8]| {
        let mut word = [0u8; 8];
        word[..bytes.len()].copy_from_slice(bytes);
        u64::from_le_bytes(word)
    };
    let difference = a
        .chunks(8)
        .zip(b.chunks(8))
        // The barrier keeps the compiler from ending the fold early.
        .fold(0u64, |gathered, (x, y)| {
            std::hint::black_box(gathered | (words(x) ^ words(y)))
        });
    bool::from(difference.ct_eq(&0))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_are_the_same_only_when_every_byte_is() {
        let a: [u8; 38] = std::array::from_fn(|i| i as u8);
        assert!(same_bytes(&a, &a));
        // A difference in any byte, the last partial word's included.
        for at in 0..a.len() {
            for bit in 0..8 {
                let mut b = a;
                b[at] ^= 1 << bit;
                assert!(!same_bytes(&a, &b), "byte {at}, bit {bit}");
            }
        }
    }
}
