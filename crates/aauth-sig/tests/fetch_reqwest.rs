//! The real HTTPS fetcher against a loopback TLS server: egress admission, the test-only host
//! override, no redirects, size limits, and a whole agent-token verification over the wire.
//!
//! The server is a few lines of rustls over std sockets with a certificate for `issuer.test`
//! issued by a test CA (`tests/data/`, valid until 2125); the fetcher trusts only that CA.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use aauth_sig::testing::{AgentProvider, ClientHelloCatcher};
use aauth_sig::{
    AgentToken, Algorithm, DiscoveryResolver, EgressPolicy, FetchError, Fetcher, HttpsUrl,
    RequestTarget, ReqwestFetcher, SignOptions, Signer, SigningKey, Verifier, VerifierConfig,
};
use http::{HeaderMap, Method};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

const CA: &[u8] = include_bytes!("data/test-ca.pem");
const CERT: &[u8] = include_bytes!("data/issuer-test.crt.pem");
const KEY: &[u8] = include_bytes!("data/issuer-test.key.pem");

type Routes = Arc<Mutex<HashMap<String, (u16, Vec<(String, String)>, Vec<u8>)>>>;

struct Server {
    addr: SocketAddr,
    routes: Routes,
    hits: Arc<AtomicUsize>,
}

impl Server {
    fn start() -> Server {
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(CERT)
            .collect::<Result<_, _>>()
            .unwrap();
        let key = PrivateKeyDer::from_pem_slice(KEY).unwrap();
        let config = Arc::new(
            rustls::ServerConfig::builder_with_provider(Arc::new(
                rustls::crypto::ring::default_provider(),
            ))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .unwrap(),
        );
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let routes: Routes = Arc::default();
        let hits = Arc::new(AtomicUsize::new(0));
        let (r, h) = (routes.clone(), hits.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let (config, routes, hits) = (config.clone(), r.clone(), h.clone());
                std::thread::spawn(move || {
                    let Ok(conn) = rustls::ServerConnection::new(config) else {
                        return;
                    };
                    let mut tls = rustls::StreamOwned::new(conn, stream);
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 1024];
                    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                        match tls.read(&mut chunk) {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    }
                    hits.fetch_add(1, Ordering::SeqCst);
                    let head = String::from_utf8_lossy(&buf).to_string();
                    let path = head.split(' ').nth(1).unwrap_or("/").to_owned();
                    let (status, headers, body) = routes
                        .lock()
                        .unwrap()
                        .get(&path)
                        .cloned()
                        .unwrap_or((404, Vec::new(), Vec::new()));
                    let mut resp = format!(
                        "HTTP/1.1 {status} X\r\ncontent-length: {}\r\nconnection: close\r\n",
                        body.len()
                    );
                    for (k, v) in headers {
                        resp.push_str(&format!("{k}: {v}\r\n"));
                    }
                    resp.push_str("\r\n");
                    let _ = tls.write_all(resp.as_bytes());
                    let _ = tls.write_all(&body);
                    let _ = tls.flush();
                    tls.conn.send_close_notify();
                    let _ = tls.flush();
                });
            }
        });
        Server { addr, routes, hits }
    }

    fn route(&self, path: &str, status: u16, headers: &[(&str, &str)], body: impl Into<Vec<u8>>) {
        let headers = headers
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        self.routes
            .lock()
            .unwrap()
            .insert(path.to_owned(), (status, headers, body.into()));
    }
}

fn fetcher(policy: EgressPolicy) -> ReqwestFetcher {
    ReqwestFetcher::new(policy)
        .with_root_certificates_pem(CA)
        .unwrap()
}

fn overridden(server: &Server) -> ReqwestFetcher {
    fetcher(EgressPolicy::default().with_host_override("issuer.test", server.addr))
}

fn url(s: &str) -> HttpsUrl {
    HttpsUrl::parse(s).unwrap()
}

#[tokio::test]
async fn sk_21_host_override_reaches_the_loopback_issuer_over_tls() {
    let server = Server::start();
    server.route("/hello", 200, &[("cache-control", "max-age=5")], "{}");
    let resp = overridden(&server)
        .get(&url("https://issuer.test/hello"))
        .await
        .unwrap();
    assert_eq!(resp.status, 200);
    assert_eq!(resp.body, b"{}");
    assert_eq!(resp.headers["cache-control"], "max-age=5");
}

