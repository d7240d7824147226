//! Whether the session store can serve: a read probe on every check, and a
//! write probe at most once per [`SessionOptions::write_probe_interval`].
//!
//! A read alone says a full disk or a read-only mount is healthy, since reads
//! still work there, while every write fails. A write probe says the truth but
//! costs a PUT (and, on the file system, fsyncs), so its verdict is kept for an
//! interval: a flood of health checks makes one probe per interval, and the
//! checks that arrive while it runs wait for it and share its verdict.
//!
//! [`SessionOptions::write_probe_interval`]: super::SessionOptions::write_probe_interval

use tokio::sync::Mutex;
use tokio::time::Instant;

use super::SessionKey;
use super::store::DocumentStore;
use crate::{Error, Result};

/// The last write probe: when it ran and what it found (the error as text, so
/// that every later check can report it).
#[derive(Debug, Default)]
pub(crate) struct WriteProbe {
    last: Mutex<Option<(Instant, std::result::Result<(), String>)>>,
}

impl WriteProbe {
    /// Checks that `store` answers reads and, as of at most `interval` ago, takes writes.
    pub(crate) async fn check(
        &self,
        store: &dyn DocumentStore,
        interval: std::time::Duration,
    ) -> Result<()> {
        // A key no browser has: cheap, and the store must answer it.
        store.get(&SessionKey::random()).await?;
        let mut last = self.last.lock().await;
        let verdict = match &*last {
            Some((at, verdict)) if at.elapsed() < interval => verdict.clone(),
            _ => {
                let verdict = store.check_writable().await.map_err(|err| describe(&err));
                *last = Some((Instant::now(), verdict.clone()));
                verdict
            }
        };
        verdict.map_err(|message| Error::backend(store.backend_name(), "write probe", message))
    }
}

/// The error and its sources, on one line.
fn describe(err: &Error) -> String {
    let mut text = err.to_string();
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
