//! One attached client's view of a room: the state, then every change.

use std::collections::VecDeque;
use std::fmt;
use std::sync::Arc;

use tokio::sync::broadcast::error::RecvError;
use tokio::sync::{broadcast, watch};
use tokio_util::sync::CancellationToken;

use super::subscriber_metrics::{ResyncReason, SubscriberMetrics};
use super::{AttachGuard, Attachment, Change, Diff, MemberKey, Right, Room, Snapshot, Start};
use crate::Result;

/// What a subscriber receives.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum RoomEvent {
    /// The whole state, on a fresh attach: render everything.
    Snapshot(Snapshot),
    /// The whole state again, replacing what the client has: it resumed from a
    /// version no longer buffered, or fell too far behind the live feed.
    Resync(Snapshot),
    /// One change, exactly one version after the previous event's.
    Diff(Arc<Diff>),
    /// The number of attached clients changed (not versioned: carries no id).
    Presence(usize),
}

impl RoomEvent {
    /// The room version after this event (`None` for presence).
    pub fn version(&self) -> Option<u64> {
        match self {
            RoomEvent::Snapshot(s) | RoomEvent::Resync(s) => Some(s.version),
            RoomEvent::Diff(d) => Some(d.version),
            RoomEvent::Presence(_) => None,
        }
    }
}

/// An attached client. Drop it to detach.
///
/// [`next`](Self::next) yields, in order: a [`RoomEvent::Snapshot`] (or, when
/// resuming, the missed [`RoomEvent::Diff`]s or a [`RoomEvent::Resync`]), the
/// current [`RoomEvent::Presence`], then every change as it happens. Versions are
/// gap-free and never repeat: a diff that does not follow the last version
/// (a lagged feed, or a lost message on a distributed backend) turns into a
/// resync with a fresh snapshot. The subscription never slows a writer or
/// another subscriber; it ends (`None`) when the registry shuts down.
///
/// Read access is checked when attaching and again after every reset (which may
/// bring a new ACL): a subscriber that lost it gets
/// [`Error::AccessDenied`](crate::Error::AccessDenied) instead of the new state.
/// Joining or leaving applies to the next attach.
pub struct Subscription {
    room: Room,
    caller: MemberKey,
    version: u64,
    queue: VecDeque<RoomEvent>,
    diffs: broadcast::Receiver<Arc<Diff>>,
    presence: watch::Receiver<usize>,
    presence_open: bool,
    /// A child of the registry's shutdown token: waiting on the shared token
    /// itself would make every subscriber of every room contend for its lock.
    shutdown: CancellationToken,
    metrics: SubscriberMetrics,
    _guard: AttachGuard,
}

impl fmt::Debug for Subscription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Subscription")
            .field("room", self.room.key())
            .field("version", &self.version)
            .finish_non_exhaustive()
    }
}

impl Subscription {
    pub(super) fn new(
        room: Room,
        caller: MemberKey,
        resume: Option<u64>,
        attachment: Attachment,
    ) -> Self {
        let Attachment {
            start,
            diffs,
            mut presence,
            guard,
        } = attachment;
        let metrics = SubscriberMetrics::attach(room.backend_name());
        let mut queue = VecDeque::new();
        let version = match start {
            Start::Snapshot(snapshot) => {
                let version = snapshot.version;
                queue.push_back(match resume {
                    None => RoomEvent::Snapshot(snapshot),
                    Some(_) => {
                        metrics.resynced(ResyncReason::Resume);
                        RoomEvent::Resync(snapshot)
                    }
                });
                version
            }
            Start::Replay(replayed) => {
                let mut version = resume.unwrap_or_default();
                for diff in replayed {
                    // A backend must hand back exactly the successors; skipping
                    // anything else keeps the no-duplicates promise regardless.
                    if diff.version == version + 1 {
                        version = diff.version;
                        queue.push_back(RoomEvent::Diff(diff));
                    }
                }
                version
            }
        };
        queue.push_back(RoomEvent::Presence(*presence.borrow_and_update()));
        Subscription {
            shutdown: room.shutdown_token().child_token(),
            room,
            caller,
            version,
            queue,
            diffs,
            presence,
            presence_open: true,
            metrics,
            _guard: guard,
        }
    }

    /// The room.
    pub fn room(&self) -> &Room {
        &self.room
    }

    /// The version of the last state or diff this subscription has yielded (or
    /// queued to yield).
    pub fn version(&self) -> u64 {
        self.version
    }

