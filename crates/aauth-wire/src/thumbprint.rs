use std::fmt;

/// An RFC 7638 JWK thumbprint (SHA-256), base64url without padding.
///
/// It names a key, not a secret, so `Debug` shows it. Computing one needs the key's canonical
/// JSON and a hash, which live in `aauth-sig`; this type only carries the result.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Thumbprint(String);

impl Thumbprint {
    /// Wraps an already computed thumbprint (43 base64url characters for SHA-256).
    pub fn from_encoded(encoded: impl Into<String>) -> Self {
        Thumbprint(encoded.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The `urn:jkt:sha-256:` form used as a pseudonymous identifier.
    pub fn to_urn(&self) -> String {
        format!("urn:jkt:sha-256:{}", self.0)
    }
}

impl fmt::Debug for Thumbprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Thumbprint({})", self.0)
    }
}

impl fmt::Display for Thumbprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
