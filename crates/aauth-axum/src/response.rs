//! Every AAuth response the resource sends is built here, so each status code, header and body
//! has one owner.
use aauth_sig::VerifyError;
use aauth_wire::headers;
use aauth_wire::polling::{PendingBody, PendingStatus, PollingErrorCode};
use aauth_wire::problem::{PROBLEM_JSON, ProblemDetails};
use aauth_wire::requirement::{AAuthRequirement, Requirement};
use aauth_wire::signature_error::{
    SignatureErrorCode, SignatureErrorField, accept_signature_alg, accept_signature_scheme,
};
use axum::body::Body;
use axum::response::{IntoResponse, Response};
use http::header::{CACHE_CONTROL, CONTENT_TYPE, LOCATION, RETRY_AFTER};
use http::{HeaderValue, StatusCode};

use crate::config::Inner;

/// An RFC 9457 body: `error` (AAuth, ERR-05), `detail`, the numeric `status`, and a `type` —
/// the sig-error URN for signature failures (ERR-04), otherwise `about:blank` with the status
/// phrase as `title` (RFC 9457 §4.2.1: no semantics beyond the status code; agents decide on
/// `error`). Always `Cache-Control: no-store`.
fn problem(status: StatusCode, body: &ProblemDetails) -> Response {
    let mut body = body.clone().with_status(status);
    if body.type_.is_none() {
        body.type_ = Some("about:blank".to_owned());
        if body.title.is_none()
            && let Some(reason) = status.canonical_reason()
        {
            body.title = Some(reason.to_owned());
        }
    }
    let mut resp = Response::new(Body::from(body.to_json_bytes()));
    *resp.status_mut() = status;
    resp.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
    resp.headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

/// `401` + `Signature-Error` (+ `Accept-Signature-*` where the code calls for it) + a
/// problem-details body whose `type` is the sig-error URN and whose `error` is the code
/// (SIG-27, ERR-01, ERR-04).
pub(crate) fn signature_failure(inner: &Inner, err: &VerifyError) -> Response {
    let specific = err.code();
    let code = if inner.generic_signature_errors {
        SignatureErrorCode::InvalidSignature
    } else {
        specific.clone()
    };
    let field = SignatureErrorField {
        code: code.clone(),
        required_input: if inner.generic_signature_errors {
            None
        } else {
            err.required_input().map(|r| r.to_vec())
        },
    };
    let detail = if inner.generic_signature_errors {
        "the request's signature was not accepted".to_owned()
    } else {
        err.to_string()
    };
    let mut resp = problem(
        StatusCode::UNAUTHORIZED,
        &ProblemDetails::signature(&code, detail),
    );
    let h = resp.headers_mut();
    if let Ok(v) = field.to_header_value() {
        h.insert(headers::SIGNATURE_ERROR, v);
    }
    if !inner.generic_signature_errors {
        match specific {
            SignatureErrorCode::UnsupportedScheme | SignatureErrorCode::InvalidRequest => {
                let names: Vec<&str> = inner
                    .accepted_scheme_names
                    .iter()
                    .map(String::as_str)
                    .collect();
                if let Ok(v) = accept_signature_scheme(&names) {
                    h.insert(headers::ACCEPT_SIGNATURE_SCHEME, v);
                }
            }
            SignatureErrorCode::UnsupportedAlgorithm => {
                let names: Vec<&str> = inner
                    .accepted_alg_names
                    .iter()
                    .map(String::as_str)
                    .collect();
                if let Ok(v) = accept_signature_alg(&names) {
                    h.insert(headers::ACCEPT_SIGNATURE_ALG, v);
                }
            }
            _ => {}
        }
    }
    resp
}

/// A polling-table error: problem+json with `error`, never any signature header (ERR-07).
pub(crate) fn polling_error(code: PollingErrorCode, detail: &str) -> Response {
    problem(code.status(), &ProblemDetails::new(code.as_str(), detail))
}

/// Any other AAuth error: `status` with a problem body whose `error` is `code`.
pub(crate) fn error(status: StatusCode, code: &str, detail: &str) -> Response {
    problem(status, &ProblemDetails::new(code, detail))
}

/// `410 Gone` for a pending URL whose terminal answer was already delivered (RM-13).
pub(crate) fn gone() -> Response {
    problem(
        StatusCode::GONE,
        &ProblemDetails::new("gone", "this pending request has ended"),
    )
}

pub(crate) fn not_found() -> Response {
    problem(
        StatusCode::NOT_FOUND,
        &ProblemDetails::new("not_found", "no such pending request"),
    )
}

/// `400 invalid_request`: a request AAuth cannot read (e.g. a malformed `Authorization: AAuth`).
pub(crate) fn invalid_request(detail: &str) -> Response {
    problem(
        StatusCode::BAD_REQUEST,
        &ProblemDetails::new("invalid_request", detail),
    )
}

/// A body larger than the resource buffers to check its `Content-Digest`.
pub(crate) fn payload_too_large() -> Response {
    problem(
        StatusCode::PAYLOAD_TOO_LARGE,
        &ProblemDetails::new("invalid_request", "the request body is too large"),
    )
}

/// `429` `slow_down`: the agent already has `limit` open pending requests. `Retry-After` is
/// when the oldest of them ends; withdrawing one (DELETE on its pending URL) frees a slot at
/// once. No signature headers: the signature was fine (ERR-07's rule for non-signature errors).
pub(crate) fn too_many_pending(limit: u32, retry_after: u64) -> Response {
    let detail = format!(
        "this agent already has {limit} open pending requests; finish or withdraw one \
         (DELETE its pending URL) or retry later"
    );
    let mut resp = problem(
        StatusCode::TOO_MANY_REQUESTS,
        &ProblemDetails::new(PollingErrorCode::SlowDown.as_str(), detail),
    );
    resp.headers_mut()
        .insert(RETRY_AFTER, HeaderValue::from(retry_after));
    resp
}

/// `503` `temporarily_unavailable`: the resource holds as many pending requests as it allows.
pub(crate) fn pending_capacity_reached(retry_after: u64) -> Response {
    let mut resp = problem(
        StatusCode::SERVICE_UNAVAILABLE,
        &ProblemDetails::new(
            "temporarily_unavailable",
            "the resource cannot take more pending requests right now",
        ),
    );
    resp.headers_mut()
        .insert(RETRY_AFTER, HeaderValue::from(retry_after));
    resp
}

/// The store could not be reached: fail closed.
pub(crate) fn unavailable() -> Response {
    let mut resp = problem(
        StatusCode::SERVICE_UNAVAILABLE,
        &ProblemDetails::new(
            "temporarily_unavailable",
            "the resource's state store is unavailable",
        ),
    );
    resp.headers_mut()
        .insert(RETRY_AFTER, HeaderValue::from_static("5"));
    resp
}

pub(crate) fn server_error(detail: &str) -> Response {
    polling_error(PollingErrorCode::ServerError, detail)
}

pub(crate) fn layer_missing() -> Response {
    server_error("AAuthLayer is not installed in front of this route")
}

/// A `202` pending response: `Retry-After`, `Cache-Control: no-store` and a JSON `status`
/// (RM-07, RM-08, RM-09); the first one also carries the requirement and `Location`.
pub(crate) fn pending(
    status: PendingStatus,
    retry_after: u64,
    requirement: Option<&Requirement>,
    location: Option<&str>,
) -> Response {
    let json = PendingBody::new(status).to_json_bytes();
    let mut resp = Response::new(Body::from(json));
    *resp.status_mut() = StatusCode::ACCEPTED;
    let h = resp.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(RETRY_AFTER, HeaderValue::from(retry_after));
    if let Some(req) = requirement {
        match AAuthRequirement::new(req.clone()).to_header_value() {
            Ok(v) => {
                h.insert(headers::AAUTH_REQUIREMENT, v);
            }
            // Only an interaction URL with characters a String cannot carry gets here; the
            // builder validated the origin, so this is a bug, not bad input.
            Err(_) => return server_error("interaction requirement could not be serialised"),
        }
    }
    if let Some(loc) = location
        && let Ok(v) = HeaderValue::from_str(loc)
    {
        h.insert(LOCATION, v);
    }
    resp
}

/// `403` with `{"error":"denied"}` and no signature headers (SIG-28, AMB-09).
#[derive(Debug, Clone)]
pub struct Denied {
    detail: String,
}

impl Denied {
    pub fn new(detail: impl Into<String>) -> Self {
        Denied {
            detail: detail.into(),
        }
    }
}

impl IntoResponse for Denied {
    fn into_response(self) -> Response {
        polling_error(PollingErrorCode::Denied, &self.detail)
    }
}

/// The `202` that starts a two-party interaction: what the agent is told.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct InteractionRequired {
    /// The interaction page (`url` parameter).
    pub url: String,
    /// The code as displayed (`code` parameter).
    pub code: String,
    /// The pending URL (`Location`), relative to the resource's origin.
    pub location: String,
    pub retry_after: u64,
}

impl IntoResponse for InteractionRequired {
    fn into_response(self) -> Response {
        let requirement = Requirement::Interaction {
            url: self.url,
            code: self.code,
        };
        pending(
            PendingStatus::Pending,
            self.retry_after,
            Some(&requirement),
            Some(&self.location),
        )
    }
}
