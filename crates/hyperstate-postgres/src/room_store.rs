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
//! Locks are taken in one order, so room transactions cannot deadlock: a
//! room's row first, then the rows under it (attach counts, members, the diff
//! log); a transaction that locks several rooms' rows takes them in name order
//! (the lease refresh) or skips those already locked (the sweeper).
//!
//! Reads (access, get, snapshot) of a room with no live row store nothing:
//! they answer from the spec at the database's clock ([`Unstored`]). Only
//! writes, joins and attaches start a room.

use std::hash::{BuildHasher, RandomState};
use std::sync::Arc;

use async_trait::async_trait;
use hyperstate::backend::{AttachGuard, Attachment, Call, Unstored, UpdateFn, Write};
use hyperstate::room::{
    Access, Change, Diff, Json, Right, RoomKey, RoomOptions, RoomStore, Snapshot,
};
use hyperstate::{Error, Result};

use crate::connection::Postgres;
use crate::error::{BACKEND, backend_error};
use crate::room_attach::{Detach, attach};
use crate::room_codec::corrupt;
use crate::room_hub::Hub;
use crate::room_txn::{Inner, Opened, read_state, signed};

/// Most expired rooms one sweep statement deletes.
const SWEEP_BATCH: i64 = 500;

/// Room state in PostgreSQL. Cheap to clone; clones share rooms and the
/// listening connection.
///
/// [`RoomOptions::max_rooms`] counts the live rooms of every node on the same
/// database: starts take an advisory lock and count, so it is never exceeded.
#[derive(Debug, Clone)]
pub struct PgRoomStore {
    inner: Arc<Inner>,
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
