//! Session tokens (`AAuth-Access`, called "opaque access tokens" before protocol -11).
use std::fmt;

use aauth_wire::Thumbprint;
use aauth_wire::access::SessionToken;
use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::digest;
use subtle::ConstantTimeEq;

use crate::{StoreError, UnixTime, random_bytes};

/// What a session token is bound to: the key that signed the request that obtained it and, for
/// identified agents, the agent identifier (AMB-03).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionBinding {
    pub key_thumbprint: Thumbprint,
    pub agent_id: Option<String>,
}

/// What the resource granted when it issued a session token.
///
/// `#[non_exhaustive]`: build one with [`SessionGrant::new`] and the `with_*` methods, so that
/// adding a member later does not break callers.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SessionGrant {
    pub binding: SessionBinding,
    /// The person who approved, as the resource's authenticator named them.
    pub person: Option<String>,
    pub scope: Option<String>,
    pub issued_at: UnixTime,
    pub expires_at: UnixTime,
    /// Set once a successor token has replaced this one (rolling refresh, SESS-08). A retired
    /// token keeps working until its (shortened) `expires_at`, the grace period that lets
    /// requests already in flight finish, but it is never refreshed a second time.
    pub retired: bool,
}

impl SessionGrant {
    /// A grant bound to `binding`, valid from `issued_at` until `expires_at` (exclusive).
    pub fn new(binding: SessionBinding, issued_at: UnixTime, expires_at: UnixTime) -> Self {
        SessionGrant {
            binding,
            person: None,
            scope: None,
            issued_at,
            expires_at,
            retired: false,
        }
    }

    pub fn with_person(mut self, person: Option<String>) -> Self {
        self.person = person;
        self
    }

    pub fn with_scope(mut self, scope: Option<String>) -> Self {
        self.scope = scope;
        self
    }

    /// The lifetime the token was issued with; a refresh gives the successor the same.
    pub fn lifetime(&self) -> u64 {
        self.expires_at.saturating_sub(self.issued_at)
    }

    /// Seconds left at `now` (0 once expired).
    pub fn remaining(&self, now: UnixTime) -> u64 {
        self.expires_at.saturating_sub(now)
    }
}

/// SHA-256 of a session token: the only form in which a store keeps it (SESS-15).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct TokenHash([u8; 32]);

impl TokenHash {
    pub fn of(token: &SessionToken) -> Self {
        let d = digest::digest(&digest::SHA256, token.expose().as_bytes());
        let mut out = [0u8; 32];
        out.copy_from_slice(d.as_ref());
        TokenHash(out)
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Constant-time equality, for backends that compare a stored hash with a computed one.
    pub fn ct_eq(&self, other: &TokenHash) -> bool {
        self.0.ct_eq(&other.0).into()
    }

    /// Hex form, for backends that need a string key.
    pub fn to_hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }
}

impl fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A hash is not the secret, but there is no reason to print it either.
        f.write_str("TokenHash(..)")
    }
}

/// Draws a new session token: 256 bits from the OS CSPRNG, base64url (a valid token68).
pub fn generate_token() -> Result<SessionToken, StoreError> {
    let raw = random_bytes::<32>()?;
    SessionToken::parse(&URL_SAFE_NO_PAD.encode(raw)).map_err(|_| StoreError::Random)
}

/// Where session tokens live. Implementations keep only [`TokenHash`]es.
///
/// The operations are chosen so that a networked key-value backend can implement them without
/// server-side logic beyond an atomic "set if" (Redis: one hash per token hash with a TTL of
/// `expires_at - now`, plus one set per person, per key thumbprint and per agent id holding the
/// token hashes, each set's TTL extended to its newest member's expiry):
/// * [`issue`](Self::issue) writes the grant and adds its hash to the three index sets;
/// * [`retire`](Self::retire) is a compare-and-set on the `retired` flag (one Lua script in
///   the Redis backend);
/// * the `revoke_*` methods read an index set and delete its members. An index may name
///   tokens that have already expired; deleting them is harmless.
#[async_trait]
pub trait SessionTokenStore: Send + Sync + 'static {
    /// Generates a fresh token for `grant`, stores its hash and returns the token. The token is
    /// not recoverable from the store afterwards.
    async fn issue(&self, grant: SessionGrant) -> Result<SessionToken, StoreError>;

    /// The grant for `token` if it is known and `now < expires_at`.
    async fn lookup(
        &self,
        token: &SessionToken,
        now: UnixTime,
    ) -> Result<Option<SessionGrant>, StoreError>;

    /// Forgets `token`; `true` when it was known.
    async fn revoke(&self, token: &SessionToken) -> Result<bool, StoreError>;

    /// Rolling refresh, atomically: if `token` is known, not expired at `now` and not yet
    /// retired, marks it retired and shortens its life to `min(expires_at, not_after)`, then
    /// returns the grant as it was before. Returns `None` in every other case, so of two
    /// concurrent requests only one ever refreshes the same token.
    async fn retire(
        &self,
        token: &SessionToken,
        now: UnixTime,
        not_after: UnixTime,
    ) -> Result<Option<SessionGrant>, StoreError>;

    /// Revokes every token the person approved; returns how many were removed.
    async fn revoke_person(&self, person: &str) -> Result<usize, StoreError>;

    /// Revokes every token bound to this key thumbprint (a lost or rotated agent key).
    async fn revoke_key(&self, key_thumbprint: &Thumbprint) -> Result<usize, StoreError>;

    /// Revokes every token bound to this agent identifier (e.g. after its agent token was
    /// revoked, REV-07).
    async fn revoke_agent(&self, agent_id: &str) -> Result<usize, StoreError>;
}
