//! Outbound fetches for key discovery, behind a small trait, with egress admission (SK-21).
//!
//! aauth-sig does no I/O of its own: discovery asks a [`Fetcher`] for a URL. The URL-level
//! rules (HTTPS only, no user-info, no fragment, bounded length) are checked by [`HttpsUrl`]
//! before any fetcher sees a request; the address-level rules (no private, loopback or
//! link-local destinations, the resolved address pinned for the connection) belong to the
//! fetcher that resolves names, and [`EgressPolicy::admit_ip`] is the one place that decides
//! them. With the `fetch-reqwest` feature, `ReqwestFetcher` is such a fetcher.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use async_trait::async_trait;
use thiserror::Error;

/// Longest URL we will fetch.
pub const MAX_URL_LEN: usize = 2048;

/// Why a fetch was refused or failed. Logged by the resolver; the client only learns the
/// Signature-Error code the failure maps to (AMB-06).
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FetchError {
    /// Not an absolute `https` URL of an acceptable shape.
    #[error("not an acceptable https URL: {0}")]
    BadUrl(&'static str),
    /// The destination address is private, loopback, link-local or otherwise not routable,
    /// and no deployment setting admits it.
    #[error("egress refused: destination address {0} is not public")]
    ForbiddenAddress(IpAddr),
    /// The name did not resolve.
    #[error("cannot resolve {0}")]
    Resolve(String),
    /// The response exceeded the size limit.
    #[error("response larger than {0} bytes")]
    TooLarge(usize),
    /// The fetch took longer than the time limit.
    #[error("fetch timed out")]
    Timeout,
    /// A status other than 200 (redirects are never followed).
    #[error("unexpected HTTP status {0}")]
    Status(u16),
    /// Connection, TLS or protocol failure.
    #[error("network error: {0}")]
    Network(String),
}

/// An absolute `https` URL admitted for fetching: no user-info, no fragment, bounded length.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct HttpsUrl {
    text: String,
    uri: http::Uri,
}

impl fmt::Debug for HttpsUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl fmt::Display for HttpsUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl HttpsUrl {
    /// Admits `s` if it is an absolute `https` URL of an acceptable shape.
    pub fn parse(s: &str) -> Result<Self, FetchError> {
        if s.len() > MAX_URL_LEN {
            return Err(FetchError::BadUrl("too long"));
        }
        if s.contains('#') {
            return Err(FetchError::BadUrl("has a fragment"));
        }
        if !s.starts_with("https://") {
            return Err(FetchError::BadUrl("not https"));
        }
        let uri: http::Uri = s.parse().map_err(|_| FetchError::BadUrl("unparseable"))?;
        let authority = uri.authority().ok_or(FetchError::BadUrl("no authority"))?;
        if authority.as_str().contains('@') {
            return Err(FetchError::BadUrl("has user-info"));
        }
        if authority.host().is_empty() {
            return Err(FetchError::BadUrl("no host"));
        }
        Ok(HttpsUrl {
            text: s.to_owned(),
            uri,
        })
    }

    /// The URL as given.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The host, lowercase as given (IPv6 literals keep their brackets).
    pub fn host(&self) -> &str {
        self.uri.host().unwrap_or_default()
    }

    /// The port, 443 unless explicit.
    pub fn port(&self) -> u16 {
        self.uri.port_u16().unwrap_or(443)
    }

    /// `host:port`, for same-origin checks.
    pub fn origin(&self) -> (String, u16) {
        (self.host().to_ascii_lowercase(), self.port())
    }
}

/// A response as discovery needs it.
#[derive(Debug, Clone)]
pub struct FetchResponse {
    pub status: u16,
    /// Response headers (discovery reads `Cache-Control` and `Expires`).
    pub headers: http::HeaderMap,
    pub body: Vec<u8>,
}

/// Fetches a URL with GET. Implementations must not follow redirects, must apply
/// [`EgressPolicy`] to every address they connect to, and must bound size and time.
#[async_trait]
pub trait Fetcher: Send + Sync {
    async fn get(&self, url: &HttpsUrl) -> Result<FetchResponse, FetchError>;
}

