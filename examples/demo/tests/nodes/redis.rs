//! Nodes on one Redis (pages, rooms) and one S3 server (sessions), or on a
//! Redis Cluster and S3.
//!
//! The servers come from `HYPERSTATE_REDIS_URL` (or
//! `HYPERSTATE_REDIS_CLUSTER_URL`) and `HYPERSTATE_S3_ENDPOINT` /
//! `HYPERSTATE_S3_BUCKET` (scripts/services/redis.sh, redis_cluster.sh and
//! s3.sh; the S3 credentials are read from the environment the nodes
//! inherit). Without them [`two_nodes`] skips loudly, except under `CI=true`,
//! where it fails.

use super::Node;

/// Two nodes on the servers named in the environment (`None` after a skip).
pub async fn two_nodes() -> Option<(Node, Node)> {
    Some(Services::from_env()?.two_nodes().await)
}

/// Two nodes on the Redis Cluster and S3 named in the environment, and the
/// cluster's seed URL (`None` after a skip).
pub async fn two_cluster_nodes() -> Option<(Node, Node, String)> {
    let services = Services::cluster_from_env()?;
    let (a, b) = services.two_nodes().await;
    Some((a, b, services.redis_url().to_owned()))
}

/// The shared servers every node is started on.
#[derive(Debug, Clone)]
pub struct Services {
    redis: String,
    s3_endpoint: String,
    s3_bucket: String,
}

impl Services {
    /// The servers named in the environment; `None` (after saying so) when one
    /// is missing outside CI.
    pub fn from_env() -> Option<Services> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let found = (
            var("HYPERSTATE_REDIS_URL"),
            var("HYPERSTATE_S3_ENDPOINT"),
            var("HYPERSTATE_S3_BUCKET"),
        );
        if let (Some(redis), Some(s3_endpoint), Some(s3_bucket)) = found {
            return Some(Services {
                redis,
                s3_endpoint,
                s3_bucket,
            });
        }
        let missing = "HYPERSTATE_REDIS_URL, HYPERSTATE_S3_ENDPOINT and HYPERSTATE_S3_BUCKET";
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("{missing} must all be set when CI=true: Redis and S3 must run in CI");
        }
        eprintln!(
            "SKIPPED: {missing} are not all set (source scripts/services/redis.sh and \
             scripts/services/s3.sh; start_redis; start_s3)"
        );
        None
    }

    /// The servers named in the environment with the Redis Cluster
    /// (`HYPERSTATE_REDIS_CLUSTER_URL`, a seed node) in place of the single
    /// Redis; `None` (after saying so) when one is missing outside CI.
    pub fn cluster_from_env() -> Option<Services> {
        let cluster = hyperstate_conformance::services::redis_cluster_url()?;
        Some(Services {
            redis: cluster,
            ..Services::from_env()?
        })
    }

    /// The Redis URL the nodes are started with.
    pub fn redis_url(&self) -> &str {
        &self.redis
    }

    /// Two nodes on these servers.
    pub async fn two_nodes(&self) -> (Node, Node) {
        (self.node().await, self.node().await)
    }

    /// Starts a demo process on these servers.
    pub async fn node(&self) -> Node {
        Node::start(|demo| {
            demo.arg("--redis")
                .arg(&self.redis)
                .arg("--s3-endpoint")
                .arg(&self.s3_endpoint)
                .arg("--s3-bucket")
                .arg(&self.s3_bucket)
        })
        .await
    }
}
