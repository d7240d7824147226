//! PostgreSQL stopped and started again under load: while it is down every
//! operation fails with a typed backend error (an HTTP 503 through
//! hyperstate-axum), never a panic or a hang; once it is back the same stores
//! work again without being rebuilt; and no acknowledged write is lost.
//!
//! Needs the private server of `scripts/services/postgres.sh`
//! (`HYPERSTATE_POSTGRES_DATA` / `_BIN` / `_USER` / `_LOG` to stop and start it);
//! without it the test skips loudly (fails under `CI=true`).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use hyperstate::Error;
use hyperstate::page::{Page, PageOptions, PageStore};
use hyperstate::session::{DocumentStore, PutCondition, PutOutcome, SessionKey};
use hyperstate::{BrowserId, PageId};
use hyperstate_postgres::{PgDocumentStore, PgPageStore, Postgres, PostgresOptions};
use tokio::time::timeout;

use hyperstate_conformance::services::{PostgresStopped as Stopped, private_postgres};

/// Writers running at once.
const WRITERS: usize = 8;
/// Bound on every wait of the test: no step may hang the suite.
const BOUND: Duration = Duration::from_secs(30);

/// A failure during the outage must be a backend error, nothing else.
fn assert_outage_error(err: &Error) {
    assert!(
        matches!(
            err,
            Error::Backend {
                backend: "postgres",
                ..
            }
        ),
        "expected a postgres backend error, got {err:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_under_load_fails_typed_then_recovers_losing_nothing_acknowledged() {
    let Some(url) = private_postgres() else {
        return;
    };
    let options = PostgresOptions::default().max_connections(WRITERS as u32);
    let db = Postgres::connect(&url, options).await.unwrap();
    let pages: Arc<dyn PageStore> = Arc::new(PgPageStore::new(db.clone(), PageOptions::default()));
    let documents = PgDocumentStore::with_namespace(db.clone(), "outage");

    let stop = Arc::new(AtomicBool::new(false));
    let outage_errors = Arc::new(AtomicU64::new(0));
    let mut writers = tokio::task::JoinSet::new();
    for _ in 0..WRITERS {
        let page = Page::open(pages.clone(), &BrowserId::generate(), PageId::generate())
            .await
            .unwrap();
        let (stop, outage_errors) = (stop.clone(), outage_errors.clone());
        // Each writer counts up one page key: `acknowledged` increments
        // returned Ok, `attempted` includes those whose reply was lost.
        writers.spawn(async move {
            let (mut acknowledged, mut attempted) = (0u64, 0u64);
            while !stop.load(Ordering::Relaxed) {
                attempted += 1;
                match page.update_or("n", 0u64, |n| n + 1).await {
                    Ok(n) => {
                        acknowledged += 1;
                        assert!(
                            n >= acknowledged && n <= attempted,
                            "{n} after {acknowledged}"
                        );
                    }
                    Err(err) => {
                        assert_outage_error(&err);
                        outage_errors.fetch_add(1, Ordering::Relaxed);
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                }
            }
            (page, acknowledged, attempted)
        });
    }
    // A session writer beside them: the last acknowledged document must survive.
    let session = SessionKey::random();
    let session_writer = {
        let (documents, stop) = (documents.clone(), stop.clone());
        tokio::spawn(async move {
            let mut acknowledged: Option<(Vec<u8>, hyperstate::session::Etag)> = None;
            let mut rev = 0u64;
            while !stop.load(Ordering::Relaxed) {
                rev += 1;
                let body = rev.to_string().into_bytes();
                let condition = match &acknowledged {
                    None => PutCondition::Absent,
                    Some((_, etag)) => PutCondition::Matches(etag),
                };
                match documents.put(&session, body.clone(), condition).await {
                    Ok(PutOutcome::Written(etag)) => acknowledged = Some((body, etag)),
                    // A put whose reply was lost may have landed: find out.
                    Ok(PutOutcome::Conflict) => match documents.get(&session).await {
                        Ok(Some(doc)) => acknowledged = Some((doc.body, doc.etag)),
                        Ok(None) => panic!("an acknowledged session document vanished"),
                        Err(err) => assert_outage_error(&err),
                    },
                    Err(err) => {
                        assert_outage_error(&err);
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                }
            }
            acknowledged
        })
    };

    let probe = Page::open(pages.clone(), &BrowserId::generate(), PageId::generate())
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let stopped = tokio::task::spawn_blocking(Stopped::stop).await.unwrap();
    // Down: every operation fails typed, and fast (the pool's acquire timeout).
    let err = timeout(BOUND, probe.put("k", &1))
        .await
        .expect("bounded")
        .unwrap_err();
    assert_outage_error(&err);
    let err = timeout(BOUND, documents.get(&SessionKey::random()))
        .await
        .expect("bounded")
        .unwrap_err();
    assert_outage_error(&err);
    tokio::task::spawn_blocking(|| stopped.start())
        .await
        .unwrap();

    // Back: the same stores work again, without a restart of anything.
    timeout(BOUND, async {
        while probe.put("k", &2).await.is_err() {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await
    .expect("the page store recovers once PostgreSQL is back");
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, Ordering::Relaxed);

    assert!(
        outage_errors.load(Ordering::Relaxed) > 0,
        "the writers saw no outage: the test did not test anything"
    );
    while let Some(done) = writers.join_next().await {
        let (page, acknowledged, attempted) = done.unwrap();
        let n: u64 = timeout(BOUND, page.get_or("n", 0u64))
            .await
            .unwrap()
            .unwrap();
        assert!(
            n >= acknowledged && n <= attempted,
            "{acknowledged} increments acknowledged, {attempted} attempted, {n} stored"
        );
    }
    let (body, etag) = session_writer
        .await
        .unwrap()
        .expect("some session write succeeded");
    let stored = documents
        .get(&session)
        .await
        .unwrap()
        .expect("the session survived");
    assert_eq!((stored.body, stored.etag), (body, etag));
}
