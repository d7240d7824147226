//! The registry handle and the direct API on one room.

use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use serde::{Serialize, de::DeserializeOwned};
use tokio_util::sync::CancellationToken;

use super::spec::SharedSpec;
use super::{
    Access, Call, Change, Json, Principal, RoomInit, RoomKey, RoomSpec, RoomStore, Snapshot,
    Subscription, Write,
};
use crate::observe::operation;
use crate::value::{byte_updater, decode, encode, validate_key};
use crate::{Error, Key, KeyFor, KeyName, Result, Supervisor};

/// How often a supervised registry frees rooms whose idle TTL has passed. Expiry
/// is also checked on every access, so this only bounds how long freed memory
/// stays allocated.
pub const DEFAULT_SWEEP_EVERY: Duration = Duration::from_secs(5);

/// The room registry: a backend plus the app's [`RoomSpec`].
///
/// Cheap to clone; clones share everything. Rooms are stored on their first
/// write, join or attach (reads before that answer from the spec and store
/// nothing) and are dropped after their idle TTL (see [`RoomStore`]'s contract).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> hyperstate::Result<()> {
/// use std::sync::Arc;
/// use hyperstate::memory::MemoryRoomStore;
/// use hyperstate::Key;
/// use hyperstate::room::{Principal, RoomInit, RoomKey, Rooms};
///
/// const TOPIC: Key<String> = Key::or_default("topic");
///
/// let rooms = Rooms::new(Arc::new(MemoryRoomStore::default()), |_: &RoomKey| {
///     RoomInit::new().value(TOPIC.name(), "hello")
/// });
/// let lobby = rooms.room("lobby")?;
/// let alice = Principal::app("alice");
/// lobby.join(&alice).await?;
/// assert_eq!(lobby.get(&alice, &TOPIC).await?, "hello");
/// lobby.put(&alice, &TOPIC, "rust").await?;
/// assert_eq!(lobby.get(&Principal::app("anyone"), &TOPIC).await?, "rust");
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Rooms {
    store: Arc<dyn RoomStore>,
    spec: SharedSpec,
    /// In an `Arc` because cloning a `CancellationToken` locks its tree node's
    /// mutex (twice per clone, counting the drop), one mutex shared by every
    /// clone: apps clone the registry per request (an axum `Extension`, a
    /// `Room` handle), and with a bare token every request on every worker
    /// took that one lock.
    shutdown: Arc<CancellationToken>,
}

impl fmt::Debug for Rooms {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Rooms")
            .field("backend", &self.store.backend_name())
            .finish_non_exhaustive()
    }
}

impl Rooms {
    /// A registry over `store`, starting rooms with `spec`.
    pub fn new(store: Arc<dyn RoomStore>, spec: impl RoomSpec) -> Self {
        Rooms {
            store,
            spec: Arc::new(spec),
            shutdown: Arc::new(CancellationToken::new()),
        }
    }

    /// Puts the registry under `supervisor`: a sweeper frees expired rooms every
    /// [`DEFAULT_SWEEP_EVERY`], and every [`Subscription`] ends when the
    /// supervisor shuts down (so SSE streams close and the server can drain).
    ///
    /// Graceful HTTP shutdown waits for open connections, and an SSE stream is
    /// one: cancel [`Supervisor::shutdown_token`] when the shutdown signal
    /// arrives, before waiting for the server (the web integration does:
    /// `hyperstate_axum::Hyperstate::rooms` builds a registry supervised so,
    /// and its `serve` or `Hyperstate::end_streams` cancels the token).
    /// Several registries over one store each start a sweeper; that is
    /// harmless, as sweeps are idempotent.
    pub fn supervised(self, supervisor: &Supervisor) -> Self {
        self.supervised_sweeping_every(supervisor, DEFAULT_SWEEP_EVERY)
    }

