//! Cross-site request forgery protection for state-changing requests.
//!
//! Browsers say where a request comes from: modern ones send `Sec-Fetch-Site`,
//! and all send `Origin` on cross-origin posts. A request with an unsafe method
//! (anything but GET, HEAD, OPTIONS, TRACE) is refused with 403 when:
//! - `Sec-Fetch-Site` is `cross-site` or `same-site` (a sibling subdomain is
//!   another site as far as state is concerned), or
//! - `Origin` is present and is neither this host nor a trusted origin
//!   (`Origin: null`, sent by sandboxed frames and some redirects, is refused).
//!
//! A request with neither header is let through: it does not come from a browser
//! that could be tricked into sending it (curl, a server-side client), or comes
//! from a browser too old to send them, where the page-id header (a custom header
//! a cross-site form cannot set) still binds htmx requests to their page.

use http::{HeaderMap, Method, header};

/// Why a request was refused.
pub(crate) fn check(
    method: &Method,
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
    // `Origin` is `scheme://host[:port]`; it must name the host this request was
    // sent to.
    let authority = origin
        .split_once("://")
        .map(|(_, authority)| authority)
        .ok_or("cross-site request refused (opaque Origin)")?;
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .ok_or("cross-site request refused (no Host to compare Origin with)")?;
    if authority.eq_ignore_ascii_case(host) {
        Ok(())
    } else {
        Err("cross-site request refused (Origin does not match Host)")
    }
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
}
