//! The shared conformance suite against a real 3-primary Redis Cluster: page
//! and room scripts run unchanged there (every key of a page or room shares one
//! slot), rooms fan out on sharded pub/sub, and the room registry spreads over
//! slots.
//!
//! The cluster comes from `HYPERSTATE_REDIS_CLUSTER_URL` (scripts/test starts
//! one, scripts/services/redis_cluster.sh). Without it the cases skip loudly,
//! except under `CI=true`, where a missing cluster fails them.

use std::sync::Arc;

use hyperstate::page::{PageOptions, PageStore};
use hyperstate::room::{RoomOptions, RoomStore};
use hyperstate_conformance::services::redis_cluster_url;
use hyperstate_redis::{Redis, RedisOptions, RedisPageStore, RedisRoomStore};

/// Connects to the cluster through one seed node, on this case's runtime.
fn connect() -> Redis {
    let url = redis_cluster_url().expect("checked by the skip guard");
    let redis = tokio::task::block_in_place(|| {
        tokio::runtime::Handle::current().block_on(Redis::connect(&url, RedisOptions::default()))
    })
    .expect("connecting to the Redis Cluster");
    assert!(
        redis.is_cluster(),
        "a cluster seed must be detected as a cluster"
    );
    redis
}

fn cluster_page_store(options: PageOptions) -> Arc<dyn PageStore> {
    Arc::new(RedisPageStore::new(connect(), options))
}

fn cluster_room_store(options: RoomOptions) -> Arc<dyn RoomStore> {
    Arc::new(RedisRoomStore::new(connect(), options))
}

mod page {
    use super::*;
    hyperstate_conformance::page_store_suite!(
        cluster_page_store,
        time = real,
        skip_unless = redis_cluster_url().is_some()
    );
}

mod room {
    use super::*;
    hyperstate_conformance::room_store_suite!(
        cluster_room_store,
        time = real,
        skip_unless = redis_cluster_url().is_some()
    );
}
