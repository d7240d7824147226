//! An in-process browser for HTTP tests: keeps the browser-id cookie like a
//! browser would and knows how to talk like htmx.

#![allow(dead_code, unreachable_pub)] // each test binary uses part of it

use axum::Router;
use axum::body::Body;
use axum::http::{Request, Response, StatusCode, header};
use http_body_util::BodyExt;
use std::sync::{Arc, Mutex};
use tower::ServiceExt;

/// What came back.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: axum::http::HeaderMap,
    pub body: String,
}

impl Reply {
    /// The page id injected into a full-page document.
    pub fn page_id(&self) -> Option<String> {
        let marker = "name=\"hyperstate-page-id\" content=\"";
        let start = self.body.find(marker)? + marker.len();
        let end = start + self.body[start..].find('"')?;
        Some(self.body[start..end].to_owned())
    }

    /// The text of the element with `id` (the first one), up to its first child
    /// or closing tag.
    pub fn text_of(&self, id: &str) -> Option<String> {
        element_text(&self.body, id).map(str::to_owned)
    }

    /// The `<li>` texts of the cart list.
    pub fn cart_items(&self) -> Vec<String> {
        self.body
            .split("<li>")
            .skip(1)
            .map(|rest| rest.split("</li>").next().unwrap_or_default().to_owned())
            .collect()
    }
}

/// One browser: a cookie jar holding the browser-id cookie.
#[derive(Clone)]
pub struct Browser {
    app: Router,
    cookie: Arc<Mutex<Option<String>>>,
}

impl Browser {
    pub fn new(app: Router) -> Self {
        Browser {
            app,
            cookie: Arc::new(Mutex::new(None)),
        }
    }

    pub fn cookie(&self) -> Option<String> {
        self.cookie.lock().unwrap().clone()
    }

    /// This browser (same cookie jar) talking to `app`: the server restarted.
    pub fn restarted(&self, app: Router) -> Self {
        Browser {
            app,
            cookie: self.cookie.clone(),
        }
    }

    /// The same app, another browser that has stolen this one's nothing.
    pub fn another(&self) -> Self {
        Browser::new(self.app.clone())
    }

    pub async fn send(&self, mut request: Request<Body>) -> Reply {
        if let Some(cookie) = self.cookie() {
            request
                .headers_mut()
                .insert(header::COOKIE, cookie.parse().unwrap());
        }
        let response: Response<Body> = self.app.clone().oneshot(request).await.unwrap();
        if let Some(set) = response.headers().get(header::SET_COOKIE) {
            let pair = set.to_str().unwrap().split(';').next().unwrap().to_owned();
            *self.cookie.lock().unwrap() = Some(pair);
        }
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        Reply {
            status,
            headers,
            body: String::from_utf8_lossy(&bytes).into_owned(),
        }
    }

    /// A full page load: a plain GET, as the address bar does it.
    pub async fn load(&self, path: &str) -> Reply {
        self.send(
            Request::get(path)
                .header(header::ACCEPT, "text/html")
                .body(Body::empty())
                .unwrap(),
        )
        .await
    }

    /// An htmx form post from page `page_id`.
    pub async fn htmx_post(&self, path: &str, page_id: &str, form: &str) -> Reply {
        self.send(
            Request::post(path)
                .header("hx-request", "true")
                .header("x-page-id", page_id)
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(Body::from(form.to_owned()))
                .unwrap(),
        )
        .await
    }

    /// An htmx GET from page `page_id`.
    pub async fn htmx_get(&self, path: &str, page_id: &str) -> Reply {
        self.send(
            Request::get(path)
                .header("hx-request", "true")
                .header("x-page-id", page_id)
                .body(Body::empty())
                .unwrap(),
        )
        .await
    }
}

/// The text of the element with `id` (the first one) in `html`, up to its
/// first child or closing tag.
pub fn element_text<'a>(html: &'a str, id: &str) -> Option<&'a str> {
    let marker = format!("id=\"{id}\"");
    let start = html.find(&marker)?;
    let open_end = start + html[start..].find('>')? + 1;
    let close = open_end + html[open_end..].find("</")?;
    Some(&html[open_end..close])
}
