//! Page state in Redis.

use std::hash::{BuildHasher, RandomState};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use hyperstate::backend::UpdateFn;
use hyperstate::page::{PageKey, PageOptions, PageStore};
use hyperstate::{Error, Result};
use redis::Script;

use crate::connection::{Redis, backend_error};
use crate::scripts;
use hyperstate::backend::RecentValues;

/// How many conflicting concurrent updates one `update` call rides out before
/// failing. Each conflict means another writer succeeded, so the system as a whole
/// always makes progress; the bound only stops one caller from starving forever.
const MAX_UPDATE_ATTEMPTS: usize = 100;
/// Stripes of the local update locks (see [`RedisPageStore::update`]).
const UPDATE_LOCK_STRIPES: usize = 256;

/// An `update` lost the compare-and-set race more times than allowed.
#[derive(Debug, thiserror::Error)]
#[error("gave up after {attempts} conflicting concurrent updates of one key")]
struct TooMuchContention {
    attempts: usize,
}

/// Page state in Redis, shared by every node connected to the same Redis.
/// Cheap to clone.
#[derive(Debug, Clone)]
pub struct RedisPageStore {
    redis: Redis,
    options: PageOptions,
    ttl_ms: u64,
    /// Updates of one page on this node take turns (striped by page), so the
    /// compare-and-set only ever races writers on *other* nodes. Without this,
    /// a burst of concurrent updates of one key on one node would mostly fail
    /// their CAS and retry, round trip after round trip.
    update_locks: Arc<[tokio::sync::Mutex<()>]>,
    /// Values this node last saw, so most updates skip the read.
    recent: Arc<RecentValues>,
    jitter: RandomState,
    /// `hyperstate_cas_conflicts_total{scope="page", backend="redis"}`.
    conflicts: metrics::Counter,
}

/// What a write script did.
enum Written {
    Done,
    /// The compare-and-set found another value (`None`: the key was absent).
    Conflict(Option<Vec<u8>>),
}

impl RedisPageStore {
    /// A page store on `redis` with the given TTL and limits.
    pub fn new(redis: Redis, options: PageOptions) -> Self {
        RedisPageStore {
            ttl_ms: options.ttl.as_millis().max(1) as u64,
            redis,
            options,
            update_locks: (0..UPDATE_LOCK_STRIPES)
                .map(|_| tokio::sync::Mutex::new(()))
                .collect(),
            recent: Arc::new(RecentValues::new()),
            jitter: RandomState::new(),
            conflicts: hyperstate::backend::cas_conflicts("page", "redis"),
        }
    }

    fn key(&self, page: &PageKey) -> String {
        self.redis.key("page", page)
    }

    /// Runs a write script (PUT or CAS) and maps its verdict to the limit errors.
    async fn write(
        &self,
        script: &Script,
        page: &PageKey,
        key: &str,
        value: &[u8],
        expected: Option<Option<&[u8]>>,
    ) -> Result<Written> {
        let limits = &self.options.limits;
        let mut invocation = script.key(self.key(page));
        invocation
            .arg(key)
            .arg(value)
            .arg(self.ttl_ms)
            .arg(limits.max_keys)
            .arg(limits.max_bytes);
        if let Some(expected) = expected {
            invocation.arg(expected.unwrap_or_default());
        }
        let mut conn = self.redis.manager.clone();
        let (verdict, detail): (String, redis::Value) = invocation
            .invoke_async(&mut conn)
            .await
            .map_err(|err| backend_error("put", err))?;
        let number = || redis::from_redis_value::<i64>(detail.clone()).unwrap_or(i64::MAX);
        match verdict.as_str() {
            "ok" => Ok(Written::Done),
            "conflict" => {
                let current: Vec<u8> = redis::from_redis_value(detail.clone())
                    .map_err(|err| Error::backend("redis", "update", err.to_string()))?;
                Ok(Written::Conflict((!current.is_empty()).then_some(current)))
            }
            "keys" => Err(Error::TooManyKeys {
                scope: "page",
                limit: limits.max_keys,
            }),
            "bytes" => Err(Error::ScopeTooLarge {
                scope: "page",
                size: usize::try_from(number()).unwrap_or(usize::MAX),
                limit: limits.max_bytes,
            }),
            other => Err(Error::backend(
                "redis",
                "put",
                format!("unexpected script verdict {other:?}"),
            )),
        }
    }
}

