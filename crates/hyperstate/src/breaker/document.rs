//! A session document backend behind a circuit breaker.

use std::sync::Arc;

use async_trait::async_trait;

use super::{BreakerOptions, CircuitBreaker};
use crate::Result;
use crate::session::{Document, DocumentStore, Etag, Listed, PutCondition, PutOutcome, SessionKey};

/// A [`DocumentStore`] whose every call goes through a [`CircuitBreaker`]:
/// while the wrapped backend is down, calls fail at once with
/// [`Error::BackendUnavailable`](crate::Error::BackendUnavailable), and the
/// session writers answer their waiting writes with it. A
/// [`PutOutcome::Conflict`] is an answer, not a failure. It keeps the
/// wrapped backend's name.
#[derive(Debug)]
pub struct BreakerDocumentStore {
    inner: Arc<dyn DocumentStore>,
    breaker: Arc<CircuitBreaker>,
}

impl BreakerDocumentStore {
    /// Puts `inner` behind a new breaker (scope `"session"`).
    pub fn new(inner: Arc<dyn DocumentStore>, options: BreakerOptions) -> Self {
        let breaker = Arc::new(CircuitBreaker::new(
            "session",
            inner.backend_name(),
            options,
        ));
        BreakerDocumentStore { inner, breaker }
    }

    /// The breaker, for health reports.
    pub fn breaker(&self) -> &Arc<CircuitBreaker> {
        &self.breaker
    }
}

#[async_trait]
impl DocumentStore for BreakerDocumentStore {
    fn backend_name(&self) -> &'static str {
        self.inner.backend_name()
    }

    async fn get(&self, key: &SessionKey) -> Result<Option<Document>> {
        self.breaker.call(self.inner.get(key)).await
    }

    async fn put(
        &self,
        key: &SessionKey,
        body: Vec<u8>,
        condition: PutCondition<'_>,
    ) -> Result<PutOutcome> {
        self.breaker
            .call(self.inner.put(key, body, condition))
            .await
    }

    async fn delete(&self, key: &SessionKey, etag: Option<&Etag>) -> Result<bool> {
        self.breaker.call(self.inner.delete(key, etag)).await
    }

    async fn list(&self) -> Result<Vec<Listed>> {
        self.breaker.call(self.inner.list()).await
    }

    async fn quarantine(&self, key: &SessionKey, document: &Document) -> Result<String> {
        self.breaker
            .call(self.inner.quarantine(key, document))
            .await
    }

    // The backend's own probe (the file store's is cheaper than a put and a
    // delete), through the breaker like any call.
    async fn check_writable(&self) -> Result<()> {
        self.breaker.call(self.inner.check_writable()).await
    }
}
