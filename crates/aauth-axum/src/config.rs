//! Resource configuration and the builder that checks it once, at start-up.
use std::sync::Arc;
use std::time::Duration;

use aauth_sig::{
    Algorithm, DiscoveryResolver, EgressPolicy, HwkAlgPolicy, Jwk, KeyResolver, NoDiscovery,
    ReplayScope, ReqwestFetcher, SigningKey, Verifier, VerifierConfig,
};
use aauth_store::memory::{MemoryPendingStore, MemoryRevocationStore, MemorySessionStore};
use aauth_store::{
    PendingLimits, PendingStore, ReplayStore, RevocationStore, SessionTokenStore, UnixTime,
};
use aauth_wire::Thumbprint;
use aauth_wire::signature_key::Scheme;
use thiserror::Error;
use url::Url;

use crate::interaction::{DevLoopbackPerson, InteractionAuthenticator};
use crate::metrics::Metrics;
use crate::pages::{DefaultPage, InteractionPage};
use crate::policy::{
    Decision, GrantContext, PolicyContext, PolicyFn, SessionTerms, TermsFn, default_policy,
};

/// The longest a pending request may be kept open for a person (30 days): long enough for any
/// approval a person gives by hand, short enough that expiry arithmetic and store TTLs stay
/// far from overflow.
pub const MAX_PENDING_TTL: u64 = 30 * 24 * 3600;

/// The longest `Prefer: wait` a resource may be configured to honour (5 minutes): a long poll
/// holds a connection and a store subscription the whole time.
pub const MAX_LONG_POLL: u64 = 300;

/// Default of [`ResourceBuilder::max_pending_per_agent`].
pub const DEFAULT_MAX_PENDING_PER_AGENT: u32 = 16;

/// Default of [`ResourceBuilder::max_pending_total`]: with the default 600 s lifetime, about
/// 166 new interactions a second sustained, and on the order of 100 MB of memory in the
/// in-memory store.
pub const DEFAULT_MAX_PENDING_TOTAL: u64 = 100_000;

/// What to do with a signed request whose `Authorization: AAuth` token is unknown, expired,
/// revoked or bound to another key. The draft defines no answer (AMB-02).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum InvalidSessionPolicy {
    /// Treat the request as carrying no session: the policy runs as for a new agent, usually
    /// answering with a fresh `202` interaction (SESS-16). The default.
    #[default]
    Restart,
    /// Answer `403` with `{"error":"denied"}`.
    Forbid,
}

/// Where the interaction page may send the person's browser when it is done (RM-22, AMB-25).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum CallbackPolicy {
    /// Any `https` URL without a fragment (plus `http` on loopback in development mode). The
    /// default: the draft requires honouring `callback`, and the redirect happens only after the
    /// person's own decision.
    #[default]
    AnyHttps,
    /// Ignore no callbacks but refuse them: the page answers `400` to a `callback` parameter.
    Disabled,
}

/// The `access_mode` value the metadata advertises (AMB-08).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum AccessModeName {
    /// `session-token` (protocol -11). The default.
    #[default]
    SessionToken,
    /// `aauth-access-token`, the name before -11, for older agents.
    LegacyAAuthAccessToken,
}

impl AccessModeName {
    pub fn as_str(&self) -> &'static str {
        match self {
            AccessModeName::SessionToken => "session-token",
            AccessModeName::LegacyAAuthAccessToken => "aauth-access-token",
        }
    }
}

/// The verifier's named leniency switches (docs/settings.md). Each one admits peers written
/// against an older draft revision or with a known encoding deviation; none is on by default.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Strictness {
    /// `hwk` keys with `alg` (SK-08, default), without it (SK-04…07), or either (AMB-01).
    pub hwk_alg: HwkAlgPolicy,
    /// Accept `EdDSA` and derive a missing `alg` for OKP/EC keys (AMB-44).
    pub legacy_algorithms: bool,
    /// Answer a future `created` with `clock_skew` (SK-09) instead of `invalid_signature` (AMB-10).
    pub clock_skew_code: bool,
    /// Accept `Signature` bytes written as base64url by lenient peers (not an sf-binary).
    pub accept_base64url_signatures: bool,
}

