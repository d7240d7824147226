//! Session documents in PostgreSQL.

use std::time::{Duration, UNIX_EPOCH};

use async_trait::async_trait;
use hyperstate::session::{
    Document, DocumentStore, Etag, Listed, PutCondition, PutOutcome, SessionKey,
};
use hyperstate::{Error, Result};

use crate::connection::Postgres;
use crate::error::{BACKEND, backend_error};

/// Session documents as rows of `hyperstate_sessions`, under a namespace so
/// several apps (or test cases) can share one database. Every write is one
/// statement, durable when it returns (PostgreSQL's commit). Cheap to clone.
#[derive(Debug, Clone)]
pub struct PgDocumentStore {
    db: Postgres,
    namespace: String,
}

/// An etag this backend did not hand out (not a number): it matches nothing.
fn etag_number(etag: &Etag) -> Option<i64> {
    etag.0.parse().ok()
}

fn etag(number: i64) -> Etag {
    Etag(number.to_string())
}

impl PgDocumentStore {
    /// A store on `db`, in the default namespace (`""`).
    pub fn new(db: Postgres) -> Self {
        PgDocumentStore::with_namespace(db, "")
    }

    /// A store on `db` whose documents no store of another namespace sees.
    pub fn with_namespace(db: Postgres, namespace: impl Into<String>) -> Self {
        PgDocumentStore {
            db,
            namespace: namespace.into(),
        }
    }
}

#[async_trait]
impl DocumentStore for PgDocumentStore {
    fn backend_name(&self) -> &'static str {
        BACKEND
    }

    async fn get(&self, key: &SessionKey) -> Result<Option<Document>> {
        let row: Option<(Vec<u8>, i64)> = sqlx::query_as(
            "SELECT body, etag FROM hyperstate_sessions WHERE namespace = $1 AND key = $2",
        )
        .bind(&self.namespace)
        .bind(key.to_string())
        .fetch_optional(&self.db.pool)
        .await
        .map_err(|err| backend_error("get", err))?;
        Ok(row.map(|(body, number)| Document {
            body,
            etag: etag(number),
        }))
    }

    /// Create-if-absent is an `INSERT … ON CONFLICT DO NOTHING`; if-match is an
    /// `UPDATE … WHERE etag = $1`: the row lock makes either atomic across nodes.
    async fn put(
        &self,
        key: &SessionKey,
        body: Vec<u8>,
        condition: PutCondition<'_>,
    ) -> Result<PutOutcome> {
        let written: Option<i64> = match condition {
            PutCondition::Absent => sqlx::query_scalar(
                "INSERT INTO hyperstate_sessions (namespace, key, body, etag, last_seen_at)
                 VALUES ($1, $2, $3, nextval('hyperstate_session_etags'), now())
                 ON CONFLICT (namespace, key) DO NOTHING
                 RETURNING etag",
            )
            .bind(&self.namespace)
            .bind(key.to_string())
            .bind(body)
            .fetch_optional(&self.db.pool)
            .await
            .map_err(|err| backend_error("put", err))?,
            PutCondition::Matches(expected) => {
                let Some(expected) = etag_number(expected) else {
                    return Ok(PutOutcome::Conflict);
                };
                sqlx::query_scalar(
                    "UPDATE hyperstate_sessions
                     SET body = $3, etag = nextval('hyperstate_session_etags'), last_seen_at = now()
                     WHERE namespace = $1 AND key = $2 AND etag = $4
                     RETURNING etag",
                )
                .bind(&self.namespace)
                .bind(key.to_string())
                .bind(body)
                .bind(expected)
                .fetch_optional(&self.db.pool)
                .await
                .map_err(|err| backend_error("put", err))?
            }
        };
        Ok(match written {
            Some(number) => PutOutcome::Written(etag(number)),
            None => PutOutcome::Conflict,
        })
    }

    async fn delete(&self, key: &SessionKey, etag: Option<&Etag>) -> Result<bool> {
        let expected = match etag {
            None => None,
            Some(etag) => match etag_number(etag) {
                Some(number) => Some(number),
                None => return Ok(false),
            },
        };
        sqlx::query(
            "DELETE FROM hyperstate_sessions
             WHERE namespace = $1 AND key = $2 AND ($3::bigint IS NULL OR etag = $3)",
        )
        .bind(&self.namespace)
        .bind(key.to_string())
        .bind(expected)
        .execute(&self.db.pool)
        .await
        .map(|done| done.rows_affected() == 1)
        .map_err(|err| backend_error("delete", err))
    }

    /// Oldest first, through the `last_seen_at` index.
    async fn list(&self) -> Result<Vec<Listed>> {
        let rows: Vec<(String, f64)> = sqlx::query_as(
            "SELECT key, extract(epoch FROM last_seen_at)::float8 FROM hyperstate_sessions
             WHERE namespace = $1 ORDER BY last_seen_at",
        )
        .bind(&self.namespace)
        .fetch_all(&self.db.pool)
        .await
        .map_err(|err| backend_error("list", err))?;
        rows.into_iter()
            .map(|(key, seconds)| {
                let key = SessionKey::parse_hex(&key).ok_or_else(|| {
                    Error::backend(BACKEND, "list", format!("not a session key: {key:?}"))
                })?;
                let modified = UNIX_EPOCH + Duration::from_secs_f64(seconds.max(0.0));
                Ok(Listed { key, modified })
            })
            .collect()
    }

    async fn quarantine(&self, key: &SessionKey, document: &Document) -> Result<String> {
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO hyperstate_session_quarantine (namespace, key, body, etag)
             VALUES ($1, $2, $3, $4) RETURNING id",
        )
        .bind(&self.namespace)
        .bind(key.to_string())
        .bind(&document.body)
        .bind(etag_number(&document.etag).unwrap_or(-1))
        .fetch_one(&self.db.pool)
        .await
        .map_err(|err| backend_error("quarantine", err))?;
        Ok(format!("hyperstate_session_quarantine id {id}"))
    }
}
