//! The keys that sign browser ids, and the signed cookie value.
//!
//! The value is `base64url(id ‖ issued ‖ tag)`: the 16-byte [`BrowserId`], the
//! issue time in seconds since the Unix epoch (8 bytes, big-endian) and the first
//! 16 bytes (128 bits) of HMAC-SHA256 over a domain label, the id and the issue
//! time. 54 characters, all cookie-safe. A value that is not exactly that, or
//! whose tag no listed key produced, is simply not a browser id.

use std::cell::RefCell;
use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::verified::{self, Memo};
use crate::session::{MIN_SECRET_BYTES, SessionSecret};
use crate::{BrowserId, Error, Result};

type HmacSha256 = Hmac<Sha256>;

/// Separates the MAC key from every other use of the same secret (the session
/// secret also derives storage keys).
const KEY_LABEL: &[u8] = b"hyperstate browser-id key";
/// Separates this MAC from any other MAC made with the same key, and names the
/// format so a later one cannot be confused with it.
const TAG_LABEL: &[u8] = b"hs_bid/1";
const ID_BYTES: usize = 16;
const ISSUED_BYTES: usize = 8;
/// 128 bits: forging a tag takes 2^128 tries on average.
const TAG_BYTES: usize = 16;
const VALUE_BYTES: usize = ID_BYTES + ISSUED_BYTES + TAG_BYTES;
/// Length of the text form (base64 without padding).
pub const COOKIE_VALUE_CHARS: usize = (VALUE_BYTES * 8).div_ceil(6);

/// One key that signs and verifies browser ids: 32 bytes derived from a secret
/// with a domain label, so a secret used elsewhere (the session secret) yields a
/// key unrelated to its other uses.
#[derive(Clone)]
pub struct BrowserIdKey {
    bytes: Box<[u8; 32]>,
    /// HMAC keyed with `bytes`, the tag label absorbed. Each tag starts from a
    /// clone of it: keying hashes two padding blocks, and a tag is checked on
    /// every request, so that is done once per key instead of once per cookie.
    keyed: HmacSha256,
}

impl PartialEq for BrowserIdKey {
    fn eq(&self, other: &Self) -> bool {
        self.bytes == other.bytes
    }
}

impl Eq for BrowserIdKey {}

impl BrowserIdKey {
    /// The key derived from `secret` (at least
    /// [`MIN_SECRET_BYTES`](crate::session::MIN_SECRET_BYTES) long):
    /// HMAC-SHA256(secret, "hyperstate browser-id key").
    pub fn derive(secret: &[u8]) -> Result<Self> {
        if secret.len() < MIN_SECRET_BYTES {
            return Err(Error::InvalidSecret {
                reason: "shorter than 32 bytes",
            });
        }
        Ok(Self::derive_unchecked(secret))
    }

    /// The key derived from a secret written in hex (as
    /// [`SessionSecret::to_hex`] writes it).
    pub fn from_hex(text: &str) -> Result<Self> {
        Ok(Self::from_session_secret(&SessionSecret::from_hex(text)?))
    }

    /// The key derived from the session secret: the default when sessions are
    /// configured, so every node that shares the session secret shares the key.
    /// Storage keys stay HMAC(session secret, browser id) whatever the
    /// browser-id keys are, so rotating these never moves a session.
    pub fn from_session_secret(secret: &SessionSecret) -> Self {
        Self::derive_unchecked(secret.expose())
    }

    /// A random key, good for this process only.
    pub fn random() -> Self {
        Self::from_session_secret(&SessionSecret::generate())
    }

    fn derive_unchecked(secret: &[u8]) -> Self {
        let mut mac = HmacSha256::new_from_slice(secret).expect("HMAC accepts keys of any length");
        mac.update(KEY_LABEL);
        let bytes: Box<[u8; 32]> = Box::new(mac.finalize().into_bytes().into());
        let mut keyed =
            HmacSha256::new_from_slice(&bytes[..]).expect("HMAC accepts keys of any length");
        keyed.update(TAG_LABEL);
        BrowserIdKey { bytes, keyed }
    }

    fn mac(&self, id: &[u8], issued: &[u8]) -> HmacSha256 {
        let mut mac = self.keyed.clone();
        mac.update(id);
        mac.update(issued);
        mac
    }
}

impl fmt::Debug for BrowserIdKey {
    // Redacted: whoever has the key can issue any browser id.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BrowserIdKey(..)")
    }
}

/// The keys browser ids are checked against, newest first: the newest signs,
/// every one verifies. To rotate, put a new key in front and keep the old one
/// listed for as long as its cookies should stay valid (a cookie verified by an
/// older key is re-issued under the newest); then drop it.
#[derive(Clone)]
pub struct BrowserIdKeys {
    /// Never empty: `keys[0]` signs.
    keys: Vec<BrowserIdKey>,
    /// Names this list in the memo of verified values: a new one whenever
    /// the list is made or changed.
    memo_id: u64,
}