impl Default for Strictness {
    fn default() -> Self {
        Strictness {
            hwk_alg: HwkAlgPolicy::Required,
            legacy_algorithms: false,
            clock_skew_code: false,
            accept_base64url_signatures: false,
        }
    }
}

impl Strictness {
    /// Everything the seed-era and older peers need: `hwk` with or without `alg`, legacy
    /// algorithm names, base64url signature bytes.
    pub fn lenient() -> Self {
        Strictness {
            hwk_alg: HwkAlgPolicy::Either,
            legacy_algorithms: true,
            clock_skew_code: false,
            accept_base64url_signatures: true,
        }
    }
}

/// Configuration the builder refuses, with the reason.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ConfigError {
    #[error("public base URL is not a valid absolute URL: {0}")]
    BadBaseUrl(String),
    #[error(
        "the interaction URL must use https (RM-04); plain http is allowed only for loopback hosts \
         with allow_insecure_loopback()"
    )]
    InsecureBaseUrl,
    #[error("the public base URL must not carry a path, query or fragment (RM-04, RM-10)")]
    BaseUrlNotAnOrigin,
    #[error("at least one Signature-Key scheme must be accepted")]
    NoSchemes,
    #[error("scheme {0} cannot be verified by this library yet")]
    SchemeNotImplemented(String),
    #[error("{0} must be at least {1}")]
    TooSmall(&'static str, u64),
    #[error("{0} must be at most {1}")]
    TooLarge(&'static str, u64),
    #[error(
        "no InteractionAuthenticator: the interaction page must know who the person is (IC-07); \
         set one with .authenticator(...) (DevLoopbackPerson is allowed only on a loopback origin \
         with allow_insecure_loopback())"
    )]
    NoAuthenticator,
    #[error("refresh_below_percent must be at most 100")]
    RefreshPercent,
    #[error("issuer must be an https URL without query or fragment (MD-02): {0}")]
    BadIssuer(String),
}

pub(crate) struct Inner {
    pub verifier: Verifier,
    /// Finds the key for schemes that are not inline (`jwt`, `jwks_uri`).
    pub resolver: Arc<dyn KeyResolver>,
    /// The replay cache and which requests it covers, when on (SIG-19).
    pub replay: Option<(Arc<dyn ReplayStore>, ReplayScope)>,
    pub sessions: Arc<dyn SessionTokenStore>,
    pub pending: Arc<dyn PendingStore>,
    pub authenticator: Arc<dyn InteractionAuthenticator>,
    pub policy: PolicyFn,
    /// Origin the resource is reached at, without a trailing slash.
    pub origin: String,
    pub pending_prefix: &'static str,
    pub interaction_prefix: &'static str,
    pub pending_ttl: u64,
    pub pending_limits: PendingLimits,
    pub retry_after: u64,
    pub max_wait: u64,
    pub max_code_attempts: u32,
    pub interaction_timeout: u64,
    pub refresh_below_percent: u8,
    pub refresh_grace: u64,
    pub generic_signature_errors: bool,
    pub require_interaction_capability: bool,
    pub invalid_session: InvalidSessionPolicy,
    pub accepted_scheme_names: Vec<String>,
    pub accepted_alg_names: Vec<String>,
    pub clock: Arc<dyn Fn() -> UnixTime + Send + Sync>,
    pub revocations: Arc<dyn RevocationStore>,
    pub trusted_revokers: Vec<Thumbprint>,
    pub revoke_sessions_with_agent_token: bool,
    pub pages: Arc<dyn InteractionPage>,
    pub terms: TermsFn,
    pub metrics: Metrics,
    pub callback_policy: CallbackPolicy,
    pub insecure_loopback: bool,
    pub issuer: String,
    pub access_mode: AccessModeName,
    pub signing_keys: Vec<Jwk>,
    pub metadata_extra: serde_json::Map<String, serde_json::Value>,
    pub revocation_path: &'static str,
    pub jwks_path: &'static str,
}

