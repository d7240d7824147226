//! The inbound half of the layer: who is asking, and from which page.

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::ConnectInfo;
use bytes::Bytes;
use http::Request;
use http_body_util::{BodyExt, LengthLimitError, Limited};

use hyperstate_http::csrf::{self, FetchSite};
use hyperstate_http::page_id::{self, PageSource};
use hyperstate_http::{ClientAddr, Hyperstate, RequestContext, browser_cookie};

use crate::Error;

/// Works out the request's context (which keeps `hyperstate`); for form posts
/// without the header, reads the body to find the `_page_id` field and puts
/// the body back.
pub(crate) async fn prepare(
    request: Request<Body>,
    hyperstate: Hyperstate,
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
    let htmx = page_id::is_htmx(headers);
    let browser = browser_cookie::read(headers, &config.cookie_name, hyperstate.browser_ids());

    let header_id = page_id::from_header(headers)?;
    let form = header_id.is_none() && page_id::is_form(headers);
    let (request, carried) = match header_id {
        Some(id) => (request, Some(id)),
        None if form => page_id_from_form(request, config.form_body_limit).await?,
        None => (request, None),
    };

    let page = PageSource::resolve(carried, htmx, request.method());
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip());
    let client = ClientAddr::of_request(&config.client_ip, request.headers(), peer);
    let context = RequestContext::new(
        hyperstate,
        browser,
        page,
        htmx,
        site.is_another_site(),
        client,
    );
    Ok((request, context))
}

/// Buffers a form body (up to `limit` bytes), finds the page id in it, and
/// puts the body back for the handler.
async fn page_id_from_form(
    request: Request<Body>,
    limit: usize,
) -> Result<(Request<Body>, Option<hyperstate::PageId>), Error> {
    let (parts, body) = request.into_parts();
    let bytes: Bytes = match Limited::new(body, limit).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(err) if err.downcast_ref::<LengthLimitError>().is_some() => {
            return Err(Error::BodyTooLarge { limit });
        }
        Err(err) => return Err(Error::Body(axum::Error::new(err))),
    };
    let id = page_id::from_form(&bytes)?;
    Ok((Request::from_parts(parts, Body::from(bytes)), id))
}
