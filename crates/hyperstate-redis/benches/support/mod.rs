//! What every Redis benchmark starts with: the server to run against, and
//! whether this is a smoke run.

/// Whether to do a tiny run: `--quick`, or `--test` (what `scripts/bench --quick`
/// passes to every bench).
pub(crate) fn quick() -> bool {
    std::env::args().any(|a| a == "--quick" || a == "--test")
}

/// `HYPERSTATE_REDIS_URL`; `None` (after saying so) when it is unset outside CI.
pub(crate) fn redis_url() -> Option<String> {
    let Ok(url) = std::env::var("HYPERSTATE_REDIS_URL") else {
        assert_ne!(
            std::env::var("CI").as_deref(),
            Ok("true"),
            "HYPERSTATE_REDIS_URL must be set in CI"
        );
        eprintln!("SKIPPED: HYPERSTATE_REDIS_URL is not set");
        return None;
    };
    Some(url)
}
