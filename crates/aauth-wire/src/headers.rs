//! Header names used by AAuth and HTTP Signature Keys.
//!
//! They are `http::HeaderName` constants so that every crate looks headers up by the same
//! (lowercase, pre-validated) name instead of re-typing string literals that could drift.

use http::HeaderName;

/// `AAuth-Requirement` (response): what the resource needs before it can serve the request.
pub const AAUTH_REQUIREMENT: HeaderName = HeaderName::from_static("aauth-requirement");
/// `AAuth-Access` (response): a session token (token68) the agent replays in `Authorization`.
pub const AAUTH_ACCESS: HeaderName = HeaderName::from_static("aauth-access");
/// `AAuth-Capabilities` (request): List of Tokens naming what the agent can do.
pub const AAUTH_CAPABILITIES: HeaderName = HeaderName::from_static("aauth-capabilities");
/// `Signature` (RFC 9421 §4.2).
pub const SIGNATURE: HeaderName = HeaderName::from_static("signature");
/// `Signature-Input` (RFC 9421 §4.1).
pub const SIGNATURE_INPUT: HeaderName = HeaderName::from_static("signature-input");
/// `Signature-Key` (HTTP Signature Keys §3): keying material per signature label.
pub const SIGNATURE_KEY: HeaderName = HeaderName::from_static("signature-key");
/// `Signature-Error` (HTTP Signature Keys §5.1): machine-readable signature failure.
pub const SIGNATURE_ERROR: HeaderName = HeaderName::from_static("signature-error");
/// `Accept-Signature-Scheme` (HTTP Signature Keys §4.1): accepted Signature-Key schemes.
pub const ACCEPT_SIGNATURE_SCHEME: HeaderName = HeaderName::from_static("accept-signature-scheme");
/// `Accept-Signature-Alg` (HTTP Signature Keys §4.2): accepted JOSE algorithm identifiers.
pub const ACCEPT_SIGNATURE_ALG: HeaderName = HeaderName::from_static("accept-signature-alg");

/// The HTTP authentication scheme name carried in `Authorization: AAuth <token68>`.
///
/// Scheme names compare case-insensitively (RFC 9110 §11.1); this is the spelling we emit.
pub const AUTH_SCHEME: &str = "AAuth";

#[cfg(test)]
mod tests {
    use super::*;

    /// `HeaderName` only accepts lowercase in `from_static`; this pins the exact wire names
    /// so that a typo in a constant is caught here rather than as an interop failure.
    #[test]
    fn names_are_the_registered_ones() {
        let expected = [
            (&AAUTH_REQUIREMENT, "aauth-requirement"),
            (&AAUTH_ACCESS, "aauth-access"),
            (&AAUTH_CAPABILITIES, "aauth-capabilities"),
            (&SIGNATURE, "signature"),
            (&SIGNATURE_INPUT, "signature-input"),
            (&SIGNATURE_KEY, "signature-key"),
            (&SIGNATURE_ERROR, "signature-error"),
            (&ACCEPT_SIGNATURE_SCHEME, "accept-signature-scheme"),
            (&ACCEPT_SIGNATURE_ALG, "accept-signature-alg"),
        ];
        for (name, wire) in expected {
            assert_eq!(name.as_str(), wire);
        }
        assert!(AUTH_SCHEME.eq_ignore_ascii_case("aauth"));
        assert_eq!(AUTH_SCHEME, "AAuth");
    }

    #[test]
    fn lookup_is_case_insensitive_through_header_map() {
        let mut map = http::HeaderMap::new();
        map.insert(
            HeaderName::from_bytes(b"AAuth-Requirement").unwrap(),
            http::HeaderValue::from_static("requirement=approval"),
        );
        assert!(map.contains_key(AAUTH_REQUIREMENT));
    }
}
