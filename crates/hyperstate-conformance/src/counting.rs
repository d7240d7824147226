//! A wrapper store that counts PUTs, for group-commit checks and benchmarks.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use hyperstate::Result;
use hyperstate::session::{
    Document, DocumentStore, Etag, Listed, PutCondition, PutOutcome, SessionKey,
};

/// Wraps a [`DocumentStore`], counting PUTs and optionally making each one take
/// at least `put_delay` (a stand-in for a store across a network).
#[derive(Debug)]
pub struct CountingStore {
    inner: Arc<dyn DocumentStore>,
    puts: AtomicU64,
    put_delay: Duration,
}

impl CountingStore {
    /// Wraps `inner`.
    pub fn new(inner: Arc<dyn DocumentStore>, put_delay: Duration) -> Self {
        CountingStore {
            inner,
            puts: AtomicU64::new(0),
            put_delay,
        }
    }

    /// PUTs issued so far (successful or not).
    pub fn puts(&self) -> u64 {
        self.puts.load(Ordering::SeqCst)
    }
}

#[async_trait]
impl DocumentStore for CountingStore {
    fn backend_name(&self) -> &'static str {
        self.inner.backend_name()
    }
    async fn get(&self, key: &SessionKey) -> Result<Option<Document>> {
        self.inner.get(key).await
    }
    async fn put(
        &self,
        key: &SessionKey,
        body: Vec<u8>,
        condition: PutCondition<'_>,
    ) -> Result<PutOutcome> {
        self.puts.fetch_add(1, Ordering::SeqCst);
        if !self.put_delay.is_zero() {
            tokio::time::sleep(self.put_delay).await;
        }
        self.inner.put(key, body, condition).await
    }
    async fn delete(&self, key: &SessionKey, etag: Option<&Etag>) -> Result<bool> {
        self.inner.delete(key, etag).await
    }
    async fn list(&self) -> Result<Vec<Listed>> {
        self.inner.list().await
    }
    async fn quarantine(&self, key: &SessionKey, document: &Document) -> Result<String> {
        self.inner.quarantine(key, document).await
    }
}
