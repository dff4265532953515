//! Signing and verifying keys on `ring`.

use std::fmt;
use std::sync::Arc;

use aauth_wire::Thumbprint;
use ring::rand::{SecureRandom, SystemRandom};
use ring::signature::{self, EcdsaKeyPair, Ed25519KeyPair, KeyPair};

use crate::alg::Algorithm;
use crate::error::{KeyError, SignatureMismatch};
use crate::jwk::{Jwk, b64url_decode, b64url_encode};
use crate::verify_error::VerifyError;

/// A private key that signs requests.
///
/// Cheap to clone (the key pair is shared behind an `Arc`). `Debug` shows the algorithm and the
/// thumbprint only, never the private scalar or seed.
#[derive(Clone)]
pub struct SigningKey {
    inner: Arc<SigningInner>,
}

struct SigningInner {
    alg: Algorithm,
    pair: Pair,
    /// Kept so the key can be exported again (ring does not hand private scalars back).
    secret: Vec<u8>,
    public_jwk: Jwk,
    thumbprint: Thumbprint,
}

enum Pair {
    Ed25519(Ed25519KeyPair),
    Es256(EcdsaKeyPair, SystemRandom),
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("alg", &self.inner.alg)
            .field("thumbprint", &self.inner.thumbprint)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// Generates a fresh key with the system RNG.
    pub fn generate(alg: Algorithm) -> Result<Self, KeyError> {
        let rng = SystemRandom::new();
        match alg {
            Algorithm::Ed25519 => {
                let mut seed = [0u8; 32];
                rng.fill(&mut seed).map_err(|_| KeyError::Crypto)?;
                Self::ed25519_from_seed(&seed, None, None)
            }
            Algorithm::Es256 => {
                let pkcs8 =
                    EcdsaKeyPair::generate_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
                        .map_err(|_| KeyError::Crypto)?;
                Self::from_pkcs8_der(Algorithm::Es256, pkcs8.as_ref())
            }
        }
    }

    /// Imports a private JWK (with `d`). An `alg`, when present, must agree with `kty`/`crv`;
    /// when absent it is taken from the key type, which is safe here because this is our own
    /// key, not one a peer conveyed.
    pub fn from_jwk(jwk: &Jwk) -> Result<Self, KeyError> {
        let alg = key_algorithm(jwk, true, true)?;
        let d = b64url_decode(jwk.d.as_deref().ok_or(KeyError::NotPrivate)?)?;
        match alg {
            Algorithm::Ed25519 => {
                let x = jwk.x.as_deref().map(b64url_decode).transpose()?;
                Self::ed25519_from_seed(&d, x.as_deref(), jwk.kid.clone())
            }
            Algorithm::Es256 => {
                let x = b64url_decode(
                    jwk.x
                        .as_deref()
                        .ok_or(KeyError::Malformed("EC JWK lacks x"))?,
                )?;
                let y = b64url_decode(
                    jwk.y
                        .as_deref()
                        .ok_or(KeyError::Malformed("EC JWK lacks y"))?,
                )?;
                if d.len() != 32 || x.len() != 32 || y.len() != 32 {
                    return Err(KeyError::Malformed("P-256 coordinates must be 32 bytes"));
                }
                let mut public = Vec::with_capacity(65);
                public.push(4);
                public.extend_from_slice(&x);
                public.extend_from_slice(&y);
                let rng = SystemRandom::new();
                let pair = EcdsaKeyPair::from_private_key_and_public_key(
                    &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
                    &d,
                    &public,
                    &rng,
                )
                .map_err(|_| KeyError::Rejected("inconsistent P-256 key pair"))?;
                Ok(Self::es256_from_pair(pair, rng, d, jwk.kid.clone()))
            }
        }
    }

