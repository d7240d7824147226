//! The application-wide handle: backends, settings and background tasks.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use std::time::Duration;

use hyperstate::Supervisor;
use hyperstate::breaker::{BreakerOptions, BreakerState};
use hyperstate::identity::{BrowserIdIssuer, BrowserIdKey, BrowserIdKeys};
use hyperstate::memory::{MemoryPageStore, MemoryRoomStore};
use hyperstate::page::PageStore;
use hyperstate::room::RoomStore;
use hyperstate::session::{DocumentStore, SessionOptions, SessionSecret, Sessions};

use crate::breakers::Breakers;
use crate::{ClientRateLimiter, HttpConfig, HyperstateLayer, SseSlots};

/// Everything hyperstate needs at run time: the backends of each scope, the HTTP
/// settings and the supervisor of the background tasks (the page sweeper, ...).
///
/// Build one at start-up, install [`Hyperstate::layer`] on the router, and call
/// [`Hyperstate::shutdown`] after the server has stopped. Cheap to clone.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use axum::{Router, routing::get};
/// use hyperstate_axum::{Hyperstate, Page};
///
/// async fn counter(page: Page) -> Result<String, hyperstate_axum::Error> {
///     let n = page.update_or("n", 0u64, |n| n + 1).await?;
///     Ok(format!("{n}"))
/// }
///
/// let state = Hyperstate::builder().build();
/// let app: Router = Router::new().route("/count", get(counter)).layer(state.layer());
/// # state.shutdown().await;
/// # }
/// ```
#[derive(Clone)]
pub struct Hyperstate {
    inner: Arc<Inner>,
}

struct Inner {
    pages: Arc<dyn PageStore>,
    rooms: Arc<dyn RoomStore>,
    sessions: Option<Sessions>,
    config: HttpConfig,
    supervisor: Supervisor,
    browser_ids: BrowserIdIssuer,
    browser_id_limiter: Option<ClientRateLimiter>,
    room_join_limiter: Option<ClientRateLimiter>,
    sse_slots: SseSlots,
    breakers: Breakers,
    snapshot: Option<SnapshotTarget>,
}

/// Where [`Hyperstate::shutdown`] writes the memory stores' snapshots: the
/// stores themselves, not their breakers, which would hide their
/// [`persist`](PageStore::persist).
#[derive(Clone)]
struct SnapshotTarget {
    dir: PathBuf,
    pages: Arc<dyn PageStore>,
    rooms: Arc<dyn RoomStore>,
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
    /// Starts building; every part defaults to the embedded, zero-setup choice.
    pub fn builder() -> HyperstateBuilder {
        HyperstateBuilder::default()
    }

