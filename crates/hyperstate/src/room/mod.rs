//! Room scope: state shared by key, live to every attached client.
//!
//! A room is state under an arbitrary key (a chat room, a dashboard) that any
//! number of clients share. The app's [`RoomSpec`] gives each room its initial
//! state, its [`Acl`] and its idle TTL. [`Rooms`] is the registry; a [`Room`] is
//! the direct API (get / put / update / delete / reset) for any code, always
//! called for a [`Principal`] and checked against the ACL.
//!
//! Clients [attach](Room::attach) and get a [`Subscription`]: the state with its
//! version, then every change as a versioned [`Diff`] (inserted / updated /
//! deleted / reset). A client that reconnects with the last version it saw (an
//! SSE `Last-Event-ID`) gets the diffs it missed, or a resync with the whole
//! state when they are no longer buffered. Buffers are bounded: a slow client
//! never holds back a writer or another client; it is resynced instead.
//!
//! # Lifecycle
//!
//! A room is stored on its first write, join or attach. Reading a room that is
//! not stored (get, snapshot, access) answers from the spec and stores nothing,
//! so viewing a room costs little. When a stored room's last client detaches, a
//! countdown (the spec's idle TTL, default 60 s) begins; any access restarts it;
//! when it runs out the room is dropped and its state freed. Rooms with attached
//! clients are never evicted for space; a backend with a memory budget may evict
//! rooms nobody is attached to first (they behave as expired). Past the
//! backend's room limit, starting a new room fails with
//! [`Error::TooManyRooms`](crate::Error::TooManyRooms).
//!
//! Members who never use their slot (no attach and no write since they joined)
//! lose it after [`RoomOptions::unused_member_ttl`], so a flood of joins cannot
//! keep others out of a room for its whole life.
//!
//! # Access control
//!
//! Two classes of caller: *members*, whom the app [joined](Room::join) to the
//! room, and the *public*. Each has any of read / write / delete / reset
//! ([`Rights::ALL`] for all four). A denial is
//! [`Error::AccessDenied`](crate::Error::AccessDenied), never a silent no-op.

mod acl;
mod diff;
mod key;
mod principal;
mod rooms;
mod spec;
pub(crate) mod store;
mod subscriber_metrics;
mod subscription;
pub(crate) mod unstored;

pub use acl::{Access, Acl, CallerClass, Right, Rights};
pub use diff::{Change, Diff, Json, Snapshot, State};
pub use key::{MAX_ROOM_KEY_BYTES, RoomKey};
pub use principal::{MemberKey, Principal};
pub use rooms::{DEFAULT_SWEEP_EVERY, Room, Rooms};
pub use spec::{DEFAULT_IDLE_TTL, RoomInit, RoomSpec};
pub use store::{DEFAULT_REPLAY_BYTES, DEFAULT_UNUSED_MEMBER_TTL, RoomOptions, RoomStore};
// What a store implementation handles is public in `crate::backend`; the
// core's own modules name it here.
pub(crate) use store::{AttachGuard, Attachment, Call, Start, Write, class_of};
pub use subscription::{RoomEvent, Subscription};
pub(crate) use unstored::Unstored;
