//! The session as a web request sees it: the browser id is minted on the
//! first write, never on a read.
//!
//! A browser without an id (no cookie yet) has no session: reading it costs
//! nothing and creates nothing; the first write mints the id, which the
//! integration then sets as a cookie. A fresh navigation to a view clears its
//! `Reconnect` values, unless another site started it. Web integrations wrap
//! [`RequestSession`] in their extractor; the rule lives here, once.

use std::convert::Infallible;
use std::fmt;
use std::sync::Arc;

use serde::{Serialize, de::DeserializeOwned};

use super::{Session, SessionWrite, Sessions, View, ViewState};
use crate::{BrowserId, Key, KeyFor, KeyName, PageId, Result};

/// What a request knows about its browser and page, as the session rule
/// needs it. A web integration implements it on its per-request context.
pub trait RequestIdentity: Send + Sync {
    /// The browser id from the request's cookie, or one minted earlier in
    /// this request.
    fn browser_id(&self) -> Option<BrowserId>;

    /// The browser id, minting one if the browser has none yet (which a
    /// per-client allowance may refuse, as [`Error::RateLimited`](crate::Error::RateLimited)).
    fn browser_id_or_mint(&self) -> Result<BrowserId>;

    /// The request's page, if any.
    fn page_id(&self) -> Option<PageId>;

    /// True for a full page load that was issued a new page id.
    fn is_fresh_page_load(&self) -> bool;

    /// True when the browser says another site started the request (a link
    /// elsewhere must not erase a draft).
    fn is_from_another_site(&self) -> bool;
}

/// The browser's durable session state, for one request (see the module
/// docs for when the browser id is minted). Cheap to clone.
#[derive(Clone)]
pub struct RequestSession {
    identity: Arc<dyn RequestIdentity>,
    sessions: Sessions,
}

impl fmt::Debug for RequestSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequestSession")
            .field("has_browser_id", &self.identity.browser_id().is_some())
            .field("page", &self.identity.page_id())
            .finish_non_exhaustive()
    }
}

impl RequestSession {
    /// The session of the request `identity` describes, in `sessions`.
    pub fn new(sessions: Sessions, identity: Arc<dyn RequestIdentity>) -> Self {
        RequestSession { identity, sessions }
    }

    /// The handle on one view's slice of the session.
    pub fn view(&self, view: &View) -> RequestSessionView {
        RequestSessionView {
            session: self.clone(),
            view: *view,
        }
    }

    /// The core handle for reads: `None` when the browser has no id yet (and so
    /// no session), which must not mint one.
    fn existing(&self) -> Option<Session> {
        let browser = self.identity.browser_id()?;
        Some(self.sessions.session(&browser, self.identity.page_id()))
    }

    /// The core handle for writes, minting the browser id if needed (which
    /// the client's allowance of new ids may refuse).
    fn minted(&self) -> Result<Session> {
        let browser = self.identity.browser_id_or_mint()?;
        Ok(self.sessions.session(&browser, self.identity.page_id()))
    }
}

/// One view's slice of the browser's session, for one request.
#[derive(Debug, Clone)]
pub struct RequestSessionView {
    session: RequestSession,
    view: View,
}

impl RequestSessionView {
    /// Everything this request may recover from the view, in one read.
    ///
    /// On a full page load (a fresh page id) this is a fresh navigation to the
    /// view: its `Reconnect` values are dropped first (one write, only if there
    /// are any), so a new visit starts with a blank draft. Only a navigation of
    /// this site's own (or a typed address, a bookmark) does that: a page load
    /// another site started ([`RequestIdentity::is_from_another_site`]) reads
    /// without clearing, so a link elsewhere cannot erase a draft.
    pub async fn load(&self) -> Result<ViewState> {
        let identity = &self.session.identity;
        let Some(session) = self.session.existing() else {
            return Ok(ViewState::empty(&self.view, identity.page_id()));
        };
        let view = session.view(&self.view);
        if identity.is_fresh_page_load() && !identity.is_from_another_site() {
            view.fresh_load().await
        } else {
            view.load().await
        }
    }

    /// The value of `key` this request may recover, or the key's default.
    pub async fn get<T: DeserializeOwned>(&self, key: &Key<T>) -> Result<T> {
        self.load().await?.get(key)
    }

