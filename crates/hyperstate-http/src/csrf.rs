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
//! proxy: [`Target::https`]) and `http` otherwise. Default ports (80, 443) are implied.
//!
//! A request with neither header is let through: it does not come from a browser
//! that could be tricked into sending it (curl, a server-side client), or comes
//! from a browser too old to send them, where the page-id header (a custom header
//! a cross-site form cannot set) still binds htmx requests to their page.

use http::uri::{Authority, Scheme};
use http::{HeaderMap, HeaderName, Method, Uri, header};

/// `Sec-Fetch-Site`, as a name ready to look up (a `&str` is parsed on every lookup).
const SEC_FETCH_SITE: HeaderName = HeaderName::from_static("sec-fetch-site");

/// Where the browser says a request comes from (`Sec-Fetch-Site`), read once
/// per request for both the CSRF check and the session rule that a page load
/// another site started must not clear a draft.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FetchSite {
    /// No header, or one that is not visible ASCII (no browser sends that):
    /// the browser says nothing.
    Unknown,
    /// `same-origin`.
    SameOrigin,
    /// `none`: the user started it (address bar, bookmark).
    UserInitiated,
    /// `same-site`: a sibling subdomain, another site as far as state is concerned.
    SameSite,
    /// `cross-site`.
    CrossSite,
    /// Any other value.
    Other,
}

impl FetchSite {
    /// What `headers` say.
    pub fn of(headers: &HeaderMap) -> Self {
        let Some(value) = headers.get(SEC_FETCH_SITE) else {
            return FetchSite::Unknown;
        };
        match value.as_bytes() {
            b"same-origin" => FetchSite::SameOrigin,
            b"none" => FetchSite::UserInitiated,
            b"same-site" => FetchSite::SameSite,
            b"cross-site" => FetchSite::CrossSite,
            _ if value.to_str().is_err() => FetchSite::Unknown,
            _ => FetchSite::Other,
        }
    }

    /// Another site started the request (a sibling subdomain counts).
    pub fn is_another_site(self) -> bool {
        matches!(self, FetchSite::SameSite | FetchSite::CrossSite)
    }
}

/// Where a request was sent, as far as its origin is concerned.
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    /// The request URI (absolute in HTTP/2 and absolute-form HTTP/1.1).
    pub uri: &'a Uri,
    /// The deployment is served over HTTPS (perhaps by a proxy in front).
    pub https: bool,
}

