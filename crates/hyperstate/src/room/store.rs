//! The backend trait for room state.

use std::any::Any;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::{broadcast, watch};

use super::{Access, Diff, Json, MemberKey, RoomInit, RoomKey, Snapshot};
use crate::page::UpdateFn;
use crate::{Limits, Result};

/// Builds a room's [`RoomInit`] when an operation finds the room absent. Backends
/// call it only then, outside their locks (it runs the app's
/// [`RoomSpec`](super::RoomSpec)).
pub type InitFn<'a> = &'a (dyn Fn() -> Result<RoomInit> + Send + Sync);

/// One operation's target: which room, who is calling, and how to start the
/// room if it is not live.
#[derive(Clone, Copy)]
pub struct Call<'a> {
    /// The room.
    pub room: &'a RoomKey,
    /// The caller (or, for [`RoomStore::set_member`], the member to add or remove).
    pub caller: &'a MemberKey,
    /// Starts the room when it is absent.
    pub init: InitFn<'a>,
}

impl fmt::Debug for Call<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Call")
            .field("room", self.room)
            .field("caller", self.caller)
            .finish_non_exhaustive()
    }
}

/// A write to a room. Each successful one produces exactly one [`Diff`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Write {
    /// Sets `key` to `value` (needs [`Right::Write`](super::Right::Write)).
    Put {
        /// The key, already validated.
        key: Arc<str>,
        /// The value, already encoded and size-checked.
        value: Json,
    },
    /// Removes `key` (needs [`Right::Delete`](super::Right::Delete)). Removing an
    /// absent key changes nothing and produces no diff.
    Delete {
        /// The key, already validated.
        key: Arc<str>,
    },
    /// Replaces the state, ACL and TTL with a fresh run of the spec (needs
    /// [`Right::Reset`](super::Right::Reset) under the *current* ACL). Members
    /// stay members.
    Reset(RoomInit),
}

/// Where an attached client starts.
#[derive(Debug, Clone)]
pub enum Start {
    /// The whole state: the client attached afresh, or asked to resume from a
    /// version whose successors are no longer buffered (or never existed).
    Snapshot(Snapshot),
    /// The client resumed: these are exactly the diffs after its version (empty
    /// when it was up to date), in order.
    Replay(Vec<Arc<Diff>>),
}

/// Keeps a client attached; dropping it detaches the client. When the last
/// client of a room detaches, the room's idle countdown starts.
///
/// Backends put whatever does the detaching (a type with a `Drop` impl) inside.
pub struct AttachGuard(#[allow(dead_code)] Box<dyn Any + Send + Sync>);

impl AttachGuard {
    /// Wraps the backend's detach-on-drop value.
    pub fn new(on_drop: impl Any + Send + Sync) -> Self {
        AttachGuard(Box::new(on_drop))
    }
}

impl fmt::Debug for AttachGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AttachGuard")
    }
}

/// What [`RoomStore::attach`] hands back: where to start, then the live feed.
#[derive(Debug)]
pub struct Attachment {
    /// The snapshot or the replayed diffs.
    pub start: Start,
    /// Every diff after the start, in version order. Bounded: a receiver that
    /// falls behind gets `Lagged` and must resync (the
    /// [`Subscription`](super::Subscription) does this).
    pub diffs: broadcast::Receiver<Arc<Diff>>,
    /// The number of attached clients (on every node), updated as they come and
    /// go. A `watch` because only the latest count matters: it can never lag.
    pub presence: watch::Receiver<usize>,
    /// Detaches on drop.
    pub guard: AttachGuard,
}

