//! The external servers tests run against, and the skip rule every test that
//! needs one follows: without the server a test skips loudly, except under
//! `CI=true`, where a missing server fails it.

/// The Redis to test against (`HYPERSTATE_REDIS_URL`, set by
/// `scripts/services/redis.sh`); `None` (after a loud `SKIPPED` line) when it
/// is not set. Panics when it is not set and `CI=true`.
pub fn redis_url() -> Option<String> {
    match std::env::var("HYPERSTATE_REDIS_URL") {
        Ok(url) => Some(url),
        Err(_) if std::env::var("CI").as_deref() == Ok("true") => {
            panic!("HYPERSTATE_REDIS_URL is not set and CI=true: Redis must run in CI")
        }
        Err(_) => {
            eprintln!(
                "SKIPPED: HYPERSTATE_REDIS_URL is not set \
                 (source scripts/services/redis.sh && start_redis, or run ./scripts/test)"
            );
            None
        }
    }
}

/// The Redis Cluster to test against (`HYPERSTATE_REDIS_CLUSTER_URL`, one seed
/// node, set by `scripts/services/redis_cluster.sh`); `None` (after a loud
/// `SKIPPED` line) when it is not set. Panics when it is not set and `CI=true`.
pub fn redis_cluster_url() -> Option<String> {
    match std::env::var("HYPERSTATE_REDIS_CLUSTER_URL") {
        Ok(url) => Some(url),
        Err(_) if std::env::var("CI").as_deref() == Ok("true") => {
            panic!(
                "HYPERSTATE_REDIS_CLUSTER_URL is not set and CI=true: a Redis Cluster must run in CI"
            )
        }
        Err(_) => {
            eprintln!(
                "SKIPPED: HYPERSTATE_REDIS_CLUSTER_URL is not set \
                 (source scripts/services/redis_cluster.sh && start_redis_cluster, or run ./scripts/test)"
            );
            None
        }
    }
}
