//! The verification layer: every request through it must carry a valid AAuth signature.
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use aauth_sig::{ReplayScope, RequestTarget, VerifyError};
use aauth_store::AgentTokenId;
use aauth_store::SessionGrant;
use aauth_wire::access::{SessionToken, access_header_value, session_token_from_request};
use aauth_wire::headers;
use aauth_wire::signature_error::SignatureErrorCode;
use axum::body::Body;
use axum::response::{IntoResponse, Response};
use http::Request;
use http::request::Parts;
use tower::{Layer, Service};
use tracing::Instrument as _;

use crate::AAuthResource;
use crate::config::InvalidSessionPolicy;
use crate::extract::{SessionContext, VerifiedAgent};
use crate::response::{self, Denied};

/// What [`AAuthResource::authenticate`] established about a request.
pub(crate) struct Authenticated {
    pub agent: VerifiedAgent,
    /// The grant behind the request's session token, when that token is valid for this agent.
    pub session: Option<SessionGrant>,
    /// The valid session token itself, kept only to refresh it; never logged.
    pub token: Option<SessionToken>,
}

impl AAuthResource {
    /// A tower layer that verifies each request's signature (and session token, if any) and
    /// makes [`VerifiedAgent`] and [`Authorized`](crate::Authorized) available to handlers.
    pub fn layer(&self) -> AAuthLayer {
        AAuthLayer {
            resource: self.clone(),
        }
    }

    /// Verifies the signature of a request and checks its session token; the error is the
    /// complete response to send.
    pub(crate) async fn authenticate(&self, parts: &Parts) -> Result<Authenticated, Response> {
        let span = tracing::info_span!(
            "aauth.verify",
            method = %parts.method,
            path = parts.uri.path(),
            outcome = tracing::field::Empty,
            code = tracing::field::Empty,
            jkt = tracing::field::Empty,
            session = tracing::field::Empty,
        );
        self.authenticate_in(parts).instrument(span).await
    }

    /// The AAuth verification steps, then the replay cache when it is on (SIG-19), then — for
    /// agent tokens — the revocation check (REV-07): a token whose `(iss, jti)` was revoked is
    /// refused, and every accepted one is recorded so that the revocation endpoint can tell
    /// "revoked" from "unknown" (AMB-21). A store that cannot answer fails the request closed.
    async fn verify_signature(
        &self,
        target: &RequestTarget<'_>,
        now: u64,
    ) -> Result<aauth_sig::VerifiedSignature, Rejection> {
        let inner = &self.inner;
        let verified = inner
            .verifier
            .verify_with(target, now, inner.resolver.as_ref())
            .await
            .map_err(Rejection::Signature)?;
        if let Some((store, scope)) = &inner.replay
            && (*scope == ReplayScope::AllMethods || !target.method.is_safe())
        {
            let key = replay_key(&verified, target);
            let window = inner.verifier.config().window.as_secs();
            // Acceptable until `created` leaves the window; a second later it fails step 3.
            let until = verified.created.saturating_add(window).saturating_add(1);
            let fresh = store
                .check_and_record(&key, until, now)
                .await
                .map_err(|_| Rejection::Unavailable)?;
            if !fresh {
                return Err(Rejection::Signature(VerifyError::Replayed));
            }
        }
        let Some(agent) = verified.identity.as_ref().and_then(|i| i.agent()) else {
            return Ok(verified);
        };
        let id = AgentTokenId::new(agent.issuer.clone(), agent.jti.clone());
        if inner
            .revocations
            .is_revoked(&id)
            .await
            .map_err(|_| Rejection::Unavailable)?
        {
            // P names no code for this; SK-09 calls it `revoked_jwt`, which an agent may not
            // know yet, so the draft's `invalid_jwt` is what goes on the wire.
            return Err(Rejection::Signature(VerifyError::Resolver {
                code: SignatureErrorCode::InvalidJwt,
                detail: "the agent token has been revoked".to_owned(),
            }));
        }
        inner
            .revocations
            .record(&id, Some(&agent.agent_id), agent.expires_at)
            .await
            .map_err(|_| Rejection::Unavailable)?;
        Ok(verified)
    }

