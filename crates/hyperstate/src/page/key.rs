//! The storage key of a page.

use std::fmt;

use sha2::{Digest, Sha256};

use crate::{BrowserId, PageId};

/// The key a backend stores one page under.
///
/// A hash of the browser id and the page id, so that:
/// - a page is reachable only with both (the binding to the browser is structural,
///   not a check that could be forgotten);
/// - a backend (Redis, a dump of memory) never holds a usable browser cookie.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct PageKey([u8; 16]);

impl PageKey {
    /// Derives the key of page `page` as seen by browser `browser`.
    pub fn derive(browser: &BrowserId, page: &PageId) -> Self {
        let mut hasher = Sha256::new();
        hasher.update(b"hyperstate/page/v1");
        hasher.update(browser.as_bytes());
        hasher.update(page.as_bytes());
        let digest = hasher.finalize();
        let mut key = [0u8; 16];
        key.copy_from_slice(&digest[..16]);
        PageKey(key)
    }

    /// Builds a key from raw bytes (for backends and tests).
    pub fn from_bytes(bytes: [u8; 16]) -> Self {
        PageKey(bytes)
    }

    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }
}

impl fmt::Display for PageKey {
    /// Lower-case hex, the form external backends use in their key names.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

impl fmt::Debug for PageKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PageKey({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_depends_on_browser_and_page() {
        let (b1, b2) = (BrowserId::generate(), BrowserId::generate());
        let (p1, p2) = (PageId::generate(), PageId::generate());
        assert_eq!(PageKey::derive(&b1, &p1), PageKey::derive(&b1, &p1));
        assert_ne!(PageKey::derive(&b1, &p1), PageKey::derive(&b2, &p1));
        assert_ne!(PageKey::derive(&b1, &p1), PageKey::derive(&b1, &p2));
        assert_eq!(PageKey::derive(&b1, &p1).to_string().len(), 32);
    }
}
