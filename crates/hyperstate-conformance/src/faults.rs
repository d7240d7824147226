//! A fault-injecting wrapper around a [`DocumentStore`], for tests of what the
//! session scope does when its backend misbehaves.
//!
//! The fault is switchable at run time ([`FaultyStore::set`]) so one test can
//! break the store, watch the app fail cleanly, clear the fault and watch the
//! same instance recover. Every PUT attempt is counted, faulty or not, so tests
//! can assert that retries are bounded.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use hyperstate::session::{
    Document, DocumentStore, Etag, Listed, PutCondition, PutOutcome, SessionKey,
};
use hyperstate::{Error, Result};

/// What the wrapped store does to each operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Fault {
    /// Pass everything through.
    #[default]
    None,
    /// Every operation fails at once with a backend error; nothing is written.
    Fail,
    /// Every operation waits this long, then passes through.
    Delay(Duration),
    /// Every operation waits this long, then fails as a client-side timeout
    /// would (nothing is written), like an S3 or Redis client giving up.
    Timeout(Duration),
    /// PUTs reach the inner store and land, then the caller sees an error (the
    /// reply was lost on the way back). Reads and deletes pass through.
    FailAfterWrite,
    /// Reads and listing pass through; every write (put, delete, quarantine)
    /// fails at once, as on a full disk or a read-only mount.
    ReadOnly,
}

/// Wraps a [`DocumentStore`] and injects the current [`Fault`].
#[derive(Debug)]
pub struct FaultyStore {
    inner: Arc<dyn DocumentStore>,
    fault: Mutex<Fault>,
    put_attempts: AtomicU64,
    puts_landed: AtomicU64,
}

/// The error every injected fault reports (the backend's own error).
#[derive(Debug)]
struct Injected(&'static str);

impl std::fmt::Display for Injected {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "injected fault: {}", self.0)
    }
}

impl std::error::Error for Injected {}

impl FaultyStore {
    /// Wraps `inner`, with no fault.
    pub fn new(inner: Arc<dyn DocumentStore>) -> Self {
        FaultyStore {
            inner,
            fault: Mutex::new(Fault::None),
            put_attempts: AtomicU64::new(0),
            puts_landed: AtomicU64::new(0),
        }
    }

    /// Injects `fault` into every operation from now on.
    pub fn set(&self, fault: Fault) {
        *self.fault.lock().unwrap_or_else(PoisonError::into_inner) = fault;
    }

    /// The fault in force.
    pub fn fault(&self) -> Fault {
        *self.fault.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// PUTs the session scope attempted so far, whatever came of them.
    pub fn put_attempts(&self) -> u64 {
        self.put_attempts.load(Ordering::SeqCst)
    }

    /// PUTs that reached the inner store and were written there (including
    /// those whose caller was then told they failed).
    pub fn puts_landed(&self) -> u64 {
        self.puts_landed.load(Ordering::SeqCst)
    }

    /// Applies the fault before an operation: `Err` when it must fail.
    async fn before(&self, operation: &'static str) -> Result<()> {
        match self.fault() {
            Fault::None | Fault::FailAfterWrite | Fault::ReadOnly => Ok(()),
            Fault::Fail => Err(self.error(operation, "unavailable")),
            Fault::Delay(delay) => {
                tokio::time::sleep(delay).await;
                Ok(())
            }
            Fault::Timeout(after) => {
                tokio::time::sleep(after).await;
                Err(self.error(operation, "timed out"))
            }
        }
    }

    /// [`Self::before`] for an operation that changes the store.
    async fn before_write(&self, operation: &'static str) -> Result<()> {
        if self.fault() == Fault::ReadOnly {
            return Err(self.error(operation, "read-only file system"));
        }
        self.before(operation).await
    }

    fn error(&self, operation: &'static str, what: &'static str) -> Error {
        Error::backend(self.inner.backend_name(), operation, Injected(what))
    }
}

#[async_trait]
impl DocumentStore for FaultyStore {
    fn backend_name(&self) -> &'static str {
        self.inner.backend_name()
    }

    async fn get(&self, key: &SessionKey) -> Result<Option<Document>> {
        self.before("get").await?;
        self.inner.get(key).await
    }

    async fn put(
        &self,
        key: &SessionKey,
        body: Vec<u8>,
        condition: PutCondition<'_>,
    ) -> Result<PutOutcome> {
        self.put_attempts.fetch_add(1, Ordering::SeqCst);
        self.before_write("put").await?;
        let outcome = self.inner.put(key, body, condition).await?;
        if matches!(outcome, PutOutcome::Written(_)) {
            self.puts_landed.fetch_add(1, Ordering::SeqCst);
            // Read the fault again: it may have been switched while the PUT ran.
            if self.fault() == Fault::FailAfterWrite {
                return Err(self.error("put", "reply lost after the write landed"));
            }
        }
        Ok(outcome)
    }

    async fn delete(&self, key: &SessionKey, etag: Option<&Etag>) -> Result<bool> {
        self.before_write("delete").await?;
        self.inner.delete(key, etag).await
    }

    async fn list(&self) -> Result<Vec<Listed>> {
        self.before("list").await?;
        self.inner.list().await
    }

    async fn quarantine(&self, key: &SessionKey, document: &Document) -> Result<String> {
        self.before_write("quarantine").await?;
        self.inner.quarantine(key, document).await
    }
}