    /// Imports an unencrypted PKCS#8 v1/v2 private key (DER).
    pub fn from_pkcs8_der(alg: Algorithm, der: &[u8]) -> Result<Self, KeyError> {
        match alg {
            Algorithm::Ed25519 => {
                // OneAsymmetricKey: privateKey OCTET STRING wrapping an OCTET STRING of 32 bytes.
                let seed = find_after(der, &[0x04, 0x22, 0x04, 0x20], 32)
                    .ok_or(KeyError::Malformed("not an Ed25519 PKCS#8 key"))?;
                let pair = Ed25519KeyPair::from_pkcs8_maybe_unchecked(der)
                    .map_err(|_| KeyError::Rejected("ring rejected the Ed25519 PKCS#8 key"))?;
                Self::ed25519_from_seed(seed, Some(pair.public_key().as_ref()), None)
            }
            Algorithm::Es256 => {
                // ECPrivateKey: version 1, then privateKey OCTET STRING (32 bytes for P-256).
                let d = find_after(der, &[0x02, 0x01, 0x01, 0x04, 0x20], 32)
                    .ok_or(KeyError::Malformed("not a P-256 PKCS#8 key"))?
                    .to_vec();
                let rng = SystemRandom::new();
                let pair = EcdsaKeyPair::from_pkcs8(
                    &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
                    der,
                    &rng,
                )
                .map_err(|_| KeyError::Rejected("ring rejected the P-256 PKCS#8 key"))?;
                Ok(Self::es256_from_pair(pair, rng, d, None))
            }
        }
    }

    /// Imports a PEM `PRIVATE KEY` (PKCS#8) block.
    pub fn from_pkcs8_pem(alg: Algorithm, pem: &str) -> Result<Self, KeyError> {
        let der = pem_decode(pem, "PRIVATE KEY")?;
        Self::from_pkcs8_der(alg, &der)
    }

    fn ed25519_from_seed(
        seed: &[u8],
        public: Option<&[u8]>,
        kid: Option<String>,
    ) -> Result<Self, KeyError> {
        if seed.len() != 32 {
            return Err(KeyError::Malformed("Ed25519 seed must be 32 bytes"));
        }
        let pair = match public {
            Some(public) => Ed25519KeyPair::from_seed_and_public_key(seed, public)
                .map_err(|_| KeyError::Rejected("Ed25519 seed and public key disagree"))?,
            None => Ed25519KeyPair::from_seed_unchecked(seed)
                .map_err(|_| KeyError::Rejected("bad Ed25519 seed"))?,
        };
        let public_jwk = Jwk {
            kty: "OKP".into(),
            crv: Some("Ed25519".into()),
            x: Some(b64url_encode(pair.public_key().as_ref())),
            alg: Some(Algorithm::Ed25519.jose_name().into()),
            kid,
            ..Jwk::default()
        };
        Ok(Self::assemble(
            Algorithm::Ed25519,
            Pair::Ed25519(pair),
            seed.to_vec(),
            public_jwk,
        ))
    }

    fn es256_from_pair(
        pair: EcdsaKeyPair,
        rng: SystemRandom,
        d: Vec<u8>,
        kid: Option<String>,
    ) -> Self {
        let public = pair.public_key().as_ref();
        // Uncompressed point: 0x04 ‖ x ‖ y.
        let (x, y) = public[1..].split_at(32);
        let public_jwk = Jwk {
            kty: "EC".into(),
            crv: Some("P-256".into()),
            x: Some(b64url_encode(x)),
            y: Some(b64url_encode(y)),
            alg: Some(Algorithm::Es256.jose_name().into()),
            kid,
            ..Jwk::default()
        };
        Self::assemble(Algorithm::Es256, Pair::Es256(pair, rng), d, public_jwk)
    }

    fn assemble(alg: Algorithm, pair: Pair, secret: Vec<u8>, public_jwk: Jwk) -> Self {
        // Our own well-formed OKP/EC JWK always has the members a thumbprint needs.
        let thumbprint = public_jwk
            .thumbprint()
            .unwrap_or_else(|_| Thumbprint::from_encoded(String::new()));
        SigningKey {
            inner: Arc::new(SigningInner {
                alg,
                pair,
                secret,
                public_jwk,
                thumbprint,
            }),
        }
    }

