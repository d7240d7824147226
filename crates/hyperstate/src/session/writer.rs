//! Who commits a session's writes on this node: the caller, or the
//! session's writer task (group commit).
//!
//! A write to a session nobody on this node is committing for commits from
//! the caller's own task, at once: a lone write costs no task hop. A write
//! that arrives while a commit is in flight goes to the session's writer task
//! (started on demand), which commits everything queued meanwhile in its next
//! PUT (group commit: fewer PUTs, same guarantee). Either way the committer
//! holds the session's turn (a lock per stripe of sessions), so this node
//! never races itself on one session's compare-and-swap. A write is
//! acknowledged only once the PUT carrying it has been accepted by the store.
//!
//! Other nodes may write the same session: every PUT is conditional on the etag
//! last seen (the cached copy, with no GET first). On a conflict the document
//! is reloaded, the pending per-key changes re-applied, and the PUT tried
//! again, with jittered backoff, up to
//! [`SessionOptions::max_attempts`](super::SessionOptions::max_attempts). That
//! commit step is `session/commit.rs`.
//!
//! A writer idle for `writer_idle` retires itself and is started again when
//! needed. On shutdown it stops taking writes, commits what is queued, and
//! exits; the [`Supervisor`](crate::Supervisor) waits for it. Writes that
//! arrive after shutdown began, or when
//! [`SessionOptions::max_writers`](super::SessionOptions::max_writers) writers
//! are alive, wait for the session's turn and commit from the caller's task.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::{OwnedMutexGuard, mpsc, oneshot};

use super::change::Change;
use super::commit::{Committer, Pending};
use super::doc::SessionDoc;
use super::service::Inner;
use super::{SessionKey, SessionOptions};
use crate::{Error, Result};

/// Writes queued for one session beyond this make senders wait (backpressure).
const QUEUE: usize = 512;

pub(crate) struct Job {
    pub(crate) change: Change,
    /// `None` for fire-and-forget writes (refreshing `last_seen_at`).
    ack: Option<oneshot::Sender<Result<()>>>,
}

impl Pending for Job {
    fn apply(&mut self, doc: &mut SessionDoc, options: &SessionOptions) -> Result<()> {
        self.change.apply(doc, options)
    }

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
    /// Whoever commits for a session on this node holds its stripe's turn
    /// for the commit: a caller committing from its own task, or the
    /// session's writer task. So this node never races itself on one
    /// session's compare-and-swap, while different sessions mostly proceed
    /// side by side.
    turns: [Arc<tokio::sync::Mutex<()>>; STRIPES],
}

/// Stripes of [`Writers::turns`]: enough that sessions committing at once
/// rarely share one, few enough to cost nothing.
const STRIPES: usize = 1024;

impl Default for Writers {
    fn default() -> Self {
        Writers {
            map: Mutex::default(),
            next_id: AtomicU64::new(0),
            commits: AtomicU64::new(0),
            conflicts: AtomicU64::new(0),
            turns: std::array::from_fn(|_| Arc::default()),
        }
    }
}

/// Where one write goes.
enum Route {
    /// Nobody is committing for the session: the caller commits, now, from
    /// its own task, holding the turn.
    Inline(OwnedMutexGuard<()>),
    /// The session's writer task, which batches what arrives meanwhile.
    Writer(u64, mpsc::Sender<Job>),
    /// The caller's own task once the turn is free: shutting down, or the
    /// writer cap is reached.
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

    fn turn(&self, key: &SessionKey) -> &Arc<tokio::sync::Mutex<()>> {
        let [a, b, ..] = *key.as_bytes();
        &self.turns[usize::from(u16::from_le_bytes([a, b])) % STRIPES]
    }
}

/// Where a write of `key` goes: inline when nobody commits for the session,
/// else to its writer, started if there is none and the cap allows one.
fn route(inner: &Arc<Inner>, key: SessionKey) -> Route {
    let mut map = inner.writers.lock();
    if let Some((id, tx)) = map.get(&key) {
        return Route::Writer(*id, tx.clone());
    }
    // Taken under the map lock: a writer cannot appear for the session
    // meanwhile, and one that exists is used above.
    if let Ok(turn) = inner.writers.turn(&key).clone().try_lock_owned() {
        return Route::Inline(turn);
    }
    if map.len() >= inner.options.max_writers || inner.spawner.is_shutting_down() {
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

/// Commits `change` and returns once it is durable: from the caller's task
/// when nobody else commits for the session (no task hop), else through the
/// session's writer, in its next batch.
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
            Route::Inline(turn) => {
                Committer::new(inner.clone(), key).commit(vec![job]).await;
                drop(turn);
                return acked.await.unwrap_or(Err(Error::WriterStopped));
            }
            Route::Writer(id, tx) if !inner.spawner.is_shutting_down() => (id, tx),
            // Writers are draining: wait for the turn, then commit here.
            Route::Writer(..) | Route::Direct => {
                let _turn = inner.writers.turn(&key).lock().await;
                Committer::new(inner.clone(), key).commit(vec![job]).await;
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

/// Commits `write` from the caller's own task once the session's turn is
/// free, alone: for a write that borrows from its caller (an update's
/// closure), which can neither wait in a writer's queue nor be batched.
pub(crate) async fn commit_alone<P: Pending>(inner: &Arc<Inner>, key: SessionKey, write: P) {
    let _turn = inner.writers.turn(&key).lock().await;
    Committer::new(inner.clone(), key).commit(vec![write]).await;
}

/// Queues `change` without waiting: on the session's writer, or in a task of
/// its own when nobody commits for the session; dropped if the writer is busy
/// or stopping, or if the writer cap leaves no room for one (it is only a
/// refresh of `last_seen_at`, tried again by a later read).
pub(crate) fn submit_detached(inner: &Arc<Inner>, key: SessionKey, change: Change) {
    let job = Job { change, ack: None };
    match route(inner, key) {
        Route::Writer(_, tx) => {
            let _ = tx.try_send(job);
        }
        Route::Inline(turn) => {
            let mut committer = Committer::new(inner.clone(), key);
            inner.spawner.spawn("session-touch", async move {
                committer.commit(vec![job]).await;
                drop(turn);
            });
        }
        Route::Direct => {}
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
            self.commit_from(first).await;
        }
        // Stop taking writes, then commit what was queued before that: a send
        // either landed before `close` (and is committed here) or fails (and the
        // sender starts a new writer, or is told the service is shutting down).
        self.inner.writers.retire(&self.key, self.id);
        self.rx.close();
        while let Ok(first) = self.rx.try_recv() {
            self.commit_from(first).await;
        }
    }

    /// Waits for the session's turn (a caller may be committing inline), then
    /// commits `first` with everything queued by then.
    async fn commit_from(&mut self, first: Job) {
        let turn = self.inner.writers.turn(&self.key).clone();
        let _turn = turn.lock().await;
        let batch = self.take_batch(first);
        self.committer.commit(batch).await;
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
