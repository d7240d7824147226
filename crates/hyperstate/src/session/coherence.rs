//! How a node knows that its cached copy of a session is current.
//!
//! Each node keeps the session documents it read or wrote in a cache
//! ([`SessionOptions::cache_bytes`](super::SessionOptions::cache_bytes)), and a
//! [`SessionCoherence`] says when a cached copy may answer a read:
//!
//! - [`SessionCoherence::Shared`]: nodes share a [`RevisionRegister`] (Redis, in
//!   `hyperstate-redis`) that holds, per session, the revision and etag of the
//!   last commit. A commit records itself there after the store accepted it and
//!   before it is acknowledged; a read asks the register and uses the cache only
//!   on an exact match, otherwise it reads the store. A register that cannot be
//!   reached sends reads to the store, never to a possibly stale copy.
//! - [`SessionCoherence::SingleNode`]: this node is the only one writing the
//!   store, so every commit passes through its cache, which is then
//!   authoritative.
//! - [`SessionCoherence::Off`]: every read goes to the store.
//!
//! The guarantee of the first two: after a write is acknowledged on any node, a
//! read that starts later on any node sees it.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use super::SessionKey;
use super::store::Etag;
use crate::Result;

/// The last committed version of one session, as recorded for other nodes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revision {
    /// The document's revision counter ([`SessionDoc::rev`](super::SessionDoc::rev)).
    pub rev: u64,
    /// The etag the store gave that revision.
    pub etag: Etag,
}

/// A shared record of each session's latest [`Revision`], which tells every
/// node whether its cached copy is current.
///
/// # Contract
///
/// - [`record`](Self::record) never moves a session's record backwards: a
///   revision lower than the one recorded is ignored (a commit delayed between
///   its PUT and its record must not hide a later one). Equal revisions
///   replace each other (the same commit recorded twice).
/// - [`latest`](Self::latest) returns what the last effective `record` wrote,
///   or `None` (never recorded, forgotten, or expired): the caller then reads
///   the store.
/// - [`forget`](Self::forget) drops the record. The session scope calls it
///   before a document is replaced outside the revision order (deleted by the
///   sweeper, replaced after it was found unreadable), whose next revisions
///   start again from zero.
/// - Clones of a register handle address the same records.
#[async_trait]
pub trait RevisionRegister: fmt::Debug + Send + Sync + 'static {
    /// A short name for logs and errors (`"memory"`, `"redis"`).
    fn backend_name(&self) -> &'static str;

    /// The recorded revision of `key`, if any.
    async fn latest(&self, key: &SessionKey) -> Result<Option<Revision>>;

    /// Records `revision` for `key` unless a higher one is recorded.
    async fn record(&self, key: &SessionKey, revision: &Revision) -> Result<()>;

    /// Drops the record of `key`.
    async fn forget(&self, key: &SessionKey) -> Result<()>;

    /// Claims `task` (the session sweep) for `period`: `true` for at most one
    /// caller among all nodes sharing the register until the period is over,
    /// so a fleet runs the task once per period instead of once per node.
    async fn lease(&self, task: &str, period: Duration) -> Result<bool>;
}

/// When a node's cached session documents may answer reads (see the module
/// docs of [`session`](super)).
#[derive(Clone, Default)]
pub enum SessionCoherence {
    /// No cache: every read goes to the document store. Right for several
    /// processes sharing a store without a shared register.
    #[default]
    Off,
    /// This process is the only one that writes the store (one node; a data
    /// directory no other process writes), so its cache is authoritative.
    SingleNode,
    /// Several nodes share the store and this register (coherent through
    /// Redis, for example).
    Shared(Arc<dyn RevisionRegister>),
}

impl fmt::Debug for SessionCoherence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SessionCoherence::Off => f.write_str("Off"),
            SessionCoherence::SingleNode => f.write_str("SingleNode"),
            SessionCoherence::Shared(register) => {
                write!(f, "Shared({})", register.backend_name())
            }
        }
    }
}

impl SessionCoherence {
    /// The shared register, in [`SessionCoherence::Shared`].
    pub(crate) fn register(&self) -> Option<&dyn RevisionRegister> {
        match self {
            SessionCoherence::Shared(register) => Some(register.as_ref()),
            _ => None,
        }
    }
}