    /// The algorithm this key signs with.
    pub fn algorithm(&self) -> Algorithm {
        self.inner.alg
    }

    /// The public JWK, always with `alg` (and `kid` if the key was imported with one).
    pub fn public_jwk(&self) -> Jwk {
        self.inner.public_jwk.clone()
    }

    /// Borrowed public JWK.
    pub fn public_jwk_ref(&self) -> &Jwk {
        &self.inner.public_jwk
    }

    /// The private JWK (with `d`), for persisting the key. Handle the result as a secret.
    pub fn to_private_jwk(&self) -> Jwk {
        Jwk {
            d: Some(b64url_encode(&self.inner.secret)),
            ..self.inner.public_jwk.clone()
        }
    }

    /// The private key as PKCS#8 (RFC 5958) DER, the form `from_pkcs8_der` reads back. Handle
    /// the result as a secret.
    pub fn to_pkcs8_der(&self) -> Vec<u8> {
        let secret = &self.inner.secret;
        match self.inner.alg {
            // SEQUENCE { INTEGER 0, SEQUENCE { OID 1.3.101.112 }, OCTET STRING { OCTET STRING seed } }
            Algorithm::Ed25519 => {
                let mut der = vec![
                    0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04,
                    0x22, 0x04, 0x20,
                ];
                der.extend_from_slice(secret);
                der
            }
            // SEQUENCE { INTEGER 0, SEQUENCE { OID ecPublicKey, OID prime256v1 },
            //   OCTET STRING { ECPrivateKey { INTEGER 1, OCTET STRING d, [1] BIT STRING 04‖x‖y } } }
            Algorithm::Es256 => {
                let coord = |c: &Option<String>| {
                    c.as_deref()
                        .and_then(|v| b64url_decode(v).ok())
                        .unwrap_or_default()
                };
                let (x, y) = (
                    coord(&self.inner.public_jwk.x),
                    coord(&self.inner.public_jwk.y),
                );
                let mut der = vec![
                    0x30, 0x81, 0x87, 0x02, 0x01, 0x00, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48,
                    0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01,
                    0x07, 0x04, 0x6d, 0x30, 0x6b, 0x02, 0x01, 0x01, 0x04, 0x20,
                ];
                der.extend_from_slice(secret);
                der.extend_from_slice(&[0xa1, 0x44, 0x03, 0x42, 0x00, 0x04]);
                der.extend_from_slice(&x);
                der.extend_from_slice(&y);
                der
            }
        }
    }

    /// [`Self::to_pkcs8_der`] as a PEM `PRIVATE KEY` block.
    pub fn to_pkcs8_pem(&self) -> String {
        use base64::Engine as _;
        let b64 = base64::engine::general_purpose::STANDARD.encode(self.to_pkcs8_der());
        let mut pem = String::from("-----BEGIN PRIVATE KEY-----\n");
        for line in b64.as_bytes().chunks(64) {
            pem.push_str(&String::from_utf8_lossy(line));
            pem.push('\n');
        }
        pem.push_str("-----END PRIVATE KEY-----\n");
        pem
    }

    /// RFC 7638 thumbprint of the public key.
    pub fn thumbprint(&self) -> Thumbprint {
        self.inner.thumbprint.clone()
    }

    /// Signs `msg`. Ed25519 gives 64 bytes; ES256 gives raw `r‖s` (64 bytes), never DER, as
    /// JOSE and RFC 9421 §3.3.4 require (SIG-34).
    pub fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, KeyError> {
        match &self.inner.pair {
            Pair::Ed25519(pair) => Ok(pair.sign(msg).as_ref().to_vec()),
            Pair::Es256(pair, rng) => pair
                .sign(rng, msg)
                .map(|s| s.as_ref().to_vec())
                .map_err(|_| KeyError::Crypto),
        }
    }

