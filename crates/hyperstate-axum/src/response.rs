//! The outbound half of the layer: the browser-id cookie and page-id injection.

use std::time::SystemTime;

use axum::body::Body;
use axum::response::Response;
use bytes::{Bytes, BytesMut};
use http::{HeaderValue, header};
use http_body_util::BodyExt;

use hyperstate_http::{HttpConfig, RequestContext, browser_cookie, inject};

/// Marks responses built from session state `Cache-Control: private,
/// no-store`, sets the browser-id cookie if the request minted an id or the
/// cookie is due to be issued again (its `Max-Age` is the cookie lifetime, the
/// session TTL), and injects the page id into full-page HTML.
pub(crate) async fn finish(
    mut response: Response,
    context: &RequestContext,
    config: &HttpConfig,
) -> Response {
    if context.is_private() {
        // Session state is per browser: no shared cache may keep or replay it.
        response
            .headers_mut()
            .entry(header::CACHE_CONTROL)
            .or_insert(HeaderValue::from_static("private, no-store"));
    }
    let now = SystemTime::now();
    if let Some(browser) = context.browser_id_to_issue(now) {
        let issuer = context.hyperstate().browser_ids();
        let cookie = browser_cookie::issue(
            issuer,
            &browser,
            &config.cookie_name,
            config.secure_cookie,
            now,
        );
        if let Some(value) = cookie {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
    }
    match context.page_id() {
        Some(page_id) if !context.is_htmx() && is_html_document(&response) => {
            inject_page_id(response, page_id, config.inject_limit).await
        }
        _ => response,
    }
}

fn is_html_document(response: &Response) -> bool {
    response.status().is_success()
        && response
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim_start().to_ascii_lowercase().starts_with("text/html"))
}

async fn inject_page_id(response: Response, page_id: hyperstate::PageId, limit: usize) -> Response {
    let declared = response
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<usize>().ok());
    if declared.is_some_and(|len| len > limit) {
        return response;
    }
    let (mut parts, mut body) = response.into_parts();
    let mut buffered = BytesMut::new();
    while let Some(frame) = body.frame().await {
        let data = match frame {
            Ok(frame) => match frame.into_data() {
                Ok(data) => data,
                Err(_) => continue, // trailers: HTML documents have none worth keeping
            },
            Err(err) => {
                tracing::warn!(error = %err, "response body failed while injecting the page id");
                return Response::from_parts(parts, Body::empty());
            }
        };
        buffered.extend_from_slice(&data);
        if buffered.len() > limit {
            // Too big to buffer: pass the document through untouched.
            let prefix =
                futures::stream::once(async move { Ok::<_, axum::Error>(buffered.freeze()) });
            let rest =
                futures::StreamExt::map(body.into_data_stream(), |r| r.map_err(axum::Error::new));
            let stream = futures::StreamExt::chain(prefix, rest);
            return Response::from_parts(parts, Body::from_stream(stream));
        }
    }
    let html: Bytes = buffered.freeze();
    let Some(injected) = inject::inject(&html, page_id) else {
        return Response::from_parts(parts, Body::from(html));
    };
    parts.headers.remove(header::CONTENT_LENGTH);
    // A cached copy would hand the same page id to a later load or another tab.
    parts
        .headers
        .entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    Response::from_parts(parts, Body::from(injected))
}
