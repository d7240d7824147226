//! The shared conformance suite, run against the memory backends.

use std::sync::Arc;

use hyperstate::memory::{MemoryOptions, MemoryPageStore};
use hyperstate::page::{PageOptions, PageStore};

fn memory_page_store(options: PageOptions) -> Arc<dyn PageStore> {
    Arc::new(MemoryPageStore::new(options, MemoryOptions::default()))
}

mod page {
    use super::*;
    hyperstate_conformance::page_store_suite!(memory_page_store, time = paused);
}
