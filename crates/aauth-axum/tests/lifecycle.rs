//! Session-token lifecycle, revocation, abandonment, callbacks, the login, the page hook,
//! metadata, metrics and logs (DIGEST.md §3.3–§3.7, §6, §9.2).
mod common;

use std::sync::Arc;

use aauth_axum::pages::{CodeEntryView, DecisionView, DefaultPage, Finished, InteractionPage};
use aauth_axum::{
    AccessModeName, AgentTokenId, InvalidSessionPolicy, RequireInteraction, SessionGrant,
};
use aauth_sig::{Algorithm, SigningKey};
use aauth_store::SessionBinding;
use aauth_wire::access::SessionToken;
use axum::body::Body;
use common::*;
use http::{Method, Request, StatusCode};

async fn data_with(h: &Harness, agent: &Agent, token: &str) -> Reply {
    h.send(agent.with_token(Method::GET, "/data", h.now(), token))
        .await
}

/// SESS-16 / AMB-02 for one way of making a token invalid, under both settings.
async fn invalid_token_case(make_invalid: impl AsyncFn(&Harness, &Agent, &str) -> String) {
    for (policy, expected) in [
        (InvalidSessionPolicy::Restart, StatusCode::ACCEPTED),
        (InvalidSessionPolicy::Forbid, StatusCode::FORBIDDEN),
    ] {
        let h = harness_with(|b| b.invalid_session(policy).session_ttl(600));
        let agent = Agent::new();
        let good = obtain_token(&h, &agent).await;
        assert_eq!(data_with(&h, &agent, &good).await.status, StatusCode::OK);
        let bad = make_invalid(&h, &agent, &good).await;
        let r = data_with(&h, &agent, &bad).await;
        assert_eq!(r.status, expected, "{policy:?}: {}", r.text());
        // A valid signature with a bad session token is never a signature error.
        assert!(r.signature_error().is_none(), "{policy:?}");
        assert!(r.header("accept-signature-scheme").is_none());
        if policy == InvalidSessionPolicy::Forbid {
            assert_eq!(r.json()["error"], "denied");
        } else {
            r.interaction();
        }
        assert_eq!(h.resource.metrics().sessions_invalid, 1);
    }
}

#[tokio::test]
async fn sess_16_amb_02_unknown_token_restarts_or_is_forbidden() {
    invalid_token_case(async |_, _, _| "bm90LWEtcmVhbC10b2tlbg".to_owned()).await;
}

#[tokio::test]
async fn sess_16_amb_02_expired_token_restarts_or_is_forbidden() {
    invalid_token_case(async |h, _, good| {
        h.advance(601);
        good.to_owned()
    })
    .await;
}

#[tokio::test]
async fn sess_16_amb_02_revoked_token_restarts_or_is_forbidden() {
    invalid_token_case(async |h, _, good| {
        let t = SessionToken::parse(good).unwrap();
        assert!(h.resource.revoke_session(&t).await.unwrap());
        good.to_owned()
    })
    .await;
}

#[tokio::test]
async fn sess_01_session_terms_choose_scope_and_lifetime() {
    let h = harness_with(|b| {
        b.policy(|ctx| match ctx.session {
            Some(_) => aauth_axum::Decision::Allow,
            None => aauth_axum::Decision::Interact {
                scope: Some("data.read data.write".into()),
            },
        })
        .session_terms(|ctx| aauth_axum::SessionTerms {
            // The policy narrows what was asked, and gives a person-specific lifetime.
            scope: ctx.requested_scope.map(|_| "data.read".to_owned()),
            ttl: if ctx.person == Some(PERSON) { 120 } else { 1 },
        })
    });
    let agent = Agent::new();
    let first = h.send(agent.request(Method::GET, "/data", h.now())).await;
    let (url, code, location) = first.interaction();
    h.person_decides(&url, &code, "approve").await;
    h.advance(2);
    let done = h.send(agent.request(Method::GET, &location, h.now())).await;
    assert_eq!(done.status, StatusCode::OK);
    assert_eq!(done.json()["scope"], "data.read");
    let token = SessionToken::parse(done.header("aauth-access").unwrap()).unwrap();
    let grant = h
        .resource
        .session_store()
        .lookup(&token, h.now())
        .await
        .unwrap()
        .expect("stored");
    assert_eq!(grant.scope.as_deref(), Some("data.read"));
    assert_eq!(grant.person.as_deref(), Some(PERSON));
    assert_eq!(grant.lifetime(), 120);
    assert_eq!(grant.binding.key_thumbprint, agent.signer.thumbprint());
}

