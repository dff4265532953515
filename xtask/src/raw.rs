//! A deliberately small, independent RFC 9421 request signer for crafting good and bad inputs.
//!
//! It does not use aauth-sig's `Signer`: it builds the signature base itself (RFC 9421 §2.5) so
//! the suite can send what our signer would refuse to make (no `created`, an `alg` parameter,
//! a `kid` in `hwk`, DER ECDSA, mismatched labels…), and so that a bug shared by our signer and
//! our verifier cannot hide. Only the raw key operation comes from aauth-sig.
use std::time::{SystemTime, UNIX_EPOCH};

use aauth_sig::{Algorithm, Jwk, SigningKey};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use http::{HeaderMap, HeaderName, HeaderValue, Method};

pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// The RFC 9421 test keys (shared/testdata) are the fixed keys of the suite and the interop
/// matrix; fresh keys are used where a check needs a distinct agent.
pub fn fixed_key(alg: Algorithm) -> Result<SigningKey, String> {
    let name = match alg {
        Algorithm::Ed25519 => "test-key-ed25519.priv.jwk.json",
        _ => "test-key-ecc-p256.priv.jwk.json",
    };
    let path = crate::shared_dir().join("testdata/rfc9421/keys").join(name);
    let text =
        std::fs::read_to_string(&path).map_err(|e| format!("read {}: {e}", path.display()))?;
    let mut jwk = Jwk::from_json(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    // The RFC's JWKs carry no `alg`; the key file is only the key material.
    jwk.alg = Some(alg.jose_name().to_owned());
    jwk.kid = None;
    SigningKey::from_jwk(&jwk).map_err(|e| format!("{}: {e}", path.display()))
}

pub fn fresh_key(alg: Algorithm) -> Result<SigningKey, String> {
    SigningKey::generate(alg).map_err(|e| e.to_string())
}

/// `hwk` parameters for a public JWK, in the draft's order, optionally without `alg`.
pub fn hwk_member(jwk: &Jwk, with_alg: bool) -> String {
    let mut s = format!("hwk;kty=\"{}\"", jwk.kty);
    for (name, v) in [
        ("crv", &jwk.crv),
        ("x", &jwk.x),
        ("y", &jwk.y),
        ("n", &jwk.n),
        ("e", &jwk.e),
    ] {
        if let Some(v) = v {
            s.push_str(&format!(";{name}=\"{v}\""));
        }
    }
    if with_alg && let Some(a) = &jwk.alg {
        s.push_str(&format!(";alg=\"{a}\""));
    }
    s
}

/// What to sign and how to damage it.
#[derive(Clone, Debug)]
pub struct Spec {
    pub method: Method,
    pub url: url::Url,
    pub headers: Vec<(String, String)>,
    pub body: Option<Vec<u8>>,
    /// Covered components, bare names.
    pub components: Vec<String>,
    pub created: Option<i64>,
    /// Extra `Signature-Input` parameters, serialised (`expires=1`, `alg="x"`, `nonce="n"`).
    pub params: Vec<String>,
    pub label: String,
    /// The whole `Signature-Key` member value (after `label=`); `None` = this key's `hwk`.
    pub member: Option<String>,
    /// The whole `Signature-Key` field value, overriding `member` and the label.
    pub signature_key_field: Option<String>,
    /// Label used in the `Signature` field (defaults to `label`).
    pub signature_label: Option<String>,
    /// ES256 only: send the signature DER-encoded instead of r‖s.
    pub der: bool,
}

impl Spec {
    pub fn get(url: &url::Url) -> Spec {
        Spec {
            method: Method::GET,
            url: url.clone(),
            headers: Vec::new(),
            body: None,
            components: ["@method", "@authority", "@path", "signature-key"]
                .iter()
                .map(|s| (*s).to_owned())
                .collect(),
            created: Some(now()),
            params: Vec::new(),
            label: "sig".to_owned(),
            member: None,
            signature_key_field: None,
            signature_label: None,
            der: false,
        }
    }

    pub fn header(mut self, name: &str, value: &str) -> Spec {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    pub fn cover(mut self, component: &str) -> Spec {
        // Keep `signature-key` last, as our agent does; order does not matter to a verifier.
        let at = self.components.len().saturating_sub(1);
        self.components.insert(at, component.to_owned());
        self
    }

    pub fn without(mut self, component: &str) -> Spec {
        self.components.retain(|c| c != component);
        self
    }
}

/// `@authority` as RFC 9421 §2.2.3 wants it: lowercase host, default port removed.
pub fn authority(url: &url::Url) -> String {
    let host = url.host_str().unwrap_or_default().to_ascii_lowercase();
    match url.port() {
        Some(p) => format!("{host}:{p}"),
        None => host,
    }
}

/// A signed request, ready to send, plus the base it signed (for diagnostics).
pub struct Signed {
    pub method: Method,
    pub url: url::Url,
    pub headers: HeaderMap,
    pub body: Option<Vec<u8>>,
}

impl Signed {
    pub fn set(&mut self, name: &str, value: &str) {
        if let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            self.headers.insert(n, v);
        }
    }

    pub fn remove(&mut self, name: &str) {
        self.headers.remove(name);
    }

    pub fn get(&self, name: &str) -> String {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    }
}

fn header_values(headers: &[(String, String)], name: &str) -> Option<String> {
    let vals: Vec<&str> = headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.trim())
        .collect();
    (!vals.is_empty()).then(|| vals.join(", "))
}