impl fmt::Debug for BrowserIdKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BrowserIdKeys")
            .field("keys", &self.keys.len())
            .finish()
    }
}

/// A browser id read from a cookie this server issued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct IssuedBrowserId {
    /// The id.
    pub id: BrowserId,
    /// When the cookie was issued (by the clock of the node that issued it).
    pub issued_at: SystemTime,
    /// True when the newest key signed it; false for an older listed key (the
    /// cookie should be issued again under the newest).
    pub by_newest_key: bool,
}

thread_local! {
    /// This thread's memo of cookie values already verified (see `verified`).
    static VERIFIED: RefCell<Memo<COOKIE_VALUE_CHARS, IssuedBrowserId>> =
        const { RefCell::new(Memo::new()) };
}

impl BrowserIdKeys {
    /// A list holding only `newest`.
    pub fn new(newest: BrowserIdKey) -> Self {
        BrowserIdKeys {
            keys: vec![newest],
            memo_id: verified::next_list_id(),
        }
    }

    /// Adds `older` after the keys already listed: it verifies, never signs.
    pub fn with_previous(mut self, older: BrowserIdKey) -> Self {
        self.keys.push(older);
        self.memo_id = verified::next_list_id();
        self
    }

    /// How many keys are listed.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Always false: there is at least the signing key.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// The cookie value for `id`, issued at `issued`, signed with the newest key.
    pub fn sign(&self, id: &BrowserId, issued: SystemTime) -> String {
        let seconds = issued
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs()
            .to_be_bytes();
        let tag = self.keys[0]
            .mac(id.as_bytes(), &seconds)
            .finalize()
            .into_bytes();
        let mut value = [0u8; VALUE_BYTES];
        value[..ID_BYTES].copy_from_slice(id.as_bytes());
        value[ID_BYTES..ID_BYTES + ISSUED_BYTES].copy_from_slice(&seconds);
        value[ID_BYTES + ISSUED_BYTES..].copy_from_slice(&tag[..TAG_BYTES]);
        URL_SAFE_NO_PAD.encode(value)
    }

    /// The browser id in `value`, if one of the listed keys signed it. Anything
    /// else (wrong length or alphabet, a tag no key made) is `None`. A value
    /// this thread verified lately is answered from a small per-thread memo,
    /// without decoding it or computing its tag again.
    pub fn verify(&self, value: &str) -> Option<IssuedBrowserId> {
        let value: &[u8; COOKIE_VALUE_CHARS] = value.as_bytes().try_into().ok()?;
        // `try_with` fails only while the thread is ending: then no memo.
        let recalled = VERIFIED.try_with(|memo| memo.borrow().recall(self.memo_id, value));
        if let Ok(Some(issued)) = recalled {
            return Some(issued);
        }
        let issued = self.verify_signed(value)?;
        let _ = VERIFIED.try_with(|memo| memo.borrow_mut().remember(self.memo_id, value, issued));
        Some(issued)
    }

