//! What a resource refuses to keep or read: the limits on open pending requests (per agent and
//! in total), declared bodies larger than the digest buffer, and the shape of those refusals
//! (problem+json, `Retry-After`, no signature headers).
mod common;

use aauth_axum::{AAuthResource, ConfigError};
use axum::body::Body;
use common::*;
use http::{HeaderMap, HeaderValue, Method, StatusCode};

fn assert_problem(r: &Reply, status: StatusCode, error: &str) {
    assert_eq!(r.status, status, "{}", r.text());
    assert_eq!(r.header("content-type"), Some("application/problem+json"));
    assert_eq!(r.header("cache-control"), Some("no-store"));
    let body = r.json();
    assert_eq!(body["error"], error, "{body}");
    assert_eq!(body["status"], status.as_u16(), "{body}");
    assert!(body["type"].is_string(), "{body}");
    // Not a signature problem (ERR-07).
    assert!(r.signature_error().is_none());
    assert!(r.header("accept-signature-scheme").is_none());
}

/// The same signed GET sent again and again (GET is outside the replay guard's default scope)
/// starts at most `max_pending_per_agent` interactions; the next is `429 slow_down` with a
/// `Retry-After` naming when the oldest ends. Existing requests are untouched and still
/// pollable, another agent is unaffected, and withdrawing one frees a slot at once.
#[tokio::test]
async fn pending_requests_per_agent_are_capped_with_429_and_existing_ones_survive() {
    let h = harness_with(|b| b.max_pending_per_agent(3));
    let agent = Agent::new();
    let mut locations = Vec::new();
    for _ in 0..3 {
        let r = h.send(agent.request(Method::GET, "/data", h.now())).await;
        let (_, _, location) = r.interaction();
        locations.push(location);
    }
    h.advance(10);
    let refused = h.send(agent.request(Method::GET, "/data", h.now())).await;
    assert_problem(&refused, StatusCode::TOO_MANY_REQUESTS, "slow_down");
    // The oldest was created at T0 with a 600 s lifetime; ten seconds have passed.
    assert_eq!(refused.header("retry-after"), Some("590"));
    assert!(refused.header("location").is_none());
    assert!(refused.header("aauth-requirement").is_none());
    assert_eq!(h.resource.metrics().challenges, 3);
    assert_eq!(h.resource.metrics().challenges_refused, 1);

    // Nothing was lost: every earlier pending URL still answers 202 to its agent.
    for location in &locations {
        let poll = h.send(agent.request(Method::GET, location, h.now())).await;
        assert_eq!(poll.status, StatusCode::ACCEPTED, "{}", poll.text());
    }
    // Another key has its own budget.
    let other = Agent::new();
    let r = h.send(other.request(Method::GET, "/data", h.now())).await;
    r.interaction();

    // Withdrawing one frees a slot at once.
    let gone = h
        .send(agent.request(Method::DELETE, &locations[0], h.now()))
        .await;
    assert!(gone.status.is_success(), "{}", gone.text());
    let r = h.send(agent.request(Method::GET, "/data", h.now())).await;
    r.interaction();
    let refused = h.send(agent.request(Method::GET, "/data", h.now())).await;
    assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);

    // Once their lifetime is over the agent may start again.
    h.advance(600);
    let r = h.send(agent.request(Method::GET, "/data", h.now())).await;
    r.interaction();
}

/// The default per-agent limit is on: a flood of one replayed request stops at 16.
#[tokio::test]
async fn the_default_per_agent_limit_stops_a_replayed_request() {
    let h = harness();
    let agent = Agent::new();
    let req = || agent.request(Method::GET, "/data", T0);
    let mut accepted = 0;
    for _ in 0..40 {
        let r = h.send(req()).await;
        match r.status {
            StatusCode::ACCEPTED => accepted += 1,
            StatusCode::TOO_MANY_REQUESTS => {}
            other => panic!("unexpected {other}: {}", r.text()),
        }
    }
    assert_eq!(accepted, aauth_axum::DEFAULT_MAX_PENDING_PER_AGENT);
}

/// The total limit bounds what the resource keeps for all agents together (fresh `hwk` keys
/// cost nothing): past it, `503 temporarily_unavailable` with `Retry-After`.
#[tokio::test]
async fn pending_requests_in_total_are_capped_with_503() {
    let h = harness_with(|b| b.max_pending_total(2).max_pending_per_agent(None));
    for _ in 0..2 {
        let r = h
            .send(Agent::new().request(Method::GET, "/data", h.now()))
            .await;
        r.interaction();
    }
    h.advance(100);
    let refused = h
        .send(Agent::new().request(Method::GET, "/data", h.now()))
        .await;
    assert_problem(
        &refused,
        StatusCode::SERVICE_UNAVAILABLE,
        "temporarily_unavailable",
    );
    assert_eq!(refused.header("retry-after"), Some("500"));
    assert_eq!(h.resource.metrics().challenges_refused, 1);
}

/// Builds a resource with `configure` applied on top of the minimum valid settings.
fn build(
    configure: impl FnOnce(aauth_axum::ResourceBuilder) -> aauth_axum::ResourceBuilder,
) -> Result<AAuthResource, ConfigError> {
    configure(AAuthResource::builder(ORIGIN))
        .accept_hwk()
        .authenticator(std::sync::Arc::new(aauth_axum::LocalLogin::new()))
        .build()
}

