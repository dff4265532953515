//! The operator's revocation routes behind `aauth serve --admin-listen ADDR`.
//!
//! They call [`AAuthResource`]'s `revoke_*` methods, which act on the (possibly shared) session
//! store, so a revocation made through one instance holds on every instance sharing the store.
//! There is no authentication on these routes: the listener only binds loopback addresses, it
//! is off unless asked for, and it can only take access away (never grant it). Anyone who can
//! open a loopback connection on the host can therefore end sessions; do not enable it on a
//! host shared with untrusted users (docs/operations.md).
//!
//! | route | effect |
//! |---|---|
//! | `POST /revoke/key/{thumbprint}` | every session of that agent key |
//! | `POST /revoke/person/{person}` | every session the person approved |
//! | `POST /revoke/agent/{agent_id}` | every session of that agent identifier |
//! | `POST /revoke/session` (body: the token) | that session token |
//!
//! Each answers `200 {"revoked": n}`, or `503` problem+json when the store is unavailable.
//! Requests that carry an `Origin` (a web page) or a non-loopback `Host` (DNS rebinding) get
//! `403`.
use std::net::SocketAddr;

use aauth_axum::AAuthResource;
use aauth_wire::Thumbprint;
use aauth_wire::access::SessionToken;
use aauth_wire::problem::{PROBLEM_JSON, ProblemDetails};
use axum::Router;
use axum::extract::rejection::StringRejection;
use axum::extract::{DefaultBodyLimit, FromRequestParts, Path, State};
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use axum::routing::post;

/// The largest body `POST /revoke/session` reads.
const MAX_BODY: usize = 4096;

fn revoked(n: usize) -> Response {
    axum::Json(serde_json::json!({ "revoked": n })).into_response()
}

fn problem(status: StatusCode, error: &str, detail: &str) -> Response {
    let body = ProblemDetails::new(error, detail)
        .with_status(status)
        .to_json_bytes();
    (status, [(CONTENT_TYPE, PROBLEM_JSON)], body).into_response()
}

fn answer<E: std::fmt::Display>(r: Result<usize, E>) -> Response {
    match r {
        Ok(n) => revoked(n),
        Err(e) => {
            tracing::warn!(error = %e, "admin revocation failed");
            problem(
                StatusCode::SERVICE_UNAVAILABLE,
                "temporarily_unavailable",
                "the resource's state store is unavailable",
            )
        }
    }
}

/// The route's one path segment, decoded; one that does not decode (not UTF-8) is refused
/// with problem+json rather than axum's plain text.
struct Segment(String);

impl<S: Send + Sync> FromRequestParts<S> for Segment {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Response> {
        match Path::<String>::from_request_parts(parts, state).await {
            Ok(Path(s)) => Ok(Segment(s)),
            Err(_) => Err(problem(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "the path segment is not valid percent-encoded UTF-8",
            )),
        }
    }
}

async fn by_key(State(r): State<AAuthResource>, Segment(jkt): Segment) -> Response {
    // An RFC 7638 SHA-256 thumbprint: 43 base64url characters. Anything else cannot match
    // a key, and "revoked 0" would hide the operator's typo.
    let is_thumbprint = jkt.len() == 43
        && jkt
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !is_thumbprint {
        return problem(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "not a key thumbprint (43 base64url characters; `aauth thumbprint` prints one)",
        );
    }
    answer(r.revoke_agent_key(&Thumbprint::from_encoded(jkt)).await)
}

async fn by_person(State(r): State<AAuthResource>, Segment(person): Segment) -> Response {
    answer(r.revoke_person(&person).await)
}

async fn by_agent(State(r): State<AAuthResource>, Segment(agent): Segment) -> Response {
    answer(r.revoke_agent(&agent).await)
}

async fn by_token(
    State(r): State<AAuthResource>,
    body: Result<String, StringRejection>,
) -> Response {
    let body = match body {
        Ok(b) => b,
        Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            return problem(
                StatusCode::PAYLOAD_TOO_LARGE,
                "invalid_request",
                "the body must be one session token (at most 4096 bytes)",
            );
        }
        Err(_) => {
            return problem(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "the body must be one session token (UTF-8 text)",
            );
        }
    };
    let Ok(token) = SessionToken::parse(body.trim()) else {
        return problem(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "the body must be one session token",
        );
    };
    answer(r.revoke_session(&token).await.map(usize::from))
}

/// The admin routes for `resource`.
pub fn router(resource: AAuthResource) -> Router {
    Router::new()
        .route("/revoke/key/{thumbprint}", post(by_key))
        .route("/revoke/person/{person}", post(by_person))
        .route("/revoke/agent/{agent_id}", post(by_agent))
        .route("/revoke/session", post(by_token))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(axum::middleware::from_fn(only_local_tools))
        .with_state(resource)
}

/// Loopback binding keeps other hosts out, but a web page in the operator's own browser can
/// still reach a loopback port (a cross-site POST, or DNS rebinding under a foreign name).
/// Operator tools send neither `Origin` nor a foreign `Host`; browsers driven by a page do, so
/// such requests are refused.
async fn only_local_tools(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let headers = req.headers();
    let host_ok = headers
        .get(axum::http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .is_some_and(|h| {
            let name = h.rsplit_once(':').map_or(h, |(n, port)| {
                if port.bytes().all(|b| b.is_ascii_digit()) {
                    n
                } else {
                    h
                }
            });
            let bare = name.trim_start_matches('[').trim_end_matches(']');
            name.eq_ignore_ascii_case("localhost")
                || bare
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback())
        });
    let from_a_page = headers.contains_key(axum::http::header::ORIGIN)
        || headers
            .get("sec-fetch-site")
            .is_some_and(|v| v.as_bytes() != b"none");
    if !host_ok || from_a_page {
        return problem(
            StatusCode::FORBIDDEN,
            "forbidden",
            "admin routes take requests from local tools only (no Origin, loopback Host)",
        );
    }
    next.run(req).await
}

/// Binds `addr` (loopback only) and serves the admin routes in the background.
pub async fn spawn(
    addr: SocketAddr,
    resource: AAuthResource,
) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    serve_on(bind(addr).await?, resource)
}

/// Binds the admin listener: `addr` must be a loopback address (`InvalidInput` otherwise).
/// Separate from [`serve_on`] so `aauth serve` finds a bad or busy address before it starts
/// anything else.
pub async fn bind(addr: SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    if !addr.ip().is_loopback() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "the admin listener binds loopback addresses only",
        ));
    }
    tokio::net::TcpListener::bind(addr).await
}

/// Serves the admin routes on `listener` (from [`bind`]) in the background.
pub fn serve_on(
    listener: tokio::net::TcpListener,
    resource: AAuthResource,
) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let local = listener.local_addr()?;
    let app = router(resource);
    // The same loop as the main listener: request heads must arrive in time.
    let handle = tokio::spawn(crate::serve_http::serve(
        listener,
        app,
        crate::serve_http::HttpLimits::default(),
    ));
    Ok((local, handle))
}
