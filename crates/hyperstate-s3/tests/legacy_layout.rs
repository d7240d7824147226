//! Documents written by earlier versions at `<prefix>/<key>.json` are read,
//! moved to `<prefix>/<k0k1>/<key>.json` by their next write (by exactly one of
//! two racing nodes, losing nothing), swept when expired and deleted, on a real
//! S3-protocol server (moto: `scripts/services/s3.sh`). Without one the tests
//! skip loudly, unless `CI=true`.

use std::io::Write as _;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use hyperstate::BrowserId;
use hyperstate::session::{
    DocumentStore, SessionCoherence, SessionKey, SessionOptions, SessionSecret, Sessions, View,
};
use hyperstate_conformance::doc_store::fresh_namespace;
use hyperstate_conformance::session::{Node, node};
use hyperstate_s3::S3DocumentStore;
use object_store::{ObjectStoreExt as _, PutPayload};

fn s3() -> Option<(String, String)> {
    match (
        std::env::var("HYPERSTATE_S3_ENDPOINT"),
        std::env::var("HYPERSTATE_S3_BUCKET"),
    ) {
        (Ok(endpoint), Ok(bucket)) => Some((endpoint, bucket)),
        _ => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "HYPERSTATE_S3_ENDPOINT / HYPERSTATE_S3_BUCKET are not set, and CI=true"
            );
            let _ = writeln!(
                std::io::stderr(),
                "SKIPPED: no S3 server (set HYPERSTATE_S3_ENDPOINT and HYPERSTATE_S3_BUCKET, or run ./scripts/test)"
            );
            None
        }
    }
}

fn store(ns: &str) -> Option<S3DocumentStore> {
    let (endpoint, bucket) = s3()?;
    Some(
        S3DocumentStore::builder(bucket)
            .endpoint(endpoint)
            .prefix(format!("legacy/{ns}"))
            .build()
            .expect("configuring the S3 store"),
    )
}

fn secret() -> SessionSecret {
    // The secret `hyperstate_conformance::session::node` derives keys with.
    SessionSecret::from_bytes([42u8; 32]).expect("32 bytes")
}

fn uncached(store: &S3DocumentStore) -> Node {
    node(
        Arc::new(store.clone()),
        SessionOptions::default(),
        SessionCoherence::Off,
    )
}

async fn exists(store: &S3DocumentStore, path: &object_store::path::Path) -> bool {
    match store.object_store().head(path).await {
        Ok(_) => true,
        Err(object_store::Error::NotFound { .. }) => false,
        Err(err) => panic!("HEAD {path}: {err}"),
    }
}

/// A session of `browser` holding `theme = value`, as an earlier version left
/// it: written at the legacy path, nothing at the new one. The document's
/// bytes are the current format's, which earlier versions share.
async fn plant_legacy(store: &S3DocumentStore, browser: &BrowserId, value: &str) -> SessionKey {
    let writer = uncached(store);
    let view = View::new("settings");
    let session = writer.sessions.session(browser, None);
    session.view(&view).put("theme", &value).await.unwrap();
    writer.supervisor.shutdown().await;
    let key = SessionKey::derive(&secret(), browser);
    let raw = store.object_store();
    let bytes = raw
        .get(&store.path(&key))
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    raw.put(&store.legacy_path(&key), PutPayload::from(bytes))
        .await
        .unwrap();
    raw.delete(&store.path(&key)).await.unwrap();
    assert!(exists(store, &store.legacy_path(&key)).await);
    assert!(!exists(store, &store.path(&key)).await);
    key
}

