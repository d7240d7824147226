//! [`Sessions`]: the session scope of one node.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::cache::DocCache;
use super::cache_stats::CacheStats;
use super::coherence::SessionCoherence;
use super::handle::Session;
use super::health::WriteProbe;
use super::key::{KeyDeriver, SessionKey};
use super::store::DocumentStore;
use super::writer::Writers;
use super::{SessionDoc, SessionOptions, SessionSecret};
use crate::supervisor::TaskSpawner;
use crate::{BrowserId, Result, Supervisor};

/// The session scope of one node: a document store, the server secret, and the
/// node's writer tasks. Cheap to clone; clones share everything.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> hyperstate::Result<()> {
/// use std::sync::Arc;
/// use hyperstate::{BrowserId, Supervisor};
/// use hyperstate::memory::MemoryDocumentStore;
/// use hyperstate::session::{SessionOptions, SessionSecret, Sessions, View};
///
/// let supervisor = Supervisor::new();
/// let sessions = Sessions::new(
///     Arc::new(MemoryDocumentStore::default()),
///     SessionSecret::generate(),
///     SessionOptions::default(),
///     &supervisor,
/// );
/// let settings = View::new("settings");
/// let session = sessions.session(&BrowserId::generate(), None);
/// session.view(&settings).put("theme", &"dark").await?; // durable when it returns
/// assert_eq!(session.view(&settings).get_or("theme", String::new()).await?, "dark");
/// supervisor.shutdown().await; // drains the writers
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Sessions {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) store: Arc<dyn DocumentStore>,
    /// The HMAC keyed with the server secret, which derives storage keys.
    keys: KeyDeriver,
    pub(crate) options: SessionOptions,
    pub(crate) spawner: TaskSpawner,
    pub(crate) writers: Writers,
    write_probe: WriteProbe,
    pub(crate) coherence: SessionCoherence,
    /// `None` when the coherence is `Off`.
    pub(crate) cache: Option<DocCache>,
    pub(crate) cache_stats: CacheStats,
}

impl fmt::Debug for Sessions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sessions")
            .field("backend", &self.inner.store.backend_name())
            .field("coherence", &self.inner.coherence)
            .field("options", &self.inner.options)
            .field("stats", &self.stats())
            .finish()
    }
}

/// The task name the sweep is leased under.
const SWEEP_LEASE: &str = "session-sweep";

/// Counters of one node's session scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct SessionStats {
    /// Writer tasks currently running.
    pub active_writers: usize,
    /// Successful PUTs (each may carry many writes).
    pub commits: u64,
    /// PUTs that lost a compare-and-swap and were retried.
    pub conflicts: u64,
    /// Reads answered from this node's cache (no store request).
    pub cache_hits: u64,
    /// Reads that went to the store (cache off, not cached, or not provably
    /// current).
    pub cache_misses: u64,
    /// Reads that could not reach the shared revision register (and went to
    /// the store).
    pub register_errors: u64,
}

impl Sessions {
    /// The session scope over `store`, without a cache (every read goes to the
    /// store: see [`Sessions::with_coherence`]). Writer tasks run under
    /// `supervisor`, whose shutdown commits every queued write before it
    /// returns.
    pub fn new(
        store: Arc<dyn DocumentStore>,
        secret: SessionSecret,
        options: SessionOptions,
        supervisor: &Supervisor,
    ) -> Self {
        Self::with_coherence(store, secret, options, SessionCoherence::Off, supervisor)
    }

    /// The session scope over `store`, whose reads are answered from this
    /// node's cache (of [`SessionOptions::cache_bytes`]) whenever `coherence`
    /// proves it current.
    pub fn with_coherence(
        store: Arc<dyn DocumentStore>,
        secret: SessionSecret,
        options: SessionOptions,
        coherence: SessionCoherence,
        supervisor: &Supervisor,
    ) -> Self {
        let backend = store.backend_name();
        let cache = match &coherence {
            SessionCoherence::Off => None,
            SessionCoherence::SingleNode => Some(DocCache::new(options.cache_bytes, true, backend)),
            SessionCoherence::Shared(_) => Some(DocCache::new(options.cache_bytes, false, backend)),
        };
        Sessions {
            inner: Arc::new(Inner {
                store,
                keys: KeyDeriver::new(&secret),
                options,
                spawner: supervisor.spawner(),
                writers: Writers::default(),
                write_probe: WriteProbe::default(),
                coherence,
                cache,
                cache_stats: CacheStats::new(backend),
            }),
        }
    }

    /// How this node's cache is kept current.
    pub fn coherence(&self) -> &SessionCoherence {
        &self.inner.coherence
    }

    /// The session of `browser`, as seen by a request from page `page` (needed to
    /// read and write `Reconnect` keys). No I/O: nothing is loaded or created
    /// until a read or write.
    pub fn session(&self, browser: &BrowserId, page: Option<crate::PageId>) -> Session {
        let key = self.inner.keys.derive(browser);
        Session::new(self.clone(), key, page)
    }

    /// The options in force.
    pub fn options(&self) -> &SessionOptions {
        &self.inner.options
    }

