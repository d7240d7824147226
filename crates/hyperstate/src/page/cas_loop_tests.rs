//! The loop over a fake store whose "server" is a value in memory and whose
//! rivals (writers on other nodes) strike on demand; on tokio's paused clock,
//! so the back-off never sleeps for real.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

use super::*;
use crate::test_support::prometheus_sample as sample;
use crate::{BrowserId, PageId};

const CONFLICTS: &str = r#"hyperstate_cas_conflicts_total{scope="page",backend="fake"}"#;

#[derive(Default)]
struct FakeStore {
    /// The value the server holds (`None`: absent).
    stored: Mutex<Option<Vec<u8>>>,
    /// How many more compare-and-sets a rival wins just before ours.
    rivals: AtomicUsize,
    /// Every compare-and-set fails as a backend would.
    broken: AtomicBool,
    reads: AtomicUsize,
    /// The expected value of every compare-and-set, in order.
    expected: Mutex<Vec<Option<Vec<u8>>>>,
}

impl FakeStore {
    fn holding(value: &[u8]) -> Self {
        let store = FakeStore::default();
        *store.stored.lock().unwrap() = Some(value.to_vec());
        store
    }

    fn stored(&self) -> Option<Vec<u8>> {
        self.stored.lock().unwrap().clone()
    }

    fn expected(&self) -> Vec<Option<Vec<u8>>> {
        self.expected.lock().unwrap().clone()
    }
}

#[async_trait]
impl CompareAndSet for FakeStore {
    async fn read(&self, _: &PageKey, _: &str) -> Result<Option<Vec<u8>>> {
        self.reads.fetch_add(1, Ordering::Relaxed);
        Ok(self.stored())
    }

    async fn compare_and_set(
        &self,
        _: &PageKey,
        _: &str,
        expected: Option<&[u8]>,
        new: &[u8],
    ) -> Result<Written> {
        self.expected
            .lock()
            .unwrap()
            .push(expected.map(<[u8]>::to_vec));
        if self.broken.load(Ordering::Relaxed) {
            return Err(Error::backend("fake", "put", "connection reset"));
        }
        let mut stored = self.stored.lock().unwrap();
        let rival = self.rivals.load(Ordering::Relaxed);
        if rival > 0 {
            self.rivals.store(rival - 1, Ordering::Relaxed);
            *stored = Some(format!("rival {rival}").into_bytes());
        }
        if stored.as_deref() != expected {
            return Ok(Written::Conflict(stored.clone()));
        }
        *stored = Some(new.to_vec());
        Ok(Written::Done)
    }
}

/// A loop whose conflict counter reports to its own recorder.
fn cas_loop() -> (CasLoop, PrometheusHandle) {
    let recorder = PrometheusBuilder::new().build_recorder();
    let handle = recorder.handle();
    let cas = metrics::with_local_recorder(&recorder, || CasLoop::new("fake"));
    (cas, handle)
}

fn page() -> PageKey {
    PageKey::derive(&BrowserId::generate(), &PageId::generate())
}

/// The update every test makes: appends `+` to the value.
fn append(current: Option<&[u8]>) -> Result<Vec<u8>> {
    Ok([current.unwrap_or_default(), b"+"].concat())
}

#[tokio::test(start_paused = true)]
async fn a_conflict_retries_with_the_value_found_and_is_counted() {
    let (cas, metrics) = cas_loop();
    let (store, recent, page) = (FakeStore::holding(b"1"), RecentValues::new(), page());
    recent.remember(&page, "k", Some(b"stale"));
    let written = cas.update(&store, &recent, &page, "k", &mut append).await;
    assert_eq!(written.unwrap(), b"1+");
    assert_eq!(store.stored().as_deref(), Some(&b"1+"[..]));
    assert_eq!(
        store.expected(),
        [Some(b"stale".to_vec()), Some(b"1".to_vec())],
        "the first guess is the remembered value, the second the one found"
    );
    assert_eq!(store.reads.load(Ordering::Relaxed), 0);
    assert_eq!(recent.get(&page, "k"), Some(Some(b"1+".to_vec())));
    assert_eq!(sample(&metrics.render(), CONFLICTS), Some(1.0));
}

#[tokio::test(start_paused = true)]
async fn an_unknown_value_is_read_first() {
    let (cas, metrics) = cas_loop();
    let (store, recent, page) = (FakeStore::holding(b"1"), RecentValues::new(), page());
    let written = cas.update(&store, &recent, &page, "k", &mut append).await;
    assert_eq!(written.unwrap(), b"1+");
    assert_eq!(store.reads.load(Ordering::Relaxed), 1);
    assert_eq!(store.expected(), [Some(b"1".to_vec())]);
    assert_eq!(sample(&metrics.render(), CONFLICTS), Some(0.0));
}

#[tokio::test(start_paused = true)]
async fn rivals_that_always_win_reach_the_contention_limit() {
    let (cas, metrics) = cas_loop();
    let (store, recent, page) = (FakeStore::holding(b"1"), RecentValues::new(), page());
    store.rivals.store(usize::MAX, Ordering::Relaxed);
    let err = cas
        .update(&store, &recent, &page, "k", &mut append)
        .await
        .unwrap_err();
    let Error::Backend {
        backend: "fake",
        operation: "update",
        source,
    } = &err
    else {
        panic!("not a contention error: {err:?}");
    };
    assert!(source.is::<TooMuchContention>(), "{source}");
    assert_eq!(store.expected().len(), MAX_UPDATE_ATTEMPTS);
    let conflicts = MAX_UPDATE_ATTEMPTS as f64;
    assert_eq!(sample(&metrics.render(), CONFLICTS), Some(conflicts));
    assert!(store.stored().is_some_and(|v| v.starts_with(b"rival")));
}

#[tokio::test(start_paused = true)]
async fn rivals_that_stop_winning_let_the_update_land() {
    let (cas, _) = cas_loop();
    let (store, recent, page) = (FakeStore::holding(b"1"), RecentValues::new(), page());
    store.rivals.store(3, Ordering::Relaxed);
    let written = cas.update(&store, &recent, &page, "k", &mut append).await;
    assert_eq!(written.unwrap(), b"rival 1+");
    assert_eq!(store.expected().len(), 4);
}

#[tokio::test(start_paused = true)]
async fn a_failed_write_forgets_the_remembered_value() {
    let (cas, _) = cas_loop();
    let (store, recent, page) = (FakeStore::holding(b"1"), RecentValues::new(), page());
    recent.remember(&page, "k", Some(b"1"));
    store.broken.store(true, Ordering::Relaxed);
    let err = cas.update(&store, &recent, &page, "k", &mut append).await;
    assert!(
        matches!(
            err,
            Err(Error::Backend {
                operation: "put",
                ..
            })
        ),
        "{err:?}"
    );
    assert_eq!(recent.get(&page, "k"), None);
}

#[tokio::test(start_paused = true)]
async fn a_failed_closure_forgets_the_remembered_value_and_writes_nothing() {
    let (cas, _) = cas_loop();
    let (store, recent, page) = (FakeStore::holding(b"1"), RecentValues::new(), page());
    recent.remember(&page, "k", Some(b"1"));
    let mut refuse = |_: Option<&[u8]>| Err(Error::ValueTooLarge { size: 2, limit: 1 });
    let err = cas.update(&store, &recent, &page, "k", &mut refuse).await;
    assert!(matches!(err, Err(Error::ValueTooLarge { .. })), "{err:?}");
    assert_eq!(recent.get(&page, "k"), None);
    assert!(store.expected().is_empty());
    assert_eq!(store.stored().as_deref(), Some(&b"1"[..]));
}