    /// [`Self::supervised`], sweeping every `every` instead of
    /// [`DEFAULT_SWEEP_EVERY`].
    pub fn supervised_sweeping_every(mut self, supervisor: &Supervisor, every: Duration) -> Self {
        supervisor.spawn_room_sweeper(self.store.clone(), every);
        self.shutdown = Arc::new(supervisor.shutdown_token());
        self
    }

    /// The room named `name`, validated ([`RoomKey::parse`]). Starts nothing:
    /// the room starts on its first operation.
    pub fn room(&self, name: &str) -> Result<Room> {
        Ok(self.room_by_key(RoomKey::parse(name)?))
    }

    /// The room with an already validated key.
    pub fn room_by_key(&self, key: RoomKey) -> Room {
        Room {
            rooms: self.clone(),
            key,
        }
    }

    /// The backend.
    pub fn store(&self) -> &Arc<dyn RoomStore> {
        &self.store
    }

    pub(super) fn shutdown_token(&self) -> &CancellationToken {
        &self.shutdown
    }
}

/// One room, for direct use from any code: a handler, a background job, a JSON
/// endpoint. Every method takes the [`Principal`] it acts for and honours the
/// room's ACL for that principal; a denial is
/// [`Error::AccessDenied`](crate::Error::AccessDenied).
#[derive(Clone)]
pub struct Room {
    rooms: Rooms,
    key: RoomKey,
}

impl fmt::Debug for Room {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Room")
            .field("key", &self.key)
            .field("backend", &self.rooms.store.backend_name())
            .finish()
    }
}

impl Room {
    /// The room's key.
    pub fn key(&self) -> &RoomKey {
        &self.key
    }

    /// Runs one operation in its span and counts its outcome (see
    /// [`observe`](crate::observe)).
    async fn observe<T>(
        &self,
        op: &'static str,
        work: impl Future<Output = Result<T>>,
    ) -> Result<T> {
        operation("room", op, self.rooms.store.backend_name(), work).await
    }

    fn init(&self) -> Result<RoomInit> {
        self.rooms.spec.init(&self.key)
    }

