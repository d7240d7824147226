//! The per-request handles: [`Session`], [`SessionView`] and [`ViewState`].

use std::convert::Infallible;
use std::fmt;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Serialize, de::DeserializeOwned};
use serde_json::Value;

use super::cache::Cached;
use super::change::{Change, Op, current_slice, recover};
use super::doc::{SessionDoc, ViewSlice};
use super::update::{Update, UpdateFn, outcome, typed_step};
use super::view::{Policy, View};
use super::writer::{commit_alone, submit, submit_detached};
use super::{SessionKey, SessionWrite, Sessions, current};
use crate::value::{decode, encode, validate_key};
use crate::{Error, Key, KeyFor, KeyName, PageId, Result, observe};

/// One browser's session, as seen by one request. Cheap to clone.
///
/// Obtained from [`Sessions::session`] (or the axum extractor). Reads are
/// answered from the node's cache when its
/// [`SessionCoherence`](super::SessionCoherence) proves it current, else from
/// the document store: either way every node sees every acknowledged write.
#[derive(Clone)]
pub struct Session {
    sessions: Sessions,
    key: SessionKey,
    page: Option<PageId>,
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("key", &self.key)
            .field("page", &self.page)
            .finish()
    }
}

impl Session {
    pub(crate) fn new(sessions: Sessions, key: SessionKey, page: Option<PageId>) -> Self {
        Session {
            sessions,
            key,
            page,
        }
    }

    /// The storage key (an HMAC of the browser id, never the id itself).
    pub fn key(&self) -> SessionKey {
        self.key
    }

    /// The page the request came from, if it carried one.
    pub fn page(&self) -> Option<PageId> {
        self.page
    }

    /// The handle on one view's slice.
    pub fn view(&self, view: &View) -> SessionView {
        SessionView {
            session: self.clone(),
            view: *view,
        }
    }

    /// The whole stored document (`None` before the first write). Refreshes the
    /// session's `last_seen_at` in the background when it is older than
    /// [`SessionOptions::touch_after`](super::SessionOptions::touch_after).
    pub async fn load(&self) -> Result<Option<SessionDoc>> {
        Ok(self.load_shared().await?.map(|current| current.doc.clone()))
    }

    /// [`Session::load`], sharing the document with the node's cache rather
    /// than copying it out (a request mostly reads one view of it).
    pub(crate) async fn load_shared(&self) -> Result<Option<Arc<Cached>>> {
        let backend = self.sessions.inner.store.backend_name();
        observe::operation("session", "load", backend, self.load_inner()).await
    }

    async fn load_inner(&self) -> Result<Option<Arc<Cached>>> {
        let inner = &self.sessions.inner;
        let Some(current) = current::read(inner, &self.key).await? else {
            return Ok(None);
        };
        let doc = &current.doc;
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_millis() as u64;
        let touch_after = inner.options.touch_after.as_millis() as u64;
        if now.saturating_sub(doc.last_seen_at) >= touch_after {
            submit_detached(
                inner,
                self.key,
                Change {
                    view: None,
                    op: Op::Touch,
                },
            );
        }
        Ok(Some(current))
    }

    async fn write(&self, view: &View, op: Op) -> Result<()> {
        let change = Change {
            view: Some(*view),
            op,
        };
        let backend = self.sessions.inner.store.backend_name();
        let write = submit(&self.sessions.inner, self.key, change);
        observe::operation("session", "write", backend, write).await
    }

    /// Commits an update of `key` in `view` (`page`: the writing page of a
    /// `Reconnect` key) on its own, from this task, and says how it ended.
    async fn commit_update(
        &self,
        view: &View,
        key: &str,
        page: Option<&str>,
        f: &mut UpdateFn<'_>,
    ) -> Result<()> {
        let mut answer = None;
        let update = Update {
            view: *view,
            key,
            page,
            f,
            answer: &mut answer,
        };
        commit_alone(&self.sessions.inner, self.key, update).await;
        // A commit answers every write it was given; this is only a fallback.
        answer.unwrap_or(Err(Error::WriterStopped))
    }
}

