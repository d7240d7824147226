//! The hyperstate demo: each scope of hyperstate in a small htmx app.
//!
//! - `/` — an index linking the scopes;
//! - `/cart` — page scope: a cart per tab, empty again after a refresh;
//! - `/settings` — session scope: a durable theme, and a per-tab draft that
//!   survives server restarts;
//! - `/rooms/{name}` — room scope: a chat room shared live over SSE; join to post;
//! - `/healthz` — each backend's health (503 when one is down);
//! - `/metrics` — Prometheus metrics.
//!
//! `?htmx=4` on any page loads htmx 4.x instead of 2.x; both work.

mod assets;
mod backends;
pub mod bare;
mod error;
mod layout;
mod postgres;
mod routes;
mod serve_args;

use hyperstate_axum::hyperstate;
use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use hyperstate::breaker::BreakerOptions;
use hyperstate::page::PageStore;
use hyperstate::room::RoomStore;
use hyperstate::session::{DocumentStore, SessionCoherence};
use hyperstate_axum::{HttpConfig, Hyperstate};

pub use hyperstate::fs::SecretError;

pub use backends::{redis_backends, redis_session_coherence};
pub use error::AppError;
pub use postgres::{PostgresBackends, postgres_backends};
pub use serve_args::{RateSetting, ServeArgs};

/// Settings of the demo app.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct DemoConfig {
    /// Where durable state lives: session documents (unless on S3) and the
    /// development session secret.
    pub data_dir: PathBuf,
    /// Keep sessions in this S3-compatible bucket instead of `data_dir`.
    pub s3: Option<S3Target>,
    /// The session secret, hex (`HYPERSTATE_SESSION_SECRET`); `None` uses the
    /// development default kept in `data_dir`.
    pub session_secret: Option<String>,
    /// The secrets browser-id cookies are signed with, hex, comma-separated,
    /// newest first (`HYPERSTATE_BROWSER_ID_SECRETS`); `None`: a key derived
    /// from the session secret.
    pub browser_id_secrets: Option<String>,
    /// HTTP settings (cookie flags, ...).
    pub http: HttpConfig,
    /// The page-state backend; `None`: hyperstate's default (memory).
    pub pages: Option<Arc<dyn PageStore>>,
    /// The room-state backend; `None`: hyperstate's default (memory). A shared
    /// one (Redis) lets chat and cart rooms span several demo processes.
    pub rooms: Option<Arc<dyn RoomStore>>,
    /// The session-document store; `None`: the data directory (or S3, when
    /// [`DemoConfig::s3`] is set). A shared one (PostgreSQL) lets sessions
    /// span several demo processes.
    pub sessions: Option<Arc<dyn DocumentStore>>,
    /// The circuit breakers in front of every backend; `None` turns them off.
    /// Default: on, with [`BreakerOptions::default`].
    pub breakers: Option<BreakerOptions>,
    /// Keep in-memory pages and rooms across a graceful restart, in
    /// `data_dir/snapshots` (see [`HyperstateBuilder::snapshot_dir`]).
    /// Default: on.
    ///
    /// [`HyperstateBuilder::snapshot_dir`]: hyperstate_axum::HyperstateBuilder::snapshot_dir
    pub snapshot: bool,
    /// When a node's cached session documents may answer reads. Default:
    /// [`SessionCoherence::SingleNode`] (this process owns its sessions);
    /// with `--redis`, coherent through Redis so several processes can share
    /// one store.
    pub session_coherence: SessionCoherence,
}

/// An S3-compatible bucket for sessions. Credentials and region come from the
/// standard `AWS_*` environment variables.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct S3Target {
    /// The server, for S3-compatible stores other than AWS (`None`: AWS).
    pub endpoint: Option<String>,
    /// The bucket.
    pub bucket: String,
}

impl S3Target {
    /// Sessions in `bucket`, on `endpoint` (or AWS when `None`).
    pub fn new(endpoint: Option<String>, bucket: impl Into<String>) -> Self {
        S3Target {
            endpoint,
            bucket: bucket.into(),
        }
    }
}

