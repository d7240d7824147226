//! Room state in PostgreSQL, shared by every node on the same database.
//!
//! Each operation is one transaction that locks the room's row (`SELECT … FOR
//! UPDATE`), checks the ACL, applies the change, bumps the version, logs the
//! diff and NOTIFYs it; the row lock orders writes, and PostgreSQL delivers
//! notifications in commit order, so every node sees a room's diffs in version
//! order. This node fans them out to its own clients through the [`Hub`].
//! Presence is the sum of per-node attach counts (each under a lease its node
//! refreshes); while it is above zero the room's expiry is held at least a
//! lease ahead, and once it drops to zero the idle TTL runs. Expired rows are
//! never observed (an operation treats them as absent) and the sweeper deletes
//! them in bounded batches.
//!
//! Reads (access, get, snapshot) of a room with no live row store nothing:
//! they answer from the spec at the database's clock ([`Unstored`]). Only
//! writes, joins and attaches start a room.

use std::hash::{BuildHasher, RandomState};
use std::sync::Arc;

use async_trait::async_trait;
use hyperstate::backend::{
    AttachGuard, Attachment, Call, Start, Unstored, UpdateFn, Write, class_of,
};
use hyperstate::room::{
    Access, Acl, Change, Diff, Json, Right, Rights, RoomKey, RoomOptions, RoomStore, Snapshot,
    State,
};
use hyperstate::{Error, Result};
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, Postgres as Pg, Row, Transaction};

use crate::connection::{BACKEND, Postgres, backend_error};
use crate::room_codec::{self, CHANNEL, Notice, corrupt, encode_diff, encode_state};
use crate::room_hub::{Hub, LEASE_MS};

/// How often one operation may find its room absent and start it (the room can
/// expire between the start and the retry only under absurdly short TTLs).
const MAX_START_ATTEMPTS: usize = 5;
/// Most expired rooms one sweep statement deletes.
const SWEEP_BATCH: i64 = 500;
/// The advisory lock starts take, so the live-room count cannot be exceeded by
/// nodes starting rooms at once ("hsrooms").
const START_LOCK: i64 = 0x0068_7372_6f6f_6d73;

/// Room state in PostgreSQL. Cheap to clone; clones share rooms and the
/// listening connection.
///
/// [`RoomOptions::max_rooms`] counts the live rooms of every node on the same
/// database: starts take an advisory lock and count, so it is never exceeded.
#[derive(Debug, Clone)]
pub struct PgRoomStore {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    db: Postgres,
    options: RoomOptions,
    hub: Arc<Hub>,
}

/// A live room's row, locked by the open transaction, and the caller's standing.
struct Locked {
    version: u64,
    acl: Acl,
    idle_ttl_ms: i64,
    unused_member_ttl_ms: i64,
    keys: usize,
    bytes: usize,
    presence_seq: u64,
    /// Clients attached on every node (leases still running).
    attached: usize,
    /// The caller is a member and holds its slot.
    member: bool,
    /// The caller joined and has neither attached nor written since.
    unused: bool,
    /// The value under the key the operation is about, if asked.
    value: Option<String>,
}

/// The expiry to set now: the idle TTL, or at least a lease while clients are
/// attached.
fn expiry_ms(idle_ttl_ms: i64, attached: usize) -> i64 {
    let ttl = if attached > 0 {
        idle_ttl_ms.max(LEASE_MS)
    } else {
        idle_ttl_ms
    };
    ttl.max(1)
}

impl Locked {
    fn class(&self) -> hyperstate::room::CallerClass {
        class_of(self.member)
    }
}

type Tx = Transaction<'static, Pg>;

/// What opening a room found.
enum Opened {
    Live(Tx, Locked),
    /// No live row; the database's clock in microseconds.
    Absent(u64),
}

fn ms(duration: std::time::Duration) -> i64 {
    i64::try_from(duration.as_millis())
        .unwrap_or(i64::MAX)
        .max(1)
}

