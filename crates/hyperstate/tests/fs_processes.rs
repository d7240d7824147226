//! The filesystem backend's compare-and-swap holds across processes.
//!
//! Two child processes (this test binary, re-run with an environment variable)
//! write different keys of one session in the same directory at the same time,
//! each with its own writer and no coordination but the store's lock and etag
//! check. Every key of both must survive.

use std::process::{Command, Stdio};
use std::sync::Arc;

use hyperstate::fs::FsDocumentStore;
use hyperstate::session::{SessionOptions, SessionSecret, Sessions, View};
use hyperstate::{BrowserId, Supervisor};

const DIR_ENV: &str = "HYPERSTATE_FS_PROCESS_DIR";
const NAME_ENV: &str = "HYPERSTATE_FS_PROCESS_NAME";
const BROWSER: &str = "dHdvLXByb2Nlc3Nlcy1icg";
const WRITES: usize = 60;

fn sessions(dir: &std::path::Path, supervisor: &Supervisor) -> Sessions {
    let store = Arc::new(FsDocumentStore::open(dir).expect("opening the store"));
    let secret = SessionSecret::from_bytes([3u8; 32]).unwrap();
    // Two busy processes on one session collide often: allow plenty of retries.
    let options = SessionOptions::default().max_attempts(50);
    Sessions::new(store, secret, options, supervisor)
}

/// A child: a no-op unless started by the parent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn child_writes_its_keys() {
    let (Ok(dir), Ok(name)) = (std::env::var(DIR_ENV), std::env::var(NAME_ENV)) else {
        return;
    };
    let supervisor = Supervisor::new();
    let sessions = sessions(dir.as_ref(), &supervisor);
    let view = sessions
        .session(&BrowserId::parse(BROWSER).unwrap(), None)
        .view(&View::new("v"));
    // Sequential writes: each is its own commit, so the two processes interleave
    // as many commits as possible.
    for i in 0..WRITES {
        view.put(&format!("{name}-{i}"), &i)
            .await
            .expect("write failed");
    }
    supervisor.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_sharing_a_directory_lose_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let children: Vec<_> = ["p1", "p2"]
        .into_iter()
        .map(|name| {
            Command::new(std::env::current_exe().unwrap())
                .args(["--exact", "child_writes_its_keys", "--test-threads=1"])
                .env(DIR_ENV, dir.path())
                .env(NAME_ENV, name)
                .stdout(Stdio::null())
                .spawn()
                .expect("starting a child")
        })
        .collect();
    for mut child in children {
        assert!(child.wait().unwrap().success(), "a child failed");
    }
    let supervisor = Supervisor::new();
    let sessions = sessions(dir.path(), &supervisor);
    let state = sessions
        .session(&BrowserId::parse(BROWSER).unwrap(), None)
        .view(&View::new("v"))
        .load()
        .await
        .unwrap();
    for name in ["p1", "p2"] {
        for i in 0..WRITES {
            assert_eq!(
                state.get_or(&format!("{name}-{i}"), usize::MAX).unwrap(),
                i,
                "{name}-{i} lost"
            );
        }
    }
    let doc = sessions
        .session(&BrowserId::parse(BROWSER).unwrap(), None)
        .load()
        .await
        .unwrap()
        .unwrap();
    assert_eq!(doc.rev, 2 * WRITES as u64, "one commit per write");
}
