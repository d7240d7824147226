//! The backend trait for session documents.

use std::fmt;
use std::time::SystemTime;

use async_trait::async_trait;

use super::SessionKey;
use crate::Result;

/// An opaque version tag of a stored document, as the backend defines it (an S3
/// ETag, a content hash, a counter).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Etag(pub String);

impl fmt::Display for Etag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A stored document and its version tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    /// The stored bytes, exactly as put.
    pub body: Vec<u8>,
    /// The version tag to pass to [`PutCondition::Matches`].
    pub etag: Etag,
}

/// When a [`DocumentStore::put`] may write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PutCondition<'a> {
    /// Only if no document exists under the key (create-if-absent).
    Absent,
    /// Only if the stored document's etag is this one (if-match).
    Matches(&'a Etag),
}

/// What a [`DocumentStore::put`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub enum PutOutcome {
    /// The document was stored durably; this is its new etag.
    Written(Etag),
    /// The condition did not hold; nothing was written.
    Conflict,
}

/// One document found by [`DocumentStore::list`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    /// Its key.
    pub key: SessionKey,
    /// When it was last written, as the backend records it.
    pub modified: SystemTime,
}

/// Where session documents live: a key-to-bytes store with compare-and-swap.
///
/// Apps do not call it; [`Sessions`](super::Sessions) does, through one writer
/// task per active session. It is deliberately small (object_store-sized) so an
/// S3 bucket, a directory or a database can back it.
///
/// # Contract
///
/// - **Durability**: when [`put`](Self::put) returns
///   [`PutOutcome::Written`], the bytes survive a crash of this process (and,
///   for a local store, of the machine: data and directory are synced).
/// - **Atomicity**: readers see either the old or the new document, never a
///   mix or a torn write.
/// - **Compare-and-swap**: `put` writes only if its [`PutCondition`] holds *at
///   the moment of writing*, across every process and node sharing the storage;
///   of two racing puts with the same condition at most one succeeds.
///   Etags may be content hashes: callers that need "same bytes, new version"
///   to be distinguishable must make the bytes differ (sessions keep a
///   revision counter in the body).
/// - **Delete**: [`delete`](Self::delete) with an etag removes the document only
///   while it still has that etag. Backends without an atomic conditional delete
///   (S3 through object_store) check, then delete; the sweeper only deletes
///   sessions idle for the whole TTL, so that window is harmless.
/// - **Listing** reports every document written before the call started; it
///   may or may not report later changes.
/// - **Sharing**: clones of a backend handle address the same storage.
///
/// # Implementing a backend
///
/// ```
/// use std::collections::HashMap;
/// use std::sync::Mutex;
/// use std::time::SystemTime;
///
/// use async_trait::async_trait;
/// use hyperstate::Result;
/// use hyperstate::session::{Document, DocumentStore, Etag, Listed, PutCondition, PutOutcome, SessionKey};
///
/// /// Documents in a map; the etag is a counter. Unreadable ones are kept in a list.
/// #[derive(Debug, Default)]
/// struct MapStore(Mutex<(u64, HashMap<SessionKey, Document>)>, Mutex<Vec<Document>>);
///
/// #[async_trait]
/// impl DocumentStore for MapStore {
///     fn backend_name(&self) -> &'static str { "map" }
///
///     async fn get(&self, key: &SessionKey) -> Result<Option<Document>> {
///         Ok(self.0.lock().unwrap().1.get(key).cloned())
///     }
///
///     async fn put(&self, key: &SessionKey, body: Vec<u8>, cond: PutCondition<'_>) -> Result<PutOutcome> {
///         let mut guard = self.0.lock().unwrap();
///         let (counter, docs) = &mut *guard;
///         let current = docs.get(key).map(|doc| &doc.etag);
///         let holds = match cond {
///             PutCondition::Absent => current.is_none(),
///             PutCondition::Matches(etag) => current == Some(etag),
///         };
///         if !holds {
///             return Ok(PutOutcome::Conflict);
///         }
///         *counter += 1;
///         let etag = Etag(counter.to_string());
///         docs.insert(*key, Document { body, etag: etag.clone() });
///         Ok(PutOutcome::Written(etag))
///     }
///
///     async fn delete(&self, key: &SessionKey, etag: Option<&Etag>) -> Result<bool> {
///         let mut guard = self.0.lock().unwrap();
///         let docs = &mut guard.1;
///         match docs.get(key) {
///             Some(doc) if etag.is_none_or(|etag| *etag == doc.etag) => Ok(docs.remove(key).is_some()),
///             _ => Ok(false),
///         }
///     }
///
///     async fn list(&self) -> Result<Vec<Listed>> {
///         let now = SystemTime::now();
///         Ok(self.0.lock().unwrap().1.keys().map(|&key| Listed { key, modified: now }).collect())
///     }
///
///     async fn quarantine(&self, key: &SessionKey, document: &Document) -> Result<String> {
///         let mut kept = self.1.lock().unwrap();
///         kept.push(document.clone());
///         Ok(format!("quarantine #{} ({key})", kept.len() - 1))
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<()> {
/// let store: std::sync::Arc<dyn DocumentStore> = std::sync::Arc::new(MapStore::default());
/// let key = SessionKey::random();
/// let PutOutcome::Written(etag) = store.put(&key, b"{}".to_vec(), PutCondition::Absent).await? else {
///     unreachable!("the key is new")
/// };
/// assert_eq!(store.put(&key, b"{}".to_vec(), PutCondition::Absent).await?, PutOutcome::Conflict);
/// assert!(matches!(store.put(&key, b"[]".to_vec(), PutCondition::Matches(&etag)).await?, PutOutcome::Written(_)));
/// # Ok(()) }
/// ```
#[async_trait]
pub trait DocumentStore: fmt::Debug + Send + Sync + 'static {
    /// A short name for logs, metrics and errors (`"memory"`, `"fs"`, `"s3"`).
    fn backend_name(&self) -> &'static str;

    /// The document under `key`, if any.
    async fn get(&self, key: &SessionKey) -> Result<Option<Document>>;

    /// Stores `body` under `key` if `condition` holds (see the contract).
    async fn put(
        &self,
        key: &SessionKey,
        body: Vec<u8>,
        condition: PutCondition<'_>,
    ) -> Result<PutOutcome>;

    /// Removes the document under `key`, only while its etag is `etag` when one
    /// is given; returns whether a document was removed.
    async fn delete(&self, key: &SessionKey, etag: Option<&Etag>) -> Result<bool>;

    /// Every stored document, for the TTL sweeper.
    async fn list(&self) -> Result<Vec<Listed>>;

    /// Keeps a copy of `document`, found under `key` and unreadable (truncated,
    /// not JSON, a shape this version does not know), where an operator can
    /// inspect it; returns where (a path, an object location) for the log.
    ///
    /// The copy is durable when this returns, lives outside the keyspace (never
    /// reported by [`list`](Self::list), never swept) and is never deleted by
    /// hyperstate. The document under `key` is left as it is: the session scope
    /// then replaces it with a conditional [`put`](Self::put), which keeps the
    /// move atomic on every backend. Two callers racing to quarantine one
    /// document may each keep a copy.
    async fn quarantine(&self, key: &SessionKey, document: &Document) -> Result<String>;

    /// Succeeds only if a write can be made durable now: for health checks,
    /// which a read alone cannot answer (a full disk or a read-only mount still
    /// serves reads).
    ///
    /// The default creates a small document under a fresh random key (no
    /// session can have it) and deletes it again, through [`put`](Self::put) and
    /// [`delete`](Self::delete), so it takes the same path as a real write.
    /// Should the process die in between, the probe is a valid session document
    /// last seen at the epoch, which the sweeper removes. Callers rate-limit it
    /// (see [`Sessions::check_health`](super::Sessions::check_health)).
    async fn check_writable(&self) -> Result<()> {
        let key = SessionKey::random();
        let probe = br#"{"rev":0,"last_seen_at":0,"views":{}}"#.to_vec();
        match self.put(&key, probe, PutCondition::Absent).await? {
            PutOutcome::Written(etag) => {
                self.delete(&key, Some(&etag)).await?;
                Ok(())
            }
            // A fresh random key cannot exist: a store that says it does is not
            // taking writes as it should.
            PutOutcome::Conflict => Err(crate::Error::backend(
                self.backend_name(),
                "write probe",
                "a create-if-absent of a fresh key conflicted",
            )),
        }
    }
}
