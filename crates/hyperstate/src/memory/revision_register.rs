//! [`MemoryRevisionRegister`]: the shared revision register of several
//! session scopes in one process.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use async_trait::async_trait;

use crate::Result;
use crate::session::{Revision, RevisionRegister, SessionKey};

/// A [`RevisionRegister`] in process memory: for tests, and for several
/// [`Sessions`](crate::session::Sessions) of one process sharing one store.
/// Clones share the records. It keeps one small record per session ever
/// written, forgotten only by the sweeper: across processes, use Redis
/// (`hyperstate-redis`), whose records expire.
#[derive(Debug, Clone, Default)]
pub struct MemoryRevisionRegister {
    records: Arc<Mutex<HashMap<SessionKey, Revision>>>,
    /// Task name to the end of its lease.
    leases: Arc<Mutex<HashMap<String, Instant>>>,
}

impl MemoryRevisionRegister {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<SessionKey, Revision>> {
        // Nothing panics while holding this lock, and the map stays valid if it did.
        self.records.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[async_trait]
impl RevisionRegister for MemoryRevisionRegister {
    fn backend_name(&self) -> &'static str {
        "memory"
    }

    async fn latest(&self, key: &SessionKey) -> Result<Option<Revision>> {
        Ok(self.lock().get(key).cloned())
    }

    async fn record(&self, key: &SessionKey, revision: &Revision) -> Result<()> {
        let mut records = self.lock();
        match records.get(key) {
            Some(recorded) if recorded.rev > revision.rev => {}
            _ => {
                records.insert(*key, revision.clone());
            }
        }
        Ok(())
    }

    async fn forget(&self, key: &SessionKey) -> Result<()> {
        self.lock().remove(key);
        Ok(())
    }

    async fn lease(&self, task: &str, period: Duration) -> Result<bool> {
        let now = Instant::now();
        let mut leases = self.leases.lock().unwrap_or_else(PoisonError::into_inner);
        match leases.get(task) {
            Some(until) if *until > now => Ok(false),
            _ => {
                leases.insert(task.to_owned(), now + period);
                Ok(true)
            }
        }
    }
}
