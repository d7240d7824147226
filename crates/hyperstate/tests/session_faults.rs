//! The session scope against a faulty document store: every fault surfaces as a
//! typed error, nothing is acknowledged that is not in the store, a backend
//! error is not retried (a conflict is, boundedly), and the same instance
//! recovers when the fault clears.
//!
//! What a failed write guarantees (the design, asserted below): an `Err` means
//! "maybe written". If the PUT landed and only its reply was lost, the change
//! is in the store exactly once; the writer drops its cached etag after any
//! error and reloads, so the next write builds on the landed document instead
//! of looping on a stale etag, and re-sending the failed write is harmless
//! because session changes are idempotent (set, remove, clear).

use std::sync::Arc;
use std::time::Duration;

use hyperstate::memory::MemoryDocumentStore;
use hyperstate::session::{SessionOptions, SessionSecret, Sessions, View};
use hyperstate::{BrowserId, Error, Supervisor};
use hyperstate_conformance::faults::{Fault, FaultyStore};

struct Rig {
    supervisor: Supervisor,
    faulty: Arc<FaultyStore>,
    sessions: Sessions,
    view: View,
    browser: BrowserId,
}

fn rig() -> Rig {
    let supervisor = Supervisor::new();
    let faulty = Arc::new(FaultyStore::new(Arc::new(MemoryDocumentStore::default())));
    let sessions = Sessions::new(
        faulty.clone(),
        SessionSecret::generate(),
        SessionOptions::default(),
        &supervisor,
    );
    Rig {
        supervisor,
        faulty,
        sessions,
        view: View::new("settings"),
        browser: BrowserId::generate(),
    }
}

impl Rig {
    async fn put(&self, key: &str, value: &str) -> hyperstate::Result<()> {
        let session = self.sessions.session(&self.browser, None);
        session.view(&self.view).put(key, value).await
    }

    /// What the store holds under `key`, read with the fault cleared.
    async fn stored(&self, key: &str) -> Option<String> {
        let fault = self.faulty.fault();
        self.faulty.set(Fault::None);
        let session = self.sessions.session(&self.browser, None);
        let state = session.view(&self.view).load().await.unwrap();
        self.faulty.set(fault);
        state.get_or(key, None::<String>).unwrap()
    }
}

fn is_backend_error(err: &Error) -> bool {
    matches!(err, Error::Backend { .. })
}

#[tokio::test]
async fn a_failing_store_is_a_typed_error_tried_once_and_the_app_recovers() {
    let rig = rig();
    rig.faulty.set(Fault::Fail);
    let err = rig.put("theme", "dark").await.unwrap_err();
    assert!(is_backend_error(&err), "{err:?}");
    assert!(!err.to_string().is_empty());
    // The first PUT of a session is preceded by a GET, which fails first: the
    // writer must not hammer a failing store.
    assert!(
        rig.faulty.put_attempts() <= 1,
        "{}",
        rig.faulty.put_attempts()
    );
    assert_eq!(rig.faulty.puts_landed(), 0);
    assert_eq!(rig.stored("theme").await, None, "a failed write landed");

    rig.faulty.set(Fault::None);
    rig.put("theme", "dark").await.unwrap();
    assert_eq!(rig.stored("theme").await.as_deref(), Some("dark"));
    rig.supervisor.shutdown().await;
}

