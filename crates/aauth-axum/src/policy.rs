//! The application's say over each verified request.
use std::sync::Arc;

use aauth_store::SessionGrant;
use aauth_wire::Thumbprint;
use http::Method;

use crate::extract::VerifiedAgent;

/// What the resource does with a verified request.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Decision {
    /// Serve it (RM-15 when there is no session yet: authorised on the agent's identity alone).
    Allow,
    /// A person must approve first: answer `202` with an interaction requirement (RM-02).
    Interact { scope: Option<String> },
    /// Refuse: `403` with `{"error":"denied"}` and no signature headers (SIG-28).
    Deny,
}

/// What a policy sees.
#[derive(Debug)]
#[non_exhaustive]
pub struct PolicyContext<'a> {
    pub agent: &'a VerifiedAgent,
    /// The session the request carried, if it was valid for this agent.
    pub session: Option<&'a SessionGrant>,
    pub method: &'a Method,
    pub path: &'a str,
}

pub(crate) type PolicyFn = Arc<dyn Fn(&PolicyContext<'_>) -> Decision + Send + Sync>;

/// Requests with a valid session are allowed; all others need a person's approval.
pub(crate) fn default_policy() -> PolicyFn {
    Arc::new(|ctx: &PolicyContext<'_>| {
        if ctx.session.is_some() {
            Decision::Allow
        } else {
            Decision::Interact { scope: None }
        }
    })
}

/// What [`ResourceBuilder::session_terms`](crate::ResourceBuilder::session_terms) sees when a
/// session token is about to be issued.
#[derive(Debug)]
#[non_exhaustive]
pub struct GrantContext<'a> {
    pub key_thumbprint: &'a Thumbprint,
    pub agent_id: Option<&'a str>,
    /// The person who approved.
    pub person: Option<&'a str>,
    /// The scope the policy asked for when it required the interaction.
    pub requested_scope: Option<&'a str>,
}

/// The scope and lifetime of a session token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionTerms {
    pub scope: Option<String>,
    /// Seconds; `0` means the approval is delivered without a session token.
    pub ttl: u64,
}

pub(crate) type TermsFn = Arc<dyn Fn(&GrantContext<'_>) -> SessionTerms + Send + Sync>;
