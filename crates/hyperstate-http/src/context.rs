//! What an integration's middleware learned about a request, shared with its
//! extractors.

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

use hyperstate::identity::IssuedBrowserId;
use hyperstate::{BrowserId, PageId};

use crate::page_id::PageSource;
use crate::{ClientAddr, Hyperstate};

/// The per-request identity the integration's middleware works
/// out: the browser id from the cookie, the page id, and whether this is an htmx
/// request. Extractors for each scope build on it; apps rarely need it directly.
///
/// Only a cookie this server issued counts (see [`hyperstate::identity`]): a
/// missing, malformed, forged or expired one is no browser id.
///
/// The browser id is minted lazily: only an extractor that needs it (to write
/// state, or to bind a new page to its browser) calls
/// [`browser_id_or_mint`](Self::browser_id_or_mint), and only then does the
/// response set the cookie. Every extractor of one request sees the same id.
#[derive(Clone)]
pub struct RequestContext {
    inner: Arc<ContextInner>,
}

struct ContextInner {
    hyperstate: Hyperstate,
    cookie_browser: Option<IssuedBrowserId>,
    minted_browser: OnceLock<BrowserId>,
    page: PageSource,
    htmx: bool,
    from_another_site: bool,
    client: Option<ClientAddr>,
    /// Set when a handler used session state: the response then carries
    /// per-browser content that no shared cache may keep.
    private: AtomicBool,
}

impl fmt::Debug for RequestContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequestContext")
            .field("has_browser_cookie", &self.inner.cookie_browser.is_some())
            .field("page", &self.inner.page)
            .field("htmx", &self.inner.htmx)
            .field("from_another_site", &self.inner.from_another_site)
            .field("client", &self.inner.client)
            .finish()
    }
}

impl RequestContext {
    /// The context of one request, made by the integration's middleware from
    /// what it read of the request (see [`crate::browser_cookie::read`],
    /// [`PageSource::resolve`], [`crate::csrf::FetchSite`],
    /// [`ClientAddr::of_request`]).
    pub fn new(
        hyperstate: Hyperstate,
        cookie_browser: Option<IssuedBrowserId>,
        page: PageSource,
        htmx: bool,
        from_another_site: bool,
        client: Option<ClientAddr>,
    ) -> Self {
        RequestContext {
            inner: Arc::new(ContextInner {
                hyperstate,
                cookie_browser,
                minted_browser: OnceLock::new(),
                page,
                htmx,
                from_another_site,
                client,
                private: AtomicBool::new(false),
            }),
        }
    }

    /// The application's [`Hyperstate`].
    pub fn hyperstate(&self) -> &Hyperstate {
        &self.inner.hyperstate
    }

    /// The browser id from the cookie, or one minted earlier in this request.
    pub fn browser_id(&self) -> Option<BrowserId> {
        match self.inner.cookie_browser {
            Some(issued) => Some(issued.id),
            None => self.inner.minted_browser.get().copied(),
        }
    }

    /// The browser id, minting one (and setting the cookie on the response) if the
    /// browser has none yet.
    ///
    /// Minting takes one from the client's allowance of new browser ids
    /// ([`HttpConfig::browser_id_rate`](crate::HttpConfig::browser_id_rate));
    /// past it this is [`hyperstate::Error::RateLimited`] (429 with
    /// `Retry-After`).
    pub fn browser_id_or_mint(&self) -> Result<BrowserId, hyperstate::Error> {
        if let Some(id) = self.browser_id() {
            return Ok(id);
        }
        if let Some(limiter) = self.inner.hyperstate.browser_id_limiter() {
            limiter.check(self.inner.client)?;
        }
        Ok(*self.inner.minted_browser.get_or_init(BrowserId::generate))
    }

    /// The browser id the response must set as a cookie: one minted during this
    /// request, or the cookie's own when it is due to be issued again (signed by
    /// an older key, or older than the refresh interval). The integration's
    /// middleware issues it (see [`crate::browser_cookie::issue`]).
    pub fn browser_id_to_issue(&self, now: std::time::SystemTime) -> Option<BrowserId> {
        if let Some(minted) = self.inner.minted_browser.get() {
            return Some(*minted);
        }
        let issued = self.inner.cookie_browser?;
        let issuer = self.inner.hyperstate.browser_ids();
        issuer.needs_reissue(&issued, now).then_some(issued.id)
    }

    /// The page id of this request, if any: issued now for a full page load, or
    /// sent back by the page.
    pub fn page_id(&self) -> Option<PageId> {
        self.inner.page.id()
    }

    /// True when this request is a full page load that was issued a new page id.
    pub fn is_fresh_page_load(&self) -> bool {
        matches!(self.inner.page, PageSource::Fresh(_))
    }

    /// True when the browser says another site started this request
    /// (`Sec-Fetch-Site: cross-site` or `same-site`): a link or a redirect
    /// elsewhere, which must not change state. Absent, `none` (the address
    /// bar, a bookmark) and `same-origin` are false.
    pub fn is_from_another_site(&self) -> bool {
        self.inner.from_another_site
    }

    /// Marks the response as per-browser content: the layer then answers with
    /// `Cache-Control: private, no-store` unless the handler set its own.
    /// The integration's `Session` extractor calls it.
    pub fn mark_private(&self) {
        self.inner.private.store(true, Ordering::Relaxed);
    }

    /// True when a handler marked the response per-browser
    /// ([`Self::mark_private`]).
    pub fn is_private(&self) -> bool {
        self.inner.private.load(Ordering::Relaxed)
    }

    /// True for requests htmx made (`HX-Request: true`).
    pub fn is_htmx(&self) -> bool {
        self.inner.htmx
    }

    /// The client this request comes from, as configured by
    /// [`HttpConfig::client_ip`](crate::HttpConfig::client_ip): the key of
    /// per-client limits. `None` when the server recorded no peer address.
    pub fn client(&self) -> Option<ClientAddr> {
        self.inner.client
    }

    /// How this request found its page: what the integration's `Page`
    /// extractor opens.
    pub fn page_source(&self) -> PageSource {
        self.inner.page
    }
}
