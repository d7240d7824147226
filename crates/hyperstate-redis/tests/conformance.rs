//! The shared conformance suite against a real Redis.
//!
//! The server comes from `HYPERSTATE_REDIS_URL` (scripts/test starts one on a free
//! port). Without it the cases skip loudly, except under `CI=true`, where a missing
//! Redis fails them.

use std::sync::Arc;

use hyperstate::page::{PageOptions, PageStore};
use hyperstate_redis::{Redis, RedisOptions, RedisPageStore};

fn redis_url() -> Option<String> {
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

/// Builds a store on a fresh connection for each case (each case runs on its own
/// runtime, and a connection belongs to the runtime that made it).
fn redis_page_store(options: PageOptions) -> Arc<dyn PageStore> {
    let url = redis_url().expect("checked by the skip guard");
    // Connecting is async but the factory is not: connect on this runtime's thread.
    let redis = tokio::task::block_in_place(|| {
        tokio::runtime::Handle::current().block_on(Redis::connect(&url, RedisOptions::default()))
    })
    .expect("connecting to Redis");
    Arc::new(RedisPageStore::new(redis, options))
}

mod page {
    use super::*;
    hyperstate_conformance::page_store_suite!(
        redis_page_store,
        time = real,
        skip_unless = redis_url().is_some()
    );
}
