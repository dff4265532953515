use std::time::Duration;

use aauth_wire::signature_error::SignatureErrorCode;

use crate::flow::UnhandledRequirement;
use thiserror::Error;

/// Everything that can end an AAuth request without a usable response. Messages never contain
/// session tokens or keys.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum AAuthError {
    /// The HTTP exchange itself failed (connection, TLS, timeout of a single request).
    #[error("HTTP request failed: {0}")]
    Http(#[from] reqwest::Error),
    /// The request could not be signed.
    #[error("could not sign the request: {0}")]
    Sign(String),
    /// The resource rejected the signature: `401` with `Signature-Error`.
    #[error("the resource rejected the signature: {code}{}", required_input.as_ref().map(|r| format!(" (requires {})", r.join(" "))).unwrap_or_default())]
    Signature {
        code: SignatureErrorCode,
        required_input: Option<Vec<String>>,
        /// The `detail` (else `title`) of the problem details sent with the `401`, when the
        /// agent read them. Text chosen by the resource: escape it before display.
        detail: Option<String>,
        /// The `Accept-Signature-Scheme` field sent with the `401`, as received.
        accept_schemes: Option<String>,
        /// The `Accept-Signature-Alg` field sent with the `401`, as received.
        accept_algs: Option<String>,
    },
    /// The person or the resource refused: `403` (`denied`, or `abandoned` when the person
    /// never decided).
    #[error("access {error}: {}", detail.as_deref().unwrap_or("refused by the resource"))]
    Denied {
        error: String,
        detail: Option<String>,
    },
    /// The pending request expired (`408`); a fresh request may start over (POLL-09).
    #[error("the pending request expired before the person decided")]
    Expired,
    /// The pending URL is gone (`410`): the request ended already or was withdrawn.
    #[error("the pending request is gone ({})", error.as_deref().unwrap_or("410"))]
    Gone { error: Option<String> },
    /// The resource failed (`500`): start over.
    #[error("the resource failed with status {status}")]
    Server { status: u16 },
    /// No decision arrived within the client's polling timeout.
    #[error("no decision after {0:?}")]
    Timeout(Duration),
    /// The wait was cancelled by the caller.
    #[error("cancelled")]
    Cancelled,
    /// A `Location` pointing at another origin; the agent never polls there (AMB-30).
    #[error("pending URL {0} is not on the resource's origin")]
    CrossOriginLocation(String),
    /// The resource answered in a way the protocol does not allow.
    #[error("malformed response from the resource: {0}")]
    Protocol(String),
    /// A requirement value this agent does not know (POLL-10, REQ-04): never treated as
    /// satisfiable.
    #[error("the resource requires `{0}`, which this agent does not know")]
    UnsupportedRequirement(String),
    /// A known requirement whose flow this agent does not implement (agent-token, person-token,
    /// auth-token, clarification, claims), parsed so the caller can act on it.
    #[error("the resource requires `{}`, which this agent does not handle yet", .0.name())]
    Requirement(Box<UnhandledRequirement>),
    /// The request body is a stream (or larger than the replay limit) and cannot be re-sent
    /// after approval or re-signing.
    #[error("the request body cannot be replayed after the interaction")]
    BodyNotReplayable,
    /// A session token would go over plain `http` to a host that is not a loopback address;
    /// see [`crate::AAuthClientBuilder::allow_insecure_http`].
    #[error(
        "refusing to send the session token for {0} over plain http (only loopback hosts may use http); use https"
    )]
    InsecureTransport(String),
    /// The request URL is not an absolute `http(s)` URL with a host.
    #[error("invalid request URL: {0}")]
    InvalidUrl(String),
}
