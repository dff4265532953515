//! The resource side of the two-party flow, requirement by requirement (DIGEST.md §3, §4, §6).
mod common;

use std::time::Duration;

use aauth_wire::interaction_code::InteractionCode;
use aauth_wire::signature_error::{SignatureErrorCode, SignatureErrorField};
use common::*;
use http::{HeaderMap, HeaderValue, Method, StatusCode};

fn sig_error(reply: &Reply) -> SignatureErrorField {
    SignatureErrorField::parse(reply.signature_error().as_deref().expect("Signature-Error"))
        .expect("parseable Signature-Error")
}

fn assert_no_signature_headers(reply: &Reply) {
    for h in [
        "signature-error",
        "accept-signature-scheme",
        "accept-signature-alg",
    ] {
        assert!(
            reply.header(h).is_none(),
            "{h} must not be on a {}",
            reply.status
        );
    }
}

#[tokio::test]
async fn rm_02_rm_03_rm_05_unknown_agent_gets_202_interaction() {
    let h = harness();
    let agent = Agent::new();
    let r = h.send(agent.request(Method::GET, "/data", h.now())).await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    let raw = r.header("aauth-requirement").unwrap();
    assert!(raw.starts_with("requirement=interaction;"), "{raw}");
    let (_, code, _) = r.interaction();
    // IC-01/IC-02/IC-03: a quoted String of ≥8 Crockford symbols plus grouping hyphens.
    assert!(raw.contains(&format!("code=\"{code}\"")), "{raw}");
    let bare: String = code.chars().filter(|c| *c != '-').collect();
    assert!(bare.len() >= 8);
    assert!(
        bare.chars()
            .all(|c| "0123456789ABCDEFGHJKMNPQRSTVWXYZ".contains(c)),
        "{code}"
    );
}

#[tokio::test]
async fn rm_04_interaction_url_is_https_without_query_or_fragment() {
    let h = harness();
    let r = h
        .send(Agent::new().request(Method::GET, "/data", h.now()))
        .await;
    let (url, _, _) = r.interaction();
    let u = url::Url::parse(&url).unwrap();
    assert_eq!(u.scheme(), "https");
    assert!(u.query().is_none() && u.fragment().is_none(), "{url}");
    assert_eq!(u.origin().ascii_serialization(), ORIGIN);
}

#[tokio::test]
async fn rm_06_rm_10_location_is_a_same_origin_pending_url() {
    let h = harness();
    let r = h
        .send(Agent::new().request(Method::GET, "/data", h.now()))
        .await;
    assert_eq!(r.headers.get_all("location").iter().count(), 1);
    let (_, _, location) = r.interaction();
    let resolved = url::Url::parse(ORIGIN).unwrap().join(&location).unwrap();
    assert_eq!(resolved.origin().ascii_serialization(), ORIGIN);
    assert!(resolved.path().starts_with("/aauth/pending/"));
}

#[tokio::test]
async fn rm_07_rm_08_rm_09_pending_responses_carry_no_store_retry_after_and_status() {
    let h = harness();
    let agent = Agent::new();
    let first = h.send(agent.request(Method::GET, "/data", h.now())).await;
    let (url, code, location) = first.interaction();
    h.advance(2);
    let poll = h.send(agent.request(Method::GET, &location, h.now())).await;
    for (which, r) in [("initial", &first), ("poll", &poll)] {
        assert_eq!(r.status, StatusCode::ACCEPTED, "{which}");
        assert!(
            r.header("cache-control").unwrap().contains("no-store"),
            "{which}"
        );
        let ra: u64 = r
            .header("retry-after")
            .unwrap()
            .parse()
            .expect("integer seconds");
        assert!(ra >= 1, "{which}");
        assert_eq!(r.header("content-type"), Some("application/json"));
        assert_eq!(r.json()["status"], "pending", "{which}");
    }
    // RM-09: once the person is on the page, polls say `interacting`.
    let page = h.open_page(&url, &code).await;
    assert_eq!(page.status, StatusCode::OK);
    h.advance(2);
    let poll = h.send(agent.request(Method::GET, &location, h.now())).await;
    assert_eq!(poll.status, StatusCode::ACCEPTED);
    assert_eq!(poll.json()["status"], "interacting");
}

