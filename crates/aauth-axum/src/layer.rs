//! The verification layer: every request through it must carry a valid AAuth signature.
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use aauth_sig::RequestTarget;
use aauth_wire::access::session_token_from_request;
use aauth_wire::problem::ProblemDetails;
use axum::body::Body;
use axum::response::{IntoResponse, Response};
use http::request::Parts;
use http::{Request, StatusCode};
use tower::{Layer, Service};

use crate::AAuthResource;
use crate::config::InvalidSessionPolicy;
use crate::extract::{SessionContext, VerifiedAgent};
use crate::response::{self, Denied};

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
    pub(crate) async fn authenticate(
        &self,
        parts: &Parts,
    ) -> Result<(VerifiedAgent, SessionContext), Response> {
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
        let verified = match inner.verifier.verify(&target, now) {
            Ok(v) => v,
            Err(err) => {
                tracing::info!(
                    target: "aauth::verify",
                    outcome = "rejected",
                    code = err.code().as_str(),
                    method = %parts.method,
                    path = parts.uri.path(),
                    "signature rejected"
                );
                return Err(response::signature_failure(inner, &err));
            }
        };
        let agent = VerifiedAgent {
            thumbprint: verified.thumbprint.clone(),
            scheme: verified.scheme.clone(),
            agent_id: None,
            algorithm: verified.algorithm,
            created: verified.created,
            covered: verified.covered.clone(),
        };
        tracing::debug!(
            target: "aauth::verify",
            outcome = "verified",
            jkt = %agent.thumbprint,
            scheme = agent.scheme.as_str(),
            "signature verified"
        );

        let token = match session_token_from_request(&parts.headers) {
            Ok(t) => t,
            Err(e) => {
                let body = ProblemDetails::new("invalid_request", e.to_string());
                let mut resp = (StatusCode::BAD_REQUEST, body.to_json_bytes()).into_response();
                resp.headers_mut().insert(
                    http::header::CONTENT_TYPE,
                    http::HeaderValue::from_static(aauth_wire::problem::PROBLEM_JSON),
                );
                return Err(resp);
            }
        };
        let Some(token) = token else {
            return Ok((agent, SessionContext(None)));
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
            (Some(g), _) => Ok((agent, SessionContext(Some(g)))),
            (None, InvalidSessionPolicy::Restart) => {
                tracing::info!(target: "aauth::session", outcome = "invalid", "session token not valid for this agent; treating as absent");
                Ok((agent, SessionContext(None)))
            }
            (None, InvalidSessionPolicy::Forbid) => {
                Err(Denied::new("the session token is not valid for this agent").into_response())
            }
        }
    }
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
            match resource.authenticate(&parts).await {
                Ok((agent, session)) => {
                    parts.extensions.insert(agent);
                    parts.extensions.insert(session);
                    parts.extensions.insert(resource);
                    inner.call(Request::from_parts(parts, body)).await
                }
                Err(resp) => Ok(resp),
            }
        })
    }
}
