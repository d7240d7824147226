//! [`RedisRevisionRegister`]: sessions cached on every node, coherent through
//! Redis.
//!
//! Per session one small hash, `{prefix}rev:{session key}`, holds the revision
//! and etag of the session's last commit (`r`, `e`). A commit records itself
//! after the document store accepted it and before it is acknowledged; a read
//! asks for the record (one `HMGET`) and uses the node's cached copy only when
//! it is exactly that revision. Recording is one Lua script that compares the
//! revisions, so a commit delayed between its PUT and its record can never move
//! the record back over a later one. Records expire after
//! [`RedisRevisionRegister::record_ttl`] (refreshed by every commit); an
//! expired record only sends reads to the store.
//!
//! The session sweep is leased through `{prefix}lease:session-sweep`
//! (`SET NX PX` for the sweep interval), so one node per interval lists the
//! store instead of every node.

use std::sync::LazyLock;
use std::time::Duration;

use async_trait::async_trait;
use redis::Script;

use hyperstate::Result;
use hyperstate::session::{Etag, Revision, RevisionRegister, SessionCoherence, SessionKey};

use crate::Redis;
use crate::error::backend_error;

/// Records `ARGV[1]` (rev) and `ARGV[2]` (etag) unless a higher rev is
/// recorded; refreshes the TTL (`ARGV[3]`, ms). Returns 1 if recorded.
static RECORD: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
local current = redis.call('HGET', KEYS[1], 'r')
if current and tonumber(current) > tonumber(ARGV[1]) then return 0 end
redis.call('HSET', KEYS[1], 'r', ARGV[1], 'e', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
"#,
    )
});

/// The shared record of every session's latest revision, in Redis. Cheap to
/// clone.
///
/// ```no_run
/// # async fn run() -> Result<(), hyperstate::Error> {
/// use hyperstate_redis::{Redis, RedisRevisionRegister};
///
/// let redis = Redis::connect("redis://127.0.0.1:6379", Default::default()).await?;
/// let coherence = RedisRevisionRegister::new(redis).coherence();
/// // Sessions::with_coherence(store, secret, options, coherence, &supervisor)
/// # let _ = coherence; Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct RedisRevisionRegister {
    redis: Redis,
    record_ttl: Duration,
}

impl RedisRevisionRegister {
    /// The register on `redis`, with records kept for 31 days (longer than the
    /// default session TTL).
    pub fn new(redis: Redis) -> Self {
        RedisRevisionRegister {
            redis,
            record_ttl: Duration::from_secs(31 * 24 * 60 * 60),
        }
    }

    /// How long a session's record outlives its last commit. Keep it longer
    /// than the session TTL: a record that expires only costs store reads,
    /// but while it is gone nothing stops a commit delayed by that long from
    /// recording an older revision.
    pub fn record_ttl(mut self, ttl: Duration) -> Self {
        self.record_ttl = ttl;
        self
    }

    /// [`SessionCoherence::Shared`] through this register.
    pub fn coherence(self) -> SessionCoherence {
        SessionCoherence::Shared(std::sync::Arc::new(self))
    }

    fn key(&self, key: &SessionKey) -> String {
        self.redis.key("rev", key)
    }
}

#[async_trait]
impl RevisionRegister for RedisRevisionRegister {
    fn backend_name(&self) -> &'static str {
        "redis"
    }

    async fn latest(&self, key: &SessionKey) -> Result<Option<Revision>> {
        let mut conn = self.redis.manager.clone();
        let (rev, etag): (Option<u64>, Option<String>) = redis::cmd("HMGET")
            .arg(self.key(key))
            .arg("r")
            .arg("e")
            .query_async(&mut conn)
            .await
            .map_err(|err| backend_error("session revision", err))?;
        Ok(rev.zip(etag).map(|(rev, etag)| Revision {
            rev,
            etag: Etag(etag),
        }))
    }

    async fn record(&self, key: &SessionKey, revision: &Revision) -> Result<()> {
        let mut conn = self.redis.manager.clone();
        let ttl_ms = u64::try_from(self.record_ttl.as_millis()).unwrap_or(u64::MAX);
        RECORD
            .key(self.key(key))
            .arg(revision.rev)
            .arg(&revision.etag.0)
            .arg(ttl_ms.max(1))
            .invoke_async::<i64>(&mut conn)
            .await
            .map(drop)
            .map_err(|err| backend_error("record session revision", err))
    }

    async fn lease(&self, task: &str, period: Duration) -> Result<bool> {
        let mut conn = self.redis.manager.clone();
        let period_ms = u64::try_from(period.as_millis()).unwrap_or(u64::MAX);
        let granted: Option<String> = redis::cmd("SET")
            .arg(self.redis.key("lease", &task))
            .arg(1)
            .arg("NX")
            .arg("PX")
            .arg(period_ms.max(1))
            .query_async(&mut conn)
            .await
            .map_err(|err| backend_error("lease", err))?;
        Ok(granted.is_some())
    }

    async fn forget(&self, key: &SessionKey) -> Result<()> {
        let mut conn = self.redis.manager.clone();
        redis::cmd("DEL")
            .arg(self.key(key))
            .query_async::<i64>(&mut conn)
            .await
            .map(drop)
            .map_err(|err| backend_error("forget session revision", err))
    }
}
