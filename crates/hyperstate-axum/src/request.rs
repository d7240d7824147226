//! The inbound half of the layer: who is asking, and from which page.

use axum::body::Body;
use axum_htmx::HX_REQUEST;
use bytes::Bytes;
use http::{HeaderMap, HeaderName, Method, Request, header};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use std::time::SystemTime;

use hyperstate::PageId;
use hyperstate::identity::{BrowserIdIssuer, IssuedBrowserId};

use crate::context::PageSource;
use crate::{ClientAddr, Error, Hyperstate, RequestContext};
use hyperstate_http::csrf::{self, FetchSite};

/// The header htmx requests carry the page id in.
pub const PAGE_ID_HEADER: &str = "x-page-id";
/// [`PAGE_ID_HEADER`] as a name ready to look up (a `&str` is parsed on every lookup).
const PAGE_ID: HeaderName = HeaderName::from_static(PAGE_ID_HEADER);
/// The form field plain form posts carry the page id in.
pub const PAGE_ID_FIELD: &str = "_page_id";

/// Works out the request's context; for form posts without the header, reads the
/// body to find the `_page_id` field and puts the body back.
pub(crate) async fn prepare(
    request: Request<Body>,
    hyperstate: &Hyperstate,
) -> Result<(Request<Body>, RequestContext), Error> {
    let config = hyperstate.config();
    let headers = request.headers();
    let site = FetchSite::of(headers);
    if config.csrf_protection {
        let target = csrf::Target {
            uri: request.uri(),
            https: config.secure_cookie,
        };
        csrf::check(
            request.method(),
            target,
            site,
            headers,
            &config.trusted_origins,
        )
        .map_err(Error::CrossSite)?;
    }
    let htmx = headers.get(HX_REQUEST).is_some_and(|v| v == "true");
    let browser = browser_from_cookies(headers, &config.cookie_name, hyperstate.browser_ids());

    let header_id = headers
        .get(PAGE_ID)
        .map(|value| {
            let text = value.to_str().map_err(|_| hyperstate::Error::MalformedId {
                what: "page id",
                reason: "not ASCII",
            })?;
            PageId::parse(text)
        })
        .transpose()?;
    let form = header_id.is_none() && is_form(headers);

    let (request, carried) = match header_id {
        Some(id) => (request, Some(id)),
        None if form => {
            let (request, field) = page_id_from_form(request, config.form_body_limit).await?;
            (request, field.map(|text| PageId::parse(&text)).transpose()?)
        }
        None => (request, None),
    };

    // A plain GET that htmx did not make is the browser loading a document: it
    // starts a new page. Anything else continues the page it names, if any.
    let is_document_load = !htmx && matches!(*request.method(), Method::GET | Method::HEAD);
    let page = match carried {
        Some(id) => PageSource::Carried(id),
        None if is_document_load => PageSource::Fresh(PageId::generate()),
        None => PageSource::Absent,
    };
    let client = ClientAddr::of_request(&config.client_ip, request.headers(), request.extensions());
    let context = RequestContext::new(
        hyperstate.clone(),
        browser,
        page,
        htmx,
        site.is_another_site(),
        client,
    );
    Ok((request, context))
}

/// The browser id from the cookie, if this server issued it. A missing,
/// malformed, forged or expired cookie is no browser id (a new one is minted
/// when needed): a bad cookie must not lock a browser out, and a planted one
/// must not let its planter in. With several cookies of the name (a sibling
/// domain can add its own), the first one issued here counts.
fn browser_from_cookies(
    headers: &HeaderMap,
    name: &str,
    issuer: &BrowserIdIssuer,
) -> Option<IssuedBrowserId> {
    // Read lazily, one cookie at a time: the first valid one ends the search.
    let values = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|header| cookie_values(header, name));
    issuer.read(values, SystemTime::now())
}

/// The values of the cookies called `name` in one `Cookie` header, as the
/// `cookie` crate's `Cookie::split_parse` reads them (`name=value` pairs
/// between semicolons, each side trimmed, pieces without `=` or with an empty
/// name skipped), without building a `Cookie` for each.
fn cookie_values<'a>(header: &'a str, name: &'a str) -> impl Iterator<Item = &'a str> {
    header.split(';').filter_map(move |piece| {
        let (piece_name, value) = piece.split_once('=')?;
        let piece_name = piece_name.trim();
        (!piece_name.is_empty() && piece_name == name).then(|| value.trim())
    })
}

fn is_form(headers: &HeaderMap) -> bool {
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

async fn page_id_from_form(
    request: Request<Body>,
    limit: usize,
) -> Result<(Request<Body>, Option<String>), Error> {
    let (parts, body) = request.into_parts();
    let bytes: Bytes = match Limited::new(body, limit).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(err) if err.downcast_ref::<LengthLimitError>().is_some() => {
            return Err(Error::BodyTooLarge { limit });
        }
        Err(err) => return Err(Error::Body(axum::Error::new(err))),
    };
    let field = form_urlencoded::parse(&bytes)
        .find(|(key, _)| key == PAGE_ID_FIELD)
        .map(|(_, value)| value.into_owned());
    Ok((Request::from_parts(parts, Body::from(bytes)), field))
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;
    use hyperstate::BrowserId;
    use hyperstate::identity::{BrowserIdKey, BrowserIdKeys};
    use std::time::Duration;

    #[test]
    fn only_an_issued_browser_cookie_is_found_among_others() {
        let issuer = BrowserIdIssuer::new(
            BrowserIdKeys::new(BrowserIdKey::random()),
            Duration::from_secs(3600),
            Duration::from_secs(60),
        );
        let id = BrowserId::generate();
        let mut headers = HeaderMap::new();
        headers.append(
            header::COOKIE,
            HeaderValue::from_str(&format!("a=1; hs_bid=garbage; hs_bid={id}")).unwrap(),
        );
        assert_eq!(browser_from_cookies(&headers, "hs_bid", &issuer), None);
        let value = issuer.issue(&id, SystemTime::now());
        headers.append(
            header::COOKIE,
            HeaderValue::from_str(&format!("x=y; hs_bid={value}")).unwrap(),
        );
        let found = browser_from_cookies(&headers, "hs_bid", &issuer);
        assert_eq!(found.map(|issued| issued.id), Some(id));
    }

    #[test]
    fn cookie_values_are_read_as_the_cookie_crate_reads_them() {
        let headers = [
            "a=1; hs_bid=x; hs_bid = y ;hs_bid=",
            " ; flag; =z; hs_bid=\"q\"; hs_bidx=1; xhs_bid=2;hs_bid=a=b",
            "hs_bid",
            "",
        ];
        for header in headers {
            let expected: Vec<String> = cookie::Cookie::split_parse(header)
                .filter_map(Result::ok)
                .filter(|c| c.name() == "hs_bid")
                .map(|c| c.value().to_owned())
                .collect();
            let got: Vec<&str> = cookie_values(header, "hs_bid").collect();
            assert_eq!(got, expected, "{header:?}");
        }
    }

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
}
