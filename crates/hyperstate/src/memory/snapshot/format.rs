//! The snapshot file format: JSON lines, a header first.
//!
//! ```text
//! {"format":"hyperstate-snapshot","version":1,"kind":"pages","saved_at_ms":1764500000000}
//! {"key":"<32 hex>","ttl_left_ms":3599000,"values":[["cart","[\"apple\"]"]]}
//! ...
//! ```
//!
//! One record per line keeps writing and reading streaming, and makes a
//! truncated file detectable (the last line does not parse). Times are
//! remaining durations, not instants, because a process's clock starts anew;
//! the header's wall-clock time lets a load count the downtime too.

use serde::{Deserialize, Serialize};

/// The format version this build writes and reads.
pub(crate) const FORMAT_VERSION: u32 = 1;
const FORMAT_NAME: &str = "hyperstate-snapshot";

/// The first line of every snapshot file.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Header {
    pub(crate) format: String,
    pub(crate) version: u32,
    /// `pages` or `rooms`: a file is never loaded into the wrong store.
    pub(crate) kind: String,
    /// Unix time of the save, in milliseconds.
    pub(crate) saved_at_ms: u64,
    /// Rooms only: the highest version a dropped room reached.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) version_floor: Option<u64>,
}

impl Header {
    pub(crate) fn new(kind: &str) -> Self {
        Header {
            format: FORMAT_NAME.to_owned(),
            version: FORMAT_VERSION,
            kind: kind.to_owned(),
            saved_at_ms: wall_clock_ms(),
            version_floor: None,
        }
    }

    /// Why this header cannot be loaded as `kind`, if it cannot.
    pub(crate) fn mismatch(&self, kind: &str) -> Option<String> {
        if self.format != FORMAT_NAME {
            Some(format!("not a snapshot (format {:?})", self.format))
        } else if self.version != FORMAT_VERSION {
            Some(format!(
                "format version {} (this build reads {FORMAT_VERSION})",
                self.version
            ))
        } else if self.kind != kind {
            Some(format!("a {} snapshot, not {kind}", self.kind))
        } else {
            None
        }
    }

    /// Milliseconds between the save and now (zero if the clock went back).
    pub(crate) fn downtime_ms(&self) -> u64 {
        wall_clock_ms().saturating_sub(self.saved_at_ms)
    }
}

/// One page: its storage key (which binds it to its browser), what is left of
/// its TTL, and its values (JSON text) in key order.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct PageRecord {
    pub(crate) key: String,
    pub(crate) ttl_left_ms: u64,
    pub(crate) values: Vec<(String, String)>,
}

/// One room: state, version, ACL, idle countdown and members.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct RoomRecord {
    pub(crate) key: String,
    pub(crate) version: u64,
    /// `(key, JSON text)` in key order.
    pub(crate) state: Vec<(String, String)>,
    /// ACL rights bits of members and of the public.
    pub(crate) acl: (u8, u8),
    pub(crate) idle_ttl_ms: u64,
    /// How long the room had been idle at the save (`None`: clients were
    /// attached; the countdown starts at the save).
    pub(crate) idle_for_ms: Option<u64>,
    /// Member keys (32 hex), each with how long ago it joined while its slot
    /// was still unused (`None` once used).
    pub(crate) members: Vec<(String, Option<u64>)>,
}

/// Milliseconds since the Unix epoch.
pub(crate) fn wall_clock_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis().try_into().unwrap_or(u64::MAX))
}

/// Lower-case hex of `bytes`.
pub(crate) fn to_hex(bytes: &[u8; 16]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The 16 bytes `text` spells in hex, if it does.
pub(crate) fn from_hex(text: &str) -> Option<[u8; 16]> {
    if text.len() != 32 || !text.is_ascii() {
        return None;
    }
    let mut out = [0u8; 16];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}