    /// The document store.
    pub fn store(&self) -> &Arc<dyn DocumentStore> {
        &self.inner.store
    }

    /// Whether the store can serve reads and take writes, for a health
    /// endpoint. Reads are probed on every call; writes (a small document
    /// created and deleted, see [`DocumentStore::check_writable`]) at most once
    /// per [`SessionOptions::write_probe_interval`], whose verdict the calls in
    /// between share.
    pub async fn check_health(&self) -> Result<()> {
        let inner = &self.inner;
        inner
            .write_probe
            .check(inner.store.as_ref(), inner.options.write_probe_interval)
            .await
    }

    /// Whether the shared revision register ([`SessionCoherence::Shared`])
    /// answers, for a health endpoint: its backend name and the result of one
    /// read (of a key no session has); `None` without a shared register. While
    /// it is down, reads still come from the store but writes answer 503
    /// ("maybe written"), so a node whose register is down is not healthy.
    pub async fn check_register(&self) -> Option<(&'static str, Result<()>)> {
        let register = self.inner.coherence.register()?;
        // A storage key is an HMAC output: all zeroes is no session's key.
        let probe = SessionKey::from_bytes([0; 32]);
        Some((
            register.backend_name(),
            register.latest(&probe).await.map(drop),
        ))
    }

    /// This node's counters.
    pub fn stats(&self) -> SessionStats {
        let writers = &self.inner.writers;
        SessionStats {
            active_writers: writers.active(),
            commits: writers.commits.load(Ordering::Relaxed),
            conflicts: writers.conflicts.load(Ordering::Relaxed),
            cache_hits: self.inner.cache_stats.hits.load(Ordering::Relaxed),
            cache_misses: self.inner.cache_stats.misses.load(Ordering::Relaxed),
            register_errors: self
                .inner
                .cache_stats
                .register_errors
                .load(Ordering::Relaxed),
        }
    }

    /// Deletes sessions not seen for the TTL; returns how many.
    pub async fn sweep(&self) -> Result<usize> {
        self.sweep_at(SystemTime::now()).await
    }

    /// [`Sessions::sweep`] as if the time were `now` (for tests of expiry).
    pub async fn sweep_at(&self, now: SystemTime) -> Result<usize> {
        let ttl = self.inner.options.ttl;
        let Some(cutoff) = now.checked_sub(ttl) else {
            return Ok(0);
        };
        let cutoff_ms = cutoff
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_millis() as u64;
        let store = &self.inner.store;
        let mut deleted = 0;
        for listed in store.list().await? {
            // The modification time is a cheap first filter: a document written
            // within the TTL was seen within it. The body has the final word.
            if listed.modified > cutoff {
                continue;
            }
            let Some(doc) = store.get(&listed.key).await? else {
                continue;
            };
            let last_seen = match SessionDoc::decode(&doc.body) {
                Ok(parsed) => parsed.last_seen_at,
                Err(err) => {
                    // Unreadable and untouched for the whole TTL: nothing can use
                    // it, but its bytes are kept for inspection before it goes.
                    let location = store.quarantine(&listed.key, &doc).await?;
                    tracing::warn!(
                        session_key = %listed.key,
                        location = %location,
                        error = %err,
                        "sweeping an unreadable session document; a copy is kept"
                    );
                    0
                }
            };
            if last_seen > cutoff_ms {
                continue;
            }
            // A session created again after this starts its revisions from
            // zero: the shared record of the old ones must go first.
            if let Some(register) = self.inner.coherence.register() {
                register.forget(&listed.key).await?;
            }
            if store.delete(&listed.key, Some(&doc.etag)).await? {
                deleted += 1;
            }
            if let Some(cache) = &self.inner.cache {
                cache.removed(listed.key);
            }
        }
        Ok(deleted)
    }

    /// [`Sessions::sweep`], unless another node sharing this node's revision
    /// register ([`SessionCoherence::Shared`]) has swept within `period`:
    /// then `None`, and no store request. Without a shared register, every
    /// call sweeps.
    pub async fn sweep_leased(&self, period: Duration) -> Result<Option<usize>> {
        if let Some(register) = self.inner.coherence.register()
            && !register.lease(SWEEP_LEASE, period).await?
        {
            return Ok(None);
        }
        self.sweep().await.map(Some)
    }

    /// Runs [`Sessions::sweep_leased`] every `every` under `supervisor`: with a
    /// shared register, one node of the fleet sweeps per interval.
    pub fn spawn_sweeper(&self, supervisor: &Supervisor, every: Duration) {
        let sessions = self.clone();
        supervisor.spawn_periodic("session-sweeper", every, move || {
            let sessions = sessions.clone();
            async move {
                // A lease a little shorter than the interval has lapsed by the
                // next tick of whichever node holds it.
                match sessions.sweep_leased(every - every / 10).await {
                    Ok(Some(deleted)) => tracing::debug!(deleted, "session sweep done"),
                    Ok(None) => tracing::debug!("session sweep left to another node"),
                    Err(err) => tracing::warn!(error = %err, "session sweep failed"),
                }
            }
        });
    }
}
