//! Page state in PostgreSQL.

use std::sync::Arc;

use async_trait::async_trait;
use hyperstate::backend::{CasLoop, CompareAndSet, RecentValues, UpdateFn, Written};
use hyperstate::page::{PageKey, PageOptions, PageStore};
use hyperstate::{Error, Result};

use crate::connection::Postgres;
use crate::error::{BACKEND, backend_error};

/// Most expired pages one sweep statement deletes, so a sweep is many short
/// transactions, never one long one.
const SWEEP_BATCH: i64 = 500;

/// Page state in PostgreSQL (table `hyperstate_pages`), shared by every node
/// on the same database. Cheap to clone.
#[derive(Debug, Clone)]
pub struct PgPageStore {
    db: Postgres,
    options: PageOptions,
    ttl_ms: i64,
    /// The compare-and-set loop of `update`: its turns per page, back-off and
    /// `hyperstate_cas_conflicts_total{scope="page", backend="postgres"}`.
    cas: Arc<CasLoop>,
    /// Values this node last saw, so most updates skip the read.
    recent: Arc<RecentValues>,
}

/// Values are JSON text in the table.
fn text(value: &[u8]) -> Result<&str> {
    std::str::from_utf8(value).map_err(|err| Error::backend(BACKEND, "put", err))
}

impl PgPageStore {
    /// A page store on `db` with the given TTL and limits.
    pub fn new(db: Postgres, options: PageOptions) -> Self {
        PgPageStore {
            ttl_ms: i64::try_from(options.ttl.as_millis().max(1)).unwrap_or(i64::MAX),
            db,
            options,
            cas: Arc::new(CasLoop::new(BACKEND)),
            recent: Arc::new(RecentValues::new()),
        }
    }

    /// One call of `hyperstate_page_write`: a put, or (with `expected`) a
    /// compare-and-set; maps its verdict to the limit errors.
    async fn write(
        &self,
        page: &PageKey,
        key: &str,
        value: &str,
        expected: Option<Option<&str>>,
    ) -> Result<Written> {
        let limits = &self.options.limits;
        let (verdict, detail): (String, Option<String>) =
            sqlx::query_as("SELECT * FROM hyperstate_page_write($1, $2, $3, $4, $5, $6, $7, $8)")
                .bind(page.as_bytes().as_slice())
                .bind(key)
                .bind(value)
                .bind(self.ttl_ms)
                .bind(i32::try_from(limits.max_keys).unwrap_or(i32::MAX))
                .bind(i64::try_from(limits.max_bytes).unwrap_or(i64::MAX))
                .bind(expected.is_some())
                .bind(expected.flatten())
                .fetch_one(&self.db.pool)
                .await
                .map_err(|err| backend_error("put", err))?;
        match verdict.as_str() {
            "ok" => Ok(Written::Done),
            "conflict" => Ok(Written::Conflict(detail.map(String::into_bytes))),
            "keys" => Err(Error::TooManyKeys {
                scope: "page",
                limit: limits.max_keys,
            }),
            "bytes" => Err(Error::ScopeTooLarge {
                scope: "page",
                size: detail.and_then(|d| d.parse().ok()).unwrap_or(usize::MAX),
                limit: limits.max_bytes,
            }),
            other => Err(Error::backend(
                BACKEND,
                "put",
                format!("unexpected write verdict {other:?}"),
            )),
        }
    }
}