fn signed(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

impl PgRoomStore {
    /// A room store on `db` with the given options.
    pub fn new(db: Postgres, options: RoomOptions) -> Self {
        let node = format!(
            "{:016x}",
            RandomState::new().hash_one(std::time::SystemTime::now())
        );
        PgRoomStore {
            inner: Arc::new(Inner {
                hub: Hub::new(db.clone(), options.channel_capacity, node),
                db,
                options,
            }),
        }
    }
}

/// The room in `row` (of [`Inner::open`]'s query), `None` when it has expired.
fn locked(row: &PgRow, operation: &'static str) -> Result<Option<Locked>> {
    let get = |err| backend_error(operation, err);
    if !row.try_get::<bool, _>(8).map_err(get)? {
        return Ok(None);
    }
    let count = |i: usize| -> Result<usize> {
        let n: i64 = row.try_get(i).map_err(get)?;
        Ok(usize::try_from(n).unwrap_or(0))
    };
    let rights = |i: usize| -> Result<Rights> {
        let bits: i16 = row.try_get(i).map_err(get)?;
        Ok(Rights::from_bits(u8::try_from(bits).unwrap_or(0)))
    };
    let member: bool = row.try_get(9).map_err(get)?;
    let keys: i32 = row.try_get(5).map_err(get)?;
    Ok(Some(Locked {
        version: u64::try_from(row.try_get::<i64, _>(0).map_err(get)?)
            .map_err(|_| corrupt(operation, "negative version"))?,
        acl: Acl::new(rights(1)?, rights(2)?),
        idle_ttl_ms: row.try_get(3).map_err(get)?,
        unused_member_ttl_ms: row.try_get(4).map_err(get)?,
        keys: usize::try_from(keys).unwrap_or(0),
        bytes: count(6)?,
        presence_seq: u64::try_from(count(7)?).unwrap_or(0),
        attached: count(11)?,
        member,
        unused: member && row.try_get::<bool, _>(10).map_err(get)?,
        value: row.try_get(12).map_err(get)?,
    }))
}

async fn now_us(conn: &mut PgConnection, operation: &'static str) -> Result<u64> {
    let now: i64 =
        sqlx::query_scalar("SELECT (extract(epoch FROM clock_timestamp()) * 1000000)::bigint")
            .fetch_one(conn)
            .await
            .map_err(|err| backend_error(operation, err))?;
    u64::try_from(now).map_err(|_| corrupt(operation, "clock before 1970"))
}

impl Inner {
    /// Opens a transaction on `call`'s room with its row locked, checking that
    /// the caller has `right`. With `start`, an absent room is started from the
    /// spec first (unless the operation would be denied on it); without, it is
    /// reported absent.
    async fn open(
        &self,
        call: Call<'_>,
        operation: &'static str,
        right: Option<Right>,
        key: Option<&str>,
        start: bool,
    ) -> Result<Opened> {
        let err = |err| backend_error(operation, err);
        for _ in 0..MAX_START_ATTEMPTS {
            let mut tx = self.db.pool.begin().await.map_err(err)?;
            let row: Option<PgRow> = sqlx::query(
                    "SELECT r.version, r.member_rights, r.public_rights, r.idle_ttl_ms,
                            r.unused_member_ttl_ms, r.keys, r.bytes, r.presence_seq,
                            r.expires_at > clock_timestamp(),
                            m.member IS NOT NULL AND (m.joined_at IS NULL OR r.unused_member_ttl_ms <= 0
                                OR clock_timestamp() - m.joined_at < r.unused_member_ttl_ms * interval '1 millisecond'),
                            m.joined_at IS NOT NULL,
                            (SELECT coalesce(sum(a.count), 0) FROM hyperstate_room_attached a
                             WHERE a.room = r.room AND a.lease_until > clock_timestamp())::bigint,
                            r.state ->> $3
                     FROM hyperstate_rooms r
                     LEFT JOIN hyperstate_room_members m ON m.room = r.room AND m.member = $2
                     WHERE r.room = $1
                     FOR UPDATE OF r",
                )
                .bind(call.room.as_str())
                .bind(call.caller.as_bytes().as_slice())
                .bind(key)
                .fetch_optional(&mut *tx)
                .await
                .map_err(err)?;
            match row.as_ref().map(|row| locked(row, operation)).transpose()? {
                Some(Some(locked)) => {
                    if let Some(right) = right {
                        locked.acl.check(call.room, locked.class(), right)?;
                    }
                    return Ok(Opened::Live(tx, locked));
                }
                _ if !start => return Ok(Opened::Absent(now_us(&mut tx, operation).await?)),
                _ => {
                    // Releases the expired row (if any) that `start` replaces.
                    tx.rollback().await.map_err(err)?;
                    self.start(call, right).await?;
                }
            }
        }
        Err(Error::backend(
            BACKEND,
            operation,
            "the room kept expiring while it was being started",
        ))
    }

    /// Starts the room from the spec unless another node did meanwhile, for an
    /// operation that needs `right` (checked first: a denied operation stores
    /// nothing). Its first version is the database's clock in microseconds, so
    /// a restarted room's versions start above the old room's.
    async fn start(&self, call: Call<'_>, right: Option<Right>) -> Result<()> {
        let init = (call.init)()?;
        if let Some(right) = right {
            init.check_new_room(call.room, right)?;
        }
        let bytes = init.checked_bytes(&self.options.limits)?;
        let (state, acl, ttl) = init.into_parts();
        let err = |err| backend_error("start", err);
        let mut tx = self.db.pool.begin().await.map_err(err)?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(START_LOCK)
            .execute(&mut *tx)
            .await
            .map_err(err)?;
        // An expired row of the same key goes first, with its members and log.
        sqlx::query(
            "DELETE FROM hyperstate_rooms WHERE room = $1 AND expires_at <= clock_timestamp()",
        )
        .bind(call.room.as_str())
        .execute(&mut *tx)
        .await
        .map_err(err)?;
        let live: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM hyperstate_rooms WHERE expires_at > clock_timestamp()",
        )
        .fetch_one(&mut *tx)
        .await
        .map_err(err)?;
        if live >= signed(self.options.max_rooms) {
            return Err(Error::TooManyRooms {
                limit: self.options.max_rooms,
            });
        }
        sqlx::query(
            "INSERT INTO hyperstate_rooms (room, version, member_rights, public_rights, idle_ttl_ms,
                 unused_member_ttl_ms, state, keys, bytes, expires_at)
             VALUES ($1, (extract(epoch FROM clock_timestamp()) * 1000000)::bigint, $2, $3, $4, $5,
                 $6, $7, $8, clock_timestamp() + $4 * interval '1 millisecond')
             ON CONFLICT (room) DO NOTHING",
        )
        .bind(call.room.as_str())
        .bind(i16::from(acl.members.bits()))
        .bind(i16::from(acl.public.bits()))
        .bind(ms(ttl))
        .bind(ms(self.options.unused_member_ttl))
        .bind(encode_state(&state))
        .bind(i32::try_from(state.len()).unwrap_or(i32::MAX))
        .bind(signed(bytes))
        .execute(&mut *tx)
        .await
        .map_err(err)?;
        tx.commit().await.map_err(err)
    }

    /// Restarts the idle countdown and commits.
    async fn refresh(
        &self,
        mut tx: Tx,
        call: Call<'_>,
        locked: &Locked,
        operation: &'static str,
    ) -> Result<()> {
        let err = |err| backend_error(operation, err);
        sqlx::query(
            "UPDATE hyperstate_rooms SET expires_at = clock_timestamp() + $2 * interval '1 millisecond'
             WHERE room = $1",
        )
        .bind(call.room.as_str())
        .bind(expiry_ms(locked.idle_ttl_ms, locked.attached))
        .execute(&mut *tx)
        .await
        .map_err(err)?;
        tx.commit().await.map_err(err)
    }

    /// Applies `change` (already checked), bumps the version, logs and NOTIFYs
    /// the diff, marks the caller's slot used, restarts the countdown, commits.
    async fn publish(
        &self,
        mut tx: Tx,
        call: Call<'_>,
        locked: &Locked,
        change: Change,
        reset_acl: Option<(Acl, i64)>,
        operation: &'static str,
    ) -> Result<Arc<Diff>> {
        let version = locked.version + 1;
        let (state_sql, key, text, keys, bytes) = match &change {
            Change::Inserted { key, value } | Change::Updated { key, value } => {
                let old = locked.value.as_ref().map_or(0, |v| key.len() + v.len());
                let keys = locked.keys + usize::from(locked.value.is_none());
                let bytes = locked.bytes.saturating_sub(old) + key.len() + value.as_bytes().len();
                (
                    "state || jsonb_build_object($2::text, $3::text)",
                    Some(key.to_string()),
                    Some(value.as_str().to_owned()),
                    keys,
                    bytes,
                )
            }
            Change::Deleted { key } => {
                let old = locked.value.as_ref().map_or(0, |v| key.len() + v.len());
                (
                    "state - $2::text",
                    Some(key.to_string()),
                    None,
                    locked.keys.saturating_sub(1),
                    locked.bytes.saturating_sub(old),
                )
            }
            Change::Reset { state } => {
                let bytes = state
                    .iter()
                    .map(|(k, v)| k.len() + v.as_bytes().len())
                    .sum();
                (
                    "$3::text::jsonb",
                    None,
                    Some(encode_state(state).to_string()),
                    state.len(),
                    bytes,
                )
            }
            _ => return Err(corrupt(operation, "unknown change")),
        };
        let diff = Arc::new(Diff { version, change });
        let encoded = encode_diff(&diff);
        let notice = Notice::for_diff(call.room.as_str(), version, encoded.clone()).encode();
        let (acl, ttl) = match reset_acl {
            Some((acl, ttl)) => (Some(acl), Some(ttl)),
            None => (None, None),
        };
        let expiry = expiry_ms(ttl.unwrap_or(locked.idle_ttl_ms), locked.attached);
        let sql = format!(
            "WITH up AS (
                 UPDATE hyperstate_rooms SET state = {state_sql}, keys = $4, bytes = $5, version = $6,
                     member_rights = coalesce($12, member_rights),
                     public_rights = coalesce($13, public_rights),
                     idle_ttl_ms = coalesce($14, idle_ttl_ms),
                     expires_at = clock_timestamp() + $7 * interval '1 millisecond'
                 WHERE room = $1
             ), slot AS (
                 UPDATE hyperstate_room_members SET joined_at = NULL
                 WHERE room = $1 AND member = $8 AND $9
             ), logged AS (
                 INSERT INTO hyperstate_room_diffs (room, version, diff) VALUES ($1, $6, $10)
             ), trimmed AS (
                 DELETE FROM hyperstate_room_diffs WHERE room = $1 AND version <= $6 - $11
             )
             SELECT pg_notify('{CHANNEL}', $15)"
        );
        sqlx::query(&sql)
            .bind(call.room.as_str())
            .bind(key)
            .bind(text)
            .bind(i32::try_from(keys).unwrap_or(i32::MAX))
            .bind(signed(bytes))
            .bind(signed(version as usize))
            .bind(expiry)
            .bind(call.caller.as_bytes().as_slice())
            .bind(locked.unused)
            .bind(encoded)
            // At least one kept: a diff too large to NOTIFY is read from here.
            .bind(signed(self.options.replay.max(1)))
            .bind(acl.map(|a| i16::from(a.members.bits())))
            .bind(acl.map(|a| i16::from(a.public.bits())))
            .bind(ttl)
            .bind(notice)
            .execute(&mut *tx)
            .await
            .map_err(|err| backend_error(operation, err))?;
        tx.commit()
            .await
            .map_err(|err| backend_error(operation, err))?;
        Ok(diff)
    }

    /// Puts `value` under `key` in the locked room, within the limits.
    async fn put(
        &self,
        tx: Tx,
        call: Call<'_>,
        locked: &Locked,
        key: &str,
        value: Json,
        operation: &'static str,
    ) -> Result<Arc<Diff>> {
        let limits = &self.options.limits;
        let size = value.as_bytes().len();
        if size > limits.max_value_bytes {
            return Err(Error::ValueTooLarge {
                size,
                limit: limits.max_value_bytes,
            });
        }
        let old = locked.value.as_ref().map_or(0, |v| key.len() + v.len());
        if locked.value.is_none() && locked.keys >= limits.max_keys {
            return Err(Error::TooManyKeys {
                scope: "room",
                limit: limits.max_keys,
            });
        }
        let bytes = locked.bytes.saturating_sub(old) + key.len() + size;
        if bytes > limits.max_bytes {
            return Err(Error::ScopeTooLarge {
                scope: "room",
                size: bytes,
                limit: limits.max_bytes,
            });
        }
        let change = match locked.value {
            None => Change::Inserted {
                key: key.into(),
                value,
            },
            Some(_) => Change::Updated {
                key: key.into(),
                value,
            },
        };
        self.publish(tx, call, locked, change, None, operation)
            .await
    }
}

