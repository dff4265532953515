//! [`ReqwestFetcher`]: the HTTPS [`Fetcher`] on reqwest + rustls (ring), feature
//! `fetch-reqwest`.
//!
//! Per fetch: the host is resolved here (or taken from [`EgressPolicy::host_overrides`]),
//! every resolved address must pass [`EgressPolicy::admit_ip`] — one bad address refuses the
//! fetch, so a DNS answer mixing public and private addresses cannot sneak through — and the
//! admitted address is pinned into a one-off client so the connection goes exactly there
//! (DNS-rebinding defence). Redirects are never followed, the body is read in chunks up to
//! the size limit, and the whole fetch runs under the time limit. Fetches are rare (the cache
//! allows one per issuer per minute), so a client per fetch costs little.

use std::net::SocketAddr;

use async_trait::async_trait;

use crate::fetch::{EgressPolicy, FetchError, FetchResponse, Fetcher, HttpsUrl};

/// Fetches over HTTPS with egress admission.
#[derive(Clone, Debug)]
pub struct ReqwestFetcher {
    policy: EgressPolicy,
    roots: Option<Vec<reqwest::Certificate>>,
}

impl ReqwestFetcher {
    /// A fetcher with `policy`, trusting the platform's roots. Installs ring as rustls'
    /// process-wide provider if none is installed (the workspace's one crypto stack).
    pub fn new(policy: EgressPolicy) -> Self {
        let _ = rustls::crypto::ring::default_provider().install_default();
        ReqwestFetcher {
            policy,
            roots: None,
        }
    }

    /// Trusts only the given PEM roots (tests; private PKI).
    pub fn with_root_certificates_pem(mut self, pem: &[u8]) -> Result<Self, FetchError> {
        let certs = reqwest::Certificate::from_pem_bundle(pem)
            .map_err(|_| FetchError::Network("bad root certificate PEM".into()))?;
        self.roots = Some(certs);
        Ok(self)
    }

    /// The policy.
    pub fn policy(&self) -> &EgressPolicy {
        &self.policy
    }

    async fn admitted_address(&self, url: &HttpsUrl) -> Result<SocketAddr, FetchError> {
        let host = url.host().trim_start_matches('[').trim_end_matches(']');
        if let Some(addr) = self.policy.override_for(host) {
            return Ok(addr);
        }
        let addrs: Vec<SocketAddr> = match host.parse::<std::net::IpAddr>() {
            Ok(ip) => vec![SocketAddr::new(ip, url.port())],
            Err(_) => tokio::net::lookup_host((host, url.port()))
                .await
                .map_err(|_| FetchError::Resolve(host.to_owned()))?
                .collect(),
        };
        let first = *addrs
            .first()
            .ok_or_else(|| FetchError::Resolve(host.to_owned()))?;
        for a in &addrs {
            self.policy.admit_ip(a.ip())?;
        }
        Ok(first)
    }

    async fn fetch(&self, url: &HttpsUrl) -> Result<FetchResponse, FetchError> {
        let addr = self.admitted_address(url).await?;
        let host = url.host().trim_start_matches('[').trim_end_matches(']');
        let mut builder = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .https_only(true)
            // SIG-35; rustls has no older versions, this keeps it so.
            .tls_version_min(reqwest::tls::Version::TLS_1_2)
            .timeout(self.policy.timeout)
            .resolve(host, addr);
        if let Some(roots) = &self.roots {
            builder = builder.tls_certs_only(roots.iter().cloned());
        }
        let client = builder
            .build()
            .map_err(|e| FetchError::Network(e.to_string()))?;
        let mut resp = client
            .get(url.as_str())
            .header(http::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| FetchError::Network(e.to_string()))?;
        let status = resp.status().as_u16();
        let max = self.policy.max_body_bytes;
        if resp.content_length().is_some_and(|l| l > max as u64) {
            return Err(FetchError::TooLarge(max));
        }
        let headers = resp.headers().clone();
        let mut body = Vec::new();
        while let Some(chunk) = resp
            .chunk()
            .await
            .map_err(|e| FetchError::Network(e.to_string()))?
        {
            if body.len() + chunk.len() > max {
                return Err(FetchError::TooLarge(max));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(FetchResponse {
            status,
            headers,
            body,
        })
    }
}

#[async_trait]
impl Fetcher for ReqwestFetcher {
    async fn get(&self, url: &HttpsUrl) -> Result<FetchResponse, FetchError> {
        match tokio::time::timeout(self.policy.timeout, self.fetch(url)).await {
            Ok(r) => r,
            Err(_) => Err(FetchError::Timeout),
        }
    }
}
