//! Repeated errors, logged in full once per interval.
//!
//! A backend that is down fails every request the same way. Logging each
//! failure in full (a WARN from the operation, an ERROR from the response:
//! about 520 bytes a request) turns a flood of requests into a flood of log
//! that fills disks and buries the first, useful line. So each call site keeps
//! a [`RepeatedErrors`]: the first error of a kind in an interval is logged in
//! full, the rest of that interval are only counted, and the next error of the
//! kind after the interval first reports the count in one line (`N similar
//! errors suppressed in the last S s`). A kind is a few fixed labels (scope,
//! operation, backend, error kind), never an id, so the table stays small.
//!
//! ```
//! use std::time::Duration;
//! use hyperstate::log_limit::RepeatedErrors;
//!
//! static FAILURES: RepeatedErrors = RepeatedErrors::new(Duration::from_secs(10));
//!
//! fn on_failure(backend: &'static str, err: &dyn std::error::Error) {
//!     if FAILURES.should_log(["fetch", backend, "", ""]) {
//!         tracing::warn!(backend, error = %err, "fetch failed");
//!     }
//! }
//! # on_failure("s3", &std::io::Error::other("down"));
//! ```

use std::collections::BTreeMap;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

/// How long the call sites of hyperstate count repeats of one error kind
/// before logging one in full again.
pub const INTERVAL: Duration = Duration::from_secs(10);

/// The labels that make two errors "similar".
pub type Kind = [&'static str; 4];

/// Decides which errors of a call site are logged; see the [module docs](self).
#[derive(Debug)]
pub struct RepeatedErrors {
    interval: Duration,
    windows: Mutex<BTreeMap<Kind, Window>>,
}

#[derive(Debug, Clone, Copy)]
struct Window {
    started: Instant,
    suppressed: u64,
}

impl RepeatedErrors {
    /// A limiter that logs one error of each kind per `interval`.
    pub const fn new(interval: Duration) -> Self {
        RepeatedErrors {
            interval,
            windows: Mutex::new(BTreeMap::new()),
        }
    }

    /// True when this error of `kind` is to be logged in full; false when it
    /// was only counted. Before returning true after a quiet-down, logs (at
    /// WARN) how many of the kind were suppressed in the interval before.
    pub fn should_log(&self, kind: Kind) -> bool {
        let now = Instant::now();
        let reported = {
            // Nothing panics while this is held; the table is valid regardless.
            let mut windows = self.windows.lock().unwrap_or_else(PoisonError::into_inner);
            match windows.get_mut(&kind) {
                Some(window) if now.duration_since(window.started) < self.interval => {
                    window.suppressed += 1;
                    return false;
                }
                Some(window) => {
                    let ended = *window;
                    *window = Window {
                        started: now,
                        suppressed: 0,
                    };
                    Some(ended)
                }
                None => {
                    windows.insert(
                        kind,
                        Window {
                            started: now,
                            suppressed: 0,
                        },
                    );
                    None
                }
            }
        };
        if let Some(ended) = reported.filter(|ended| ended.suppressed > 0) {
            let [first, second, third, fourth] = kind;
            tracing::warn!(
                kind = format_args!("{first} {second} {third} {fourth}"),
                suppressed = ended.suppressed,
                "{} similar errors suppressed in the last {} s",
                ended.suppressed,
                now.duration_since(ended.started).as_secs()
            );
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn one_in_full_per_interval_and_kind() {
        let limiter = RepeatedErrors::new(Duration::from_secs(10));
        let a = ["session", "write", "fs", "backend"];
        let b = ["session", "load", "fs", "backend"];
        assert!(limiter.should_log(a));
        assert!(limiter.should_log(b), "another kind has its own interval");
        for _ in 0..100 {
            assert!(!limiter.should_log(a));
        }
        tokio::time::advance(Duration::from_secs(10)).await;
        assert!(limiter.should_log(a));
        assert!(!limiter.should_log(a));
    }
}
