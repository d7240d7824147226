//! Cases for [`RoomStore`] backends.
//!
//! Each case gets a factory `Fn(RoomOptions) -> Arc<dyn RoomStore>` so it can set
//! the buffer sizes and limits it needs, and uses fresh random room names so cases
//! can share one external server. Waits for delivery are bounded (generous, so a
//! loaded machine does not fail them) and never assert how fast anything was.

use std::sync::Arc;
use std::time::Duration;

use hyperstate::BrowserId;
use hyperstate::room::{
    Diff, Principal, RoomEvent, RoomInit, RoomKey, RoomOptions, RoomStore, Rooms, Subscription,
};

mod acl;
mod lazy;
mod lifecycle;
mod replay_bytes;
mod state;
mod stream;

pub use acl::*;
pub use lazy::*;
pub use lifecycle::*;
pub use replay_bytes::*;
pub use state::*;
pub use stream::*;

/// Builds the backend under test with the given options.
pub trait Factory: Fn(RoomOptions) -> Arc<dyn RoomStore> + Send + Sync {}
impl<F: Fn(RoomOptions) -> Arc<dyn RoomStore> + Send + Sync> Factory for F {}

/// How long a case waits for an event that must come.
const DELIVERY: Duration = Duration::from_secs(10);
/// The idle TTL the lifecycle cases give their rooms: short, so `time = real`
/// backends can run them.
pub const TEST_IDLE_TTL: Duration = Duration::from_secs(2);

/// A fresh room name no other case (or earlier run on a shared server) uses.
fn fresh_name() -> String {
    format!("conformance-{}", BrowserId::generate())
}

/// The registry most cases use: rooms start with `{"topic": "hello"}`, the
/// default ACL (members all, public read) and [`TEST_IDLE_TTL`].
fn rooms(make: &dyn Factory, options: RoomOptions) -> Rooms {
    Rooms::new(make(options), |_: &RoomKey| {
        Ok(RoomInit::new()
            .value("topic", "hello")?
            .idle_ttl(TEST_IDLE_TTL))
    })
}

/// A principal that has joined `room`.
async fn member(room: &hyperstate::room::Room) -> Principal {
    let who = Principal::app(format!("member-{}", BrowserId::generate()));
    assert!(
        room.join(&who).await.expect("joining"),
        "join reported no change"
    );
    who
}

fn public() -> Principal {
    Principal::Browser(BrowserId::generate())
}

/// The next event, which must arrive within [`DELIVERY`].
async fn next(sub: &mut Subscription) -> RoomEvent {
    match tokio::time::timeout(DELIVERY, sub.next()).await {
        Ok(Some(Ok(event))) => event,
        Ok(Some(Err(err))) => panic!("subscription failed: {err}"),
        Ok(None) => panic!("subscription ended"),
        Err(_) => panic!("no event within {DELIVERY:?}"),
    }
}

/// The next event that is not a presence count.
async fn next_versioned(sub: &mut Subscription) -> RoomEvent {
    loop {
        match next(sub).await {
            RoomEvent::Presence(_) => continue,
            event => return event,
        }
    }
}

async fn next_diff(sub: &mut Subscription) -> Arc<Diff> {
    match next_versioned(sub).await {
        RoomEvent::Diff(diff) => diff,
        other => panic!("expected a diff, got {other:?}"),
    }
}

/// Expands every room-store case into a `#[tokio::test]`.
///
/// `$make` is an expression of a type implementing [`Factory`]; `time = paused`
/// or `time = real` chooses how the TTL cases wait. The optional
/// `skip_unless = COND` skips every case (returning early) when `COND` is false,
/// for backends whose server may be absent; `COND` should print why.
#[macro_export]
macro_rules! room_store_suite {
    ($make:expr, time = $time:ident) => {
        $crate::room_store_suite!($make, time = $time, skip_unless = true);
    };
    ($make:expr, time = $time:ident, skip_unless = $cond:expr) => {
        $crate::room_store_suite!(@cases $make, $time, $cond;
            attach_gets_snapshot_then_ordered_diffs, versions_are_gap_free_under_concurrent_writers,
            resume_replays_exactly_the_missed_diffs, resume_when_up_to_date_replays_nothing,
            resume_past_the_buffer_resyncs, resume_from_an_unknown_version_resyncs,
            resume_past_the_byte_bound_resyncs, a_diff_over_the_byte_bound_is_never_replayed,
            reset_reruns_the_spec, delete_of_an_absent_key_is_no_change,
            slow_subscriber_does_not_block_writers_or_others, presence_counts_attached_clients,
            reads_of_an_unstored_room_store_nothing, first_write_after_lazy_reads_sees_the_initial_state,
            joining_stores_the_room, denied_operations_on_an_unstored_room_store_nothing,
            spec_errors_refuse_the_room,
            acl_matrix, denied_operations_change_nothing, members_can_leave,
            a_reset_that_revokes_read_ends_the_stream,
            round_trip_typed_values, typed_keys_and_declined_updates, update_is_atomic_under_concurrency,
            limits_are_enforced_without_a_diff, member_limit_is_enforced,
            invalid_room_keys_are_rejected;
            idle_room_is_dropped_after_its_ttl, attached_room_outlives_its_ttl,
            reattach_cancels_the_countdown, direct_access_restarts_the_countdown,
            restarted_room_resyncs_stale_clients, unused_member_slots_expire);
    };
    (@cases $make:expr, $time:ident, $cond:expr; $($case:ident),*; $($ttl_case:ident),*) => {
        $(
            #[$crate::tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                if !($cond) { return; }
                $crate::room::$case(&$make).await;
            }
        )*
        $( $crate::room_store_suite!(@ttl $make, $time, $cond, $ttl_case); )*
    };
    (@ttl $make:expr, paused, $cond:expr, $case:ident) => {
        #[$crate::tokio::test(start_paused = true)]
        async fn $case() {
            if !($cond) { return; }
            $crate::room::$case(&$make).await;
        }
    };
    (@ttl $make:expr, real, $cond:expr, $case:ident) => {
        #[$crate::tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $case() {
            if !($cond) { return; }
            $crate::room::$case(&$make).await;
        }
    };
}