/// A configured AAuth resource. Cheap to clone: everything lives behind one `Arc`.
#[derive(Clone)]
pub struct AAuthResource {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for AAuthResource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AAuthResource")
            .field("origin", &self.inner.origin)
            .field("schemes", &self.inner.accepted_scheme_names)
            .finish_non_exhaustive()
    }
}

impl AAuthResource {
    /// Starts a builder for a resource reached at `public_base_url` (scheme, host and port; the
    /// interaction and pending URLs are built on it and `@authority` is taken from it).
    pub fn builder(public_base_url: impl Into<String>) -> ResourceBuilder {
        ResourceBuilder::new(public_base_url.into())
    }

    pub(crate) fn now(&self) -> UnixTime {
        (self.inner.clock)()
    }

    /// The origin the resource is configured with, e.g. `https://resource.example`.
    pub fn origin(&self) -> &str {
        &self.inner.origin
    }

    /// The session-token store, for applications that revoke tokens or inspect grants.
    pub fn session_store(&self) -> &Arc<dyn SessionTokenStore> {
        &self.inner.sessions
    }

    /// The pending-request store.
    pub fn pending_store(&self) -> &Arc<dyn PendingStore> {
        &self.inner.pending
    }

    /// The agent-token revocation store.
    pub fn revocation_store(&self) -> &Arc<dyn RevocationStore> {
        &self.inner.revocations
    }

    /// The counters at this moment (signature errors by code, challenges, polls, sessions).
    pub fn metrics(&self) -> crate::MetricsSnapshot {
        self.inner.metrics.snapshot()
    }
}

/// Builds an [`AAuthResource`]; see [`AAuthResource::builder`].
pub struct ResourceBuilder {
    base_url: String,
    schemes: Vec<Scheme>,
    resolver: Option<Arc<dyn KeyResolver>>,
    replay: Option<(Arc<dyn ReplayStore>, ReplayScope)>,
    algorithms: Vec<Algorithm>,
    required_components: Vec<String>,
    window: Duration,
    strictness: Strictness,
    insecure_loopback: bool,
    sessions: Option<Arc<dyn SessionTokenStore>>,
    pending: Option<Arc<dyn PendingStore>>,
    authenticator: Option<Arc<dyn InteractionAuthenticator>>,
    policy: Option<PolicyFn>,
    pending_ttl: u64,
    pending_limits: PendingLimits,
    retry_after: u64,
    max_wait: u64,
    session_ttl: u64,
    max_code_attempts: u32,
    interaction_timeout: u64,
    refresh_below_percent: u8,
    refresh_grace: u64,
    generic_signature_errors: bool,
    require_interaction_capability: bool,
    invalid_session: InvalidSessionPolicy,
    clock: Option<Arc<dyn Fn() -> UnixTime + Send + Sync>>,
    revocations: Option<Arc<dyn RevocationStore>>,
    trusted_revokers: Vec<Thumbprint>,
    revoke_sessions_with_agent_token: bool,
    pages: Option<Arc<dyn InteractionPage>>,
    terms: Option<TermsFn>,
    callback_policy: CallbackPolicy,
    issuer: Option<String>,
    access_mode: AccessModeName,
    signing_keys: Vec<Jwk>,
    metadata_extra: serde_json::Map<String, serde_json::Value>,
}

