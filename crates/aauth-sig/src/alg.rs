//! The signature algorithms AAuth signs and verifies with.

use std::fmt;

/// A fully specified JOSE algorithm (RFC 9864 style identifiers).
///
/// Only algorithms the AAuth profile allows are listed: the polymorphic `EdDSA`, RSA, symmetric
/// and `none` are deliberately absent so that no code path can end up accepting them (SIG-04,
/// SIG-05). The algorithm of a signature always comes from the key's `alg` (SIG-03, SIG-14).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Algorithm {
    /// EdDSA over Ed25519 (RFC 8032), JOSE `Ed25519`.
    Ed25519,
    /// ECDSA over P-256 with SHA-256, JOSE `ES256`; signatures are raw `r‖s` (64 bytes).
    Es256,
}

impl Algorithm {
    /// Every algorithm this crate implements, in our preference order.
    pub const ALL: [Algorithm; 2] = [Algorithm::Ed25519, Algorithm::Es256];

    /// The JOSE registry name, case as registered (`Ed25519`, `ES256`).
    pub fn jose_name(self) -> &'static str {
        match self {
            Algorithm::Ed25519 => "Ed25519",
            Algorithm::Es256 => "ES256",
        }
    }

    /// Parses a JOSE name. Matching is exact (case-sensitive), because JOSE identifiers are
    /// registered case-sensitively and `es256` is not `ES256` (SK-27).
    pub fn from_jose(name: &str) -> Option<Self> {
        match name {
            "Ed25519" => Some(Algorithm::Ed25519),
            "ES256" => Some(Algorithm::Es256),
            _ => None,
        }
    }

    /// The JWK `kty` a key for this algorithm must have.
    pub fn kty(self) -> &'static str {
        match self {
            Algorithm::Ed25519 => "OKP",
            Algorithm::Es256 => "EC",
        }
    }

    /// The JWK `crv` a key for this algorithm must have.
    pub fn crv(self) -> &'static str {
        match self {
            Algorithm::Ed25519 => "Ed25519",
            Algorithm::Es256 => "P-256",
        }
    }

    /// Length in bytes of a signature made with this algorithm.
    pub fn signature_len(self) -> usize {
        64
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.jose_name())
    }
}
