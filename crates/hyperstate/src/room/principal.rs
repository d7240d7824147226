//! Who is calling.

use std::fmt;
use std::sync::Arc;

use sha2::{Digest, Sha256};

use crate::BrowserId;

/// The identity a room operation is performed for.
///
/// A browser (its [`BrowserId`], from the browser-id cookie) or an identity the
/// app supplies: a user id after its own login, a background job's name. Code
/// that is not acting for a browser passes an app principal and gets exactly
/// the rights of that principal's class.
#[derive(Clone, PartialEq, Eq, Hash)]
pub enum Principal {
    /// A browser, identified by its browser-id cookie.
    Browser(BrowserId),
    /// An identity chosen by the app (`"user:42"`, `"job:digest"`).
    App(Arc<str>),
}

impl Principal {
    /// An app-supplied principal.
    pub fn app(name: impl Into<Arc<str>>) -> Self {
        Principal::App(name.into())
    }

    /// The key a backend stores this principal's membership under.
    pub fn member_key(&self) -> MemberKey {
        let mut hasher = Sha256::new();
        hasher.update(b"hyperstate/room-member/v1");
        // The tag keeps a browser and an app name with the same bytes apart.
        match self {
            Principal::Browser(id) => {
                hasher.update(b"b");
                hasher.update(id.as_bytes());
            }
            Principal::App(name) => {
                hasher.update(b"a");
                hasher.update(name.as_bytes());
            }
        }
        let mut key = [0u8; 16];
        key.copy_from_slice(&hasher.finalize()[..16]);
        MemberKey(key)
    }
}

impl From<BrowserId> for Principal {
    fn from(id: BrowserId) -> Self {
        Principal::Browser(id)
    }
}

impl fmt::Debug for Principal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            // BrowserId's own Debug is redacted: it is a credential.
            Principal::Browser(id) => write!(f, "Principal::Browser({id:?})"),
            Principal::App(name) => write!(f, "Principal::App({name:?})"),
        }
    }
}

/// The stored form of a [`Principal`]: a hash, so that a backend (a Redis set of
/// members, a memory dump) never holds a usable browser cookie.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct MemberKey([u8; 16]);

impl MemberKey {
    /// Builds a key from raw bytes (for backends and tests).
    pub fn from_bytes(bytes: [u8; 16]) -> Self {
        MemberKey(bytes)
    }

    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }
}

impl fmt::Display for MemberKey {
    /// Lower-case hex, the form external backends use in member sets.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

impl fmt::Debug for MemberKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MemberKey({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn member_keys_are_stable_and_distinct() {
        let browser = BrowserId::generate();
        let a = Principal::from(browser).member_key();
        assert_eq!(a, Principal::Browser(browser).member_key());
        assert_ne!(a, Principal::Browser(BrowserId::generate()).member_key());
        assert_ne!(
            Principal::app("x").member_key(),
            Principal::app("y").member_key()
        );
        assert_eq!(a.to_string().len(), 32);
        assert!(!format!("{:?}", Principal::Browser(browser)).contains(&browser.to_string()));
    }
}
