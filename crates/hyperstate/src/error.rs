//! The one error type of the core crate.
//!
//! Every fallible operation returns [`Error`]. Its variants say what went wrong in
//! terms a caller can act on (a limit and its value, a malformed id, a backend that
//! failed) and keep the underlying error as a `source`, never as a flattened string.
//! Everything that branches on an error (metrics, logging, the HTTP status in
//! the web integration) derives from its [`ErrorKind`], see [`Error::kind`].

use std::error::Error as StdError;

pub use crate::error_kind::ErrorKind;
use crate::room::{CallerClass, Right};

/// A boxed error from a backend (Redis, an object store, the file system, ...).
pub type BoxError = Box<dyn StdError + Send + Sync + 'static>;

/// The result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in hyperstate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A page id or browser id was not in the expected format.
    #[error("malformed {what}: {reason}")]
    MalformedId {
        /// Which kind of id (`"page id"`, `"browser id"`).
        what: &'static str,
        /// Why it was rejected.
        reason: &'static str,
    },

    /// A state key was empty, too long, or contained control characters.
    #[error("invalid key {key:?}: {reason}")]
    InvalidKey {
        /// The offending key, truncated to 64 characters.
        key: String,
        /// Why it was rejected.
        reason: &'static str,
    },

    /// A single serialized value is larger than the configured limit.
    #[error("value of {size} bytes exceeds the limit of {limit} bytes")]
    ValueTooLarge {
        /// Size of the serialized value in bytes.
        size: usize,
        /// The configured maximum.
        limit: usize,
    },

    /// Writing would give one scope instance (a page, a session view) more keys than allowed.
    #[error("too many keys: the limit is {limit} per {scope}")]
    TooManyKeys {
        /// The scope kind (`"page"`, ...).
        scope: &'static str,
        /// The configured maximum.
        limit: usize,
    },

    /// Writing would make one scope instance hold more bytes than allowed.
    #[error("{scope} would hold {size} bytes, over the limit of {limit} bytes")]
    ScopeTooLarge {
        /// The scope kind (`"page"`, ...).
        scope: &'static str,
        /// The size the write would have produced.
        size: usize,
        /// The configured maximum.
        limit: usize,
    },

    /// The backend's total memory budget is spent and nothing idle is left to evict.
    #[error("state store is full ({limit} bytes) and no idle state can be evicted")]
    StoreFull {
        /// The configured total budget in bytes.
        limit: usize,
    },

    /// A value could not be serialized to JSON, or stored JSON could not be read
    /// back as the requested type.
    #[error("value for key {key:?} could not be {direction} as JSON")]
    Json {
        /// The key involved.
        key: String,
        /// `"serialized"` or `"deserialized"`.
        direction: &'static str,
        /// The serde error.
        #[source]
        source: serde_json::Error,
    },

    /// A room key was empty, too long, or had characters outside its charset.
    #[error("invalid room key {key:?}: {reason}")]
    InvalidRoomKey {
        /// The offending key, truncated to 64 characters.
        key: String,
        /// Why it was rejected.
        reason: &'static str,
    },

    /// The room's ACL does not give the caller's class the right the operation
    /// needs. Nothing changed. (HTTP 403.)
    #[error("access denied: {class} may not {right} room {room:?}")]
    AccessDenied {
        /// The room.
        room: String,
        /// The caller's class in that room.
        class: CallerClass,
        /// The right the operation needed.
        right: Right,
    },

    /// Joining would give a room more members than allowed.
    #[error("room has too many members: the limit is {limit}")]
    TooManyMembers {
        /// The configured maximum.
        limit: usize,
    },

    /// Starting a room would exceed the number of live rooms allowed. Live rooms
    /// are never evicted to make room; idle ones expire by their TTL.
    #[error("too many live rooms: the limit is {limit}")]
    TooManyRooms {
        /// The configured maximum.
        limit: usize,
    },

    /// The backend failed (connection lost, I/O error, timeout, ...).
    #[error("{backend} backend failed during {operation}")]
    Backend {
        /// The backend's name (`"memory"`, `"redis"`, ...).
        backend: &'static str,
        /// The operation that failed (`"get"`, `"put"`, ...).
        operation: &'static str,
        /// The backend's own error.
        #[source]
        source: BoxError,
    },

    /// The backend failed repeatedly and its circuit breaker is open: the call
    /// failed at once, without reaching it. Nothing changed. HTTP: 503 with
    /// `Retry-After`. See [`breaker`](crate::breaker).
    #[error(
        "{scope} state is unavailable: its {backend} backend is failing; retry in {} s",
        retry_after.as_secs_f64().ceil().max(1.0)
    )]
    BackendUnavailable {
        /// The scope whose backend is failing (`"page"`, `"room"`, `"session"`).
        scope: &'static str,
        /// The backend's name (`"redis"`, `"s3"`, ...).
        backend: &'static str,
        /// How long until the breaker lets a probe through.
        retry_after: std::time::Duration,
    },

    /// The service is shutting down and no longer accepts work.
    #[error("hyperstate is shutting down")]
    ShuttingDown,

    /// A write needs a page id (a key with the `Reconnect` policy), and the
    /// request carried none.
    #[error("key {key:?} is recovered per page, and the request carries no page id")]
    PageIdRequired {
        /// The key that was written.
        key: String,
    },

    /// Writing would give one session more views than allowed.
    #[error("too many views in one session: the limit is {limit}")]
    TooManyViews {
        /// The configured maximum.
        limit: usize,
    },

    /// Other writers kept changing the session document, and the write still lost
    /// the compare-and-swap after the bounded number of attempts. Nothing of it was
    /// stored; retrying later is safe.
    #[error(
        "session write lost the compare-and-swap {attempts} times in a row; nothing was stored"
    )]
    SessionConflict {
        /// How many times the write was tried.
        attempts: u32,
    },

    /// The stored session document is not one this version can read.
    #[error("stored session document is corrupt")]
    CorruptSession {
        /// Why it could not be read.
        #[source]
        source: serde_json::Error,
    },

    /// A session secret was rejected (too short, not hex).
    #[error("invalid session secret: {reason}")]
    InvalidSecret {
        /// Why it was rejected.
        reason: &'static str,
    },

    /// The session's writer task stopped (it panicked) before acknowledging the
    /// write, so whether it was stored is unknown.
    #[error("the session writer stopped before acknowledging the write")]
    WriterStopped,

    /// One client asked for something rate-limited (new browser ids, room
    /// joins, ...) faster than its allowance; nothing was done. HTTP: 429 with
    /// `Retry-After`.
    #[error(
        "too many {what} from this client: retry in {} s",
        retry_after.as_secs_f64().ceil().max(1.0)
    )]
    RateLimited {
        /// What was limited (`"new browser ids"`, `"room joins"`, ...).
        what: &'static str,
        /// How long until the client's allowance has room again.
        retry_after: std::time::Duration,
    },

    /// The closure of a `try_update` declined to produce a value; nothing was
    /// written. The typed `try_update`s return the closure's own error instead:
    /// only a backend sees this one, passing through its update path.
    #[error("the update declined to produce a value; nothing was written")]
    UpdateDeclined,
}

impl Error {
    /// How long the caller should wait before trying again, when the error
    /// says (a rate limit, an open circuit breaker). HTTP: `Retry-After`.
    pub fn retry_after(&self) -> Option<std::time::Duration> {
        match self {
            Error::RateLimited { retry_after, .. }
            | Error::BackendUnavailable { retry_after, .. } => Some(*retry_after),
            _ => None,
        }
    }

    /// Wraps a backend's error.
    pub fn backend(
        backend: &'static str,
        operation: &'static str,
        source: impl Into<BoxError>,
    ) -> Self {
        Error::Backend {
            backend,
            operation,
            source: source.into(),
        }
    }
}
