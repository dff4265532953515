//! The agent's side of the deferred-response state machine, free of I/O so that every rule is
//! unit-testable: each response is classified into the next step, and the polling interval is
//! computed by [`Backoff`] rather than inline in the loop.
use std::time::{Duration, SystemTime};

use aauth_wire::access::{SessionToken, session_token_from_response};
use aauth_wire::headers;
use aauth_wire::polling::PendingStatus;
use aauth_wire::requirement::{AAuthRequirement, Requirement};
use aauth_wire::signature_error::SignatureErrorField;
use http::{HeaderMap, StatusCode};
use url::Url;

use crate::AAuthError;

/// Wait between polls when `Retry-After` is absent (POLL-03).
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_secs(5);
/// Never poll faster than this, whatever the server says: `Retry-After: 0` would otherwise be a
/// busy loop against a resource that keeps answering `0` (AMB-12).
pub const MIN_POLL_INTERVAL: Duration = Duration::from_secs(1);
/// Added to the interval on each `429` (POLL-04).
pub const SLOW_DOWN_STEP: Duration = Duration::from_secs(5);
/// Ceiling for the `503` back-off when the resource gives no `Retry-After`.
pub const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// What the person has to do: open `url` and confirm `code`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct InteractionPrompt {
    pub url: String,
    pub code: String,
}

impl InteractionPrompt {
    /// `{url}?code={code}` (RM-20). Crockford symbols and `-` need no escaping.
    pub fn approval_url(&self) -> String {
        format!("{}?code={}", self.url, self.code)
    }
}

/// A requirement this agent parses but whose flow it does not implement (yet). Surfaced as
/// [`AAuthError::Requirement`] so a caller can act on it instead of getting an opaque failure.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum UnhandledRequirement {
    /// `agent-token` (REQ-06): the resource wants an agent token (`scheme=jwt`).
    AgentToken,
    /// `person-token` (REQ-07): a person token from a person server.
    PersonToken,
    /// `auth-token` (REQ-08): exchange the resource token at a person server. `status` is the
    /// status it came with (401, 402 or 202).
    AuthToken { resource_token: String, status: u16 },
    /// `clarification` (REQ-11): a question to answer at the pending URL.
    Clarification {
        question: Option<String>,
        timeout: Option<u64>,
        options: Vec<String>,
        location: Option<Url>,
    },
    /// `claims` (REQ-12): identity claims to POST to the pending URL.
    Claims {
        required_claims: Vec<String>,
        location: Option<Url>,
    },
}

impl UnhandledRequirement {
    /// The `requirement` Token it came as.
    pub fn name(&self) -> &'static str {
        match self {
            UnhandledRequirement::AgentToken => "agent-token",
            UnhandledRequirement::PersonToken => "person-token",
            UnhandledRequirement::AuthToken { .. } => "auth-token",
            UnhandledRequirement::Clarification { .. } => "clarification",
            UnhandledRequirement::Claims { .. } => "claims",
        }
    }
}

/// What to do after the first response to a request.
#[derive(Debug)]
pub enum Step {
    /// Hand the response to the caller.
    Done,
    /// Poll `location`; first show `prompt` to the person when there is one (`interaction`), or
    /// just wait (`approval`, REQ-10).
    Poll {
        prompt: Option<InteractionPrompt>,
        location: Url,
        after: Duration,
    },
}

/// What to do after a poll.
#[derive(Debug)]
pub enum PollStep {
    /// Approved: `token` is the session token when the resource issued one.
    Approved {
        token: Option<SessionToken>,
    },
    /// Still waiting; `interacting` once the person reached the page (POLL-08). `prompt` is set
    /// when the poll repeated an `interaction` requirement (POLL-13).
    Wait {
        after: Duration,
        interacting: bool,
        prompt: Option<InteractionPrompt>,
    },
    /// Polling faster than allowed: add 5 s (POLL-04).
    SlowDown,
    /// Temporarily unavailable: back off for `after` (or, without `Retry-After`, by doubling),
    /// then poll again (POLL-09).
    BackOff {
        after: Option<Duration>,
    },
    Fail(AAuthError),
}

