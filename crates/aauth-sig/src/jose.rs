//! Compact JWS (RFC 7515) and JWT (RFC 7519) on `ring`, as far as `Signature-Key` needs them.
//!
//! Done by hand instead of through a JOSE crate because AAuth names algorithms with the fully
//! specified identifiers (`Ed25519`, not `EdDSA`), which the common crates cannot express, and
//! because the project has one crypto stack (`ring`). Only the compact serialisation is
//! accepted; `crit` is refused (we implement no extension), and the JWS `alg` must agree with
//! the verifying key's own `alg` (the key decides, SIG-03).

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use serde_json::{Map, Value};
use thiserror::Error;

use crate::alg::Algorithm;
use crate::error::KeyError;
use crate::jwk::Jwk;
use crate::keys::{SigningKey, VerifyingKey};

/// Longest compact JWT accepted. An agent token is a few hundred bytes; the bound keeps a
/// hostile `Signature-Key` from costing more than a fixed amount of decoding.
pub const MAX_JWT_LEN: usize = 16 * 1024;

/// Why a JWT was refused. Every variant maps to `invalid_jwt` except where the resolver says
/// otherwise; messages are safe to send to the client.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum JwtError {
    /// Longer than [`MAX_JWT_LEN`].
    #[error("JWT is too long")]
    TooLong,
    /// Not three base64url segments.
    #[error("JWT is not a compact JWS")]
    Structure,
    /// The protected header is not a JSON object of the expected shape.
    #[error("JWT header is malformed")]
    Header,
    /// The payload is not a JSON object.
    #[error("JWT payload is not a JSON object")]
    Payload,
    /// The header names an extension we must understand (`crit`).
    #[error("JWT header has crit")]
    Critical,
    /// `alg` is `none`, symmetric, polymorphic (outside legacy mode) or not implemented.
    #[error("JWT algorithm {0} is not accepted")]
    Algorithm(String),
    /// The JWS `alg` disagrees with the verifying key's `alg`.
    #[error("JWT algorithm does not match the issuer key")]
    AlgorithmMismatch,
    /// The signature does not verify.
    #[error("JWT signature does not verify")]
    BadSignature,
}

/// The JOSE header members we read; others are ignored.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct JoseHeader {
    pub alg: String,
    #[serde(default)]
    pub typ: Option<String>,
    #[serde(default)]
    pub kid: Option<String>,
    #[serde(default)]
    pub crit: Option<Value>,
}

/// A parsed, not yet verified, compact JWT.
#[derive(Clone)]
pub struct UnverifiedJwt {
    header: JoseHeader,
    claims: Map<String, Value>,
    /// `BASE64URL(header) '.' BASE64URL(payload)`, what the signature covers.
    signing_input: String,
    signature: Vec<u8>,
}

/// The token is a credential: `Debug` shows the header only.
impl fmt::Debug for UnverifiedJwt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnverifiedJwt")
            .field("header", &self.header)
            .finish_non_exhaustive()
    }
}

impl UnverifiedJwt {
    /// Splits and decodes a compact JWS; checks structure only (SK-16 step 1).
    pub fn parse(compact: &str) -> Result<Self, JwtError> {
        if compact.len() > MAX_JWT_LEN {
            return Err(JwtError::TooLong);
        }
        let mut parts = compact.split('.');
        let (Some(h), Some(p), Some(s), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(JwtError::Structure);
        };
        let header_bytes = URL_SAFE_NO_PAD.decode(h).map_err(|_| JwtError::Structure)?;
        let payload_bytes = URL_SAFE_NO_PAD.decode(p).map_err(|_| JwtError::Structure)?;
        let signature = URL_SAFE_NO_PAD.decode(s).map_err(|_| JwtError::Structure)?;
        let header: JoseHeader =
            serde_json::from_slice(&header_bytes).map_err(|_| JwtError::Header)?;
        if header.crit.is_some() {
            return Err(JwtError::Critical);
        }
        let claims = match serde_json::from_slice::<Value>(&payload_bytes) {
            Ok(Value::Object(map)) => map,
            _ => return Err(JwtError::Payload),
        };
        Ok(UnverifiedJwt {
            header,
            claims,
            signing_input: compact[..h.len() + 1 + p.len()].to_owned(),
            signature,
        })
    }

