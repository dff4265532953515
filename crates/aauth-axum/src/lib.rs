//! The resource side of AAuth for axum: signature verification as a tower layer, extractors for
//! the verified agent and its authorization, and the routes of the resource-managed (two-party)
//! flow — the pending URL the agent polls and the interaction page the person visits.
//!
//! ```no_run
//! use aauth_axum::{AAuthResource, Authorized};
//! use axum::{Router, routing::get};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let resource = AAuthResource::builder("http://127.0.0.1:8080")
//!     .accept_hwk()                 // the seed's pseudonymous agents
//!     .allow_insecure_loopback()    // plain http, loopback only, for development
//!     .build()?;
//!
//! async fn data(auth: Authorized) -> String {
//!     format!("hello, agent {}", auth.agent.thumbprint)
//! }
//!
//! let app = Router::new()
//!     .route("/data", get(data))
//!     .layer(resource.layer())      // verify every request's signature
//!     .merge(resource.routes());    // pending URL + interaction page
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! axum::serve(listener, app).await?;
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]

mod config;
mod extract;
mod html;
pub mod interaction;
mod layer;
mod login;
mod metadata;
mod metrics;
pub mod pages;
mod pending;
mod policy;
mod response;
mod revoke;

pub use aauth_sig::{HwkAlgPolicy, ReplayScope};
pub use aauth_store::{AgentTokenId, RevokeOutcome, SessionGrant, StoreError};
pub use config::{
    AAuthResource, AccessModeName, CallbackPolicy, ConfigError, DEFAULT_MAX_PENDING_PER_AGENT,
    DEFAULT_MAX_PENDING_TOTAL, InvalidSessionPolicy, MAX_LONG_POLL, MAX_PENDING_TTL,
    ResourceBuilder, Strictness,
};
pub use extract::{Authorized, RequireInteraction, VerifiedAgent};
pub use interaction::{DevLoopbackPerson, InteractionAuthenticator, Person};
pub use layer::{AAuthLayer, AAuthService};
pub use login::LocalLogin;
pub use metrics::MetricsSnapshot;
pub use pages::{DefaultPage, InteractionPage};
pub use policy::{Decision, GrantContext, PolicyContext, SessionTerms};
pub use response::{Denied, InteractionRequired};
