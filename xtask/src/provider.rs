//! A test agent provider for the interop cells that sign with `scheme=jwt`: an issuer with an
//! Ed25519 key, its metadata and JWKS, and agent tokens (`typ: aa-agent+jwt`, `cnf.jwk` = the
//! peer's public key). The resource discovers the issuer keys through [`ProviderFetcher`], an
//! in-process [`Fetcher`] that answers only the provider's two URLs, so the egress policy (no
//! loopback, no private addresses, SK-21) stays untouched and nothing leaves the process.
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use aauth_sig::{
    Algorithm, DiscoveryResolver, FetchError, FetchResponse, Fetcher, HttpsUrl, KeyResolver,
    SigningKey,
};
use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

/// The issuer the test tokens name (never resolved: only [`ProviderFetcher`] knows it).
pub const ISSUER: &str = "https://agent-provider.interop.test";
/// The issuer's host: the domain of every agent identifier it issues.
pub const HOST: &str = "agent-provider.interop.test";

pub struct TestProvider {
    key: SigningKey,
    kid: &'static str,
    fetcher: Arc<ProviderFetcher>,
}

impl TestProvider {
    pub fn new() -> Result<Self, String> {
        let key = SigningKey::generate(Algorithm::Ed25519).map_err(|e| e.to_string())?;
        let kid = "interop-ap-1";
        let mut jwk = serde_json::to_value(key.public_jwk()).map_err(|e| e.to_string())?;
        jwk["kid"] = json!(kid);
        jwk["alg"] = json!(key.algorithm().jose_name());
        let fetcher = Arc::new(ProviderFetcher {
            metadata_url: format!("{ISSUER}/.well-known/aauth-agent.json"),
            jwks_url: format!("{ISSUER}/.well-known/jwks.json"),
            metadata:
                json!({"issuer": ISSUER, "jwks_uri": format!("{ISSUER}/.well-known/jwks.json")})
                    .to_string()
                    .into_bytes(),
            jwks: json!({"keys": [jwk]}).to_string().into_bytes(),
            fetches: AtomicUsize::new(0),
        });
        Ok(TestProvider { key, kid, fetcher })
    }

    /// What the resource uses to find the provider's keys (the draft's discovery, over
    /// [`ProviderFetcher`]).
    pub fn resolver(&self) -> Arc<dyn KeyResolver> {
        Arc::new(DiscoveryResolver::new(self.fetcher.clone()))
    }

    /// How many discovery fetches the resource made.
    pub fn fetches(&self) -> usize {
        self.fetcher.fetches.load(Ordering::SeqCst)
    }

    /// An agent token for `agent_public_jwk` (the peer's key), agent `local`, valid from now
    /// for `lifetime` seconds.
    pub fn mint(
        &self,
        agent_public_jwk: &Value,
        local: &str,
        lifetime: u64,
    ) -> Result<String, String> {
        let iat = u64::try_from(crate::raw::now()).unwrap_or(0);
        let header = json!({"alg": self.key.algorithm().jose_name(), "typ": "aa-agent+jwt", "kid": self.kid});
        let claims = json!({
            "iss": ISSUER,
            "dwk": "aauth-agent.json",
            "sub": format!("aauth:{local}@{HOST}"),
            "jti": format!("interop-{local}-{iat}"),
            "iat": iat,
            "exp": iat + lifetime,
            "cnf": {"jwk": agent_public_jwk},
        });
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let sig = self
            .key
            .sign(input.as_bytes())
            .map_err(|e| format!("signing the agent token: {e}"))?;
        Ok(format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig)))
    }
}

/// Answers the provider's metadata and JWKS URLs; everything else is a 404.
pub struct ProviderFetcher {
    metadata_url: String,
    jwks_url: String,
    metadata: Vec<u8>,
    jwks: Vec<u8>,
    fetches: AtomicUsize,
}

#[async_trait]
impl Fetcher for ProviderFetcher {
    async fn get(&self, url: &HttpsUrl) -> Result<FetchResponse, FetchError> {
        self.fetches.fetch_add(1, Ordering::SeqCst);
        let body = if url.as_str() == self.metadata_url {
            self.metadata.clone()
        } else if url.as_str() == self.jwks_url {
            self.jwks.clone()
        } else {
            return Err(FetchError::Status(404));
        };
        let mut headers = http::HeaderMap::new();
        headers.insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("application/json"),
        );
        Ok(FetchResponse {
            status: 200,
            headers,
            body,
        })
    }
}