async fn theme(sessions: &Sessions, browser: &BrowserId) -> String {
    sessions
        .session(browser, None)
        .view(&View::new("settings"))
        .get_or("theme", String::new())
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_legacy_document_is_read_then_moved_by_its_next_write() {
    let Some(store) = store(&fresh_namespace()) else {
        return;
    };
    let browser = BrowserId::generate();
    let key = plant_legacy(&store, &browser, "dark").await;

    let n = uncached(&store);
    assert_eq!(theme(&n.sessions, &browser).await, "dark");
    let listed: Vec<_> = store.list().await.unwrap();
    assert_eq!(listed.iter().map(|l| l.key).collect::<Vec<_>>(), [key]);

    let session = n.sessions.session(&browser, None);
    session
        .view(&View::new("settings"))
        .put("font", &"serif")
        .await
        .unwrap();
    assert!(
        exists(&store, &store.path(&key)).await,
        "now at the new path"
    );
    assert!(
        !exists(&store, &store.legacy_path(&key)).await,
        "and no longer at the old one"
    );
    let fresh = uncached(&store);
    assert_eq!(theme(&fresh.sessions, &browser).await, "dark");
    let font: String = fresh
        .sessions
        .session(&browser, None)
        .view(&View::new("settings"))
        .get_or("font", String::new())
        .await
        .unwrap();
    assert_eq!(font, "serif");
    n.supervisor.shutdown().await;
    fresh.supervisor.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_legacy_document_is_swept_and_a_live_one_is_not() {
    let Some(store) = store(&fresh_namespace()) else {
        return;
    };
    let key = plant_legacy(&store, &BrowserId::generate(), "dark").await;
    // Quarantined copies share the prefix but are no session.
    let kept = store
        .quarantine(&key, &store.get(&key).await.unwrap().unwrap())
        .await
        .unwrap();
    let n = uncached(&store);
    let now = SystemTime::now();
    assert_eq!(n.sessions.sweep_at(now).await.unwrap(), 0);
    assert!(exists(&store, &store.legacy_path(&key)).await);

    let ttl = n.sessions.options().ttl;
    let later = now + ttl + Duration::from_secs(3600);
    assert_eq!(n.sessions.sweep_at(later).await.unwrap(), 1);
    assert!(!exists(&store, &store.legacy_path(&key)).await);
    assert_eq!(store.get(&key).await.unwrap(), None);
    assert!(
        exists(&store, &object_store::path::Path::from(kept)).await,
        "the quarantined copy is never swept"
    );
    n.supervisor.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delete_removes_a_legacy_document() {
    let Some(store) = store(&fresh_namespace()) else {
        return;
    };
    let key = plant_legacy(&store, &BrowserId::generate(), "dark").await;
    let doc = store
        .get(&key)
        .await
        .unwrap()
        .expect("read at the old path");
    // The etag names the old object: a conditional delete with it works.
    assert!(store.delete(&key, Some(&doc.etag)).await.unwrap());
    assert_eq!(store.get(&key).await.unwrap(), None);

    let key = plant_legacy(&store, &BrowserId::generate(), "light").await;
    assert!(store.delete(&key, None).await.unwrap());
    assert_eq!(store.get(&key).await.unwrap(), None);
    assert!(!store.delete(&key, None).await.unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_moving_one_legacy_session_at_once_lose_nothing() {
    const WRITES: usize = 8;
    let ns = fresh_namespace();
    let Some(store) = store(&ns) else {
        return;
    };
    for round in 0..5 {
        let browser = BrowserId::generate();
        let key = plant_legacy(&store, &browser, "dark").await;
        // Two nodes, each with its own client: both first read the legacy
        // document, so both writers try to move it.
        let nodes = [
            uncached(&self::store(&ns).unwrap()),
            uncached(&self::store(&ns).unwrap()),
        ];
        let view = View::new("settings");
        let mut tasks = tokio::task::JoinSet::new();
        for (n, node) in nodes.iter().enumerate() {
            for i in 0..WRITES {
                let session = node.sessions.session(&browser, None);
                tasks.spawn(
                    async move { session.view(&view).put(&format!("node{n}-{i}"), &i).await },
                );
            }
        }
        for result in tasks.join_all().await {
            result.expect("no write may fail");
        }
        assert!(
            !exists(&store, &store.legacy_path(&key)).await,
            "round {round}"
        );
        let state = uncached(&store)
            .sessions
            .session(&browser, None)
            .view(&view)
            .load()
            .await
            .unwrap();
        assert_eq!(state.get_or("theme", String::new()).unwrap(), "dark");
        for n in 0..2 {
            for i in 0..WRITES {
                assert_eq!(
                    state.get_or(&format!("node{n}-{i}"), usize::MAX).unwrap(),
                    i,
                    "round {round}: node{n}-{i} lost"
                );
            }
        }
        for node in nodes {
            node.supervisor.shutdown().await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn of_two_writers_holding_the_legacy_etag_one_moves_it_and_the_other_conflicts() {
    use hyperstate::session::{PutCondition, PutOutcome};

    let ns = fresh_namespace();
    let Some(store) = store(&ns) else {
        return;
    };
    let other = self::store(&ns).unwrap();
    let key = plant_legacy(&store, &BrowserId::generate(), "dark").await;
    let seen_here = store.get(&key).await.unwrap().unwrap();
    let seen_there = other.get(&key).await.unwrap().unwrap();
    assert_eq!(seen_here, seen_there);
    let body = seen_here.body.clone();

    let PutOutcome::Written(etag) = store
        .put(&key, body.clone(), PutCondition::Matches(&seen_here.etag))
        .await
        .unwrap()
    else {
        panic!("the first move must be written");
    };
    assert_eq!(
        other
            .put(&key, body.clone(), PutCondition::Matches(&seen_there.etag))
            .await
            .unwrap(),
        PutOutcome::Conflict,
        "the second writer's copy is stale"
    );
    // The loser reloads and finds the winner's document at the new path.
    let reloaded = other.get(&key).await.unwrap().unwrap();
    assert_eq!(reloaded.etag, etag);
    assert!(matches!(
        other
            .put(&key, body, PutCondition::Matches(&reloaded.etag))
            .await
            .unwrap(),
        PutOutcome::Written(_)
    ));
    assert!(!exists(&store, &store.legacy_path(&key)).await);
}
