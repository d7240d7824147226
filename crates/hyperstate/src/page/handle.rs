//! The typed, per-request handle on one page's state.

use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::SystemTime;

use serde::{Serialize, de::DeserializeOwned};

use super::{PageKey, PageStore};
use crate::observe::operation;
use crate::value::{byte_updater, decode, encode, validate_key};
use crate::{BrowserId, Error, Key, KeyFor, KeyName, PageId, Result};

/// What was known about a page when its handle was opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PageStatus {
    /// The id was issued by this very request (a full page load): no state yet.
    Fresh,
    /// The page has state; its TTL was just refreshed.
    Live,
    /// No state, and the id is younger than the TTL: nothing was written yet.
    Unknown,
    /// No state, and the id is older than the TTL: its state (if it ever had any)
    /// has expired. Apps may choose to reload the page (`HX-Refresh: true`).
    Expired,
}

/// One page's state, as seen by one request.
///
/// Obtained from the axum extractor (`hyperstate_axum::Page`) or [`Page::open`].
/// Cheap to clone; clones address the same page. Every method is a single backend
/// operation that also refreshes the page's TTL.
///
/// Values are typed through serde and stored as JSON: a value reads back exactly as
/// it would from any backend.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> hyperstate::Result<()> {
/// use std::sync::Arc;
/// use hyperstate::{BrowserId, Key, PageId, memory::MemoryPageStore, page::Page};
///
/// /// Declared once: the key's name, its type and its default.
/// const CART: Key<Vec<String>> = Key::or_default("cart");
///
/// let store = Arc::new(MemoryPageStore::default());
/// let page = Page::open(store, &BrowserId::generate(), PageId::generate()).await?;
///
/// assert!(page.get(&CART).await?.is_empty());
/// let items = page
///     .update(&CART, |mut items| {
///         items.push("apple".into());
///         items
///     })
///     .await?;
/// assert_eq!(items, ["apple"]);
/// page.put(&CART, &vec!["pear".to_owned()]).await?;
/// assert_eq!(page.get(&CART).await?, ["pear"]);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Page {
    id: PageId,
    key: PageKey,
    status: PageStatus,
    store: Arc<dyn PageStore>,
}

impl fmt::Debug for Page {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Page")
            .field("id", &self.id)
            .field("status", &self.status)
            .field("backend", &self.store.backend_name())
            .finish()
    }
}

impl Page {
    /// Opens page `id` for `browser`: one backend round trip that refreshes the
    /// TTL and learns whether the page has state.
    pub async fn open(store: Arc<dyn PageStore>, browser: &BrowserId, id: PageId) -> Result<Page> {
        let key = PageKey::derive(browser, &id);
        let live = operation("page", "open", store.backend_name(), store.touch(&key)).await?;
        let status = if live {
            PageStatus::Live
        } else {
            let age = SystemTime::now()
                .duration_since(id.issued_at())
                .unwrap_or_default();
            if age > store.options().ttl {
                PageStatus::Expired
            } else {
                PageStatus::Unknown
            }
        };
        Ok(Page {
            id,
            key,
            status,
            store,
        })
    }

    /// A handle on a page whose id was just issued: no backend round trip, since a
    /// new id cannot have state.
    pub fn fresh(store: Arc<dyn PageStore>, browser: &BrowserId, id: PageId) -> Page {
        Page {
            key: PageKey::derive(browser, &id),
            id,
            status: PageStatus::Fresh,
            store,
        }
    }

    /// The page id (what the browser sends back in `X-Page-Id`).
    pub fn id(&self) -> PageId {
        self.id
    }

    /// What was known about the page when the handle was opened.
    pub fn status(&self) -> PageStatus {
        self.status
    }

    /// The value under `key`, or the key's default when there is none.
    pub async fn get<T: DeserializeOwned>(&self, key: &Key<T>) -> Result<T> {
        self.read(key.name(), || key.default_value()).await
    }

    /// The value under the string key `key`, or `default` when there is none.
    /// Prefer a typed [`Key`] and [`get`](Self::get).
    pub async fn get_or<T: DeserializeOwned>(&self, key: &str, default: T) -> Result<T> {
        self.read(key, || default).await
    }

    async fn read<T: DeserializeOwned>(&self, key: &str, default: impl FnOnce() -> T) -> Result<T> {
        self.observed("get", async {
            validate_key(key, &self.store.options().limits)?;
            match self.store.get(&self.key, key).await? {
                Some(bytes) => decode(key, &bytes),
                None => Ok(default()),
            }
        })
        .await
    }

    /// Stores `value` under `key` (a [`Key<T>`] for a `T`, or a string key).
    pub async fn put<K, T>(&self, key: &K, value: &T) -> Result<()>
    where
        K: KeyFor<T> + ?Sized,
        T: Serialize + ?Sized,
    {
        let key = key.key_name();
        self.observed("put", async {
            let limits = &self.store.options().limits;
            validate_key(key, limits)?;
            let bytes = encode(key, value, limits)?;
            self.store.put(&self.key, key, bytes).await
        })
        .await
    }