#[async_trait]
impl PageStore for PgPageStore {
    fn backend_name(&self) -> &'static str {
        BACKEND
    }

    fn options(&self) -> &PageOptions {
        &self.options
    }

    async fn touch(&self, page: &PageKey) -> Result<bool> {
        sqlx::query(
            "UPDATE hyperstate_pages
             SET expires_at = clock_timestamp() + $2 * interval '1 millisecond'
             WHERE page = $1 AND expires_at > clock_timestamp() AND keys > 0",
        )
        .bind(page.as_bytes().as_slice())
        .bind(self.ttl_ms)
        .execute(&self.db.pool)
        .await
        .map(|done| done.rows_affected() == 1)
        .map_err(|err| backend_error("touch", err))
    }

    /// One statement: reads the value and slides the TTL of a live page.
    async fn get(&self, page: &PageKey, key: &str) -> Result<Option<Vec<u8>>> {
        let row: Option<(Option<String>,)> = sqlx::query_as(
            "UPDATE hyperstate_pages
             SET expires_at = clock_timestamp() + $3 * interval '1 millisecond'
             WHERE page = $1 AND expires_at > clock_timestamp()
             RETURNING entries ->> $2",
        )
        .bind(page.as_bytes().as_slice())
        .bind(key)
        .bind(self.ttl_ms)
        .fetch_optional(&self.db.pool)
        .await
        .map_err(|err| backend_error("get", err))?;
        let value = row.and_then(|(value,)| value).map(String::into_bytes);
        self.recent.remember(page, key, value.as_deref());
        Ok(value)
    }

    async fn put(&self, page: &PageKey, key: &str, value: Vec<u8>) -> Result<()> {
        let written = self.write(page, key, text(&value)?, None).await;
        self.recent.put(page, key, &value, &written);
        written.map(drop)
    }

    /// One statement when this node knows the current value (it wrote or read
    /// it last): the compare-and-set goes out at once. Otherwise, or when
    /// another node changed the key meanwhile, the write answers with the
    /// value it found, and the next attempt uses that: a conflict costs one
    /// more round trip, never a separate read.
    async fn update(&self, page: &PageKey, key: &str, f: UpdateFn<'_>) -> Result<Vec<u8>> {
        self.cas.update(self, &self.recent, page, key, f).await
    }

    async fn delete(&self, page: &PageKey, key: &str) -> Result<bool> {
        self.recent.forget(page, key);
        sqlx::query_scalar("SELECT hyperstate_page_delete($1, $2, $3)")
            .bind(page.as_bytes().as_slice())
            .bind(key)
            .bind(self.ttl_ms)
            .fetch_one(&self.db.pool)
            .await
            .map_err(|err| backend_error("delete", err))
    }

    async fn clear(&self, page: &PageKey) -> Result<()> {
        sqlx::query("DELETE FROM hyperstate_pages WHERE page = $1")
            .bind(page.as_bytes().as_slice())
            .execute(&self.db.pool)
            .await
            .map(drop)
            .map_err(|err| backend_error("clear", err))
    }

    /// Deletes expired pages in batches of 500, each its own short
    /// statement; rows another node holds are skipped, not waited for.
    async fn sweep(&self) -> Result<usize> {
        let mut freed = 0;
        loop {
            let deleted = sqlx::query(
                "DELETE FROM hyperstate_pages WHERE page IN (
                     SELECT page FROM hyperstate_pages
                     WHERE expires_at <= clock_timestamp()
                     ORDER BY expires_at LIMIT $1 FOR UPDATE SKIP LOCKED
                 ) AND expires_at <= clock_timestamp()",
            )
            .bind(SWEEP_BATCH)
            .execute(&self.db.pool)
            .await
            .map_err(|err| backend_error("sweep", err))?
            .rows_affected();
            freed += usize::try_from(deleted).unwrap_or(usize::MAX);
            if deleted < SWEEP_BATCH as u64 {
                return Ok(freed);
            }
        }
    }

    async fn check_health(&self) -> Result<()> {
        self.db.ping().await
    }
}

/// The statements of [`CasLoop::update`].
#[async_trait]
impl CompareAndSet for PgPageStore {
    /// The current value, without refreshing the TTL (the write that follows does).
    async fn read(&self, page: &PageKey, key: &str) -> Result<Option<Vec<u8>>> {
        let row: Option<(Option<String>,)> = sqlx::query_as(
            "SELECT entries ->> $2 FROM hyperstate_pages
             WHERE page = $1 AND expires_at > clock_timestamp()",
        )
        .bind(page.as_bytes().as_slice())
        .bind(key)
        .fetch_optional(&self.db.pool)
        .await
        .map_err(|err| backend_error("update", err))?;
        Ok(row.and_then(|(value,)| value).map(String::into_bytes))
    }

    async fn compare_and_set(
        &self,
        page: &PageKey,
        key: &str,
        expected: Option<&[u8]>,
        new: &[u8],
    ) -> Result<Written> {
        let new = text(new)?;
        let expected = expected.map(text).transpose()?;
        self.write(page, key, new, Some(expected)).await
    }
}
