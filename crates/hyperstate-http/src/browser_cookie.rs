//! The browser-id cookie: finding an issued one among a request's cookies,
//! and the `Set-Cookie` value that issues one.

use std::time::SystemTime;

use cookie::{Cookie, SameSite};

use http::{HeaderMap, HeaderValue, header};
use hyperstate::BrowserId;
use hyperstate::identity::{BrowserIdIssuer, IssuedBrowserId};

/// The browser id from the cookie called `name`, if this server issued it. A
/// missing, malformed, forged or expired cookie is no browser id (a new one
/// is minted when needed): a bad cookie must not lock a browser out, and a
/// planted one must not let its planter in. With several cookies of the name
/// (a sibling domain can add its own), the first one issued here counts.
pub fn read(headers: &HeaderMap, name: &str, issuer: &BrowserIdIssuer) -> Option<IssuedBrowserId> {
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

/// The `Set-Cookie` value issuing `browser` at `now` under `name`: path `/`,
/// HttpOnly, SameSite=Lax, `Secure` when `secure`, `Max-Age` the issuer's
/// lifetime (the session TTL). `None` if the name cannot be a header value.
pub fn issue(
    issuer: &BrowserIdIssuer,
    browser: &BrowserId,
    name: &str,
    secure: bool,
    now: SystemTime,
) -> Option<HeaderValue> {
    let max_age =
        cookie::time::Duration::try_from(issuer.lifetime()).unwrap_or(cookie::time::Duration::MAX);
    let cookie = Cookie::build((name, issuer.issue(browser, now)))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(secure)
        .max_age(max_age)
        .build();
    HeaderValue::from_str(&cookie.to_string()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyperstate::identity::{BrowserIdKey, BrowserIdKeys};
    use std::time::Duration;

    fn issuer() -> BrowserIdIssuer {
        BrowserIdIssuer::new(
            BrowserIdKeys::new(BrowserIdKey::random()),
            Duration::from_secs(3600),
            Duration::from_secs(60),
        )
    }

    #[test]
    fn only_an_issued_browser_cookie_is_found_among_others() {
        let issuer = issuer();
        let id = BrowserId::generate();
        let mut headers = HeaderMap::new();
        headers.append(
            header::COOKIE,
            HeaderValue::from_str(&format!("a=1; hs_bid=garbage; hs_bid={id}")).unwrap(),
        );
        assert_eq!(read(&headers, "hs_bid", &issuer), None);
        let value = issuer.issue(&id, SystemTime::now());
        headers.append(
            header::COOKIE,
            HeaderValue::from_str(&format!("x=y; hs_bid={value}")).unwrap(),
        );
        let found = read(&headers, "hs_bid", &issuer);
        assert_eq!(found.map(|issued| issued.id), Some(id));
    }

    #[test]
    fn an_issued_cookie_is_read_back() {
        let issuer = issuer();
        let id = BrowserId::generate();
        let set = issue(&issuer, &id, "hs_bid", true, SystemTime::now()).unwrap();
        let set = set.to_str().unwrap();
        for attribute in [
            "HttpOnly",
            "SameSite=Lax",
            "Secure",
            "Path=/",
            "Max-Age=3600",
        ] {
            assert!(set.contains(attribute), "{set}");
        }
        let pair = set.split(';').next().unwrap();
        let mut headers = HeaderMap::new();
        headers.insert(header::COOKIE, HeaderValue::from_str(pair).unwrap());
        assert_eq!(read(&headers, "hs_bid", &issuer).map(|i| i.id), Some(id));
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
            let expected: Vec<String> = Cookie::split_parse(header)
                .filter_map(Result::ok)
                .filter(|c| c.name() == "hs_bid")
                .map(|c| c.value().to_owned())
                .collect();
            let got: Vec<&str> = cookie_values(header, "hs_bid").collect();
            assert_eq!(got, expected, "{header:?}");
        }
    }
}
