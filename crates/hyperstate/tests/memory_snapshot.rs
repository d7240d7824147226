//! Snapshots of the memory stores: what a graceful restart keeps, and how a
//! bad snapshot file is handled (moved aside, the store starts empty).

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use hyperstate::Error;
use hyperstate::memory::{MemoryOptions, MemoryPageStore, MemoryRoomStore, Persist};
use hyperstate::page::{PageKey, PageOptions, PageStore};
use hyperstate::room::{Principal, RoomEvent, RoomInit, RoomKey, RoomOptions, Rooms};

const HOUR: Duration = Duration::from_secs(60 * 60);

fn page(n: u8) -> PageKey {
    PageKey::from_bytes([n; 16])
}

fn pages() -> MemoryPageStore {
    MemoryPageStore::new(PageOptions::default().ttl(HOUR), MemoryOptions::default())
}

fn rooms(store: &MemoryRoomStore) -> Rooms {
    Rooms::new(Arc::new(store.clone()), |_: &RoomKey| {
        Ok(RoomInit::new().idle_ttl(Duration::from_secs(60)))
    })
}

/// Files in `dir` whose name starts with `prefix`.
fn files(dir: &Path, prefix: &str) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with(prefix))
        .collect();
    names.sort();
    names
}

#[tokio::test(start_paused = true)]
async fn pages_keep_their_values_and_what_was_left_of_their_ttl() {
    let dir = tempfile::tempdir().unwrap();
    let before = pages();
    before
        .put(&page(1), "cart", b"[1,2,3]".to_vec())
        .await
        .unwrap();
    before
        .put(&page(1), "draft", b"\"hi\"".to_vec())
        .await
        .unwrap();
    tokio::time::advance(50 * 60 * Duration::from_secs(1)).await;
    before.put(&page(2), "cart", b"[4]".to_vec()).await.unwrap();
    before.put(&page(3), "cart", b"[5]".to_vec()).await.unwrap();
    tokio::time::advance(Duration::from_secs(1)).await;
    let stats = before.save_snapshot(dir.path()).unwrap();
    assert_eq!((stats.records, stats.skipped), (3, 0), "{stats:?}");

    let after = pages();
    let loaded = after.load_snapshot(dir.path());
    assert_eq!(loaded.records, 3, "{loaded:?}");
    assert_eq!(
        after.get(&page(1), "cart").await.unwrap().as_deref(),
        Some(&b"[1,2,3]"[..])
    );
    assert_eq!(
        after.get(&page(1), "draft").await.unwrap().as_deref(),
        Some(&b"\"hi\""[..])
    );
    assert_eq!(after.stats().bytes_used, before.stats().bytes_used);
    // A snapshot is loaded once: the file is renamed when restored.
    assert_eq!(
        files(dir.path(), "pages.snapshot"),
        ["pages.snapshot.loaded"]
    );
}

#[tokio::test(start_paused = true)]
async fn a_page_keeps_only_the_rest_of_its_ttl() {
    let dir = tempfile::tempdir().unwrap();
    let before = pages();
    before.put(&page(1), "k", b"1".to_vec()).await.unwrap();
    tokio::time::advance(50 * 60 * Duration::from_secs(1)).await;
    before.put(&page(2), "k", b"2".to_vec()).await.unwrap();
    before.save_snapshot(dir.path()).unwrap();

    let after = pages();
    assert_eq!(after.load_snapshot(dir.path()).records, 2);
    tokio::time::advance(15 * 60 * Duration::from_secs(1)).await;
    assert_eq!(after.sweep().await.unwrap(), 1, "page 1 had 10 min left");
    assert!(!after.touch(&page(1)).await.unwrap());
    assert!(
        after.touch(&page(2)).await.unwrap(),
        "page 2 had 60 min left"
    );
}

#[tokio::test(start_paused = true)]
async fn pages_expired_at_the_save_are_left_out() {
    let dir = tempfile::tempdir().unwrap();
    let before = pages();
    before.put(&page(1), "k", b"1".to_vec()).await.unwrap();
    tokio::time::advance(HOUR + Duration::from_secs(1)).await;
    before.put(&page(2), "k", b"2".to_vec()).await.unwrap();
    assert_eq!(before.save_snapshot(dir.path()).unwrap().records, 1);
    let after = pages();
    after.load_snapshot(dir.path());
    assert_eq!(after.stats().pages, 1);
    assert!(after.touch(&page(2)).await.unwrap());
}

