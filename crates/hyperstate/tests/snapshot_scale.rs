//! Snapshot write and load at scale: 100,000 pages and 10,000 rooms. Ignored by
//! default (it measures, it does not check behaviour); run it in release:
//!
//! ```text
//! cargo test --release -p hyperstate --test snapshot_scale -- --ignored --nocapture
//! ```

use std::sync::Arc;
use std::time::Instant;

use hyperstate::memory::{MemoryOptions, MemoryPageStore, MemoryRoomStore, Persist};
use hyperstate::page::{PageKey, PageOptions, PageStore};
use hyperstate::room::{Principal, RoomInit, RoomKey, RoomOptions, Rooms};

const PAGES: u32 = 100_000;
const ROOMS: u32 = 10_000;
const MESSAGES_PER_ROOM: u32 = 10;
const MEMBERS_PER_ROOM: u32 = 5;

fn page_key(n: u32) -> PageKey {
    let mut bytes = [0u8; 16];
    bytes[..4].copy_from_slice(&n.to_le_bytes());
    bytes[4..8].copy_from_slice(&n.wrapping_mul(2_654_435_761).to_le_bytes());
    PageKey::from_bytes(bytes)
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement: run with --release --ignored --nocapture"]
async fn snapshot_of_100k_pages_and_10k_rooms() {
    let dir = tempfile::tempdir().unwrap();
    let memory = MemoryOptions::default().memory_limit(1 << 30);

    let pages = MemoryPageStore::new(PageOptions::default(), memory);
    for n in 0..PAGES {
        let key = page_key(n);
        pages
            .put(&key, "cart", br#"["apple","pear","plum"]"#.to_vec())
            .await
            .unwrap();
        pages
            .put(&key, "draft", br#""a note""#.to_vec())
            .await
            .unwrap();
    }
    let started = Instant::now();
    let saved = pages.save_snapshot(dir.path()).unwrap();
    let save_time = started.elapsed();
    let fresh = MemoryPageStore::new(PageOptions::default(), memory);
    let started = Instant::now();
    let loaded = fresh.load_snapshot(dir.path());
    let load_time = started.elapsed();
    assert_eq!(loaded.records, PAGES as usize);
    println!(
        "pages: {} pages (2 keys each), {:.1} MiB file, write {:?}, load {:?}",
        saved.records,
        mib(saved.bytes),
        save_time,
        load_time
    );

    let options = RoomOptions::default().max_rooms(2 * ROOMS as usize);
    let store = MemoryRoomStore::new(options, 1 << 30);
    let rooms = Rooms::new(Arc::new(store.clone()), |_: &RoomKey| Ok(RoomInit::new()));
    for r in 0..ROOMS {
        let room = rooms.room(&format!("room-{r}")).unwrap();
        for m in 0..MEMBERS_PER_ROOM {
            room.join(&Principal::app(format!("member-{m}")))
                .await
                .unwrap();
        }
        let author = Principal::app("member-0");
        for i in 0..MESSAGES_PER_ROOM {
            room.put(
                &author,
                &format!("msg-{i}"),
                &format!("message number {i} in room {r}"),
            )
            .await
            .unwrap();
        }
    }
    let started = Instant::now();
    let saved = store.save_snapshot(dir.path()).unwrap();
    let save_time = started.elapsed();
    let fresh = MemoryRoomStore::new(options, 1 << 30);
    let started = Instant::now();
    let loaded = fresh.load_snapshot(dir.path());
    let load_time = started.elapsed();
    assert_eq!(loaded.records, ROOMS as usize);
    println!(
        "rooms: {} rooms ({MESSAGES_PER_ROOM} keys, {MEMBERS_PER_ROOM} members each), \
         {:.1} MiB file, write {:?}, load {:?}",
        saved.records,
        mib(saved.bytes),
        save_time,
        load_time
    );
}