#[tokio::test]
async fn sess_08_rolling_refresh_hands_out_a_successor_and_retires_the_old_token() {
    let h = harness_with(|b| {
        b.session_ttl(100)
            .refresh_below_percent(25)
            .refresh_grace(10)
    });
    let agent = Agent::new();
    let old = obtain_token(&h, &agent).await;
    // Early in the token's life: no refresh.
    let r = data_with(&h, &agent, &old).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.header("aauth-access").is_none());
    // Less than 25 % left: the response carries a successor.
    h.advance(80);
    let r = data_with(&h, &agent, &old).await;
    assert_eq!(r.status, StatusCode::OK);
    let new = r.header("aauth-access").expect("successor").to_owned();
    assert_ne!(new, old);
    assert!(r.header("cache-control").unwrap().contains("no-store"));
    // The old token still works within the grace period, but is not refreshed again.
    let r = data_with(&h, &agent, &old).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.header("aauth-access").is_none(), "refreshed only once");
    // After the grace period the old token is retired; the new one keeps its full lifetime.
    h.advance(11);
    assert_eq!(
        data_with(&h, &agent, &old).await.status,
        StatusCode::ACCEPTED
    );
    let r = data_with(&h, &agent, &new).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.header("aauth-access").is_none());
    assert_eq!(h.resource.metrics().sessions_refreshed, 1);
}

#[tokio::test]
async fn sess_08_concurrent_requests_refresh_a_token_only_once() {
    let h = Arc::new(harness_with(|b| b.session_ttl(100)));
    let agent = Arc::new(Agent::new());
    let old = obtain_token(&h, &agent).await;
    h.advance(90);
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let (h, agent, old) = (h.clone(), agent.clone(), old.clone());
        tasks.push(tokio::spawn(async move {
            data_with(&h, &agent, &old)
                .await
                .header("aauth-access")
                .map(str::to_owned)
        }));
    }
    let mut successors = 0;
    for t in tasks {
        successors += usize::from(t.await.unwrap().is_some());
    }
    assert_eq!(successors, 1);
}

#[tokio::test]
async fn sess_08_refresh_can_be_turned_off() {
    let h = harness_with(|b| b.session_ttl(100).refresh_below_percent(0));
    let agent = Agent::new();
    let token = obtain_token(&h, &agent).await;
    h.advance(99);
    let r = data_with(&h, &agent, &token).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.header("aauth-access").is_none());
}

#[tokio::test]
async fn rev_local_revocation_by_person_and_by_agent_key_ends_sessions() {
    let h = harness();
    let a = Agent::new();
    let b = Agent::new();
    let ta = obtain_token(&h, &a).await;
    let tb = obtain_token(&h, &b).await;
    assert_eq!(
        h.resource
            .revoke_agent_key(&a.signer.thumbprint())
            .await
            .unwrap(),
        1
    );
    assert_eq!(data_with(&h, &a, &ta).await.status, StatusCode::ACCEPTED);
    assert_eq!(data_with(&h, &b, &tb).await.status, StatusCode::OK);
    assert_eq!(h.resource.revoke_person(PERSON).await.unwrap(), 1);
    assert_eq!(data_with(&h, &b, &tb).await.status, StatusCode::ACCEPTED);
    assert_eq!(h.resource.metrics().sessions_revoked, 2);
}

