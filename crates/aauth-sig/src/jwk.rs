//! JSON Web Keys (RFC 7517) as far as AAuth needs them, and RFC 7638 thumbprints.

use std::fmt;

use aauth_wire::Thumbprint;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

use crate::error::KeyError;

/// A JSON Web Key.
///
/// Only the members AAuth uses are modelled; unknown members are ignored when parsing. `d` (the
/// private part) is kept for key import/export but never shown by `Debug`, so a key can be logged
/// without leaking it.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jwk {
    /// Key type: `OKP`, `EC`, `RSA`, …
    pub kty: String,
    /// Curve for `OKP` and `EC` keys.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crv: Option<String>,
    /// Public x coordinate (EC) or public key (OKP), base64url.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub x: Option<String>,
    /// Public y coordinate (EC), base64url.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub y: Option<String>,
    /// RSA modulus, base64url.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n: Option<String>,
    /// RSA public exponent, base64url.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub e: Option<String>,
    /// JOSE algorithm; AAuth requires it on every conveyed key (SK-07).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alg: Option<String>,
    /// Key identifier.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kid: Option<String>,
    /// Private key material (OKP seed or EC scalar), base64url. Secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub d: Option<String>,
}

impl fmt::Debug for Jwk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = f.debug_struct("Jwk");
        s.field("kty", &self.kty);
        for (name, value) in [
            ("crv", &self.crv),
            ("x", &self.x),
            ("y", &self.y),
            ("n", &self.n),
            ("e", &self.e),
            ("alg", &self.alg),
            ("kid", &self.kid),
        ] {
            if let Some(v) = value {
                s.field(name, v);
            }
        }
        if self.d.is_some() {
            s.field("d", &"<redacted>");
        }
        s.finish()
    }
}

impl Jwk {
    /// Parses a JWK from JSON text.
    pub fn from_json(json: &str) -> Result<Self, KeyError> {
        serde_json::from_str(json).map_err(|_| KeyError::Malformed("not a JWK JSON object"))
    }

    /// Serialises to compact JSON (includes `d` if present — use [`Jwk::to_public`] first when
    /// publishing).
    pub fn to_json(&self) -> String {
        // Serialising a struct of strings cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// The same key without its private part.
    pub fn to_public(&self) -> Jwk {
        Jwk {
            d: None,
            ..self.clone()
        }
    }

    /// Whether the JWK carries private key material.
    pub fn is_private(&self) -> bool {
        self.d.is_some()
    }

    /// The RFC 7638 SHA-256 thumbprint: only the required members, in lexicographic order,
    /// without whitespace, so that `alg`, `kid` and `use` never change a key's identity (SK-24).
    pub fn thumbprint(&self) -> Result<Thumbprint, KeyError> {
        let missing = KeyError::Malformed("JWK lacks a member the thumbprint needs");
        let mut json = String::with_capacity(128);
        match self.kty.as_str() {
            "OKP" => {
                let (Some(crv), Some(x)) = (&self.crv, &self.x) else {
                    return Err(missing);
                };
                json.push_str("{\"crv\":");
                push_json_string(&mut json, crv);
                json.push_str(",\"kty\":\"OKP\",\"x\":");
                push_json_string(&mut json, x);
                json.push('}');
            }
            "EC" => {
                let (Some(crv), Some(x), Some(y)) = (&self.crv, &self.x, &self.y) else {
                    return Err(missing);
                };
                json.push_str("{\"crv\":");
                push_json_string(&mut json, crv);
                json.push_str(",\"kty\":\"EC\",\"x\":");
                push_json_string(&mut json, x);
                json.push_str(",\"y\":");
                push_json_string(&mut json, y);
                json.push('}');
            }
            "RSA" => {
                let (Some(e), Some(n)) = (&self.e, &self.n) else {
                    return Err(missing);
                };
                json.push_str("{\"e\":");
                push_json_string(&mut json, e);
                json.push_str(",\"kty\":\"RSA\",\"n\":");
                push_json_string(&mut json, n);
                json.push('}');
            }
            _ => return Err(KeyError::UnsupportedKeyType),
        }
        Ok(thumbprint_of_json(json.as_bytes()))
    }
}

/// SHA-256 + base64url of the canonical JSON.
pub(crate) fn thumbprint_of_json(json: &[u8]) -> Thumbprint {
    let digest = ring::digest::digest(&ring::digest::SHA256, json);
    Thumbprint::from_encoded(URL_SAFE_NO_PAD.encode(digest.as_ref()))
}

/// Appends `value` as a JSON string. Base64url values (the normal case) need no escaping, so
/// they are copied directly; anything else goes through serde_json's escaper.
fn push_json_string(out: &mut String, value: &str) {
    if value
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
    {
        out.push('"');
        out.push_str(value);
        out.push('"');
    } else {
        out.push_str(&serde_json::to_string(value).unwrap_or_default());
    }
}

/// Decodes a base64url JWK member strictly (no padding, no stray trailing bits): the thumbprint
/// is computed over the received text, so two spellings of one key must not both be accepted.
pub(crate) fn b64url_decode(value: &str) -> Result<Vec<u8>, KeyError> {
    URL_SAFE_NO_PAD
        .decode(value)
        .map_err(|_| KeyError::Malformed("JWK member is not base64url"))
}

pub(crate) fn b64url_encode(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}
