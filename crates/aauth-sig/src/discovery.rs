//! Issuer metadata and JWKS discovery with the cache P "JWKS Discovery and Caching" asks for
//! (SK-14, SK-20, SK-22, SK-23).
//!
//! One slot per `(identity, dwk)`. A slot holds the last good JWKS and the bookkeeping that
//! limits fetches:
//! * fresh for `Cache-Control: max-age` (or `Expires`), default [`CacheConfig::default_ttl`],
//!   never longer than [`CacheConfig::max_age`] (24 h); `no-store`/`no-cache` make it stale at
//!   once, so the next lookup refetches (still subject to the floor);
//! * discarded entirely after `max_age` whatever the headers said, so removed keys stop being
//!   trusted;
//! * fetched at most once per [`CacheConfig::refetch_floor`] (one minute), including refreshes
//!   for an unknown `kid`; after failures the floor doubles up to [`CacheConfig::max_backoff`];
//! * stale-if-error: a failed refresh keeps serving the previous JWKS until it is discarded;
//! * single-flight: the slot is an async mutex, so concurrent misses wait for one fetch and
//!   then read its result.
//!
//! The number of slots is bounded (entries are created by unauthenticated callers, SK-23):
//! when full, slots unused for longer than `max_age` go first, then the least recently used.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use thiserror::Error;

use crate::fetch::{FetchError, Fetcher, HttpsUrl};

/// Why a key could not be discovered.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DiscoveryError {
    /// The metadata document has no string `issuer` (SK-20).
    #[error("metadata has no issuer")]
    IssuerMissing,
    /// The metadata `issuer` is not the identity it was fetched under (SK-14, SK-20).
    #[error("metadata issuer does not match")]
    IssuerMismatch,
    /// The JWKS has no key with this `kid`, even after the refresh the floor allows (ERR-14).
    #[error("no key with that kid")]
    UnknownKey,
    /// `jwks_uri` is on another origin than the metadata and that is not admitted (SK-21).
    #[error("jwks_uri is on another origin")]
    CrossOriginJwks,
    /// The identity or `dwk` cannot form a metadata URL.
    #[error("cannot build the metadata URL: {0}")]
    BadLocation(&'static str),
    /// A document is not what it should be (not JSON, no `jwks_uri`, no `keys`, too many keys).
    #[error("bad discovery document: {0}")]
    BadDocument(&'static str),
    /// Fetching failed or was refused by egress admission.
    #[error(transparent)]
    Fetch(#[from] FetchError),
}

/// Cache settings. `Default` follows the draft: 24 h cap, one fetch per minute per issuer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CacheConfig {
    /// Most issuers kept (SK-23).
    pub max_issuers: usize,
    /// Freshness when the JWKS response has no caching headers.
    pub default_ttl: Duration,
    /// Hard cap on how long a JWKS is used, whatever its headers say (SK-22: 24 h).
    pub max_age: Duration,
    /// Minimum interval between fetches for one issuer (SK-22: one minute).
    pub refetch_floor: Duration,
    /// Longest wait between retries after repeated failures (exponential backoff).
    pub max_backoff: Duration,
    /// Most keys read from a JWKS; a larger set is refused.
    pub max_keys: usize,
    /// Largest metadata or JWKS document (also bounded by the fetcher).
    pub max_document_bytes: usize,
    /// Admit a `jwks_uri` on another origin than the metadata document (SK-21: needs explicit
    /// admission; off by default).
    pub allow_cross_origin_jwks: bool,
}

impl Default for CacheConfig {
    fn default() -> Self {
        CacheConfig {
            max_issuers: 1024,
            default_ttl: Duration::from_secs(300),
            max_age: Duration::from_secs(24 * 3600),
            refetch_floor: Duration::from_secs(60),
            max_backoff: Duration::from_secs(3600),
            max_keys: 64,
            max_document_bytes: 64 * 1024,
            allow_cross_origin_jwks: false,
        }
    }
}

#[derive(Debug)]
struct CachedJwks {
    keys: Vec<Value>,
    fresh_until: u64,
    discard_at: u64,
}

impl CachedJwks {
    /// SK-10: select by `kid` only; other members are never interpreted.
    fn find(&self, kid: &str) -> Option<Value> {
        self.keys
            .iter()
            .find(|k| k.get("kid").and_then(Value::as_str) == Some(kid))
            .cloned()
    }
}

#[derive(Debug, Default)]
struct Slot {
    jwks: Option<CachedJwks>,
    last_attempt: Option<u64>,
    failures: u32,
    last_error: Option<DiscoveryError>,
}

impl Slot {
    fn may_fetch(&self, now: u64, cfg: &CacheConfig) -> bool {
        let Some(last) = self.last_attempt else {
            return true;
        };
        let floor = cfg.refetch_floor.as_secs();
        let wait = if self.failures == 0 {
            floor
        } else {
            floor
                .saturating_mul(1u64 << self.failures.min(16))
                .min(cfg.max_backoff.as_secs().max(floor))
        };
        now >= last.saturating_add(wait)
    }

    fn usable(&self, now: u64) -> Option<&CachedJwks> {
        self.jwks.as_ref().filter(|j| now < j.discard_at)
    }
}

type SlotRef = Arc<tokio::sync::Mutex<Slot>>;

/// The metadata + JWKS cache. Cheap to share behind an `Arc`.
pub struct JwksCache {
    fetcher: Arc<dyn Fetcher>,
    config: CacheConfig,
    slots: Mutex<HashMap<String, (SlotRef, u64)>>,
}

impl std::fmt::Debug for JwksCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwksCache")
            .field("config", &self.config)
            .field("issuers", &self.len())
            .finish_non_exhaustive()
    }
}

