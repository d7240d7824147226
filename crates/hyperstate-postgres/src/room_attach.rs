//! Attaching a client to a room and detaching it: the per-node attach count
//! under a lease, the presence count NOTIFYed to every node, and where the
//! client starts (the diffs it missed, or a snapshot).

use std::sync::Arc;

use hyperstate::Result;
use hyperstate::backend::{Call, Start};
use hyperstate::room::{Right, Snapshot};

use crate::error::backend_error;
use crate::room_codec::{self, CHANNEL, Notice, corrupt};
use crate::room_hub::LEASE_MS;
use crate::room_txn::{Inner, Opened, expiry_ms, read_state, signed};

/// The attach transaction: counts the client in, publishes the presence, and
/// reads where the client starts. Returns the start, the version it is at, and
/// the presence sequence number and count.
pub(crate) async fn attach(
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
pub(crate) struct Detach {
    pub(crate) inner: Arc<Inner>,
    pub(crate) room: String,
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
pub(crate) async fn detach(inner: &Inner, room: &str) -> Result<()> {
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
