//! What a room starts as: its spec.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

use super::{Acl, CallerClass, Json, Right, RoomKey, State};
use crate::value::{encode, validate_key};
use crate::{Error, Limits, Result};

/// The default idle TTL: how long a room with no attached client lives on.
pub const DEFAULT_IDLE_TTL: Duration = Duration::from_secs(60);

/// Gives, for a room key, the room's initial state, ACL and idle TTL.
///
/// Called when a room starts (its first write, join or attach), for each read
/// of a room that is not stored (which answers from it and stores nothing),
/// and again by [`Room::reset`](super::Room::reset). It runs outside every lock and may run
/// more than once for one start when callers race (only one result is kept), so
/// it should only compute. Returning an error refuses the room: the operation
/// that would have started it fails with that error.
///
/// Any `Fn(&RoomKey) -> Result<RoomInit>` is a spec:
///
/// ```
/// use hyperstate::room::{Acl, RoomInit, RoomKey, Rights};
///
/// let spec = |_room: &RoomKey| {
///     RoomInit::new()
///         .acl(Acl::new(Rights::ALL, Rights::READ))
///         .value("messages", &Vec::<String>::new())
/// };
/// # fn is_spec(_: impl hyperstate::room::RoomSpec) {}
/// # is_spec(spec);
/// ```
pub trait RoomSpec: Send + Sync + 'static {
    /// The initial state, ACL and TTL of room `room`.
    fn init(&self, room: &RoomKey) -> Result<RoomInit>;
}

impl<F> RoomSpec for F
where
    F: Fn(&RoomKey) -> Result<RoomInit> + Send + Sync + 'static,
{
    fn init(&self, room: &RoomKey) -> Result<RoomInit> {
        self(room)
    }
}

/// A room's initial state, ACL and idle TTL, as built by a [`RoomSpec`].
#[derive(Clone, PartialEq, Eq)]
pub struct RoomInit {
    state: State,
    acl: Acl,
    idle_ttl: Duration,
}

impl Default for RoomInit {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for RoomInit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RoomInit")
            .field("keys", &self.state.len())
            .field("acl", &self.acl)
            .field("idle_ttl", &self.idle_ttl)
            .finish()
    }
}

impl RoomInit {
    /// An empty state, the default [`Acl`] (members all, public read) and an
    /// idle TTL of 60 s.
    pub fn new() -> Self {
        RoomInit {
            state: State::new(),
            acl: Acl::default(),
            idle_ttl: DEFAULT_IDLE_TTL,
        }
    }

    /// Sets the ACL.
    pub fn acl(mut self, acl: Acl) -> Self {
        self.acl = acl;
        self
    }

    /// Sets how long the room lives on once no client is attached (and no one
    /// accesses it).
    pub fn idle_ttl(mut self, ttl: Duration) -> Self {
        self.idle_ttl = ttl;
        self
    }

    /// Adds `key` with `value` (JSON-encoded) to the initial state.
    pub fn value<T: Serialize + ?Sized>(mut self, key: &str, value: &T) -> Result<Self> {
        // Limits are checked by the backend, which knows them; here only encode.
        let bytes = encode(key, value, &Limits::default().max_value_bytes(usize::MAX))?;
        self.state.insert(key.into(), Json::from_bytes(bytes));
        Ok(self)
    }

    /// The initial state.
    pub fn state(&self) -> &State {
        &self.state
    }

    /// Checks the state against `limits` (key syntax, value size, key count and
    /// total bytes) and returns its size in bytes (keys plus values), the measure
    /// [`Limits::max_bytes`] bounds. Backends call this before installing it.
    pub fn checked_bytes(&self, limits: &Limits) -> Result<usize> {
        if self.state.len() > limits.max_keys {
            return Err(Error::TooManyKeys {
                scope: "room",
                limit: limits.max_keys,
            });
        }
        let mut bytes = 0;
        for (key, value) in &self.state {
            validate_key(key, limits)?;
            let len = value.as_bytes().len();
            if len > limits.max_value_bytes {
                return Err(Error::ValueTooLarge {
                    size: len,
                    limit: limits.max_value_bytes,
                });
            }
            bytes += key.len() + len;
        }
        if bytes > limits.max_bytes {
            return Err(Error::ScopeTooLarge {
                scope: "room",
                size: bytes,
                limit: limits.max_bytes,
            });
        }
        Ok(bytes)
    }

    /// Checks that a caller of a room just started from this init has `right`.
    /// Nobody has joined such a room, so the caller is public: backends check
    /// this before starting a room for an operation, so that a denied one
    /// stores nothing.
    pub fn check_new_room(&self, room: &RoomKey, right: Right) -> Result<()> {
        self.acl.check(room, CallerClass::Public, right)
    }

    /// Splits into state, ACL and TTL (for backends).
    pub fn into_parts(self) -> (State, Acl, Duration) {
        (self.state, self.acl, self.idle_ttl)
    }
}

/// A shared [`RoomSpec`], as the [`Rooms`](super::Rooms) registry holds it.
pub(crate) type SharedSpec = Arc<dyn RoomSpec>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn init_state_is_checked_against_limits() {
        let init = RoomInit::new()
            .value("a", &"x".repeat(10))
            .unwrap()
            .value("b", &1)
            .unwrap();
        assert_eq!(
            init.checked_bytes(&Limits::default()).unwrap(),
            1 + 12 + 1 + 1
        );
        assert!(matches!(
            init.checked_bytes(&Limits::default().max_keys(1)),
            Err(Error::TooManyKeys { .. })
        ));
        assert!(matches!(
            init.checked_bytes(&Limits::default().max_value_bytes(5)),
            Err(Error::ValueTooLarge { .. })
        ));
        assert!(matches!(
            init.checked_bytes(&Limits::default().max_bytes(10)),
            Err(Error::ScopeTooLarge { .. })
        ));
        let bad = RoomInit::new().value("", &1).unwrap();
        assert!(matches!(
            bad.checked_bytes(&Limits::default()),
            Err(Error::InvalidKey { .. })
        ));
    }
}
