//! `Content-Digest` (RFC 9530) with SHA-256, for signing request bodies (SIG-10, SIG-11).
//!
//! Covering `content-digest` binds the body to the signature; the digest field itself must be
//! checked against the received body, which [`verify_content_digest`] does.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use http::{HeaderMap, HeaderValue};
use thiserror::Error;

/// The field name.
pub const CONTENT_DIGEST: http::HeaderName = http::HeaderName::from_static("content-digest");

/// `sha-256=:<base64>:` for `body`.
pub fn content_digest(body: &[u8]) -> HeaderValue {
    let d = ring::digest::digest(&ring::digest::SHA256, body);
    let value = format!("sha-256=:{}:", STANDARD.encode(d.as_ref()));
    // Base64 and the fixed prefix are always a valid field value.
    HeaderValue::from_str(&value).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// Sets `Content-Digest` for `body`, replacing any previous value.
pub fn set_content_digest(headers: &mut HeaderMap, body: &[u8]) {
    headers.insert(CONTENT_DIGEST, content_digest(body));
}

/// Why a `Content-Digest` check failed.
#[derive(Debug, Error, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DigestError {
    #[error("Content-Digest is absent")]
    Missing,
    #[error("Content-Digest is not a structured-field dictionary")]
    Malformed,
    #[error("Content-Digest has no sha-256 member")]
    NoSupportedAlgorithm,
    #[error("Content-Digest does not match the body")]
    Mismatch,
}

/// Checks the `sha-256` member of `Content-Digest` against `body` (other algorithms are
/// ignored; at least `sha-256` must be present). The comparison is constant-time.
pub fn verify_content_digest(headers: &HeaderMap, body: &[u8]) -> Result<(), DigestError> {
    let mut joined = String::new();
    for (i, v) in headers.get_all(CONTENT_DIGEST).iter().enumerate() {
        if i > 0 {
            joined.push_str(", ");
        }
        joined.push_str(v.to_str().map_err(|_| DigestError::Malformed)?);
    }
    if joined.is_empty() {
        return Err(DigestError::Missing);
    }
    let dict: sfv::Dictionary = sfv::Parser::new(&joined)
        .parse()
        .map_err(|_| DigestError::Malformed)?;
    let Some(sfv::ListEntry::Item(item)) = dict.get("sha-256") else {
        return Err(DigestError::NoSupportedAlgorithm);
    };
    let sfv::BareItem::ByteSequence(expected) = &item.bare_item else {
        return Err(DigestError::Malformed);
    };
    let actual = ring::digest::digest(&ring::digest::SHA256, body);
    let eq = expected.len() == actual.as_ref().len()
        && expected
            .iter()
            .zip(actual.as_ref())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0;
    if eq {
        Ok(())
    } else {
        Err(DigestError::Mismatch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sig_10_content_digest_matches_rfc_9530_example_and_detects_tampering() {
        // RFC 9530 §2 example body and its sha-256 digest.
        let body = br#"{"hello": "world"}"#;
        assert_eq!(
            content_digest(body),
            "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:"
        );
        let mut h = HeaderMap::new();
        set_content_digest(&mut h, body);
        assert_eq!(verify_content_digest(&h, body), Ok(()));
        assert_eq!(
            verify_content_digest(&h, b"{\"hello\": \"there\"}"),
            Err(DigestError::Mismatch)
        );
        assert_eq!(
            verify_content_digest(&HeaderMap::new(), body),
            Err(DigestError::Missing)
        );
        h.insert(CONTENT_DIGEST, HeaderValue::from_static("sha-512=:AAAA:"));
        assert_eq!(
            verify_content_digest(&h, body),
            Err(DigestError::NoSupportedAlgorithm)
        );
        h.insert(CONTENT_DIGEST, HeaderValue::from_static("sha-256"));
        assert_eq!(verify_content_digest(&h, body), Err(DigestError::Malformed));
    }
}
