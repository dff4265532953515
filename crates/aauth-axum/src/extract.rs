//! Extractors. Their rejections are complete AAuth responses, so a handler that takes them
//! needs no error handling of its own.
use aauth_sig::Algorithm;
use aauth_store::SessionGrant;
use aauth_wire::Thumbprint;
use aauth_wire::signature_key::Scheme;
use axum::extract::FromRequestParts;
use axum::response::{IntoResponse, Response};
use http::request::Parts;

use crate::AAuthResource;
use crate::policy::{Decision, PolicyContext};
use crate::response::{self, Denied};

/// The agent whose HTTP Message Signature the [`AAuthLayer`](crate::AAuthLayer) verified.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct VerifiedAgent {
    /// RFC 7638 thumbprint of the signing key: the identity of a pseudonymous (`hwk`) agent.
    pub thumbprint: Thumbprint,
    pub scheme: Scheme,
    /// The agent identifier (`aauth:local@domain`) when the agent signed with an agent token.
    pub agent_id: Option<String>,
    pub algorithm: Algorithm,
    /// The signature's `created` (Unix seconds).
    pub created: u64,
    /// The covered components, in signed order.
    pub covered: Vec<String>,
    /// What the agent declared it can handle in `AAuth-Capabilities`, in its order, unknown
    /// values included (CAP-03: ignored by this crate, an application may know them). Empty
    /// when the header is absent or malformed: nothing is assumed (CAP-04).
    pub capabilities: Vec<String>,
}

impl VerifiedAgent {
    /// Whether the agent declared `capability` (e.g. `interaction`) in `AAuth-Capabilities`.
    pub fn declares(&self, capability: &str) -> bool {
        self.capabilities.iter().any(|c| c == capability)
    }
}

/// The session carried by the request, after the layer checked it: `None` when the request had
/// no `Authorization: AAuth` or the token was not valid for this agent.
#[derive(Clone, Debug)]
pub(crate) struct SessionContext(pub Option<SessionGrant>);

impl<S: Send + Sync> FromRequestParts<S> for VerifiedAgent {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<VerifiedAgent>()
            .cloned()
            .ok_or_else(response::layer_missing)
    }
}

/// A request the application's policy allowed: either it carries a valid session token bound
/// to the signing key, or the policy authorised the agent on its identity alone.
///
/// When the policy asks for a person's approval the rejection is the `202` interaction
/// response (a new pending request is created); when it denies, a `403`.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Authorized {
    pub agent: VerifiedAgent,
    pub session: Option<SessionGrant>,
}

impl Authorized {
    /// The person who approved the session, if any.
    pub fn person(&self) -> Option<&str> {
        self.session.as_ref().and_then(|s| s.person.as_deref())
    }

    pub fn scope(&self) -> Option<&str> {
        self.session.as_ref().and_then(|s| s.scope.as_deref())
    }
}

/// What [`AAuthLayer`](crate::AAuthLayer) left in the request: the resource and the verified
/// agent. Missing means the layer is not in front of the route, a wiring error (500).
fn layer_outputs(parts: &Parts) -> Option<(AAuthResource, VerifiedAgent)> {
    let resource = parts.extensions.get::<AAuthResource>().cloned();
    let agent = parts.extensions.get::<VerifiedAgent>().cloned();
    resource.zip(agent)
}

impl<S: Send + Sync> FromRequestParts<S> for Authorized {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let (resource, agent) = layer_outputs(parts).ok_or_else(response::layer_missing)?;
        let session = parts
            .extensions
            .get::<SessionContext>()
            .and_then(|s| s.0.clone());
        let decision = {
            let ctx = PolicyContext {
                agent: &agent,
                session: session.as_ref(),
                method: &parts.method,
                path: parts.uri.path(),
            };
            (resource.inner.policy)(&ctx)
        };
        match decision {
            Decision::Allow => Ok(Authorized { agent, session }),
            Decision::Deny => {
                Err(Denied::new("the resource's policy refused this request").into_response())
            }
            Decision::Interact { scope } => Err(resource
                .require_interaction(&agent, &parts.method, shown_target(&parts.uri), scope)
                .await
                .into_response()),
        }
    }
}

/// A handler-side helper for applications that decide themselves, inside the handler, that a
/// person must approve (for example only for some records). Taking it never rejects; calling
/// [`RequireInteraction::respond`] creates the pending request and returns the `202`.
///
/// ```no_run
/// use aauth_axum::{RequireInteraction, VerifiedAgent};
/// use axum::response::{IntoResponse, Response};
///
/// async fn delete_everything(agent: VerifiedAgent, gate: RequireInteraction) -> Response {
///     // This operation always needs a person, whatever session the agent has.
///     gate.respond(Some("admin".to_owned())).await
/// }
/// ```
/// What the person is shown as the request: the path with its query, since the query is
/// often what the request is about (and is not covered by the mandatory signature components,
/// SIG-36, so the person is the one who can notice it).
fn shown_target(uri: &http::Uri) -> &str {
    uri.path_and_query().map_or(uri.path(), |pq| pq.as_str())
}

#[derive(Clone, Debug)]
pub struct RequireInteraction {
    resource: AAuthResource,
    agent: VerifiedAgent,
    method: http::Method,
    path: String,
}

impl RequireInteraction {
    /// The `202` interaction response for this request, asking for `scope`.
    pub async fn respond(self, scope: Option<String>) -> Response {
        self.resource
            .require_interaction(&self.agent, &self.method, &self.path, scope)
            .await
    }
}

impl<S: Send + Sync> FromRequestParts<S> for RequireInteraction {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let (resource, agent) = layer_outputs(parts).ok_or_else(response::layer_missing)?;
        Ok(RequireInteraction {
            resource,
            agent,
            method: parts.method.clone(),
            path: shown_target(&parts.uri).to_owned(),
        })
    }
}
