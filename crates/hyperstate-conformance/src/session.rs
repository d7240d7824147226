//! Cases for the session scope over any [`DocumentStore`]: per-key merge,
//! versions, policies, durability across restarts, several nodes, expiry.
//!
//! They take the same factory as [`crate::doc_store`], inside a [`Cluster`]
//! that says whether nodes cache documents; a new [`Sessions`] over a new
//! handle on the same namespace is a restarted (or another) node. Every case
//! runs without a cache and with one kept coherent through a shared revision
//! register: the cache must change nothing a caller can observe.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use hyperstate::memory::MemoryRevisionRegister;
use hyperstate::session::{
    DocumentStore, PutCondition, PutOutcome, RevisionRegister, SessionCoherence, SessionOptions,
    SessionSecret, Sessions, View,
};
use hyperstate::{BrowserId, Error, Key, Limits, PageId, Supervisor};
use serde_json::json;

use crate::counting::CountingStore;
use crate::doc_store::{Factory, fresh_namespace};

/// One node: its supervisor (drop it to stop the node) and its session scope.
#[derive(Debug)]
pub struct Node {
    pub supervisor: Supervisor,
    pub sessions: Sessions,
}

fn secret() -> SessionSecret {
    SessionSecret::from_bytes([42u8; 32]).expect("32 bytes")
}

pub fn node(
    store: Arc<dyn DocumentStore>,
    options: SessionOptions,
    coherence: SessionCoherence,
) -> Node {
    let supervisor = Supervisor::new();
    let sessions = Sessions::with_coherence(store, secret(), options, coherence, &supervisor);
    Node {
        supervisor,
        sessions,
    }
}

/// Makes the shared revision register of a namespace.
pub trait RegisterFactory: Fn(&str) -> Arc<dyn RevisionRegister> + Send + Sync {}
impl<F: Fn(&str) -> Arc<dyn RevisionRegister> + Send + Sync> RegisterFactory for F {}

/// The backend under test and how its nodes cache: the nodes of one namespace
/// share its store and, when caching, its revision register.
pub struct Cluster<'a> {
    make: &'a dyn Factory,
    registers: Option<&'a dyn RegisterFactory>,
}

impl std::fmt::Debug for Cluster<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster")
            .field("cached", &self.registers.is_some())
            .finish()
    }
}

impl<'a> Cluster<'a> {
    /// Nodes without a cache: every read goes to the store.
    pub fn uncached(make: &'a dyn Factory) -> Self {
        Cluster {
            make,
            registers: None,
        }
    }

    /// Nodes that cache, coherent through the register `registers` makes for
    /// each namespace.
    pub fn cached(make: &'a dyn Factory, registers: &'a dyn RegisterFactory) -> Self {
        Cluster {
            make,
            registers: Some(registers),
        }
    }

    /// A new handle on the namespace's store.
    pub fn store(&self, ns: &str) -> Arc<dyn DocumentStore> {
        (self.make)(ns)
    }

    /// A new node on the namespace.
    pub fn node(&self, ns: &str, options: SessionOptions) -> Node {
        self.node_over(ns, self.store(ns), options)
    }

    /// A new node on the namespace, over `store` (a wrapper of its store).
    pub fn node_over(
        &self,
        ns: &str,
        store: Arc<dyn DocumentStore>,
        options: SessionOptions,
    ) -> Node {
        let coherence = match self.registers {
            Some(registers) => SessionCoherence::Shared(registers(ns)),
            None => SessionCoherence::Off,
        };
        node(store, options, coherence)
    }
}

/// In-process registers, one per namespace, for backends whose nodes in a
/// test all live in one process.
pub fn memory_registers() -> impl RegisterFactory {
    let registers: Mutex<HashMap<String, MemoryRevisionRegister>> = Mutex::default();
    move |ns: &str| -> Arc<dyn RevisionRegister> {
        let mut registers = registers.lock().unwrap_or_else(|e| e.into_inner());
        Arc::new(registers.entry(ns.to_owned()).or_default().clone())
    }
}