#[async_trait]
impl RoomStore for PgRoomStore {
    fn backend_name(&self) -> &'static str {
        BACKEND
    }

    fn options(&self) -> &RoomOptions {
        &self.inner.options
    }

    async fn access(&self, call: Call<'_>) -> Result<Access> {
        let inner = &*self.inner;
        match inner.open(call, "access", None, None, false).await? {
            Opened::Absent(now) => {
                Ok(Unstored::new((call.init)()?, now, &inner.options.limits)?.access())
            }
            Opened::Live(tx, locked) => {
                inner.refresh(tx, call, &locked, "access").await?;
                Ok(Access::new(&locked.acl, locked.class()))
            }
        }
    }

    async fn get(&self, call: Call<'_>, key: &str) -> Result<Option<Json>> {
        let inner = &*self.inner;
        match inner
            .open(call, "get", Some(Right::Read), Some(key), false)
            .await?
        {
            Opened::Absent(now) => Unstored::new((call.init)()?, now, &inner.options.limits)?.get(
                call.room,
                key,
                Right::Read,
            ),
            Opened::Live(tx, locked) => {
                inner.refresh(tx, call, &locked, "get").await?;
                Ok(locked.value.map(|v| Json::from_bytes(v.into_bytes())))
            }
        }
    }

    async fn snapshot(&self, call: Call<'_>) -> Result<Snapshot> {
        let inner = &*self.inner;
        match inner
            .open(call, "snapshot", Some(Right::Read), None, false)
            .await?
        {
            Opened::Absent(now) => {
                Unstored::new((call.init)()?, now, &inner.options.limits)?.snapshot(call.room)
            }
            Opened::Live(mut tx, locked) => {
                let state = read_state(&mut tx, call.room, "snapshot").await?;
                inner.refresh(tx, call, &locked, "snapshot").await?;
                Ok(Snapshot {
                    version: locked.version,
                    state,
                })
            }
        }
    }

    async fn write(&self, call: Call<'_>, write: Write) -> Result<Option<Arc<Diff>>> {
        let inner = &*self.inner;
        match write {
            Write::Put { key, value } => {
                let Opened::Live(tx, locked) = inner
                    .open(call, "put", Some(Right::Write), Some(&key), true)
                    .await?
                else {
                    return Err(corrupt("put", "a started room is absent"));
                };
                inner
                    .put(tx, call, &locked, &key, value, "put")
                    .await
                    .map(Some)
            }
            Write::Delete { key } => {
                let Opened::Live(tx, locked) = inner
                    .open(call, "delete", Some(Right::Delete), Some(&key), true)
                    .await?
                else {
                    return Err(corrupt("delete", "a started room is absent"));
                };
                if locked.value.is_none() {
                    inner.refresh(tx, call, &locked, "delete").await?;
                    return Ok(None);
                }
                let change = Change::Deleted { key };
                inner
                    .publish(tx, call, &locked, change, None, "delete")
                    .await
                    .map(Some)
            }
            Write::Reset(init) => inner.open_reset(call, init).await.map(Some),
            _ => Err(Error::backend(
                BACKEND,
                "write",
                "a kind of write this backend does not know",
            )),
        }
    }

    /// The room's row stays locked while `f` runs, so the update needs no
    /// compare-and-set: `f` runs once, on the current value.
    async fn update(&self, call: Call<'_>, key: &str, f: UpdateFn<'_>) -> Result<Arc<Diff>> {
        let inner = &*self.inner;
        let Opened::Live(tx, locked) = inner
            .open(call, "update", Some(Right::Write), Some(key), true)
            .await?
        else {
            return Err(corrupt("update", "a started room is absent"));
        };
        let new = f(locked.value.as_deref().map(str::as_bytes))?;
        inner
            .put(tx, call, &locked, key, Json::from_bytes(new), "update")
            .await
    }

    async fn set_member(&self, call: Call<'_>, joined: bool) -> Result<bool> {
        let inner = &*self.inner;
        let Opened::Live(mut tx, locked) = inner.open(call, "set_member", None, None, true).await?
        else {
            return Err(corrupt("set_member", "a started room is absent"));
        };
        let err = |err| backend_error("set_member", err);
        let room = call.room.as_str();
        let member = call.caller.as_bytes().as_slice();
        let changed = if !joined {
            sqlx::query("DELETE FROM hyperstate_room_members WHERE room = $1 AND member = $2")
                .bind(room)
                .bind(member)
                .execute(&mut *tx)
                .await
                .map_err(err)?;
            locked.member
        } else if locked.member {
            false
        } else {
            let (rejoin, count): (bool, i64) = sqlx::query_as(
                "SELECT EXISTS (SELECT 1 FROM hyperstate_room_members WHERE room = $1 AND member = $2),
                        (SELECT count(*) FROM hyperstate_room_members WHERE room = $1)",
            )
            .bind(room)
            .bind(member)
            .fetch_one(&mut *tx)
            .await
            .map_err(err)?;
            let max = signed(inner.options.max_members);
            let mut count = count;
            if !rejoin && count >= max && locked.unused_member_ttl_ms > 0 {
                // A full room first frees the slots nobody used in time.
                let freed = sqlx::query(
                    "DELETE FROM hyperstate_room_members WHERE room = $1 AND joined_at IS NOT NULL
                     AND clock_timestamp() - joined_at >= $2 * interval '1 millisecond'",
                )
                .bind(room)
                .bind(locked.unused_member_ttl_ms)
                .execute(&mut *tx)
                .await
                .map_err(err)?;
                count -= i64::try_from(freed.rows_affected()).unwrap_or(0);
            }
            if !rejoin && count >= max {
                return Err(Error::TooManyMembers {
                    limit: inner.options.max_members,
                });
            }
            sqlx::query(
                "INSERT INTO hyperstate_room_members (room, member, joined_at)
                 VALUES ($1, $2, clock_timestamp())
                 ON CONFLICT (room, member) DO UPDATE SET joined_at = clock_timestamp()",
            )
            .bind(room)
            .bind(member)
            .execute(&mut *tx)
            .await
            .map_err(err)?;
            true
        };
        inner.refresh(tx, call, &locked, "set_member").await?;
        Ok(changed)
    }

    async fn attach(&self, call: Call<'_>, resume: Option<u64>) -> Result<Attachment> {
        let inner = &self.inner;
        let room = call.room.as_str();
        // Listening before the start is read: nothing committed after it is missed.
        let (diffs, presence) = inner.hub.join(room).await?;
        match attach(inner, call, resume).await {
            Ok((start, version, seq, count)) => {
                inner.hub.attached(room, version, seq, count);
                Ok(Attachment {
                    start,
                    diffs,
                    presence,
                    guard: AttachGuard::new(Detach {
                        inner: inner.clone(),
                        room: room.to_owned(),
                    }),
                })
            }
            Err(err) => {
                inner.hub.leave(room);
                Err(err)
            }
        }
    }

    async fn attached(&self, room: &RoomKey) -> Result<usize> {
        let count: i64 = sqlx::query_scalar(
            "SELECT coalesce(sum(a.count), 0)::bigint FROM hyperstate_room_attached a
             JOIN hyperstate_rooms r ON r.room = a.room
             WHERE a.room = $1 AND r.expires_at > clock_timestamp() AND a.lease_until > clock_timestamp()",
        )
        .bind(room.as_str())
        .fetch_one(&self.inner.db.pool)
        .await
        .map_err(|err| backend_error("attached", err))?;
        Ok(usize::try_from(count).unwrap_or(0))
    }

    async fn is_live(&self, room: &RoomKey) -> Result<bool> {
        sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM hyperstate_rooms
                            WHERE room = $1 AND expires_at > clock_timestamp())",
        )
        .bind(room.as_str())
        .fetch_one(&self.inner.db.pool)
        .await
        .map_err(|err| backend_error("is_live", err))
    }

    /// Deletes expired rooms (with their members, attach counts and log) in
    /// batches of 500, each its own short statement.
    async fn sweep(&self) -> Result<usize> {
        let mut freed = 0;
        loop {
            let deleted = sqlx::query(
                "DELETE FROM hyperstate_rooms WHERE room IN (
                     SELECT room FROM hyperstate_rooms WHERE expires_at <= clock_timestamp()
                     ORDER BY expires_at LIMIT $1 FOR UPDATE SKIP LOCKED
                 ) AND expires_at <= clock_timestamp()",
            )
            .bind(SWEEP_BATCH)
            .execute(&self.inner.db.pool)
            .await
            .map_err(|err| backend_error("sweep", err))?
            .rows_affected();
            freed += usize::try_from(deleted).unwrap_or(usize::MAX);
            if deleted < SWEEP_BATCH as u64 {
                return Ok(freed);
            }
        }
    }

    async fn check_health(&self) -> Result<()> {
        self.inner.db.ping().await
    }
}

