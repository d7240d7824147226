//! Page-scope costs on the memory backend, at 1 thousand and 1 million stored
//! keys, beside a Nex-style store measured in the same run.
//!
//! - `resolve`: header text → `Page` handle, including the TTL touch (what every
//!   request pays before the handler runs);
//! - `get` / `put` / `update`: one operation on an open page.
//!
//! Run: `cargo bench -p hyperstate --bench page`. Bytes per key are measured by
//! the `page_memory` bench.

#![allow(missing_docs)]

#[path = "support/nex_style.rs"]
mod nex_style;

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use hyperstate::memory::{MemoryOptions, MemoryPageStore};
use hyperstate::page::{Page, PageOptions, PageStore};
use hyperstate::{BrowserId, Limits, PageId};
use nex_style::NexStyleStore;

const KEYS_PER_PAGE: usize = 10;
const SIZES: [usize; 2] = [1_000, 1_000_000];

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
            b.iter_custom(|iters| time_async(&f.runtime, iters, |_| page.get("key3", 0u64)))
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
                time_async(&f.runtime, iters, |_| page.update("key4", 0u64, |n| n + 1))
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
        if keys >= 1_000_000 {
            // Each touch scans a million entries: a few samples are plenty.
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

criterion_group!(benches, bench_hyperstate, bench_nex_reference);
criterion_main!(benches);