    pub(super) fn backend_name(&self) -> &'static str {
        self.rooms.store.backend_name()
    }

    fn store(&self) -> &dyn RoomStore {
        &*self.rooms.store
    }

    fn limits(&self) -> crate::Limits {
        self.rooms.store.options().limits
    }

    /// What `who` may do here.
    pub async fn access(&self, who: &Principal) -> Result<Access> {
        self.observe("access", async {
            let caller = who.member_key();
            let init = || self.init();
            self.store().access(self.call(&caller, &init)).await
        })
        .await
    }

    fn call<'a>(
        &'a self,
        caller: &'a super::MemberKey,
        init: &'a (dyn Fn() -> Result<RoomInit> + Send + Sync),
    ) -> Call<'a> {
        Call {
            room: &self.key,
            caller,
            init,
        }
    }

    /// The value under `key`, or the key's default (needs read).
    pub async fn get<T: DeserializeOwned>(&self, who: &Principal, key: &Key<T>) -> Result<T> {
        self.read(who, key.name(), || key.default_value()).await
    }

    /// The value under the string key `key`, or `default` (needs read). Prefer
    /// a typed [`Key`] and [`get`](Self::get).
    pub async fn get_or<T: DeserializeOwned>(
        &self,
        who: &Principal,
        key: &str,
        default: T,
    ) -> Result<T> {
        self.read(who, key, || default).await
    }

    async fn read<T: DeserializeOwned>(
        &self,
        who: &Principal,
        key: &str,
        default: impl FnOnce() -> T,
    ) -> Result<T> {
        self.observe("get", async {
            validate_key(key, &self.limits())?;
            let caller = who.member_key();
            let init = || self.init();
            match self.store().get(self.call(&caller, &init), key).await? {
                Some(value) => value.decode(key),
                None => Ok(default()),
            }
        })
        .await
    }

    /// The whole state and its version (needs read).
    pub async fn snapshot(&self, who: &Principal) -> Result<Snapshot> {
        self.observe("snapshot", async {
            let caller = who.member_key();
            let init = || self.init();
            self.store().snapshot(self.call(&caller, &init)).await
        })
        .await
    }

    /// Stores `value` under `key` (a [`Key<T>`] for a `T`, or a string key;
    /// needs write); returns the new version.
    pub async fn put<K, T>(&self, who: &Principal, key: &K, value: &T) -> Result<u64>
    where
        K: KeyFor<T> + ?Sized,
        T: Serialize + ?Sized,
    {
        let key = key.key_name();
        self.observe("put", async {
            let limits = self.limits();
            validate_key(key, &limits)?;
            let value = Json::from_bytes(encode(key, value, &limits)?);
            let caller = who.member_key();
            let init = || self.init();
            let write = Write::Put {
                key: key.into(),
                value,
            };
            let diff = self.store().write(self.call(&caller, &init), write).await?;
            // A put always changes the version; `None` would be a backend bug, and
            // reporting version 0 is safer than panicking on it.
            Ok(diff.map_or(0, |d| d.version))
        })
        .await
    }

    /// Atomically replaces the value under `key` (or the key's default) with
    /// `f(value)` (needs write) and returns the new value. Concurrent updates
    /// never lose a write; `f` may run more than once (distributed backends retry
    /// on conflicts, the memory backend after evicting an idle room to make
    /// space). As with [`Page::update`](crate::page::Page::update), the value
    /// returned is the one `f` produced on the run that was stored, not read back
    /// from its JSON.
    pub async fn update<T, F>(&self, who: &Principal, key: &Key<T>, mut f: F) -> Result<T>
    where
        T: Serialize + DeserializeOwned + Send,
        F: FnMut(T) -> T + Send,
    {
        let updated = self
            .apply(who, key.name(), key.default_value(), |value| {
                Ok::<T, Infallible>(f(value))
            })
            .await?;
        Ok(updated.unwrap_or_else(|never| match never {}))
    }

    /// Like [`update`](Self::update), but `f` may decline with an error of its
    /// own: then nothing is written (no diff, no new version) and its error is
    /// returned as `Ok(Err(error))`. Store failures are the outer `Err`.
    pub async fn try_update<T, E, F>(
        &self,
        who: &Principal,
        key: &Key<T>,
        f: F,
    ) -> Result<Result<T, E>>
    where
        T: Serialize + DeserializeOwned + Send,
        E: Send,
        F: FnMut(T) -> Result<T, E> + Send,
    {
        self.apply(who, key.name(), key.default_value(), f).await
    }

    /// [`update`](Self::update) of the string key `key`, with its default given
    /// here. Prefer a typed [`Key`].
    pub async fn update_or<T, F>(
        &self,
        who: &Principal,
        key: &str,
        default: T,
        mut f: F,
    ) -> Result<T>
    where
        T: Serialize + DeserializeOwned + Send,
        F: FnMut(T) -> T + Send,
    {
        let updated = self
            .apply(who, key, default, |value| Ok::<T, Infallible>(f(value)))
            .await?;
        Ok(updated.unwrap_or_else(|never| match never {}))
    }

    async fn apply<T, E, F>(
        &self,
        who: &Principal,
        key: &str,
        default: T,
        mut f: F,
    ) -> Result<Result<T, E>>
    where
        T: Serialize + DeserializeOwned + Send,
        E: Send,
        F: FnMut(T) -> Result<T, E> + Send,
    {
        self.observe("update", async {
            let limits = self.limits();
            validate_key(key, &limits)?;
            // Encoded once, so retries can rebuild it without `T: Clone`; the block
            // drops the typed default before the await.
            let default = {
                let default = default;
                encode(key, &default, &limits)?
            };
            let mut produced = None;
            let caller = who.member_key();
            let init = || self.init();
            let stored = {
                let mut apply = byte_updater(key, &default, &mut f, limits, &mut produced);
                self.store()
                    .update(self.call(&caller, &init), key, &mut apply)
                    .await
            };
            let diff = match (stored, produced) {
                // What the stored run of `f` produced; no second decode.
                (Ok(_), Some(Ok(value))) => return Ok(Ok(value)),
                (Err(Error::UpdateDeclined), Some(Err(declined))) => return Ok(Err(declined)),
                (Err(err), _) => return Err(err),
                (Ok(diff), _) => diff,
            };
            match &diff.change {
                Change::Inserted { value, .. } | Change::Updated { value, .. } => {
                    value.decode(key).map(Ok)
                }
                _ => decode(key, &default).map(Ok),
            }
        })
        .await
    }

    /// Removes `key` (needs delete); returns whether it was present. Removing an
    /// absent key produces no diff.
    pub async fn delete<K: KeyName + ?Sized>(&self, who: &Principal, key: &K) -> Result<bool> {
        let key = key.key_name();
        self.observe("delete", async {
            validate_key(key, &self.limits())?;
            let caller = who.member_key();
            let init = || self.init();
            let write = Write::Delete { key: key.into() };
            let diff = self.store().write(self.call(&caller, &init), write).await?;
            Ok(diff.is_some())
        })
        .await
    }

    /// Re-runs the spec, replacing state, ACL and TTL (needs reset); returns the
    /// new version. Members stay members.
    pub async fn reset(&self, who: &Principal) -> Result<u64> {
        self.observe("reset", async {
            let fresh = self.init()?;
            let caller = who.member_key();
            let init = || self.init();
            let diff = self
                .store()
                .write(self.call(&caller, &init), Write::Reset(fresh))
                .await?;
            Ok(diff.map_or(0, |d| d.version))
        })
        .await
    }

    /// Makes `who` a member; returns whether it was not one already.
    ///
    /// Joining needs no right: it is the app's decision (after its own login or
    /// invitation check, or, as in an open chat room, for anyone who asks).
    pub async fn join(&self, who: &Principal) -> Result<bool> {
        self.observe("join", async {
            let member = who.member_key();
            let init = || self.init();
            self.store()
                .set_member(self.call(&member, &init), true)
                .await
        })
        .await
    }

    /// Ends `who`'s membership; returns whether it was a member.
    pub async fn leave(&self, who: &Principal) -> Result<bool> {
        self.observe("leave", async {
            let member = who.member_key();
            let init = || self.init();
            self.store()
                .set_member(self.call(&member, &init), false)
                .await
        })
        .await
    }

    /// Attaches `who` (needs read): a [`Subscription`] that yields the state,
    /// then every change. `resume` is the last version the client applied (an
    /// SSE `Last-Event-ID`): it gets the missed diffs, or a resync.
    pub async fn attach(&self, who: &Principal, resume: Option<u64>) -> Result<Subscription> {
        self.observe("attach", async {
            let caller = who.member_key();
            let init = || self.init();
            let attachment = self
                .store()
                .attach(self.call(&caller, &init), resume)
                .await?;
            Ok(Subscription::new(self.clone(), caller, resume, attachment))
        })
        .await
    }

    /// How many clients are attached now.
    pub async fn attached(&self) -> Result<usize> {
        self.observe("attached", async { self.store().attached(&self.key).await })
            .await
    }

    /// Whether the room is live (started and not yet dropped).
    pub async fn is_live(&self) -> Result<bool> {
        self.observe("is_live", async { self.store().is_live(&self.key).await })
            .await
    }

    pub(super) async fn resync(&self, caller: &super::MemberKey) -> Result<Snapshot> {
        let init = || self.init();
        self.store().snapshot(self.call(caller, &init)).await
    }

    pub(super) async fn access_of(&self, caller: &super::MemberKey) -> Result<Access> {
        let init = || self.init();
        self.store().access(self.call(caller, &init)).await
    }

    pub(super) fn shutdown_token(&self) -> &CancellationToken {
        self.rooms.shutdown_token()
    }
}
