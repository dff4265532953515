//! SK-25 (SK8 §8.1): an `hwk` agent is pseudonymous, so it signs for each resource origin with
//! a key of its own; two resources comparing thumbprints cannot tell they serve the same agent.
use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use aauth_sig::{
    Algorithm, KeyError, RequestTarget, SignError, SignOptions, Signer, SigningKey, Thumbprint,
};
use http::HeaderMap;
use url::Url;

use crate::signer::RequestSigner;

/// Signs with `hwk` and a distinct key per resource origin, derived from one master key with
/// [`SigningKey::derive_for_origin`]. The default signer of [`crate::AAuthClient::builder`]
/// (opt out with [`crate::AAuthClientBuilder::one_key_for_all_origins`]).
///
/// - **Ed25519** master: each origin's key is derived deterministically, so the same master
///   key gives the same key for an origin in every process and session tokens kept in a
///   [`crate::FileSessionCache`] stay usable across runs.
/// - **ES256** master: ring cannot derive a P-256 key, so each origin gets a fresh random key
///   the first time it is signed for, kept for the life of this signer. A new process (or a
///   new client) is a new identity at every origin, and a session token saved by an earlier
///   run no longer matches; keep origin keys yourself and hand them back with
///   [`PerOriginSigner::with_origin_key`] if that matters, or use Ed25519.
///
/// Origin keys are cached in an unbounded map, one entry per origin actually signed for, the
/// same growth as the client's session, metadata and learned-component maps. It is not
/// bounded on purpose: evicting an ES256 origin key would silently change the agent's identity
/// at that origin (and orphan its session token), and an agent talks to a handful of origins,
/// not millions.
pub struct PerOriginSigner {
    master: SigningKey,
    keys: Mutex<HashMap<String, Arc<Signer>>>,
}

impl fmt::Debug for PerOriginSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PerOriginSigner")
            .field("alg", &self.master.algorithm())
            .field("master", &self.master.thumbprint())
            .field("origins", &lock(&self.keys).len())
            .finish()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A poisoned lock only means another thread panicked mid-insert; the map stays sound.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// `scheme://host[:port]` as [`crate::origin_of`] writes it (lowercase host, default port
/// dropped), so an origin named by a URL, by an origin string or by a request target finds
/// the same key. Strings that are not absolute URLs are kept as given (the derivation then
/// refuses them).
fn canonical(origin: &str) -> String {
    match Url::parse(origin) {
        Ok(u) if u.has_host() => crate::origin_of(&u),
        _ => origin.to_owned(),
    }
}

impl PerOriginSigner {
    /// A signer deriving one key per origin from `master`.
    pub fn new(master: SigningKey) -> Self {
        PerOriginSigner {
            master,
            keys: Mutex::new(HashMap::new()),
        }
    }

    /// Use `key` for `origin` (a URL or `scheme://host[:port]`) instead of deriving one, e.g.
    /// an ES256 origin key saved by an earlier run. Its algorithm must be the master's (the
    /// client checks resources' `accept_signature_algs` against it).
    pub fn with_origin_key(self, origin: &str, key: SigningKey) -> Result<Self, KeyError> {
        if key.algorithm() != self.master.algorithm() {
            return Err(KeyError::AlgorithmMismatch(
                self.master.algorithm().jose_name().into(),
            ));
        }
        lock(&self.keys).insert(canonical(origin), Arc::new(Signer::hwk(key)));
        Ok(self)
    }

    /// The master key the origin keys come from. No resource sees it.
    pub fn master(&self) -> &SigningKey {
        &self.master
    }

    /// The key used for `origin` (a URL or `scheme://host[:port]`), derived on first use.
    /// Handle it as a secret.
    pub fn key_for(&self, origin: &str) -> Result<SigningKey, KeyError> {
        Ok(self.signer_for(origin)?.key().clone())
    }

    /// Whether an origin's key is the same in every process (Ed25519) or only for the life of
    /// this signer (ES256).
    pub fn stable_across_restarts(&self) -> bool {
        self.master.derives_stable_origin_keys()
    }

    fn signer_for(&self, origin: &str) -> Result<Arc<Signer>, KeyError> {
        let origin = canonical(origin);
        // Held while deriving: two first requests to one origin must not get two different
        // (ES256, random) keys. Deriving costs microseconds.
        let mut keys = lock(&self.keys);
        if let Some(s) = keys.get(&origin) {
            return Ok(Arc::clone(s));
        }
        let signer = Arc::new(Signer::hwk(self.master.derive_for_origin(&origin)?));
        keys.insert(origin, Arc::clone(&signer));
        Ok(signer)
    }

    fn signer_for_target(&self, target: &RequestTarget<'_>) -> Result<Arc<Signer>, SignError> {
        let origin = format!("{}://{}", target.scheme, target.authority);
        Ok(self.signer_for(&origin)?)
    }
}

impl RequestSigner for PerOriginSigner {
    /// The master key's thumbprint: this agent's own name for itself, seen by no resource.
    fn thumbprint(&self) -> Thumbprint {
        self.master.thumbprint()
    }

    fn thumbprint_for(&self, origin: &str) -> Thumbprint {
        // Only an ES256 RNG failure or a non-URL origin lands here; the session cache then
        // keys on the master thumbprint, and signing for that origin fails anyway.
        self.signer_for(origin)
            .map(|s| s.thumbprint())
            .unwrap_or_else(|_| self.master.thumbprint())
    }

    fn algorithm(&self) -> Algorithm {
        self.master.algorithm()
    }

    fn sign(
        &self,
        target: &RequestTarget<'_>,
        headers: &mut HeaderMap,
        opts: &SignOptions,
    ) -> Result<(), SignError> {
        self.signer_for_target(target)?.sign(target, headers, opts)
    }

    fn signature_base(
        &self,
        target: &RequestTarget<'_>,
        headers: &mut HeaderMap,
        opts: &SignOptions,
    ) -> Result<String, SignError> {
        self.signer_for_target(target)?
            .signature_base(target, headers, opts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sk_25_origin_spellings_share_one_cache_entry() {
        let s = PerOriginSigner::new(SigningKey::generate(Algorithm::Es256).unwrap());
        let a = s.thumbprint_for("https://R.example:443");
        assert_eq!(s.thumbprint_for("https://r.example"), a);
        assert_eq!(s.thumbprint_for("https://r.example/some/path?q"), a);
        assert_ne!(s.thumbprint_for("https://r.example:8443"), a);
        assert_eq!(lock(&s.keys).len(), 2);
        assert!(!s.stable_across_restarts());
    }

    #[test]
    fn sk_25_a_given_origin_key_is_used_and_must_match_the_algorithm() {
        let master = SigningKey::generate(Algorithm::Es256).unwrap();
        let saved = SigningKey::generate(Algorithm::Es256).unwrap();
        let s = PerOriginSigner::new(master)
            .with_origin_key("https://r.example/", saved.clone())
            .unwrap();
        assert_eq!(s.thumbprint_for("https://r.example"), saved.thumbprint());
        let ed = SigningKey::generate(Algorithm::Ed25519).unwrap();
        assert!(s.with_origin_key("https://x.example", ed).is_err());
    }
}
