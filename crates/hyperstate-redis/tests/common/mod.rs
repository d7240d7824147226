//! What the tests against a shared Redis start with.

#![allow(dead_code, unreachable_pub)] // each test binary uses part of it

/// `HYPERSTATE_REDIS_URL` (scripts/test starts a Redis and sets it). Without it
/// this says so and answers `None`, except under `CI=true`, where it panics.
pub fn redis_url() -> Option<String> {
    match std::env::var("HYPERSTATE_REDIS_URL") {
        Ok(url) => Some(url),
        Err(_) if std::env::var("CI").as_deref() == Ok("true") => {
            panic!("HYPERSTATE_REDIS_URL is not set and CI=true: Redis must run in CI")
        }
        Err(_) => {
            eprintln!(
                "SKIPPED: HYPERSTATE_REDIS_URL is not set (run ./scripts/test to start Redis)"
            );
            None
        }
    }
}