impl ResourceBuilder {
    fn new(base_url: String) -> Self {
        ResourceBuilder {
            base_url,
            schemes: Vec::new(),
            resolver: None,
            replay: None,
            algorithms: vec![Algorithm::Ed25519, Algorithm::Es256],
            required_components: Vec::new(),
            window: Duration::from_secs(60),
            strictness: Strictness::default(),
            insecure_loopback: false,
            sessions: None,
            pending: None,
            authenticator: None,
            policy: None,
            pending_ttl: 600,
            pending_limits: PendingLimits {
                per_agent: Some(DEFAULT_MAX_PENDING_PER_AGENT),
                total: Some(DEFAULT_MAX_PENDING_TOTAL),
            },
            retry_after: 2,
            max_wait: 30,
            session_ttl: 3600,
            max_code_attempts: 5,
            interaction_timeout: 300,
            refresh_below_percent: 25,
            refresh_grace: 30,
            generic_signature_errors: false,
            require_interaction_capability: false,
            invalid_session: InvalidSessionPolicy::Restart,
            clock: None,
            revocations: None,
            trusted_revokers: Vec::new(),
            revoke_sessions_with_agent_token: true,
            pages: None,
            terms: None,
            callback_policy: CallbackPolicy::AnyHttps,
            issuer: None,
            access_mode: AccessModeName::SessionToken,
            signing_keys: Vec::new(),
            metadata_extra: serde_json::Map::new(),
        }
    }

    /// Accepts the `hwk` scheme: pseudonymous agents identified by their key thumbprint, as in
    /// the seed's two-party mode (AMB-01). The protocol draft itself accepts only `jwt`.
    pub fn accept_hwk(mut self) -> Self {
        if !self.schemes.contains(&Scheme::Hwk) {
            self.schemes.push(Scheme::Hwk);
        }
        self
    }

    /// Accepts the `jwt` scheme: agents identified by an agent token (`aa-agent+jwt`) whose
    /// issuer keys are discovered through `{iss}/.well-known/aauth-agent.json` and its JWKS
    /// (the protocol draft's scheme for agents). Discovery goes through the egress-checked
    /// HTTPS fetcher unless [`key_resolver`](Self::key_resolver) replaces it.
    pub fn accept_jwt(mut self) -> Self {
        if !self.schemes.contains(&Scheme::Jwt) {
            self.schemes.push(Scheme::Jwt);
        }
        self
    }

    /// Replaces how keys are found for `jwt` and `jwks_uri` signatures (e.g. a
    /// `DiscoveryResolver` with a custom fetcher, cache limits or agent-token policy).
    pub fn key_resolver(mut self, resolver: Arc<dyn KeyResolver>) -> Self {
        self.resolver = Some(resolver);
        self
    }

    /// Sets the accepted Signature-Key schemes, most preferred first.
    pub fn accept_schemes(mut self, schemes: impl IntoIterator<Item = Scheme>) -> Self {
        self.schemes = schemes.into_iter().collect();
        self
    }

    /// Sets the accepted signature algorithms (default `Ed25519`, `ES256`).
    pub fn accept_algorithms(mut self, algs: impl IntoIterator<Item = Algorithm>) -> Self {
        self.algorithms = algs.into_iter().collect();
        self
    }

    /// Components every signature must cover beyond `@method @authority @path signature-key`
    /// (e.g. `@query` for a resource whose answers depend on the query, SIG-36).
    pub fn require_components(mut self, ids: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.required_components = ids.into_iter().map(Into::into).collect();
        self
    }

    /// How far `created` may be from the resource's clock (default 60 s, SIG-18).
    pub fn signature_window(mut self, window: Duration) -> Self {
        self.window = window;
        self
    }

    /// Turns on the replay cache (SIG-19) for the requests `scope` selects, kept in `store`
    /// (e.g. `MemoryReplayStore`, or a Redis store shared by every instance). Off by default:
    /// the draft makes it optional, and it needs agents that never send byte-identical
    /// requests twice in one second (our signer adds a `nonce` when asked).
    pub fn replay_protection(mut self, store: Arc<dyn ReplayStore>, scope: ReplayScope) -> Self {
        self.replay = Some((store, scope));
        self
    }

