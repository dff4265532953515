//! The agent against a scripted resource: a small axum app that answers each request with the
//! next reply of a script and records what it saw. Waits go through a virtual clock that
//! records every sleep, so the polling intervals (POLL-03, POLL-04) are asserted exactly and
//! the tests take no wall-clock time.
use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use aauth_agent::{
    AAuthClient, AAuthClientBuilder, AAuthError, CancellationToken, Clock, FileSessionCache,
    InteractionPrompt, SessionCache,
};
use aauth_sig::{Algorithm, SigningKey};
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};

// ---------------------------------------------------------------- virtual clock

/// Sleeps return at once and advance virtual time; every requested wait is recorded.
struct VirtualClock {
    start: SystemTime,
    elapsed: Mutex<Duration>,
    sleeps: Mutex<Vec<Duration>>,
}

impl VirtualClock {
    fn new() -> Arc<Self> {
        // Whole seconds, so an HTTP-date Retry-After converts back exactly.
        let secs = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        Arc::new(VirtualClock {
            start: SystemTime::UNIX_EPOCH + Duration::from_secs(secs),
            elapsed: Mutex::new(Duration::ZERO),
            sleeps: Mutex::new(Vec::new()),
        })
    }

    fn sleeps(&self) -> Vec<u64> {
        self.sleeps
            .lock()
            .unwrap()
            .iter()
            .map(|d| d.as_secs())
            .collect()
    }
}

impl Clock for VirtualClock {
    fn wall(&self) -> SystemTime {
        self.start + *self.elapsed.lock().unwrap()
    }

    fn monotonic(&self) -> Duration {
        *self.elapsed.lock().unwrap()
    }

    fn sleep(&self, d: Duration) -> aauth_agent::clock::Sleep {
        self.sleeps.lock().unwrap().push(d);
        *self.elapsed.lock().unwrap() += d;
        Box::pin(tokio::task::yield_now())
    }
}

// ---------------------------------------------------------------- scripted resource

#[derive(Clone)]
struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

fn reply(status: u16) -> Reply {
    Reply {
        status,
        headers: Vec::new(),
        body: String::new(),
    }
}

impl Reply {
    fn h(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push((name.to_owned(), value.into()));
        self
    }

    fn body(mut self, body: &str) -> Self {
        self.body = body.to_owned();
        self
    }

