//! Cases for [`DocumentStore`] backends: the raw store contract.
//!
//! Each case gets a factory `Fn(&str) -> Arc<dyn DocumentStore>`: calls with the
//! same namespace must address the same storage (two handles are two nodes),
//! different namespaces must not see each other (cases run in parallel against
//! one bucket or directory).

use std::collections::HashSet;
use std::sync::Arc;

use hyperstate::session::{DocumentStore, Etag, PutCondition, PutOutcome, SessionKey};

/// Builds a handle on the backend under test, in namespace `ns`.
pub trait Factory: Fn(&str) -> Arc<dyn DocumentStore> + Send + Sync {}
impl<F: Fn(&str) -> Arc<dyn DocumentStore> + Send + Sync> Factory for F {}

/// A namespace no other case uses.
pub fn fresh_namespace() -> String {
    SessionKey::random().to_string()[..16].to_owned()
}

fn written(outcome: PutOutcome) -> Etag {
    match outcome {
        PutOutcome::Written(etag) => etag,
        PutOutcome::Conflict => panic!("expected the put to be written, it conflicted"),
    }
}

pub async fn missing_documents_are_none(make: &dyn Factory) {
    let store = make(&fresh_namespace());
    assert_eq!(store.get(&SessionKey::random()).await.unwrap(), None);
    assert!(!store.delete(&SessionKey::random(), None).await.unwrap());
}

pub async fn create_if_absent_succeeds_once(make: &dyn Factory) {
    let store = make(&fresh_namespace());
    let key = SessionKey::random();
    let etag = written(
        store
            .put(&key, b"one".to_vec(), PutCondition::Absent)
            .await
            .unwrap(),
    );
    let again = store
        .put(&key, b"two".to_vec(), PutCondition::Absent)
        .await
        .unwrap();
    assert_eq!(again, PutOutcome::Conflict);
    let doc = store.get(&key).await.unwrap().expect("document stored");
    assert_eq!(doc.body, b"one");
    assert_eq!(doc.etag, etag, "get reports the etag put returned");
}

pub async fn update_needs_the_current_etag(make: &dyn Factory) {
    let store = make(&fresh_namespace());
    let key = SessionKey::random();
    let first = written(
        store
            .put(&key, b"v1".to_vec(), PutCondition::Absent)
            .await
            .unwrap(),
    );
    let second = written(
        store
            .put(&key, b"v2".to_vec(), PutCondition::Matches(&first))
            .await
            .unwrap(),
    );
    assert_ne!(first, second);
    // The stale etag loses, and changes nothing.
    let stale = store
        .put(&key, b"v3".to_vec(), PutCondition::Matches(&first))
        .await
        .unwrap();
    assert_eq!(stale, PutOutcome::Conflict);
    assert_eq!(store.get(&key).await.unwrap().unwrap().body, b"v2");
    // If-match on a missing document is a conflict, not a create.
    let missing = store
        .put(
            &SessionKey::random(),
            b"x".to_vec(),
            PutCondition::Matches(&second),
        )
        .await
        .unwrap();
    assert_eq!(missing, PutOutcome::Conflict);
}

pub async fn racing_puts_have_one_winner(make: &dyn Factory) {
    let ns = fresh_namespace();
    let key = SessionKey::random();
    // Each racer uses its own handle, as separate nodes would.
    race_once(&key, None, "create-if-absent", || make(&ns)).await;
    let current = make(&ns).get(&key).await.unwrap().unwrap().etag;
    race_once(&key, Some(current), "if-match", || make(&ns)).await;
    // And racers sharing one handle, as the tasks of one node do.
    let shared = make(&ns);
    let current = shared.get(&key).await.unwrap().unwrap().etag;
    race_once(&key, Some(current), "if-match, one handle", || {
        shared.clone()
    })
    .await;
}

/// Races eight conditional puts of `key` (create-if-absent without an etag,
/// if-match with one), each on the handle `store` gives it, and asserts that
/// exactly one is written.
async fn race_once(
    key: &SessionKey,
    expected: Option<Etag>,
    label: &str,
    store: impl Fn() -> Arc<dyn DocumentStore>,
) {
    const RACERS: usize = 8;
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..RACERS {
        let (store, key, expected, label) = (store(), *key, expected.clone(), label.to_owned());
        tasks.spawn(async move {
            let condition = match &expected {
                Some(etag) => PutCondition::Matches(etag),
                None => PutCondition::Absent,
            };
            // Bodies differ from every earlier round's: a store whose etag
            // hashes the contents would otherwise see an old etag come back.
            store
                .put(&key, format!("{label} {i}").into_bytes(), condition)
                .await
        });
    }
    let outcomes = tasks.join_all().await;
    let wins = outcomes
        .iter()
        .filter(|o| matches!(o, Ok(PutOutcome::Written(_))))
        .count();
    assert_eq!(wins, 1, "{label}: {outcomes:?}");
}

pub async fn delete_honours_the_etag(make: &dyn Factory) {
    let store = make(&fresh_namespace());
    let key = SessionKey::random();
    let first = written(
        store
            .put(&key, b"v1".to_vec(), PutCondition::Absent)
            .await
            .unwrap(),
    );
    let second = written(
        store
            .put(&key, b"v2".to_vec(), PutCondition::Matches(&first))
            .await
            .unwrap(),
    );
    assert!(
        !store.delete(&key, Some(&first)).await.unwrap(),
        "stale etag deleted"
    );
    assert!(store.get(&key).await.unwrap().is_some());
    assert!(store.delete(&key, Some(&second)).await.unwrap());
    assert_eq!(store.get(&key).await.unwrap(), None);
    // After a delete the key can be created again.
    written(
        store
            .put(&key, b"v3".to_vec(), PutCondition::Absent)
            .await
            .unwrap(),
    );
    assert!(store.delete(&key, None).await.unwrap());
}

