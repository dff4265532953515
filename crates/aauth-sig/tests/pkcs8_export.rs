//! Private keys written as PKCS#8 PEM read back as the same key, and our encoding matches the
//! RFC 9421 Appendix B test keys byte for byte.
use std::path::PathBuf;

use aauth_sig::{Algorithm, SigningKey};

fn keys_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/testdata/rfc9421/keys")
}

fn read(name: &str) -> String {
    let p = keys_dir().join(name);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn normalised(pem: &str) -> String {
    pem.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn generated_keys_round_trip_through_pkcs8_pem() {
    for alg in [Algorithm::Ed25519, Algorithm::Es256] {
        let key = SigningKey::generate(alg).unwrap();
        let pem = key.to_pkcs8_pem();
        assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----\n"));
        let back = SigningKey::from_pkcs8_pem(alg, &pem).unwrap();
        assert_eq!(back.thumbprint(), key.thumbprint(), "{alg:?}");
        let sig = back.sign(b"msg").unwrap();
        key.verifying_key().verify(b"msg", &sig).unwrap();
    }
}

#[test]
fn ed25519_export_matches_the_rfc_9421_test_key_file() {
    let file = read("test-key-ed25519.priv.pem");
    let key = SigningKey::from_pkcs8_pem(Algorithm::Ed25519, &file).unwrap();
    assert_eq!(normalised(&key.to_pkcs8_pem()), normalised(&file));
}

#[test]
fn p256_export_matches_the_rfc_9421_test_key_file() {
    let file = read("test-key-ecc-p256.priv.pkcs8.pem");
    let key = SigningKey::from_pkcs8_pem(Algorithm::Es256, &file).unwrap();
    assert_eq!(normalised(&key.to_pkcs8_pem()), normalised(&file));
}