pub async fn values_round_trip_and_browsers_are_isolated(c: &Cluster<'_>) {
    let n = c.node(&fresh_namespace(), SessionOptions::default());
    let view = View::new("v");
    let (alice, bob) = (BrowserId::generate(), BrowserId::generate());
    let mine = n.sessions.session(&alice, None).view(&view);
    assert_eq!(
        mine.get_or("k", 0).await.unwrap(),
        0,
        "nothing before the first write"
    );
    mine.put("k", &(1, "two")).await.unwrap();
    mine.put("n", &7u8).await.unwrap();
    // JSON-normalized: a tuple reads back as an array.
    assert_eq!(
        mine.get_or("k", json!(null)).await.unwrap(),
        json!([1, "two"])
    );
    let err = mine.get_or("k", 0u8).await.unwrap_err();
    assert!(matches!(err, Error::Json { .. }), "{err:?}");
    let theirs = n.sessions.session(&bob, None).view(&view);
    assert_eq!(theirs.get_or("k", json!(null)).await.unwrap(), json!(null));
    mine.delete("k").await.unwrap();
    assert_eq!(mine.get_or("k", json!(null)).await.unwrap(), json!(null));
    assert_eq!(mine.get_or("n", 0u8).await.unwrap(), 7);
    n.supervisor.shutdown().await;
}

pub async fn acknowledged_writes_survive_a_restart(c: &Cluster<'_>) {
    let ns = fresh_namespace();
    let browser = BrowserId::generate();
    let view = View::new("settings");
    let first = c.node(&ns, SessionOptions::default());
    first
        .sessions
        .session(&browser, None)
        .view(&view)
        .put("theme", "dark")
        .await
        .unwrap();
    // No shutdown: the node just disappears, as after a crash.
    drop(first);
    let second = c.node(&ns, SessionOptions::default());
    let got: String = second
        .sessions
        .session(&browser, None)
        .view(&view)
        .get_or("theme", String::new())
        .await
        .unwrap();
    assert_eq!(got, "dark");
}

/// Two nodes on one namespace, each making `writes` concurrent writes to the
/// same browser's view `v`: write `i` of node `n` puts `write(n, i)` (key,
/// value). Every write must be acknowledged. Returns the nodes, the browser
/// and the view, for the caller to check what survived.
async fn two_nodes_write<V>(
    c: &Cluster<'_>,
    writes: usize,
    write: impl Fn(usize, usize) -> (String, V),
) -> ([Node; 2], BrowserId, View)
where
    V: serde::Serialize + Send + Sync + 'static,
{
    let ns = fresh_namespace();
    let browser = BrowserId::generate();
    let view = View::new("v");
    let nodes = [
        c.node(&ns, SessionOptions::default()),
        c.node(&ns, SessionOptions::default()),
    ];
    let mut tasks = tokio::task::JoinSet::new();
    for (n, node) in nodes.iter().enumerate() {
        for i in 0..writes {
            let handle = node.sessions.session(&browser, None).view(&view);
            let (key, value) = write(n, i);
            tasks.spawn(async move { handle.put(&key, &value).await });
        }
    }
    for result in tasks.join_all().await {
        result.expect("no write may fail or be dropped");
    }
    (nodes, browser, view)
}

pub async fn two_nodes_writing_different_keys_both_survive(c: &Cluster<'_>) {
    const WRITES: usize = 20;
    let (nodes, browser, view) =
        two_nodes_write(c, WRITES, |n, i| (format!("node{n}-{i}"), i)).await;
    let state = nodes[0]
        .sessions
        .session(&browser, None)
        .view(&view)
        .load()
        .await
        .unwrap();
    for n in 0..2 {
        for i in 0..WRITES {
            assert_eq!(
                state.get_or(&format!("node{n}-{i}"), usize::MAX).unwrap(),
                i,
                "node{n}-{i} lost"
            );
        }
    }
    assert_eq!(state.keys().count(), 2 * WRITES);
}

pub async fn two_nodes_writing_one_key_end_at_a_written_value(c: &Cluster<'_>) {
    const WRITES: usize = 10;
    let (nodes, browser, view) =
        two_nodes_write(c, WRITES, |n, i| ("same".to_owned(), format!("{n}/{i}"))).await;
    for node in &nodes {
        let value: String = node
            .sessions
            .session(&browser, None)
            .view(&view)
            .get_or("same", String::new())
            .await
            .unwrap();
        let (n, i) = value.split_once('/').expect("a written value");
        assert!(
            n.parse::<usize>().unwrap() < 2 && i.parse::<usize>().unwrap() < WRITES,
            "{value}"
        );
    }
}

