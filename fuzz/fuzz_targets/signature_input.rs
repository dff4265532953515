//! Signature-Input and Signature (RFC 9421 §4): parsing, label handling, component
//! identifiers and base building never panic, strict or lenient.
#![no_main]
use aauth_sig::{ComponentId, SignatureFields};
use libfuzzer_sys::fuzz_target;

#[path = "sig_common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    let Some(f) = common::fields(data, 2) else { return };
    let (input, sig) = (f[0], f[1]);
    for lenient in [false, true] {
        let mut h = http::HeaderMap::new();
        let (Ok(i), Ok(s)) = (input.parse(), sig.parse()) else { return };
        h.insert("signature-input", i);
        h.insert("signature", s);
        let Ok(fields) = SignatureFields::from_headers_lenient(&h, lenient) else { continue };
        let _ = fields.labels_match();
        let labels: Vec<String> = fields.labels().map(str::to_owned).collect();
        for label in labels {
            if let Ok(p) = fields.get(&label) {
                for c in &p.components {
                    let again = ComponentId::parse(c.as_str()).expect("serialised id re-parses");
                    assert_eq!(again.as_str(), c.as_str());
                }
            }
        }
    }
});
