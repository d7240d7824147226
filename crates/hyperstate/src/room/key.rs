//! The name of a room.

use std::fmt;
use std::sync::Arc;

use crate::{Error, Result};

/// The longest room key, in bytes. Long enough for a UUID with a prefix, short
/// enough to sit in a URL path, a Redis key and a log line.
pub const MAX_ROOM_KEY_BYTES: usize = 128;

/// A validated room key: 1 to [`MAX_ROOM_KEY_BYTES`] characters of
/// `A-Z a-z 0-9 - _ . : ~`, other than `.` and `..`.
///
/// The charset is the URL-unreserved set plus `:` (for app namespaces such as
/// `chat:lobby`): a key arrives from a URL path (`/rooms/{name}`) and must be
/// usable unescaped as part of a backend key, an HTML attribute and an SSE URL.
/// `.` and `..` are refused too: as a path segment they mean "this" and "parent"
/// directory, so clients and proxies normalize them away and a URL could never
/// name such a room. Anything else is [`Error::InvalidRoomKey`], never a panic.
///
/// ```
/// use hyperstate::room::RoomKey;
/// assert!(RoomKey::parse("chat:lobby").is_ok());
/// assert!(RoomKey::parse("no spaces").is_err());
/// assert!(RoomKey::parse("..").is_err());
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RoomKey(Arc<str>);

impl RoomKey {
    /// Validates `text` as a room key.
    pub fn parse(text: &str) -> Result<Self> {
        let reason = if text.is_empty() {
            "must not be empty"
        } else if text.len() > MAX_ROOM_KEY_BYTES {
            "is longer than 128 bytes"
        } else if !text.bytes().all(is_key_byte) {
            "may only contain A-Z, a-z, 0-9 and - _ . : ~"
        } else if text == "." || text == ".." {
            "must not be a dot segment (. or ..)"
        } else {
            return Ok(RoomKey(text.into()));
        };
        Err(Error::InvalidRoomKey {
            key: text.chars().take(64).collect(),
            reason,
        })
    }

    /// The key as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn is_key_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':' | b'~')
}

impl fmt::Display for RoomKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for RoomKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RoomKey({:?})", &*self.0)
    }
}

impl AsRef<str> for RoomKey {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_keys_parse() {
        for key in [
            "a",
            "lobby",
            "chat:room-1",
            "A.b_c~d",
            "...",
            ".a",
            &"x".repeat(128),
        ] {
            assert_eq!(RoomKey::parse(key).unwrap().as_str(), key);
        }
    }

    #[test]
    fn invalid_keys_are_typed_errors() {
        for key in [
            "",
            &"x".repeat(129),
            "with space",
            "slash/inside",
            "ümlaut",
            "new\nline",
            "quote\"",
            "<script>",
            ".",
            "..",
        ] {
            assert!(
                matches!(RoomKey::parse(key), Err(Error::InvalidRoomKey { .. })),
                "{key:?}"
            );
        }
    }
}
