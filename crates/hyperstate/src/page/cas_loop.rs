//! The compare-and-set loop of a page `update`, for stores whose update is a
//! conditional write on the server (Redis's script, PostgreSQL's function).
//!
//! The store supplies its two round trips ([`CompareAndSet`]); the loop does
//! the rest. Updates of one page on this node take turns, so the
//! compare-and-set only races writers on *other* nodes. The value this node
//! last saw ([`RecentValues`]) is the first guess, so most updates are one
//! round trip; a conflict retries with the value the server found, so it costs
//! one more round trip, never a separate read. A writer that keeps losing backs
//! off, and at last gives up rather than starve.

use std::hash::{BuildHasher, Hash, RandomState};
use std::time::Duration;

use async_trait::async_trait;

use super::PageKey;
use super::recent_values::RecentValues;
use super::store::UpdateFn;
use crate::{Error, Result};

/// How many conflicting concurrent updates one `update` call rides out before
/// failing. Each conflict means another writer succeeded, so the system as a
/// whole always makes progress; the bound only stops one caller starving.
const MAX_UPDATE_ATTEMPTS: usize = 100;
/// Stripes of the local update locks: pages share a lock only when their keys
/// share a first byte, which is rare enough to cost nothing.
const UPDATE_LOCK_STRIPES: usize = 256;

/// What one conditional write of a page key did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Written {
    /// The key held the expected value and now holds the new one.
    Done,
    /// The key held another value, handed back (`None`: the key was absent);
    /// nothing changed.
    Conflict(Option<Vec<u8>>),
}

/// A store's round trips for [`CasLoop::update`].
///
/// Both address one key of one page. Errors are the store's own (limits,
/// backend failures); the loop passes them on unchanged.
#[async_trait]
pub trait CompareAndSet: Send + Sync {
    /// The current value of `key` (`None`: absent), asked for when this node
    /// does not remember one.
    async fn read(&self, page: &PageKey, key: &str) -> Result<Option<Vec<u8>>>;

    /// Writes `new` as the value of `key` if it still holds `expected`
    /// (`None`: absent), with the same limits and TTL refresh as a put;
    /// otherwise changes nothing and answers with the value found.
    async fn compare_and_set(
        &self,
        page: &PageKey,
        key: &str,
        expected: Option<&[u8]>,
        new: &[u8],
    ) -> Result<Written>;
}

/// An `update` lost the compare-and-set race more times than allowed.
#[derive(Debug, thiserror::Error)]
#[error("gave up after {attempts} conflicting concurrent updates of one key")]
struct TooMuchContention {
    attempts: usize,
}

/// Runs page updates as compare-and-set loops over a store's
/// [`CompareAndSet`]; one per store, shared by its clones.
///
/// Counts every lost compare-and-set in
/// `hyperstate_cas_conflicts_total{scope="page", backend}`.
#[derive(Debug)]
pub struct CasLoop {
    backend: &'static str,
    /// Updates of one page on this node take turns (striped by page). Without
    /// this, a burst of concurrent updates of one key on one node would mostly
    /// fail their compare-and-set and retry, round trip after round trip.
    turns: Box<[tokio::sync::Mutex<()>]>,
    jitter: RandomState,
    conflicts: metrics::Counter,
}

impl CasLoop {
    /// The loop of a store named `backend` (the name its errors and metrics
    /// carry). The conflict counter binds to the metrics recorder current now.
    pub fn new(backend: &'static str) -> Self {
        CasLoop {
            backend,
            turns: (0..UPDATE_LOCK_STRIPES)
                .map(|_| tokio::sync::Mutex::new(()))
                .collect(),
            jitter: RandomState::new(),
            conflicts: crate::observe::cas_conflicts("page", backend),
        }
    }

    /// Applies `f` to the value of `key` and writes the result with `store`'s
    /// compare-and-set until one lands, as
    /// [`PageStore::update`](crate::page::PageStore::update) asks; returns the
    /// value written.
    ///
    /// `recent` is kept up to date: it remembers the value written, and
    /// forgets the key on any error (the closure may have judged a stale
    /// value, and a write whose reply was lost may or may not have landed).
    /// After 100 conflicts it fails with a backend error of operation
    /// `"update"`.
    pub async fn update<S>(
        &self,
        store: &S,
        recent: &RecentValues,
        page: &PageKey,
        key: &str,
        f: UpdateFn<'_>,
    ) -> Result<Vec<u8>>
    where
        S: CompareAndSet + ?Sized,
    {
        let stripe = page.as_bytes()[0] as usize % UPDATE_LOCK_STRIPES;
        let _turn = self.turns[stripe].lock().await;
        let mut current = match recent.get(page, key) {
            Some(known) => known,
            None => store.read(page, key).await?,
        };
        for attempt in 0..MAX_UPDATE_ATTEMPTS {
            let new = match f(current.as_deref()) {
                Ok(new) => new,
                Err(err) => {
                    // The closure may have judged a stale value: forget it.
                    recent.forget(page, key);
                    return Err(err);
                }
            };
            match store
                .compare_and_set(page, key, current.as_deref(), &new)
                .await
            {
                Ok(Written::Done) => {
                    recent.remember(page, key, Some(&new));
                    return Ok(new);
                }
                Ok(Written::Conflict(found)) => {
                    self.conflicts.increment(1);
                    current = found;
                }
                Err(err) => {
                    recent.forget(page, key);
                    return Err(err);
                }
            }
            if attempt > 0 {
                // Another writer won twice in a row: back off. A first
                // conflict is usually this node's stale memory, not contention.
                tokio::time::sleep(conflict_backoff(&self.jitter, page, attempt)).await;
            }
        }
        Err(Error::backend(
            self.backend,
            "update",
            TooMuchContention {
                attempts: MAX_UPDATE_ATTEMPTS,
            },
        ))
    }
}

/// How long a compare-and-set loop waits after losing its `attempt`-th try
/// (from 0) to another writer: 1, 2, 4 ... 32 ms, doubling with each attempt,
/// plus up to as much again of jitter (`jitter` hashed with `seed`, e.g. the
/// contended key, and the attempt) so that two nodes do not retry in lockstep.
pub fn conflict_backoff(jitter: &RandomState, seed: impl Hash, attempt: usize) -> Duration {
    let base = 1u64 << attempt.min(5);
    Duration::from_millis(base + jitter.hash_one((seed, attempt)) % base)
}

#[cfg(test)]
#[path = "cas_loop_tests.rs"]
mod tests;
