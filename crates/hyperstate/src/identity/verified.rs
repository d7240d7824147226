//! Cookie values this thread has already verified, so that a browser's next
//! request skips the base64 decode and the HMAC (most of what reading a
//! cookie costs).
//!
//! Per thread, so that a look costs no lock and no cache line shared with
//! another core; direct-mapped and fixed in size, so that a flood of cookie
//! values costs no memory: it only pushes out entries, which are verified
//! again when they come back. Only values a listed key signed are kept, each
//! under the key list that verified it ([`BrowserIdKeys`](super::BrowserIdKeys)
//! gets an id of its own when it is made or changed). A value is compared in
//! constant time: the entries are other browsers' valid cookies, and a timing
//! difference must not tell a guesser how much of one it got right.

use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, Ordering};

use subtle::ConstantTimeEq;

use super::keys::{COOKIE_VALUE_CHARS, IssuedBrowserId};

/// Entries per thread (~100 bytes each); [`slot`] gives a byte.
const SLOTS: usize = 256;

type Value = [u8; COOKIE_VALUE_CHARS];

struct Entry {
    keys: u64,
    value: Value,
    issued: IssuedBrowserId,
}

thread_local! {
    static VERIFIED: RefCell<Vec<Option<Entry>>> = const { RefCell::new(Vec::new()) };
}

/// A new id for a key list: never one an earlier list had.
pub(super) fn next_keys_id() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// What `value` verified as under key list `keys`, if this thread remembers.
pub(super) fn recall(keys: u64, value: &Value) -> Option<IssuedBrowserId> {
    VERIFIED
        .try_with(|verified| {
            let verified = verified.borrow();
            let entry = verified.get(slot(value))?.as_ref()?;
            let same = entry.keys == keys && bool::from(entry.value.ct_eq(value));
            same.then_some(entry.issued)
        })
        .ok()
        .flatten()
}

/// Remembers that `value` verified as `issued` under key list `keys`.
pub(super) fn remember(keys: u64, value: &Value, issued: IssuedBrowserId) {
    // Fails only while the thread is ending: then nothing is remembered.
    let _ = VERIFIED.try_with(|verified| {
        let mut verified = verified.borrow_mut();
        if verified.is_empty() {
            verified.resize_with(SLOTS, || None);
        }
        verified[slot(value)] = Some(Entry {
            keys,
            value: *value,
            issued,
        });
    });
}

/// The slot of `value`: a hash of its first 16 characters, which encode the
/// random browser id (a client choosing values that share a slot only makes
/// them miss).
fn slot(value: &Value) -> usize {
    let mut low = [0u8; 8];
    let mut high = [0u8; 8];
    low.copy_from_slice(&value[..8]);
    high.copy_from_slice(&value[8..16]);
    let mixed = u64::from_le_bytes(low) ^ u64::from_le_bytes(high).rotate_left(29);
    // The top byte of a multiplicative hash: SLOTS is 256.
    (mixed.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 56) as usize
}
