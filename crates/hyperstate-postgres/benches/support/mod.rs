//! What the PostgreSQL benchmarks share beyond the server to run against
//! (`hyperstate_conformance::services::postgres_url`).

#![allow(dead_code)] // each bench uses part of it

use sqlx::PgPool;

/// Whether to do a tiny run: `--quick`, or `--test` (what `scripts/bench --quick`
/// passes to every bench).
pub(crate) fn quick() -> bool {
    std::env::args().any(|a| a == "--quick" || a == "--test")
}

/// Statements the server has committed so far (every statement outside a
/// transaction is one), from `pg_stat_database`. Backends flush their counts
/// lazily (within 10 s of going idle), so a full run waits that out first;
/// a quick run does not, and its count is meaningless.
pub(crate) async fn commits(pool: &PgPool) -> i64 {
    if !quick() {
        tokio::time::sleep(std::time::Duration::from_secs(11)).await;
    }
    sqlx::query("SELECT pg_stat_clear_snapshot()")
        .execute(pool)
        .await
        .unwrap();
    sqlx::query_scalar(
        "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()",
    )
    .fetch_one(pool)
    .await
    .unwrap()
}

/// The reference table: `rows` one-row-per-key records a raw statement reads
/// and writes, as the page store does.
pub(crate) async fn reference_table(pool: &PgPool, rows: usize) {
    sqlx::raw_sql(
        "DROP TABLE IF EXISTS hyperstate_bench_kv;
         CREATE TABLE hyperstate_bench_kv (k integer PRIMARY KEY, v text NOT NULL)",
    )
    .execute(pool)
    .await
    .unwrap();
    sqlx::query("INSERT INTO hyperstate_bench_kv SELECT g, '0' FROM generate_series(1, $1) g")
        .bind(i32::try_from(rows).unwrap())
        .execute(pool)
        .await
        .unwrap();
}
