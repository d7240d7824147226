//! The server secret and the storage key of a session.

use std::fmt;

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::{BrowserId, Error, Result};

/// The shortest secret accepted: HMAC-SHA256 gains nothing from longer keys,
/// and shorter ones could be guessed offline from a leaked storage key.
pub const MIN_SECRET_BYTES: usize = 32;

/// The server secret that turns browser ids into storage keys.
///
/// Every node of one deployment must use the same secret, or they address
/// different documents for the same browser. Changing it orphans every stored
/// session (the sweeper deletes them once their TTL has passed).
#[derive(Clone, PartialEq, Eq)]
pub struct SessionSecret(Box<[u8]>);

impl SessionSecret {
    /// A secret from raw bytes; at least [`MIN_SECRET_BYTES`] long.
    pub fn from_bytes(bytes: impl Into<Vec<u8>>) -> Result<Self> {
        let bytes = bytes.into();
        if bytes.len() < MIN_SECRET_BYTES {
            return Err(Error::InvalidSecret {
                reason: "shorter than 32 bytes",
            });
        }
        Ok(SessionSecret(bytes.into_boxed_slice()))
    }

    /// A fresh random secret (for a development default kept on disk).
    pub fn generate() -> Self {
        let mut bytes = vec![0u8; MIN_SECRET_BYTES];
        // As for ids: without a working OS RNG no secure secret can be made.
        getrandom::fill(&mut bytes).expect("the operating system's random number generator failed");
        SessionSecret(bytes.into_boxed_slice())
    }

    /// Parses the hex form written by [`SessionSecret::to_hex`] (surrounding
    /// whitespace ignored).
    pub fn from_hex(text: &str) -> Result<Self> {
        let text = text.trim();
        if text.len() % 2 != 0 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(Error::InvalidSecret {
                reason: "not an even number of hex digits",
            });
        }
        let bytes = (0..text.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&text[i..i + 2], 16))
            .collect::<Result<Vec<u8>, _>>()
            .map_err(|_| Error::InvalidSecret { reason: "not hex" })?;
        Self::from_bytes(bytes)
    }

    /// The raw bytes, for deriving keys from the secret inside this crate.
    pub(crate) fn expose(&self) -> &[u8] {
        &self.0
    }

    /// Lower-case hex, for keeping a generated secret in a file.
    pub fn to_hex(&self) -> String {
        hex(&self.0)
    }
}

impl fmt::Debug for SessionSecret {
    // Redacted: the secret is what keeps storage keys unlinkable to cookies.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionSecret(..)")
    }
}

fn hex(bytes: &[u8]) -> String {
    use fmt::Write as _;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// The key one session's document is stored under:
/// HMAC-SHA256(server secret, browser id).
///
/// Storage (a bucket listing, a backup of the data directory) therefore never
/// holds a usable cookie, and without the secret a key cannot be linked back to
/// a browser.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionKey([u8; 32]);

impl SessionKey {
    /// Derives the key of `browser`'s session.
    pub fn derive(secret: &SessionSecret, browser: &BrowserId) -> Self {
        KeyDeriver::new(secret).derive(browser)
    }

    /// Builds a key from raw bytes (for backends and tests).
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        SessionKey(bytes)
    }

    /// A random key, for tests that need sessions no browser owns.
    pub fn random() -> Self {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).expect("the operating system's random number generator failed");
        SessionKey(bytes)
    }

    /// Parses the 64-character lower-case hex form (as found in object names).
    pub fn parse_hex(text: &str) -> Option<Self> {
        if text.len() != 64 {
            return None;
        }
        let mut bytes = [0u8; 32];
        for (i, byte) in bytes.iter_mut().enumerate() {
            let pair = text.get(2 * i..2 * i + 2)?;
            if !pair
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
            {
                return None;
            }
            *byte = u8::from_str_radix(pair, 16).ok()?;
        }
        Some(SessionKey(bytes))
    }

    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

/// Derives session keys from one secret, with the HMAC already keyed: keying
/// hashes the padded secret twice, which a request would otherwise pay on
/// every derivation (half the cost of one).
#[derive(Clone)]
pub(crate) struct KeyDeriver(Hmac<Sha256>);

impl KeyDeriver {
    pub(crate) fn new(secret: &SessionSecret) -> Self {
        // HMAC accepts keys of any length, so `new_from_slice` cannot fail here.
        let mac = <Hmac<Sha256> as Mac>::new_from_slice(&secret.0)
            .expect("HMAC accepts keys of any length");
        KeyDeriver(mac)
    }

    /// [`SessionKey::derive`] with this deriver's secret.
    pub(crate) fn derive(&self, browser: &BrowserId) -> SessionKey {
        let mut mac = self.0.clone();
        mac.update(browser.as_bytes());
        SessionKey(mac.finalize().into_bytes().into())
    }
}

impl fmt::Debug for KeyDeriver {
    // Redacted: the keyed state is as secret as the secret.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("KeyDeriver(..)")
    }
}

impl fmt::Display for SessionKey {
    /// Lower-case hex: the name backends store the document under.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex(&self.0))
    }
}

impl fmt::Debug for SessionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SessionKey({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_is_the_hmac_of_the_browser_id() {
        let secret = SessionSecret::from_bytes([7u8; 32]).unwrap();
        let browser = BrowserId::generate();
        let key = SessionKey::derive(&secret, &browser);
        assert_eq!(key, SessionKey::derive(&secret, &browser));
        let other = SessionSecret::from_bytes([8u8; 32]).unwrap();
        assert_ne!(key, SessionKey::derive(&other, &browser));
        assert_ne!(key, SessionKey::derive(&secret, &BrowserId::generate()));
        // The stored name never contains the cookie value.
        assert!(!key.to_string().contains(&browser.to_string()));
        assert_eq!(SessionKey::parse_hex(&key.to_string()), Some(key));
    }

    #[test]
    fn hmac_matches_a_known_vector() {
        // Computed independently: Python's
        // hmac.new(b"\x0b" * 32, b"\x00" * 16, hashlib.sha256).hexdigest()
        let secret = SessionSecret::from_bytes([0x0b; 32]).unwrap();
        let browser = BrowserId::parse("AAAAAAAAAAAAAAAAAAAAAA").unwrap();
        assert_eq!(
            SessionKey::derive(&secret, &browser).to_string(),
            "7d45cd196b867c549292d780f29405beb927bc26b8124416b82457d94776e4f4"
        );
    }

    #[test]
    fn bad_secrets_and_keys_are_rejected() {
        assert!(SessionSecret::from_bytes([1u8; 31]).is_err());
        assert!(SessionSecret::from_hex("zz").is_err());
        assert!(SessionSecret::from_hex("abc").is_err());
        let secret = SessionSecret::generate();
        assert_eq!(SessionSecret::from_hex(&secret.to_hex()).unwrap(), secret);
        assert!(format!("{secret:?}").contains(".."));
        for bad in ["", "00", &"g".repeat(64), &"A".repeat(64), &"é".repeat(32)] {
            assert_eq!(SessionKey::parse_hex(bad), None, "{bad:?}");
        }
    }
}