/// One view's slice of a session.
///
/// Every write is durable when it returns: the object store has accepted it.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> hyperstate::Result<()> {
/// # use std::sync::Arc;
/// # use hyperstate::{BrowserId, Key, PageId, Supervisor};
/// # use hyperstate::memory::MemoryDocumentStore;
/// # use hyperstate::session::{SessionOptions, SessionSecret, Sessions, View};
/// # let supervisor = Supervisor::new();
/// # let sessions = Sessions::new(Arc::new(MemoryDocumentStore::default()),
/// #     SessionSecret::generate(), SessionOptions::default(), &supervisor);
/// const THEME: Key<String> = Key::new("theme", || "light".to_owned());
/// const DRAFT: Key<String> = Key::or_default("draft");
///
/// static SETTINGS: View = View::new("settings").reconnect(&[DRAFT.name()]);
/// let browser = BrowserId::generate();
/// let tab = PageId::generate();
///
/// let settings = sessions.session(&browser, Some(tab)).view(&SETTINGS);
/// assert_eq!(settings.get(&THEME).await?, "light");
/// settings.put(&THEME, "dark").await?;
/// settings.put(&DRAFT, "Dear Sir,").await?;
///
/// // Another tab of the same browser sees the theme, not this tab's draft.
/// let other_tab = sessions.session(&browser, Some(PageId::generate())).view(&SETTINGS);
/// let state = other_tab.load().await?;
/// assert_eq!(state.get(&THEME)?, "dark");
/// assert_eq!(state.get(&DRAFT)?, "");
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct SessionView {
    session: Session,
    view: View,
}

impl fmt::Debug for SessionView {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionView")
            .field("session", &self.session)
            .field("view", &self.view.name())
            .finish()
    }
}

impl SessionView {
    /// Everything this request may recover from the view, in one read.
    pub async fn load(&self) -> Result<ViewState> {
        let slice = match self.session.load_shared().await? {
            Some(current) => current_slice(&current.doc, &self.view),
            None => ViewSlice::default(),
        };
        Ok(ViewState {
            view: self.view,
            slice,
            page: self.session.page.map(|page| page.to_string()),
        })
    }

    /// The value of `key` this request may recover, or the key's default.
    pub async fn get<T: DeserializeOwned>(&self, key: &Key<T>) -> Result<T> {
        validate_key(key.name(), &self.session.sessions.inner.options.limits)?;
        self.load().await?.get(key)
    }

    /// The value of the string key `key` this request may recover, or
    /// `default`. Prefer a typed [`Key`] and [`get`](Self::get).
    pub async fn get_or<T: DeserializeOwned>(&self, key: &str, default: T) -> Result<T> {
        validate_key(key, &self.session.sessions.inner.options.limits)?;
        self.load().await?.get_or(key, default)
    }

    /// Stores `value` under `key` (a [`Key<T>`] for a `T`, or a string key).
    /// `Reconnect` keys need the request's page id. To store several keys in
    /// one durable write, use [`write`](Self::write).
    pub async fn put<K, T>(&self, key: &K, value: &T) -> Result<()>
    where
        K: KeyFor<T> + ?Sized,
        T: Serialize + ?Sized,
    {
        let op = self.set_op(key.key_name(), value)?;
        self.session.write(&self.view, op).await
    }

    /// Removes `key`.
    pub async fn delete<K: KeyName + ?Sized>(&self, key: &K) -> Result<()> {
        let op = self.remove_op(key.key_name())?;
        self.session.write(&self.view, op).await
    }

