//! Cross-site request forgery protection for state-changing requests.
//!
//! Browsers say where a request comes from: modern ones send `Sec-Fetch-Site`,
//! and all send `Origin` on cross-origin posts. A request with an unsafe method
//! (anything but GET, HEAD, OPTIONS, TRACE) is refused with 403 when:
//! - `Sec-Fetch-Site` is `cross-site` or `same-site` (a sibling subdomain is
//!   another site as far as state is concerned), or
//! - `Origin` is present and is neither this server's origin nor a trusted
//!   origin (`Origin: null`, sent by sandboxed frames and some redirects, is
//!   refused).
//!
//! This server's origin is the request's scheme and authority. The authority
//! is the request URI's when it has one (HTTP/2's `:authority`, an
//! absolute-form HTTP/1.1 target), else the `Host` header. The scheme is the
//! URI's when it has one, else `https` on an HTTPS deployment (TLS ended at a
//! proxy, [`HttpConfig::secure_cookie`](crate::HttpConfig::secure_cookie))
//! and `http` otherwise. Default ports (80, 443) are implied.
//!
//! A request with neither header is let through: it does not come from a browser
//! that could be tricked into sending it (curl, a server-side client), or comes
//! from a browser too old to send them, where the page-id header (a custom header
//! a cross-site form cannot set) still binds htmx requests to their page.

use http::uri::{Authority, Scheme};
use http::{HeaderMap, Method, Uri, header};

/// Where a request was sent, as far as its origin is concerned.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Target<'a> {
    /// The request URI (absolute in HTTP/2 and absolute-form HTTP/1.1).
    pub(crate) uri: &'a Uri,
    /// The deployment is served over HTTPS (perhaps by a proxy in front).
    pub(crate) https: bool,
}

/// Why a request was refused.
pub(crate) fn check(
    method: &Method,
    target: Target<'_>,
    headers: &HeaderMap,
    trusted_origins: &[String],
) -> Result<(), &'static str> {
    if matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
    ) {
        return Ok(());
    }
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        match site {
            "same-origin" | "none" => {}
            _ => return Err("cross-site request refused (Sec-Fetch-Site)"),
        }
    }
    let Some(origin) = headers.get(header::ORIGIN) else {
        return Ok(());
    };
    let origin = origin
        .to_str()
        .map_err(|_| "cross-site request refused (malformed Origin)")?;
    if trusted_origins
        .iter()
        .any(|trusted| trusted.eq_ignore_ascii_case(origin))
    {
        return Ok(());
    }
    let (origin_scheme, origin_authority) =
        parse_origin(origin).ok_or("cross-site request refused (opaque Origin)")?;
    let authority = match target.uri.authority() {
        Some(authority) => authority.clone(),
        None => headers
            .get(header::HOST)
            .and_then(|v| v.to_str().ok())
            .and_then(|host| host.parse::<Authority>().ok())
            .ok_or("cross-site request refused (no Host to compare Origin with)")?,
    };
    let scheme = match target.uri.scheme() {
        Some(scheme) => scheme.clone(),
        None if target.https => Scheme::HTTPS,
        None => Scheme::HTTP,
    };
    if origin_scheme != scheme {
        return Err("cross-site request refused (Origin scheme does not match the request's)");
    }
    if same_authority(&origin_authority, &authority, &scheme) {
        Ok(())
    } else {
        Err("cross-site request refused (Origin does not match the request's host)")
    }
}

/// `scheme://host[:port]` and nothing else (no user info, path or query).
fn parse_origin(origin: &str) -> Option<(Scheme, Authority)> {
    let uri: Uri = origin.parse().ok()?;
    let parts = uri.into_parts();
    let (scheme, authority) = (parts.scheme?, parts.authority?);
    let bare = parts
        .path_and_query
        .is_none_or(|pq| pq.as_str() == "/" && !origin.ends_with('/'));
    (bare && !authority.as_str().contains('@')).then_some((scheme, authority))
}

