//! A room backend behind a circuit breaker.

use std::sync::Arc;

use async_trait::async_trait;

use super::{BreakerOptions, CircuitBreaker};
use crate::Result;
use crate::page::UpdateFn;
use crate::room::{
    Access, Attachment, Call, Diff, Json, RoomKey, RoomOptions, RoomStore, Snapshot, Write,
};

/// A [`RoomStore`] whose every call, [`check_health`](RoomStore::check_health)
/// included, goes through a [`CircuitBreaker`]: while the wrapped backend is
/// down, calls fail at once with
/// [`Error::BackendUnavailable`](crate::Error::BackendUnavailable).
///
/// Only the calls are guarded. An [`Attachment`] handed out by
/// [`attach`](RoomStore::attach) is the wrapped backend's own, untouched: an
/// open breaker never ends a stream that is already attached (it keeps
/// receiving whatever the backend still delivers), it only fails the calls a
/// stream makes, such as the snapshot of a resync.
#[derive(Debug)]
pub struct BreakerRoomStore {
    inner: Arc<dyn RoomStore>,
    breaker: Arc<CircuitBreaker>,
}

impl BreakerRoomStore {
    /// Puts `inner` behind a new breaker (scope `"room"`).
    pub fn new(inner: Arc<dyn RoomStore>, options: BreakerOptions) -> Self {
        let breaker = Arc::new(CircuitBreaker::new("room", inner.backend_name(), options));
        BreakerRoomStore { inner, breaker }
    }

    /// The breaker, for health reports.
    pub fn breaker(&self) -> &Arc<CircuitBreaker> {
        &self.breaker
    }
}

#[async_trait]
impl RoomStore for BreakerRoomStore {
    fn backend_name(&self) -> &'static str {
        self.inner.backend_name()
    }

    fn options(&self) -> &RoomOptions {
        self.inner.options()
    }

    async fn access(&self, call: Call<'_>) -> Result<Access> {
        self.breaker.call(self.inner.access(call)).await
    }

    async fn get(&self, call: Call<'_>, key: &str) -> Result<Option<Json>> {
        self.breaker.call(self.inner.get(call, key)).await
    }

    async fn snapshot(&self, call: Call<'_>) -> Result<Snapshot> {
        self.breaker.call(self.inner.snapshot(call)).await
    }

    async fn write(&self, call: Call<'_>, write: Write) -> Result<Option<Arc<Diff>>> {
        self.breaker.call(self.inner.write(call, write)).await
    }

    async fn update(&self, call: Call<'_>, key: &str, f: UpdateFn<'_>) -> Result<Arc<Diff>> {
        self.breaker.call(self.inner.update(call, key, f)).await
    }

    async fn set_member(&self, call: Call<'_>, joined: bool) -> Result<bool> {
        self.breaker.call(self.inner.set_member(call, joined)).await
    }

    async fn attach(&self, call: Call<'_>, resume: Option<u64>) -> Result<Attachment> {
        self.breaker.call(self.inner.attach(call, resume)).await
    }

    async fn attached(&self, room: &RoomKey) -> Result<usize> {
        self.breaker.call(self.inner.attached(room)).await
    }

    async fn is_live(&self, room: &RoomKey) -> Result<bool> {
        self.breaker.call(self.inner.is_live(room)).await
    }

    async fn sweep(&self) -> Result<usize> {
        self.breaker.call(self.inner.sweep()).await
    }

    async fn check_health(&self) -> Result<()> {
        self.breaker.call(self.inner.check_health()).await
    }
}