    /// The value of the string key `key` this request may recover, or
    /// `default`. Prefer a typed [`Key`] and [`get`](Self::get).
    pub async fn get_or<T: DeserializeOwned>(&self, key: &str, default: T) -> Result<T> {
        self.load().await?.get_or(key, default)
    }

    /// Stores `value` under `key` (a [`Key<T>`] for a `T`, or a string key),
    /// durably. Mints the browser id on the first write.
    pub async fn put<K, T>(&self, key: &K, value: &T) -> Result<()>
    where
        K: KeyFor<T> + ?Sized,
        T: Serialize + ?Sized,
    {
        let session = self.session.minted()?;
        session.view(&self.view).put(key, value).await
    }

    /// Atomically replaces the value of `key` (or its default) with `f(value)`,
    /// durably, and returns the new value (see
    /// [`SessionView::update`](super::SessionView::update)). Mints the browser
    /// id on the first write.
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
    /// own: then nothing is written and its error is returned as
    /// `Ok(Err(error))` (see
    /// [`SessionView::try_update`](super::SessionView::try_update)). A declined
    /// update of a browser without a session mints no browser id.
    pub async fn try_update<T, E, F>(&self, key: &Key<T>, mut f: F) -> Result<Result<T, E>>
    where
        T: Serialize + DeserializeOwned + Send,
        E: Send,
        F: FnMut(T) -> Result<T, E> + Send,
    {
        if let Some(session) = self.session.existing() {
            return session.view(&self.view).try_update(key, f).await;
        }
        // No browser id yet, so no session: `f` sees the default. Only a
        // value to store is worth minting an id for. The update itself then
        // runs `f` again, on whatever the new session holds by then (another
        // write of this request may have minted the id meanwhile).
        if let Err(declined) = f(key.default_value()) {
            return Ok(Err(declined));
        }
        let session = self.session.minted()?;
        session.view(&self.view).try_update(key, f).await
    }

    /// Starts a write of several keys committed as one unit, in one durable
    /// write (see [`SessionWrite`]). Mints the browser id on the first write.
    pub fn write(&self) -> RequestSessionWrite {
        RequestSessionWrite(
            self.session
                .minted()
                .map(|session| session.view(&self.view).write()),
        )
    }

    /// Removes `key`. A browser without a session has nothing to remove.
    pub async fn delete<K: KeyName + ?Sized>(&self, key: &K) -> Result<()> {
        match self.session.existing() {
            Some(session) => session.view(&self.view).delete(key).await,
            None => Ok(()),
        }
    }

    /// Drops the whole slice.
    pub async fn clear(&self) -> Result<()> {
        match self.session.existing() {
            Some(session) => session.view(&self.view).clear().await,
            None => Ok(()),
        }
    }
}

/// Several writes to one view of the browser's session, stored by
/// [`commit`](Self::commit) in one durable write: all of them or none.
/// Obtained from [`RequestSessionView::write`]; a refused mint of the browser
/// id is reported by `commit`.
#[derive(Debug)]
#[must_use = "nothing is written until `commit().await`"]
pub struct RequestSessionWrite(Result<SessionWrite>);

impl RequestSessionWrite {
    /// Adds storing `value` under `key`.
    pub fn put<K, T>(self, key: &K, value: &T) -> Self
    where
        K: KeyFor<T> + ?Sized,
        T: Serialize + ?Sized,
    {
        RequestSessionWrite(self.0.map(|write| write.put(key, value)))
    }

    /// Adds removing `key`.
    pub fn delete<K: KeyName + ?Sized>(self, key: &K) -> Self {
        RequestSessionWrite(self.0.map(|write| write.delete(key)))
    }

