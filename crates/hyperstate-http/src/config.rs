//! Settings of the HTTP integration.

use crate::{ClientIpSource, RateLimit};

/// What to do with an htmx request whose page has no state and whose id is older
/// than the page TTL (its state expired, or it was never written and the tab sat
/// idle for longer than a TTL).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum ExpiredPage {
    /// Carry on with an empty page (the default): the handler sees no state, as
    /// after a refresh.
    #[default]
    Empty,
    /// Answer `HX-Refresh: true` so the browser reloads and gets a fresh page id;
    /// the handler does not run. Non-htmx requests carry on with an empty page.
    Refresh,
}

/// Settings of the HTTP integration. Every field has a sensible default.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct HttpConfig {
    /// Name of the browser-id cookie. Default: `hs_bid`.
    pub cookie_name: String,
    /// Mark the browser-id cookie `Secure` (sent over HTTPS only). Default: true;
    /// turn it off only for plain-HTTP local development.
    pub secure_cookie: bool,
    /// What an expired page does on an htmx request. Default: [`ExpiredPage::Empty`].
    pub expired_page: ExpiredPage,
    /// Largest `application/x-www-form-urlencoded` body read to find a
    /// `_page_id` field (requests without an `X-Page-Id` header). Default: 1 MiB.
    pub form_body_limit: usize,
    /// Largest HTML document the layer buffers to inject the page id. Larger
    /// documents pass through untouched (use the manual helper). Default: 4 MiB.
    pub inject_limit: usize,
    /// Refuse cross-site state-changing requests with 403 (see the `csrf` notes in
    /// the crate docs). Default: true.
    pub csrf_protection: bool,
    /// Origins (`https://app.example`) allowed to send state-changing requests
    /// besides the request's own host: needed behind a proxy that changes `Host`.
    /// Default: none.
    pub trusted_origins: Vec<String>,
    /// Where the client's address (the key of per-client limits) comes from.
    /// Default: the connection's peer ([`ClientIpSource::Peer`]); behind a
    /// reverse proxy, the header it sets.
    pub client_ip: ClientIpSource,
    /// How fast one client may be issued new browser ids (each one a cookie,
    /// and the key of a session that may become a durable document). `None`:
    /// unlimited. Default: 60 at once, then 30 a minute.
    pub browser_id_rate: Option<RateLimit>,
    /// How fast one client may join rooms. `None`: unlimited. Default: 20 at
    /// once, then 10 a minute.
    pub room_join_rate: Option<RateLimit>,
    /// Event streams (SSE) open at once on this server; past it a stream
    /// request answers 503. `None`: no cap. Default: 4,096 (about 160 MiB
    /// over HTTP/1.1, see [`SSE_BYTES_HTTP1`](crate::SSE_BYTES_HTTP1)).
    pub max_sse_streams: Option<usize>,
    /// Event streams one client (see [`Self::client_ip`]) may have open;
    /// past it a stream request answers 429. `None`: no cap. Default: 16.
    pub max_sse_streams_per_client: Option<usize>,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            cookie_name: "hs_bid".to_owned(),
            secure_cookie: true,
            expired_page: ExpiredPage::Empty,
            form_body_limit: 1024 * 1024,
            inject_limit: 4 * 1024 * 1024,
            csrf_protection: true,
            trusted_origins: Vec::new(),
            client_ip: ClientIpSource::Peer,
            browser_id_rate: Some(RateLimit::new(60, 30)),
            room_join_rate: Some(RateLimit::new(20, 10)),
            max_sse_streams: Some(4096),
            max_sse_streams_per_client: Some(16),
        }
    }
}

impl HttpConfig {
    /// Sets [`HttpConfig::cookie_name`].
    pub fn cookie_name(mut self, name: impl Into<String>) -> Self {
        self.cookie_name = name.into();
        self
    }
    /// Sets [`HttpConfig::secure_cookie`].
    pub fn secure_cookie(mut self, secure: bool) -> Self {
        self.secure_cookie = secure;
        self
    }
    /// Sets [`HttpConfig::expired_page`].
    pub fn expired_page(mut self, policy: ExpiredPage) -> Self {
        self.expired_page = policy;
        self
    }
    /// Sets [`HttpConfig::form_body_limit`].
    pub fn form_body_limit(mut self, bytes: usize) -> Self {
        self.form_body_limit = bytes;
        self
    }
    /// Sets [`HttpConfig::inject_limit`].
    pub fn inject_limit(mut self, bytes: usize) -> Self {
        self.inject_limit = bytes;
        self
    }
    /// Sets [`HttpConfig::csrf_protection`].
    pub fn csrf_protection(mut self, on: bool) -> Self {
        self.csrf_protection = on;
        self
    }
    /// Adds an origin to [`HttpConfig::trusted_origins`].
    pub fn trust_origin(mut self, origin: impl Into<String>) -> Self {
        self.trusted_origins.push(origin.into());
        self
    }
    /// Sets [`HttpConfig::client_ip`].
    pub fn client_ip(mut self, source: ClientIpSource) -> Self {
        self.client_ip = source;
        self
    }
    /// Sets [`HttpConfig::browser_id_rate`].
    pub fn browser_id_rate(mut self, limit: Option<RateLimit>) -> Self {
        self.browser_id_rate = limit;
        self
    }
    /// Sets [`HttpConfig::room_join_rate`].
    pub fn room_join_rate(mut self, limit: Option<RateLimit>) -> Self {
        self.room_join_rate = limit;
        self
    }
    /// Sets [`HttpConfig::max_sse_streams`].
    pub fn max_sse_streams(mut self, streams: Option<usize>) -> Self {
        self.max_sse_streams = streams;
        self
    }
    /// Sets [`HttpConfig::max_sse_streams_per_client`].
    pub fn max_sse_streams_per_client(mut self, streams: Option<usize>) -> Self {
        self.max_sse_streams_per_client = streams;
        self
    }
}
