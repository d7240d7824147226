//! The application-wide handle: backends, settings and background tasks.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use hyperstate::Supervisor;
use hyperstate::breaker::BreakerState;
use hyperstate::identity::BrowserIdIssuer;
use hyperstate::page::PageStore;
use hyperstate::room::{RoomSpec, RoomStore, Rooms};
use hyperstate::session::Sessions;

use crate::breakers::Breakers;
use crate::{Background, ClientRateLimiter, HttpConfig, HyperstateBuilder, SseSlots};

/// Everything hyperstate needs at run time: the backends of each scope, the HTTP
/// settings and the supervisor of the background tasks (the page sweeper, ...).
///
/// Build one at start-up, install the web framework integration's middleware
/// with it, and call [`Hyperstate::shutdown`] after the server has stopped.
/// Cheap to clone.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use hyperstate_http::Hyperstate;
///
/// # let dir = tempfile::tempdir().unwrap();
/// let state: Hyperstate = Hyperstate::builder().data_dir(dir.path()).build().unwrap();
/// // The integration's middleware and extractors open each scope from it.
/// assert!(state.sessions().is_some());
/// state.shutdown().await;
/// # }
/// ```
#[derive(Clone)]
pub struct Hyperstate {
    pub(crate) inner: Arc<Inner>,
}

/// What every clone shares; put together by [`HyperstateBuilder::build`].
pub(crate) struct Inner {
    pub(crate) pages: Arc<dyn PageStore>,
    pub(crate) rooms: Arc<dyn RoomStore>,
    pub(crate) sessions: Option<Sessions>,
    pub(crate) config: HttpConfig,
    pub(crate) background: Background,
    pub(crate) supervisor: Supervisor,
    pub(crate) browser_ids: BrowserIdIssuer,
    pub(crate) browser_id_limiter: Option<ClientRateLimiter>,
    pub(crate) room_join_limiter: Option<ClientRateLimiter>,
    pub(crate) sse_slots: SseSlots,
    pub(crate) breakers: Breakers,
    pub(crate) snapshot: Option<SnapshotTarget>,
}

/// Where [`Hyperstate::shutdown`] writes the memory stores' snapshots: the
/// stores themselves, not their breakers, which would hide their
/// [`persist`](PageStore::persist).
#[derive(Clone)]
pub(crate) struct SnapshotTarget {
    pub(crate) dir: PathBuf,
    pub(crate) pages: Arc<dyn PageStore>,
    pub(crate) rooms: Arc<dyn RoomStore>,
}

impl fmt::Debug for Hyperstate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Hyperstate")
            .field("pages", &self.inner.pages.backend_name())
            .field("rooms", &self.inner.rooms.backend_name())
            .field(
                "sessions",
                &self
                    .inner
                    .sessions
                    .as_ref()
                    .map(|s| s.store().backend_name()),
            )
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

impl Hyperstate {
    /// Starts building; every part defaults to the embedded, zero-setup choice:
    /// pages and rooms in memory, sessions on the file system under `./data`
    /// (see [`HyperstateBuilder`]).
    pub fn builder() -> HyperstateBuilder {
        HyperstateBuilder::default()
    }

    /// A registry of rooms over [`Self::room_store`] that start with `spec`,
    /// swept every [`Background::room_sweep`]; its event streams end when the
    /// server shuts down ([`Self::end_streams`]).
    pub fn rooms(&self, spec: impl RoomSpec) -> Rooms {
        Rooms::new(self.inner.rooms.clone(), spec)
            .supervised_sweeping_every(&self.inner.supervisor, self.inner.background.room_sweep)
    }

    /// Ends every room event stream (SSE) of registries made with
    /// [`Self::rooms`], and stops the background tasks: call it when shutdown
    /// begins, before waiting for the server to drain, as an open stream would
    /// hold the drain forever (the integration's docs show where, with its
    /// server).
    ///
    /// Session writes made while the server drains still commit, from the
    /// request's own task.
    pub fn end_streams(&self) {
        self.inner.supervisor.shutdown_token().cancel();
    }

    /// How often the background jobs run.
    pub fn background(&self) -> &Background {
        &self.inner.background
    }

    /// The page-state backend.
    pub fn pages(&self) -> &Arc<dyn PageStore> {
        &self.inner.pages
    }

    /// The room-state backend. Build a [`Rooms`](hyperstate::room::Rooms)
    /// registry per room kind over it, supervised by [`Self::supervisor`].
    pub fn room_store(&self) -> &Arc<dyn RoomStore> {
        &self.inner.rooms
    }

    /// The session scope, when a session store was configured.
    pub fn sessions(&self) -> Option<&Sessions> {
        self.inner.sessions.as_ref()
    }

    /// The HTTP settings.
    pub fn config(&self) -> &HttpConfig {
        &self.inner.config
    }

    /// Issues and verifies the browser-id cookie: its keys, lifetime and
    /// refresh interval (see [`HyperstateBuilder::browser_id_keys`]).
    pub fn browser_ids(&self) -> &BrowserIdIssuer {
        &self.inner.browser_ids
    }

