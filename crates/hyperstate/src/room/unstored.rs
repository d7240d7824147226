//! How a room with no stored state answers reads: from its spec, storing nothing.
//!
//! Anyone can name a room in a URL, so a read of a room nobody has written,
//! joined or attached must not cost what a live room costs (a flood of distinct
//! names would otherwise fill the store). Backends answer such reads from a
//! fresh run of the spec instead, as the page scope creates a page only on its
//! first write. The answer is exactly what a stored room would show at that
//! instant: the initial state, and a public caller (a room with no stored state
//! has no members).

use super::{Access, Acl, CallerClass, Json, Right, RoomInit, RoomKey, Snapshot, State};
use crate::{Limits, Result};

/// A room's initial state and ACL, standing in for a room that is not stored.
///
/// Built by backends when a read finds no stored room. `version` must be one
/// a room started now could start at (backends use the clock they start rooms
/// with), so a client that resumes from it is either up to date with the room
/// that later starts (same version, same initial state) or resynced.
#[derive(Debug, Clone)]
pub struct Unstored {
    state: State,
    acl: Acl,
    version: u64,
}

impl Unstored {
    /// The room `init` describes, at `version`. Checked against `limits` as a
    /// start would be, so a read fails exactly when starting the room would.
    pub fn new(init: RoomInit, version: u64, limits: &Limits) -> Result<Self> {
        init.checked_bytes(limits)?;
        let (state, acl, _) = init.into_parts();
        Ok(Unstored {
            state,
            acl,
            version,
        })
    }

    /// The caller's class and rights: always public.
    pub fn access(&self) -> Access {
        Access::new(&self.acl, CallerClass::Public)
    }

    /// The value under `key`, if the public has `right` (read for a get; a
    /// backend reading the current value for an update asks for write).
    pub fn get(&self, room: &RoomKey, key: &str, right: Right) -> Result<Option<Json>> {
        self.acl.check(room, CallerClass::Public, right)?;
        Ok(self.state.get(key).cloned())
    }

    /// The whole state at the version (needs the public read right).
    pub fn snapshot(self, room: &RoomKey) -> Result<Snapshot> {
        self.acl.check(room, CallerClass::Public, Right::Read)?;
        Ok(Snapshot {
            version: self.version,
            state: self.state,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Error;
    use crate::room::Rights;

    #[test]
    fn answers_as_a_public_caller_of_the_initial_state() {
        let room = RoomKey::parse("r").unwrap();
        let init = RoomInit::new().value("topic", "hi").unwrap();
        let unstored = Unstored::new(init, 7, &Limits::default()).unwrap();
        assert_eq!(unstored.access().class, CallerClass::Public);
        assert!(unstored.get(&room, "topic", Right::Read).unwrap().is_some());
        assert_eq!(unstored.snapshot(&room).unwrap().version, 7);

        let closed = RoomInit::new().acl(Acl::new(Rights::ALL, Rights::NONE));
        let unstored = Unstored::new(closed, 1, &Limits::default()).unwrap();
        let err = unstored.get(&room, "topic", Right::Read).unwrap_err();
        assert!(matches!(err, Error::AccessDenied { .. }), "{err:?}");
    }
}
