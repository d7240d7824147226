//! Random identifiers that travel through the browser.
//!
//! Both ids carry 128 bits from the operating system's RNG and are written as
//! URL-safe base64 without padding, so they fit in a header, a cookie, a form field
//! and an HTML attribute without escaping. Parsing is strict: anything but the
//! exact length and alphabet is [`Error::MalformedId`], never a panic.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::{Error, Result};

const RANDOM_BYTES: usize = 16;
/// Milliseconds since the Unix epoch fit in 6 bytes until the year 10889.
const ISSUED_BYTES: usize = 6;
const PAGE_BYTES: usize = RANDOM_BYTES + ISSUED_BYTES;

fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    // The OS RNG failing means the machine cannot make secure ids at all; serving
    // guessable ids instead would be worse than stopping, so this is the one panic.
    getrandom::fill(&mut bytes).expect("the operating system's random number generator failed");
    bytes
}

fn decode_exact<const N: usize>(what: &'static str, text: &str) -> Result<[u8; N]> {
    let expected_len = (N * 8).div_ceil(6);
    if text.len() != expected_len {
        return Err(Error::MalformedId {
            what,
            reason: "wrong length",
        });
    }
    let mut bytes = [0u8; N];
    match URL_SAFE_NO_PAD.decode_slice(text.as_bytes(), &mut bytes) {
        Ok(n) if n == N => Ok(bytes),
        _ => Err(Error::MalformedId {
            what,
            reason: "not URL-safe base64",
        }),
    }
}

/// Identifies one browser: the id the browser-id cookie carries (signed by the
/// server, see [`identity`](crate::identity)).
///
/// It is the credential that binds pages (and sessions) to the browser that
/// created them, so it is never logged by this crate and never stored raw: the
/// stores only see keys derived from it.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct BrowserId([u8; RANDOM_BYTES]);

impl BrowserId {
    /// A fresh random id.
    pub fn generate() -> Self {
        BrowserId(random_bytes())
    }

    /// Parses the cookie form (22 URL-safe base64 characters).
    pub fn parse(text: &str) -> Result<Self> {
        decode_exact("browser id", text).map(BrowserId)
    }

    /// The id with these bytes (as read from a verified cookie).
    pub fn from_bytes(bytes: [u8; RANDOM_BYTES]) -> Self {
        BrowserId(bytes)
    }

    /// The raw bytes, for deriving storage keys.
    pub fn as_bytes(&self) -> &[u8; RANDOM_BYTES] {
        &self.0
    }
}

impl fmt::Display for BrowserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&URL_SAFE_NO_PAD.encode(self.0))
    }
}

impl fmt::Debug for BrowserId {
    // Redacted: a browser id in a log line is a usable credential.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BrowserId(..)")
    }
}

/// Identifies one page view: one full page load in one tab.
///
/// 128 random bits plus the time it was issued (so an unknown id can be told
/// apart as *never written* or *expired*; see [`PageId::issued_at`]). 30
/// characters in text form.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct PageId([u8; PAGE_BYTES]);

impl PageId {
    /// A fresh random id issued now.
    pub fn generate() -> Self {
        Self::generate_at(SystemTime::now())
    }

    /// A fresh random id that claims to have been issued at `issued`. For tests
    /// of expiry behaviour; apps use [`PageId::generate`].
    pub fn generate_at(issued: SystemTime) -> Self {
        let mut bytes = [0u8; PAGE_BYTES];
        bytes[..RANDOM_BYTES].copy_from_slice(&random_bytes::<RANDOM_BYTES>());
        let millis = issued
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_millis() as u64;
        bytes[RANDOM_BYTES..].copy_from_slice(&millis.to_be_bytes()[8 - ISSUED_BYTES..]);
        PageId(bytes)
    }

    /// Parses the text form (30 URL-safe base64 characters).
    pub fn parse(text: &str) -> Result<Self> {
        decode_exact("page id", text).map(PageId)
    }

    /// When the id was issued, by the clock of the node that issued it.
    pub fn issued_at(&self) -> SystemTime {
        let mut millis = [0u8; 8];
        millis[8 - ISSUED_BYTES..].copy_from_slice(&self.0[RANDOM_BYTES..]);
        UNIX_EPOCH + Duration::from_millis(u64::from_be_bytes(millis))
    }

    /// The raw bytes, for deriving storage keys.
    pub fn as_bytes(&self) -> &[u8; PAGE_BYTES] {
        &self.0
    }
}

impl fmt::Display for PageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&URL_SAFE_NO_PAD.encode(self.0))
    }
}

impl fmt::Debug for PageId {
    // A page id alone grants nothing (it is bound to its browser), so it may be shown.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PageId({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_through_text() {
        let page = PageId::generate();
        assert_eq!(page.to_string().len(), 30);
        assert_eq!(PageId::parse(&page.to_string()).unwrap(), page);
        let browser = BrowserId::generate();
        assert_eq!(browser.to_string().len(), 22);
        assert_eq!(BrowserId::parse(&browser.to_string()).unwrap(), browser);
    }

    #[test]
    fn ids_are_random() {
        assert_ne!(PageId::generate(), PageId::generate());
        assert_ne!(BrowserId::generate(), BrowserId::generate());
    }

    #[test]
    fn page_id_remembers_when_it_was_issued() {
        let issued = UNIX_EPOCH + Duration::from_millis(1_700_000_000_123);
        assert_eq!(PageId::generate_at(issued).issued_at(), issued);
    }

    #[test]
    fn malformed_ids_are_rejected() {
        for bad in [
            "",
            "short",
            "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!",
            &"a".repeat(31),
            "ÄÄÄÄÄÄÄÄÄÄÄÄÄÄÄ",
        ] {
            assert!(
                matches!(PageId::parse(bad), Err(Error::MalformedId { .. })),
                "{bad:?}"
            );
        }
        assert!(BrowserId::parse("a b").is_err());
        assert!(BrowserId::parse(&"+".repeat(22)).is_err());
    }
}
