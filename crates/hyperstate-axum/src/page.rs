//! The `Page` extractor: a handle on the current page's state.

use std::ops::Deref;

use axum::extract::FromRequestParts;
use http::request::Parts;
use hyperstate::page::{self, PageStatus};

use crate::{Error, ExpiredPage, RequestContext};
use hyperstate_http::page_id::PageSource;

/// The state of the page this request came from (or, on a full page load, of the
/// page being rendered). Dereferences to [`hyperstate::page::Page`]: `get`, `put`,
/// `update`, `delete`, `clear`.
///
/// Rejections:
/// - [`Error::MissingPageId`] (400) when the request carries no page id;
/// - [`Error::PageExpired`] (`HX-Refresh: true`) for an expired page on an htmx
///   request when [`ExpiredPage::Refresh`] is configured;
/// - a backend error (503) when the page could not be opened;
/// - [`hyperstate::Error::RateLimited`] (429) when a browser without a cookie
///   needs a new id and its client has used up its allowance
///   ([`HttpConfig::browser_id_rate`](crate::HttpConfig::browser_id_rate)).
///
/// A page is bound to the browser that uses it first: taking this extractor on the
/// full page load that renders the page mints the browser-id cookie there, so the
/// page's id is bound before any htmx request can race to use it.
#[derive(Debug, Clone)]
pub struct Page(pub page::Page);

impl Deref for Page {
    type Target = page::Page;
    fn deref(&self) -> &page::Page {
        &self.0
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Page {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let context = RequestContext::from_request_parts(parts, state).await?;
        let store = context.hyperstate().pages().clone();
        let browser = context.browser_id_or_mint()?;
        let page = match context.page_source() {
            PageSource::Fresh(id) => page::Page::fresh(store, &browser, id),
            PageSource::Carried(id) => page::Page::open(store, &browser, id).await?,
            PageSource::Absent => return Err(Error::MissingPageId),
        };
        let refresh = context.hyperstate().config().expired_page == ExpiredPage::Refresh;
        if refresh && context.is_htmx() && page.status() == PageStatus::Expired {
            return Err(Error::PageExpired);
        }
        Ok(Page(page))
    }
}