pub async fn a_stale_etag_never_wins_even_with_identical_contents(c: &Cluster<'_>) {
    let ns = fresh_namespace();
    let store = c.store(&ns);
    let n = c.node_over(&ns, store.clone(), SessionOptions::default());
    let browser = BrowserId::generate();
    let session = n.sessions.session(&browser, None);
    let view = session.view(&View::new("v"));
    view.put("k", &1).await.unwrap();
    let stale = store.get(&session.key()).await.unwrap().unwrap();
    view.delete("k").await.unwrap();
    view.put("k", &1).await.unwrap();
    // Same logical contents as when `stale` was read, yet a writer holding its
    // etag must lose: the revision counter makes the bytes differ.
    let outcome = store
        .put(
            &session.key(),
            stale.body.clone(),
            PutCondition::Matches(&stale.etag),
        )
        .await
        .unwrap();
    assert_eq!(outcome, PutOutcome::Conflict);
    n.supervisor.shutdown().await;
}

pub async fn a_new_vsn_replaces_the_slice_through_the_migration(c: &Cluster<'_>) {
    let ns = fresh_namespace();
    let n = c.node(&ns, SessionOptions::default());
    let browser = BrowserId::generate();
    let session = n.sessions.session(&browser, None);
    let v1 = View::new("prefs");
    session.view(&v1).put("dark", &true).await.unwrap();
    session.view(&v1).put("junk", &1).await.unwrap();
    let v2 = View::new("prefs").vsn(2).migrate(|_, data| {
        let dark = data.get("dark").and_then(|v| v.as_bool()).unwrap_or(false);
        let mut out = serde_json::Map::new();
        out.insert("theme".into(), json!(if dark { "dark" } else { "light" }));
        out
    });
    // Reading migrates on the fly; writing persists the migrated slice plus the write.
    assert_eq!(
        session
            .view(&v2)
            .get_or("theme", String::new())
            .await
            .unwrap(),
        "dark"
    );
    session.view(&v2).put("font", &"serif").await.unwrap();
    let doc = session.load().await.unwrap().unwrap();
    assert_eq!(doc.views["prefs"].vsn, 2);
    assert_eq!(
        json!(doc.views["prefs"].data),
        json!({"theme": "dark", "font": "serif"})
    );
    // A view with yet another vsn and no migration starts empty: shapes never mix.
    let v3 = View::new("prefs").vsn(3);
    assert_eq!(session.view(&v3).load().await.unwrap().keys().count(), 0);
    session.view(&v3).put("x", &1).await.unwrap();
    assert_eq!(
        json!(session.load().await.unwrap().unwrap().views["prefs"].data),
        json!({"x": 1})
    );
    n.supervisor.shutdown().await;
}

pub async fn reconnect_values_follow_their_page(c: &Cluster<'_>) {
    let ns = fresh_namespace();
    let view = View::new("form").reconnect(&["draft"]);
    let (browser, tab) = (BrowserId::generate(), PageId::generate());
    let first = c.node(&ns, SessionOptions::default());
    let err = first
        .sessions
        .session(&browser, None)
        .view(&view)
        .put("draft", "x")
        .await
        .unwrap_err();
    assert!(matches!(err, Error::PageIdRequired { .. }), "{err:?}");
    let here = first.sessions.session(&browser, Some(tab)).view(&view);
    here.put("draft", "Dear Sir,").await.unwrap();
    here.put("theme", "dark").await.unwrap();
    drop(first);

    // After a restart, the same page recovers its draft; another page does not.
    let second = c.node(&ns, SessionOptions::default());
    let here = second.sessions.session(&browser, Some(tab)).view(&view);
    assert_eq!(
        here.get_or("draft", String::new()).await.unwrap(),
        "Dear Sir,"
    );
    let other = second
        .sessions
        .session(&browser, Some(PageId::generate()))
        .view(&view);
    let state = other.load().await.unwrap();
    assert_eq!(state.get_or("draft", String::new()).unwrap(), "");
    assert_eq!(state.get_or("theme", String::new()).unwrap(), "dark");

    // A fresh load of the view clears the drafts, and only them.
    let fresh = second
        .sessions
        .session(&browser, Some(PageId::generate()))
        .view(&view);
    let state = fresh.fresh_load().await.unwrap();
    assert_eq!(state.get_or("theme", String::new()).unwrap(), "dark");
    assert_eq!(here.get_or("draft", String::new()).await.unwrap(), "");
    assert_eq!(here.get_or("theme", String::new()).await.unwrap(), "dark");
    second.supervisor.shutdown().await;
}

