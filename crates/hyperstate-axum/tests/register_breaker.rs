//! The shared session register sits behind a circuit breaker like the stores:
//! once it has failed a few times in a row, reads stop asking it (and are
//! answered from the store), and writes are answered "maybe written".

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use hyperstate::breaker::BreakerOptions;
use hyperstate::breaker::BreakerState;
use hyperstate::memory::{MemoryDocumentStore, MemoryRevisionRegister};
use hyperstate::session::{
    Revision, RevisionRegister, SessionCoherence, SessionKey, SessionSecret, View,
};
use hyperstate::{BrowserId, Error};
use hyperstate_axum::Hyperstate;

const THRESHOLD: u32 = 3;

/// A register that is down: every call fails as a lost connection does.
#[derive(Debug, Default)]
struct DownRegister {
    calls: AtomicU64,
}

impl DownRegister {
    fn fail<T>(&self) -> hyperstate::Result<T> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        Err(Error::backend("down", "call", "connection refused"))
    }
}

#[async_trait]
impl RevisionRegister for DownRegister {
    fn backend_name(&self) -> &'static str {
        "down"
    }
    async fn latest(&self, _: &SessionKey) -> hyperstate::Result<Option<Revision>> {
        self.fail()
    }
    async fn record(&self, _: &SessionKey, _: &Revision) -> hyperstate::Result<()> {
        self.fail()
    }
    async fn forget(&self, _: &SessionKey) -> hyperstate::Result<()> {
        self.fail()
    }
    async fn lease(&self, _: &str, _: Duration) -> hyperstate::Result<bool> {
        self.fail()
    }
}

/// Sessions on `store`, coherent through `register`, with breakers that open
/// after [`THRESHOLD`] failures and stay open longer than a test.
fn with_breakers(store: Arc<MemoryDocumentStore>, register: Arc<DownRegister>) -> Hyperstate {
    Hyperstate::builder()
        .sessions(store, SessionSecret::from_bytes([9u8; 32]).unwrap())
        .session_coherence(SessionCoherence::Shared(register))
        .breakers(Some(
            BreakerOptions::default()
                .failure_threshold(THRESHOLD)
                .cool_down(Duration::from_secs(600)),
        ))
        .build()
        .unwrap()
}

#[tokio::test]
async fn a_failing_register_opens_its_breaker_and_reads_come_from_the_store() {
    let store = Arc::new(MemoryDocumentStore::default());
    let register = Arc::new(DownRegister::default());
    let state = with_breakers(store.clone(), register.clone());
    let sessions = state.sessions().expect("sessions are on");
    let browser = BrowserId::generate();
    let view = View::new("settings");
    let session = sessions.session(&browser, None);

    // The write lands in the store; its record fails: "maybe written".
    let err = session
        .view(&view)
        .put("theme", &"dark")
        .await
        .expect_err("a write that could not be recorded was acknowledged");
    assert!(
        matches!(
            err,
            Error::Backend {
                backend: "down",
                ..
            }
        ),
        "{err:?}"
    );
    for _ in 0..THRESHOLD {
        let theme: String = session
            .view(&view)
            .get_or("theme", String::new())
            .await
            .unwrap();
        assert_eq!(theme, "dark");
    }
    let calls = register.calls.load(Ordering::SeqCst);
    assert_eq!(
        calls,
        u64::from(THRESHOLD),
        "calls until the breaker opened"
    );

    // Open: the register is no longer asked; reads still answer, from the store.
    for _ in 0..10 {
        let theme: String = session
            .view(&view)
            .get_or("theme", String::new())
            .await
            .unwrap();
        assert_eq!(theme, "dark");
    }
    assert_eq!(
        register.calls.load(Ordering::SeqCst),
        calls,
        "an open breaker reached the register"
    );
    assert_eq!(
        sessions.stats().cache_hits,
        0,
        "the cache answered unproven"
    );
    // And a write is still "maybe written" (stored, not recorded), not "nothing changed".
    let err = session
        .view(&view)
        .put("theme", &"light")
        .await
        .expect_err("a write that could not be recorded was acknowledged");
    assert!(
        matches!(
            err,
            Error::Backend {
                backend: "down",
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(register.calls.load(Ordering::SeqCst), calls);
    let theme: String = session
        .view(&view)
        .get_or("theme", String::new())
        .await
        .unwrap();
    assert_eq!(theme, "light");
    state.shutdown().await;
}

#[tokio::test]
async fn health_lists_the_register_down_with_its_breaker_open() {
    let register = Arc::new(DownRegister::default());
    let state = with_breakers(Arc::new(MemoryDocumentStore::default()), register);
    let register_health = |health: &[hyperstate_axum::BackendHealth]| {
        health
            .iter()
            .find(|backend| backend.scope == "session-register")
            .map(|backend| {
                let open = matches!(backend.breaker, Some(BreakerState::Open { .. }));
                (backend.backend, backend.result.is_ok(), open)
            })
    };
    let health = state.check_health().await;
    assert_eq!(
        register_health(&health),
        Some(("down", false, false)),
        "{health:?}"
    );
    for _ in 1..THRESHOLD {
        state.check_health().await;
    }
    let health = state.check_health().await;
    assert_eq!(
        register_health(&health),
        Some(("down", false, true)),
        "{health:?}"
    );
    // The session store itself is fine.
    let store = health.iter().find(|backend| backend.scope == "session");
    assert!(
        store.is_some_and(|backend| backend.result.is_ok()),
        "{health:?}"
    );
}

#[tokio::test]
async fn health_lists_a_working_register_and_none_without_one() {
    let secret = SessionSecret::from_bytes([9u8; 32]).unwrap();
    let shared = Hyperstate::builder()
        .sessions(Arc::new(MemoryDocumentStore::default()), secret.clone())
        .session_coherence(SessionCoherence::Shared(Arc::new(
            MemoryRevisionRegister::default(),
        )))
        .build()
        .unwrap();
    let health = shared.check_health().await;
    let register = health
        .iter()
        .find(|backend| backend.scope == "session-register");
    assert!(
        register.is_some_and(|backend| backend.result.is_ok()),
        "{health:?}"
    );

    let single = Hyperstate::builder()
        .sessions(Arc::new(MemoryDocumentStore::default()), secret)
        .build()
        .unwrap();
    let health = single.check_health().await;
    assert!(
        health
            .iter()
            .all(|backend| backend.scope != "session-register"),
        "{health:?}"
    );
}
