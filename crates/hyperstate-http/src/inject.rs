//! Putting the page id into full-page HTML, so htmx sends it back.
//!
//! An integration's layer inserts [`head_tags`] into every full-page HTML
//! response (before `</head>`) with [`inject`]. The tags are a `<meta>` holding the id and a constant script that
//! adds the `X-Page-Id` header to every same-origin htmx request — through
//! `htmx:configRequest` on htmx 2.x and `htmx:config:request` on htmx 4.x, whose
//! attribute inheritance differs, so no `hx-headers` attribute is relied on — and
//! a hidden `_page_id` field to every same-origin plain form on submit.
//!
//! Apps that stream their own `<head>`, or send documents larger than the
//! integration buffers, call [`head_tags`] themselves; [`inject`] sees the
//! marker and does not inject twice.

use hyperstate::PageId;

/// The `name` of the injected `<meta>` tag.
pub const META_NAME: &str = "hyperstate-page-id";

/// The script: constant, so a Content-Security-Policy can allow it by hash.
/// It reads the id from the meta tag and only sends it to this page's own origin,
/// so the id never leaks to third-party hosts a page happens to call.
const SCRIPT: &str = concat!(
    "<script>(function(){",
    "var m=document.querySelector('meta[name=\"hyperstate-page-id\"]');if(!m)return;var id=m.content;",
    "function same(u){try{return new URL(u,location.href).origin===location.origin}catch(_){return false}}",
    // htmx 2.x
    "document.addEventListener('htmx:configRequest',function(e){",
    "if(same(e.detail.path))e.detail.headers['X-Page-Id']=id});",
    // htmx 4.x
    "document.addEventListener('htmx:config:request',function(e){var r=e.detail.ctx.request;",
    "if(same(r.action))r.headers['X-Page-Id']=id});",
    // plain form posts
    "document.addEventListener('submit',function(e){var f=e.target;",
    "if(f instanceof HTMLFormElement&&same(f.action)&&!f.querySelector('input[name=\"_page_id\"]')){",
    "var i=document.createElement('input');i.type='hidden';i.name='_page_id';i.value=id;f.appendChild(i)}},true)",
    "})();</script>"
);

/// The tags that carry `page_id` to the browser: a `<meta>` plus the script that
/// makes htmx (2.x and 4.x) and plain forms send it back. For apps that render
/// their own `<head>`; the layer injects them automatically otherwise.
pub fn head_tags(page_id: PageId) -> String {
    // A page id is URL-safe base64: nothing in it needs HTML escaping.
    format!("<meta name=\"{META_NAME}\" content=\"{page_id}\">{SCRIPT}")
}

fn find_ignore_case(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window.eq_ignore_ascii_case(needle))
}

/// Inserts the head tags into an HTML document. Returns `None` when the body
/// already has them or is not a document (no `</head>`, `<body` or doctype),
/// e.g. a fragment.
pub fn inject(html: &[u8], page_id: PageId) -> Option<Vec<u8>> {
    if find_ignore_case(html, META_NAME.as_bytes()).is_some() {
        return None;
    }
    let at = find_ignore_case(html, b"</head>")
        .or_else(|| find_ignore_case(html, b"<body"))
        .or_else(|| {
            let start = html.iter().position(|b| !b.is_ascii_whitespace())?;
            let rest = &html[start..];
            let doctype = b"<!doctype";
            if rest.len() >= doctype.len() && rest[..doctype.len()].eq_ignore_ascii_case(doctype) {
                Some(start + rest.iter().position(|&b| b == b'>')? + 1)
            } else {
                None
            }
        })?;
    let tags = head_tags(page_id);
    let mut out = Vec::with_capacity(html.len() + tags.len());
    out.extend_from_slice(&html[..at]);
    out.extend_from_slice(tags.as_bytes());
    out.extend_from_slice(&html[at..]);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn injected(html: &str) -> Option<String> {
        inject(html.as_bytes(), PageId::generate()).map(|v| String::from_utf8(v).unwrap())
    }

    #[test]
    fn goes_before_the_end_of_head() {
        let out = injected("<html><HEAD><title>t</title></HEAD><body></body></html>").unwrap();
        let meta = out.find(META_NAME).unwrap();
        assert!(meta > out.find("<title>").unwrap() && meta < out.find("</HEAD>").unwrap());
    }

    #[test]
    fn falls_back_to_body_or_doctype() {
        let out = injected("<html><body class=x>hi</body></html>").unwrap();
        assert!(out.find(META_NAME).unwrap() < out.find("<body").unwrap());
        let out = injected("  <!DOCTYPE html><p>hi").unwrap();
        assert!(out.starts_with("  <!DOCTYPE html><meta"));
    }

    #[test]
    fn leaves_fragments_and_marked_pages_alone() {
        assert_eq!(injected("<li>apple</li>"), None);
        let page = format!("<head>{}</head>", head_tags(PageId::generate()));
        assert_eq!(injected(&page), None);
    }

    #[test]
    fn script_serves_both_htmx_generations_and_plain_forms() {
        let tags = head_tags(PageId::generate());
        assert!(tags.contains("htmx:configRequest"));
        assert!(tags.contains("htmx:config:request"));
        assert!(tags.contains("_page_id"));
    }
}
