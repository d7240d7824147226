//! Room state in Redis, shared by every node connected to the same Redis.
//!
//! Each operation is one Lua script (see [`crate::room_scripts`]) that checks
//! the ACL, applies the change, bumps the version, logs the diff and publishes
//! it, atomically. This node fans diffs out to its own clients through the
//! [`Hub`]. Presence is the sum of per-node attach counts in Redis; when it
//! drops to zero every key of the room gets the room's idle TTL (`PEXPIRE`), so
//! Redis drops idle rooms itself and [`RoomStore::sweep`] has nothing to do.
//!
//! Reads (access, get, snapshot) of a room whose meta hash is absent store
//! nothing: the script answers `absent` with Redis's clock, and the node answers
//! from the spec at that version ([`Unstored`]). Only writes, joins and
//! attaches start a room.

use std::hash::{BuildHasher, RandomState};
use std::sync::Arc;

use async_trait::async_trait;
use hyperstate::backend::{
    AttachGuard, Attachment, Call, Start, Unstored, UpdateFn, Write, class_of, conflict_backoff,
};
use hyperstate::room::{
    Access, Acl, Diff, Json, Right, Rights, RoomInit, RoomKey, RoomOptions, RoomStore, Snapshot,
};
use hyperstate::{Error, Result};
use redis::Script;

use crate::connection::Redis;
use crate::error::backend_error;
use crate::room_hub::Hub;
use crate::room_keys::{RoomKeys, corrupt, diff, number, snapshot};
use crate::room_leases::RoomLeases;
use crate::room_registry::RoomRegistry;
use crate::room_scripts as scripts;

/// How many conflicting concurrent updates one `update` rides out (each one
/// means another writer succeeded, so the system makes progress).
const MAX_UPDATE_ATTEMPTS: usize = 100;
/// How often one operation may find its room absent and start it (the room can
/// expire between the start and the retry only under absurdly short TTLs).
const MAX_START_ATTEMPTS: usize = 5;
/// Stripes of the local update locks, as in the page store.
const UPDATE_LOCK_STRIPES: usize = 256;

/// Room state in Redis. Cheap to clone; clones share rooms and the pub/sub
/// connection.
///
/// [`RoomOptions::max_rooms`] counts the live rooms of every node on the same
/// Redis and key prefix (see `room_registry.rs`): starts racing at the limit
/// are serialized by Redis, so the count is never exceeded. A room that has
/// expired frees its place after a grace of a few seconds; rooms live in Redis
/// before this registry existed are not counted until they restart.
/// [`RoomOptions::replay_bytes`] counts the bytes of the diffs as logged (JSON).
#[derive(Debug, Clone)]
pub struct RedisRoomStore {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    redis: Redis,
    options: RoomOptions,
    /// Names this node's entry in each room's attach counts.
    node: String,
    hub: Arc<Hub>,
    /// Keeps the rooms with clients on this node alive.
    leases: RoomLeases,
    /// Counts live rooms against `options.max_rooms`, across nodes.
    registry: RoomRegistry,
    update_locks: Box<[tokio::sync::Mutex<()>]>,
    jitter: RandomState,
    /// `hyperstate_cas_conflicts_total{scope="room", backend="redis"}`.
    conflicts: metrics::Counter,
}

/// A script's verdict and the rest of its reply.
type Reply = Vec<Vec<u8>>;

/// What a read found: the stored room's reply, or the room as its spec
/// describes it (nothing stored).
enum Read {
    Stored(Reply),
    Unstored(Unstored),
}

impl RedisRoomStore {
    /// A room store on `redis` with the given options.
    pub fn new(redis: Redis, options: RoomOptions) -> Self {
        let jitter = RandomState::new();
        let node = format!("{:016x}", jitter.hash_one(std::time::SystemTime::now()));
        RedisRoomStore {
            inner: Arc::new(Inner {
                hub: Hub::new(redis.clone(), options.channel_capacity),
                leases: RoomLeases::default(),
                registry: RoomRegistry::new(&redis.prefix, options.max_rooms),
                redis,
                options,
                node,
                update_locks: (0..UPDATE_LOCK_STRIPES)
                    .map(|_| tokio::sync::Mutex::new(()))
                    .collect(),
                jitter,
                conflicts: hyperstate::backend::cas_conflicts("room", "redis"),
            }),
        }
    }
}

fn bit(right: Option<Right>) -> u8 {
    right.map_or(0, |r| Rights::from(r).bits())
}

