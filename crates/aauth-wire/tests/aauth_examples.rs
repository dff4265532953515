//! Feeds every header example from the drafts (`shared/testdata/aauth-examples.json`) that one
//! of our parsers handles to that parser, and checks the outcome against the file's verdicts.
//!
//! Version skew (testdata README): the `SK-nn` rows come from Signature-Key -04, the `AA-nn`
//! rows from the AAuth draft, which follows -08. Our parsers implement -08, so:
//! * the -04 `supported_algorithms` member of Signature-Error is simply an unknown member,
//!   ignored under -08 (ERR-02) — the row still parses; it is left out of the round-trip check
//!   because we do not re-emit unknown members;
//! * `hwk` rows without `alg` still parse: whether `alg` is required is verifier policy in
//!   `aauth-sig`, not a wire-syntax question (SK-11);
//! * `semantic_valid` for Signature-Key judges placeholders (`"JrQLj..."`, `eyJ...`) and
//!   key material, which this crate does not decode; we check structural validity instead.

use std::fs;
use std::path::Path;

use aauth_wire::access::{SessionToken, session_token_from_request};
use aauth_wire::capabilities;
use aauth_wire::requirement::AAuthRequirement;
use aauth_wire::signature_error::{
    SignatureErrorCode, SignatureErrorField, parse_accept_signature_alg,
    parse_accept_signature_scheme,
};
use aauth_wire::signature_key::{
    HwkParams, JwtParams, Scheme, SignatureKey, signature_key_member_field,
};
use http::{HeaderMap, HeaderValue, header::AUTHORIZATION};
use serde_json::Value;

fn examples() -> Vec<Value> {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/testdata/aauth-examples.json");
    let text = fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "cannot read {} ({e}) — the shared/ test data must be checked out beside the repository",
            path.display()
        )
    });
    let doc: Value = serde_json::from_str(&text).expect("aauth-examples.json is JSON");
    doc["header_examples"]
        .as_array()
        .expect("header_examples array")
        .clone()
}

struct Row<'a> {
    id: &'a str,
    field: &'a str,
    value: &'a str,
    parse_valid: bool,
    semantic_valid: bool,
    canonical: Option<&'a str>,
}

fn row(v: &Value) -> Row<'_> {
    Row {
        id: v["id"].as_str().unwrap_or("?"),
        field: v["field"].as_str().unwrap_or("?"),
        value: v["value"].as_str().unwrap_or(""),
        parse_valid: v["parse_valid"].as_bool().unwrap_or(false),
        semantic_valid: v["semantic_valid"].as_bool().unwrap_or(false),
        canonical: v["canonical"].as_str(),
    }
}

