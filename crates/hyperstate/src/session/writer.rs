//! One writer task per active session: group commit and compare-and-swap.
//!
//! Every write of a session on this node goes through that session's writer, so
//! one node never races itself. The writer commits in batches: the first write
//! waiting starts a PUT, and everything that arrives while that PUT is in flight
//! goes into the next one (group commit: fewer PUTs, same guarantee). A write is
//! acknowledged only once the PUT carrying it has been accepted by the store.
//!
//! Other nodes may write the same session: every PUT is conditional on the etag
//! the writer last saw (its cached copy, with no GET first). On a conflict the
//! writer reloads the document, re-applies the pending per-key changes to it
//! and tries again, with jittered backoff, up to
//! [`SessionOptions::max_attempts`](super::SessionOptions::max_attempts). That
//! commit step is `session/commit.rs`, shared with writes that commit from
//! their caller's task.
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

use tokio::sync::{mpsc, oneshot};

use super::SessionKey;
use super::change::Change;
use super::commit::Committer;
use super::service::Inner;
use crate::{Error, Result};

/// Writes queued for one session beyond this make senders wait (backpressure).
const QUEUE: usize = 512;

pub(crate) struct Job {
    pub(crate) change: Change,
    /// `None` for fire-and-forget writes (refreshing `last_seen_at`).
    ack: Option<oneshot::Sender<Result<()>>>,
}

impl Job {
    pub(crate) fn finish(self, result: Result<()>) {
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
        committer: Committer::new(inner.clone(), key),
        inner: inner.clone(),
        key,
        id,
        rx,
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
    Committer::new(inner.clone(), key).commit(vec![job]).await;
}

/// Queues `change` without waiting; dropped if the writer is busy or stopping,
/// or if the writer cap leaves no room for one (it is only a refresh of
/// `last_seen_at`, tried again by a later read).
pub(crate) fn submit_detached(inner: &Arc<Inner>, key: SessionKey, change: Change) {
    if let Route::Writer(_, tx) = route(inner, key) {
        let _ = tx.try_send(Job { change, ack: None });
    }
}

/// The task that commits one session's queued writes, batch by batch.
struct Writer {
    committer: Committer,
    inner: Arc<Inner>,
    key: SessionKey,
    id: u64,
    rx: mpsc::Receiver<Job>,
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
            self.committer.commit(batch).await;
        }
        // Stop taking writes, then commit what was queued before that: a send
        // either landed before `close` (and is committed here) or fails (and the
        // sender starts a new writer, or is told the service is shutting down).
        self.inner.writers.retire(&self.key, self.id);
        self.rx.close();
        while let Ok(first) = self.rx.try_recv() {
            let batch = self.take_batch(first);
            self.committer.commit(batch).await;
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
}