/// The view and keys of the update cases: seats counted down, and a
/// `Reconnect` list of seats this tab holds.
static BOOKING: View = View::new("booking").reconnect(&[HELD.name()]);
const SEATS: Key<u32> = Key::new("seats", || 2);
const HELD: Key<Vec<String>> = Key::or_default("held");

pub async fn a_declined_update_writes_nothing_and_an_accepted_one_writes_once(c: &Cluster<'_>) {
    let ns = fresh_namespace();
    let store = c.store(&ns);
    let counting = Arc::new(CountingStore::new(store.clone(), Duration::ZERO));
    let n = c.node_over(&ns, counting.clone(), SessionOptions::default());
    let browser = BrowserId::generate();
    let session = n.sessions.session(&browser, None);
    let view = session.view(&BOOKING);
    let take = |seats: u32| seats.checked_sub(1).ok_or("sold out");

    // Declined before the session has a document: none is created.
    let declined = view
        .try_update(&SEATS, |_| Err::<u32, _>("closed"))
        .await
        .unwrap();
    assert_eq!(declined, Err("closed"));
    assert_eq!(counting.puts(), 0, "a declined update wrote");
    assert_eq!(store.get(&session.key()).await.unwrap(), None);

    // Accepted: one write each, the value `f` produced returned.
    assert_eq!(view.try_update(&SEATS, take).await.unwrap(), Ok(1));
    assert_eq!(counting.puts(), 1, "an accepted update is one write");
    assert_eq!(view.try_update(&SEATS, take).await.unwrap(), Ok(0));
    assert_eq!(counting.puts(), 2, "an accepted update is one write");
    let before = store.get(&session.key()).await.unwrap().expect("stored");

    // Declined on a stored value: the document is untouched.
    assert_eq!(
        view.try_update(&SEATS, take).await.unwrap(),
        Err("sold out")
    );
    assert_eq!(counting.puts(), 2, "a declined update wrote");
    let after = store.get(&session.key()).await.unwrap().expect("stored");
    assert_eq!((after.body, after.etag), (before.body, before.etag));
    assert_eq!(view.get(&SEATS).await.unwrap(), 0);

    // What was acknowledged is what another node reads.
    let other = c.node(&ns, SessionOptions::default());
    let elsewhere = other.sessions.session(&browser, None).view(&BOOKING);
    assert_eq!(elsewhere.get(&SEATS).await.unwrap(), 0);
    assert_eq!(
        elsewhere.update(&SEATS, |seats| seats + 5).await.unwrap(),
        5
    );
    assert_eq!(view.get(&SEATS).await.unwrap(), 5);

    // A `Reconnect` key is updated from what its own page may recover.
    let err = view
        .update(&HELD, |held| held)
        .await
        .expect_err("a Reconnect key without a page id");
    assert!(matches!(err, Error::PageIdRequired { .. }), "{err:?}");
    let hold = |seat: &'static str| {
        move |mut held: Vec<String>| {
            held.push(seat.to_owned());
            held
        }
    };
    let tab = n.sessions.session(&browser, Some(PageId::generate()));
    assert_eq!(
        tab.view(&BOOKING).update(&HELD, hold("1A")).await.unwrap(),
        ["1A"]
    );
    assert_eq!(
        tab.view(&BOOKING).update(&HELD, hold("1B")).await.unwrap(),
        ["1A", "1B"]
    );
    let other_tab = n.sessions.session(&browser, Some(PageId::generate()));
    assert_eq!(
        other_tab
            .view(&BOOKING)
            .update(&HELD, hold("2C"))
            .await
            .unwrap(),
        ["2C"],
        "another tab's draft was visible"
    );
    n.supervisor.shutdown().await;
    other.supervisor.shutdown().await;
}

