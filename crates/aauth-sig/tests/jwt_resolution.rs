//! `scheme=jwt` (agent tokens) and `jwks_uri`: verification order, error codes, discovery and
//! the JWKS cache, through the in-process `MapFetcher`. Each test is named after the DIGEST
//! requirement it checks.

use std::sync::Arc;
use std::time::Duration;

use aauth_sig::testing::{AgentProvider, MapFetcher};
use aauth_sig::{
    AgentTokenPolicy, Algorithm, CacheConfig, DiscoveryResolver, FetchError, JwksCache,
    KeyResolver, RequestTarget, Scheme, SignOptions, Signer, SignerIdentity, SigningKey,
    VerifiedSignature, Verifier, VerifierConfig, VerifyError,
};
use aauth_wire::signature_error::SignatureErrorCode as Code;
use http::{HeaderMap, Method};
use serde_json::{Map, Value, json};

const NOW: u64 = 1_730_217_600;
const AUTHORITY: &str = "resource.example";
const ISSUER: &str = "https://agent.example";

struct World {
    fetcher: Arc<MapFetcher>,
    provider: AgentProvider,
    resolver: DiscoveryResolver,
    verifier: Verifier,
    agent: SigningKey,
}

fn world_with(cache: CacheConfig) -> World {
    let fetcher = Arc::new(MapFetcher::new());
    let provider = AgentProvider::new(ISSUER);
    provider.install(&fetcher);
    let resolver = DiscoveryResolver::with_cache(Arc::new(JwksCache::new(fetcher.clone(), cache)));
    World {
        fetcher,
        provider,
        resolver,
        verifier: Verifier::new(VerifierConfig::new(AUTHORITY)),
        agent: SigningKey::generate(Algorithm::Ed25519).unwrap(),
    }
}

fn world() -> World {
    world_with(CacheConfig::default())
}

fn target<'a>(method: &'a Method, h: &'a HeaderMap) -> RequestTarget<'a> {
    RequestTarget {
        method,
        scheme: "https",
        authority: AUTHORITY,
        path: "/api/data",
        query: None,
        headers: h,
    }
}

fn sign(signer: &Signer, method: &Method, created: u64) -> HeaderMap {
    let mut h = HeaderMap::new();
    let empty = HeaderMap::new();
    signer
        .sign(&target(method, &empty), &mut h, &SignOptions::new(created))
        .unwrap();
    h
}

fn jwt_request(key: &SigningKey, token: &str, created: u64) -> HeaderMap {
    let signer = Signer::jwt(key.clone(), &aauth_sig::AgentToken::new(token).unwrap());
    sign(&signer, &Method::GET, created)
}

fn run(
    v: &Verifier,
    r: &dyn KeyResolver,
    h: &HeaderMap,
    now: u64,
) -> Result<VerifiedSignature, VerifyError> {
    futures_lite_block_on(v.verify_with(&target(&Method::GET, h), now, r))
}

/// The tests run on a current-thread runtime per call; the verifier itself is runtime-free.
fn futures_lite_block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap()
        .block_on(f)
}

impl World {
    fn claims(&self) -> Map<String, Value> {
        self.provider
            .claims(&self.agent, "assistant", NOW - 10, 3600)
    }

    fn request_with_claims(&self, claims: &Map<String, Value>) -> HeaderMap {
        jwt_request(&self.agent, &self.provider.sign(claims), NOW)
    }

    fn verify(&self, h: &HeaderMap) -> Result<VerifiedSignature, VerifyError> {
        self.verify_at(h, NOW)
    }

    fn verify_at(&self, h: &HeaderMap, now: u64) -> Result<VerifiedSignature, VerifyError> {
        run(&self.verifier, &self.resolver, h, now)
    }

    fn code(&self, h: &HeaderMap) -> Code {
        self.verify(h).expect_err("must fail").code()
    }

    fn code_for_claims(&self, claims: &Map<String, Value>) -> Code {
        self.code(&self.request_with_claims(claims))
    }

