//! [`HyperstateBuilder`]: every part defaults to the embedded, zero-setup choice
//! — pages and rooms in memory, sessions on the file system under a data
//! directory — and every setting takes effect whatever the order of the calls.

use std::fmt;
use std::marker::PhantomData;
use std::path::PathBuf;
use std::sync::Arc;

use hyperstate::Supervisor;
use hyperstate::breaker::BreakerOptions;
use hyperstate::fs::{FsDocumentStore, SESSION_SECRET_ENV, SecretError};
use hyperstate::identity::{BrowserIdIssuer, BrowserIdKey, BrowserIdKeys};
use hyperstate::memory::{MemoryPageStore, MemoryRoomStore};
use hyperstate::page::PageStore;
use hyperstate::room::RoomStore;
use hyperstate::session::{
    DocumentStore, SessionCoherence, SessionOptions, SessionSecret, Sessions,
};

use crate::breakers::Breakers;
use crate::handle::{Inner, SnapshotTarget};
use crate::{Background, ClientRateLimiter, HttpConfig, Hyperstate, SseSlots};

/// The data directory when none is given: `./data`, beside where the app runs.
pub const DEFAULT_DATA_DIR: &str = "./data";

/// Builds a [`Hyperstate`]. See [`Hyperstate::builder`].
///
/// With no call at all, [`build`](Self::build) gives pages and rooms in memory
/// and sessions in [`FsDocumentStore`] under [`DEFAULT_DATA_DIR`], with the
/// secret from `HYPERSTATE_SESSION_SECRET` or, without it, a development secret
/// generated once into the data directory (with a warning: a secret on the same
/// disk as the data protects little; set the variable in production).
///
/// `H` is the handle [`build`](Self::build) returns: this crate's
/// [`Hyperstate`], or a web framework integration's own handle made from it
/// (one that adds, say, the framework's middleware), so that an app's
/// `Hyperstate::builder()...build()` gives the type it names.
pub struct HyperstateBuilder<H = Hyperstate> {
    pages: Option<Arc<dyn PageStore>>,
    rooms: Option<Arc<dyn RoomStore>>,
    session_store: SessionStore,
    session_secret: Option<SessionSecret>,
    session_options: SessionOptions,
    session_coherence: Option<SessionCoherence>,
    data_dir: PathBuf,
    browser_id_keys: Option<BrowserIdKeys>,
    config: HttpConfig,
    background: Background,
    breakers: Option<BreakerOptions>,
    snapshot_dir: Option<PathBuf>,
    // `fn() -> H`: the builder holds no `H`, so it is `Send`/`Sync` whatever `H` is.
    handle: PhantomData<fn() -> H>,
}

impl<H> fmt::Debug for HyperstateBuilder<H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HyperstateBuilder")
            .field("pages", &self.pages)
            .field("rooms", &self.rooms)
            .field("session_store", &self.session_store)
            .field("session_secret", &self.session_secret)
            .field("session_options", &self.session_options)
            .field("session_coherence", &self.session_coherence)
            .field("data_dir", &self.data_dir)
            .field("browser_id_keys", &self.browser_id_keys)
            .field("config", &self.config)
            .field("background", &self.background)
            .field("breakers", &self.breakers)
            .field("snapshot_dir", &self.snapshot_dir)
            .finish()
    }
}

/// Where session documents go.
#[derive(Debug)]
enum SessionStore {
    /// [`FsDocumentStore`] in the data directory.
    DataDir,
    /// The app's store.
    Given(Arc<dyn DocumentStore>),
    /// No session scope: the `Session` extractor answers 500.
    Off,
}

/// Why [`HyperstateBuilder::build`] could not start hyperstate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// The session secret was invalid, or the development secret could not be
    /// kept in the data directory.
    #[error(transparent)]
    Secret(#[from] SecretError),
    /// The session store in the data directory could not be opened.
    #[error("cannot open the session store in {}", dir.display())]
    SessionStore {
        /// The data directory.
        dir: PathBuf,
        /// Why.
        #[source]
        source: hyperstate::Error,
    },
}

impl<H> Default for HyperstateBuilder<H> {
    fn default() -> Self {
        HyperstateBuilder {
            pages: None,
            rooms: None,
            session_store: SessionStore::DataDir,
            session_secret: None,
            session_options: SessionOptions::default(),
            session_coherence: None,
            data_dir: PathBuf::from(DEFAULT_DATA_DIR),
            browser_id_keys: None,
            config: HttpConfig::default(),
            background: Background::default(),
            breakers: Some(BreakerOptions::default()),
            snapshot_dir: None,
            handle: PhantomData,
        }
    }
}

impl<H: From<Hyperstate>> HyperstateBuilder<H> {
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

