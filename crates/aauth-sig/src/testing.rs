//! Test helpers (feature `testing`): an in-process [`Fetcher`] and a tiny agent provider that
//! mints agent tokens. Not for production use: the map fetcher applies no egress rules.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value, json};

use crate::agent_token::{AgentToken, RefreshError, TokenRefresher};
use crate::alg::Algorithm;
use crate::fetch::{FetchError, FetchResponse, Fetcher, HttpsUrl};
use crate::jose::sign_jwt;
use crate::keys::SigningKey;

/// Serves fixed responses from a map and counts requests per URL.
#[derive(Debug, Default)]
pub struct MapFetcher {
    routes: Mutex<HashMap<String, Result<FetchResponse, FetchError>>>,
    counts: Mutex<HashMap<String, usize>>,
    total: AtomicUsize,
    delay: Mutex<Option<Duration>>,
}

impl MapFetcher {
    pub fn new() -> Self {
        Self::default()
    }

    /// Serves `body` with status 200 and the given headers at `url`.
    pub fn serve(&self, url: &str, body: impl Into<Vec<u8>>, headers: &[(&'static str, &str)]) {
        let mut map = http::HeaderMap::new();
        for (k, v) in headers {
            if let Ok(v) = v.parse() {
                map.append(*k, v);
            }
        }
        self.set(
            url,
            Ok(FetchResponse {
                status: 200,
                headers: map,
                body: body.into(),
            }),
        );
    }

    /// Serves JSON at `url` with status 200.
    pub fn serve_json(&self, url: &str, value: &Value) {
        self.serve(
            url,
            value.to_string(),
            &[("content-type", "application/json")],
        );
    }

    /// Sets the outcome for `url`.
    pub fn set(&self, url: &str, outcome: Result<FetchResponse, FetchError>) {
        if let Ok(mut r) = self.routes.lock() {
            r.insert(url.to_owned(), outcome);
        }
    }

    /// Makes every fetch wait this long first (to exercise single-flight).
    pub fn set_delay(&self, delay: Option<Duration>) {
        if let Ok(mut d) = self.delay.lock() {
            *d = delay;
        }
    }

    /// Requests made for `url`.
    pub fn count(&self, url: &str) -> usize {
        self.counts
            .lock()
            .map(|c| c.get(url).copied().unwrap_or(0))
            .unwrap_or(0)
    }

    /// Requests made in total.
    pub fn total(&self) -> usize {
        self.total.load(Ordering::SeqCst)
    }
}

#[async_trait]
impl Fetcher for MapFetcher {
    async fn get(&self, url: &HttpsUrl) -> Result<FetchResponse, FetchError> {
        self.total.fetch_add(1, Ordering::SeqCst);
        if let Ok(mut c) = self.counts.lock() {
            *c.entry(url.as_str().to_owned()).or_default() += 1;
        }
        let delay = self.delay.lock().ok().and_then(|d| *d);
        if let Some(d) = delay {
            tokio::time::sleep(d).await;
        }
        self.routes
            .lock()
            .ok()
            .and_then(|r| r.get(url.as_str()).cloned())
            .unwrap_or(Err(FetchError::Status(404)))
    }
}

/// An agent provider for tests: an issuer identifier, an Ed25519 signing key with a `kid`,
/// its metadata and JWKS, and agent-token minting.
#[derive(Debug, Clone)]
pub struct AgentProvider {
    pub issuer: String,
    pub key: SigningKey,
    pub kid: String,
}

impl AgentProvider {
    /// A provider at `issuer` (e.g. `https://agent.example`) with a fresh Ed25519 key.
    pub fn new(issuer: &str) -> Self {
        AgentProvider {
            issuer: issuer.to_owned(),
            // Generation only fails if the OS RNG does; a test cannot proceed then.
            key: SigningKey::generate(Algorithm::Ed25519).expect("OS RNG available"),
            kid: "ap-key-1".to_owned(),
        }
    }

    /// `{issuer}/.well-known/aauth-agent.json`.
    pub fn metadata_url(&self) -> String {
        format!("{}/.well-known/aauth-agent.json", self.issuer)
    }

    /// `{issuer}/.well-known/jwks.json`.
    pub fn jwks_url(&self) -> String {
        format!("{}/.well-known/jwks.json", self.issuer)
    }

    /// The agent-provider metadata document.
    pub fn metadata(&self) -> Value {
        json!({ "issuer": self.issuer, "jwks_uri": self.jwks_url() })
    }

    /// The JWKS: the provider key with `kid` and `alg` (AGT-16).
    pub fn jwks(&self) -> Value {
        let mut jwk = serde_json::to_value(self.key.public_jwk()).unwrap_or(Value::Null);
        if let Value::Object(m) = &mut jwk {
            m.insert("kid".into(), self.kid.clone().into());
        }
        json!({ "keys": [jwk] })
    }

    /// Puts the metadata and JWKS into `fetcher`.
    pub fn install(&self, fetcher: &MapFetcher) {
        fetcher.serve_json(&self.metadata_url(), &self.metadata());
        fetcher.serve_json(&self.jwks_url(), &self.jwks());
    }

    /// The claims of a well-formed agent token for `agent_key`, agent `local`, issued at
    /// `iat` for `lifetime` seconds.
    pub fn claims(
        &self,
        agent_key: &SigningKey,
        local: &str,
        iat: u64,
        lifetime: u64,
    ) -> Map<String, Value> {
        let host = self.issuer.trim_start_matches("https://");
        let cnf = serde_json::to_value(agent_key.public_jwk()).unwrap_or(Value::Null);
        let mut m = Map::new();
        m.insert("iss".into(), self.issuer.clone().into());
        m.insert("dwk".into(), "aauth-agent.json".into());
        m.insert("sub".into(), format!("aauth:{local}@{host}").into());
        m.insert("jti".into(), format!("jti-{iat}-{local}").into());
        m.insert("cnf".into(), json!({ "jwk": cnf }));
        m.insert("iat".into(), iat.into());
        m.insert("exp".into(), (iat + lifetime).into());
        m
    }

    /// Signs `claims` as an `aa-agent+jwt` with the provider key.
    pub fn sign(&self, claims: &Map<String, Value>) -> String {
        sign_jwt(&self.key, "aa-agent+jwt", Some(&self.kid), claims).unwrap_or_default()
    }

    /// Signs with an arbitrary protected header (for negative tests: `alg`, `typ`, `kid`).
    pub fn sign_with_header(
        &self,
        header: &Map<String, Value>,
        claims: &Map<String, Value>,
    ) -> String {
        let h = URL_SAFE_NO_PAD.encode(Value::Object(header.clone()).to_string());
        let p = URL_SAFE_NO_PAD.encode(Value::Object(claims.clone()).to_string());
        let input = format!("{h}.{p}");
        let sig = self.key.sign(input.as_bytes()).unwrap_or_default();
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig))
    }

