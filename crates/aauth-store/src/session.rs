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
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionGrant {
    pub binding: SessionBinding,
    /// The person who approved, as the resource's authenticator named them.
    pub person: Option<String>,
    pub scope: Option<String>,
    pub issued_at: UnixTime,
    pub expires_at: UnixTime,
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
}
