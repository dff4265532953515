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