    /// A key for the resource at `origin` alone, from this (master) key: SK-25 / SK8 §8.1, a
    /// client using a pseudonymous scheme (`hwk`) uses a distinct key per server so that
    /// servers cannot correlate it by its thumbprint.
    ///
    /// `origin` is `scheme://host[:port]` (what `url::Url::origin().ascii_serialization()`
    /// gives); it is compared case-insensitively, a trailing `/` and the scheme's default port
    /// (`:443` for https, `:80` for http) are dropped, so `https://R.example:443/` and
    /// `https://r.example` name the same key. Anything with a path, query, userinfo, control
    /// characters or no `scheme://` is refused ([`KeyError::Malformed`]).
    ///
    /// - **Ed25519: deterministic.** The 32-byte seed is HKDF-SHA256 (RFC 5869) with input
    ///   keying material the master seed, salt `aauth-rs/sk-25/per-origin-key`, and info
    ///   `v1` ‖ 0x00 ‖ `Ed25519` ‖ 0x00 ‖ the normalised origin. The same master key gives the
    ///   same key for an origin in every process, so session tokens kept on disk stay usable;
    ///   nobody without the master seed can link two derived keys. Changing any of these
    ///   inputs changes every agent's identity at every resource, so they are versioned and
    ///   pinned by test vectors.
    /// - **ES256: a fresh random key on every call.** ring computes a P-256 public point only
    ///   while generating a key from its own random generator (which cannot be seeded outside
    ///   ring's deprecated test helpers), so a P-256 key cannot be derived from a scalar with
    ///   ring alone. Callers keep the result for as long as they want the identity (the agent
    ///   keeps one per origin for the life of the client); it is **not** stable across process
    ///   restarts. [`SigningKey::derives_stable_origin_keys`] tells the two apart.
    ///
    /// The derived key has no `kid` (the master's `kid` names the master) and the master's
    /// algorithm.
    pub fn derive_for_origin(&self, origin: &str) -> Result<SigningKey, KeyError> {
        let origin = normalise_origin(origin)?;
        match self.inner.alg {
            Algorithm::Ed25519 => {
                let salt = ring::hkdf::Salt::new(ring::hkdf::HKDF_SHA256, ORIGIN_KEY_SALT);
                let prk = salt.extract(&self.inner.secret);
                let info: [&[u8]; 5] = [
                    ORIGIN_KEY_VERSION,
                    b"\0",
                    Algorithm::Ed25519.jose_name().as_bytes(),
                    b"\0",
                    origin.as_bytes(),
                ];
                let okm = prk
                    .expand(&info, ring::hkdf::HKDF_SHA256)
                    .map_err(|_| KeyError::Crypto)?;
                let mut seed = [0u8; 32];
                okm.fill(&mut seed).map_err(|_| KeyError::Crypto)?;
                let key = Self::ed25519_from_seed(&seed, None, None);
                seed.fill(0);
                key
            }
            Algorithm::Es256 => Self::generate(Algorithm::Es256),
        }
    }

    /// Whether [`SigningKey::derive_for_origin`] gives the same key for an origin on every call
    /// (Ed25519: yes; ES256: no, a fresh random key each time).
    pub fn derives_stable_origin_keys(&self) -> bool {
        matches!(self.inner.alg, Algorithm::Ed25519)
    }

    /// The matching verifying key.
    pub fn verifying_key(&self) -> VerifyingKey {
        let jwk = &self.inner.public_jwk;
        let public = match &self.inner.pair {
            Pair::Ed25519(pair) => {
                let mut a = [0u8; 32];
                a.copy_from_slice(pair.public_key().as_ref());
                PublicBytes::Ed25519(a)
            }
            Pair::Es256(pair, _) => {
                let mut a = [0u8; 65];
                a.copy_from_slice(pair.public_key().as_ref());
                PublicBytes::P256(Box::new(a))
            }
        };
        VerifyingKey {
            alg: self.inner.alg,
            public,
            jwk: jwk.clone(),
            thumbprint: self.inner.thumbprint.clone(),
            point_checked: true,
        }
    }
}

