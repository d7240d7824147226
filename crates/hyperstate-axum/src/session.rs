//! The `Session` extractor: durable state of the browser's session.

use std::fmt;

use axum::extract::FromRequestParts;
use http::request::Parts;
use hyperstate::session::{self as core, Sessions, View, ViewState};
use hyperstate::{Key, KeyFor, KeyName};
use serde::{Serialize, de::DeserializeOwned};

use crate::{Error, RequestContext};

/// The browser's durable session state (see [`hyperstate::session`]).
///
/// Reading never creates anything: a browser without the `hs_bid` cookie reads
/// defaults at no cost. The first *write* mints the browser id, and the response
/// sets the cookie (HttpOnly, SameSite=Lax, `Secure` unless turned off, `Max-Age`
/// the session TTL, issued again daily). Every write is durable when it returns.
///
/// ```
/// use axum::{Form, Router, routing::{get, post}};
/// use hyperstate::session::View;
/// use hyperstate_axum::{Error, Key, Session};
/// use std::sync::LazyLock;
///
/// static SETTINGS: LazyLock<View> = LazyLock::new(|| View::new("settings").reconnect("draft"));
/// const THEME: Key<String> = Key::new("theme", || "light".to_owned());
///
/// async fn show(session: Session) -> Result<String, Error> {
///     let state = session.view(&SETTINGS).load().await?;
///     Ok(format!("theme: {}", state.get(&THEME)?))
/// }
///
/// async fn set_theme(session: Session, Form(form): Form<std::collections::HashMap<String, String>>)
///     -> Result<&'static str, Error>
/// {
///     let theme = form.get("theme").map(String::as_str).unwrap_or("light");
///     session.view(&SETTINGS).put(&THEME, theme).await?;
///     Ok("saved")
/// }
///
/// let app: Router<()> = Router::new()
///     .route("/settings", get(show))
///     .route("/settings/theme", post(set_theme));
/// // ... .layer(state.layer()) with a `Hyperstate` built with `.sessions(...)`.
/// ```
///
/// Rejections: [`Error::SessionsNotConfigured`] (500) when the [`Hyperstate`](crate::Hyperstate)
/// was built without a session store. A first write refused by the client's
/// allowance of new browser ids is [`hyperstate::Error::RateLimited`] (429).
#[derive(Clone)]
pub struct Session {
    context: RequestContext,
    sessions: Sessions,
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("context", &self.context)
            .finish_non_exhaustive()
    }
}

impl Session {
    /// The handle on one view's slice of the session.
    pub fn view(&self, view: &View) -> SessionView {
        SessionView {
            session: self.clone(),
            view: view.clone(),
        }
    }

    /// The core handle for reads: `None` when the browser has no id yet (and so
    /// no session), which must not mint one.
    fn existing(&self) -> Option<core::Session> {
        let browser = self.context.browser_id()?;
        Some(self.sessions.session(&browser, self.context.page_id()))
    }

    /// The core handle for writes, minting the browser id if needed (which
    /// the client's allowance of new ids may refuse).
    fn minted(&self) -> Result<core::Session, Error> {
        let browser = self.context.browser_id_or_mint()?;
        Ok(self.sessions.session(&browser, self.context.page_id()))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Session {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let context = RequestContext::from_request_parts(parts, state).await?;
        let sessions = context
            .hyperstate()
            .sessions()
            .cloned()
            .ok_or(Error::SessionsNotConfigured)?;
        // Whatever the handler renders from here may be this browser's own.
        context.mark_private();
        Ok(Session { context, sessions })
    }
}

/// One view's slice of the browser's session, for one request.
#[derive(Debug, Clone)]
pub struct SessionView {
    session: Session,
    view: View,
}

impl SessionView {
    /// Everything this request may recover from the view, in one read.
    ///
    /// On a full page load (a fresh page id) this is a fresh navigation to the
    /// view: its `Reconnect` values are dropped first (one write, only if there
    /// are any), so a new visit starts with a blank draft. Only a navigation of
    /// this site's own (or a typed address, a bookmark) does that: a page load
    /// another site started ([`RequestContext::is_from_another_site`]) reads
    /// without clearing, so a link elsewhere cannot erase a draft.
    pub async fn load(&self) -> Result<ViewState, Error> {
        let context = &self.session.context;
        let Some(session) = self.session.existing() else {
            return Ok(ViewState::empty(&self.view, context.page_id()));
        };
        let view = session.view(&self.view);
        let state = if context.is_fresh_page_load() && !context.is_from_another_site() {
            view.fresh_load().await?
        } else {
            view.load().await?
        };
        Ok(state)
    }

    /// The value of `key` this request may recover, or the key's default.
    pub async fn get<T: DeserializeOwned>(&self, key: &Key<T>) -> Result<T, Error> {
        Ok(self.load().await?.get(key)?)
    }

    /// The value of the string key `key` this request may recover, or
    /// `default`. Prefer a typed [`Key`] and [`get`](Self::get).
    pub async fn get_or<T: DeserializeOwned>(&self, key: &str, default: T) -> Result<T, Error> {
        Ok(self.load().await?.get_or(key, default)?)
    }

    /// Stores `value` under `key` (a [`Key<T>`] for a `T`, or a string key),
    /// durably. Mints the browser id on the first write.
    pub async fn put<K, T>(&self, key: &K, value: &T) -> Result<(), Error>
    where
        K: KeyFor<T> + ?Sized,
        T: Serialize + ?Sized,
    {
        let session = self.session.minted()?;
        Ok(session.view(&self.view).put(key, value).await?)
    }

    /// Starts a write of several keys committed as one unit, in one durable
    /// write (see [`hyperstate::session::SessionWrite`]). Mints the browser id
    /// on the first write.
    pub fn write(&self) -> SessionWrite {
        SessionWrite(
            self.session
                .minted()
                .map(|session| session.view(&self.view).write()),
        )
    }

    /// Removes `key`. A browser without a session has nothing to remove.
    pub async fn delete<K: KeyName + ?Sized>(&self, key: &K) -> Result<(), Error> {
        match self.session.existing() {
            Some(session) => Ok(session.view(&self.view).delete(key).await?),
            None => Ok(()),
        }
    }

    /// Drops the whole slice.
    pub async fn clear(&self) -> Result<(), Error> {
        match self.session.existing() {
            Some(session) => Ok(session.view(&self.view).clear().await?),
            None => Ok(()),
        }
    }
}

/// Several writes to one view of the browser's session, stored by
/// [`commit`](Self::commit) in one durable write: all of them or none.
/// Obtained from [`SessionView::write`].
#[derive(Debug)]
#[must_use = "nothing is written until `commit().await`"]
pub struct SessionWrite(Result<core::SessionWrite, Error>);

impl SessionWrite {
    /// Adds storing `value` under `key`.
    pub fn put<K, T>(self, key: &K, value: &T) -> Self
    where
        K: KeyFor<T> + ?Sized,
        T: Serialize + ?Sized,
    {
        SessionWrite(self.0.map(|write| write.put(key, value)))
    }

    /// Adds removing `key`.
    pub fn delete<K: KeyName + ?Sized>(self, key: &K) -> Self {
        SessionWrite(self.0.map(|write| write.delete(key)))
    }

    /// Stores every write in one durable commit, or none of them.
    pub async fn commit(self) -> Result<(), Error> {
        Ok(self.0?.commit().await?)
    }
}