/// Passes a request, or says why it is refused (answer 403 with the message).
/// `site` is what `headers` say in `Sec-Fetch-Site` ([`FetchSite::of`]);
/// `trusted_origins` are origins accepted besides the request's own.
pub fn check(
    method: &Method,
    target: Target<'_>,
    site: FetchSite,
    headers: &HeaderMap,
    trusted_origins: &[String],
) -> Result<(), &'static str> {
    if matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
    ) {
        return Ok(());
    }
    match site {
        FetchSite::Unknown | FetchSite::SameOrigin | FetchSite::UserInitiated => {}
        FetchSite::SameSite | FetchSite::CrossSite | FetchSite::Other => {
            return Err("cross-site request refused (Sec-Fetch-Site)");
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
    if is_exactly_the_target(origin, target, headers) {
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

/// The common case, answered without parsing: `origin` is byte for byte
/// `scheme://authority` of the request, the authority a plain host name or
/// IPv4 address with perhaps a port. Whatever this accepts, the full
/// comparison below accepts too (a test checks it); anything else is left to it.
fn is_exactly_the_target(origin: &str, target: Target<'_>, headers: &HeaderMap) -> bool {
    let scheme = match target.uri.scheme_str() {
        Some(scheme) => scheme,
        None if target.https => "https",
        None => "http",
    };
    let authority = match target.uri.authority() {
        Some(authority) => authority.as_str(),
        None => match headers.get(header::HOST).map(|host| host.to_str()) {
            Some(Ok(host)) => host,
            _ => return false,
        },
    };
    let Some(rest) = origin.strip_prefix(scheme) else {
        return false;
    };
    matches!(scheme, "http" | "https")
        && rest.strip_prefix("://") == Some(authority)
        && is_plain_authority(authority)
}

/// `host[:port]`, the host of letters, digits, `.` and `-` only, the port of
/// one to five digits at most 65535.
fn is_plain_authority(authority: &str) -> bool {
    let (host, port) = match authority.split_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (authority, None),
    };
    let host_ok = !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-');
    let port_ok = port.is_none_or(|port| {
        (1..=5).contains(&port.len())
            && port.bytes().all(|b| b.is_ascii_digit())
            && port.parse::<u16>().is_ok()
    });
    host_ok && port_ok
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
        super::check(method, plain, FetchSite::of(h), h, trusted)
    }

    /// `check` on a target, with `Sec-Fetch-Site` read from `h`.
    fn check_at(target: Target<'_>, h: &HeaderMap) -> Result<(), &'static str> {
        super::check(&Method::POST, target, FetchSite::of(h), h, &[])
    }

    #[test]
    fn sec_fetch_site_is_read_once_for_both_uses() {
        let cases = [
            ("same-origin", FetchSite::SameOrigin, true, false),
            ("none", FetchSite::UserInitiated, true, false),
            ("same-site", FetchSite::SameSite, false, true),
            ("cross-site", FetchSite::CrossSite, false, true),
            ("Cross-Site", FetchSite::Other, false, false),
            ("nested-navigate", FetchSite::Other, false, false),
        ];
        for (value, site, passes, another_site) in cases {
            let h = headers(&[("sec-fetch-site", value)]);
            assert_eq!(FetchSite::of(&h), site, "{value}");
            assert_eq!(check(&Method::POST, &h, &[]).is_ok(), passes, "{value}");
            assert_eq!(site.is_another_site(), another_site, "{value}");
        }
        let mut opaque = HeaderMap::new();
        opaque.insert(
            "sec-fetch-site",
            HeaderValue::from_bytes(b"cross-site\xff").unwrap(),
        );
        assert_eq!(FetchSite::of(&opaque), FetchSite::Unknown);
        assert_eq!(FetchSite::of(&HeaderMap::new()), FetchSite::Unknown);
    }

    /// Whatever the unparsed comparison accepts, the full one accepts: the
    /// shortcut never lets through a request the check would refuse.
    #[test]
    fn the_exact_origin_shortcut_agrees_with_the_full_comparison() {
        let hosts = [
            "app.test",
            "app.test:3000",
            "APP.test",
            "127.0.0.1:8080",
            "app.test:65535",
            "app.test:65536",
            "app.test:",
            "app.test:80",
            "a/b",
            "user@app.test",
            "[::1]:3000",
            "app.test:3000:1",
            "",
            "app_test",
            "-.",
        ];
        let origins = |host: &str| {
            [
                format!("http://{host}"),
                format!("https://{host}"),
                format!("HTTP://{host}"),
                format!("http://{host}/"),
                format!("http://{host}:80"),
            ]
        };
        let mut shortcuts = 0;
        for host in hosts {
            for https in [false, true] {
                let uri = Uri::from_static("/");
                let target = Target { uri: &uri, https };
                for origin in origins(host) {
                    let mut h = HeaderMap::new();
                    let (Ok(host_value), Ok(origin_value)) =
                        (HeaderValue::from_str(host), HeaderValue::from_str(&origin))
                    else {
                        continue;
                    };
                    h.insert(header::HOST, host_value);
                    h.insert(header::ORIGIN, origin_value);
                    if is_exactly_the_target(&origin, target, &h) {
                        shortcuts += 1;
                        // The full comparison, without the shortcut.
                        let parsed = parse_origin(&origin).expect(&origin);
                        let authority: Authority = host.parse().expect(host);
                        let scheme = if https { Scheme::HTTPS } else { Scheme::HTTP };
                        assert_eq!(parsed.0, scheme, "{origin}");
                        assert!(same_authority(&parsed.1, &authority, &scheme), "{origin}");
                    }
                    // And the check as a whole agrees with the full comparison.
                    let full = parse_origin(&origin).is_some_and(|(scheme, authority)| {
                        let expected = if https { Scheme::HTTPS } else { Scheme::HTTP };
                        host.parse::<Authority>().is_ok_and(|host| {
                            scheme == expected && same_authority(&authority, &host, &expected)
                        })
                    });
                    assert_eq!(check_at(target, &h).is_ok(), full, "{origin} on {host}");
                }
            }
        }
        assert!(shortcuts >= 8, "the shortcut was taken {shortcuts} times");
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
        assert!(check_at(target, &same).is_ok());
        let other = headers(&[("origin", "http://evil.test:3000")]);
        assert!(check_at(target, &other).is_err());
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
        assert!(check_at(secure, &tls).is_ok());
        assert!(check_at(secure, &plain).is_err());
        // A URI's own scheme wins over the deployment's.
        let h2c = Uri::from_static("http://app.test/x");
        let target = Target {
            uri: &h2c,
            https: true,
        };
        assert!(check_at(target, &plain).is_ok());
    }

    #[test]
    fn origins_with_more_than_scheme_and_host_are_refused() {
        for origin in ["http://user@app.test", "http://app.test/path", "app.test"] {
            let h = headers(&[("host", "app.test"), ("origin", origin)]);
            assert!(check(&Method::POST, &h, &[]).is_err(), "{origin}");
        }
    }
}
