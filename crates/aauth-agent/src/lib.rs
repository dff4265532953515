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
#![forbid(unsafe_code)]

mod client;
mod error;
pub mod flow;

pub use client::{
    AAuthClient, AAuthClientBuilder, InteractionOptions, InteractionPrompt, RequestBuilder,
};
pub use error::AAuthError;
