//! The connection pool every PostgreSQL backend shares, and the schema it needs.

use std::fmt;
use std::time::Duration;

use hyperstate::Result;
use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;

use crate::error::backend_error;
use crate::migrations;

/// Options of the pool [`Postgres::connect`] opens.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PostgresOptions {
    /// Most connections in the pool. Default: 20.
    pub max_connections: u32,
    /// How long an operation may wait for a connection (including connecting)
    /// before it fails, so an outage answers fast instead of piling requests up.
    /// Default: 2 seconds.
    pub acquire_timeout: Duration,
}

impl Default for PostgresOptions {
    fn default() -> Self {
        PostgresOptions {
            max_connections: 20,
            acquire_timeout: Duration::from_secs(2),
        }
    }
}

impl PostgresOptions {
    /// Sets [`PostgresOptions::max_connections`].
    pub fn max_connections(mut self, n: u32) -> Self {
        self.max_connections = n.max(1);
        self
    }
    /// Sets [`PostgresOptions::acquire_timeout`].
    pub fn acquire_timeout(mut self, timeout: Duration) -> Self {
        self.acquire_timeout = timeout;
        self
    }
}

/// A PostgreSQL database with hyperstate's schema, shared by the page, session
/// and room backends. Cheap to clone: clones share the pool.
#[derive(Clone)]
pub struct Postgres {
    pub(crate) pool: PgPool,
    /// How long waiting for the database may take (the pool's acquire timeout),
    /// for the waits the pool does not bound itself.
    pub(crate) acquire_timeout: Duration,
}

impl fmt::Debug for Postgres {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Postgres")
            .field("connections", &self.pool.size())
            .finish_non_exhaustive()
    }
}

impl Postgres {
    /// Opens a pool on `url` (`postgres://USER@HOST:PORT/DB`) and brings the
    /// schema up to date. Fails if PostgreSQL cannot be reached now; once
    /// connected, the pool reconnects by itself after outages.
    pub async fn connect(url: &str, options: PostgresOptions) -> Result<Postgres> {
        let pool = PgPoolOptions::new()
            .max_connections(options.max_connections)
            .acquire_timeout(options.acquire_timeout)
            // A broken connection fails its one query and leaves the pool;
            // pinging before every use would double the round trips.
            .test_before_acquire(false)
            .connect(url)
            .await
            .map_err(|err| backend_error("connect", err))?;
        Postgres::with_pool(pool).await
    }

    /// Uses the app's own pool and brings the schema up to date.
    pub async fn with_pool(pool: PgPool) -> Result<Postgres> {
        migrations::apply(&pool).await?;
        let acquire_timeout = pool.options().get_acquire_timeout();
        Ok(Postgres {
            pool,
            acquire_timeout,
        })
    }

    /// The pool, for the app's own queries.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Checks that PostgreSQL answers, for health endpoints.
    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map(drop)
            .map_err(|err| backend_error("ping", err))
    }
}
