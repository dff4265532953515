//! An optional replay guard (SIG-19, P "Freshness and Replay").
//!
//! P suggests keying the cache on `(thumbprint, created, @method, @authority, @path)`. That
//! key cannot tell a replay from a second legitimate request to the same path in the same
//! second, which the guard must not reject. We therefore add the signature bytes to the key:
//!
//! * a captured request replayed verbatim has the same signature bytes and is rejected;
//! * ES256 signatures are randomised, so two genuine requests never collide;
//! * Ed25519 is deterministic, so two genuine requests collide only if their whole signature
//!   base is identical. Our [`crate::Signer`] prevents that with [`crate::Signer::with_nonce`]
//!   (a random `nonce` signature parameter, which is part of the base; SIG-17 lets the
//!   verifier ignore its value). A peer that sends byte-identical Ed25519 requests in the same
//!   second is indistinguishable from a replay, and is treated as one.
//!
//! Only signatures that verified are recorded, so unauthenticated callers cannot fill the
//! cache with garbage; the memory implementation is bounded anyway (SK-23) and fails closed
//! when full of live entries.

use std::collections::HashMap;
use std::fmt;
use std::sync::Mutex;

use thiserror::Error;

/// Why the guard refused.
#[derive(Debug, Error, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReplayError {
    /// Seen before within the window.
    #[error("signature already seen")]
    Replayed,
    /// The guard is full of live entries and cannot record more.
    #[error("replay guard is full")]
    Full,
}

/// Which requests the guard looks at.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ReplayScope {
    /// Methods that are not safe (RFC 9110 §9.2.1): P limits the cache to state-changing
    /// requests.
    #[default]
    UnsafeMethods,
    /// Every request.
    AllMethods,
}

impl ReplayScope {
    pub(crate) fn applies_to(self, method: &http::Method) -> bool {
        match self {
            ReplayScope::AllMethods => true,
            ReplayScope::UnsafeMethods => !method.is_safe(),
        }
    }
}

/// A store of recently seen signatures. `key` is a SHA-256 over the tuple described in the
/// module docs; `expires_at` is when the signature leaves the freshness window.
pub trait ReplayGuard: Send + Sync + fmt::Debug {
    /// Records `key`, or reports that it is already recorded and not yet expired.
    fn check_and_record(&self, key: [u8; 32], expires_at: u64, now: u64)
    -> Result<(), ReplayError>;
}

/// In-memory [`ReplayGuard`] with a fixed capacity.
#[derive(Debug)]
pub struct MemoryReplayGuard {
    capacity: usize,
    seen: Mutex<HashMap<[u8; 32], u64>>,
}

impl MemoryReplayGuard {
    /// A guard holding at most `capacity` live signatures.
    pub fn new(capacity: usize) -> Self {
        MemoryReplayGuard {
            capacity: capacity.max(1),
            seen: Mutex::new(HashMap::new()),
        }
    }

    /// Signatures currently recorded.
    pub fn len(&self) -> usize {
        self.seen.lock().map(|s| s.len()).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Default for MemoryReplayGuard {
    fn default() -> Self {
        MemoryReplayGuard::new(100_000)
    }
}

impl ReplayGuard for MemoryReplayGuard {
    fn check_and_record(
        &self,
        key: [u8; 32],
        expires_at: u64,
        now: u64,
    ) -> Result<(), ReplayError> {
        let mut seen = match self.seen.lock() {
            Ok(s) => s,
            Err(poisoned) => poisoned.into_inner(),
        };
        if let Some(&until) = seen.get(&key)
            && until >= now
        {
            return Err(ReplayError::Replayed);
        }
        if seen.len() >= self.capacity {
            seen.retain(|_, until| *until >= now);
            if seen.len() >= self.capacity {
                return Err(ReplayError::Full);
            }
        }
        seen.insert(key, expires_at);
        Ok(())
    }
}

/// The guard key: SHA-256 over length-prefixed parts, so no two tuples share an encoding.
pub(crate) fn replay_key(
    thumbprint: &str,
    created: u64,
    method: &str,
    authority: &str,
    path: &str,
    signature: &[u8],
) -> [u8; 32] {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    for part in [
        thumbprint.as_bytes(),
        &created.to_be_bytes(),
        method.as_bytes(),
        authority.as_bytes(),
        path.as_bytes(),
        signature,
    ] {
        ctx.update(&(part.len() as u64).to_be_bytes());
        ctx.update(part);
    }
    let mut out = [0u8; 32];
    out.copy_from_slice(ctx.finish().as_ref());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sig_19_memory_guard_rejects_duplicates_until_expiry_and_is_bounded() {
        let g = MemoryReplayGuard::new(2);
        let k1 = replay_key("t", 1, "POST", "a", "/", b"s1");
        let k2 = replay_key("t", 1, "POST", "a", "/", b"s2");
        let k3 = replay_key("t", 1, "POST", "a", "/x", b"s1");
        assert_eq!(g.check_and_record(k1, 100, 10), Ok(()));
        assert_eq!(g.check_and_record(k1, 100, 11), Err(ReplayError::Replayed));
        assert_eq!(g.check_and_record(k2, 100, 11), Ok(()));
        assert_eq!(g.check_and_record(k3, 100, 12), Err(ReplayError::Full));
        // After expiry the old entries are swept and the key may be used again.
        assert_eq!(g.check_and_record(k3, 300, 101), Ok(()));
        assert_eq!(g.check_and_record(k1, 300, 101), Ok(()));
        assert_eq!(g.len(), 2);
    }
}
