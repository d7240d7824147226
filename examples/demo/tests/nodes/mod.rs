//! Demo processes that share one state: every node on the same Redis (pages,
//! rooms) and the same S3 server (sessions), with the same session secret, as
//! behind a load balancer.
//!
//! The servers come from `HYPERSTATE_REDIS_URL` and `HYPERSTATE_S3_ENDPOINT` /
//! `HYPERSTATE_S3_BUCKET` (scripts/services/redis.sh and s3.sh; the S3
//! credentials are read from the environment the nodes inherit). Without them
//! [`two_nodes`] skips loudly, except under `CI=true`, where it fails.

#![allow(dead_code, unreachable_pub)] // each test binary uses part of it

mod browser;

pub use browser::TcpBrowser;

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

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

    /// Starts a demo process on these servers and waits (bounded) until it
    /// accepts connections.
    pub async fn node(&self) -> Node {
        let data = tempfile::tempdir().expect("a data directory");
        let addr: SocketAddr = ([127, 0, 0, 1], free_port()).into();
        let child = Command::new(env!("CARGO_BIN_EXE_hyperstate-demo"))
            .arg("--addr")
            .arg(addr.to_string())
            .arg("--data-dir")
            .arg(data.path())
            .arg("--redis")
            .arg(&self.redis)
            .arg("--s3-endpoint")
            .arg(&self.s3_endpoint)
            .arg("--s3-bucket")
            .arg(&self.s3_bucket)
            // The racing test opens hundreds of connections at once from one
            // address, far past the per-client cap a browser never reaches.
            .arg("--max-connections-per-client")
            .arg("0")
            // The same secret on every node, as in production.
            .env("HYPERSTATE_SESSION_SECRET", "ab".repeat(32))
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .spawn()
            .expect("starting the demo");
        let node = Node {
            child,
            addr,
            _data: data,
        };
        for _ in 0..200 {
            if tokio::net::TcpStream::connect(addr).await.is_ok() {
                return node;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the demo on {addr} did not start listening");
    }
}

/// A demo process, killed when dropped (so a failing test leaves none behind).
#[derive(Debug)]
pub struct Node {
    child: Child,
    pub addr: SocketAddr,
    _data: tempfile::TempDir,
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port on 127.0.0.1 that is free right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}
