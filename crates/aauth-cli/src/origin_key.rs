//! SK-25 in the CLI: `fetch`, `sign` and `demo` show each resource origin a key of its own,
//! derived from the key file (the agent library's default); `--one-key-for-all-origins` shows
//! every resource the key file's own key. `thumbprint --origin URL` prints what a resource
//! sees.
use aauth_agent::{AAuthClient, AAuthClientBuilder, origin_of};
use aauth_sig::{Algorithm, SigningKey};

/// The key file's key and whether resources see per-origin keys derived from it.
pub(crate) struct AgentKey {
    key: SigningKey,
    per_origin: bool,
}

impl AgentKey {
    pub(crate) fn new(key: SigningKey, per_origin: bool) -> Self {
        AgentKey { key, per_origin }
    }

    /// An `hwk` client builder for this key.
    pub(crate) fn builder(self) -> AAuthClientBuilder {
        AAuthClient::builder(self.key)
            .use_hwk()
            .per_origin_keys(self.per_origin)
    }

    /// A warning for an ES256 key with per-origin keys and sessions kept on disk: ring cannot
    /// derive P-256 keys, so every run shows the resource a fresh key and a saved session
    /// token never matches again.
    pub(crate) fn es256_note(&self, sessions_on_disk: bool) -> Option<&'static str> {
        (self.per_origin && sessions_on_disk && self.key.algorithm() == Algorithm::Es256).then_some(
            "note: with an ES256 key each run shows the resource a new key (per-origin keys \
             cannot be derived for P-256), so saved sessions are not reused; use an Ed25519 key \
             or --one-key-for-all-origins",
        )
    }
}

/// The origin of `url` and the key the resource there sees (Ed25519 keys only: an ES256
/// origin key is random per run, so nothing can be predicted).
pub(crate) fn key_seen_by(key: &SigningKey, url: &str) -> Result<(String, SigningKey), String> {
    let parsed = url::Url::parse(url).map_err(|e| format!("--origin {url:?}: {e}"))?;
    if !matches!(parsed.scheme(), "https" | "http") || !parsed.has_host() {
        return Err(format!("--origin {url:?}: not an http(s) URL"));
    }
    if !key.derives_stable_origin_keys() {
        return Err(
            "an ES256 key shows each resource a fresh random key on every run (per-origin keys \
             cannot be derived for P-256), so there is no fixed thumbprint to print"
                .to_owned(),
        );
    }
    let origin = origin_of(&parsed);
    let derived = key
        .derive_for_origin(&origin)
        .map_err(|e| format!("--origin {url:?}: {e}"))?;
    Ok((origin, derived))
}