    async fn authenticate_in(&self, parts: &Parts) -> Result<Authenticated, Response> {
        let span = tracing::Span::current();
        let inner = &self.inner;
        let now = self.now();
        let target = RequestTarget {
            method: &parts.method,
            scheme: inner.verifier.config().scheme.as_str(),
            authority: inner.verifier.config().canonical_authority.as_str(),
            path: parts.uri.path(),
            query: parts.uri.query(),
            headers: &parts.headers,
        };
        let verified = match self.verify_signature(&target, now).await {
            Ok(v) => v,
            Err(Rejection::Unavailable) => {
                span.record("outcome", "unavailable");
                return Err(response::unavailable());
            }
            Err(Rejection::Signature(err)) => {
                let code = err.code();
                inner.metrics.signature_error(&code);
                span.record("outcome", "rejected");
                span.record("code", code.as_str());
                tracing::info!(target: "aauth::verify", outcome = "rejected", code = code.as_str(), "signature rejected");
                return Err(response::signature_failure(inner, &err));
            }
        };
        inner.metrics.verified();
        let agent = VerifiedAgent {
            thumbprint: verified.thumbprint.clone(),
            scheme: verified.scheme.clone(),
            agent_id: verified.agent_id().map(str::to_owned),
            algorithm: verified.algorithm,
            created: verified.created,
            covered: verified.covered.clone(),
            // A malformed header declares nothing rather than failing a verified request.
            capabilities: aauth_wire::capabilities::from_headers(&parts.headers)
                .ok()
                .flatten()
                .unwrap_or_default(),
        };
        span.record("outcome", "verified");
        span.record("jkt", agent.thumbprint.as_str());

        let token = match session_token_from_request(&parts.headers) {
            Ok(t) => t,
            Err(e) => {
                span.record("session", "malformed");
                return Err(response::invalid_request(&e.to_string()));
            }
        };
        let Some(token) = token else {
            span.record("session", "none");
            return Ok(Authenticated {
                agent,
                session: None,
                token: None,
            });
        };
        let grant = inner
            .sessions
            .lookup(&token, now)
            .await
            .map_err(|_| response::unavailable())?;
        // A session token is only good together with a signature by the key it was issued to
        // (SESS-03, SESS-07): a token replayed under another key is no session at all.
        let valid = grant.filter(|g| {
            g.binding.key_thumbprint == agent.thumbprint
                && (g.binding.agent_id.is_none() || g.binding.agent_id == agent.agent_id)
        });
        match (valid, inner.invalid_session) {
            (Some(g), _) => {
                span.record("session", "valid");
                Ok(Authenticated {
                    agent,
                    session: Some(g),
                    token: Some(token),
                })
            }
            // SESS-16 / AMB-02: a good signature with a bad session token is not a signature
            // error. Unknown, expired, revoked and foreign tokens look alike here on purpose.
            (None, InvalidSessionPolicy::Restart) => {
                inner.metrics.session_invalid();
                span.record("session", "invalid_restart");
                tracing::info!(target: "aauth::session", outcome = "invalid", "session token not valid for this agent; treating as absent");
                Ok(Authenticated {
                    agent,
                    session: None,
                    token: None,
                })
            }
            (None, InvalidSessionPolicy::Forbid) => {
                inner.metrics.session_invalid();
                span.record("session", "invalid_forbid");
                Err(Denied::new("the session token is not valid for this agent").into_response())
            }
        }
    }

    /// Rolling refresh (SESS-08): when the presented token is in the last part of its life,
    /// retire it (atomically, so only one concurrent request wins) and issue a successor with
    /// the same binding, person, scope and lifetime. The old token keeps working for the grace
    /// period.
    pub(crate) async fn maybe_refresh(
        &self,
        grant: &SessionGrant,
        token: &SessionToken,
    ) -> Option<SessionToken> {
        let inner = &self.inner;
        let percent = u64::from(inner.refresh_below_percent);
        if percent == 0 || grant.retired {
            return None;
        }
        let now = self.now();
        let lifetime = grant.lifetime();
        if grant.remaining(now).saturating_mul(100) >= lifetime.saturating_mul(percent) {
            return None;
        }
        let span = tracing::info_span!(
            "aauth.issue",
            reason = "refresh",
            outcome = tracing::field::Empty
        );
        self.refresh_in(token, now, lifetime).instrument(span).await
    }

    async fn refresh_in(
        &self,
        token: &SessionToken,
        now: u64,
        lifetime: u64,
    ) -> Option<SessionToken> {
        let inner = &self.inner;
        let span = tracing::Span::current();
        let before = match inner
            .sessions
            .retire(token, now, now.saturating_add(inner.refresh_grace))
            .await
        {
            Ok(Some(b)) => b,
            Ok(None) => {
                span.record("outcome", "lost_race");
                return None;
            }
            Err(_) => {
                span.record("outcome", "store_error");
                return None;
            }
        };
        let successor =
            SessionGrant::new(before.binding.clone(), now, now.saturating_add(lifetime))
                .with_person(before.person.clone())
                .with_scope(before.scope.clone());
        match inner.sessions.issue(successor).await {
            Ok(t) => {
                inner.metrics.session_refreshed();
                span.record("outcome", "refreshed");
                Some(t)
            }
            Err(_) => {
                span.record("outcome", "store_error");
                None
            }
        }
    }
}

/// The largest body buffered to check a `Content-Digest`.
pub(crate) const MAX_DIGESTED_BODY: usize = 8 * 1024 * 1024;

