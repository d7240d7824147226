//! A private `redis-server` for tests that must control the server itself
//! (stop and restart it, or set its memory limit), on a free port. Without the
//! binary such a test skips loudly, except under `CI=true`, where it fails.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

fn redis_server_available() -> bool {
    let found = Command::new("redis-server")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        assert_ne!(
            std::env::var("CI").as_deref(),
            Ok("true"),
            "redis-server is required in CI"
        );
        eprintln!("SKIPPED: redis-server is not installed");
    }
    found
}

/// A free port that no other test of this process was given. The tests of a
/// binary run at once, and one that stops its server and starts it again on
/// the same port must not find that another test's server took it meanwhile.
fn free_port() -> u16 {
    static GIVEN: Mutex<Vec<u16>> = Mutex::new(Vec::new());
    let mut given = GIVEN.lock().unwrap_or_else(PoisonError::into_inner);
    loop {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        if !given.contains(&port) {
            given.push(port);
            return port;
        }
    }
}

/// A running `redis-server`, killed when dropped.
pub(crate) struct Server(Child);

impl Server {
    /// A private server on a free port, with its port and URL; `None` (after
    /// saying so) without the `redis-server` binary. `config` holds extra
    /// `--name value` arguments.
    pub(crate) async fn start_private(config: &[&str]) -> Option<(Server, u16, String)> {
        if !redis_server_available() {
            return None;
        }
        let port = free_port();
        let server = Server::start(port, config).await;
        Some((server, port, format!("redis://127.0.0.1:{port}")))
    }

    /// A server on `port` (restarting one that was stopped).
    pub(crate) async fn start(port: u16, config: &[&str]) -> Server {
        let child = Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .args(config)
            .stdout(Stdio::null())
            .spawn()
            .expect("starting redis-server");
        // Wait until it accepts connections.
        let mut server = Server(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "redis-server did not start");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        // Something answered; it must be this server, not another process
        // that holds the port (this one would then have exited at once).
        assert!(
            matches!(server.0.try_wait(), Ok(None)),
            "redis-server on port {port} exited: the port is taken"
        );
        server
    }

    #[allow(dead_code)] // Not every test stops its server before the end.
    pub(crate) fn stop(mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
