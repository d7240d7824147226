//! Committing a batch of session writes: one conditional PUT, reloading and
//! re-applying on a lost compare-and-swap, then making the commit visible
//! (the shared revision register, this node's cache) before answering.
//!
//! A [`Committer`] belongs to whoever commits for a session on this node at a
//! time: a writer task, or a caller committing from its own task.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::cache::Cached;
use super::coherence::Revision;
use super::doc::SessionDoc;
use super::service::Inner;
use super::store::{Etag, PutCondition, PutOutcome};
use super::{SessionKey, SessionOptions, stored};
use crate::log_limit::RepeatedErrors;
use crate::{Error, Result};

/// Sessions that several nodes fight over give up alike: one line per interval.
static GAVE_UP: RepeatedErrors = RepeatedErrors::new(crate::log_limit::INTERVAL);

const BACKOFF_BASE: Duration = Duration::from_millis(5);
const BACKOFF_MAX: Duration = Duration::from_millis(250);

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis() as u64
}

/// One write waiting to be committed: what a [`Committer`] applies to the
/// freshest document (again after each lost compare-and-swap) and then
/// answers.
pub(crate) trait Pending {
    /// Applies the write to `doc`, or fails, changing nothing, when it would
    /// break a limit (or, for an update, when its closure declines).
    fn apply(&mut self, doc: &mut SessionDoc, options: &SessionOptions) -> Result<()>;

    /// Tells the write's caller how its commit ended.
    fn finish(self, result: Result<()>);
}

/// Commits batches of one session's writes.
pub(crate) struct Committer {
    inner: Arc<Inner>,
    key: SessionKey,
    /// The last document this committer read or wrote, shared with the node's
    /// cache (one copy, not two). Trusted only until a PUT says otherwise.
    cached: Option<Arc<Cached>>,
}

impl Committer {
    pub(crate) fn new(inner: Arc<Inner>, key: SessionKey) -> Self {
        Committer {
            inner,
            key,
            cached: None,
        }
    }

    /// The document to apply the next batch to: the last one this writer saw,
    /// else this node's cached copy (no GET: the PUT's compare-and-swap finds
    /// out if either is stale), else the store's. After a lost
    /// compare-and-swap (`after_conflict`) only the store's will do.
    async fn load(&mut self, after_conflict: bool) -> Result<(SessionDoc, Option<Etag>)> {
        if after_conflict {
            self.cached = None;
        } else if let Some(known) = self
            .cached
            .take()
            .or_else(|| self.inner.cache.as_ref().and_then(|c| c.get(&self.key)))
        {
            return Ok((known.doc.clone(), Some(known.etag.clone())));
        }
        Ok(match stored::read(&self.inner, &self.key).await? {
            // Read for this commit alone: nobody else holds it, so no copy.
            Some(loaded) => match Arc::try_unwrap(loaded) {
                Ok(Cached { doc, etag, .. }) => (doc, Some(etag)),
                Err(shared) => (shared.doc.clone(), Some(shared.etag.clone())),
            },
            None => (SessionDoc::default(), None),
        })
    }

    /// Makes a commit visible: records it in the shared register (before the
    /// acknowledgement, so a read anywhere that starts after it sees it) and
    /// keeps it in this node's cache.
    async fn publish(&mut self, doc: SessionDoc, etag: Etag, bytes: usize) -> Result<()> {
        let recorded = match self.inner.coherence.register() {
            Some(register) => {
                let revision = Revision {
                    rev: doc.rev,
                    etag: etag.clone(),
                };
                register
                    .record(&self.key, &revision)
                    .await
                    .map_err(|err| match err {
                        // A breaker's "nothing changed" would be wrong here:
                        // the PUT has landed. Still a 503, but *maybe written*.
                        Error::BackendUnavailable { .. } => Error::Backend {
                            backend: register.backend_name(),
                            operation: "record the session revision",
                            source: Box::new(err),
                        },
                        err => err,
                    })
            }
            None => Ok(()),
        };
        let committed = Arc::new(Cached::new(doc, etag, bytes));
        if let Some(cache) = &self.inner.cache {
            cache.committed(self.key, committed.clone());
        }
        self.cached = Some(committed);
        recorded
    }