    /// Stores every write in one durable commit, or none of them.
    pub async fn commit(self) -> Result<()> {
        self.0?.commit().await
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;
    use crate::Supervisor;
    use crate::memory::MemoryDocumentStore;
    use crate::session::{SessionOptions, SessionSecret};

    /// A request of a browser that may have an id, on a page.
    struct Request {
        browser: Mutex<Option<BrowserId>>,
        page: PageId,
        fresh: bool,
        from_another_site: bool,
    }

    impl RequestIdentity for Request {
        fn browser_id(&self) -> Option<BrowserId> {
            *self.browser.lock().unwrap()
        }
        fn browser_id_or_mint(&self) -> Result<BrowserId> {
            Ok(*self
                .browser
                .lock()
                .unwrap()
                .get_or_insert_with(BrowserId::generate))
        }
        fn page_id(&self) -> Option<PageId> {
            Some(self.page)
        }
        fn is_fresh_page_load(&self) -> bool {
            self.fresh
        }
        fn is_from_another_site(&self) -> bool {
            self.from_another_site
        }
    }

    fn request(browser: Option<BrowserId>, page: PageId, fresh: bool, other: bool) -> Arc<Request> {
        Arc::new(Request {
            browser: Mutex::new(browser),
            page,
            fresh,
            from_another_site: other,
        })
    }

    const THEME: Key<String> = Key::new("theme", || "light".to_owned());
    const DRAFT: Key<String> = Key::or_default("draft");

    #[tokio::test]
    async fn reads_never_mint_the_first_write_does_and_fresh_loads_clear_drafts() {
        let supervisor = Supervisor::new();
        let sessions = Sessions::new(
            Arc::new(MemoryDocumentStore::default()),
            SessionSecret::generate(),
            SessionOptions::default(),
            &supervisor,
        );
        static SETTINGS: View = View::new("settings").reconnect(&[DRAFT.name()]);
        let view = SETTINGS;
        let page = PageId::generate();

        let first = request(None, page, true, false);
        let session = RequestSession::new(sessions.clone(), first.clone());
        assert_eq!(session.view(&view).get(&THEME).await.unwrap(), "light");
        session.view(&view).delete(&THEME).await.unwrap();
        session.view(&view).clear().await.unwrap();
        assert_eq!(first.browser_id(), None, "a read or a no-op minted an id");
        session
            .view(&view)
            .write()
            .put(&THEME, "dark")
            .put(&DRAFT, "Dear Sir,")
            .commit()
            .await
            .unwrap();
        let browser = first.browser_id().expect("the first write mints the id");

        // An htmx request of the same page recovers the draft.
        let htmx = request(Some(browser), page, false, false);
        let settings = RequestSession::new(sessions.clone(), htmx).view(&view);
        assert_eq!(settings.get(&DRAFT).await.unwrap(), "Dear Sir,");

        // A page load another site started reads without clearing.
        let linked = request(Some(browser), page, true, true);
        let settings = RequestSession::new(sessions.clone(), linked).view(&view);
        assert_eq!(settings.get(&DRAFT).await.unwrap(), "Dear Sir,");

        // A fresh visit of this site's own starts a blank draft, keeps the theme.
        let fresh = request(Some(browser), page, true, false);
        let settings = RequestSession::new(sessions.clone(), fresh).view(&view);
        let state = settings.load().await.unwrap();
        assert_eq!(state.get(&DRAFT).unwrap(), "");
        assert_eq!(state.get(&THEME).unwrap(), "dark");
        supervisor.shutdown().await;
    }

    #[tokio::test]
    async fn a_declined_update_mints_nothing_an_accepted_one_mints_and_writes() {
        const SEATS: Key<u32> = Key::new("seats", || 1);
        static BOOKING: View = View::new("booking");
        let supervisor = Supervisor::new();
        let sessions = Sessions::new(
            Arc::new(MemoryDocumentStore::default()),
            SessionSecret::generate(),
            SessionOptions::default(),
            &supervisor,
        );
        let take = |seats: u32| seats.checked_sub(1).ok_or("sold out");
        let request = request(None, PageId::generate(), false, false);
        let booking = RequestSession::new(sessions.clone(), request.clone()).view(&BOOKING);

        let declined = booking.try_update(&SEATS, |_| Err::<u32, _>("closed"));
        assert_eq!(declined.await.unwrap(), Err("closed"));
        assert_eq!(request.browser_id(), None, "a declined update minted an id");

        assert_eq!(booking.try_update(&SEATS, take).await.unwrap(), Ok(0));
        let browser = request
            .browser_id()
            .expect("an accepted update mints the id");
        assert_eq!(
            booking.try_update(&SEATS, take).await.unwrap(),
            Err("sold out")
        );
        assert_eq!(booking.update(&SEATS, |n| n + 2).await.unwrap(), 2);
        let stored = sessions.session(&browser, None).view(&BOOKING);
        assert_eq!(stored.get(&SEATS).await.unwrap(), 2);
        supervisor.shutdown().await;
    }
}