    /// The protected header.
    pub fn header(&self) -> &JoseHeader {
        &self.header
    }

    /// The claims, unverified until [`UnverifiedJwt::verify`] succeeds.
    pub fn claims(&self) -> &Map<String, Value> {
        &self.claims
    }

    /// Consumes the token, returning its claims.
    pub fn into_claims(self) -> Map<String, Value> {
        self.claims
    }

    /// The algorithm the header names, if it is one we accept (SIG-04, SIG-05, AGT-04).
    /// `EdDSA` is read as `Ed25519` only with `legacy_eddsa` (AMB-44).
    pub fn algorithm(&self, legacy_eddsa: bool) -> Result<Algorithm, JwtError> {
        match self.header.alg.as_str() {
            "EdDSA" if legacy_eddsa => Ok(Algorithm::Ed25519),
            name => Algorithm::from_jose(name)
                .ok_or_else(|| JwtError::Algorithm(crate::error::clip(name))),
        }
    }

    /// Verifies the signature with `key`, whose own `alg` must be the header's (SIG-03).
    pub fn verify(&self, key: &VerifyingKey, legacy_eddsa: bool) -> Result<(), JwtError> {
        if self.algorithm(legacy_eddsa)? != key.algorithm() {
            return Err(JwtError::AlgorithmMismatch);
        }
        key.verify(self.signing_input.as_bytes(), &self.signature)
            .map_err(|_| JwtError::BadSignature)
    }
}

/// Signs `claims` as a compact JWS with `key`. `alg` is set from the key (fully specified);
/// `typ` and `kid` are taken from the arguments.
pub fn sign_jwt(
    key: &SigningKey,
    typ: &str,
    kid: Option<&str>,
    claims: &Map<String, Value>,
) -> Result<String, KeyError> {
    let mut header = Map::new();
    header.insert("alg".into(), key.algorithm().jose_name().into());
    header.insert("typ".into(), typ.into());
    if let Some(kid) = kid {
        header.insert("kid".into(), kid.into());
    }
    let h = URL_SAFE_NO_PAD.encode(Value::Object(header).to_string());
    let p = URL_SAFE_NO_PAD.encode(Value::Object(claims.clone()).to_string());
    let mut out = format!("{h}.{p}");
    let sig = key.sign(out.as_bytes())?;
    out.push('.');
    out.push_str(&URL_SAFE_NO_PAD.encode(sig));
    Ok(out)
}

/// Reads a `Jwk` out of a JSON value (a JWKS member or `cnf.jwk`). Unknown members are
/// ignored; a member of the wrong JSON type makes the key unusable.
pub(crate) fn jwk_from_value(value: &Value) -> Option<Jwk> {
    serde_json::from_value(value.clone()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_and_verify_round_trip_and_tamper() {
        let key = SigningKey::generate(Algorithm::Ed25519).unwrap();
        let mut claims = Map::new();
        claims.insert("iss".into(), "https://agent.example".into());
        let jwt = sign_jwt(&key, "aa-agent+jwt", Some("k1"), &claims).unwrap();
        let parsed = UnverifiedJwt::parse(&jwt).unwrap();
        assert_eq!(parsed.header().typ.as_deref(), Some("aa-agent+jwt"));
        parsed.verify(&key.verifying_key(), false).unwrap();
        let other = SigningKey::generate(Algorithm::Ed25519).unwrap();
        assert_eq!(
            parsed.verify(&other.verifying_key(), false),
            Err(JwtError::BadSignature)
        );
        let es = SigningKey::generate(Algorithm::Es256).unwrap();
        assert_eq!(
            parsed.verify(&es.verifying_key(), false),
            Err(JwtError::AlgorithmMismatch)
        );
    }

    #[test]
    fn malformed_tokens_are_refused_without_panicking() {
        for bad in [
            "", "a", "a.b", "a.b.c.d", "!!.e30.", "e30.e30", "W10.e30.", "e30.W10.",
        ] {
            assert!(UnverifiedJwt::parse(bad).is_err(), "{bad}");
        }
        let long = "a".repeat(MAX_JWT_LEN + 1);
        assert_eq!(UnverifiedJwt::parse(&long).unwrap_err(), JwtError::TooLong);
    }
}
