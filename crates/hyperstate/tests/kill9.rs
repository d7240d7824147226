//! Durability under `kill -9`: every acknowledged write survives the process.
//!
//! The test re-runs this very test binary as a child (selecting
//! `child_writes_until_killed` with an environment variable naming the data
//! directory). The child writes to one session on the filesystem backend from
//! several tasks and prints `ack <key>` after each write returns. The parent
//! reads those lines, kills the child with SIGKILL in the middle of the stream,
//! then opens the directory afresh and checks every acknowledged key.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use hyperstate::fs::FsDocumentStore;
use hyperstate::session::{SessionOptions, SessionSecret, Sessions, View};
use hyperstate::{BrowserId, Supervisor};

const CHILD_ENV: &str = "HYPERSTATE_KILL9_CHILD_DIR";
const BROWSER: &str = "a2lsbC05LWJyb3dzZXItaQ";
const TASKS: usize = 4;
/// The parent kills the child after seeing this many acks.
const KILL_AFTER: usize = 150;

fn sessions(dir: &std::path::Path, supervisor: &Supervisor) -> Sessions {
    let store = Arc::new(FsDocumentStore::open(dir).expect("opening the store"));
    let secret = SessionSecret::from_bytes([9u8; 32]).unwrap();
    Sessions::new(store, secret, SessionOptions::default(), supervisor)
}

/// The child: a no-op unless started by the parent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn child_writes_until_killed() {
    let Ok(dir) = std::env::var(CHILD_ENV) else {
        return;
    };
    let supervisor = Supervisor::new();
    let sessions = sessions(dir.as_ref(), &supervisor);
    let browser = BrowserId::parse(BROWSER).unwrap();
    let view = sessions.session(&browser, None).view(&View::new("v"));
    let mut tasks = tokio::task::JoinSet::new();
    for task in 0..TASKS {
        let view = view.clone();
        tasks.spawn(async move {
            // Bounded so a child the parent failed to kill still stops by itself.
            for i in 0..100_000 {
                let key = format!("t{task}-{i}");
                view.put(&key, &i).await.expect("write failed");
                println!("ack {key}");
            }
        });
    }
    tasks.join_all().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_survive_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "child_writes_until_killed",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("starting the child");
    let stdout = child.stdout.take().unwrap();
    let mut acked = Vec::new();
    for line in BufReader::new(stdout).lines() {
        let line = line.expect("reading the child's output");
        if let Some(key) = line.strip_prefix("ack ") {
            acked.push(key.to_owned());
            if acked.len() == KILL_AFTER {
                // `Child::kill` is SIGKILL on Unix: no destructor, no flush, no shutdown.
                child.kill().expect("killing the child");
                break;
            }
        }
    }
    child.wait().unwrap();
    assert_eq!(
        acked.len(),
        KILL_AFTER,
        "the child stopped before it was killed"
    );

    let supervisor = Supervisor::new();
    let sessions = sessions(dir.path(), &supervisor);
    let browser = BrowserId::parse(BROWSER).unwrap();
    let state = sessions
        .session(&browser, None)
        .view(&View::new("v"))
        .load()
        .await
        .unwrap();
    let missing: Vec<&String> = acked
        .iter()
        .filter(|key| state.get_or::<Option<u64>>(key, None).unwrap().is_none())
        .collect();
    assert!(missing.is_empty(), "acknowledged but lost: {missing:?}");
    // The child was killed mid-stream: the store is still usable afterwards.
    let view = sessions.session(&browser, None).view(&View::new("v"));
    view.put("after", &1).await.unwrap();
    assert_eq!(view.get_or("after", 0).await.unwrap(), 1);
    tokio::time::timeout(Duration::from_secs(30), supervisor.shutdown())
        .await
        .unwrap();
}