async fn read_state(tx: &mut Tx, room: &RoomKey, operation: &'static str) -> Result<State> {
    let state: serde_json::Value =
        sqlx::query_scalar("SELECT state FROM hyperstate_rooms WHERE room = $1")
            .bind(room.as_str())
            .fetch_one(&mut **tx)
            .await
            .map_err(|err| backend_error(operation, err))?;
    room_codec::decode_state(operation, state)
}

impl Inner {
    /// A reset: the spec's new state, ACL and TTL, checked under the current ACL.
    async fn open_reset(
        &self,
        call: Call<'_>,
        init: hyperstate::room::RoomInit,
    ) -> Result<Arc<Diff>> {
        let _ = init.checked_bytes(&self.options.limits)?;
        let (state, acl, ttl) = init.into_parts();
        let Opened::Live(tx, locked) = self
            .open(call, "reset", Some(Right::Reset), None, true)
            .await?
        else {
            return Err(corrupt("reset", "a started room is absent"));
        };
        let change = Change::Reset {
            state: Arc::new(state),
        };
        self.publish(tx, call, &locked, change, Some((acl, ms(ttl))), "reset")
            .await
    }
}

/// The attach transaction: counts the client in, publishes the presence, and
/// reads where the client starts. Returns the start, the version it is at, and
/// the presence sequence number and count.
async fn attach(
    inner: &Inner,
    call: Call<'_>,
    resume: Option<u64>,
) -> Result<(Start, u64, u64, usize)> {
    let Opened::Live(mut tx, locked) = inner
        .open(call, "attach", Some(Right::Read), None, true)
        .await?
    else {
        return Err(corrupt("attach", "a started room is absent"));
    };
    let err = |err| backend_error("attach", err);
    let room = call.room.as_str();
    let count = locked.attached + 1;
    let seq = locked.presence_seq + 1;
    let notice = Notice::Presence {
        room: room.to_owned(),
        seq,
        count,
    }
    .encode();
    sqlx::query(&format!(
        "WITH counted AS (
             INSERT INTO hyperstate_room_attached (room, node, count, lease_until)
             VALUES ($1, $2, 1, clock_timestamp() + $3 * interval '1 millisecond')
             ON CONFLICT (room, node) DO UPDATE SET count = hyperstate_room_attached.count + 1,
                 lease_until = excluded.lease_until
         ), slot AS (
             UPDATE hyperstate_room_members SET joined_at = NULL WHERE room = $1 AND member = $4 AND $5
         ), up AS (
             UPDATE hyperstate_rooms SET presence_seq = $6,
                 expires_at = clock_timestamp() + $7 * interval '1 millisecond'
             WHERE room = $1
         )
         SELECT pg_notify('{CHANNEL}', $8)"
    ))
    .bind(room)
    .bind(&inner.hub.node)
    .bind(LEASE_MS)
    .bind(call.caller.as_bytes().as_slice())
    .bind(locked.unused)
    .bind(signed(seq as usize))
    .bind(expiry_ms(locked.idle_ttl_ms, count))
    .bind(notice)
    .execute(&mut *tx)
    .await
    .map_err(err)?;
    let version = locked.version;
    let replay = match resume {
        Some(from) if from == version => Some(Vec::new()),
        Some(from) if from < version && inner.options.replay > 0 => {
            let rows: Vec<(i64, String)> = sqlx::query_as(
                "SELECT version, diff FROM hyperstate_room_diffs
                 WHERE room = $1 AND version > $2 ORDER BY version",
            )
            .bind(room)
            .bind(i64::try_from(from).unwrap_or(i64::MAX))
            .fetch_all(&mut *tx)
            .await
            .map_err(err)?;
            // Only when the log still holds every diff after `from`.
            let covered = rows.first().is_some_and(|(v, _)| *v as u64 == from + 1)
                && rows.len() as u64 == version - from;
            if covered {
                Some(
                    rows.iter()
                        .map(|(_, d)| room_codec::decode_diff("attach", d))
                        .collect::<Result<Vec<_>>>()?,
                )
            } else {
                None
            }
        }
        _ => None,
    };
    let start = match replay {
        Some(diffs) => Start::Replay(diffs),
        None => Start::Snapshot(Snapshot {
            version,
            state: read_state(&mut tx, call.room, "attach").await?,
        }),
    };
    tx.commit().await.map_err(err)?;
    Ok((start, version, seq, count))
}

