use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, Once};
use std::time::{Duration, SystemTime};

use aauth_sig::{RequestTarget, SignOptions, Signer, SigningKey, Thumbprint};
use aauth_wire::access::{SessionToken, authorization_value, session_token_from_response};
use aauth_wire::headers;
use aauth_wire::signature_error::SignatureErrorCode;
use http::{HeaderValue, Method, StatusCode};
use reqwest::{Request, Response};
use tokio_util::sync::CancellationToken;
use url::Url;

use crate::clock::{Clock, SystemClock};
use crate::flow::{self, Backoff, InteractionPrompt, PollStep, Step};
use crate::metadata::{self, ResourceMetadata};
use crate::origin_keys::PerOriginSigner;
use crate::session::{MemorySessionCache, SessionCache};
use crate::signer::RequestSigner;
use crate::{AAuthError, ProtocolEvent};

type Callback =
    Arc<dyn Fn(InteractionPrompt) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>;
type EventHook = Arc<dyn Fn(&ProtocolEvent) + Send + Sync>;
pub(crate) type SendFuture<'a> =
    Pin<Box<dyn Future<Output = Result<Response, AAuthError>> + Send + 'a>>;

/// Largest poll or error body the agent reads.
const MAX_POLL_BODY: usize = 64 * 1024;
/// Default largest request body kept for a replay after approval or re-signing.
pub const DEFAULT_MAX_REPLAY_BODY: usize = 8 * 1024 * 1024;
/// Metadata must not hold up a request for long: it is advisory.
const METADATA_TIMEOUT: Duration = Duration::from_secs(10);
/// A withdrawal is a courtesy; never wait long for it.
const WITHDRAW_TIMEOUT: Duration = Duration::from_secs(5);

/// Where a request goes out: a plain reqwest client, or the rest of a middleware chain.
pub(crate) trait Transport: Send + Sync {
    fn send(&self, req: Request) -> SendFuture<'_>;
}

impl Transport for reqwest::Client {
    fn send(&self, req: Request) -> SendFuture<'_> {
        Box::pin(async move { Ok(self.execute(req).await?) })
    }
}

/// How the client handles a `202` interaction requirement.
#[derive(Clone)]
pub struct InteractionOptions {
    callback: Option<Callback>,
    polling_timeout: Duration,
    prefer_wait: Option<u64>,
    cancel: Option<CancellationToken>,
}

impl Default for InteractionOptions {
    fn default() -> Self {
        InteractionOptions {
            callback: None,
            // A person has to notice the prompt, log in and decide: minutes, not seconds
            // (AMB-33).
            polling_timeout: Duration::from_secs(300),
            prefer_wait: None,
            cancel: None,
        }
    }
}

impl InteractionOptions {
    /// Called once per distinct (url, code) with what to show the person; not again once the
    /// resource reports `interacting` (POLL-08).
    pub fn on_interaction_required<F, Fut>(&mut self, f: F) -> &mut Self
    where
        F: Fn(InteractionPrompt) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.callback = Some(Arc::new(move |p| Box::pin(f(p))));
        self
    }

    /// How long to wait for the person before giving up (default 5 minutes). On timeout the
    /// pending URL is withdrawn with a DELETE (POLL-11).
    pub fn polling_timeout(&mut self, timeout: Duration) -> &mut Self {
        self.polling_timeout = timeout;
        self
    }

    /// Ask the resource to hold each poll up to `secs` seconds (`Prefer: wait`, POLL-05).
    pub fn prefer_wait(&mut self, secs: u64) -> &mut Self {
        self.prefer_wait = Some(secs);
        self
    }

    /// Stop waiting (and withdraw the pending request) when `token` is cancelled; ends the
    /// request with [`AAuthError::Cancelled`]. A per-request token
    /// ([`RequestBuilder::cancel_on`]) takes precedence.
    pub fn cancel_on(&mut self, token: CancellationToken) -> &mut Self {
        self.cancel = Some(token);
        self
    }
}

/// The shared state behind [`AAuthClient`] and [`crate::AAuthMiddleware`].
pub(crate) struct Core {
    signer: Arc<dyn RequestSigner>,
    /// The signer's own thumbprint (with per-origin keys, the master's). Session tokens are
    /// keyed by `signer.thumbprint_for(origin)`, the key that origin sees.
    thumbprint: Thumbprint,
    interaction: Option<InteractionOptions>,
    sessions: Arc<dyn SessionCache>,
    clock: Arc<dyn Clock>,
    fetch_metadata: bool,
    metadata: Mutex<HashMap<String, Option<Arc<ResourceMetadata>>>>,
    /// Components resources asked for with `invalid_input` (per origin), signed from then on.
    learned: Mutex<HashMap<String, Vec<String>>>,
    sign_required_input: bool,
    extra_components: Vec<String>,
    events: Option<EventHook>,
    max_replay_body: usize,
    allow_insecure_http: bool,
}

/// A signing AAuth client. Cheap to clone.
#[derive(Clone)]
pub struct AAuthClient {
    http: reqwest::Client,
    core: Arc<Core>,
}

impl std::fmt::Debug for AAuthClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AAuthClient")
            .field("key", &self.core.thumbprint)
            .finish_non_exhaustive()
    }
}

enum KeyChoice {
    Key(SigningKey),
    AgentToken(SigningKey, aauth_sig::AgentToken),
    Signer(Arc<dyn RequestSigner>),
}

/// Builds an [`AAuthClient`]; see [`AAuthClient::builder`].
pub struct AAuthClientBuilder {
    key: KeyChoice,
    interaction: Option<InteractionOptions>,
    http: Option<reqwest::Client>,
    sessions: Option<Arc<dyn SessionCache>>,
    clock: Option<Arc<dyn Clock>>,
    fetch_metadata: bool,
    sign_required_input: bool,
    extra_components: Vec<String>,
    events: Option<EventHook>,
    max_replay_body: usize,
    allow_insecure_http: bool,
    per_origin_keys: bool,
}