/// `true` when the request declares (`Content-Length`) a body larger than `limit`: refused
/// before a byte of it is read, instead of reading up to the limit first.
pub(crate) fn declared_length_exceeds(headers: &http::HeaderMap, limit: usize) -> bool {
    headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .is_some_and(|n| n > limit as u64)
}

pub(crate) fn covers_content_digest(agent: &VerifiedAgent) -> bool {
    agent.covered.iter().any(|c| c == "content-digest")
}

/// Compares a covered `Content-Digest` with the body (`Some` is the refusal); a mismatch means the body is not the one
/// that was signed, which is answered like a signature that does not verify.
pub(crate) fn check_content_digest(
    resource: &AAuthResource,
    headers: &http::HeaderMap,
    body: &[u8],
) -> Option<Response> {
    aauth_sig::digest::verify_content_digest(headers, body)
        .err()
        .map(|e| {
            let err = VerifyError::Resolver {
                code: SignatureErrorCode::InvalidSignature,
                // The error's text already names the field.
                detail: e.to_string(),
            };
            resource
                .inner
                .metrics
                .signature_error(&SignatureErrorCode::InvalidSignature);
            response::signature_failure(&resource.inner, &err)
        })
}

/// Why a request's signature was not accepted.
enum Rejection {
    Signature(VerifyError),
    /// A store (replay cache, revocations) could not answer.
    Unavailable,
}

/// The replay-cache key: a digest over who signed, when, what, and the signature bytes of the
/// verified label, so a verbatim replay collides and two genuine requests do not (see
/// `aauth_sig::replay` on deterministic Ed25519 and the signer's `nonce`).
fn replay_key(verified: &aauth_sig::VerifiedSignature, target: &RequestTarget<'_>) -> [u8; 32] {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    for part in [
        verified.thumbprint.as_str().as_bytes(),
        &verified.created.to_be_bytes(),
        target.method.as_str().as_bytes(),
        target.authority.as_bytes(),
        target.path.as_bytes(),
        verified.label.as_bytes(),
    ] {
        // Length-prefixed, so no two tuples share an encoding.
        ctx.update(&(part.len() as u64).to_be_bytes());
        ctx.update(part);
    }
    for v in target.headers.get_all(aauth_wire::headers::SIGNATURE) {
        ctx.update(v.as_bytes());
    }
    let mut out = [0u8; 32];
    out.copy_from_slice(ctx.finish().as_ref());
    out
}

/// See [`AAuthResource::layer`].
#[derive(Clone, Debug)]
pub struct AAuthLayer {
    resource: AAuthResource,
}

impl<S> Layer<S> for AAuthLayer {
    type Service = AAuthService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        AAuthService {
            inner,
            resource: self.resource.clone(),
        }
    }
}

/// The service produced by [`AAuthLayer`].
#[derive(Clone, Debug)]
pub struct AAuthService<S> {
    inner: S,
    resource: AAuthResource,
}

impl<S> Service<Request<Body>> for AAuthService<S>
where
    S: Service<Request<Body>, Response = Response> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<Body>) -> Self::Future {
        // Take the service that was driven to readiness and leave a clone in its place.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let resource = self.resource.clone();
        Box::pin(async move {
            let (mut parts, body) = req.into_parts();
            let auth = match resource.authenticate(&parts).await {
                Ok(a) => a,
                Err(resp) => return Ok(resp),
            };
            // A signature that covers `content-digest` protects the body only if the digest is
            // checked against it (RFC 9530): buffer (bounded) and compare before the handler.
            let body = if covers_content_digest(&auth.agent) {
                if declared_length_exceeds(&parts.headers, MAX_DIGESTED_BODY) {
                    return Ok(response::payload_too_large());
                }
                match axum::body::to_bytes(body, MAX_DIGESTED_BODY).await {
                    Ok(bytes) => {
                        if let Some(resp) = check_content_digest(&resource, &parts.headers, &bytes)
                        {
                            return Ok(resp);
                        }
                        Body::from(bytes)
                    }
                    Err(_) => return Ok(response::payload_too_large()),
                }
            } else {
                body
            };
            parts.extensions.insert(auth.agent);
            parts
                .extensions
                .insert(SessionContext(auth.session.clone()));
            parts.extensions.insert(resource.clone());
            let mut resp = inner.call(Request::from_parts(parts, body)).await?;
            if let (Some(grant), Some(token)) = (&auth.session, &auth.token)
                && !resp.headers().contains_key(headers::AAUTH_ACCESS)
                && let Some(successor) = resource.maybe_refresh(grant, token).await
            {
                resp.headers_mut()
                    .insert(headers::AAUTH_ACCESS, access_header_value(&successor));
                resp.headers_mut().insert(
                    http::header::CACHE_CONTROL,
                    http::HeaderValue::from_static("no-store"),
                );
            }
            Ok(resp)
        })
    }
}