    /// Commits `jobs` in one PUT (more after conflicts) and answers each.
    pub(crate) async fn commit<P: Pending>(&mut self, mut jobs: Vec<P>) {
        let inner = self.inner.clone();
        let attempts = inner.options.max_attempts;
        let backend = inner.store.backend_name();
        let conflicts = crate::observe::cas_conflicts("session", backend);
        for attempt in 0..attempts {
            let (current, etag) = match self.load(attempt > 0).await {
                Ok(loaded) => loaded,
                Err(err) => return fail_all(jobs, err),
            };
            // Apply each change on its own so that one breaking a limit fails
            // alone instead of failing the whole batch. A change that fails
            // leaves the document as it was (see `Change::apply`), so the
            // loaded copy itself becomes the next one.
            let (base_rev, base_seen) = (current.rev, current.last_seen_at);
            let mut next = current;
            let mut applied = Vec::with_capacity(jobs.len());
            for mut job in jobs {
                match job.apply(&mut next, &inner.options) {
                    Ok(()) => applied.push(job),
                    Err(err) => job.finish(Err(err)),
                }
            }
            if applied.is_empty() {
                // Nothing to write; an absent document is simply read again.
                self.cached = etag.map(|etag| Arc::new(Cached::new(next, etag, 0)));
                return;
            }
            next.rev = base_rev + 1;
            next.last_seen_at = base_seen.max(now_ms());
            let condition = match &etag {
                Some(etag) => PutCondition::Matches(etag),
                None => PutCondition::Absent,
            };
            let started = Instant::now();
            let body = next.encode();
            let bytes = body.len();
            let put = inner.store.put(&self.key, body, condition).await;
            crate::observe::durable_write_seconds(backend).record(started.elapsed());
            match put {
                Ok(PutOutcome::Written(new_etag)) => {
                    inner.writers.commits.fetch_add(1, Ordering::Relaxed);
                    metrics::counter!("hyperstate_session_commits_total", "backend" => backend)
                        .increment(1);
                    metrics::histogram!("hyperstate_session_batch_size", "backend" => backend)
                        .record(applied.len() as f64);
                    // The write is durable; if other nodes cannot be told,
                    // its callers hear so (an error means "maybe written").
                    if let Err(err) = self.publish(next, new_etag, bytes).await {
                        return fail_all(applied, err);
                    }
                    for job in applied {
                        job.finish(Ok(()));
                    }
                    return;
                }
                Ok(PutOutcome::Conflict) => {
                    inner.writers.conflicts.fetch_add(1, Ordering::Relaxed);
                    conflicts.increment(1);
                    tracing::debug!(attempt, "session commit lost a compare-and-swap; reloading");
                    jobs = applied;
                    tokio::time::sleep(backoff(attempt)).await;
                }
                Err(err) => return fail_all(applied, err),
            }
        }
        if GAVE_UP.should_log(["session", "commit", backend, "conflict"]) {
            tracing::warn!(attempts, "session commit gave up after repeated conflicts");
        }
        for job in jobs {
            job.finish(Err(Error::SessionConflict { attempts }));
        }
    }
}

/// Exponential backoff with full jitter, so that colliding nodes spread out.
fn backoff(attempt: u32) -> Duration {
    let cap = BACKOFF_BASE
        .saturating_mul(1 << attempt.min(16))
        .min(BACKOFF_MAX);
    let mut random = [0u8; 2];
    // Jitter is best effort: without randomness the plain exponential still works.
    let _ = getrandom::fill(&mut random);
    cap.mul_f64(f64::from(u16::from_le_bytes(random)) / f64::from(u16::MAX))
}

/// Answers every job with (a shared copy of) `err`.
fn fail_all<P: Pending>(mut jobs: Vec<P>, err: Error) {
    if jobs.len() == 1 {
        // The common case keeps the error as it is (and its HTTP status).
        if let Some(job) = jobs.pop() {
            job.finish(Err(err));
        }
        return;
    }
    let shared = Arc::new(err);
    for job in jobs {
        job.finish(Err(Error::Backend {
            backend: "session writer",
            operation: "commit",
            source: Box::new(SharedError(shared.clone())),
        }));
    }
}

/// One error reported to every write of a failed batch.
#[derive(Debug)]
struct SharedError(Arc<Error>);

impl std::fmt::Display for SharedError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for SharedError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        std::error::Error::source(&*self.0)
    }
}
