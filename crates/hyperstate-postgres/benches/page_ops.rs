//! Page operations per second on PostgreSQL at 50 concurrent, beside `pgbench`
//! running the equivalent single raw statement at the same concurrency against
//! the same server, in the same run: a one-row `UPDATE … RETURNING` for get
//! (a get slides the page's expiry, so it writes the row) and a one-row
//! `UPDATE` for put and update. A plain one-row `SELECT` is printed too, for
//! what a read that wrote nothing would cost. Also statements per page
//! operation, read from `pg_stat_database`.
//!
//! Run: `HYPERSTATE_POSTGRES_URL=postgres://... cargo bench -p hyperstate-postgres --bench page_ops`
//! (`scripts/bench` starts a private PostgreSQL and sets it). `-- --quick` (or
//! `--test`) runs a small count as a smoke test.

#![allow(missing_docs)]

mod support;

use std::io::Write as _;
use std::process::Command;
use std::sync::Arc;
use std::time::Instant;

use hyperstate::page::{Page, PageOptions, PageStore};
use hyperstate::{BrowserId, PageId};
use hyperstate_bench_report::{Better, Record, record};
use hyperstate_postgres::{PgPageStore, Postgres, PostgresOptions};

const CONCURRENCY: usize = 50;

/// Runs `ops` operations of kind `op` from `CONCURRENCY` tasks, each on its own
/// page (opened and seeded before the clock starts). Returns ops/s and the
/// statements per operation of the timed part.
async fn run(
    db: &Postgres,
    store: &Arc<dyn PageStore>,
    op: &'static str,
    ops: usize,
) -> (f64, f64) {
    let per_task = ops / CONCURRENCY;
    let mut pages = Vec::new();
    for _ in 0..CONCURRENCY {
        let page = Page::open(store.clone(), &BrowserId::generate(), PageId::generate())
            .await
            .unwrap();
        page.put("n", &0u64).await.unwrap();
        pages.push(page);
    }
    let before = support::commits(db.pool()).await;
    let start = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for page in pages {
        tasks.spawn(async move {
            for i in 0..per_task {
                match op {
                    "get" => drop(page.get_or("n", 0u64).await.unwrap()),
                    "put" => page.put("n", &(i as u64)).await.unwrap(),
                    _ => drop(page.update_or("n", 0u64, |n| n + 1).await.unwrap()),
                }
            }
        });
    }
    while let Some(task) = tasks.join_next().await {
        task.unwrap();
    }
    let elapsed = start.elapsed().as_secs_f64();
    // Less the snapshot-clearing and counting statements of `commits` itself.
    let statements = support::commits(db.pool()).await - before - 2;
    let done = (per_task * CONCURRENCY) as f64;
    (done / elapsed, statements as f64 / done)
}

/// `pgbench` running `statement` (with `:k` a random row) from `CONCURRENCY`
/// clients, prepared like sqlx's statements; its tps.
fn pgbench(url: &str, statement: &str, ops: usize) -> f64 {
    let mut script = tempfile_script();
    writeln!(script.1, "\\set k random(1, {CONCURRENCY})\n{statement};").unwrap();
    let output = Command::new("pgbench")
        .args(["-n", "-M", "prepared", "-j", "2"])
        .args(["-c", &CONCURRENCY.to_string()])
        .args(["-t", &(ops / CONCURRENCY).to_string()])
        .arg("-f")
        .arg(&script.0)
        .arg(url)
        .output()
        .expect("running pgbench");
    let text = String::from_utf8_lossy(&output.stdout);
    text.lines()
        .find_map(|line| {
            let rest = line.strip_prefix("tps = ")?;
            rest.split_whitespace().next()?.parse().ok()
        })
        .unwrap_or_else(|| {
            eprintln!(
                "pgbench gave no tps: {text}{}",
                String::from_utf8_lossy(&output.stderr)
            );
            f64::NAN
        })
}

/// A script file for pgbench, removed with the process's temp dir.
fn tempfile_script() -> (std::path::PathBuf, std::fs::File) {
    let path = std::env::temp_dir().join(format!("hyperstate-pgbench-{}.sql", std::process::id()));
    let file = std::fs::File::create(&path).unwrap();
    (path, file)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let Some(url) = hyperstate_conformance::services::postgres_url() else {
        return;
    };
    let quick = support::quick();
    let ops = if quick { 2_000 } else { 50_000 };
    let options = PostgresOptions::default().max_connections(CONCURRENCY as u32);
    let db = Postgres::connect(&url, options).await.unwrap();
    let store: Arc<dyn PageStore> = Arc::new(PgPageStore::new(db.clone(), PageOptions::default()));
    support::reference_table(db.pool(), CONCURRENCY).await;

    println!("concurrency {CONCURRENCY}, {ops} operations each");
    let select = "SELECT v FROM hyperstate_bench_kv WHERE k = :k";
    let returning = "UPDATE hyperstate_bench_kv SET v = v WHERE k = :k RETURNING v";
    let update = "UPDATE hyperstate_bench_kv SET v = :k WHERE k = :k";
    let reference_select = pgbench(&url, select, ops);
    let reference_returning = pgbench(&url, returning, ops);
    let reference_update = pgbench(&url, update, ops);
    println!(
        "pgbench SELECT: {reference_select:.0} tps, UPDATE … RETURNING: {reference_returning:.0} tps, \
         UPDATE: {reference_update:.0} tps"
    );
    for op in ["get", "put", "update"] {
        let (rate, per_op) = run(&db, &store, op, ops).await;
        let (versus, reference) = match op {
            "get" => ("UPDATE … RETURNING", reference_returning),
            _ => ("UPDATE", reference_update),
        };
        record(
            &Record::new(
                format!("Page scope on PostgreSQL: ops/s, {CONCURRENCY} concurrent"),
                op,
                "ops/s",
                Better::Higher,
                rate,
            )
            .reference(format!("pgbench one-row {versus}"), reference)
            .target("≥ 60%"),
        );
        if op == "get" {
            // The stricter comparison: a read that writes nothing.
            record(
                &Record::new(
                    format!("Page scope on PostgreSQL: ops/s, {CONCURRENCY} concurrent"),
                    "get (vs a read-only SELECT)",
                    "ops/s",
                    Better::Higher,
                    rate,
                )
                .reference("pgbench one-row SELECT", reference_select),
            );
        }
        record(
            &Record::new(
                "Page scope on PostgreSQL: statements per operation (pg_stat_database)",
                op,
                "statements/op",
                Better::Lower,
                per_op,
            )
            .target("1 (update: 2)"),
        );
    }
}