/// How a lookup should treat a cached key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Lookup {
    /// Use a fresh cached key.
    Normal,
    /// The cached key failed to verify: refetch if the floor allows (silent re-keying).
    Refresh,
}

impl JwksCache {
    pub fn new(fetcher: Arc<dyn Fetcher>, config: CacheConfig) -> Self {
        JwksCache {
            fetcher,
            config,
            slots: Mutex::new(HashMap::new()),
        }
    }

    pub fn config(&self) -> &CacheConfig {
        &self.config
    }

    /// Issuers currently cached.
    pub fn len(&self) -> usize {
        self.slots.lock().map(|s| s.len()).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn slot(&self, key: &str, now: u64) -> SlotRef {
        let mut slots = match self.slots.lock() {
            Ok(s) => s,
            Err(poisoned) => poisoned.into_inner(),
        };
        if let Some((slot, used)) = slots.get_mut(key) {
            *used = now;
            return slot.clone();
        }
        if slots.len() >= self.config.max_issuers {
            let idle = self.config.max_age.as_secs();
            slots.retain(|_, (_, used)| used.saturating_add(idle) > now);
            while slots.len() >= self.config.max_issuers.max(1) {
                let Some(oldest) = slots
                    .iter()
                    .min_by_key(|(_, (_, used))| *used)
                    .map(|(k, _)| k.clone())
                else {
                    break;
                };
                slots.remove(&oldest);
            }
        }
        let slot: SlotRef = Arc::default();
        slots.insert(key.to_owned(), (slot.clone(), now));
        slot
    }

    /// The JWK (as JSON) with `kid` published by `identity` through `{identity}/.well-known/
    /// {dwk}`. `identity` must already be validated by the caller (server identifier or
    /// https URL).
    pub async fn key(
        &self,
        identity: &str,
        dwk: &str,
        kid: &str,
        now: u64,
    ) -> Result<Value, DiscoveryError> {
        self.lookup(identity, dwk, kid, now, Lookup::Normal).await
    }

    pub(crate) async fn lookup(
        &self,
        identity: &str,
        dwk: &str,
        kid: &str,
        now: u64,
        mode: Lookup,
    ) -> Result<Value, DiscoveryError> {
        let meta_url = metadata_url(identity, dwk)?;
        let slot_ref = self.slot(&format!("{dwk} {identity}"), now);
        let mut slot = slot_ref.lock().await;
        if mode == Lookup::Normal
            && let Some(jwks) = slot.usable(now)
            && now < jwks.fresh_until
            && let Some(key) = jwks.find(kid)
        {
            return Ok(key);
        }
        if slot.may_fetch(now, &self.config) {
            slot.last_attempt = Some(now);
            match self.fetch(identity, &meta_url, now).await {
                Ok(jwks) => {
                    slot.jwks = Some(jwks);
                    slot.failures = 0;
                    slot.last_error = None;
                }
                Err(e) => {
                    tracing::warn!(
                        target: "aauth::discovery",
                        issuer = identity,
                        error = %e,
                        "key discovery failed"
                    );
                    slot.failures = slot.failures.saturating_add(1);
                    slot.last_error = Some(e);
                }
            }
        }
        match slot.usable(now) {
            Some(jwks) => jwks.find(kid).ok_or(DiscoveryError::UnknownKey),
            None => Err(slot
                .last_error
                .clone()
                .unwrap_or(DiscoveryError::UnknownKey)),
        }
    }

    async fn fetch(
        &self,
        identity: &str,
        meta_url: &HttpsUrl,
        now: u64,
    ) -> Result<CachedJwks, DiscoveryError> {
        let meta = self.get_json(meta_url).await?.0;
        let issuer = meta
            .get("issuer")
            .and_then(Value::as_str)
            .ok_or(DiscoveryError::IssuerMissing)?;
        if issuer.as_bytes() != identity.as_bytes() {
            return Err(DiscoveryError::IssuerMismatch);
        }
        let jwks_uri = meta
            .get("jwks_uri")
            .and_then(Value::as_str)
            .ok_or(DiscoveryError::BadDocument("metadata has no jwks_uri"))?;
        let jwks_url = HttpsUrl::parse(jwks_uri)?;
        if !self.config.allow_cross_origin_jwks && jwks_url.origin() != meta_url.origin() {
            return Err(DiscoveryError::CrossOriginJwks);
        }
        let (jwks, headers) = self.get_json(&jwks_url).await?;
        let Some(Value::Array(keys)) = jwks.get("keys") else {
            return Err(DiscoveryError::BadDocument("JWKS has no keys array"));
        };
        if keys.len() > self.config.max_keys {
            return Err(DiscoveryError::BadDocument("JWKS has too many keys"));
        }
        let cap = self.config.max_age.as_secs();
        let ttl = freshness(&headers, now)
            .unwrap_or(self.config.default_ttl.as_secs())
            .min(cap);
        Ok(CachedJwks {
            keys: keys.clone(),
            fresh_until: now.saturating_add(ttl),
            discard_at: now.saturating_add(cap),
        })
    }

    async fn get_json(&self, url: &HttpsUrl) -> Result<(Value, http::HeaderMap), DiscoveryError> {
        let resp = self.fetcher.get(url).await?;
        if resp.status != 200 {
            return Err(FetchError::Status(resp.status).into());
        }
        if resp.body.len() > self.config.max_document_bytes {
            return Err(FetchError::TooLarge(self.config.max_document_bytes).into());
        }
        match serde_json::from_slice::<Value>(&resp.body) {
            Ok(v @ Value::Object(_)) => Ok((v, resp.headers)),
            _ => Err(DiscoveryError::BadDocument("not a JSON object")),
        }
    }
}

/// `{identity}/.well-known/{dwk}`, with `dwk` limited to one safe path segment.
pub(crate) fn metadata_url(identity: &str, dwk: &str) -> Result<HttpsUrl, DiscoveryError> {
    let dwk_ok = !dwk.is_empty()
        && dwk.len() <= 128
        && dwk != "."
        && dwk != ".."
        && dwk
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if !dwk_ok {
        return Err(DiscoveryError::BadLocation(
            "dwk is not a single path segment",
        ));
    }
    if identity.ends_with('/') || identity.contains('?') {
        return Err(DiscoveryError::BadLocation(
            "identity has a trailing slash or query",
        ));
    }
    Ok(HttpsUrl::parse(&format!("{identity}/.well-known/{dwk}"))?)
}

/// Seconds of freshness from `Cache-Control` (`no-store`/`no-cache` → 0, `max-age`), else
/// `Expires` relative to `now`.
fn freshness(headers: &http::HeaderMap, now: u64) -> Option<u64> {
    let mut max_age = None;
    for value in headers.get_all(http::header::CACHE_CONTROL) {
        let Ok(value) = value.to_str() else { continue };
        for directive in value.split(',') {
            let d = directive.trim();
            let (name, arg) = match d.split_once('=') {
                Some((n, a)) => (n.trim(), Some(a.trim().trim_matches('"'))),
                None => (d, None),
            };
            if name.eq_ignore_ascii_case("no-store") || name.eq_ignore_ascii_case("no-cache") {
                return Some(0);
            }
            if name.eq_ignore_ascii_case("max-age")
                && let Some(secs) = arg.and_then(|a| a.parse::<u64>().ok())
            {
                max_age = Some(secs);
            }
        }
    }
    if max_age.is_some() {
        return max_age;
    }
    let expires = headers.get(http::header::EXPIRES)?.to_str().ok()?;
    let at = httpdate::parse_http_date(expires).ok()?;
    let at = at.duration_since(std::time::UNIX_EPOCH).ok()?.as_secs();
    Some(at.saturating_sub(now))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(pairs: &[(&'static str, &str)]) -> http::HeaderMap {
        let mut m = http::HeaderMap::new();
        for (k, v) in pairs {
            m.append(*k, v.parse().unwrap());
        }
        m
    }

    #[test]
    fn sk_22_cache_control_and_expires_set_freshness() {
        assert_eq!(
            freshness(&h(&[("cache-control", "public, max-age=120")]), 0),
            Some(120)
        );
        assert_eq!(freshness(&h(&[("cache-control", "no-store")]), 0), Some(0));
        assert_eq!(
            freshness(&h(&[("cache-control", "max-age=bogus")]), 0),
            None
        );
        assert_eq!(freshness(&h(&[]), 0), None);
        let now = 1_730_217_600;
        let exp = httpdate::fmt_http_date(std::time::UNIX_EPOCH + Duration::from_secs(now + 90));
        assert_eq!(freshness(&h(&[("expires", &exp)]), now), Some(90));
    }

    #[test]
    fn metadata_url_refuses_path_tricks() {
        assert!(metadata_url("https://agent.example", "aauth-agent.json").is_ok());
        for dwk in ["", "..", "a/b", "a?b", "a#b", "%2e%2e"] {
            assert!(metadata_url("https://agent.example", dwk).is_err(), "{dwk}");
        }
        assert!(metadata_url("https://agent.example/", "x").is_err());
        assert!(metadata_url("http://agent.example", "x").is_err());
    }
}
