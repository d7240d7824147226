//! One shared, self-healing connection to Redis: a single server or a Redis
//! Cluster, told apart when connecting.

use std::fmt;
use std::time::Duration;

use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::cluster::{ClusterClient, ClusterClientBuilder};
use redis::cluster_async::ClusterConnection;
use redis::{Cmd, Pipeline, RedisFuture, Value};

use hyperstate::Result;

use crate::cluster_health;
use crate::error::backend_error;
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

/// The command connection: a connection manager to one server, or a cluster
/// connection that routes each command to the node owning its keys' slot (and
/// follows `MOVED`/`ASK` while slots move). Both reconnect by themselves.
#[derive(Clone)]
pub(crate) enum Connection {
    Single(ConnectionManager),
    Cluster(ClusterConnection),
}

impl ConnectionLike for Connection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Connection::Single(conn) => conn.req_packed_command(cmd),
            Connection::Cluster(conn) => conn.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        cmd: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Connection::Single(conn) => conn.req_packed_commands(cmd, offset, count),
            Connection::Cluster(conn) => conn.req_packed_commands(cmd, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Connection::Single(conn) => conn.get_db(),
            Connection::Cluster(conn) => conn.get_db(),
        }
    }
}

/// Where room pub/sub connections go: the single server's client, or the
/// cluster's seed nodes (the room hub builds its own cluster client, since a
/// push sender is fixed when a client is built).
#[derive(Clone, Debug)]
pub(crate) enum Topology {
    Single(redis::Client),
    Cluster(Vec<redis::ConnectionInfo>),
}

/// A connection to Redis shared by the Redis backends. Cheap to clone: clones
/// share one multiplexed connection (one per node on a cluster), which
/// redis-rs re-establishes after failures.
#[derive(Clone)]
pub struct Redis {
    /// The command connection (named for the connection manager it was first).
    pub(crate) manager: Connection,
    /// For the room store's pub/sub connections (a command connection does
    /// not subscribe).
    pub(crate) topology: Topology,
    pub(crate) prefix: String,
    /// The timeouts, for the calls the command connection does not bound
    /// itself (the pub/sub connection's).
    pub(crate) response_timeout: Duration,
    pub(crate) connection_timeout: Duration,
}

impl fmt::Debug for Redis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Redis")
            .field("prefix", &self.prefix)
            .field("cluster", &self.is_cluster())
            .finish_non_exhaustive()
    }
}

impl Redis {
    /// Connects to `url`: `redis://HOST:PORT[/DB]` for one server or for any
    /// node of a Redis Cluster (told apart by asking the server, `INFO
    /// cluster`), or a comma-separated list of cluster nodes
    /// (`redis://a:7000,redis://b:7001`, tried in turn to discover the
    /// cluster). Fails if Redis cannot be reached now, or runs with a
    /// `maxmemory-policy` that can break rooms (see
    /// [`RedisOptions::allow_evicting_policy`]; on a cluster, the node that
    /// answers is asked); once connected, later outages and cluster topology
    /// changes are survived.
    pub async fn connect(url: &str, options: RedisOptions) -> Result<Redis> {
        let seeds: Vec<&str> = url.split(',').map(str::trim).collect();
        let cluster = match seeds.as_slice() {
            [one] => cluster_enabled(one, &options).await?,
            _ => true,
        };
        let (mut manager, topology) = if cluster {
            let nodes = seeds
                .iter()
                .map(|seed| redis::IntoConnectionInfo::into_connection_info(*seed))
                .collect::<redis::RedisResult<Vec<_>>>()
                .map_err(|err| backend_error("connect", err))?;
            let conn = cluster_client(nodes.clone(), &options)
                .build()
                .map_err(|err| backend_error("connect", err))?
                .get_async_connection()
                .await
                .map_err(|err| backend_error("connect", err))?;
            (Connection::Cluster(conn), Topology::Cluster(nodes))
        } else {
            let client = redis::Client::open(url).map_err(|err| backend_error("connect", err))?;
            let config = ConnectionManagerConfig::new()
                .set_response_timeout(Some(options.response_timeout))
                .set_connection_timeout(Some(options.connection_timeout))
                // Reconnect attempts per failure; after them the next command tries again.
                .set_number_of_retries(2)
                .set_max_delay(Duration::from_millis(500));
            let manager = ConnectionManager::new_with_config(client.clone(), config)
                .await
                .map_err(|err| backend_error("connect", err))?;
            (Connection::Single(manager), Topology::Single(client))
        };
        eviction_policy::check(&mut manager, options.allow_evicting_policy).await?;
        Ok(Redis {
            manager,
            topology,
            prefix: options.key_prefix,
            response_timeout: options.response_timeout,
            connection_timeout: options.connection_timeout,
        })
    }