/// Options every room backend honours.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct RoomOptions {
    /// Per-room limits (key and value size, keys and bytes per room).
    /// Default: [`Limits::default`].
    pub limits: Limits,
    /// Most members one room may have. Default: 10,000.
    pub max_members: usize,
    /// Most live rooms. Live rooms are never evicted to make room, so past this
    /// starting a room fails with [`Error::TooManyRooms`](crate::Error::TooManyRooms).
    /// Default: 100,000.
    pub max_rooms: usize,
    /// How many recent diffs a room keeps for clients that resume. Default: 256.
    pub replay: usize,
    /// How many bytes of recent diffs a room keeps for clients that resume (the
    /// keys and values they carry, plus the backend's per-diff encoding or
    /// overhead): the oldest go first, and a diff larger than this is not kept
    /// at all, so a client resuming from before it is resynced. With
    /// [`RoomOptions::replay`] it bounds each room's buffer; a room whose writes
    /// carry large values keeps fewer of them. Default: [`DEFAULT_REPLAY_BYTES`].
    pub replay_bytes: usize,
    /// How many diffs a subscriber may fall behind before it is told to resync.
    /// Default: 256.
    pub channel_capacity: usize,
    /// How long a member who has neither attached nor written since joining
    /// keeps the slot. Past it the member is public again and the slot is free,
    /// so joins nobody follows up cannot fill [`RoomOptions::max_members`] for
    /// the room's whole life. Default: 10 minutes.
    pub unused_member_ttl: Duration,
}

/// The default of [`RoomOptions::replay_bytes`]: 64 KiB, a few dozen writes of a
/// chat room that keeps its recent messages under one key, ample for a client
/// reconnecting after a network blip; 6.4 GB at the default 100,000 rooms, where
/// a bound by count alone (256 diffs of up to 64 KiB) would allow 16 MiB a room.
pub const DEFAULT_REPLAY_BYTES: usize = 64 * 1024;

/// The default of [`RoomOptions::unused_member_ttl`]: 10 minutes.
pub const DEFAULT_UNUSED_MEMBER_TTL: Duration = Duration::from_secs(600);

impl Default for RoomOptions {
    fn default() -> Self {
        RoomOptions {
            limits: Limits::default(),
            max_members: 10_000,
            max_rooms: 100_000,
            replay: 256,
            replay_bytes: DEFAULT_REPLAY_BYTES,
            channel_capacity: 256,
            unused_member_ttl: DEFAULT_UNUSED_MEMBER_TTL,
        }
    }
}

impl RoomOptions {
    /// Sets [`RoomOptions::limits`].
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }
    /// Sets [`RoomOptions::max_members`].
    pub fn max_members(mut self, n: usize) -> Self {
        self.max_members = n;
        self
    }
    /// Sets [`RoomOptions::max_rooms`].
    pub fn max_rooms(mut self, n: usize) -> Self {
        self.max_rooms = n;
        self
    }
    /// Sets [`RoomOptions::replay`].
    pub fn replay(mut self, n: usize) -> Self {
        self.replay = n;
        self
    }
    /// Sets [`RoomOptions::replay_bytes`].
    pub fn replay_bytes(mut self, n: usize) -> Self {
        self.replay_bytes = n;
        self
    }
    /// Sets [`RoomOptions::unused_member_ttl`].
    pub fn unused_member_ttl(mut self, ttl: Duration) -> Self {
        self.unused_member_ttl = ttl;
        self
    }
    /// Sets [`RoomOptions::channel_capacity`] (at least 1).
    pub fn channel_capacity(mut self, n: usize) -> Self {
        self.channel_capacity = n.max(1);
        self
    }
}

