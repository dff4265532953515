use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, Once};
use std::time::{Duration, Instant, SystemTime};

use aauth_sig::{RequestTarget, SignOptions, Signer, SigningKey};
use aauth_wire::access::{SessionToken, authorization_value, session_token_from_response};
use aauth_wire::headers;
use http::{HeaderValue, Method, StatusCode};
use reqwest::{Request, Response};
use url::Url;

use crate::AAuthError;
use crate::flow::{self, PollStep, SLOW_DOWN_STEP, Step};

type Callback =
    Arc<dyn Fn(InteractionPrompt) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>;

/// Largest poll or error body the agent reads.
const MAX_POLL_BODY: usize = 64 * 1024;

/// What the person has to do: open `url` and confirm `code`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InteractionPrompt {
    pub url: String,
    pub code: String,
}

impl InteractionPrompt {
    /// `{url}?code={code}` (RM-20). Crockford symbols and `-` need no escaping.
    pub fn approval_url(&self) -> String {
        format!("{}?code={}", self.url, self.code)
    }
}

/// How the client handles a `202` interaction requirement.
#[derive(Clone)]
pub struct InteractionOptions {
    callback: Option<Callback>,
    polling_timeout: Duration,
    prefer_wait: Option<u64>,
}

impl Default for InteractionOptions {
    fn default() -> Self {
        InteractionOptions {
            callback: None,
            polling_timeout: Duration::from_secs(300),
            prefer_wait: None,
        }
    }
}

impl InteractionOptions {
    /// Called once per interaction with the URL and code to show the person.
    pub fn on_interaction_required<F, Fut>(&mut self, f: F) -> &mut Self
    where
        F: Fn(InteractionPrompt) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.callback = Some(Arc::new(move |p| Box::pin(f(p))));
        self
    }

    /// How long to wait for the person before giving up (default 5 minutes).
    pub fn polling_timeout(&mut self, timeout: Duration) -> &mut Self {
        self.polling_timeout = timeout;
        self
    }

    /// Ask the resource to hold each poll up to `secs` seconds (`Prefer: wait`, POLL-05).
    pub fn prefer_wait(&mut self, secs: u64) -> &mut Self {
        self.prefer_wait = Some(secs);
        self
    }
}

struct ClientInner {
    http: reqwest::Client,
    signer: Signer,
    interaction: Option<InteractionOptions>,
    /// Session tokens by resource origin (SESS-14): never sent anywhere else.
    tokens: Mutex<HashMap<String, SessionToken>>,
}

/// A signing AAuth client. Cheap to clone.
#[derive(Clone)]
pub struct AAuthClient {
    inner: Arc<ClientInner>,
}

impl std::fmt::Debug for AAuthClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AAuthClient")
            .field("key", &self.inner.signer.thumbprint())
            .finish_non_exhaustive()
    }
}

/// Builds an [`AAuthClient`]; see [`AAuthClient::builder`].
pub struct AAuthClientBuilder {
    key: SigningKey,
    interaction: Option<InteractionOptions>,
    http: Option<reqwest::Client>,
}

static RUSTLS_PROVIDER: Once = Once::new();