    /// The next event; `None` once the registry shuts down or the room's feed
    /// closes. An error means a resync failed (the backend is down, or a reset
    /// took away the caller's read right); the caller should stop and let the
    /// client reconnect.
    pub async fn next(&mut self) -> Option<Result<RoomEvent>> {
        loop {
            if let Some(event) = self.queue.pop_front() {
                return Some(Ok(event));
            }
            if self.shutdown.is_cancelled() {
                return None;
            }
            tokio::select! {
                // Diffs first: when one is ready the other branches are not even
                // polled (no waker registered and removed per delivery, which
                // matters at 10,000 subscribers). Shutdown is checked above and
                // still wakes an idle subscriber. Presence last: a count is only
                // decoration, a diff is state.
                biased;
                received = self.diffs.recv() => match received {
                    Ok(diff) if diff.version <= self.version => continue, // already applied
                    Ok(diff) if diff.version == self.version + 1 => {
                        self.version = diff.version;
                        if matches!(diff.change, Change::Reset { .. }) {
                            // A reset may bring a new ACL: a subscriber that lost
                            // its read right must not see the new state.
                            if let Err(err) = self.still_readable().await {
                                return Some(Err(err));
                            }
                        }
                        return Some(Ok(RoomEvent::Diff(diff)));
                    }
                    // A gap (a lost message) or a lag (this subscriber was too
                    // slow and the bounded feed moved on): the client's state can
                    // no longer be patched, so send it whole.
                    Ok(_) => return Some(self.resync(ResyncReason::Gap).await),
                    Err(RecvError::Lagged(_)) => return Some(self.resync(ResyncReason::Lagged).await),
                    Err(RecvError::Closed) => return None,
                },
                _ = self.shutdown.cancelled() => return None,
                changed = self.presence.changed(), if self.presence_open => match changed {
                    Ok(()) => return Some(Ok(RoomEvent::Presence(*self.presence.borrow_and_update()))),
                    Err(_) => self.presence_open = false,
                },
            }
        }
    }

    async fn still_readable(&self) -> Result<()> {
        let access = self.room.access_of(&self.caller).await?;
        if access.allows(Right::Read) {
            Ok(())
        } else {
            Err(crate::Error::AccessDenied {
                room: self.room.key().as_str().to_owned(),
                class: access.class,
                right: Right::Read,
            })
        }
    }

    async fn resync(&mut self, reason: ResyncReason) -> Result<RoomEvent> {
        tracing::debug!(room = %self.room.key(), version = self.version, ?reason, "subscriber resyncs");
        self.metrics.resynced(reason);
        let snapshot = self.room.resync(&self.caller).await?;
        // Diffs still in the feed up to this version are skipped by `next`.
        self.version = snapshot.version;
        Ok(RoomEvent::Resync(snapshot))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::MemoryRoomStore;
    use crate::room::{Change, Json, RoomInit, RoomKey, Rooms, Snapshot, State};

    fn diff(version: u64) -> Arc<Diff> {
        Arc::new(Diff {
            version,
            change: Change::Inserted {
                key: "k".into(),
                value: Json::from_bytes(b"1".to_vec()),
            },
        })
    }

    /// A feed that skips a version (as a lost pub/sub message would) must turn
    /// into a resync, never a silent gap; an old version must be skipped.
    #[tokio::test]
    async fn gaps_resync_and_duplicates_are_skipped() {
        let rooms = Rooms::new(Arc::new(MemoryRoomStore::default()), |_: &RoomKey| {
            Ok(RoomInit::new())
        });
        let room = rooms.room("gaps").unwrap();
        let (tx, rx) = broadcast::channel(16);
        let (_presence_tx, presence) = watch::channel(1);
        let attachment = Attachment {
            start: Start::Snapshot(Snapshot {
                version: 10,
                state: State::new(),
            }),
            diffs: rx,
            presence,
            guard: AttachGuard::new(()),
        };
        let mut sub = Subscription::new(
            room,
            crate::room::Principal::app("t").member_key(),
            None,
            attachment,
        );
        assert!(matches!(sub.next().await, Some(Ok(RoomEvent::Snapshot(_)))));
        assert!(matches!(sub.next().await, Some(Ok(RoomEvent::Presence(1)))));
        for v in [9, 10, 11, 13] {
            tx.send(diff(v)).unwrap();
        }
        match sub.next().await {
            Some(Ok(RoomEvent::Diff(d))) => assert_eq!(d.version, 11),
            other => panic!("expected diff 11, got {other:?}"),
        }
        assert!(matches!(sub.next().await, Some(Ok(RoomEvent::Resync(_)))));
    }

    #[tokio::test(start_paused = true)]
    async fn supervisor_shutdown_ends_subscriptions() {
        let supervisor = crate::Supervisor::new();
        let rooms = Rooms::new(Arc::new(MemoryRoomStore::default()), |_: &RoomKey| {
            Ok(RoomInit::new())
        })
        .supervised(&supervisor);
        let room = rooms.room("bye").unwrap();
        let who = crate::room::Principal::app("t");
        let mut sub = room.attach(&who, None).await.unwrap();
        assert!(matches!(sub.next().await, Some(Ok(RoomEvent::Snapshot(_)))));
        assert!(matches!(sub.next().await, Some(Ok(RoomEvent::Presence(1)))));
        let waiting = tokio::spawn(async move { sub.next().await.is_none() });
        tokio::task::yield_now().await;
        supervisor.shutdown().await;
        assert!(
            waiting.await.unwrap(),
            "an idle subscription outlived shutdown"
        );
    }
}
