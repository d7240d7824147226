//! Several writes to one view, committed as one unit.

use std::fmt;

use serde::Serialize;

use super::SessionView;
use super::change::Op;
use crate::{KeyFor, KeyName, Result};

/// A write of several keys of one view, built with [`put`](Self::put) and
/// [`delete`](Self::delete) and stored by [`commit`](Self::commit) in one
/// durable write: all of it, or (an error) none of it. Other writes to the
/// session are never interleaved with it.
///
/// Obtained from [`SessionView::write`]. A `put` that fails its checks (an
/// invalid key, a value over the size limit, a `Reconnect` key without a page
/// id) fails the whole write at `commit`, which then stores nothing.
#[must_use = "nothing is written until `commit().await`"]
pub struct SessionWrite {
    view: SessionView,
    ops: Result<Vec<Op>>,
}

impl fmt::Debug for SessionWrite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionWrite")
            .field("view", &self.view)
            .field("writes", &self.ops.as_ref().map(Vec::len))
            .finish()
    }
}

impl SessionWrite {
    pub(super) fn new(view: SessionView) -> Self {
        SessionWrite {
            view,
            ops: Ok(Vec::new()),
        }
    }

    /// Adds storing `value` under `key` (a [`Key<T>`](crate::Key) for a `T`, or
    /// a string key).
    pub fn put<K, T>(mut self, key: &K, value: &T) -> Self
    where
        K: KeyFor<T> + ?Sized,
        T: Serialize + ?Sized,
    {
        let op = self.view.set_op(key.key_name(), value);
        self.push(op);
        self
    }

    /// Adds removing `key`.
    pub fn delete<K: KeyName + ?Sized>(mut self, key: &K) -> Self {
        let op = self.view.remove_op(key.key_name());
        self.push(op);
        self
    }

    fn push(&mut self, op: Result<Op>) {
        // The first failure is the one reported; later writes are not checked.
        if let Ok(ops) = &mut self.ops {
            match op {
                Ok(op) => ops.push(op),
                Err(err) => self.ops = Err(err),
            }
        }
    }

    /// Stores every write in one durable commit, or none of them. An empty
    /// write stores nothing and succeeds.
    pub async fn commit(self) -> Result<()> {
        let ops = self.ops?;
        if ops.is_empty() {
            return Ok(());
        }
        self.view.commit(Op::Batch(ops)).await
    }
}
