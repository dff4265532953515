//! Verification failures and their one mapping to `Signature-Error` codes.

use aauth_wire::signature_error::SignatureErrorCode;
use thiserror::Error;

use crate::error::BaseError;

/// Why a signed request was refused.
///
/// [`VerifyError::code`] is the single place a failure becomes a wire code, and `Display`
/// (also [`VerifyError::detail`]) is written to be safe to send to the client: it names headers,
/// components and algorithms, never key material or tokens.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum VerifyError {
    /// `Signature`, `Signature-Input` or `Signature-Key` is absent (P step 1, AMB-05).
    #[error("missing {0} header")]
    MissingHeader(&'static str),
    /// `Signature-Key` is not a structured-field dictionary (AMB-06).
    #[error("Signature-Key is malformed")]
    MalformedSignatureKey,
    /// No label in `Signature-Input` has a usable `Signature-Key` member (SK-02, AMB-05).
    #[error("no Signature-Key member for any signature label")]
    NoSignatureKeyMember,
    /// `Signature` or `Signature-Input` cannot be parsed, a label is in only one of them, or
    /// the selected label's parameters are ill-typed (SIG-30, AMB-06).
    #[error("malformed signature: {0}")]
    MalformedSignature(&'static str),
    /// The covered components lack something the server requires (SIG-21); carries the full
    /// required list for `required_input`.
    #[error("covered components are missing required ones")]
    MissingComponents {
        /// Every component the server requires for this request.
        required: Vec<String>,
    },
    /// The signature has no `created` parameter (SIG-13).
    #[error("signature has no created parameter")]
    MissingCreated,
    /// `created` is older than the window allows (SIG-18).
    #[error("signature created too long ago")]
    CreatedTooOld,
    /// `created` is further in the future than the window allows (SIG-18, AMB-10).
    #[error("signature created in the future")]
    CreatedInFuture {
        /// Report as `clock_skew` (SK9) instead of `invalid_signature` (P).
        clock_skew: bool,
    },
    /// `expires` is in the past (SIG-16).
    #[error("signature expired")]
    Expired,
    /// The selected member's scheme is not accepted (SIG-23).
    #[error("unsupported Signature-Key scheme {0}")]
    UnsupportedScheme(String),
    /// The key's `alg` is absent, polymorphic, unimplemented or not accepted (SIG-25).
    #[error("unsupported algorithm {0}")]
    UnsupportedAlgorithm(String),
    /// The key is unusable: unparseable, wrong lengths, off-curve, `kty`/`crv` vs `alg`
    /// mismatch, `kid` in `hwk` (SIG-06, SK-11, SK-12).
    #[error("invalid key: {0}")]
    InvalidKey(&'static str),
    /// The signature base could not be rebuilt (SIG-26).
    #[error("cannot rebuild signature base: {0}")]
    Base(BaseError),
    /// The cryptographic check failed (SIG-26).
    #[error("signature does not verify")]
    BadSignature,
    /// The `Signature-Key` JWT is malformed, has the wrong `typ`, a refused header `alg`, a
    /// missing or invalid claim, or a signature that does not verify (ERR-17, AMB-06).
    #[error("invalid JWT: {0}")]
    InvalidJwt(&'static str),
    /// The `Signature-Key` JWT's `exp` has passed (ERR-18).
    #[error("JWT expired")]
    ExpiredJwt,
    /// The JWT's `iat` is later than now plus the signature window (AGT-11, AMB-10).
    #[error("JWT issued in the future")]
    JwtIssuedInFuture {
        /// Report as `clock_skew` (SK9) instead of `invalid_jwt` (P).
        clock_skew: bool,
    },
    /// The issuer's JWKS has no key with the `kid`, after the one refresh allowed (ERR-14).
    #[error("no key with that kid at the issuer")]
    UnknownKey,
    /// The discovery metadata has no `issuer` (ERR-15).
    #[error("issuer metadata has no issuer")]
    IssuerMissing,
    /// The discovery metadata's `issuer` is not the identity it was fetched under (ERR-16).
    #[error("issuer metadata names another issuer")]
    IssuerMismatch,
    /// The replay guard has seen this signature within the window (SIG-19; code derived).
    #[error("signature replayed")]
    Replayed,
    /// A failure decided by a key resolver outside this crate (e.g. the `jwt` scheme:
    /// `invalid_jwt`, `expired_jwt`, `unknown_key`, `issuer_missing`, `issuer_mismatch`).
    #[error("{detail}")]
    Resolver {
        /// The wire code to answer with.
        code: SignatureErrorCode,
        /// Client-safe explanation.
        detail: String,
    },
}

impl VerifyError {
    /// The `Signature-Error` code for this failure.
    pub fn code(&self) -> SignatureErrorCode {
        use SignatureErrorCode as C;
        match self {
            VerifyError::MissingHeader(_)
            | VerifyError::MalformedSignatureKey
            | VerifyError::NoSignatureKeyMember => C::InvalidRequest,
            VerifyError::MissingComponents { .. } => C::InvalidInput,
            VerifyError::MalformedSignature(_)
            | VerifyError::MissingCreated
            | VerifyError::CreatedTooOld
            | VerifyError::CreatedInFuture { clock_skew: false }
            | VerifyError::Expired
            | VerifyError::Base(_)
            | VerifyError::BadSignature
            | VerifyError::Replayed => C::InvalidSignature,
            VerifyError::InvalidJwt(_) | VerifyError::JwtIssuedInFuture { clock_skew: false } => {
                C::InvalidJwt
            }
            VerifyError::JwtIssuedInFuture { clock_skew: true } => C::ClockSkew,
            VerifyError::ExpiredJwt => C::ExpiredJwt,
            VerifyError::UnknownKey => C::UnknownKey,
            VerifyError::IssuerMissing => C::IssuerMissing,
            VerifyError::IssuerMismatch => C::IssuerMismatch,
            VerifyError::CreatedInFuture { clock_skew: true } => C::ClockSkew,
            VerifyError::UnsupportedScheme(_) => C::UnsupportedScheme,
            VerifyError::UnsupportedAlgorithm(_) => C::UnsupportedAlgorithm,
            VerifyError::InvalidKey(_) => C::InvalidKey,
            VerifyError::Resolver { code, .. } => code.clone(),
        }
    }

    /// For `invalid_input`: every component the server requires (ERR-09).
    pub fn required_input(&self) -> Option<&[String]> {
        match self {
            VerifyError::MissingComponents { required } => Some(required),
            _ => None,
        }
    }

    /// A human-readable explanation that is safe to send to the client.
    pub fn detail(&self) -> String {
        self.to_string()
    }
}
