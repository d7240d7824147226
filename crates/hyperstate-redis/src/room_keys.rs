//! Where a room lives in Redis, and how script replies decode.

use std::sync::Arc;

use hyperstate::room::{Change, Diff, Json, RoomKey, Snapshot, State};
use hyperstate::{Error, Result};
use redis::ScriptInvocation;

/// The keys and pub/sub channel of one room. All six keys share the room's
/// name in braces, so they hash to one Redis Cluster slot.
#[derive(Debug, Clone)]
pub(crate) struct RoomKeys {
    keys: [String; 6],
    pub(crate) channel: String,
}

impl RoomKeys {
    pub(crate) fn new(prefix: &str, room: &RoomKey) -> Self {
        let base = format!("{prefix}room:{{{room}}}");
        RoomKeys {
            keys: ["meta", "state", "members", "log", "attached", "unused"]
                .map(|k| format!("{base}:{k}")),
            channel: format!("{base}:feed"),
        }
    }

    /// The meta hash: it exists exactly while the room is live.
    pub(crate) fn meta(&self) -> &str {
        &self.keys[0]
    }

    /// The six keys, in the order the scripts take them.
    pub(crate) fn all(&self) -> &[String] {
        &self.keys
    }

    /// Adds the six keys to a script call.
    pub(crate) fn apply(&self, invocation: &mut ScriptInvocation<'_>) {
        for key in &self.keys {
            invocation.key(key);
        }
    }
}

pub(crate) fn corrupt(operation: &'static str, what: &str) -> Error {
    Error::backend(
        "redis",
        operation,
        format!("malformed reply from Redis: {what}"),
    )
}

pub(crate) fn text<'a>(operation: &'static str, bytes: &'a [u8]) -> Result<&'a str> {
    std::str::from_utf8(bytes).map_err(|_| corrupt(operation, "not UTF-8"))
}

pub(crate) fn number<T: std::str::FromStr>(operation: &'static str, bytes: &[u8]) -> Result<T> {
    text(operation, bytes)?
        .parse()
        .map_err(|_| corrupt(operation, "not a number"))
}

/// Key/value pairs as a state.
pub(crate) fn state(operation: &'static str, pairs: &[Vec<u8>]) -> Result<State> {
    let mut state = State::new();
    for pair in pairs.chunks(2) {
        let [key, value] = pair else {
            return Err(corrupt(operation, "odd key/value list"));
        };
        state.insert(
            text(operation, key)?.into(),
            Json::from_bytes(value.clone()),
        );
    }
    Ok(state)
}

/// A snapshot from `[version, k1, v1, ...]`.
pub(crate) fn snapshot(operation: &'static str, fields: &[Vec<u8>]) -> Result<Snapshot> {
    let (version, pairs) = fields
        .split_first()
        .ok_or_else(|| corrupt(operation, "no version"))?;
    Ok(Snapshot {
        version: number(operation, version)?,
        state: state(operation, pairs)?,
    })
}

/// Decodes a diff as the scripts encode it (see [`crate::room_scripts`]).
pub(crate) fn diff(operation: &'static str, encoded: &[u8]) -> Result<Arc<Diff>> {
    let parts: Vec<String> =
        serde_json::from_slice(encoded).map_err(|_| corrupt(operation, "diff is not JSON"))?;
    let bad = || corrupt(operation, "unknown diff shape");
    let [version, kind, rest @ ..] = parts.as_slice() else {
        return Err(bad());
    };
    let version = number(operation, version.as_bytes())?;
    let change = match (kind.as_str(), rest) {
        ("inserted", [key, value]) => Change::Inserted {
            key: key.as_str().into(),
            value: Json::from_bytes(value.as_bytes().to_vec()),
        },
        ("updated", [key, value]) => Change::Updated {
            key: key.as_str().into(),
            value: Json::from_bytes(value.as_bytes().to_vec()),
        },
        ("deleted", [key]) => Change::Deleted {
            key: key.as_str().into(),
        },
        ("reset", pairs) => {
            let bytes: Vec<Vec<u8>> = pairs.iter().map(|p| p.as_bytes().to_vec()).collect();
            Change::Reset {
                state: Arc::new(state(operation, &bytes)?),
            }
        }
        _ => return Err(bad()),
    };
    Ok(Arc::new(Diff { version, change }))
}
