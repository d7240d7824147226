//! Settings of the server: timeouts and connection caps, with defaults that
//! are safe for a server facing the internet directly.

use std::time::Duration;

/// Settings of [`Server`](super::Server). Every field has a default safe on
/// the open internet.
///
/// # Behind a reverse proxy
///
/// Every connection then comes from the proxy's address, so the per-client
/// connection cap would count all clients as one: turn it off
/// (`max_connections_per_client(None)`) or raise it above the proxy's own
/// connection pool, and let the proxy bound connections per client. Read the
/// client address for the per-client *request* limits from the header the
/// proxy sets ([`HttpConfig::client_ip`](crate::HttpConfig::client_ip) =
/// [`ClientIpSource::TrustedHeader`](crate::ClientIpSource::TrustedHeader)).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ServeConfig {
    /// How long a client may take to send a request's headers. It also bounds
    /// how long a new connection may stay silent, and, on HTTP/1.1, how long a
    /// connection may sit idle between requests (the clock starts as soon as
    /// the connection goes idle, as hyper's own header timeout would). A
    /// connection past it is closed within a quarter of it. Default: 10 s.
    pub header_read_timeout: Duration,
    /// An HTTP/2 connection with no request in flight for this long is
    /// closed. Default: 60 s.
    pub idle_timeout: Duration,
    /// How often an HTTP/2 connection is pinged; a ping unanswered within
    /// [`Self::header_read_timeout`] closes it. `None`: no pings. Default: 20 s.
    pub http2_keep_alive_interval: Option<Duration>,
    /// Concurrent streams (requests) one HTTP/2 connection may have open.
    /// Default: 100.
    pub http2_max_concurrent_streams: u32,
    /// Open connections in total. Kept below the open-file limit whatever is
    /// set here (see [`Self::reserved_files`]). Default: 10,000.
    pub max_connections: usize,
    /// Open connections from one client address (IPv6 by /64). `None`:
    /// unlimited (behind a proxy). Default: 100.
    pub max_connections_per_client: Option<usize>,
    /// File descriptors kept free for everything but connections (stores,
    /// logs, outgoing connections): the total cap is at most the open-file
    /// limit minus this. Default: 128.
    pub reserved_files: usize,
    /// Raise the soft open-file limit to the hard limit at start. Default: true.
    pub raise_file_limit: bool,
    /// How long a graceful shutdown waits for open connections to finish
    /// before closing them. Default: 10 s.
    pub drain_timeout: Duration,
}

impl Default for ServeConfig {
    fn default() -> Self {
        ServeConfig {
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            http2_keep_alive_interval: Some(Duration::from_secs(20)),
            http2_max_concurrent_streams: 100,
            max_connections: 10_000,
            max_connections_per_client: Some(100),
            reserved_files: 128,
            raise_file_limit: true,
            drain_timeout: Duration::from_secs(10),
        }
    }
}

impl ServeConfig {
    /// Sets [`Self::header_read_timeout`].
    pub fn header_read_timeout(mut self, timeout: Duration) -> Self {
        self.header_read_timeout = timeout;
        self
    }
    /// Sets [`Self::idle_timeout`].
    pub fn idle_timeout(mut self, timeout: Duration) -> Self {
        self.idle_timeout = timeout;
        self
    }
    /// Sets [`Self::http2_keep_alive_interval`].
    pub fn http2_keep_alive_interval(mut self, every: Option<Duration>) -> Self {
        self.http2_keep_alive_interval = every;
        self
    }
    /// Sets [`Self::http2_max_concurrent_streams`].
    pub fn http2_max_concurrent_streams(mut self, streams: u32) -> Self {
        self.http2_max_concurrent_streams = streams;
        self
    }
    /// Sets [`Self::max_connections`].
    pub fn max_connections(mut self, connections: usize) -> Self {
        self.max_connections = connections;
        self
    }
    /// Sets [`Self::max_connections_per_client`].
    pub fn max_connections_per_client(mut self, connections: Option<usize>) -> Self {
        self.max_connections_per_client = connections;
        self
    }
    /// Sets [`Self::reserved_files`].
    pub fn reserved_files(mut self, files: usize) -> Self {
        self.reserved_files = files;
        self
    }
    /// Sets [`Self::raise_file_limit`].
    pub fn raise_file_limit(mut self, raise: bool) -> Self {
        self.raise_file_limit = raise;
        self
    }
    /// Sets [`Self::drain_timeout`].
    pub fn drain_timeout(mut self, timeout: Duration) -> Self {
        self.drain_timeout = timeout;
        self
    }
}