    /// Atomically replaces the value of `key` this request may recover (or the
    /// key's default) with `f(value)`, durably, and returns the new value.
    /// Concurrent updates of one key, from any tab or node, never lose a write.
    ///
    /// `f` runs inside the commit, on the freshest document, and runs again
    /// when another node wrote the session meanwhile, so it should only compute
    /// the new value. The value returned is the one `f` produced on the run
    /// that was stored. A `Reconnect` key needs the request's page id.
    pub async fn update<T, F>(&self, key: &Key<T>, mut f: F) -> Result<T>
    where
        T: Serialize + DeserializeOwned + Send,
        F: FnMut(T) -> T + Send,
    {
        let updated = self
            .try_update(key, |value| Ok::<T, Infallible>(f(value)))
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
    /// # use hyperstate::{BrowserId, Key, Supervisor};
    /// # use hyperstate::memory::MemoryDocumentStore;
    /// # use hyperstate::session::{SessionOptions, SessionSecret, Sessions, View};
    /// # let supervisor = Supervisor::new();
    /// # let sessions = Sessions::new(Arc::new(MemoryDocumentStore::default()),
    /// #     SessionSecret::generate(), SessionOptions::default(), &supervisor);
    /// static PREFS: View = View::new("prefs");
    /// const FONT_SIZE: Key<u8> = Key::new("font_size", || 16);
    ///
    /// let prefs = sessions.session(&BrowserId::generate(), None).view(&PREFS);
    /// let bigger = |size: u8| if size < 18 { Ok(size + 2) } else { Err("already the largest") };
    /// assert_eq!(prefs.try_update(&FONT_SIZE, bigger).await?, Ok(18));
    /// assert_eq!(prefs.try_update(&FONT_SIZE, bigger).await?, Err("already the largest"));
    /// assert_eq!(prefs.get(&FONT_SIZE).await?, 18);
    /// # Ok(()) }
    /// ```
    pub async fn try_update<T, E, F>(&self, key: &Key<T>, f: F) -> Result<Result<T, E>>
    where
        T: Serialize + DeserializeOwned + Send,
        E: Send,
        F: FnMut(T) -> Result<T, E> + Send,
    {
        let backend = self.session.sessions.inner.store.backend_name();
        observe::operation("session", "update", backend, self.apply(key, f)).await
    }

    async fn apply<T, E, F>(&self, key: &Key<T>, mut f: F) -> Result<Result<T, E>>
    where
        T: Serialize + DeserializeOwned + Send,
        E: Send,
        F: FnMut(T) -> Result<T, E> + Send,
    {
        let limits = self.session.sessions.inner.options.limits;
        validate_key(key.name(), &limits)?;
        let page = self.writing_page(key.name())?;
        let mut produced = None;
        let stored = {
            let mut step = typed_step(key, limits, &mut f, &mut produced);
            self.session
                .commit_update(&self.view, key.name(), page.as_deref(), &mut step)
                .await
        };
        match outcome(stored, produced) {
            Some(result) => result,
            None => self.get(key).await.map(Ok),
        }
    }

    /// Starts a write of several keys that is committed as one unit, in one
    /// durable write: all of it is stored, or (an error) none of it.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> hyperstate::Result<()> {
    /// # use std::sync::Arc;
    /// # use hyperstate::{BrowserId, Key, PageId, Supervisor};
    /// # use hyperstate::memory::MemoryDocumentStore;
    /// # use hyperstate::session::{SessionOptions, SessionSecret, Sessions, View};
    /// # let supervisor = Supervisor::new();
    /// # let sessions = Sessions::new(Arc::new(MemoryDocumentStore::default()),
    /// #     SessionSecret::generate(), SessionOptions::default(), &supervisor);
    /// const THEME: Key<String> = Key::new("theme", || "light".to_owned());
    /// const FONT_SIZE: Key<u8> = Key::new("font_size", || 16);
    ///
    /// let prefs = sessions.session(&BrowserId::generate(), None).view(&View::new("prefs"));
    /// prefs
    ///     .write()
    ///     .put(&THEME, "dark")
    ///     .put(&FONT_SIZE, &18)
    ///     .commit()
    ///     .await?;
    /// let state = prefs.load().await?;
    /// assert_eq!((state.get(&THEME)?, state.get(&FONT_SIZE)?), ("dark".to_owned(), 18));
    /// # Ok(()) }
    /// ```
    pub fn write(&self) -> SessionWrite {
        SessionWrite::new(self.clone())
    }

    /// The operation that stores `value` under `key`, checked and encoded.
    pub(super) fn set_op<T: Serialize + ?Sized>(&self, key: &str, value: &T) -> Result<Op> {
        let limits = &self.session.sessions.inner.options.limits;
        validate_key(key, limits)?;
        let bytes = encode(key, value, limits)?;
        let value: Value = decode(key, &bytes)?;
        Ok(Op::Set {
            key: key.to_owned(),
            value,
            page: self.writing_page(key)?,
        })
    }

    /// The page a write of `key` is recorded under: the request's for a
    /// `Reconnect` key (which therefore needs one), none for a `Session` key.
    fn writing_page(&self, key: &str) -> Result<Option<String>> {
        match self.view.policy(key) {
            Policy::Session => Ok(None),
            Policy::Reconnect => match self.session.page {
                Some(page) => Ok(Some(page.to_string())),
                None => Err(Error::PageIdRequired {
                    key: key.to_owned(),
                }),
            },
        }
    }

    /// The operation that removes `key`, checked.
    pub(super) fn remove_op(&self, key: &str) -> Result<Op> {
        validate_key(key, &self.session.sessions.inner.options.limits)?;
        Ok(Op::Remove {
            key: key.to_owned(),
        })
    }

    /// Commits `op` to this view in one durable write.
    pub(super) async fn commit(&self, op: Op) -> Result<()> {
        self.session.write(&self.view, op).await
    }

    /// Drops the whole slice.
    pub async fn clear(&self) -> Result<()> {
        self.session.write(&self.view, Op::ClearView).await
    }

    /// Call on a fresh, full-page load of the view: drops its `Reconnect` values,
    /// so starting anew starts blank. Writes only when there is something to drop.
    pub async fn fresh_load(&self) -> Result<ViewState> {
        let state = self.load().await?;
        if state.slice.pages.is_empty() {
            return Ok(state);
        }
        self.session.write(&self.view, Op::ClearReconnect).await?;
        let mut state = state;
        for key in std::mem::take(&mut state.slice.pages).into_keys() {
            state.slice.data.remove(&key);
        }
        Ok(state)
    }
}

/// A snapshot of what one request may recover from one view.
#[derive(Debug, Clone)]
pub struct ViewState {
    view: View,
    slice: ViewSlice,
    page: Option<String>,
}

impl ViewState {
    /// The state of a view for a browser that has no session yet: every `get`
    /// returns its default.
    pub fn empty(view: &View, page: Option<PageId>) -> Self {
        ViewState {
            view: *view,
            slice: ViewSlice::default(),
            page: page.map(|page| page.to_string()),
        }
    }

    /// The value of `key`, or the key's default.
    pub fn get<T: DeserializeOwned>(&self, key: &Key<T>) -> Result<T> {
        self.read(key.name(), || key.default_value())
    }

    /// The value of the string key `key`, or `default`. Prefer a typed [`Key`]
    /// and [`get`](Self::get).
    pub fn get_or<T: DeserializeOwned>(&self, key: &str, default: T) -> Result<T> {
        self.read(key, || default)
    }

    fn read<T: DeserializeOwned>(&self, key: &str, default: impl FnOnce() -> T) -> Result<T> {
        match recover(&self.slice, &self.view, key, self.page.as_deref()) {
            Some(value) => T::deserialize(value).map_err(|source| Error::Json {
                key: key.to_owned(),
                direction: "deserialized",
                source,
            }),
            None => Ok(default()),
        }
    }

    /// The keys this request may recover, in order.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.slice
            .data
            .keys()
            .map(String::as_str)
            .filter(|key| recover(&self.slice, &self.view, key, self.page.as_deref()).is_some())
    }
}
