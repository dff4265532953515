//! The replay guard (SIG-19), the named leniency switches (off by default), and the agent side
//! of `jwt` (token refresh).

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use aauth_sig::testing::{AgentProvider, ProviderRefresher};
use aauth_sig::{
    Algorithm, HwkAlgPolicy, MemoryReplayGuard, RefreshingSigner, ReplayScope, RequestTarget,
    Scheme, SignOptions, Signer, SigningKey, Verifier, VerifierConfig,
};
use aauth_wire::signature_error::SignatureErrorCode as Code;
use base64::Engine as _;
use http::{HeaderMap, HeaderValue, Method};

const NOW: u64 = 1_730_217_600;
const AUTHORITY: &str = "resource.example";

fn target<'a>(method: &'a Method, h: &'a HeaderMap) -> RequestTarget<'a> {
    RequestTarget {
        method,
        scheme: "https",
        authority: AUTHORITY,
        path: "/api/items",
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

fn hwk_config() -> VerifierConfig {
    VerifierConfig::new(AUTHORITY).with_accepted_schemes(vec![Scheme::Hwk])
}

fn guarded(scope: ReplayScope) -> Verifier {
    Verifier::new(hwk_config()).with_replay_guard(Arc::new(MemoryReplayGuard::default()), scope)
}

#[test]
fn sig_19_replayed_post_is_rejected_when_the_guard_is_on() {
    let v = guarded(ReplayScope::UnsafeMethods);
    let h = sign(
        &Signer::hwk(SigningKey::generate(Algorithm::Ed25519).unwrap()),
        &Method::POST,
        NOW,
    );
    assert!(v.verify(&target(&Method::POST, &h), NOW).is_ok());
    let err = v.verify(&target(&Method::POST, &h), NOW + 1).unwrap_err();
    assert_eq!(err.code(), Code::InvalidSignature);
    // Off by default: the same request twice passes a verifier without a guard.
    let plain = Verifier::new(hwk_config());
    assert!(plain.verify(&target(&Method::POST, &h), NOW).is_ok());
    assert!(plain.verify(&target(&Method::POST, &h), NOW).is_ok());
}

#[test]
fn sig_19_two_legitimate_identical_requests_in_the_same_second_both_pass() {
    let v = guarded(ReplayScope::UnsafeMethods);
    let key = SigningKey::generate(Algorithm::Ed25519).unwrap();
    // Ed25519 is deterministic: without a nonce, the second identical request has the same
    // signature bytes as the first and cannot be told from a replay.
    let plain = Signer::hwk(key.clone());
    let (a, b) = (
        sign(&plain, &Method::POST, NOW),
        sign(&plain, &Method::POST, NOW),
    );
    assert_eq!(a, b, "the precondition: byte-identical requests");
    // With the signer's nonce, the two bases differ and both pass.
    let signer = Signer::hwk(key).with_nonce(true);
    let (a, b) = (
        sign(&signer, &Method::POST, NOW),
        sign(&signer, &Method::POST, NOW),
    );
    assert_ne!(a["signature"], b["signature"]);
    assert!(v.verify(&target(&Method::POST, &a), NOW).is_ok());
    assert!(v.verify(&target(&Method::POST, &b), NOW).is_ok());
    // ES256 signatures are randomised, so even without a nonce both pass.
    let es = Signer::hwk(SigningKey::generate(Algorithm::Es256).unwrap());
    let (a, b) = (sign(&es, &Method::POST, NOW), sign(&es, &Method::POST, NOW));
    assert!(v.verify(&target(&Method::POST, &a), NOW).is_ok());
    assert!(v.verify(&target(&Method::POST, &b), NOW).is_ok());
}

#[test]
fn sig_19_safe_methods_are_outside_the_default_scope() {
    let key = SigningKey::generate(Algorithm::Ed25519).unwrap();
    let h = sign(&Signer::hwk(key), &Method::GET, NOW);
    let v = guarded(ReplayScope::UnsafeMethods);
    assert!(v.verify(&target(&Method::GET, &h), NOW).is_ok());
    assert!(v.verify(&target(&Method::GET, &h), NOW).is_ok());
    let all = guarded(ReplayScope::AllMethods);
    assert!(all.verify(&target(&Method::GET, &h), NOW).is_ok());
    assert!(all.verify(&target(&Method::GET, &h), NOW).is_err());
}

#[test]
fn sig_19_failed_verifications_are_not_recorded() {
    let guard = Arc::new(MemoryReplayGuard::default());
    let v = Verifier::new(hwk_config()).with_replay_guard(guard.clone(), ReplayScope::AllMethods);
    let h = sign(
        &Signer::hwk(SigningKey::generate(Algorithm::Ed25519).unwrap()),
        &Method::POST,
        NOW,
    );
    // Verified against the wrong path: fails, must not poison the guard.
    let wrong = RequestTarget {
        path: "/elsewhere",
        ..target(&Method::POST, &h)
    };
    assert!(v.verify(&wrong, NOW).is_err());
    assert!(guard.is_empty());
    assert!(v.verify(&target(&Method::POST, &h), NOW).is_ok());
    assert_eq!(guard.len(), 1);
}

#[test]
fn sig_17_nonce_from_the_signer_is_in_the_base_and_ignored_by_the_verifier() {
    let signer = Signer::hwk(SigningKey::generate(Algorithm::Ed25519).unwrap()).with_nonce(true);
    let h = sign(&signer, &Method::GET, NOW);
    let input = h["signature-input"].to_str().unwrap();
    assert!(input.contains(";nonce=\""), "{input}");
    assert!(
        Verifier::new(hwk_config())
            .verify(&target(&Method::GET, &h), NOW)
            .is_ok()
    );
}

/// Rewrites the Signature bytes in base64url without padding, as a lenient peer does.
fn base64url_signature(h: &mut HeaderMap) {
    let value = h["signature"].to_str().unwrap().to_owned();
    let (label, rest) = value.split_once("=:").unwrap();
    let b64 = rest.trim_end_matches(':');
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .unwrap();
    let url = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    h.insert(
        "signature",
        HeaderValue::from_str(&format!("{label}=:{url}:")).unwrap(),
    );
}

#[test]
fn accept_base64url_signatures_is_a_named_switch_off_by_default() {
    let key = SigningKey::generate(Algorithm::Ed25519).unwrap();
    // Find a signature whose base64 uses '+' or '/' so the two alphabets differ.
    let mut h = HeaderMap::new();
    for created in NOW.. {
        h = sign(&Signer::hwk(key.clone()), &Method::GET, created);
        let s = h["signature"].to_str().unwrap();
        if s.contains('+') || s.contains('/') {
            break;
        }
    }
    let created: u64 = {
        let input = h["signature-input"].to_str().unwrap();
        input
            .split("created=")
            .nth(1)
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .parse()
            .unwrap()
    };
    base64url_signature(&mut h);
    let strict = Verifier::new(hwk_config());
    assert!(!VerifierConfig::default().accept_base64url_signatures);
    assert_eq!(
        strict
            .verify(&target(&Method::GET, &h), created)
            .unwrap_err()
            .code(),
        Code::InvalidSignature
    );
    let lenient = Verifier::new(hwk_config().with_accept_base64url_signatures(true));
    assert!(lenient.verify(&target(&Method::GET, &h), created).is_ok());
}

#[test]
fn sk_11_hwk_without_alg_needs_the_named_policy() {
    let key = SigningKey::generate(Algorithm::Ed25519).unwrap();
    let h = sign(&Signer::hwk_without_alg(key), &Method::GET, NOW);
    assert_eq!(VerifierConfig::default().hwk_alg, HwkAlgPolicy::Required);
    let strict = Verifier::new(hwk_config());
    assert_eq!(
        strict
            .verify(&target(&Method::GET, &h), NOW)
            .unwrap_err()
            .code(),
        Code::UnsupportedAlgorithm
    );
    let either = Verifier::new(hwk_config().with_hwk_alg(HwkAlgPolicy::Either));
    assert!(either.verify(&target(&Method::GET, &h), NOW).is_ok());
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap()
}

#[test]
fn agt_08_refreshing_signer_refreshes_before_expiry_and_only_then() {
    let provider = AgentProvider::new("https://agent.example");
    let refresher = Arc::new(ProviderRefresher::new(provider, "assistant", 600, NOW));
    let key = SigningKey::generate(Algorithm::Ed25519).unwrap();
    let signer = RefreshingSigner::new(key, refresher.clone()).with_margin(Duration::from_secs(60));
    let rt = runtime();
    let s1 = rt.block_on(signer.signer(NOW)).unwrap();
    assert_eq!(refresher.refreshes.load(Ordering::SeqCst), 1);
    assert!(s1.member_value().starts_with("jwt;jwt="));
    // Still more than the margin left: no refresh.
    let s2 = rt.block_on(signer.signer(NOW + 500)).unwrap();
    assert_eq!(refresher.refreshes.load(Ordering::SeqCst), 1);
    assert_eq!(s1.member_value(), s2.member_value());
    // Within the margin of exp (NOW + 600): refresh.
    refresher.now.store((NOW + 541) as usize, Ordering::SeqCst);
    let s3 = rt.block_on(signer.signer(NOW + 541)).unwrap();
    assert_eq!(refresher.refreshes.load(Ordering::SeqCst), 2);
    assert_ne!(s1.member_value(), s3.member_value());
    // After the server says expired_jwt/revoked_jwt the agent drops the token.
    rt.block_on(signer.invalidate());
    rt.block_on(signer.signer(NOW + 542)).unwrap();
    assert_eq!(refresher.refreshes.load(Ordering::SeqCst), 3);
}

#[test]
fn agt_08_refreshed_token_signs_requests_a_resource_accepts() {
    let provider = AgentProvider::new("https://agent.example");
    let fetcher = Arc::new(aauth_sig::testing::MapFetcher::new());
    provider.install(&fetcher);
    let refresher = Arc::new(ProviderRefresher::new(provider, "assistant", 600, NOW));
    let key = SigningKey::generate(Algorithm::Ed25519).unwrap();
    let signer = RefreshingSigner::new(key, refresher).with_nonce(true);
    let rt = runtime();
    let s = rt.block_on(signer.signer(NOW)).unwrap();
    let h = sign(&s, &Method::POST, NOW);
    let resolver = aauth_sig::DiscoveryResolver::new(fetcher);
    let v = Verifier::new(VerifierConfig::new(AUTHORITY));
    let ok = rt
        .block_on(v.verify_with(&target(&Method::POST, &h), NOW, &resolver))
        .unwrap();
    assert_eq!(ok.agent_id(), Some("aauth:assistant@agent.example"));
}