    /// Leniency and draft-revision switches for the verifier, all strict by default; see
    /// [`Strictness`].
    pub fn strictness(mut self, strictness: Strictness) -> Self {
        self.strictness = strictness;
        self
    }

    /// Development only: allow a plain `http` base URL when its host is a loopback address
    /// (`127.0.0.0/8`, `::1`, `localhost`). Any other host still needs https.
    pub fn allow_insecure_loopback(mut self) -> Self {
        self.insecure_loopback = true;
        self
    }

    pub fn session_store(mut self, store: Arc<dyn SessionTokenStore>) -> Self {
        self.sessions = Some(store);
        self
    }

    pub fn pending_store(mut self, store: Arc<dyn PendingStore>) -> Self {
        self.pending = Some(store);
        self
    }

    /// How the interaction page learns who the person is (IC-07). Required, except on a
    /// loopback origin in development mode, where [`DevLoopbackPerson`] is the default.
    pub fn authenticator(mut self, authenticator: Arc<dyn InteractionAuthenticator>) -> Self {
        self.authenticator = Some(authenticator);
        self
    }

    /// The application's decision for each verified request: allow, require interaction, or
    /// deny. The default requires interaction unless the request carries a valid session.
    pub fn policy(
        mut self,
        policy: impl Fn(&PolicyContext<'_>) -> Decision + Send + Sync + 'static,
    ) -> Self {
        self.policy = Some(Arc::new(policy));
        self
    }

    /// Lifetime of a pending request and its interaction code (default 600 s; 10 s to
    /// [`MAX_PENDING_TTL`]).
    pub fn pending_ttl(mut self, secs: u64) -> Self {
        self.pending_ttl = secs;
        self
    }

    /// How many open pending requests (waiting for the person, lifetime not over) one agent may
    /// have at once: per key thumbprint, or per agent identifier for agent tokens (default
    /// [`DEFAULT_MAX_PENDING_PER_AGENT`]; `None` = no limit; at least 1). A request that would
    /// start one more is answered `429` `slow_down` with `Retry-After` (when the agent's oldest
    /// one ends); the agent's existing requests are untouched, and withdrawing one (DELETE on
    /// its pending URL) frees a slot at once.
    pub fn max_pending_per_agent(mut self, n: impl Into<Option<u32>>) -> Self {
        self.pending_limits.per_agent = n.into();
        self
    }

    /// How many pending-request records the resource keeps within their lifetime, in every
    /// state and for all agents together (default [`DEFAULT_MAX_PENDING_TOTAL`]; `None` = no
    /// limit; at least 1). Past it, new interactions are answered `503`
    /// `temporarily_unavailable` with `Retry-After`. This bounds the store: `hwk` keys cost
    /// nothing, so the per-agent limit alone does not.
    pub fn max_pending_total(mut self, n: impl Into<Option<u64>>) -> Self {
        self.pending_limits.total = n.into();
        self
    }

    /// The `Retry-After` the resource sends on `202` (default 2 s; at least 1, AMB-12).
    pub fn retry_after(mut self, secs: u64) -> Self {
        self.retry_after = secs;
        self
    }

    /// The longest `Prefer: wait` the resource honours (default 30 s, AMB-13; at most
    /// [`MAX_LONG_POLL`]: each waiting poll holds a connection).
    pub fn max_wait(mut self, secs: u64) -> Self {
        self.max_wait = secs;
        self
    }

    /// Lifetime of an issued session token (default 3600 s).
    pub fn session_ttl(mut self, secs: u64) -> Self {
        self.session_ttl = secs;
        self
    }

    /// Wrong codes allowed at one interaction URL before the request fails (default 5, IC-09).
    pub fn max_code_attempts(mut self, n: u32) -> Self {
        self.max_code_attempts = n;
        self
    }

    /// Answer every signature failure with `invalid_signature` instead of the specific code
    /// (AMB-32: the seed's behaviour, and the disclosure-minimising choice).
    pub fn generic_signature_errors(mut self, on: bool) -> Self {
        self.generic_signature_errors = on;
        self
    }

    /// What to do when an interaction is needed but the agent did not declare the `interaction`
    /// capability in `AAuth-Capabilities` (CAP-04, AMB-16). `false` (default): send the `202`
    /// anyway — a two-party resource has no other path, and agents that predate the header
    /// still work. `true`: answer `403 denied` instead of starting an interaction the agent
    /// said it cannot carry out.
    pub fn require_interaction_capability(mut self, on: bool) -> Self {
        self.require_interaction_capability = on;
        self
    }

    /// Seconds a person may take between redeeming the code and deciding before the request is
    /// `abandoned` (poll answers `403 abandoned`; default 300).
    pub fn interaction_timeout(mut self, secs: u64) -> Self {
        self.interaction_timeout = secs;
        self
    }

    /// Rolling refresh (SESS-08): once less than this percentage of a session token's lifetime
    /// remains, the next response to a request carrying it brings a successor in
    /// `AAuth-Access`. `0` turns refresh off. Default 25.
    pub fn refresh_below_percent(mut self, percent: u8) -> Self {
        self.refresh_below_percent = percent;
        self
    }

    /// How long a refreshed (retired) token keeps working, so requests already in flight with
    /// it still succeed (default 30 s).
    pub fn refresh_grace(mut self, secs: u64) -> Self {
        self.refresh_grace = secs;
        self
    }

    /// Chooses the scope and lifetime of each session token at issuance. The default keeps the
    /// scope the policy asked for and uses [`session_ttl`](Self::session_ttl).
    pub fn session_terms(
        mut self,
        terms: impl Fn(&GrantContext<'_>) -> SessionTerms + Send + Sync + 'static,
    ) -> Self {
        self.terms = Some(Arc::new(terms));
        self
    }

    /// Replaces the built-in interaction page (see [`crate::pages`]).
    pub fn interaction_page(mut self, page: Arc<dyn InteractionPage>) -> Self {
        self.pages = Some(page);
        self
    }

    /// Which `callback` URLs the interaction page redirects to (default: any https).
    pub fn callback_policy(mut self, policy: CallbackPolicy) -> Self {
        self.callback_policy = policy;
        self
    }

    pub fn revocation_store(mut self, store: Arc<dyn RevocationStore>) -> Self {
        self.revocations = Some(store);
        self
    }

    /// Keys (by RFC 7638 thumbprint) allowed to call the revocation endpoint for any issuer:
    /// the "trusted PS" of REV-06, or an operator's key. A caller is otherwise allowed only to
    /// revoke tokens its own agent identity issued.
    pub fn trusted_revokers(mut self, thumbprints: impl IntoIterator<Item = Thumbprint>) -> Self {
        self.trusted_revokers = thumbprints.into_iter().collect();
        self
    }

    /// Whether revoking an agent token also revokes the session tokens issued to that agent
    /// (REV-07; default on).
    pub fn revoke_sessions_with_agent_token(mut self, on: bool) -> Self {
        self.revoke_sessions_with_agent_token = on;
        self
    }

    /// The `issuer` in the resource metadata (MD-02). Defaults to the public base URL's origin.
    pub fn issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuer = Some(issuer.into());
        self
    }

    /// The `access_mode` name the metadata uses (AMB-08; default `session-token`).
    pub fn access_mode_name(mut self, name: AccessModeName) -> Self {
        self.access_mode = name;
        self
    }

    /// The resource's own signing keys, published (public parts only) at the `jwks_uri`
    /// (MD-03). Needed once the resource issues resource tokens or signs requests itself.
    pub fn signing_keys<'a>(mut self, keys: impl IntoIterator<Item = &'a SigningKey>) -> Self {
        self.signing_keys = keys
            .into_iter()
            .map(|k| {
                let mut jwk = k.public_jwk();
                if jwk.kid.is_none() {
                    jwk.kid = Some(k.thumbprint().as_str().to_owned());
                }
                jwk
            })
            .collect();
        self
    }

