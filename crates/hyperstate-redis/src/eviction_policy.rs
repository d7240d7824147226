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

use crate::error::backend_error;
use redis::Value;

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
/// with `noeviction` or `allowed` is set. On a Redis Cluster `INFO` goes to
/// every primary, and each must run with `noeviction`.
pub(crate) async fn check(
    conn: &mut (impl redis::aio::ConnectionLike + Send),
    allowed: bool,
) -> Result<()> {
    if allowed {
        return Ok(());
    }
    let info: Value = redis::cmd("INFO")
        .arg("memory")
        .query_async(conn)
        .await
        .map_err(|err| backend_error("connect", err))?;
    let mut texts = Vec::new();
    info_texts(&info, &mut texts);
    let evicting = texts.iter().find_map(|text| {
        text.lines()
            .find_map(|line| line.strip_prefix("maxmemory_policy:"))
            .map(str::trim)
            // Redis 6.2+ always reports it; something that does not (a proxy
            // answering INFO itself) is not Redis deciding evictions.
            .filter(|policy| *policy != SAFE_POLICY)
    });
    match evicting {
        None => Ok(()),
        Some(policy) => Err(Error::backend(
            "redis",
            "connect",
            EvictingPolicy {
                policy: policy.to_owned(),
            },
        )),
    }
}

/// The `INFO` texts in a reply: one server's text, or (from a cluster) a map
/// of each node's address to its text.
fn info_texts(value: &Value, texts: &mut Vec<String>) {
    match value {
        Value::BulkString(bytes) => texts.push(String::from_utf8_lossy(bytes).into_owned()),
        Value::SimpleString(text) | Value::VerbatimString { text, .. } => texts.push(text.clone()),
        Value::Map(pairs) => pairs.iter().for_each(|(_, v)| info_texts(v, texts)),
        Value::Array(values) => values.iter().for_each(|v| info_texts(v, texts)),
        _ => {}
    }
}
