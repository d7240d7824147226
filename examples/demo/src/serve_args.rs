//! The demo's command-line knobs for serving on the open internet: the
//! server's timeouts and connection caps, the event-stream caps, the
//! per-client rate of new browser ids and where the client address comes from.

use std::time::Duration;

use axum::http::HeaderName;
use clap::Args;
use hyperstate_axum::{ClientIpSource, HttpConfig, RateLimit, ServeConfig};

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
    /// How fast one client address may be issued new browser ids:
    /// `BURST,PER_MINUTE`, or `off`.
    #[arg(long, env = "HYPERSTATE_BROWSER_ID_RATE", value_parser = parse_rate, default_value = "60,30")]
    pub browser_id_rate: RateSetting,
    /// Behind a reverse proxy: the header it puts the client's address in
    /// (e.g. `x-forwarded-for`; its last entry counts). Only when every request
    /// passes through that proxy. Default: the connection's peer address.
    #[arg(long, env = "HYPERSTATE_CLIENT_IP_HEADER")]
    pub client_ip_header: Option<HeaderName>,
}

/// A per-client rate limit, or none (`off`).
#[derive(Debug, Clone, Copy)]
pub struct RateSetting(pub Option<RateLimit>);

fn parse_rate(text: &str) -> Result<RateSetting, String> {
    if text.trim() == "off" {
        return Ok(RateSetting(None));
    }
    let (burst, per_minute) = text
        .split_once(',')
        .ok_or_else(|| format!("expected BURST,PER_MINUTE or off, got {text:?}"))?;
    let number = |part: &str| {
        part.trim()
            .parse::<u32>()
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| format!("{part:?} is not a positive whole number"))
    };
    Ok(RateSetting(Some(RateLimit::new(
        number(burst)?,
        number(per_minute)?,
    ))))
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

    /// `http` with the event-stream caps, the browser-id rate and the client
    /// address source.
    pub fn http_config(&self, http: HttpConfig) -> HttpConfig {
        let client_ip = match &self.client_ip_header {
            Some(header) => ClientIpSource::TrustedHeader(header.clone()),
            None => ClientIpSource::Peer,
        };
        http.max_sse_streams(cap(self.max_sse_streams))
            .max_sse_streams_per_client(cap(self.max_sse_streams_per_client))
            .browser_id_rate(self.browser_id_rate.0)
            .client_ip(client_ip)
    }
}

fn cap(n: usize) -> Option<usize> {
    (n > 0).then_some(n)
}