    fn header(&self, alg: &str, typ: &str, kid: Option<&str>) -> Map<String, Value> {
        let mut h = Map::new();
        h.insert("alg".into(), alg.into());
        h.insert("typ".into(), typ.into());
        if let Some(k) = kid {
            h.insert("kid".into(), k.into());
        }
        h
    }

    fn metadata_fetches(&self) -> usize {
        self.fetcher.count(&self.provider.metadata_url())
    }

    fn jwks_fetches(&self) -> usize {
        self.fetcher.count(&self.provider.jwks_url())
    }
}

#[test]
fn agt_08_jwt_signed_request_verifies_and_yields_the_agent_identity() {
    let w = world();
    let v = w
        .verify(&w.request_with_claims(&w.claims()))
        .expect("verifies");
    assert_eq!(v.scheme, Scheme::Jwt);
    assert_eq!(v.thumbprint, w.agent.thumbprint());
    assert_eq!(v.agent_id(), Some("aauth:assistant@agent.example"));
    assert_eq!(v.issuer(), Some(ISSUER));
    let Some(SignerIdentity::Agent(a)) = &v.identity else {
        panic!("agent identity expected");
    };
    assert_eq!(a.expires_at, NOW - 10 + 3600);
    assert!(a.claims.contains_key("cnf"));
    assert_eq!((w.metadata_fetches(), w.jwks_fetches()), (1, 1));
}

#[test]
fn sig_23_jwt_is_the_default_and_hwk_only_verify_refuses_it() {
    let w = world();
    let h = w.request_with_claims(&w.claims());
    let err = w
        .verifier
        .verify(&target(&Method::GET, &h), NOW)
        .unwrap_err();
    assert_eq!(err.code(), Code::UnsupportedScheme);
    let err = run(&w.verifier, &aauth_sig::NoDiscovery, &h, NOW).unwrap_err();
    assert_eq!(err.code(), Code::UnsupportedScheme);
    // And hwk is refused by the default (strict) configuration.
    let hwk = sign(&Signer::hwk(w.agent.clone()), &Method::GET, NOW);
    assert_eq!(w.code(&hwk), Code::UnsupportedScheme);
}

#[test]
fn sk_16_checks_before_discovery_never_fetch() {
    let w = world();
    let mut expired = w.claims();
    expired.insert("exp".into(), (NOW - 1).into());
    let mut no_cnf = w.claims();
    no_cnf.remove("cnf");
    let cases: Vec<(HeaderMap, Code)> = vec![
        (jwt_request(&w.agent, "e30.e30.AAAA", NOW), Code::InvalidJwt),
        (
            jwt_request(
                &w.agent,
                &w.provider
                    .sign_with_header(&w.header("Ed25519", "JWT", Some("ap-key-1")), &w.claims()),
                NOW,
            ),
            Code::InvalidJwt,
        ),
        (w.request_with_claims(&expired), Code::ExpiredJwt),
        (w.request_with_claims(&no_cnf), Code::InvalidJwt),
    ];
    for (h, code) in cases {
        assert_eq!(w.code(&h), code);
    }
    assert_eq!(
        w.fetcher.total(),
        0,
        "no fetch before the pre-signature checks pass"
    );
}

#[test]
fn err_17_agt_09_agt_19_wrong_typ_is_invalid_jwt() {
    let w = world();
    for typ in ["JWT", "aa-person+jwt", "aa-auth+jwt"] {
        let token = w
            .provider
            .sign_with_header(&w.header("Ed25519", typ, Some("ap-key-1")), &w.claims());
        assert_eq!(
            w.code(&jwt_request(&w.agent, &token, NOW)),
            Code::InvalidJwt,
            "{typ}"
        );
    }
}

#[test]
fn err_18_agt_11_expired_agent_token_is_expired_jwt_at_the_boundary() {
    let w = world();
    let mut c = w.claims();
    c.insert("exp".into(), NOW.into());
    assert_eq!(w.code_for_claims(&c), Code::ExpiredJwt);
    c.insert("exp".into(), (NOW + 1).into());
    assert!(w.verify(&w.request_with_claims(&c)).is_ok());
}

