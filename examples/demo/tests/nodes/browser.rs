//! A browser over real TCP that can talk to any node: one cookie jar (the
//! browser-id cookie), requests shaped like a full page load or like htmx.

use std::net::SocketAddr;
use std::sync::Mutex;

use axum::http::header;

use crate::common::Reply;
use crate::tcp::{SseStream, browser_cookie, send, text};

/// One browser. `&self` methods, so many requests can be in flight at once.
#[derive(Debug, Default)]
pub struct TcpBrowser {
    cookie: Mutex<Option<String>>,
}

impl TcpBrowser {
    pub fn new() -> Self {
        TcpBrowser::default()
    }

    /// The `hs_bid=...` pair this browser sends, once a node has set it.
    pub fn cookie(&self) -> Option<String> {
        self.cookie.lock().unwrap().clone()
    }

    /// Sends a request with this browser's cookie; keeps a cookie the node sets.
    pub async fn send(
        &self,
        node: SocketAddr,
        method: &str,
        path: &str,
        headers: &[(&str, String)],
        body: Option<String>,
    ) -> Reply {
        let mut all = headers.to_vec();
        if let Some(cookie) = self.cookie() {
            all.push((header::COOKIE.as_str(), cookie));
        }
        let (status, headers, body) = send(node, method, path, &all, body).await;
        if let Some(cookie) = browser_cookie(&headers) {
            *self.cookie.lock().unwrap() = Some(cookie);
        }
        Reply {
            status,
            headers,
            body: text(body).await,
        }
    }

    /// A full page load: a plain GET, as the address bar does it.
    pub async fn load(&self, node: SocketAddr, path: &str) -> Reply {
        let accept = [(header::ACCEPT.as_str(), "text/html".to_owned())];
        self.send(node, "GET", path, &accept, None).await
    }

    /// An htmx form post from page `page_id`.
    pub async fn htmx_post(
        &self,
        node: SocketAddr,
        path: &str,
        page_id: &str,
        form: &str,
    ) -> Reply {
        let headers = [
            ("hx-request", "true".to_owned()),
            ("x-page-id", page_id.to_owned()),
            (
                header::CONTENT_TYPE.as_str(),
                "application/x-www-form-urlencoded".to_owned(),
            ),
        ];
        self.send(node, "POST", path, &headers, Some(form.to_owned()))
            .await
    }

    /// An htmx GET from page `page_id`.
    pub async fn htmx_get(&self, node: SocketAddr, path: &str, page_id: &str) -> Reply {
        let headers = [
            ("hx-request", "true".to_owned()),
            ("x-page-id", page_id.to_owned()),
        ];
        self.send(node, "GET", path, &headers, None).await
    }

    /// Opens an SSE stream (the response must be 200).
    pub async fn stream(&self, node: SocketAddr, path: &str) -> SseStream {
        let mut headers = vec![(header::ACCEPT.as_str(), "text/event-stream".to_owned())];
        if let Some(cookie) = self.cookie() {
            headers.push((header::COOKIE.as_str(), cookie));
        }
        let (status, _, body) = send(node, "GET", path, &headers, None).await;
        assert_eq!(status, axum::http::StatusCode::OK, "opening {path}");
        SseStream::new(body)
    }
}