    /// Adds a member to the metadata document (`name`, `description`, `logo_uri`,
    /// `scope_descriptions`, …). Members the library computes cannot be overridden.
    pub fn metadata(mut self, name: impl Into<String>, value: serde_json::Value) -> Self {
        self.metadata_extra.insert(name.into(), value);
        self
    }

    pub fn invalid_session(mut self, policy: InvalidSessionPolicy) -> Self {
        self.invalid_session = policy;
        self
    }

    /// Replaces the clock (Unix seconds); for tests.
    pub fn clock(mut self, clock: impl Fn() -> UnixTime + Send + Sync + 'static) -> Self {
        self.clock = Some(Arc::new(clock));
        self
    }

    pub fn build(mut self) -> Result<AAuthResource, ConfigError> {
        let url = Url::parse(&self.base_url).map_err(|e| ConfigError::BadBaseUrl(e.to_string()))?;
        let host = url
            .host_str()
            .ok_or_else(|| ConfigError::BadBaseUrl("no host".into()))?;
        match url.scheme() {
            "https" => {}
            "http" if self.insecure_loopback && is_loopback_host(host) => {}
            "http" => return Err(ConfigError::InsecureBaseUrl),
            other => return Err(ConfigError::BadBaseUrl(format!("scheme {other}"))),
        }
        if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
            return Err(ConfigError::BaseUrlNotAnOrigin);
        }
        if self.schemes.is_empty() {
            return Err(ConfigError::NoSchemes);
        }
        for s in &self.schemes {
            if !matches!(s, Scheme::Hwk | Scheme::Jwt | Scheme::JwksUri) {
                return Err(ConfigError::SchemeNotImplemented(s.as_str().to_owned()));
            }
        }
        let needs_discovery = self.schemes.iter().any(|s| *s != Scheme::Hwk);
        let resolver: Arc<dyn KeyResolver> = match self.resolver.take() {
            Some(r) => r,
            None if needs_discovery => Arc::new(DiscoveryResolver::new(Arc::new(
                ReqwestFetcher::new(EgressPolicy::default()),
            ))),
            None => Arc::new(NoDiscovery),
        };
        if self.retry_after < 1 {
            return Err(ConfigError::TooSmall("retry_after", 1));
        }
        if self.pending_ttl < 10 {
            return Err(ConfigError::TooSmall("pending_ttl", 10));
        }
        if self.max_wait > MAX_LONG_POLL {
            return Err(ConfigError::TooLarge("max_wait", MAX_LONG_POLL));
        }
        if self.pending_ttl > MAX_PENDING_TTL {
            return Err(ConfigError::TooLarge("pending_ttl", MAX_PENDING_TTL));
        }
        if self.pending_limits.per_agent == Some(0) {
            return Err(ConfigError::TooSmall("max_pending_per_agent", 1));
        }
        if self.pending_limits.total == Some(0) {
            return Err(ConfigError::TooSmall("max_pending_total", 1));
        }
        if self.max_code_attempts < 1 {
            return Err(ConfigError::TooSmall("max_code_attempts", 1));
        }
        if self.interaction_timeout < 1 {
            return Err(ConfigError::TooSmall("interaction_timeout", 1));
        }
        if self.refresh_below_percent > 100 {
            return Err(ConfigError::RefreshPercent);
        }
        let dev_loopback = url.scheme() == "http";
        let authenticator: Arc<dyn InteractionAuthenticator> = match self.authenticator {
            Some(a) => a,
            None if dev_loopback => Arc::new(DevLoopbackPerson),
            None => return Err(ConfigError::NoAuthenticator),
        };
        if authenticator.development_only() && !dev_loopback {
            return Err(ConfigError::NoAuthenticator);
        }
        // `Url` lowercases the host and drops a default port, which is exactly the canonical
        // `@authority` of RFC 9421 §2.2.3.
        let authority = match url.port() {
            Some(p) => format!("{host}:{p}"),
            None => host.to_owned(),
        };
        let origin = format!("{}://{}", url.scheme(), authority);
        let issuer = match self.issuer {
            None => origin.clone(),
            Some(i) => {
                let parsed = Url::parse(&i).map_err(|_| ConfigError::BadIssuer(i.clone()))?;
                let scheme_ok =
                    parsed.scheme() == "https" || (dev_loopback && parsed.scheme() == "http");
                if !scheme_ok || parsed.query().is_some() || parsed.fragment().is_some() {
                    return Err(ConfigError::BadIssuer(i));
                }
                i
            }
        };

