//! The session cache, counted: reads served from it make no store request, a
//! write to a cached session is one PUT (no GET first), with a shared
//! revision register a write on one node is read on another at once, and a
//! cache smaller than the working set evicts (and counts it) without ever
//! answering wrong.

use std::sync::Arc;
use std::time::Duration;

use hyperstate::memory::{MemoryDocumentStore, MemoryRevisionRegister};
use hyperstate::session::{
    DocumentStore, SessionCoherence, SessionOptions, SessionSecret, Sessions, View,
};
use hyperstate::{BrowserId, Supervisor};
use hyperstate_conformance::counting::CountingStore;
use metrics_exporter_prometheus::PrometheusBuilder;

const PAGE_LOADS: u64 = 100;

fn secret() -> SessionSecret {
    SessionSecret::from_bytes([7u8; 32]).expect("32 bytes")
}

fn node(
    store: Arc<dyn DocumentStore>,
    coherence: SessionCoherence,
    supervisor: &Supervisor,
) -> Sessions {
    // Writers retire at once, so every write below is an idle write.
    let options = SessionOptions::default().writer_idle(Duration::from_millis(1));
    Sessions::with_coherence(store, secret(), options, coherence, supervisor)
}

fn coherences() -> [(&'static str, SessionCoherence); 2] {
    [
        ("single node", SessionCoherence::SingleNode),
        (
            "shared",
            SessionCoherence::Shared(Arc::new(MemoryRevisionRegister::default())),
        ),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cached_reads_make_no_store_request_and_an_idle_write_is_one_put() {
    for (mode, coherence) in coherences() {
        let counting = Arc::new(CountingStore::new(
            Arc::new(MemoryDocumentStore::default()),
            Duration::ZERO,
        ));
        let supervisor = Supervisor::new();
        let sessions = node(counting.clone(), coherence, &supervisor);
        let view = sessions
            .session(&BrowserId::generate(), None)
            .view(&View::new("settings"));
        view.put("theme", &"dark").await.unwrap();

        let before = counting.requests();
        for _ in 0..PAGE_LOADS {
            assert_eq!(view.get_or("theme", String::new()).await.unwrap(), "dark");
        }
        assert_eq!(
            counting.requests() - before,
            0,
            "{mode}: store requests for {PAGE_LOADS} cached reads"
        );

        // Let the writer retire: the next write starts a new one, which
        // commits against the cached etag without reading first.
        while sessions.stats().active_writers > 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let (gets, puts) = (counting.gets(), counting.puts());
        view.put("theme", &"light").await.unwrap();
        assert_eq!(
            (counting.gets() - gets, counting.puts() - puts),
            (0, 1),
            "{mode}: (GETs, PUTs) of an idle write"
        );
        assert_eq!(view.get_or("theme", String::new()).await.unwrap(), "light");
        assert_eq!(sessions.stats().cache_misses, 0, "{mode}");
        supervisor.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_cache_every_read_is_a_get() {
    let counting = Arc::new(CountingStore::new(
        Arc::new(MemoryDocumentStore::default()),
        Duration::ZERO,
    ));
    let supervisor = Supervisor::new();
    let sessions = node(counting.clone(), SessionCoherence::Off, &supervisor);
    let view = sessions
        .session(&BrowserId::generate(), None)
        .view(&View::new("settings"));
    view.put("theme", &"dark").await.unwrap();
    let before = counting.gets();
    for _ in 0..PAGE_LOADS {
        view.get_or("theme", String::new()).await.unwrap();
    }
    assert_eq!(counting.gets() - before, PAGE_LOADS);
    supervisor.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shared_register_makes_every_node_read_the_last_acknowledged_write() {
    let store: Arc<dyn DocumentStore> = Arc::new(MemoryDocumentStore::default());
    let register = Arc::new(MemoryRevisionRegister::default());
    let supervisor = Supervisor::new();
    let nodes = [
        node(
            store.clone(),
            SessionCoherence::Shared(register.clone()),
            &supervisor,
        ),
        node(store, SessionCoherence::Shared(register), &supervisor),
    ];
    let browser = BrowserId::generate();
    let view = View::new("settings");
    for round in 0..200usize {
        let (writer, reader) = (&nodes[round % 2], &nodes[(round + 1) % 2]);
        writer
            .session(&browser, None)
            .view(&view)
            .put("n", &round)
            .await
            .unwrap();
        let read: usize = reader
            .session(&browser, None)
            .view(&view)
            .get_or("n", usize::MAX)
            .await
            .unwrap();
        assert_eq!(read, round, "round {round}: a stale read");
        // And the writer's own node reads it from its cache.
        let again: usize = writer
            .session(&browser, None)
            .view(&view)
            .get_or("n", usize::MAX)
            .await
            .unwrap();
        assert_eq!(again, round);
    }
    assert!(nodes.iter().all(|n| n.stats().cache_hits > 0));
    supervisor.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_single_node_cache_forgets_what_the_sweeper_deleted() {
    let supervisor = Supervisor::new();
    let sessions = node(
        Arc::new(MemoryDocumentStore::default()),
        SessionCoherence::SingleNode,
        &supervisor,
    );
    let view = sessions
        .session(&BrowserId::generate(), None)
        .view(&View::new("v"));
    view.put("k", &1).await.unwrap();
    assert_eq!(view.get_or("k", 0).await.unwrap(), 1);
    let later = std::time::SystemTime::now() + sessions.options().ttl + Duration::from_secs(60);
    assert_eq!(sessions.sweep_at(later).await.unwrap(), 1);
    assert_eq!(
        view.get_or("k", 0).await.unwrap(),
        0,
        "a swept session was read from the cache"
    );
    supervisor.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_sharing_a_register_sweep_one_at_a_time() {
    let counting = Arc::new(CountingStore::new(
        Arc::new(MemoryDocumentStore::default()),
        Duration::ZERO,
    ));
    let register = Arc::new(MemoryRevisionRegister::default());
    let supervisor = Supervisor::new();
    let nodes: Vec<Sessions> = (0..3)
        .map(|_| {
            node(
                counting.clone(),
                SessionCoherence::Shared(register.clone()),
                &supervisor,
            )
        })
        .collect();
    let hour = Duration::from_secs(3600);
    let mut swept = 0;
    for node in &nodes {
        if node.sweep_leased(hour).await.unwrap().is_some() {
            swept += 1;
        }
    }
    assert_eq!(swept, 1, "nodes that swept within one lease");
    assert_eq!(counting.lists(), 1, "LISTs of the store");
    // Without a shared register a node cannot know of the others: it sweeps.
    let alone = node(counting.clone(), SessionCoherence::SingleNode, &supervisor);
    assert!(alone.sweep_leased(hour).await.unwrap().is_some());
    assert_eq!(counting.lists(), 2);
    supervisor.shutdown().await;
}

#[tokio::test]
async fn a_cache_smaller_than_its_sessions_evicts_counts_it_and_reads_stay_right() {
    const SESSIONS: usize = 300;
    // A few dozen documents of ~60 bytes: far fewer than SESSIONS.
    const CACHE_BYTES: u64 = 2 * 1024;
    let recorder = PrometheusBuilder::new().build_recorder();
    let metrics = recorder.handle();
    // The counter is bound when the cache is built, on this thread.
    let _metrics = metrics::set_default_local_recorder(&recorder);
    let supervisor = Supervisor::new();
    let counting = Arc::new(CountingStore::new(
        Arc::new(MemoryDocumentStore::default()),
        Duration::ZERO,
    ));
    let options = SessionOptions::default().cache_bytes(CACHE_BYTES);
    let sessions = Sessions::with_coherence(
        counting.clone(),
        secret(),
        options,
        SessionCoherence::SingleNode,
        &supervisor,
    );
    let view = View::new("v");
    let browsers: Vec<_> = (0..SESSIONS).map(|_| BrowserId::generate()).collect();
    for (i, browser) in browsers.iter().enumerate() {
        let session = sessions.session(browser, None);
        session.view(&view).put("n", &i).await.unwrap();
    }
    let gets = counting.gets();
    for (i, browser) in browsers.iter().enumerate() {
        let session = sessions.session(browser, None);
        let n: usize = session.view(&view).get_or("n", usize::MAX).await.unwrap();
        assert_eq!(n, i, "session {i} read wrong after evictions");
    }
    let evictions = counter(
        &metrics.render(),
        "hyperstate_session_cache_evictions_total",
    );
    assert!(evictions > 0, "no eviction counted:\n{}", metrics.render());
    // What was evicted was read from the store again.
    assert!(counting.gets() > gets, "no read missed the cache");
    assert!(sessions.stats().cache_misses > 0, "{:?}", sessions.stats());
    supervisor.shutdown().await;
}

/// The value of the `memory` series of counter `name` in a Prometheus page.
fn counter(page: &str, name: &str) -> u64 {
    let series = format!("{name}{{backend=\"memory\"}} ");
    page.lines()
        .find_map(|line| line.strip_prefix(series.as_str()))
        .map_or(0, |value| value.trim().parse().expect("a counter value"))
}