    fn verify_signed(&self, value: &[u8; COOKIE_VALUE_CHARS]) -> Option<IssuedBrowserId> {
        let mut bytes = [0u8; VALUE_BYTES];
        match URL_SAFE_NO_PAD.decode_slice(value, &mut bytes) {
            Ok(VALUE_BYTES) => {}
            _ => return None,
        }
        let (id, rest) = bytes.split_at(ID_BYTES);
        let (issued, tag) = rest.split_at(ISSUED_BYTES);
        // `verify_truncated_left` compares in constant time: a timing
        // difference must not tell a forger how much of a tag was right.
        let index = self
            .keys
            .iter()
            .position(|key| key.mac(id, issued).verify_truncated_left(tag).is_ok())?;
        let id = BrowserId::from_bytes(id.try_into().ok()?);
        let seconds = u64::from_be_bytes(issued.try_into().ok()?);
        Some(IssuedBrowserId {
            id,
            issued_at: UNIX_EPOCH.checked_add(Duration::from_secs(seconds))?,
            by_newest_key: index == 0,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> BrowserIdKey {
        BrowserIdKey::derive(&[byte; 32]).unwrap()
    }

    fn at(seconds: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(seconds)
    }

    #[test]
    fn a_signed_id_verifies_with_its_issue_time() {
        let keys = BrowserIdKeys::new(key(1));
        let id = BrowserId::generate();
        let value = keys.sign(&id, at(1_700_000_000));
        assert_eq!(value.len(), COOKIE_VALUE_CHARS);
        assert_eq!(
            keys.verify(&value),
            Some(IssuedBrowserId {
                id,
                issued_at: at(1_700_000_000),
                by_newest_key: true,
            })
        );
    }

    #[test]
    fn the_cookie_format_is_stable() {
        // Computed independently (Python's hmac): HMAC-SHA256 keyed with
        // HMAC-SHA256([1; 32], "hyperstate browser-id key"), over
        // "hs_bid/1" ‖ id ‖ issued. Cookies already in browsers must keep verifying.
        let keys = BrowserIdKeys::new(key(1));
        let id = BrowserId::from_bytes(std::array::from_fn(|i| i as u8));
        let value = "AAECAwQFBgcICQoLDA0ODwAAAABlU_EA4-OUw0tO7IYt8JCWiLkqbw";
        assert_eq!(keys.sign(&id, at(1_700_000_000)), value);
        assert_eq!(keys.verify(value).map(|issued| issued.id), Some(id));
    }

    /// `value` with the character at `position` changed (to another of the
    /// base64url alphabet).
    fn tampered(value: &str, position: usize) -> String {
        let mut bytes = value.as_bytes().to_vec();
        bytes[position] = if bytes[position] == b'A' { b'B' } else { b'A' };
        String::from_utf8(bytes).unwrap()
    }

    #[test]
    fn an_unsigned_or_tampered_value_is_no_id() {
        let keys = BrowserIdKeys::new(key(1));
        let id = BrowserId::generate();
        // The bare id, as cookies used to carry it.
        assert_eq!(keys.verify(&id.to_string()), None);
        let value = keys.sign(&id, at(1_700_000_000));
        for position in [0, 20, 30, COOKIE_VALUE_CHARS - 2] {
            let tampered = tampered(&value, position);
            assert_eq!(keys.verify(&tampered), None, "changed at {position}");
        }
        // Signed by a key that is not listed.
        assert_eq!(BrowserIdKeys::new(key(2)).verify(&value), None);
        for bad in ["", "é", &"!".repeat(COOKIE_VALUE_CHARS), &value[1..]] {
            assert_eq!(keys.verify(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn a_remembered_value_still_needs_its_every_byte_and_its_key_list() {
        let keys = BrowserIdKeys::new(key(1));
        let id = BrowserId::generate();
        let value = keys.sign(&id, at(1_700_000_000));
        let first = keys.verify(&value);
        assert_eq!(first.map(|issued| issued.id), Some(id));
        // Again, from this thread's memo: the same answer.
        assert_eq!(keys.verify(&value), first);
        // Changed after the 16 characters that choose its memo slot: the slot
        // holds the verified value, which this is not.
        for position in [20, 30, COOKIE_VALUE_CHARS - 2] {
            let tampered = tampered(&value, position);
            assert_eq!(keys.verify(&tampered), None, "changed at {position}");
        }
        // Other key lists, even with the same newest key, decide for themselves.
        assert_eq!(BrowserIdKeys::new(key(2)).verify(&value), None);
        let demoted = BrowserIdKeys::new(key(2)).with_previous(key(1));
        assert_eq!(
            demoted.verify(&value).map(|issued| issued.by_newest_key),
            Some(false)
        );
        assert_eq!(keys.verify(&value), first);
    }

    #[test]
    fn older_keys_verify_and_only_the_newest_signs() {
        let id = BrowserId::generate();
        let old = BrowserIdKeys::new(key(1)).sign(&id, at(5));
        let rotated = BrowserIdKeys::new(key(2)).with_previous(key(1));
        let verified = rotated.verify(&old).unwrap();
        assert_eq!((verified.id, verified.by_newest_key), (id, false));
        let new = rotated.sign(&id, at(6));
        assert!(rotated.verify(&new).unwrap().by_newest_key);
        // Once the old key is dropped, its cookies are no longer ids.
        assert_eq!(BrowserIdKeys::new(key(2)).verify(&old), None);
    }

    #[test]
    fn keys_are_derived_with_a_label_and_never_shown() {
        assert!(BrowserIdKey::derive(&[1; 31]).is_err());
        let secret = SessionSecret::from_bytes([9u8; 32]).unwrap();
        let derived = BrowserIdKey::from_session_secret(&secret);
        assert_eq!(derived, BrowserIdKey::from_hex(&secret.to_hex()).unwrap());
        // The MAC key is not the secret itself.
        assert_ne!(&derived.bytes[..], &[9u8; 32][..]);
        assert_eq!(format!("{derived:?}"), "BrowserIdKey(..)");
        let keys = BrowserIdKeys::new(derived);
        assert!(!format!("{keys:?}").contains(&secret.to_hex()));
    }
}
