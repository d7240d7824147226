//! One shared, self-healing connection to Redis.

use std::fmt;
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use hyperstate::{Error, Result};

use crate::eviction_policy;

/// Options of the Redis connection.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RedisOptions {
    /// Prefix of every key hyperstate writes, so one Redis can serve several apps.
    /// Default: `hs:`.
    pub key_prefix: String,
    /// How long one command may take before it fails. Default: 2 seconds.
    pub response_timeout: Duration,
    /// How long connecting may take. Default: 2 seconds.
    pub connection_timeout: Duration,
    /// Connect even when Redis's `maxmemory-policy` is not `noeviction`. Under
    /// an evicting policy Redis may drop some keys of a room and keep others,
    /// and such a partial room is then served; so by default connecting fails
    /// with [`EvictingPolicy`](crate::EvictingPolicy). Default: `false`.
    pub allow_evicting_policy: bool,
}

impl Default for RedisOptions {
    fn default() -> Self {
        RedisOptions {
            key_prefix: "hs:".to_owned(),
            response_timeout: Duration::from_secs(2),
            connection_timeout: Duration::from_secs(2),
            allow_evicting_policy: false,
        }
    }
}

impl RedisOptions {
    /// Sets [`RedisOptions::key_prefix`].
    pub fn key_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.key_prefix = prefix.into();
        self
    }

    /// Sets [`RedisOptions::allow_evicting_policy`].
    pub fn allow_evicting_policy(mut self, allow: bool) -> Self {
        self.allow_evicting_policy = allow;
        self
    }
}

/// A connection to Redis shared by the Redis backends. Cheap to clone: clones
/// share one multiplexed connection, which redis-rs re-establishes after failures.
#[derive(Clone)]
pub struct Redis {
    pub(crate) manager: ConnectionManager,
    /// Kept for the room store's pub/sub connection (a connection manager
    /// cannot subscribe).
    pub(crate) client: redis::Client,
    pub(crate) prefix: String,
    /// The timeouts, for the calls the connection manager does not bound
    /// itself (the pub/sub connection's).
    pub(crate) response_timeout: Duration,
    pub(crate) connection_timeout: Duration,
}

impl fmt::Debug for Redis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Redis")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

pub(crate) fn backend_error(operation: &'static str, err: redis::RedisError) -> Error {
    Error::backend("redis", operation, err)
}

impl Redis {
    /// Connects to `url` (`redis://HOST:PORT[/DB]`). Fails if Redis cannot be
    /// reached now, or runs with a `maxmemory-policy` that can break rooms (see
    /// [`RedisOptions::allow_evicting_policy`]); once connected, later outages
    /// are survived.
    pub async fn connect(url: &str, options: RedisOptions) -> Result<Redis> {
        let client = redis::Client::open(url).map_err(|err| backend_error("connect", err))?;
        let config = ConnectionManagerConfig::new()
            .set_response_timeout(Some(options.response_timeout))
            .set_connection_timeout(Some(options.connection_timeout))
            // Reconnect attempts per failure; after them the next command tries again.
            .set_number_of_retries(2)
            .set_max_delay(Duration::from_millis(500));
        let mut manager = ConnectionManager::new_with_config(client.clone(), config)
            .await
            .map_err(|err| backend_error("connect", err))?;
        eviction_policy::check(&mut manager, options.allow_evicting_policy).await?;
        Ok(Redis {
            manager,
            client,
            prefix: options.key_prefix,
            response_timeout: options.response_timeout,
            connection_timeout: options.connection_timeout,
        })
    }

    /// Checks that Redis answers (`PING`), for health endpoints.
    pub async fn ping(&self) -> Result<()> {
        let mut conn = self.manager.clone();
        redis::cmd("PING")
            .query_async::<String>(&mut conn)
            .await
            .map(drop)
            .map_err(|err| backend_error("ping", err))
    }

    pub(crate) fn key(&self, kind: &str, id: &impl fmt::Display) -> String {
        format!("{}{kind}:{id}", self.prefix)
    }
}
