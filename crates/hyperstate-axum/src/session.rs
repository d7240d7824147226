//! The `Session` extractor: durable state of the browser's session.

use std::ops::Deref;
use std::sync::Arc;

use axum::extract::FromRequestParts;
use http::request::Parts;
use hyperstate::session::RequestSession;

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
///
/// const THEME: Key<String> = Key::new("theme", || "light".to_owned());
/// const DRAFT: Key<String> = Key::or_default("draft");
/// static SETTINGS: View = View::new("settings").reconnect(&[DRAFT.name()]);
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
///
/// The rule (reads never mint, the first write does; a fresh page load clears
/// `Reconnect` values unless another site started it) is the core's
/// [`RequestSession`]: this extractor is that type, for axum, and dereferences
/// to it.
#[derive(Debug, Clone)]
pub struct Session(pub RequestSession);

impl Deref for Session {
    type Target = RequestSession;
    fn deref(&self) -> &RequestSession {
        &self.0
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
        Ok(Session(RequestSession::new(sessions, Arc::new(context.0))))
    }
}
