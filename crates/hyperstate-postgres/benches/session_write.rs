//! A durable session write on PostgreSQL (one compare-and-swap `put` of the
//! document store), p50 latency, beside one raw `UPDATE` of one row on the same
//! pool, in the same run. Both commit with `synchronous_commit` on: the
//! difference is what the etag check and the document store add.
//!
//! Run: `HYPERSTATE_POSTGRES_URL=postgres://... cargo bench -p hyperstate-postgres --bench session_write`
//! (`scripts/bench` starts a private PostgreSQL and sets it). `-- --quick` (or
//! `--test`) runs a small count as a smoke test.

#![allow(missing_docs)]

mod support;

use std::time::{Duration, Instant};

use hyperstate::session::{DocumentStore, PutCondition, PutOutcome, SessionKey};
use hyperstate_bench_report::{Better, Record, percentile, record};
use hyperstate_postgres::{PgDocumentStore, Postgres, PostgresOptions};

/// A session document of a typical size (a few views and a revision).
fn body(rev: usize) -> Vec<u8> {
    format!(
        r#"{{"rev":{rev},"last_seen_at":1700000000,"views":{{"settings":{{"vsn":1,"values":{{"theme":"dark","draft":"{}"}}}}}}}}"#,
        "x".repeat(200)
    )
    .into_bytes()
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let Some(url) = hyperstate_conformance::services::postgres_url() else {
        return;
    };
    let writes = if support::quick() { 50 } else { 2_000 };
    let db = Postgres::connect(&url, PostgresOptions::default().max_connections(2))
        .await
        .unwrap();
    support::reference_table(db.pool(), 1).await;
    let store = PgDocumentStore::with_namespace(db.clone(), "bench");
    let key = SessionKey::random();
    let PutOutcome::Written(mut etag) = store
        .put(&key, body(0), PutCondition::Absent)
        .await
        .unwrap()
    else {
        panic!("a fresh key conflicted")
    };

    // Interleaved, so both see the same server and disk state.
    let (mut ours, mut raw) = (Vec::with_capacity(writes), Vec::with_capacity(writes));
    for rev in 1..=writes {
        let start = Instant::now();
        match store
            .put(&key, body(rev), PutCondition::Matches(&etag))
            .await
            .unwrap()
        {
            PutOutcome::Written(new) => etag = new,
            PutOutcome::Conflict => panic!("nobody else writes this session"),
        }
        ours.push(start.elapsed());
        let start = Instant::now();
        sqlx::query("UPDATE hyperstate_bench_kv SET v = $1 WHERE k = 1")
            .bind(rev.to_string())
            .execute(db.pool())
            .await
            .unwrap();
        raw.push(start.elapsed());
    }
    ours.sort();
    raw.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    record(
        &Record::new(
            "Session scope on PostgreSQL: durable write latency",
            "compare-and-swap put, p50",
            "ms",
            Better::Lower,
            ms(percentile(&ours, 0.5)),
        )
        .reference("one raw UPDATE, p50", ms(percentile(&raw, 0.5)))
        .target("≤ 1.3×"),
    );
    let _ = store.delete(&key, None).await;
}
