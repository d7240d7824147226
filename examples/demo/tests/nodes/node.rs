//! One demo process of a multi-node test: its own port and data directory,
//! the session secret every node shares, and the backend flags of the test.

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A demo process, killed when dropped (so a failing test leaves none behind).
#[derive(Debug)]
pub struct Node {
    child: Child,
    pub addr: SocketAddr,
    _data: tempfile::TempDir,
}

impl Node {
    /// Starts a demo process with the flags and environment `backend` adds
    /// (where its state lives), and waits (bounded) until it accepts
    /// connections.
    pub async fn start(backend: impl FnOnce(&mut Command) -> &mut Command) -> Node {
        let data = tempfile::tempdir().expect("a data directory");
        let addr: SocketAddr = ([127, 0, 0, 1], free_port()).into();
        let mut command = Command::new(env!("CARGO_BIN_EXE_hyperstate-demo"));
        command
            .arg("--addr")
            .arg(addr.to_string())
            .arg("--data-dir")
            .arg(data.path())
            // The racing test opens hundreds of connections at once from one
            // address, far past the per-client cap a browser never reaches.
            .arg("--max-connections-per-client")
            .arg("0")
            // The same secret on every node, as in production.
            .env("HYPERSTATE_SESSION_SECRET", "ab".repeat(32))
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null());
        let child = backend(&mut command).spawn().expect("starting the demo");
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

/// A port on 127.0.0.1 that is free right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}