/// reqwest runs on rustls with no provider compiled in; the project's one crypto stack is ring.
fn install_ring_provider() {
    RUSTLS_PROVIDER.call_once(|| {
        // Err means another provider was installed first by the application; keep it.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

impl AAuthClientBuilder {
    /// Sign with an `hwk` Signature-Key: the public key inline, the agent pseudonymous (the
    /// seed's `UseHwk`, AMB-01). This is the only scheme the agent offers so far.
    pub fn use_hwk(self) -> Self {
        self
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

    pub fn build(self) -> Result<AAuthClient, AAuthError> {
        let http = match self.http {
            Some(c) => c,
            None => {
                install_ring_provider();
                reqwest::Client::builder()
                    .redirect(reqwest::redirect::Policy::none())
                    .user_agent(concat!("aauth-agent/", env!("CARGO_PKG_VERSION")))
                    .build()?
            }
        };
        Ok(AAuthClient {
            inner: Arc::new(ClientInner {
                http,
                signer: Signer::hwk(self.key),
                interaction: self.interaction,
                tokens: Mutex::new(HashMap::new()),
            }),
        })
    }
}

fn origin_of(url: &Url) -> String {
    url.origin().ascii_serialization()
}

fn authority_of(url: &Url) -> String {
    let host = url.host_str().unwrap_or_default();
    match url.port() {
        Some(p) => format!("{host}:{p}"),
        None => host.to_owned(),
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

async fn read_bounded(resp: Response) -> Result<Vec<u8>, AAuthError> {
    let mut resp = resp;
    let mut out = Vec::new();
    while let Some(chunk) = resp.chunk().await? {
        if out.len() + chunk.len() > MAX_POLL_BODY {
            return Err(AAuthError::Protocol("response body too large".into()));
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

impl AAuthClient {
    pub fn builder(key: SigningKey) -> AAuthClientBuilder {
        AAuthClientBuilder {
            key,
            interaction: None,
            http: None,
        }
    }

    pub fn get(&self, url: impl AsRef<str>) -> RequestBuilder {
        self.request(Method::GET, url)
    }

    pub fn post(&self, url: impl AsRef<str>) -> RequestBuilder {
        self.request(Method::POST, url)
    }

    pub fn request(&self, method: Method, url: impl AsRef<str>) -> RequestBuilder {
        RequestBuilder {
            client: self.clone(),
            inner: self.inner.http.request(method, url.as_ref()),
        }
    }

    /// The thumbprint of the signing key: this agent's pseudonymous identity.
    pub fn thumbprint(&self) -> aauth_wire::Thumbprint {
        self.inner.signer.thumbprint()
    }

    /// The session token held for `origin` (e.g. `https://resource.example`), if any.
    pub fn session_token(&self, origin: &str) -> Option<SessionToken> {
        self.tokens().get(origin).cloned()
    }

    /// Forgets the session token for `origin`.
    pub fn forget_session(&self, origin: &str) {
        self.tokens().remove(origin);
    }

    fn tokens(&self) -> std::sync::MutexGuard<'_, HashMap<String, SessionToken>> {
        // A poisoned lock only means another thread panicked mid-insert; the map is still sound.
        self.inner.tokens.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Signs `req` in place: `Signature-Key`, `Signature-Input` and `Signature`, covering
    /// `@method @authority @path` (+ `@query` when there is one, + `authorization` when present)
    /// and `signature-key`, with `created` now (SIG-08, SIG-09, SIG-13, SESS-05).
    pub fn sign(&self, req: &mut Request) -> Result<(), AAuthError> {
        self.sign_at(req, unix_now())
    }

    fn sign_at(&self, req: &mut Request, created: u64) -> Result<(), AAuthError> {
        let url = req.url().clone();
        let method = req.method().clone();
        let authority = authority_of(&url);
        let h = req.headers_mut();
        h.remove(headers::SIGNATURE);
        h.remove(headers::SIGNATURE_INPUT);
        h.remove(headers::SIGNATURE_KEY);
        let mut components = vec![
            "@method".to_owned(),
            "@authority".to_owned(),
            "@path".to_owned(),
        ];
        if url.query().is_some() {
            components.push("@query".to_owned());
        }
        if h.contains_key(http::header::AUTHORIZATION) {
            components.push("authorization".to_owned());
        }
        components.push("signature-key".to_owned());
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
        self.inner
            .signer
            .sign(&target, h, &opts)
            .map_err(|e| AAuthError::Sign(e.to_string()))
    }

    /// Attaches the origin's session token (if any), signs and sends once. Records a new
    /// `AAuth-Access` from the response (SESS-09). Returns the response and whether a token
    /// was sent.
    async fn send_once(&self, mut req: Request) -> Result<(Response, bool), AAuthError> {
        let origin = origin_of(req.url());
        let token = self.session_token(&origin);
        let sent_token = token.is_some();
        if let Some(t) = token {
            req.headers_mut()
                .insert(http::header::AUTHORIZATION, authorization_value(&t));
        }
        self.sign(&mut req)?;
        let resp = self.inner.http.execute(req).await?;
        self.observe_access(&origin, resp.headers());
        Ok((resp, sent_token))
    }

    fn observe_access(&self, origin: &str, headers: &http::HeaderMap) {
        match session_token_from_response(headers) {
            Ok(Some(t)) => {
                self.tokens().insert(origin.to_owned(), t);
            }
            Ok(None) => {}
            Err(e) => {
                // SESS-13: keep the token we had; a malformed or doubled value is not adopted.
                tracing::warn!(target: "aauth::agent", error = %e, "ignoring malformed AAuth-Access");
            }
        }
    }

    /// Sends `req`, handling signatures, interaction and session tokens; see the crate docs.
    pub async fn execute(&self, req: Request) -> Result<Response, AAuthError> {
        let request_url = req.url().clone();
        let origin = origin_of(&request_url);
        let replay = req.try_clone();
        let (resp, sent_token) = self.send_once(req).await?;
        if let Some(err) = flow::signature_error(resp.status(), resp.headers()) {
            if sent_token {
                self.forget_session(&origin);
            }
            return Err(err);
        }
        let step = flow::classify_initial(
            &request_url,
            resp.status(),
            resp.headers(),
            SystemTime::now(),
        )?;
        let Step::Interact {
            url,
            code,
            location,
            after,
        } = step
        else {
            return denial_or(resp).await;
        };
        let Some(opts) = self.inner.interaction.clone() else {
            return Ok(resp);
        };
        // A 202 to a request that carried a token means the resource no longer honours it.
        if sent_token {
            self.forget_session(&origin);
        }
        drop(resp);
        let token = self
            .wait_for_approval(&opts, InteractionPrompt { url, code }, location, after)
            .await?;
        if let Some(t) = token {
            self.tokens().insert(origin.clone(), t);
        }
        let replay = replay.ok_or(AAuthError::BodyNotReplayable)?;
        let (resp, _) = self.send_once(replay).await?;
        if let Some(err) = flow::signature_error(resp.status(), resp.headers()) {
            return Err(err);
        }
        if resp.status() == StatusCode::ACCEPTED {
            return Err(AAuthError::Protocol(
                "the resource asked for interaction again right after approval".into(),
            ));
        }
        denial_or(resp).await
    }

    async fn wait_for_approval(
        &self,
        opts: &InteractionOptions,
        prompt: InteractionPrompt,
        location: Url,
        first_wait: Duration,
    ) -> Result<Option<SessionToken>, AAuthError> {
        if let Some(cb) = &opts.callback {
            cb(prompt).await;
        }
        let started = Instant::now();
        let deadline = started + opts.polling_timeout;
        let mut base = first_wait;
        let mut extra = Duration::ZERO;
        loop {
            let wait = base + extra;
            let now = Instant::now();
            if now + wait >= deadline {
                tokio::time::sleep(deadline.saturating_duration_since(now)).await;
                self.withdraw(&location).await;
                return Err(AAuthError::Timeout(opts.polling_timeout));
            }
            tokio::time::sleep(wait).await;
            let mut poll = Request::new(Method::GET, location.clone());
            if let Some(w) = opts.prefer_wait {
                if let Ok(v) = HeaderValue::from_str(&format!("wait={w}")) {
                    poll.headers_mut().insert("prefer", v);
                }
                *poll.timeout_mut() = Some(Duration::from_secs(w + 30));
            }
            self.sign(&mut poll)?;
            let resp = self.inner.http.execute(poll).await?;
            let status = resp.status();
            let headers = resp.headers().clone();
            let body = read_bounded(resp).await?;
            match flow::classify_poll(status, &headers, &body, SystemTime::now()) {
                PollStep::Approved { token } => return Ok(token),
                PollStep::Wait { after, .. } => base = after,
                PollStep::SlowDown => extra += SLOW_DOWN_STEP,
                PollStep::BackOff { after } => base = after,
                PollStep::Fail(e) => return Err(e),
            }
        }
    }

    /// Best-effort DELETE of the pending URL after giving up (AMB-33).
    async fn withdraw(&self, location: &Url) {
        let mut req = Request::new(Method::DELETE, location.clone());
        if self.sign(&mut req).is_ok() {
            let _ = self.inner.http.execute(req).await;
        }
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
    let body = read_bounded(resp).await?;
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

    /// Builds the request without sending it (e.g. to sign it for another tool).
    pub fn build(self) -> Result<Request, AAuthError> {
        Ok(self.inner.build()?)
    }

    pub async fn send(self) -> Result<Response, AAuthError> {
        let req = self.inner.build()?;
        self.client.execute(req).await
    }
}
