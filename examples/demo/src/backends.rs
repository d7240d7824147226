//! The shared backends `--redis` selects, built in one place so the binary and
//! the tests run the same setup.

use hyperstate_axum::hyperstate;
use std::sync::Arc;

use hyperstate::page::{PageOptions, PageStore};
use hyperstate::room::{RoomOptions, RoomStore};
use hyperstate::session::SessionCoherence;
use hyperstate_redis::{
    Redis, RedisOptions, RedisPageStore, RedisRevisionRegister, RedisRoomStore,
};

/// Page and room state on the Redis at `url`, sharing one connection.
pub async fn redis_backends(
    url: &str,
    options: RedisOptions,
) -> hyperstate::Result<(Arc<dyn PageStore>, Arc<dyn RoomStore>)> {
    let redis = Redis::connect(url, options).await?;
    let rooms = Arc::new(RedisRoomStore::new(redis.clone(), RoomOptions::default()));
    let pages = Arc::new(RedisPageStore::new(redis, PageOptions::default()));
    Ok((pages, rooms))
}

/// Session caches coherent through the Redis at `url`: every node's cache
/// answers a read only when Redis says it holds the latest revision.
pub async fn redis_session_coherence(
    url: &str,
    options: RedisOptions,
) -> hyperstate::Result<SessionCoherence> {
    let redis = Redis::connect(url, options).await?;
    Ok(RedisRevisionRegister::new(redis).coherence())
}
