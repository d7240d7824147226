//! Browser identity: only ids this server issued are honoured.
//!
//! A browser id travels in a cookie signed with a server key
//! ([`BrowserIdKeys`]), with the time it was issued. A cookie the server did not
//! sign (planted by a sibling subdomain or a plain-HTTP hop, tampered with,
//! signed by a key no longer listed, or older than its lifetime) is treated as
//! no cookie at all: the browser gets a fresh id when it needs one, so a planted
//! id can neither read nor write anyone's state, and a bad cookie never locks a
//! browser out.
//!
//! [`BrowserIdIssuer`] adds the cookie's lifetime (the session TTL) and when to
//! issue it again: under an older key, or once it is older than the refresh
//! interval, so a browser seen within the lifetime keeps its id indefinitely.
//! The web integration reads cookies through it and sets what it issues.

mod keys;
mod verified;

use std::time::{Duration, SystemTime};

pub use keys::{BrowserIdKey, BrowserIdKeys, COOKIE_VALUE_CHARS, IssuedBrowserId};

use crate::BrowserId;

/// Issues and reads browser-id cookies: the key list, the cookie's lifetime and
/// its refresh interval.
#[derive(Debug, Clone)]
pub struct BrowserIdIssuer {
    keys: BrowserIdKeys,
    lifetime: Duration,
    refresh_after: Duration,
}

impl BrowserIdIssuer {
    /// An issuer signing with `keys`, whose cookies live `lifetime` (their
    /// `Max-Age`; older ones are not honoured) and are issued again once older
    /// than `refresh_after`.
    pub fn new(keys: BrowserIdKeys, lifetime: Duration, refresh_after: Duration) -> Self {
        BrowserIdIssuer {
            keys,
            lifetime,
            refresh_after,
        }
    }

    /// The key list.
    pub fn keys(&self) -> &BrowserIdKeys {
        &self.keys
    }

    /// How long a cookie lives (its `Max-Age`).
    pub fn lifetime(&self) -> Duration {
        self.lifetime
    }

    /// How old a cookie may get before it is issued again.
    pub fn refresh_after(&self) -> Duration {
        self.refresh_after
    }

    /// The first of `values` (the values of every cookie of the right name) that
    /// this server issued within the lifetime.
    pub fn read<'a>(
        &self,
        values: impl IntoIterator<Item = &'a str>,
        now: SystemTime,
    ) -> Option<IssuedBrowserId> {
        values
            .into_iter()
            .filter_map(|value| self.keys.verify(value))
            .find(|issued| age(issued.issued_at, now) <= self.lifetime)
    }

    /// True when `issued` should be set again (same id, issued now, newest key).
    pub fn needs_reissue(&self, issued: &IssuedBrowserId, now: SystemTime) -> bool {
        !issued.by_newest_key || age(issued.issued_at, now) >= self.refresh_after
    }

    /// The cookie value for `id`, issued at `now`.
    pub fn issue(&self, id: &BrowserId, now: SystemTime) -> String {
        self.keys.sign(id, now)
    }
}

/// How long ago `issued` was; zero for a time ahead of this node's clock (another
/// node's clock may run slightly ahead).
fn age(issued: SystemTime, now: SystemTime) -> Duration {
    now.duration_since(issued).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: Duration = Duration::from_secs(24 * 60 * 60);

    fn issuer() -> BrowserIdIssuer {
        let keys = BrowserIdKeys::new(BrowserIdKey::derive(&[3; 32]).unwrap());
        BrowserIdIssuer::new(keys, 30 * DAY, DAY)
    }

    #[test]
    fn the_first_issued_cookie_wins_and_others_are_skipped() {
        let issuer = issuer();
        let now = SystemTime::now();
        let id = BrowserId::generate();
        let planted = BrowserId::generate().to_string();
        let value = issuer.issue(&id, now);
        let read = issuer.read([planted.as_str(), "junk", value.as_str()], now);
        assert_eq!(read.map(|issued| issued.id), Some(id));
        assert_eq!(issuer.read([planted.as_str()], now), None);
    }

    #[test]
    fn cookies_are_refreshed_after_a_day_and_expire_with_the_lifetime() {
        let issuer = issuer();
        // Whole seconds: the cookie keeps its issue time to the second.
        let issued = std::time::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let value = issuer.issue(&BrowserId::generate(), issued);
        let fresh = issuer.read([value.as_str()], issued + DAY / 2).unwrap();
        assert!(!issuer.needs_reissue(&fresh, issued + DAY / 2));
        assert!(issuer.needs_reissue(&fresh, issued + 2 * DAY));
        assert!(issuer.read([value.as_str()], issued + 30 * DAY).is_some());
        assert_eq!(issuer.read([value.as_str()], issued + 31 * DAY), None);
        // A clock behind the issuing node's neither refreshes nor rejects.
        assert!(!issuer.needs_reissue(&fresh, issued - DAY));
    }
}
