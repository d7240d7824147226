//! `/healthz` over HTTP: 200 when every backend can serve, 503 naming the one
//! that cannot while it is down, 200 again once it is back. The session store
//! is wrapped in a [`FaultyStore`]; the Redis case is in `redis_faults.rs`.

mod common;

use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use common::Browser;
use hyperstate::fs::FsDocumentStore;
use hyperstate::memory::MemoryDocumentStore;
use hyperstate::session::{SessionOptions, SessionSecret};
use hyperstate_axum::{HttpConfig, Hyperstate};
use hyperstate_conformance::faults::{Fault, FaultyStore};

#[tokio::test]
async fn healthz_names_the_failing_backend_and_recovers() {
    let faulty = Arc::new(FaultyStore::new(Arc::new(MemoryDocumentStore::default())));
    let state = Hyperstate::builder()
        .config(HttpConfig::default().secure_cookie(false))
        .sessions(
            faulty.clone(),
            SessionSecret::from_bytes([3u8; 32]).unwrap(),
        )
        .build()
        .unwrap();
    let browser = Browser::new(hyperstate_demo::router(&state));

    let up = browser.load("/healthz").await;
    assert_eq!(up.status, StatusCode::OK, "{}", up.body);
    assert!(up.body.contains("session (memory): ok"), "{}", up.body);

    faulty.set(Fault::Fail);
    let down = browser.load("/healthz").await;
    assert_eq!(
        down.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        down.body
    );
    assert!(
        down.body.contains("session (memory): down"),
        "{}",
        down.body
    );
    assert!(down.body.contains("page (memory): ok"), "{}", down.body);

    faulty.set(Fault::None);
    let back = browser.load("/healthz").await;
    assert_eq!(back.status, StatusCode::OK, "{}", back.body);
    state.shutdown().await;
}

/// A store that still reads but cannot write (a full disk, a read-only mount)
/// is down: health probes a write, at most once per interval.
#[tokio::test(start_paused = true)]
async fn healthz_probes_writes_once_per_interval() {
    let faulty = Arc::new(FaultyStore::new(Arc::new(MemoryDocumentStore::default())));
    let interval = Duration::from_secs(5);
    let state = Hyperstate::builder()
        .config(HttpConfig::default().secure_cookie(false))
        .sessions(
            faulty.clone(),
            SessionSecret::from_bytes([3u8; 32]).unwrap(),
        )
        .session_options(SessionOptions::default().write_probe_interval(interval))
        .build()
        .unwrap();
    let browser = Browser::new(hyperstate_demo::router(&state));
    assert_eq!(browser.load("/healthz").await.status, StatusCode::OK);

    faulty.set(Fault::ReadOnly);
    tokio::time::advance(interval).await;
    let down = browser.load("/healthz").await;
    assert_eq!(
        down.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        down.body
    );
    assert!(
        down.body.contains("session (memory): down"),
        "{}",
        down.body
    );
    assert!(down.body.contains("write probe"), "{}", down.body);

    // Within the interval the verdict is reused: a flood of checks makes no PUT.
    faulty.set(Fault::None);
    let puts = faulty.put_attempts();
    for _ in 0..20 {
        let cached = browser.load("/healthz").await;
        assert_eq!(
            cached.status,
            StatusCode::SERVICE_UNAVAILABLE,
            "{}",
            cached.body
        );
    }
    assert_eq!(
        faulty.put_attempts(),
        puts,
        "write probes within one interval"
    );

    tokio::time::advance(interval).await;
    let back = browser.load("/healthz").await;
    assert_eq!(back.status, StatusCode::OK, "{}", back.body);
    assert_eq!(faulty.put_attempts(), puts + 1);
    state.shutdown().await;
}

/// The file-system store with its lock directory replaced by a file: reads
/// work (no lock), every write fails. Tests run as root, so a mode would not
/// stop the writes; a non-directory in the write path does.
#[tokio::test]
async fn healthz_says_down_when_the_fs_store_cannot_write() {
    let dir = tempfile::tempdir().unwrap();
    let store = FsDocumentStore::open(dir.path()).unwrap();
    let locks = store.dir().join("locks");
    let state = Hyperstate::builder()
        .config(HttpConfig::default().secure_cookie(false))
        .sessions(
            Arc::new(store),
            SessionSecret::from_bytes([3u8; 32]).unwrap(),
        )
        .session_options(SessionOptions::default().write_probe_interval(Duration::ZERO))
        .build()
        .unwrap();
    let browser = Browser::new(hyperstate_demo::router(&state));

    std::fs::remove_dir(&locks).unwrap();
    std::fs::write(&locks, b"not a directory").unwrap();
    let down = browser.load("/healthz").await;
    assert_eq!(
        down.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        down.body
    );
    assert!(down.body.contains("session (fs): down"), "{}", down.body);

    std::fs::remove_file(&locks).unwrap();
    std::fs::create_dir(&locks).unwrap();
    let back = browser.load("/healthz").await;
    assert_eq!(back.status, StatusCode::OK, "{}", back.body);
    state.shutdown().await;
}
