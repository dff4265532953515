//! The agent side of `scheme=jwt`: the agent token, and keeping it fresh.
//!
//! An agent signs with the private half of its token's `cnf.jwk` and presents the token in
//! `Signature-Key` (AGT-08). Tokens live at most a day (AGT-06), so a long-running agent
//! refreshes them; how a token is obtained is platform-specific (P "Agent Token
//! Acquisition"), hence the [`TokenRefresher`] trait. [`RefreshingSigner`] hands out a
//! [`Signer`] whose token has at least a margin of life left, refreshing single-flight.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use thiserror::Error;

use crate::keys::SigningKey;
use crate::signer::Signer;

/// A compact agent token as the agent holds it. Opaque to the agent apart from its `exp`,
/// which is read (unverified) to schedule refreshes. `Debug` is redacted.
#[derive(Clone, PartialEq, Eq)]
pub struct AgentToken {
    compact: String,
    expires_at: Option<u64>,
}

impl fmt::Debug for AgentToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AgentToken")
            .field("token", &"<redacted>")
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// The token is not a compact JWS.
#[derive(Debug, Error, Clone, Copy, PartialEq, Eq)]
#[error("not a compact JWT")]
pub struct MalformedToken;

impl AgentToken {
    /// Wraps a compact JWT after a shape check (three base64url segments).
    pub fn new(compact: impl Into<String>) -> Result<Self, MalformedToken> {
        let compact = compact.into();
        let parts: Vec<&str> = compact.split('.').collect();
        let b64 = |s: &str| {
            !s.is_empty()
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        };
        if parts.len() != 3 || !parts.iter().all(|p| b64(p)) {
            return Err(MalformedToken);
        }
        let expires_at = URL_SAFE_NO_PAD
            .decode(parts[1])
            .ok()
            .and_then(|p| serde_json::from_slice::<serde_json::Value>(&p).ok())
            .and_then(|v| v.get("exp").and_then(crate::resolver::numeric_date));
        Ok(AgentToken {
            compact,
            expires_at,
        })
    }

    /// The compact serialisation, for the `Signature-Key` header.
    pub fn expose(&self) -> &str {
        &self.compact
    }

    /// The token's `exp`, as read without verification.
    pub fn expires_at(&self) -> Option<u64> {
        self.expires_at
    }
}

/// Refreshing the agent token failed.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RefreshError {
    /// The refresher could not obtain a token.
    #[error("agent token refresh failed: {0}")]
    Failed(String),
    /// The refresher returned a token that is already (nearly) expired.
    #[error("refreshed agent token is already expired")]
    Stale,
}

/// Obtains a new agent token for `key` (its public half becomes `cnf.jwk`).
#[async_trait]
pub trait TokenRefresher: Send + Sync {
    async fn refresh(&self, key: &SigningKey) -> Result<AgentToken, RefreshError>;
}

/// A `jwt` signer that keeps its agent token fresh.
pub struct RefreshingSigner {
    key: SigningKey,
    refresher: Arc<dyn TokenRefresher>,
    margin: Duration,
    nonce: bool,
    current: tokio::sync::Mutex<Option<AgentToken>>,
}

impl fmt::Debug for RefreshingSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RefreshingSigner")
            .field("key", &self.key)
            .field("margin", &self.margin)
            .finish_non_exhaustive()
    }
}

impl RefreshingSigner {
    /// No token yet: the first [`RefreshingSigner::signer`] call fetches one. Margin 60 s.
    pub fn new(key: SigningKey, refresher: Arc<dyn TokenRefresher>) -> Self {
        RefreshingSigner {
            key,
            refresher,
            margin: Duration::from_secs(60),
            nonce: false,
            current: tokio::sync::Mutex::new(None),
        }
    }

    /// Starts from a token the agent already holds.
    pub fn with_token(self, token: AgentToken) -> Self {
        RefreshingSigner {
            current: tokio::sync::Mutex::new(Some(token)),
            ..self
        }
    }

    /// Refresh when less than `margin` of the token's life is left.
    pub fn with_margin(mut self, margin: Duration) -> Self {
        self.margin = margin;
        self
    }

    /// Signers get [`Signer::with_nonce`].
    pub fn with_nonce(mut self, on: bool) -> Self {
        self.nonce = on;
        self
    }

    /// A signer whose token is valid for at least the margin at `now_unix`. Concurrent
    /// callers share one refresh.
    pub async fn signer(&self, now_unix: u64) -> Result<Signer, RefreshError> {
        let mut current = self.current.lock().await;
        let needs = |t: &AgentToken| {
            t.expires_at()
                .is_none_or(|exp| exp <= now_unix.saturating_add(self.margin.as_secs()))
        };
        if current.as_ref().is_none_or(needs) {
            let token = self.refresher.refresh(&self.key).await?;
            if token.expires_at().is_some_and(|exp| exp <= now_unix) {
                return Err(RefreshError::Stale);
            }
            *current = Some(token);
        }
        let token = current.as_ref().ok_or(RefreshError::Stale)?;
        Ok(Signer::jwt(self.key.clone(), token).with_nonce(self.nonce))
    }

    /// Drops the current token, e.g. after a resource answered `expired_jwt` or
    /// `revoked_jwt` (ERR-19); the next [`RefreshingSigner::signer`] refreshes.
    pub async fn invalidate(&self) {
        *self.current.lock().await = None;
    }
}
