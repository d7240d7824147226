//! The circuit breakers a [`Hyperstate`](crate::Hyperstate) puts in front of
//! each scope's backend, and what its health report reads of them.

use std::sync::Arc;

use hyperstate::breaker::{
    BreakerDocumentStore, BreakerOptions, BreakerPageStore, BreakerRevisionRegister,
    BreakerRoomStore, BreakerState, CircuitBreaker, REGISTER_SCOPE,
};
use hyperstate::page::PageStore;
use hyperstate::room::RoomStore;
use hyperstate::session::{DocumentStore, SessionCoherence};

/// The breaker of each scope, kept for health reports; `None` where breakers
/// are off.
#[derive(Debug, Default)]
pub(crate) struct Breakers {
    options: Option<BreakerOptions>,
    page: Option<Arc<CircuitBreaker>>,
    room: Option<Arc<CircuitBreaker>>,
    session: Option<Arc<CircuitBreaker>>,
    register: Option<Arc<CircuitBreaker>>,
}

impl Breakers {
    /// Breakers with `options` for every store guarded next; none when `None`.
    pub(crate) fn new(options: Option<BreakerOptions>) -> Self {
        Breakers {
            options,
            ..Breakers::default()
        }
    }

    /// `store` behind a page breaker, when breakers are on.
    pub(crate) fn guard_pages(&mut self, store: Arc<dyn PageStore>) -> Arc<dyn PageStore> {
        let Some(options) = self.options else {
            return store;
        };
        let guarded = BreakerPageStore::new(store, options);
        self.page = Some(guarded.breaker().clone());
        Arc::new(guarded)
    }

    /// `store` behind a room breaker, when breakers are on.
    pub(crate) fn guard_rooms(&mut self, store: Arc<dyn RoomStore>) -> Arc<dyn RoomStore> {
        let Some(options) = self.options else {
            return store;
        };
        let guarded = BreakerRoomStore::new(store, options);
        self.room = Some(guarded.breaker().clone());
        Arc::new(guarded)
    }

    /// `store` behind a session breaker, when breakers are on.
    pub(crate) fn guard_sessions(
        &mut self,
        store: Arc<dyn DocumentStore>,
    ) -> Arc<dyn DocumentStore> {
        let Some(options) = self.options else {
            return store;
        };
        let guarded = BreakerDocumentStore::new(store, options);
        self.session = Some(guarded.breaker().clone());
        Arc::new(guarded)
    }

    /// `coherence`'s shared register behind a breaker, when breakers are on:
    /// with Redis down, each read then costs a fast failure (and a store
    /// read), not a command timeout.
    pub(crate) fn guard_register(&mut self, coherence: SessionCoherence) -> SessionCoherence {
        let (Some(options), SessionCoherence::Shared(register)) = (self.options, &coherence) else {
            return coherence;
        };
        let guarded = BreakerRevisionRegister::new(register.clone(), options);
        self.register = Some(guarded.breaker().clone());
        SessionCoherence::Shared(Arc::new(guarded))
    }

    /// The state of the breaker of `scope` (`"page"`, `"room"`, `"session"`,
    /// [`REGISTER_SCOPE`]).
    pub(crate) fn state(&self, scope: &str) -> Option<BreakerState> {
        let breaker = match scope {
            "page" => &self.page,
            "room" => &self.room,
            "session" => &self.session,
            REGISTER_SCOPE => &self.register,
            _ => &None,
        };
        breaker.as_ref().map(|breaker| breaker.state())
    }
}