/// A harness whose revocation endpoint trusts `operator`'s key.
fn revocation_harness(operator: &Agent) -> Harness {
    let jkt = operator.signer.thumbprint();
    harness_with(move |b| b.trusted_revokers([jkt]))
}

fn revoke_request(caller: &Agent, now: u64, body: &str) -> Request<Body> {
    let mut req = caller.request(Method::POST, "/aauth/revoke", now);
    req.headers_mut()
        .insert("content-type", "application/json".parse().unwrap());
    *req.body_mut() = Body::from(body.to_owned());
    req
}

#[tokio::test]
async fn rev_01_rev_02_metadata_advertises_the_revocation_endpoint() {
    let h = harness();
    let md = h.resource.metadata_document();
    assert_eq!(
        md["revocation_endpoint"],
        format!("{ORIGIN}/aauth/revoke"),
        "exposed by default"
    );
}

#[tokio::test]
async fn rev_03_a_revocation_without_jti_is_invalid_request() {
    let op = Agent::new();
    let h = revocation_harness(&op);
    for body in [
        r#"{"iss":"https://ap.example"}"#,
        r#"{"jti":"x"}"#,
        "not json",
        r#"{"iss":1,"jti":"x"}"#,
    ] {
        let r = h.send(revoke_request(&op, h.now(), body)).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(r.json()["error"], "invalid_request");
        assert_eq!(r.header("content-type"), Some("application/problem+json"));
    }
}

