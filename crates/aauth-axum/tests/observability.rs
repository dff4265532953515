//! Spans and events: every step leaves a trace with its outcome, and no secret ever does
//! (SESS-15: session tokens, interaction codes, nonces and passwords stay out of logs).
mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};

use common::*;
use http::{Method, StatusCode};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::fmt::format::FmtSpan;

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

#[tokio::test(flavor = "current_thread")]
async fn sess_15_spans_carry_outcomes_and_never_a_secret() {
    let out = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(out.clone())
        .with_max_level(tracing::Level::TRACE)
        .with_span_events(FmtSpan::CLOSE)
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let h = harness_with(|b| b.session_ttl(100));
    let agent = Agent::new();
    let first = h.send(agent.request(Method::GET, "/data", h.now())).await;
    let (url, code, location) = first.interaction();
    let page = h.open_page(&url, &code).await;
    let nonce = hidden(&page.text(), "nonce");
    h.post_decision(&url, &page, "approve").await;
    h.advance(2);
    let done = h.send(agent.request(Method::GET, &location, h.now())).await;
    assert_eq!(done.status, StatusCode::OK);
    let token = done.header("aauth-access").unwrap().to_owned();
    h.advance(90);
    let refreshed = h
        .send(agent.with_token(Method::GET, "/data", h.now(), &token))
        .await;
    let successor = refreshed.header("aauth-access").unwrap().to_owned();
    let _ = h
        .send(agent.request(Method::GET, "/data", h.now() - 999))
        .await;
    h.resource
        .revoke_session(&aauth_wire::access::SessionToken::parse(&successor).unwrap())
        .await
        .unwrap();

    let log = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
    for span in [
        "aauth.verify",
        "aauth.challenge",
        "aauth.poll",
        "aauth.issue",
        "aauth.revoke",
    ] {
        assert!(log.contains(span), "no {span} span in:\n{log}");
    }
    for outcome in [
        "outcome=\"verified\"",
        "outcome=\"rejected\"",
        "code=\"invalid_signature\"",
        "outcome=\"interaction_required\"",
        "outcome=\"approved\"",
        "outcome=\"issued\"",
        "outcome=\"refreshed\"",
        "outcome=\"revoked\"",
    ] {
        assert!(
            log.contains(outcome) || log.contains(&outcome.replace('"', "")),
            "no {outcome} in:\n{log}"
        );
    }
    let bare_code: String = code.chars().filter(|c| *c != '-').collect();
    for (what, secret) in [
        ("session token", token.as_str()),
        ("refreshed token", successor.as_str()),
        ("interaction code", code.as_str()),
        ("interaction code (bare)", bare_code.as_str()),
        ("decision nonce", nonce.as_str()),
        ("password", PASSWORD),
    ] {
        assert!(!log.contains(secret), "{what} leaked into the logs");
    }
}