impl DemoConfig {
    /// Settings with state under `data_dir`, everything else at its default.
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        DemoConfig {
            data_dir: data_dir.into(),
            s3: None,
            session_secret: None,
            browser_id_secrets: None,
            http: HttpConfig::default(),
            pages: None,
            rooms: None,
            sessions: None,
            breakers: Some(BreakerOptions::default()),
            snapshot: true,
            session_coherence: SessionCoherence::SingleNode,
        }
    }

    /// Sets [`DemoConfig::session_coherence`].
    pub fn session_coherence(mut self, coherence: SessionCoherence) -> Self {
        self.session_coherence = coherence;
        self
    }

    /// Sets [`DemoConfig::snapshot`].
    pub fn snapshot(mut self, on: bool) -> Self {
        self.snapshot = on;
        self
    }

    /// Where the page and room snapshots are kept, when they are on.
    pub fn snapshot_dir(&self) -> Option<PathBuf> {
        self.snapshot.then(|| self.data_dir.join("snapshots"))
    }

    /// Sets [`DemoConfig::pages`].
    pub fn pages(mut self, store: Arc<dyn PageStore>) -> Self {
        self.pages = Some(store);
        self
    }

    /// Sets [`DemoConfig::rooms`].
    pub fn rooms(mut self, store: Arc<dyn RoomStore>) -> Self {
        self.rooms = Some(store);
        self
    }

    /// Sets [`DemoConfig::sessions`].
    pub fn sessions(mut self, store: Arc<dyn DocumentStore>) -> Self {
        self.sessions = Some(store);
        self
    }

    /// Sets [`DemoConfig::breakers`].
    pub fn breakers(mut self, options: Option<BreakerOptions>) -> Self {
        self.breakers = options;
        self
    }

    /// Sets [`DemoConfig::s3`].
    pub fn s3(mut self, target: Option<S3Target>) -> Self {
        self.s3 = target;
        self
    }

    /// Sets [`DemoConfig::session_secret`].
    pub fn session_secret(mut self, hex: Option<String>) -> Self {
        self.session_secret = hex;
        self
    }

    /// Sets [`DemoConfig::browser_id_secrets`].
    pub fn browser_id_secrets(mut self, hex_list: Option<String>) -> Self {
        self.browser_id_secrets = hex_list;
        self
    }

    /// Sets [`DemoConfig::http`].
    pub fn http(mut self, http: HttpConfig) -> Self {
        self.http = http;
        self
    }
}

/// Why the demo could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartupError {
    /// The session secret or the data directory's session store.
    #[error(transparent)]
    Build(#[from] hyperstate_axum::BuildError),
    /// The browser-id secrets.
    #[error(transparent)]
    Secret(#[from] hyperstate::fs::SecretError),
    /// The S3 session store could not be configured.
    #[error("cannot open the session store")]
    Store(#[source] hyperstate::Error),
    /// S3 was asked for, but the demo was built without the `s3` feature.
    #[error("this build has no S3 support (build with the `s3` feature)")]
    NoS3Support,
}

/// Builds the demo's [`Hyperstate`]: pages in memory, sessions on the
/// filesystem under `data_dir` (or in S3). Must run inside a tokio runtime.
pub fn hyperstate(config: &DemoConfig) -> Result<Hyperstate, StartupError> {
    // Sessions: hyperstate's default (the data directory, the secret from the
    // configuration or the development one kept there) unless a store
    // (PostgreSQL) or S3 is given.
    let mut builder = Hyperstate::builder().data_dir(&config.data_dir);
    if let Some(hex) = &config.session_secret {
        let secret = hyperstate::fs::session_secret(Some(hex), &config.data_dir)?;
        builder = builder.session_secret(secret);
    }
    if let Some(store) = &config.sessions {
        builder = builder.session_store(store.clone());
    } else if let Some(target) = &config.s3 {
        builder = builder.session_store(s3_store(target)?);
    }
    if let Some(list) = &config.browser_id_secrets {
        builder = builder.browser_id_keys(hyperstate::fs::browser_id_keys(list)?);
    }
    if let Some(pages) = &config.pages {
        builder = builder.pages(pages.clone());
    }
    if let Some(rooms) = &config.rooms {
        builder = builder.rooms(rooms.clone());
    }
    Ok(builder
        .config(config.http.clone())
        .breakers(config.breakers)
        .snapshot_dir(config.snapshot_dir())
        .session_coherence(config.session_coherence.clone())
        .build()?)
}

#[cfg(feature = "s3")]
fn s3_store(target: &S3Target) -> Result<Arc<dyn DocumentStore>, StartupError> {
    let mut builder = hyperstate_s3::S3DocumentStore::builder(&target.bucket);
    if let Some(endpoint) = &target.endpoint {
        builder = builder.endpoint(endpoint);
    }
    Ok(Arc::new(builder.build().map_err(StartupError::Store)?))
}

#[cfg(not(feature = "s3"))]
fn s3_store(_: &S3Target) -> Result<Arc<dyn DocumentStore>, StartupError> {
    Err(StartupError::NoS3Support)
}

pub use routes::health::install_metrics;

/// Logs to stderr at `RUST_LOG`'s levels, `info` without it: the setup of
/// both binaries (the demo and the `bare_cart` baseline).
pub fn init_logging() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
}

/// The demo's routes, with hyperstate's layer installed.
pub fn router(state: &Hyperstate) -> Router {
    routes::routes(state).layer(state.layer())
}
