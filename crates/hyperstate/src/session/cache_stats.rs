//! How this node's session reads were answered: counted for
//! [`SessionStats`](super::SessionStats) and as `metrics` counters
//! (`hyperstate_session_cache_hits_total`, `..._misses_total`,
//! `hyperstate_session_register_errors_total`, by `backend`), so an operator
//! sees the hit rate, and a register outage, without asking the process.

use std::sync::atomic::{AtomicU64, Ordering};

use metrics::Counter;

/// Read outcomes of one session scope.
#[derive(Debug)]
pub(crate) struct CacheStats {
    pub(crate) hits: AtomicU64,
    pub(crate) misses: AtomicU64,
    pub(crate) register_errors: AtomicU64,
    hits_total: Counter,
    misses_total: Counter,
    register_errors_total: Counter,
}

impl CacheStats {
    /// Counters labelled with the document store's backend. Built when the
    /// scope is, so they attach to the recorder installed before it.
    pub(crate) fn new(backend: &'static str) -> Self {
        CacheStats {
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            register_errors: AtomicU64::new(0),
            hits_total: metrics::counter!("hyperstate_session_cache_hits_total", "backend" => backend),
            misses_total: metrics::counter!("hyperstate_session_cache_misses_total", "backend" => backend),
            register_errors_total: metrics::counter!(
                "hyperstate_session_register_errors_total",
                "backend" => backend
            ),
        }
    }

    /// A read answered from the cache, with no store request.
    pub(crate) fn hit(&self) {
        self.hits.fetch_add(1, Ordering::Relaxed);
        self.hits_total.increment(1);
    }

    /// A read the store answered.
    pub(crate) fn miss(&self) {
        self.misses.fetch_add(1, Ordering::Relaxed);
        self.misses_total.increment(1);
    }

    /// The revision register could not be asked (the read went to the store).
    pub(crate) fn register_error(&self) {
        self.register_errors.fetch_add(1, Ordering::Relaxed);
        self.register_errors_total.increment(1);
    }
}
