//! The shared conformance suite, run against the memory backends.

use std::sync::Arc;

use hyperstate::memory::{DEFAULT_ROOM_MEMORY, MemoryRoomStore};
use hyperstate::memory::{MemoryOptions, MemoryPageStore};
use hyperstate::page::{PageOptions, PageStore};
use hyperstate::room::{RoomOptions, RoomStore};

fn memory_page_store(options: PageOptions) -> Arc<dyn PageStore> {
    Arc::new(MemoryPageStore::new(options, MemoryOptions::default()))
}

mod page {
    use super::*;
    hyperstate_conformance::page_store_suite!(memory_page_store, time = paused);
}

fn memory_room_store(options: RoomOptions) -> Arc<dyn RoomStore> {
    Arc::new(MemoryRoomStore::new(options, DEFAULT_ROOM_MEMORY))
}

mod room {
    use super::*;
    hyperstate_conformance::room_store_suite!(memory_room_store, time = paused);
}