static RUSTLS_PROVIDER: Once = Once::new();

/// reqwest runs on rustls with no provider compiled in; the project's one crypto stack is ring.
pub(crate) fn install_ring_provider() {
    RUSTLS_PROVIDER.call_once(|| {
        // Err means another provider was installed first by the application; keep it.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

impl AAuthClientBuilder {
    fn new(key: KeyChoice) -> Self {
        AAuthClientBuilder {
            key,
            interaction: None,
            http: None,
            sessions: None,
            clock: None,
            fetch_metadata: true,
            sign_required_input: true,
            extra_components: Vec::new(),
            events: None,
            max_replay_body: DEFAULT_MAX_REPLAY_BODY,
            allow_insecure_http: false,
            per_origin_keys: true,
        }
    }

    /// Sign with an `hwk` Signature-Key: the public key inline, the agent pseudonymous (the
    /// seed's `UseHwk`, AMB-01). The default for a key given to [`AAuthClient::builder`].
    ///
    /// Each resource origin sees a key of its own derived from the builder's key (SK-25,
    /// [`crate::PerOriginSigner`]): the same key on every request to that origin, a different
    /// one at every other origin. Opt out with
    /// [`AAuthClientBuilder::one_key_for_all_origins`].
    pub fn use_hwk(self) -> Self {
        match self.key {
            KeyChoice::AgentToken(k, _) => AAuthClientBuilder {
                key: KeyChoice::Key(k),
                ..self
            },
            _ => self,
        }
    }

    /// Sign with `scheme=jwt`, presenting `token` (an agent token whose `cnf.jwk` is this
    /// client's key) in `Signature-Key` (AGT-08, the draft's default). Ignored for a client
    /// built with [`AAuthClient::with_signer`].
    // TODO(jwt): accept an `aauth_sig::TokenRefresher` so long-running agents renew tokens;
    // needs an async `RequestSigner` or a pre-send refresh hook.
    pub fn use_agent_token(self, token: aauth_sig::AgentToken) -> Self {
        match self.key {
            KeyChoice::Key(k) | KeyChoice::AgentToken(k, _) => AAuthClientBuilder {
                key: KeyChoice::AgentToken(k, token),
                ..self
            },
            KeyChoice::Signer(_) => self,
        }
    }

    /// Handle `202` interaction requirements: call back, poll, then re-send the request with the
    /// session token. Without this the `202` is returned to the caller untouched.
    pub fn with_interaction_handling(
        mut self,
        configure: impl FnOnce(&mut InteractionOptions),
    ) -> Self {
        let mut opts = InteractionOptions::default();
        configure(&mut opts);
        self.interaction = Some(opts);
        self
    }

    /// Use this reqwest client (e.g. with custom timeouts). It must not follow redirects on its
    /// own if you rely on the same-origin checks.
    pub fn http_client(mut self, client: reqwest::Client) -> Self {
        self.http = Some(client);
        self
    }

    /// Where session tokens are kept (default: in memory). Use
    /// [`crate::FileSessionCache`] to keep them across runs.
    pub fn session_cache(mut self, cache: Arc<dyn SessionCache>) -> Self {
        self.sessions = Some(cache);
        self
    }

    /// The clock for signatures and polling waits (default: the system clock and tokio's
    /// timer). Tests pass a virtual clock to check intervals exactly.
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = Some(clock);
        self
    }

    /// Read `/.well-known/aauth-resource.json` once per origin and sign the
    /// `additional_signature_components` it lists (SIG-11). On by default; a missing document
    /// is fine.
    pub fn resource_metadata(mut self, on: bool) -> Self {
        self.fetch_metadata = on;
        self
    }

    /// Always cover `component` (e.g. `content-type`) when the request has it.
    pub fn sign_component(mut self, component: impl Into<String>) -> Self {
        self.extra_components.push(component.into());
        self
    }

    /// When a resource answers `401 invalid_input` with `required_input`, re-sign once with
    /// those components and keep covering them for that origin (SIG-12). On by default.
    pub fn sign_required_input(mut self, on: bool) -> Self {
        self.sign_required_input = on;
        self
    }

    /// Observe each protocol step (signature bases, responses, waits, token changes); for
    /// verbose output. Events never carry session tokens.
    pub fn on_event(mut self, hook: impl Fn(&ProtocolEvent) + Send + Sync + 'static) -> Self {
        self.events = Some(Arc::new(hook));
        self
    }

    /// Largest request body kept for a replay (default 8 MiB). Larger or streaming bodies are
    /// sent once; if a replay is then needed the request fails with
    /// [`AAuthError::BodyNotReplayable`].
    pub fn max_replay_body(mut self, bytes: usize) -> Self {
        self.max_replay_body = bytes;
        self
    }

    /// Also send session tokens (`Authorization: AAuth`) over plain `http` to hosts that are not
    /// loopback addresses. Off by default: a session token is a bearer credential bound to the
    /// key, and over plain `http` anyone on the path reads it, so by default such a request
    /// fails with [`AAuthError::InsecureTransport`] before anything is sent. Plain `http` to
    /// `localhost` / `127.0.0.1` / `::1` (development) is always allowed.
    pub fn allow_insecure_http(mut self, on: bool) -> Self {
        self.allow_insecure_http = on;
        self
    }

    /// `hwk` only: with `true` (the default) every resource origin sees its own key, derived
    /// from the builder's key (SK-25 / SK8 §8.1: a pseudonymous client uses a distinct key per
    /// server, so servers cannot correlate it). With `false` every origin sees the builder's
    /// key itself, as the seed's agent did. Ignored for `jwt` (an agent token names the agent
    /// anyway) and for [`AAuthClient::with_signer`].
    pub fn per_origin_keys(mut self, on: bool) -> Self {
        self.per_origin_keys = on;
        self
    }

    /// Show every resource the builder's key itself (the same thumbprint everywhere), for an
    /// agent that deliberately wants one identity across resources, e.g. one a resource
    /// operator registered by thumbprint. Same as `per_origin_keys(false)`.
    pub fn one_key_for_all_origins(self) -> Self {
        self.per_origin_keys(false)
    }

    pub fn build(self) -> Result<AAuthClient, AAuthError> {
        let http = match self.http {
            Some(c) => c,
            None => {
                install_ring_provider();
                reqwest::Client::builder()
                    .redirect(reqwest::redirect::Policy::none())
                    // SIG-35; rustls has no older versions, this keeps it so.
                    .tls_version_min(reqwest::tls::Version::TLS_1_2)
                    .user_agent(concat!("aauth-agent/", env!("CARGO_PKG_VERSION")))
                    .build()?
            }
        };
        let signer: Arc<dyn RequestSigner> = match self.key {
            KeyChoice::Key(k) if self.per_origin_keys => Arc::new(PerOriginSigner::new(k)),
            KeyChoice::Key(k) => Arc::new(Signer::hwk(k)),
            KeyChoice::AgentToken(k, t) => Arc::new(Signer::jwt(k, &t)),
            KeyChoice::Signer(s) => s,
        };
        Ok(AAuthClient {
            http,
            core: Arc::new(Core {
                thumbprint: signer.thumbprint(),
                signer,
                interaction: self.interaction,
                sessions: self
                    .sessions
                    .unwrap_or_else(|| Arc::new(MemorySessionCache::default())),
                clock: self
                    .clock
                    .unwrap_or_else(|| Arc::new(SystemClock::default())),
                fetch_metadata: self.fetch_metadata,
                metadata: Mutex::new(HashMap::new()),
                learned: Mutex::new(HashMap::new()),
                sign_required_input: self.sign_required_input,
                extra_components: self.extra_components,
                events: self.events,
                max_replay_body: self.max_replay_body,
                allow_insecure_http: self.allow_insecure_http,
            }),
        })
    }
}

/// `Content-Digest` (sha-256) of a non-empty body held in memory.
fn body_digest(body: Option<&[u8]>) -> Option<http::HeaderValue> {
    body.filter(|b| !b.is_empty())
        .map(aauth_sig::digest::content_digest)
}

/// `scheme://host[:port]` of a URL, the key for tokens, metadata and learned components.
pub fn origin_of(url: &Url) -> String {
    url.origin().ascii_serialization()
}

fn authority_of(url: &Url) -> String {
    let host = url.host_str().unwrap_or_default();
    match url.port() {
        Some(p) => format!("{host}:{p}"),
        None => host.to_owned(),
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A poisoned lock only means another thread panicked mid-update; the maps stay sound.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

async fn read_bounded(resp: Response, limit: usize) -> Result<Vec<u8>, AAuthError> {
    let mut resp = resp;
    let mut out = Vec::new();
    while let Some(chunk) = resp.chunk().await? {
        if out.len() + chunk.len() > limit {
            return Err(AAuthError::Protocol("response body too large".into()));
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

/// A bare header name (not derived, not a serialised identifier with parameters).
fn is_plain_field(c: &str) -> bool {
    !c.starts_with('@') && !c.contains(';') && !c.contains('"')
}

impl Core {
    fn emit(&self, event: ProtocolEvent) {
        if let Some(hook) = &self.events {
            hook(&event);
        }
    }

    fn token(&self, origin: &str) -> Option<SessionToken> {
        self.sessions
            .get(origin, &self.signer.thumbprint_for(origin))
    }

    fn forget(&self, origin: &str) {
        if self.token(origin).is_some() {
            self.sessions
                .remove(origin, &self.signer.thumbprint_for(origin));
            self.emit(ProtocolEvent::SessionDropped {
                origin: origin.to_owned(),
            });
        }
    }

    fn store_token(&self, origin: &str, token: SessionToken) {
        let rotated = self.token(origin).is_some_and(|old| old != token);
        self.sessions
            .put(origin, &self.signer.thumbprint_for(origin), token);
        self.emit(ProtocolEvent::SessionStored {
            origin: origin.to_owned(),
            rotated,
        });
    }

    fn cached_metadata(&self, origin: &str) -> Option<Arc<ResourceMetadata>> {
        lock(&self.metadata).get(origin).cloned().flatten()
    }

    /// Fetches the metadata document once per origin. Any failure is cached as "none", except
    /// a transport error, which may be transient and is retried on the next request.
    async fn ensure_metadata(&self, t: &dyn Transport, url: &Url, origin: &str) {
        if !self.fetch_metadata || lock(&self.metadata).contains_key(origin) {
            return;
        }
        let Ok(md_url) = url.join(metadata::WELL_KNOWN_PATH) else {
            return;
        };
        let mut req = Request::new(Method::GET, md_url);
        req.headers_mut().insert(
            http::header::ACCEPT,
            HeaderValue::from_static("application/json"),
        );
        *req.timeout_mut() = Some(METADATA_TIMEOUT);
        let found = match t.send(req).await {
            Err(e) => {
                tracing::debug!(target: "aauth::agent", error = %e, "metadata fetch failed");
                return;
            }
            Ok(resp) if resp.status() == StatusCode::OK => {
                match read_bounded(resp, metadata::MAX_METADATA).await {
                    Ok(body) => metadata::parse(origin, &body).map(Arc::new),
                    Err(_) => None,
                }
            }
            Ok(_) => None,
        };
        if let Some(md) = &found
            && let Some(algs) = &md.accept_signature_algs
        {
            let ours = self.signer.algorithm().jose_name();
            if !algs.iter().any(|a| a == ours) {
                tracing::warn!(target: "aauth::agent", origin, alg = ours,
                    "the resource's metadata does not list this key's algorithm");
            }
        }
        self.emit(ProtocolEvent::Metadata {
            origin: origin.to_owned(),
            metadata: found.as_deref().cloned(),
        });
        lock(&self.metadata).insert(origin.to_owned(), found);
    }

    /// Adds `required` to the components signed for `origin`; true if anything was new.
    fn learn(&self, origin: &str, required: &[String]) -> bool {
        let mut learned = lock(&self.learned);
        let list = learned.entry(origin.to_owned()).or_default();
        let mut added = false;
        for c in required {
            if !list.contains(c) {
                list.push(c.clone());
                added = true;
            }
        }
        added
    }

    /// Covered components: the mandatory ones (SIG-09), `@query` when there is one,
    /// `authorization` when a session token rides along (SESS-05), then what the caller, the
    /// metadata (SIG-11) and earlier `invalid_input` answers (SIG-12) asked for.
    fn components(&self, url: &Url, headers: &http::HeaderMap) -> Vec<String> {
        let mut out: Vec<String> = vec!["@method".into(), "@authority".into(), "@path".into()];
        if url.query().is_some() {
            out.push("@query".into());
        }
        if headers.contains_key(http::header::AUTHORIZATION) {
            out.push("authorization".into());
        }
        let origin = origin_of(url);
        let mut extras: Vec<String> = self.extra_components.clone();
        if let Some(md) = self.cached_metadata(&origin) {
            extras.extend(md.additional_signature_components.iter().cloned());
        }
        if let Some(l) = lock(&self.learned).get(&origin) {
            extras.extend(l.iter().cloned());
        }
        for c in extras {
            let c = c.trim().to_owned();
            let c = if is_plain_field(&c) {
                c.to_ascii_lowercase()
            } else {
                c
            };
            if c.is_empty() || c == "signature-key" || out.contains(&c) {
                continue;
            }
            // A field the request does not carry cannot be signed; the resource will say so.
            if is_plain_field(&c) && !headers.contains_key(c.as_str()) {
                tracing::debug!(target: "aauth::agent", component = %c, "not in the request; not covered");
                continue;
            }
            out.push(c);
        }
        out.push("signature-key".into());
        out
    }

    /// Binds an in-memory body with `Content-Digest` (RFC 9530) and returns the components to
    /// cover: the digest is a covered field, so a body swapped in transit no longer matches. A
    /// streaming body cannot be digested up front and stays unprotected.
    fn cover(&self, url: &Url, body: Option<&[u8]>, h: &mut http::HeaderMap) -> Vec<String> {
        if let Some(d) = body_digest(body) {
            h.insert("content-digest", d);
        }
        self.cover_digested(url, h)
    }

    /// [`Self::cover`] once `Content-Digest` is in `h` (or the body has none).
    fn cover_digested(&self, url: &Url, h: &http::HeaderMap) -> Vec<String> {
        let mut components = self.components(url, h);
        if h.contains_key("content-digest") && !components.iter().any(|c| c == "content-digest") {
            // Before `signature-key`, which stays last.
            let at = components.len().saturating_sub(1);
            components.insert(at, "content-digest".into());
        }
        components
    }

    fn sign(&self, req: &mut Request) -> Result<(), AAuthError> {
        let created = self
            .clock
            .wall()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let url = req.url().clone();
        let method = req.method().clone();
        let authority = authority_of(&url);
        let digest = body_digest(req.body().and_then(|b| b.as_bytes()));
        let h = req.headers_mut();
        h.remove(headers::SIGNATURE);
        h.remove(headers::SIGNATURE_INPUT);
        h.remove(headers::SIGNATURE_KEY);
        if let Some(d) = digest {
            h.insert("content-digest", d);
        }
        let components = self.cover_digested(&url, h);
        let opts = SignOptions {
            components,
            created,
            expires: None,
            label: "sig".to_owned(),
        };
        let snapshot = h.clone();
        let target = RequestTarget {
            method: &method,
            scheme: url.scheme(),
            authority: &authority,
            path: url.path(),
            query: url.query(),
            headers: &snapshot,
        };
        if self.events.is_some() {
            let mut scratch = snapshot.clone();
            if let Ok(base) = self.signer.signature_base(&target, &mut scratch, &opts) {
                self.emit(ProtocolEvent::Signed {
                    method: method.clone(),
                    url: url.clone(),
                    base,
                });
            }
        }
        self.signer
            .sign(&target, h, &opts)
            .map_err(|e| AAuthError::Sign(e.to_string()))
    }

    /// Attaches the origin's session token (if any), signs and sends once. Records a new
    /// `AAuth-Access` from the response (SESS-09). Returns the response and whether a token
    /// was sent.
    async fn send_once(
        &self,
        t: &dyn Transport,
        mut req: Request,
        origin: &str,
    ) -> Result<(Response, bool), AAuthError> {
        let token = self.token(origin);
        let sent_token = token.is_some();
        if sent_token
            && !self.allow_insecure_http
            && req.url().scheme() == "http"
            && !flow::is_loopback(req.url())
        {
            return Err(AAuthError::InsecureTransport(origin.to_owned()));
        }
        // Never forward a caller's own AAuth credential to another origin by accident: the
        // header is ours to set.
        req.headers_mut().remove(http::header::AUTHORIZATION);
        if let Some(t) = token {
            req.headers_mut()
                .insert(http::header::AUTHORIZATION, authorization_value(&t));
        }
        // CAP-02: tell the resource what this agent can carry out. Interaction handling is the
        // one capability of this client; a caller's own header is left as it is.
        if self.interaction.is_some() && !req.headers().contains_key(&headers::AAUTH_CAPABILITIES) {
            req.headers_mut().insert(
                headers::AAUTH_CAPABILITIES,
                http::HeaderValue::from_static("interaction"),
            );
        }
        self.sign(&mut req)?;
        let method = req.method().clone();
        let url = req.url().clone();
        let resp = t.send(req).await?;
        self.emit(ProtocolEvent::Response {
            method,
            url,
            status: resp.status().as_u16(),
        });
        self.observe_access(origin, resp.headers());
        Ok((resp, sent_token))
    }

    fn observe_access(&self, origin: &str, headers: &http::HeaderMap) {
        match session_token_from_response(headers) {
            Ok(Some(t)) => self.store_token(origin, t),
            Ok(None) => {}
            Err(e) => {
                // SESS-13: keep the token we had; a malformed or doubled value is not adopted.
                tracing::warn!(target: "aauth::agent", error = %e, "ignoring malformed AAuth-Access");
            }
        }
    }

    /// A copy of `req` for a later replay, if its body is buffered and within the limit.
    fn replayable(&self, req: &Request) -> Option<Request> {
        let fits = match req.body() {
            None => true,
            Some(b) => b
                .as_bytes()
                .is_some_and(|b| b.len() <= self.max_replay_body),
        };
        if fits { req.try_clone() } else { None }
    }

    /// Sends `req`, handling signatures, interaction and session tokens.
    pub(crate) async fn execute(
        &self,
        t: &dyn Transport,
        req: Request,
        cancel: Option<CancellationToken>,
    ) -> Result<Response, AAuthError> {
        let request_url = req.url().clone();
        if !matches!(request_url.scheme(), "http" | "https") || request_url.host().is_none() {
            return Err(AAuthError::InvalidUrl(request_url.to_string()));
        }
        let origin = origin_of(&request_url);
        self.ensure_metadata(t, &request_url, &origin).await;
        let template = self.replayable(&req);
        let replay = || -> Result<Request, AAuthError> {
            template
                .as_ref()
                .and_then(Request::try_clone)
                .ok_or(AAuthError::BodyNotReplayable)
        };
        let mut first = Some(req);
        let mut resigned = false;
        let mut rechallenged = false;
        let (resp, sent_token) = loop {
            let next = match first.take() {
                Some(r) => r,
                None => replay()?,
            };
            let (resp, sent_token) = self.send_once(t, next, &origin).await?;
            if resp.status() != StatusCode::UNAUTHORIZED {
                break (resp, sent_token);
            }
            let sig = flow::signature_error(resp.status(), resp.headers());
            if let Some(AAuthError::Signature {
                code: SignatureErrorCode::InvalidInput,
                required_input: Some(required),
                ..
            }) = &sig
                && self.sign_required_input
                && !resigned
                && template.is_some()
                && self.learn(&origin, required)
            {
                resigned = true;
                self.emit(ProtocolEvent::Resigning {
                    components: required.clone(),
                });
                continue;
            }
            if sent_token {
                // The token is no longer good here: drop it and let the resource challenge
                // afresh (usually a new 202).
                self.forget(&origin);
                if !rechallenged && template.is_some() {
                    rechallenged = true;
                    continue;
                }
            }
            if let Some(e) = sig {
                return Err(explain(e, resp).await);
            }
            break (resp, sent_token);
        };
        let status = resp.status();
        let opts = match &self.interaction {
            Some(o) if status == StatusCode::ACCEPTED => o.clone(),
            // A 202 and no interaction handling: the caller's to deal with.
            None if status == StatusCode::ACCEPTED => return Ok(resp),
            _ => {
                // 401/402 with a requirement become typed errors (REQ-02); others pass.
                flow::classify_initial(
                    &request_url,
                    status,
                    resp.headers(),
                    b"",
                    self.clock.wall(),
                )?;
                return denial_or(resp).await;
            }
        };
        if !flow::wants_body(status, resp.headers()) {
            return Ok(resp);
        }
        let headers = resp.headers().clone();
        let body = read_bounded(resp, MAX_POLL_BODY).await?;
        let Step::Poll {
            prompt,
            location,
            after,
        } = flow::classify_initial(&request_url, status, &headers, &body, self.clock.wall())?
        else {
            return Err(AAuthError::Protocol("unclassifiable 202".into()));
        };
        // A 202 to a request that carried a token means the resource no longer honours it.
        if sent_token {
            self.forget(&origin);
        }
        let cancel = cancel.or_else(|| opts.cancel.clone());
        let token = self
            .wait_for_approval(t, &opts, prompt, location, after, cancel.as_ref())
            .await?;
        if let Some(tok) = token {
            self.store_token(&origin, tok);
        }
        let (resp, _) = self.send_once(t, replay()?, &origin).await?;
        if let Some(err) = flow::signature_error(resp.status(), resp.headers()) {
            return Err(explain(err, resp).await);
        }
        if resp.status() == StatusCode::ACCEPTED {
            return Err(AAuthError::Protocol(
                "the resource asked for interaction again right after approval".into(),
            ));
        }
        denial_or(resp).await
    }

    /// Sleeps `d` on the client's clock; `Err` when `cancel` fires first.
    async fn pause(&self, d: Duration, cancel: Option<&CancellationToken>) -> Result<(), ()> {
        let sleep = self.clock.sleep(d);
        match cancel {
            Some(c) => tokio::select! {
                _ = sleep => Ok(()),
                _ = c.cancelled() => Err(()),
            },
            None => {
                sleep.await;
                Ok(())
            }
        }
    }

    async fn prompt(
        &self,
        opts: &InteractionOptions,
        shown: &mut HashSet<InteractionPrompt>,
        prompt: InteractionPrompt,
        location: &Url,
    ) {
        if !shown.insert(prompt.clone()) {
            return;
        }
        self.emit(ProtocolEvent::Interaction {
            prompt: prompt.clone(),
            location: location.clone(),
        });
        if let Some(cb) = &opts.callback {
            cb(prompt).await;
        }
    }

    async fn wait_for_approval(
        &self,
        t: &dyn Transport,
        opts: &InteractionOptions,
        first_prompt: Option<InteractionPrompt>,
        location: Url,
        first_wait: Duration,
        cancel: Option<&CancellationToken>,
    ) -> Result<Option<SessionToken>, AAuthError> {
        let mut shown = HashSet::new();
        let mut interacting = false;
        match first_prompt {
            Some(p) => self.prompt(opts, &mut shown, p, &location).await,
            None => self.emit(ProtocolEvent::AwaitingApproval {
                location: location.clone(),
            }),
        }
        // Saturating: `polling_timeout(Duration::MAX)` means "no limit", not a panic.
        let deadline = self.clock.monotonic().saturating_add(opts.polling_timeout);
        let mut backoff = Backoff::new(first_wait);
        let mut attempt: u32 = 0;
        loop {
            let wait = backoff.next_wait();
            let remaining = deadline.saturating_sub(self.clock.monotonic());
            if wait >= remaining {
                if self.pause(remaining, cancel).await.is_err() {
                    return self.give_up(t, &location, AAuthError::Cancelled).await;
                }
                return self
                    .give_up(t, &location, AAuthError::Timeout(opts.polling_timeout))
                    .await;
            }
            self.emit(ProtocolEvent::Waiting { wait, attempt });
            if self.pause(wait, cancel).await.is_err() {
                return self.give_up(t, &location, AAuthError::Cancelled).await;
            }
            attempt = attempt.saturating_add(1);
            let mut poll = Request::new(Method::GET, location.clone());
            if let Some(w) = opts.prefer_wait
                && let Ok(v) = HeaderValue::from_str(&format!("wait={w}"))
            {
                poll.headers_mut().insert("prefer", v);
            }
            let hold = Duration::from_secs(opts.prefer_wait.unwrap_or(0).saturating_add(30));
            *poll.timeout_mut() = Some(hold);
            self.sign(&mut poll)?;
            // The deadline is checked between polls; a poll in flight is bounded by its own
            // HTTP timeout, so a virtual clock never races the network.
            let cancelled = async {
                match cancel {
                    Some(c) => c.cancelled().await,
                    None => std::future::pending().await,
                }
            };
            let resp = tokio::select! {
                r = t.send(poll) => r?,
                _ = cancelled => return self.give_up(t, &location, AAuthError::Cancelled).await,
            };
            let status = resp.status();
            let headers = resp.headers().clone();
            let body = read_bounded(resp, MAX_POLL_BODY).await?;
            let step = flow::classify_poll(&location, status, &headers, &body, self.clock.wall());
            self.emit(ProtocolEvent::Polled {
                status: status.as_u16(),
                interacting: matches!(
                    step,
                    PollStep::Wait {
                        interacting: true,
                        ..
                    }
                ),
            });
            match step {
                PollStep::Approved { token } => return Ok(token),
                PollStep::Fail(e) => return Err(e),
                PollStep::Wait {
                    interacting: now_interacting,
                    ref prompt,
                    ..
                } => {
                    interacting |= now_interacting;
                    // POLL-08: once the person is on the page, prompting again only confuses.
                    if let Some(p) = prompt
                        && !interacting
                    {
                        self.prompt(opts, &mut shown, p.clone(), &location).await;
                    }
                }
                PollStep::SlowDown | PollStep::BackOff { .. } => {}
            }
            backoff.observe(&step);
        }
    }

    async fn give_up<T>(
        &self,
        t: &dyn Transport,
        location: &Url,
        err: AAuthError,
    ) -> Result<T, AAuthError> {
        self.withdraw(t, location).await;
        Err(err)
    }

    /// Best-effort DELETE of the pending URL after giving up (POLL-11, AMB-33).
    async fn withdraw(&self, t: &dyn Transport, location: &Url) {
        let mut req = Request::new(Method::DELETE, location.clone());
        *req.timeout_mut() = Some(WITHDRAW_TIMEOUT);
        if self.sign(&mut req).is_ok() {
            let _ = t.send(req).await;
            self.emit(ProtocolEvent::Withdrawn {
                location: location.clone(),
            });
        }
    }
}

impl AAuthClient {
    /// A client signing with `key` (as `hwk` unless configured otherwise).
    pub fn builder(key: SigningKey) -> AAuthClientBuilder {
        AAuthClientBuilder::new(KeyChoice::Key(key))
    }

    /// A client signing through `signer` (a key held elsewhere, e.g. an HSM).
    pub fn with_signer(signer: Arc<dyn RequestSigner>) -> AAuthClientBuilder {
        AAuthClientBuilder::new(KeyChoice::Signer(signer))
    }

    pub fn get(&self, url: impl AsRef<str>) -> RequestBuilder {
        self.request(Method::GET, url)
    }

    pub fn post(&self, url: impl AsRef<str>) -> RequestBuilder {
        self.request(Method::POST, url)
    }

    pub fn put(&self, url: impl AsRef<str>) -> RequestBuilder {
        self.request(Method::PUT, url)
    }

    pub fn delete(&self, url: impl AsRef<str>) -> RequestBuilder {
        self.request(Method::DELETE, url)
    }

    pub fn request(&self, method: Method, url: impl AsRef<str>) -> RequestBuilder {
        RequestBuilder {
            client: self.clone(),
            inner: self.http.request(method, url.as_ref()),
            cancel: None,
        }
    }

    /// The thumbprint of the key given to the builder (or of the signer). With per-origin
    /// `hwk` keys, the default (SK-25), no resource sees it: use
    /// [`AAuthClient::thumbprint_for`] for the identity a given resource sees. With
    /// [`AAuthClientBuilder::one_key_for_all_origins`], `jwt`, or a single-key signer, every
    /// resource sees this one.
    pub fn thumbprint(&self) -> Thumbprint {
        self.core.thumbprint.clone()
    }

    /// The thumbprint the resource at `origin` sees (and the key its session token is bound
    /// to). `origin` may be a URL (`https://r.example/data`) or `scheme://host[:port]`.
    pub fn thumbprint_for(&self, origin: &str) -> Thumbprint {
        let origin = match Url::parse(origin) {
            Ok(u) if u.has_host() => origin_of(&u),
            _ => origin.to_owned(),
        };
        self.core.signer.thumbprint_for(&origin)
    }

    /// The session token held for `origin` (e.g. `https://resource.example`) under the key
    /// this client shows that origin ([`AAuthClient::thumbprint_for`]), if any.
    pub fn session_token(&self, origin: &str) -> Option<SessionToken> {
        self.core.token(origin)
    }

    /// Forgets the session token for `origin`.
    pub fn forget_session(&self, origin: &str) {
        self.core.forget(origin);
    }

    /// The metadata read from `origin`, once a request has gone there (and it published one).
    pub fn resource_metadata(&self, origin: &str) -> Option<ResourceMetadata> {
        self.core.cached_metadata(origin).as_deref().cloned()
    }

    /// A `reqwest-middleware` middleware sharing this client's key, session tokens, metadata
    /// and interaction handling.
    #[cfg(feature = "middleware")]
    pub fn middleware(&self) -> crate::AAuthMiddleware {
        crate::AAuthMiddleware::new(self.core.clone())
    }

    /// Signs `req` in place: `Signature-Key`, `Signature-Input` and `Signature`, covering
    /// `@method @authority @path` (plus `@query` when there is one, `authorization` when
    /// present, and components asked for) and `signature-key`, with `created` now (SIG-08,
    /// SIG-09, SIG-13, SESS-05). Attaches nothing else: use it to sign for another HTTP tool.
    pub fn sign(&self, req: &mut Request) -> Result<(), AAuthError> {
        self.core.sign(req)
    }

    /// The signature base [`AAuthClient::sign`] would sign for `req` now (diagnostics).
    pub fn signature_base(&self, req: &Request) -> Result<String, AAuthError> {
        let url = req.url().clone();
        let authority = authority_of(&url);
        let mut h = req.headers().clone();
        h.remove(headers::SIGNATURE);
        h.remove(headers::SIGNATURE_INPUT);
        h.remove(headers::SIGNATURE_KEY);
        let created = self
            .core
            .clock
            .wall()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let body = req.body().and_then(|b| b.as_bytes());
        let opts = SignOptions {
            components: self.core.cover(&url, body, &mut h),
            created,
            expires: None,
            label: "sig".to_owned(),
        };
        let snapshot = h.clone();
        let target = RequestTarget {
            method: req.method(),
            scheme: url.scheme(),
            authority: &authority,
            path: url.path(),
            query: url.query(),
            headers: &snapshot,
        };
        self.core
            .signer
            .signature_base(&target, &mut h, &opts)
            .map_err(|e| AAuthError::Sign(e.to_string()))
    }

    /// Sends `req`, handling signatures, interaction and session tokens; see the crate docs.
    pub async fn execute(&self, req: Request) -> Result<Response, AAuthError> {
        self.core.execute(&self.http, req, None).await
    }
}

/// Adds the `detail` (else `title`) of the problem details that came with a `401` to a
/// [`AAuthError::Signature`]; a body that is not JSON, or cannot be read, adds nothing.
async fn explain(err: AAuthError, resp: Response) -> AAuthError {
    let AAuthError::Signature {
        code,
        required_input,
        accept_schemes,
        accept_algs,
        ..
    } = err
    else {
        return err;
    };
    let body = read_bounded(resp, MAX_POLL_BODY).await.unwrap_or_default();
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    let detail = ["detail", "title"]
        .iter()
        .find_map(|k| v.get(k).and_then(|d| d.as_str()).filter(|d| !d.is_empty()))
        .map(str::to_owned);
    AAuthError::Signature {
        code,
        required_input,
        detail,
        accept_schemes,
        accept_algs,
    }
}

/// A `403` with a problem-details `error` is the resource saying no: surface it as
/// [`AAuthError::Denied`]. Anything else goes to the caller as is.
async fn denial_or(resp: Response) -> Result<Response, AAuthError> {
    let is_problem = resp
        .headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with(aauth_wire::problem::PROBLEM_JSON));
    if resp.status() != StatusCode::FORBIDDEN || !is_problem {
        return Ok(resp);
    }
    let body = read_bounded(resp, MAX_POLL_BODY).await?;
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    Err(AAuthError::Denied {
        error: v
            .get("error")
            .and_then(|e| e.as_str())
            .unwrap_or("denied")
            .to_owned(),
        detail: v.get("detail").and_then(|d| d.as_str()).map(str::to_owned),
    })
}

/// A request being built; [`RequestBuilder::send`] runs it through the AAuth client.
pub struct RequestBuilder {
    client: AAuthClient,
    inner: reqwest::RequestBuilder,
    cancel: Option<CancellationToken>,
}

impl RequestBuilder {
    pub fn header(mut self, name: impl AsRef<str>, value: impl AsRef<str>) -> Self {
        self.inner = self.inner.header(name.as_ref(), value.as_ref());
        self
    }

    pub fn body(mut self, body: impl Into<reqwest::Body>) -> Self {
        self.inner = self.inner.body(body);
        self
    }

    pub fn json<T: serde::Serialize + ?Sized>(mut self, json: &T) -> Self {
        self.inner = self.inner.json(json);
        self
    }

    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.inner = self.inner.timeout(timeout);
        self
    }

    /// Stop waiting for a person when `token` is cancelled ([`AAuthError::Cancelled`]).
    pub fn cancel_on(mut self, token: CancellationToken) -> Self {
        self.cancel = Some(token);
        self
    }

    /// Builds the request without sending it (e.g. to sign it for another tool).
    pub fn build(self) -> Result<Request, AAuthError> {
        Ok(self.inner.build()?)
    }

    pub async fn send(self) -> Result<Response, AAuthError> {
        let req = self.inner.build()?;
        let client = self.client;
        client.core.execute(&client.http, req, self.cancel).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sig_11_a_body_in_memory_is_bound_by_a_covered_content_digest() {
        let client =
            AAuthClient::builder(SigningKey::generate(aauth_sig::Algorithm::Ed25519).unwrap())
                .build()
                .unwrap();
        let mut req = client
            .post("https://r.example/p")
            .body("{\"a\":1}")
            .build()
            .unwrap();
        let base = client.signature_base(&req).unwrap();
        assert!(base.contains("\n\"content-digest\": sha-256=:"), "{base}");
        client.sign(&mut req).unwrap();
        let mut expected = http::HeaderMap::new();
        aauth_sig::digest::set_content_digest(&mut expected, b"{\"a\":1}");
        assert_eq!(
            req.headers().get("content-digest"),
            expected.get("content-digest")
        );
        let input = req.headers()["signature-input"].to_str().unwrap();
        assert!(
            input.contains("\"content-digest\" \"signature-key\""),
            "{input}"
        );
        // No body, no digest.
        let mut get = client.get("https://r.example/p").build().unwrap();
        client.sign(&mut get).unwrap();
        assert!(get.headers().get("content-digest").is_none());
    }

    /// Records what would be sent and answers `200`.
    #[derive(Default)]
    struct Recorder(Mutex<Vec<(String, bool)>>);

    impl Transport for Recorder {
        fn send(&self, req: Request) -> SendFuture<'_> {
            let with_token = req.headers().contains_key(http::header::AUTHORIZATION);
            lock(&self.0).push((req.url().to_string(), with_token));
            Box::pin(async { Ok(Response::from(http::Response::new(""))) })
        }
    }

    fn client_with_tokens(origins: &[&str], allow: bool) -> AAuthClient {
        let key = SigningKey::generate(aauth_sig::Algorithm::Ed25519).unwrap();
        let cache = MemorySessionCache::default();
        for o in origins {
            // Under the key each origin sees (SK-25: one per origin).
            let thumb = key.derive_for_origin(o).unwrap().thumbprint();
            cache.put(o, &thumb, SessionToken::parse("tok").unwrap());
        }
        AAuthClient::builder(key)
            .resource_metadata(false)
            .session_cache(Arc::new(cache))
            .allow_insecure_http(allow)
            .build()
            .unwrap()
    }

    #[tokio::test]
    async fn a_session_token_never_goes_over_plain_http_to_a_non_loopback_host() {
        let origins = [
            "http://10.255.255.1",
            "http://127.0.0.1:8080",
            "http://localhost:8080",
            "https://r.example",
        ];
        let client = client_with_tokens(&origins, false);
        let t = Recorder::default();
        let req = client.get("http://10.255.255.1/data").build().unwrap();
        let err = client.core.execute(&t, req, None).await.unwrap_err();
        assert!(
            matches!(&err, AAuthError::InsecureTransport(o) if o == "http://10.255.255.1"),
            "{err:?}"
        );
        assert!(err.to_string().contains("use https"), "{err}");
        assert!(lock(&t.0).is_empty(), "nothing was sent");
        // Loopback http and https carry the token.
        for url in [
            "http://127.0.0.1:8080/data",
            "http://localhost:8080/data",
            "https://r.example/data",
        ] {
            let req = client.get(url).build().unwrap();
            client.core.execute(&t, req, None).await.unwrap();
        }
        assert!(lock(&t.0).iter().all(|(_, token)| *token), "{:?}", t.0);
        // The opt-out sends it.
        let client = client_with_tokens(&origins, true);
        let t = Recorder::default();
        let req = client.get("http://10.255.255.1/data").build().unwrap();
        client.core.execute(&t, req, None).await.unwrap();
        assert_eq!(*lock(&t.0), [("http://10.255.255.1/data".to_owned(), true)]);
    }

    #[tokio::test]
    async fn err_04_the_problem_detail_and_accept_fields_of_a_401_are_kept() {
        let client = client_with_tokens(&[], false);
        struct Refuse;
        impl Transport for Refuse {
            fn send(&self, _req: Request) -> SendFuture<'_> {
                Box::pin(async {
                    let resp = http::Response::builder()
                        .status(401)
                        .header("signature-error", "error=unsupported_algorithm")
                        .header("accept-signature-alg", "ES256")
                        .header("content-type", "application/problem+json")
                        .body(r#"{"error":"unsupported_algorithm","detail":"only ES256 here"}"#)
                        .unwrap();
                    Ok(Response::from(resp))
                })
            }
        }
        let req = client.get("https://r.example/data").build().unwrap();
        let err = client.core.execute(&Refuse, req, None).await.unwrap_err();
        let AAuthError::Signature {
            detail,
            accept_algs,
            accept_schemes,
            ..
        } = err
        else {
            panic!("{err:?}");
        };
        assert_eq!(detail.as_deref(), Some("only ES256 here"));
        assert_eq!(accept_algs.as_deref(), Some("ES256"));
        assert_eq!(accept_schemes, None);
    }

    #[test]
    fn amb_33_default_polling_timeout_is_five_minutes() {
        assert_eq!(
            InteractionOptions::default().polling_timeout,
            Duration::from_secs(300)
        );
    }

    #[test]
    fn sig_09_sess_05_components_cover_the_mandatory_set_query_and_authorization() {
        let client =
            AAuthClient::builder(SigningKey::generate(aauth_sig::Algorithm::Ed25519).unwrap())
                .sign_component("Content-Type")
                .sign_component("x-absent")
                .build()
                .unwrap();
        let url = Url::parse("https://r.example/p?q=1").unwrap();
        let mut h = http::HeaderMap::new();
        h.insert("authorization", HeaderValue::from_static("AAuth t"));
        h.insert("content-type", HeaderValue::from_static("text/plain"));
        assert_eq!(
            client.core.components(&url, &h),
            [
                "@method",
                "@authority",
                "@path",
                "@query",
                "authorization",
                "content-type",
                "signature-key"
            ]
        );
        let bare = Url::parse("https://r.example/p").unwrap();
        assert_eq!(
            client.core.components(&bare, &http::HeaderMap::new()),
            ["@method", "@authority", "@path", "signature-key"]
        );
    }
}