    /// The layer that gives handlers their state; add it to the router.
    pub fn layer(&self) -> HyperstateLayer {
        HyperstateLayer::new(self.clone())
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
    /// if on: check it with the request's
    /// [`RequestContext::client`](crate::RequestContext::client) before
    /// [`Room::join`](hyperstate::room::Room::join).
    pub fn room_join_limiter(&self) -> Option<&ClientRateLimiter> {
        self.inner.room_join_limiter.as_ref()
    }

    /// The open event streams, under [`HttpConfig::max_sse_streams`] and
    /// [`HttpConfig::max_sse_streams_per_client`]; the
    /// [`SseSlot`](crate::SseSlot) extractor takes its places here.
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
    /// one real write probe per [`SessionOptions::write_probe_interval`], 5 s
    /// by default).
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
    /// The scope it serves (`"page"`, ...).
    pub scope: &'static str,
    /// The backend's name (`"memory"`, `"redis"`, ...).
    pub backend: &'static str,
    /// `Ok` when it can serve requests.
    pub result: hyperstate::Result<()>,
    /// The state of its circuit breaker after the check; `None` when breakers
    /// are off ([`HyperstateBuilder::breakers`]).
    pub breaker: Option<BreakerState>,
}

/// Builds a [`Hyperstate`]. See [`Hyperstate::builder`].
#[derive(Debug)]
pub struct HyperstateBuilder {
    pages: Option<Arc<dyn PageStore>>,
    rooms: Option<Arc<dyn RoomStore>>,
    sessions: Option<SessionParts>,
    browser_id_keys: Option<BrowserIdKeys>,
    config: HttpConfig,
    breakers: Option<BreakerOptions>,
    snapshot_dir: Option<PathBuf>,
}

impl Default for HyperstateBuilder {
    fn default() -> Self {
        HyperstateBuilder {
            pages: None,
            rooms: None,
            sessions: None,
            browser_id_keys: None,
            config: HttpConfig::default(),
            breakers: Some(BreakerOptions::default()),
            snapshot_dir: None,
        }
    }
}

#[derive(Debug)]
struct SessionParts {
    store: Arc<dyn DocumentStore>,
    secret: SessionSecret,
    options: SessionOptions,
    sweep_every: Duration,
}

impl HyperstateBuilder {
    /// The page-state backend. Default: a [`MemoryPageStore`] with default options.
    pub fn pages(mut self, store: Arc<dyn PageStore>) -> Self {
        self.pages = Some(store);
        self
    }

    /// The room-state backend. Default: a [`MemoryRoomStore`] with default options.
    pub fn rooms(mut self, store: Arc<dyn RoomStore>) -> Self {
        self.rooms = Some(store);
        self
    }

    /// Enables session state (the [`Session`](crate::Session) extractor) on
    /// `store` (e.g. `hyperstate::fs::FsDocumentStore`, `hyperstate_s3::S3DocumentStore`),
    /// with the server `secret` that derives storage keys from browser ids. Every
    /// node of a deployment needs the same secret. Off by default.
    pub fn sessions(mut self, store: Arc<dyn DocumentStore>, secret: SessionSecret) -> Self {
        self.sessions = Some(SessionParts {
            store,
            secret,
            options: SessionOptions::default(),
            sweep_every: Duration::from_secs(60 * 60),
        });
        self
    }

    /// Session options (TTL, limits, ...). Takes effect with [`Self::sessions`].
    pub fn session_options(mut self, options: SessionOptions) -> Self {
        if let Some(parts) = &mut self.sessions {
            parts.options = options;
        }
        self
    }

    /// How often expired sessions are swept. Default: hourly.
    pub fn session_sweep_interval(mut self, every: Duration) -> Self {
        if let Some(parts) = &mut self.sessions {
            parts.sweep_every = every;
        }
        self
    }

    /// The keys that sign and verify browser-id cookies, newest first (see
    /// [`BrowserIdKeys`]: the newest signs, every one verifies, a cookie signed
    /// by an older one is issued again under the newest). Every node of a
    /// deployment needs the same list.
    ///
    /// Default: with [`Self::sessions`], one key derived from the session
    /// secret (so nodes sharing that secret agree); without, a random key of
    /// this process, with a warning (cookies then do not survive a restart
    /// and are not honoured by other nodes). Rotating these keys never changes
    /// where sessions are stored.
    pub fn browser_id_keys(mut self, keys: BrowserIdKeys) -> Self {
        self.browser_id_keys = Some(keys);
        self
    }

    /// The HTTP settings. Default: [`HttpConfig::default`].
    pub fn config(mut self, config: HttpConfig) -> Self {
        self.config = config;
        self
    }

    /// The circuit breakers in front of the page, room and session backends
    /// (see [`hyperstate::breaker`]): after consecutive backend failures,
    /// requests that need that backend answer 503 with `Retry-After` at once
    /// instead of waiting out its timeout. `None` turns them off. Default: on,
    /// with [`BreakerOptions::default`] (5 failures, 2 s cool-down).
    pub fn breakers(mut self, options: Option<BreakerOptions>) -> Self {
        self.breakers = options;
        self
    }

