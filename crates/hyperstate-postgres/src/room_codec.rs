//! How room diffs, states and notifications are written down.
//!
//! A diff is encoded once, as a JSON array of strings `[version, kind, ...]`
//! (`kind` = inserted/updated key value, deleted key, reset k1 v1 k2 v2 ...):
//! the same text goes to the diff log, into the NOTIFY payload and back to the
//! writer, so every node decodes the same thing. A room's state is a `jsonb`
//! object mapping each key to its value's JSON text.

use std::sync::Arc;

use hyperstate::room::{Change, Diff, Json, State};
use hyperstate::{Error, Result};

use crate::error::BACKEND;

/// The NOTIFY channel every node listens on.
pub(crate) const CHANNEL: &str = "hyperstate_rooms";
/// NOTIFY payloads must stay under 8000 bytes; a diff larger than this goes by
/// reference (room and version) and listeners read it from the log.
pub(crate) const MAX_INLINE_PAYLOAD: usize = 7_000;

pub(crate) fn corrupt(operation: &'static str, what: &'static str) -> Error {
    Error::backend(BACKEND, operation, format!("unexpected room data: {what}"))
}

/// The text of a diff.
pub(crate) fn encode_diff(diff: &Diff) -> String {
    let mut parts = vec![diff.version.to_string(), diff.change.kind().to_owned()];
    match &diff.change {
        Change::Inserted { key, value } | Change::Updated { key, value } => {
            parts.extend([key.to_string(), value.as_str().to_owned()]);
        }
        Change::Deleted { key } => parts.push(key.to_string()),
        Change::Reset { state } => {
            for (key, value) in state.iter() {
                parts.extend([key.to_string(), value.as_str().to_owned()]);
            }
        }
        _ => {}
    }
    serde_json::to_string(&parts).expect("strings always encode")
}

/// Decodes [`encode_diff`]'s text.
pub(crate) fn decode_diff(operation: &'static str, text: &str) -> Result<Arc<Diff>> {
    let parts: Vec<String> =
        serde_json::from_str(text).map_err(|_| corrupt(operation, "diff is not JSON"))?;
    let bad = || corrupt(operation, "unknown diff shape");
    let [version, kind, rest @ ..] = parts.as_slice() else {
        return Err(bad());
    };
    let version = version.parse().map_err(|_| bad())?;
    let json = |v: &String| Json::from_bytes(v.as_bytes().to_vec());
    let change = match (kind.as_str(), rest) {
        ("inserted", [key, value]) => Change::Inserted {
            key: key.as_str().into(),
            value: json(value),
        },
        ("updated", [key, value]) => Change::Updated {
            key: key.as_str().into(),
            value: json(value),
        },
        ("deleted", [key]) => Change::Deleted {
            key: key.as_str().into(),
        },
        ("reset", pairs) if pairs.len() % 2 == 0 => Change::Reset {
            state: Arc::new(
                pairs
                    .chunks(2)
                    .map(|pair| (pair[0].as_str().into(), json(&pair[1])))
                    .collect(),
            ),
        },
        _ => return Err(bad()),
    };
    Ok(Arc::new(Diff { version, change }))
}

/// A state from its `jsonb` object of JSON texts.
pub(crate) fn decode_state(operation: &'static str, stored: serde_json::Value) -> Result<State> {
    let serde_json::Value::Object(map) = stored else {
        return Err(corrupt(operation, "state is not an object"));
    };
    map.into_iter()
        .map(|(key, value)| match value {
            serde_json::Value::String(text) => {
                Ok((key.into(), Json::from_bytes(text.into_bytes())))
            }
            _ => Err(corrupt(operation, "a state value is not JSON text")),
        })
        .collect()
}

/// A state as its `jsonb` object of JSON texts.
pub(crate) fn encode_state(state: &State) -> serde_json::Value {
    serde_json::Value::Object(
        state
            .iter()
            .map(|(key, value)| {
                (
                    key.to_string(),
                    serde_json::Value::String(value.as_str().to_owned()),
                )
            })
            .collect(),
    )
}

/// What a NOTIFY on [`CHANNEL`] carries.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Notice {
    /// A diff of `room`, inline.
    Diff { room: String, diff: String },
    /// A diff of `room` too large to inline: read version `version` from the log.
    Large { room: String, version: u64 },
    /// `room`'s attach count, with its sequence number (later ones win).
    Presence {
        room: String,
        seq: u64,
        count: usize,
    },
}

impl Notice {
    /// The payload: a JSON array `["d", room, diff]`, `["l", room, version]`
    /// or `["p", room, seq, count]`.
    pub(crate) fn encode(&self) -> String {
        let parts: Vec<String> = match self {
            Notice::Diff { room, diff } => vec!["d".into(), room.clone(), diff.clone()],
            Notice::Large { room, version } => {
                vec!["l".into(), room.clone(), version.to_string()]
            }
            Notice::Presence { room, seq, count } => {
                vec!["p".into(), room.clone(), seq.to_string(), count.to_string()]
            }
        };
        serde_json::to_string(&parts).expect("strings always encode")
    }

    /// The notice for a diff: inline when it fits in a payload.
    pub(crate) fn for_diff(room: &str, version: u64, diff: String) -> Notice {
        if diff.len() + room.len() + 16 <= MAX_INLINE_PAYLOAD {
            Notice::Diff {
                room: room.to_owned(),
                diff,
            }
        } else {
            Notice::Large {
                room: room.to_owned(),
                version,
            }
        }
    }

    pub(crate) fn decode(payload: &str) -> Option<Notice> {
        let parts: Vec<String> = serde_json::from_str(payload).ok()?;
        match parts.as_slice() {
            [tag, room, diff] if tag == "d" => Some(Notice::Diff {
                room: room.clone(),
                diff: diff.clone(),
            }),
            [tag, room, version] if tag == "l" => Some(Notice::Large {
                room: room.clone(),
                version: version.parse().ok()?,
            }),
            [tag, room, seq, count] if tag == "p" => Some(Notice::Presence {
                room: room.clone(),
                seq: seq.parse().ok()?,
                count: count.parse().ok()?,
            }),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diffs_round_trip() {
        let value = Json::from_bytes(br#"{"a":"\"q\""}"#.to_vec());
        let state: State = [("k".into(), value.clone())].into_iter().collect();
        for change in [
            Change::Inserted {
                key: "k".into(),
                value: value.clone(),
            },
            Change::Updated {
                key: "k".into(),
                value,
            },
            Change::Deleted { key: "k".into() },
            Change::Reset {
                state: Arc::new(state),
            },
        ] {
            let diff = Diff {
                version: 1_700_000_000_000_001,
                change,
            };
            assert_eq!(*decode_diff("test", &encode_diff(&diff)).unwrap(), diff);
        }
    }

    #[test]
    fn large_diffs_go_by_reference() {
        let small = Notice::for_diff("r", 7, "x".repeat(10));
        assert!(matches!(small, Notice::Diff { .. }));
        let large = Notice::for_diff("r", 7, "x".repeat(MAX_INLINE_PAYLOAD));
        assert_eq!(
            large,
            Notice::Large {
                room: "r".into(),
                version: 7
            }
        );
        for notice in [
            small,
            large,
            Notice::Presence {
                room: "r".into(),
                seq: 3,
                count: 2,
            },
        ] {
            assert_eq!(Notice::decode(&notice.encode()), Some(notice));
        }
    }
}