pub async fn concurrent_updates_on_two_nodes_lose_nothing(c: &Cluster<'_>) {
    // Few enough per node that an update loses its compare-and-swap (once per
    // commit of the other node) fewer times than `max_attempts` allows.
    const PER_NODE: u32 = 4;
    const COUNT: Key<u32> = Key::or_default("count");
    let ns = fresh_namespace();
    let browser = BrowserId::generate();
    let nodes = [
        c.node(&ns, SessionOptions::default()),
        c.node(&ns, SessionOptions::default()),
    ];
    let mut tasks = tokio::task::JoinSet::new();
    for node in &nodes {
        for _ in 0..PER_NODE {
            let handle = node.sessions.session(&browser, None).view(&BOOKING);
            tasks.spawn(async move { handle.update(&COUNT, |n| n + 1).await });
        }
    }
    let mut seen: Vec<u32> = tasks
        .join_all()
        .await
        .into_iter()
        .map(|result| result.expect("no update may fail"))
        .collect();
    seen.sort_unstable();
    // Each update started from the one stored before it.
    assert_eq!(seen, (1..=2 * PER_NODE).collect::<Vec<_>>());
    for node in &nodes {
        let view = node.sessions.session(&browser, None).view(&BOOKING);
        assert_eq!(view.get(&COUNT).await.unwrap(), 2 * PER_NODE);
    }
    for node in nodes {
        node.supervisor.shutdown().await;
    }
}

pub async fn limits_fail_only_the_offending_write(c: &Cluster<'_>) {
    let options =
        SessionOptions::default().limits(Limits::default().max_keys(3).max_value_bytes(64));
    let n = c.node(&fresh_namespace(), options);
    let view = n
        .sessions
        .session(&BrowserId::generate(), None)
        .view(&View::new("v"));
    let err = view.put("big", &"x".repeat(100)).await.unwrap_err();
    assert!(matches!(err, Error::ValueTooLarge { .. }), "{err:?}");
    let err = view.put("", &1).await.unwrap_err();
    assert!(matches!(err, Error::InvalidKey { .. }), "{err:?}");
    // Four concurrent writes of new keys (likely one batch): three fit, one fails.
    let mut tasks = tokio::task::JoinSet::new();
    for key in ["a", "b", "c", "d"] {
        let view = view.clone();
        tasks.spawn(async move { view.put(key, &1).await });
    }
    let results = tasks.join_all().await;
    assert_eq!(
        results.iter().filter(|r| r.is_ok()).count(),
        3,
        "{results:?}"
    );
    assert!(
        results
            .iter()
            .any(|r| matches!(r, Err(Error::TooManyKeys { limit: 3, .. })))
    );
    assert_eq!(view.load().await.unwrap().keys().count(), 3);
    n.supervisor.shutdown().await;
}

pub async fn a_burst_is_group_committed(c: &Cluster<'_>) {
    const BURST: usize = 32;
    let ns = fresh_namespace();
    let counting = Arc::new(CountingStore::new(c.store(&ns), Duration::from_millis(20)));
    let n = c.node_over(&ns, counting.clone(), SessionOptions::default());
    let view = n
        .sessions
        .session(&BrowserId::generate(), None)
        .view(&View::new("v"));
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..BURST {
        let view = view.clone();
        tasks.spawn(async move { view.put(&format!("k{i}"), &i).await });
    }
    for result in tasks.join_all().await {
        result.unwrap();
    }
    assert_eq!(view.load().await.unwrap().keys().count(), BURST);
    assert!(
        counting.puts() <= 4,
        "{} PUTs for a burst of {BURST}",
        counting.puts()
    );
    n.supervisor.shutdown().await;
}