#[test]
fn agt_11_amb_10_iat_in_the_future_uses_the_window_as_leeway() {
    let w = world();
    let mut c = w.claims();
    c.insert("iat".into(), (NOW + 60).into());
    assert!(
        w.verify(&w.request_with_claims(&c)).is_ok(),
        "within the 60 s window"
    );
    c.insert("iat".into(), (NOW + 61).into());
    assert_eq!(w.code_for_claims(&c), Code::InvalidJwt);
    let skew = World {
        verifier: Verifier::new(VerifierConfig::new(AUTHORITY).with_clock_skew_code(true)),
        ..world()
    };
    let mut c = skew.claims();
    c.insert("iat".into(), (NOW + 61).into());
    assert_eq!(skew.code_for_claims(&c), Code::ClockSkew);
}

#[test]
fn agt_04_sig_04_sig_05_refused_jwt_header_algorithms_are_invalid_jwt() {
    let w = world();
    for alg in ["HS256", "none", "EdDSA", "RS256", "ed25519"] {
        let token = w.provider.sign_with_header(
            &w.header(alg, "aa-agent+jwt", Some("ap-key-1")),
            &w.claims(),
        );
        assert_eq!(
            w.code(&jwt_request(&w.agent, &token, NOW)),
            Code::InvalidJwt,
            "{alg}"
        );
    }
    // A header kid is required (P "Agent Token Structure").
    let token = w
        .provider
        .sign_with_header(&w.header("Ed25519", "aa-agent+jwt", None), &w.claims());
    assert_eq!(
        w.code(&jwt_request(&w.agent, &token, NOW)),
        Code::InvalidJwt
    );
}

#[test]
fn amb_44_eddsa_jwt_header_is_accepted_only_in_legacy_mode() {
    let w = World {
        verifier: Verifier::new(VerifierConfig::new(AUTHORITY).with_legacy_algorithms(true)),
        ..world()
    };
    let token = w.provider.sign_with_header(
        &w.header("EdDSA", "aa-agent+jwt", Some("ap-key-1")),
        &w.claims(),
    );
    assert!(w.verify(&jwt_request(&w.agent, &token, NOW)).is_ok());
}

#[test]
fn agt_05_each_missing_required_claim_is_invalid_jwt() {
    let w = world();
    for claim in ["iss", "dwk", "sub", "jti", "cnf", "iat", "exp"] {
        let mut c = w.claims();
        c.remove(claim);
        assert_eq!(w.code_for_claims(&c), Code::InvalidJwt, "{claim}");
    }
    let mut c = w.claims();
    c.insert("cnf".into(), json!({ "jwk": { "crv": "Ed25519" } }));
    assert_eq!(
        w.code_for_claims(&c),
        Code::InvalidJwt,
        "cnf.jwk without kty"
    );
}

/// RFC 7519 §2: a NumericDate may carry a fraction; a negative or non-numeric one may not.
#[test]
fn agt_05_numeric_dates_may_be_fractional_but_not_negative_or_text() {
    let w = world();
    let mut c = w.claims();
    let (iat, exp) = (c["iat"].as_u64().unwrap(), c["exp"].as_u64().unwrap());
    c.insert("iat".into(), json!(iat as f64 + 0.25));
    c.insert("exp".into(), json!(exp as f64 + 0.75));
    let v = w
        .verify(&w.request_with_claims(&c))
        .expect("fractional dates verify");
    assert!(v.agent_id().is_some());
    // The fraction is dropped: an exp of NOW + 0.75 has expired at NOW.
    let mut c = w.claims();
    c.insert("exp".into(), json!(NOW as f64 + 0.75));
    assert_eq!(w.code_for_claims(&c), Code::ExpiredJwt);
    for bad in [
        json!(-1),
        json!(-0.5),
        json!("1730217600"),
        json!(1e300),
        json!(null),
    ] {
        let mut c = w.claims();
        c.insert("exp".into(), bad.clone());
        assert_eq!(w.code_for_claims(&c), Code::InvalidJwt, "exp = {bad}");
    }
}

