//! DIGEST §10.2 vectors V1 and V2 (hwk, RFC 9421 Ed25519 test key) and their negative
//! variants.

mod common;

use aauth_sig::{
    HwkAlgPolicy, RequestTarget, Scheme, SignOptions, Signer, Verifier, VerifierConfig, VerifyError,
};
use aauth_wire::signature_error::SignatureErrorCode;
use http::{HeaderMap, HeaderValue, Method};

const SIG_KEY: &str = r#"sig=hwk;kty="OKP";crv="Ed25519";x="JrQLj5P_89iXES9-vFgrIy29clF9CC_oPPsw3c5D0bs";alg="Ed25519""#;
const V1_INPUT: &str = r#"sig=("@method" "@authority" "@path" "signature-key");created=1730217662"#;
const V1_SIG: &str = "sig=:29kYowtC/W2YeZsl8cbpj6FgqRJ9131WXpHIRqqON6ZJXq+dsRb67h2T8yMh3Wlv5rwTc94WssjLBzsyOD4SAw==:";
const V1_BASE: &str = "\"@method\": GET\n\"@authority\": resource.example\n\"@path\": /pending/q3VhZrN8tC0kJm7aXw2ePg\n\"signature-key\": sig=hwk;kty=\"OKP\";crv=\"Ed25519\";x=\"JrQLj5P_89iXES9-vFgrIy29clF9CC_oPPsw3c5D0bs\";alg=\"Ed25519\"\n\"@signature-params\": (\"@method\" \"@authority\" \"@path\" \"signature-key\");created=1730217662";
const V2_INPUT: &str =
    r#"sig=("@method" "@authority" "@path" "authorization" "signature-key");created=1730217700"#;
const V2_SIG: &str = "sig=:OOui3LIdw+gvs8M3mXilb1uM/nokAb7lti86YxRDdQ13xVidGngsUAjtRCNJmEgOmA2zErAWpz3bP8ET/XOWBg==:";
const V1_PATH: &str = "/pending/q3VhZrN8tC0kJm7aXw2ePg";
const THUMBPRINT: &str = "poqkLGiymh_W0uP6PZFw-dvez3QJT5SolqXBCW38r0U";

fn verifier() -> Verifier {
    Verifier::new(VerifierConfig::new("resource.example").with_accepted_schemes(vec![Scheme::Hwk]))
}

fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in pairs {
        h.append(
            http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
            HeaderValue::from_str(v).unwrap(),
        );
    }
    h
}

fn target<'a>(method: &'a Method, path: &'a str, h: &'a HeaderMap) -> RequestTarget<'a> {
    RequestTarget {
        method,
        scheme: "https",
        authority: "resource.example",
        path,
        query: None,
        headers: h,
    }
}

fn v1_headers() -> HeaderMap {
    headers(&[
        ("host", "resource.example"),
        ("signature-input", V1_INPUT),
        ("signature", V1_SIG),
        ("signature-key", SIG_KEY),
    ])
}

fn v2_headers() -> HeaderMap {
    headers(&[
        ("host", "resource.example"),
        ("authorization", "AAuth c2Vzcy0xLjg0YjYx.Zk9xT3hwWQ"),
        ("signature-input", V2_INPUT),
        ("signature", V2_SIG),
        ("signature-key", SIG_KEY),
    ])
}

fn code(e: &VerifyError) -> SignatureErrorCode {
    e.code()
}

#[test]
fn sig_33_v1_resigns_byte_for_byte() {
    let signer = Signer::hwk(common::ed25519_key());
    assert_eq!(signer.thumbprint().as_str(), THUMBPRINT);
    let mut h = headers(&[("host", "resource.example")]);
    let empty = HeaderMap::new();
    let get = Method::GET;
    let t = target(&get, V1_PATH, &empty);
    let base = signer
        .signature_base(&t, &mut h, &SignOptions::new(1730217662))
        .unwrap();
    assert_eq!(base, V1_BASE);
    signer
        .sign(&t, &mut h, &SignOptions::new(1730217662))
        .unwrap();
    assert_eq!(h["signature-key"], SIG_KEY);
    assert_eq!(h["signature-input"], V1_INPUT);
    assert_eq!(h["signature"], V1_SIG);
}

#[test]
fn sig_33_v2_resigns_byte_for_byte() {
    let signer = Signer::hwk(common::ed25519_key());
    let mut h = headers(&[
        ("host", "resource.example"),
        ("authorization", "AAuth c2Vzcy0xLjg0YjYx.Zk9xT3hwWQ"),
    ]);
    let empty = HeaderMap::new();
    let get = Method::GET;
    let t = target(&get, "/api/data", &empty);
    let opts = SignOptions {
        components: [
            "@method",
            "@authority",
            "@path",
            "authorization",
            "signature-key",
        ]
        .map(String::from)
        .to_vec(),
        ..SignOptions::new(1730217700)
    };
    signer.sign(&t, &mut h, &opts).unwrap();
    assert_eq!(h["signature-input"], V2_INPUT);
    assert_eq!(h["signature"], V2_SIG);
}

