//! The count of live rooms behind [`RoomOptions::max_rooms`] on Redis.
//!
//! Sorted sets hold the meta key of every room started under a key prefix,
//! scored by when the room was last seen alive (Redis time, ms). So that no
//! single key takes every room start (one hot slot on a Redis Cluster), a
//! large limit is split over [`shards`] sets, `{prefix}rooms:{i}` (the `{i}`
//! a hash tag, so the sets spread over the cluster's slots); a room belongs to
//! the set its meta key hashes to, and each set admits its share of the limit.
//! Small limits (below two shares) keep one set, `{prefix}rooms`, and an exact
//! count. The accounting: the limit is never exceeded (each set's share is
//! checked atomically by Redis, and the shares add up to the limit); with
//! several sets a start is refused once its own set is full, which, rooms
//! hashing evenly, happens at a few percent below `max_rooms`.
//!
//! Rooms leave Redis by key expiry, which tells no one, so a set is cleaned
//! lazily: only when it is full are its stalest entries checked against their
//! rooms' meta keys, dead ones removed and live ones moved to the back. Starts
//! are rare (a room starts once per life), so the extra round trip costs
//! little, and a full set costs at most [`MAX_PRUNE_BATCHES`] batches of
//! checks per refused start.
//!
//! Every command touches one key (a set, or one room's meta key), so this works
//! on Redis Cluster, where a room's own keys share one slot but the sets do not.
//!
//! [`RoomOptions::max_rooms`]: hyperstate::room::RoomOptions::max_rooms

use std::sync::LazyLock;

use hyperstate::{Error, Result};
use redis::Script;

use futures_util::future::try_join_all;

use crate::connection::Connection;
use crate::error::backend_error;
use crate::room_keys::corrupt;

/// Entries checked per batch when the registry is full.
const PRUNE_BATCH: isize = 128;
/// Batches one refused start may check before giving up: a bound on the work
/// that a flood of starts at the limit can cause.
const MAX_PRUNE_BATCHES: usize = 8;
/// How long a registered room is counted before it may be found dead: longer
/// than the gap between registering it and creating its keys (one command, at
/// most the response timeout).
const GRACE_MS: u64 = 5_000;

/// Registers room `ARGV[1]` unless that would make more than `ARGV[2]` rooms
/// in set `KEYS[1]`.
/// A room already registered (restarting after it expired) is just re-scored.
static ADMIT: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if redis.call('ZSCORE', KEYS[1], ARGV[1]) or redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[2]) then
  redis.call('ZADD', KEYS[1], now, ARGV[1])
  return 'ok'
end
return 'full'
"#,
    )
});

/// Applies a batch of checks: ARGV holds (member, score when read, alive 0/1)
/// triples. A live room's entry is re-scored. A dead room's entry is removed
/// only if its score is unchanged (the room did not restart since the check)
/// and older than [`GRACE_MS`]: a node registers a room one round trip before
/// it creates the room's keys, and that room must not be taken for dead.
/// Answers how many entries were removed.
static PRUNE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(&format!(
        "local GRACE_MS = {GRACE_MS}{}",
        r#"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local removed = 0
for i = 1, #ARGV, 3 do
  if ARGV[i + 2] == '1' then
    redis.call('ZADD', KEYS[1], 'XX', now, ARGV[i])
  elseif redis.call('ZSCORE', KEYS[1], ARGV[i]) == ARGV[i + 1]
    and tonumber(ARGV[i + 1]) < now - GRACE_MS then
    removed = removed + redis.call('ZREM', KEYS[1], ARGV[i])
  end
end
return removed
"#,
    ))
});

/// Rooms per set below which the registry keeps one set (an exact count).
const SHARE: usize = 1024;
/// The most sets the limit is split over.
const MAX_SHARDS: usize = 64;

/// How many sets a limit of `limit` rooms is split over.
pub(crate) fn shards(limit: usize) -> usize {
    (limit / SHARE).clamp(1, MAX_SHARDS)
}

/// The live-room registry of one key prefix.
#[derive(Debug)]
pub(crate) struct RoomRegistry {
    /// One (key, share of the limit) per set.
    sets: Vec<(String, usize)>,
    limit: usize,
}

