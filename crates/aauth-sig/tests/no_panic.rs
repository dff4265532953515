//! SK-04 / robustness: arbitrary header bytes never panic the verifier or the parsers; every
//! mutant is answered with a `Signature-Error` code. (Fuzz targets come later.)

mod common;

use aauth_sig::{
    ComponentId, HwkAlgPolicy, RequestTarget, Scheme, SignOptions, SignatureFields, Signer,
    Verifier, VerifierConfig,
};
use http::{HeaderMap, HeaderValue, Method};

const NOW: u64 = 1_730_217_600;

/// xorshift64*: deterministic, so a failure reproduces.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

const INTERESTING: &[u8] = b"=;,:()\"\\ ?*@-_.0123456789abcXYZ\t\x7f\x80\xff";

fn mutate(rng: &mut Rng, input: &[u8]) -> Vec<u8> {
    let mut v = input.to_vec();
    for _ in 0..=rng.below(4) {
        match rng.below(5) {
            0 if !v.is_empty() => {
                let i = rng.below(v.len());
                v[i] = INTERESTING[rng.below(INTERESTING.len())];
            }
            1 if !v.is_empty() => {
                let i = rng.below(v.len());
                v.remove(i);
            }
            2 => {
                let i = rng.below(v.len() + 1);
                v.insert(i, INTERESTING[rng.below(INTERESTING.len())]);
            }
            3 if !v.is_empty() => {
                let i = rng.below(v.len());
                v.truncate(i);
            }
            _ => {
                let i = rng.below(v.len() + 1);
                v.insert(i, (rng.next() & 0xff) as u8);
            }
        }
    }
    v
}

#[test]
fn sk_04_mutated_signature_headers_never_panic() {
    let mut h = HeaderMap::new();
    h.insert("content-type", HeaderValue::from_static("application/json"));
    let empty = HeaderMap::new();
    let t = RequestTarget {
        method: &Method::GET,
        scheme: "https",
        authority: "resource.example",
        path: "/api/data",
        query: Some("a=1&b=%zz&c"),
        headers: &empty,
    };
    Signer::hwk(common::ed25519_key())
        .sign(
            &t,
            &mut h,
            &SignOptions::new(NOW)
                .with_component("content-type")
                .with_component("\"content-type\";sf")
                .with_component("@query"),
        )
        .unwrap();
    let verifiers: Vec<Verifier> = [HwkAlgPolicy::Required, HwkAlgPolicy::Either]
        .into_iter()
        .map(|p| {
            Verifier::new(
                VerifierConfig::new("resource.example")
                    .with_accepted_schemes(vec![Scheme::Hwk, Scheme::Jwt])
                    .with_hwk_alg(p)
                    .with_legacy_algorithms(p == HwkAlgPolicy::Either)
                    .require_component("\"content-type\";key=\"x\""),
            )
        })
        .collect();
    let plain = Verifier::new(
        VerifierConfig::new("resource.example").with_accepted_schemes(vec![Scheme::Hwk]),
    );
    let verify = |v: &Verifier, h: &HeaderMap| {
        let t = RequestTarget { headers: h, ..t };
        v.verify(&t, NOW)
    };
    verify(&plain, &h).expect("unmutated request verifies");

    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let (mut rejected, mut tried) = (0usize, 0usize);
    for round in 0..3000 {
        let name = [
            "signature",
            "signature-input",
            "signature-key",
            "content-type",
        ][round % 4];
        let original = h[name].as_bytes().to_vec();
        let bytes = mutate(&mut rng, &original);
        let Ok(value) = HeaderValue::from_bytes(&bytes) else {
            continue;
        };
        let mut m = h.clone();
        if rng.below(8) == 0 {
            m.append(name, value);
        } else {
            m.insert(name, value);
        }
        tried += 1;
        for v in verifiers.iter().chain(std::iter::once(&plain)) {
            if let Err(e) = verify(v, &m) {
                // Every failure maps to a code and a printable detail.
                let _ = (e.code(), e.detail(), e.required_input());
                if std::ptr::eq(v, &plain) {
                    rejected += 1;
                }
            }
        }
    }
    assert!(tried > 1000, "too few valid mutants ({tried})");
    assert!(
        rejected > tried / 2,
        "mutants should mostly fail ({rejected}/{tried})"
    );
}

#[test]
fn sk_04_arbitrary_text_never_panics_the_parsers() {
    let mut rng = Rng(42);
    let seeds: [&[u8]; 4] = [
        br#"sig=("@method" "@query-param";name="a" "x";key="k";sf "y";bs);created=1;expires=2"#,
        br#"sig=:AAAA:, other=(1 2);a"#,
        br#""example-dict";key="a""#,
        br#"sig=hwk;kty="OKP";crv="Ed25519";x="AAAA";alg="Ed25519""#,
    ];
    for _ in 0..5000 {
        let seed = seeds[rng.below(seeds.len())];
        let bytes = mutate(&mut rng, seed);
        let text = String::from_utf8_lossy(&bytes);
        let _ = ComponentId::parse(&text);
        if let Ok(f) = SignatureFields::parse(&text, &text) {
            let labels: Vec<String> = f.labels().map(str::to_owned).collect();
            for l in labels {
                let _ = f.get(&l);
            }
        }
        let _ = aauth_sig::canonical_authority("https", &text);
    }
}
