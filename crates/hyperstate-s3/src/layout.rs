//! Where a session's object lives, and how a listing is read back into keys.
//!
//! Documents are stored at `<prefix>/<k0k1>/<key>.json`, `k0k1` being the
//! first two hex digits of the key: S3 scales request rates per key prefix
//! (about 5,500 GETs and 3,500 PUTs a second each), so 256 prefixes carry 256
//! times the traffic one would. Earlier versions stored `<prefix>/<key>.json`
//! (the *legacy* layout); those objects are still read, and moved to the new
//! layout by their session's next write.
//!
//! A document read from the legacy path carries an etag marked with
//! [`LEGACY_MARK`], so a conditional write against it knows the object it must
//! replace is the legacy one (the etag stays opaque to callers, as the
//! `DocumentStore` contract has it).

use hyperstate::session::{Etag, SessionKey};
use object_store::path::Path;

/// Marks an etag that names a document at its legacy path. S3 etags are
/// quoted hex digests, so no real etag starts with it.
const LEGACY_MARK: &str = "legacy:";

/// The two places a session's document can be.
#[derive(Debug, Clone)]
pub(crate) struct Layout {
    prefix: Path,
}

/// Where one listed object belongs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Found {
    /// A session document (at either path).
    Session(SessionKey),
    /// Anything else under the prefix (quarantined copies, foreign objects).
    Other,
}

impl Layout {
    pub(crate) fn new(prefix: &str) -> Self {
        Layout {
            prefix: Path::from(prefix),
        }
    }

    pub(crate) fn prefix(&self) -> &Path {
        &self.prefix
    }

    /// `<prefix>/<k0k1>/<key>.json`.
    pub(crate) fn path(&self, key: &SessionKey) -> Path {
        self.prefix
            .clone()
            .join(format!("{:02x}", key.as_bytes()[0]))
            .join(format!("{key}.json"))
    }

    /// `<prefix>/<key>.json`, where earlier versions stored documents.
    pub(crate) fn legacy_path(&self, key: &SessionKey) -> Path {
        self.prefix.clone().join(format!("{key}.json"))
    }

    /// `<prefix>/quarantine`.
    pub(crate) fn quarantine(&self) -> Path {
        self.prefix.clone().join("quarantine")
    }

    /// Reads a listed object's location. Only the two document shapes count:
    /// `<key>.json` directly under the prefix, and `<k0k1>/<key>.json` whose
    /// directory matches the key's first byte. Quarantined copies
    /// (`quarantine/<key>.<unix-ms>.json`) and anything else are `Other`.
    pub(crate) fn classify(&self, location: &Path) -> Found {
        let Some(parts) = location.prefix_match(&self.prefix) else {
            return Found::Other;
        };
        let parts: Vec<_> = parts.collect();
        let key_of = |name: &str| name.strip_suffix(".json").and_then(SessionKey::parse_hex);
        match parts.as_slice() {
            [name] => key_of(name.as_ref()).map_or(Found::Other, Found::Session),
            [shard, name] => match key_of(name.as_ref()) {
                Some(key) if shard.as_ref() == format!("{:02x}", key.as_bytes()[0]) => {
                    Found::Session(key)
                }
                _ => Found::Other,
            },
            _ => Found::Other,
        }
    }
}

/// The etag handed out for a document read at its legacy path.
pub(crate) fn legacy_etag(etag: String) -> Etag {
    Etag(format!("{LEGACY_MARK}{etag}"))
}

/// The server's etag of a legacy document, if `etag` names one.
pub(crate) fn as_legacy(etag: &Etag) -> Option<&str> {
    etag.0.strip_prefix(LEGACY_MARK)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_layouts_are_sessions_and_nothing_else_is() {
        let layout = Layout::new("app/sessions");
        let key = SessionKey::random();
        assert_eq!(layout.classify(&layout.path(&key)), Found::Session(key));
        assert_eq!(
            layout.classify(&layout.legacy_path(&key)),
            Found::Session(key)
        );
        let quarantined = layout
            .quarantine()
            .join(format!("{key}.1700000000000.json"));
        let wrong_shard = Path::from(format!("app/sessions/zz/{key}.json"));
        let too_deep = Path::from(format!("app/sessions/quarantine/x/{key}.json"));
        let elsewhere = Path::from(format!("other/{key}.json"));
        for location in [quarantined, wrong_shard, too_deep, elsewhere] {
            assert_eq!(layout.classify(&location), Found::Other, "{location}");
        }
    }

    #[test]
    fn legacy_etags_round_trip_and_plain_ones_are_not_legacy() {
        let marked = legacy_etag("\"abc\"".into());
        assert_eq!(as_legacy(&marked), Some("\"abc\""));
        assert_eq!(as_legacy(&Etag("\"abc\"".into())), None);
    }
}
