//! A covered `Content-Digest` is checked against the body (RFC 9530; SIG-10/SIG-11): a body
//! swapped after signing is refused, the signed one passes.
mod common;

use aauth_wire::signature_error::{SignatureErrorCode, SignatureErrorField};
use axum::body::Body;
use common::*;
use http::{HeaderMap, Method, StatusCode};

const COVERED: [&str; 5] = [
    "@method",
    "@authority",
    "@path",
    "content-digest",
    "signature-key",
];

fn signed_post(
    agent: &Agent,
    h: &Harness,
    signed_body: &[u8],
    sent_body: &'static [u8],
) -> http::Request<Body> {
    let mut headers = HeaderMap::new();
    aauth_sig::digest::set_content_digest(&mut headers, signed_body);
    let mut req = agent.request_with(
        Method::POST,
        "/data",
        h.now(),
        headers,
        Some(COVERED.to_vec()),
    );
    *req.body_mut() = Body::from(sent_body);
    req
}

#[tokio::test]
async fn sig_11_the_signed_body_passes() {
    let h = harness();
    let agent = Agent::new();
    let r = h
        .send(signed_post(&agent, &h, b"{\"a\":1}", b"{\"a\":1}"))
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text());
}

#[tokio::test]
async fn sig_11_a_body_swapped_after_signing_is_refused() {
    let h = harness();
    let agent = Agent::new();
    let r = h
        .send(signed_post(&agent, &h, b"{\"a\":1}", b"{\"a\":2}"))
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let e = SignatureErrorField::parse(r.signature_error().as_deref().unwrap()).unwrap();
    assert_eq!(e.code, SignatureErrorCode::InvalidSignature);
}

#[tokio::test]
async fn sig_11_a_malformed_or_unknown_digest_is_refused() {
    let h = harness();
    let agent = Agent::new();
    for bad in ["md5=:AAAA:", "(((", "sha-256=:not base64:"] {
        let mut headers = HeaderMap::new();
        headers.insert("content-digest", bad.parse().unwrap());
        let mut req = agent.request_with(
            Method::POST,
            "/data",
            h.now(),
            headers,
            Some(COVERED.to_vec()),
        );
        *req.body_mut() = Body::from("x");
        let r = h.send(req).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{bad}");
    }
}
