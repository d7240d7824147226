//! The replay buffer's byte bound ([`RoomOptions::replay_bytes`]): large values
//! push old diffs out sooner than the count bound would, and clients resuming
//! from before what is kept resync instead of getting a gap.

use hyperstate::room::{RoomEvent, RoomOptions};

use super::{Factory, fresh_name, member, next, next_diff, rooms};

/// A value of about 1 KiB once encoded, so a few fill the byte bound below.
fn kib_value(i: usize) -> String {
    format!("{i:04}{}", "x".repeat(1_000))
}

pub async fn resume_past_the_byte_bound_resyncs(make: &dyn Factory) {
    // Room for 256 diffs by count, but only a few of these by bytes.
    let options = RoomOptions::default().replay(256).replay_bytes(4 * 1024);
    let rooms = rooms(make, options);
    let room = rooms.room(&fresh_name()).unwrap();
    let alice = member(&room).await;
    let seen = room.snapshot(&alice).await.unwrap().version;
    for i in 0..10 {
        room.put(&alice, "big", &kib_value(i)).await.unwrap();
    }
    let mut sub = room.attach(&alice, Some(seen)).await.unwrap();
    let RoomEvent::Resync(snapshot) = next(&mut sub).await else {
        panic!("ten missed 1 KiB diffs with a buffer of 4 KiB must resync");
    };
    assert_eq!(snapshot.version, seen + 10);
    assert_eq!(snapshot.get_or("big", String::new()).unwrap(), kib_value(9));
    // The last two (2 KiB and their overhead) fit: resuming two behind replays
    // exactly them.
    drop(sub);
    let mut sub = room.attach(&alice, Some(seen + 8)).await.unwrap();
    for v in seen + 9..=seen + 10 {
        let diff = next_diff(&mut sub).await;
        assert_eq!(diff.version, v);
    }
}

pub async fn a_diff_over_the_byte_bound_is_never_replayed(make: &dyn Factory) {
    let options = RoomOptions::default().replay_bytes(4 * 1024);
    let rooms = rooms(make, options);
    let room = rooms.room(&fresh_name()).unwrap();
    let alice = member(&room).await;
    room.put(&alice, "small", &1).await.unwrap();
    let before_big = room.snapshot(&alice).await.unwrap().version;
    let huge = "y".repeat(8 * 1024);
    room.put(&alice, "huge", &huge).await.unwrap();
    room.put(&alice, "small", &2).await.unwrap();
    // The huge diff was not kept, so resuming from before it (where the small
    // one after it is still kept) must resync, not replay around the gap.
    for from in [before_big - 1, before_big] {
        let mut sub = room.attach(&alice, Some(from)).await.unwrap();
        let RoomEvent::Resync(snapshot) = next(&mut sub).await else {
            panic!("resuming from {from}, before an unkept diff, must resync");
        };
        assert_eq!(snapshot.version, before_big + 2);
        assert_eq!(snapshot.get_or("huge", String::new()).unwrap(), huge);
        assert_eq!(snapshot.get_or("small", 0u32).unwrap(), 2);
    }
    // After it, the buffer works again.
    let mut sub = room.attach(&alice, Some(before_big + 1)).await.unwrap();
    let diff = next_diff(&mut sub).await;
    assert_eq!(diff.version, before_big + 2);
    assert_eq!(diff.value::<u32>().unwrap().unwrap(), 2);
}
