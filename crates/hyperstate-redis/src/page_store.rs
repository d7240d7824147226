//! Page state in Redis.

use std::sync::Arc;

use async_trait::async_trait;
use hyperstate::backend::{CasLoop, CompareAndSet, RecentValues, UpdateFn, Written};
use hyperstate::page::{PageKey, PageOptions, PageStore};
use hyperstate::{Error, Result};
use redis::Script;

use crate::connection::Redis;
use crate::error::backend_error;
use crate::scripts;

/// Page state in Redis, shared by every node connected to the same Redis.
/// Cheap to clone.
#[derive(Debug, Clone)]
pub struct RedisPageStore {
    redis: Redis,
    options: PageOptions,
    ttl_ms: u64,
    /// The compare-and-set loop of `update`: its turns per page, back-off and
    /// `hyperstate_cas_conflicts_total{scope="page", backend="redis"}`.
    cas: Arc<CasLoop>,
    /// Values this node last saw, so most updates skip the read.
    recent: Arc<RecentValues>,
}

impl RedisPageStore {
    /// A page store on `redis` with the given TTL and limits.
    pub fn new(redis: Redis, options: PageOptions) -> Self {
        RedisPageStore {
            ttl_ms: options.ttl.as_millis().max(1) as u64,
            redis,
            options,
            cas: Arc::new(CasLoop::new("redis")),
            recent: Arc::new(RecentValues::new()),
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
        self.recent.put(page, key, &value, &written);
        written.map(drop)
    }

    /// One round trip when this node knows the current value (it wrote or
    /// read it last): the compare-and-set goes out at once. Otherwise, or when
    /// another node changed the key meanwhile, the script answers with the
    /// value it found, and the next attempt uses that: a conflict costs one
    /// more round trip, never a separate read.
    async fn update(&self, page: &PageKey, key: &str, f: UpdateFn<'_>) -> Result<Vec<u8>> {
        self.cas.update(self, &self.recent, page, key, f).await
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

/// The round trips of [`CasLoop::update`].
#[async_trait]
impl CompareAndSet for RedisPageStore {
    /// A get: it also refreshes the TTL and remembers the value.
    async fn read(&self, page: &PageKey, key: &str) -> Result<Option<Vec<u8>>> {
        self.get(page, key).await
    }

    async fn compare_and_set(
        &self,
        page: &PageKey,
        key: &str,
        expected: Option<&[u8]>,
        new: &[u8],
    ) -> Result<Written> {
        let script = &scripts::COMPARE_AND_SET;
        self.write(script, page, key, new, Some(expected)).await
    }
}