/// HKDF salt of [`SigningKey::derive_for_origin`]; part of every derived identity.
const ORIGIN_KEY_SALT: &[u8] = b"aauth-rs/sk-25/per-origin-key";
/// First part of the HKDF info; bump it (never edit in place) to change the derivation.
const ORIGIN_KEY_VERSION: &[u8] = b"v1";

/// The canonical `scheme://host[:port]` form [`SigningKey::derive_for_origin`] derives from.
fn normalise_origin(origin: &str) -> Result<String, KeyError> {
    const BAD: KeyError = KeyError::Malformed("origin must be scheme://host[:port]");
    let lower = origin.to_ascii_lowercase();
    let trimmed = lower.strip_suffix('/').unwrap_or(&lower);
    let (scheme, authority) = trimmed.split_once("://").ok_or(BAD)?;
    let scheme_ok = !scheme.is_empty()
        && scheme
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'));
    let authority_ok = !authority.is_empty()
        && !authority
            .bytes()
            .any(|b| b.is_ascii_control() || matches!(b, b'/' | b'?' | b'#' | b'@' | b' '));
    if !scheme_ok || !authority_ok {
        return Err(BAD);
    }
    let default_port = match scheme {
        "https" => Some(":443"),
        "http" => Some(":80"),
        _ => None,
    };
    let authority = default_port
        .and_then(|p| authority.strip_suffix(p))
        .unwrap_or(authority);
    if authority.is_empty() {
        return Err(BAD);
    }
    Ok(format!("{scheme}://{authority}"))
}

/// How strictly a conveyed public JWK's `alg` is checked.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KeyPolicy {
    /// AMB-44 compatibility: treat `EdDSA` on an Ed25519 key as `Ed25519` and derive a missing
    /// `alg` from `kty`/`crv` (OKP and EC only). Off by default: SK8 and P forbid both.
    pub legacy_algorithms: bool,
    /// Derive a missing `alg` from `kty`/`crv` (OKP/EC only) without accepting `EdDSA`; used for
    /// `hwk` members under the SK4–7 rules, which forbade `alg` there.
    pub derive_missing_alg: bool,
}

impl KeyPolicy {
    /// SK8/P: `alg` required and fully specified.
    pub fn strict() -> Self {
        KeyPolicy::default()
    }
}

#[derive(Clone)]
enum PublicBytes {
    Ed25519([u8; 32]),
    P256(Box<[u8; 65]>),
}

/// A public key a signature is checked with, validated at construction (SK-12).
#[derive(Clone)]
pub struct VerifyingKey {
    alg: Algorithm,
    public: PublicBytes,
    jwk: Jwk,
    thumbprint: Thumbprint,
    /// Whether the P-256 point has been checked (always true for Ed25519, whose length check
    /// is all there is before verifying). See [`VerifyingKey::ensure_valid`].
    point_checked: bool,
}

impl fmt::Debug for VerifyingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifyingKey")
            .field("alg", &self.alg)
            .field("thumbprint", &self.thumbprint)
            .finish()
    }
}

impl VerifyingKey {
    /// Validates a conveyed public JWK and builds a key from it.
    ///
    /// The algorithm comes only from the JWK's `alg` (SIG-03): absent, polymorphic (`EdDSA`) or
    /// unimplemented → `unsupported_algorithm`, unless the policy allows derivation;
    /// `kty`/`crv` disagreeing with `alg`, wrong lengths, a point off the curve or private
    /// material in a public key → `invalid_key`.
    pub fn from_jwk(jwk: &Jwk, policy: &KeyPolicy) -> Result<Self, VerifyError> {
        Self::from_jwk_owned(jwk.clone(), policy)
    }

    /// As [`VerifyingKey::from_jwk`], taking ownership to avoid a copy on the hot path.
    pub fn from_jwk_owned(jwk: Jwk, policy: &KeyPolicy) -> Result<Self, VerifyError> {
        let key = Self::from_jwk_deferred(jwk, policy)?;
        key.ensure_valid()?;
        Ok(VerifyingKey {
            point_checked: true,
            ..key
        })
    }

