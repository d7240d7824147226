//! Demo processes on one PostgreSQL (`--postgres`): pages and sessions there,
//! the same session secret on every node, as behind a load balancer.
//!
//! The server comes from `HYPERSTATE_POSTGRES_URL` (scripts/services/postgres.sh).
//! Without it [`two_nodes`] skips loudly, except under `CI=true`, where it fails.

#![allow(dead_code, unreachable_pub)] // each test binary uses part of it

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// Two nodes on the PostgreSQL named in the environment (`None` after a skip).
pub async fn two_nodes() -> Option<(Node, Node)> {
    let url = hyperstate_conformance::services::postgres_url()?;
    Some((Node::start(&url).await, Node::start(&url).await))
}

/// A demo process on one PostgreSQL, killed when dropped (so a failing test
/// leaves none behind).
#[derive(Debug)]
pub struct Node {
    child: Child,
    pub addr: SocketAddr,
    _data: tempfile::TempDir,
}

impl Node {
    /// Starts a demo process on `url` and waits (bounded) until it accepts
    /// connections.
    pub async fn start(url: &str) -> Node {
        let data = tempfile::tempdir().expect("a data directory");
        let addr: SocketAddr = ([127, 0, 0, 1], crate::nodes::free_port()).into();
        let child = Command::new(env!("CARGO_BIN_EXE_hyperstate-demo"))
            .arg("--addr")
            .arg(addr.to_string())
            .arg("--data-dir")
            .arg(data.path())
            .arg("--postgres")
            .arg(url)
            // The racing test opens hundreds of connections at once from one
            // address, far past the per-client cap a browser never reaches.
            .arg("--max-connections-per-client")
            .arg("0")
            // The same secret on every node, as in production.
            .env("HYPERSTATE_SESSION_SECRET", "ab".repeat(32))
            .env("RUST_LOG", "warn")
            // The S3 and Redis settings the test services export would put
            // sessions or pages elsewhere (the demo refuses S3 with PostgreSQL).
            .env_remove("HYPERSTATE_S3_BUCKET")
            .env_remove("HYPERSTATE_S3_ENDPOINT")
            .env_remove("HYPERSTATE_REDIS")
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

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
