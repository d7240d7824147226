//! Page operations per second on Redis, beside `redis-benchmark` GET/SET at the
//! same concurrency against the same server, in the same run; and Redis commands
//! per page operation, read from `INFO commandstats`.
//!
//! Run: `HYPERSTATE_REDIS_URL=redis://127.0.0.1:6379 cargo bench -p hyperstate-redis --bench page_ops`
//! (`scripts/bench` starts a private Redis and sets it). `-- --quick` (or
//! `--test`) runs a small count as a smoke test.

#![allow(missing_docs)]

mod reference;
mod support;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use hyperstate::page::{Page, PageOptions, PageStore};
use hyperstate::{BrowserId, PageId};
use hyperstate_bench_report::{Better, Record, record};
use hyperstate_redis::{Redis, RedisOptions, RedisPageStore};

const CONCURRENCY: usize = 50;

/// `cmdstat_NAME:calls=N,...` lines of `INFO commandstats`, as name → calls.
async fn command_calls(url: &str) -> HashMap<String, u64> {
    let client = redis::Client::open(url).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let info: String = redis::cmd("INFO")
        .arg("commandstats")
        .query_async(&mut conn)
        .await
        .unwrap();
    info.lines()
        .filter_map(|line| {
            let (name, rest) = line.strip_prefix("cmdstat_")?.split_once(':')?;
            let calls = rest
                .split(',')
                .find_map(|kv| kv.strip_prefix("calls="))?
                .parse()
                .ok()?;
            Some((name.to_owned(), calls))
        })
        .collect()
}

/// Commands a client sent between two snapshots. Calls that scripts make inside
/// Redis are counted under their own names (hget, hset, ...) and are not round
/// trips; `pexpire` and `del` are also sent directly (touch, clear), and no page
/// operation in this benchmark runs them inside a script and directly at once.
fn round_trips(before: &HashMap<String, u64>, after: &HashMap<String, u64>) -> u64 {
    ["evalsha", "eval", "script|load", "del"]
        .iter()
        .map(|name| after.get(*name).unwrap_or(&0) - before.get(*name).unwrap_or(&0))
        .sum()
}

/// Runs `ops` operations of kind `op` from `CONCURRENCY` tasks, each on its own
/// page (opened and seeded before the clock starts). Returns ops/s and the
/// round trips of the timed part.
async fn run(store: &Arc<dyn PageStore>, url: &str, op: &'static str, ops: usize) -> (f64, f64) {
    let per_task = ops / CONCURRENCY;
    let mut pages = Vec::new();
    for _ in 0..CONCURRENCY {
        let page = Page::open(store.clone(), &BrowserId::generate(), PageId::generate())
            .await
            .unwrap();
        page.put("n", &0u64).await.unwrap();
        pages.push(page);
    }
    let before = command_calls(url).await;
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
    let after = command_calls(url).await;
    let done = (per_task * CONCURRENCY) as f64;
    // The two INFO calls are on another connection and are not counted.
    (done / elapsed, round_trips(&before, &after) as f64 / done)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let Some(url) = hyperstate_conformance::services::redis_url() else {
        return;
    };
    let quick = support::quick();
    let ops = if quick { 2_000 } else { 100_000 };
    let redis = Redis::connect(&url, RedisOptions::default()).await.unwrap();
    let store: Arc<dyn PageStore> = Arc::new(RedisPageStore::new(redis, PageOptions::default()));

    println!("concurrency {CONCURRENCY}, {ops} operations each");
    let reference = reference::redis_benchmark(&url, CONCURRENCY, ops, false);
    for (name, rps) in &reference {
        println!("redis-benchmark {name}: {rps:.0} req/s");
    }
    for op in ["get", "put", "update"] {
        let (rate, per_op) = run(&store, &url, op, ops).await;
        let versus = if op == "get" { "GET" } else { "SET" };
        let reference_rate = reference.get(versus).copied().unwrap_or(f64::NAN);
        record(
            &Record::new(
                format!("Page scope on Redis: ops/s, {CONCURRENCY} concurrent"),
                op,
                "ops/s",
                Better::Higher,
                rate,
            )
            .reference(format!("redis-benchmark {versus}"), reference_rate)
            .target("≥ 60%"),
        );
        record(
            &Record::new(
                "Page scope on Redis: round trips per operation (INFO commandstats)",
                op,
                "round trips/op",
                Better::Lower,
                per_op,
            )
            .target("1"),
        );
    }
}