/// The polling interval: the resource's `Retry-After` plus 5 s per `429` so far (POLL-03,
/// POLL-04), and a doubling back-off for `503`s without `Retry-After`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Backoff {
    base: Duration,
    slow_down: Duration,
    unavailable: Option<Duration>,
}

impl Backoff {
    /// Starts from the first `202`'s `Retry-After`.
    pub fn new(first: Duration) -> Self {
        Backoff {
            base: first,
            slow_down: Duration::ZERO,
            unavailable: None,
        }
    }

    /// The wait before the next poll.
    pub fn next_wait(&self) -> Duration {
        self.unavailable.unwrap_or(self.base) + self.slow_down
    }

    /// Applies a poll's outcome; `Approved`/`Fail` leave it unchanged.
    pub fn observe(&mut self, step: &PollStep) {
        match step {
            PollStep::Wait { after, .. } => {
                self.base = *after;
                self.unavailable = None;
            }
            // Linear and cumulative: never reset while polling this URL (POLL-04).
            PollStep::SlowDown => self.slow_down += SLOW_DOWN_STEP,
            PollStep::BackOff { after: Some(a) } => self.unavailable = Some(*a),
            PollStep::BackOff { after: None } => {
                let prev = self.unavailable.unwrap_or(self.base);
                self.unavailable = Some((prev * 2).clamp(MIN_POLL_INTERVAL, MAX_BACKOFF));
            }
            PollStep::Approved { .. } | PollStep::Fail(_) => {}
        }
    }
}

/// `Retry-After` as delta-seconds or HTTP-date, with the default and the floor applied.
pub fn retry_after(headers: &HeaderMap, now: SystemTime) -> Duration {
    explicit_retry_after(headers, now)
        .unwrap_or(DEFAULT_POLL_INTERVAL)
        .max(MIN_POLL_INTERVAL)
}

/// `Retry-After` only when present and well-formed (floored); `None` otherwise.
fn explicit_retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    aauth_wire::retry_after::from_headers(headers, now)
        .ok()
        .flatten()
        .map(|d| d.max(MIN_POLL_INTERVAL))
}

/// Resolves `Location` against the request URL and refuses another origin (RM-10, AMB-30).
pub fn resolve_location(request_url: &Url, headers: &HeaderMap) -> Result<Url, AAuthError> {
    let mut values = headers.get_all(http::header::LOCATION).iter();
    let raw = values
        .next()
        .ok_or_else(|| AAuthError::Protocol("202 without Location".into()))?;
    if values.next().is_some() {
        return Err(AAuthError::Protocol("several Location headers".into()));
    }
    let raw = raw
        .to_str()
        .map_err(|_| AAuthError::Protocol("Location is not ASCII".into()))?;
    let url = request_url
        .join(raw)
        .map_err(|_| AAuthError::Protocol("Location is not a URI reference".into()))?;
    if url.origin() != request_url.origin() {
        return Err(AAuthError::CrossOriginLocation(url.to_string()));
    }
    Ok(url)
}

/// The `Signature-Error` of a `401`, if it has one.
pub fn signature_error(status: StatusCode, headers: &HeaderMap) -> Option<AAuthError> {
    if status != StatusCode::UNAUTHORIZED {
        return None;
    }
    let v = headers.get(headers::SIGNATURE_ERROR)?.to_str().ok()?;
    let field = SignatureErrorField::parse(v).ok()?;
    let raw = |name| {
        let joined: Vec<&str> = headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        (!joined.is_empty()).then(|| joined.join(", "))
    };
    Some(AAuthError::Signature {
        code: field.code,
        required_input: field.required_input,
        detail: None,
        accept_schemes: raw(headers::ACCEPT_SIGNATURE_SCHEME),
        accept_algs: raw(headers::ACCEPT_SIGNATURE_ALG),
    })
}

