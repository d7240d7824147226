//! The demo's command-line knobs for serving on the open internet: the
//! server's timeouts and connection caps, and the event-stream caps.

use std::time::Duration;

use clap::Args;
use hyperstate_axum::{HttpConfig, ServeConfig};

/// Timeouts and caps (`0` turns a per-client cap off, e.g. behind a proxy).
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Seconds a client may take to send a request's headers (also: to send
    /// anything on a new connection, and to stay idle on HTTP/1.1).
    #[arg(long, env = "HYPERSTATE_HEADER_READ_TIMEOUT", default_value_t = 10)]
    pub header_read_timeout: u64,
    /// Seconds an HTTP/2 connection may stay without a request in flight.
    #[arg(long, env = "HYPERSTATE_IDLE_TIMEOUT", default_value_t = 60)]
    pub idle_timeout: u64,
    /// Open connections in total (kept below the open-file limit).
    #[arg(long, env = "HYPERSTATE_MAX_CONNECTIONS", default_value_t = 10_000)]
    pub max_connections: usize,
    /// Open connections per client address; 0: no cap (behind a proxy).
    #[arg(
        long,
        env = "HYPERSTATE_MAX_CONNECTIONS_PER_CLIENT",
        default_value_t = 100
    )]
    pub max_connections_per_client: usize,
    /// Open event streams (SSE) in total; 0: no cap.
    #[arg(long, env = "HYPERSTATE_MAX_SSE_STREAMS", default_value_t = 4096)]
    pub max_sse_streams: usize,
    /// Open event streams per client; 0: no cap.
    #[arg(
        long,
        env = "HYPERSTATE_MAX_SSE_STREAMS_PER_CLIENT",
        default_value_t = 16
    )]
    pub max_sse_streams_per_client: usize,
}

impl ServeArgs {
    /// The server's settings.
    pub fn serve_config(&self) -> ServeConfig {
        ServeConfig::default()
            .header_read_timeout(Duration::from_secs(self.header_read_timeout))
            .idle_timeout(Duration::from_secs(self.idle_timeout))
            .max_connections(self.max_connections)
            .max_connections_per_client(cap(self.max_connections_per_client))
    }

    /// `http` with the event-stream caps.
    pub fn http_config(&self, http: HttpConfig) -> HttpConfig {
        http.max_sse_streams(cap(self.max_sse_streams))
            .max_sse_streams_per_client(cap(self.max_sse_streams_per_client))
    }
}

fn cap(n: usize) -> Option<usize> {
    (n > 0).then_some(n)
}