    /// Keeps in-memory page and room state across a graceful restart: `build`
    /// restores the snapshots found in `dir`, and [`Hyperstate::shutdown`]
    /// writes new ones there. Pages keep their ids, browser binding, values and
    /// remaining TTL; rooms keep state, version, ACL, members and idle
    /// countdown. Only the memory backends take part (other backends keep their
    /// state themselves). A crash (`kill -9`) keeps only what the last
    /// snapshot held. A missing, corrupt or other-version snapshot is logged and
    /// moved aside, never a failed start. `None` turns it off. Default: off.
    pub fn snapshot_dir(mut self, dir: Option<PathBuf>) -> Self {
        self.snapshot_dir = dir;
        self
    }

    /// Builds the handle and starts its background tasks. Must run inside a tokio
    /// runtime.
    pub fn build(self) -> Hyperstate {
        let mut breakers = Breakers::new(self.breakers);
        let pages = self
            .pages
            .unwrap_or_else(|| Arc::new(MemoryPageStore::default()));
        let rooms = self
            .rooms
            .unwrap_or_else(|| Arc::new(MemoryRoomStore::default()));
        let snapshot = self.snapshot_dir.map(|dir| {
            let target = SnapshotTarget {
                dir,
                pages: pages.clone(),
                rooms: rooms.clone(),
            };
            target.load();
            target
        });
        let pages = breakers.guard_pages(pages);
        let rooms = breakers.guard_rooms(rooms);
        let browser_ids = browser_id_issuer(self.browser_id_keys, self.sessions.as_ref());
        let supervisor = Supervisor::new();
        supervisor.spawn_page_sweeper(pages.clone(), self.config.sweep_interval);
        let sessions = self.sessions.map(|parts| {
            let store = breakers.guard_sessions(parts.store);
            let sessions = Sessions::new(store, parts.secret, parts.options, &supervisor);
            sessions.spawn_sweeper(&supervisor, parts.sweep_every);
            sessions
        });
        let browser_id_limiter = self
            .config
            .browser_id_rate
            .map(|limit| ClientRateLimiter::new("new browser ids", limit));
        let room_join_limiter = self
            .config
            .room_join_rate
            .map(|limit| ClientRateLimiter::new("room joins", limit));
        let sse_slots = SseSlots::new(
            self.config.max_sse_streams,
            self.config.max_sse_streams_per_client,
        );
        Hyperstate {
            inner: Arc::new(Inner {
                pages,
                rooms,
                sessions,
                config: self.config,
                supervisor,
                browser_ids,
                browser_id_limiter,
                room_join_limiter,
                breakers,
                sse_slots,
                snapshot,
            }),
        }
    }
}

/// The browser-id issuer: the configured keys, else the default described at
/// [`HyperstateBuilder::browser_id_keys`]. Cookies live as long as sessions
/// (the session TTL, or its default without sessions) and are issued again as
/// often as a session's `last_seen_at` is refreshed.
fn browser_id_issuer(
    configured: Option<BrowserIdKeys>,
    sessions: Option<&SessionParts>,
) -> BrowserIdIssuer {
    let options = sessions.map_or_else(SessionOptions::default, |parts| parts.options);
    let keys = match (configured, sessions) {
        (Some(keys), _) => keys,
        (None, Some(parts)) => BrowserIdKeys::new(BrowserIdKey::from_session_secret(&parts.secret)),
        (None, None) => {
            tracing::warn!(
                "browser-id cookies are signed with a random key of this process: they do not \
                 survive a restart, and other nodes do not honour them; configure \
                 `browser_id_keys` (or sessions) with a key shared by every node"
            );
            BrowserIdKeys::new(BrowserIdKey::random())
        }
    };
    BrowserIdIssuer::new(keys, options.ttl, options.touch_after)
}

impl SnapshotTarget {
    fn load(&self) {
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