#[test]
fn sig_03_agt_05_cnf_jwk_without_alg_is_unsupported_algorithm() {
    let w = world();
    let mut c = w.claims();
    let mut jwk = serde_json::to_value(w.agent.public_jwk()).unwrap();
    jwk.as_object_mut().unwrap().remove("alg");
    c.insert("cnf".into(), json!({ "jwk": jwk }));
    assert_eq!(w.code_for_claims(&c), Code::UnsupportedAlgorithm);
}

#[test]
fn sig_06_cnf_jwk_kty_alg_mismatch_is_invalid_key() {
    let w = world();
    let mut c = w.claims();
    let mut jwk = serde_json::to_value(w.agent.public_jwk()).unwrap();
    jwk["alg"] = "ES256".into();
    c.insert("cnf".into(), json!({ "jwk": jwk }));
    assert_eq!(w.code_for_claims(&c), Code::InvalidKey);
}

#[test]
fn agt_10_sig_24_wrong_dwk_unknown_kid_and_bad_jwt_signature() {
    let w = world();
    let mut c = w.claims();
    c.insert("dwk".into(), "aauth-person.json".into());
    assert_eq!(w.code_for_claims(&c), Code::InvalidJwt);

    let token = w.provider.sign_with_header(
        &w.header("Ed25519", "aa-agent+jwt", Some("nope")),
        &w.claims(),
    );
    assert_eq!(
        w.code(&jwt_request(&w.agent, &token, NOW)),
        Code::UnknownKey
    );

    let mut token = w.provider.sign(&w.claims());
    let last = token.pop().unwrap();
    token.push(if last == 'A' { 'B' } else { 'A' });
    assert_eq!(
        w.code(&jwt_request(&w.agent, &token, NOW)),
        Code::InvalidJwt
    );
}

#[test]
fn agt_12_agt_14_agt_15_identifier_claims_are_checked() {
    let w = world();
    for (claim, value) in [
        ("iss", "https://agent.example/"),
        ("iss", "http://agent.example"),
        ("ps", "http://ps.example"),
        ("parent_agent", "Parent@agent.example"),
        ("sub", "not-an-id"),
    ] {
        let mut c = w.claims();
        c.insert(claim.into(), value.into());
        assert_eq!(w.code_for_claims(&c), Code::InvalidJwt, "{claim}={value}");
    }
    let mut c = w.claims();
    c.insert("ps".into(), "https://ps.example".into());
    c.insert("parent_agent".into(), "aauth:planner@agent.example".into());
    let v = w.verify(&w.request_with_claims(&c)).unwrap();
    let a = v.identity.as_ref().and_then(SignerIdentity::agent).unwrap();
    assert_eq!(a.person_server.as_deref(), Some("https://ps.example"));
    assert_eq!(
        a.parent_agent.as_deref(),
        Some("aauth:planner@agent.example")
    );
}

#[test]
fn amb_11_sub_domain_must_match_the_issuer_host_unless_relaxed() {
    let w = world();
    let mut c = w.claims();
    c.insert("sub".into(), "aauth:assistant@other.example".into());
    let h = w.request_with_claims(&c);
    assert_eq!(w.code(&h), Code::InvalidJwt);
    let relaxed = DiscoveryResolver::new(w.fetcher.clone()).with_agent_policy(AgentTokenPolicy {
        require_sub_domain_match: false,
        ..AgentTokenPolicy::default()
    });
    let v = run(&w.verifier, &relaxed, &h, NOW).expect("relaxed policy accepts");
    assert_eq!(v.agent_id(), Some("aauth:assistant@other.example"));
}

#[test]
fn agt_06_lifetime_cap_is_an_optional_policy() {
    let w = world();
    let capped = DiscoveryResolver::new(w.fetcher.clone()).with_agent_policy(AgentTokenPolicy {
        max_lifetime: Some(Duration::from_secs(86_400)),
        ..AgentTokenPolicy::default()
    });
    let long = w.request_with_claims(&w.provider.claims(&w.agent, "assistant", NOW - 10, 86_401));
    assert!(w.verify(&long).is_ok(), "no cap by default");
    let err = run(&w.verifier, &capped, &long, NOW).unwrap_err();
    assert_eq!(err.code(), Code::InvalidJwt);
    let ok = w.request_with_claims(&w.provider.claims(&w.agent, "assistant", NOW - 10, 86_400));
    assert!(run(&w.verifier, &capped, &ok, NOW).is_ok());
}

