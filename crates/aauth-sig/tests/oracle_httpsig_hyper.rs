//! Cross-checks against httpsig-hyper 0.0.26, an independent RFC 9421 implementation used only
//! as a test oracle. The last tests pin down where it deviates from RFC 9421 / the AAuth profile,
//! which is why it cannot be our verifier.

mod common;

use aauth_sig::{
    ComponentId, KeyPolicy, Message, RequestTarget, SignOptions, SignatureFields, Signer,
    VerifyingKey, signature_base,
};
use httpsig_hyper::prelude::message_component::HttpMessageComponentId;
use httpsig_hyper::prelude::{AlgorithmName, HttpSignatureParams, PublicKey, SecretKey};
use httpsig_hyper::{MessageSignature, MessageSignatureReq};

const CREATED: u64 = 1_730_217_600;

fn oracle_secret() -> SecretKey {
    SecretKey::from_pem(
        &AlgorithmName::Ed25519,
        &common::read_testdata("rfc9421/keys/test-key-ed25519.priv.pem"),
    )
    .unwrap()
}

fn oracle_public() -> PublicKey {
    PublicKey::from_pem(
        &AlgorithmName::Ed25519,
        &common::read_testdata("rfc9421/keys/test-key-ed25519.pub.pem"),
    )
    .unwrap()
}

fn request() -> http::Request<String> {
    http::Request::builder()
        .method("POST")
        .uri("https://resource.example/api/data")
        .header("content-type", "application/json")
        .body(String::new())
        .unwrap()
}

async fn oracle_sign(req: &mut http::Request<String>, components: &[&str]) {
    let ids: Vec<HttpMessageComponentId> = components
        .iter()
        .map(|c| HttpMessageComponentId::try_from(*c).unwrap())
        .collect();
    let mut params = HttpSignatureParams::try_new(&ids).unwrap();
    params.set_created(CREATED);
    req.set_message_signature(&params, &oracle_secret(), Some("sig"))
        .await
        .unwrap();
}

/// Our RFC 9421 core (parse, base, verify) applied to a request.
fn our_core_verify(req: &http::Request<String>) -> Result<(), String> {
    let fields = SignatureFields::from_headers(req.headers()).map_err(|e| e.to_string())?;
    let parsed = fields.get("sig").map_err(|e| e.to_string())?;
    let target = RequestTarget::from_uri(req.method(), req.uri(), req.headers(), None)
        .map_err(|e| e.to_string())?;
    let base = signature_base(
        &Message::request(&target),
        &parsed.components,
        &parsed.params_line,
    )
    .map_err(|e| e.to_string())?;
    let key = VerifyingKey::from_jwk(&common::ed25519_key().public_jwk(), &KeyPolicy::strict())
        .map_err(|e| e.to_string())?;
    key.verify(base.as_bytes(), &parsed.signature)
        .map_err(|e| e.to_string())
}

#[tokio::test]
async fn sig_01_oracle_signed_request_verifies_with_our_core() {
    let mut req = request();
    oracle_sign(
        &mut req,
        &["@method", "@authority", "@path", "content-type"],
    )
    .await;
    our_core_verify(&req).unwrap();
    // And a tampered one does not (the check can fail).
    *req.method_mut() = http::Method::PUT;
    assert!(our_core_verify(&req).is_err());
}

#[tokio::test]
async fn sig_01_our_signed_request_verifies_with_the_oracle() {
    let mut req = request();
    let signer = Signer::hwk(common::ed25519_key());
    let (method, uri) = (req.method().clone(), req.uri().clone());
    let empty = http::HeaderMap::new();
    let target = RequestTarget::from_uri(&method, &uri, &empty, None).unwrap();
    signer
        .sign(
            &target,
            req.headers_mut(),
            &SignOptions::new(CREATED).with_component("content-type"),
        )
        .unwrap();
    assert!(req.has_message_signature());
    req.verify_message_signature(&oracle_public(), None)
        .await
        .unwrap();
    // The oracle notices tampering too.
    *req.uri_mut() = "https://resource.example/api/other".parse().unwrap();
    assert!(
        req.verify_message_signature(&oracle_public(), None)
            .await
            .is_err()
    );
}

/// Deviation 1: the oracle signs a covered field that is absent as an empty value; RFC 9421
/// §2.5 says base creation must fail, and we refuse (SIG-26, SIG-33).
#[tokio::test]
async fn sig_33_oracle_deviation_absent_field_signed_as_empty() {
    let mut req = request();
    oracle_sign(&mut req, &["@method", "@authority", "@path", "x-absent"]).await;
    // The oracle accepts its own signature over a field that is not there …
    req.verify_message_signature(&oracle_public(), None)
        .await
        .unwrap();
    // … whereas our base builder refuses.
    let err = our_core_verify(&req).unwrap_err();
    assert!(err.contains("x-absent"), "{err}");
}

/// Deviation 2: the oracle rebuilds `@signature-params` in its own parameter order instead of
/// using the received serialisation, so a correct signature whose parameters were sent in
/// another order fails with it (RFC 9421 §2.3) but verifies with us.
#[tokio::test]
async fn sig_33_oracle_deviation_reorders_signature_params() {
    let mut req = request();
    let key = common::ed25519_key();
    let comps: Vec<ComponentId> = ["@method", "@authority", "@path"]
        .iter()
        .map(|c| ComponentId::parse(c).unwrap())
        .collect();
    let params = format!("(\"@method\" \"@authority\" \"@path\");keyid=\"k\";created={CREATED}");
    let (method, uri) = (req.method().clone(), req.uri().clone());
    let base = {
        let target = RequestTarget::from_uri(&method, &uri, req.headers(), None).unwrap();
        signature_base(&Message::request(&target), &comps, &params).unwrap()
    };
    use base64::Engine as _;
    let sig = base64::engine::general_purpose::STANDARD.encode(key.sign(base.as_bytes()).unwrap());
    let h = req.headers_mut();
    h.insert("signature-input", format!("sig={params}").parse().unwrap());
    h.insert("signature", format!("sig=:{sig}:").parse().unwrap());
    our_core_verify(&req).unwrap();
    assert!(
        req.verify_message_signature(&oracle_public(), None)
            .await
            .is_err()
    );
}

/// Deviation 3: the oracle never checks `created` freshness (SIG-18); a signature from 2024
/// verifies with it today. Our Verifier rejects it (see verify_errors.rs).
#[tokio::test]
async fn sig_18_oracle_deviation_ignores_created() {
    let mut req = request();
    oracle_sign(&mut req, &["@method", "@authority", "@path"]).await;
    let params = req.get_signature_params().unwrap();
    assert_eq!(params["sig"].created, Some(CREATED));
    req.verify_message_signature(&oracle_public(), None)
        .await
        .unwrap();
}
