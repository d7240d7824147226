//! A wrapper store that counts requests, for group-commit and cache checks
//! and benchmarks.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use hyperstate::Result;
use hyperstate::session::{
    Document, DocumentStore, Etag, Listed, PutCondition, PutOutcome, SessionKey,
};

/// Wraps a [`DocumentStore`], counting requests by kind and optionally making
/// each PUT take at least `put_delay` (a stand-in for a store across a network).
#[derive(Debug)]
pub struct CountingStore {
    inner: Arc<dyn DocumentStore>,
    gets: AtomicU64,
    puts: AtomicU64,
    deletes: AtomicU64,
    lists: AtomicU64,
    put_delay: Duration,
}

impl CountingStore {
    /// Wraps `inner`.
    pub fn new(inner: Arc<dyn DocumentStore>, put_delay: Duration) -> Self {
        CountingStore {
            inner,
            gets: AtomicU64::new(0),
            puts: AtomicU64::new(0),
            deletes: AtomicU64::new(0),
            lists: AtomicU64::new(0),
            put_delay,
        }
    }

    /// GETs issued so far.
    pub fn gets(&self) -> u64 {
        self.gets.load(Ordering::SeqCst)
    }

    /// DELETEs issued so far.
    pub fn deletes(&self) -> u64 {
        self.deletes.load(Ordering::SeqCst)
    }

    /// LISTs issued so far.
    pub fn lists(&self) -> u64 {
        self.lists.load(Ordering::SeqCst)
    }

    /// Every request issued so far.
    pub fn requests(&self) -> u64 {
        self.gets() + self.puts() + self.deletes() + self.lists()
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
        self.gets.fetch_add(1, Ordering::SeqCst);
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
        self.deletes.fetch_add(1, Ordering::SeqCst);
        self.inner.delete(key, etag).await
    }
    async fn list(&self) -> Result<Vec<Listed>> {
        self.lists.fetch_add(1, Ordering::SeqCst);
        self.inner.list().await
    }
    async fn quarantine(&self, key: &SessionKey, document: &Document) -> Result<String> {
        self.inner.quarantine(key, document).await
    }
}