impl RoomRegistry {
    pub(crate) fn new(prefix: &str, limit: usize) -> Self {
        let n = shards(limit);
        let sets = if n == 1 {
            vec![(format!("{prefix}rooms"), limit)]
        } else {
            (0..n)
                .map(|i| {
                    let share = limit / n + usize::from(i < limit % n);
                    (format!("{prefix}rooms:{{{i}}}"), share)
                })
                .collect()
        };
        RoomRegistry { sets, limit }
    }

    /// The set (key and share) that room meta key `meta` belongs to: FNV-1a
    /// of the key, so every node picks the same one.
    fn set_of(&self, meta: &str) -> (&str, usize) {
        let hash = meta.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
        });
        let (key, share) = &self.sets[(hash % self.sets.len() as u64) as usize];
        (key, *share)
    }

    /// Counts the room with meta key `meta` as live, or fails with
    /// [`Error::TooManyRooms`] when the limit is reached by rooms still alive.
    pub(crate) async fn admit(&self, conn: &mut Connection, meta: &str) -> Result<()> {
        let (key, share) = self.set_of(meta);
        let mut batches = 0;
        loop {
            let verdict: String = ADMIT
                .key(key)
                .arg(meta)
                .arg(share)
                .invoke_async(conn)
                .await
                .map_err(|err| backend_error("start", err))?;
            match verdict.as_str() {
                "ok" => return Ok(()),
                "full" => {}
                _ => return Err(corrupt("start", "unknown registry verdict")),
            }
            if batches == MAX_PRUNE_BATCHES || !prune(conn, key).await? {
                break;
            }
            batches += 1;
        }
        Err(Error::TooManyRooms { limit: self.limit })
    }
}

/// Checks the stalest batch of entries of set `key`; returns whether any was
/// removed or there are more to check (the live ones checked move to the back).
async fn prune(conn: &mut Connection, key: &str) -> Result<bool> {
    let entries: Vec<(String, String)> = redis::cmd("ZRANGE")
        .arg(key)
        .arg(0)
        .arg(PRUNE_BATCH - 1)
        .arg("WITHSCORES")
        .query_async(conn)
        .await
        .map_err(|err| backend_error("start", err))?;
    if entries.is_empty() {
        return Ok(false);
    }
    // One command per meta key, sent together: the rooms live in different
    // slots, which one pipeline cannot span on a cluster.
    let alive: Vec<bool> = try_join_all(entries.iter().map(|(meta, _)| {
        let mut conn = conn.clone();
        async move {
            redis::cmd("EXISTS")
                .arg(meta)
                .query_async::<bool>(&mut conn)
                .await
        }
    }))
    .await
    .map_err(|err| backend_error("start", err))?;
    let mut prune = PRUNE.prepare_invoke();
    prune.key(key);
    for ((meta, score), alive) in entries.iter().zip(&alive) {
        prune
            .arg(meta)
            .arg(score)
            .arg(if *alive { "1" } else { "0" });
    }
    let removed: usize = prune
        .invoke_async(conn)
        .await
        .map_err(|err| backend_error("start", err))?;
    Ok(removed > 0 || entries.len() as isize == PRUNE_BATCH)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_limits_keep_one_exact_set() {
        let registry = RoomRegistry::new("hs:", 2_047);
        assert_eq!(registry.sets, [("hs:rooms".to_owned(), 2_047)]);
    }

    #[test]
    fn large_limits_split_into_hash_tagged_shares_that_add_up_to_the_limit() {
        for limit in [2_048, 100_000, 100_003, 10_000_000] {
            let registry = RoomRegistry::new("hs:", limit);
            assert_eq!(registry.sets.len(), shards(limit));
            assert!(registry.sets.len() > 1 && registry.sets.len() <= MAX_SHARDS);
            assert_eq!(registry.sets.iter().map(|(_, s)| s).sum::<usize>(), limit);
            for (i, (key, _)) in registry.sets.iter().enumerate() {
                assert_eq!(key, &format!("hs:rooms:{{{i}}}"));
            }
        }
    }

    #[test]
    fn rooms_spread_over_every_set() {
        let registry = RoomRegistry::new("hs:", 100_000);
        let mut hits = vec![0usize; registry.sets.len()];
        for i in 0..10_000 {
            let (key, _) = registry.set_of(&format!("hs:room:{{room-{i}}}:meta"));
            hits[registry.sets.iter().position(|(k, _)| k == key).unwrap()] += 1;
        }
        assert!(hits.iter().all(|&n| n > 0), "{hits:?}");
    }
}