#[tokio::test]
async fn rev_04_rev_05_revocation_is_keyed_by_iss_and_jti_200_twice_404_unknown() {
    let op = Agent::new();
    let h = revocation_harness(&op);
    let store = h.resource.revocation_store();
    store
        .record(&AgentTokenId::new("https://a.example", "x"), None, u64::MAX)
        .await
        .unwrap();
    store
        .record(&AgentTokenId::new("https://b.example", "x"), None, u64::MAX)
        .await
        .unwrap();
    let body = r#"{"iss":"https://a.example","jti":"x"}"#;
    assert_eq!(
        h.send(revoke_request(&op, h.now(), body)).await.status,
        StatusCode::OK
    );
    assert_eq!(
        h.send(revoke_request(&op, h.now(), body)).await.status,
        StatusCode::OK,
        "already revoked is still 200"
    );
    assert!(
        store
            .is_revoked(&AgentTokenId::new("https://a.example", "x"))
            .await
            .unwrap()
    );
    assert!(
        !store
            .is_revoked(&AgentTokenId::new("https://b.example", "x"))
            .await
            .unwrap(),
        "same jti from another issuer is untouched"
    );
    let r = h
        .send(revoke_request(
            &op,
            h.now(),
            r#"{"iss":"https://a.example","jti":"never-seen"}"#,
        ))
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn rev_06_revocation_needs_a_signature_and_a_trusted_caller() {
    let op = Agent::new();
    let h = revocation_harness(&op);
    h.resource
        .revocation_store()
        .record(&AgentTokenId::new("https://a.example", "x"), None, u64::MAX)
        .await
        .unwrap();
    let body = r#"{"iss":"https://a.example","jti":"x"}"#;
    let unsigned = Request::post("/aauth/revoke")
        .header("content-type", "application/json")
        .body(Body::from(body))
        .unwrap();
    let r = h.send(unsigned).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(r.signature_error().is_some());
    let stranger = Agent::new();
    let r = h.send(revoke_request(&stranger, h.now(), body)).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(r.json()["error"], "denied");
    // A stranger cannot probe which pairs exist either.
    let r = h
        .send(revoke_request(
            &stranger,
            h.now(),
            r#"{"iss":"https://a.example","jti":"nope"}"#,
        ))
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(
        !h.resource
            .revocation_store()
            .is_revoked(&AgentTokenId::new("https://a.example", "x"))
            .await
            .unwrap()
    );
}

#[tokio::test]
async fn rev_07_revoking_an_agent_token_ends_that_agents_sessions() {
    let op = Agent::new();
    let h = revocation_harness(&op);
    let agent_id = "aauth:bot@a.example";
    h.resource
        .revocation_store()
        .record(
            &AgentTokenId::new("https://a.example", "x"),
            Some(agent_id),
            u64::MAX,
        )
        .await
        .unwrap();
    let binding = |id: &str| SessionBinding {
        key_thumbprint: aauth_wire::Thumbprint::from_encoded("k"),
        agent_id: Some(id.to_owned()),
    };
    let sessions = h.resource.session_store();
    let mine = sessions
        .issue(SessionGrant::new(binding(agent_id), h.now(), h.now() + 600))
        .await
        .unwrap();
    let other = sessions
        .issue(SessionGrant::new(
            binding("aauth:other@a.example"),
            h.now(),
            h.now() + 600,
        ))
        .await
        .unwrap();
    let r = h
        .send(revoke_request(
            &op,
            h.now(),
            r#"{"iss":"https://a.example","jti":"x"}"#,
        ))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(sessions.lookup(&mine, h.now()).await.unwrap().is_none());
    assert!(sessions.lookup(&other, h.now()).await.unwrap().is_some());
    assert_eq!(h.resource.metrics().agent_tokens_revoked, 1);
}

#[tokio::test]
async fn err_21_no_decision_within_the_interaction_timeout_is_abandoned() {
    let h = harness_with(|b| b.interaction_timeout(60));
    let agent = Agent::new();
    let first = h.send(agent.request(Method::GET, "/data", h.now())).await;
    let (url, code, location) = first.interaction();
    let page = h.open_page(&url, &code).await;
    assert_eq!(page.status, StatusCode::OK);
    h.advance(61);
    let r = h.send(agent.request(Method::GET, &location, h.now())).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(r.json()["error"], "abandoned");
    assert_eq!(r.header("content-type"), Some("application/problem+json"));
    assert!(r.signature_error().is_none());
    // The late click changes nothing, and the pending URL is gone.
    let late = h.post_decision(&url, &page, "approve").await;
    assert_ne!(late.status, StatusCode::OK);
    h.advance(2);
    let r = h.send(agent.request(Method::GET, &location, h.now())).await;
    assert_eq!(r.status, StatusCode::GONE);
}

#[tokio::test]
async fn err_21_a_late_decision_itself_abandons_the_request() {
    let h = harness_with(|b| b.interaction_timeout(60));
    let agent = Agent::new();
    let first = h.send(agent.request(Method::GET, "/data", h.now())).await;
    let (url, code, location) = first.interaction();
    let page = h.open_page(&url, &code).await;
    h.advance(61);
    assert_eq!(
        h.post_decision(&url, &page, "approve").await.status,
        StatusCode::GONE
    );
    let r = h.send(agent.request(Method::GET, &location, h.now())).await;
    assert_eq!(r.json()["error"], "abandoned");
}

#[tokio::test]
async fn ic_07_without_a_signed_in_person_the_page_sends_to_login_and_nothing_changes() {
    let h = harness();
    let agent = Agent::new();
    let first = h.send(agent.request(Method::GET, "/data", h.now())).await;
    let (url, code, location) = first.interaction();
    let r = h.open_page_as(&url, &code, None).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let to = r.header("location").unwrap();
    assert!(to.starts_with("/aauth/login?next="), "{to}");
    // The code was not consumed and the request is still plainly pending.
    h.advance(2);
    let poll = h.send(agent.request(Method::GET, &location, h.now())).await;
    assert_eq!(poll.json()["status"], "pending");
    // A decision post without a login is refused the same way.
    let path = url.strip_prefix(ORIGIN).unwrap();
    let post = Request::post(path)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from("nonce=x&decision=approve"))
        .unwrap();
    assert_eq!(h.send(post).await.status, StatusCode::SEE_OTHER);
    assert_eq!(h.open_page(&url, &code).await.status, StatusCode::OK);
}

