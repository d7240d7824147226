//! One writer task per active session: group commit and compare-and-swap.
//!
//! Every write of a session on this node goes through that session's writer, so
//! one node never races itself. The writer commits in batches: the first write
//! waiting starts a PUT, and everything that arrives while that PUT is in flight
//! goes into the next one (group commit: fewer PUTs, same guarantee). A write is
//! acknowledged only once the PUT carrying it has been accepted by the store.
//!
//! Other nodes may write the same session: every PUT is conditional on the etag
//! the writer last saw. On a conflict the writer reloads the document, re-applies
//! the pending per-key changes to it and tries again, with jittered backoff, up
//! to [`SessionOptions::max_attempts`](super::SessionOptions::max_attempts).
//!
//! A writer idle for `writer_idle` retires itself and is started again by the
//! next write. On shutdown it stops taking writes, commits what is queued, and
//! exits; the [`Supervisor`](crate::Supervisor) waits for it.
//!
//! At most [`SessionOptions::max_writers`](super::SessionOptions::max_writers)
//! writers live at once. A write to a session without a writer past that cap,
//! like a write after shutdown began, commits from the caller's own task with
//! the same compare-and-swap: a flood of one-write sessions then costs no task
//! (and no idle wait) per session, only the requests themselves.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio::sync::{mpsc, oneshot};

use super::cache::Cached;
use super::change::Change;
use super::coherence::Revision;
use super::doc::SessionDoc;
use super::service::Inner;
use super::store::{Etag, PutCondition, PutOutcome};
use super::{SessionKey, stored};
use crate::log_limit::RepeatedErrors;
use crate::{Error, Result};

/// Sessions that several nodes fight over give up alike: one line per interval.
static GAVE_UP: RepeatedErrors = RepeatedErrors::new(crate::log_limit::INTERVAL);

/// Writes queued for one session beyond this make senders wait (backpressure).
const QUEUE: usize = 512;
const BACKOFF_BASE: Duration = Duration::from_millis(5);
const BACKOFF_MAX: Duration = Duration::from_millis(250);

pub(crate) struct Job {
    change: Change,
    /// `None` for fire-and-forget writes (refreshing `last_seen_at`).
    ack: Option<oneshot::Sender<Result<()>>>,
}

impl Job {
    fn finish(self, result: Result<()>) {
        if let Some(ack) = self.ack {
            // The caller may have given up waiting (its request was cancelled);
            // the write stands either way.
            let _ = ack.send(result);
        }
    }
}

/// The live writers of this node, by session.
#[derive(Debug)]
pub(crate) struct Writers {
    map: Mutex<HashMap<SessionKey, (u64, mpsc::Sender<Job>)>>,
    next_id: AtomicU64,
    pub(crate) commits: AtomicU64,
    pub(crate) conflicts: AtomicU64,
    /// Serializes the commits made without a writer (past the cap, or during
    /// shutdown) per stripe of sessions, so that such writes of this node to one
    /// session never race each other's compare-and-swap, while writes to
    /// different sessions mostly proceed side by side.
    direct: [tokio::sync::Mutex<()>; DIRECT_STRIPES],
}

/// Stripes of [`Writers::direct`]: enough that a flood of distinct sessions
/// rarely queues on one, few enough to cost nothing.
const DIRECT_STRIPES: usize = 64;

impl Default for Writers {
    fn default() -> Self {
        Writers {
            map: Mutex::default(),
            next_id: AtomicU64::new(0),
            commits: AtomicU64::new(0),
            conflicts: AtomicU64::new(0),
            direct: std::array::from_fn(|_| tokio::sync::Mutex::new(())),
        }
    }
}

/// Where one write goes.
enum Route {
    /// The session's writer task.
    Writer(u64, mpsc::Sender<Job>),
    /// The caller's own task: shutting down, or the writer cap is reached.
    Direct,
}

