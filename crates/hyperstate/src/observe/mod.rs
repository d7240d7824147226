//! Metrics and tracing for every store operation.
//!
//! Each operation of a scope handle runs in a `debug` span named
//! `hyperstate.op` with the scope, the operation and the backend, and counts
//! into `hyperstate_operations_total{scope, op, backend, outcome}`. Labels are
//! always from small fixed sets: ids never become labels (one series per page
//! would be a memory leak in the metrics system itself).
//!
//! Metrics go through the [`metrics`] facade: install any recorder (the demo
//! uses Prometheus) before building stores, so their cached handles attach to it.

use std::cell::RefCell;
use std::collections::HashMap;
use std::future::Future;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::{LazyLock, Mutex, PoisonError};

use metrics::{Key, Label, Level, Metadata};
use tracing::Instrument;

use crate::Result;
use crate::log_limit::RepeatedErrors;

mod counters;

/// The `outcome` label of a result: `ok`, or the [`ErrorKind`](crate::ErrorKind) of its error.
pub fn outcome<T>(result: &Result<T>) -> &'static str {
    match result {
        Ok(_) => "ok",
        Err(err) => err.kind().as_str(),
    }
}

/// Runs one store operation inside its span and counts its outcome.
pub async fn operation<T>(
    scope: &'static str,
    op: &'static str,
    backend: &'static str,
    work: impl Future<Output = Result<T>>,
) -> Result<T> {
    let span = tracing::debug_span!(
        "hyperstate.op",
        scope,
        op,
        backend,
        outcome = tracing::field::Empty
    );
    let result = work.instrument(span.clone()).await;
    let outcome = outcome(&result);
    span.record("outcome", outcome);
    let series = [scope, op, backend, outcome];
    let id = series_id(series);
    counters::increment(id, || operations_key(id, series), &OPERATIONS_METADATA);
    if let Err(err) = &result {
        // A call failed fast by a circuit breaker is not logged: the breaker
        // logged once when it opened, and an outage must not flood the log.
        if !err.kind().is_client_error()
            && err.kind() != crate::ErrorKind::BackendUnavailable
            && FAILED_OPERATIONS.should_log([scope, op, backend, outcome])
        {
            tracing::warn!(scope, op, backend, error = %err, "state operation failed");
        }
    }
    result
}

/// A backend that is down fails every operation alike: one line per kind per
/// interval, not one per request.
static FAILED_OPERATIONS: RepeatedErrors = RepeatedErrors::new(crate::log_limit::INTERVAL);

const OPERATIONS: &str = "hyperstate_operations_total";
static OPERATIONS_METADATA: Metadata<'static> =
    Metadata::new(module_path!(), Level::INFO, Some(module_path!()));

/// The labels of one series, by the addresses and lengths of its `&'static str`
/// values: hashing two words per label is cheaper than hashing the text, and two
/// equal strings at different addresses only make two equal keys.
type SeriesId = [(usize, usize); 4];

/// The series of `values`.
fn series_id(values: [&'static str; 4]) -> SeriesId {
    values.map(|value| (value.as_ptr() as usize, value.len()))
}

/// The interned keys, by series.
type SeriesKeys = HashMap<SeriesId, &'static Key, BuildHasherDefault<WordHasher>>;

/// Every `hyperstate_operations_total` key built so far. Each is leaked: the
/// labels come from small fixed sets, so there are a few dozen at most.
static OPERATIONS_KEYS: LazyLock<Mutex<SeriesKeys>> = LazyLock::new(Mutex::default);

thread_local! {
    /// This thread's view of [`OPERATIONS_KEYS`], so that the request path takes
    /// no lock.
    static LOCAL_OPERATIONS_KEYS: RefCell<SeriesKeys> = RefCell::default();
}

/// Hashes a [`SeriesId`] by multiply and rotate (as rustc's FxHash does). Its
/// words are addresses and lengths of static strings, never input from a
/// client, so SipHash's resistance to chosen keys buys nothing here, and it
/// cost more than the rest of the lookup.
#[derive(Default)]
struct WordHasher(u64);

impl Hasher for WordHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        bytes.iter().for_each(|&b| self.write_u64(u64::from(b)));
    }

    fn write_u64(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }

    fn write_usize(&mut self, word: usize) {
        self.write_u64(word as u64);
    }
}

/// The key of `hyperstate_operations_total{scope, op, backend, outcome}`, built
/// once per series. `metrics::counter!` with labels builds its key (a vector of
/// labels, which the Prometheus recorder copies again) on every call; a static
/// key costs neither allocation and carries its hash. (Which recorder counts it
/// is decided per call, in [`counters`].)
fn operations_key(id: SeriesId, values: [&'static str; 4]) -> &'static Key {
    if let Some(key) = LOCAL_OPERATIONS_KEYS.with(|keys| keys.borrow().get(&id).copied()) {
        return key;
    }
    let key = *OPERATIONS_KEYS
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .entry(id)
        .or_insert_with(|| {
            let [scope, op, backend, outcome] = values;
            let labels = [
                Label::from_static_parts("scope", scope),
                Label::from_static_parts("op", op),
                Label::from_static_parts("backend", backend),
                Label::from_static_parts("outcome", outcome),
            ];
            let labels: &'static [Label] = Box::leak(Box::new(labels));
            Box::leak(Box::new(Key::from_static_parts(OPERATIONS, labels)))
        });
    LOCAL_OPERATIONS_KEYS.with(|keys| keys.borrow_mut().insert(id, key));
    key
}

/// The counter of lost compare-and-swaps, `hyperstate_cas_conflicts_total{scope,
/// backend}`: each one a write that found the value changed under it and was
/// retried (page and room updates on Redis, session commits). Getting the
/// handle registers the series, so it reads 0 before the first conflict.
pub fn cas_conflicts(scope: &'static str, backend: &'static str) -> metrics::Counter {
    metrics::counter!("hyperstate_cas_conflicts_total", "scope" => scope, "backend" => backend)
}

/// The histogram of how long one durable write (a session PUT, whatever its
/// outcome) took, `hyperstate_durable_write_seconds{backend}`.
pub fn durable_write_seconds(backend: &'static str) -> metrics::Histogram {
    metrics::histogram!("hyperstate_durable_write_seconds", "backend" => backend)
}

#[cfg(test)]
mod tests {
    use metrics_exporter_prometheus::PrometheusBuilder;

    use super::*;
    use crate::Error;
    use crate::test_support::prometheus_sample as sample;

    async fn count(outcome: Result<()>) {
        let _ = operation("page", "update", "memory", async { outcome }).await;
    }

    #[tokio::test]
    async fn operations_count_by_series_into_whichever_recorder_is_current() {
        let ok = r#"hyperstate_operations_total{scope="page",op="update",backend="memory",outcome="ok"}"#;
        let limit = r#"hyperstate_operations_total{scope="page",op="update",backend="memory",outcome="limit"}"#;
        // Counted with no recorder first: the interned key must not pin a no-op counter.
        count(Ok(())).await;
        for round in 1..=2 {
            let recorder = PrometheusBuilder::new().build_recorder();
            let handle = recorder.handle();
            let guard = metrics::set_default_local_recorder(&recorder);
            count(Ok(())).await;
            count(Ok(())).await;
            count(Err(Error::ValueTooLarge { size: 2, limit: 1 })).await;
            drop(guard);
            let rendered = handle.render();
            assert_eq!(
                sample(&rendered, ok),
                Some(2.0),
                "round {round}: {rendered}"
            );
            assert_eq!(
                sample(&rendered, limit),
                Some(1.0),
                "round {round}: {rendered}"
            );
        }
    }
}
