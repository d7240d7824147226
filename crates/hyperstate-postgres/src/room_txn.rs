//! The transaction every room operation runs in: the room's row locked
//! (`SELECT … FOR UPDATE`), the caller's standing read with it, the room
//! started from its spec when an operation that stores finds it absent, and
//! each change applied, logged and NOTIFYed before the commit.

use std::sync::Arc;

use hyperstate::backend::{Call, class_of};
use hyperstate::room::{Acl, Change, Diff, Json, Right, Rights, RoomKey, RoomOptions, State};
use hyperstate::{Error, Result};
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, Postgres as Pg, Row, Transaction};

use crate::connection::Postgres;
use crate::error::{BACKEND, backend_error};
use crate::room_codec::{self, CHANNEL, Notice, corrupt, encode_diff, encode_state};
use crate::room_hub::{Hub, LEASE_MS};

/// How often one operation may find its room absent and start it (the room can
/// expire between the start and the retry only under absurdly short TTLs).
const MAX_START_ATTEMPTS: usize = 5;
/// The advisory lock starts take, so the live-room count cannot be exceeded by
/// nodes starting rooms at once ("hsrooms").
const START_LOCK: i64 = 0x0068_7372_6f6f_6d73;

/// What every handle of one room store shares.
#[derive(Debug)]
pub(crate) struct Inner {
    pub(crate) db: Postgres,
    pub(crate) options: RoomOptions,
    pub(crate) hub: Arc<Hub>,
}

/// A live room's row, locked by the open transaction, and the caller's standing.
pub(crate) struct Locked {
    pub(crate) version: u64,
    pub(crate) acl: Acl,
    pub(crate) idle_ttl_ms: i64,
    pub(crate) unused_member_ttl_ms: i64,
    pub(crate) keys: usize,
    pub(crate) bytes: usize,
    pub(crate) presence_seq: u64,
    /// Clients attached on every node (leases still running).
    pub(crate) attached: usize,
    /// The caller is a member and holds its slot.
    pub(crate) member: bool,
    /// The caller joined and has neither attached nor written since.
    pub(crate) unused: bool,
    /// The value under the key the operation is about, if asked.
    pub(crate) value: Option<String>,
}

/// The expiry to set now: the idle TTL, or at least a lease while clients are
/// attached.
pub(crate) fn expiry_ms(idle_ttl_ms: i64, attached: usize) -> i64 {
    let ttl = if attached > 0 {
        idle_ttl_ms.max(LEASE_MS)
    } else {
        idle_ttl_ms
    };
    ttl.max(1)
}

impl Locked {
    pub(crate) fn class(&self) -> hyperstate::room::CallerClass {
        class_of(self.member)
    }
}

pub(crate) type Tx = Transaction<'static, Pg>;

/// What opening a room found.
pub(crate) enum Opened {
    Live(Tx, Locked),
    /// No live row; the database's clock in microseconds.
    Absent(u64),
}

pub(crate) fn ms(duration: std::time::Duration) -> i64 {
    i64::try_from(duration.as_millis())
        .unwrap_or(i64::MAX)
        .max(1)
}

pub(crate) fn signed(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
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
    pub(crate) async fn open(
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
    pub(crate) async fn refresh(
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
    pub(crate) async fn publish(
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
                 -- Kept: the newest `replay` diffs, and of those only as many
                 -- (newest first, this one included) as fit in `replay_bytes`;
                 -- this one always, since a diff too large to NOTIFY is read
                 -- from here (a client resuming from before a dropped diff
                 -- resyncs). The insert above is not visible to this
                 -- statement, hence its size added by hand.
                 DELETE FROM hyperstate_room_diffs WHERE room = $1 AND (
                     version <= $6 - $11
                     OR version <= coalesce((
                         SELECT max(version) FROM (
                             SELECT version, octet_length($10) + sum(octet_length(diff))
                                 OVER (ORDER BY version DESC) AS kept
                             FROM hyperstate_room_diffs WHERE room = $1
                         ) newest WHERE kept > $16
                     ), -1)
                 )
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
            .bind(signed(self.options.replay_bytes))
            .execute(&mut *tx)
            .await
            .map_err(|err| backend_error(operation, err))?;
        tx.commit()
            .await
            .map_err(|err| backend_error(operation, err))?;
        Ok(diff)
    }

    /// Puts `value` under `key` in the locked room, within the limits.
    pub(crate) async fn put(
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

pub(crate) async fn read_state(
    tx: &mut Tx,
    room: &RoomKey,
    operation: &'static str,
) -> Result<State> {
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
    pub(crate) async fn open_reset(
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