#[test]
fn agt_13_signing_with_another_key_than_cnf_is_invalid_signature() {
    let w = world();
    let other = SigningKey::generate(Algorithm::Ed25519).unwrap();
    let h = jwt_request(&other, &w.provider.sign(&w.claims()), NOW);
    assert_eq!(w.code(&h), Code::InvalidSignature);
}

#[test]
fn agt_07_unknown_claims_are_ignored() {
    let w = world();
    let mut c = w.claims();
    c.insert("foo".into(), json!({"nested": [1, 2, 3]}));
    assert!(w.verify(&w.request_with_claims(&c)).is_ok());
}

#[test]
fn sk_20_err_15_metadata_without_issuer_is_issuer_missing() {
    let w = world();
    w.fetcher.serve_json(
        &w.provider.metadata_url(),
        &json!({ "jwks_uri": w.provider.jwks_url() }),
    );
    assert_eq!(w.code_for_claims(&w.claims()), Code::IssuerMissing);
}

#[test]
fn sk_14_err_16_metadata_for_another_issuer_is_issuer_mismatch() {
    for issuer in [
        "https://evil.example",
        "https://agent.example/",
        "https://Agent.example",
    ] {
        let w = world();
        w.fetcher.serve_json(
            &w.provider.metadata_url(),
            &json!({ "issuer": issuer, "jwks_uri": w.provider.jwks_url() }),
        );
        assert_eq!(
            w.code_for_claims(&w.claims()),
            Code::IssuerMismatch,
            "{issuer}"
        );
        assert_eq!(w.jwks_fetches(), 0, "the JWKS is not fetched");
    }
}

#[test]
fn sk_10_only_the_selected_jwks_member_needs_to_be_usable() {
    let w = world();
    let mut jwks = w.provider.jwks();
    let keys = jwks["keys"].as_array_mut().unwrap();
    keys.insert(
        0,
        json!({ "kty": "AKP", "alg": "ML-DSA-44", "kid": "pq", "pub": "AAAA" }),
    );
    keys.insert(
        1,
        json!({ "kty": "OKP", "crv": "Ed25519", "x": 5, "kid": "broken" }),
    );
    keys.insert(2, json!({ "kty": "EC", "crv": "P-256", "kid": "no-alg" }));
    w.fetcher.serve_json(&w.provider.jwks_url(), &jwks);
    assert!(w.verify(&w.request_with_claims(&w.claims())).is_ok());
}

#[test]
fn agt_16_issuer_key_without_alg_is_not_used() {
    let w = world();
    let mut jwks = w.provider.jwks();
    jwks["keys"][0].as_object_mut().unwrap().remove("alg");
    w.fetcher.serve_json(&w.provider.jwks_url(), &jwks);
    assert_eq!(w.code_for_claims(&w.claims()), Code::InvalidJwt);
}

#[test]
fn sk_21_cross_origin_jwks_uri_needs_explicit_admission() {
    let w = world();
    let elsewhere = "https://keys.example/jwks.json";
    w.fetcher.serve_json(
        &w.provider.metadata_url(),
        &json!({ "issuer": ISSUER, "jwks_uri": elsewhere }),
    );
    w.fetcher.serve_json(elsewhere, &w.provider.jwks());
    assert_eq!(w.code_for_claims(&w.claims()), Code::InvalidJwt);
    assert_eq!(w.fetcher.count(elsewhere), 0, "refused before fetching");

    let admitted = World {
        resolver: DiscoveryResolver::with_cache(Arc::new(JwksCache::new(
            w.fetcher.clone(),
            CacheConfig {
                allow_cross_origin_jwks: true,
                ..CacheConfig::default()
            },
        ))),
        ..w
    };
    assert!(
        admitted
            .verify(&admitted.request_with_claims(&admitted.claims()))
            .is_ok()
    );
}

