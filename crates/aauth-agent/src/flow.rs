//! The agent's side of the deferred-response state machine, free of I/O so that every rule is
//! unit-testable: each response is classified into the next step.
use std::time::{Duration, SystemTime};

use aauth_wire::access::session_token_from_response;
use aauth_wire::headers;
use aauth_wire::polling::PendingStatus;
use aauth_wire::requirement::{AAuthRequirement, Requirement};
use aauth_wire::signature_error::SignatureErrorField;
use http::{HeaderMap, StatusCode};
use url::Url;

use crate::AAuthError;

/// Wait between polls when `Retry-After` is absent (POLL-03).
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_secs(5);
/// Never poll faster than this, whatever the server says (AMB-12).
pub const MIN_POLL_INTERVAL: Duration = Duration::from_secs(1);
/// Added to the interval on each `429` (POLL-04).
pub const SLOW_DOWN_STEP: Duration = Duration::from_secs(5);

/// What to do after the first response to a request.
#[derive(Debug)]
pub enum Step {
    /// Hand the response to the caller.
    Done,
    /// A person must approve: show them `url` + `code`, then poll `location`.
    Interact {
        url: String,
        code: String,
        location: Url,
        after: Duration,
    },
}

/// What to do after a poll.
#[derive(Debug)]
pub enum PollStep {
    /// Approved: `token` is the session token when the resource issued one.
    Approved {
        token: Option<aauth_wire::access::SessionToken>,
    },
    /// Still waiting; `interacting` once the person reached the page (POLL-08).
    Wait {
        after: Duration,
        interacting: bool,
    },
    /// Polling faster than allowed: add 5 s (POLL-04).
    SlowDown,
    /// Temporarily unavailable: back off for `after`, then poll again.
    BackOff {
        after: Duration,
    },
    Fail(AAuthError),
}

/// `Retry-After` as delta-seconds or HTTP-date, with the default and the floor applied.
pub fn retry_after(headers: &HeaderMap, now: SystemTime) -> Duration {
    headers
        .get(http::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| aauth_wire::retry_after::parse(v, now).ok())
        .unwrap_or(DEFAULT_POLL_INTERVAL)
        .max(MIN_POLL_INTERVAL)
}

/// Resolves `Location` against the request URL and refuses another origin (RM-10, AMB-30).
pub fn resolve_location(request_url: &Url, headers: &HeaderMap) -> Result<Url, AAuthError> {
    let raw = headers
        .get(http::header::LOCATION)
        .ok_or_else(|| AAuthError::Protocol("202 without Location".into()))?
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
    Some(AAuthError::Signature {
        code: field.code,
        required_input: field.required_input,
    })
}

/// Classifies the response to an ordinary request (RM-16: whatever its method).
pub fn classify_initial(
    request_url: &Url,
    status: StatusCode,
    headers: &HeaderMap,
    now: SystemTime,
) -> Result<Step, AAuthError> {
    if status != StatusCode::ACCEPTED {
        return Ok(Step::Done);
    }
    let Some(req) = AAuthRequirement::from_headers(headers)
        .map_err(|e| AAuthError::Protocol(format!("AAuth-Requirement: {e}")))?
    else {
        // A plain 202 that is not AAuth's: the caller's business.
        return Ok(Step::Done);
    };
    match req.requirement {
        Requirement::Interaction { url, code } => Ok(Step::Interact {
            url,
            code,
            location: resolve_location(request_url, headers)?,
            after: retry_after(headers, now),
        }),
        other => Err(AAuthError::UnsupportedRequirement(requirement_name(&other))),
    }
}

fn requirement_name(r: &Requirement) -> String {
    match r {
        Requirement::Interaction { .. } => "interaction".into(),
        Requirement::AgentToken => "agent-token".into(),
        Requirement::PersonToken => "person-token".into(),
        Requirement::AuthToken { .. } => "auth-token".into(),
        Requirement::Approval => "approval".into(),
        Requirement::Clarification => "clarification".into(),
        Requirement::Claims => "claims".into(),
        Requirement::Unknown(s) => s.clone(),
    }
}

