//! The schema, embedded and applied when a node starts.
//!
//! Each migration runs once per database, in order, recorded in
//! `hyperstate_migrations`. All of them run in one transaction holding an
//! advisory lock, so nodes starting together apply each exactly once (the
//! others wait, then find nothing left to do) and a failed start leaves the
//! schema as it was.

use sqlx::{Executor as _, PgPool};

use crate::error::backend_error;

/// `(version, SQL)`, in the order they apply. Never edit a released one: add
/// the next.
const MIGRATIONS: &[(i32, &str)] = &[
    (1, include_str!("../migrations/0001_pages.sql")),
    (2, include_str!("../migrations/0002_sessions.sql")),
    (3, include_str!("../migrations/0003_rooms.sql")),
];

/// The advisory lock key nodes serialize migrations on ("hyprstat").
const LOCK_KEY: i64 = 0x6879_7072_7374_6174;

pub(crate) async fn apply(pool: &PgPool) -> hyperstate::Result<()> {
    let err = |err| backend_error("migrate", err);
    let mut tx = pool.begin().await.map_err(err)?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(LOCK_KEY)
        .execute(tx.as_mut())
        .await
        .map_err(err)?;
    // Plain `&str`s go out as simple queries, which may hold several
    // statements (a migration file does).
    tx.as_mut()
        .execute(
            "CREATE TABLE IF NOT EXISTS hyperstate_migrations (
                version    integer     PRIMARY KEY,
                applied_at timestamptz NOT NULL DEFAULT now()
            )",
        )
        .await
        .map_err(err)?;
    let applied: Vec<i32> = sqlx::query_scalar("SELECT version FROM hyperstate_migrations")
        .fetch_all(tx.as_mut())
        .await
        .map_err(err)?;
    for (version, sql) in MIGRATIONS {
        if applied.contains(version) {
            continue;
        }
        tx.as_mut().execute(*sql).await.map_err(err)?;
        sqlx::query("INSERT INTO hyperstate_migrations (version) VALUES ($1)")
            .bind(version)
            .execute(tx.as_mut())
            .await
            .map_err(err)?;
        tracing::info!(version, "applied hyperstate's PostgreSQL migration");
    }
    tx.commit().await.map_err(err)
}
