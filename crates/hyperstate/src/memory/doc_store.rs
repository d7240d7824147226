//! Session documents in process memory, with real compare-and-swap.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::SystemTime;

use async_trait::async_trait;

use crate::Result;
use crate::session::{Document, DocumentStore, Etag, Listed, PutCondition, PutOutcome, SessionKey};

/// Session documents in memory: for tests and for development without a disk.
///
/// Compare-and-swap is real (etags are a per-store counter, so even identical
/// bodies get new etags), which makes it a faithful stand-in for S3 when testing
/// several nodes: give each node a clone. Nothing survives the process.
#[derive(Debug, Clone, Default)]
pub struct MemoryDocumentStore {
    inner: Arc<Mutex<State>>,
}

#[derive(Debug, Default)]
struct State {
    next_etag: u64,
    docs: HashMap<SessionKey, Stored>,
    /// Unreadable documents kept aside, in the order they were found.
    quarantined: Vec<(SessionKey, Document)>,
}

#[derive(Debug)]
struct Stored {
    doc: Document,
    modified: SystemTime,
}

impl MemoryDocumentStore {
    fn lock(&self) -> MutexGuard<'_, State> {
        // No code panics while holding the lock; the map is valid regardless.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// How many documents are stored.
    pub fn len(&self) -> usize {
        self.lock().docs.len()
    }

    /// True when no document is stored.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The unreadable documents kept aside by
    /// [`DocumentStore::quarantine`], oldest first.
    pub fn quarantined(&self) -> Vec<(SessionKey, Document)> {
        self.lock().quarantined.clone()
    }
}

#[async_trait]
impl DocumentStore for MemoryDocumentStore {
    fn backend_name(&self) -> &'static str {
        "memory"
    }

    async fn get(&self, key: &SessionKey) -> Result<Option<Document>> {
        Ok(self.lock().docs.get(key).map(|stored| stored.doc.clone()))
    }

    async fn put(
        &self,
        key: &SessionKey,
        body: Vec<u8>,
        condition: PutCondition<'_>,
    ) -> Result<PutOutcome> {
        let mut state = self.lock();
        let current = state.docs.get(key).map(|stored| &stored.doc.etag);
        let holds = match condition {
            PutCondition::Absent => current.is_none(),
            PutCondition::Matches(etag) => current == Some(etag),
        };
        if !holds {
            return Ok(PutOutcome::Conflict);
        }
        state.next_etag += 1;
        let etag = Etag(format!("m{}", state.next_etag));
        let doc = Document {
            body,
            etag: etag.clone(),
        };
        let modified = SystemTime::now();
        state.docs.insert(*key, Stored { doc, modified });
        Ok(PutOutcome::Written(etag))
    }

    async fn delete(&self, key: &SessionKey, etag: Option<&Etag>) -> Result<bool> {
        let mut state = self.lock();
        let matches = match (state.docs.get(key), etag) {
            (None, _) => false,
            (Some(_), None) => true,
            (Some(stored), Some(etag)) => stored.doc.etag == *etag,
        };
        Ok(matches && state.docs.remove(key).is_some())
    }

    async fn quarantine(&self, key: &SessionKey, document: &Document) -> Result<String> {
        let mut state = self.lock();
        state.quarantined.push((*key, document.clone()));
        Ok(format!(
            "memory quarantine #{}",
            state.quarantined.len() - 1
        ))
    }

    async fn list(&self) -> Result<Vec<Listed>> {
        Ok(self
            .lock()
            .docs
            .iter()
            .map(|(key, stored)| Listed {
                key: *key,
                modified: stored.modified,
            })
            .collect())
    }
}
