//! RFC 9421 HTTP Message Signatures for AAuth, on `ring`, `sfv` and `http`.
//!
//! * keys: [`SigningKey`], [`VerifyingKey`], [`Jwk`] with RFC 7638 thumbprints;
//! * the RFC 9421 core: component identifiers, signature bases, `Signature-Input`/`Signature`
//!   parsing ([`ComponentId`], [`signature_base`], [`SignatureFields`]);
//! * the AAuth profile: [`Signer`] (writes `Signature-Key`, `Signature-Input`, `Signature`) and
//!   [`Verifier`] (checks in the order of P "Verification (Server)" and maps every failure to
//!   one `Signature-Error` code through [`VerifyError::code`]);
//! * key resolution for `jwt` (agent tokens) and `jwks_uri`: [`KeyResolver`],
//!   [`DiscoveryResolver`] with its [`JwksCache`], over a pluggable [`Fetcher`] with egress
//!   admission ([`EgressPolicy`]); `ReqwestFetcher` with the `fetch-reqwest` feature;
//! * the agent side of `jwt`: [`AgentToken`], [`TokenRefresher`], [`RefreshingSigner`];
//! * `Content-Digest` ([`digest`]) and an optional replay guard ([`ReplayGuard`]).
#![forbid(unsafe_code)]

mod agent_token;
mod alg;
mod components;
pub mod digest;
mod discovery;
mod error;
mod fetch;
#[cfg(feature = "fetch-reqwest")]
mod fetch_reqwest;
pub mod ident;
mod input;
pub mod jose;
mod jwk;
mod keys;
mod message;
mod replay;
mod resolver;
pub mod rfc9421;
mod signer;
#[cfg(feature = "testing")]
pub mod testing;
mod verifier;
mod verify_error;

pub use agent_token::{AgentToken, MalformedToken, RefreshError, RefreshingSigner, TokenRefresher};
pub use discovery::{CacheConfig, DiscoveryError, JwksCache};
pub use fetch::{EgressPolicy, FetchError, FetchResponse, Fetcher, HttpsUrl, is_public};
#[cfg(feature = "fetch-reqwest")]
pub use fetch_reqwest::ReqwestFetcher;
pub use replay::{MemoryReplayGuard, ReplayError, ReplayGuard, ReplayScope};
pub use resolver::{
    AgentIdentity, AgentTokenPolicy, DiscoveryResolver, KeyResolver, NoDiscovery, ResolveContext,
    ResolvedKey, SignerIdentity,
};

pub use alg::Algorithm;
pub use components::{ComponentId, signature_base};
pub use error::{BaseError, KeyError, SignError, SignatureMismatch};
pub use input::{ParsedSignature, SignatureFields};
pub use jwk::Jwk;
pub use keys::{KeyPolicy, SigningKey, VerifyingKey};
pub use message::{Message, RequestTarget, ResponseTarget, TargetError, canonical_authority};
pub use signer::{MANDATORY_COMPONENTS, SignOptions, Signer};
pub use verifier::{HwkAlgPolicy, PreparedSignature, VerifiedSignature, Verifier, VerifierConfig};
pub use verify_error::VerifyError;

pub use aauth_wire::Thumbprint;
pub use aauth_wire::signature_key::Scheme;
