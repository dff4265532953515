//! Revocation state for agent tokens, keyed by `(iss, jti)` (REV-04).
//!
//! A resource that accepts agent tokens directly is the only place their revocation can take
//! effect (REV-02), and the draft answers `404` for a pair it does not recognise (REV-05). A
//! two-party resource therefore remembers the `(iss, jti, exp)` of every agent token it has
//! accepted, until `exp` (AMB-21); after that the token is useless anyway and the entry can go.
use std::fmt;

use async_trait::async_trait;

use crate::{StoreError, UnixTime};

/// An agent token's identity for revocation: its issuer and its `jti`. Never `jti` alone.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct AgentTokenId {
    pub iss: String,
    pub jti: String,
}

impl AgentTokenId {
    pub fn new(iss: impl Into<String>, jti: impl Into<String>) -> Self {
        AgentTokenId {
            iss: iss.into(),
            jti: jti.into(),
        }
    }

    /// One string key for backends with flat keyspaces: the two parts are length-prefixed, so
    /// no choice of `iss` and `jti` can make two different pairs collide.
    pub fn storage_key(&self) -> String {
        format!("{}:{}{}", self.iss.len(), self.iss, self.jti)
    }
}

impl fmt::Debug for AgentTokenId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Not secrets: a jti identifies a token but cannot be used in its place.
        write!(f, "AgentTokenId({} / {})", self.iss, self.jti)
    }
}

/// What [`RevocationStore::revoke`] found.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RevokeOutcome {
    /// The token was known and is now revoked; `agent_id` is the agent it identified, so the
    /// caller can also end that agent's sessions (REV-07).
    Revoked { agent_id: Option<String> },
    /// The token was known and had already been revoked or had expired (still `200`, REV-05).
    AlreadyInvalid,
    /// The pair was never seen (`404`, REV-05).
    Unknown,
}

/// Where accepted agent tokens and their revocation are remembered.
///
/// Backend-neutral: one record per pair with a TTL of `exp - now`; `revoke` is an update of
/// that one record, so a Redis backend needs nothing beyond `HSET`/`HGETALL` with `EXPIRE`.
#[async_trait]
pub trait RevocationStore: Send + Sync + 'static {
    /// Remembers an accepted agent token until `expires_at`. Recording a pair again keeps an
    /// earlier revocation.
    async fn record(
        &self,
        id: &AgentTokenId,
        agent_id: Option<&str>,
        expires_at: UnixTime,
    ) -> Result<(), StoreError>;

    /// Revokes the token named by `id`.
    async fn revoke(&self, id: &AgentTokenId, now: UnixTime) -> Result<RevokeOutcome, StoreError>;

    /// `true` when the pair has been revoked (and has not yet expired).
    async fn is_revoked(&self, id: &AgentTokenId) -> Result<bool, StoreError>;
}
