//! Versioned changes: what attached clients receive.
//!
//! Every write to a room produces one [`Diff`]: a [`Change`] (inserted, updated,
//! deleted or reset) stamped with the room's version after the change. Versions
//! increase by exactly one per change, so a client that knows the last version
//! it applied can tell a gap from a duplicate and resume exactly.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use serde::de::DeserializeOwned;

use crate::value::decode;
use crate::{Key, Result};

/// One stored value: compact JSON bytes, shared cheaply between the state, the
/// replay buffer and every subscriber.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Json(Arc<[u8]>);

impl Json {
    /// Wraps JSON bytes. Backends pass back only bytes the front end encoded, so
    /// they are not re-validated here; a corrupt value surfaces as
    /// [`Error::Json`](crate::Error::Json) when decoded.
    pub fn from_bytes(bytes: impl Into<Arc<[u8]>>) -> Self {
        Json(bytes.into())
    }

    /// The JSON bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The JSON text (empty if a backend handed back bytes that are not UTF-8).
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or_default()
    }

    /// Decodes the value as `T`; `key` names it in the error.
    pub fn decode<T: DeserializeOwned>(&self, key: &str) -> Result<T> {
        decode(key, &self.0)
    }
}

impl fmt::Debug for Json {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Json({})", String::from_utf8_lossy(&self.0))
    }
}

/// A room's whole state: keys to JSON values, in key order (so a snapshot
/// renders the same way on every backend).
pub type State = BTreeMap<Arc<str>, Json>;

/// What one write did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Change {
    /// A key that was absent now holds `value`.
    Inserted {
        /// The key.
        key: Arc<str>,
        /// Its new value.
        value: Json,
    },
    /// A key that held a value now holds `value`.
    Updated {
        /// The key.
        key: Arc<str>,
        /// Its new value.
        value: Json,
    },
    /// A key was removed.
    Deleted {
        /// The key.
        key: Arc<str>,
    },
    /// The spec was re-run: the whole state is now `state`.
    Reset {
        /// The new state.
        state: Arc<State>,
    },
}

impl Change {
    /// The kind as a short name (`"inserted"`, `"updated"`, `"deleted"`,
    /// `"reset"`): a natural SSE event name.
    pub fn kind(&self) -> &'static str {
        match self {
            Change::Inserted { .. } => "inserted",
            Change::Updated { .. } => "updated",
            Change::Deleted { .. } => "deleted",
            Change::Reset { .. } => "reset",
        }
    }

    /// The key the change is about (`None` for a reset).
    pub fn key(&self) -> Option<&str> {
        match self {
            Change::Inserted { key, .. }
            | Change::Updated { key, .. }
            | Change::Deleted { key } => Some(key),
            Change::Reset { .. } => None,
        }
    }

    /// The new value of an insert or update.
    pub fn value(&self) -> Option<&Json> {
        match self {
            Change::Inserted { value, .. } | Change::Updated { value, .. } => Some(value),
            _ => None,
        }
    }

    /// Applies the change to `state` (what a client-side mirror does).
    pub fn apply_to(&self, state: &mut State) {
        match self {
            Change::Inserted { key, value } | Change::Updated { key, value } => {
                state.insert(key.clone(), value.clone());
            }
            Change::Deleted { key } => {
                state.remove(key);
            }
            Change::Reset { state: new } => *state = (**new).clone(),
        }
    }
}

/// A change and the room version it produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diff {
    /// The room's version after this change: one more than before it.
    pub version: u64,
    /// What changed.
    pub change: Change,
}

impl Diff {
    /// Decodes the new value of an insert or update as `T`: `Ok(None)` for a
    /// delete or a reset, and an error (never silently `None`) when the value
    /// is not a `T`. To read typed keys as the room changes, keep a
    /// [`Snapshot`] as a mirror, [`apply`](Snapshot::apply) each diff to it and
    /// [`get`](Snapshot::get) from it.
    pub fn value<T: DeserializeOwned>(&self) -> Result<Option<T>> {
        match (self.change.key(), self.change.value()) {
            (Some(key), Some(value)) => value.decode(key).map(Some),
            _ => Ok(None),
        }
    }
}

/// A room's whole state at one version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    /// The version the state is at.
    pub version: u64,
    /// The state.
    pub state: State,
}

impl Snapshot {
    /// The value under `key`, or the key's default when absent.
    pub fn get<T: DeserializeOwned>(&self, key: &Key<T>) -> Result<T> {
        match self.state.get(key.name()) {
            Some(value) => value.decode(key.name()),
            None => Ok(key.default_value()),
        }
    }

    /// The value under the string key `key`, or `default` when absent. Prefer
    /// a typed [`Key`] and [`get`](Self::get).
    pub fn get_or<T: DeserializeOwned>(&self, key: &str, default: T) -> Result<T> {
        match self.state.get(key) {
            Some(value) => value.decode(key),
            None => Ok(default),
        }
    }

    /// Applies `diff` (the next change after this snapshot's version), so the
    /// snapshot stays a mirror of the room: what a client that renders from
    /// typed keys keeps between events.
    pub fn apply(&mut self, diff: &Diff) {
        diff.change.apply_to(&mut self.state);
        self.version = diff.version;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(text: &str) -> Json {
        Json::from_bytes(text.as_bytes().to_vec())
    }

    #[test]
    fn changes_apply_like_a_client_mirror() {
        let mut state = State::new();
        let k: Arc<str> = "k".into();
        Change::Inserted {
            key: k.clone(),
            value: json("1"),
        }
        .apply_to(&mut state);
        Change::Updated {
            key: k.clone(),
            value: json("2"),
        }
        .apply_to(&mut state);
        assert_eq!(state.get("k"), Some(&json("2")));
        Change::Deleted { key: k }.apply_to(&mut state);
        assert!(state.is_empty());
        let mut fresh = State::new();
        fresh.insert("x".into(), json("[]"));
        Change::Reset {
            state: Arc::new(fresh.clone()),
        }
        .apply_to(&mut state);
        assert_eq!(state, fresh);
    }

    #[test]
    fn diff_values_decode_typed() {
        let diff = Diff {
            version: 3,
            change: Change::Updated {
                key: "n".into(),
                value: json("42"),
            },
        };
        assert_eq!(diff.value::<u32>().unwrap(), Some(42));
        assert!(diff.value::<String>().is_err());
        const N: Key<u32> = Key::or_default("n");
        let mut mirror = Snapshot {
            version: 2,
            state: State::new(),
        };
        assert_eq!(mirror.get(&N).unwrap(), 0);
        mirror.apply(&diff);
        assert_eq!((mirror.version, mirror.get(&N).unwrap()), (3, 42));
        let deleted = Diff {
            version: 4,
            change: Change::Deleted { key: "n".into() },
        };
        assert_eq!(deleted.value::<u32>().unwrap(), None);
        assert_eq!(diff.change.kind(), "updated");
    }
}