impl Inner {
    fn keys(&self, room: &RoomKey) -> RoomKeys {
        RoomKeys::new(&self.redis.prefix, room)
    }

    /// Runs `script` for `call` with the caller, right and `args`, starting the
    /// room first whenever the script finds it absent. Returns the reply after
    /// its `ok` verdict; other verdicts go to `verdict`.
    async fn run(
        &self,
        call: Call<'_>,
        operation: &'static str,
        script: &Script,
        right: Option<Right>,
        args: &[&[u8]],
    ) -> Result<Reply> {
        self.run_or_absent(call, operation, script, right, args, true)
            .await
    }

    /// Runs a read-only `script` for `call`; an absent room is answered from
    /// the spec, at the version Redis's clock gave, and is not started.
    async fn read(
        &self,
        call: Call<'_>,
        operation: &'static str,
        script: &Script,
        right: Option<Right>,
        args: &[&[u8]],
    ) -> Result<Read> {
        let reply = self
            .run_or_absent(call, operation, script, right, args, false)
            .await?;
        match reply.as_slice() {
            [verdict, now] if verdict == b"absent" => {
                let version = number(operation, now)?;
                let init = (call.init)()?;
                Ok(Read::Unstored(Unstored::new(
                    init,
                    version,
                    &self.options.limits,
                )?))
            }
            _ => Ok(Read::Stored(reply)),
        }
    }

    /// [`run`](Self::run), or, with `start = false`, the `absent` reply as is.
    async fn run_or_absent(
        &self,
        call: Call<'_>,
        operation: &'static str,
        script: &Script,
        right: Option<Right>,
        args: &[&[u8]],
        start: bool,
    ) -> Result<Reply> {
        let keys = self.keys(call.room);
        for _ in 0..MAX_START_ATTEMPTS {
            let mut invocation = script.prepare_invoke();
            keys.apply(&mut invocation);
            invocation
                .arg(call.caller.as_bytes().as_slice())
                .arg(bit(right).to_string());
            for arg in args {
                invocation.arg(*arg);
            }
            let mut conn = self.redis.manager.clone();
            let reply: Reply = invocation
                .invoke_async(&mut conn)
                .await
                .map_err(|err| backend_error(operation, err))?;
            match reply.first().map(Vec::as_slice) {
                Some(b"absent") if !start => return Ok(reply),
                Some(b"absent") => self.start(call, right, &keys).await?,
                Some(b"denied") => return Err(self.denied(call, operation, right, &reply)),
                Some(_) => return Ok(reply),
                None => return Err(corrupt(operation, "empty reply")),
            }
        }
        Err(Error::backend(
            "redis",
            operation,
            "the room kept expiring while it was being started",
        ))
    }

    /// Starts the room from the spec unless another node did meanwhile, for an
    /// operation that `needs` a right (checked first: a denied operation
    /// stores nothing).
    async fn start(&self, call: Call<'_>, needs: Option<Right>, keys: &RoomKeys) -> Result<()> {
        let init = (call.init)()?;
        if let Some(right) = needs {
            init.check_new_room(call.room, right)?;
        }
        let mut invocation = scripts::START.prepare_invoke();
        keys.apply(&mut invocation);
        init_args(&mut invocation, init, &self.options)?;
        let mut conn = self.redis.manager.clone();
        self.registry.admit(&mut conn, keys.meta()).await?;
        invocation
            .invoke_async::<Reply>(&mut conn)
            .await
            .map_err(|err| backend_error("start", err))?;
        Ok(())
    }

    /// The typed denial from a `{'denied', mr, pr, member}` reply.
    fn denied(
        &self,
        call: Call<'_>,
        operation: &'static str,
        right: Option<Right>,
        reply: &[Vec<u8>],
    ) -> Error {
        let (Some(right), [_, mr, pr, member]) = (right, reply) else {
            return corrupt(operation, "denial without a right");
        };
        let (Ok(mr), Ok(pr)) = (number::<u8>(operation, mr), number::<u8>(operation, pr)) else {
            return corrupt(operation, "rights are not numbers");
        };
        let acl = Acl::new(Rights::from_bits(mr), Rights::from_bits(pr));
        match acl.check(call.room, class_of(member == b"1"), right) {
            Err(err) => err,
            Ok(()) => corrupt(operation, "denied an allowed right"),
        }
    }

