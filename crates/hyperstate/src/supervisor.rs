//! Supervised background tasks with graceful shutdown.
//!
//! The review of Nex found its store started outside any supervision: a crash
//! killed the sweeper for good and shutdown left tasks running. Here every
//! background job runs under a [`Supervisor`]: a job that panics is logged and run
//! again at its next tick, [`Supervisor::shutdown`] stops every job and waits for
//! it, and dropping the supervisor stops them too (a drop guard, so a forgotten
//! shutdown cannot leak tasks).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::MissedTickBehavior;
use tokio_util::sync::{CancellationToken, DropGuard};
use tokio_util::task::TaskTracker;

use crate::page::PageStore;
use crate::room::RoomStore;

/// Spawns tasks that [`Supervisor::shutdown`] waits for.
///
/// Tasks spawned through it must watch [`TaskSpawner::shutdown_token`] and finish
/// their work (drain, not abort) once it is cancelled: shutdown waits for them.
#[derive(Debug, Clone)]
pub struct TaskSpawner {
    cancel: CancellationToken,
    tracker: TaskTracker,
}

impl TaskSpawner {
    /// Spawns `task`, or returns `false` without spawning when shutdown has begun
    /// (a task started then might outlive the wait).
    pub fn spawn<F>(&self, name: &'static str, task: F) -> bool
    where
        F: Future<Output = ()> + Send + 'static,
    {
        if self.cancel.is_cancelled() {
            return false;
        }
        self.tracker.spawn(async move {
            task.await;
            tracing::trace!(task = name, "supervised task finished");
        });
        true
    }

    /// True once shutdown has begun.
    pub fn is_shutting_down(&self) -> bool {
        self.cancel.is_cancelled()
    }

    /// The token cancelled when shutdown begins.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.cancel.clone()
    }
}

/// Owns the background tasks of one hyperstate instance.
#[derive(Debug)]
pub struct Supervisor {
    cancel: CancellationToken,
    tracker: TaskTracker,
    _stop_on_drop: DropGuard,
}

impl Default for Supervisor {
    fn default() -> Self {
        Self::new()
    }
}

impl Supervisor {
    /// A supervisor with no tasks. Must be used inside a tokio runtime.
    pub fn new() -> Self {
        let cancel = CancellationToken::new();
        Supervisor {
            _stop_on_drop: cancel.clone().drop_guard(),
            cancel,
            tracker: TaskTracker::new(),
        }
    }

    /// A token that is cancelled when shutdown begins, for tasks that watch it
    /// themselves (long-lived streams, writer tasks).
    pub fn shutdown_token(&self) -> CancellationToken {
        self.cancel.clone()
    }

    /// A cloneable handle that spawns supervised tasks on demand (one writer task
    /// per active session), so that components created once can start tasks later.
    pub fn spawner(&self) -> TaskSpawner {
        TaskSpawner {
            cancel: self.cancel.clone(),
            tracker: self.tracker.clone(),
        }
    }

    /// Runs `job` every `every` until shutdown. A run that panics is logged and
    /// the job runs again at the next tick; runs never overlap.
    pub fn spawn_periodic<F, Fut>(&self, name: &'static str, every: Duration, job: F)
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let cancel = self.cancel.clone();
        self.tracker.spawn(async move {
            let mut ticks = tokio::time::interval(every);
            ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
            ticks.tick().await; // the first tick is immediate; start one period in
            loop {
                tokio::select! {
                    _ = cancel.cancelled() => break,
                    _ = ticks.tick() => {}
                }
                // Each run is its own task so that a panic is caught at its
                // JoinHandle instead of ending the loop.
                let mut run = tokio::spawn(job());
                tokio::select! {
                    _ = cancel.cancelled() => { run.abort(); break }
                    outcome = &mut run => if let Err(err) = outcome {
                        if err.is_panic() {
                            tracing::error!(task = name, "background task panicked; it runs again at its next tick");
                        }
                    }
                }
            }
            tracing::debug!(task = name, "background task stopped");
        });
    }

    /// Frees expired pages of `store` every `every` (the page sweeper).
    pub fn spawn_page_sweeper(&self, store: Arc<dyn PageStore>, every: Duration) {
        self.spawn_periodic("page-sweeper", every, move || {
            let store = store.clone();
            async move {
                match store.sweep().await {
                    Ok(freed) => tracing::debug!(freed, backend = store.backend_name(), "page sweep done"),
                    Err(err) => tracing::warn!(error = %err, backend = store.backend_name(), "page sweep failed"),
                }
            }
        });
    }

    /// Frees rooms of `store` whose idle TTL has passed, every `every` (the room
    /// sweeper). [`Rooms::supervised`](crate::room::Rooms::supervised) starts it.
    pub fn spawn_room_sweeper(&self, store: Arc<dyn RoomStore>, every: Duration) {
        self.spawn_periodic("room-sweeper", every, move || {
            let store = store.clone();
            async move {
                match store.sweep().await {
                    Ok(freed) => tracing::debug!(freed, backend = store.backend_name(), "room sweep done"),
                    Err(err) => tracing::warn!(error = %err, backend = store.backend_name(), "room sweep failed"),
                }
            }
        });
    }

    /// Stops every task and waits until all have finished.
    pub async fn shutdown(&self) {
        self.cancel.cancel();
        self.tracker.close();
        self.tracker.wait().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test(start_paused = true)]
    async fn periodic_job_survives_panics_and_stops_on_shutdown() {
        let supervisor = Supervisor::new();
        let runs = Arc::new(AtomicUsize::new(0));
        let counter = runs.clone();
        supervisor.spawn_periodic("test", Duration::from_secs(1), move || {
            let n = counter.fetch_add(1, Ordering::SeqCst);
            async move {
                if n == 0 {
                    panic!("first run fails");
                }
            }
        });
        tokio::time::sleep(Duration::from_millis(3500)).await;
        assert_eq!(
            runs.load(Ordering::SeqCst),
            3,
            "runs at 1s (panics), 2s and 3s"
        );
        supervisor.shutdown().await;
        tokio::time::sleep(Duration::from_secs(5)).await;
        assert_eq!(runs.load(Ordering::SeqCst), 3, "no runs after shutdown");
    }
}