#[test]
fn sig_01_v1_verifies_with_fixed_clock() {
    let h = v1_headers();
    let get = Method::GET;
    let v = verifier()
        .verify(&target(&get, V1_PATH, &h), 1730217662 + 30)
        .unwrap();
    assert_eq!(v.label, "sig");
    assert_eq!(v.scheme, Scheme::Hwk);
    assert_eq!(v.algorithm, aauth_sig::Algorithm::Ed25519);
    assert_eq!(v.thumbprint.as_str(), THUMBPRINT);
    assert_eq!(
        v.covered,
        ["@method", "@authority", "@path", "signature-key"]
    );
    assert_eq!(v.created, 1730217662);
    assert_eq!(v.expires, None);
}

#[test]
fn sig_01_v2_verifies_with_fixed_clock() {
    let h = v2_headers();
    let get = Method::GET;
    let v = verifier()
        .verify(&target(&get, "/api/data", &h), 1730217700)
        .unwrap();
    assert!(v.covered.iter().any(|c| c == "authorization"));
}

#[test]
fn sess_06_v2_without_authorization_covered_is_invalid_input() {
    // Keep the header, drop "authorization" from the covered set (and re-sign so only the
    // coverage rule can fail).
    let signer = Signer::hwk(common::ed25519_key());
    let mut h = headers(&[
        ("host", "resource.example"),
        ("authorization", "AAuth c2Vzcy0xLjg0YjYx.Zk9xT3hwWQ"),
    ]);
    let empty = HeaderMap::new();
    let get = Method::GET;
    signer
        .sign(
            &target(&get, "/api/data", &empty),
            &mut h,
            &SignOptions::new(1730217700),
        )
        .unwrap();
    let err = verifier()
        .verify(&target(&get, "/api/data", &h), 1730217700)
        .unwrap_err();
    assert_eq!(code(&err), SignatureErrorCode::InvalidInput);
    assert_eq!(
        err.required_input().unwrap(),
        [
            "@method",
            "@authority",
            "@path",
            "signature-key",
            "authorization"
        ]
    );
}

#[test]
fn sig_32_host_with_case_and_default_port_still_verifies() {
    let mut h = v1_headers();
    h.insert("host", HeaderValue::from_static("Resource.Example:443"));
    let get = Method::GET;
    // The server's target carries what the request claims; the verifier uses its configured
    // canonical authority.
    let t = RequestTarget {
        authority: "Resource.Example:443",
        ..target(&get, V1_PATH, &h)
    };
    verifier().verify(&t, 1730217662).unwrap();
    assert_eq!(
        aauth_sig::canonical_authority("https", "Resource.Example:443"),
        "resource.example"
    );
}

#[test]
fn sig_26_changed_path_is_invalid_signature() {
    let h = v1_headers();
    let get = Method::GET;
    let err = verifier()
        .verify(
            &target(&get, "/pending/Q3VhZrN8tC0kJm7aXw2ePg", &h),
            1730217662,
        )
        .unwrap_err();
    assert_eq!(code(&err), SignatureErrorCode::InvalidSignature);
}

#[test]
fn sk_11_hwk_without_alg_is_unsupported_algorithm_in_08_mode() {
    let mut h = v1_headers();
    let no_alg = SIG_KEY.replace(r#";alg="Ed25519""#, "");
    h.insert("signature-key", HeaderValue::from_str(&no_alg).unwrap());
    let get = Method::GET;
    let err = verifier()
        .verify(&target(&get, V1_PATH, &h), 1730217662)
        .unwrap_err();
    assert_eq!(code(&err), SignatureErrorCode::UnsupportedAlgorithm);
}

#[test]
fn sk_11_hwk_without_alg_in_legacy_mode_breaks_the_signature() {
    let mut h = v1_headers();
    let no_alg = SIG_KEY.replace(r#";alg="Ed25519""#, "");
    h.insert("signature-key", HeaderValue::from_str(&no_alg).unwrap());
    let get = Method::GET;
    for cfg in [
        VerifierConfig::new("resource.example")
            .with_accepted_schemes(vec![Scheme::Hwk])
            .with_legacy_algorithms(true),
        VerifierConfig::new("resource.example")
            .with_accepted_schemes(vec![Scheme::Hwk])
            .with_hwk_alg(HwkAlgPolicy::Either),
    ] {
        let err = Verifier::new(cfg)
            .verify(&target(&get, V1_PATH, &h), 1730217662)
            .unwrap_err();
        assert_eq!(code(&err), SignatureErrorCode::InvalidSignature);
    }
}

#[test]
fn amb_01_v1_under_strict_draft_is_unsupported_scheme() {
    let h = v1_headers();
    let get = Method::GET;
    let err = Verifier::new(VerifierConfig::new("resource.example"))
        .verify(&target(&get, V1_PATH, &h), 1730217662)
        .unwrap_err();
    assert_eq!(code(&err), SignatureErrorCode::UnsupportedScheme);
}