#[tokio::test]
async fn ic_07_login_refuses_wrong_passwords_and_forged_posts() {
    let h = harness();
    let r = h.sign_in_with("wrong").await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(set_cookie(&r, "aauth_login").is_none());
    // Without the form's own nonce cookie (a cross-site post), even the right password fails.
    let form = format!("csrf=x&next=%2F&username={PERSON}&password=correct+horse+battery+staple");
    let forged = Request::post("/aauth/login")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from(form))
        .unwrap();
    assert_eq!(h.send(forged).await.status, StatusCode::FORBIDDEN);
    // An open redirect through `next` is not possible.
    let page = h
        .send(
            Request::get("/aauth/login?next=//evil.example/x")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(hidden(&page.text(), "next"), "/");
}

#[tokio::test]
async fn ic_07_login_locks_a_user_after_repeated_wrong_passwords() {
    let h = harness();
    for _ in 0..10 {
        assert_eq!(
            h.sign_in_with("wrong").await.status,
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(
        h.sign_in_with(PASSWORD).await.status,
        StatusCode::UNAUTHORIZED,
        "locked even for the right password"
    );
    h.advance(301);
    assert_eq!(h.sign_in_with(PASSWORD).await.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn a_login_lifetime_of_u64_max_signs_in_without_overflow() {
    // Any lifetime the builder accepts must be usable: the expiry saturates, never wraps or
    // panics.
    let h = harness_with(|b| {
        b.authenticator(std::sync::Arc::new(
            aauth_axum::LocalLogin::new()
                .with_user(PERSON, PASSWORD, None)
                .session_ttl(u64::MAX),
        ))
    });
    assert_eq!(h.sign_in_with(PASSWORD).await.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn malformed_forms_and_queries_on_our_pages_get_a_guarded_400_page() {
    let h = harness();
    let agent = Agent::new();
    let first = h.send(agent.request(Method::GET, "/data", h.now())).await;
    let (url, _code, location) = first.interaction();
    let path = url.strip_prefix(ORIGIN).unwrap().to_owned();
    let form = |to: &str, body: &'static str, content_type: &'static str| {
        Request::post(to)
            .header("content-type", content_type)
            .body(Body::from(body))
            .unwrap()
    };
    // The interaction route with an id that is not UTF-8 once percent-decoded.
    let bad_id = format!("{}/%FF", path.rsplit_once('/').unwrap().0);
    let cases = [
        form(&path, "", "application/x-www-form-urlencoded"),
        form(
            &path,
            "decision=approve",
            "application/x-www-form-urlencoded",
        ),
        form(&path, r#"{"decision":"approve"}"#, "application/json"),
        form(
            "/aauth/login",
            "username=alice",
            "application/x-www-form-urlencoded",
        ),
        Request::get(format!("{path}?code=a&code=b"))
            .body(Body::empty())
            .unwrap(),
        Request::get("/aauth/login?next=a&next=b")
            .body(Body::empty())
            .unwrap(),
        Request::get(&bad_id).body(Body::empty()).unwrap(),
        form(
            &bad_id,
            "nonce=x&decision=approve",
            "application/x-www-form-urlencoded",
        ),
    ];
    for req in cases {
        let what = format!("{} {}", req.method(), req.uri());
        let r = h.send(req).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{what}: {}", r.text());
        assert!(
            r.header("content-type").unwrap().starts_with("text/html"),
            "{what}"
        );
        assert_eq!(r.header("cache-control"), Some("no-store"), "{what}");
        assert_eq!(r.header("x-frame-options"), Some("DENY"), "{what}");
        assert!(r.header("content-security-policy").is_some(), "{what}");
    }
    // Nothing was decided.
    h.advance(2);
    let poll = h.send(agent.request(Method::GET, &location, h.now())).await;
    assert_eq!(poll.json()["status"], "pending");
}

#[tokio::test]
async fn ic_10_a_code_presented_after_expiry_is_expired_and_the_poll_408() {
    let h = harness_with(|b| b.pending_ttl(60));
    let agent = Agent::new();
    let first = h.send(agent.request(Method::GET, "/data", h.now())).await;
    let (url, code, location) = first.interaction();
    h.advance(61);
    let page = h.open_page(&url, &code).await;
    assert_eq!(page.status, StatusCode::GONE);
    assert!(page.text().contains("expired"), "{}", page.text());
    let r = h.send(agent.request(Method::GET, &location, h.now())).await;
    assert_eq!(r.status, StatusCode::REQUEST_TIMEOUT);
    assert_eq!(r.json()["error"], "expired");
}

async fn decide_with_callback(h: &Harness, decision: &str, callback: &str) -> (Reply, Reply) {
    let agent = Agent::new();
    let first = h.send(agent.request(Method::GET, "/data", h.now())).await;
    let (url, code, location) = first.interaction();
    let q = form_urlencoded::Serializer::new(String::new())
        .append_pair("callback", callback)
        .finish();
    let page = h.open_page(&url, &format!("{code}&{q}")).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text());
    let done = h.post_decision(&url, &page, decision).await;
    h.advance(2);
    let poll = h.send(agent.request(Method::GET, &location, h.now())).await;
    (done, poll)
}

#[tokio::test]
async fn rm_22_approval_with_a_callback_redirects_there() {
    let h = harness();
    let (done, poll) = decide_with_callback(&h, "approve", "https://agent.example/cb").await;
    assert_eq!(done.status, StatusCode::SEE_OTHER);
    assert_eq!(done.header("location"), Some("https://agent.example/cb"));
    assert_eq!(poll.status, StatusCode::OK);
}

#[tokio::test]
async fn rm_23_err_27_denial_with_a_callback_redirects_with_access_denied() {
    let h = harness();
    let (done, poll) = decide_with_callback(&h, "deny", "https://agent.example/cb?state=1").await;
    assert_eq!(done.status, StatusCode::SEE_OTHER);
    assert_eq!(
        done.header("location"),
        Some("https://agent.example/cb?state=1&error=access_denied")
    );
    assert_eq!(poll.status, StatusCode::FORBIDDEN);
    assert_eq!(poll.json()["error"], "denied");
}

#[tokio::test]
async fn amb_25_callbacks_that_would_make_an_open_redirector_are_refused() {
    let h = harness();
    let agent = Agent::new();
    let first = h.send(agent.request(Method::GET, "/data", h.now())).await;
    let (url, code, _) = first.interaction();
    for bad in [
        "http://agent.example/cb",
        "javascript:alert(1)",
        "https://a.example/#x",
    ] {
        let q = form_urlencoded::Serializer::new(String::new())
            .append_pair("callback", bad)
            .finish();
        let r = h.open_page(&url, &format!("{code}&{q}")).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad}");
    }
    // The code was not spent on the refused attempts.
    assert_eq!(h.open_page(&url, &code).await.status, StatusCode::OK);
}

struct PlainPage;

impl InteractionPage for PlainPage {
    fn enter_code(&self, view: &CodeEntryView<'_>) -> String {
        DefaultPage.enter_code(view)
    }
    fn decide(&self, view: &DecisionView<'_>) -> String {
        format!(
            "<!doctype html><title>ACME consent</title><p>ACME: {} asks; code {}</p>\
             <form method=post action=\"{}\"><input type=hidden name=\"nonce\" value=\"{}\">\
             <button name=decision value=approve>OK</button></form>",
            view.agent.len(),
            view.code,
            view.form_action,
            view.nonce
        )
    }
    fn finished(&self, outcome: Finished) -> String {
        format!("<!doctype html><title>ACME</title><p>ACME done: {outcome:?}</p>")
    }
}

#[tokio::test]
async fn ic_11_the_application_can_replace_the_page_and_keeps_the_protections() {
    let h = harness_with(|b| b.interaction_page(Arc::new(PlainPage)));
    let agent = Agent::new();
    let first = h.send(agent.request(Method::GET, "/data", h.now())).await;
    let (url, code, location) = first.interaction();
    let page = h.open_page(&url, &code).await;
    assert!(page.text().contains("ACME: "), "{}", page.text());
    assert!(page.text().contains(&code));
    assert!(page.header("content-security-policy").is_some());
    assert!(set_cookie(&page, "aauth_interaction").is_some());
    let done = h.post_decision(&url, &page, "approve").await;
    assert!(done.text().contains("ACME done: Approved"));
    h.advance(2);
    let poll = h.send(agent.request(Method::GET, &location, h.now())).await;
    assert_eq!(poll.status, StatusCode::OK);
}

#[tokio::test]
async fn rm_02_require_interaction_helper_answers_202_from_inside_a_handler() {
    let h = harness();
    async fn admin(gate: RequireInteraction) -> axum::response::Response {
        gate.respond(Some("admin".into())).await
    }
    let app = axum::Router::new()
        .route("/admin", axum::routing::post(admin))
        .layer(h.resource.layer())
        .merge(h.resource.routes());
    let agent = Agent::new();
    let resp = tower::ServiceExt::oneshot(app, agent.request(Method::POST, "/admin", h.now()))
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::ACCEPTED);
    assert!(resp.headers().contains_key("aauth-requirement"));
    let pending = h.resource.metrics().challenges;
    assert_eq!(pending, 1);
}

#[test]
fn ic_07_dev_authenticator_is_refused_outside_loopback_and_none_is_an_error() {
    use aauth_axum::{AAuthResource, ConfigError, DevLoopbackPerson};
    let r = AAuthResource::builder(ORIGIN)
        .accept_hwk()
        .authenticator(Arc::new(DevLoopbackPerson))
        .build();
    assert!(matches!(r, Err(ConfigError::NoAuthenticator)));
    let r = AAuthResource::builder(ORIGIN).accept_hwk().build();
    assert!(matches!(r, Err(ConfigError::NoAuthenticator)));
    assert!(
        AAuthResource::builder("http://127.0.0.1:9")
            .accept_hwk()
            .allow_insecure_loopback()
            .build()
            .is_ok()
    );
}

#[tokio::test]
async fn md_01_to_md_07_metadata_matches_what_the_verifier_enforces() {
    let key = SigningKey::generate(Algorithm::Ed25519).unwrap();
    let h = harness_with(|b| {
        b.signature_window(std::time::Duration::from_secs(30))
            .require_components(["content-type"])
            .accept_algorithms([Algorithm::Ed25519])
            .signing_keys([&key])
            .metadata("name", serde_json::json!("Demo resource"))
            .metadata("issuer", serde_json::json!("https://spoof.example"))
    });
    let r = h
        .send(
            Request::get("/.well-known/aauth-resource.json")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let md = r.json();
    assert_eq!(
        md["issuer"], ORIGIN,
        "MD-02; computed members cannot be overridden"
    );
    assert_eq!(md["access_mode"], "session-token");
    assert_eq!(md["signature_window"], 30);
    assert_eq!(md["accept_signature_algs"], serde_json::json!(["Ed25519"]));
    assert_eq!(md["accept_signature_schemes"], serde_json::json!(["hwk"]));
    assert_eq!(
        md["additional_signature_components"],
        serde_json::json!(["content-type"])
    );
    assert_eq!(md["name"], "Demo resource");
    // What the document says is what the verifier does: a signature 45 s old is outside the
    // advertised window, one without content-type lacks an advertised component.
    let agent = Agent::new();
    let mut hm = http::HeaderMap::new();
    hm.insert("content-type", "text/plain".parse().unwrap());
    let ok = agent.request_with(
        Method::GET,
        "/data",
        h.now() - 29,
        hm.clone(),
        Some(vec![
            "@method",
            "@authority",
            "@path",
            "content-type",
            "signature-key",
        ]),
    );
    assert_eq!(h.send(ok).await.status, StatusCode::ACCEPTED);
    let stale = agent.request_with(
        Method::GET,
        "/data",
        h.now() - 45,
        hm,
        Some(vec![
            "@method",
            "@authority",
            "@path",
            "content-type",
            "signature-key",
        ]),
    );
    assert_eq!(h.send(stale).await.status, StatusCode::UNAUTHORIZED);
    let missing = h.send(agent.request(Method::GET, "/data", h.now())).await;
    assert!(missing.signature_error().unwrap().contains("invalid_input"));
    // MD-03: the jwks_uri publishes the resource's own key, public part only.
    let jwks_uri = md["jwks_uri"].as_str().unwrap();
    let path = jwks_uri.strip_prefix(ORIGIN).unwrap();
    let jwks = h
        .send(Request::get(path).body(Body::empty()).unwrap())
        .await;
    assert_eq!(
        jwks.header("content-type"),
        Some("application/jwk-set+json")
    );
    let keys = jwks.json()["keys"].as_array().unwrap().clone();
    assert_eq!(keys.len(), 1);
    assert!(keys[0].get("d").is_none(), "no private part");
    let jwk = aauth_sig::Jwk::from_json(&keys[0].to_string()).unwrap();
    assert_eq!(jwk.thumbprint().unwrap(), key.thumbprint());
}

#[tokio::test]
async fn md_03_md_04_no_keys_no_jwks_uri_and_the_legacy_access_mode_name() {
    let h = harness_with(|b| b.access_mode_name(AccessModeName::LegacyAAuthAccessToken));
    let md = h.resource.metadata_document();
    assert!(md.get("jwks_uri").is_none());
    assert_eq!(md["access_mode"], "aauth-access-token");
    let r = h
        .send(
            Request::get("/.well-known/jwks.json")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn err_01_signature_failures_are_counted_by_code() {
    let h = harness();
    let agent = Agent::new();
    let _ = h
        .send(agent.request(Method::GET, "/data", h.now() - 600))
        .await;
    let _ = h
        .send(agent.request(Method::GET, "/data", h.now() - 600))
        .await;
    let _ = h
        .send(Request::get("/data").body(Body::empty()).unwrap())
        .await;
    let _ = h.send(agent.request(Method::GET, "/data", h.now())).await;
    let m = h.resource.metrics();
    assert_eq!(m.signature_errors["invalid_signature"], 2);
    assert_eq!(m.signature_errors["invalid_request"], 1);
    assert_eq!(m.signature_errors["unsupported_scheme"], 0);
    assert_eq!(m.verified, 1);
    assert_eq!(m.challenges, 1);
}

#[tokio::test]
async fn ic_04_code_input_normalisation_never_panics_or_fails_the_server() {
    // A deterministic fuzz of the page's code input: arbitrary bytes (percent-encoded), long
    // inputs, Unicode look-alikes. No 5xx, and the request is locked after the allowed tries.
    let h = harness_with(|b| b.max_code_attempts(1_000));
    let agent = Agent::new();
    let first = h.send(agent.request(Method::GET, "/data", h.now())).await;
    let (url, code, _) = first.interaction();
    let mut seed = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let specials = ["ℹ", "Ｏ", "İ", "ı", "\u{0}", "--", "%", "ǅ", "ß", "０"];
    for i in 0..300 {
        let len = (next() % 40) as usize;
        let mut input = String::new();
        for _ in 0..len {
            match next() % 4 {
                0 => input.push_str(specials[(next() % specials.len() as u64) as usize]),
                1 => input.push(char::from((next() % 0x7F) as u8)),
                _ => input.push(
                    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz-"
                        .chars()
                        .nth((next() % 63) as usize)
                        .unwrap(),
                ),
            }
        }
        if i == 0 {
            input = "x".repeat(10_000);
        }
        let enc = form_urlencoded::byte_serialize(input.as_bytes()).collect::<String>();
        let r = h.open_page(&url, &enc).await;
        assert!(
            !r.status.is_server_error(),
            "{input:?} → {} {}",
            r.status,
            r.text()
        );
        if r.status == StatusCode::OK && r.text().contains("name=\"nonce\"") {
            panic!("random input {input:?} matched code {code}");
        }
        // Direct: the wire type's comparison on the same input.
        let _ = aauth_wire::interaction_code::InteractionCode::normalize_input(&input);
    }
}