    /// Whether this is a Redis Cluster (rooms then publish on sharded pub/sub).
    pub fn is_cluster(&self) -> bool {
        matches!(self.manager, Connection::Cluster(_))
    }

    /// Checks that Redis answers, for health endpoints: `PING` on one server;
    /// on a cluster, every primary must answer `CLUSTER INFO` with
    /// `cluster_state:ok`.
    pub async fn ping(&self) -> Result<()> {
        match self.manager.clone() {
            Connection::Single(mut conn) => redis::cmd("PING")
                .query_async::<String>(&mut conn)
                .await
                .map(drop)
                .map_err(|err| backend_error("ping", err)),
            Connection::Cluster(mut conn) => cluster_health::check(&mut conn).await,
        }
    }

    pub(crate) fn key(&self, kind: &str, id: &impl fmt::Display) -> String {
        format!("{}{kind}:{id}", self.prefix)
    }
}

/// A cluster client on `nodes` with the connection's timeouts. Retries ride
/// out slot moves and failovers (`MOVED`, `TRYAGAIN`, `CLUSTERDOWN`) within
/// the response timeout, which bounds the whole request.
pub(crate) fn cluster_client(
    nodes: Vec<redis::ConnectionInfo>,
    options_timeouts: &impl Timeouts,
) -> ClusterClientBuilder {
    ClusterClient::builder(nodes)
        .connection_timeout(options_timeouts.connection_timeout())
        .response_timeout(options_timeouts.response_timeout())
        .retries(3)
        .min_retry_wait(20)
        .max_retry_wait(500)
}

/// The two timeouts, from options (when connecting) or from a [`Redis`].
pub(crate) trait Timeouts {
    fn connection_timeout(&self) -> Duration;
    fn response_timeout(&self) -> Duration;
}

impl Timeouts for RedisOptions {
    fn connection_timeout(&self) -> Duration {
        self.connection_timeout
    }
    fn response_timeout(&self) -> Duration {
        self.response_timeout
    }
}

impl Timeouts for Redis {
    fn connection_timeout(&self) -> Duration {
        self.connection_timeout
    }
    fn response_timeout(&self) -> Duration {
        self.response_timeout
    }
}

/// Asks the server at `url` whether it runs in cluster mode (`INFO cluster`
/// says `cluster_enabled:1`), on a short-lived connection.
async fn cluster_enabled(url: &str, options: &RedisOptions) -> Result<bool> {
    let client = redis::Client::open(url).map_err(|err| backend_error("connect", err))?;
    let config = redis::AsyncConnectionConfig::new()
        .set_connection_timeout(Some(options.connection_timeout))
        .set_response_timeout(Some(options.response_timeout));
    let mut conn = client
        .get_multiplexed_async_connection_with_config(&config)
        .await
        .map_err(|err| backend_error("connect", err))?;
    let info: String = redis::cmd("INFO")
        .arg("cluster")
        .query_async(&mut conn)
        .await
        .map_err(|err| backend_error("connect", err))?;
    Ok(info.lines().any(|line| line.trim() == "cluster_enabled:1"))
}
