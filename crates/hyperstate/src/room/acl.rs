//! Who may do what to a room.
//!
//! Two classes of caller, as in PhoenixLiveState: *members* (principals the app
//! has joined to the room) and the *public* (everyone else). Each class holds any
//! of four rights. A denied operation is [`Error::AccessDenied`], never a silent
//! no-op, so a handler can answer 403 with a message.

use std::fmt;
use std::ops::{BitOr, BitOrAssign};

use super::RoomKey;
use crate::{Error, Result};

/// One right over a room.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Right {
    /// Read the state: `get`, `snapshot`, attach to the live stream.
    Read,
    /// Insert or update keys: `put`, `update`.
    Write,
    /// Remove keys: `delete`.
    Delete,
    /// Re-run the room's spec, replacing the whole state: `reset`.
    Reset,
}

impl Right {
    /// Every right, in a fixed order (for tables and tests).
    pub const ALL: [Right; 4] = [Right::Read, Right::Write, Right::Delete, Right::Reset];

    const fn bit(self) -> u8 {
        match self {
            Right::Read => 1,
            Right::Write => 2,
            Right::Delete => 4,
            Right::Reset => 8,
        }
    }

    /// The lower-case name (`"read"`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Right::Read => "read",
            Right::Write => "write",
            Right::Delete => "delete",
            Right::Reset => "reset",
        }
    }
}

impl fmt::Display for Right {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A set of [`Right`]s.
///
/// ```
/// use hyperstate::room::{Right, Rights};
/// let rights = Rights::READ | Rights::WRITE;
/// assert!(rights.allows(Right::Write));
/// assert!(!rights.allows(Right::Reset));
/// assert!(Rights::ALL.allows(Right::Reset));
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Rights(u8);

impl Rights {
    /// No right at all.
    pub const NONE: Rights = Rights(0);
    /// [`Right::Read`].
    pub const READ: Rights = Rights(Right::Read.bit());
    /// [`Right::Write`].
    pub const WRITE: Rights = Rights(Right::Write.bit());
    /// [`Right::Delete`].
    pub const DELETE: Rights = Rights(Right::Delete.bit());
    /// [`Right::Reset`].
    pub const RESET: Rights = Rights(Right::Reset.bit());
    /// Every right (the seed's `:all`).
    pub const ALL: Rights = Rights(0b1111);

    /// Whether the set holds `right`.
    pub fn allows(self, right: Right) -> bool {
        self.0 & right.bit() != 0
    }

    /// The set as a bit mask (read = 1, write = 2, delete = 4, reset = 8), the
    /// form external backends store.
    pub fn bits(self) -> u8 {
        self.0
    }

    /// The set from a bit mask; unknown bits are ignored.
    pub fn from_bits(bits: u8) -> Rights {
        Rights(bits & Rights::ALL.0)
    }
}

impl From<Right> for Rights {
    fn from(right: Right) -> Self {
        Rights(right.bit())
    }
}

impl BitOr for Rights {
    type Output = Rights;
    fn bitor(self, rhs: Rights) -> Rights {
        Rights(self.0 | rhs.0)
    }
}

impl BitOrAssign for Rights {
    fn bitor_assign(&mut self, rhs: Rights) {
        self.0 |= rhs.0;
    }
}

impl fmt::Debug for Rights {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if *self == Rights::ALL {
            return f.write_str("Rights(all)");
        }
        let names: Vec<_> = Right::ALL
            .iter()
            .filter(|r| self.allows(**r))
            .map(|r| r.as_str())
            .collect();
        write!(f, "Rights({})", names.join("|"))
    }
}

/// The class a caller falls in for one room.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CallerClass {
    /// A principal the app has joined to the room.
    Member,
    /// Everyone else.
    Public,
}

impl fmt::Display for CallerClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CallerClass::Member => "members",
            CallerClass::Public => "public callers",
        })
    }
}

/// The access control list of a room: the rights of each class.
///
/// A caller has exactly the rights of its class; membership does not add the
/// public's rights. The default lets members do everything and the public read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Acl {
    /// Rights of members.
    pub members: Rights,
    /// Rights of everyone else.
    pub public: Rights,
}

impl Default for Acl {
    fn default() -> Self {
        Acl {
            members: Rights::ALL,
            public: Rights::READ,
        }
    }
}

impl Acl {
    /// An ACL with the given rights per class.
    pub fn new(members: Rights, public: Rights) -> Self {
        Acl { members, public }
    }

    /// The rights of `class`.
    pub fn rights(&self, class: CallerClass) -> Rights {
        match class {
            CallerClass::Member => self.members,
            CallerClass::Public => self.public,
        }
    }

    /// `Ok` when `class` holds `right` over `room`, else [`Error::AccessDenied`].
    /// Every backend decides with this one function, so all agree.
    pub fn check(&self, room: &RoomKey, class: CallerClass, right: Right) -> Result<()> {
        if self.rights(class).allows(right) {
            Ok(())
        } else {
            Err(Error::AccessDenied {
                room: room.as_str().to_owned(),
                class,
                right,
            })
        }
    }
}

/// What one caller may do in one room, as reported by
/// [`Room::access`](super::Room::access) (e.g. to show or hide a form).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Access {
    /// The caller's class.
    pub class: CallerClass,
    /// The caller's rights.
    pub rights: Rights,
}

impl Access {
    /// The access of `class` under `acl`.
    pub fn new(acl: &Acl, class: CallerClass) -> Self {
        Access {
            class,
            rights: acl.rights(class),
        }
    }

    /// Whether the caller holds `right`.
    pub fn allows(&self, right: Right) -> bool {
        self.rights.allows(right)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bits_round_trip_and_debug_is_readable() {
        let rights = Rights::READ | Rights::RESET;
        assert_eq!(Rights::from_bits(rights.bits()), rights);
        assert_eq!(Rights::from_bits(0xff), Rights::ALL);
        assert_eq!(format!("{rights:?}"), "Rights(read|reset)");
        assert_eq!(format!("{:?}", Rights::ALL), "Rights(all)");
    }

    #[test]
    fn denial_names_class_right_and_room() {
        let room = RoomKey::parse("lobby").unwrap();
        let err = Acl::default()
            .check(&room, CallerClass::Public, Right::Write)
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "access denied: public callers may not write room \"lobby\""
        );
        assert!(
            Acl::default()
                .check(&room, CallerClass::Member, Right::Reset)
                .is_ok()
        );
    }
}
