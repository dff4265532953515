//! An AAuth agent on `reqwest`: every request is signed (RFC 9421 + `Signature-Key`), a `202`
//! interaction requirement is handed to your callback and polled to completion, and the session
//! token the resource returns is used for later calls.
//!
//! ```no_run
//! use std::time::Duration;
//! use aauth_agent::AAuthClient;
//! use aauth_sig::{Algorithm, SigningKey};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let key = SigningKey::generate(Algorithm::Ed25519)?;
//! let client = AAuthClient::builder(key)
//!     .use_hwk()
//!     .with_interaction_handling(|o| {
//!         o.on_interaction_required(|prompt| async move {
//!             println!("Approve at: {}", prompt.approval_url());
//!         });
//!         o.polling_timeout(Duration::from_secs(180));
//!     })
//!     .build()?;
//! let response = client.get("https://resource.example/data").send().await?;
//! println!("{}", response.text().await?);
//! # Ok(()) }
//! ```
//!
//! The pieces: [`flow`] classifies responses without I/O (the polling table, `Retry-After`,
//! `Location` rules), [`AAuthClient`] drives it over reqwest (or [`AAuthMiddleware`] inside a
//! `reqwest-middleware` stack), [`SessionCache`] keeps session tokens per (origin, key),
//! [`RequestSigner`] is where the key lives, and [`Clock`] is injectable so polling intervals
//! are testable exactly.
//!
//! An `hwk` agent is pseudonymous, so by default it shows each resource origin a key of its
//! own, derived from the key you give the builder ([`PerOriginSigner`], SK-25); resources
//! cannot correlate it by thumbprint. [`AAuthClient::thumbprint_for`] tells you what a given
//! resource sees; [`AAuthClientBuilder::one_key_for_all_origins`] opts out.
#![forbid(unsafe_code)]

mod client;
pub mod clock;
mod error;
mod events;
pub mod flow;
pub mod keyfile;
pub mod metadata;
#[cfg(feature = "middleware")]
mod middleware;
mod origin_keys;
pub mod session;
mod signer;

pub use client::{
    AAuthClient, AAuthClientBuilder, DEFAULT_MAX_REPLAY_BODY, InteractionOptions, RequestBuilder,
    origin_of,
};
pub use clock::{Clock, SystemClock};
pub use error::AAuthError;
pub use events::ProtocolEvent;
pub use flow::{InteractionPrompt, UnhandledRequirement};
pub use metadata::ResourceMetadata;
#[cfg(feature = "middleware")]
pub use middleware::AAuthMiddleware;
pub use origin_keys::PerOriginSigner;
pub use session::{FileSessionCache, MemorySessionCache, SessionCache, SessionCacheError};
pub use signer::RequestSigner;
/// Re-exported so callers can cancel a wait without adding `tokio-util` themselves.
pub use tokio_util::sync::CancellationToken;
