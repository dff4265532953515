//! The demo resource behind `aauth serve` and `aauth demo`: `/data` needs a person's approval,
//! and the person signs in at the interaction page as the demo user.
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};

use aauth_axum::{AAuthResource, Authorized, LocalLogin};
use aauth_store::{PendingStore, RevocationStore, SessionTokenStore};
use axum::Router;
use axum::response::{Html, IntoResponse};
use axum::routing::get;

use crate::person::Login;

/// The demo person's username.
pub const DEMO_USER: &str = "demo";

/// The demo person's credentials: a password drawn once per process and printed on the
/// console by `aauth serve` / `aauth demo`, so only whoever sees the console can approve.
pub fn demo_login() -> &'static Login {
    static LOGIN: OnceLock<Login> = OnceLock::new();
    LOGIN.get_or_init(|| {
        // 96 bits from the OS generator; if it fails the demo cannot run safely, and an empty
        // password makes every login fail rather than succeed.
        let password = aauth_store::random_bytes::<12>()
            .map(|b| b.iter().map(|x| format!("{x:02x}")).collect())
            .unwrap_or_default();
        Login {
            username: DEMO_USER.to_owned(),
            password,
        }
    })
}

async fn data(auth: Authorized) -> impl IntoResponse {
    axum::Json(serde_json::json!({
        "message": "Hello from the AAuth demo resource",
        "agent": auth.agent.thumbprint.as_str(),
        "approved_by": auth.person(),
    }))
}

async fn index() -> Html<&'static str> {
    Html(
        "<!doctype html><title>AAuth demo resource</title><h1>AAuth demo resource</h1>\
         <p><code>/data</code> answers signed requests once a person has approved the agent.</p>",
    )
}

/// The demo application: `/` (public), `/data` (signed + approved), and the AAuth routes
/// (pending URL, interaction page, login, metadata, revocation).
pub fn app(resource: &AAuthResource) -> Router {
    Router::new()
        .route("/data", get(data).post(data))
        .layer(resource.layer())
        .route("/", get(index))
        .merge(resource.routes())
}

/// Shared stores for the demo resource (e.g. the Redis backend, so several `aauth serve`
/// processes act as one resource). Without them the resource keeps its state in memory.
#[derive(Clone)]
pub struct DemoStores {
    pub sessions: Arc<dyn SessionTokenStore>,
    pub pending: Arc<dyn PendingStore>,
    pub revocations: Arc<dyn RevocationStore>,
    pub replay: Arc<dyn aauth_store::ReplayStore>,
}

/// What `aauth serve` can change about the demo resource.
#[derive(Clone, Default)]
pub struct DemoOptions {
    /// The demo person's login; `None` = [`demo_login`] (a password drawn for this process).
    /// Instances that share stores share the login, so a person can sign in on any of them.
    pub login: Option<Login>,
    pub stores: Option<DemoStores>,
    /// Refuse replayed state-changing requests (SIG-19), with the replay cache in `stores`
    /// (or in memory when there are none).
    pub replay_guard: bool,
    /// Also accept `jwt` agent tokens (AMB-01: the draft's scheme for agents) next to `hwk`.
    /// Issuer keys are discovered through `{iss}/.well-known/aauth-agent.json` by
    /// [`key_resolver`](Self::key_resolver), or, without one, by aauth-axum's default: HTTPS
    /// to public addresses only (SK-21).
    pub accept_jwt: bool,
    /// How issuer keys of `jwt` agent tokens are found (e.g. a `DiscoveryResolver` over a
    /// fetcher that knows one test agent provider). Only used with `accept_jwt`.
    pub key_resolver: Option<Arc<dyn aauth_sig::KeyResolver>>,
    /// Lifetime of a pending request and its interaction code, in seconds (at least 10);
    /// `None`: aauth-axum's default (600 s).
    pub pending_ttl: Option<u64>,
    /// The `Retry-After` sent on `202`, in seconds (at least 1); `None`: 1 s, so the demo
    /// flow is quick.
    pub retry_after: Option<u64>,
}

/// Builds the demo resource for an origin on a loopback address.
pub fn resource(public_url: &str) -> Result<AAuthResource, aauth_axum::ConfigError> {
    resource_with(public_url, &DemoOptions::default())
}

/// [`resource`] with the login and stores of `opts`.
pub fn resource_with(
    public_url: &str,
    opts: &DemoOptions,
) -> Result<AAuthResource, aauth_axum::ConfigError> {
    let login = opts.login.as_ref().unwrap_or_else(|| demo_login());
    if login.password.is_empty() {
        return Err(aauth_axum::ConfigError::NoAuthenticator);
    }
    let authenticator = LocalLogin::new()
        .with_user(&login.username, &login.password, Some("Demo person"))
        // Browsers drop `Secure` cookies on plain-http origins.
        .secure_cookies(public_url.starts_with("https:"));
    let mut builder = AAuthResource::builder(public_url)
        .accept_hwk()
        .allow_insecure_loopback()
        .authenticator(Arc::new(authenticator))
        .retry_after(opts.retry_after.unwrap_or(1).max(1));
    if opts.accept_jwt {
        builder = builder.accept_jwt();
        if let Some(resolver) = &opts.key_resolver {
            builder = builder.key_resolver(resolver.clone());
        }
    }
    if let Some(secs) = opts.pending_ttl {
        builder = builder.pending_ttl(secs);
    }
    if let Some(stores) = &opts.stores {
        builder = builder
            .session_store(stores.sessions.clone())
            .pending_store(stores.pending.clone())
            .revocation_store(stores.revocations.clone());
    }
    if opts.replay_guard {
        let cache: Arc<dyn aauth_store::ReplayStore> = match &opts.stores {
            Some(stores) => stores.replay.clone(),
            None => Arc::new(aauth_store::MemoryReplayStore::new()),
        };
        builder = builder.replay_protection(cache, aauth_axum::ReplayScope::UnsafeMethods);
    }
    builder.build()
}

/// Binds `addr` and serves the demo app in the background; returns the bound address.
pub async fn spawn(
    addr: SocketAddr,
    public_url: Option<String>,
) -> std::io::Result<(SocketAddr, AAuthResource, tokio::task::JoinHandle<()>)> {
    spawn_with(addr, public_url, DemoOptions::default()).await
}

/// [`spawn`] with the login and stores of `opts`.
pub async fn spawn_with(
    addr: SocketAddr,
    public_url: Option<String>,
    opts: DemoOptions,
) -> std::io::Result<(SocketAddr, AAuthResource, tokio::task::JoinHandle<()>)> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    let url = public_url.unwrap_or_else(|| format!("http://{local}"));
    let resource = resource_with(&url, &opts).map_err(|e| std::io::Error::other(e.to_string()))?;
    let router = app(&resource);
    let handle = tokio::spawn(crate::serve_http::serve(
        listener,
        router,
        crate::serve_http::HttpLimits::default(),
    ));
    Ok((local, resource, handle))
}