    /// Maps a write script's reply to its diff or the typed limit error.
    fn written(&self, operation: &'static str, reply: &[Vec<u8>]) -> Result<Option<Arc<Diff>>> {
        let limits = &self.options.limits;
        let size = || {
            reply
                .get(1)
                .and_then(|n| number::<usize>(operation, n).ok())
                .unwrap_or(usize::MAX)
        };
        match reply.first().map(Vec::as_slice) {
            Some(b"ok") => {
                let encoded = reply.get(1).ok_or_else(|| corrupt(operation, "no diff"))?;
                diff(operation, encoded).map(Some)
            }
            Some(b"none") => Ok(None),
            Some(b"value") => Err(Error::ValueTooLarge {
                size: size(),
                limit: limits.max_value_bytes,
            }),
            Some(b"keys") => Err(Error::TooManyKeys {
                scope: "room",
                limit: limits.max_keys,
            }),
            Some(b"bytes") => Err(Error::ScopeTooLarge {
                scope: "room",
                size: size(),
                limit: limits.max_bytes,
            }),
            _ => Err(corrupt(operation, "unknown verdict")),
        }
    }

    /// Arguments every write script takes after caller and right.
    fn write_args<'a>(&self, keys: &'a RoomKeys, numbers: &'a [String; 4]) -> [&'a [u8]; 5] {
        [
            keys.channel.as_bytes(),
            numbers[0].as_bytes(),
            numbers[1].as_bytes(),
            numbers[2].as_bytes(),
            numbers[3].as_bytes(),
        ]
    }

    fn limit_numbers(&self) -> [String; 4] {
        let limits = &self.options.limits;
        [
            format!("{}:{}", self.options.replay, self.options.replay_bytes),
            limits.max_value_bytes.to_string(),
            limits.max_keys.to_string(),
            limits.max_bytes.to_string(),
        ]
    }
}

/// ACL, TTL, bytes and state of a checked `init`, as script arguments.
fn init_args(
    invocation: &mut redis::ScriptInvocation<'_>,
    init: RoomInit,
    options: &RoomOptions,
) -> Result<()> {
    let bytes = init.checked_bytes(&options.limits)?;
    let (state, acl, ttl) = init.into_parts();
    let ttl_ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1);
    let unused_member_ttl_ms = u64::try_from(options.unused_member_ttl.as_millis())
        .unwrap_or(u64::MAX)
        .max(1);
    invocation
        .arg(acl.members.bits().to_string())
        .arg(acl.public.bits().to_string())
        .arg(ttl_ms)
        .arg(bytes)
        .arg(unused_member_ttl_ms);
    for (key, value) in &state {
        invocation.arg(key.as_bytes()).arg(value.as_bytes());
    }
    Ok(())
}