    /// As [`VerifyingKey::from_jwk_owned`] but leaves the P-256 on-curve check to
    /// [`VerifyingKey::ensure_valid`]. The check costs two scalar multiplications, about as
    /// much as the ECDSA verification itself, and is redundant when the signature verifies
    /// (ring refuses an off-curve point when verifying). The verifier therefore runs it only
    /// when verification fails, to report `invalid_key` rather than `invalid_signature`; the
    /// outcome is the same as checking first.
    pub(crate) fn from_jwk_deferred(jwk: Jwk, policy: &KeyPolicy) -> Result<Self, VerifyError> {
        let alg = key_algorithm(
            &jwk,
            policy.legacy_algorithms || policy.derive_missing_alg,
            policy.legacy_algorithms,
        )
        .map_err(key_error_to_verify)?;
        if jwk.d.is_some() {
            return Err(VerifyError::InvalidKey(
                "public key carries private material",
            ));
        }
        let public = match alg {
            Algorithm::Ed25519 => {
                let x = decode_member(jwk.x.as_deref())?;
                let x: [u8; 32] = x
                    .try_into()
                    .map_err(|_| VerifyError::InvalidKey("Ed25519 x must be 32 bytes"))?;
                PublicBytes::Ed25519(x)
            }
            Algorithm::Es256 => {
                let x = decode_member(jwk.x.as_deref())?;
                let y = decode_member(jwk.y.as_deref())?;
                if x.len() != 32 || y.len() != 32 {
                    return Err(VerifyError::InvalidKey(
                        "P-256 coordinates must be 32 bytes",
                    ));
                }
                let mut point = [0u8; 65];
                point[0] = 4;
                point[1..33].copy_from_slice(&x);
                point[33..].copy_from_slice(&y);
                PublicBytes::P256(Box::new(point))
            }
        };
        let thumbprint = jwk
            .thumbprint()
            .map_err(|_| VerifyError::InvalidKey("key lacks thumbprint members"))?;
        Ok(VerifyingKey {
            alg,
            public,
            jwk,
            thumbprint,
            point_checked: false,
        })
    }

    /// The full public-key validation (SK-12): for P-256, the point is on the curve and not
    /// the identity. Keys from [`VerifyingKey::from_jwk`] have passed it already.
    pub fn ensure_valid(&self) -> Result<(), VerifyError> {
        match &self.public {
            PublicBytes::P256(point) if !self.point_checked => validate_p256_point(point),
            _ => Ok(()),
        }
    }

    /// The algorithm, taken from the key's `alg`.
    pub fn algorithm(&self) -> Algorithm {
        self.alg
    }

    /// RFC 7638 thumbprint.
    pub fn thumbprint(&self) -> &Thumbprint {
        &self.thumbprint
    }

    /// The JWK as received.
    pub fn jwk(&self) -> &Jwk {
        &self.jwk
    }

    /// Consumes the key, returning its JWK and thumbprint.
    pub fn into_parts(self) -> (Jwk, Thumbprint) {
        (self.jwk, self.thumbprint)
    }

    /// Checks `sig` over `msg`. ES256 accepts only the 64-byte `r‖s` form (SIG-34).
    pub fn verify(&self, msg: &[u8], sig: &[u8]) -> Result<(), SignatureMismatch> {
        let res = match &self.public {
            PublicBytes::Ed25519(pk) => {
                signature::UnparsedPublicKey::new(&signature::ED25519, pk).verify(msg, sig)
            }
            PublicBytes::P256(pk) => {
                signature::UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, &pk[..])
                    .verify(msg, sig)
            }
        };
        res.map_err(|_| SignatureMismatch)
    }
}

fn decode_member(value: Option<&str>) -> Result<Vec<u8>, VerifyError> {
    let value = value.ok_or(VerifyError::InvalidKey("key lacks a coordinate"))?;
    b64url_decode(value).map_err(|_| VerifyError::InvalidKey("key member is not base64url"))
}

