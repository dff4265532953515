//! Error types for keys, signing and signature-base creation. Verification failures have their
//! own type, [`crate::VerifyError`], because only they map to wire codes.

use thiserror::Error;

/// A key could not be generated, imported or used.
///
/// Messages never include key material.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyError {
    /// The JWK (or DER) is structurally wrong: missing member, bad base64, wrong length.
    #[error("malformed key: {0}")]
    Malformed(&'static str),
    /// The key type (`kty`) or curve is not one this crate implements.
    #[error("unsupported key type")]
    UnsupportedKeyType,
    /// The `alg` is absent, polymorphic, prohibited or not implemented.
    #[error("unsupported algorithm: {0}")]
    UnsupportedAlgorithm(String),
    /// `kty`/`crv` disagree with `alg` (SIG-06).
    #[error("key type or curve does not match alg {0}")]
    AlgorithmMismatch(String),
    /// The cryptographic library rejected the key (bad point, inconsistent pair, …).
    #[error("key rejected: {0}")]
    Rejected(&'static str),
    /// A private key was needed but only a public one was given.
    #[error("private key material (d) is missing")]
    NotPrivate,
    /// The random number generator or the signing primitive failed.
    #[error("cryptographic operation failed")]
    Crypto,
}

/// Signing a request failed.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum SignError {
    /// The signature base could not be built (missing field, bad component identifier, …).
    #[error("cannot build signature base: {0}")]
    Base(#[from] BaseError),
    /// The key could not sign.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// The label is not a valid structured-field key (lowercase letters, digits, `_-.*`).
    #[error("invalid signature label")]
    InvalidLabel,
    /// The Signature-Key member value does not parse as an SF item.
    #[error("invalid Signature-Key member value")]
    InvalidMember,
    /// A produced header value is not a valid HTTP field value.
    #[error("invalid header value")]
    InvalidHeaderValue,
}

/// The signature base (RFC 9421 §2.5) cannot be created.
///
/// Per RFC 9421 every one of these is fatal for signing and verifying alike; in particular a
/// covered field that is absent is never signed as an empty value.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum BaseError {
    /// The component identifier is not a String item with known, well-typed parameters.
    #[error("invalid component identifier {0}")]
    InvalidComponent(String),
    /// The same component identifier is listed twice.
    #[error("component {0} is covered twice")]
    DuplicateComponent(String),
    /// A covered HTTP field is absent from the message.
    #[error("covered field {0} is absent")]
    MissingField(String),
    /// `;key` names a dictionary member that is absent.
    #[error("dictionary key {key} is absent from {field}")]
    MissingDictionaryKey { field: String, key: String },
    /// A field covered with `;sf` or `;key` is not a valid structured field.
    #[error("field {0} is not a valid structured field")]
    NotStructured(String),
    /// `@query-param` names a parameter that does not occur.
    #[error("query parameter {0} is absent")]
    MissingQueryParam(String),
    /// `@query-param` names a parameter that occurs more than once (RFC 9421 §2.2.8).
    #[error("query parameter {0} occurs more than once")]
    RepeatedQueryParam(String),
    /// A request-only derived component was used on a response, or `@status` on a request.
    #[error("component {0} does not apply to this message")]
    NotApplicable(String),
    /// `;req` was used but no related request is available.
    #[error("component {0} needs the related request")]
    NoRelatedRequest(String),
    /// A component value contains characters that cannot appear in a signature base.
    #[error("value of {0} is not printable ASCII")]
    NonAscii(String),
}

/// Shortens client-supplied text before it is echoed in an error detail.
pub(crate) fn clip(s: &str) -> String {
    const MAX: usize = 64;
    if s.len() <= MAX {
        return s.to_owned();
    }
    let mut end = MAX;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

/// A cryptographic signature check failed. Deliberately carries no reason: telling a
/// malformed signature from a wrong one helps nobody but an attacker.
#[derive(Debug, Error, Clone, Copy, PartialEq, Eq)]
#[error("signature does not verify")]
pub struct SignatureMismatch;