    /// The per-client limiter of new browser ids
    /// ([`HttpConfig::browser_id_rate`]), if on.
    pub fn browser_id_limiter(&self) -> Option<&ClientRateLimiter> {
        self.inner.browser_id_limiter.as_ref()
    }

    /// The per-client limiter of room joins ([`HttpConfig::room_join_rate`]),
    /// if on: [`RequestContext::join_room`](crate::RequestContext::join_room)
    /// checks it with the request's client before it joins.
    pub fn room_join_limiter(&self) -> Option<&ClientRateLimiter> {
        self.inner.room_join_limiter.as_ref()
    }

    /// The open event streams, under [`HttpConfig::max_sse_streams`] and
    /// [`HttpConfig::max_sse_streams_per_client`]; an integration's event
    /// streams take their [`SseSlot`](crate::SseSlot)s here.
    pub fn sse_slots(&self) -> &SseSlots {
        &self.inner.sse_slots
    }

    /// The supervisor of the background tasks.
    pub fn supervisor(&self) -> &Supervisor {
        &self.inner.supervisor
    }

    /// Checks every backend; returns each scope's backend name, verdict and
    /// circuit breaker state, for a health endpoint. A check goes through the
    /// backend's breaker like any call: while it is open the verdict is
    /// [`BackendUnavailable`](hyperstate::Error::BackendUnavailable) at once,
    /// and once it is half-open the check is the probe that closes it. The
    /// session store must also take writes (see [`Sessions::check_health`]:
    /// one real write probe per [`SessionOptions::write_probe_interval`](hyperstate::session::SessionOptions::write_probe_interval), 5 s
    /// by default). Nodes coherent through a shared revision register list it
    /// too, as scope `"session-register"` (see [`Sessions::check_register`]).
    pub async fn check_health(&self) -> Vec<BackendHealth> {
        let (pages, rooms) = (&self.inner.pages, &self.inner.rooms);
        let breakers = &self.inner.breakers;
        let mut health = vec![
            BackendHealth {
                scope: "page",
                backend: pages.backend_name(),
                result: pages.check_health().await,
                breaker: breakers.state("page"),
            },
            BackendHealth {
                scope: "room",
                backend: rooms.backend_name(),
                result: rooms.check_health().await,
                breaker: breakers.state("room"),
            },
        ];
        if let Some(sessions) = &self.inner.sessions {
            // A read and a (rate-limited) write probe: a full disk still reads.
            health.push(BackendHealth {
                scope: "session",
                backend: sessions.store().backend_name(),
                result: sessions.check_health().await,
                breaker: breakers.state("session"),
            });
            if let Some((backend, result)) = sessions.check_register().await {
                health.push(BackendHealth {
                    scope: "session-register",
                    backend,
                    result,
                    breaker: breakers.state("session-register"),
                });
            }
        }
        health
    }

    /// Stops the background tasks and waits for them; session writes still
    /// queued are committed first. Call it after the server has stopped accepting
    /// requests.
    ///
    /// With a [`snapshot_dir`](HyperstateBuilder::snapshot_dir), first writes
    /// the memory page and room stores' snapshots there, for the next start.
    pub async fn shutdown(&self) {
        if let Some(target) = self.inner.snapshot.clone() {
            // File I/O of up to the stores' budgets: off the async workers.
            let saved = tokio::task::spawn_blocking(move || target.save()).await;
            if let Err(err) = saved {
                tracing::error!(error = %err, "writing the snapshots panicked");
            }
        }
        self.inner.supervisor.shutdown().await;
    }
}

/// One backend's answer to [`Hyperstate::check_health`].
#[derive(Debug)]
#[non_exhaustive]
pub struct BackendHealth {
    /// The scope it serves (`"page"`, `"room"`, `"session"`), or
    /// `"session-register"` for the sessions' shared revision register.
    pub scope: &'static str,
    /// The backend's name (`"memory"`, `"redis"`, ...).
    pub backend: &'static str,
    /// `Ok` when it can serve requests.
    pub result: hyperstate::Result<()>,
    /// The state of its circuit breaker after the check; `None` when breakers
    /// are off ([`HyperstateBuilder::breakers`]).
    pub breaker: Option<BreakerState>,
}

impl SnapshotTarget {
    pub(crate) fn load(&self) {
        if let Some(pages) = self.pages.persist() {
            pages.load_snapshot(&self.dir);
        }
        if let Some(rooms) = self.rooms.persist() {
            rooms.load_snapshot(&self.dir);
        }
    }

    /// Writes both snapshots; a failure is logged (the process is stopping:
    /// there is no one to return it to) and costs only the next start's state.
    fn save(&self) {
        let stores = [
            ("page", self.pages.persist()),
            ("room", self.rooms.persist()),
        ];
        for (scope, store) in stores {
            if let Some(store) = store
                && let Err(err) = store.save_snapshot(&self.dir)
            {
                tracing::error!(
                    scope,
                    dir = %self.dir.display(),
                    error = %err,
                    "could not write the snapshot: the next start begins without this state"
                );
            }
        }
    }
}