    /// A valid agent token for `agent_key`.
    pub fn mint(&self, agent_key: &SigningKey, local: &str, iat: u64, lifetime: u64) -> AgentToken {
        AgentToken::new(self.sign(&self.claims(agent_key, local, iat, lifetime)))
            .expect("minted tokens are compact JWTs")
    }
}

/// A [`TokenRefresher`] backed by an [`AgentProvider`] and a clock; counts refreshes.
#[derive(Debug)]
pub struct ProviderRefresher {
    pub provider: AgentProvider,
    pub local: String,
    pub lifetime: u64,
    pub now: AtomicUsize,
    pub refreshes: AtomicUsize,
}

impl ProviderRefresher {
    pub fn new(provider: AgentProvider, local: &str, lifetime: u64, now: u64) -> Self {
        ProviderRefresher {
            provider,
            local: local.to_owned(),
            lifetime,
            now: AtomicUsize::new(usize::try_from(now).unwrap_or(usize::MAX)),
            refreshes: AtomicUsize::new(0),
        }
    }
}

#[async_trait]
impl TokenRefresher for ProviderRefresher {
    async fn refresh(&self, key: &SigningKey) -> Result<AgentToken, RefreshError> {
        self.refreshes.fetch_add(1, Ordering::SeqCst);
        let now = self.now.load(Ordering::SeqCst) as u64;
        Ok(self.provider.mint(key, &self.local, now, self.lifetime))
    }
}

/// Catches the TLS ClientHello of the first client that connects to a loopback port, so a
/// test can check which protocol versions a client offers (SIG-35: TLS 1.2 or later only).
/// The connection is closed after the first record; the client sees a handshake failure.
#[derive(Debug)]
pub struct ClientHelloCatcher {
    addr: std::net::SocketAddr,
    hello: std::sync::mpsc::Receiver<Vec<u8>>,
}

impl ClientHelloCatcher {
    /// Listens on `127.0.0.1`, any free port.
    pub fn start() -> std::io::Result<ClientHelloCatcher> {
        use std::io::Read as _;
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let Ok((mut stream, _)) = listener.accept() else {
                return;
            };
            let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            // One TLS record: 5-byte header, then its length.
            loop {
                let want = match buf.get(3..5) {
                    Some(l) => 5 + usize::from(u16::from_be_bytes([l[0], l[1]])),
                    None => 5,
                };
                if buf.len() >= want {
                    buf.truncate(want);
                    break;
                }
                match stream.read(&mut chunk) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => buf.extend_from_slice(&chunk[..n]),
                }
            }
            let _ = tx.send(buf);
        });
        Ok(ClientHelloCatcher { addr, hello: rx })
    }

    /// The address to point the client at.
    pub fn addr(&self) -> std::net::SocketAddr {
        self.addr
    }

    /// The versions the ClientHello offers: its `supported_versions` extension when present
    /// (TLS 1.3 clients), else its legacy `client_version`. `None` when no ClientHello came
    /// within `timeout` or it does not parse.
    pub fn offered_versions(&self, timeout: Duration) -> Option<Vec<u16>> {
        let record = self.hello.recv_timeout(timeout).ok()?;
        offered_tls_versions(&record)
    }

    /// Panics unless a ClientHello came within 10 s and offered TLS 1.2 (0x0303) and/or 1.3
    /// (0x0304) and nothing older (SIG-35).
    pub fn assert_only_tls_1_2_or_later(&self) {
        let offered = self
            .offered_versions(Duration::from_secs(10))
            .expect("a ClientHello within 10 s");
        assert!(!offered.is_empty(), "no version offered");
        assert!(
            offered.iter().all(|v| [0x0303, 0x0304].contains(v)),
            "offered {offered:04x?}"
        );
    }
}

