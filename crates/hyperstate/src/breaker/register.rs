//! A session revision register behind a circuit breaker.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use super::{BreakerOptions, CircuitBreaker};
use crate::Result;
use crate::session::{Revision, RevisionRegister, SessionKey};

/// The scope label of a register's breaker: its own, so that its metrics and
/// errors are not mistaken for the session store's.
pub const REGISTER_SCOPE: &str = "session-register";

/// A [`RevisionRegister`] whose every call goes through a [`CircuitBreaker`]:
/// while the register (Redis) is down, calls fail at once with
/// [`Error::BackendUnavailable`](crate::Error::BackendUnavailable) instead of
/// each waiting out its timeout. The session scope treats that as it treats
/// any register failure: reads go to the store (never to a cached copy), and a
/// write whose record failed is answered with a *maybe written* error. It
/// keeps the wrapped register's name.
#[derive(Debug)]
pub struct BreakerRevisionRegister {
    inner: Arc<dyn RevisionRegister>,
    breaker: Arc<CircuitBreaker>,
}

impl BreakerRevisionRegister {
    /// Puts `inner` behind a new breaker (scope [`REGISTER_SCOPE`]).
    pub fn new(inner: Arc<dyn RevisionRegister>, options: BreakerOptions) -> Self {
        let breaker = Arc::new(CircuitBreaker::new(
            REGISTER_SCOPE,
            inner.backend_name(),
            options,
        ));
        BreakerRevisionRegister { inner, breaker }
    }

    /// The breaker, for health reports.
    pub fn breaker(&self) -> &Arc<CircuitBreaker> {
        &self.breaker
    }
}

#[async_trait]
impl RevisionRegister for BreakerRevisionRegister {
    fn backend_name(&self) -> &'static str {
        self.inner.backend_name()
    }

    async fn latest(&self, key: &SessionKey) -> Result<Option<Revision>> {
        self.breaker.call(self.inner.latest(key)).await
    }

    async fn record(&self, key: &SessionKey, revision: &Revision) -> Result<()> {
        self.breaker.call(self.inner.record(key, revision)).await
    }

    async fn forget(&self, key: &SessionKey) -> Result<()> {
        self.breaker.call(self.inner.forget(key)).await
    }

    async fn lease(&self, task: &str, period: Duration) -> Result<bool> {
        self.breaker.call(self.inner.lease(task, period)).await
    }
}