/// Signs `spec` with `key`. Fails only on a component the request does not have.
pub fn sign(key: &SigningKey, spec: &Spec) -> Result<Signed, String> {
    let mut jwk = key.public_jwk();
    if jwk.alg.is_none() {
        jwk.alg = Some(key.algorithm().jose_name().to_owned());
    }
    let sk_field = match &spec.signature_key_field {
        Some(f) => f.clone(),
        None => format!(
            "{}={}",
            spec.label,
            spec.member
                .clone()
                .unwrap_or_else(|| hwk_member(&jwk, true))
        ),
    };
    let mut all = spec.headers.clone();
    all.push(("signature-key".to_owned(), sk_field.clone()));

    let mut inner = String::from("(");
    let mut lines = String::new();
    for (i, c) in spec.components.iter().enumerate() {
        if i > 0 {
            inner.push(' ');
        }
        inner.push_str(&format!("\"{c}\""));
        let value = match c.as_str() {
            "@method" => spec.method.as_str().to_owned(),
            "@authority" => authority(&spec.url),
            "@path" => {
                let p = spec.url.path();
                if p.is_empty() {
                    "/".to_owned()
                } else {
                    p.to_owned()
                }
            }
            "@query" => format!("?{}", spec.url.query().unwrap_or_default()),
            "@scheme" => spec.url.scheme().to_owned(),
            "@target-uri" => spec.url.as_str().to_owned(),
            name => header_values(&all, name).ok_or_else(|| format!("no field {name}"))?,
        };
        lines.push_str(&format!("\"{c}\": {value}\n"));
    }
    inner.push(')');
    if let Some(c) = spec.created {
        inner.push_str(&format!(";created={c}"));
    }
    for p in &spec.params {
        inner.push(';');
        inner.push_str(p);
    }
    let base = format!("{lines}\"@signature-params\": {inner}");
    let mut sig = key.sign(base.as_bytes()).map_err(|e| e.to_string())?;
    if spec.der && key.algorithm() == Algorithm::Es256 {
        sig = raw_to_der(&sig);
    }
    let sig_label = spec.signature_label.as_deref().unwrap_or(&spec.label);

    let mut headers = HeaderMap::new();
    for (n, v) in &all {
        let name = HeaderName::from_bytes(n.as_bytes()).map_err(|e| e.to_string())?;
        let value = HeaderValue::from_str(v).map_err(|e| e.to_string())?;
        headers.append(name, value);
    }
    let si = format!("{}={inner}", spec.label);
    let sg = format!("{sig_label}=:{}:", STANDARD.encode(&sig));
    headers.insert(
        "signature-input",
        HeaderValue::from_str(&si).map_err(|e| e.to_string())?,
    );
    headers.insert(
        "signature",
        HeaderValue::from_str(&sg).map_err(|e| e.to_string())?,
    );
    Ok(Signed {
        method: spec.method.clone(),
        url: spec.url.clone(),
        headers,
        body: spec.body.clone(),
    })
}

/// ECDSA r‖s (64 bytes) → ASN.1 DER `SEQUENCE { INTEGER r, INTEGER s }`.
pub fn raw_to_der(sig: &[u8]) -> Vec<u8> {
    fn int(bytes: &[u8]) -> Vec<u8> {
        let mut b: Vec<u8> = bytes.iter().copied().skip_while(|x| *x == 0).collect();
        if b.is_empty() {
            b.push(0);
        }
        if b[0] & 0x80 != 0 {
            b.insert(0, 0);
        }
        let mut out = vec![0x02, b.len() as u8];
        out.extend(b);
        out
    }
    let half = sig.len() / 2;
    let mut inner = int(&sig[..half]);
    inner.extend(int(&sig[half..]));
    let mut out = vec![0x30, inner.len() as u8];
    out.extend(inner);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn our_base_matches_aauth_sig_for_the_mandatory_profile() {
        // The independent base builder and aauth-sig agree on an ordinary request, so a
        // disagreement in the suite points at the resource, not at this file.
        let key = fresh_key(Algorithm::Ed25519).unwrap();
        let url = url::Url::parse("http://127.0.0.1:8080/data?x=1").unwrap();
        let spec = Spec::get(&url).cover("@query");
        let signed = sign(&key, &spec).unwrap();
        let target = aauth_sig::RequestTarget {
            method: &Method::GET,
            scheme: "http",
            authority: "127.0.0.1:8080",
            path: "/data",
            query: Some("x=1"),
            headers: &signed.headers,
        };
        let cfg = aauth_sig::VerifierConfig::new("127.0.0.1:8080")
            .with_scheme("http")
            .with_accepted_schemes(vec![aauth_sig::Scheme::Hwk]);
        let v = aauth_sig::Verifier::new(cfg);
        let now = u64::try_from(now()).unwrap();
        v.verify(&target, now).expect("verifies");
    }

    #[test]
    fn der_encoding_of_r_and_s() {
        let mut raw = vec![0u8; 64];
        raw[0] = 0x80;
        raw[63] = 1;
        let der = raw_to_der(&raw);
        assert_eq!(der[0], 0x30);
        assert_eq!(&der[2..5], &[0x02, 33, 0x00]);
        assert_eq!(&der[der.len() - 3..], &[0x02, 1, 1]);
    }
}
