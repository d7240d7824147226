//! The backend trait for page state.

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;

use super::PageKey;
use crate::{Limits, Result};

/// The closure a backend applies atomically in [`PageStore::update`]: given the
/// current JSON bytes (or `None`), it returns the new JSON bytes.
///
/// Distributed backends may call it more than once (compare-and-set retries), so it
/// must not have side effects beyond computing the new value.
pub type UpdateFn<'a> = &'a mut (dyn FnMut(Option<&[u8]>) -> Result<Vec<u8>> + Send);

/// Options every page backend honours.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct PageOptions {
    /// Sliding time-to-live of a page: a page not accessed for this long is gone.
    /// Default: 1 hour.
    pub ttl: Duration,
    /// Per-page limits. Default: [`Limits::default`].
    pub limits: Limits,
}

impl Default for PageOptions {
    fn default() -> Self {
        PageOptions {
            ttl: Duration::from_secs(60 * 60),
            limits: Limits::default(),
        }
    }
}

impl PageOptions {
    /// Sets the sliding TTL.
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }
    /// Sets the per-page limits.
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }
}

/// Where page state lives.
///
/// Apps do not call this trait: they use the typed [`Page`](super::Page) handle,
/// which validates keys and values and (de)serializes JSON before calling it.
/// Values reach a backend as compact JSON bytes.
///
/// # Contract
///
/// - **Keys**: a page is addressed by its [`PageKey`]; within a page, state keys
///   are valid UTF-8 strings already checked against [`Limits::max_key_bytes`].
/// - **Laziness**: reads never create a page; the first successful write does.
/// - **Sliding TTL**: every operation on a page that exists refreshes its expiry to
///   `now + ttl` in O(1) (never by rewriting its keys). A page whose expiry has
///   passed is absent for every operation, whether or not [`sweep`](Self::sweep)
///   has run; a write to it starts a new, empty page.
/// - **Atomicity**: [`update`](Self::update) loses no update under any
///   concurrency, on one node or many. `put`, `delete` and `clear` are atomic.
/// - **Limits**: a write that would exceed `limits.max_keys` or `limits.max_bytes`
///   (the sum of key and value lengths of the page) fails with
///   [`Error::TooManyKeys`](crate::Error::TooManyKeys) /
///   [`Error::ScopeTooLarge`](crate::Error::ScopeTooLarge) and changes nothing.
/// - **Sharing**: clones of a backend handle share the same state.
///
/// # Implementing a backend
///
/// ```
/// use async_trait::async_trait;
/// use hyperstate::backend::UpdateFn;
/// use hyperstate::page::{PageKey, PageOptions, PageStore};
/// use hyperstate::Result;
///
/// /// A backend that forgets everything (every page is always empty).
/// #[derive(Debug, Default)]
/// struct Amnesia(PageOptions);
///
/// #[async_trait]
/// impl PageStore for Amnesia {
///     fn backend_name(&self) -> &'static str { "amnesia" }
///     fn options(&self) -> &PageOptions { &self.0 }
///     async fn touch(&self, _: &PageKey) -> Result<bool> { Ok(false) }
///     async fn get(&self, _: &PageKey, _: &str) -> Result<Option<Vec<u8>>> { Ok(None) }
///     async fn put(&self, _: &PageKey, _: &str, _: Vec<u8>) -> Result<()> { Ok(()) }
///     async fn update(&self, _: &PageKey, _: &str, f: UpdateFn<'_>) -> Result<Vec<u8>> { f(None) }
///     async fn delete(&self, _: &PageKey, _: &str) -> Result<bool> { Ok(false) }
///     async fn clear(&self, _: &PageKey) -> Result<()> { Ok(()) }
///     async fn sweep(&self) -> Result<usize> { Ok(0) }
/// }
///
/// let store: std::sync::Arc<dyn PageStore> = std::sync::Arc::new(Amnesia::default());
/// assert_eq!(store.backend_name(), "amnesia");
/// ```
#[async_trait]
pub trait PageStore: fmt::Debug + Send + Sync + 'static {
    /// A short name for logs, metrics and errors (`"memory"`, `"redis"`).
    fn backend_name(&self) -> &'static str;

    /// The TTL and limits this backend enforces.
    fn options(&self) -> &PageOptions;

    /// Refreshes the page's TTL; returns whether the page exists (has state).
    async fn touch(&self, page: &PageKey) -> Result<bool>;

    /// The JSON bytes stored under `key`, if any.
    async fn get(&self, page: &PageKey, key: &str) -> Result<Option<Vec<u8>>>;

    /// Stores `value` under `key`, creating the page if needed.
    async fn put(&self, page: &PageKey, key: &str, value: Vec<u8>) -> Result<()>;

    /// Atomically replaces the value under `key` with `f(current)`; returns the new
    /// value. If `f` fails, nothing changes and its error is returned.
    async fn update(&self, page: &PageKey, key: &str, f: UpdateFn<'_>) -> Result<Vec<u8>>;

    /// Removes `key`; returns whether it was present.
    async fn delete(&self, page: &PageKey, key: &str) -> Result<bool>;

    /// Removes the whole page.
    async fn clear(&self, page: &PageKey) -> Result<()>;

    /// Frees expired pages; returns how many were freed. Backends whose storage
    /// expires entries by itself (Redis) may return 0.
    async fn sweep(&self) -> Result<usize>;

    /// Checks that the backend can serve requests (e.g. its server answers), for
    /// health endpoints. In-process backends are always healthy.
    async fn check_health(&self) -> Result<()> {
        Ok(())
    }

    /// The store's snapshot support, if its pages live in process memory and
    /// would otherwise be lost on restart (the memory backend). Backends whose
    /// state outlives the process keep the default, `None`.
    fn persist(&self) -> Option<&dyn crate::memory::Persist> {
        None
    }
}
