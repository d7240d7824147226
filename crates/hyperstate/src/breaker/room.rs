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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::Error;
    use crate::memory::MemoryRoomStore;
    use crate::room::{Principal, RoomEvent, RoomInit, Rooms, Subscription};

    /// A hang guard, not a speed assertion.
    const HANG_GUARD: Duration = Duration::from_secs(5);

    async fn next_versioned(sub: &mut Subscription) -> RoomEvent {
        loop {
            let event = tokio::time::timeout(HANG_GUARD, sub.next())
                .await
                .expect("no room event within the hang guard")
                .expect("the subscription ended")
                .expect("the subscription failed");
            if event.version().is_some() {
                return event;
            }
        }
    }

    #[tokio::test]
    async fn an_open_breaker_fails_calls_but_leaves_attached_streams_alone() {
        let inner: Arc<dyn RoomStore> = Arc::new(MemoryRoomStore::default());
        let guarded = Arc::new(BreakerRoomStore::new(
            inner.clone(),
            BreakerOptions::default().failure_threshold(1),
        ));
        let spec = |_: &RoomKey| Ok(RoomInit::new());
        let through_breaker = Rooms::new(guarded.clone(), spec).room("r").unwrap();
        let who = Principal::app("writer");
        through_breaker.join(&who).await.unwrap();
        let mut sub = through_breaker.attach(&who, None).await.unwrap();
        assert!(matches!(
            next_versioned(&mut sub).await,
            RoomEvent::Snapshot(_)
        ));

        let outage = Error::backend("memory", "put", std::io::Error::other("down"));
        let _ = guarded.breaker().call(async { Err::<(), _>(outage) }).await;
        let refused = through_breaker.put(&who, "k", "refused").await;
        assert!(
            matches!(
                refused,
                Err(Error::BackendUnavailable { scope: "room", .. })
            ),
            "{refused:?}"
        );

        // The backend still delivers to the attached stream: a write that
        // reaches it another way arrives as a diff.
        let direct = Rooms::new(inner, spec).room("r").unwrap();
        direct.put(&who, "k", "delivered").await.unwrap();
        let RoomEvent::Diff(diff) = next_versioned(&mut sub).await else {
            panic!("expected the write as a diff");
        };
        assert_eq!(diff.value::<String>().unwrap().unwrap(), "delivered");
    }
}