#[tokio::test]
async fn rm_14_approved_poll_answers_200_with_one_token68_aauth_access() {
    let h = harness();
    let agent = Agent::new();
    let first = h.send(agent.request(Method::GET, "/data", h.now())).await;
    let (url, code, location) = first.interaction();
    h.person_decides(&url, &code, "approve").await;
    h.advance(2);
    let done = h.send(agent.request(Method::GET, &location, h.now())).await;
    assert_eq!(done.status, StatusCode::OK);
    assert_eq!(done.headers.get_all("aauth-access").iter().count(), 1);
    let token = done.header("aauth-access").unwrap();
    aauth_wire::access::SessionToken::parse(token).expect("token68");
    assert_eq!(done.json()["status"], "authorized");
    // SESS-04/SESS-05: the token with a signature that covers `authorization` opens /data.
    let data = h
        .send(agent.with_token(Method::GET, "/data", h.now(), token))
        .await;
    assert_eq!(data.status, StatusCode::OK, "{}", data.text());
    assert!(data.text().contains(agent.signer.thumbprint().as_str()));
}

#[tokio::test]
async fn rm_13_after_a_terminal_answer_the_pending_url_is_gone() {
    let h = harness();
    let agent = Agent::new();
    let first = h.send(agent.request(Method::GET, "/data", h.now())).await;
    let (url, code, location) = first.interaction();
    h.person_decides(&url, &code, "approve").await;
    h.advance(2);
    assert_eq!(
        h.send(agent.request(Method::GET, &location, h.now()))
            .await
            .status,
        StatusCode::OK
    );
    h.advance(2);
    let again = h.send(agent.request(Method::GET, &location, h.now())).await;
    assert_eq!(again.status, StatusCode::GONE);
    assert!(again.header("aauth-access").is_none());
}

#[tokio::test]
async fn err_07_err_20_sig_28_denial_is_403_denied_without_signature_headers() {
    let h = harness();
    let agent = Agent::new();
    let first = h.send(agent.request(Method::GET, "/data", h.now())).await;
    let (url, code, location) = first.interaction();
    h.person_decides(&url, &code, "deny").await;
    h.advance(2);
    let r = h.send(agent.request(Method::GET, &location, h.now())).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(r.header("content-type"), Some("application/problem+json"));
    assert_eq!(r.json()["error"], "denied");
    assert_no_signature_headers(&r);
    h.advance(2);
    assert_eq!(
        h.send(agent.request(Method::GET, &location, h.now()))
            .await
            .status,
        StatusCode::GONE
    );
}

#[tokio::test]
async fn rm_12_poll_by_another_key_is_refused_and_changes_nothing() {
    let h = harness();
    let owner = Agent::new();
    let thief = Agent::new();
    let first = h.send(owner.request(Method::GET, "/data", h.now())).await;
    let (url, code, location) = first.interaction();
    h.person_decides(&url, &code, "approve").await;
    h.advance(2);
    let stolen = h.send(thief.request(Method::GET, &location, h.now())).await;
    assert_eq!(stolen.status, StatusCode::FORBIDDEN);
    assert_eq!(stolen.json()["error"], "denied");
    assert!(stolen.header("aauth-access").is_none());
    assert_no_signature_headers(&stolen);
    // The rightful agent still gets its token.
    let mine = h.send(owner.request(Method::GET, &location, h.now())).await;
    assert_eq!(mine.status, StatusCode::OK);
    assert!(mine.header("aauth-access").is_some());
}

#[tokio::test]
async fn rm_12_unsigned_poll_gets_401_with_signature_error() {
    let h = harness();
    let agent = Agent::new();
    let first = h.send(agent.request(Method::GET, "/data", h.now())).await;
    let (_, _, location) = first.interaction();
    let req = http::Request::get(&location)
        .body(axum::body::Body::empty())
        .unwrap();
    let r = h.send(req).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(sig_error(&r).code, SignatureErrorCode::InvalidRequest);
}

#[tokio::test]
async fn err_22_expired_pending_request_answers_408_then_410() {
    let h = harness();
    let agent = Agent::new();
    let first = h.send(agent.request(Method::GET, "/data", h.now())).await;
    let (url, code, location) = first.interaction();
    h.advance(601);
    let r = h.send(agent.request(Method::GET, &location, h.now())).await;
    assert_eq!(r.status, StatusCode::REQUEST_TIMEOUT);
    assert_eq!(r.json()["error"], "expired");
    assert_no_signature_headers(&r);
    // IC-10: the code died with the request.
    let page = h.open_page(&url, &code).await;
    assert_ne!(page.status, StatusCode::OK);
    h.advance(2);
    assert_eq!(
        h.send(agent.request(Method::GET, &location, h.now()))
            .await
            .status,
        StatusCode::GONE
    );
}