    /// 202 + interaction requirement with `code`, pending URL `/pending/1`.
    fn interaction(code: &str) -> Self {
        reply(202)
            .h(
                "aauth-requirement",
                format!(
                    r#"requirement=interaction;url="https://resource.example/i";code="{code}""#
                ),
            )
            .h("location", "/pending/1")
            .h("cache-control", "no-store")
            .body(r#"{"status":"pending"}"#)
    }

    fn pending(retry_after: Option<&str>) -> Self {
        let r = reply(202).body(r#"{"status":"pending"}"#);
        match retry_after {
            Some(v) => r.h("retry-after", v),
            None => r,
        }
    }

    fn ok_with_token(token: &str) -> Self {
        reply(200)
            .h("aauth-access", token)
            .body(r#"{"status":"authorized"}"#)
    }
}

#[derive(Clone, Debug)]
struct Seen {
    method: Method,
    path: String,
    headers: HeaderMap,
    body: Bytes,
}

#[derive(Default)]
struct Script {
    replies: Mutex<VecDeque<Reply>>,
    seen: Mutex<Vec<Seen>>,
    metadata: Mutex<Option<String>>,
    metadata_hits: AtomicUsize,
}

impl Script {
    fn push(&self, r: Reply) {
        self.replies.lock().unwrap().push_back(r);
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    fn polls(&self) -> Vec<Seen> {
        self.seen()
            .into_iter()
            .filter(|s| s.path.starts_with("/pending") && s.method == Method::GET)
            .collect()
    }
}

async fn handle(
    State(script): State<Arc<Script>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    if path == "/.well-known/aauth-resource.json" {
        script.metadata_hits.fetch_add(1, Ordering::SeqCst);
        return match script.metadata.lock().unwrap().clone() {
            Some(doc) => ([("content-type", "application/json")], doc).into_response(),
            None => StatusCode::NOT_FOUND.into_response(),
        };
    }
    script.seen.lock().unwrap().push(Seen {
        method: method.clone(),
        path: path.to_owned(),
        headers,
        body,
    });
    // Withdrawing a pending URL; a DELETE elsewhere is the application's and follows the script.
    if method == Method::DELETE && path.starts_with("/pending") {
        return StatusCode::NO_CONTENT.into_response();
    }
    let Some(r) = script.replies.lock().unwrap().pop_front() else {
        return (StatusCode::IM_A_TEAPOT, "script exhausted").into_response();
    };
    let mut resp = Response::builder().status(r.status);
    for (k, v) in &r.headers {
        resp = resp.header(k, v);
    }
    resp.body(axum::body::Body::from(r.body))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

/// Starts a scripted resource; returns its origin.
async fn resource() -> (String, Arc<Script>) {
    let script = Arc::new(Script::default());
    let app = Router::new().fallback(handle).with_state(script.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (format!("http://{addr}"), script)
}

fn key() -> SigningKey {
    SigningKey::generate(Algorithm::Ed25519).unwrap()
}

struct Harness {
    client: AAuthClient,
    clock: Arc<VirtualClock>,
    prompts: Arc<Mutex<Vec<InteractionPrompt>>>,
}

fn harness_with(configure: impl FnOnce(AAuthClientBuilder) -> AAuthClientBuilder) -> Harness {
    let clock = VirtualClock::new();
    let prompts = Arc::new(Mutex::new(Vec::new()));
    let seen = prompts.clone();
    let builder = AAuthClient::builder(key())
        .use_hwk()
        .clock(clock.clone())
        .with_interaction_handling(move |o| {
            o.on_interaction_required(move |p| {
                seen.lock().unwrap().push(p);
                async {}
            });
            o.polling_timeout(Duration::from_secs(600));
        });
    Harness {
        client: configure(builder).build().unwrap(),
        clock,
        prompts,
    }
}

fn harness() -> Harness {
    harness_with(|b| b)
}

fn covered(seen: &Seen) -> String {
    seen.headers
        .get("signature-input")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

// ---------------------------------------------------------------- polling

#[tokio::test]
async fn poll_03_retry_after_seconds_http_date_default_and_zero_floor() {
    let (origin, script) = resource().await;
    let h = harness();
    let date = httpdate::fmt_http_date(h.clock.wall() + Duration::from_secs(3 + 7));
    script.push(Reply::interaction("7KQ2-M9XD").h("retry-after", "3"));
    script.push(Reply::pending(Some(&date))); // after 3 s: 7 s from then
    script.push(Reply::pending(None)); // absent → 5 s
    script.push(Reply::pending(Some("0"))); // 0 → the 1 s floor, never a busy loop
    script.push(Reply::ok_with_token("tok-1"));
    script.push(reply(200).body("data"));
    let resp = h.client.get(format!("{origin}/data")).send().await.unwrap();
    assert_eq!(resp.text().await.unwrap(), "data");
    assert_eq!(h.clock.sleeps(), [3, 7, 5, 1]);
    assert_eq!(script.polls().len(), 4);
}

#[tokio::test]
async fn poll_04_a_429_storm_adds_five_seconds_per_429() {
    let (origin, script) = resource().await;
    let h = harness();
    script.push(Reply::interaction("7KQ2-M9XD").h("retry-after", "2"));
    for _ in 0..3 {
        script.push(reply(429).h("retry-after", "2"));
    }
    script.push(Reply::pending(Some("2")));
    script.push(Reply::ok_with_token("tok-1"));
    script.push(reply(200));
    h.client.get(format!("{origin}/data")).send().await.unwrap();
    // 2, then +5 per 429 (cumulative), and the penalty survives the next 202.
    assert_eq!(h.clock.sleeps(), [2, 7, 12, 17, 17]);
}

#[tokio::test]
async fn poll_09_503_backs_off_by_retry_after_then_doubling_and_continues() {
    let (origin, script) = resource().await;
    let h = harness();
    script.push(Reply::interaction("7KQ2-M9XD").h("retry-after", "2"));
    script.push(reply(503).h("retry-after", "9"));
    script.push(reply(503));
    script.push(Reply::pending(Some("2")));
    script.push(Reply::ok_with_token("tok-1"));
    script.push(reply(200));
    h.client.get(format!("{origin}/data")).send().await.unwrap();
    assert_eq!(h.clock.sleeps(), [2, 9, 18, 2]);
}

#[tokio::test]
async fn poll_09_terminal_poll_statuses_are_typed_errors() {
    type Check = fn(&AAuthError) -> bool;
    let cases: Vec<(Reply, Check)> = vec![
        (
            reply(403)
                .h("content-type", "application/problem+json")
                .body(r#"{"error":"denied"}"#),
            |e| matches!(e, AAuthError::Denied { error, .. } if error == "denied"),
        ),
        (
            reply(403).body(r#"{"error":"abandoned"}"#),
            |e| matches!(e, AAuthError::Denied { error, .. } if error == "abandoned"),
        ),
        (reply(408), |e| matches!(e, AAuthError::Expired)),
        (reply(410).body(r#"{"error":"invalid_code"}"#), |e| {
            matches!(e, AAuthError::Gone { .. })
        }),
        (reply(500), |e| {
            matches!(e, AAuthError::Server { status: 500 })
        }),
    ];
    for (terminal, check) in cases {
        let (origin, script) = resource().await;
        let h = harness();
        script.push(Reply::interaction("7KQ2-M9XD").h("retry-after", "1"));
        script.push(terminal.clone());
        let err = h
            .client
            .get(format!("{origin}/data"))
            .send()
            .await
            .unwrap_err();
        assert!(check(&err), "{} → {err:?}", terminal.status);
        assert_eq!(script.polls().len(), 1, "a terminal answer ends polling");
        assert!(h.client.session_token(&origin).is_none());
    }
}

#[tokio::test]
async fn poll_01_poll_02_rm_06_relative_location_polled_with_signed_bodiless_gets() {
    let (origin, script) = resource().await;
    let h = harness();
    script.push(
        reply(202)
            .h(
                "aauth-requirement",
                r#"requirement=interaction;url="https://resource.example/i";code="7KQ2-M9XD""#,
            )
            .h("location", "pending/7?x=1")
            .h("retry-after", "1"),
    );
    script.push(Reply::ok_with_token("tok-1"));
    script.push(reply(200));
    h.client
        .post(format!("{origin}/api/data"))
        .body("payload")
        .send()
        .await
        .unwrap();
    let seen = script.seen();
    assert_eq!(seen.len(), 3);
    let poll = &seen[1];
    assert_eq!(poll.method, Method::GET);
    assert_eq!(
        poll.path, "/api/pending/7?x=1",
        "resolved against the request URL"
    );
    assert!(poll.body.is_empty(), "POLL-01: the body is not re-sent");
    for name in ["signature", "signature-input", "signature-key"] {
        assert!(poll.headers.contains_key(name), "POLL-02: {name}");
    }
    assert_eq!(
        poll.headers["signature-key"], seen[0].headers["signature-key"],
        "same key as the original request"
    );
    assert!(covered(poll).contains("\"@query\""));
    // RM-16: the 202 to a POST was handled, and the replay carries the original body.
    assert_eq!(seen[2].method, Method::POST);
    assert_eq!(&seen[2].body[..], b"payload");
}

#[tokio::test]
async fn rm_16_a_202_is_handled_whatever_the_method() {
    for method in [Method::GET, Method::POST, Method::PUT, Method::DELETE] {
        let (origin, script) = resource().await;
        let h = harness();
        script.push(Reply::interaction("7KQ2-M9XD").h("retry-after", "1"));
        script.push(Reply::ok_with_token("tok-1"));
        script.push(reply(200).body("done"));
        let resp = h
            .client
            .request(method.clone(), format!("{origin}/api/thing"))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{method}: {e}"));
        assert_eq!(resp.status(), 200, "{method}");
        assert_eq!(resp.text().await.unwrap(), "done", "{method}");
        assert_eq!(
            h.prompts.lock().unwrap().len(),
            1,
            "{method}: prompted once"
        );
        let calls: Vec<(Method, String)> = script
            .seen()
            .into_iter()
            .map(|s| (s.method, s.path))
            .collect();
        assert_eq!(
            calls,
            [
                (method.clone(), "/api/thing".to_owned()),
                (Method::GET, "/pending/1".to_owned()),
                (method.clone(), "/api/thing".to_owned()),
            ],
            "{method}: the deferred loop, then the original request with the token"
        );
    }
}

#[tokio::test]
async fn cap_02_interaction_capability_is_declared_only_when_handled() {
    let (origin, script) = resource().await;
    let h = harness();
    script.push(reply(200));
    h.client.get(format!("{origin}/a")).send().await.unwrap();
    let client = AAuthClient::builder(key()).use_hwk().build().unwrap();
    script.push(reply(200));
    client.get(format!("{origin}/b")).send().await.unwrap();
    let seen = script.seen();
    assert_eq!(
        seen[0]
            .headers
            .get("aauth-capabilities")
            .map(|v| v.to_str().unwrap()),
        Some("interaction"),
        "a client that handles interaction says so"
    );
    assert!(
        !seen[1].headers.contains_key("aauth-capabilities"),
        "a client without interaction handling declares nothing"
    );
}

#[tokio::test]
async fn amb_30_cross_origin_location_is_refused_without_polling_or_prompting() {
    let (origin, script) = resource().await;
    let h = harness();
    let other = origin.replace("127.0.0.1", "localhost");
    script.push(Reply::interaction("7KQ2-M9XD").h("location", format!("{other}/pending/1")));
    // The interaction() helper already set a Location; a second one is refused too.
    let err = h
        .client
        .get(format!("{origin}/data"))
        .send()
        .await
        .unwrap_err();
    assert!(matches!(err, AAuthError::Protocol(_)), "{err:?}");

    script.push(
        reply(202)
            .h(
                "aauth-requirement",
                r#"requirement=interaction;url="https://resource.example/i";code="7KQ2-M9XD""#,
            )
            .h("location", format!("{other}/pending/1")),
    );
    let err = h
        .client
        .get(format!("{origin}/data"))
        .send()
        .await
        .unwrap_err();
    assert!(
        matches!(err, AAuthError::CrossOriginLocation(ref u) if u.contains("localhost")),
        "{err:?}"
    );
    assert!(script.polls().is_empty());
    assert!(h.prompts.lock().unwrap().is_empty());
}

#[tokio::test]
async fn poll_08_callback_fires_once_per_url_and_code_and_not_after_interacting() {
    let (origin, script) = resource().await;
    let h = harness();
    let req = |code: &str| {
        format!(r#"requirement=interaction;url="https://resource.example/i";code="{code}""#)
    };
    script.push(Reply::interaction("AAAA-AAAA").h("retry-after", "1"));
    script.push(Reply::pending(Some("1")).h("aauth-requirement", req("AAAA-AAAA")));
    script.push(Reply::pending(Some("1")).h("aauth-requirement", req("BBBB-BBBB")));
    script.push(
        reply(202)
            .h("retry-after", "1")
            .body(r#"{"status":"interacting"}"#),
    );
    script.push(Reply::pending(Some("1")).h("aauth-requirement", req("CCCC-CCCC")));
    script.push(
        reply(202)
            .h("retry-after", "1")
            .body(r#"{"status":"weird"}"#),
    );
    script.push(Reply::ok_with_token("tok-1"));
    script.push(reply(200));
    h.client.get(format!("{origin}/data")).send().await.unwrap();
    let codes: Vec<String> = h
        .prompts
        .lock()
        .unwrap()
        .iter()
        .map(|p| p.code.clone())
        .collect();
    assert_eq!(codes, ["AAAA-AAAA", "BBBB-BBBB"]);
    assert_eq!(
        script.polls().len(),
        6,
        "POLL-07: unknown status keeps polling"
    );
}

#[tokio::test]
async fn poll_05_prefer_wait_is_sent_on_polls_only_when_configured() {
    let (origin, script) = resource().await;
    let clock = VirtualClock::new();
    let client = AAuthClient::builder(key())
        .clock(clock.clone())
        .with_interaction_handling(|o| {
            o.prefer_wait(20);
        })
        .build()
        .unwrap();
    script.push(Reply::interaction("7KQ2-M9XD").h("retry-after", "1"));
    script.push(Reply::ok_with_token("tok-1"));
    script.push(reply(200));
    client.get(format!("{origin}/data")).send().await.unwrap();
    let seen = script.seen();
    assert_eq!(seen[1].headers["prefer"], "wait=20");
    assert!(!seen[0].headers.contains_key("prefer"));

    let (origin, script) = resource().await;
    let h = harness();
    script.push(Reply::interaction("7KQ2-M9XD").h("retry-after", "1"));
    script.push(Reply::ok_with_token("tok-1"));
    script.push(reply(200));
    h.client.get(format!("{origin}/data")).send().await.unwrap();
    assert!(!script.seen()[1].headers.contains_key("prefer"));
}

#[tokio::test]
async fn a_polling_timeout_of_duration_max_means_no_limit() {
    let (origin, script) = resource().await;
    let h = harness_with(|b| {
        b.with_interaction_handling(|o| {
            o.polling_timeout(Duration::MAX);
        })
    });
    // The client has been running a while: the deadline is "now + timeout", which must not
    // overflow.
    *h.clock.elapsed.lock().unwrap() = Duration::from_secs(5);
    script.push(Reply::interaction("7KQ2-M9XD").h("retry-after", "2"));
    script.push(Reply::ok_with_token("tok-1"));
    script.push(reply(200).body("data"));
    let resp = h.client.get(format!("{origin}/data")).send().await.unwrap();
    assert_eq!(resp.text().await.unwrap(), "data");
}

#[tokio::test]
async fn amb_33_polling_timeout_ends_the_wait_and_withdraws_the_pending_url() {
    let (origin, script) = resource().await;
    let h = harness_with(|b| {
        b.with_interaction_handling(|o| {
            o.polling_timeout(Duration::from_secs(25));
        })
    });
    script.push(Reply::interaction("7KQ2-M9XD").h("retry-after", "10"));
    script.push(Reply::pending(Some("10")));
    script.push(Reply::pending(Some("10")));
    let err = h
        .client
        .get(format!("{origin}/data"))
        .send()
        .await
        .unwrap_err();
    assert!(matches!(err, AAuthError::Timeout(d) if d == Duration::from_secs(25)));
    assert_eq!(
        h.clock.sleeps(),
        [10, 10, 5],
        "never sleeps past the deadline"
    );
    let last = script.seen().pop().unwrap();
    assert_eq!(last.method, Method::DELETE, "POLL-11: withdrawn");
    assert_eq!(last.path, "/pending/1");
}

#[tokio::test]
async fn poll_11_cancellation_ends_the_wait_and_withdraws() {
    let (origin, script) = resource().await;
    let token = CancellationToken::new();
    let trigger = token.clone();
    // The real clock: the cancellation must interrupt a 60 s sleep.
    let client = AAuthClient::builder(key())
        .with_interaction_handling(move |o| {
            o.on_interaction_required(move |_| {
                trigger.cancel();
                async {}
            });
        })
        .build()
        .unwrap();
    script.push(Reply::interaction("7KQ2-M9XD").h("retry-after", "60"));
    let err = client
        .get(format!("{origin}/data"))
        .cancel_on(token)
        .send()
        .await
        .unwrap_err();
    assert!(matches!(err, AAuthError::Cancelled), "{err:?}");
    assert!(script.polls().is_empty());
    assert_eq!(script.seen().last().unwrap().method, Method::DELETE);
}

// ---------------------------------------------------------------- session tokens

/// Runs one approval so the client holds `token` for `origin`.
async fn establish(h: &Harness, origin: &str, script: &Script, token: &str) {
    script.push(Reply::interaction("7KQ2-M9XD").h("retry-after", "1"));
    script.push(Reply::ok_with_token(token));
    script.push(reply(200));
    h.client.get(format!("{origin}/data")).send().await.unwrap();
    assert_eq!(h.client.session_token(origin).unwrap().expose(), token);
}

fn authorization(seen: &Seen) -> Option<String> {
    seen.headers
        .get("authorization")
        .map(|v| v.to_str().unwrap().to_owned())
}

#[tokio::test]
async fn sess_04_sess_05_the_token_rides_on_later_requests_and_is_covered() {
    let (origin, script) = resource().await;
    let h = harness();
    establish(&h, &origin, &script, "tok-1").await;
    let replay = script.seen().pop().unwrap();
    assert_eq!(authorization(&replay).as_deref(), Some("AAuth tok-1"));
    assert!(covered(&replay).contains("\"authorization\""));
    for name in ["signature", "signature-input", "signature-key"] {
        assert!(replay.headers.contains_key(name));
    }
}

#[tokio::test]
async fn sess_02_the_token_is_opaque_and_replayed_byte_for_byte() {
    // Every token68 character class, padding, a JWT-looking shape and a long value: none is
    // interpreted, trimmed, decoded or re-encoded.
    let long = "x".repeat(2048);
    for token in [
        "Ab0-._~+/xyz==",
        "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.",
        "a=",
        long.as_str(),
    ] {
        let (origin, script) = resource().await;
        let h = harness();
        establish(&h, &origin, &script, token).await;
        let replay = script.seen().pop().unwrap();
        assert_eq!(
            authorization(&replay).as_deref(),
            Some(format!("AAuth {token}").as_str())
        );
    }
}

#[tokio::test]
async fn sess_09_a_rotated_token_is_used_from_the_next_request() {
    let (origin, script) = resource().await;
    let h = harness();
    establish(&h, &origin, &script, "tok-1").await;
    script.push(reply(200).h("aauth-access", "tok-2"));
    script.push(reply(200));
    h.client.get(format!("{origin}/data")).send().await.unwrap();
    h.client.get(format!("{origin}/data")).send().await.unwrap();
    let seen = script.seen();
    assert_eq!(
        authorization(&seen[seen.len() - 2]).as_deref(),
        Some("AAuth tok-1")
    );
    assert_eq!(
        authorization(&seen[seen.len() - 1]).as_deref(),
        Some("AAuth tok-2")
    );
}

#[tokio::test]
async fn sess_13_duplicate_aauth_access_is_refused_and_the_old_token_kept() {
    let (origin, script) = resource().await;
    let h = harness();
    establish(&h, &origin, &script, "tok-1").await;
    script.push(
        reply(200)
            .h("aauth-access", "tok-2")
            .h("aauth-access", "tok-3"),
    );
    script.push(reply(200).h("aauth-access", "a b"));
    script.push(reply(200));
    for _ in 0..3 {
        h.client.get(format!("{origin}/data")).send().await.unwrap();
    }
    assert_eq!(h.client.session_token(&origin).unwrap().expose(), "tok-1");
    let last = script.seen().pop().unwrap();
    assert_eq!(authorization(&last).as_deref(), Some("AAuth tok-1"));
}

#[tokio::test]
async fn sess_16_a_refused_token_is_dropped_and_the_resource_rechallenges() {
    let (origin, script) = resource().await;
    let h = harness();
    establish(&h, &origin, &script, "tok-1").await;
    let before = script.seen().len();
    script.push(reply(401)); // the token is no longer honoured
    script.push(Reply::interaction("NEWC-0DE1").h("retry-after", "1"));
    script.push(Reply::ok_with_token("tok-2"));
    script.push(reply(200).body("fresh"));
    let resp = h.client.get(format!("{origin}/data")).send().await.unwrap();
    assert_eq!(resp.text().await.unwrap(), "fresh");
    let seen = script.seen();
    assert_eq!(authorization(&seen[before]).as_deref(), Some("AAuth tok-1"));
    assert_eq!(
        authorization(&seen[before + 1]),
        None,
        "re-sent without the dropped token"
    );
    assert_eq!(h.client.session_token(&origin).unwrap().expose(), "tok-2");
}

#[tokio::test]
async fn sess_14_tokens_are_never_sent_to_another_origin() {
    let (origin, script) = resource().await;
    let (other, other_script) = resource().await;
    let h = harness();
    establish(&h, &origin, &script, "tok-1").await;
    other_script.push(reply(200));
    h.client.get(format!("{other}/data")).send().await.unwrap();
    assert_eq!(authorization(&other_script.seen()[0]), None);
}

#[test]
fn a_session_file_others_can_read_or_a_directory_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let path = dir.path().join("sessions.json");
        std::fs::write(&path, r#"{"version":1,"sessions":[]}"#).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = FileSessionCache::open(&path).unwrap_err();
        assert!(
            matches!(err, aauth_agent::SessionCacheError::TooOpen { .. }),
            "{err}"
        );
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        FileSessionCache::open(&path).expect("a private file opens");
    }
    let err = FileSessionCache::open(dir.path()).unwrap_err();
    assert!(err.to_string().contains("directory"), "{err}");
}

#[tokio::test]
async fn sess_14_a_file_cache_keeps_sessions_across_clients_with_mode_0600() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sessions.json");
    let (origin, script) = resource().await;
    let signing = key();
    let jwk = signing.to_private_jwk();
    let first = AAuthClient::builder(signing)
        .session_cache(Arc::new(FileSessionCache::open(&path).unwrap()))
        .build()
        .unwrap();
    script.push(reply(200).h("aauth-access", "tok-file"));
    first.get(format!("{origin}/data")).send().await.unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    // A new process with the same key picks the session up; another key does not. The token
    // is kept under the key this origin sees, derived from the master key (SK-25).
    let again = FileSessionCache::open(&path).unwrap();
    let same = SigningKey::from_jwk(&jwk).unwrap();
    let seen_key = same.derive_for_origin(&origin).unwrap().thumbprint();
    assert_eq!(first.thumbprint_for(&origin), seen_key);
    assert_eq!(
        again.get(&origin, &seen_key).map(|t| t.expose().to_owned()),
        Some("tok-file".into())
    );
    assert!(again.get(&origin, &same.thumbprint()).is_none());
    assert!(again.get(&origin, &key().thumbprint()).is_none());
    let second = AAuthClient::builder(same)
        .session_cache(Arc::new(again))
        .build()
        .unwrap();
    script.push(reply(200));
    second.get(format!("{origin}/data")).send().await.unwrap();
    assert_eq!(
        authorization(&script.seen()[1]).as_deref(),
        Some("AAuth tok-file")
    );
}

// ---------------------------------------------------------------- components and metadata

#[tokio::test]
async fn sig_12_invalid_input_resigns_once_and_is_remembered_per_origin() {
    let (origin, script) = resource().await;
    let h = harness();
    script.push(reply(401).h(
        "signature-error",
        r#"error=invalid_input, required_input=("content-type")"#,
    ));
    script.push(reply(200).body("first"));
    script.push(reply(200).body("second"));
    let send = || {
        h.client
            .post(format!("{origin}/data"))
            .header("content-type", "text/plain")
            .body("x")
            .send()
    };
    assert_eq!(send().await.unwrap().text().await.unwrap(), "first");
    assert_eq!(send().await.unwrap().text().await.unwrap(), "second");
    let seen = script.seen();
    assert_eq!(
        seen.len(),
        3,
        "one re-sign, then signed right from the start"
    );
    assert!(!covered(&seen[0]).contains("content-type"));
    assert!(covered(&seen[1]).contains("\"content-type\""));
    assert!(covered(&seen[2]).contains("\"content-type\""));
}

/// ERR-03: the `Signature-Error` header is the machine-readable signal; a problem body that
/// says something else does not change what the agent does.
#[tokio::test]
async fn err_03_the_header_wins_over_a_contradicting_body() {
    let (origin, script) = resource().await;
    let h = harness();
    script.push(
        reply(401)
            .h(
                "signature-error",
                r#"error=invalid_input, required_input=("content-type")"#,
            )
            .h("content-type", "application/problem+json")
            .body(r#"{"type":"urn:ietf:params:sig-error:invalid_signature","error":"invalid_signature"}"#),
    );
    script.push(reply(200).body("done"));
    let res = h
        .client
        .post(format!("{origin}/data"))
        .header("content-type", "text/plain")
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(res.text().await.unwrap(), "done");
    let seen = script.seen();
    assert_eq!(seen.len(), 2, "re-signed as invalid_input asks");
    assert!(covered(&seen[1]).contains("\"content-type\""));
}

#[tokio::test]
async fn sig_12_a_second_invalid_input_is_not_retried_again() {
    let (origin, script) = resource().await;
    let h = harness();
    let e = r#"error=invalid_input, required_input=("content-type")"#;
    script.push(reply(401).h("signature-error", e));
    script.push(reply(401).h("signature-error", e));
    let err = h
        .client
        .post(format!("{origin}/data"))
        .header("content-type", "text/plain")
        .body("x")
        .send()
        .await
        .unwrap_err();
    assert!(matches!(err, AAuthError::Signature { .. }), "{err:?}");
    assert_eq!(script.seen().len(), 2);
}

#[tokio::test]
async fn sig_11_metadata_components_are_signed_and_fetched_once_per_origin() {
    let (origin, script) = resource().await;
    *script.metadata.lock().unwrap() = Some(format!(
        r#"{{"issuer":"{origin}","access_mode":"session-token","additional_signature_components":["content-type"]}}"#
    ));
    let h = harness();
    script.push(reply(200));
    script.push(reply(200));
    for _ in 0..2 {
        h.client
            .post(format!("{origin}/data"))
            .header("content-type", "application/json")
            .body("{}")
            .send()
            .await
            .unwrap();
    }
    assert_eq!(script.metadata_hits.load(Ordering::SeqCst), 1);
    assert!(covered(&script.seen()[0]).contains("\"content-type\""));
    let md = h.client.resource_metadata(&origin).unwrap();
    assert_eq!(md.access_mode.as_deref(), Some("session-token"));
}

#[tokio::test]
async fn md_01_missing_or_foreign_metadata_never_fails_a_request() {
    let (origin, script) = resource().await;
    let h = harness();
    script.push(reply(200).body("ok"));
    let resp = h.client.get(format!("{origin}/data")).send().await.unwrap();
    assert_eq!(resp.text().await.unwrap(), "ok");
    assert!(h.client.resource_metadata(&origin).is_none());

    let (origin, script) = resource().await;
    *script.metadata.lock().unwrap() = Some(
        r#"{"issuer":"https://elsewhere.example","additional_signature_components":["content-type"]}"#
            .into(),
    );
    script.push(reply(200));
    h.client
        .post(format!("{origin}/data"))
        .header("content-type", "text/plain")
        .send()
        .await
        .unwrap();
    assert!(h.client.resource_metadata(&origin).is_none(), "MD-02");
    assert!(!covered(&script.seen()[0]).contains("content-type"));
}

// ---------------------------------------------------------------- requirements and middleware

#[tokio::test]
async fn req_06_req_08_token_challenges_on_401_are_typed_outcomes() {
    let (origin, script) = resource().await;
    let h = harness();
    script.push(reply(401).h("aauth-requirement", "requirement=agent-token"));
    script.push(reply(401).h(
        "aauth-requirement",
        r#"requirement=auth-token;resource-token="eyJhbGciOi.x.y""#,
    ));
    let a = h
        .client
        .get(format!("{origin}/data"))
        .send()
        .await
        .unwrap_err();
    assert!(matches!(a, AAuthError::Requirement(ref r) if r.name() == "agent-token"));
    let b = h
        .client
        .get(format!("{origin}/data"))
        .send()
        .await
        .unwrap_err();
    assert!(matches!(b, AAuthError::Requirement(ref r) if r.name() == "auth-token"));
}

#[tokio::test]
async fn req_10_approval_polls_without_prompting() {
    let (origin, script) = resource().await;
    let h = harness();
    script.push(
        reply(202)
            .h("aauth-requirement", "requirement=approval")
            .h("location", "/pending/1")
            .h("retry-after", "2"),
    );
    script.push(Reply::ok_with_token("tok-1"));
    script.push(reply(200));
    h.client.get(format!("{origin}/data")).send().await.unwrap();
    assert!(h.prompts.lock().unwrap().is_empty());
    assert_eq!(h.clock.sleeps(), [2]);
}

#[tokio::test]
async fn poll_10_unknown_requirement_surfaces_as_an_error() {
    let (origin, script) = resource().await;
    let h = harness();
    script.push(
        reply(202)
            .h("aauth-requirement", "requirement=teleport")
            .h("location", "/pending/1"),
    );
    let err = h
        .client
        .get(format!("{origin}/data"))
        .send()
        .await
        .unwrap_err();
    assert!(matches!(err, AAuthError::UnsupportedRequirement(ref r) if r == "teleport"));
}

#[tokio::test]
async fn middleware_runs_the_same_flow_inside_reqwest_middleware() {
    let (origin, script) = resource().await;
    let h = harness();
    script.push(Reply::interaction("7KQ2-M9XD").h("retry-after", "4"));
    script.push(Reply::ok_with_token("tok-mw"));
    script.push(reply(200).body("via middleware"));
    let http = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(h.client.middleware())
        .build();
    let resp = http.get(format!("{origin}/data")).send().await.unwrap();
    assert_eq!(resp.text().await.unwrap(), "via middleware");
    assert_eq!(h.clock.sleeps(), [4]);
    assert_eq!(h.prompts.lock().unwrap().len(), 1);
    assert_eq!(h.client.session_token(&origin).unwrap().expose(), "tok-mw");
    let seen = script.seen();
    assert!(seen[0].headers.contains_key("signature"));
    assert_eq!(authorization(&seen[2]).as_deref(), Some("AAuth tok-mw"));
}

// ---------------------------------------------------------------- SK-25: a key per origin

/// The thumbprint a resource sees, from the `hwk` key of a recorded request whose signature
/// verifies.
fn verified_thumbprint(origin: &str, seen: &Seen) -> String {
    use aauth_sig::{RequestTarget, Scheme, Verifier, VerifierConfig};
    let authority = origin.trim_start_matches("http://");
    let cfg = VerifierConfig::new(authority)
        .with_scheme("http")
        .with_accepted_schemes(vec![Scheme::Hwk]);
    let (path, query) = match seen.path.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (seen.path.as_str(), None),
    };
    let target = RequestTarget {
        method: &seen.method,
        scheme: "http",
        authority,
        path,
        query,
        headers: &seen.headers,
    };
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    Verifier::new(cfg)
        .verify(&target, now)
        .unwrap()
        .thumbprint
        .as_str()
        .to_owned()
}

async fn two_requests(client: &AAuthClient, origin: &str, script: &Script) -> [String; 2] {
    for _ in 0..2 {
        script.push(reply(200));
        client.get(format!("{origin}/data")).send().await.unwrap();
    }
    let seen = script.seen();
    let n = seen.len();
    [
        verified_thumbprint(origin, &seen[n - 2]),
        verified_thumbprint(origin, &seen[n - 1]),
    ]
}

#[tokio::test]
async fn sk_25_hwk_agent_uses_a_distinct_key_per_origin() {
    let (a, a_script) = resource().await;
    let (b, b_script) = resource().await;
    let master = key();
    let jwk = master.to_private_jwk();
    let client = AAuthClient::builder(master.clone())
        .use_hwk()
        .build()
        .unwrap();
    let [a1, a2] = two_requests(&client, &a, &a_script).await;
    let [b1, b2] = two_requests(&client, &b, &b_script).await;
    // One key per origin, kept across requests; never the master key; never shared.
    assert_eq!(a1, a2);
    assert_eq!(b1, b2);
    assert_ne!(a1, b1, "two resources must not see the same key");
    assert_ne!(a1, master.thumbprint().as_str());
    assert_ne!(b1, master.thumbprint().as_str());
    assert_eq!(client.thumbprint(), master.thumbprint());
    assert_eq!(client.thumbprint_for(&a).as_str(), a1);
    assert_eq!(client.thumbprint_for(&format!("{b}/any/path")).as_str(), b1);
    // Ed25519: a client built later from the same master key (another process) shows each
    // origin the same key again.
    let again = AAuthClient::builder(SigningKey::from_jwk(&jwk).unwrap())
        .build()
        .unwrap();
    let [a3, _] = two_requests(&again, &a, &a_script).await;
    assert_eq!(a3, a1);
    let [b3, _] = two_requests(&again, &b, &b_script).await;
    assert_eq!(b3, b1);
}

#[tokio::test]
async fn sk_25_the_session_token_and_polls_use_the_origin_key() {
    let (origin, script) = resource().await;
    let h = harness();
    establish(&h, &origin, &script, "tok-25").await;
    let seen = script.seen();
    let first = verified_thumbprint(&origin, &seen[0]);
    for s in &seen {
        assert_eq!(
            verified_thumbprint(&origin, s),
            first,
            "{} {}",
            s.method,
            s.path
        );
    }
    assert_eq!(h.client.thumbprint_for(&origin).as_str(), first);
    assert_eq!(h.client.session_token(&origin).unwrap().expose(), "tok-25");
}

#[tokio::test]
async fn sk_25_one_key_for_all_origins_is_an_explicit_opt_out() {
    let (a, a_script) = resource().await;
    let (b, b_script) = resource().await;
    let master = key();
    let client = AAuthClient::builder(master.clone())
        .use_hwk()
        .one_key_for_all_origins()
        .build()
        .unwrap();
    let [a1, _] = two_requests(&client, &a, &a_script).await;
    let [b1, _] = two_requests(&client, &b, &b_script).await;
    assert_eq!(a1, master.thumbprint().as_str());
    assert_eq!(b1, master.thumbprint().as_str());
    assert_eq!(client.thumbprint_for(&a), client.thumbprint());
    let off = AAuthClient::builder(master.clone())
        .per_origin_keys(false)
        .build()
        .unwrap();
    assert_eq!(off.thumbprint_for(&b), master.thumbprint());
}

#[tokio::test]
async fn sk_25_es256_keys_are_per_origin_for_the_life_of_the_client() {
    let (a, a_script) = resource().await;
    let (b, b_script) = resource().await;
    let master = SigningKey::generate(Algorithm::Es256).unwrap();
    let client = AAuthClient::builder(master.clone()).build().unwrap();
    let [a1, a2] = two_requests(&client, &a, &a_script).await;
    let [b1, b2] = two_requests(&client, &b, &b_script).await;
    assert_eq!(a1, a2);
    assert_eq!(b1, b2);
    assert_ne!(a1, b1);
    assert_ne!(a1, master.thumbprint().as_str());
    assert_eq!(client.thumbprint_for(&a).as_str(), a1);
}

#[tokio::test]
async fn sk_25_jwt_mode_is_not_pseudonymous_and_keeps_one_key() {
    let (a, a_script) = resource().await;
    let (b, b_script) = resource().await;
    // Shape only ({"typ":"aa-agent+jwt","alg":"EdDSA"}.{"sub":"agent"}.sig): the scripted
    // resource does not verify it.
    let token = aauth_sig::AgentToken::new(
        "eyJ0eXAiOiJhYS1hZ2VudCtqd3QiLCJhbGciOiJFZERTQSJ9.eyJzdWIiOiJhZ2VudCJ9.c2ln",
    )
    .unwrap();
    let master = key();
    let client = AAuthClient::builder(master.clone())
        .use_agent_token(token)
        .build()
        .unwrap();
    for (origin, script) in [(&a, &a_script), (&b, &b_script)] {
        script.push(reply(200));
        client.get(format!("{origin}/data")).send().await.unwrap();
        assert_eq!(client.thumbprint_for(origin), master.thumbprint());
    }
    let key_header = |s: &Script| s.seen()[0].headers["signature-key"].clone();
    assert_eq!(key_header(&a_script), key_header(&b_script));
    assert!(key_header(&a_script).to_str().unwrap().contains("jwt"));
}

#[tokio::test]
async fn sig_35_the_agent_offers_tls_1_2_or_later_only() {
    let catcher = aauth_sig::testing::ClientHelloCatcher::start().unwrap();
    let client = AAuthClient::builder(key()).build().unwrap();
    let url = format!("https://{}/data", catcher.addr());
    assert!(
        client.get(&url).send().await.is_err(),
        "the catcher hangs up"
    );
    catcher.assert_only_tls_1_2_or_later();
}