#[test]
fn sk_21_oversized_or_non_https_documents_are_refused() {
    let w = world();
    let mut jwks = w.provider.jwks();
    jwks["padding"] = "x".repeat(70 * 1024).into();
    w.fetcher.serve_json(&w.provider.jwks_url(), &jwks);
    assert_eq!(w.code_for_claims(&w.claims()), Code::InvalidJwt);

    let w = world();
    w.fetcher.serve_json(
        &w.provider.metadata_url(),
        &json!({ "issuer": ISSUER, "jwks_uri": "http://agent.example/.well-known/jwks.json" }),
    );
    assert_eq!(w.code_for_claims(&w.claims()), Code::InvalidJwt);
}

#[test]
fn err_14_sk_22_unknown_kid_refetches_at_most_once_a_minute() {
    let w = world();
    assert!(w.verify(&w.request_with_claims(&w.claims())).is_ok());
    assert_eq!(w.jwks_fetches(), 1);
    let unknown = w.provider.sign_with_header(
        &w.header("Ed25519", "aa-agent+jwt", Some("rotated")),
        &w.claims(),
    );
    // Within the minute: no refetch at all, however many requests.
    for i in 0..100 {
        let h = jwt_request(&w.agent, &unknown, NOW + 30);
        assert_eq!(
            w.verify_at(&h, NOW + 30 + i % 20).unwrap_err().code(),
            Code::UnknownKey
        );
    }
    assert_eq!(w.jwks_fetches(), 1);
    // After the minute: exactly one refetch, then unknown_key.
    for _ in 0..100 {
        let h = jwt_request(&w.agent, &unknown, NOW + 61);
        assert_eq!(
            w.verify_at(&h, NOW + 61).unwrap_err().code(),
            Code::UnknownKey
        );
    }
    assert_eq!(w.jwks_fetches(), 2);
}

#[test]
fn sk_22_rotated_key_is_found_after_the_floor() {
    let mut w = world();
    assert!(w.verify(&w.request_with_claims(&w.claims())).is_ok());
    // The provider rotates to a new key under a new kid.
    w.provider.key = SigningKey::generate(Algorithm::Ed25519).unwrap();
    w.provider.kid = "ap-key-2".into();
    w.provider.install(&w.fetcher);
    let token = w.provider.sign(&w.claims());
    let h = jwt_request(&w.agent, &token, NOW + 30);
    assert_eq!(
        w.verify_at(&h, NOW + 30).unwrap_err().code(),
        Code::UnknownKey
    );
    let h = jwt_request(&w.agent, &token, NOW + 61);
    assert!(w.verify_at(&h, NOW + 61).is_ok());
}

#[test]
fn sk_22_silent_rekey_under_the_same_kid_refreshes_once_and_verifies() {
    let mut w = world();
    assert!(w.verify(&w.request_with_claims(&w.claims())).is_ok());
    w.provider.key = SigningKey::generate(Algorithm::Ed25519).unwrap();
    w.provider.install(&w.fetcher);
    let token = w.provider.sign(&w.claims());
    // The cached key (fresh for 300 s by default) fails; one refresh finds the new material.
    let h = jwt_request(&w.agent, &token, NOW + 61);
    assert!(w.verify_at(&h, NOW + 61).is_ok());
    assert_eq!(w.jwks_fetches(), 2);
    // A token signed by neither key: refresh is floor-limited, so still invalid_jwt.
    let forged = AgentProvider::new(ISSUER).sign(&w.claims());
    let h = jwt_request(&w.agent, &forged, NOW + 62);
    assert_eq!(
        w.verify_at(&h, NOW + 62).unwrap_err().code(),
        Code::InvalidJwt
    );
    assert_eq!(w.jwks_fetches(), 2);
}

