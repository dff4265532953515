//! `Content-Digest` (RFC 9530) for signing request bodies (SIG-10, SIG-11): written with
//! SHA-256; checked with SHA-256 and SHA-512, the two algorithms RFC 9530 registers as
//! standard.
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
    #[error("Content-Digest has no sha-256 or sha-512 member")]
    NoSupportedAlgorithm,
    #[error("Content-Digest does not match the body")]
    Mismatch,
}

/// The algorithms checked, by their RFC 9530 registry key.
const ALGORITHMS: [(&str, &ring::digest::Algorithm); 2] = [
    ("sha-256", &ring::digest::SHA256),
    ("sha-512", &ring::digest::SHA512),
];

/// Checks the `sha-256` and `sha-512` members of `Content-Digest` against `body`: at least one
/// must be present, and every one present must match (a sender listing both vouches for both).
/// Other algorithms (RFC 9530's deprecated ones, unknown keys) are ignored. The comparison is
/// constant-time.
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
    let mut checked = false;
    for (key, alg) in ALGORITHMS {
        let Some(entry) = dict.get(key) else {
            continue;
        };
        let sfv::ListEntry::Item(item) = entry else {
            return Err(DigestError::Malformed);
        };
        let sfv::BareItem::ByteSequence(expected) = &item.bare_item else {
            return Err(DigestError::Malformed);
        };
        let actual = ring::digest::digest(alg, body);
        let eq = expected.len() == actual.as_ref().len()
            && expected
                .iter()
                .zip(actual.as_ref())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0;
        if !eq {
            return Err(DigestError::Mismatch);
        }
        checked = true;
    }
    if checked {
        Ok(())
    } else {
        Err(DigestError::NoSupportedAlgorithm)
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
        h.insert(CONTENT_DIGEST, HeaderValue::from_static("md5=:AAAA:"));
        assert_eq!(
            verify_content_digest(&h, body),
            Err(DigestError::NoSupportedAlgorithm)
        );
        h.insert(CONTENT_DIGEST, HeaderValue::from_static("sha-256"));
        assert_eq!(verify_content_digest(&h, body), Err(DigestError::Malformed));
    }

    /// RFC 9530 §2's example body with its sha-512 digest (computed independently, e.g.
    /// `printf '{"hello": "world"}' | openssl dgst -sha512 -binary | base64`).
    const SHA512_OF_EXAMPLE: &str = "sha-512=:WZDPaVn/7XgHaAy8pmojAkGWoRx2UFChF41A2svX+TaPm+AbwAgBWnrIiYllu7BNNyealdVLvRwEmTHWXvJwew==:";

    #[test]
    fn sig_11_sha_512_alone_or_beside_sha_256_is_checked() {
        let body = br#"{"hello": "world"}"#;
        let mut h = HeaderMap::new();
        h.insert(CONTENT_DIGEST, HeaderValue::from_static(SHA512_OF_EXAMPLE));
        assert_eq!(verify_content_digest(&h, body), Ok(()));
        assert_eq!(
            verify_content_digest(&h, b"{\"hello\": \"there\"}"),
            Err(DigestError::Mismatch)
        );
        // Both members: both must match; a wrong one of the two is a mismatch.
        let both =
            format!("sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:, {SHA512_OF_EXAMPLE}");
        h.insert(CONTENT_DIGEST, HeaderValue::from_str(&both).unwrap());
        assert_eq!(verify_content_digest(&h, body), Ok(()));
        let wrong_512 = "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:, sha-512=:AAAA:";
        h.insert(CONTENT_DIGEST, HeaderValue::from_static(wrong_512));
        assert_eq!(verify_content_digest(&h, body), Err(DigestError::Mismatch));
        // Deprecated or unknown algorithms beside a good one are ignored.
        h.insert(
            CONTENT_DIGEST,
            HeaderValue::from_str(&format!("md5=:AAAA:, {SHA512_OF_EXAMPLE}")).unwrap(),
        );
        assert_eq!(verify_content_digest(&h, body), Ok(()));
    }
}