/// Where room state lives, and how its changes fan out.
///
/// Apps do not call this trait: they use [`Rooms`](super::Rooms) and
/// [`Room`](super::Room), which validate keys, encode values and hash callers
/// before calling it.
///
/// # Contract
///
/// - **Start**: [`write`](Self::write), [`update`](Self::update),
///   [`set_member`](Self::set_member) and [`attach`](Self::attach) start the
///   room when it is not live, with `(call.init)()`, checked with
///   [`RoomInit::checked_bytes`]. If `init` fails, nothing is started and its
///   error is returned. An operation the new room's ACL would deny its caller
///   ([`RoomInit::check_new_room`]) is denied without starting the room.
/// - **Lazy reads**: [`access`](Self::access), [`get`](Self::get) and
///   [`snapshot`](Self::snapshot) of a room that is not live start nothing and
///   store nothing: they answer from `(call.init)()` through [`Unstored`](super::Unstored),
///   at a version a room started at that instant could have. The first write
///   afterwards starts the room from the spec, so it sees the initial state. A new room's
///   version starts above any version an earlier room of the same key can have
///   reached (the memory backend uses the creation time in microseconds), so a
///   client resuming across a room's restart is resynced, never handed diffs
///   that do not apply.
/// - **ACL**: the caller is a member when `call.caller` has been added with
///   [`set_member`](Self::set_member) and has not lost the slot, else public. A
///   member who has neither attached nor written since joining loses the slot
///   once [`RoomOptions::unused_member_ttl`] has passed since the join; the room's current
///   [`Acl`](super::Acl) decides with [`Acl::check`](super::Acl::check), before
///   anything changes. `access`, `set_member`, `attached` and `is_live` need no
///   right (joining is the app's decision).
/// - **Versions and diffs**: each successful write bumps the version by exactly
///   one and publishes exactly one [`Diff`] to every attached client, atomically
///   with the change: diffs reach every subscriber in version order, and a
///   snapshot at version `v` plus the diffs after `v` is the state.
/// - **Attach**: [`attach`](Self::attach) returns the start and the live feed
///   atomically: no diff is lost or repeated between them. With `resume =
///   Some(v)`, if every diff after `v` is still buffered the start is
///   [`Start::Replay`], else a [`Start::Snapshot`].
/// - **Slow clients**: publishing never waits for a subscriber; a subscriber
///   more than [`RoomOptions::channel_capacity`] diffs behind sees `Lagged`.
/// - **Idle TTL**: a room with no attached client is dropped, with its state,
///   members and buffer, once its idle TTL has passed since the last client
///   detached or the last operation on it, whichever is later. A dropped room is
///   never observed: the next operation starts it afresh. Rooms with an
///   attached client are never evicted for space; a backend with a memory
///   budget may evict rooms with none (least recently used first), which then
///   behave exactly as if their TTL had passed.
/// - **Limits**: writes that break [`RoomOptions::limits`] fail with the typed
///   error of the page scope and change nothing.
/// - **Sharing**: clones of a backend handle share the same rooms.
///
/// # Distributed backends
///
/// The trait is shaped so that a shared server (Redis) fits without changes to
/// [`Rooms`](super::Rooms), [`Subscription`](super::Subscription) or the
/// conformance suite:
///
/// - State, version, ACL, members and a bounded diff log live on the server; one
///   atomic step (a Lua script) checks the ACL, applies a write, bumps the
///   version and publishes the diff. [`update`](Self::update) is a
///   compare-and-set on the version, retried.
/// - Each node keeps one local `broadcast` sender per room it has clients for,
///   fed by its pub/sub subscription, and hands out receivers of it in
///   [`Attachment`]. Pub/sub may drop a message: the [`Subscription`](super::Subscription)
///   turns any version gap into a resync through [`snapshot`](Self::snapshot),
///   so the backend need not detect gaps itself (it may, to resync once per node).
/// - Presence is a counter on the server, published on change and fed into a
///   local `watch`; the [`AttachGuard`] of a node decrements it (from a task, as
///   `Drop` cannot wait). The idle TTL starts when the count reaches zero across
///   all nodes (e.g. `PEXPIRE` on every key of the room).
///
/// # Implementing a backend
///
/// ```
/// use async_trait::async_trait;
/// use hyperstate::backend::UpdateFn;
/// use hyperstate::backend::{Attachment, Call, Write};
/// use hyperstate::room::{
///     Access, CallerClass, Diff, Json, MemberKey, RoomKey, RoomOptions, RoomStore, Snapshot,
/// };
/// use hyperstate::{Error, Result};
///
/// /// A backend that refuses every room (a spec in the store's clothing).
/// #[derive(Debug, Default)]
/// struct Closed(RoomOptions);
///
/// fn refuse() -> Error {
///     Error::backend("closed", "start", std::io::Error::other("no rooms here"))
/// }
///
/// #[async_trait]
/// impl RoomStore for Closed {
///     fn backend_name(&self) -> &'static str { "closed" }
///     fn options(&self) -> &RoomOptions { &self.0 }
///     async fn access(&self, _: Call<'_>) -> Result<Access> { Err(refuse()) }
///     async fn get(&self, _: Call<'_>, _: &str) -> Result<Option<Json>> { Err(refuse()) }
///     async fn snapshot(&self, _: Call<'_>) -> Result<Snapshot> { Err(refuse()) }
///     async fn write(&self, _: Call<'_>, _: Write) -> Result<Option<std::sync::Arc<Diff>>> { Err(refuse()) }
///     async fn update(&self, _: Call<'_>, _: &str, _: UpdateFn<'_>) -> Result<std::sync::Arc<Diff>> { Err(refuse()) }
///     async fn set_member(&self, _: Call<'_>, _: bool) -> Result<bool> { Err(refuse()) }
///     async fn attach(&self, _: Call<'_>, _: Option<u64>) -> Result<Attachment> { Err(refuse()) }
///     async fn attached(&self, _: &RoomKey) -> Result<usize> { Ok(0) }
///     async fn is_live(&self, _: &RoomKey) -> Result<bool> { Ok(false) }
///     async fn sweep(&self) -> Result<usize> { Ok(0) }
/// }
///
/// let store: std::sync::Arc<dyn RoomStore> = std::sync::Arc::new(Closed::default());
/// assert_eq!(store.backend_name(), "closed");
/// ```
#[async_trait]
pub trait RoomStore: fmt::Debug + Send + Sync + 'static {
    /// A short name for logs, metrics and errors (`"memory"`, `"redis"`).
    fn backend_name(&self) -> &'static str;

    /// The limits and buffer sizes this backend enforces.
    fn options(&self) -> &RoomOptions;

    /// The caller's class and rights.
    async fn access(&self, call: Call<'_>) -> Result<Access>;

    /// The value under `key` (needs read).
    async fn get(&self, call: Call<'_>, key: &str) -> Result<Option<Json>>;

    /// The whole state and its version (needs read).
    async fn snapshot(&self, call: Call<'_>) -> Result<Snapshot>;

    /// Applies `write`; returns its diff, or `None` when it changed nothing
    /// (deleting an absent key).
    async fn write(&self, call: Call<'_>, write: Write) -> Result<Option<Arc<Diff>>>;

    /// Atomically replaces the value under `key` with `f(current)` (needs write)
    /// and returns the diff. If `f` fails nothing changes. `f` may run more than
    /// once (a distributed backend's retry, a memory backend's run again after
    /// evicting an idle room for space); only the stored run counts.
    async fn update(&self, call: Call<'_>, key: &str, f: UpdateFn<'_>) -> Result<Arc<Diff>>;

    /// Adds (`joined = true`) or removes `call.caller` as a member; returns
    /// whether membership changed. Fails with
    /// [`Error::TooManyMembers`](crate::Error::TooManyMembers) past
    /// [`RoomOptions::max_members`].
    async fn set_member(&self, call: Call<'_>, joined: bool) -> Result<bool>;

    /// Attaches a client (needs read): the start, then the live feed.
    async fn attach(&self, call: Call<'_>, resume: Option<u64>) -> Result<Attachment>;

    /// How many clients are attached to `room` (0 when it is not live). Never
    /// starts a room.
    async fn attached(&self, room: &RoomKey) -> Result<usize>;

    /// Whether `room` is live (started and not dropped). Never starts a room.
    async fn is_live(&self, room: &RoomKey) -> Result<bool>;

    /// Frees rooms whose idle TTL has passed; returns how many. Backends whose
    /// storage expires by itself may return 0.
    async fn sweep(&self) -> Result<usize>;

    /// Checks that the backend can serve requests (e.g. its server answers), for
    /// health endpoints. In-process backends are always healthy.
    async fn check_health(&self) -> Result<()> {
        Ok(())
    }

    /// The store's snapshot support, if its rooms live in process memory and
    /// would otherwise be lost on restart (the memory backend). Backends whose
    /// state outlives the process keep the default, `None`.
    fn persist(&self) -> Option<&dyn crate::memory::Persist> {
        None
    }
}

/// The class of `caller` given a membership test (a helper for backends).
pub fn class_of(is_member: bool) -> super::CallerClass {
    if is_member {
        super::CallerClass::Member
    } else {
        super::CallerClass::Public
    }
}