#[tokio::test]
async fn a_snapshot_holds_no_more_than_the_store_budget() {
    let dir = tempfile::tempdir().unwrap();
    let before = pages();
    for n in 0..100 {
        before.put(&page(n), "k", vec![b'1'; 1000]).await.unwrap();
    }
    let small = MemoryPageStore::new(
        PageOptions::default(),
        MemoryOptions::default().memory_limit(20 * 1024),
    );
    for n in 0..10 {
        small.put(&page(n), "k", vec![b'1'; 1000]).await.unwrap();
    }
    let stats = small.save_snapshot(dir.path()).unwrap();
    assert_eq!(stats.records, 10);
    let stats = before.save_snapshot(dir.path()).unwrap();
    assert_eq!(stats.records, 100);
    // The small store restores what fits its budget, most recent first.
    let loaded = small_store().load_snapshot(dir.path());
    assert!(loaded.records > 0 && loaded.skipped > 0, "{loaded:?}");
    assert_eq!(loaded.records + loaded.skipped, 100);
}

fn small_store() -> MemoryPageStore {
    MemoryPageStore::new(
        PageOptions::default(),
        MemoryOptions::default().memory_limit(20 * 1024),
    )
}

#[tokio::test(start_paused = true)]
async fn rooms_keep_state_version_members_and_acl() {
    let dir = tempfile::tempdir().unwrap();
    let before = MemoryRoomStore::new(RoomOptions::default(), 64 << 20);
    let (alice, bob) = (Principal::app("alice"), Principal::app("bob"));
    let room = rooms(&before).room("lobby").unwrap();
    room.join(&alice).await.unwrap();
    let sub = room.attach(&alice, None).await.unwrap();
    room.put(&alice, "post", "hello").await.unwrap();
    room.put(&alice, "votes", &3).await.unwrap();
    let version = room.snapshot(&alice).await.unwrap().version;
    drop(sub);
    before.save_snapshot(dir.path()).unwrap();

    let after = MemoryRoomStore::new(RoomOptions::default(), 64 << 20);
    assert_eq!(after.load_snapshot(dir.path()).records, 1);
    // Everything but the replay buffer, which starts empty.
    let (kept, held) = (after.stats().bytes_used, before.stats().bytes_used);
    assert!(kept > 0 && kept <= held, "{kept} of {held}");
    let room = rooms(&after).room("lobby").unwrap();
    let post: Option<String> = room.get_or(&alice, "post", None).await.unwrap();
    assert_eq!(post.as_deref(), Some("hello"));
    // Alice is still a member (members may write), Bob still is not.
    let denied = room.put(&bob, "post", "spam").await.unwrap_err();
    assert!(matches!(denied, Error::AccessDenied { .. }), "{denied:?}");
    // A client resuming from the last version it saw misses nothing and
    // receives nothing twice: the next event is the next change.
    let mut sub = room.attach(&alice, Some(version)).await.unwrap();
    room.put(&alice, "post", "again").await.unwrap();
    match next_versioned(&mut sub).await {
        RoomEvent::Diff(diff) => assert_eq!(diff.version, version + 1),
        other => panic!("expected the next diff, got {other:?}"),
    }
    // A client from before the last change is sent the whole state.
    let mut stale = room.attach(&alice, Some(version - 1)).await.unwrap();
    match next_versioned(&mut stale).await {
        RoomEvent::Snapshot(s) | RoomEvent::Resync(s) => assert_eq!(s.version, version + 1),
        other => panic!("expected a resync, got {other:?}"),
    }
}

/// The next event that carries a version (presence counts carry none).
async fn next_versioned(sub: &mut hyperstate::room::Subscription) -> RoomEvent {
    loop {
        let event = sub.next().await.unwrap().unwrap();
        if !matches!(event, RoomEvent::Presence(_)) {
            return event;
        }
    }
}

