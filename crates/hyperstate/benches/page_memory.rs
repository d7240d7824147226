//! Bytes of memory per stored key: hyperstate's memory backend beside the
//! Nex-style reference, measured in the same run by the growth of resident memory (RSS).
//!
//! Run: `cargo bench -p hyperstate --bench page_memory` (add `-- --quick` for
//! 100k keys instead of 1M).
//!
//! Each store gets 1M keys as 100k pages × 10 keys, small JSON values (`0`..`9`)
//! and keys `key0`..`key9`; the figure is the growth of resident memory while
//! filling, divided by keys (system allocator, so malloc's rounding counts). It also prints the bytes the memory backend
//! *accounts* against its budget, so the budget's overhead constants can be
//! checked against reality.

#![allow(missing_docs)]

#[path = "support/nex_style.rs"]
mod nex_style;

use std::sync::Arc;

use hyperstate::memory::{MemoryOptions, MemoryPageStore};
use hyperstate::page::{Page, PageOptions, PageStore};
use hyperstate::{BrowserId, PageId};
use hyperstate_bench_report::{Better, Record, record};

/// Resident memory of this process in bytes (Linux `/proc/self/statm`), so the
/// figure includes the allocator's rounding and headers, not just requested bytes.
fn live_bytes() -> i64 {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("reading /proc/self/statm");
    let resident_pages: i64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|field| field.parse().ok())
        .expect("statm has a resident field");
    resident_pages * 4096
}

const KEYS_PER_PAGE: usize = 10;

fn main() {
    let quick = std::env::args().any(|a| a == "--quick" || a == "--test");
    let keys: usize = if quick { 100_000 } else { 1_000_000 };
    let pages = keys / KEYS_PER_PAGE;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();

    // hyperstate
    let page_ids: Vec<PageId> = (0..pages).map(|_| PageId::generate()).collect();
    let browser = BrowserId::generate();
    let memory = MemoryPageStore::new(
        PageOptions::default(),
        MemoryOptions::default().memory_limit(4 << 30),
    );
    let store: Arc<dyn PageStore> = Arc::new(memory.clone());
    let key_names: Vec<String> = (0..KEYS_PER_PAGE).map(|k| format!("key{k}")).collect();
    let before = live_bytes();
    runtime.block_on(async {
        for id in &page_ids {
            let page = Page::open(store.clone(), &browser, *id).await.unwrap();
            for (k, name) in key_names.iter().enumerate() {
                page.put(name, &k).await.unwrap();
            }
        }
    });
    let hyperstate_bytes = live_bytes() - before;
    let accounted = memory.stats().bytes_used;

    // Nex-style reference
    let nex = nex_style::NexStyleStore::new();
    let before = live_bytes();
    for page in 0..pages as u64 {
        for (k, name) in key_names.iter().enumerate() {
            nex.put(page, name, k.to_string().into_bytes());
        }
    }
    let nex_bytes = live_bytes() - before;

    println!("keys stored: {keys} ({pages} pages x {KEYS_PER_PAGE} keys)");
    let per_key = |bytes: i64| bytes as f64 / keys as f64;
    let comparison = "Page scope, memory backend: bytes per stored key";
    let case = format!(
        "{} keys, resident memory",
        if quick { "100k" } else { "1M" }
    );
    record(
        &Record::new(
            comparison,
            case,
            "B/key",
            Better::Lower,
            per_key(hyperstate_bytes),
        )
        .reference("Nex-style store", per_key(nex_bytes))
        .target("≤ 120"),
    );
    record(
        &Record::new(
            comparison,
            "budget accounting for the same data (must not under-count)",
            "B/key",
            Better::Lower,
            per_key(accounted as i64),
        )
        .reference("hyperstate resident memory", per_key(hyperstate_bytes))
        .target("≥ 1×"),
    );
    drop(page_ids);
}
