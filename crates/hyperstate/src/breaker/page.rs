//! A page backend behind a circuit breaker.

use std::sync::Arc;

use async_trait::async_trait;

use super::{BreakerOptions, CircuitBreaker};
use crate::Result;
use crate::page::{PageKey, PageOptions, PageStore, UpdateFn};

/// A [`PageStore`] whose every call, [`check_health`](PageStore::check_health)
/// included, goes through a [`CircuitBreaker`]: while the wrapped backend is
/// down, calls fail at once with
/// [`Error::BackendUnavailable`](crate::Error::BackendUnavailable).
/// It keeps the wrapped backend's name and options.
#[derive(Debug)]
pub struct BreakerPageStore {
    inner: Arc<dyn PageStore>,
    breaker: Arc<CircuitBreaker>,
}

impl BreakerPageStore {
    /// Puts `inner` behind a new breaker (scope `"page"`).
    pub fn new(inner: Arc<dyn PageStore>, options: BreakerOptions) -> Self {
        let breaker = Arc::new(CircuitBreaker::new("page", inner.backend_name(), options));
        BreakerPageStore { inner, breaker }
    }

    /// The breaker, for health reports.
    pub fn breaker(&self) -> &Arc<CircuitBreaker> {
        &self.breaker
    }
}

#[async_trait]
impl PageStore for BreakerPageStore {
    fn backend_name(&self) -> &'static str {
        self.inner.backend_name()
    }

    fn options(&self) -> &PageOptions {
        self.inner.options()
    }

    async fn touch(&self, page: &PageKey) -> Result<bool> {
        self.breaker.call(self.inner.touch(page)).await
    }

    async fn get(&self, page: &PageKey, key: &str) -> Result<Option<Vec<u8>>> {
        self.breaker.call(self.inner.get(page, key)).await
    }

    async fn put(&self, page: &PageKey, key: &str, value: Vec<u8>) -> Result<()> {
        self.breaker.call(self.inner.put(page, key, value)).await
    }

    async fn update(&self, page: &PageKey, key: &str, f: UpdateFn<'_>) -> Result<Vec<u8>> {
        self.breaker.call(self.inner.update(page, key, f)).await
    }

    async fn delete(&self, page: &PageKey, key: &str) -> Result<bool> {
        self.breaker.call(self.inner.delete(page, key)).await
    }

    async fn clear(&self, page: &PageKey) -> Result<()> {
        self.breaker.call(self.inner.clear(page)).await
    }

    async fn sweep(&self) -> Result<usize> {
        self.breaker.call(self.inner.sweep()).await
    }

    async fn check_health(&self) -> Result<()> {
        self.breaker.call(self.inner.check_health()).await
    }
}
