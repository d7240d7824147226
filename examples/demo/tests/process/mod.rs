//! The real demo binary as a child process: started on a free loopback port
//! with a data directory, stopped with SIGTERM as a deployment would.

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// Bounded waits: long enough for a loaded CI machine, never a timing assert.
pub(crate) const PATIENCE: Duration = Duration::from_secs(30);

/// A running demo process; killed on drop if a test failed midway.
pub(crate) struct Demo {
    child: Child,
    /// Where it listens.
    pub(crate) addr: SocketAddr,
}

impl Drop for Demo {
    fn drop(&mut self) {
        // Only if a test failed midway: do not leave the process behind.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts the demo on `data_dir` with `extra` flags and waits (bounded) until
/// it accepts connections.
pub(crate) async fn start(data_dir: &Path, extra: &[&str]) -> Demo {
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_hyperstate-demo"))
        .arg("--addr")
        .arg(addr.to_string())
        .arg("--data-dir")
        .arg(data_dir)
        .args(extra)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .expect("starting the demo binary");
    let demo = Demo { child, addr };
    let ready = async {
        while tokio::net::TcpStream::connect(addr).await.is_err() {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    tokio::time::timeout(PATIENCE, ready)
        .await
        .expect("the demo did not come up");
    demo
}

/// Sends SIGTERM and waits (bounded) for the process to exit, which it must
/// do with status 0.
pub(crate) async fn terminate(demo: &mut Demo) {
    let status = Command::new("kill")
        .arg("-TERM")
        .arg(demo.child.id().to_string())
        .status()
        .unwrap();
    assert!(status.success());
    let exited = async {
        loop {
            if let Some(status) = demo.child.try_wait().unwrap() {
                return status;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    let exit = tokio::time::timeout(PATIENCE, exited)
        .await
        .expect("the demo did not exit after SIGTERM");
    assert!(exit.success(), "the demo exited with {exit}");
}