/// Same host (case-insensitive) and port, a missing port being the scheme's
/// default.
fn same_authority(a: &Authority, b: &Authority, scheme: &Scheme) -> bool {
    let default = if *scheme == Scheme::HTTPS { 443 } else { 80 };
    a.host().eq_ignore_ascii_case(b.host())
        && a.port_u16().unwrap_or(default) == b.port_u16().unwrap_or(default)
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_static(value));
        }
        map
    }

    fn check(method: &Method, h: &HeaderMap, trusted: &[String]) -> Result<(), &'static str> {
        let uri = Uri::from_static("/");
        let plain = Target {
            uri: &uri,
            https: false,
        };
        super::check(method, plain, h, trusted)
    }

    #[test]
    fn safe_methods_always_pass() {
        let h = headers(&[
            ("sec-fetch-site", "cross-site"),
            ("origin", "https://evil.example"),
        ]);
        assert!(check(&Method::GET, &h, &[]).is_ok());
    }

    #[test]
    fn same_origin_passes_and_cross_site_is_refused() {
        let same = headers(&[
            ("sec-fetch-site", "same-origin"),
            ("origin", "http://app.test:3000"),
            ("host", "app.test:3000"),
        ]);
        assert!(check(&Method::POST, &same, &[]).is_ok());
        for bad in [
            headers(&[("sec-fetch-site", "cross-site")]),
            headers(&[("sec-fetch-site", "same-site")]),
            headers(&[("origin", "https://evil.example"), ("host", "app.test")]),
            headers(&[("origin", "null"), ("host", "app.test")]),
            headers(&[
                ("origin", "http://app.test.evil.example"),
                ("host", "app.test"),
            ]),
        ] {
            assert!(check(&Method::POST, &bad, &[]).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn trusted_origins_and_header_less_clients_pass() {
        let proxied = headers(&[("origin", "https://app.example"), ("host", "10.0.0.5:8080")]);
        assert!(check(&Method::POST, &proxied, &["https://app.example".into()]).is_ok());
        assert!(check(&Method::DELETE, &HeaderMap::new(), &[]).is_ok());
    }

    #[test]
    fn the_authority_of_the_uri_stands_for_host() {
        // HTTP/2 sends `:authority` (the URI's) and no Host.
        let uri = Uri::from_static("http://app.test:3000/cart");
        let target = Target {
            uri: &uri,
            https: false,
        };
        let same = headers(&[("origin", "http://app.test:3000")]);
        assert!(super::check(&Method::POST, target, &same, &[]).is_ok());
        let other = headers(&[("origin", "http://evil.test:3000")]);
        assert!(super::check(&Method::POST, target, &other, &[]).is_err());
    }

    #[test]
    fn the_scheme_must_match_too() {
        let host = [("host", "app.test")];
        for origin in ["ftp://app.test", "https://app.test"] {
            let h = headers(&[host[0], ("origin", origin)]);
            assert!(check(&Method::POST, &h, &[]).is_err(), "{origin}");
        }
        let plain = headers(&[host[0], ("origin", "http://app.test")]);
        assert!(check(&Method::POST, &plain, &[]).is_ok());
        // Behind a TLS-ending proxy the request URI has no scheme: the
        // deployment says it is https.
        let secure = Target {
            uri: &Uri::from_static("/"),
            https: true,
        };
        let tls = headers(&[host[0], ("origin", "https://app.test:443")]);
        assert!(super::check(&Method::POST, secure, &tls, &[]).is_ok());
        assert!(super::check(&Method::POST, secure, &plain, &[]).is_err());
        // A URI's own scheme wins over the deployment's.
        let h2c = Uri::from_static("http://app.test/x");
        let target = Target {
            uri: &h2c,
            https: true,
        };
        assert!(super::check(&Method::POST, target, &plain, &[]).is_ok());
    }

    #[test]
    fn origins_with_more_than_scheme_and_host_are_refused() {
        for origin in ["http://user@app.test", "http://app.test/path", "app.test"] {
            let h = headers(&[("host", "app.test"), ("origin", origin)]);
            assert!(check(&Method::POST, &h, &[]).is_err(), "{origin}");
        }
    }
}
