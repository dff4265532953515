//! A whole verification with fuzzed Signature-Input, Signature and Signature-Key (and an
//! Authorization header): every scheme path, including hwk key import and jwt/jwks_uri
//! resolution against a fetcher that answers at once, ends in Ok or a typed error.
#![no_main]
use std::sync::Arc;

use aauth_sig::testing::{AgentProvider, MapFetcher};
use aauth_sig::{DiscoveryResolver, HwkAlgPolicy, Scheme, Verifier, VerifierConfig};
use http::{HeaderMap, Method};
use libfuzzer_sys::fuzz_target;
use std::sync::LazyLock;

#[path = "sig_common.rs"]
mod common;

static RESOLVER: LazyLock<DiscoveryResolver> = LazyLock::new(|| {
    let f = Arc::new(MapFetcher::new());
    AgentProvider::new("https://agent.example").install(&f);
    DiscoveryResolver::new(f)
});

static VERIFIERS: LazyLock<Vec<Verifier>> = LazyLock::new(|| {
    let all = vec![Scheme::Jwt, Scheme::Hwk, Scheme::JwksUri];
    vec![
        Verifier::new(VerifierConfig::new("resource.example").with_accepted_schemes(all.clone())),
        Verifier::new(
            VerifierConfig::new("resource.example")
                .with_accepted_schemes(all)
                .with_hwk_alg(HwkAlgPolicy::Either)
                .with_legacy_algorithms(true)
                .with_accept_base64url_signatures(true)
                .require_component("@query"),
        ),
    ]
});

fuzz_target!(|data: &[u8]| {
    let Some(f) = common::fields(data, 4) else { return };
    let mut h = HeaderMap::new();
    for (name, value) in [
        ("signature-input", f[0]),
        ("signature", f[1]),
        ("signature-key", f[2]),
        ("authorization", f[3]),
    ] {
        if value.is_empty() {
            continue;
        }
        let Ok(v) = value.parse() else { return };
        h.insert(name, v);
    }
    for v in VERIFIERS.iter() {
        let t = common::target(&Method::POST, &h);
        if let Ok(r) = v.verify(&t, common::NOW) {
            assert_eq!(r.scheme, Scheme::Hwk);
        }
        if let Some(Err(e)) = common::poll_ready(v.verify_with(&t, common::NOW, &*RESOLVER)) {
            let _ = (e.code(), e.detail(), e.required_input());
        }
    }
});
