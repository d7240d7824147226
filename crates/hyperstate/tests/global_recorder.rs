//! Operation counters under a recorder installed for the whole process (the
//! way an app installs one): counts are exact on every thread, the recorder's
//! registry is not asked on every operation, a local recorder still takes the
//! counts made under it, and a series the recorder dropped for idleness is
//! registered again.
//!
//! One test in its own binary: a global recorder cannot be uninstalled.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use hyperstate::backend::operation;
use metrics::{Counter, Gauge, Histogram, Key, KeyName, Metadata, Recorder, SharedString, Unit};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle, PrometheusRecorder};
use metrics_util::MetricKindMask;

/// A Prometheus recorder that counts how often it is asked for a counter.
struct Counting {
    inner: PrometheusRecorder,
    registrations: Arc<AtomicUsize>,
}

impl Recorder for Counting {
    fn describe_counter(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        self.inner.describe_counter(key, unit, description);
    }
    fn describe_gauge(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        self.inner.describe_gauge(key, unit, description);
    }
    fn describe_histogram(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        self.inner.describe_histogram(key, unit, description);
    }
    fn register_counter(&self, key: &Key, metadata: &Metadata<'_>) -> Counter {
        self.registrations.fetch_add(1, Ordering::Relaxed);
        self.inner.register_counter(key, metadata)
    }
    fn register_gauge(&self, key: &Key, metadata: &Metadata<'_>) -> Gauge {
        self.inner.register_gauge(key, metadata)
    }
    fn register_histogram(&self, key: &Key, metadata: &Metadata<'_>) -> Histogram {
        self.inner.register_histogram(key, metadata)
    }
}

const OK: &str =
    r#"hyperstate_operations_total{scope="page",op="get",backend="memory",outcome="ok"}"#;

fn sample(handle: &PrometheusHandle) -> Option<f64> {
    handle
        .render()
        .lines()
        .find_map(|line| line.strip_prefix(OK)?.trim().parse().ok())
}

async fn count(times: usize) {
    for _ in 0..times {
        operation("page", "get", "memory", async { Ok(()) })
            .await
            .unwrap();
    }
}

/// Counts `per_task` operations on each of `tasks` tasks of a multi-threaded runtime.
async fn count_on_tasks(tasks: usize, per_task: usize) {
    let handles: Vec<_> = (0..tasks).map(|_| tokio::spawn(count(per_task))).collect();
    for handle in handles {
        handle.await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counters_under_the_process_recorder() {
    // Counted before any recorder is installed: lost, as with the macros.
    count(10).await;

    let inner = PrometheusBuilder::new()
        .idle_timeout(MetricKindMask::COUNTER, Some(Duration::from_millis(200)))
        .build_recorder();
    let handle = inner.handle();
    let registrations = Arc::new(AtomicUsize::new(0));
    metrics::set_global_recorder(Counting {
        inner,
        registrations: registrations.clone(),
    })
    .unwrap();

    count_on_tasks(8, 500).await;
    assert_eq!(sample(&handle), Some(4000.0));

    // Once the process recorder is known (looked at once a second at most),
    // operations no longer ask it for their counter.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    count_on_tasks(8, 10).await;
    let before = registrations.load(Ordering::Relaxed);
    count_on_tasks(8, 1000).await;
    let asked = registrations.load(Ordering::Relaxed) - before;
    assert!(
        asked <= 4,
        "the recorder was asked {asked} times for 8000 operations"
    );
    assert_eq!(sample(&handle), Some(12080.0));

    // A local recorder takes the counts made under it, not the process one.
    let local = PrometheusBuilder::new().build_recorder();
    let local_handle = local.handle();
    {
        let _guard = metrics::set_default_local_recorder(&local);
        count(7).await;
    }
    assert_eq!(sample(&local_handle), Some(7.0));
    assert_eq!(sample(&handle), Some(12080.0));

    // Idle past the recorder's timeout: it drops the series. The next
    // operation must register it again, not count into the dropped handle.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    handle.run_upkeep();
    assert_eq!(sample(&handle), None, "the idle series was not dropped");
    count_on_tasks(2, 3).await;
    assert_eq!(sample(&handle), Some(6.0));
}
