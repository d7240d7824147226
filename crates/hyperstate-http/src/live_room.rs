//! A typed mirror of a room's state, kept up to date from its events.
//!
//! A room's state is a map of keys to JSON values; the mirror holds it as one
//! JSON object (each key a field) and decodes it as the app's type `T` after
//! every change, so a renderer reads plain Rust fields, the number of
//! attached browsers beside them.

use std::any::type_name;
use std::sync::Arc;

use hyperstate::room::{Change, RoomEvent, Snapshot, State};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

/// The state as JSON: the room's keys as fields.
type Object = Map<String, Value>;

/// What an event changed in a [`LiveRoom`]: what a renderer may re-render.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Changed {
    /// The whole state: the first state of a stream, a resync after a lag or a
    /// gap, or a reset of the room. Render everything.
    All,
    /// One key was inserted, updated or deleted.
    Key(Arc<str>),
    /// Only the number of attached browsers ([`LiveRoom::attached`]).
    Presence,
}

impl Changed {
    /// True when the key `key` may have changed (a key change of `key`, or the
    /// whole state).
    pub fn touches(&self, key: &str) -> bool {
        match self {
            Changed::All => true,
            Changed::Key(k) => &**k == key,
            Changed::Presence => false,
        }
    }
}

/// A room's state as the app's type `T`, with its version and the number of
/// attached browsers, mirrored from a subscription's events.
///
/// `T` is decoded from the state as a JSON object whose fields are the room's
/// keys: a room made with `RoomInit::new().value("votes", &votes)` decodes as
/// `struct Poll { votes: Votes }`. Fields for keys the room may lack want
/// `#[serde(default)]`.
#[derive(Debug, Clone)]
pub struct LiveRoom<T> {
    version: u64,
    attached: usize,
    json: Object,
    state: T,
}

impl<T: DeserializeOwned> LiveRoom<T> {
    /// The mirror of `snapshot`; an error if its state does not decode as `T`.
    pub fn from_snapshot(snapshot: &Snapshot) -> hyperstate::Result<Self> {
        let json = object(&snapshot.state)?;
        let state = decode(&json, None)?;
        Ok(LiveRoom {
            version: snapshot.version,
            attached: 0,
            json,
            state,
        })
    }

    /// Applies one event: what it changed (`None` for an event that changes
    /// nothing here), or an error when a value is not JSON or the new state
    /// does not decode as `T` (the mirror is then unchanged).
    pub fn apply(&mut self, event: &RoomEvent) -> hyperstate::Result<Option<Changed>> {
        let (version, change) = match event {
            RoomEvent::Snapshot(s) | RoomEvent::Resync(s) => {
                return self.replace(s.version, object(&s.state)?).map(Some);
            }
            RoomEvent::Diff(diff) => (diff.version, &diff.change),
            RoomEvent::Presence(n) => {
                self.attached = *n;
                return Ok(Some(Changed::Presence));
            }
            _ => return Ok(None),
        };
        let (key, value) = match change {
            Change::Inserted { key, value } | Change::Updated { key, value } => {
                (key, Some(parse(key, value.as_bytes())?))
            }
            Change::Deleted { key } => (key, None),
            Change::Reset { state } => return self.replace(version, object(state)?).map(Some),
            _ => return Ok(None),
        };
        // Changed in place (no copy of the whole state per event), and put
        // back if the new state does not decode.
        let old = match value {
            Some(value) => self.json.insert(key.to_string(), value),
            None => self.json.remove(&**key),
        };
        match decode(&self.json, Some(key)) {
            Ok(state) => {
                self.state = state;
                self.version = version;
                Ok(Some(Changed::Key(key.clone())))
            }
            Err(err) => {
                match old {
                    Some(old) => self.json.insert(key.to_string(), old),
                    None => self.json.remove(&**key),
                };
                Err(err)
            }
        }
    }

    /// Replaces the whole state.
    fn replace(&mut self, version: u64, json: Object) -> hyperstate::Result<Changed> {
        self.state = decode(&json, None)?;
        self.json = json;
        self.version = version;
        Ok(Changed::All)
    }
}

impl<T> LiveRoom<T> {
    /// The state, decoded.
    pub fn state(&self) -> &T {
        &self.state
    }

    /// The room version the state is at.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// How many clients are attached to the room (0 until the first presence
    /// event).
    pub fn attached(&self) -> usize {
        self.attached
    }

    /// The state as JSON: an object of the room's keys.
    pub fn json(&self) -> &Map<String, Value> {
        &self.json
    }
}