#[async_trait]
impl RoomStore for RedisRoomStore {
    fn backend_name(&self) -> &'static str {
        "redis"
    }

    fn options(&self) -> &RoomOptions {
        &self.inner.options
    }

    async fn access(&self, call: Call<'_>) -> Result<Access> {
        let reply = match self
            .inner
            .read(call, "access", &scripts::ACCESS, None, &[])
            .await?
        {
            Read::Stored(reply) => reply,
            Read::Unstored(unstored) => return Ok(unstored.access()),
        };
        let [_, mr, pr, member] = reply.as_slice() else {
            return Err(corrupt("access", "wrong length"));
        };
        let acl = Acl::new(
            Rights::from_bits(number("access", mr)?),
            Rights::from_bits(number("access", pr)?),
        );
        Ok(Access::new(&acl, class_of(member == b"1")))
    }

    async fn get(&self, call: Call<'_>, key: &str) -> Result<Option<Json>> {
        get(&self.inner, call, key, Right::Read).await
    }

    async fn snapshot(&self, call: Call<'_>) -> Result<Snapshot> {
        let reply = match self
            .inner
            .read(call, "snapshot", &scripts::SNAPSHOT, Some(Right::Read), &[])
            .await?
        {
            Read::Stored(reply) => reply,
            Read::Unstored(unstored) => return unstored.snapshot(call.room),
        };
        snapshot("snapshot", &reply[1..])
    }

    async fn write(&self, call: Call<'_>, write: Write) -> Result<Option<Arc<Diff>>> {
        let inner = &*self.inner;
        let keys = inner.keys(call.room);
        let numbers = inner.limit_numbers();
        let common = inner.write_args(&keys, &numbers);
        let (operation, reply) = match write {
            Write::Put { key, value } => {
                let mut args = common.to_vec();
                args.extend([key.as_bytes(), value.as_bytes()]);
                let reply = inner
                    .run(
                        call,
                        "put",
                        scripts::PUT.on(&inner.redis),
                        Some(Right::Write),
                        &args,
                    )
                    .await?;
                ("put", reply)
            }
            Write::Delete { key } => {
                let args = [common[0], common[1], key.as_bytes()];
                let reply = inner
                    .run(
                        call,
                        "delete",
                        scripts::DELETE.on(&inner.redis),
                        Some(Right::Delete),
                        &args,
                    )
                    .await?;
                ("delete", reply)
            }
            Write::Reset(init) => {
                // Encoded here so the script stays free of JSON parsing.
                let bytes = init.checked_bytes(&inner.options.limits)?;
                let (state, acl, ttl) = init.into_parts();
                let ttl_ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1);
                let head = [
                    acl.members.bits().to_string(),
                    acl.public.bits().to_string(),
                    ttl_ms.to_string(),
                    bytes.to_string(),
                ];
                let mut args: Vec<&[u8]> = vec![common[0], common[1]];
                args.extend(head.iter().map(|s| s.as_bytes()));
                for (key, value) in &state {
                    args.extend([key.as_bytes(), value.as_bytes()]);
                }
                let reply = inner
                    .run(
                        call,
                        "reset",
                        scripts::RESET.on(&inner.redis),
                        Some(Right::Reset),
                        &args,
                    )
                    .await?;
                ("reset", reply)
            }
            _ => {
                return Err(Error::backend(
                    "redis",
                    "write",
                    "a kind of write this backend does not know",
                ));
            }
        };
        inner.written(operation, &reply)
    }

    async fn update(&self, call: Call<'_>, key: &str, f: UpdateFn<'_>) -> Result<Arc<Diff>> {
        let inner = &*self.inner;
        // Updates of one room on this node take turns, so the compare-and-set
        // only races writers on other nodes.
        let stripe = inner.jitter.hash_one(call.room.as_str()) as usize % UPDATE_LOCK_STRIPES;
        let _turn = inner.update_locks[stripe].lock().await;
        let keys = inner.keys(call.room);
        let numbers = inner.limit_numbers();
        let common = inner.write_args(&keys, &numbers);
        for attempt in 0..MAX_UPDATE_ATTEMPTS {
            let current = get(inner, call, key, Right::Write).await?;
            let new = f(current.as_ref().map(Json::as_bytes))?;
            let expected = current.as_ref().map_or(&[][..], Json::as_bytes);
            let mut args = common.to_vec();
            args.extend([key.as_bytes(), new.as_slice(), expected]);
            let reply = inner
                .run(
                    call,
                    "update",
                    scripts::COMPARE_AND_SET.on(&inner.redis),
                    Some(Right::Write),
                    &args,
                )
                .await?;
            if reply.first().map(Vec::as_slice) != Some(b"conflict") {
                return inner
                    .written("update", &reply)?
                    .ok_or_else(|| corrupt("update", "no diff"));
            }
            inner.conflicts.increment(1);
            tokio::time::sleep(conflict_backoff(&inner.jitter, call.room.as_str(), attempt)).await;
        }
        Err(Error::backend(
            "redis",
            "update",
            format!("gave up after {MAX_UPDATE_ATTEMPTS} conflicting concurrent updates"),
        ))
    }

    async fn set_member(&self, call: Call<'_>, joined: bool) -> Result<bool> {
        let max = self.inner.options.max_members.to_string();
        let flag: &[u8] = if joined { b"1" } else { b"0" };
        let reply = self
            .inner
            .run(
                call,
                "set_member",
                &scripts::SET_MEMBER,
                None,
                &[flag, max.as_bytes()],
            )
            .await?;
        match reply.as_slice() {
            [ok, changed] if ok == b"ok" => Ok(changed == b"1"),
            [members] if members == b"members" => Err(Error::TooManyMembers {
                limit: self.inner.options.max_members,
            }),
            _ => Err(corrupt("set_member", "unknown verdict")),
        }
    }

    async fn attach(&self, call: Call<'_>, resume: Option<u64>) -> Result<Attachment> {
        let inner = &self.inner;
        let keys = inner.keys(call.room);
        // Subscribed before the script runs: nothing published after the start
        // can be missed.
        let diffs = inner.hub.join(&keys).await?;
        inner.leases.ensure_running(&inner.redis, &inner.hub);
        let resume = resume.map(|v| v.to_string()).unwrap_or_default();
        let args = [
            keys.channel.as_bytes(),
            inner.node.as_bytes(),
            resume.as_bytes(),
        ];
        let reply = match inner
            .run(
                call,
                "attach",
                scripts::ATTACH.on(&inner.redis),
                Some(Right::Read),
                &args,
            )
            .await
        {
            Ok(reply) => reply,
            Err(err) => {
                inner.hub.leave(&keys.channel);
                return Err(err);
            }
        };
        // From here on the guard owns the attach count and the local entry.
        let guard = Detach {
            inner: inner.clone(),
            keys: keys.clone(),
        };
        let [_, seq, count, mode, rest @ ..] = reply.as_slice() else {
            return Err(corrupt("attach", "wrong length"));
        };
        let (seq, count) = (number::<u64>("attach", seq)?, number("attach", count)?);
        let start = match mode.as_slice() {
            b"replay" => Start::Replay(
                rest.iter()
                    .map(|d| diff("attach", d))
                    .collect::<Result<_>>()?,
            ),
            _ => Start::Snapshot(snapshot("attach", rest)?),
        };
        let presence = inner
            .hub
            .with(&keys.channel, |local| {
                local.set_presence(seq, count);
                local.presence.subscribe()
            })
            .ok_or_else(|| corrupt("attach", "local room vanished"))?;
        Ok(Attachment {
            start,
            diffs,
            presence,
            guard: AttachGuard::new(guard),
        })
    }

    async fn attached(&self, room: &RoomKey) -> Result<usize> {
        let (_, count) = peek(&self.inner, room).await?;
        Ok(count)
    }

    async fn is_live(&self, room: &RoomKey) -> Result<bool> {
        let (live, _) = peek(&self.inner, room).await?;
        Ok(live)
    }

    async fn sweep(&self) -> Result<usize> {
        // Redis expires idle rooms itself (PEXPIRE); nothing to sweep.
        Ok(0)
    }

    async fn check_health(&self) -> Result<()> {
        self.inner.redis.ping().await
    }
}

