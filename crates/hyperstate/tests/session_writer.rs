//! The writer task's lifecycle and its failure modes, on the memory backend.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use hyperstate::memory::MemoryDocumentStore;
use hyperstate::session::{
    Document, DocumentStore, Etag, Listed, PutCondition, PutOutcome, SessionKey, SessionOptions,
    SessionSecret, Sessions, View,
};
use hyperstate::{BrowserId, Error, Result, Supervisor};

fn sessions(
    store: Arc<dyn DocumentStore>,
    options: SessionOptions,
    supervisor: &Supervisor,
) -> Sessions {
    Sessions::new(store, SessionSecret::generate(), options, supervisor)
}

/// A lone write commits from its caller's task: no writer task, no hop. Writes
/// that arrive while a commit is in flight start the session's writer, which
/// batches them and retires when idle.
#[tokio::test(start_paused = true)]
async fn lone_writes_commit_inline_and_idle_writers_retire() {
    let supervisor = Supervisor::new();
    let options = SessionOptions::default().writer_idle(Duration::from_secs(30));
    let slow = Arc::new(hyperstate_conformance::counting::CountingStore::new(
        Arc::new(MemoryDocumentStore::default()),
        Duration::from_millis(20),
    ));
    let sessions = sessions(slow, options, &supervisor);
    let view = sessions
        .session(&BrowserId::generate(), None)
        .view(&View::new("v"));
    view.put("a", &1).await.unwrap();
    assert_eq!(
        sessions.stats().active_writers,
        0,
        "a lone write started a writer task"
    );
    let (first, second) = tokio::join!(view.put("b", &2), view.put("c", &3));
    first.unwrap();
    second.unwrap();
    assert_eq!(
        sessions.stats().active_writers,
        1,
        "a write during a commit started no writer"
    );
    tokio::time::sleep(Duration::from_secs(31)).await;
    assert_eq!(
        sessions.stats().active_writers,
        0,
        "the idle writer retired"
    );
    view.put("d", &4).await.unwrap();
    assert_eq!(sessions.stats().active_writers, 0);
    let state = view.load().await.unwrap();
    let values: Vec<i32> = ["a", "b", "c", "d"]
        .iter()
        .map(|key| state.get_or(key, 0).unwrap())
        .collect();
    assert_eq!(values, [1, 2, 3, 4]);
    supervisor.shutdown().await;
    assert_eq!(sessions.stats().active_writers, 0);
}

/// A store where every conditional write loses, as if other nodes always won.
#[derive(Debug, Default)]
struct AlwaysConflicts(MemoryDocumentStore);

#[async_trait]
impl DocumentStore for AlwaysConflicts {
    fn backend_name(&self) -> &'static str {
        "always-conflicts"
    }
    async fn get(&self, key: &SessionKey) -> Result<Option<Document>> {
        self.0.get(key).await
    }
    async fn put(&self, _: &SessionKey, _: Vec<u8>, _: PutCondition<'_>) -> Result<PutOutcome> {
        Ok(PutOutcome::Conflict)
    }
    async fn delete(&self, key: &SessionKey, etag: Option<&Etag>) -> Result<bool> {
        self.0.delete(key, etag).await
    }
    async fn list(&self) -> Result<Vec<Listed>> {
        self.0.list().await
    }
    async fn quarantine(&self, key: &SessionKey, document: &Document) -> Result<String> {
        self.0.quarantine(key, document).await
    }
}

#[tokio::test(start_paused = true)]
async fn endless_conflicts_end_in_a_typed_error() {
    let supervisor = Supervisor::new();
    let options = SessionOptions::default().max_attempts(5);
    let sessions = sessions(Arc::new(AlwaysConflicts::default()), options, &supervisor);
    let view = sessions
        .session(&BrowserId::generate(), None)
        .view(&View::new("v"));
    let err = view.put("k", &1).await.unwrap_err();
    assert!(
        matches!(err, Error::SessionConflict { attempts: 5 }),
        "{err:?}"
    );
    assert_eq!(sessions.stats().conflicts, 5);
    assert!(!err.kind().is_client_error());
    supervisor.shutdown().await;
}

/// A store that fails every operation.
#[derive(Debug)]
struct Broken;

#[async_trait]
impl DocumentStore for Broken {
    fn backend_name(&self) -> &'static str {
        "broken"
    }
    async fn get(&self, _: &SessionKey) -> Result<Option<Document>> {
        Err(Error::backend("broken", "get", "disk on fire"))
    }
    async fn put(&self, _: &SessionKey, _: Vec<u8>, _: PutCondition<'_>) -> Result<PutOutcome> {
        Err(Error::backend("broken", "put", "disk on fire"))
    }
    async fn delete(&self, _: &SessionKey, _: Option<&Etag>) -> Result<bool> {
        Err(Error::backend("broken", "delete", "disk on fire"))
    }
    async fn list(&self) -> Result<Vec<Listed>> {
        Err(Error::backend("broken", "list", "disk on fire"))
    }
    async fn quarantine(&self, _: &SessionKey, _: &Document) -> Result<String> {
        Err(Error::backend("broken", "quarantine", "disk on fire"))
    }
}

