//! The optional replay cache (SIG-19): off by default; when on, a verbatim replay is refused
//! and genuine repeats are not.
mod common;

use std::sync::Arc;

use aauth_axum::ReplayScope;
use aauth_sig::{Algorithm, Signer, SigningKey};
use aauth_store::MemoryReplayStore;
use aauth_wire::signature_error::{SignatureErrorCode, SignatureErrorField};
use common::*;
use http::{Method, StatusCode};

fn guarded(scope: ReplayScope) -> Harness {
    harness_with(|b| b.replay_protection(Arc::new(MemoryReplayStore::new()), scope))
}

#[tokio::test]
async fn sig_19_a_replayed_post_is_refused_when_the_cache_is_on() {
    let h = guarded(ReplayScope::UnsafeMethods);
    let agent = Agent::new();
    let now = h.now();
    let first = h.send(agent.request(Method::POST, "/data", now)).await;
    assert_eq!(first.status, StatusCode::ACCEPTED, "{}", first.text());
    // Ed25519 is deterministic: the same inputs give byte-identical headers, i.e. a replay.
    let again = h.send(agent.request(Method::POST, "/data", now)).await;
    assert_eq!(again.status, StatusCode::UNAUTHORIZED);
    let e = SignatureErrorField::parse(again.signature_error().as_deref().unwrap()).unwrap();
    assert_eq!(e.code, SignatureErrorCode::InvalidSignature);
}

#[tokio::test]
async fn sig_19_two_genuine_requests_in_the_same_second_both_pass_with_a_nonce() {
    let h = guarded(ReplayScope::AllMethods);
    let agent = Agent {
        signer: Signer::hwk(SigningKey::generate(Algorithm::Ed25519).unwrap()).with_nonce(true),
    };
    let now = h.now();
    for _ in 0..3 {
        let r = h.send(agent.request(Method::POST, "/data", now)).await;
        assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text());
    }
}

#[tokio::test]
async fn sig_19_safe_methods_are_not_cached_by_default_scope() {
    let h = guarded(ReplayScope::UnsafeMethods);
    let agent = Agent::new();
    let now = h.now();
    for _ in 0..2 {
        let r = h.send(agent.request(Method::GET, "/data", now)).await;
        assert_eq!(r.status, StatusCode::ACCEPTED);
    }
}

#[tokio::test]
async fn sig_19_the_cache_is_off_unless_configured() {
    let h = harness();
    let agent = Agent::new();
    let now = h.now();
    for _ in 0..2 {
        let r = h.send(agent.request(Method::POST, "/data", now)).await;
        assert_eq!(r.status, StatusCode::ACCEPTED);
    }
}