/// Returns `Some(description of mismatch)` or `None` when the row behaves as expected;
/// `Err(())` for rows of fields this crate does not parse.
fn check(r: &Row<'_>) -> Result<Option<String>, ()> {
    let mismatch = |what: String| Ok(Some(format!("{} {}: {what}", r.id, r.field)));
    match r.field {
        "AAuth-Requirement" => {
            // Our parser enforces the structural semantics (Token, String url/code/resource-token).
            let got = AAuthRequirement::parse(r.value);
            if got.is_ok() != r.semantic_valid {
                return mismatch(format!(
                    "parse {got:?}, semantic_valid {}",
                    r.semantic_valid
                ));
            }
            if let (Ok(req), Some(canon)) = (&got, r.canonical) {
                let ser = req.to_header_string().map_err(|_| ())?;
                if ser != canon {
                    return mismatch(format!("serialised {ser:?}, canonical {canon:?}"));
                }
            }
            Ok(None)
        }
        "AAuth-Access" => {
            let got = SessionToken::parse(r.value);
            if got.is_ok() != r.semantic_valid {
                return mismatch(format!("token68 check {got:?}"));
            }
            Ok(None)
        }
        "Authorization" => {
            let mut h = HeaderMap::new();
            h.insert(
                AUTHORIZATION,
                HeaderValue::from_str(r.value).map_err(|_| ())?,
            );
            let got = session_token_from_request(&h);
            let ok = matches!(got, Ok(Some(_)));
            if ok != r.semantic_valid {
                return mismatch(format!("Authorization: AAuth read {got:?}"));
            }
            Ok(None)
        }
        "Signature-Error" => {
            let got = SignatureErrorField::parse(r.value);
            if got.is_ok() != r.parse_valid {
                return mismatch(format!("parse {got:?}, parse_valid {}", r.parse_valid));
            }
            if let Ok(f) = &got {
                if let SignatureErrorCode::Unknown(c) = &f.code {
                    return mismatch(format!("code {c} not recognised"));
                }
                let only_known_members = !r.value.contains("supported_algorithms");
                if let (Some(canon), true) = (r.canonical, only_known_members) {
                    let ser = f.to_header_string().map_err(|_| ())?;
                    if ser != canon {
                        return mismatch(format!("serialised {ser:?}, canonical {canon:?}"));
                    }
                }
            }
            Ok(None)
        }
        "Signature-Key" => {
            let got = SignatureKey::parse(r.value);
            if got.is_ok() != r.parse_valid {
                return mismatch(format!("parse {got:?}, parse_valid {}", r.parse_valid));
            }
            let Ok(sk) = got else { return Ok(None) };
            let mut parts = Vec::new();
            for label in sk.labels() {
                let Some(m) = sk.member(label) else {
                    return mismatch(format!("member {label} malformed"));
                };
                let reader_ok = match m.scheme {
                    Scheme::Hwk => HwkParams::from_member(m).is_ok(),
                    Scheme::Jwt | Scheme::JktJwt | Scheme::SelfJwt => {
                        JwtParams::from_member(m).is_ok()
                    }
                    Scheme::JwksUri => {
                        // AA-17 (P's PS→AS example) lacks `id`/`dwk` (AMB-35): semantically
                        // invalid, and that is visible at the wire level.
                        let complete = ["id", "dwk", "kid"]
                            .iter()
                            .all(|p| m.param_str(p).is_some());
                        // Completeness cannot prove validity (other members may hold
                        // placeholders), but incompleteness must match an invalid verdict.
                        if !complete && r.semantic_valid {
                            return mismatch(format!("jwks_uri completeness {complete}"));
                        }
                        true
                    }
                    Scheme::X509 => m.param_str("x5u").is_some() && m.param_bytes("x5t").is_some(),
                    _ => return mismatch(format!("unexpected scheme {}", m.scheme)),
                };
                if !reader_ok {
                    return mismatch(format!("scheme reader refused member {label}"));
                }
                parts.push(signature_key_member_field(label, m).map_err(|_| ())?);
            }
            if let Some(canon) = r.canonical {
                let ser = parts.join(", ");
                if ser != canon {
                    return mismatch(format!("serialised {ser:?}, canonical {canon:?}"));
                }
            }
            Ok(None)
        }
        "Accept-Signature-Scheme" | "Accept-Signature-Alg" | "AAuth-Capabilities" => {
            let got = match r.field {
                "Accept-Signature-Scheme" => parse_accept_signature_scheme(r.value),
                "Accept-Signature-Alg" => parse_accept_signature_alg(r.value),
                _ => capabilities::parse(r.value),
            };
            if got.is_ok() != r.parse_valid {
                return mismatch(format!("parse {got:?}, parse_valid {}", r.parse_valid));
            }
            if let (Ok(tokens), Some(canon)) = (&got, r.canonical)
                && tokens.join(", ") != canon
            {
                return mismatch(format!("tokens {tokens:?}, canonical {canon:?}"));
            }
            Ok(None)
        }
        _ => Err(()),
    }
}

#[test]
fn draft_header_examples_match_expected_verdicts() {
    let all = examples();
    let mut checked = 0usize;
    let mut skipped = 0usize;
    let mut failures = Vec::new();
    let mut by_field = std::collections::BTreeMap::<String, usize>::new();
    for v in &all {
        let r = row(v);
        match check(&r) {
            Ok(None) => {
                checked += 1;
                *by_field.entry(r.field.to_owned()).or_default() += 1;
            }
            Ok(Some(msg)) => failures.push(msg),
            Err(()) => skipped += 1,
        }
    }
    println!(
        "aauth-examples: {checked} rows checked ({by_field:?}), {} failed, {skipped} rows of \
         fields not parsed by aauth-wire (Signature-Input, Signature, Accept-Signature, \
         Content-Digest)",
        failures.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // Guard against a silently empty or mis-keyed file.
    assert!(checked >= 35, "only {checked} rows checked");
    for field in [
        "AAuth-Requirement",
        "Signature-Key",
        "Signature-Error",
        "Authorization",
    ] {
        assert!(by_field.contains_key(field), "no {field} rows checked");
    }
}
