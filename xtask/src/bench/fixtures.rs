//! The request set every part measures: a typical AAuth request after approval, signed with
//! `hwk` — `GET https://resource.example/api/data?page=2` with `Accept`, `User-Agent` and
//! `Authorization: AAuth <token>`, covering `@method @authority @path signature-key
//! authorization` — optionally with more covered headers (scaling) or a large one.
use aauth_sig::{
    Algorithm, RequestTarget, Scheme, SignOptions, Signer, SigningKey, Verifier, VerifierConfig,
    VerifyingKey,
};
use http::{HeaderMap, HeaderValue, Method};

pub const AUTHORITY: &str = "resource.example";
pub const PATH: &str = "/api/data";
pub const QUERY: &str = "page=2";
/// A fixed instant for deterministic (instruction-count) runs.
pub const FIXED_NOW: u64 = 1_730_217_600;
/// A session token of the length aauth-store issues (32 random bytes, base64url).
pub const TOKEN: &str = "q4Jb0wZrS1m8Jx2HcVtD6nE5yPaL7kUoGfRiT9sWdQe";

/// What to sign.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shape {
    pub alg: Algorithm,
    /// Covered `x-bench-<i>` headers beyond the typical five components.
    pub extra_components: usize,
    /// Size of one more covered header, `x-bench-large` (0: none).
    pub header_bytes: usize,
}

impl Shape {
    pub fn typical(alg: Algorithm) -> Shape {
        Shape {
            alg,
            extra_components: 0,
            header_bytes: 0,
        }
    }
}

pub fn target<'a>(method: &'a Method, headers: &'a HeaderMap) -> RequestTarget<'a> {
    RequestTarget {
        method,
        scheme: "https",
        authority: AUTHORITY,
        path: PATH,
        query: Some(QUERY),
        headers,
    }
}

pub fn verifier() -> Verifier {
    Verifier::new(VerifierConfig::new(AUTHORITY).with_accepted_schemes(vec![Scheme::Hwk]))
}

/// One agent's key and a signed request, plus the pieces the raw baselines need.
pub struct Signed {
    pub key: SigningKey,
    pub signer: Signer,
    pub opts: SignOptions,
    /// The request before signing.
    pub unsigned: HeaderMap,
    /// The request as sent.
    pub headers: HeaderMap,
    /// The RFC 9421 signature base of `headers`.
    pub base: String,
    /// The signature bytes of `headers`.
    pub signature: Vec<u8>,
    pub verifying: VerifyingKey,
}

pub fn unsigned_headers(shape: &Shape) -> Result<HeaderMap, String> {
    let mut h = HeaderMap::new();
    h.insert("accept", HeaderValue::from_static("application/json"));
    h.insert("user-agent", HeaderValue::from_static("aauth-bench/1"));
    h.insert(
        "authorization",
        HeaderValue::from_str(&format!("AAuth {TOKEN}")).map_err(|e| e.to_string())?,
    );
    for i in 0..shape.extra_components {
        h.insert(
            http::HeaderName::from_bytes(format!("x-bench-{i}").as_bytes())
                .map_err(|e| e.to_string())?,
            HeaderValue::from_str(&format!("value-{i}")).map_err(|e| e.to_string())?,
        );
    }
    if shape.header_bytes > 0 {
        let v: String = (0..shape.header_bytes)
            .map(|i| char::from(b'a' + (i % 26) as u8))
            .collect();
        h.insert(
            "x-bench-large",
            HeaderValue::from_str(&v).map_err(|e| e.to_string())?,
        );
    }
    Ok(h)
}

pub fn options(shape: &Shape, created: u64) -> SignOptions {
    let mut opts = SignOptions::new(created).with_component("authorization");
    for i in 0..shape.extra_components {
        opts = opts.with_component(format!("x-bench-{i}"));
    }
    if shape.header_bytes > 0 {
        opts = opts.with_component("x-bench-large");
    }
    opts
}

/// Signs the request of `shape` with `key` at `created`.
pub fn sign_with(key: SigningKey, shape: &Shape, created: u64) -> Result<Signed, String> {
    let signer = Signer::hwk(key.clone());
    let opts = options(shape, created);
    let unsigned = unsigned_headers(shape)?;
    let mut headers = unsigned.clone();
    signer
        .sign(&target(&Method::GET, &unsigned), &mut headers, &opts)
        .map_err(|e| format!("sign: {e}"))?;
    let mut h = unsigned.clone();
    let base = signer
        .signature_base(&target(&Method::GET, &unsigned), &mut h, &opts)
        .map_err(|e| format!("base: {e}"))?;
    let fields = aauth_sig::SignatureFields::from_headers(&headers).map_err(|e| e.to_string())?;
    let signature = fields.get("sig").map_err(|e| e.to_string())?.signature;
    let verifying = key.verifying_key();
    Ok(Signed {
        key,
        signer,
        opts,
        unsigned,
        headers,
        base,
        signature,
        verifying,
    })
}

/// The RFC 9421 test key of `alg` (from `shared/`), so that counted runs of different
/// operations see the same key and, for Ed25519, the same signature bytes; a fresh key when
/// the file is not there.
pub fn fixed_key(alg: Algorithm) -> Result<SigningKey, String> {
    let file = match alg {
        Algorithm::Ed25519 => "test-key-ed25519.priv.jwk.json",
        _ => "test-key-ecc-p256.priv.jwk.json",
    };
    let path = crate::shared_dir().join("testdata/rfc9421/keys").join(file);
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            let mut jwk: serde_json::Value =
                serde_json::from_str(&text).map_err(|e| e.to_string())?;
            if let Some(o) = jwk.as_object_mut() {
                o.remove("kid");
                o.insert("alg".into(), alg.jose_name().into());
            }
            let jwk: aauth_sig::Jwk = serde_json::from_value(jwk).map_err(|e| e.to_string())?;
            SigningKey::from_jwk(&jwk).map_err(|e| format!("{}: {e}", path.display()))
        }
        Err(_) => SigningKey::generate(alg).map_err(|e| e.to_string()),
    }
}

pub fn sign(shape: &Shape, created: u64) -> Result<Signed, String> {
    let key = SigningKey::generate(shape.alg).map_err(|e| e.to_string())?;
    sign_with(key, shape, created)
}

/// Checks that the fixture verifies both ways before anything is timed.
pub fn check(s: &Signed, verifier: &Verifier, now: u64) -> Result<(), String> {
    verifier
        .verify(&target(&Method::GET, &s.headers), now)
        .map_err(|e| format!("our verifier refuses the fixture: {e}"))?;
    s.verifying
        .verify(s.base.as_bytes(), &s.signature)
        .map_err(|_| "the raw verify refuses the fixture".to_owned())
}

pub fn now_unix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(FIXED_NOW)
}

/// Issues a one-hour session for `key` (an `hwk` agent, no agent identity) in the demo
/// resource's store and returns the `Authorization` value that presents it.
pub async fn issue_session(
    resource: &aauth_axum::AAuthResource,
    key: &SigningKey,
    now: u64,
) -> Result<String, String> {
    let grant = aauth_store::SessionGrant::new(
        aauth_store::SessionBinding {
            key_thumbprint: key.thumbprint(),
            agent_id: None,
        },
        now,
        now + 3600,
    )
    .with_person(Some("bench".to_owned()));
    let token = resource
        .session_store()
        .issue(grant)
        .await
        .map_err(|e| e.to_string())?;
    Ok(format!("AAuth {}", token.expose()))
}