#[test]
fn a_pending_lifetime_beyond_30_days_or_a_long_poll_beyond_5_minutes_is_refused() {
    for ttl in [aauth_axum::MAX_PENDING_TTL + 1, u64::MAX] {
        let err = build(|b| b.pending_ttl(ttl)).unwrap_err();
        assert!(
            matches!(
                err,
                ConfigError::TooLarge("pending_ttl", aauth_axum::MAX_PENDING_TTL)
            ),
            "{err}"
        );
    }
    build(|b| b.pending_ttl(aauth_axum::MAX_PENDING_TTL)).expect("30 days is allowed");
    let err = build(|b| b.max_wait(u64::MAX)).unwrap_err();
    assert!(
        matches!(
            err,
            ConfigError::TooLarge("max_wait", aauth_axum::MAX_LONG_POLL)
        ),
        "{err}"
    );
    build(|b| b.max_wait(aauth_axum::MAX_LONG_POLL)).expect("5 minutes is allowed");
}

#[test]
fn pending_limits_of_zero_are_refused_at_build_time() {
    for builder in [
        AAuthResource::builder(ORIGIN).max_pending_per_agent(0),
        AAuthResource::builder(ORIGIN).max_pending_total(0),
    ] {
        let err = builder
            .accept_hwk()
            .authenticator(std::sync::Arc::new(aauth_axum::LocalLogin::new()))
            .build()
            .unwrap_err();
        assert!(matches!(err, ConfigError::TooSmall(_, 1)), "{err}");
    }
    AAuthResource::builder(ORIGIN)
        .max_pending_per_agent(None)
        .max_pending_total(None)
        .accept_hwk()
        .authenticator(std::sync::Arc::new(aauth_axum::LocalLogin::new()))
        .build()
        .expect("no limits is a valid choice");
}

const COVERED: [&str; 5] = [
    "@method",
    "@authority",
    "@path",
    "content-digest",
    "signature-key",
];

/// A signed POST covering `content-digest` that declares a body far larger than the resource
/// buffers is refused with `413` from its `Content-Length`, before the body is read. (The
/// body actually sent is small and does not match the digest, so reading it first would give
/// a `401` instead.)
#[tokio::test]
async fn sig_11_a_declared_oversized_body_is_refused_before_it_is_read() {
    let h = harness();
    let agent = Agent::new();
    let mut headers = HeaderMap::new();
    aauth_sig::digest::set_content_digest(&mut headers, b"the signed body");
    let mut req = agent.request_with(
        Method::POST,
        "/data",
        h.now(),
        headers,
        Some(COVERED.to_vec()),
    );
    req.headers_mut()
        .insert("content-length", HeaderValue::from_static("1000000000"));
    *req.body_mut() = Body::from("something else");
    let r = h.send(req).await;
    assert_problem(&r, StatusCode::PAYLOAD_TOO_LARGE, "invalid_request");
}

/// A signed request whose `Authorization: AAuth` cannot be read gets a complete problem body:
/// `type`, `title`, `status`, `error`, `detail`, `Cache-Control: no-store` (ERR-05).
#[tokio::test]
async fn err_05_a_malformed_authorization_gets_a_complete_problem_body() {
    let h = harness();
    let agent = Agent::new();
    for bad in ["AAuth", "AAuth a b", "AAuth a,b"] {
        let mut headers = HeaderMap::new();
        headers.insert("authorization", HeaderValue::from_static(bad));
        let r = h
            .send(agent.request_with(Method::GET, "/data", h.now(), headers, None))
            .await;
        assert_problem(&r, StatusCode::BAD_REQUEST, "invalid_request");
        let body = r.json();
        assert_eq!(body["type"], "about:blank", "{bad}: {body}");
        assert_eq!(body["title"], "Bad Request");
        assert!(body["detail"].as_str().is_some_and(|d| !d.is_empty()));
    }
}

/// The `Content-Digest` details name the field once, and a `sha-512`-only digest (RFC 9530)
/// is checked rather than refused.
#[tokio::test]
async fn sig_11_sha_512_digests_are_checked_and_details_name_the_field_once() {
    use base64::Engine as _;
    let h = harness();
    let agent = Agent::new();
    let body = b"{\"a\":1}";
    let digest = ring::digest::digest(&ring::digest::SHA512, body);
    let value = format!(
        "sha-512=:{}:",
        base64::engine::general_purpose::STANDARD.encode(digest.as_ref())
    );
    let post = |sent: &'static [u8]| {
        let mut headers = HeaderMap::new();
        headers.insert("content-digest", HeaderValue::from_str(&value).unwrap());
        let mut req = agent.request_with(
            Method::POST,
            "/data",
            h.now(),
            headers,
            Some(COVERED.to_vec()),
        );
        *req.body_mut() = Body::from(sent);
        req
    };
    let ok = h.send(post(b"{\"a\":1}")).await;
    assert_eq!(ok.status, StatusCode::ACCEPTED, "{}", ok.text());
    let swapped = h.send(post(b"{\"a\":2}")).await;
    assert_eq!(swapped.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        swapped.json()["detail"],
        "Content-Digest does not match the body"
    );
}