#[tokio::test]
async fn err_24_polling_faster_than_retry_after_is_told_to_slow_down() {
    let h = harness();
    let agent = Agent::new();
    let first = h.send(agent.request(Method::GET, "/data", h.now())).await;
    let (_, _, location) = first.interaction();
    h.advance(2);
    assert_eq!(
        h.send(agent.request(Method::GET, &location, h.now()))
            .await
            .status,
        StatusCode::ACCEPTED
    );
    let fast = h.send(agent.request(Method::GET, &location, h.now())).await;
    assert_eq!(fast.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(fast.json()["error"], "slow_down");
    assert_no_signature_headers(&fast);
    h.advance(3);
    assert_eq!(
        h.send(agent.request(Method::GET, &location, h.now()))
            .await
            .status,
        StatusCode::ACCEPTED
    );
}

#[tokio::test]
async fn poll_11_delete_withdraws_the_request() {
    let h = harness();
    let agent = Agent::new();
    let first = h.send(agent.request(Method::GET, "/data", h.now())).await;
    let (url, code, location) = first.interaction();
    let other = Agent::new();
    assert_eq!(
        h.send(other.request(Method::DELETE, &location, h.now()))
            .await
            .status,
        StatusCode::FORBIDDEN,
        "only the owner may withdraw"
    );
    let del = h
        .send(agent.request(Method::DELETE, &location, h.now()))
        .await;
    assert!(del.status.is_success(), "{}", del.status);
    h.advance(2);
    assert_eq!(
        h.send(agent.request(Method::GET, &location, h.now()))
            .await
            .status,
        StatusCode::GONE
    );
    assert_ne!(h.open_page(&url, &code).await.status, StatusCode::OK);
}

#[tokio::test]
async fn poll_06_prefer_wait_is_woken_by_the_decision() {
    let h = harness();
    let agent = Agent::new();
    let first = h.send(agent.request(Method::GET, "/data", h.now())).await;
    let (url, code, location) = first.interaction();
    let page = h.open_page(&url, &code).await;
    h.advance(2);
    let mut headers = HeaderMap::new();
    headers.insert("prefer", HeaderValue::from_static("wait=20"));
    let poll = agent.request_with(Method::GET, &location, h.now(), headers, None);
    let started = std::time::Instant::now();
    let (reply, _) = tokio::join!(h.send(poll), async {
        tokio::time::sleep(Duration::from_millis(200)).await;
        h.post_decision(&url, &page, "approve").await
    });
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "held too long: {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn ic_04_ic_05_ic_06_the_page_accepts_the_code_as_people_type_it() {
    for variant in [
        |c: &str| c.to_ascii_lowercase(),
        |c: &str| c.replace('-', ""),
        |c: &str| c.chars().flat_map(|ch| [ch, '-']).collect::<String>(),
        |c: &str| c.replace('1', "l").replace('0', "O"),
    ] {
        let h = harness();
        let first = h
            .send(Agent::new().request(Method::GET, "/data", h.now()))
            .await;
        let (url, code, _) = first.interaction();
        let typed = variant(&code);
        let page = h.open_page(&url, &typed).await;
        assert_eq!(page.status, StatusCode::OK, "{typed} for {code}");
    }
}

#[tokio::test]
async fn ic_07_a_decision_needs_the_nonce_of_the_browser_that_redeemed_the_code() {
    let h = harness();
    let agent = Agent::new();
    let first = h.send(agent.request(Method::GET, "/data", h.now())).await;
    let (url, code, location) = first.interaction();
    let page = h.open_page(&url, &code).await;
    // A forged post without the nonce cookie, as another site would send it (even were the
    // person's login cookie attached).
    let path = url.strip_prefix(ORIGIN).unwrap();
    let forged = http::Request::post(path)
        .header("content-type", "application/x-www-form-urlencoded")
        .header("cookie", h.person_cookie().await)
        .body(axum::body::Body::from("nonce=guess&decision=approve"))
        .unwrap();
    assert_eq!(h.send(forged).await.status, StatusCode::FORBIDDEN);
    h.advance(2);
    let poll = h.send(agent.request(Method::GET, &location, h.now())).await;
    assert_eq!(poll.status, StatusCode::ACCEPTED, "still waiting");
    assert_eq!(
        h.post_decision(&url, &page, "approve").await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn ic_08_a_code_works_once() {
    let h = harness();
    let first = h
        .send(Agent::new().request(Method::GET, "/data", h.now()))
        .await;
    let (url, code, _) = first.interaction();
    assert_eq!(h.open_page(&url, &code).await.status, StatusCode::OK);
    let second = h.open_page(&url, &code).await;
    assert_eq!(second.status, StatusCode::GONE);
    assert!(!second.text().contains("name=\"nonce\""));
}

#[tokio::test]
async fn ic_09_too_many_wrong_codes_fail_the_request_with_invalid_code() {
    let h = harness_with(|b| b.max_code_attempts(3));
    let agent = Agent::new();
    let first = h.send(agent.request(Method::GET, "/data", h.now())).await;
    let (url, code, location) = first.interaction();
    let wrong = if code.starts_with('Z') {
        "YYYY-YYYY"
    } else {
        "ZZZZ-ZZZZ"
    };
    for _ in 0..3 {
        assert_ne!(h.open_page(&url, wrong).await.status, StatusCode::OK);
    }
    // Locked: the right code no longer works.
    assert_ne!(h.open_page(&url, &code).await.status, StatusCode::OK);
    h.advance(2);
    let r = h.send(agent.request(Method::GET, &location, h.now())).await;
    assert_eq!(r.status, StatusCode::GONE);
    assert_eq!(r.json()["error"], "invalid_code");
}

#[tokio::test]
async fn ic_11_the_page_shows_the_code_and_who_asks() {
    let h = harness();
    let agent = Agent::new();
    let first = h.send(agent.request(Method::GET, "/data", h.now())).await;
    let (url, code, _) = first.interaction();
    let page = h.open_page(&url, &code).await;
    let html = page.text();
    assert!(html.contains(&code), "code {code} not shown");
    assert!(html.contains(agent.signer.thumbprint().as_str()));
    assert!(html.contains("GET /data"));
    assert!(page.header("content-security-policy").is_some());
    // The code is normalised and compared as the wire type defines.
    assert!(InteractionCode::normalize_input(&code).is_ok());
}

#[tokio::test]
async fn sess_03_a_session_token_without_a_signature_is_refused() {
    let h = harness();
    let agent = Agent::new();
    let token = obtain_token(&h, &agent).await;
    let bare = http::Request::get("/data")
        .header("authorization", format!("AAuth {token}"))
        .body(axum::body::Body::empty())
        .unwrap();
    let r = h.send(bare).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(r.signature_error().is_some());
}

#[tokio::test]
async fn sess_06_a_signature_that_does_not_cover_authorization_is_invalid_input() {
    let h = harness();
    let agent = Agent::new();
    let token = obtain_token(&h, &agent).await;
    let mut headers = HeaderMap::new();
    headers.insert(
        "authorization",
        HeaderValue::from_str(&format!("AAuth {token}")).unwrap(),
    );
    let req = agent.request_with(
        Method::GET,
        "/data",
        h.now(),
        headers,
        Some(vec!["@method", "@authority", "@path", "signature-key"]),
    );
    let r = h.send(req).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let e = sig_error(&r);
    assert_eq!(e.code, SignatureErrorCode::InvalidInput);
    assert!(
        e.required_input
            .unwrap()
            .iter()
            .any(|c| c == "authorization")
    );
}

#[tokio::test]
async fn sess_07_a_token_presented_under_another_key_is_not_honoured() {
    let h = harness();
    let owner = Agent::new();
    let token = obtain_token(&h, &owner).await;
    let thief = Agent::new();
    let r = h
        .send(thief.with_token(Method::GET, "/data", h.now(), &token))
        .await;
    // Not a session: the policy treats the thief as a new agent (SESS-16 restart).
    assert_eq!(r.status, StatusCode::ACCEPTED);
    assert!(!r.text().contains(owner.signer.thumbprint().as_str()));
}

#[tokio::test]
async fn sess_07_forbid_setting_answers_403_for_a_foreign_token() {
    let h = harness_with(|b| b.invalid_session(aauth_axum::InvalidSessionPolicy::Forbid));
    let owner = Agent::new();
    let token = obtain_token(&h, &owner).await;
    let r = h
        .send(Agent::new().with_token(Method::GET, "/data", h.now(), &token))
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_no_signature_headers(&r);
}

#[tokio::test]
async fn sess_16_an_expired_session_token_restarts_the_interaction() {
    let h = harness_with(|b| b.session_ttl(60));
    let agent = Agent::new();
    let token = obtain_token(&h, &agent).await;
    assert_eq!(
        h.send(agent.with_token(Method::GET, "/data", h.now(), &token))
            .await
            .status,
        StatusCode::OK
    );
    h.advance(61);
    let r = h
        .send(agent.with_token(Method::GET, "/data", h.now(), &token))
        .await;
    assert_eq!(
        r.status,
        StatusCode::ACCEPTED,
        "never a 401 for a stale session"
    );
    assert!(r.signature_error().is_none());
}

#[tokio::test]
async fn sess_13_two_authorization_lines_are_rejected() {
    let h = harness();
    let agent = Agent::new();
    let token = obtain_token(&h, &agent).await;
    let mut headers = HeaderMap::new();
    headers.append(
        "authorization",
        HeaderValue::from_str(&format!("AAuth {token}")).unwrap(),
    );
    headers.append(
        "authorization",
        HeaderValue::from_str(&format!("AAuth {token}")).unwrap(),
    );
    let r = h
        .send(agent.request_with(Method::GET, "/data", h.now(), headers, None))
        .await;
    assert!(r.status.is_client_error(), "{}", r.status);
    assert_ne!(r.status, StatusCode::OK);
}

#[tokio::test]
async fn sig_18_err_06_err_10_created_outside_the_window_is_401_invalid_signature() {
    let h = harness();
    let agent = Agent::new();
    for created in [h.now() - 61, h.now() + 61] {
        let r = h.send(agent.request(Method::GET, "/data", created)).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
        assert_eq!(sig_error(&r).code, SignatureErrorCode::InvalidSignature);
    }
    for created in [h.now() - 59, h.now() + 59] {
        let r = h.send(agent.request(Method::GET, "/data", created)).await;
        assert_eq!(r.status, StatusCode::ACCEPTED);
    }
}

#[tokio::test]
async fn sig_26_err_06_err_10_a_request_changed_after_signing_is_401_invalid_signature() {
    let h = harness();
    let agent = Agent::new();
    // Path changed: signed for /elsewhere, sent to /data.
    let mut req = agent.request(Method::GET, "/elsewhere", h.now());
    *req.uri_mut() = "/data".parse().unwrap();
    let r = h.send(req).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(sig_error(&r).code, SignatureErrorCode::InvalidSignature);
    // Method changed.
    let mut req = agent.request(Method::GET, "/data", h.now());
    *req.method_mut() = Method::POST;
    let r = h.send(req).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(sig_error(&r).code, SignatureErrorCode::InvalidSignature);
}

#[tokio::test]
async fn sig_20_err_08_missing_signature_headers_are_invalid_request() {
    let h = harness();
    let agent = Agent::new();
    for drop in ["signature", "signature-input", "signature-key"] {
        let mut req = agent.request(Method::GET, "/data", h.now());
        req.headers_mut().remove(drop);
        let r = h.send(req).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "without {drop}");
        assert_eq!(
            sig_error(&r).code,
            SignatureErrorCode::InvalidRequest,
            "without {drop}"
        );
        // ERR-04: problem+json with the sig-error URN.
        let body = r.json();
        assert_eq!(body["type"], "urn:ietf:params:sig-error:invalid_request");
        assert_eq!(body["error"], "invalid_request");
    }
}

#[tokio::test]
async fn sig_23_err_11_an_unaccepted_scheme_is_unsupported_scheme_with_the_accepted_list() {
    let h = harness();
    let agent = Agent::new();
    let mut req = agent.request(Method::GET, "/data", h.now());
    req.headers_mut().insert(
        "signature-key",
        HeaderValue::from_static("sig=jwt;jwt=\"a.b.c\""),
    );
    let r = h.send(req).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(sig_error(&r).code, SignatureErrorCode::UnsupportedScheme);
    assert_eq!(r.header("accept-signature-scheme"), Some("hwk"));
}

#[tokio::test]
async fn amb_32_generic_setting_hides_the_specific_code() {
    let h = harness_with(|b| b.generic_signature_errors(true));
    let agent = Agent::new();
    let mut req = agent.request(Method::GET, "/data", h.now());
    req.headers_mut().remove("signature");
    let r = h.send(req).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(sig_error(&r).code, SignatureErrorCode::InvalidSignature);
    assert!(r.header("accept-signature-scheme").is_none());
}

#[tokio::test]
async fn sig_29_sk_29_accept_signature_alg_names_exactly_the_accepted_set_or_nothing() {
    use aauth_sig::Algorithm;
    use aauth_wire::signature_error::parse_accept_signature_alg;
    // An Ed25519 agent at a resource that accepts only ES256.
    let h = harness_with(|b| b.accept_algorithms([Algorithm::Es256]));
    let r = h
        .send(Agent::new().request(Method::GET, "/data", h.now()))
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(sig_error(&r).code, SignatureErrorCode::UnsupportedAlgorithm);
    let listed = parse_accept_signature_alg(r.header("accept-signature-alg").expect("listed"))
        .expect("a List of Strings");
    assert_eq!(listed, ["ES256"], "exactly the accepted set");
    // SK-29: the metadata document's twin of the header says the same.
    let md = h
        .send(
            http::Request::get("/.well-known/aauth-resource.json")
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await
        .json();
    assert_eq!(md["accept_signature_algs"], serde_json::json!(listed));
    // With disclosure minimised (AMB-32), the list is left out.
    let h = harness_with(|b| {
        b.accept_algorithms([Algorithm::Es256])
            .generic_signature_errors(true)
    });
    let r = h
        .send(Agent::new().request(Method::GET, "/data", h.now()))
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(r.header("accept-signature-alg").is_none());
    assert!(r.header("accept-signature-scheme").is_none());
}

#[tokio::test]
async fn cap_03_cap_04_amb_16_the_interaction_capability_and_its_setting() {
    let with_caps = |agent: &Agent, now: u64, caps: Option<&'static str>| {
        let mut h = HeaderMap::new();
        if let Some(c) = caps {
            h.insert("aauth-capabilities", HeaderValue::from_static(c));
        }
        agent.request_with(Method::GET, "/data", now, h, None)
    };
    // Default (AMB-16): a 202 whether or not the agent declared anything.
    let h = harness();
    for caps in [None, Some("interaction"), Some("payment")] {
        let r = h.send(with_caps(&Agent::new(), h.now(), caps)).await;
        assert_eq!(r.status, StatusCode::ACCEPTED, "{caps:?}");
    }
    // The strict setting: no declared `interaction` (absent, CAP-04; other values only;
    // malformed) → 403 denied without signature headers and no pending request.
    let h = harness_with(|b| b.require_interaction_capability(true));
    for caps in [
        None,
        Some("payment, clarification"),
        Some("\"interaction\""),
    ] {
        let r = h.send(with_caps(&Agent::new(), h.now(), caps)).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{caps:?}");
        assert_eq!(r.json()["error"], "denied", "{caps:?}");
        assert!(r.header("location").is_none(), "{caps:?}");
        assert_no_signature_headers(&r);
    }
    // CAP-03: unknown values and parameters are ignored, `interaction` still counts.
    let r = h
        .send(with_caps(
            &Agent::new(),
            h.now(),
            Some("teleport, interaction;x=1"),
        ))
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
}

#[test]
fn rm_04_config_refuses_plain_http_except_on_loopback_in_dev_mode() {
    use aauth_axum::AAuthResource;
    assert!(
        AAuthResource::builder("http://resource.example")
            .accept_hwk()
            .build()
            .is_err()
    );
    assert!(
        AAuthResource::builder("http://resource.example")
            .accept_hwk()
            .allow_insecure_loopback()
            .build()
            .is_err(),
        "dev mode still refuses a non-loopback host"
    );
    assert!(
        AAuthResource::builder("http://127.0.0.1:8080")
            .accept_hwk()
            .build()
            .is_err()
    );
    assert!(
        AAuthResource::builder("http://127.0.0.1:8080")
            .accept_hwk()
            .allow_insecure_loopback()
            .build()
            .is_ok()
    );
    assert!(
        AAuthResource::builder("https://resource.example/app?x=1")
            .accept_hwk()
            .build()
            .is_err(),
        "RM-04: a base with a query would put one in the interaction URL"
    );
}

#[tokio::test]
async fn ic_11_the_page_shows_the_query_the_agent_sent() {
    let h = harness();
    let agent = Agent::new();
    let first = h
        .send(agent.request(Method::GET, "/data?amount=1000&to=%3Cb%3Emallory", h.now()))
        .await;
    let (url, code, _) = first.interaction();
    let page = h.open_page(&url, &code).await;
    let html = page.text();
    assert!(
        html.contains("GET /data?amount=1000&amp;to=%3Cb%3Emallory"),
        "{html}"
    );
    assert!(!html.contains("<b>mallory"));
}