/// Classifies a poll's response per the polling table (POLL-09).
pub fn classify_poll(
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
            Err(e) => PollStep::Fail(AAuthError::Protocol(format!("AAuth-Access: {e}"))),
        },
        202 => {
            let interacting = serde_json::from_slice::<aauth_wire::polling::PendingBody>(body)
                .map(|b| b.status == PendingStatus::Interacting)
                .unwrap_or(false);
            PollStep::Wait {
                after: retry_after(headers, now),
                interacting,
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
            after: retry_after(headers, now),
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

    const REQ: &str =
        r#"requirement=interaction;url="https://resource.example/i";code="7KQ2-M9XD""#;

    #[test]
    fn poll_03_retry_after_seconds_default_and_floor() {
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
    }

    #[test]
    fn rm_06_relative_location_resolves_against_the_request_url() {
        let h = headers(&[
            ("aauth-requirement", REQ),
            ("location", "/pending/abc"),
            ("retry-after", "3"),
        ]);
        let step = classify_initial(&url(), StatusCode::ACCEPTED, &h, now()).unwrap();
        let Step::Interact {
            url: u,
            code,
            location,
            after,
        } = step
        else {
            panic!("expected interaction");
        };
        assert_eq!(u, "https://resource.example/i");
        assert_eq!(code, "7KQ2-M9XD");
        assert_eq!(location.as_str(), "https://resource.example/pending/abc");
        assert_eq!(after, Duration::from_secs(3));
    }

    #[test]
    fn amb_30_cross_origin_location_is_refused() {
        for loc in [
            "https://evil.example/pending/abc",
            "http://resource.example/pending/abc",
            "https://resource.example:8443/p",
        ] {
            let h = headers(&[("aauth-requirement", REQ), ("location", loc)]);
            let err = classify_initial(&url(), StatusCode::ACCEPTED, &h, now()).unwrap_err();
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
        assert!(classify_initial(&url(), StatusCode::ACCEPTED, &h, now()).is_err());
    }

    #[test]
    fn poll_10_unknown_requirement_is_surfaced() {
        let h = headers(&[
            ("aauth-requirement", "requirement=frobnicate"),
            ("location", "/p"),
        ]);
        let err = classify_initial(&url(), StatusCode::ACCEPTED, &h, now()).unwrap_err();
        assert!(
            matches!(err, AAuthError::UnsupportedRequirement(ref r) if r == "frobnicate"),
            "{err:?}"
        );
    }

    #[test]
    fn a_plain_202_without_requirement_goes_to_the_caller() {
        let step =
            classify_initial(&url(), StatusCode::ACCEPTED, &HeaderMap::new(), now()).unwrap();
        assert!(matches!(step, Step::Done));
        let step = classify_initial(&url(), StatusCode::OK, &HeaderMap::new(), now()).unwrap();
        assert!(matches!(step, Step::Done));
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
            match classify_poll(StatusCode::ACCEPTED, &h, body, now()) {
                PollStep::Wait {
                    after,
                    interacting: i,
                } => {
                    assert_eq!(after, Duration::from_secs(2));
                    assert_eq!(i, interacting);
                }
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn poll_09_each_status_maps_to_its_outcome() {
        let none = HeaderMap::new();
        let ok = headers(&[("aauth-access", "c2Vzcy0xLjg0YjYx.Zk9xT3hwWQ")]);
        assert!(matches!(
            classify_poll(StatusCode::OK, &ok, b"{}", now()),
            PollStep::Approved { token: Some(_) }
        ));
        assert!(matches!(
            classify_poll(StatusCode::OK, &none, b"{}", now()),
            PollStep::Approved { token: None }
        ));
        let denied = br#"{"error":"denied","detail":"no"}"#;
        assert!(matches!(
            classify_poll(StatusCode::FORBIDDEN, &none, denied, now()),
            PollStep::Fail(AAuthError::Denied { ref error, .. }) if error == "denied"
        ));
        let abandoned = br#"{"error":"abandoned"}"#;
        assert!(matches!(
            classify_poll(StatusCode::FORBIDDEN, &none, abandoned, now()),
            PollStep::Fail(AAuthError::Denied { ref error, .. }) if error == "abandoned"
        ));
        assert!(matches!(
            classify_poll(StatusCode::REQUEST_TIMEOUT, &none, b"", now()),
            PollStep::Fail(AAuthError::Expired)
        ));
        assert!(matches!(
            classify_poll(StatusCode::GONE, &none, b"", now()),
            PollStep::Fail(AAuthError::Gone { .. })
        ));
        assert!(matches!(
            classify_poll(StatusCode::TOO_MANY_REQUESTS, &none, b"", now()),
            PollStep::SlowDown
        ));
        assert!(matches!(
            classify_poll(StatusCode::SERVICE_UNAVAILABLE, &headers(&[("retry-after", "9")]), b"", now()),
            PollStep::BackOff { after } if after == Duration::from_secs(9)
        ));
        assert!(matches!(
            classify_poll(StatusCode::INTERNAL_SERVER_ERROR, &none, b"", now()),
            PollStep::Fail(AAuthError::Server { status: 500 })
        ));
        let sig = headers(&[("signature-error", "error=invalid_signature")]);
        assert!(matches!(
            classify_poll(StatusCode::UNAUTHORIZED, &sig, b"", now()),
            PollStep::Fail(AAuthError::Signature { .. })
        ));
    }

    #[test]
    fn sess_13_two_aauth_access_values_are_not_adopted() {
        let two = headers(&[("aauth-access", "abc"), ("aauth-access", "def")]);
        assert!(matches!(
            classify_poll(StatusCode::OK, &two, b"{}", now()),
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
}