/// ring checks the point only when verifying, where a bad point would look like a bad
/// signature. An ECDH agreement against the point runs ring's full public-key validation
/// (on the curve, not the identity), so an off-curve key is reported as `invalid_key` (SK-12).
fn validate_p256_point(point: &[u8; 65]) -> Result<(), VerifyError> {
    use ring::agreement;
    let rng = SystemRandom::new();
    let ours = agreement::EphemeralPrivateKey::generate(&agreement::ECDH_P256, &rng)
        .map_err(|_| VerifyError::InvalidKey("cannot validate P-256 point"))?;
    let theirs = agreement::UnparsedPublicKey::new(&agreement::ECDH_P256, &point[..]);
    agreement::agree_ephemeral(ours, &theirs, |_| ())
        .map_err(|_| VerifyError::InvalidKey("P-256 point is not on the curve"))
}

fn key_error_to_verify(e: KeyError) -> VerifyError {
    match e {
        KeyError::UnsupportedAlgorithm(a) => VerifyError::UnsupportedAlgorithm(a),
        KeyError::UnsupportedKeyType => VerifyError::UnsupportedAlgorithm("key type".into()),
        KeyError::AlgorithmMismatch(_) => VerifyError::InvalidKey("kty or crv does not match alg"),
        KeyError::Malformed(m) | KeyError::Rejected(m) => VerifyError::InvalidKey(m),
        KeyError::NotPrivate | KeyError::Crypto => VerifyError::InvalidKey("unusable key"),
    }
}

/// Works out the algorithm of a JWK.
///
/// Order matters for the error codes: first the `alg` must name something we implement
/// (else unsupported), then the key type must fit it (else mismatch).
fn key_algorithm(
    jwk: &Jwk,
    derive_missing: bool,
    allow_eddsa: bool,
) -> Result<Algorithm, KeyError> {
    let alg = match jwk.alg.as_deref() {
        Some("EdDSA") if allow_eddsa => Algorithm::Ed25519,
        Some(name) => Algorithm::from_jose(name)
            .ok_or_else(|| KeyError::UnsupportedAlgorithm(crate::error::clip(name)))?,
        None if derive_missing => match (jwk.kty.as_str(), jwk.crv.as_deref()) {
            ("OKP", Some("Ed25519")) => Algorithm::Ed25519,
            ("EC", Some("P-256")) => Algorithm::Es256,
            _ => return Err(KeyError::UnsupportedAlgorithm("(absent)".into())),
        },
        None => return Err(KeyError::UnsupportedAlgorithm("(absent)".into())),
    };
    if jwk.kty != alg.kty() || jwk.crv.as_deref() != Some(alg.crv()) {
        return Err(KeyError::AlgorithmMismatch(alg.jose_name().into()));
    }
    Ok(alg)
}

/// Returns the `len` bytes following the first occurrence of `marker`.
fn find_after<'a>(haystack: &'a [u8], marker: &[u8], len: usize) -> Option<&'a [u8]> {
    let pos = haystack.windows(marker.len()).position(|w| w == marker)?;
    haystack.get(pos + marker.len()..pos + marker.len() + len)
}

/// Decodes the first PEM block with the given label.
pub(crate) fn pem_decode(pem: &str, label: &str) -> Result<Vec<u8>, KeyError> {
    use base64::Engine as _;
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let start = pem
        .find(&begin)
        .ok_or(KeyError::Malformed("PEM label not found"))?
        + begin.len();
    let stop = pem[start..]
        .find(&end)
        .ok_or(KeyError::Malformed("PEM end not found"))?
        + start;
    let body: String = pem[start..stop]
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    base64::engine::general_purpose::STANDARD
        .decode(body)
        .map_err(|_| KeyError::Malformed("PEM body is not base64"))
}

#[cfg(test)]
mod sk_25_origin_keys {
    use super::*;

    /// A fixed master key: seed 00 01 02 … 1f.
    fn master() -> SigningKey {
        let seed: Vec<u8> = (0u8..32).collect();
        SigningKey::ed25519_from_seed(&seed, None, None).unwrap()
    }

