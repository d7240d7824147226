//! The node-local cache of session documents, bounded in bytes.
//!
//! It holds, per session, the last document this node read or committed and
//! its etag. Whether a read may trust it is the [`SessionCoherence`]'s call
//! (see [`super::coherence`]); this module only keeps the cache from going
//! backwards on this node:
//!
//! - When the cache is authoritative (a single node), a document read from the
//!   store replaces the cached one only if it is not older (a read that started
//!   before a commit must not undo it), and not at all if this node removed a
//!   document from the store while the read was in flight (the sweeper, or the
//!   replacement of an unreadable document). Both checks run under the entry's
//!   lock, like the removal itself.
//! - When a shared register validates every read, any fresh copy replaces the
//!   cached one: a wrong guess costs a miss, never a stale answer.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use moka::notification::RemovalCause;
use moka::ops::compute::Op;
use moka::sync::Cache;

use super::SessionKey;
use super::doc::SessionDoc;
use super::store::Etag;

/// One cached document.
#[derive(Debug)]
pub(crate) struct Cached {
    pub(crate) doc: SessionDoc,
    pub(crate) etag: Etag,
    /// Its stored size, which is what the cache's byte budget counts.
    bytes: u32,
}

impl Cached {
    pub(crate) fn new(doc: SessionDoc, etag: Etag, bytes: usize) -> Self {
        Cached {
            doc,
            etag,
            bytes: u32::try_from(bytes).unwrap_or(u32::MAX),
        }
    }
}

pub(crate) struct DocCache {
    entries: Cache<SessionKey, Arc<Cached>>,
    /// Whether this node's commits are the only ones (see the module docs).
    authoritative: bool,
    /// Counts removals from the store made by this node, so a read that
    /// overlapped one does not put back what was removed.
    removals: AtomicU64,
}

impl std::fmt::Debug for DocCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DocCache")
            .field("entries", &self.entries.entry_count())
            .field("bytes", &self.entries.weighted_size())
            .field("authoritative", &self.authoritative)
            .finish()
    }
}

impl DocCache {
    /// A cache of at most `bytes` bytes of stored documents of `backend`.
    /// Documents pushed out to stay within the budget count into
    /// `hyperstate_session_cache_evictions_total{backend}`: a steady rate
    /// there says the budget is smaller than the working set.
    pub(crate) fn new(bytes: u64, authoritative: bool, backend: &'static str) -> Self {
        let evictions =
            metrics::counter!("hyperstate_session_cache_evictions_total", "backend" => backend);
        let entries = Cache::builder()
            .max_capacity(bytes)
            .weigher(|_key, cached: &Arc<Cached>| cached.bytes)
            .eviction_listener(move |_key, _value, cause| {
                if cause == RemovalCause::Size {
                    evictions.increment(1);
                }
            })
            .build();
        DocCache {
            entries,
            authoritative,
            removals: AtomicU64::new(0),
        }
    }

    pub(crate) fn get(&self, key: &SessionKey) -> Option<Arc<Cached>> {
        self.entries.get(key)
    }

    /// A token to pass to [`Self::offer`] for a read of the store that starts now.
    pub(crate) fn read_started(&self) -> u64 {
        self.removals.load(Ordering::SeqCst)
    }

    /// Keeps `fresh`, read from the store after [`Self::read_started`]
    /// returned `started`, unless that would move the cache backwards.
    pub(crate) fn offer(&self, key: SessionKey, fresh: Arc<Cached>, started: u64) {
        let authoritative = self.authoritative;
        let removals = &self.removals;
        self.entries.entry(key).and_compute_with(|current| {
            if !authoritative {
                return Op::Put(fresh);
            }
            if removals.load(Ordering::SeqCst) != started {
                return Op::Nop;
            }
            match current {
                Some(current) if current.value().doc.rev > fresh.doc.rev => Op::Nop,
                _ => Op::Put(fresh),
            }
        });
    }

    /// Keeps what this node just committed.
    pub(crate) fn committed(&self, key: SessionKey, fresh: Arc<Cached>) {
        self.offer(key, fresh, self.read_started());
    }

    /// Forgets `key` because this node removed or replaced its document in the
    /// store outside the revision order.
    pub(crate) fn removed(&self, key: SessionKey) {
        let removals = &self.removals;
        self.entries.entry(key).and_compute_with(|_| {
            removals.fetch_add(1, Ordering::SeqCst);
            Op::Remove
        });
    }
}