#[tokio::test]
async fn backend_failures_reach_every_write_of_the_batch() {
    let supervisor = Supervisor::new();
    let sessions = sessions(Arc::new(Broken), SessionOptions::default(), &supervisor);
    let view = sessions
        .session(&BrowserId::generate(), None)
        .view(&View::new("v"));
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..8 {
        let view = view.clone();
        tasks.spawn(async move { view.put(&format!("k{i}"), &i).await });
    }
    for result in tasks.join_all().await {
        let err = result.unwrap_err();
        assert!(matches!(err, Error::Backend { .. }), "{err:?}");
        // The backend's own error is kept as the source, not flattened.
        let mut chain = std::iter::successors(Some(&err as &dyn std::error::Error), |e| e.source());
        assert!(
            chain.any(|e| e.to_string().contains("disk on fire")),
            "{err:?}"
        );
    }
    assert!(sessions.sweep().await.is_err());
    supervisor.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn a_stale_session_is_touched_on_read_not_on_every_read() {
    let supervisor = Supervisor::new();
    let store = MemoryDocumentStore::default();
    let options = SessionOptions::default().touch_after(Duration::ZERO);
    let sessions = sessions(Arc::new(store.clone()), options, &supervisor);
    let session = sessions.session(&BrowserId::generate(), None);
    session.view(&View::new("v")).put("k", &1).await.unwrap();
    let before = session.load().await.unwrap().unwrap();
    // The touch is queued in the background; let it commit.
    tokio::time::sleep(Duration::from_millis(50)).await;
    let after = session.load().await.unwrap().unwrap();
    assert!(
        after.rev > before.rev,
        "a read of a stale session refreshes last_seen_at"
    );

    let lazy = Sessions::new(
        Arc::new(store),
        SessionSecret::generate(),
        SessionOptions::default(),
        &supervisor,
    );
    let session = lazy.session(&BrowserId::generate(), None);
    session.view(&View::new("v")).put("k", &1).await.unwrap();
    let before = session.load().await.unwrap().unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(
        session.load().await.unwrap().unwrap().rev,
        before.rev,
        "fresh sessions are not rewritten by reads"
    );
    supervisor.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn the_supervised_sweeper_deletes_expired_sessions() {
    let supervisor = Supervisor::new();
    let store = MemoryDocumentStore::default();
    // A zero TTL: every session is expired as soon as it was last seen.
    let options = SessionOptions::default().ttl(Duration::ZERO);
    let sessions = sessions(Arc::new(store.clone()), options, &supervisor);
    sessions
        .session(&BrowserId::generate(), None)
        .view(&View::new("v"))
        .put("k", &1)
        .await
        .unwrap();
    assert_eq!(store.len(), 1);
    sessions.spawn_sweeper(&supervisor, Duration::from_secs(3600));
    // The sweep reads the wall clock; make sure it has moved past the write.
    std::thread::sleep(Duration::from_millis(5));
    tokio::time::sleep(Duration::from_secs(3601)).await;
    // The sweep runs as its own task: let it finish.
    for _ in 0..100 {
        if store.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(
        store.is_empty(),
        "the sweeper did not delete the expired session"
    );
    supervisor.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn the_writer_cap_holds_under_many_sessions() {
    let supervisor = Supervisor::new();
    let options = SessionOptions::default().max_writers(4);
    let sessions = sessions(
        Arc::new(MemoryDocumentStore::default()),
        options,
        &supervisor,
    );
    let view = View::new("v");
    // 64 sessions written at once, each twice, as a flood of new browsers would.
    let mut writes = tokio::task::JoinSet::new();
    for n in 0..64u32 {
        let session = sessions.session(&BrowserId::generate(), None);
        writes.spawn(async move {
            let view = session.view(&view);
            view.put("a", &n).await?;
            view.put("b", &n).await?;
            Ok::<_, Error>((
                view.get_or("a", 0u32).await?,
                view.get_or("b", 0u32).await?,
                n,
            ))
        });
    }
    let mut most = 0;
    while let Some(done) = writes.join_next().await {
        most = most.max(sessions.stats().active_writers);
        let (a, b, n) = done.unwrap().unwrap();
        assert_eq!((a, b), (n, n), "every write is durable, capped or not");
    }
    assert!(most <= 4, "{most} writers alive");
    assert!(sessions.stats().active_writers <= 4);
    supervisor.shutdown().await;
}