/// Detaches one client when dropped. `Drop` cannot wait, so the detach runs on
/// a task; if it never runs (no runtime, PostgreSQL down), the client's lease
/// still runs out, because this node stops refreshing it once it has no client.
#[derive(Debug)]
struct Detach {
    inner: Arc<Inner>,
    room: String,
}

impl Drop for Detach {
    fn drop(&mut self) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let (inner, room) = (self.inner.clone(), std::mem::take(&mut self.room));
        runtime.spawn(async move {
            if let Err(err) = detach(&inner, &room).await {
                tracing::warn!(%err, room, "room detach failed");
            }
            inner.hub.leave(&room);
        });
    }
}

/// Counts one client of this node out; when no one is attached anywhere, the
/// room's idle countdown starts. Never starts or revives a room.
async fn detach(inner: &Inner, room: &str) -> Result<()> {
    let err = |err| backend_error("detach", err);
    let mut tx = inner.db.pool.begin().await.map_err(err)?;
    let row: Option<(i64, i64)> = sqlx::query_as(
        "SELECT presence_seq, idle_ttl_ms FROM hyperstate_rooms
         WHERE room = $1 AND expires_at > clock_timestamp() FOR UPDATE",
    )
    .bind(room)
    .fetch_optional(&mut *tx)
    .await
    .map_err(err)?;
    let Some((seq, ttl)) = row else {
        return Ok(());
    };
    sqlx::query(
        "WITH down AS (
             UPDATE hyperstate_room_attached SET count = count - 1
             WHERE room = $1 AND node = $2 RETURNING count
         )
         DELETE FROM hyperstate_room_attached
         WHERE room = $1 AND node = $2 AND (SELECT count FROM down) <= 0",
    )
    .bind(room)
    .bind(&inner.hub.node)
    .execute(&mut *tx)
    .await
    .map_err(err)?;
    let count: i64 = sqlx::query_scalar(
        "SELECT coalesce(sum(count), 0)::bigint FROM hyperstate_room_attached
         WHERE room = $1 AND lease_until > clock_timestamp()",
    )
    .bind(room)
    .fetch_one(&mut *tx)
    .await
    .map_err(err)?;
    let count = usize::try_from(count).unwrap_or(0);
    let seq = seq + 1;
    let notice = Notice::Presence {
        room: room.to_owned(),
        seq: seq as u64,
        count,
    }
    .encode();
    sqlx::query(&format!(
        "WITH up AS (
             UPDATE hyperstate_rooms SET presence_seq = $2,
                 expires_at = clock_timestamp() + $3 * interval '1 millisecond'
             WHERE room = $1
         )
         SELECT pg_notify('{CHANNEL}', $4)"
    ))
    .bind(room)
    .bind(seq)
    .bind(expiry_ms(ttl, count))
    .bind(notice)
    .execute(&mut *tx)
    .await
    .map_err(err)?;
    tx.commit().await.map_err(err)
}
