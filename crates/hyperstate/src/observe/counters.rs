//! The `hyperstate_operations_total` counters, without a registry lookup per
//! operation.
//!
//! Asking a recorder for a counter is a lookup in its registry (the Prometheus
//! recorder takes a lock shared by every thread, compares the labels, and
//! allocates a handle), which costs more than the operation it counts on the
//! in-memory stores. So each thread keeps the handles it got, for one recorder:
//! the one a thread with no local recorder sees, which lives as long as the
//! process (the global recorder, or the no-op one before any is installed).
//! Its address identifies it for good, whereas a local recorder's address may be
//! taken by the next one (a test's recorders in a loop): under a local
//! recorder every call asks the recorder, as the `metrics` macros do.
//!
//! A handle unused for [`REFRESH_AFTER`] is asked for again: a recorder that
//! forgets idle series (an idle timeout) must not be left counting into a
//! series it has dropped.

use std::cell::RefCell;
use std::collections::HashMap;
use std::hash::BuildHasherDefault;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use metrics::{Counter, Key, Metadata, Recorder};

use super::{SeriesId, WordHasher};
use crate::coarse_clock::now_ms;

/// How long a cached handle may go unused before it is asked for again.
const REFRESH_AFTER: Duration = Duration::from_secs(1);

/// How often, at most, a thread is started to look at which recorder the
/// process has (only while calls find another one current).
const LOOK_INTERVAL: Duration = Duration::from_secs(1);

/// The address of the recorder a thread without a local recorder sees; 0 until
/// looked at.
static PROCESS_RECORDER: AtomicUsize = AtomicUsize::new(0);

/// When the process recorder was last looked at, on the coarse clock
/// (`u64::MAX`: never).
static LAST_LOOK_MS: AtomicU64 = AtomicU64::new(u64::MAX);

/// A counter handle got from the process recorder.
struct Cached {
    recorder: usize,
    counter: Counter,
    used_ms: u64,
}

thread_local! {
    static HANDLES: RefCell<HashMap<SeriesId, Cached, BuildHasherDefault<WordHasher>>> =
        RefCell::default();
}

/// Adds one to the series `id` of the current recorder; `key` gives the
/// series' key, needed only when the recorder is asked (not for a cached handle).
pub(super) fn increment(
    id: SeriesId,
    key: impl Fn() -> &'static Key,
    metadata: &'static Metadata<'static>,
) {
    let current = metrics::with_recorder(address);
    if current != PROCESS_RECORDER.load(Ordering::Relaxed) {
        look_at_process_recorder();
        metrics::with_recorder(|recorder| recorder.register_counter(key(), metadata)).increment(1);
        return;
    }
    let now = now_ms();
    let cached = HANDLES.try_with(|handles| {
        let mut handles = handles.borrow_mut();
        let fresh = |cached: &Cached| {
            cached.recorder == current
                && now.saturating_sub(cached.used_ms) < REFRESH_AFTER.as_millis() as u64
        };
        match handles.get_mut(&id) {
            Some(cached) if fresh(cached) => {
                cached.used_ms = now;
                cached.counter.increment(1);
            }
            _ => {
                let counter =
                    metrics::with_recorder(|recorder| recorder.register_counter(key(), metadata));
                counter.increment(1);
                let cached = Cached {
                    recorder: current,
                    counter,
                    used_ms: now,
                };
                handles.insert(id, cached);
            }
        }
    });
    if cached.is_err() {
        // This thread's storage is gone (it is exiting): ask the recorder.
        metrics::with_recorder(|recorder| recorder.register_counter(key(), metadata)).increment(1);
    }
}

/// The address of a recorder, which identifies it while it lives.
fn address(recorder: &dyn Recorder) -> usize {
    std::ptr::from_ref(recorder).cast::<()>() as usize
}

/// Looks again (from a new thread, which has no local recorder) at which
/// recorder the process has, at most once per [`LOOK_INTERVAL`]: the first time,
/// and after a global recorder was installed.
fn look_at_process_recorder() {
    let now = now_ms();
    let last = LAST_LOOK_MS.load(Ordering::Relaxed);
    let due = last == u64::MAX || now.saturating_sub(last) >= LOOK_INTERVAL.as_millis() as u64;
    if !due
        || LAST_LOOK_MS
            .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
            .is_err()
    {
        return;
    }
    let seen = std::thread::scope(|scope| {
        std::thread::Builder::new()
            .name("hyperstate-recorder-look".into())
            .spawn_scoped(scope, || metrics::with_recorder(address))
            .ok()?
            .join()
            .ok()
    });
    // A thread that could not be started leaves the cache unused: slower, not wrong.
    if let Some(seen) = seen {
        PROCESS_RECORDER.store(seen, Ordering::Relaxed);
    }
}
