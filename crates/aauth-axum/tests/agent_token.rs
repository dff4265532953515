//! Identified agents: requests signed under `Signature-Key: sig=jwt;jwt="<agent token>"`, whose
//! issuer keys the resource discovers (DIGEST §7, SK-16, AGT, REV-07, SESS-07 with AMB-03).
mod common;

use std::sync::Arc;

use aauth_sig::testing::{AgentProvider, MapFetcher};
use aauth_sig::{Algorithm, DiscoveryResolver, Signer, SigningKey};
use aauth_store::AgentTokenId;
use aauth_wire::signature_error::{SignatureErrorCode, SignatureErrorField};
use common::*;
use http::{Method, StatusCode};
use serde_json::json;

const ISSUER: &str = "https://agent.example";

struct World {
    h: Harness,
    provider: AgentProvider,
    fetcher: Arc<MapFetcher>,
}

fn world() -> World {
    let provider = AgentProvider::new(ISSUER);
    let fetcher = Arc::new(MapFetcher::new());
    provider.install(&fetcher);
    let resolver = Arc::new(DiscoveryResolver::new(fetcher.clone()));
    let h = harness_with(|b| b.accept_jwt().key_resolver(resolver));
    World {
        h,
        provider,
        fetcher,
    }
}

/// An agent named `local` at the provider, signing with `key`, with a token valid for an hour.
fn agent_with_key(w: &World, key: &SigningKey, local: &str) -> Agent {
    Agent {
        signer: Signer::jwt(key.clone(), &w.provider.mint(key, local, w.h.now(), 3600)),
    }
}

fn jwt_agent(w: &World, local: &str, iat: u64, lifetime: u64) -> (Agent, SigningKey) {
    let key = SigningKey::generate(Algorithm::Ed25519).unwrap();
    let token = w.provider.mint(&key, local, iat, lifetime);
    (
        Agent {
            signer: Signer::jwt(key.clone(), &token),
        },
        key,
    )
}

fn code(r: &Reply) -> SignatureErrorCode {
    SignatureErrorField::parse(r.signature_error().as_deref().expect("Signature-Error"))
        .unwrap()
        .code
}

#[tokio::test]
async fn agt_identified_agent_runs_the_two_party_flow_and_is_named_on_the_page() {
    let w = world();
    let (agent, _) = jwt_agent(&w, "assistant", w.h.now(), 3600);
    let first =
        w.h.send(agent.request(Method::GET, "/data", w.h.now()))
            .await;
    let (url, code, location) = first.interaction();
    let page = w.h.open_page(&url, &code).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text());
    // IC-11: the person sees which agent asks.
    assert!(
        page.text().contains("aauth:assistant@agent.example"),
        "{}",
        page.text()
    );
    assert_eq!(
        w.h.post_decision(&url, &page, "approve").await.status,
        StatusCode::OK
    );
    w.h.advance(2);
    let done =
        w.h.send(agent.request(Method::GET, &location, w.h.now()))
            .await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.text());
    let token = done.header("aauth-access").unwrap().to_owned();
    let data =
        w.h.send(agent.with_token(Method::GET, "/data", w.h.now(), &token))
            .await;
    assert_eq!(data.status, StatusCode::OK, "{}", data.text());
    // Discovery happened once and was cached for the later requests (SK-22).
    assert_eq!(w.fetcher.count(&w.provider.jwks_url()), 1);
}

#[tokio::test]
async fn sk_28_both_accepted_schemes_are_listed() {
    let w = world();
    let agent = Agent::new();
    let mut req = agent.request(Method::GET, "/data", w.h.now());
    req.headers_mut().insert(
        "signature-key",
        "sig=jwks;url=\"https://x.example/k\";kid=\"1\""
            .parse()
            .unwrap(),
    );
    let r = w.h.send(req).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(code(&r), SignatureErrorCode::UnsupportedScheme);
    assert_eq!(r.header("accept-signature-scheme"), Some("hwk, jwt"));
}

#[tokio::test]
async fn err_18_an_expired_agent_token_is_expired_jwt() {
    let w = world();
    let (agent, _) = jwt_agent(&w, "assistant", w.h.now() - 7200, 3600);
    let r =
        w.h.send(agent.request(Method::GET, "/data", w.h.now()))
            .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(code(&r), SignatureErrorCode::ExpiredJwt);
}

#[tokio::test]
async fn err_17_a_token_of_the_wrong_type_is_invalid_jwt() {
    let w = world();
    let key = SigningKey::generate(Algorithm::Ed25519).unwrap();
    let claims = w.provider.claims(&key, "assistant", w.h.now(), 3600);
    let header = json!({"alg": "Ed25519", "typ": "JWT", "kid": w.provider.kid});
    let jwt = w
        .provider
        .sign_with_header(header.as_object().unwrap(), &claims);
    let token = aauth_sig::AgentToken::new(jwt).unwrap();
    let agent = Agent {
        signer: Signer::jwt(key, &token),
    };
    let r =
        w.h.send(agent.request(Method::GET, "/data", w.h.now()))
            .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(code(&r), SignatureErrorCode::InvalidJwt);
}

#[tokio::test]
async fn rev_07_a_revoked_agent_token_is_refused() {
    let w = world();
    let (agent, _) = jwt_agent(&w, "assistant", w.h.now(), 3600);
    let token = obtain_token(&w.h, &agent).await;
    // The layer recorded the token it accepted, so the pair is known to the resource.
    let id = AgentTokenId::new(ISSUER, format!("jti-{}-assistant", T0));
    w.h.resource.revoke_agent_token(&id).await.unwrap();
    let r =
        w.h.send(agent.with_token(Method::GET, "/data", w.h.now(), &token))
            .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text());
    assert_eq!(code(&r), SignatureErrorCode::InvalidJwt);
}

#[tokio::test]
async fn sess_07_amb_03_a_session_is_bound_to_the_agent_identity_as_well_as_the_key() {
    let w = world();
    let key = SigningKey::generate(Algorithm::Ed25519).unwrap();
    let owner = agent_with_key(&w, &key, "assistant");
    let token = obtain_token(&w.h, &owner).await;
    // Same key, but an agent token naming another agent: not the session's agent.
    let impostor = agent_with_key(&w, &key, "other");
    let r =
        w.h.send(impostor.with_token(Method::GET, "/data", w.h.now(), &token))
            .await;
    assert_eq!(
        r.status,
        StatusCode::ACCEPTED,
        "treated as a new agent: {}",
        r.text()
    );
    // The owner still gets in.
    let ok =
        w.h.send(owner.with_token(Method::GET, "/data", w.h.now(), &token))
            .await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.text());
}

#[tokio::test]
async fn agt_02_agent_identifiers_compare_as_exact_strings() {
    let w = world();
    let key = SigningKey::generate(Algorithm::Ed25519).unwrap();
    let owner = agent_with_key(&w, &key, "assistant");
    let token = obtain_token(&w.h, &owner).await;
    // A `+` suffix (not parsed as "a sub-agent of, so the same"), a trailing dot, a near-miss:
    // each is another agent, so the session is not theirs even with the same key. (Upper case
    // is not a valid local part at all, AGT-01.)
    for local in ["assistant+helper", "assistant.", "assistan7"] {
        let other = agent_with_key(&w, &key, local);
        let r =
            w.h.send(other.with_token(Method::GET, "/data", w.h.now(), &token))
                .await;
        assert_eq!(r.status, StatusCode::ACCEPTED, "{local}: {}", r.text());
    }
    let ok =
        w.h.send(owner.with_token(Method::GET, "/data", w.h.now(), &token))
            .await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.text());
}