    /// Vectors computed independently (Python `cryptography`: HKDF-SHA256, Ed25519, RFC 7638)
    /// from the inputs documented on `derive_for_origin`. A change here changes every agent's
    /// identity at every resource: bump `ORIGIN_KEY_VERSION` instead of editing the inputs.
    #[test]
    fn sk_25_derivation_test_vectors_pin_the_per_origin_identity() {
        let m = master();
        assert_eq!(
            m.thumbprint().as_str(),
            "1IG2tMH7J2wbJZnOf8LJzQitKf7LMvoAElsuDMVM54Y"
        );
        for (origin, expected) in [
            (
                "https://resource.example",
                "ze3kq6X8NTT5hbiBopskREQwTTd5VKKTbwGTAv57-9U",
            ),
            (
                "https://other.example",
                "e_y07aoh70CnlwNobftwQ_4yzkLEcAUAhgrocyAhPMk",
            ),
            (
                "http://127.0.0.1:8080",
                "tmm2Eaq3xEa2xgmAKqYkZiA_8drtj4HsWq2omrT4VuQ",
            ),
        ] {
            let derived = m.derive_for_origin(origin).unwrap();
            assert_eq!(derived.thumbprint().as_str(), expected, "{origin}");
            assert_eq!(derived.algorithm(), Algorithm::Ed25519);
            assert_eq!(derived.public_jwk().alg.as_deref(), Some("Ed25519"));
            assert_eq!(derived.public_jwk().kid, None);
        }
    }

    #[test]
    fn sk_25_equivalent_spellings_of_an_origin_share_a_key() {
        let m = master();
        let t = |o: &str| m.derive_for_origin(o).unwrap().thumbprint();
        let base = t("https://resource.example");
        assert_eq!(t("HTTPS://Resource.Example"), base);
        assert_eq!(t("https://resource.example/"), base);
        assert_eq!(t("https://resource.example:443"), base);
        assert_ne!(t("https://resource.example:8443"), base);
        assert_ne!(t("http://resource.example"), base);
        assert_eq!(
            t("http://resource.example:80"),
            t("http://resource.example")
        );
        assert_eq!(t("https://[::1]:443"), t("https://[::1]"));
    }

    #[test]
    fn sk_25_an_origin_with_a_path_or_no_scheme_is_refused() {
        let m = master();
        for bad in [
            "",
            "resource.example",
            "https://",
            "https://:443",
            "https://resource.example/data",
            "https://user@resource.example",
            "https://resource.example?x",
            "https://resource.example\n",
            "://resource.example",
        ] {
            assert!(
                matches!(m.derive_for_origin(bad), Err(KeyError::Malformed(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn sk_25_a_derived_key_signs_and_its_master_is_not_a_derived_key() {
        let m = master();
        let d = m.derive_for_origin("https://resource.example").unwrap();
        assert_ne!(d.thumbprint(), m.thumbprint());
        let sig = d.sign(b"msg").unwrap();
        d.verifying_key().verify(b"msg", &sig).unwrap();
        assert!(m.verifying_key().verify(b"msg", &sig).is_err());
        // Round-trips like any other key.
        let back = SigningKey::from_jwk(&d.to_private_jwk()).unwrap();
        assert_eq!(back.thumbprint(), d.thumbprint());
        assert!(m.derives_stable_origin_keys());
    }

    #[test]
    fn sk_25_es256_origin_keys_are_fresh_and_valid_but_not_stable() {
        let m = SigningKey::generate(Algorithm::Es256).unwrap();
        assert!(!m.derives_stable_origin_keys());
        let a = m.derive_for_origin("https://resource.example").unwrap();
        let b = m.derive_for_origin("https://resource.example").unwrap();
        assert_eq!(a.algorithm(), Algorithm::Es256);
        assert_ne!(a.thumbprint(), m.thumbprint());
        assert_ne!(a.thumbprint(), b.thumbprint());
        let sig = a.sign(b"msg").unwrap();
        a.verifying_key().verify(b"msg", &sig).unwrap();
        assert!(m.derive_for_origin("no scheme").is_err());
    }
}
