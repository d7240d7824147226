//! Page state in Redis.

use std::hash::{BuildHasher, RandomState};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use hyperstate::page::{PageKey, PageOptions, PageStore, UpdateFn};
use hyperstate::{Error, Result};
use redis::Script;

use crate::connection::{Redis, backend_error};
use crate::scripts;

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
    jitter: RandomState,
    /// `hyperstate_cas_conflicts_total{scope="page", backend="redis"}`.
    conflicts: metrics::Counter,
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
            jitter: RandomState::new(),
            conflicts: hyperstate::observe::cas_conflicts("page", "redis"),
        }
    }

    fn key(&self, page: &PageKey) -> String {
        self.redis.key("page", page)
    }

    /// Runs a write script (PUT or CAS) and maps its verdict to the limit errors.
    /// Returns false on a CAS conflict.
    async fn write(
        &self,
        script: &Script,
        page: &PageKey,
        key: &str,
        value: &[u8],
        expected: Option<Option<&[u8]>>,
    ) -> Result<bool> {
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
        let (verdict, n): (String, i64) = invocation
            .invoke_async(&mut conn)
            .await
            .map_err(|err| backend_error("put", err))?;
        match verdict.as_str() {
            "ok" => Ok(true),
            "conflict" => Ok(false),
            "keys" => Err(Error::TooManyKeys {
                scope: "page",
                limit: limits.max_keys,
            }),
            "bytes" => Err(Error::ScopeTooLarge {
                scope: "page",
                size: usize::try_from(n).unwrap_or(usize::MAX),
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
        scripts::GET
            .key(self.key(page))
            .arg(key)
            .arg(self.ttl_ms)
            .invoke_async(&mut conn)
            .await
            .map_err(|err| backend_error("get", err))
    }

    async fn put(&self, page: &PageKey, key: &str, value: Vec<u8>) -> Result<()> {
        self.write(&scripts::PUT, page, key, &value, None)
            .await
            .map(drop)
    }

    async fn update(&self, page: &PageKey, key: &str, f: UpdateFn<'_>) -> Result<Vec<u8>> {
        let stripe = page.as_bytes()[0] as usize % UPDATE_LOCK_STRIPES;
        let _turn = self.update_locks[stripe].lock().await;
        for attempt in 0..MAX_UPDATE_ATTEMPTS {
            let current = self.get(page, key).await?;
            let new = f(current.as_deref())?;
            let expected = Some(current.as_deref());
            if self
                .write(&scripts::COMPARE_AND_SET, page, key, &new, expected)
                .await?
            {
                return Ok(new);
            }
            self.conflicts.increment(1);
            // A writer on another node won. Back off (exponentially, with jitter so
            // two nodes do not retry in lockstep) before reading again.
            let base = 1u64 << attempt.min(5); // 1, 2, 4 ... 32 ms
            let jitter = self.jitter.hash_one((page, attempt)) % base.max(1);
            tokio::time::sleep(Duration::from_millis(base + jitter)).await;
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
