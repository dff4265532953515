//! Sign and full verification of a typical AAuth request, next to ring's raw sign/verify of
//! the same signature base, in the same run. The goal (issue 3): full `hwk` verification —
//! parse Signature-Input / Signature / Signature-Key, rebuild the base, import the key,
//! verify, check freshness — within 1.15× of the raw verify.
//!
//! `cargo bench -p aauth-sig --bench sign_verify` prints the ratios at the end (read back from
//! criterion's estimates of this run).

use std::hint::black_box;
use std::sync::Arc;

use aauth_sig::testing::{AgentProvider, MapFetcher};
use aauth_sig::{
    Algorithm, DiscoveryResolver, RequestTarget, Scheme, SignOptions, Signer, SigningKey, Verifier,
    VerifierConfig,
};
use criterion::{Criterion, criterion_group};
use http::{HeaderMap, HeaderValue, Method};

const NOW: u64 = 1_730_217_600;

fn request_headers() -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert("accept", HeaderValue::from_static("application/json"));
    h.insert("user-agent", HeaderValue::from_static("aauth-bench/1"));
    h
}

fn target<'a>(method: &'a Method, h: &'a HeaderMap) -> RequestTarget<'a> {
    RequestTarget {
        method,
        scheme: "https",
        authority: "resource.example",
        path: "/api/data",
        query: Some("page=2"),
        headers: h,
    }
}

fn bench_alg(c: &mut Criterion, alg: Algorithm) {
    let name = alg.jose_name();
    let key = SigningKey::generate(alg).unwrap();
    let signer = Signer::hwk(key.clone());
    let opts = SignOptions::new(NOW);
    let base_headers = request_headers();
    let mut signed = base_headers.clone();
    signer
        .sign(&target(&Method::GET, &base_headers), &mut signed, &opts)
        .unwrap();
    let base = {
        let mut h = base_headers.clone();
        signer
            .signature_base(&target(&Method::GET, &base_headers), &mut h, &opts)
            .unwrap()
    };
    let raw_sig = key.sign(base.as_bytes()).unwrap();
    let vk = key.verifying_key();
    let verifier = Verifier::new(
        VerifierConfig::new("resource.example").with_accepted_schemes(vec![Scheme::Hwk]),
    );
    assert!(verifier.verify(&target(&Method::GET, &signed), NOW).is_ok());

    let mut g = c.benchmark_group(format!("hwk-{name}"));
    g.bench_function("raw-sign", |b| {
        b.iter(|| key.sign(black_box(base.as_bytes())).unwrap())
    });
    g.bench_function("aauth-sign", |b| {
        b.iter(|| {
            let mut h = base_headers.clone();
            signer
                .sign(
                    &target(&Method::GET, &base_headers),
                    &mut h,
                    black_box(&opts),
                )
                .unwrap();
            h
        })
    });
    g.bench_function("raw-verify", |b| {
        b.iter(|| {
            vk.verify(black_box(base.as_bytes()), black_box(&raw_sig))
                .unwrap()
        })
    });
    g.bench_function("aauth-verify", |b| {
        b.iter(|| {
            verifier
                .verify(&target(&Method::GET, black_box(&signed)), NOW)
                .unwrap()
        })
    });
    g.finish();
}

fn bench_hwk(c: &mut Criterion) {
    bench_alg(c, Algorithm::Ed25519);
    bench_alg(c, Algorithm::Es256);
}

/// `jwt` with a warm JWKS cache: the agent token's signature is a second Ed25519 verify, so
/// the floor here is about 2× the raw verify.
fn bench_jwt(c: &mut Criterion) {
    let provider = AgentProvider::new("https://agent.example");
    let fetcher = Arc::new(MapFetcher::new());
    provider.install(&fetcher);
    let resolver = DiscoveryResolver::new(fetcher);
    let agent = SigningKey::generate(Algorithm::Ed25519).unwrap();
    let token = provider.mint(&agent, "assistant", NOW - 10, 3600);
    let base_headers = request_headers();
    let mut signed = base_headers.clone();
    Signer::jwt(agent, &token)
        .sign(
            &target(&Method::GET, &base_headers),
            &mut signed,
            &SignOptions::new(NOW),
        )
        .unwrap();
    let verifier = Verifier::new(VerifierConfig::new("resource.example"));
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    assert!(
        rt.block_on(verifier.verify_with(&target(&Method::GET, &signed), NOW, &resolver))
            .is_ok()
    );
    let mut g = c.benchmark_group("jwt-Ed25519");
    g.bench_function("aauth-verify-warm", |b| {
        b.iter(|| {
            rt.block_on(verifier.verify_with(
                &target(&Method::GET, black_box(&signed)),
                NOW,
                &resolver,
            ))
            .unwrap()
        })
    });
    g.finish();
}

criterion_group!(benches, bench_hwk, bench_jwt);

fn estimate(group: &str, bench: &str) -> Option<f64> {
    let dir = std::env::var("CARGO_TARGET_DIR")
        .unwrap_or_else(|_| format!("{}/../../target", env!("CARGO_MANIFEST_DIR")));
    let path = format!("{dir}/criterion/{group}/{bench}/new/estimates.json");
    let text = std::fs::read_to_string(path).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    v["median"]["point_estimate"].as_f64()
}

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    println!("\nratios (median, this run):");
    for group in ["hwk-Ed25519", "hwk-ES256"] {
        for (ours, raw) in [("aauth-sign", "raw-sign"), ("aauth-verify", "raw-verify")] {
            if let (Some(a), Some(b)) = (estimate(group, ours), estimate(group, raw)) {
                println!(
                    "  {group:12} {ours:13} / {raw:10} = {:.3} ({a:.0} ns / {b:.0} ns)",
                    a / b
                );
            }
        }
    }
    if let (Some(a), Some(b)) = (
        estimate("jwt-Ed25519", "aauth-verify-warm"),
        estimate("hwk-Ed25519", "raw-verify"),
    ) {
        println!(
            "  jwt-Ed25519  verify-warm   / raw-verify = {:.3} ({a:.0} ns / {b:.0} ns)",
            a / b
        );
    }
}
