//! Generic RFC 9421 verification with the HTTP Signature Algorithms registry names.
//!
//! Not used by the AAuth [`crate::Verifier`] (which takes the algorithm from the key's JOSE
//! `alg` only); it exists so the RFC 9421 Appendix B vectors, which use `rsa-pss-sha512` and
//! friends, can be checked with the same base builder.

use ring::signature;

use crate::error::SignatureMismatch;
use crate::jwk::{Jwk, b64url_decode};

/// HTTP Signature Algorithms (RFC 9421 §6.2) that this module can verify.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HttpSigAlgorithm {
    /// `rsa-pss-sha512`
    RsaPssSha512,
    /// `rsa-v1_5-sha256`
    RsaV15Sha256,
    /// `ecdsa-p256-sha256` (raw `r‖s`)
    EcdsaP256Sha256,
    /// `ed25519`
    Ed25519,
}

impl HttpSigAlgorithm {
    /// Parses a registry name.
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "rsa-pss-sha512" => HttpSigAlgorithm::RsaPssSha512,
            "rsa-v1_5-sha256" => HttpSigAlgorithm::RsaV15Sha256,
            "ecdsa-p256-sha256" => HttpSigAlgorithm::EcdsaP256Sha256,
            "ed25519" => HttpSigAlgorithm::Ed25519,
            _ => return None,
        })
    }
}

/// Verifies `sig` over `msg` with a public JWK under a registry algorithm.
pub fn verify_with_jwk(
    alg: HttpSigAlgorithm,
    jwk: &Jwk,
    msg: &[u8],
    sig: &[u8],
) -> Result<(), SignatureMismatch> {
    let member = |v: &Option<String>| -> Result<Vec<u8>, SignatureMismatch> {
        b64url_decode(v.as_deref().ok_or(SignatureMismatch)?).map_err(|_| SignatureMismatch)
    };
    match alg {
        HttpSigAlgorithm::RsaPssSha512 | HttpSigAlgorithm::RsaV15Sha256 => {
            let params: &signature::RsaParameters = if alg == HttpSigAlgorithm::RsaPssSha512 {
                &signature::RSA_PSS_2048_8192_SHA512
            } else {
                &signature::RSA_PKCS1_2048_8192_SHA256
            };
            let key = signature::RsaPublicKeyComponents {
                n: member(&jwk.n)?,
                e: member(&jwk.e)?,
            };
            key.verify(params, msg, sig).map_err(|_| SignatureMismatch)
        }
        HttpSigAlgorithm::EcdsaP256Sha256 => {
            let mut point = vec![4u8];
            point.extend(member(&jwk.x)?);
            point.extend(member(&jwk.y)?);
            signature::UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, point)
                .verify(msg, sig)
                .map_err(|_| SignatureMismatch)
        }
        HttpSigAlgorithm::Ed25519 => {
            signature::UnparsedPublicKey::new(&signature::ED25519, member(&jwk.x)?)
                .verify(msg, sig)
                .map_err(|_| SignatureMismatch)
        }
    }
}