/// Egress admission settings (SK-21). `Default` is the safe profile: public addresses only,
/// 64 KiB, 5 s.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EgressPolicy {
    /// Admit private, loopback, link-local and other non-public destinations. Off by default;
    /// for deployments whose issuers live on an internal network.
    pub allow_private_addresses: bool,
    /// Largest response body accepted.
    pub max_body_bytes: usize,
    /// Overall time limit per fetch (resolve, connect, TLS, body).
    pub timeout: Duration,
    /// Fixed name → address mappings that bypass DNS *and* the address rules. Meant for tests
    /// (map `issuer.test` to a loopback server) and for deployments that pin their issuers.
    pub host_overrides: Vec<(String, SocketAddr)>,
}

impl Default for EgressPolicy {
    fn default() -> Self {
        EgressPolicy {
            allow_private_addresses: false,
            max_body_bytes: 64 * 1024,
            timeout: Duration::from_secs(5),
            host_overrides: Vec::new(),
        }
    }
}

impl EgressPolicy {
    /// Adds a host override (see [`EgressPolicy::host_overrides`]).
    pub fn with_host_override(mut self, host: impl Into<String>, addr: SocketAddr) -> Self {
        self.host_overrides
            .push((host.into().to_ascii_lowercase(), addr));
        self
    }

    /// The override for `host`, if configured.
    pub fn override_for(&self, host: &str) -> Option<SocketAddr> {
        self.host_overrides
            .iter()
            .find(|(h, _)| h.eq_ignore_ascii_case(host))
            .map(|(_, a)| *a)
    }

    /// Whether a resolved destination may be connected to.
    pub fn admit_ip(&self, ip: IpAddr) -> Result<(), FetchError> {
        if self.allow_private_addresses || is_public(ip) {
            Ok(())
        } else {
            Err(FetchError::ForbiddenAddress(ip))
        }
    }
}

/// Whether `ip` is a globally routable unicast address. Everything loopback, private,
/// link-local, shared (CGNAT), unspecified, multicast, broadcast, documentation or reserved is
/// not; IPv4-mapped and -compatible IPv6 addresses are judged as the IPv4 address they carry.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public_v4(v4);
            }
            is_public_v6(v6)
        }
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let o = ip.octets();
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || o[0] == 0
        || (o[0] == 100 && (o[1] & 0xc0) == 64) // 100.64.0.0/10 shared address space
        || (o[0] == 192 && o[1] == 0 && o[2] == 0) // 192.0.0.0/24 protocol assignments
        || (o[0] == 198 && (o[1] & 0xfe) == 18) // 198.18.0.0/15 benchmarking
        || o[0] >= 240) // reserved
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        || (s[0] & 0xfe00) == 0xfc00 // unique local fc00::/7
        || (s[0] & 0xffc0) == 0xfe80 // link-local fe80::/10
        || (s[0] & 0xffc0) == 0xfec0 // site-local (deprecated)
        || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
        || (s[0] == 0x64 && s[1] == 0xff9b) // NAT64 may reach private IPv4
        || (s[0] == 0 && s[1] == 0 && s[2] == 0 && s[3] == 0 && s[4] == 0 && s[5] == 0)) // v4-compatible
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sk_21_private_loopback_and_link_local_are_refused_by_default() {
        let policy = EgressPolicy::default();
        for bad in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::",
        ] {
            let ip: IpAddr = bad.parse().unwrap();
            assert_eq!(
                policy.admit_ip(ip),
                Err(FetchError::ForbiddenAddress(ip)),
                "{bad}"
            );
        }
        for good in ["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"] {
            assert!(policy.admit_ip(good.parse().unwrap()).is_ok(), "{good}");
        }
        let open = EgressPolicy {
            allow_private_addresses: true,
            ..EgressPolicy::default()
        };
        assert!(open.admit_ip("127.0.0.1".parse().unwrap()).is_ok());
    }

    #[test]
    fn sk_21_only_plain_https_urls_are_fetched() {
        assert!(HttpsUrl::parse("https://agent.example/.well-known/jwks.json").is_ok());
        for bad in [
            "http://agent.example/jwks",
            "https://user@agent.example/jwks",
            "https://agent.example/jwks#x",
            "ftp://agent.example",
            "//agent.example",
            "https:///x",
            "HTTPS://agent.example",
        ] {
            assert!(HttpsUrl::parse(bad).is_err(), "{bad}");
        }
        let long = format!("https://a.example/{}", "a".repeat(MAX_URL_LEN));
        assert!(HttpsUrl::parse(&long).is_err());
    }
}