    /// Atomically replaces the value under `key` (or the key's default) with
    /// `f(value)` and returns the new value. Concurrent updates of one key never
    /// lose a write.
    ///
    /// `f` may run more than once on distributed backends (after a conflict), so it
    /// should only compute the new value. The value returned is the one `f`
    /// produced on the run whose JSON was stored, as `f` produced it: it is not
    /// read back from the stored bytes. Only a type whose serde round trip is
    /// lossy (a `#[serde(skip)]` field, say) sees a difference: `update` returns the
    /// field as `f` left it, [`get`](Self::get) what the JSON carried.
    pub async fn update<T, F>(&self, key: &Key<T>, mut f: F) -> Result<T>
    where
        T: Serialize + DeserializeOwned + Send,
        F: FnMut(T) -> T + Send,
    {
        let updated = self
            .apply(key.name(), key.default_value(), |value| {
                Ok::<T, Infallible>(f(value))
            })
            .await?;
        Ok(updated.unwrap_or_else(|never| match never {}))
    }

    /// Like [`update`](Self::update), but `f` may decline with an error of its
    /// own (a validation): then nothing is written and its error is returned as
    /// `Ok(Err(error))`. Store failures are the outer `Err`.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> hyperstate::Result<()> {
    /// # use std::sync::Arc;
    /// # use hyperstate::{BrowserId, Key, PageId, memory::MemoryPageStore, page::Page};
    /// # let page = Page::open(Arc::new(MemoryPageStore::default()), &BrowserId::generate(),
    /// #     PageId::generate()).await?;
    /// const SEATS: Key<u32> = Key::new("seats", || 2);
    ///
    /// let taken = page
    ///     .try_update(&SEATS, |seats| seats.checked_sub(1).ok_or("sold out"))
    ///     .await?;
    /// assert_eq!(taken, Ok(1));
    /// page.try_update(&SEATS, |seats| seats.checked_sub(1).ok_or("sold out")).await?.unwrap();
    /// let refused = page
    ///     .try_update(&SEATS, |seats| seats.checked_sub(1).ok_or("sold out"))
    ///     .await?;
    /// assert_eq!(refused, Err("sold out"));
    /// assert_eq!(page.get(&SEATS).await?, 0);
    /// # Ok(()) }
    /// ```
    pub async fn try_update<T, E, F>(&self, key: &Key<T>, f: F) -> Result<Result<T, E>>
    where
        T: Serialize + DeserializeOwned + Send,
        E: Send,
        F: FnMut(T) -> Result<T, E> + Send,
    {
        self.apply(key.name(), key.default_value(), f).await
    }

    /// [`update`](Self::update) of the string key `key`, with its default given
    /// here. Prefer a typed [`Key`].
    pub async fn update_or<T, F>(&self, key: &str, default: T, mut f: F) -> Result<T>
    where
        T: Serialize + DeserializeOwned + Send,
        F: FnMut(T) -> T + Send,
    {
        let updated = self
            .apply(key, default, |value| Ok::<T, Infallible>(f(value)))
            .await?;
        Ok(updated.unwrap_or_else(|never| match never {}))
    }

    /// The one update path: every backend applies `f` through
    /// [`PageStore::update`], which writes nothing when `f` declines.
    async fn apply<T, E, F>(&self, key: &str, default: T, mut f: F) -> Result<Result<T, E>>
    where
        T: Serialize + DeserializeOwned + Send,
        E: Send,
        F: FnMut(T) -> Result<T, E> + Send,
    {
        self.observed("update", async {
            let limits = self.store.options().limits;
            validate_key(key, &limits)?;
            // The default is encoded once so that retries can rebuild it without `T: Clone`,
            // and so that it is JSON-normalized exactly like a stored value. (The block
            // drops the typed default before the await.)
            let default = {
                let default = default;
                encode(key, &default, &limits)?
            };
            let mut produced = None;
            let stored = {
                let mut apply = byte_updater(key, &default, &mut f, limits, &mut produced);
                self.store.update(&self.key, key, &mut apply).await
            };
            match (stored, produced) {
                (Ok(_), Some(Ok(value))) => Ok(Ok(value)),
                (Err(Error::UpdateDeclined), Some(Err(declined))) => Ok(Err(declined)),
                (Err(err), _) => Err(err),
                // A backend that stored bytes without calling `f`: read them.
                (Ok(bytes), _) => decode(key, &bytes).map(Ok),
            }
        })
        .await
    }

    /// Removes `key`; returns whether it was present.
    pub async fn delete<K: KeyName + ?Sized>(&self, key: &K) -> Result<bool> {
        let key = key.key_name();
        self.observed("delete", async {
            validate_key(key, &self.store.options().limits)?;
            self.store.delete(&self.key, key).await
        })
        .await
    }

    /// Removes every key of the page.
    pub async fn clear(&self) -> Result<()> {
        self.observed("clear", self.store.clear(&self.key)).await
    }

    fn observed<T>(
        &self,
        op: &'static str,
        work: impl Future<Output = Result<T>>,
    ) -> impl Future<Output = Result<T>> {
        // Boxed here, once: an operation's future nests in the caller's, the
        // handler's and the framework's, and each level moves it whole.
        operation("page", op, self.store.backend_name(), Box::pin(work))
    }
}