/// The room's state as a JSON object.
fn object(state: &State) -> hyperstate::Result<Object> {
    state
        .iter()
        .map(|(key, value)| Ok((key.to_string(), parse(key, value.as_bytes())?)))
        .collect()
}

fn parse(key: &str, bytes: &[u8]) -> hyperstate::Result<Value> {
    serde_json::from_slice(bytes).map_err(|source| hyperstate::Error::Json {
        key: key.to_owned(),
        direction: "deserialized",
        source,
    })
}

/// Decodes the whole state as `T`; the error names the key whose change broke
/// it, if one did, and the type.
fn decode<T: DeserializeOwned>(json: &Object, key: Option<&str>) -> hyperstate::Result<T> {
    T::deserialize(json).map_err(|source| hyperstate::Error::Json {
        key: format!(
            "{} (the room state as {})",
            key.unwrap_or("*"),
            type_name::<T>()
        ),
        direction: "deserialized",
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyperstate::room::{Diff, Json};
    use serde::Deserialize;

    #[derive(Debug, Deserialize, PartialEq)]
    struct Poll {
        votes: Vec<u32>,
        #[serde(default)]
        title: Option<String>,
    }

    fn json(text: &str) -> Json {
        Json::from_bytes(text.as_bytes().to_vec())
    }

    fn snapshot(version: u64, pairs: &[(&str, &str)]) -> Snapshot {
        let state = pairs.iter().map(|(k, v)| ((*k).into(), json(v))).collect();
        Snapshot { version, state }
    }

    fn diff(version: u64, change: Change) -> RoomEvent {
        RoomEvent::Diff(Arc::new(Diff { version, change }))
    }

    #[test]
    fn diffs_and_presence_update_the_typed_state() {
        let mut live =
            LiveRoom::<Poll>::from_snapshot(&snapshot(3, &[("votes", "[0,0]")])).unwrap();
        assert_eq!(live.state().votes, [0, 0]);
        let changed = live.apply(&diff(
            4,
            Change::Updated {
                key: "votes".into(),
                value: json("[1,0]"),
            },
        ));
        assert_eq!(changed.unwrap(), Some(Changed::Key("votes".into())));
        assert_eq!(
            (live.state().votes.as_slice(), live.version()),
            (&[1, 0][..], 4)
        );
        live.apply(&diff(
            5,
            Change::Inserted {
                key: "title".into(),
                value: json("\"Lunch?\""),
            },
        ))
        .unwrap();
        assert_eq!(live.state().title.as_deref(), Some("Lunch?"));
        live.apply(&diff(
            6,
            Change::Deleted {
                key: "title".into(),
            },
        ))
        .unwrap();
        assert_eq!(live.state().title, None);
        assert_eq!(
            live.apply(&RoomEvent::Presence(2)).unwrap(),
            Some(Changed::Presence)
        );
        assert_eq!((live.attached(), live.version()), (2, 6));
        let reset = Arc::new(snapshot(0, &[("votes", "[9]")]).state);
        live.apply(&diff(7, Change::Reset { state: reset }))
            .unwrap();
        assert_eq!(live.state().votes, [9]);
        live.apply(&RoomEvent::Resync(snapshot(20, &[("votes", "[5,5]")])))
            .unwrap();
        assert_eq!(
            (live.state().votes.as_slice(), live.version()),
            (&[5, 5][..], 20)
        );
    }

    /// A change the type cannot hold is an error naming the key, and leaves
    /// the mirror as it was.
    #[test]
    fn a_state_that_no_longer_decodes_is_an_error() {
        let mut live = LiveRoom::<Poll>::from_snapshot(&snapshot(1, &[("votes", "[]")])).unwrap();
        let err = live
            .apply(&diff(
                2,
                Change::Updated {
                    key: "votes".into(),
                    value: json("\"many\""),
                },
            ))
            .unwrap_err();
        assert!(err.to_string().contains("votes"), "{err}");
        assert_eq!((live.state().votes.len(), live.version()), (0, 1));
        assert_eq!(
            live.json()["votes"],
            Value::Array(Vec::new()),
            "the JSON is put back"
        );
        assert!(LiveRoom::<Poll>::from_snapshot(&snapshot(1, &[])).is_err());
        let corrupt = diff(
            2,
            Change::Updated {
                key: "votes".into(),
                value: json("[1,"),
            },
        );
        assert!(live.apply(&corrupt).is_err());
    }
}