#[tokio::test]
async fn sk_21_loopback_is_refused_before_connecting_without_an_override() {
    let server = Server::start();
    let f = fetcher(EgressPolicy::default());
    let port = server.addr.port();
    for u in [
        format!("https://127.0.0.1:{port}/"),
        format!("https://localhost:{port}/"),
        format!("https://[::1]:{port}/"),
    ] {
        let err = f.get(&url(&u)).await.unwrap_err();
        assert!(
            matches!(err, FetchError::ForbiddenAddress(_)),
            "{u}: {err:?}"
        );
    }
    assert_eq!(
        server.hits.load(Ordering::SeqCst),
        0,
        "no connection was made"
    );
    // Allowed explicitly by configuration, the same loopback server is reachable (the TLS
    // name check still applies, so go through the overridden name).
    let open = fetcher(EgressPolicy {
        allow_private_addresses: true,
        ..EgressPolicy::default()
    });
    let err = open
        .get(&url(&format!("https://127.0.0.1:{port}/")))
        .await
        .unwrap_err();
    assert!(
        matches!(err, FetchError::Network(_)),
        "certificate is for issuer.test: {err:?}"
    );
    assert_eq!(server.hits.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn sk_21_redirects_are_not_followed_and_size_is_bounded() {
    let server = Server::start();
    server.route(
        "/moved",
        302,
        &[("location", "https://issuer.test/target")],
        "",
    );
    server.route("/target", 200, &[], "{}");
    server.route("/big", 200, &[], vec![b'x'; 2048]);
    let f = fetcher(EgressPolicy {
        max_body_bytes: 1024,
        ..EgressPolicy::default().with_host_override("issuer.test", server.addr)
    });
    let resp = f.get(&url("https://issuer.test/moved")).await.unwrap();
    assert_eq!(resp.status, 302, "returned as is, not followed");
    assert_eq!(
        f.get(&url("https://issuer.test/big")).await.unwrap_err(),
        FetchError::TooLarge(1024)
    );
    assert_eq!(
        server.hits.load(Ordering::SeqCst),
        2,
        "/target never fetched"
    );
}

#[tokio::test]
async fn agt_10_agent_token_verified_through_the_real_fetcher() {
    let server = Server::start();
    let provider = AgentProvider::new("https://issuer.test");
    server.route(
        "/.well-known/aauth-agent.json",
        200,
        &[("content-type", "application/json")],
        provider.metadata().to_string(),
    );
    server.route(
        "/.well-known/jwks.json",
        200,
        &[("cache-control", "max-age=600")],
        provider.jwks().to_string(),
    );
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let agent = SigningKey::generate(Algorithm::Ed25519).unwrap();
    let token: AgentToken = provider.mint(&agent, "assistant", now, 600);
    let mut h = HeaderMap::new();
    let empty = HeaderMap::new();
    fn t(h: &HeaderMap) -> RequestTarget<'_> {
        RequestTarget {
            method: &Method::GET,
            scheme: "https",
            authority: "resource.example",
            path: "/data",
            query: None,
            headers: h,
        }
    }
    Signer::jwt(agent.clone(), &token)
        .sign(&t(&empty), &mut h, &SignOptions::new(now))
        .unwrap();
    let resolver = DiscoveryResolver::new(Arc::new(overridden(&server)));
    let verifier = Verifier::new(VerifierConfig::new("resource.example"));
    let v = verifier.verify_with(&t(&h), now, &resolver).await.unwrap();
    assert_eq!(v.agent_id(), Some("aauth:assistant@issuer.test"));
    assert_eq!(server.hits.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn sig_35_the_fetcher_offers_tls_1_2_or_later_only() {
    let catcher = ClientHelloCatcher::start().unwrap();
    let f = fetcher(EgressPolicy::default().with_host_override("issuer.test", catcher.addr()));
    // The catcher hangs up after the ClientHello, so the fetch itself fails.
    assert!(f.get(&url("https://issuer.test/jwks.json")).await.is_err());
    catcher.assert_only_tls_1_2_or_later();
}
