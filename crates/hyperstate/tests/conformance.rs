//! The shared conformance suite, run against the memory backends.

use std::sync::Arc;

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};

use hyperstate::fs::FsDocumentStore;
use hyperstate::memory::{DEFAULT_ROOM_MEMORY, MemoryRoomStore};
use hyperstate::memory::{MemoryDocumentStore, MemoryOptions, MemoryPageStore};
use hyperstate::page::{PageOptions, PageStore};
use hyperstate::room::{RoomOptions, RoomStore};
use hyperstate::session::DocumentStore;

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

/// One memory store per namespace: handles on one namespace share it, as the
/// suite's "two nodes" need.
fn memory_document_store(namespace: &str) -> Arc<dyn DocumentStore> {
    static STORES: LazyLock<Mutex<HashMap<String, MemoryDocumentStore>>> =
        LazyLock::new(Default::default);
    let mut stores = STORES.lock().unwrap();
    Arc::new(stores.entry(namespace.to_owned()).or_default().clone())
}

/// One directory per namespace, under one temporary directory for the run.
fn fs_document_store(namespace: &str) -> Arc<dyn DocumentStore> {
    static ROOT: LazyLock<tempfile::TempDir> =
        LazyLock::new(|| tempfile::tempdir().expect("a temporary directory"));
    Arc::new(FsDocumentStore::open(ROOT.path().join(namespace)).expect("opening the store"))
}

/// The same without fsync: still crash-safe for the process, and CAS is unchanged.
fn fs_unsynced_document_store(namespace: &str) -> Arc<dyn DocumentStore> {
    static ROOT: LazyLock<tempfile::TempDir> =
        LazyLock::new(|| tempfile::tempdir().expect("a temporary directory"));
    Arc::new(
        FsDocumentStore::open(ROOT.path().join(namespace))
            .expect("opening the store")
            .sync(false),
    )
}

mod memory_documents {
    use super::*;
    hyperstate_conformance::document_store_suite!(memory_document_store);
}

mod fs_documents {
    use super::*;
    hyperstate_conformance::document_store_suite!(fs_document_store);
}

mod fs_unsynced_documents {
    use super::*;
    hyperstate_conformance::document_store_suite!(fs_unsynced_document_store);
}
