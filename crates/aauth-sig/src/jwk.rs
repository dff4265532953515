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
        // (member name, value) pairs in lexicographic order of the names.
        let (kty, members): (&str, [(&str, &str); 3]) = match self.kty.as_str() {
            "OKP" => {
                let (Some(crv), Some(x)) = (&self.crv, &self.x) else {
                    return Err(missing);
                };
                ("OKP", [("crv", crv), ("x", x), ("", "")])
            }
            "EC" => {
                let (Some(crv), Some(x), Some(y)) = (&self.crv, &self.x, &self.y) else {
                    return Err(missing);
                };
                ("EC", [("crv", crv), ("x", x), ("y", y)])
            }
            "RSA" => {
                let (Some(e), Some(n)) = (&self.e, &self.n) else {
                    return Err(missing);
                };
                ("RSA", [("e", e), ("n", n), ("", "")])
            }
            _ => return Err(KeyError::UnsupportedKeyType),
        };
        let mut json = CanonicalJson::default();
        json.push(b"{");
        let mut first = true;
        let mut kty_written = false;
        for (name, value) in members.iter().filter(|(n, _)| !n.is_empty()) {
            if !kty_written && "kty" < *name {
                json.member(&mut first, "kty", kty);
                kty_written = true;
            }
            json.member(&mut first, name, value);
        }
        if !kty_written {
            json.member(&mut first, "kty", kty);
        }
        json.push(b"}");
        let digest = ring::digest::digest(&ring::digest::SHA256, json.as_bytes());
        Ok(Thumbprint::from_encoded(
            URL_SAFE_NO_PAD.encode(digest.as_ref()),
        ))
    }
}

/// The thumbprint's canonical JSON, on the stack while it fits (every EC and OKP key does);
/// a long RSA modulus moves it to the heap.
struct CanonicalJson {
    stack: [u8; 192],
    len: usize,
    heap: Option<Vec<u8>>,
}

impl Default for CanonicalJson {
    fn default() -> Self {
        CanonicalJson {
            stack: [0; 192],
            len: 0,
            heap: None,
        }
    }
}

impl CanonicalJson {
    fn push(&mut self, bytes: &[u8]) {
        if let Some(heap) = &mut self.heap {
            heap.extend_from_slice(bytes);
        } else if let Some(slot) = self.stack.get_mut(self.len..self.len + bytes.len()) {
            slot.copy_from_slice(bytes);
            self.len += bytes.len();
        } else {
            let mut heap = Vec::with_capacity(2 * (self.len + bytes.len()));
            heap.extend_from_slice(&self.stack[..self.len]);
            heap.extend_from_slice(bytes);
            self.heap = Some(heap);
        }
    }

    /// `"name":"value"`, comma-separated. Base64url values (the normal case) need no
    /// escaping; anything else goes through serde_json's escaper.
    fn member(&mut self, first: &mut bool, name: &str, value: &str) {
        if !std::mem::take(first) {
            self.push(b",");
        }
        self.push(b"\"");
        self.push(name.as_bytes());
        self.push(b"\":");
        if value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
        {
            self.push(b"\"");
            self.push(value.as_bytes());
            self.push(b"\"");
        } else {
            self.push(serde_json::to_string(value).unwrap_or_default().as_bytes());
        }
    }

    fn as_bytes(&self) -> &[u8] {
        match &self.heap {
            Some(h) => h,
            None => &self.stack[..self.len],
        }
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

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    /// RFC 7638 spelled out: the required members in a sorted map, serialised by serde_json.
    fn by_the_book(jwk: &Jwk) -> String {
        let mut m = BTreeMap::new();
        m.insert("kty", jwk.kty.clone());
        let required: &[(&str, &Option<String>)] = match jwk.kty.as_str() {
            "OKP" => &[("crv", &jwk.crv), ("x", &jwk.x)],
            "EC" => &[("crv", &jwk.crv), ("x", &jwk.x), ("y", &jwk.y)],
            _ => &[("e", &jwk.e), ("n", &jwk.n)],
        };
        for (name, value) in required {
            m.insert(*name, (*value).clone().unwrap());
        }
        let json = serde_json::to_string(&m).unwrap();
        let digest = ring::digest::digest(&ring::digest::SHA256, json.as_bytes());
        URL_SAFE_NO_PAD.encode(digest.as_ref())
    }

    #[test]
    fn sk_24_thumbprint_hashes_the_canonical_json_for_every_key_type() {
        let long = "A".repeat(700);
        let cases = [
            Jwk {
                kty: "OKP".into(),
                crv: Some("Ed25519".into()),
                x: Some("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo".into()),
                alg: Some("Ed25519".into()),
                ..Jwk::default()
            },
            Jwk {
                kty: "EC".into(),
                crv: Some("P-256".into()),
                x: Some("qrJrTPs8qQ6vHWr9EUv1M8rWQOF5mh4VHXyiNSsjQ9A".into()),
                y: Some("f3AILZ4eyRuNhvbQCckGBr9Kf6PmJwWwdFDjxr8RdvI".into()),
                kid: Some("ignored".into()),
                ..Jwk::default()
            },
            Jwk {
                kty: "RSA".into(),
                n: Some(long.clone()),
                e: Some("AQAB".into()),
                ..Jwk::default()
            },
            // Values that need JSON escaping take the escaper, on the stack or the heap.
            Jwk {
                kty: "OKP".into(),
                crv: Some("Ed\"25519\\".into()),
                x: Some(format!("{long}\u{1}")),
                ..Jwk::default()
            },
        ];
        for jwk in &cases {
            assert_eq!(
                jwk.thumbprint().unwrap().as_str(),
                by_the_book(jwk),
                "{jwk:?}"
            );
        }
    }
}