/// The value under `key`, checked for `right`. An absent room is answered
/// from the spec (for `update`, whose compare-and-set then starts the room with
/// that same initial value).
async fn get(inner: &Inner, call: Call<'_>, key: &str, right: Right) -> Result<Option<Json>> {
    let reply = match inner
        .read(call, "get", &scripts::GET, Some(right), &[key.as_bytes()])
        .await?
    {
        Read::Stored(reply) => reply,
        Read::Unstored(unstored) => return unstored.get(call.room, key, right),
    };
    match reply.get(1) {
        Some(value) if value.is_empty() => Ok(None),
        Some(value) => Ok(Some(Json::from_bytes(value.clone()))),
        None => Err(corrupt("get", "no value")),
    }
}

async fn peek(inner: &Inner, room: &RoomKey) -> Result<(bool, usize)> {
    let mut invocation = scripts::PEEK.prepare_invoke();
    inner.keys(room).apply(&mut invocation);
    let mut conn = inner.redis.manager.clone();
    let reply: Reply = invocation
        .invoke_async(&mut conn)
        .await
        .map_err(|err| backend_error("peek", err))?;
    let [live, count] = reply.as_slice() else {
        return Err(corrupt("peek", "wrong length"));
    };
    Ok((live == b"1", number("peek", count)?))
}

/// Detaches one client when dropped. `Drop` cannot wait, so the detach script
/// runs on a task; if it never runs (no runtime, Redis down), the room's lease
/// still runs out, because this node stops refreshing it once it has no client.
#[derive(Debug)]
struct Detach {
    inner: Arc<Inner>,
    keys: RoomKeys,
}

impl Drop for Detach {
    fn drop(&mut self) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let (inner, keys) = (self.inner.clone(), self.keys.clone());
        runtime.spawn(async move {
            let mut invocation = scripts::DETACH.on(&inner.redis).prepare_invoke();
            keys.apply(&mut invocation);
            invocation
                .arg("")
                .arg("0")
                .arg(&keys.channel)
                .arg(&inner.node);
            let mut conn = inner.redis.manager.clone();
            if let Err(err) = invocation.invoke_async::<Reply>(&mut conn).await {
                tracing::warn!(%err, channel = keys.channel, "room detach failed");
            }
            inner.hub.leave(&keys.channel);
        });
    }
}