/// Whether `url`'s host is `localhost` or a loopback address: the only hosts plain `http` is
/// used with (the development setting).
pub fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// Reads the members REQ-11 and REQ-12 put in a 202 body.
fn body_requirement(
    requirement: &Requirement,
    body: &[u8],
    location: Option<Url>,
) -> Option<UnhandledRequirement> {
    let v: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
    let strings = |key: &str| -> Vec<String> {
        v.get(key)
            .and_then(|a| a.as_array())
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    match requirement {
        Requirement::Clarification => Some(UnhandledRequirement::Clarification {
            question: v
                .get("clarification")
                .and_then(|c| c.as_str())
                .map(str::to_owned),
            timeout: v.get("timeout").and_then(|t| t.as_u64()),
            options: strings("options"),
            location,
        }),
        Requirement::Claims => Some(UnhandledRequirement::Claims {
            required_claims: strings("required_claims"),
            location,
        }),
        _ => None,
    }
}

/// Maps a requirement the agent does not act on to its typed error (REQ-04, REQ-06…REQ-12).
fn unhandled(
    requirement: Requirement,
    status: StatusCode,
    body: &[u8],
    location: Option<Url>,
) -> AAuthError {
    let typed = match requirement {
        Requirement::AgentToken => UnhandledRequirement::AgentToken,
        Requirement::PersonToken => UnhandledRequirement::PersonToken,
        Requirement::AuthToken { resource_token } => UnhandledRequirement::AuthToken {
            resource_token,
            status: status.as_u16(),
        },
        Requirement::Unknown(name) => return AAuthError::UnsupportedRequirement(name),
        ref other => match body_requirement(other, body, location) {
            Some(t) => t,
            None => return AAuthError::UnsupportedRequirement(other.as_str().to_owned()),
        },
    };
    AAuthError::Requirement(Box::new(typed))
}

/// An interaction requirement is shown to a person, who is asked to open the URL: only an
/// `https` URL without query or fragment (RM-04) — or plain `http` on a loopback host, the
/// development setting — and a code of Crockford symbols and hyphens (IC-02) are passed on.
/// Anything else (another scheme such as `javascript:`, control characters) is refused rather
/// than displayed.
pub fn checked_prompt(url: String, code: String) -> Result<InteractionPrompt, AAuthError> {
    let bad = |why: &str| AAuthError::Protocol(format!("interaction requirement: {why}"));
    let parsed = Url::parse(&url).map_err(|_| bad("url is not an absolute URL"))?;
    let loopback = is_loopback(&parsed);
    match parsed.scheme() {
        "https" => {}
        "http" if loopback => {}
        _ => return Err(bad("url must be https")),
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(bad("url must not have a query or fragment"));
    }
    let symbols_ok = !code.is_empty()
        && code.len() <= 64
        && code.bytes().all(|b| b == b'-' || b.is_ascii_alphanumeric());
    if !symbols_ok {
        return Err(bad("code is not made of letters, digits and hyphens"));
    }
    Ok(InteractionPrompt { url, code })
}

/// Classifies the response to an ordinary request (RM-16: whatever its method). `body` is the
/// response body when the caller read it (only needed for `clarification` and `claims`).
pub fn classify_initial(
    request_url: &Url,
    status: StatusCode,
    headers: &HeaderMap,
    body: &[u8],
    now: SystemTime,
) -> Result<Step, AAuthError> {
    // REQ-02: the field may ride on 401, 402 and 202; anything else is not a challenge.
    if !matches!(status.as_u16(), 202 | 401 | 402) {
        return Ok(Step::Done);
    }
    let requirement = match AAuthRequirement::from_headers(headers) {
        Ok(Some(r)) => r.requirement,
        // A 202/401/402 that is not AAuth's (REQ-03: e.g. a Bearer or Payment challenge) is
        // the caller's business.
        Ok(None) => return Ok(Step::Done),
        Err(e) => return Err(AAuthError::Protocol(e.to_string())),
    };
    if status != StatusCode::ACCEPTED {
        return Err(unhandled(requirement, status, body, None));
    }
    match requirement {
        Requirement::Interaction { url, code } => Ok(Step::Poll {
            prompt: Some(checked_prompt(url, code)?),
            location: resolve_location(request_url, headers)?,
            after: retry_after(headers, now),
        }),
        Requirement::Approval => Ok(Step::Poll {
            prompt: None,
            location: resolve_location(request_url, headers)?,
            after: retry_after(headers, now),
        }),
        other => {
            let location = resolve_location(request_url, headers).ok();
            Err(unhandled(other, status, body, location))
        }
    }
}

/// Whether a response to an ordinary request carries an AAuth requirement whose body the
/// classifier may need; lets the client avoid reading bodies it hands to the caller.
pub fn wants_body(status: StatusCode, headers: &HeaderMap) -> bool {
    status == StatusCode::ACCEPTED && headers.contains_key(headers::AAUTH_REQUIREMENT)
}

/// Classifies a poll's response per the polling table (POLL-09).
pub fn classify_poll(
    pending_url: &Url,
    status: StatusCode,
    headers: &HeaderMap,
    body: &[u8],
    now: SystemTime,
) -> PollStep {
    let problem_error = || {
        serde_json::from_slice::<serde_json::Value>(body)
            .ok()
            .and_then(|v| {
                let e = v.get("error")?.as_str()?.to_owned();
                let d = v.get("detail").and_then(|d| d.as_str()).map(str::to_owned);
                Some((e, d))
            })
    };
    match status.as_u16() {
        200 => match session_token_from_response(headers) {
            Ok(token) => PollStep::Approved { token },
            Err(e) => PollStep::Fail(AAuthError::Protocol(e.to_string())),
        },
        202 => {
            let interacting = serde_json::from_slice::<aauth_wire::polling::PendingBody>(body)
                .map(|b| b.status == PendingStatus::Interacting)
                .unwrap_or(false);
            // POLL-13: a poll may repeat the requirement; a new code replaces the old one, and
            // a requirement we cannot satisfy ends the wait.
            let prompt = match AAuthRequirement::from_headers(headers) {
                Ok(Some(AAuthRequirement {
                    requirement: Requirement::Interaction { url, code },
                    ..
                })) => match checked_prompt(url, code) {
                    Ok(p) => Some(p),
                    Err(e) => return PollStep::Fail(e),
                },
                Ok(Some(AAuthRequirement {
                    requirement: Requirement::Approval,
                    ..
                }))
                | Ok(None) => None,
                Ok(Some(r)) => {
                    return PollStep::Fail(unhandled(
                        r.requirement,
                        status,
                        body,
                        Some(pending_url.clone()),
                    ));
                }
                Err(e) => {
                    return PollStep::Fail(AAuthError::Protocol(e.to_string()));
                }
            };
            PollStep::Wait {
                after: retry_after(headers, now),
                interacting,
                prompt,
            }
        }
        401 => PollStep::Fail(signature_error(status, headers).unwrap_or_else(|| {
            AAuthError::Protocol("401 without Signature-Error on the pending URL".into())
        })),
        403 => {
            let (error, detail) = problem_error().unwrap_or(("denied".into(), None));
            PollStep::Fail(AAuthError::Denied { error, detail })
        }
        408 => PollStep::Fail(AAuthError::Expired),
        410 => PollStep::Fail(AAuthError::Gone {
            error: problem_error().map(|(e, _)| e),
        }),
        429 => PollStep::SlowDown,
        503 => PollStep::BackOff {
            after: explicit_retry_after(headers, now),
        },
        s if s >= 500 => PollStep::Fail(AAuthError::Server { status: s }),
        s => PollStep::Fail(AAuthError::Protocol(format!(
            "unexpected status {s} on the pending URL"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    fn now() -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_730_217_600)
    }

    fn url() -> Url {
        Url::parse("https://resource.example/api/data?x=1").unwrap()
    }

    fn pending() -> Url {
        Url::parse("https://resource.example/pending/abc").unwrap()
    }

    fn poll(status: StatusCode, h: &HeaderMap, body: &[u8]) -> PollStep {
        classify_poll(&pending(), status, h, body, now())
    }

    fn initial(status: StatusCode, h: &HeaderMap) -> Result<Step, AAuthError> {
        classify_initial(&url(), status, h, b"", now())
    }

    const REQ: &str =
        r#"requirement=interaction;url="https://resource.example/i";code="7KQ2-M9XD""#;

    #[test]
    fn poll_03_retry_after_seconds_date_default_and_floor() {
        assert_eq!(
            retry_after(&headers(&[("retry-after", "7")]), now()),
            Duration::from_secs(7)
        );
        assert_eq!(
            retry_after(&HeaderMap::new(), now()),
            Duration::from_secs(5)
        );
        assert_eq!(
            retry_after(&headers(&[("retry-after", "0")]), now()),
            MIN_POLL_INTERVAL,
            "AMB-12: no busy loop on 0"
        );
        assert_eq!(
            retry_after(&headers(&[("retry-after", "soon")]), now()),
            Duration::from_secs(5)
        );
        let date = httpdate::fmt_http_date(now() + Duration::from_secs(12));
        assert_eq!(
            retry_after(&headers(&[("retry-after", &date)]), now()),
            Duration::from_secs(12)
        );
        let past = httpdate::fmt_http_date(now() - Duration::from_secs(12));
        assert_eq!(
            retry_after(&headers(&[("retry-after", &past)]), now()),
            MIN_POLL_INTERVAL,
            "a date in the past means now, floored"
        );
    }

    #[test]
    fn poll_04_each_429_adds_five_seconds_cumulatively() {
        let mut b = Backoff::new(Duration::from_secs(2));
        assert_eq!(b.next_wait(), Duration::from_secs(2));
        b.observe(&PollStep::SlowDown);
        assert_eq!(b.next_wait(), Duration::from_secs(7));
        b.observe(&PollStep::SlowDown);
        assert_eq!(b.next_wait(), Duration::from_secs(12));
        // A later 202 changes the base, never the accumulated penalty.
        b.observe(&PollStep::Wait {
            after: Duration::from_secs(3),
            interacting: false,
            prompt: None,
        });
        assert_eq!(b.next_wait(), Duration::from_secs(13));
    }

    #[test]
    fn poll_09_503_backs_off_by_retry_after_or_doubling() {
        let mut b = Backoff::new(Duration::from_secs(2));
        b.observe(&PollStep::BackOff {
            after: Some(Duration::from_secs(9)),
        });
        assert_eq!(b.next_wait(), Duration::from_secs(9));
        b.observe(&PollStep::BackOff { after: None });
        assert_eq!(b.next_wait(), Duration::from_secs(18));
        for _ in 0..10 {
            b.observe(&PollStep::BackOff { after: None });
        }
        assert_eq!(b.next_wait(), MAX_BACKOFF);
        b.observe(&PollStep::Wait {
            after: Duration::from_secs(2),
            interacting: false,
            prompt: None,
        });
        assert_eq!(
            b.next_wait(),
            Duration::from_secs(2),
            "a 202 ends the back-off"
        );
    }

    #[test]
    fn rm_06_relative_location_resolves_against_the_request_url() {
        let h = headers(&[
            ("aauth-requirement", REQ),
            ("location", "/pending/abc"),
            ("retry-after", "3"),
        ]);
        let Step::Poll {
            prompt: Some(prompt),
            location,
            after,
        } = initial(StatusCode::ACCEPTED, &h).unwrap()
        else {
            panic!("expected interaction");
        };
        assert_eq!(prompt.url, "https://resource.example/i");
        assert_eq!(prompt.code, "7KQ2-M9XD");
        assert_eq!(location.as_str(), "https://resource.example/pending/abc");
        assert_eq!(after, Duration::from_secs(3));
        let dotted = headers(&[("aauth-requirement", REQ), ("location", "../p/1")]);
        let Step::Poll { location, .. } = initial(StatusCode::ACCEPTED, &dotted).unwrap() else {
            panic!("expected poll");
        };
        assert_eq!(location.as_str(), "https://resource.example/p/1");
    }

    #[test]
    fn rm_06_missing_or_doubled_location_is_a_protocol_error() {
        let none = headers(&[("aauth-requirement", REQ)]);
        assert!(matches!(
            initial(StatusCode::ACCEPTED, &none),
            Err(AAuthError::Protocol(_))
        ));
        let two = headers(&[
            ("aauth-requirement", REQ),
            ("location", "/a"),
            ("location", "/b"),
        ]);
        assert!(matches!(
            initial(StatusCode::ACCEPTED, &two),
            Err(AAuthError::Protocol(_))
        ));
    }

    #[test]
    fn amb_30_cross_origin_location_is_refused() {
        for loc in [
            "https://evil.example/pending/abc",
            "http://resource.example/pending/abc",
            "https://resource.example:8443/p",
            "//evil.example/p",
        ] {
            let h = headers(&[("aauth-requirement", REQ), ("location", loc)]);
            let err = initial(StatusCode::ACCEPTED, &h).unwrap_err();
            assert!(
                matches!(err, AAuthError::CrossOriginLocation(_)),
                "{loc}: {err:?}"
            );
        }
    }

    #[test]
    fn rm_03_a_string_requirement_is_not_an_interaction() {
        let h = headers(&[
            (
                "aauth-requirement",
                r#"requirement="interaction";url="https://r/i";code="7KQ2M9XD""#,
            ),
            ("location", "/p"),
        ]);
        assert!(initial(StatusCode::ACCEPTED, &h).is_err());
    }

    #[test]
    fn poll_10_unknown_requirement_is_surfaced() {
        let h = headers(&[
            ("aauth-requirement", "requirement=frobnicate"),
            ("location", "/p"),
        ]);
        let err = initial(StatusCode::ACCEPTED, &h).unwrap_err();
        assert!(
            matches!(err, AAuthError::UnsupportedRequirement(ref r) if r == "frobnicate"),
            "{err:?}"
        );
        let on_poll = poll(StatusCode::ACCEPTED, &h, b"{}");
        assert!(matches!(
            on_poll,
            PollStep::Fail(AAuthError::UnsupportedRequirement(_))
        ));
    }

    #[test]
    fn req_10_approval_polls_without_a_prompt() {
        let h = headers(&[
            ("aauth-requirement", "requirement=approval"),
            ("location", "/p"),
        ]);
        let step = initial(StatusCode::ACCEPTED, &h).unwrap();
        assert!(
            matches!(step, Step::Poll { prompt: None, ref location, .. } if location.path() == "/p"),
            "{step:?}"
        );
    }

    #[test]
    fn req_06_req_07_req_08_token_challenges_are_typed() {
        let cases: [(&str, u16, &str); 4] = [
            ("requirement=agent-token", 401, "agent-token"),
            ("requirement=person-token", 401, "person-token"),
            (
                r#"requirement=auth-token;resource-token="eyJ.x.y""#,
                401,
                "auth-token",
            ),
            (
                r#"requirement=auth-token;resource-token="eyJ.x.y""#,
                402,
                "auth-token",
            ),
        ];
        for (value, status, name) in cases {
            let h = headers(&[("aauth-requirement", value)]);
            let err = initial(StatusCode::from_u16(status).unwrap(), &h).unwrap_err();
            let AAuthError::Requirement(req) = err else {
                panic!("{value}: {err:?}");
            };
            assert_eq!(req.name(), name);
            if let UnhandledRequirement::AuthToken {
                resource_token,
                status: s,
            } = *req
            {
                assert_eq!(resource_token, "eyJ.x.y");
                assert_eq!(s, status);
            }
        }
    }

    #[test]
    fn req_11_req_12_clarification_and_claims_carry_their_body() {
        let h = headers(&[
            ("aauth-requirement", "requirement=clarification"),
            ("location", "/p"),
        ]);
        let body = br#"{"status":"pending","clarification":"Which account?","timeout":60,"options":["a","b"]}"#;
        let err = classify_initial(&url(), StatusCode::ACCEPTED, &h, body, now()).unwrap_err();
        let AAuthError::Requirement(req) = err else {
            panic!("{err:?}")
        };
        assert_eq!(
            *req,
            UnhandledRequirement::Clarification {
                question: Some("Which account?".into()),
                timeout: Some(60),
                options: vec!["a".into(), "b".into()],
                location: Some(Url::parse("https://resource.example/p").unwrap()),
            }
        );
        let h = headers(&[
            ("aauth-requirement", "requirement=claims"),
            ("location", "/p"),
        ]);
        let err = classify_initial(
            &url(),
            StatusCode::ACCEPTED,
            &h,
            br#"{"required_claims":["email"]}"#,
            now(),
        )
        .unwrap_err();
        let AAuthError::Requirement(req) = err else {
            panic!("{err:?}")
        };
        assert!(
            matches!(*req, UnhandledRequirement::Claims { ref required_claims, .. } if required_claims == &["email"])
        );
    }

    #[test]
    fn req_03_plain_challenges_without_requirement_go_to_the_caller() {
        for s in [202, 401, 402] {
            let h = headers(&[("www-authenticate", "Bearer")]);
            let step = initial(StatusCode::from_u16(s).unwrap(), &h).unwrap();
            assert!(matches!(step, Step::Done));
        }
        let step = initial(StatusCode::OK, &headers(&[("aauth-requirement", REQ)])).unwrap();
        assert!(matches!(step, Step::Done), "a 200 is never a challenge");
    }

    #[test]
    fn req_01_missing_requirement_member_is_a_malformed_challenge() {
        let h = headers(&[("aauth-requirement", "url=\"x\""), ("location", "/p")]);
        assert!(matches!(
            initial(StatusCode::ACCEPTED, &h),
            Err(AAuthError::Protocol(_))
        ));
    }

    #[test]
    fn poll_07_poll_08_pending_interacting_and_unknown_status() {
        let h = headers(&[("retry-after", "2")]);
        for (body, interacting) in [
            (&br#"{"status":"pending"}"#[..], false),
            (br#"{"status":"interacting"}"#, true),
            (br#"{"status":"weird"}"#, false),
            (b"not json", false),
        ] {
            match poll(StatusCode::ACCEPTED, &h, body) {
                PollStep::Wait {
                    after,
                    interacting: i,
                    prompt: None,
                } => {
                    assert_eq!(after, Duration::from_secs(2));
                    assert_eq!(i, interacting);
                }
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn poll_13_a_repeated_interaction_requirement_is_surfaced_as_a_prompt() {
        let h = headers(&[("aauth-requirement", REQ)]);
        let PollStep::Wait {
            prompt: Some(p), ..
        } = poll(StatusCode::ACCEPTED, &h, br#"{"status":"pending"}"#)
        else {
            panic!("expected a prompt");
        };
        assert_eq!(p.code, "7KQ2-M9XD");
    }

    #[test]
    fn poll_09_each_status_maps_to_its_outcome() {
        let none = HeaderMap::new();
        let ok = headers(&[("aauth-access", "c2Vzcy0xLjg0YjYx.Zk9xT3hwWQ")]);
        assert!(matches!(
            poll(StatusCode::OK, &ok, b"{}"),
            PollStep::Approved { token: Some(_) }
        ));
        assert!(matches!(
            poll(StatusCode::OK, &none, b"{}"),
            PollStep::Approved { token: None }
        ));
        let denied = br#"{"error":"denied","detail":"no"}"#;
        assert!(matches!(
            poll(StatusCode::FORBIDDEN, &none, denied),
            PollStep::Fail(AAuthError::Denied { ref error, .. }) if error == "denied"
        ));
        let abandoned = br#"{"error":"abandoned"}"#;
        assert!(matches!(
            poll(StatusCode::FORBIDDEN, &none, abandoned),
            PollStep::Fail(AAuthError::Denied { ref error, .. }) if error == "abandoned"
        ));
        assert!(matches!(
            poll(StatusCode::REQUEST_TIMEOUT, &none, b""),
            PollStep::Fail(AAuthError::Expired)
        ));
        assert!(matches!(
            poll(StatusCode::GONE, &none, br#"{"error":"invalid_code"}"#),
            PollStep::Fail(AAuthError::Gone { error: Some(ref e) }) if e == "invalid_code"
        ));
        assert!(matches!(
            poll(StatusCode::TOO_MANY_REQUESTS, &none, b""),
            PollStep::SlowDown
        ));
        assert!(matches!(
            poll(StatusCode::SERVICE_UNAVAILABLE, &headers(&[("retry-after", "9")]), b""),
            PollStep::BackOff { after: Some(after) } if after == Duration::from_secs(9)
        ));
        assert!(matches!(
            poll(StatusCode::SERVICE_UNAVAILABLE, &none, b""),
            PollStep::BackOff { after: None }
        ));
        for s in [500, 502, 504] {
            assert!(matches!(
                poll(StatusCode::from_u16(s).unwrap(), &none, b""),
                PollStep::Fail(AAuthError::Server { status }) if status == s
            ));
        }
        let sig = headers(&[("signature-error", "error=invalid_signature")]);
        assert!(matches!(
            poll(StatusCode::UNAUTHORIZED, &sig, b""),
            PollStep::Fail(AAuthError::Signature { .. })
        ));
        assert!(matches!(
            poll(StatusCode::NOT_FOUND, &none, b""),
            PollStep::Fail(AAuthError::Protocol(_))
        ));
    }

    #[test]
    fn sess_13_two_aauth_access_values_are_not_adopted() {
        let two = headers(&[("aauth-access", "abc"), ("aauth-access", "def")]);
        assert!(matches!(
            poll(StatusCode::OK, &two, b"{}"),
            PollStep::Fail(AAuthError::Protocol(_))
        ));
        let joined = headers(&[("aauth-access", "abc, def")]);
        assert!(matches!(
            poll(StatusCode::OK, &joined, b"{}"),
            PollStep::Fail(AAuthError::Protocol(_))
        ));
    }

    #[test]
    fn err_19_unknown_signature_error_codes_are_kept_not_fatal() {
        let h = headers(&[("signature-error", "error=zzz, foo=1")]);
        let err = signature_error(StatusCode::UNAUTHORIZED, &h).unwrap();
        assert!(matches!(err, AAuthError::Signature { .. }));
        assert!(
            signature_error(StatusCode::FORBIDDEN, &h).is_none(),
            "only a 401 carries it"
        );
    }

    #[test]
    fn rm_04_ic_02_only_safe_interaction_prompts_reach_the_person() {
        for (url, code) in [
            ("javascript:alert(1)", "7KQ2-M9XD"),
            ("http://evil.example/approve", "7KQ2-M9XD"),
            ("https://resource.example/i?next=x", "7KQ2-M9XD"),
            ("https://resource.example/i#frag", "7KQ2-M9XD"),
            ("https://resource.example/i", "7KQ2\u{1b}[2J"),
            ("https://resource.example/i", ""),
        ] {
            assert!(
                checked_prompt(url.into(), code.into()).is_err(),
                "{url} {code:?}"
            );
        }
        for url in [
            "https://resource.example/i",
            "http://127.0.0.1:8080/i",
            "http://localhost:1/i",
        ] {
            assert!(
                checked_prompt(url.into(), "7KQ2-M9XD".into()).is_ok(),
                "{url}"
            );
        }
    }
}
