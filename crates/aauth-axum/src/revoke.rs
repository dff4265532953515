//! Revocation: the signed endpoint of the draft (REV-03..REV-07) and the local APIs an
//! application calls to end sessions by token, person or agent key.
use aauth_store::{AgentTokenId, RevokeOutcome, StoreError};
use aauth_wire::Thumbprint;
use aauth_wire::access::SessionToken;
use aauth_wire::polling::PollingErrorCode;
use axum::body::to_bytes;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use http::header::CACHE_CONTROL;
use http::{HeaderValue, StatusCode};
use serde::Deserialize;
use tracing::Instrument as _;

use crate::AAuthResource;
use crate::response;

/// The largest revocation request body read.
const MAX_BODY: usize = 8 * 1024;

impl AAuthResource {
    /// Revokes one session token; `true` if it was known.
    pub async fn revoke_session(&self, token: &SessionToken) -> Result<bool, StoreError> {
        let span = tracing::info_span!(
            "aauth.revoke",
            by = "token",
            outcome = tracing::field::Empty
        );
        let known = self
            .inner
            .sessions
            .revoke(token)
            .instrument(span.clone())
            .await?;
        span.record("outcome", if known { "revoked" } else { "unknown" });
        self.inner.metrics.sessions_revoked(usize::from(known));
        Ok(known)
    }

    /// Revokes every session token the person approved; returns how many.
    pub async fn revoke_person(&self, person: &str) -> Result<usize, StoreError> {
        let span =
            tracing::info_span!("aauth.revoke", by = "person", count = tracing::field::Empty);
        let n = self
            .inner
            .sessions
            .revoke_person(person)
            .instrument(span.clone())
            .await?;
        span.record("count", n);
        self.inner.metrics.sessions_revoked(n);
        Ok(n)
    }

    /// Revokes every session token bound to this agent key; returns how many.
    pub async fn revoke_agent_key(&self, key_thumbprint: &Thumbprint) -> Result<usize, StoreError> {
        let span = tracing::info_span!("aauth.revoke", by = "key", count = tracing::field::Empty);
        let n = self
            .inner
            .sessions
            .revoke_key(key_thumbprint)
            .instrument(span.clone())
            .await?;
        span.record("count", n);
        self.inner.metrics.sessions_revoked(n);
        Ok(n)
    }

    /// Revokes every session token bound to this agent identifier; returns how many.
    pub async fn revoke_agent(&self, agent_id: &str) -> Result<usize, StoreError> {
        let span = tracing::info_span!("aauth.revoke", by = "agent", count = tracing::field::Empty);
        let n = self
            .inner
            .sessions
            .revoke_agent(agent_id)
            .instrument(span.clone())
            .await?;
        span.record("count", n);
        self.inner.metrics.sessions_revoked(n);
        Ok(n)
    }

    /// Revokes an agent token by `(iss, jti)` (REV-04), and with it the sessions of its agent
    /// when [`revoke_sessions_with_agent_token`](crate::ResourceBuilder::revoke_sessions_with_agent_token)
    /// is on (REV-07).
    pub async fn revoke_agent_token(&self, id: &AgentTokenId) -> Result<RevokeOutcome, StoreError> {
        let inner = &self.inner;
        let span = tracing::info_span!(
            "aauth.revoke",
            by = "agent_token",
            outcome = tracing::field::Empty
        );
        let outcome = inner
            .revocations
            .revoke(id, self.now())
            .instrument(span.clone())
            .await?;
        if let RevokeOutcome::Revoked { agent_id } = &outcome {
            inner.metrics.agent_token_revoked();
            if inner.revoke_sessions_with_agent_token
                && let Some(agent) = agent_id
            {
                self.revoke_agent(agent).await?;
            }
        }
        span.record(
            "outcome",
            match outcome {
                RevokeOutcome::Revoked { .. } => "revoked",
                RevokeOutcome::AlreadyInvalid => "already_invalid",
                _ => "unknown",
            },
        );
        Ok(outcome)
    }
}

#[derive(Deserialize)]
struct RevocationRequest {
    iss: Option<String>,
    jti: Option<String>,
}

fn problem(status: StatusCode, code: &str, detail: &str) -> Response {
    crate::response::error(status, code, detail)
}

/// `POST {revocation_endpoint}`: a signed request with JSON `{"iss": …, "jti": …}`.
pub(crate) async fn revoke(State(resource): State<AAuthResource>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    // REV-06: the caller is authenticated by its HTTP Message Signature (401 otherwise).
    let caller = match resource.authenticate(&parts).await {
        Ok(a) => a.agent,
        Err(resp) => return resp,
    };
    if crate::layer::declared_length_exceeds(&parts.headers, MAX_BODY) {
        return crate::response::payload_too_large();
    }
    let Ok(bytes) = to_bytes(body, MAX_BODY).await else {
        return problem(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "body too large or unreadable",
        );
    };
    if crate::layer::covers_content_digest(&caller)
        && let Some(resp) = crate::layer::check_content_digest(&resource, &parts.headers, &bytes)
    {
        return resp;
    }
    // REV-03: both members are required.
    let (iss, jti) = match serde_json::from_slice::<RevocationRequest>(&bytes) {
        Ok(RevocationRequest {
            iss: Some(iss),
            jti: Some(jti),
        }) if !iss.is_empty() && !jti.is_empty() => (iss, jti),
        _ => {
            return problem(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "the body must be JSON with string members iss and jti",
            );
        }
    };
    // REV-06: only the token's issuer or a trusted party. Until issuer-signed callers (the
    // `jwks_uri` scheme) can be verified, the trusted keys configured with
    // `trusted_revokers` are the only accepted callers. Checked before the lookup, so an
    // unauthorised caller cannot probe which pairs exist.
    let trusted = resource.inner.trusted_revokers.contains(&caller.thumbprint);
    if !trusted {
        tracing::info!(target: "aauth::revoke", outcome = "forbidden", "revocation by a caller that is neither the issuer nor trusted");
        return response::polling_error(
            PollingErrorCode::Denied,
            "only the token's issuer or a trusted party may revoke it",
        );
    }
    match resource
        .revoke_agent_token(&AgentTokenId::new(iss, jti))
        .await
    {
        Ok(RevokeOutcome::Unknown) => problem(
            StatusCode::NOT_FOUND,
            "not_found",
            "the (iss, jti) pair is not recognised",
        ),
        Ok(_) => {
            let mut resp = StatusCode::OK.into_response();
            resp.headers_mut()
                .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
            resp
        }
        Err(_) => response::unavailable(),
    }
}