pub async fn list_reports_every_document(make: &dyn Factory) {
    let ns = fresh_namespace();
    let store = make(&ns);
    let keys: HashSet<SessionKey> = (0..5).map(|_| SessionKey::random()).collect();
    for key in &keys {
        written(
            store
                .put(key, b"{}".to_vec(), PutCondition::Absent)
                .await
                .unwrap(),
        );
    }
    let listed: HashSet<SessionKey> = store
        .list()
        .await
        .unwrap()
        .into_iter()
        .map(|l| l.key)
        .collect();
    assert_eq!(listed, keys);
    // Namespaces are isolated.
    assert!(make(&fresh_namespace()).list().await.unwrap().is_empty());
}

pub async fn handles_share_storage(make: &dyn Factory) {
    let ns = fresh_namespace();
    let (a, b) = (make(&ns), make(&ns));
    let key = SessionKey::random();
    let etag = written(
        a.put(&key, b"from a".to_vec(), PutCondition::Absent)
            .await
            .unwrap(),
    );
    let seen = b.get(&key).await.unwrap().expect("b sees a's write");
    assert_eq!((seen.body.as_slice(), &seen.etag), (&b"from a"[..], &etag));
    written(
        b.put(&key, b"from b".to_vec(), PutCondition::Matches(&etag))
            .await
            .unwrap(),
    );
    assert_eq!(
        a.put(&key, b"stale".to_vec(), PutCondition::Matches(&etag))
            .await
            .unwrap(),
        PutOutcome::Conflict
    );
}

pub async fn quarantine_keeps_a_copy_outside_the_keyspace(make: &dyn Factory) {
    let store = make(&fresh_namespace());
    let key = SessionKey::random();
    let etag = written(
        store
            .put(&key, b"{\"rev\":".to_vec(), PutCondition::Absent)
            .await
            .unwrap(),
    );
    let document = store.get(&key).await.unwrap().expect("document stored");
    let first = store.quarantine(&key, &document).await.unwrap();
    let second = store.quarantine(&key, &document).await.unwrap();
    assert!(!first.is_empty(), "quarantine names where the copy is");
    assert_ne!(first, second, "a second copy must not overwrite the first");
    // The document itself is untouched (the caller replaces it by CAS) ...
    let after = store
        .get(&key)
        .await
        .unwrap()
        .expect("document still there");
    assert_eq!(
        (after.body.as_slice(), &after.etag),
        (&b"{\"rev\":"[..], &etag)
    );
    // ... and the copies are no sessions: listing and sweeping never see them.
    let listed: Vec<SessionKey> = store
        .list()
        .await
        .unwrap()
        .into_iter()
        .map(|l| l.key)
        .collect();
    assert_eq!(listed, vec![key]);
}

pub async fn the_write_probe_leaves_nothing_behind(make: &dyn Factory) {
    let store = make(&fresh_namespace());
    store.check_writable().await.unwrap();
    store.check_writable().await.unwrap();
    assert!(
        store.list().await.unwrap().is_empty(),
        "a probe document was left"
    );
}

/// Expands every document-store and session case into a `#[tokio::test]`.
///
/// `$make` is an expression of a type implementing [`Factory`]. With
/// `ready = $ready`, each test first calls `$ready()` and returns early (a loud
/// skip) when it is false; `$ready` decides whether a missing server is a skip
/// or a failure.
#[macro_export]
macro_rules! document_store_suite {
    ($make:expr) => {
        $crate::document_store_suite!($make, ready = (|| true));
    };
    ($make:expr, ready = $ready:expr) => {
        $crate::document_store_suite!(@cases $make, $ready;
            doc_store: missing_documents_are_none, create_if_absent_succeeds_once,
            update_needs_the_current_etag, racing_puts_have_one_winner, delete_honours_the_etag,
            list_reports_every_document, handles_share_storage,
            quarantine_keeps_a_copy_outside_the_keyspace, the_write_probe_leaves_nothing_behind;
            session: values_round_trip_and_browsers_are_isolated, acknowledged_writes_survive_a_restart,
            two_nodes_writing_different_keys_both_survive,
            two_nodes_writing_one_key_end_at_a_written_value,
            a_stale_etag_never_wins_even_with_identical_contents,
            a_new_vsn_replaces_the_slice_through_the_migration, reconnect_values_follow_their_page,
            limits_fail_only_the_offending_write, a_burst_is_group_committed,
            a_declined_update_writes_nothing_and_an_accepted_one_writes_once,
            concurrent_updates_on_two_nodes_lose_nothing,
            shutdown_drains_and_later_writes_still_commit, sweep_deletes_only_sessions_unseen_for_the_ttl,
            an_unreadable_document_is_moved_aside_and_the_session_goes_on);
    };
    (@cases $make:expr, $ready:expr; doc_store: $($store_case:ident),*; session: $($session_case:ident),*) => {
        $(
            #[$crate::tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $store_case() {
                if !($ready)() { return; }
                $crate::doc_store::$store_case(&$make).await;
            }
        )*
        $(
            #[$crate::tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $session_case() {
                if !($ready)() { return; }
                $crate::session::$session_case(&$crate::session::Cluster::uncached(&$make)).await;
            }
        )*
        /// The session cases again, on nodes that cache documents, coherent
        /// through a shared revision register.
        mod cached {
            #[allow(unused_imports)]
            use super::*;
            $(
                #[$crate::tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $session_case() {
                    if !($ready)() { return; }
                    let registers = $crate::session::memory_registers();
                    $crate::session::$session_case(&$crate::session::Cluster::cached(&$make, &registers)).await;
                }
            )*
        }
    };
}