pub async fn shutdown_drains_and_later_writes_still_commit(c: &Cluster<'_>) {
    let ns = fresh_namespace();
    let n = c.node(&ns, SessionOptions::default());
    let browser = BrowserId::generate();
    let view = View::new("v");
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..16 {
        let handle = n.sessions.session(&browser, None).view(&view);
        tasks.spawn(async move { (i, handle.put(&format!("k{i}"), &i).await) });
    }
    tokio::task::yield_now().await;
    n.supervisor.shutdown().await;
    assert_eq!(
        n.sessions.stats().active_writers,
        0,
        "shutdown left writers running"
    );
    // Requests still in flight while a server drains must not lose their
    // writes: they commit from the caller's task, with the same CAS.
    n.sessions
        .session(&browser, None)
        .view(&view)
        .put("late", &99)
        .await
        .unwrap();
    assert_eq!(
        n.sessions.stats().active_writers,
        0,
        "a writer started after shutdown"
    );
    let results = tasks.join_all().await;
    let state = c
        .node(&ns, SessionOptions::default())
        .sessions
        .session(&browser, None)
        .view(&view)
        .load()
        .await
        .unwrap();
    for (i, result) in results {
        result.expect("a write racing shutdown failed");
        assert_eq!(
            state.get_or(&format!("k{i}"), usize::MAX).unwrap(),
            i,
            "k{i} lost"
        );
    }
    assert_eq!(state.get_or("late", 0).unwrap(), 99);
}

/// A truncated document (a full disk, a bad copy) must not answer every
/// request of its browser with an error for ever: it is moved aside and the
/// session goes on from empty state, whether a read or a write finds it.
pub async fn an_unreadable_document_is_moved_aside_and_the_session_goes_on(c: &Cluster<'_>) {
    let ns = fresh_namespace();
    let store = c.store(&ns);
    let n = c.node_over(&ns, store.clone(), SessionOptions::default());
    let view = View::new("v");
    for found_by in ["read", "write"] {
        let browser = BrowserId::generate();
        let session = n.sessions.session(&browser, None);
        session.view(&view).put("old", &1).await.unwrap();
        let good = store.get(&session.key()).await.unwrap().unwrap();
        let truncated = good.body[..good.body.len() / 2].to_vec();
        let outcome = store
            .put(&session.key(), truncated, PutCondition::Matches(&good.etag))
            .await
            .unwrap();
        assert!(matches!(outcome, PutOutcome::Written(_)), "{outcome:?}");
        if found_by == "read" {
            // Found by a node that has not cached the good document (one
            // that has trusts its copy until its next write: the bytes
            // changed behind every node's back).
            let fresh = c.node(&ns, SessionOptions::default());
            let state = fresh
                .sessions
                .session(&browser, None)
                .view(&view)
                .load()
                .await;
            let state = state.unwrap_or_else(|err| panic!("{found_by}: {err:?}"));
            assert_eq!(state.get_or("old", 0).unwrap(), 0, "{found_by}");
        }
        session
            .view(&view)
            .put("new", &2)
            .await
            .unwrap_or_else(|err| panic!("{found_by}: {err:?}"));
        let state = session.view(&view).load().await.unwrap();
        assert_eq!(
            (
                state.get_or("old", 0).unwrap(),
                state.get_or("new", 0).unwrap()
            ),
            (0, 2),
            "{found_by}"
        );
        // What is stored now is a good document again.
        let stored = store.get(&session.key()).await.unwrap().unwrap();
        hyperstate::session::SessionDoc::decode(&stored.body).unwrap();
    }
    n.supervisor.shutdown().await;
}

pub async fn sweep_deletes_only_sessions_unseen_for_the_ttl(c: &Cluster<'_>) {
    let ttl = Duration::from_secs(30 * 24 * 3600);
    let ns = fresh_namespace();
    let store = c.store(&ns);
    let n = c.node_over(&ns, store.clone(), SessionOptions::default().ttl(ttl));
    let view = View::new("v");
    let session = n.sessions.session(&BrowserId::generate(), None);
    session.view(&view).put("k", &1).await.unwrap();
    let now = SystemTime::now();
    assert_eq!(n.sessions.sweep_at(now).await.unwrap(), 0);
    assert_eq!(
        n.sessions
            .sweep_at(now + ttl - Duration::from_secs(3600))
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        n.sessions
            .sweep_at(now + ttl + Duration::from_secs(3600))
            .await
            .unwrap(),
        1
    );
    assert_eq!(store.get(&session.key()).await.unwrap(), None);
    assert_eq!(session.view(&view).get_or("k", 0).await.unwrap(), 0);
    // The session can start again afterwards.
    session.view(&view).put("k", &2).await.unwrap();
    assert_eq!(session.view(&view).get_or("k", 0).await.unwrap(), 2);
    n.supervisor.shutdown().await;
}
