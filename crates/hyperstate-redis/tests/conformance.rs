//! The shared conformance suite against a real Redis.
//!
//! The server comes from `HYPERSTATE_REDIS_URL` (scripts/test starts one on a free
//! port). Without it the cases skip loudly, except under `CI=true`, where a missing
//! Redis fails them.

use std::sync::Arc;

use hyperstate::page::{PageOptions, PageStore};
use hyperstate::room::{RoomOptions, RoomStore};
use hyperstate_conformance::services::redis_url;
use hyperstate_redis::{Redis, RedisOptions, RedisPageStore, RedisRoomStore};

/// Builds a store on a fresh connection for each case (each case runs on its own
/// runtime, and a connection belongs to the runtime that made it).
fn connect() -> Redis {
    let url = redis_url().expect("checked by the skip guard");
    // Connecting is async but the factories are not: connect on this runtime's thread.
    tokio::task::block_in_place(|| {
        tokio::runtime::Handle::current().block_on(Redis::connect(&url, RedisOptions::default()))
    })
    .expect("connecting to Redis")
}

fn redis_page_store(options: PageOptions) -> Arc<dyn PageStore> {
    Arc::new(RedisPageStore::new(connect(), options))
}

/// Room cases run with `time = real`: Redis expires idle rooms on its own clock.
fn redis_room_store(options: RoomOptions) -> Arc<dyn RoomStore> {
    Arc::new(RedisRoomStore::new(connect(), options))
}

mod page {
    use super::*;
    hyperstate_conformance::page_store_suite!(
        redis_page_store,
        time = real,
        skip_unless = redis_url().is_some()
    );
}

mod room {
    use super::*;
    hyperstate_conformance::room_store_suite!(
        redis_room_store,
        time = real,
        skip_unless = redis_url().is_some()
    );
}
