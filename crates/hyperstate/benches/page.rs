//! Page-scope costs on the memory backend, at 1 thousand, 100 thousand and 1
//! million stored keys, beside a Nex-style store measured in the same run.
//!
//! - `resolve`: header text → `Page` handle, including the TTL touch (what every
//!   request pays before the handler runs);
//! - `get` / `put` / `update`: one operation on an open page.
//!
//! Run: `cargo bench -p hyperstate --bench page` (or the whole suite:
//! `scripts/bench`). Bytes per key are measured by
//! the `page_memory` bench.

#![allow(missing_docs)]

#[path = "support/nex_style.rs"]
mod nex_style;

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, criterion_group};
use hyperstate::memory::{MemoryOptions, MemoryPageStore};
use hyperstate::page::{Page, PageOptions, PageStore};
use hyperstate::{BrowserId, Limits, PageId};
use hyperstate_bench_report::{Better, Record, criterion_median_ns};
use nex_style::NexStyleStore;

const KEYS_PER_PAGE: usize = 10;
const SIZES: [usize; 3] = [1_000, 100_000, 1_000_000];

/// "1k", "100k", "1M": how the report names a size.
fn size_label(keys: usize) -> String {
    match keys {
        k if k >= 1_000_000 => format!("{}M", k / 1_000_000),
        k if k >= 1_000 => format!("{}k", k / 1_000),
        k => k.to_string(),
    }
}

struct Fixture {
    runtime: tokio::runtime::Runtime,
    store: Arc<dyn PageStore>,
    browser: BrowserId,
    page_ids: Vec<PageId>,
}

fn fixture(keys: usize) -> Fixture {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let store: Arc<dyn PageStore> = Arc::new(MemoryPageStore::new(
        PageOptions::default().limits(Limits::default()),
        MemoryOptions::default().memory_limit(4 << 30),
    ));
    let browser = BrowserId::generate();
    let pages = keys / KEYS_PER_PAGE;
    let page_ids: Vec<PageId> = (0..pages).map(|_| PageId::generate()).collect();
    runtime.block_on(async {
        for id in &page_ids {
            let page = Page::open(store.clone(), &browser, *id).await.unwrap();
            for k in 0..KEYS_PER_PAGE {
                page.put(&format!("key{k}"), &k).await.unwrap();
            }
        }
    });
    Fixture {
        runtime,
        store,
        browser,
        page_ids,
    }
}

/// Times `iters` runs of `op` inside one `block_on`, so the runtime's entry cost is
/// not counted per operation.
fn time_async<F, Fut>(runtime: &tokio::runtime::Runtime, iters: u64, mut op: F) -> Duration
where
    F: FnMut(u64) -> Fut,
    Fut: std::future::Future,
{
    runtime.block_on(async {
        let start = Instant::now();
        for i in 0..iters {
            black_box(op(i).await);
        }
        start.elapsed()
    })
}

fn bench_hyperstate(c: &mut Criterion) {
    for keys in SIZES {
        let f = fixture(keys);
        let header_texts: Vec<String> = f.page_ids.iter().map(|id| id.to_string()).collect();
        let page = f
            .runtime
            .block_on(Page::open(f.store.clone(), &f.browser, f.page_ids[0]))
            .unwrap();
        let mut group = c.benchmark_group("hyperstate_memory");
        group.bench_function(BenchmarkId::new("resolve", keys), |b| {
            b.iter_custom(|iters| {
                time_async(&f.runtime, iters, |i| {
                    let text = &header_texts[i as usize % header_texts.len()];
                    let store = f.store.clone();
                    let browser = f.browser;
                    async move {
                        let id = PageId::parse(text).unwrap();
                        Page::open(store, &browser, id).await.unwrap()
                    }
                })
            })
        });
        group.bench_function(BenchmarkId::new("get", keys), |b| {
            b.iter_custom(|iters| time_async(&f.runtime, iters, |_| page.get_or("key3", 0u64)))
        });
        group.bench_function(BenchmarkId::new("put", keys), |b| {
            b.iter_custom(|iters| {
                time_async(&f.runtime, iters, |i| {
                    let page = &page;
                    async move { page.put("key3", &i).await }
                })
            })
        });
        group.bench_function(BenchmarkId::new("update", keys), |b| {
            b.iter_custom(|iters| {
                time_async(&f.runtime, iters, |_| {
                    page.update_or("key4", 0u64, |n| n + 1)
                })
            })
        });
        group.finish();
    }
}

fn bench_nex_reference(c: &mut Criterion) {
    for keys in SIZES {
        let store = NexStyleStore::new();
        let pages = (keys / KEYS_PER_PAGE) as u64;
        for page in 0..pages {
            for k in 0..KEYS_PER_PAGE {
                store.put(page, &format!("key{k}"), k.to_string().into_bytes());
            }
        }
        let mut group = c.benchmark_group("nex_style_reference");
        if keys >= 100_000 {
            // Each touch scans the whole table: a few samples are plenty.
            group
                .sample_size(10)
                .measurement_time(Duration::from_secs(5));
        }
        let mut page = 0u64;
        group.bench_function(BenchmarkId::new("resolve", keys), |b| {
            b.iter(|| {
                page = (page + 1) % pages;
                store.touch(black_box(page))
            })
        });
        group.bench_function(BenchmarkId::new("get", keys), |b| {
            b.iter(|| store.get(black_box(1), "key3"))
        });
        group.bench_function(BenchmarkId::new("put", keys), |b| {
            b.iter(|| store.put(black_box(1), "key3", b"3".to_vec()))
        });
        group.finish();
    }
}

criterion_group! {
    name = benches;
    // Short windows keep the whole suite (scripts/bench) within its 15 minutes;
    // these operations take microseconds, so 3 s is still millions of samples.
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = bench_hyperstate, bench_nex_reference
}

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    // `--test` (the quick mode) and filtered runs leave older estimates on
    // disk; recording those would report a run that did not happen.
    if std::env::args()
        .skip(1)
        .any(|a| !a.starts_with("--") || a == "--test")
    {
        return;
    }
    record_results();
}

/// Criterion's medians, as the suite's records: hyperstate beside the
/// Nex-style reference, per operation and size.
fn record_results() {
    let targets = [
        ("resolve", Some("≤ 2 µs, flat with size")),
        ("get", Some("≤ 0.4 µs")),
        ("put", Some("≤ 0.4 µs")),
        ("update", None),
    ];
    for keys in SIZES {
        for (op, target) in targets {
            let Some(ours) = criterion_median_ns(&format!("hyperstate_memory/{op}/{keys}")) else {
                continue;
            };
            let mut record = Record::new(
                "Page scope, memory backend: time per operation",
                format!("{op}, {} keys", size_label(keys)),
                "µs",
                Better::Lower,
                ours / 1000.0,
            );
            if let Some(nex) = criterion_median_ns(&format!("nex_style_reference/{op}/{keys}")) {
                record = record.reference("Nex-style store", nex / 1000.0);
            }
            if let Some(target) = target {
                record = record.target(target);
            }
            hyperstate_bench_report::record(&record);
        }
    }
}
