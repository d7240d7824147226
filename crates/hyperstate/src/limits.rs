//! Size limits that hold under attack.
//!
//! Every scope enforces the same four limits. They are checked before anything is
//! stored, so a request that breaks one changes nothing and gets a typed
//! [`Error`](crate::Error) that names the limit.

/// Per-scope-instance size limits (one page, one session view, one room).
///
/// The defaults suit UI state (a cart, a draft, a few flags); raise them for
/// apps that keep more.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// Longest key in bytes. Default: 128.
    pub max_key_bytes: usize,
    /// Largest serialized (JSON) value in bytes. Default: 64 KiB.
    pub max_value_bytes: usize,
    /// Most keys one instance may hold. Default: 256.
    pub max_keys: usize,
    /// Most bytes (keys plus values) one instance may hold. Default: 256 KiB.
    pub max_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_key_bytes: 128,
            max_value_bytes: 64 * 1024,
            max_keys: 256,
            max_bytes: 256 * 1024,
        }
    }
}

impl Limits {
    /// Sets [`Limits::max_key_bytes`].
    pub fn max_key_bytes(mut self, n: usize) -> Self {
        self.max_key_bytes = n;
        self
    }
    /// Sets [`Limits::max_value_bytes`].
    pub fn max_value_bytes(mut self, n: usize) -> Self {
        self.max_value_bytes = n;
        self
    }
    /// Sets [`Limits::max_keys`].
    pub fn max_keys(mut self, n: usize) -> Self {
        self.max_keys = n;
        self
    }
    /// Sets [`Limits::max_bytes`].
    pub fn max_bytes(mut self, n: usize) -> Self {
        self.max_bytes = n;
        self
    }
}