#[async_trait]
impl PageStore for RedisPageStore {
    fn backend_name(&self) -> &'static str {
        "redis"
    }

    fn options(&self) -> &PageOptions {
        &self.options
    }

    async fn touch(&self, page: &PageKey) -> Result<bool> {
        let mut conn = self.redis.manager.clone();
        redis::cmd("PEXPIRE")
            .arg(self.key(page))
            .arg(self.ttl_ms)
            .query_async::<i64>(&mut conn)
            .await
            .map(|found| found == 1)
            .map_err(|err| backend_error("touch", err))
    }

    async fn get(&self, page: &PageKey, key: &str) -> Result<Option<Vec<u8>>> {
        let mut conn = self.redis.manager.clone();
        let value: Option<Vec<u8>> = scripts::GET
            .key(self.key(page))
            .arg(key)
            .arg(self.ttl_ms)
            .invoke_async(&mut conn)
            .await
            .map_err(|err| backend_error("get", err))?;
        self.recent.remember(page, key, value.as_deref());
        Ok(value)
    }

    async fn put(&self, page: &PageKey, key: &str, value: Vec<u8>) -> Result<()> {
        let written = self.write(&scripts::PUT, page, key, &value, None).await;
        match written {
            Ok(_) => self.recent.remember(page, key, Some(&value)),
            // A write whose reply was lost may or may not have landed.
            Err(_) => self.recent.forget(page, key),
        }
        written.map(drop)
    }

    /// One round trip when this node knows the current value (it wrote or
    /// read it last): the compare-and-set goes out at once. Otherwise, or when
    /// another node changed the key meanwhile, the script answers with the
    /// value it found, and the next attempt uses that: a conflict costs one
    /// more round trip, never a separate read.
    async fn update(&self, page: &PageKey, key: &str, f: UpdateFn<'_>) -> Result<Vec<u8>> {
        let stripe = page.as_bytes()[0] as usize % UPDATE_LOCK_STRIPES;
        let _turn = self.update_locks[stripe].lock().await;
        let mut current = match self.recent.get(page, key) {
            Some(known) => known,
            None => self.get(page, key).await?,
        };
        for attempt in 0..MAX_UPDATE_ATTEMPTS {
            let new = match f(current.as_deref()) {
                Ok(new) => new,
                Err(err) => {
                    // The closure may have judged a stale value: forget it.
                    self.recent.forget(page, key);
                    return Err(err);
                }
            };
            let expected = Some(current.as_deref());
            let written = self
                .write(&scripts::COMPARE_AND_SET, page, key, &new, expected)
                .await;
            match written {
                Ok(Written::Done) => {
                    self.recent.remember(page, key, Some(&new));
                    return Ok(new);
                }
                Ok(Written::Conflict(found)) => {
                    self.conflicts.increment(1);
                    current = found;
                }
                Err(err) => {
                    self.recent.forget(page, key);
                    return Err(err);
                }
            }
            if attempt > 0 {
                // Another writer won twice in a row: back off (exponentially,
                // with jitter so two nodes do not retry in lockstep). A first
                // conflict is usually this node's stale memory, not contention.
                let base = 1u64 << attempt.min(5); // 2, 4 ... 32 ms
                let jitter = self.jitter.hash_one((page, attempt)) % base;
                tokio::time::sleep(Duration::from_millis(base + jitter)).await;
            }
        }
        Err(Error::backend(
            "redis",
            "update",
            TooMuchContention {
                attempts: MAX_UPDATE_ATTEMPTS,
            },
        ))
    }

    async fn delete(&self, page: &PageKey, key: &str) -> Result<bool> {
        self.recent.forget(page, key);
        let mut conn = self.redis.manager.clone();
        scripts::DELETE
            .key(self.key(page))
            .arg(key)
            .arg(self.ttl_ms)
            .invoke_async::<i64>(&mut conn)
            .await
            .map(|removed| removed == 1)
            .map_err(|err| backend_error("delete", err))
    }

    async fn clear(&self, page: &PageKey) -> Result<()> {
        let mut conn = self.redis.manager.clone();
        redis::cmd("DEL")
            .arg(self.key(page))
            .query_async::<i64>(&mut conn)
            .await
            .map(drop)
            .map_err(|err| backend_error("clear", err))
    }

    async fn sweep(&self) -> Result<usize> {
        // Redis expires pages itself (PEXPIRE); nothing to sweep.
        Ok(0)
    }

    async fn check_health(&self) -> Result<()> {
        self.redis.ping().await
    }
}
