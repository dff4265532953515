//! RFC 9421 HTTP Message Signatures for AAuth, on `ring`, `sfv` and `http`.
//!
//! * keys: [`SigningKey`], [`VerifyingKey`], [`Jwk`] with RFC 7638 thumbprints;
//! * the RFC 9421 core: component identifiers, signature bases, `Signature-Input`/`Signature`
//!   parsing ([`ComponentId`], [`signature_base`], [`SignatureFields`]);
//! * the AAuth profile: [`Signer`] (writes `Signature-Key`, `Signature-Input`, `Signature`) and
//!   [`Verifier`] (checks in the order of P "Verification (Server)" and maps every failure to
//!   one `Signature-Error` code through [`VerifyError::code`]).
#![forbid(unsafe_code)]

mod alg;
mod components;
mod error;
mod input;
mod jwk;
mod keys;
mod message;
pub mod rfc9421;
mod signer;
mod verifier;
mod verify_error;

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
