//! Who is on the other end of the connection: the key of every per-client limit.
//!
//! Per-client limits (new browser ids, room joins, connections) need to know
//! which client a request comes from. Directly on the internet that is the
//! connection's peer address. Behind a reverse proxy every request comes from
//! the proxy, so the address must be read from a header the proxy sets — and
//! only from a proxy the operator trusts, since any client can send any header.
//! [`ClientIpSource`] says which.

use std::net::{IpAddr, Ipv6Addr, SocketAddr};

use http::{HeaderMap, HeaderName};

/// Where the client's address is read from.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum ClientIpSource {
    /// The connection's peer address (the default): right when the server
    /// faces the internet itself. The server must record it where the
    /// integration finds it (with axum, as `ConnectInfo<SocketAddr>`).
    #[default]
    Peer,
    /// The last address of this header (`X-Forwarded-For`, `X-Real-IP`, ...),
    /// as appended by a reverse proxy in front of the server. Use only when
    /// every request passes through that proxy: otherwise a client can choose
    /// its own key. Falls back to the peer address when the header is absent.
    TrustedHeader(HeaderName),
}

/// The client a request comes from, as far as per-client limits are concerned.
///
/// IPv6 addresses are cut to their /64 network: one host usually holds a
/// whole /64, so a finer key would let it mint limits by the billion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClientAddr(IpAddr);

impl ClientAddr {
    /// The key for `ip` (IPv6 cut to its /64; IPv4-mapped IPv6 as IPv4).
    pub fn new(ip: IpAddr) -> Self {
        let ip = match ip {
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => IpAddr::V4(v4),
                None => {
                    let s = v6.segments();
                    IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
                }
            },
            v4 => v4,
        };
        ClientAddr(ip)
    }

    /// The address (an IPv6 one as its /64 network).
    pub fn ip(&self) -> IpAddr {
        self.0
    }

    /// The client of a request with these `headers` on a connection from
    /// `peer`, or `None` when the server recorded no peer address and no
    /// trusted header names one. Callers skip per-client limits then, rather
    /// than lump every client into one key.
    pub fn of_request(
        source: &ClientIpSource,
        headers: &HeaderMap,
        peer: Option<IpAddr>,
    ) -> Option<Self> {
        if let ClientIpSource::TrustedHeader(name) = source {
            if let Some(ip) = last_address(headers, name) {
                return Some(ClientAddr::new(ip));
            }
        }
        peer.map(ClientAddr::new)
    }
}

/// The last comma-separated entry of the header's last occurrence, if it is an
/// IP address (with or without a port).
fn last_address(headers: &HeaderMap, name: &HeaderName) -> Option<IpAddr> {
    let value = headers.get_all(name).iter().next_back()?.to_str().ok()?;
    let last = value.rsplit(',').next()?.trim();
    last.parse::<IpAddr>()
        .ok()
        .or_else(|| last.parse::<SocketAddr>().ok().map(|addr| addr.ip()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    #[test]
    fn ipv6_is_cut_to_its_network_and_mapped_ipv4_unwrapped() {
        let a: IpAddr = "2001:db8:1:2:3:4:5:6".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff::1".parse().unwrap();
        assert_eq!(ClientAddr::new(a), ClientAddr::new(b));
        let mapped: IpAddr = "::ffff:127.0.0.2".parse().unwrap();
        assert_eq!(
            ClientAddr::new(mapped).ip(),
            "127.0.0.2".parse::<IpAddr>().unwrap()
        );
    }

    #[test]
    fn trusted_header_gives_its_last_entry_else_the_peer() {
        let mut headers = HeaderMap::new();
        headers.insert(
            "x-forwarded-for",
            HeaderValue::from_static("6.6.6.6, 10.1.2.3"),
        );
        let connection = Some("127.0.0.1".parse().unwrap());
        let header = ClientIpSource::TrustedHeader(HeaderName::from_static("x-forwarded-for"));
        let got = ClientAddr::of_request(&header, &headers, connection).unwrap();
        assert_eq!(got.ip(), "10.1.2.3".parse::<IpAddr>().unwrap());
        let peer = ClientAddr::of_request(&ClientIpSource::Peer, &headers, connection).unwrap();
        assert_eq!(peer.ip(), "127.0.0.1".parse::<IpAddr>().unwrap());
        headers.clear();
        let fallback = ClientAddr::of_request(&header, &headers, connection).unwrap();
        assert_eq!(fallback, peer);
        assert_eq!(
            ClientAddr::of_request(&ClientIpSource::Peer, &headers, None),
            None
        );
    }
}