/// Parses one TLS handshake record holding a ClientHello (RFC 8446 §4.1.2) down to the
/// versions it offers; see [`ClientHelloCatcher::offered_versions`].
pub fn offered_tls_versions(record: &[u8]) -> Option<Vec<u16>> {
    struct R<'a>(&'a [u8]);
    impl<'a> R<'a> {
        fn take(&mut self, n: usize) -> Option<&'a [u8]> {
            let (a, b) = (self.0.get(..n)?, self.0.get(n..)?);
            self.0 = b;
            Some(a)
        }
        fn u8(&mut self) -> Option<usize> {
            self.take(1).map(|b| usize::from(b[0]))
        }
        fn u16(&mut self) -> Option<usize> {
            self.take(2)
                .map(|b| usize::from(u16::from_be_bytes([b[0], b[1]])))
        }
        fn vec8(&mut self) -> Option<&'a [u8]> {
            let n = self.u8()?;
            self.take(n)
        }
        fn vec16(&mut self) -> Option<&'a [u8]> {
            let n = self.u16()?;
            self.take(n)
        }
    }
    let mut r = R(record);
    // Record header: handshake (22), legacy record version, length.
    if r.u8()? != 22 {
        return None;
    }
    r.take(2)?;
    let mut r = R(r.vec16()?);
    // Handshake header: client_hello (1), 24-bit length.
    if r.u8()? != 1 {
        return None;
    }
    r.take(3)?;
    let legacy = r.u16()? as u16;
    r.take(32)?; // random
    r.vec8()?; // legacy_session_id
    r.vec16()?; // cipher_suites
    r.vec8()?; // legacy_compression_methods
    let Some(exts) = r.vec16() else {
        return Some(vec![legacy]);
    };
    let mut exts = R(exts);
    while !exts.0.is_empty() {
        let kind = exts.u16()?;
        let body = exts.vec16()?;
        if kind == 0x002b {
            let list = R(body).vec8()?;
            return Some(
                list.chunks_exact(2)
                    .map(|v| u16::from_be_bytes([v[0], v[1]]))
                    .collect(),
            );
        }
    }
    Some(vec![legacy])
}

#[cfg(test)]
mod tests {
    use super::offered_tls_versions;

    /// A minimal ClientHello: record and handshake headers around `body_tail` (after random).
    fn hello(legacy: u16, exts: Option<&[u8]>) -> Vec<u8> {
        let mut body = legacy.to_be_bytes().to_vec();
        body.extend_from_slice(&[0u8; 32]); // random
        body.push(0); // session id
        body.extend_from_slice(&[0, 2, 0x13, 0x01]); // one cipher suite
        body.extend_from_slice(&[1, 0]); // null compression
        if let Some(e) = exts {
            body.extend_from_slice(&(e.len() as u16).to_be_bytes());
            body.extend_from_slice(e);
        }
        let mut hs = vec![1, 0];
        hs.extend_from_slice(&(body.len() as u16).to_be_bytes());
        hs.extend_from_slice(&body);
        let mut rec = vec![22, 3, 1];
        rec.extend_from_slice(&(hs.len() as u16).to_be_bytes());
        rec.extend_from_slice(&hs);
        rec
    }

    #[test]
    fn sig_35_the_parser_reports_old_versions_too() {
        // A TLS 1.0 client without extensions: the helper must see 0x0301 (else the SIG-35
        // tests that use it could not fail).
        assert_eq!(
            offered_tls_versions(&hello(0x0301, None)),
            Some(vec![0x0301])
        );
        // supported_versions (0x002b) listing 1.3, 1.2 and 1.1, after an unrelated extension.
        let exts = [0, 0x0a, 0, 0, 0, 0x2b, 0, 7, 6, 3, 4, 3, 3, 3, 2];
        assert_eq!(
            offered_tls_versions(&hello(0x0303, Some(&exts))),
            Some(vec![0x0304, 0x0303, 0x0302])
        );
        assert_eq!(offered_tls_versions(b"GET / HTTP/1.1\r\n"), None);
        assert_eq!(offered_tls_versions(&[22, 3, 1, 0, 9, 1]), None);
    }
}