#[test]
fn sk_22_cache_control_max_age_is_honoured_and_capped_at_24_hours() {
    let w = world();
    w.fetcher.serve(
        &w.provider.jwks_url(),
        w.provider.jwks().to_string(),
        &[("cache-control", "public, max-age=120")],
    );
    let req = |t: u64| {
        let c = w.provider.claims(&w.agent, "assistant", t - 10, 3600);
        jwt_request(&w.agent, &w.provider.sign(&c), t)
    };
    assert!(w.verify_at(&req(NOW), NOW).is_ok());
    assert!(w.verify_at(&req(NOW + 100), NOW + 100).is_ok());
    assert_eq!(w.jwks_fetches(), 1, "fresh for 120 s");
    assert!(w.verify_at(&req(NOW + 130), NOW + 130).is_ok());
    assert_eq!(w.jwks_fetches(), 2, "stale after 120 s");

    let w = world();
    w.fetcher.serve(
        &w.provider.jwks_url(),
        w.provider.jwks().to_string(),
        &[("cache-control", "max-age=31536000")],
    );
    let req = |t: u64| {
        let c = w.provider.claims(&w.agent, "assistant", t - 10, 3600);
        jwt_request(&w.agent, &w.provider.sign(&c), t)
    };
    assert!(w.verify_at(&req(NOW), NOW).is_ok());
    assert!(w.verify_at(&req(NOW + 86_399), NOW + 86_399).is_ok());
    assert_eq!(w.jwks_fetches(), 1);
    assert!(w.verify_at(&req(NOW + 86_400), NOW + 86_400).is_ok());
    assert_eq!(w.jwks_fetches(), 2, "a year of max-age is capped at 24 h");
}

#[test]
fn sk_22_stale_if_error_until_the_24_hour_cap() {
    let w = world();
    let req = |t: u64| {
        let c = w.provider.claims(&w.agent, "assistant", t - 10, 3600);
        jwt_request(&w.agent, &w.provider.sign(&c), t)
    };
    assert!(w.verify_at(&req(NOW), NOW).is_ok());
    w.fetcher.set(
        &w.provider.metadata_url(),
        Err(FetchError::Network("down".into())),
    );
    // Stale (default freshness 300 s), refresh fails, the cached JWKS still serves.
    assert!(w.verify_at(&req(NOW + 400), NOW + 400).is_ok());
    assert_eq!(w.metadata_fetches(), 2);
    // Backoff: the next attempt waits longer than the floor.
    assert!(w.verify_at(&req(NOW + 461), NOW + 461).is_ok());
    assert_eq!(
        w.metadata_fetches(),
        2,
        "exponential backoff after a failure"
    );
    // Past 24 h the stale copy is discarded.
    let err = w.verify_at(&req(NOW + 86_400), NOW + 86_400).unwrap_err();
    assert_eq!(err.code(), Code::InvalidJwt);
}

#[test]
fn sk_22_concurrent_misses_share_one_fetch() {
    let w = world();
    w.fetcher.set_delay(Some(Duration::from_millis(50)));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .build()
        .unwrap();
    let verifier = Arc::new(w.verifier.clone());
    let resolver = Arc::new(w.resolver.clone());
    let h = Arc::new(w.request_with_claims(&w.claims()));
    rt.block_on(async {
        let mut tasks = Vec::new();
        for _ in 0..16 {
            let (v, r, h) = (verifier.clone(), resolver.clone(), h.clone());
            tasks.push(tokio::spawn(async move {
                v.verify_with(&target(&Method::GET, &h), NOW, r.as_ref())
                    .await
                    .map(|_| ())
            }));
        }
        for t in tasks {
            assert_eq!(t.await.unwrap(), Ok(()));
        }
    });
    assert_eq!((w.metadata_fetches(), w.jwks_fetches()), (1, 1));
}

#[test]
fn sk_23_cache_is_bounded_under_a_flood_of_issuers() {
    let fetcher = Arc::new(MapFetcher::new());
    let cache = Arc::new(JwksCache::new(
        fetcher.clone(),
        CacheConfig {
            max_issuers: 8,
            ..CacheConfig::default()
        },
    ));
    let resolver = DiscoveryResolver::with_cache(cache.clone());
    let verifier = Verifier::new(VerifierConfig::new(AUTHORITY));
    let agent = SigningKey::generate(Algorithm::Ed25519).unwrap();
    for i in 0..50 {
        let p = AgentProvider::new(&format!("https://ap{i}.example"));
        let h = jwt_request(&agent, &p.sign(&p.claims(&agent, "a", NOW, 60)), NOW);
        assert_eq!(
            run(&verifier, &resolver, &h, NOW).unwrap_err().code(),
            Code::InvalidJwt,
            "nothing served: discovery fails"
        );
        assert!(cache.len() <= 8);
    }
    assert_eq!(cache.len(), 8);
}

