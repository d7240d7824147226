//! Refusing a Redis whose eviction policy would break rooms.
//!
//! A room is six keys (meta, state, members, log, attach counts, unused member
//! slots) that only make sense together, and Redis evicts keys one at a time:
//! under any evicting `maxmemory-policy` a room can lose its members but keep its
//! state, or keep its meta and lose its state, and then be served that way
//! (every hyperstate key has a TTL, so even the `volatile-*` policies reach
//! them). Under `noeviction` Redis refuses writes once full instead, and refuses
//! a script before its first write, so every room operation applies whole or not
//! at all; clients get a typed backend error (503) until memory frees up, as the
//! idle TTLs expire rooms and pages. So a connection checks the policy and
//! refuses any other, unless [`RedisOptions::allow_evicting_policy`] says the
//! operator accepts partial rooms.
//!
//! The policy is read from `INFO memory`, which managed Redis services that
//! rename or forbid `CONFIG` still answer.
//!
//! [`RedisOptions::allow_evicting_policy`]: crate::RedisOptions::allow_evicting_policy

use redis::aio::ConnectionManager;

use crate::connection::backend_error;
use hyperstate::{Error, Result};

/// The one policy under which Redis never drops part of a room.
const SAFE_POLICY: &str = "noeviction";

/// The connection was refused because Redis evicts keys under memory pressure.
#[derive(Debug, thiserror::Error)]
#[error(
    "Redis runs with maxmemory-policy {policy}, which can evict some keys of a room and keep \
     others, so a room could be served without its members or its state; set \
     `maxmemory-policy noeviction` (see docs/DEPLOYMENT.md), or accept partial rooms with \
     RedisOptions::allow_evicting_policy"
)]
#[non_exhaustive]
pub struct EvictingPolicy {
    /// The policy Redis reported.
    pub policy: String,
}

/// Fails with [`EvictingPolicy`] (inside [`Error::Backend`]) unless Redis runs
/// with `noeviction` or `allowed` is set.
pub(crate) async fn check(conn: &mut ConnectionManager, allowed: bool) -> Result<()> {
    if allowed {
        return Ok(());
    }
    let info: String = redis::cmd("INFO")
        .arg("memory")
        .query_async(conn)
        .await
        .map_err(|err| backend_error("connect", err))?;
    let policy = info
        .lines()
        .find_map(|line| line.strip_prefix("maxmemory_policy:"))
        .map(str::trim)
        // Redis 6.2+ always reports it; something that does not (a proxy
        // answering INFO itself) is not Redis deciding evictions.
        .unwrap_or(SAFE_POLICY);
    if policy == SAFE_POLICY {
        Ok(())
    } else {
        Err(Error::backend(
            "redis",
            "connect",
            EvictingPolicy {
                policy: policy.to_owned(),
            },
        ))
    }
}