#[tokio::test(start_paused = true)]
async fn a_room_keeps_its_idle_countdown() {
    let dir = tempfile::tempdir().unwrap();
    let before = MemoryRoomStore::new(RoomOptions::default(), 64 << 20);
    let alice = Principal::app("alice");
    let room = rooms(&before).room("lobby").unwrap();
    room.join(&alice).await.unwrap();
    room.put(&alice, "post", "hello").await.unwrap();
    tokio::time::advance(Duration::from_secs(40)).await;
    before.save_snapshot(dir.path()).unwrap();

    let after = MemoryRoomStore::new(RoomOptions::default(), 64 << 20);
    assert_eq!(after.load_snapshot(dir.path()).records, 1);
    let store = rooms(&after);
    assert!(
        store
            .store()
            .is_live(&RoomKey::parse("lobby").unwrap())
            .await
            .unwrap()
    );
    // 40 of its 60 seconds were spent before the restart.
    tokio::time::advance(Duration::from_secs(25)).await;
    assert_eq!(store.store().sweep().await.unwrap(), 1);
    assert_eq!(after.stats().bytes_used, 0);
}

async fn saved_pages(dir: &Path) {
    let store = pages();
    for n in 0..5 {
        store.put(&page(n), "k", b"\"v\"".to_vec()).await.unwrap();
    }
    store.save_snapshot(dir).unwrap();
}

/// Loads `dir`'s page snapshot after `spoil` edited it: the store must start
/// empty and the file must have been moved aside, not deleted.
async fn bad_file_starts_empty(spoil: impl FnOnce(&mut Vec<u8>)) {
    let dir = tempfile::tempdir().unwrap();
    saved_pages(dir.path()).await;
    let path = dir.path().join("pages.snapshot");
    let mut bytes = std::fs::read(&path).unwrap();
    spoil(&mut bytes);
    std::fs::write(&path, &bytes).unwrap();

    let store = pages();
    let loaded = store.load_snapshot(dir.path());
    assert_eq!(loaded.records, 0);
    assert_eq!(store.stats().pages, 0);
    assert_eq!(store.stats().bytes_used, 0);
    let aside = files(dir.path(), "pages.snapshot");
    assert_eq!(aside.len(), 1, "{aside:?}");
    assert!(aside[0].starts_with("pages.snapshot.bad."), "{aside:?}");
    assert_eq!(std::fs::read(dir.path().join(&aside[0])).unwrap(), bytes);
    // The store works as usual afterwards.
    store.put(&page(1), "k", b"1".to_vec()).await.unwrap();
}

#[tokio::test]
async fn a_truncated_snapshot_is_moved_aside() {
    bad_file_starts_empty(|bytes| bytes.truncate(bytes.len() - 7)).await;
}

#[tokio::test]
async fn a_snapshot_of_another_version_is_moved_aside() {
    bad_file_starts_empty(|bytes| {
        let text = String::from_utf8(bytes.clone()).unwrap();
        *bytes = text
            .replacen("\"version\":1", "\"version\":99", 1)
            .into_bytes();
    })
    .await;
}

#[tokio::test]
async fn a_garbage_snapshot_is_moved_aside() {
    bad_file_starts_empty(|bytes| *bytes = b"\x00\xffnot json at all\n{{{".to_vec()).await;
}

#[tokio::test]
async fn a_room_snapshot_is_not_loaded_as_pages() {
    let dir = tempfile::tempdir().unwrap();
    let rooms_store = MemoryRoomStore::new(RoomOptions::default(), 64 << 20);
    let room = rooms(&rooms_store).room("lobby").unwrap();
    room.join(&Principal::app("a")).await.unwrap();
    room.put(&Principal::app("a"), "k", "v").await.unwrap();
    rooms_store.save_snapshot(dir.path()).unwrap();
    std::fs::rename(
        dir.path().join("rooms.snapshot"),
        dir.path().join("pages.snapshot"),
    )
    .unwrap();
    let store = pages();
    assert_eq!(store.load_snapshot(dir.path()).records, 0);
    assert_eq!(files(dir.path(), "pages.snapshot.bad.").len(), 1);
}

#[tokio::test]
async fn no_snapshot_is_a_clean_start() {
    let dir = tempfile::tempdir().unwrap();
    let store = pages();
    assert_eq!(store.load_snapshot(dir.path()).records, 0);
    assert!(files(dir.path(), "").is_empty());
}

#[test]
fn snapshot_files_are_private_to_the_service_user() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("snapshots");
    let store = pages();
    store.save_snapshot(&target).unwrap();
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&target), 0o700);
    assert_eq!(mode(&target.join("pages.snapshot")), 0o600);
}