#[tokio::test]
async fn a_put_failing_mid_session_is_tried_once() {
    let rig = rig();
    rig.put("theme", "light").await.unwrap();
    let before = rig.faulty.put_attempts();
    rig.faulty.set(Fault::Fail);
    for _ in 0..5 {
        let err = rig.put("theme", "dark").await.unwrap_err();
        assert!(is_backend_error(&err), "{err:?}");
    }
    // A backend error is not retried by the writer (bounded: one PUT or GET
    // per write), so the count grows by at most one per failed write.
    assert!(rig.faulty.put_attempts() - before <= 5);
    assert_eq!(rig.stored("theme").await.as_deref(), Some("light"));
    rig.faulty.set(Fault::None);
    rig.put("theme", "dark").await.unwrap();
    assert_eq!(rig.stored("theme").await.as_deref(), Some("dark"));
    rig.supervisor.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn a_timing_out_store_fails_the_write_and_the_app_recovers() {
    let rig = rig();
    rig.put("theme", "light").await.unwrap();
    rig.faulty.set(Fault::Timeout(Duration::from_secs(2)));
    let err = rig.put("theme", "dark").await.unwrap_err();
    assert!(is_backend_error(&err), "{err:?}");
    assert_eq!(rig.stored("theme").await.as_deref(), Some("light"));
    rig.faulty.set(Fault::None);
    rig.put("theme", "dark").await.unwrap();
    assert_eq!(rig.stored("theme").await.as_deref(), Some("dark"));
    rig.supervisor.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn a_slow_store_delays_but_loses_nothing() {
    let rig = Arc::new(rig());
    rig.faulty.set(Fault::Delay(Duration::from_millis(300)));
    let writes = (0..20).map(|i| {
        let rig = rig.clone();
        tokio::spawn(async move { rig.put(&format!("k{i}"), &i.to_string()).await })
    });
    for write in writes.collect::<Vec<_>>() {
        write.await.unwrap().unwrap();
    }
    for i in 0..20 {
        assert_eq!(rig.stored(&format!("k{i}")).await, Some(i.to_string()));
    }
    rig.supervisor.shutdown().await;
}

#[tokio::test]
async fn a_write_whose_reply_is_lost_is_stored_once_and_the_next_write_builds_on_it() {
    let rig = rig();
    rig.put("theme", "light").await.unwrap();
    rig.faulty.set(Fault::FailAfterWrite);
    let err = rig.put("theme", "dark").await.unwrap_err();
    assert!(is_backend_error(&err), "{err:?}");
    let landed = rig.faulty.puts_landed();
    assert_eq!(landed, 2, "the PUT reached the store");
    // Maybe-written means written here: the change is not lost...
    assert_eq!(rig.stored("theme").await.as_deref(), Some("dark"));

    rig.faulty.set(Fault::None);
    let attempts = rig.faulty.put_attempts();
    // ... and the next write does not trip over the etag it never saw: one
    // PUT, no compare-and-swap conflict, both changes stored.
    rig.put("font", "serif").await.unwrap();
    assert_eq!(rig.faulty.put_attempts(), attempts + 1);
    assert_eq!(rig.sessions.stats().conflicts, 0);
    // Re-sending the write that "failed" is harmless: same value, once.
    rig.put("theme", "dark").await.unwrap();
    assert_eq!(rig.stored("theme").await.as_deref(), Some("dark"));
    assert_eq!(rig.stored("font").await.as_deref(), Some("serif"));
    rig.supervisor.shutdown().await;
}

/// Many browsers write while the fault flips between every mode: whatever was
/// acknowledged is in the store afterwards.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_a_flapping_store_every_acknowledged_write_is_stored() {
    let rig = Arc::new(rig());
    let browsers: Vec<BrowserId> = (0..8).map(|_| BrowserId::generate()).collect();
    let flipper = {
        let faulty = rig.faulty.clone();
        tokio::spawn(async move {
            let modes = [
                Fault::Fail,
                Fault::None,
                Fault::FailAfterWrite,
                Fault::Timeout(Duration::from_millis(3)),
                Fault::Delay(Duration::from_millis(2)),
            ];
            for round in 0..100 {
                faulty.set(modes[round % modes.len()]);
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            faulty.set(Fault::None);
        })
    };
    let mut tasks = Vec::new();
    for (b, browser) in browsers.iter().enumerate() {
        for i in 0..25 {
            let (rig, browser) = (rig.clone(), *browser);
            tasks.push(tokio::spawn(async move {
                let key = format!("k{i}");
                let session = rig.sessions.session(&browser, None);
                let result = session.view(&rig.view).put(&key, &format!("{b}-{i}")).await;
                (browser, key, result)
            }));
            tokio::task::yield_now().await;
        }
    }
    let mut acked = Vec::new();
    let mut failed = 0;
    for task in tasks {
        let (browser, key, result) = task.await.unwrap();
        match result {
            Ok(()) => acked.push((browser, key)),
            Err(err) => {
                // Typed, and a 503 over HTTP (see hyperstate-axum's error mapping).
                assert!(
                    matches!(err, Error::Backend { .. } | Error::SessionConflict { .. }),
                    "{err:?}"
                );
                failed += 1;
            }
        }
    }
    flipper.await.unwrap();
    rig.faulty.set(Fault::None);
    for (browser, key) in &acked {
        let state = rig
            .sessions
            .session(browser, None)
            .view(&rig.view)
            .load()
            .await
            .unwrap();
        assert!(
            state.get_or(key, None::<String>).unwrap().is_some(),
            "an acknowledged write of {key} is missing"
        );
    }
    // Bounded: no write causes more than `max_attempts` PUTs.
    let max = u64::from(SessionOptions::default().max_attempts);
    assert!(rig.faulty.put_attempts() <= 200 * max);
    eprintln!(
        "flapping store: {} acknowledged (all stored), {failed} failed, {} PUT attempts, {} landed",
        acked.len(),
        rig.faulty.put_attempts(),
        rig.faulty.puts_landed()
    );
    rig.supervisor.shutdown().await;
}