        let verifier_config = VerifierConfig {
            canonical_authority: authority,
            scheme: url.scheme().to_owned(),
            window: self.window,
            accepted_schemes: self.schemes.clone(),
            accepted_algorithms: self.algorithms.clone(),
            required_components: self.required_components.clone(),
            hwk_alg: self.strictness.hwk_alg,
            legacy_algorithms: self.strictness.legacy_algorithms,
            clock_skew_code: self.strictness.clock_skew_code,
            accept_base64url_signatures: self.strictness.accept_base64url_signatures,
        };
        let inner = Inner {
            verifier: Verifier::new(verifier_config),
            resolver,
            replay: self.replay.take(),
            sessions: self
                .sessions
                .unwrap_or_else(|| Arc::new(MemorySessionStore::new())),
            pending: self
                .pending
                .unwrap_or_else(|| Arc::new(MemoryPendingStore::new())),
            authenticator,
            policy: self.policy.unwrap_or_else(default_policy),
            origin,
            pending_prefix: "/aauth/pending",
            interaction_prefix: "/aauth/interaction",
            pending_ttl: self.pending_ttl,
            pending_limits: self.pending_limits,
            retry_after: self.retry_after,
            max_wait: self.max_wait,
            max_code_attempts: self.max_code_attempts,
            interaction_timeout: self.interaction_timeout,
            refresh_below_percent: self.refresh_below_percent,
            refresh_grace: self.refresh_grace,
            revocations: self
                .revocations
                .unwrap_or_else(|| Arc::new(MemoryRevocationStore::new())),
            trusted_revokers: self.trusted_revokers,
            revoke_sessions_with_agent_token: self.revoke_sessions_with_agent_token,
            pages: self.pages.unwrap_or_else(|| Arc::new(DefaultPage)),
            terms: self.terms.unwrap_or_else(|| {
                let ttl = self.session_ttl;
                Arc::new(move |ctx: &GrantContext<'_>| SessionTerms {
                    scope: ctx.requested_scope.map(str::to_owned),
                    ttl,
                })
            }),
            metrics: Metrics::default(),
            callback_policy: self.callback_policy,
            insecure_loopback: self.insecure_loopback,
            issuer,
            access_mode: self.access_mode,
            signing_keys: self.signing_keys,
            metadata_extra: self.metadata_extra,
            revocation_path: "/aauth/revoke",
            jwks_path: "/.well-known/jwks.json",
            generic_signature_errors: self.generic_signature_errors,
            require_interaction_capability: self.require_interaction_capability,
            invalid_session: self.invalid_session,
            accepted_scheme_names: self.schemes.iter().map(|s| s.as_str().to_owned()).collect(),
            accepted_alg_names: self
                .algorithms
                .iter()
                .map(|a| a.jose_name().to_owned())
                .collect(),
            clock: self.clock.unwrap_or_else(|| Arc::new(system_now)),
        };
        Ok(AAuthResource {
            inner: Arc::new(inner),
        })
    }
}

pub(crate) fn system_now() -> UnixTime {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// `localhost`, `127.0.0.0/8` and `::1`.
pub(crate) fn is_loopback_host(host: &str) -> bool {
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    bare.parse::<std::net::IpAddr>()
        .map(|ip| ip.is_loopback())
        .unwrap_or(false)
}
