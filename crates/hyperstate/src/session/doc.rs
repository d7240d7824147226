//! The stored shape of one session: the JSON document a backend holds.
//!
//! ```json
//! {"rev": 12, "last_seen_at": 1767225600000,
//!  "views": {"settings": {"vsn": 1, "data": {"theme": "dark", "draft": "hi"},
//!                         "pages": {"draft": "<page id>"}}}}
//! ```
//!
//! `rev` counts committed writes. It is what makes compare-and-swap sound on
//! stores whose etag is a content hash (S3): two commits never produce the same
//! bytes, so a writer holding a stale etag can never succeed by chance.
//! `pages` records, for each key written under the `Reconnect` policy, the page
//! that wrote it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::{Error, Result};

/// One session's state, as stored.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SessionDoc {
    /// Number of commits so far; every commit increments it.
    pub rev: u64,
    /// When the session was last seen, in milliseconds since the Unix epoch.
    pub last_seen_at: u64,
    /// One slice per view.
    #[serde(default)]
    pub views: BTreeMap<String, ViewSlice>,
}

/// The state of one view within a session.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ViewSlice {
    /// The version of the data's shape, as declared by the view that wrote it.
    pub vsn: u32,
    /// Key to JSON value.
    #[serde(default)]
    pub data: Map<String, Value>,
    /// Key to the page id that wrote it, for keys with the `Reconnect` policy.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub pages: BTreeMap<String, String>,
}

impl SessionDoc {
    /// Parses a stored document.
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        serde_json::from_slice(bytes).map_err(|source| Error::CorruptSession { source })
    }

    /// The stored form: compact JSON.
    pub fn encode(&self) -> Vec<u8> {
        // Maps with string keys and JSON values always serialize.
        serde_json::to_vec(self).expect("a session document always serializes")
    }
}

impl ViewSlice {
    /// Sum of key and serialized value lengths: what `Limits::max_bytes` bounds.
    pub fn size(&self) -> usize {
        self.data
            .iter()
            .map(|(key, value)| key.len() + value_len(value))
            .sum()
    }
}

/// Length of `value` as compact JSON.
pub(crate) fn value_len(value: &Value) -> usize {
    struct Counter(usize);
    impl std::io::Write for Counter {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut counter = Counter(0);
    // Writing a `Value` into a sink that never fails cannot fail.
    let _ = serde_json::to_writer(&mut counter, value);
    counter.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_round_trip_and_count_bytes() {
        let mut doc = SessionDoc {
            rev: 3,
            last_seen_at: 5,
            ..Default::default()
        };
        let mut slice = ViewSlice {
            vsn: 2,
            ..Default::default()
        };
        slice.data.insert("k".into(), serde_json::json!([1, "two"]));
        assert_eq!(slice.size(), 1 + br#"[1,"two"]"#.len());
        doc.views.insert("v".into(), slice);
        assert_eq!(SessionDoc::decode(&doc.encode()).unwrap(), doc);
    }

    #[test]
    fn garbage_is_a_typed_error() {
        for bad in [&b""[..], b"{", b"[]", b"{\"rev\":-1}", &[0xff, 0xfe]] {
            assert!(matches!(
                SessionDoc::decode(bad),
                Err(Error::CorruptSession { .. })
            ));
        }
    }
}
