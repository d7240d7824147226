//! How a request finds its page.
//!
//! | request | page |
//! |---|---|
//! | `GET`/`HEAD` without `HX-Request` (a document load) | a fresh id, to inject into the HTML |
//! | any request with `X-Page-Id` | that page (malformed id: an error, 400) |
//! | a form post with a `_page_id` field | that page |
//! | anything else | none |
//!
//! An integration reads the header ([`from_header`]); when there is none and
//! the body is a form ([`is_form`]), it buffers the body, looks for the field
//! ([`from_form`]) and puts the body back; then [`PageSource::resolve`] applies
//! the table.

use http::{HeaderMap, HeaderName, Method, header};
use hyperstate::PageId;

/// The header htmx requests carry the page id in.
pub const PAGE_ID_HEADER: &str = "x-page-id";
/// [`PAGE_ID_HEADER`] as a name ready to look up (a `&str` is parsed on every lookup).
const PAGE_ID: HeaderName = HeaderName::from_static(PAGE_ID_HEADER);
/// The form field plain form posts carry the page id in.
pub const PAGE_ID_FIELD: &str = "_page_id";
/// The header htmx sets on every request it makes (`true`).
const HX_REQUEST: HeaderName = HeaderName::from_static("hx-request");

/// Where the request's page id came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageSource {
    /// Issued for this full page load.
    Fresh(PageId),
    /// Sent back by the browser (`X-Page-Id` header or `_page_id` form field).
    Carried(PageId),
    /// None: not a full page load, and none was sent.
    Absent,
}

impl PageSource {
    /// The page of a request that `carried` an id (or none), made by htmx or
    /// not, with `method`: a plain GET or HEAD that htmx did not make is the
    /// browser loading a document, which starts a new page; anything else
    /// continues the page it names, if any.
    pub fn resolve(carried: Option<PageId>, htmx: bool, method: &Method) -> Self {
        let is_document_load = !htmx && matches!(*method, Method::GET | Method::HEAD);
        match carried {
            Some(id) => PageSource::Carried(id),
            None if is_document_load => PageSource::Fresh(PageId::generate()),
            None => PageSource::Absent,
        }
    }

    /// The page id, if any.
    pub fn id(self) -> Option<PageId> {
        match self {
            PageSource::Fresh(id) | PageSource::Carried(id) => Some(id),
            PageSource::Absent => None,
        }
    }
}

/// True for requests htmx made (`HX-Request: true`).
pub fn is_htmx(headers: &HeaderMap) -> bool {
    headers.get(HX_REQUEST).is_some_and(|v| v == "true")
}

/// The page id of the `X-Page-Id` header, if there is one.
pub fn from_header(headers: &HeaderMap) -> Result<Option<PageId>, hyperstate::Error> {
    headers
        .get(PAGE_ID)
        .map(|value| {
            let text = value.to_str().map_err(|_| hyperstate::Error::MalformedId {
                what: "page id",
                reason: "not ASCII",
            })?;
            PageId::parse(text)
        })
        .transpose()
}

/// True when the body is a URL-encoded form, which may carry the page id in
/// its [`PAGE_ID_FIELD`].
pub fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(';').next().is_some_and(|mime| {
                mime.trim()
                    .eq_ignore_ascii_case("application/x-www-form-urlencoded")
            })
        })
}

/// The page id of a URL-encoded form body's [`PAGE_ID_FIELD`], if it has one.
pub fn from_form(body: &[u8]) -> Result<Option<PageId>, hyperstate::Error> {
    form_urlencoded::parse(body)
        .find(|(key, _)| key == PAGE_ID_FIELD)
        .map(|(_, value)| PageId::parse(&value))
        .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    #[test]
    fn form_content_type_is_recognised() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("Application/X-WWW-Form-Urlencoded; charset=UTF-8"),
        );
        assert!(is_form(&headers));
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        assert!(!is_form(&headers));
    }

    #[test]
    fn the_table_of_how_a_request_finds_its_page() {
        let id = PageId::generate();
        let fresh = |source| matches!(source, PageSource::Fresh(_));
        assert!(fresh(PageSource::resolve(None, false, &Method::GET)));
        assert!(fresh(PageSource::resolve(None, false, &Method::HEAD)));
        assert_eq!(
            PageSource::resolve(None, true, &Method::GET),
            PageSource::Absent
        );
        assert_eq!(
            PageSource::resolve(None, false, &Method::POST),
            PageSource::Absent
        );
        for (htmx, method) in [(true, Method::POST), (false, Method::GET)] {
            assert_eq!(
                PageSource::resolve(Some(id), htmx, &method),
                PageSource::Carried(id)
            );
        }
    }

    #[test]
    fn the_page_id_is_read_from_the_header_or_the_form() {
        let id = PageId::generate();
        let mut headers = HeaderMap::new();
        assert_eq!(from_header(&headers).unwrap(), None);
        headers.insert("x-page-id", HeaderValue::from_str(&id.to_string()).unwrap());
        assert_eq!(from_header(&headers).unwrap(), Some(id));
        headers.insert("x-page-id", HeaderValue::from_static("nope"));
        assert!(from_header(&headers).is_err());
        let body = format!("a=1&{PAGE_ID_FIELD}={id}");
        assert_eq!(from_form(body.as_bytes()).unwrap(), Some(id));
        assert_eq!(from_form(b"a=1").unwrap(), None);
        assert!(from_form(b"_page_id=nope").is_err());
    }
}