    /// Where the embedded defaults keep durable state: session documents
    /// (`DIR/sessions`) and the development session secret
    /// (`DIR/session-secret`). Created, private (0700), when needed.
    /// Default: [`DEFAULT_DATA_DIR`].
    pub fn data_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.data_dir = dir.into();
        self
    }

    /// Session state on `store` (e.g. `hyperstate_s3::S3DocumentStore`) with
    /// the server `secret` that derives storage keys from browser ids. Every
    /// node of a deployment needs the same secret. Shorthand for
    /// [`Self::session_store`] and [`Self::session_secret`].
    pub fn sessions(self, store: Arc<dyn DocumentStore>, secret: SessionSecret) -> Self {
        self.session_store(store).session_secret(secret)
    }

    /// Session documents on `store` instead of the data directory.
    pub fn session_store(mut self, store: Arc<dyn DocumentStore>) -> Self {
        self.session_store = SessionStore::Given(store);
        self
    }

    /// The server secret of session storage keys. Default: the hex in
    /// `HYPERSTATE_SESSION_SECRET`, else the development secret of the data
    /// directory (see [`hyperstate::fs::session_secret`]).
    pub fn session_secret(mut self, secret: SessionSecret) -> Self {
        self.session_secret = Some(secret);
        self
    }

    /// No session scope (the `Session` extractor then answers 500): for an app
    /// that keeps no durable state and must write nothing to disk.
    pub fn without_sessions(mut self) -> Self {
        self.session_store = SessionStore::Off;
        self
    }

    /// Session options (TTL, limits, ...). Default: [`SessionOptions::default`].
    pub fn session_options(mut self, options: SessionOptions) -> Self {
        self.session_options = options;
        self
    }

    /// When this node's cached session documents may answer reads (see
    /// [`SessionCoherence`]): `SingleNode` for one process owning its store,
    /// `Shared` (e.g. `hyperstate_redis::RedisRevisionRegister`) for several
    /// nodes, `Off` to read the store every time.
    ///
    /// Default: `SingleNode` for the data directory's store (one process
    /// owns a data directory), `Off` for a store given with
    /// [`Self::session_store`], which several nodes may share: a cache that
    /// other nodes' writes bypass would serve stale reads.
    pub fn session_coherence(mut self, coherence: SessionCoherence) -> Self {
        self.session_coherence = Some(coherence);
        self
    }

    /// How often the background jobs run (page, session and room sweeps).
    /// Default: [`Background::default`].
    pub fn background(mut self, background: Background) -> Self {
        self.background = background;
        self
    }

    /// The keys that sign and verify browser-id cookies, newest first (see
    /// [`BrowserIdKeys`]: the newest signs, every one verifies, a cookie signed
    /// by an older one is issued again under the newest). Every node of a
    /// deployment needs the same list.
    ///
    /// Default: with sessions, one key derived from the session secret (so
    /// nodes sharing that secret agree); without, a random key of this process,
    /// with a warning (cookies then do not survive a restart and are not
    /// honoured by other nodes). Rotating these keys never changes where
    /// sessions are stored.
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

    /// Builds the handle and starts its background tasks. Must run inside a
    /// tokio runtime. Fails only on the session setup: an invalid secret, or a
    /// data directory that cannot be written.
    pub fn build(self) -> Result<H, BuildError> {
        let session_parts = self.session_parts()?;
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
        let browser_ids = browser_id_issuer(
            self.browser_id_keys,
            session_parts.as_ref().map(|(_, secret)| secret),
            self.session_options,
        );
        let supervisor = Supervisor::new();
        supervisor.spawn_page_sweeper(pages.clone(), self.background.page_sweep);
        let coherence = self.session_coherence.unwrap_or(match self.session_store {
            SessionStore::DataDir => SessionCoherence::SingleNode,
            SessionStore::Given(_) | SessionStore::Off => SessionCoherence::Off,
        });
        let sessions = session_parts.map(|(store, secret)| {
            let store = breakers.guard_sessions(store);
            let coherence = breakers.guard_register(coherence);
            let sessions = Sessions::with_coherence(
                store,
                secret,
                self.session_options,
                coherence,
                &supervisor,
            );
            sessions.spawn_sweeper(&supervisor, self.background.session_sweep);
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
        Ok(Hyperstate {
            inner: Arc::new(Inner {
                pages,
                rooms,
                sessions,
                config: self.config,
                background: self.background,
                supervisor,
                browser_ids,
                browser_id_limiter,
                room_join_limiter,
                breakers,
                sse_slots,
                snapshot,
            }),
        }
        .into())
    }

    /// The session store and secret, unless sessions are off: the defaults are
    /// resolved here, so nothing touches the disk when the app gave both.
    fn session_parts(&self) -> Result<Option<SessionParts>, BuildError> {
        let store: Arc<dyn DocumentStore> = match &self.session_store {
            SessionStore::Off => return Ok(None),
            SessionStore::Given(store) => store.clone(),
            SessionStore::DataDir => {
                Arc::new(FsDocumentStore::open(&self.data_dir).map_err(|source| {
                    BuildError::SessionStore {
                        dir: self.data_dir.clone(),
                        source,
                    }
                })?)
            }
        };
        let secret = match &self.session_secret {
            Some(secret) => secret.clone(),
            None => {
                let configured = std::env::var(SESSION_SECRET_ENV).ok();
                hyperstate::fs::session_secret(configured.as_deref(), &self.data_dir)?
            }
        };
        Ok(Some((store, secret)))
    }
}

/// The session store and secret a build resolved.
type SessionParts = (Arc<dyn DocumentStore>, SessionSecret);

/// The browser-id issuer: the configured keys, else the default described at
/// [`HyperstateBuilder::browser_id_keys`]. Cookies live as long as sessions
/// (the session TTL) and are issued again as often as a session's
/// `last_seen_at` is refreshed.
fn browser_id_issuer(
    configured: Option<BrowserIdKeys>,
    session_secret: Option<&SessionSecret>,
    options: SessionOptions,
) -> BrowserIdIssuer {
    let keys = match (configured, session_secret) {
        (Some(keys), _) => keys,
        (None, Some(secret)) => BrowserIdKeys::new(BrowserIdKey::from_session_secret(secret)),
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