fn jwks_uri_signer(key: &SigningKey, id: &str, kid: &str) -> Signer {
    Signer::jwks_uri(key.clone(), id, "aauth-access.json", kid).unwrap()
}

fn jwks_uri_world() -> (World, SigningKey) {
    let w = World {
        verifier: Verifier::new(
            VerifierConfig::new(AUTHORITY).with_accepted_schemes(vec![Scheme::JwksUri]),
        ),
        ..world()
    };
    let server_key = SigningKey::generate(Algorithm::Es256).unwrap();
    let id = "https://ps.example";
    w.fetcher.serve_json(
        "https://ps.example/.well-known/aauth-access.json",
        &json!({ "issuer": id, "jwks_uri": "https://ps.example/jwks" }),
    );
    let mut jwk = serde_json::to_value(server_key.public_jwk()).unwrap();
    jwk["kid"] = "s1".into();
    w.fetcher
        .serve_json("https://ps.example/jwks", &json!({ "keys": [jwk] }));
    (w, server_key)
}

#[test]
fn sk_14_jwks_uri_scheme_discovers_the_key_and_yields_id() {
    let (w, key) = jwks_uri_world();
    let h = sign(
        &jwks_uri_signer(&key, "https://ps.example", "s1"),
        &Method::GET,
        NOW,
    );
    let v = w.verify(&h).unwrap();
    assert_eq!(v.algorithm, Algorithm::Es256);
    assert_eq!(
        v.identity,
        Some(SignerIdentity::JwksUri {
            id: "https://ps.example".into(),
            kid: "s1".into()
        })
    );
    // Unknown kid → unknown_key (AMB-36); another id's metadata → issuer_mismatch.
    let h = sign(
        &jwks_uri_signer(&key, "https://ps.example", "s2"),
        &Method::GET,
        NOW,
    );
    assert_eq!(w.code(&h), Code::UnknownKey);
    w.fetcher.serve_json(
        "https://as.example/.well-known/aauth-access.json",
        &json!({ "issuer": "https://ps.example", "jwks_uri": "https://as.example/jwks" }),
    );
    let h = sign(
        &jwks_uri_signer(&key, "https://as.example", "s1"),
        &Method::GET,
        NOW,
    );
    assert_eq!(w.code(&h), Code::IssuerMismatch);
}

#[test]
fn amb_06_jwks_uri_failures_are_invalid_key() {
    let (w, key) = jwks_uri_world();
    // Missing parameter.
    let s = Signer::with_member(
        key.clone(),
        r#"jwks_uri;id="https://ps.example";kid="s1""#.into(),
    );
    assert_eq!(w.code(&sign(&s, &Method::GET, NOW)), Code::InvalidKey);
    // Not https.
    let h = sign(
        &jwks_uri_signer(&key, "http://ps.example", "s1"),
        &Method::GET,
        NOW,
    );
    assert_eq!(w.code(&h), Code::InvalidKey);
    // Fetch failure.
    let h = sign(
        &jwks_uri_signer(&key, "https://down.example", "s1"),
        &Method::GET,
        NOW,
    );
    assert_eq!(w.code(&h), Code::InvalidKey);
}

#[test]
fn sig_07_jwt_signer_debug_never_shows_the_token() {
    let w = world();
    let token = w.provider.mint(&w.agent, "assistant", NOW, 60);
    let s = Signer::jwt(w.agent.clone(), &token);
    let dbg = format!("{s:?} {token:?}");
    assert!(!dbg.contains(token.expose()), "{dbg}");
    assert!(s.member_value().starts_with("jwt;jwt=\""));
}
