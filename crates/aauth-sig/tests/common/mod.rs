//! Shared helpers for the integration tests.
#![allow(dead_code)]

use std::path::PathBuf;

use aauth_sig::{Jwk, SigningKey};

/// `shared/` sits beside the repository in CI and in the workspace; fail loudly otherwise.
pub fn testdata_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/testdata");
    assert!(
        dir.join("rfc9421/vectors.json").is_file(),
        "shared test data not found at {} — check out `shared/` beside the repository",
        dir.display()
    );
    dir
}

pub fn read_testdata(rel: &str) -> String {
    let path = testdata_dir().join(rel);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

pub fn jwk(rel: &str) -> Jwk {
    Jwk::from_json(&read_testdata(rel)).expect("testdata JWK parses")
}

/// The RFC 9421 Ed25519 test key (B.1.4).
pub fn ed25519_key() -> SigningKey {
    SigningKey::from_jwk(&jwk("rfc9421/keys/test-key-ed25519.priv.jwk.json")).expect("ed25519 key")
}

/// The RFC 9421 P-256 test key (B.1.3).
pub fn p256_key() -> SigningKey {
    SigningKey::from_jwk(&jwk("rfc9421/keys/test-key-ecc-p256.priv.jwk.json")).expect("p256 key")
}