impl Writers {
    pub(crate) fn active(&self) -> usize {
        self.lock().len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<SessionKey, (u64, mpsc::Sender<Job>)>> {
        // Nothing panics while holding this lock, and the map stays valid if it did.
        self.map.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Removes writer `id` of `key`, if it is still the registered one.
    fn retire(&self, key: &SessionKey, id: u64) {
        let mut map = self.lock();
        if map.get(key).is_some_and(|(current, _)| *current == id) {
            map.remove(key);
        }
    }
}

/// The writer of `key`, started if there is none and the cap allows one.
fn route(inner: &Arc<Inner>, key: SessionKey) -> Route {
    let mut map = inner.writers.lock();
    if let Some((id, tx)) = map.get(&key) {
        return Route::Writer(*id, tx.clone());
    }
    if map.len() >= inner.options.max_writers {
        return Route::Direct;
    }
    let id = inner.writers.next_id.fetch_add(1, Ordering::Relaxed);
    let (tx, rx) = mpsc::channel(QUEUE);
    let writer = Writer {
        inner: inner.clone(),
        key,
        id,
        rx,
        cached: None,
    };
    if !inner.spawner.spawn("session-writer", writer.run()) {
        return Route::Direct;
    }
    map.insert(key, (id, tx.clone()));
    Route::Writer(id, tx)
}

/// Queues `change` on the session's writer and waits until it is durable.
pub(crate) async fn submit(inner: &Arc<Inner>, key: SessionKey, change: Change) -> Result<()> {
    let (ack, acked) = oneshot::channel();
    let mut job = Job {
        change,
        ack: Some(ack),
    };
    // A send fails only if the writer retired (idle) or died between lookup and
    // send; the next lookup starts a fresh one. Three tries cover any such race.
    for _ in 0..3 {
        let (id, tx) = match route(inner, key) {
            Route::Writer(id, tx) if !inner.spawner.is_shutting_down() => (id, tx),
            Route::Writer(..) | Route::Direct => {
                commit_directly(inner, key, job).await;
                return acked.await.unwrap_or(Err(Error::WriterStopped));
            }
        };
        match tx.send(job).await {
            Ok(()) => return acked.await.unwrap_or(Err(Error::WriterStopped)),
            Err(mpsc::error::SendError(back)) => {
                job = back;
                inner.writers.retire(&key, id);
            }
        }
    }
    Err(Error::WriterStopped)
}

/// Commits one write from the caller's own task, with the same compare-and-swap
/// and retries as a writer but without group commit. Used past the writer cap,
/// and once shutdown has begun: writer tasks are draining then, yet requests
/// still in flight (a server drains them after the signal) must not lose their
/// writes.
async fn commit_directly(inner: &Arc<Inner>, key: SessionKey, job: Job) {
    // One at a time per stripe: unserialized writes to one session would each
    // lose the compare-and-swap to the others in turn.
    let stripe = usize::from(key.as_bytes()[0]) % DIRECT_STRIPES;
    let _turn = inner.writers.direct[stripe].lock().await;
    // A receiver nobody sends to: this writer only ever commits the one job.
    let (_unused, rx) = mpsc::channel(1);
    let mut writer = Writer {
        inner: inner.clone(),
        key,
        id: u64::MAX,
        rx,
        cached: None,
    };
    writer.commit(vec![job]).await;
}

/// Queues `change` without waiting; dropped if the writer is busy or stopping,
/// or if the writer cap leaves no room for one (it is only a refresh of
/// `last_seen_at`, tried again by a later read).
pub(crate) fn submit_detached(inner: &Arc<Inner>, key: SessionKey, change: Change) {
    if let Route::Writer(_, tx) = route(inner, key) {
        let _ = tx.try_send(Job { change, ack: None });
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis() as u64
}

struct Writer {
    inner: Arc<Inner>,
    key: SessionKey,
    id: u64,
    rx: mpsc::Receiver<Job>,
    /// The last document this writer read or wrote, and its etag (`None`: absent).
    /// Trusted only until a PUT says otherwise.
    cached: Option<(SessionDoc, Option<Etag>)>,
}

impl Writer {
    async fn run(mut self) {
        let cancel = self.inner.spawner.shutdown_token();
        let idle = self.inner.options.writer_idle;
        loop {
            let first = tokio::select! {
                // Queued writes come before shutdown and idleness: they are owed an answer.
                biased;
                job = self.rx.recv() => job,
                _ = cancel.cancelled() => None,
                _ = tokio::time::sleep(idle) => None,
            };
            let Some(first) = first else { break };
            let batch = self.take_batch(first);
            self.commit(batch).await;
        }
        // Stop taking writes, then commit what was queued before that: a send
        // either landed before `close` (and is committed here) or fails (and the
        // sender starts a new writer, or is told the service is shutting down).
        self.inner.writers.retire(&self.key, self.id);
        self.rx.close();
        while let Ok(first) = self.rx.try_recv() {
            let batch = self.take_batch(first);
            self.commit(batch).await;
        }
    }

    fn take_batch(&mut self, first: Job) -> Vec<Job> {
        let mut batch = vec![first];
        while batch.len() < self.inner.options.max_batch {
            match self.rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        batch
    }

    /// The document to apply the next batch to: the last one this writer saw,
    /// else this node's cached copy (no GET: the PUT's compare-and-swap finds
    /// out if either is stale), else the store's. After a lost
    /// compare-and-swap (`after_conflict`) only the store's will do.
    async fn load(&mut self, after_conflict: bool) -> Result<(SessionDoc, Option<Etag>)> {
        if after_conflict {
            self.cached = None;
        } else if let Some(cached) = self.cached.take() {
            return Ok(cached);
        } else if let Some(hit) = self.inner.cache.as_ref().and_then(|c| c.get(&self.key)) {
            return Ok((hit.doc.clone(), Some(hit.etag.clone())));
        }
        Ok(match stored::read(&self.inner, &self.key).await? {
            Some(loaded) => (loaded.doc.clone(), Some(loaded.etag.clone())),
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
                register.record(&self.key, &revision).await
            }
            None => Ok(()),
        };
        if let Some(cache) = &self.inner.cache {
            let cached = Cached::new(doc.clone(), etag.clone(), bytes);
            cache.committed(self.key, Arc::new(cached));
        }
        self.cached = Some((doc, Some(etag)));
        recorded
    }

    /// Commits `jobs` in one PUT (more after conflicts) and answers each.
    async fn commit(&mut self, mut jobs: Vec<Job>) {
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
            // alone instead of failing the whole batch.
            let mut next = current.clone();
            let mut applied = Vec::with_capacity(jobs.len());
            for job in jobs {
                match job.change.apply(&mut next, &inner.options) {
                    Ok(()) => applied.push(job),
                    Err(err) => job.finish(Err(err)),
                }
            }
            if applied.is_empty() {
                self.cached = Some((current, etag));
                return;
            }
            next.rev = current.rev + 1;
            next.last_seen_at = current.last_seen_at.max(now_ms());
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
fn fail_all(mut jobs: Vec<Job>, err: Error) {
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
