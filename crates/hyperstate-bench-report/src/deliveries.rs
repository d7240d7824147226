//! Delivery latency of spaced writes to many subscribers: the harness of the
//! room fan-out benches, whatever carries the writes (a room, a bare channel,
//! Redis pub/sub between two nodes).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

/// How long one write may take to reach every subscriber before the run
/// panics: a lost delivery would otherwise hang `scripts/bench`.
const DELIVERY_BOUND: Duration = Duration::from_secs(60);

/// The value at quantile `p` (0..=1) of `sorted`; zero when it is empty.
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let last = sorted.len().saturating_sub(1);
    let rank = ((last as f64) * p).round() as usize;
    sorted.get(rank.min(last)).copied().unwrap_or_default()
}

/// What every subscriber of a run shares: when the current write started, and
/// how many subscribers have it so far.
#[derive(Debug)]
pub struct Deliveries {
    epoch: Instant,
    /// Nanoseconds since `epoch` at which the current write started.
    sent_at: AtomicU64,
    delivered: AtomicUsize,
    all_delivered: Notify,
    subscribers: usize,
}

impl Deliveries {
    /// The shared state of a run with `subscribers` subscriber tasks.
    pub fn new(subscribers: usize) -> Arc<Self> {
        Arc::new(Deliveries {
            epoch: Instant::now(),
            sent_at: AtomicU64::new(0),
            delivered: AtomicUsize::new(0),
            all_delivered: Notify::new(),
            subscribers,
        })
    }

    /// A subscriber has the current write: its latency.
    pub fn arrived(&self) -> Duration {
        let now = self.epoch.elapsed().as_nanos() as u64;
        let start = self.sent_at.load(Ordering::Acquire);
        self.counted();
        Duration::from_nanos(now.saturating_sub(start))
    }

    /// A subscriber has the current write in a form that has no latency of its
    /// own (a resync snapshot): counted, so the run goes on.
    pub fn counted(&self) {
        if self.delivered.fetch_add(1, Ordering::AcqRel) + 1 == self.subscribers {
            self.all_delivered.notify_one();
        }
    }

    /// Runs `writes` spaced writes (each starts once every subscriber has the
    /// previous one), then collects every subscriber's latencies, sorted.
    ///
    /// # Panics
    ///
    /// When a write has not reached every subscriber within a minute.
    pub async fn run<F: Future<Output = ()>>(
        &self,
        writes: usize,
        mut write: impl FnMut(usize) -> F,
        mut subscribers: tokio::task::JoinSet<Vec<Duration>>,
    ) -> Vec<Duration> {
        // Let every subscriber drain what it gets on attaching first.
        tokio::time::sleep(Duration::from_millis(500)).await;
        for i in 0..writes {
            self.delivered.store(0, Ordering::Release);
            self.sent_at
                .store(self.epoch.elapsed().as_nanos() as u64, Ordering::Release);
            write(i).await;
            tokio::time::timeout(DELIVERY_BOUND, self.all_delivered.notified())
                .await
                .unwrap_or_else(|_| panic!("write {i} did not reach every subscriber"));
        }
        let mut latencies = Vec::new();
        while let Some(result) = subscribers.join_next().await {
            latencies.append(&mut result.expect("a subscriber task"));
        }
        latencies.sort_unstable();
        latencies
    }
}
